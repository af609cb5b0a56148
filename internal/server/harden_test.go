package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/config"
	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/store"
	"github.com/palisade-sec/palisade/internal/store/sqlite"
)

// harDoc builds a HAR document of n entries.
func harDoc(n int, path string) string {
	var b strings.Builder
	b.WriteString(`{"log":{"version":"1.2","entries":[`)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"startedDateTime":%q,"time":1,"_clientIP":"203.0.113.7","request":{"method":"GET","url":"https://api.example.com%s?i=%d","headers":[]},"response":{"status":200,"headers":[]}}`,
			base.Add(time.Duration(i)*time.Second).Format(time.RFC3339Nano), path, i)
	}
	b.WriteString(`]}}`)
	return b.String()
}

// Finding 1: the decompression cap applies after every decoding layer. A
// body that is gzip by Content-Encoding and gzip again by magic bytes, NDJSON
// or HAR, is cut at ingest.max_decompressed (413), and a HAR document larger
// than the cap answers 413 as documented (it was 400, or 200 when nested).
func TestNestedDecompressionCapped(t *testing.T) {
	env := newEnv(t, func(c *Config) {
		c.Ingest.MaxDecompressed = 64 << 10
		c.Ingest.BatchRecords = 50
	}, nil)
	big := ndjson(2000, "/bomb") // ≈ 330 KB, five times the cap
	har := harDoc(2000, "/bomb")
	cases := []struct {
		name string
		body []byte
		hdr  []string
	}{
		{"ndjson gzip in gzip", gz(string(gz(big))), []string{"Content-Encoding", "gzip"}},
		{"har gzip in gzip", gz(string(gz(har))), []string{"Content-Encoding", "gzip"}},
		{"har gzip magic", gz(har), nil},
		{"har plain", []byte(har), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := env.do(t, "POST", "/api/v1/ingest", "ingest", bytes.NewReader(c.body), c.hdr...)
			if resp.StatusCode != http.StatusRequestEntityTooLarge {
				t.Fatalf("status %d, want 413: %s", resp.StatusCode, body)
			}
			var res IngestResult
			json.Unmarshal(body, &res)
			if !strings.Contains(res.NotAccepted, "max_decompressed") || res.Accepted >= 2000 {
				t.Fatalf("%+v", res)
			}
		})
	}
	// A third gzip layer is refused with a clear message.
	resp, body := env.do(t, "POST", "/api/v1/ingest", "ingest", bytes.NewReader(gz(string(gz(string(gz(ndjson(3, "/x"))))))), "Content-Encoding", "gzip")
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "gzip inside gzip") {
		t.Fatalf("triple gzip: %d %s", resp.StatusCode, body)
	}
	// Within the caps, both nestings still work.
	small := ndjson(20, "/ok")
	resp, body = env.do(t, "POST", "/api/v1/ingest", "ingest", bytes.NewReader(gz(string(gz(small)))), "Content-Encoding", "gzip")
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"accepted":20`) {
		t.Fatalf("small nested: %d %s", resp.StatusCode, body)
	}
	resp, body = env.do(t, "POST", "/api/v1/ingest", "ingest", bytes.NewReader(gz(harDoc(20, "/ok"))))
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"accepted":20`) {
		t.Fatalf("small HAR: %d %s", resp.StatusCode, body)
	}
}

// Finding 1: one HAR entry larger than ingest.max_record ends the upload
// with 413 without the document being held whole.
func TestHAREntryCapped(t *testing.T) {
	env := newEnv(t, func(c *Config) { c.Ingest.MaxRecord = 32 << 10 }, nil)
	entry := strings.Repeat("x", 200<<10)
	doc := `{"log":{"entries":[{"startedDateTime":"2026-05-01T10:00:00Z","_clientIP":"192.0.2.1","request":{"method":"POST","url":"https://a.example/x","postData":{"text":"` + entry + `"}},"response":{"status":200}}]}}`
	resp, body := env.do(t, "POST", "/api/v1/ingest", "ingest", strings.NewReader(doc))
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(body), "max_record") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
}

// Finding 1: the decode budget is process-wide. While one upload holds the
// whole budget, a second one waits and then gets 429 with Retry-After
// (before, every capped upload decoded at once and their sum was unbounded).
func TestDecodeBudgetIsProcessWide(t *testing.T) {
	old := budgetWait
	budgetWait = 300 * time.Millisecond
	defer func() { budgetWait = old }()
	env := newEnv(t, func(c *Config) {
		c.Ingest.MaxRecord = 1 << 20
		c.Ingest.MaxOTLP = 1 << 20
		c.Ingest.DecodeBudget = ingestReservation(&c.Ingest) // room for exactly one upload
	}, nil)
	pr, pw := io.Pipe()
	defer pw.Close() // a failing test must not leave the upload open
	done := make(chan int, 1)
	go func() {
		req, _ := http.NewRequest("POST", env.http.URL+"/api/v1/ingest", pr)
		req.Header.Set("Authorization", "Bearer "+env.tokens["ingest"])
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	pw.Write([]byte(line(0, "192.0.2.1", "/slow") + "\n"))
	waitFor(t, "first upload holds the budget", func() bool { return env.srv.budget.inUse.Load() > 0 })
	resp, body := env.do(t, "POST", "/api/v1/ingest", "ingest", strings.NewReader(ndjson(3, "/second")))
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("second upload: %d %s", resp.StatusCode, body)
	}
	resp, _ = env.do(t, "POST", "/api/v1/otlp/v1/traces", "ingest", strings.NewReader("{}"), "Content-Type", "application/json")
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("otlp during a full budget: %d", resp.StatusCode)
	}
	pw.Close()
	if code := <-done; code != 200 {
		t.Fatalf("first upload: %d", code)
	}
	if n := env.srv.budget.inUse.Load(); n != 0 {
		t.Fatalf("budget not released: %d", n)
	}
	resp, body = env.do(t, "POST", "/api/v1/ingest", "ingest", strings.NewReader(ndjson(3, "/third")))
	if resp.StatusCode != 200 {
		t.Fatalf("after release: %d %s", resp.StatusCode, body)
	}
}

// Finding 1: OTLP bodies are capped after decompression by ingest.max_otlp
// (they reached ingest.max_decompressed, 256 MiB, before a 413).
func TestOTLPDecompressedCap(t *testing.T) {
	env := newEnvOpt(t, func(c *Config) { c.Ingest.MaxOTLP = 1 << 20 }, nil)
	bomb := gz(strings.Repeat(" ", 8<<20))
	resp, body := env.do(t, "POST", "/api/v1/otlp/v1/traces", "ingest", bytes.NewReader(bomb), "Content-Type", "application/json", "Content-Encoding", "gzip")
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(body), "max_otlp") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	ok := gz(`{"resourceSpans":[]}`)
	resp, body = env.do(t, "POST", "/api/v1/otlp/v1/traces", "ingest", bytes.NewReader(ok), "Content-Type", "application/json", "Content-Encoding", "gzip")
	if resp.StatusCode != 200 || string(body) != "{}" {
		t.Fatalf("%d %s: the receiver did not get the decompressed export", resp.StatusCode, body)
	}
	_ = context.Background
}

// Finding 3: list sizes and query lengths are bounded before any query
// runs: 400 naming the parameter (32,000 type= values took 77 s and a q of
// 100 KB was a 500 before).
func TestQueryBounds(t *testing.T) {
	env := newEnv(t, nil, nil)
	many := strings.TrimSuffix(strings.Repeat("injection.sqli,", 32000), ",")
	cases := []struct{ path, want string }{
		{"/api/v1/alerts?type=" + many, "query parameter type: 32000 values"},
		{"/api/v1/alerts?severity=high&severity=" + strings.Repeat("low,", 100), "parameter severity: 102 values"},
		{"/api/v1/endpoints?q=" + strings.Repeat("a", 100<<10), "query parameter q: 102400 bytes"},
		{"/api/v1/endpoints?q=" + strings.Repeat("%25_", 200), "parameter q: 400 bytes"},
		{"/api/v1/findings?endpoint=" + strings.Repeat("x", 9000), "parameter endpoint: 9000 bytes"},
		{"/api/v1/alerts?client_ip=%zz", "query string"},
		{"/api/v1/alerts?client_ip=%ff%fe", "not valid UTF-8"},
		{"/api/v1/endpoints?host=a%00b", "NUL"},
	}
	for _, c := range cases {
		resp, body := env.do(t, "GET", c.path, "viewer", nil)
		if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), c.want) {
			t.Errorf("%.60s: %d %.200s", c.path, resp.StatusCode, body)
		}
	}
	// Within the bounds, filters still work.
	resp, body := env.do(t, "GET", "/api/v1/alerts?type="+strings.TrimSuffix(strings.Repeat("injection.sqli,", 100), ",")+"&q=", "viewer", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	resp, body = env.do(t, "GET", "/api/v1/endpoints?q="+strings.Repeat("%25", 256), "viewer", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
}

// slowStore makes list queries block until their context ends.
type slowStore struct {
	*sqlite.DB
}

func (s slowStore) ListAlerts(ctx context.Context, f store.AlertFilter) (store.Page[store.StoredAlert], error) {
	<-ctx.Done()
	return store.Page[store.StoredAlert]{}, ctx.Err()
}

// Finding 3: every handler runs under server.request_timeout; a query that
// does not finish is answered 503 with Retry-After (it held a connection
// and the client forever before).
func TestRequestDeadline(t *testing.T) {
	env := newEnvOpt(t, func(c *Config) { c.Server.RequestTimeout = config.Duration(200 * time.Millisecond) }, func(o *Options) { o.Store = slowStore{o.Store.(*sqlite.DB)} })
	client := &http.Client{Timeout: 5 * time.Second}
	req, _ := http.NewRequest("GET", env.http.URL+"/api/v1/alerts", nil)
	req.Header.Set("Authorization", "Bearer "+env.tokens["viewer"])
	start := time.Now()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(body), "request_timeout") || time.Since(start) > 3*time.Second {
		t.Fatalf("%d %s after %s", resp.StatusCode, body, time.Since(start))
	}
}

// Finding 7: a request body that trickles in is cut at server.read_timeout
// (1,000 connections at 1 byte/s stayed open before).
func TestSlowBodyTimedOut(t *testing.T) {
	env := newEnv(t, func(c *Config) { c.Server.ReadTimeout = config.Duration(1 * time.Second) }, nil)
	hs := httptest.NewUnstartedServer(nil)
	hs.Config = env.srv.HTTPServer(nil)
	hs.Start()
	defer hs.Close()
	conn, err := net.Dial("tcp", hs.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /api/v1/ingest HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: 100000\r\n\r\n", env.tokens["ingest"])
	start := time.Now()
	closed := false
	for time.Since(start) < 6*time.Second {
		conn.SetWriteDeadline(time.Now().Add(time.Second))
		if _, err := conn.Write([]byte("x")); err != nil {
			closed = true
			break
		}
		conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		var b [512]byte
		if n, err := conn.Read(b[:]); n > 0 || (err != nil && !isTimeout(err)) {
			closed = true
			break
		}
	}
	if !closed {
		t.Fatalf("slow body still open after %s", time.Since(start))
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// Finding 7: failed authentications are limited per source address with
// growing blocks, logged (without the credential) and counted; a valid
// token from the same address works again once the block ends.
func TestLoginFloodLimited(t *testing.T) {
	var logs bytes.Buffer
	// The clock is read by the server's goroutines (handlers, pump).
	var clock atomic.Int64
	clock.Store(time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC).UnixNano())
	env := newEnvOpt(t, nil, func(o *Options) {
		o.Logger = slog.New(slog.NewTextHandler(&logs, nil))
		o.Now = func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	})
	codes := map[int]int{}
	for range 20 {
		resp, _ := env.do(t, "GET", "/api/v1/overview", "", nil, "Authorization", "Bearer pal_guess-secret-123")
		codes[resp.StatusCode]++
	}
	if codes[401] != authFreeFailures+1 || codes[429] != 20-authFreeFailures-1 {
		t.Fatalf("codes %v", codes)
	}
	// Blocked: even a valid token waits (the block is per address).
	resp, _ := env.do(t, "GET", "/api/v1/overview", "viewer", nil)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("during block: %d", resp.StatusCode)
	}
	clock.Add(int64(2 * time.Second))
	resp, _ = env.do(t, "GET", "/api/v1/overview", "viewer", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("after block: %d", resp.StatusCode)
	}
	if !strings.Contains(logs.String(), "authentication failed") || strings.Contains(logs.String(), "guess-secret") {
		t.Fatalf("log: %s", logs.String())
	}
	_, body := env.do(t, "GET", "/metrics", "viewer", nil)
	if !strings.Contains(string(body), `palisade_auth_failures_total{reason="invalid_credentials"} 6`) {
		t.Fatalf("metrics do not count failures")
	}
}

// Finding 7: GET /api/v1/openapi without host is a 400 naming the problem
// (it was a 500), and the mux's own redirects carry the security headers.
func TestExportWithoutHostAndRedirectHeaders(t *testing.T) {
	env := newEnv(t, nil, nil)
	env.do(t, "POST", "/api/v1/ingest", "ingest", strings.NewReader(ndjson(3, "/v1/x")))
	waitFor(t, "snapshot", func() bool {
		p, _ := env.st.ListEndpoints(context.Background(), store.EndpointFilter{})
		return len(p.Items) == 1
	})
	resp, body := env.do(t, "GET", "/api/v1/openapi", "viewer", nil)
	if resp.StatusCode != 400 || !strings.Contains(string(body), "host: required") || !strings.Contains(string(body), "api.example.com") {
		t.Errorf("export without host: %d %s", resp.StatusCode, body)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, p := range []string{"//api/v1/alerts", "/api/v1/../v1/alerts", "/ui"} {
		resp, err := noFollow.Get(env.http.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 3 {
			t.Errorf("%s: %d, expected a redirect", p, resp.StatusCode)
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Content-Security-Policy") == "" || resp.Header.Get("X-Frame-Options") != "DENY" {
			t.Errorf("%s: redirect without security headers: %v", p, resp.Header)
		}
	}
}

// Finding 6: an upload is validated as the loader will use it (a spec whose
// servers name no host needs ?host=), a stored spec that does not load is
// skipped at start and reported instead of stopping the server, and
// DELETE /api/v1/specs/{name} removes a spec (admin, audited).
func TestSpecUploadValidationAndDelete(t *testing.T) {
	env := newEnv(t, nil, nil)
	noServers := "openapi: 3.0.0\ninfo: {title: t, version: '1'}\npaths: {}\n"
	resp, body := env.do(t, "POST", "/api/v1/specs?name=noservers.yaml", "admin", strings.NewReader(noServers))
	if resp.StatusCode != http.StatusUnprocessableEntity || !strings.Contains(string(body), "no host to apply it to") {
		t.Fatalf("spec without servers: %d %s", resp.StatusCode, body)
	}
	resp, body = env.do(t, "POST", "/api/v1/specs?name=noservers.yaml&host=api.example.com", "admin", strings.NewReader(noServers))
	if resp.StatusCode != http.StatusCreated || !strings.Contains(string(body), `"hosts":["api.example.com"]`) {
		t.Fatalf("with host: %d %s", resp.StatusCode, body)
	}
	if resp, body := env.do(t, "POST", "/api/v1/specs?name=x.yaml&host=a/b", "admin", strings.NewReader(noServers)); resp.StatusCode != 400 {
		t.Fatalf("bad host: %d %s", resp.StatusCode, body)
	}
	// The stored spec loads with its host.
	args, problems, err := StoredSpecs(context.Background(), env.st, t.TempDir())
	if err != nil || len(args) != 1 || !strings.HasSuffix(args[0], "noservers.yaml,host=api.example.com") || len(problems) != 0 {
		t.Fatalf("stored: %v %v %v", args, problems, err)
	}
	// A spec stored without a host (before uploads were validated) is
	// skipped at start, not fatal.
	if err := env.st.SaveSpec(context.Background(), store.Spec{ID: "sp_legacy", Name: "legacy.yaml", Content: []byte(noServers), UploadedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	args, problems, err = StoredSpecs(context.Background(), env.st, t.TempDir())
	if err != nil || len(args) != 1 || !strings.Contains(problems["sp_legacy"], "no host") {
		t.Fatalf("legacy: %v %v %v", args, problems, err)
	}
	// Delete: admin only, audited, 404 when unknown.
	if resp, _ := env.do(t, "DELETE", "/api/v1/specs/legacy.yaml", "analyst", nil); resp.StatusCode != 403 {
		t.Fatalf("analyst delete: %d", resp.StatusCode)
	}
	resp, body = env.do(t, "DELETE", "/api/v1/specs/legacy.yaml", "admin", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), "sp_legacy") {
		t.Fatalf("delete: %d %s", resp.StatusCode, body)
	}
	if resp, _ := env.do(t, "DELETE", "/api/v1/specs/legacy.yaml", "admin", nil); resp.StatusCode != 404 {
		t.Fatalf("second delete: %d", resp.StatusCode)
	}
	_, body = env.do(t, "GET", "/api/v1/audit-log", "admin", nil)
	if !strings.Contains(string(body), `"spec.delete"`) {
		t.Fatalf("delete not audited: %s", body)
	}
	_, body = env.do(t, "GET", "/api/v1/specs", "viewer", nil)
	if strings.Contains(string(body), "legacy") || !strings.Contains(string(body), "noservers.yaml") {
		t.Fatalf("list after delete: %s", body)
	}
}

// Finding 2: a record dated far ahead of the wall clock is rejected with a
// counted reason (response and metrics) and moves neither the event clock
// nor retention; records logged before the bound existed are quarantined
// on replay, so a poisoned clock does not survive a restart.
func TestClockPoisoning(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	st, err := openTestStore(t, dir, "palisade.db")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	wall := base.Add(time.Hour)
	t0 := time.Now()
	clock := func() time.Time { return wall.Add(time.Since(t0)) } // moves: checkpoints are timed by it
	run := func(mod func(*Config)) (*testEnv, func()) {
		cfg := DefaultConfig()
		cfg.Ingest.CheckpointInterval = config.Duration(30 * time.Millisecond)
		if mod != nil {
			mod(&cfg)
		}
		e := startOn(t, Options{DataDir: dir, Config: cfg, Store: st, Now: clock}, newFake())
		return e, func() {
			e.http.Close()
			if err := e.srv.Close(ctx); err != nil {
				t.Fatal(err)
			}
		}
	}
	future := strings.ReplaceAll(line(0, "198.51.100.66", "/poison"), base.Format(time.RFC3339Nano), "2200-01-01T00:00:00Z")
	past := strings.ReplaceAll(line(0, "198.51.100.67", "/old"), base.Format(time.RFC3339Nano), "1999-01-01T00:00:00Z")

	env, stop := run(nil)
	env.do(t, "POST", "/api/v1/ingest", "admin", strings.NewReader(ndjson(3, "/attack")))
	waitFor(t, "alert stored", func() bool { p, _ := st.ListAlerts(ctx, store.AlertFilter{}); return len(p.Items) == 1 })
	resp, body := env.do(t, "POST", "/api/v1/ingest", "admin", strings.NewReader(future+"\n"+past+"\n"+line(5, "203.0.113.7", "/ok")+"\n"))
	var res IngestResult
	json.Unmarshal(body, &res)
	if resp.StatusCode != 200 || res.Accepted != 1 || res.Rejected != 2 || res.RejectedByReason["time_future"] != 1 || res.RejectedByReason["time_past"] != 1 ||
		len(res.Errors) != 2 || res.Errors[0].Field != "time" || !strings.Contains(res.Errors[0].Message, "max_future") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	waitFor(t, "consumed", func() bool { return env.eng.count() == 4 })
	if _, err := env.srv.RunRetention(ctx); err != nil {
		t.Fatal(err)
	}
	if p, _ := st.ListAlerts(ctx, store.AlertFilter{}); len(p.Items) != 1 {
		t.Fatalf("retention deleted the alert after a future-dated record")
	}
	_, body = env.do(t, "GET", "/metrics", "admin", nil)
	if !strings.Contains(string(body), `palisade_records_rejected_total{reason="time_future"} 1`) {
		t.Fatalf("not counted in metrics")
	}
	stop()

	// A log written without the bound (as before it existed) holds a
	// poisoned record: the next start quarantines it.
	env, stop = run(func(c *Config) { c.Ingest.MaxFuture = config.Duration(100000 * 24 * time.Hour) })
	if resp, body := env.do(t, "POST", "/api/v1/ingest", "admin", strings.NewReader(future+"\n")); !strings.Contains(string(body), `"accepted":1`) {
		t.Fatalf("without the bound: %d %s", resp.StatusCode, body)
	}
	waitFor(t, "consumed", func() bool { return env.eng.count() >= 1 })
	stop()
	env, stop = run(nil)
	defer stop()
	waitFor(t, "warm", env.srv.Warm)
	if c := env.srv.eventClock.Load(); c > wall.Add(time.Hour).UnixNano() {
		t.Fatalf("event clock poisoned after restart: %s", time.Unix(0, c).UTC())
	}
	for _, u := range env.eng.seen {
		if strings.Contains(u, "/poison") {
			t.Fatalf("poisoned record replayed into the engine")
		}
	}
	if _, err := env.srv.RunRetention(ctx); err != nil {
		t.Fatal(err)
	}
	if p, _ := st.ListAlerts(ctx, store.AlertFilter{}); len(p.Items) != 1 {
		t.Fatalf("retention after restart deleted the alert")
	}
}

// Finding 5: erasure canonicalizes the address once and removes every
// spelling of it — client.ip in IPv4-mapped or non-canonical IPv6 form, an
// address present only in X-Forwarded-For or Forwarded — from the log and
// the database, and deleted rows do not survive in the database files
// (free pages, the SQLite -wal file).
func TestEraseEveryForm(t *testing.T) {
	env := newEnv(t, nil, nil)
	xff := strings.Replace(line(1, "10.0.0.5", "/xff"), `"request":{`, `"request":{"headers":{"x-forwarded-for":"198.51.100.23, 10.0.0.1"},`, 1)
	fwd := strings.Replace(line(2, "10.0.0.6", "/fwd"), `"request":{`, `"request":{"headers":{"forwarded":"for=\"[2001:DB8:0:0::beef]:4711\";proto=https"},`, 1)
	body := line(0, "2001:DB8::0001", "/attack") + "\n" + xff + "\n" + fwd + "\n" + line(3, "::ffff:192.0.2.77", "/attack") + "\n" + line(4, "203.0.113.7", "/keep") + "\n"
	if resp, b := env.do(t, "POST", "/api/v1/ingest", "ingest", strings.NewReader(body)); !strings.Contains(string(b), `"accepted":5`) {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	waitFor(t, "two alerts", func() bool {
		p, _ := env.st.ListAlerts(context.Background(), store.AlertFilter{})
		return len(p.Items) == 2
	})
	for _, c := range []struct {
		ip         string
		alerts, wr int64
	}{
		{"2001:db8:0000::1", 1, 1},  // another spelling of the client address
		{"198.51.100.23", 0, 1},     // only in X-Forwarded-For
		{"2001:db8::beef", 0, 1},    // only in Forwarded, bracketed with a port
		{"::ffff:192.0.2.77", 1, 1}, // mapped form given, IPv4 stored
	} {
		resp, b := env.do(t, "POST", "/api/v1/erase", "admin", strings.NewReader(`{"ip":"`+c.ip+`"}`))
		var res store.EraseResult
		json.Unmarshal(b, &res)
		if resp.StatusCode != 200 || res.AlertsDeleted != c.alerts || res.WALRecords != c.wr {
			t.Errorf("erase %s: %d %s", c.ip, resp.StatusCode, b)
		}
	}
	waitFor(t, "checkpoint after erasure", func() bool { return env.eng.count() == 5 })
	time.Sleep(150 * time.Millisecond) // a few checkpoints: nothing written back
	forms := []string{"2001:DB8::0001", "2001:db8::1", "198.51.100.23", "2001:DB8:0:0::beef", "2001:db8::beef", "192.0.2.77"}
	files, _ := filepath.Glob(filepath.Join(env.dir, "palisade.db*"))
	walFiles, _ := filepath.Glob(filepath.Join(env.dir, "wal", "*"))
	for _, f := range append(files, walFiles...) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, form := range forms {
			if bytes.Contains(data, []byte(form)) {
				t.Errorf("%s still holds %q after erasure", filepath.Base(f), form)
			}
		}
	}
	if p, _ := env.st.ListAlerts(context.Background(), store.AlertFilter{}); len(p.Items) != 0 {
		t.Fatalf("alerts left: %+v", p.Items)
	}
}

// FuzzHeaderHasIP: the erasure matcher finds an address in any spelling a
// forwarding header may carry, and CanonicalIP is stable.
func FuzzHeaderHasIP(f *testing.F) {
	f.Add("192.0.2.1", "for=192.0.2.1;proto=https")
	f.Add("2001:db8::1", `for="[2001:DB8:0::1]:443", 10.0.0.1`)
	f.Add("::ffff:198.51.100.2", "198.51.100.2, 10.0.0.1")
	f.Fuzz(func(t *testing.T, addr, header string) {
		c := exchange.CanonicalIP(addr)
		if c == "" {
			return
		}
		if exchange.CanonicalIP(c) != c {
			t.Fatalf("CanonicalIP not stable: %q → %q → %q", addr, c, exchange.CanonicalIP(c))
		}
		if !headerHasIP(header+", "+addr, c) && !strings.ContainsAny(addr, ",; \"\t=") {
			t.Fatalf("%q not found in a header listing it", addr)
		}
		headerHasIP(header, c)
	})
}
