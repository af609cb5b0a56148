package server

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/config"
	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/source"
)

// genConfig and genSource are the recipe "add a source"
// (docs/ARCHITECTURE.md) done in a test: a typed configuration registered
// as a kind of the "sources" section, which builds a Source that the
// server runs into its write-ahead log.
type genConfig struct {
	Count int    `yaml:"count" doc:"records to generate"`
	Host  string `yaml:"host" doc:"host of the generated URLs"`
}

func (c *genConfig) Validate() error {
	if c.Count <= 0 {
		return config.Errorf("count", "must be positive")
	}
	return nil
}

func (c *genConfig) New(stateDir string) (source.Source, error) { return &genSource{c: *c}, nil }

type genSource struct {
	c genConfig
	n atomic.Int64
}

func (g *genSource) Name() string        { return "gen:" + g.c.Host }
func (g *genSource) Stats() source.Stats { return source.Stats{Records: g.n.Load()} }

// Run is a streaming source: it hands its records over, then waits for
// the server to stop it.
func (g *genSource) Run(ctx context.Context, sink source.Sink) error {
	var recs []*exchange.Record
	for i := 0; i < g.c.Count; i++ {
		rec, err := exchange.DecodeRecord([]byte(fmt.Sprintf(`{"time":"2026-11-18T10:00:%02dZ","client":{"ip":"192.0.2.%d"},"request":{"method":"GET","url":"https://%s/gen/%d"},"response":{"status":200}}`, i%60, i%200+1, g.c.Host, i)))
		if err != nil {
			return err
		}
		recs = append(recs, rec)
	}
	sink.Reject(&exchange.RecordError{File: g.Name(), Line: 1, Err: "an example rejection"})
	if err := sink.Records(recs); err != nil {
		return err
	}
	g.n.Store(int64(len(recs)))
	<-ctx.Done()
	return nil
}

func TestRecipeAddASource(t *testing.T) {
	source.Register("gen", "generated records (a test source)", func() source.Config { return &genConfig{Host: "gen.example.test"} })
	defer source.Unregister("gen")

	// The section is decoded strictly through the registry…
	if _, err := LoadConfig(NamedDoc{Name: "p.yaml", Data: []byte("sources:\n  gen:\n    - {count: 3, hots: x}\n")}); err == nil || !strings.HasPrefix(err.Error(), `p.yaml:3:18: sources.gen[0].hots: unknown key "hots"`) {
		t.Fatalf("unknown key: %v", err)
	}
	if _, err := LoadConfig(NamedDoc{Name: "p.yaml", Data: []byte("sources:\n  gen:\n    - {count: 0}\n")}); err == nil || !strings.HasPrefix(err.Error(), "p.yaml:3:8: sources.gen[0].count: must be positive") {
		t.Fatalf("validation: %v", err)
	}
	// …documented from its tags…
	found := false
	for _, k := range config.Describe(DefaultConfig()) {
		found = found || k.Key == "sources.gen[].count" && k.Doc == "records to generate"
	}
	if !found {
		t.Fatal("the new kind's keys are not described")
	}
	// …and the server runs the source into its write-ahead log.
	cfg, err := LoadConfig(NamedDoc{Name: "p.yaml", Data: []byte("sources:\n  gen:\n    - {count: 4, host: a.example.test}\n")})
	if err != nil {
		t.Fatal(err)
	}
	env := newEnv(t, func(c *Config) { c.Sources = cfg.Sources }, nil)
	waitFor(t, "the generated records in the engine", func() bool { return env.eng.count() == 4 })
	env.eng.mu.Lock()
	first := env.eng.seen[0]
	env.eng.mu.Unlock()
	if first != "https://a.example.test/gen/0" {
		t.Fatalf("first record %q", first)
	}
}

// TestConfigRoundTrip is the recipe "add a configuration key" checked
// across sections: a document setting keys of the pipeline, of a detector
// family, of the serve sections, of a sink and of a source is decoded into
// the typed sections, rendered as the API shows it (GET /api/v1/config),
// and that rendering reads back to the same configuration; the pipeline
// keys reach the engine's configuration.
func TestConfigRoundTrip(t *testing.T) {
	t.Setenv("HOOK_SECRET", "s")
	doc := `
reorder_window: 2m
inventory: {max_nodes: 5000, unused_after: 10d, max_endpoint_ids: 1000}
detect:
  disabled: [latency]
  options:
    traffic: {window: 10m, abs_client: 300, cold_own: 4}
ingest: {queue_records: 1000, checkpoint_interval: 2s}
retention: {alerts: 30d}
activity: {max_subjects: 500}
sinks:
  - {type: webhook, url: "https://siem.example/hook", secret_env: HOOK_SECRET, min_severity: high, timeout: 5s}
sources:
  tail:
    - {path: /var/log/a.log, format: nginx, field_map: {rid: request.header.x-request-id}}
`
	cfg, err := LoadConfig(NamedDoc{Name: "p.yaml", Data: []byte(doc)})
	if err != nil {
		t.Fatal(err)
	}
	js, err := cfg.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	back, err := LoadConfig(NamedDoc{Name: "api.json", Data: js})
	if err != nil {
		t.Fatalf("the API's rendering does not read back: %v\n%s", err, js)
	}
	js2, _ := back.MarshalJSON()
	if string(js) != string(js2) {
		t.Fatalf("round trip differs:\n%s\n%s", js, js2)
	}
	ec, err := back.EngineConfig()
	if err != nil {
		t.Fatal(err)
	}
	if ec.Reorder != 2*time.Minute || ec.Inventory.MaxNodes != 5000 || ec.Inventory.UnusedAfter != 10*24*time.Hour || ec.Inventory.MaxEndpointIDs != 1000 ||
		len(ec.Detect.Disabled) != 1 || ec.Detect.Options["traffic"] == nil {
		t.Fatalf("engine configuration %+v", ec)
	}
	if back.Ingest.QueueRecords != 1000 || back.Ingest.CheckpointInterval.D() != 2*time.Second || back.Retention.Alerts.String() != "30d" || back.Activity.MaxSubjects != 500 || back.Activity.MaxHours != 168 ||
		back.Sinks[0].Timeout.D() != 5*time.Second || back.Sources["tail"][0].(*source.TailConfig).FieldMap["rid"] != "request.header.x-request-id" {
		t.Fatalf("serve sections %+v", back)
	}
	if _, err := LoadConfig(NamedDoc{Name: "p.yaml", Data: []byte("activity:\n  max_peers: 0\n")}); err == nil || !strings.HasPrefix(err.Error(), "p.yaml:2:3: activity.max_peers: must be positive") {
		t.Errorf("activity bound 0: %v", err)
	}
	if _, err := LoadConfig(NamedDoc{Name: "p.yaml", Data: []byte("detect:\n  options:\n    spray: {miss_share: 2}\n")}); err == nil || !strings.Contains(err.Error(), "detect.options.spray.miss_share") {
		t.Errorf("spray.miss_share 2: %v", err)
	}
	for _, want := range []string{`"abs_client":300`, `"cold_own":4`, `"max_subjects":500`, `"window":"10m"`, `"queue_records":1000`, `"format":"nginx"`} {
		if !strings.Contains(string(js), want) {
			t.Errorf("%s missing from %s", want, js)
		}
	}
}
