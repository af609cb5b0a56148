package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/palisade-sec/palisade/internal/config"
	"github.com/palisade-sec/palisade/internal/identity"
	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/server/wal"
	"github.com/palisade-sec/palisade/internal/store"
	"github.com/palisade-sec/palisade/internal/store/sqlite"
)

type fakePublisher struct {
	mu  sync.Mutex
	got []model.Alert
}

func (p *fakePublisher) Publish(a model.Alert) {
	p.mu.Lock()
	p.got = append(p.got, a)
	p.mu.Unlock()
}

func (p *fakePublisher) n() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.got)
}

// A restart replays the log into a fresh engine, does not publish known
// alerts again, keeps triage state and does not lower counts.
func TestRestartReplay(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	st, err := openTestStore(t, dir, "palisade.db")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cfg := DefaultConfig()
	cfg.Ingest.CheckpointInterval = config.Duration(30 * time.Millisecond)
	start := func(pub *fakePublisher) (*Server, *fakeEngine, *httptest.Server, string) {
		e := startOn(t, Options{DataDir: dir, Config: cfg, Store: st, Publisher: pub}, newFake())
		return e.srv, e.eng, e.http, e.tokens["admin"]
	}
	pub1 := &fakePublisher{}
	srv, eng, hs, tok := start(pub1)
	env := &testEnv{srv: srv, http: hs, st: st, eng: eng, tokens: map[string]string{"admin": tok}}
	env.do(t, "POST", "/api/v1/ingest", "admin", strings.NewReader(ndjson(4, "/attack")+ndjson(6, "/ok")))
	waitFor(t, "alert published", func() bool { return pub1.n() == 1 })
	p, _ := st.ListAlerts(ctx, store.AlertFilter{})
	id := p.Items[0].ID
	st.Triage(ctx, id, "acknowledge", "tk", "", time.Now())
	hs.Close()
	if err := srv.Close(ctx); err != nil {
		t.Fatal(err)
	}
	cp1, _ := readCheckpoint(t, dir)
	if o, _ := st.Overview(ctx); len(o.Traffic) != 1 || o.Traffic[0].Requests != 10 {
		t.Fatalf("first run traffic: %+v (records %d)", o.Traffic, o.RecordsProcessed)
	}

	pub2 := &fakePublisher{}
	srv2, eng2, hs2, tok2 := start(pub2)
	defer func() { hs2.Close(); srv2.Close(ctx) }()
	waitFor(t, "warm-up", func() bool { return srv2.Warm() && eng2.count() == 10 })
	if srv2.QueueDepth() != 0 {
		t.Fatalf("replayed records counted as queued: %d", srv2.QueueDepth())
	}
	env2 := &testEnv{srv: srv2, http: hs2, st: st, eng: eng2, tokens: map[string]string{"admin": tok2}}
	env2.do(t, "POST", "/api/v1/ingest", "admin", strings.NewReader(ndjson(1, "/attack")))
	waitFor(t, "new activity stored", func() bool {
		a, _, _ := st.Alert(ctx, id)
		return a.Count == 5
	})
	a, _, _ := st.Alert(ctx, id)
	if a.Status != store.StatusAcknowledged {
		t.Fatalf("triage state lost: %s", a.Status)
	}
	if pub2.n() != 0 {
		t.Fatalf("known alert published again after restart: %d", pub2.n())
	}
	waitFor(t, "checkpoint to advance", func() bool {
		cp2, _ := readCheckpoint(t, dir)
		return cp1.Less(cp2)
	})
	o, _ := st.Overview(ctx)
	var total int64
	for _, tp := range o.Traffic {
		total += tp.Requests
	}
	if total != 11 || o.RecordsProcessed != 11 {
		t.Fatalf("traffic counted %d, records %d; want 11 (replay must not double-count)", total, o.RecordsProcessed)
	}
}

// startOn starts a server with opt (its engine eng) and an admin token; the
// caller closes e.http and e.srv.
func startOn(t *testing.T, opt Options, eng *fakeEngine) *testEnv {
	t.Helper()
	opt.Engine = eng
	srv, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	sec, tk, _ := NewToken("admin", "t", time.Now())
	opt.Store.CreateToken(context.Background(), tk)
	return &testEnv{srv: srv, http: httptest.NewServer(srv.Handler()), st: opt.Store.(*sqlite.DB), eng: eng, tokens: map[string]string{"admin": sec}}
}

func readCheckpoint(t *testing.T, dir string) (wal.Pos, bool) {
	t.Helper()
	// The WAL directory is locked by a running server; read the file directly.
	b, err := osReadFile(filepath.Join(dir, "wal", "CHECKPOINT"))
	if err != nil {
		return wal.Pos{}, false
	}
	var p wal.Pos
	fmt.Sscanf(strings.TrimSpace(string(b)), "%d:%d", &p.Seg, &p.Off)
	return p, true
}

func TestHSTSUnderTLS(t *testing.T) {
	env := newEnv(t, nil, nil)
	ts := httptest.NewTLSServer(env.srv.Handler())
	defer ts.Close()
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := c.Get(ts.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if !strings.Contains(resp.Header.Get("Strict-Transport-Security"), "max-age=") {
		t.Fatal("no HSTS under TLS")
	}
	resp, _ = env.do(t, "GET", "/healthz", "", nil)
	if resp.Header.Get("Strict-Transport-Security") != "" {
		t.Fatal("HSTS over plain HTTP")
	}
	// Session cookies are Secure under TLS.
	req, _ := http.NewRequest("POST", ts.URL+"/api/v1/session", nil)
	req.Header.Set("Authorization", "Bearer "+env.tokens["viewer"])
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if len(resp.Cookies()) != 1 || !resp.Cookies()[0].Secure {
		t.Fatalf("cookie not Secure under TLS: %+v", resp.Cookies())
	}
}

// Erasing an identity removes its raw records from the log too.
func TestEraseIdentityInWAL(t *testing.T) {
	env := newEnv(t, nil, nil)
	idCfg := identity.DefaultConfig()
	idCfg.Key = []byte("test-key")
	env.srv.opt.Identity = idCfg
	basic := func(user string) string { return base64.StdEncoding.EncodeToString([]byte(user + ":pw")) }
	var b strings.Builder
	for i, u := range []string{"alice", "bob", "alice"} {
		fmt.Fprintf(&b, `{"time":"2026-05-01T10:00:0%dZ","client":{"ip":"192.0.2.%d"},"request":{"method":"GET","url":"https://a.example/x","headers":{"authorization":"Basic %s"}},"response":{"status":200}}`+"\n", i, i+1, basic(u))
	}
	env.do(t, "POST", "/api/v1/ingest", "ingest", strings.NewReader(b.String()))
	alice := identity.New(idCfg).Hash(identity.KindBasic, "alice")
	resp, body := env.do(t, "POST", "/api/v1/erase", "admin", strings.NewReader(`{"identity":"`+alice+`"}`))
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"wal_records_removed":2`) {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	segs, _ := env.srv.wal.Segments()
	for _, s := range segs {
		data, _ := osReadFile(filepath.Join(env.dir, "wal", fmt.Sprintf("%016d.wal", s)))
		if strings.Contains(string(data), basic("alice")) {
			t.Fatal("alice's credentials still in the log")
		}
		if !strings.Contains(string(data), basic("bob")) {
			t.Fatal("bob's record erased too")
		}
	}
}

func TestLoadConfig(t *testing.T) {
	cases := []struct {
		name string
		docs []string
		err  string
		chk  func(Config) bool
	}{
		{"defaults", nil, "", func(c Config) bool {
			return c.Server.Listen == "127.0.0.1:8080" && c.Retention.Bodies.D() == 48*time.Hour
		}},
		{"override", []string{"server: {listen: ':9000'}\nretention: {alerts: 30d}\n", "retention: {alerts: 7d}\n"}, "",
			func(c Config) bool {
				return c.Server.Listen == ":9000" && c.Retention.Alerts.String() == "7d" && c.Retention.ClientIPs.String() == "30d"
			}},
		{"json", []string{`{"ingest":{"queue_records":5},"internal_ranges":["10.0.0.0/8"]}`}, "",
			func(c Config) bool { return c.Ingest.QueueRecords == 5 && len(c.Pipeline.InternalRanges) == 1 }},
		{"engine key passes through", []string{"reorder_window: 2m\n"}, "", func(c Config) bool {
			ec, err := c.EngineConfig()
			return err == nil && ec.Reorder == 2*time.Minute
		}},
		{"unknown serve key", []string{"ingest: {queue: 5}\n"}, `doc0:1:10: ingest.queue: unknown key "queue"`, nil},
		{"unknown engine key", []string{"bogus: 1\n"}, `doc0:1:1: bogus: unknown key`, nil},
		{"bad duration", []string{"retention: {client_ips: forever}\n"}, `doc0:1:25: retention.client_ips: bad duration "forever"`, nil},
		{"half tls", []string{"server: {tls_cert: a.pem}\n"}, "doc0:1:10: server.tls_cert: give tls_cert and tls_key, or neither", nil},
		{"negative", []string{"ingest: {batch_records: -1}\n"}, "doc0:1:10: ingest.batch_records: must be positive", nil},
		{"bad yaml", []string{"server: [\n"}, "doc0:1:", nil},
		{"located in the document that set it", []string{"server: {listen: ':1'}\n", "\ningest:\n  segment_bytes: 0\n"}, "doc1:3:3: ingest.segment_bytes: must be positive", nil},
		{"bad sink filter", []string{"sinks: [{type: webhook, url: 'https://x', secret: k, min_severity: loud}]\n"}, `doc0:1:54: sinks[0].min_severity: unknown severity "loud"`, nil},
		{"sink key of another type", []string{"sinks: [{type: syslog, address: 'h:1', url: 'https://x'}]\n"}, "sinks[0].url: not used by type syslog", nil},
		{"unknown source kind", []string{"sources:\n  tial: []\n"}, `doc0:2:3: sources.tial: unknown source kind "tial"`, nil},
		{"bad tail", []string{"sources:\n  tail:\n    - {format: nginx}\n"}, "doc0:3:7: sources.tail[0].path: required", nil},
		{"bad detect option", []string{"detect:\n  options:\n    traffic: {k: -1}\n"}, "doc0:3:15: detect.options.traffic.k: must not be negative", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var docs []NamedDoc
			for i, d := range c.docs {
				docs = append(docs, NamedDoc{Name: fmt.Sprintf("doc%d", i), Data: []byte(d)})
			}
			cfg, err := LoadConfig(docs...)
			if c.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), c.err) && !strings.Contains(err.Error(), c.err) {
					t.Fatalf("want error naming %q, got %v", c.err, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.chk != nil && !c.chk(cfg) {
				t.Fatalf("%+v", cfg)
			}
		})
	}
}

func FuzzLoadConfig(f *testing.F) {
	f.Add([]byte("server: {listen: ':1'}\nretention: {alerts: 3d}\n"))
	f.Add([]byte(`{"sinks":[{"type":"webhook"}],"specs":["x"]}`))
	f.Add([]byte("ingest:\n  queue_records: 0\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := LoadConfig(NamedDoc{Name: "fuzz", Data: data})
		if err == nil {
			if _, err := cfg.Parse(); err != nil {
				t.Fatalf("accepted config does not parse: %v", err)
			}
		}
	})
}

var osReadFile = os.ReadFile

// The OTLP receiver's records go through the same durable path, all or
// nothing, with 429 when the queue cannot take them.
func TestOTLPRoute(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	st, _ := openTestStore(t, dir, "p.db")
	defer st.Close()
	cfg := DefaultConfig()
	cfg.Ingest.CheckpointInterval = config.Duration(20 * time.Millisecond)
	cfg.Ingest.QueueRecords = 3
	eng := newFake()
	eng.block = make(chan struct{})
	// Two HTTP spans (one server, one client) and one that is not HTTP.
	export, err := os.ReadFile(filepath.Join("..", "source", "testdata", "otlp_traces.json"))
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Options{DataDir: dir, Config: cfg, Engine: eng, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	srv.Start(ctx)
	hs := httptest.NewServer(srv.Handler())
	defer func() { hs.Close(); srv.Close(ctx) }()
	sec, tk, _ := NewToken("ingest", "otel", time.Now())
	st.CreateToken(ctx, tk)
	env := &testEnv{srv: srv, http: hs, st: st, eng: eng, tokens: map[string]string{"ingest": sec}}
	resp, body := env.do(t, "POST", "/api/v1/otlp/v1/traces", "ingest", bytes.NewReader(export), "Content-Type", "application/json")
	if resp.StatusCode != 200 || !strings.Contains(string(body), "not_http=1") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	resp, _ = env.do(t, "POST", "/api/v1/otlp/v1/traces", "ingest", bytes.NewReader(export), "Content-Type", "application/json")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("queue full: %d", resp.StatusCode)
	}
	if srv.QueueDepth() != 2 {
		t.Fatalf("depth %d: a refused export must accept nothing", srv.QueueDepth())
	}
	close(eng.block)
	waitFor(t, "consumed", func() bool { return eng.count() == 2 })
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(srv.m.reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if body = rec.Body.Bytes(); !strings.Contains(string(body), `palisade_ingest_dropped_total{reason="not_http"} 1`) {
		t.Errorf("the skipped span is not counted in /metrics: %s", body)
	}
}

// Raw records (bodies) are kept for retention.bodies: checkpointed log
// segments whose newest record is older than that by the event clock are
// removed.
func TestBodyRetentionPrunesLog(t *testing.T) {
	env := newEnv(t, func(c *Config) {
		c.Ingest.SegmentBytes = 600
		c.Ingest.BatchRecords = 1
		c.Retention.Bodies = config.Duration(48 * time.Hour)
	}, nil)
	env.do(t, "POST", "/api/v1/ingest", "ingest", strings.NewReader(ndjson(10, "/old")))
	waitFor(t, "old records consumed", func() bool { return env.eng.count() == 10 })
	before, _ := env.srv.wal.Segments()
	late := strings.ReplaceAll(line(0, "192.0.2.1", "/new"), base.Format(time.RFC3339Nano), base.Add(72*time.Hour).Format(time.RFC3339Nano))
	env.do(t, "POST", "/api/v1/ingest", "ingest", strings.NewReader(late+"\n"+late+"\n"))
	waitFor(t, "old segments pruned", func() bool {
		segs, _ := env.srv.wal.Segments()
		return len(segs) > 0 && segs[0] > before[len(before)-1]-1 && len(segs) < len(before)
	})
	// The pump counts removals once the prune pass returns, just after the
	// files are gone: wait for the count too.
	waitFor(t, "removal counted in /metrics", func() bool {
		_, body := env.do(t, "GET", "/metrics", "viewer", nil)
		return strings.Contains(string(body), "palisade_wal_segments_removed_total") && !strings.Contains(string(body), "palisade_wal_segments_removed_total 0\n")
	})
}
