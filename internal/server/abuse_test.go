package server

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"math/bits"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/testutil"
)

// The abuse suite attacks the real binary the way a holder of an ingest
// token, a viewer, or anyone who can reach the port would, and checks that
// the server stays within its documented memory budget, keeps answering
// /healthz, never answers 500, and never writes a planted sensitive value
// anywhere. It prints one table row per attack (docs/security.md).
//
//	PALISADE_ABUSE=1 go test ./internal/server -run TestAbuseSuite -v
//
// CI runs it as its own step (.ci/run).

// Abuse-suite configuration: the default code paths with smaller caps, so
// that the run is short; the budget check uses the same formula as
// docs/serve.md.
const (
	abuseMaxBody      = 16 << 20
	abuseMaxDecomp    = 32 << 20
	abuseMaxRecord    = 4 << 20
	abuseMaxOTLP      = 4 << 20
	abuseDecodeBudget = 64 << 20
)

// abuseReorderBytes is the engine's reorder buffer bound in bytes
// (engine.Config.ReorderMaxBytes, not configurable).
const abuseReorderBytes = 64 << 20

// abuseRSSLimit is the documented worst case a client can cause above the
// idle process (docs/serve.md): twice what uploads being decoded and the
// records waiting in the reorder buffer may hold (the Go heap may grow to
// twice its live size before a collection), plus 64 MiB for the engine's
// working set, connections and the runtime.
func abuseRSSLimit(idle int64) int64 { return idle + 2*(abuseDecodeBudget+abuseReorderBytes) + 64<<20 }

type abuseRow struct {
	input    string
	response string
	peakRSS  int64
	healthz  time.Duration
	healthOK bool
}

type abuseEnv struct {
	t       *testing.T
	p       *proc
	pid     int
	ingest  string
	viewer  string
	admin   string
	rows    []abuseRow
	logMu   sync.Mutex
	log     strings.Builder
	limit   int64
	idleRSS int64
}

func rssKB(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			f := strings.Fields(l)
			if len(f) >= 2 {
				n, _ := strconv.ParseInt(f[1], 10, 64)
				return n
			}
		}
	}
	return 0
}

// attack runs fn while sampling the server's RSS and timing /healthz, and
// records a row; fn returns the response summary.
func (e *abuseEnv) attack(input string, fn func() string) {
	e.t.Helper()
	stop := make(chan struct{})
	var peak atomic.Int64
	var worst atomic.Int64
	var failed atomic.Bool
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for {
			if r := rssKB(e.pid) * 1024; r > peak.Load() {
				peak.Store(r)
			}
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	go func() {
		defer wg.Done()
		c := &http.Client{Timeout: 5 * time.Second}
		for {
			t0 := time.Now()
			resp, err := c.Get(e.p.url + "/healthz")
			d := time.Since(t0)
			if err != nil || resp.StatusCode != 200 {
				failed.Store(true)
			}
			if resp != nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			if int64(d) > worst.Load() {
				worst.Store(int64(d))
			}
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	res := fn()
	close(stop)
	wg.Wait()
	row := abuseRow{input: input, response: res, peakRSS: peak.Load(), healthz: time.Duration(worst.Load()), healthOK: !failed.Load()}
	e.rows = append(e.rows, row)
	if row.peakRSS > e.limit {
		e.t.Errorf("%s: peak RSS %d MiB above the documented budget %d MiB", input, row.peakRSS>>20, e.limit>>20)
	}
	if !row.healthOK || row.healthz > 5*time.Second {
		e.t.Errorf("%s: /healthz stopped answering (worst %s, failed %v)", input, row.healthz, !row.healthOK)
	}
}

func (e *abuseEnv) post(path, token, ctype, cenc string, body []byte) (int, string) {
	req, _ := http.NewRequest("POST", e.p.url+path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if cenc != "" {
		req.Header.Set("Content-Encoding", cenc)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err.Error()
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, string(b)
}

func (e *abuseEnv) get(path, token string) (int, []byte) {
	req, _ := http.NewRequest("GET", e.p.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp.StatusCode, b
}

// expect checks a status and returns "CODE reason" for the table.
func (e *abuseEnv) expect(input string, code int, body string, want ...int) string {
	e.t.Helper()
	ok := false
	for _, w := range want {
		ok = ok || code == w
	}
	if !ok {
		e.t.Errorf("%s: status %d, want %v: %.300s", input, code, want, body)
	}
	var m map[string]any
	msg := ""
	if json.Unmarshal([]byte(body), &m) == nil {
		for _, k := range []string{"error", "not_accepted", "message"} {
			if s, ok := m[k].(string); ok {
				msg = s
				break
			}
		}
		if msg == "" && m["rejected_by_reason"] != nil {
			b, _ := json.Marshal(m["rejected_by_reason"])
			msg = "rejected " + string(b)
		} else if msg == "" && m["accepted"] != nil {
			msg = fmt.Sprintf("accepted %v, rejected %v", m["accepted"], m["rejected"])
		}
	}
	if len(msg) > 70 {
		msg = msg[:70] + "…"
	}
	return strings.TrimSpace(fmt.Sprintf("%d %s", code, msg))
}

func gzipOf(b []byte) []byte {
	var out bytes.Buffer
	w, _ := gzip.NewWriterLevel(&out, gzip.BestCompression)
	w.Write(b)
	w.Close()
	return out.Bytes()
}

// gzipStream compresses n bytes of a repeated unit without holding them.
func gzipStream(unit []byte, n int64) []byte {
	var out bytes.Buffer
	w, _ := gzip.NewWriterLevel(&out, gzip.BestCompression)
	for written := int64(0); written < n; written += int64(len(unit)) {
		w.Write(unit)
	}
	w.Close()
	return out.Bytes()
}

func nowRecord(i int, ip, path string, bodyLen int) string {
	body := ""
	if bodyLen > 0 {
		body = `,"body":"` + strings.Repeat("a", bodyLen) + `"`
	}
	return fmt.Sprintf(`{"time":%q,"client":{"ip":%q},"request":{"method":"POST","url":"https://shop.example.test%s?i=%d","headers":{"content-type":"text/plain"}%s},"response":{"status":200}}`,
		time.Now().UTC().Format(time.RFC3339Nano), ip, path, i, body)
}

func otlpJSONSpans(n int, pad int) []byte {
	var b strings.Builder
	b.WriteString(`{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"shop"}}]},"scopeSpans":[{"spans":[`)
	now := time.Now().UnixNano()
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"%016x","name":"GET /otlp","kind":2,"startTimeUnixNano":"%d","endTimeUnixNano":"%d","attributes":[`+
			`{"key":"http.request.method","value":{"stringValue":"GET"}},{"key":"url.full","value":{"stringValue":"https://shop.example.test/otlp?i=%d"}},`+
			`{"key":"http.response.status_code","value":{"intValue":"200"}},{"key":"client.address","value":{"stringValue":"192.0.2.%d"}},`+
			`{"key":"user_agent.original","value":{"stringValue":"%s"}}]}`, i+1, now, now+1e6, i, i%250+1, strings.Repeat("m", pad))
	}
	b.WriteString(`]}]}]}`)
	return []byte(b.String())
}

func TestAbuseSuite(t *testing.T) {
	if os.Getenv("PALISADE_ABUSE") == "" {
		t.Skip("set PALISADE_ABUSE=1 (CI runs it as its own step: .ci/run)")
	}
	bin := palisadeBinary(t)
	root := t.TempDir()
	dataDir := filepath.Join(root, "data")
	os.MkdirAll(dataDir, 0o755) // as an operator might: the files inside must still be private

	var hookMu sync.Mutex
	var hookBodies bytes.Buffer
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		hookMu.Lock()
		hookBodies.Write(b)
		hookMu.Unlock()
	}))
	defer hook.Close()
	ocsf := filepath.Join(root, "ocsf.jsonl")
	// reorder_window 2s: alerts reach the store once the log has been idle
	// for 2 s (a low-latency deployment; the default waits 5 minutes).
	cfg := fmt.Sprintf(`reorder_window: 2s
server:
  read_timeout: 3s
  request_timeout: 5s
ingest:
  checkpoint_interval: 200ms
  max_body: %d
  max_decompressed: %d
  max_record: %d
  max_otlp: %d
  decode_budget: %d
sinks:
  - type: webhook
    url: %s
    secret: abuse-suite-webhook-secret
  - type: ocsf
    path: %s
`, abuseMaxBody, abuseMaxDecomp, abuseMaxRecord, abuseMaxOTLP, abuseDecodeBudget, hook.URL, ocsf)
	if err := os.WriteFile(filepath.Join(root, "serve.yaml"), []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startServe(t, bin, dataDir)
	e := &abuseEnv{t: t, p: p, pid: p.cmd.Process.Pid}
	go func() {
		for l := range p.lines {
			e.logMu.Lock()
			e.log.WriteString(l + "\n")
			e.logMu.Unlock()
		}
	}()
	e.admin = p.token
	e.ingest = createToken(t, bin, dataDir, "ingest")
	e.viewer = createToken(t, bin, dataDir, "viewer")
	// Warm: a little real traffic, then the idle footprint.
	var warm strings.Builder
	for i := range 200 {
		warm.WriteString(nowRecord(i, "203.0.113.5", "/v1/warm", 100) + "\n")
	}
	if code, body := e.post("/api/v1/ingest", e.ingest, "", "", []byte(warm.String())); code != 200 {
		t.Fatalf("warm-up: %d %s", code, body)
	}
	time.Sleep(500 * time.Millisecond)
	e.idleRSS = rssKB(e.pid) * 1024
	e.limit = abuseRSSLimit(e.idleRSS)

	// ---- decompression bombs, every accepted format and nesting ----
	zeros := bytes.Repeat([]byte(" "), 64<<10)
	ndUnit := []byte(strings.Repeat(nowRecord(0, "192.0.2.1", "/bomb", 0)+"\n", 100))
	e.attack("NDJSON, Content-Encoding gzip, 1 GiB of spaces (≈1 MB sent)", func() string {
		code, body := e.post("/api/v1/ingest", e.ingest, "", "gzip", gzipStream(zeros, 1<<30))
		return e.expect("gzip bomb", code, body, 413)
	})
	e.attack("NDJSON gzip inside Content-Encoding gzip, 512 MiB of records", func() string {
		code, body := e.post("/api/v1/ingest", e.ingest, "", "gzip", gzipOf(gzipStream(ndUnit, 512<<20)))
		return e.expect("nested gzip", code, body, 413)
	})
	e.attack("gzip in gzip in Content-Encoding gzip", func() string {
		code, body := e.post("/api/v1/ingest", e.ingest, "", "gzip", gzipOf(gzipOf(gzipOf(ndUnit))))
		return e.expect("triple gzip", code, body, 400)
	})
	harHead := []byte(`{"log":{"version":"1.2","entries":[`)
	harEntry := []byte(fmt.Sprintf(`{"startedDateTime":%q,"_clientIP":"192.0.2.9","request":{"method":"GET","url":"https://shop.example.test/har"},"response":{"status":200}},`, time.Now().UTC().Format(time.RFC3339)))
	e.attack("HAR, gzip by magic bytes inside Content-Encoding gzip, 400 MiB of entries", func() string {
		var raw bytes.Buffer
		w, _ := gzip.NewWriterLevel(&raw, gzip.BestCompression)
		w.Write(harHead)
		unit := bytes.Repeat(harEntry, 1000)
		for n := 0; n < 400<<20; n += len(unit) {
			w.Write(unit)
		}
		w.Close()
		code, body := e.post("/api/v1/ingest", e.ingest, "", "gzip", gzipOf(raw.Bytes()))
		return e.expect("HAR bomb", code, body, 413)
	})
	e.attack("HAR with one 200 MiB entry (gzip by magic bytes)", func() string {
		var raw bytes.Buffer
		w, _ := gzip.NewWriterLevel(&raw, gzip.BestCompression)
		w.Write(harHead)
		w.Write([]byte(`{"startedDateTime":"2026-01-01T00:00:00Z","comment":"`))
		unit := bytes.Repeat([]byte("x"), 1<<20)
		for range 200 {
			w.Write(unit)
		}
		w.Write([]byte(`"}]}}`))
		w.Close()
		code, body := e.post("/api/v1/ingest", e.ingest, "", "", raw.Bytes())
		return e.expect("HAR entry", code, body, 413)
	})
	e.attack("OTLP protobuf, Content-Encoding gzip, 1 GiB", func() string {
		code, body := e.post("/api/v1/otlp/v1/traces", e.ingest, "application/x-protobuf", "gzip", gzipStream(make([]byte, 64<<10), 1<<30))
		return e.expect("OTLP proto bomb", code, body, 413)
	})
	e.attack("OTLP JSON, Content-Encoding gzip, 1 GiB", func() string {
		code, body := e.post("/api/v1/otlp/v1/traces", e.ingest, "application/json", "gzip", gzipStream(zeros, 1<<30))
		return e.expect("OTLP JSON bomb", code, body, 413)
	})
	e.attack("8 concurrent NDJSON uploads of 30 MiB (1,000 × 30 KB records, gzip)", func() string {
		var b strings.Builder
		for i := range 1000 {
			b.WriteString(nowRecord(i, "192.0.2.50", "/v1/upload", 30<<10) + "\n")
		}
		z := gzipOf([]byte(b.String()))
		return e.concurrent(8, func() (int, string) { return e.post("/api/v1/ingest", e.ingest, "", "gzip", z) }, 200, 429)
	})
	e.attack("8 concurrent OTLP JSON exports of 3.9 MiB (dense spans)", func() string {
		z := gzipOf(otlpJSONSpans(3600, 600))
		return e.concurrent(8, func() (int, string) {
			return e.post("/api/v1/otlp/v1/traces", e.ingest, "application/json", "gzip", z)
		}, 200, 429)
	})

	// ---- clock poisoning ----
	e.attack("records dated 2200-01-01 and 1999-01-01 (and one dated now)", func() string {
		future := `{"time":"2200-01-01T00:00:00Z","client":{"ip":"198.51.100.66"},"request":{"method":"GET","url":"https://shop.example.test/poison"},"response":{"status":200}}`
		past := `{"time":"1999-01-01T00:00:00Z","client":{"ip":"198.51.100.67"},"request":{"method":"GET","url":"https://shop.example.test/old"},"response":{"status":200}}`
		code, body := e.post("/api/v1/ingest", e.ingest, "", "", []byte(future+"\n"+past+"\n"+nowRecord(0, "198.51.100.68", "/now", 0)+"\n"))
		if !strings.Contains(body, `"time_future":1`) || !strings.Contains(body, `"time_past":1`) {
			t.Errorf("clock poisoning not rejected with reasons: %s", body)
		}
		time.Sleep(500 * time.Millisecond)
		_, ov := e.get("/api/v1/overview", e.viewer)
		if bytes.Contains(ov, []byte(`"event_clock":"2200`)) {
			t.Errorf("event clock poisoned: %s", ov)
		}
		return e.expect("clock", code, body, 200)
	})

	// ---- oversized and deeply nested JSON, invalid UTF-8 ----
	e.attack("one 10 MiB NDJSON line (above max_record)", func() string {
		code, body := e.post("/api/v1/ingest", e.ingest, "", "", []byte(nowRecord(0, "192.0.2.2", "/big", 10<<20)+"\n"+nowRecord(1, "192.0.2.2", "/after", 0)+"\n"))
		if !strings.Contains(body, `"accepted":1`) {
			t.Errorf("the record after the long line was lost: %s", body)
		}
		return e.expect("long line", code, body, 200)
	})
	e.attack("JSON nested 1,000,000 deep (record and body)", func() string {
		deep := strings.Repeat("[", 1_000_000)
		rec := strings.Replace(nowRecord(0, "192.0.2.3", "/deep", 0), `"response":{"status":200}`, `"response":{"status":200,"body":"`+strings.Repeat(`{\"a\":`, 100000)+`"}`, 1)
		rec2 := strings.Replace(nowRecord(1, "192.0.2.3", "/deep", 0), `"headers":{"content-type":"text/plain"}`, `"headers":{"content-type":"application/json"},"body":"`+strings.Repeat("[", 500000)+`"`, 1)
		code, body := e.post("/api/v1/ingest", e.ingest, "", "", []byte(deep+"\n"+rec+"\n"+rec2+"\n"))
		code2, body2 := e.post("/api/v1/specs?name=deep.json&host=a.example", e.admin, "", "", []byte(`{"openapi":"3.0.0","x":`+deep+`}`))
		return e.expect("deep", code, body, 200) + "; spec " + e.expect("deep spec", code2, body2, 422, 413)
	})
	e.attack("invalid UTF-8 in every field of a record, and in a HAR", func() string {
		bad := "\xff\xfe\xc3\x28\xed\xa0\x80"
		rec := fmt.Sprintf(`{"time":%q,"client":{"ip":"192.0.2.4"},"request":{"method":"GET","url":"https://shop.example.test/u%s?q=%s","headers":{"user-agent":"%s","x-%s":"1"},"body":"%s"},"response":{"status":200,"body":"%s"}}`,
			time.Now().UTC().Format(time.RFC3339), bad, bad, bad, bad, bad, bad)
		code, body := e.post("/api/v1/ingest", e.ingest, "", "", []byte(rec+"\n"))
		har := `{"log":{"entries":[{"startedDateTime":"` + time.Now().UTC().Format(time.RFC3339) + `","_clientIP":"192.0.2.4","request":{"method":"GET","url":"https://shop.example.test/` + bad + `"},"response":{"status":200,"content":{"text":"` + bad + `"}}}]}}`
		code2, body2 := e.post("/api/v1/ingest", e.ingest, "", "", []byte(har))
		time.Sleep(400 * time.Millisecond)
		_, eps := e.get("/api/v1/endpoints?limit=500", e.viewer)
		if !json.Valid(eps) {
			t.Errorf("endpoints answer is not valid JSON after invalid UTF-8 input")
		}
		return e.expect("utf8", code, body, 200) + "; HAR " + e.expect("utf8 har", code2, body2, 200)
	})

	// ---- huge and malformed query parameters on every list route ----
	e.attack("huge and malformed query parameters × every GET route", func() string {
		many := strings.TrimSuffix(strings.Repeat("injection.sqli,", 32000), ",")
		queries := []string{"type=" + many, "q=" + strings.Repeat("%25_", 30000), "q=" + strings.Repeat("a", 100<<10), "limit=-1", "limit=99999999999999999999",
			"cursor=" + strings.Repeat("Z", 5000), "cursor=%zz", "host=%ff%fe", "from=yesterday", "sort=../../etc", "severity=" + strings.Repeat("x", 9000), "a=1&" + strings.Repeat("k=v&", 40)}
		routes := []string{"/api/v1/endpoints", "/api/v1/endpoints/ep_x", "/api/v1/alerts", "/api/v1/alerts/al_x", "/api/v1/findings", "/api/v1/specs",
			"/api/v1/openapi", "/api/v1/overview", "/api/v1/audit-log", "/api/v1/config", "/metrics"}
		counts := map[int]int{}
		for _, r := range routes {
			for _, q := range queries {
				tok := e.viewer
				if strings.Contains(r, "audit") || strings.Contains(r, "config") {
					tok = e.admin
				}
				code, body := e.get(r+"?"+q, tok)
				counts[code]++
				if code >= 500 || code == 0 {
					t.Errorf("GET %s?%.60s: %d %.200s", r, q, code, body)
				}
			}
		}
		return fmt.Sprintf("%d requests: %v (no 5xx)", len(routes)*len(queries), counts)
	})

	// ---- slow bodies ----
	e.attack("300 connections sending a body at 1 byte/s to ingest, OTLP, spec upload, no token (read_timeout 3s)", func() string {
		var conns []net.Conn
		for i := range 300 {
			c, err := net.Dial("tcp", strings.TrimPrefix(e.p.url, "http://"))
			if err != nil {
				break
			}
			switch i % 4 {
			case 0:
				fmt.Fprintf(c, "POST /api/v1/ingest HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: 1000000\r\n\r\n", e.ingest)
			case 1:
				fmt.Fprintf(c, "POST /api/v1/otlp/v1/traces HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n", e.ingest)
			case 2:
				fmt.Fprintf(c, "POST /api/v1/specs?name=slow.yaml HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Length: 1000000\r\n\r\n", e.admin)
			default:
				fmt.Fprintf(c, "POST /api/v1/ingest HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n")
			}
			conns = append(conns, c)
		}
		start := time.Now()
		open := len(conns)
		// At most read_timeout (3 s) after the decode budget is free (5 s of
		// waiting at most), plus the sampling period.
		for open > 0 && time.Since(start) < 15*time.Second {
			open = 0
			for _, c := range conns {
				c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
				if _, err := c.Write([]byte("x")); err == nil {
					c.SetReadDeadline(time.Now().Add(time.Millisecond))
					var b [1]byte
					if _, err := c.Read(b[:]); err != nil && isTimeout(err) {
						open++
					}
				}
			}
			time.Sleep(time.Second)
		}
		for _, c := range conns {
			c.Close()
		}
		if open > 0 {
			t.Errorf("%d slow connections still open after %s", open, time.Since(start))
		}
		return fmt.Sprintf("%d connections, all closed after %s", len(conns), time.Since(start).Round(time.Second))
	})

	// ---- login flood (from 127.0.0.2, so the suite's own address stays usable) ----
	e.attack("login flood: 2,000 wrong tokens from one address", func() string {
		dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}
		c := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext, MaxIdleConnsPerHost: 16}, Timeout: 5 * time.Second}
		counts := map[int]int{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		const workers = 8
		floodStart := time.Now()
		for w := range workers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 250 {
					req, _ := http.NewRequest("GET", e.p.url+"/api/v1/overview", nil)
					req.Header.Set("Authorization", fmt.Sprintf("Bearer pal_guess%d_%d", w, i))
					resp, err := c.Do(req)
					code := 0
					if err == nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						code = resp.StatusCode
					}
					mu.Lock()
					counts[code]++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		// Failures the limiter lets through: the free ones, then one per
		// block that expires during the flood (1 s, 2 s, 4 s …), each
		// with up to one request per worker already in flight. How many
		// blocks expire depends on how long the flood takes, which
		// depends on the machine's load: a fixed ceiling of 10 failed
		// once on a loaded machine with 12 (CI, stop 27).
		expired := bits.Len(uint(time.Since(floodStart) / time.Second))
		if max401 := authFreeFailures + workers*(1+expired); counts[401] > max401 || counts[429] < 1900 {
			t.Errorf("login flood not limited: %v (at most %d failures let through in %s)", counts, max401, time.Since(floodStart).Round(time.Millisecond))
		}
		// The suite's own address is not blocked.
		if code, _ := e.get("/api/v1/overview", e.viewer); code != 200 {
			t.Errorf("legitimate viewer blocked during a flood from another address: %d", code)
		}
		e.logMu.Lock()
		logged := strings.Contains(e.log.String(), "authentication failed") && !strings.Contains(e.log.String(), "pal_guess")
		e.logMu.Unlock()
		if !logged {
			t.Errorf("failed logins not logged, or logged with the credential")
		}
		return fmt.Sprintf("%v", counts)
	})

	// ---- redaction canaries over every output ----
	e.attack("canaries of 9 sensitive classes in attacks; every output grepped", func() string {
		qs, bodies := testutil.CanaryAttacks()
		var b strings.Builder
		for i, q := range qs {
			fmt.Fprintf(&b, `{"time":%q,"client":{"ip":"203.0.113.77"},"request":{"method":"GET","url":"https://shop.example.test%s"},"response":{"status":200}}`+"\n",
				time.Now().UTC().Add(time.Duration(i)*time.Millisecond).Format(time.RFC3339Nano), q)
		}
		for i, body := range bodies {
			fmt.Fprintf(&b, `{"time":%q,"client":{"ip":"203.0.113.77"},"request":{"method":"POST","url":"https://shop.example.test/v1/comments","headers":{"content-type":"application/json"},"body":%q},"response":{"status":200}}`+"\n",
				time.Now().UTC().Add(time.Duration(i)*time.Millisecond).Format(time.RFC3339Nano), body)
		}
		capture := filepath.Join(root, "canary.ndjson")
		os.WriteFile(capture, []byte(b.String()), 0o600)
		code, resp := e.post("/api/v1/ingest", e.ingest, "", "", []byte(b.String()))
		if code != 200 {
			t.Fatalf("canary ingest: %d %s", code, resp)
		}
		// Wait for the alerts to reach the store and the sinks.
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) {
			_, al := e.get("/api/v1/alerts?client_ip=203.0.113.77", e.viewer)
			hookMu.Lock()
			n := hookBodies.Len()
			hookMu.Unlock()
			if bytes.Contains(al, []byte("injection")) && n > 0 {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
		time.Sleep(time.Second)
		outputs := map[string][]byte{}
		var alerts struct {
			Items []struct {
				ID string `json:"id"`
			} `json:"items"`
		}
		_, al := e.get("/api/v1/alerts?limit=500", e.viewer)
		outputs["API /alerts"] = al
		json.Unmarshal(al, &alerts)
		if len(alerts.Items) == 0 {
			t.Errorf("no alerts: the canary check would prove nothing")
		}
		for _, a := range alerts.Items {
			_, d := e.get("/api/v1/alerts/"+url.PathEscape(a.ID), e.viewer)
			outputs["API /alerts/{id}"] = append(outputs["API /alerts/{id}"], d...)
		}
		for _, r := range []string{"/api/v1/endpoints?limit=500", "/api/v1/findings?limit=500", "/api/v1/overview", "/api/v1/openapi?host=shop.example.test"} {
			_, outputs["API "+r] = e.get(r, e.viewer)
		}
		_, outputs["API /audit-log"] = e.get("/api/v1/audit-log", e.admin)
		hookMu.Lock()
		outputs["sink: webhook"] = append([]byte(nil), hookBodies.Bytes()...)
		hookMu.Unlock()
		outputs["sink: OCSF file"], _ = os.ReadFile(ocsf)
		rep := filepath.Join(root, "report.json")
		if out, err := exec.Command(bin, "analyze", capture, "--report", rep).CombinedOutput(); err != nil {
			t.Errorf("analyze: %v %s", err, out)
		}
		outputs["analyze report"], _ = os.ReadFile(rep)
		return leakCheck(t, outputs)
	})
	// After shutdown (the last checkpoint written): the server's log and
	// every file of the data directory.
	outputs := map[string][]byte{}
	// The data directory: every file, SQLite free pages and -wal
	// included, except the write-ahead log of raw records, which keeps
	// the traffic itself for retention.bodies by design
	// (docs/security.md).
	filepath.Walk(dataDir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dataDir, path)
		if strings.HasPrefix(rel, "wal"+string(filepath.Separator)) && strings.HasSuffix(rel, ".wal") {
			return nil
		}
		if info.Mode().Perm()&0o077 != 0 {
			t.Errorf("data file %s is mode %o: readable by others", rel, info.Mode().Perm())
		}
		outputs["data "+rel], _ = os.ReadFile(path)
		return nil
	})
	// Stop the server for the logs and the last checkpoint.
	p.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { p.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Errorf("serve did not stop")
	}
	e.logMu.Lock()
	outputs["serve log"] = []byte(e.log.String())
	e.logMu.Unlock()
	e.rows = append(e.rows, abuseRow{input: "after shutdown: serve log and every data-directory file (SQLite free pages and -wal included)", response: leakCheck(t, outputs), healthOK: true})

	if t.Failed() {
		for _, l := range strings.Split(string(outputs["serve log"]), "\n") {
			if strings.Contains(l, "level=ERROR") || strings.Contains(l, "level=WARN") && !strings.Contains(l, "authentication failed") {
				t.Log("serve: " + l)
			}
		}
	}
	// The table.
	fmt.Printf("\nAbuse suite: idle RSS %d MiB, budget (idle + 2 × (decode_budget + 64 MiB reorder buffer) + 64 MiB) %d MiB\n\n", e.idleRSS>>20, e.limit>>20)
	fmt.Printf("| input | response | peak RSS | /healthz worst |\n|---|---|---|---|\n")
	for _, r := range e.rows {
		h, rss := r.healthz.Round(time.Millisecond).String(), fmt.Sprintf("%d MiB", r.peakRSS>>20)
		if !r.healthOK {
			h += " (failed)"
		}
		if r.peakRSS == 0 {
			h, rss = "—", "—"
		}
		fmt.Printf("| %s | %s | %s | %s |\n", r.input, strings.ReplaceAll(r.response, "|", "/"), rss, h)
	}
	fmt.Println()
}

func leakCheck(t *testing.T, outputs map[string][]byte) string {
	t.Helper()
	checked, leaked := 0, 0
	for name, data := range outputs {
		checked++
		if l := testutil.Leaks(data); len(l) > 0 {
			leaked++
			t.Errorf("%s leaks %v", name, l)
		}
	}
	return fmt.Sprintf("%d outputs checked, %d leaking", checked, leaked)
}

// concurrent runs n requests at once and summarises their statuses.
func (e *abuseEnv) concurrent(n int, do func() (int, string), want ...int) string {
	counts := map[int]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, body := do()
			mu.Lock()
			counts[code]++
			mu.Unlock()
			e.expect("concurrent", code, body, want...)
		}()
	}
	wg.Wait()
	return fmt.Sprintf("%v", counts)
}
