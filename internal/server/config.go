package server

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/knadh/koanf/v2"
	"gopkg.in/yaml.v3"

	"github.com/palisade-sec/palisade/internal/engine"
	"github.com/palisade-sec/palisade/internal/sink"
	"github.com/palisade-sec/palisade/internal/store/storeopen"
)

// Config is the serve-mode configuration. The configuration file holds the
// sections below plus every key of the analysis pipeline
// (docs/configuration.md: specs, intel, internal_ranges, ...), which are
// passed to the engine unchanged.
type Config struct {
	Server    ServerConfig    `koanf:"server" json:"server"`
	Ingest    IngestConfig    `koanf:"ingest" json:"ingest"`
	Retention RetentionConfig `koanf:"retention" json:"retention"`
	Sinks     []sink.Config   `koanf:"sinks" json:"sinks"`
	Sources   SourcesConfig   `koanf:"sources" json:"sources"`
	// Engine is the pipeline part of the document (everything else).
	Engine map[string]any `koanf:"-" json:"engine"`
}

// ServerConfig is the "server" section.
type ServerConfig struct {
	Listen     string `koanf:"listen" json:"listen"`
	TLSCert    string `koanf:"tls_cert" json:"tls_cert"`
	TLSKey     string `koanf:"tls_key" json:"tls_key"`
	MaxBody    int64  `koanf:"max_body" json:"max_body"`       // bytes of any request body except ingest
	SessionTTL string `koanf:"session_ttl" json:"session_ttl"` // dashboard session lifetime
	// ReadTimeout bounds reading one whole request, body included (slow
	// bodies); RequestTimeout bounds a non-ingest handler and its queries.
	ReadTimeout    string `koanf:"read_timeout" json:"read_timeout"`
	RequestTimeout string `koanf:"request_timeout" json:"request_timeout"`
	// Store names the store (sqlite:///PATH or postgres://…; empty: the
	// data directory's SQLite database). Read from the --config file
	// only (--store and $PALISADE_STORE take precedence): the store is
	// opened before the configuration stored in it is read.
	Store string `koanf:"store" json:"store,omitempty"`
}

// IngestConfig is the "ingest" section.
type IngestConfig struct {
	MaxBody            int64  `koanf:"max_body" json:"max_body"`                       // compressed bytes per ingest request
	MaxDecompressed    int64  `koanf:"max_decompressed" json:"max_decompressed"`       // decompressed bytes per request
	QueueRecords       int64  `koanf:"queue_records" json:"queue_records"`             // accepted, not yet processed
	BatchRecords       int    `koanf:"batch_records" json:"batch_records"`             // records per WAL append (one fsync)
	CheckpointInterval string `koanf:"checkpoint_interval" json:"checkpoint_interval"` // engine drain + store snapshot
	SegmentBytes       int64  `koanf:"segment_bytes" json:"segment_bytes"`             // WAL segment size
	MaxRecord          int64  `koanf:"max_record" json:"max_record"`                   // bytes of one NDJSON line or HAR entry
	MaxOTLP            int64  `koanf:"max_otlp" json:"max_otlp"`                       // decompressed bytes of one OTLP export
	DecodeBudget       int64  `koanf:"decode_budget" json:"decode_budget"`             // bytes all concurrent request decoding may hold
	MaxFuture          string `koanf:"max_future" json:"max_future"`                   // records dated further ahead of the wall clock are rejected
	MaxPast            string `koanf:"max_past" json:"max_past"`                       // records dated further back are rejected ("0" = no bound)
}

// SourcesConfig is the "sources" section: inputs the server reads itself.
type SourcesConfig struct {
	Tail []TailConfig `koanf:"tail" json:"tail"`
}

// TailConfig follows one file like tail -F (see docs/sources.md).
type TailConfig struct {
	Path      string            `koanf:"path" json:"path"`
	Format    string            `koanf:"format" json:"format"`         // ndjson | nginx | envoy
	FromStart bool              `koanf:"from_start" json:"from_start"` // read an unseen file from its start (default: new lines only)
	FieldMap  map[string]string `koanf:"field_map" json:"field_map"`   // log key → target (see docs/sources.md)
	Source    string            `koanf:"source" json:"source"`         // sensor name put in the records
}

// RetentionConfig is the "retention" section (durations accept "d").
type RetentionConfig struct {
	Bodies    string `koanf:"bodies" json:"bodies"`         // WAL segments (raw records, bodies)
	ClientIPs string `koanf:"client_ips" json:"client_ips"` // then pseudonymized
	Alerts    string `koanf:"alerts" json:"alerts"`
	Audit     string `koanf:"audit" json:"audit"`
	Interval  string `koanf:"interval" json:"interval"` // how often the retention job runs (wall time)
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Server: ServerConfig{Listen: "127.0.0.1:8080", MaxBody: 8 << 20, SessionTTL: "12h", ReadTimeout: "5m", RequestTimeout: "30s"},
		Ingest: IngestConfig{MaxBody: 64 << 20, MaxDecompressed: 256 << 20, QueueRecords: 200000, BatchRecords: 5000,
			CheckpointInterval: "5s", SegmentBytes: 64 << 20, MaxRecord: 8 << 20, MaxOTLP: 16 << 20, DecodeBudget: 256 << 20,
			MaxFuture: "1h", MaxPast: "400d"},
		Retention: RetentionConfig{Bodies: "48h", ClientIPs: "30d", Alerts: "90d", Audit: "365d", Interval: "1h"},
	}
}

// Durations are the parsed durations of a Config.
type Durations struct {
	SessionTTL, Checkpoint                      time.Duration
	ReadTimeout, RequestTimeout                 time.Duration
	MaxFuture, MaxPast                          time.Duration
	Bodies, ClientIPs, Alerts, Audit, Retention time.Duration
}

// Parse checks a Config and parses its durations; errors name the key.
func (c *Config) Parse() (Durations, error) {
	var d Durations
	var errs []string
	p := func(key, v string, dst *time.Duration, min time.Duration) {
		x, err := engine.ParseDuration(v)
		if err != nil {
			errs = append(errs, key+": "+err.Error())
			return
		}
		if x < min {
			errs = append(errs, fmt.Sprintf("%s: must be at least %s", key, min))
			return
		}
		*dst = x
	}
	p("server.session_ttl", c.Server.SessionTTL, &d.SessionTTL, time.Minute)
	p("ingest.checkpoint_interval", c.Ingest.CheckpointInterval, &d.Checkpoint, 10*time.Millisecond)
	p("retention.bodies", c.Retention.Bodies, &d.Bodies, time.Minute)
	p("retention.client_ips", c.Retention.ClientIPs, &d.ClientIPs, time.Minute)
	p("retention.alerts", c.Retention.Alerts, &d.Alerts, time.Minute)
	p("retention.audit", c.Retention.Audit, &d.Audit, 0)
	p("retention.interval", c.Retention.Interval, &d.Retention, time.Second)
	p("server.read_timeout", c.Server.ReadTimeout, &d.ReadTimeout, time.Second)
	p("server.request_timeout", c.Server.RequestTimeout, &d.RequestTimeout, 100*time.Millisecond)
	p("ingest.max_future", c.Ingest.MaxFuture, &d.MaxFuture, time.Minute)
	p("ingest.max_past", c.Ingest.MaxPast, &d.MaxPast, 0)
	if c.Server.Store != "" {
		if _, err := storeopen.Parse(c.Server.Store); err != nil {
			errs = append(errs, "server.store: "+err.Error())
		}
	}
	if c.Server.Listen == "" {
		errs = append(errs, "server.listen: empty")
	}
	for i, t := range c.Sources.Tail {
		if t.Path == "" {
			errs = append(errs, fmt.Sprintf("sources.tail[%d].path: empty", i))
		}
		switch t.Format {
		case "ndjson", "nginx", "envoy":
		default:
			errs = append(errs, fmt.Sprintf("sources.tail[%d].format: %q, want ndjson, nginx or envoy", i, t.Format))
		}
	}
	if (c.Server.TLSCert == "") != (c.Server.TLSKey == "") {
		errs = append(errs, "server.tls_cert and server.tls_key: give both or neither")
	}
	for _, x := range []struct {
		k string
		v int64
	}{{"server.max_body", c.Server.MaxBody}, {"ingest.max_body", c.Ingest.MaxBody}, {"ingest.max_decompressed", c.Ingest.MaxDecompressed},
		{"ingest.queue_records", c.Ingest.QueueRecords}, {"ingest.batch_records", int64(c.Ingest.BatchRecords)}, {"ingest.segment_bytes", c.Ingest.SegmentBytes},
		{"ingest.max_record", c.Ingest.MaxRecord}, {"ingest.max_otlp", c.Ingest.MaxOTLP}, {"ingest.decode_budget", c.Ingest.DecodeBudget}} {
		if x.v <= 0 {
			errs = append(errs, x.k+": must be positive")
		}
	}
	if c.Ingest.DecodeBudget > 0 && c.Ingest.MaxRecord > 0 && c.Ingest.MaxOTLP > 0 {
		if need := max(ingestReservation(&c.Ingest), otlpReservation(&c.Ingest)); c.Ingest.DecodeBudget < need {
			errs = append(errs, fmt.Sprintf("ingest.decode_budget: %d bytes cannot hold one request's reservation (%d bytes: 1 MiB + 4 × max_record + 8 MiB, or 7 × max_otlp)", c.Ingest.DecodeBudget, need))
		}
	}
	if len(errs) > 0 {
		return d, fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return d, nil
}

// yamlParser is a koanf.Parser for YAML (and therefore JSON, a subset).
type yamlParser struct{}

func (yamlParser) Unmarshal(b []byte) (map[string]any, error) {
	out := map[string]any{}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&out); err != nil && err.Error() != "EOF" {
		return nil, err
	}
	return out, nil
}

func (yamlParser) Marshal(m map[string]any) ([]byte, error) { return yaml.Marshal(m) }

// bytesProvider is a koanf.Provider over bytes.
type bytesProvider []byte

func (b bytesProvider) ReadBytes() ([]byte, error) { return b, nil }
func (b bytesProvider) Read() (map[string]any, error) {
	return nil, fmt.Errorf("bytesProvider does not support Read")
}

var serveSections = []string{"server", "ingest", "retention", "sinks", "sources"}

// LoadConfig merges configuration documents (YAML or JSON; later documents
// override earlier ones key by key) over the defaults. name labels errors.
func LoadConfig(docs ...NamedDoc) (Config, error) {
	k := koanf.New(".")
	for _, d := range docs {
		if len(bytes.TrimSpace(d.Data)) == 0 {
			continue
		}
		if err := k.Load(bytesProvider(d.Data), yamlParser{}); err != nil {
			return Config{}, fmt.Errorf("%s: %w", d.Name, err)
		}
	}
	cfg := DefaultConfig()
	if err := k.UnmarshalWithConf("", &cfg, koanf.UnmarshalConf{Tag: "koanf"}); err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	for _, s := range serveSections {
		k.Delete(s)
	}
	cfg.Engine = k.Raw()
	if err := checkKnown("server", k0(docs, "server"), ServerConfig{}); err != nil {
		return cfg, err
	}
	if err := checkKnown("ingest", k0(docs, "ingest"), IngestConfig{}); err != nil {
		return cfg, err
	}
	if err := checkKnown("retention", k0(docs, "retention"), RetentionConfig{}); err != nil {
		return cfg, err
	}
	if _, err := cfg.Parse(); err != nil {
		return cfg, err
	}
	if _, err := cfg.EngineConfig(); err != nil {
		return cfg, err
	}
	return cfg, nil
}

// NamedDoc is one configuration document.
type NamedDoc struct {
	Name string
	Data []byte
}

// k0 collects the keys of a section across documents.
func k0(docs []NamedDoc, section string) []string {
	var keys []string
	for _, d := range docs {
		m, err := yamlParser{}.Unmarshal(d.Data)
		if err != nil {
			continue
		}
		if sec, ok := m[section].(map[string]any); ok {
			for key := range sec {
				keys = append(keys, key)
			}
		}
	}
	return keys
}

func checkKnown(section string, keys []string, v any) error {
	known := map[string]bool{}
	switch v.(type) {
	case ServerConfig:
		for _, k := range []string{"listen", "tls_cert", "tls_key", "max_body", "session_ttl", "read_timeout", "request_timeout", "store"} {
			known[k] = true
		}
	case IngestConfig:
		for _, k := range []string{"max_body", "max_decompressed", "queue_records", "batch_records", "checkpoint_interval", "segment_bytes",
			"max_record", "max_otlp", "decode_budget", "max_future", "max_past"} {
			known[k] = true
		}
	case RetentionConfig:
		for _, k := range []string{"bodies", "client_ips", "alerts", "audit", "interval"} {
			known[k] = true
		}
	}
	var bad []string
	for _, k := range keys {
		if !known[k] {
			bad = append(bad, section+"."+k)
		}
	}
	if len(bad) > 0 {
		sort.Strings(bad)
		return fmt.Errorf("config: unknown key(s) %s (see docs/serve.md)", strings.Join(bad, ", "))
	}
	return nil
}

// EngineConfig builds the pipeline configuration from the engine part of
// the document (errors from docs/configuration.md's loader).
func (c *Config) EngineConfig() (engine.Config, error) {
	if len(c.Engine) == 0 {
		return engine.DefaultConfig(), nil
	}
	b, err := yaml.Marshal(c.Engine)
	if err != nil {
		return engine.Config{}, err
	}
	cfg, err := engine.ParseConfig(b)
	if err != nil {
		return cfg, fmt.Errorf("config (pipeline keys): %w", err)
	}
	return cfg, nil
}

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
