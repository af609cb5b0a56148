package server

import (
	"errors"
	"strings"
	"time"

	"github.com/palisade-sec/palisade/internal/activity"
	"github.com/palisade-sec/palisade/internal/cluster"
	"github.com/palisade-sec/palisade/internal/config"
	"github.com/palisade-sec/palisade/internal/engine"
	"github.com/palisade-sec/palisade/internal/sink"
	"github.com/palisade-sec/palisade/internal/source"
	"github.com/palisade-sec/palisade/internal/store/storeopen"
)

// Config is the configuration file: the pipeline keys at its top level
// (engine.FileConfig) and the serve sections. analyze and openapi read the
// same document and use its pipeline keys; serve uses all of it. Every key
// is listed, with its default and meaning, in docs/configuration.md
// (generated from these types: TestConfigurationDoc).
type Config struct {
	Pipeline  engine.FileConfig `yaml:",inline"`
	Server    ServerConfig      `yaml:"server"`
	Ingest    IngestConfig      `yaml:"ingest"`
	Retention RetentionConfig   `yaml:"retention"`
	Sinks     []sink.Config     `yaml:"sinks" doc:"alert destinations (docs/sinks.md)"`
	Sources   source.Configs    `yaml:"sources" doc:"inputs the server reads itself (docs/sources.md)"`
	Activity  activity.Config   `yaml:"activity"`
	// Cluster is read from the file at start (docs/cluster.md); the
	// command line's --bus, --roles and --cluster override it.
	Cluster cluster.Config `yaml:"cluster"`
}

// ServerConfig is the "server" section.
type ServerConfig struct {
	Listen     string          `yaml:"listen" doc:"address:port of the API and dashboard (flag --listen)"`
	TLSCert    string          `yaml:"tls_cert" doc:"TLS certificate file, PEM (with tls_key; flag --tls-cert)"`
	TLSKey     string          `yaml:"tls_key" doc:"TLS private key file, PEM (with tls_cert; flag --tls-key)"`
	MaxBody    int64           `yaml:"max_body" doc:"bytes of any request body except ingest"`
	SessionTTL config.Duration `yaml:"session_ttl" doc:"dashboard session lifetime"`
	// ReadTimeout bounds reading one whole request, body included (slow
	// bodies); RequestTimeout bounds a non-ingest handler and its queries.
	ReadTimeout    config.Duration `yaml:"read_timeout" doc:"longest time to read one request, body included (plus 1 s per 64 KiB of an upload): slow bodies are cut"`
	RequestTimeout config.Duration `yaml:"request_timeout" doc:"longest time a non-ingest request (and its database queries) may take"`
	// Store is read from the configuration file only: the store is
	// opened before the configuration stored in it is read.
	Store string `yaml:"store" doc:"the store: sqlite:///PATH or postgres://USER@HOST:PORT/DB?… (password in PGPASSWORD or PGPASSFILE; empty: palisade.db in the data directory; flag --store and $PALISADE_STORE take precedence; cannot be changed by PUT /api/v1/config; docs/store.md)"`
}

// Validate implements config.Validator.
func (c ServerConfig) Validate() error {
	var errs []error
	if c.Listen == "" {
		errs = append(errs, config.Errorf("listen", "empty"))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, config.Errorf("tls_cert", "give tls_cert and tls_key, or neither"))
	}
	if c.Store != "" {
		if _, err := storeopen.Parse(c.Store); err != nil {
			errs = append(errs, config.Errorf("store", "%s", err))
		}
	}
	errs = append(errs, positive("max_body", c.MaxBody), atLeast("session_ttl", c.SessionTTL, time.Minute),
		atLeast("read_timeout", c.ReadTimeout, time.Second), atLeast("request_timeout", c.RequestTimeout, 100*time.Millisecond))
	return errors.Join(errs...)
}

// IngestConfig is the "ingest" section.
type IngestConfig struct {
	MaxBody            int64           `yaml:"max_body" doc:"bytes of one ingest request as sent (compressed)"`
	MaxDecompressed    int64           `yaml:"max_decompressed" doc:"bytes of one ingest request after decompression (every decoding layer)"`
	QueueRecords       int64           `yaml:"queue_records" doc:"accepted records not yet processed before ingest answers 429"`
	BatchRecords       int             `yaml:"batch_records" doc:"records per write-ahead-log append (one fsync each)"`
	CheckpointInterval config.Duration `yaml:"checkpoint_interval" doc:"engine drain, alerts, snapshot and log position are stored this often; bounds alert latency"`
	SegmentBytes       int64           `yaml:"segment_bytes" doc:"write-ahead-log segment size"`
	MaxRecord          int64           `yaml:"max_record" doc:"bytes of one NDJSON line or HAR entry"`
	MaxOTLP            int64           `yaml:"max_otlp" doc:"bytes of one OTLP export after decompression"`
	DecodeBudget       int64           `yaml:"decode_budget" doc:"bytes that all concurrent request decoding may hold (uploads wait, then get 429)"`
	MaxFuture          config.Duration `yaml:"max_future" doc:"records dated further ahead of the server clock are rejected"`
	MaxPast            config.Duration `yaml:"max_past" doc:"records dated further back than this are rejected; 0 = no bound"`
}

// Validate implements config.Validator.
func (c IngestConfig) Validate() error {
	errs := []error{positive("max_body", c.MaxBody), positive("max_decompressed", c.MaxDecompressed),
		positive("queue_records", c.QueueRecords), positive("batch_records", int64(c.BatchRecords)),
		atLeast("checkpoint_interval", c.CheckpointInterval, 10*time.Millisecond), positive("segment_bytes", c.SegmentBytes),
		positive("max_record", c.MaxRecord), positive("max_otlp", c.MaxOTLP), positive("decode_budget", c.DecodeBudget),
		atLeast("max_future", c.MaxFuture, time.Minute), atLeast("max_past", c.MaxPast, 0)}
	if c.DecodeBudget > 0 && c.MaxRecord > 0 && c.MaxOTLP > 0 {
		if need := max(ingestReservation(&c), otlpReservation(&c)); c.DecodeBudget < need {
			errs = append(errs, config.Errorf("decode_budget", "%d bytes cannot hold one request's reservation (%d bytes: 1 MiB + 4 × max_record + 8 MiB, or 7 × max_otlp)", c.DecodeBudget, need))
		}
	}
	return errors.Join(errs...)
}

// RetentionConfig is the "retention" section.
type RetentionConfig struct {
	Bodies    config.Duration `yaml:"bodies" doc:"raw records (with bodies) are kept this long in the write-ahead log"`
	ClientIPs config.Duration `yaml:"client_ips" doc:"client addresses are kept this long, then pseudonymized"`
	Alerts    config.Duration `yaml:"alerts" doc:"alerts are kept this long"`
	Audit     config.Duration `yaml:"audit" doc:"audit-log entries are kept this long"`
	Interval  config.Duration `yaml:"interval" doc:"how often the retention job runs (wall time)"`
}

// Validate implements config.Validator.
func (c RetentionConfig) Validate() error {
	return errors.Join(atLeast("bodies", c.Bodies, time.Minute), atLeast("client_ips", c.ClientIPs, time.Minute),
		atLeast("alerts", c.Alerts, time.Minute), atLeast("audit", c.Audit, 0), atLeast("interval", c.Interval, time.Second))
}

func positive(key string, v int64) error {
	if v <= 0 {
		return config.Errorf(key, "must be positive")
	}
	return nil
}

func atLeast(key string, v config.Duration, min time.Duration) error {
	if v.D() < min || v < 0 {
		return config.Errorf(key, "must be at least %s", config.Duration(min))
	}
	return nil
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	day := 24 * time.Hour
	return Config{
		Pipeline: engine.DefaultFileConfig(),
		Server: ServerConfig{Listen: "127.0.0.1:8080", MaxBody: 8 << 20, SessionTTL: config.Duration(12 * time.Hour),
			ReadTimeout: config.Duration(5 * time.Minute), RequestTimeout: config.Duration(30 * time.Second)},
		Ingest: IngestConfig{MaxBody: 64 << 20, MaxDecompressed: 256 << 20, QueueRecords: 200000, BatchRecords: 5000,
			CheckpointInterval: config.Duration(5 * time.Second), SegmentBytes: 64 << 20, MaxRecord: 8 << 20, MaxOTLP: 16 << 20,
			DecodeBudget: 256 << 20, MaxFuture: config.Duration(time.Hour), MaxPast: config.Duration(400 * day)},
		Retention: RetentionConfig{Bodies: config.Duration(48 * time.Hour), ClientIPs: config.Duration(30 * day),
			Alerts: config.Duration(90 * day), Audit: config.Duration(365 * day), Interval: config.Duration(time.Hour)},
		Activity: activity.DefaultConfig(),
		Cluster:  cluster.DefaultConfig(),
	}
}

// Durations are the durations of a Config, as time.Duration.
type Durations struct {
	SessionTTL, Checkpoint                      time.Duration
	ReadTimeout, RequestTimeout                 time.Duration
	MaxFuture, MaxPast                          time.Duration
	Bodies, ClientIPs, Alerts, Audit, Retention time.Duration
}

// Parse validates the Config and returns its durations; errors name the
// key (and, for a Config from LoadConfig, where it was set).
func (c *Config) Parse() (Durations, error) {
	if err := c.check(); err != nil {
		return Durations{}, err
	}
	return c.durations(), nil
}

func (c *Config) durations() Durations {
	return Durations{SessionTTL: c.Server.SessionTTL.D(), Checkpoint: c.Ingest.CheckpointInterval.D(),
		ReadTimeout: c.Server.ReadTimeout.D(), RequestTimeout: c.Server.RequestTimeout.D(),
		MaxFuture: c.Ingest.MaxFuture.D(), MaxPast: c.Ingest.MaxPast.D(),
		Bodies: c.Retention.Bodies.D(), ClientIPs: c.Retention.ClientIPs.D(), Alerts: c.Retention.Alerts.D(),
		Audit: c.Retention.Audit.D(), Retention: c.Retention.Interval.D()}
}

// check validates every section (not a Validate method: the walker would
// call it on the root).
func (c *Config) check() error { return (&config.Loader{}).Validate(c) }

// NamedDoc is one configuration document.
type NamedDoc = config.Doc

// LoadConfig decodes configuration documents (YAML or JSON) over the
// defaults, in order: a later document overrides the keys it sets (lists
// are replaced, sections merged key by key). Decoding is strict and every
// section is validated; errors name the document, line and key.
func LoadConfig(docs ...NamedDoc) (Config, error) {
	cfg := DefaultConfig()
	l := &config.Loader{}
	for _, d := range docs {
		if err := l.Decode(d, &cfg); err != nil {
			return cfg, err
		}
	}
	if err := l.Validate(&cfg); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// LoadConfigFile reads one configuration file.
func LoadConfigFile(path string, data []byte) (Config, error) {
	return LoadConfig(NamedDoc{Name: path, Data: data})
}

// EngineConfig builds the pipeline configuration from the pipeline keys.
func (c *Config) EngineConfig() (engine.Config, error) { return c.Pipeline.Apply() }

// MarshalJSON renders the configuration with the file's own keys.
func (c Config) MarshalJSON() ([]byte, error) { return config.JSON(c) }

// Redacted returns a copy safe to show: sink secrets and tokens replaced.
func (c Config) Redacted() Config {
	out := c
	if c.Server.Store != "" {
		out.Server.Store = storeopen.Redact(c.Server.Store)
	}
	out.Sinks = append([]sink.Config(nil), c.Sinks...)
	for i := range out.Sinks {
		if out.Sinks[i].Secret != "" {
			out.Sinks[i].Secret = "REDACTED"
		}
		if out.Sinks[i].Token != "" {
			out.Sinks[i].Token = "REDACTED"
		}
		for h := range out.Sinks[i].Headers {
			lh := strings.ToLower(h)
			if strings.Contains(lh, "auth") || strings.Contains(lh, "token") || strings.Contains(lh, "key") || strings.Contains(lh, "secret") {
				hs := map[string]string{}
				for k, v := range out.Sinks[i].Headers {
					hs[k] = v
				}
				hs[h] = "REDACTED"
				out.Sinks[i].Headers = hs
			}
		}
	}
	return out
}
