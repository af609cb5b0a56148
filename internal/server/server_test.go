package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/config"
	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/sink"
	"github.com/palisade-sec/palisade/internal/store"
	"github.com/palisade-sec/palisade/internal/store/postgres"
	"github.com/palisade-sec/palisade/internal/store/postgres/pgtest"
	"github.com/palisade-sec/palisade/internal/store/sqlite"
)

// fakeEngine keeps one endpoint per method+host+path and raises an
// injection.sqli alert (client subject) for URLs containing "attack".
type fakeEngine struct {
	mu      sync.Mutex
	eps     map[string]*model.Endpoint
	out     map[string]*model.OutboundAPI // outbound records, by host
	alerts  map[string]*model.Alert
	records int64
	seen    []string // request URLs in order
	block   chan struct{}
}

func newFake() *fakeEngine {
	return &fakeEngine{eps: map[string]*model.Endpoint{}, out: map[string]*model.OutboundAPI{}, alerts: map[string]*model.Alert{}}
}

func (f *fakeEngine) Ingest(rec *exchange.Record) {
	if f.block != nil {
		<-f.block
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.records++
	f.seen = append(f.seen, rec.Request.URL)
	u, _ := url.Parse(rec.Request.URL)
	if rec.IsOutbound() {
		o := f.out[u.Host]
		if o == nil {
			t := rec.Time
			o = &model.OutboundAPI{Host: u.Host, Destination: "external", FirstSeen: &t, API10: model.API10{Reasons: []string{}, Alerts: []string{}, Findings: []string{}}}
			f.out[u.Host] = o
		}
		t := rec.Time
		o.LastSeen = &t
		o.Requests++
		if u.Scheme == "http" {
			o.TLS.Plaintext = true
			o.API10 = model.API10{Relevant: true, Severity: "medium", Reasons: []string{"clear text"}, Alerts: []string{}, Findings: []string{}}
		}
		return
	}
	k := rec.Request.Method + " " + u.Host + u.Path
	e := f.eps[k]
	if e == nil {
		t := rec.Time
		e = &model.Endpoint{Host: u.Host, Method: rec.Request.Method, Path: u.Path, FirstSeen: &t, State: "shadow", Exposure: "external", Authentication: "none"}
		f.eps[k] = e
	}
	t := rec.Time
	e.LastSeen = &t
	e.Requests++
	if strings.Contains(rec.Request.URL, "attack") {
		id := "al_" + rec.Client.IP + u.Path
		a := f.alerts[id]
		if a == nil {
			a = &model.Alert{ID: id, Type: "injection.sqli", Title: "SQL injection", Severity: "high", Subject: "client", OWASP: []string{"API8:2023"},
				Client: &model.ClientRef{IP: rec.Client.IP}, Endpoint: &model.EndpointRef{Host: u.Host, Method: rec.Request.Method, Path: u.Path}, FirstSeen: rec.Time, Status: "open"}
			f.alerts[id] = a
		}
		a.Count++
		a.LastSeen = rec.Time
	}
}

func (f *fakeEngine) Drain() {}
func (f *fakeEngine) Flush() {}
func (f *fakeEngine) Report(at time.Time) *model.Report {
	f.mu.Lock()
	defer f.mu.Unlock()
	r := &model.Report{GeneratedAt: at}
	r.Input.Records = f.records
	for _, e := range f.eps {
		r.Endpoints = append(r.Endpoints, *e)
	}
	for _, a := range f.alerts {
		r.Alerts = append(r.Alerts, *a)
	}
	for _, o := range f.out {
		r.Outbound = append(r.Outbound, *o)
	}
	return r
}

func (f *fakeEngine) count() int64 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.records
}

// testStores maps a test's data directory to the PostgreSQL DSN of its
// store (PALISADE_TEST_STORE=postgres).
var testStores = struct {
	sync.Mutex
	dsn map[string]string
}{dsn: map[string]string{}}

// openTestStore opens the store of a test server's data directory on the
// store kind of the run (testStoreKind).
func openTestStore(t testing.TB, dir, file string) (*sqlite.DB, error) {
	t.Helper()
	return openTestStoreOn(t, testStoreKind(), dir, file)
}

// testStoreKind is the store the server tests run on: "sqlite" (the
// default), or "postgres" with PALISADE_TEST_STORE=postgres (.ci/run runs
// the server's tests both ways).
func testStoreKind() string {
	if os.Getenv("PALISADE_TEST_STORE") == "postgres" {
		return "postgres"
	}
	return "sqlite"
}

// openTestStoreOn opens the store of a test server's data directory: the
// SQLite database file in it, or a PostgreSQL schema of the test database
// (one per directory, so that a restarted server finds its store; dropped
// when the test ends; the test is skipped without a test database, or
// fails under CI=true: pgtest).
func openTestStoreOn(t testing.TB, kind, dir, file string) (*sqlite.DB, error) {
	t.Helper()
	if kind != "postgres" {
		return sqlite.Open(context.Background(), filepath.Join(dir, file))
	}
	key := filepath.Join(dir, file)
	testStores.Lock()
	dsn, ok := testStores.dsn[key]
	testStores.Unlock()
	if !ok {
		dsn = pgtest.Schema(t)
		testStores.Lock()
		testStores.dsn[key] = dsn
		testStores.Unlock()
	}
	return postgres.Open(context.Background(), dsn, postgres.Options{})
}

type testEnv struct {
	srv    *Server
	http   *httptest.Server
	st     *sqlite.DB
	eng    *fakeEngine
	tokens map[string]string
	dir    string
}

func newEnv(t testing.TB, mod func(*Config), eng *fakeEngine) *testEnv {
	t.Helper()
	if eng == nil {
		eng = newFake()
	}
	return newEnvWith(t, t.TempDir(), mod, nil, eng)
}

// newEnvDir starts a server on the data directory dir (which may hold a
// store already).
func newEnvDir(t testing.TB, dir string, mod func(*Config), eng *fakeEngine) *testEnv {
	t.Helper()
	if eng == nil {
		eng = newFake()
	}
	return newEnvWith(t, dir, mod, nil, eng)
}

// newEnvEngine starts a server on the given engine (e.g. the real one).
// Its input ends after 200 ms without records (the reorder buffer is
// released, as at the end of an analyzed file).
func newEnvEngine(t testing.TB, eng Engine) *testEnv {
	t.Helper()
	return newEnvOpt(t, nil, func(o *Options) { o.Engine, o.IdleFlush = eng, 200*time.Millisecond })
}

// newEnvOpt is newEnv with the server options adjustable.
func newEnvOpt(t testing.TB, mod func(*Config), opt func(*Options)) *testEnv {
	t.Helper()
	return newEnvWith(t, t.TempDir(), mod, opt, nil)
}

// newEnvWith starts a server with any engine (nil: a fake one); env.eng
// is the engine when it is the fake.
func newEnvWith(t testing.TB, dir string, mod func(*Config), optMod func(*Options), eng Engine) *testEnv {
	t.Helper()
	st, err := openTestStore(t, dir, "palisade.db")
	if err != nil {
		t.Fatal(err)
	}
	return startEnv(t, dir, st, mod, optMod, eng)
}

// startEnv starts a server on the data directory dir and the store st.
func startEnv(t testing.TB, dir string, st *sqlite.DB, mod func(*Config), optMod func(*Options), eng Engine) *testEnv {
	t.Helper()
	env := buildEnv(t, dir, st, mod, optMod, eng)
	if err := env.srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	return env
}

// buildEnv is startEnv without Start: the API answers, the engine
// goroutine does not run yet.
func buildEnv(t testing.TB, dir string, st *sqlite.DB, mod func(*Config), optMod func(*Options), eng Engine) *testEnv {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Ingest.CheckpointInterval = config.Duration(50 * time.Millisecond)
	if mod != nil {
		mod(&cfg)
	}
	if eng == nil {
		eng = newFake()
	}
	opt := Options{DataDir: dir, Config: cfg, Engine: eng, Store: st}
	if optMod != nil {
		optMod(&opt)
	}
	srv, err := New(opt)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	env := &testEnv{srv: srv, http: hs, st: st, tokens: map[string]string{}, dir: dir}
	if f, ok := eng.(*fakeEngine); ok {
		env.eng = f
	}
	for _, role := range []string{store.RoleViewer, store.RoleAnalyst, store.RoleAdmin, store.RoleIngest} {
		sec, tk, err := NewToken(role, role, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := st.CreateToken(context.Background(), tk); err != nil {
			t.Fatal(err)
		}
		env.tokens[role] = sec
	}
	t.Cleanup(func() {
		hs.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Close(ctx); err != nil {
			t.Error(err)
		}
		st.Close()
	})
	return env
}

func (e *testEnv) do(t *testing.T, method, path, role string, body io.Reader, hdr ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, e.http.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if role != "" {
		req.Header.Set("Authorization", "Bearer "+e.tokens[role])
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, b
}

var base = time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)

func line(i int, ip, path string) string {
	return fmt.Sprintf(`{"time":%q,"client":{"ip":%q},"request":{"method":"GET","url":"https://api.example.com%s?i=%d"},"response":{"status":200}}`,
		base.Add(time.Duration(i)*time.Second).Format(time.RFC3339Nano), ip, path, i)
}

func ndjson(n int, path string) string {
	var b strings.Builder
	for i := range n {
		b.WriteString(line(i, "203.0.113.7", path))
		b.WriteByte('\n')
	}
	return b.String()
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if cond() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	var buf bytes.Buffer
	pprof.Lookup("goroutine").WriteTo(&buf, 1)
	t.Logf("goroutines:\n%s", buf.String())
	t.Fatalf("timed out waiting for %s", what)
}

// The expected permission of every route. A route missing here fails the
// test, so a new route cannot ship without deciding who may call it.
var routePerms = map[string]string{
	"GET /healthz":                        "public",
	"GET /metrics":                        "read",
	"GET /api/v1/openapi.json":            "read",
	"POST /api/v1/session":                "read",
	"DELETE /api/v1/session":              "any",
	"POST /api/v1/ingest":                 "ingest",
	"POST /api/v1/otlp/v1/traces":         "ingest",
	"GET /api/v1/endpoints":               "read",
	"GET /api/v1/endpoints/{id}":          "read",
	"GET /api/v1/outbound":                "read",
	"GET /api/v1/outbound/{id}":           "read",
	"GET /api/v1/alerts":                  "read",
	"GET /api/v1/alerts/{id}":             "read",
	"POST /api/v1/alerts/{id}/triage":     "triage",
	"GET /api/v1/findings":                "read",
	"GET /api/v1/specs":                   "read",
	"POST /api/v1/specs":                  "admin",
	"DELETE /api/v1/specs/{name}":         "admin",
	"GET /api/v1/gateway-configs":         "read",
	"POST /api/v1/gateway-configs":        "admin",
	"DELETE /api/v1/gateway-configs/{id}": "admin",
	"GET /api/v1/openapi":                 "read",
	"GET /api/v1/config":                  "admin",
	"PUT /api/v1/config":                  "admin",
	"GET /api/v1/overview":                "read",
	"GET /api/v1/detectors":               "read",
	"GET /api/v1/audit-log":               "admin",
	"POST /api/v1/erase":                  "admin",
	"POST /api/v1/alerts/triage":          "triage",
	"GET /api/v1/findings/groups":         "read",
	"GET /api/v1/findings/{id}":           "read",
	"POST /api/v1/findings/{id}/triage":   "triage",
	"POST /api/v1/findings/triage":        "triage",
	"GET /api/v1/subjects":                "read",
	"GET /api/v1/endpoints/{id}/subjects": "read",
	"GET /api/v1/subjects/{kind}/{id}":    "read",
	"GET /api/v1/incidents":               "read",
	"GET /api/v1/incidents/{id}":          "read",
	"POST /api/v1/incidents/{id}/triage":  "triage",
	"GET /api/v1/probes":                  "read",
	"GET /api/v1/api-changes":             "read",
	"GET /api/v1/catalog":                 "read",
	"GET /api/v1/charts/{name}":           "read",
}

var rolesFor = map[string][]string{
	"public": {"viewer", "analyst", "admin", "ingest"},
	"any":    {"viewer", "analyst", "admin", "ingest"},
	"read":   {"viewer", "analyst", "admin"},
	"triage": {"analyst", "admin"},
	"admin":  {"admin"},
	"ingest": {"ingest", "admin"},
}

func TestAuthMatrix(t *testing.T) {
	env := newEnv(t, nil, nil)
	routes := env.srv.Routes()
	seen := map[string]bool{}
	for _, rt := range routes {
		key := rt.Method + " " + rt.Pattern
		seen[key] = true
		want, ok := routePerms[key]
		if !ok {
			t.Errorf("route %s has no entry in the auth matrix: decide who may call it", key)
			continue
		}
		if rt.Perm() != want {
			t.Errorf("route %s: permission %s, matrix says %s", key, rt.Perm(), want)
		}
		path := strings.ReplaceAll(rt.Pattern, "{id}", "x")
		// Two failed authentications per route, faster than the global
		// limit of failures allows (TestLoginFloodLimited covers it).
		env.srv.authLimit.perSec = 1 << 30
		t.Run(key, func(t *testing.T) {
			resp, _ := env.do(t, rt.Method, path, "", strings.NewReader("{}"))
			if want == "public" {
				if resp.StatusCode != http.StatusOK {
					t.Fatalf("unauthenticated: %d", resp.StatusCode)
				}
			} else if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") == "" {
				t.Fatalf("unauthenticated: %d", resp.StatusCode)
			}
			// A wrong token is 401 too.
			if want != "public" {
				req, _ := http.NewRequest(rt.Method, env.http.URL+path, nil)
				req.Header.Set("Authorization", "Bearer pal_wrong")
				r2, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				r2.Body.Close()
				if r2.StatusCode != http.StatusUnauthorized {
					t.Fatalf("wrong token: %d", r2.StatusCode)
				}
			}
			for _, role := range []string{"viewer", "analyst", "admin", "ingest"} {
				resp, body := env.do(t, rt.Method, path, role, strings.NewReader("{}"))
				allowed := false
				for _, r := range rolesFor[want] {
					allowed = allowed || r == role
				}
				if allowed && (resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden) {
					t.Errorf("%s: allowed but got %d %s", role, resp.StatusCode, body)
				}
				if !allowed && resp.StatusCode != http.StatusForbidden {
					t.Errorf("%s: forbidden but got %d %s", role, resp.StatusCode, body)
				}
				if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("Content-Security-Policy") == "" {
					t.Errorf("%s: security headers missing", role)
				}
			}
		})
	}
	for key := range routePerms {
		if !seen[key] {
			t.Errorf("matrix entry %s has no route", key)
		}
	}
	// Unknown routes are 404 JSON.
	resp, body := env.do(t, "GET", "/api/v1/nope", "admin", nil)
	if resp.StatusCode != http.StatusNotFound || !strings.Contains(string(body), "no such route") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
}

func TestRevokedTokenAndNewTokenWithoutRestart(t *testing.T) {
	env := newEnv(t, nil, nil)
	sec, tk, _ := NewToken("viewer", "late", time.Now())
	env.st.CreateToken(context.Background(), tk)
	env.tokens["late"] = sec
	if resp, _ := env.do(t, "GET", "/api/v1/overview", "late", nil); resp.StatusCode != 200 {
		t.Fatalf("new token: %d", resp.StatusCode)
	}
	env.st.RevokeToken(context.Background(), tk.ID, time.Now())
	if resp, _ := env.do(t, "GET", "/api/v1/overview", "late", nil); resp.StatusCode != 401 {
		t.Fatalf("revoked token: %d", resp.StatusCode)
	}
}

func TestSessionAndCSRF(t *testing.T) {
	env := newEnv(t, nil, nil)
	resp, body := env.do(t, "POST", "/api/v1/session", "analyst", nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var sr SessionResponse
	json.Unmarshal(body, &sr)
	var cookie *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie {
			cookie = c
		}
	}
	if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || sr.CSRFToken == "" || sr.Role != "analyst" {
		t.Fatalf("cookie %+v session %+v", cookie, sr)
	}
	if strings.Contains(string(body), cookie.Value) {
		t.Fatal("session secret in the body")
	}
	call := func(method, path, csrf string) int {
		req, _ := http.NewRequest(method, env.http.URL+path, strings.NewReader(`{"action":"acknowledge"}`))
		req.AddCookie(cookie)
		if csrf != "" {
			req.Header.Set(csrfHeader, csrf)
		}
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		return r.StatusCode
	}
	if c := call("GET", "/api/v1/alerts", ""); c != 200 {
		t.Fatalf("GET with cookie: %d", c)
	}
	if c := call("POST", "/api/v1/alerts/x/triage", ""); c != 403 {
		t.Fatalf("POST without CSRF: %d", c)
	}
	if c := call("POST", "/api/v1/alerts/x/triage", "wrong"); c != 403 {
		t.Fatalf("POST with wrong CSRF: %d", c)
	}
	if c := call("POST", "/api/v1/alerts/x/triage", sr.CSRFToken); c != 404 {
		t.Fatalf("POST with CSRF: %d (want 404 for unknown alert)", c)
	}
	if c := call("GET", "/api/v1/audit-log", ""); c != 403 {
		t.Fatalf("analyst session reached admin route: %d", c)
	}
	if c := call("DELETE", "/api/v1/session", sr.CSRFToken); c != 204 {
		t.Fatalf("logout: %d", c)
	}
	if c := call("GET", "/api/v1/alerts", ""); c != 401 {
		t.Fatalf("after logout: %d", c)
	}
	if resp, _ := env.do(t, "POST", "/api/v1/session", "ingest", nil); resp.StatusCode != 403 {
		t.Fatalf("ingest token opened a session: %d", resp.StatusCode)
	}
}

func gz(s string) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

func TestIngest(t *testing.T) {
	env := newEnv(t, nil, nil)
	good := ndjson(5, "/v1/items")
	bad := `{"time":"2026-05-01T10:00:00Z","client":{"ip":"not-an-ip"},"request":{"method":"GET","url":"https://a/b"},"response":{"status":200}}` + "\n" +
		"{not json\n" +
		`{"time":"2026-05-01T10:00:00Z","client":{"ip":"192.0.2.1"},"request":{"method":"GET","url":"/relative"},"response":{"status":200}}` + "\n"
	cases := []struct {
		name     string
		body     []byte
		hdr      []string
		code     int
		accepted int64
		rejected int64
		field    string
	}{
		{"ndjson", []byte(good), nil, 200, 5, 0, ""},
		{"mixed", []byte(good + bad), nil, 200, 5, 3, "client.ip"},
		{"gzip header", gz(good), []string{"Content-Encoding", "gzip"}, 200, 5, 0, ""},
		{"gzip magic", gz(good), nil, 200, 5, 0, ""},
		{"bad gzip", []byte("plain"), []string{"Content-Encoding", "gzip"}, 400, 0, 0, ""},
		{"br", []byte(good), []string{"Content-Encoding", "br"}, 415, 0, 0, ""},
		{"empty", nil, nil, 200, 0, 0, ""},
		// Nothing usable: 422 with the located errors, never 200.
		{"all rejected", []byte(bad), nil, 422, 0, 3, "client.ip"},
	}
	var total int64
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			resp, body := env.do(t, "POST", "/api/v1/ingest", "ingest", bytes.NewReader(c.body), c.hdr...)
			if resp.StatusCode != c.code {
				t.Fatalf("status %d %s", resp.StatusCode, body)
			}
			if c.code != 200 && c.code != 422 {
				return
			}
			var res IngestResult
			if err := json.Unmarshal(body, &res); err != nil {
				t.Fatal(err)
			}
			if res.Accepted != c.accepted || res.Rejected != c.rejected {
				t.Fatalf("%+v", res)
			}
			first := int64(1)
			if c.accepted > 0 {
				first = 6
			}
			if c.field != "" && (len(res.Errors) != 3 || res.Errors[0].Field != c.field || res.Errors[0].Line != first || res.Errors[1].Line != first+1) {
				t.Fatalf("errors not located: %+v", res.Errors)
			}
			total += res.Accepted
		})
	}
	waitFor(t, "engine to consume", func() bool { return env.eng.count() == total })
	waitFor(t, "snapshot", func() bool {
		p, _ := env.st.ListEndpoints(context.Background(), store.EndpointFilter{})
		return len(p.Items) == 1 && p.Items[0].Requests == total
	})
}

func TestIngestBodyLimits(t *testing.T) {
	env := newEnv(t, func(c *Config) {
		c.Ingest.MaxDecompressed = 2000
		c.Ingest.BatchRecords = 2
	}, nil)
	resp, body := env.do(t, "POST", "/api/v1/ingest", "ingest", strings.NewReader(ndjson(30, "/v1/x")))
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var res IngestResult
	json.Unmarshal(body, &res)
	if res.Accepted == 0 || res.ResumeRecord != res.Accepted+1 || !strings.Contains(res.NotAccepted, "max_decompressed") {
		t.Fatalf("%+v", res)
	}
	waitFor(t, "accepted part consumed", func() bool { return env.eng.count() == res.Accepted })
}

// TestRecordsBeforeStart: records accepted between New and Start (the
// API answers before the engine goroutine runs) are live records, not
// warm-up replay: they are consumed and the queue drains. The replay's end
// used to be read when the engine goroutine started, so those records
// stayed in QueueDepth for good (under load, TestBackpressure's queue
// "never drained" 2–3 times in 40 runs).
func TestRecordsBeforeStart(t *testing.T) {
	env, eng, _ := earlyRecords(t)
	if d := env.srv.QueueDepth(); d != 5 {
		t.Fatalf("queue depth %d before start, want 5", d)
	}
	if err := env.srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	env.do(t, "POST", "/api/v1/ingest", "ingest", strings.NewReader(ndjson(3, "/late")))
	waitFor(t, "queue drained", func() bool { return env.srv.QueueDepth() == 0 && eng.count() == 8 && env.srv.Warm() })
}

// earlyRecords is a server not started yet (its engine goroutine not
// running) that has accepted 5 records, its fake engine and data directory.
func earlyRecords(t *testing.T) (*testEnv, *fakeEngine, string) {
	t.Helper()
	dir := t.TempDir()
	st, err := openTestStore(t, dir, "palisade.db")
	if err != nil {
		t.Fatal(err)
	}
	eng := newFake()
	env := buildEnv(t, dir, st, nil, nil, eng)
	if resp, body := env.do(t, "POST", "/api/v1/ingest", "ingest", strings.NewReader(ndjson(5, "/early"))); resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	return env, eng, dir
}

// TestCorruptLogDrains: records accepted into a segment that is then found
// corrupt (a bad frame in the segment being written) are counted lost, not
// left waiting in QueueDepth, and what is accepted afterwards is analysed.
func TestCorruptLogDrains(t *testing.T) {
	env, eng, dir := earlyRecords(t)
	segs, _ := filepath.Glob(filepath.Join(dir, "wal", "*.wal"))
	if len(segs) != 1 {
		t.Fatalf("segments %v", segs)
	}
	b, err := os.ReadFile(segs[0])
	if err != nil {
		t.Fatal(err)
	}
	off := 0 // the third frame: two records are read, three lost
	for range 2 {
		off += 9 + int(binary.LittleEndian.Uint32(b[off:]))
	}
	b[off+9+1] ^= 0xff
	if err := os.WriteFile(segs[0], b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := env.srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "corrupt segment skipped", func() bool { return env.srv.QueueDepth() == 0 && eng.count() == 2 })
	env.do(t, "POST", "/api/v1/ingest", "ingest", strings.NewReader(ndjson(3, "/late")))
	waitFor(t, "queue drained", func() bool { return env.srv.QueueDepth() == 0 && eng.count() == 5 })
	_, body := env.do(t, "GET", "/metrics", "admin", nil)
	for _, want := range []string{"palisade_wal_records_lost_total 3", "palisade_wal_corrupt_frames_total 1"} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics without %q", want)
		}
	}
}

// A full queue answers 429 with Retry-After and accepts nothing it cannot
// hold; records already accepted stay accepted.
func TestBackpressure(t *testing.T) {
	eng := newFake()
	eng.block = make(chan struct{})
	env := newEnv(t, func(c *Config) {
		c.Ingest.QueueRecords = 10
		c.Ingest.BatchRecords = 4
	}, eng)
	defer func() {
		select {
		case <-eng.block:
		default:
			close(eng.block)
		}
	}()
	resp, body := env.do(t, "POST", "/api/v1/ingest", "ingest", strings.NewReader(ndjson(8, "/a")))
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	// 8 queued (the engine is blocked on the first); 8 more do not fit.
	resp, body = env.do(t, "POST", "/api/v1/ingest", "ingest", strings.NewReader(ndjson(8, "/b")))
	var res IngestResult
	json.Unmarshal(body, &res)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if res.Accepted != 0 || res.ResumeRecord != 1 {
		t.Fatalf("partially full queue: %+v", res)
	}
	// Completely full: refused before reading.
	env.do(t, "POST", "/api/v1/ingest", "ingest", strings.NewReader(ndjson(2, "/c")))
	resp, body = env.do(t, "POST", "/api/v1/ingest", "ingest", strings.NewReader(ndjson(1, "/d")))
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "queue full") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if d := env.srv.QueueDepth(); d != 10 {
		t.Fatalf("queue depth %d", d)
	}
	close(eng.block)
	waitFor(t, "queue drained", func() bool { return env.srv.QueueDepth() == 0 && eng.count() == 10 })
	// Shutting down: 503 with Retry-After.
	env.srv.closing.Store(true)
	resp, _ = env.do(t, "POST", "/api/v1/ingest", "ingest", strings.NewReader(ndjson(1, "/e")))
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("closing: %d", resp.StatusCode)
	}
	env.srv.closing.Store(false)
	m, body := env.do(t, "GET", "/metrics", "viewer", nil)
	if m.StatusCode != 200 || !strings.Contains(string(body), `palisade_ingest_records_total{result="accepted"} 10`) || !strings.Contains(string(body), `palisade_ingest_requests_total{code="429"} 2`) {
		t.Fatalf("metrics:\n%s", body)
	}
}

func TestAlertsTriageThroughAPI(t *testing.T) {
	env := newEnv(t, nil, nil)
	env.do(t, "POST", "/api/v1/ingest", "ingest", strings.NewReader(ndjson(3, "/attack")))
	var page store.Page[store.StoredAlert]
	waitFor(t, "alert", func() bool {
		_, body := env.do(t, "GET", "/api/v1/alerts?status=open", "viewer", nil)
		json.Unmarshal(body, &page)
		return len(page.Items) == 1 && page.Items[0].Count == 3
	})
	id := page.Items[0].ID
	resp, body := env.do(t, "POST", "/api/v1/alerts/"+url.PathEscape(id)+"/triage", "analyst", strings.NewReader(`{"action":"false_positive"}`))
	if resp.StatusCode != 400 || !strings.Contains(string(body), "reason") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	resp, body = env.do(t, "POST", "/api/v1/alerts/"+url.PathEscape(id)+"/triage", "analyst", strings.NewReader(`{"action":"false_positive","reason":"our scanner"}`))
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	env.do(t, "POST", "/api/v1/ingest", "ingest", strings.NewReader(ndjson(2, "/attack")))
	waitFor(t, "repeat suppressed", func() bool {
		_, body := env.do(t, "GET", "/api/v1/alerts/"+url.PathEscape(id), "viewer", nil)
		var d AlertDetail
		json.Unmarshal(body, &d)
		return d.Count == 5 && d.Status == "false_positive" && len(d.History) == 1 && d.History[0].Reason == "our scanner"
	})
	_, body = env.do(t, "GET", "/api/v1/audit-log", "admin", nil)
	if !strings.Contains(string(body), "alert.triage") {
		t.Fatalf("audit: %s", body)
	}
	for _, q := range []string{"?severity=urgent", "?from=yesterday", "?limit=-1", "?cursor=zz", "?sort=name"} {
		if resp, body := env.do(t, "GET", "/api/v1/alerts"+q, "viewer", nil); resp.StatusCode != 400 {
			t.Errorf("%s: %d %s", q, resp.StatusCode, body)
		}
	}
}

func TestEraseThroughAPI(t *testing.T) {
	env := newEnv(t, nil, nil)
	var b strings.Builder
	for i := range 4 {
		b.WriteString(line(i, "198.51.100.4", "/attack") + "\n")
		b.WriteString(line(i, "192.0.2.8", "/ok") + "\n")
	}
	env.do(t, "POST", "/api/v1/ingest", "ingest", strings.NewReader(b.String()))
	waitFor(t, "alert", func() bool {
		p, _ := env.st.ListAlerts(context.Background(), store.AlertFilter{})
		return len(p.Items) == 1
	})
	for _, bad := range []string{`{}`, `{"ip":"x"}`, `{"ip":"1.2.3.4","identity":"id_x"}`, `{"identity":"bob"}`, `{"ip":"1.2.3.4","extra":1}`} {
		if resp, body := env.do(t, "POST", "/api/v1/erase", "admin", strings.NewReader(bad)); resp.StatusCode != 400 {
			t.Errorf("%s: %d %s", bad, resp.StatusCode, body)
		}
	}
	resp, body := env.do(t, "POST", "/api/v1/erase", "admin", strings.NewReader(`{"ip":"198.51.100.4"}`))
	var res store.EraseResult
	json.Unmarshal(body, &res)
	if resp.StatusCode != 200 || res.AlertsDeleted != 1 || res.WALRecords != 4 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	// The engine still holds the alert in memory: more traffic must not bring it back.
	env.do(t, "POST", "/api/v1/ingest", "ingest", strings.NewReader(line(9, "198.51.100.4", "/attack")+"\n"))
	waitFor(t, "consumed", func() bool { return env.eng.count() == 9 })
	time.Sleep(200 * time.Millisecond) // a few checkpoints
	p, _ := env.st.ListAlerts(context.Background(), store.AlertFilter{})
	if len(p.Items) != 0 {
		t.Fatalf("erased subject written back: %+v", p.Items)
	}
	_, body = env.do(t, "GET", "/api/v1/audit-log", "admin", nil)
	if strings.Contains(string(body), "198.51.100.4") || !strings.Contains(string(body), `"erase"`) {
		t.Fatalf("audit log: %s", body)
	}
}

func TestConfigAPI(t *testing.T) {
	env := newEnv(t, func(c *Config) {
		c.Sinks = append(c.Sinks, sinkConfigForTest())
	}, nil)
	_, body := env.do(t, "GET", "/api/v1/config", "admin", nil)
	if strings.Contains(string(body), "hunter2") || !strings.Contains(string(body), "REDACTED") {
		t.Fatalf("secret leaked: %s", body)
	}
	resp, body := env.do(t, "PUT", "/api/v1/config", "admin", strings.NewReader("retention:\n  alerts: 10d\n"))
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"restart_required":true`) {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if env.srv.durations().Alerts != 10*24*time.Hour {
		t.Fatal("retention not applied live")
	}
	for _, bad := range []string{"retention:\n  alerts: soon\n", "server:\n  lisen: x\n", "nonsense_key: 1\n", "[1,2"} {
		if resp, body := env.do(t, "PUT", "/api/v1/config", "admin", strings.NewReader(bad)); resp.StatusCode != 400 {
			t.Errorf("%q: %d %s", bad, resp.StatusCode, body)
		}
	}
}

func TestSpecsAPI(t *testing.T) {
	env := newEnv(t, nil, nil)
	resp, body := env.do(t, "POST", "/api/v1/specs?name=pets.yaml", "admin", strings.NewReader("openapi: 3.0.0\ninfo: {title: t, version: '1'}\nservers: [{url: 'https://pets.example.com'}]\npaths: {}\n"))
	if resp.StatusCode != 201 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if resp, _ := env.do(t, "POST", "/api/v1/specs", "admin", strings.NewReader("hello: world\n")); resp.StatusCode != 422 {
		t.Fatalf("non-spec accepted: %d", resp.StatusCode)
	}
	_, body = env.do(t, "GET", "/api/v1/specs", "viewer", nil)
	if !strings.Contains(string(body), "pets.yaml") {
		t.Fatalf("%s", body)
	}
}

func TestRetentionJob(t *testing.T) {
	env := newEnv(t, nil, nil)
	old := base.Add(-40 * 24 * time.Hour)
	env.st.UpsertAlerts(context.Background(), []model.Alert{{ID: "al_old", Type: "injection.sqli", Severity: "high", Subject: "client",
		Client: &model.ClientRef{IP: "203.0.113.50"}, FirstSeen: old, LastSeen: old, Count: 1}}, time.Now())
	env.srv.eventClock.Store(base.UnixNano())
	res, err := env.srv.RunRetention(context.Background())
	if err != nil || res.AlertsPseudonymize != 1 {
		t.Fatalf("%+v %v", res, err)
	}
	_, body := env.do(t, "GET", "/api/v1/alerts/al_old", "viewer", nil)
	if strings.Contains(string(body), "203.0.113.50") || !strings.Contains(string(body), Pseudonym(env.srv.key, "203.0.113.50")) {
		t.Fatalf("%s", body)
	}
}

func TestBodyLimitOnAPI(t *testing.T) {
	env := newEnv(t, func(c *Config) { c.Server.MaxBody = 100 }, nil)
	resp, body := env.do(t, "POST", "/api/v1/alerts/x/triage", "admin", strings.NewReader(`{"action":"resolve","reason":"`+strings.Repeat("a", 500)+`"}`))
	if resp.StatusCode != 400 || !strings.Contains(string(body), "larger than") {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
}

func sinkConfigForTest() sink.Config {
	return sink.Config{Type: "webhook", Name: "hook", URL: "https://siem.example/hook", Secret: "hunter2"}
}
