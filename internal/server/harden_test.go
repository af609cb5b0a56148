package server

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

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
	if env.srv.opt.OTLP != nil && resp.StatusCode != http.StatusTooManyRequests {
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
	var got int
	stub := func(sink func([]*exchange.Record)) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			got = len(b)
			w.Write([]byte(`{}`))
		})
	}
	env := newEnvOpt(t, func(c *Config) { c.Ingest.MaxOTLP = 1 << 20 }, func(o *Options) { o.OTLP = stub })
	bomb := gz(strings.Repeat(" ", 8<<20))
	resp, body := env.do(t, "POST", "/api/v1/otlp/v1/traces", "ingest", bytes.NewReader(bomb), "Content-Type", "application/json", "Content-Encoding", "gzip")
	if resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(body), "max_otlp") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	ok := gz(`{"resourceSpans":[]}`)
	resp, body = env.do(t, "POST", "/api/v1/otlp/v1/traces", "ingest", bytes.NewReader(ok), "Content-Type", "application/json", "Content-Encoding", "gzip")
	if resp.StatusCode != 200 || got != len(`{"resourceSpans":[]}`) {
		t.Fatalf("%d %s (receiver got %d bytes)", resp.StatusCode, body, got)
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
	env := newEnvOpt(t, func(c *Config) { c.Server.RequestTimeout = "200ms" }, func(o *Options) { o.Store = slowStore{o.Store.(*sqlite.DB)} })
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
