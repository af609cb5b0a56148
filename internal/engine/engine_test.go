package engine

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/config"
	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/posture"
	"github.com/palisade-sec/palisade/internal/report"
	"github.com/palisade-sec/palisade/internal/sim"
	"github.com/palisade-sec/palisade/internal/source"
	"github.com/palisade-sec/palisade/internal/testutil"
)

var fixedTime = time.Date(2026, 11, 22, 0, 0, 0, 0, time.UTC)

func analyzeFile(t *testing.T, cfg Config, files ...string) *model.Report {
	t.Helper()
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if err := e.ReadFile(f); err != nil {
			t.Fatal(err)
		}
	}
	e.Flush()
	return e.Report(fixedTime)
}

func render(t *testing.T, r *model.Report) []byte {
	var b bytes.Buffer
	if err := report.WriteJSON(&b, r); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestGoldenReport: the report of a small capture is byte-for-byte stable
// (run with -update after an intended change and review the diff).
func TestGoldenReport(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Specs = []string{"testdata/spec.yaml"}
	got := render(t, analyzeFile(t, cfg, "testdata/small.ndjson"))
	testutil.Golden(t, filepath.Join("testdata", "small.report.json"), got)
	// Determinism: a second run gives the same bytes.
	again := render(t, analyzeFile(t, cfg, "testdata/small.ndjson"))
	if !bytes.Equal(got, again) {
		t.Errorf("two runs of the same capture differ: %s", testutil.FirstDiff(got, again))
	}
}

// TestReportContract checks the report-v1 shape on the small capture.
func TestReportContract(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Specs = []string{"testdata/spec.yaml"}
	r := analyzeFile(t, cfg, "testdata/small.ndjson")
	var doc map[string]any
	if err := json.Unmarshal(render(t, r), &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"generated_at", "input", "endpoints", "alerts", "findings"} {
		if _, ok := doc[k]; !ok {
			t.Errorf("report lacks %q", k)
		}
	}
	if r.Input.Records != 286 || r.Input.Rejected != 0 {
		t.Errorf("input = %+v", r.Input)
	}
	eps := map[string]model.Endpoint{}
	for _, e := range r.Endpoints {
		eps[e.Method+" "+e.Path] = e
		for _, k := range []string{"host", "method", "path", "first_seen", "last_seen", "requests", "status_codes", "parameters", "authentication", "auth_schemes", "exposure", "sensitive_data", "documented", "deprecated", "state", "risk"} {
			_ = k
		}
	}
	if e, ok := eps["GET /v1/users/{userId}/orders"]; !ok || e.Authentication != "required" || e.Documented == nil || !*e.Documented || e.State != "active" {
		t.Errorf("orders endpoint: %+v (have %v)", e, keys(eps))
	}
	if e, ok := eps["GET /v1/products/featured"]; !ok || e.Authentication != "none" {
		t.Errorf("featured endpoint missing or wrong: %+v", e)
	}
	if e, ok := eps["GET /v1/legacy/cart"]; !ok || e.State != "unused" || e.Requests != 0 || !e.Deprecated {
		t.Errorf("unused declared op: %+v", e)
	}
	if e, ok := eps["POST /internal/reindex"]; !ok || e.Exposure != "internal" || e.State != "shadow" {
		t.Errorf("internal shadow endpoint: %+v", e)
	}
	for k := range eps {
		if strings.Contains(k, "wp-admin") || strings.Contains(k, ".env") {
			t.Errorf("404-only probe listed as endpoint: %s", k)
		}
	}
	if len(r.Probes) < 3 {
		t.Errorf("probes = %v", r.Probes)
	}
	raw := string(render(t, r))
	for _, secret := range []string{"sk_live_51HxAbCdEfGhIjKlMnOp", "c2lnbmF0dXJl", "4111111111111111"} {
		if strings.Contains(raw, secret) {
			t.Errorf("report leaks a secret or sensitive value: %s", secret)
		}
	}
}

func keys(m map[string]model.Endpoint) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestReorder: records out of order within the window are processed in
// time order; records older than the window are processed and counted late.
func TestReorder(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Reorder = time.Minute
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 11, 18, 9, 0, 0, 0, time.UTC)
	mk := func(sec int) *exchange.Record {
		r := &exchange.Record{Time: base.Add(time.Duration(sec) * time.Second), Client: exchange.Client{IP: "192.0.2.1"},
			Request: exchange.Request{Method: "GET", URL: "https://a.test/x"}, Response: exchange.Response{Status: 200}}
		if err := r.Validate(); err != nil {
			t.Fatal(err)
		}
		return r
	}
	for _, s := range []int{0, 30, 10, 200, 20 /* late: 200-60 > 20 */, 190} {
		e.Ingest(mk(s))
	}
	e.Flush()
	r := e.Report(fixedTime)
	if r.Input.Records != 6 || r.Input.Late != 1 {
		t.Errorf("records %d late %d, want 6 and 1", r.Input.Records, r.Input.Late)
	}
	if !r.Input.From.Equal(base) || !r.Input.To.Equal(base.Add(200*time.Second)) {
		t.Errorf("from/to %v %v", r.Input.From, r.Input.To)
	}
}

func TestRejectsAreLocated(t *testing.T) {
	r := analyzeFile(t, DefaultConfig(), "../exchange/testdata/bad.ndjson")
	if r.Input.Records != 2 || r.Input.Rejected != 8 || len(r.Input.Errors) != 8 {
		t.Fatalf("input %+v", r.Input)
	}
	if e := r.Input.Errors[0]; e.Line != 2 || e.Field != "response.status" || !strings.HasSuffix(e.File, "bad.ndjson") {
		t.Errorf("first error %+v", e)
	}
}

// parseConfig reads pipeline keys the way the configuration file is read
// (server.LoadConfig decodes the whole document, of which these keys are
// the top level).
func parseConfig(data []byte) (Config, error) {
	fc := DefaultFileConfig()
	l := &config.Loader{}
	if err := l.Decode(config.Doc{Name: "pipeline.yaml", Data: data}, &fc); err != nil {
		return Config{}, err
	}
	if err := l.Validate(&fc); err != nil {
		return Config{}, err
	}
	return fc.Apply()
}

func TestConfigFile(t *testing.T) {
	cfg, err := parseConfig([]byte("reorder_window: 2m\ninternal_ranges: [10.0.0.0/8]\ninventory:\n  unused_after: 7d\n  pinned: [\"/a/{b}\"]\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Reorder != 2*time.Minute || len(cfg.Enrich.Internal) != 1 || cfg.Inventory.UnusedAfter != 7*24*time.Hour || len(cfg.Inventory.Pinned) != 1 {
		t.Errorf("cfg %+v", cfg)
	}
	if cfg, err := parseConfig([]byte("detect:\n  end_user_roles: [tenant-user, 'urn:acme:roles:Shopper']\n")); err != nil || fmt.Sprint(cfg.Detect.EndUserRoles) != "[tenant-user urn:acme:roles:Shopper]" {
		t.Errorf("end_user_roles: %v %v", cfg.Detect.EndUserRoles, err)
	}
	for bad, want := range map[string]string{
		"reorder_windw: 2m\n":                          `pipeline.yaml:1:1: reorder_windw: unknown key "reorder_windw"`,
		"internal_ranges: [nope]\n":                    `pipeline.yaml:1:1: internal_ranges: not a CIDR or IP address: "nope"`,
		"inventory:\n  unused_after: soon\n":           `pipeline.yaml:2:17: inventory.unused_after: bad duration "soon"`,
		"classify:\n  custom: [{pattern: x}]\n":        "pipeline.yaml:2:12: classify.custom[0].name: missing",
		"detect:\n  disabled: [trafic]\n":              `pipeline.yaml:2:14: detect.disabled[0]: no detector family "trafic"`,
		"detect:\n  options:\n    spray: {abs: -1}\n":  "pipeline.yaml:3:13: detect.options.spray.abs: must not be negative",
		"detect:\n  end_user_roles: [tenant, ROLE_]\n": `pipeline.yaml:2:28: detect.end_user_roles[1]: "ROLE_" names no role`,
	} {
		if _, err := parseConfig([]byte(bad)); err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("config %q: %v, want %q", bad, err, want)
		}
	}
	// The defaults of the file are the engine's defaults.
	def, err := DefaultFileConfig().Apply()
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(def) != fmt.Sprint(DefaultConfig()) {
		t.Errorf("file defaults differ from the engine's:\n%v\n%v", def, DefaultConfig())
	}
}

// TestDeterministicWithIntel: feeds loaded at different wall-clock times
// give the same report (feed dates are the sources' own).
func TestDeterministicWithIntel(t *testing.T) {
	dir := t.TempDir()
	tor := filepath.Join(dir, "tor.txt")
	if err := os.WriteFile(tor, []byte("# exits\n198.51.100.99\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Intel = []string{"tor=" + tor}
	a := render(t, analyzeFile(t, cfg, "testdata/small.ndjson"))
	time.Sleep(1100 * time.Millisecond)
	b := render(t, analyzeFile(t, cfg, "testdata/small.ndjson"))
	if !bytes.Equal(a, b) {
		t.Fatalf("reports differ: %s", testutil.FirstDiff(a, b))
	}
	var doc struct {
		Intel  []map[string]any `json:"intel"`
		Alerts []model.Alert    `json:"alerts"`
	}
	if err := json.Unmarshal(a, &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Intel) != 1 || doc.Intel[0]["modified"] == nil || doc.Intel[0]["loaded"] != nil {
		t.Errorf("intel = %v", doc.Intel)
	}
	found := false
	for _, al := range doc.Alerts {
		found = found || al.Type == "intel.tor_exit_node"
	}
	if !found {
		t.Errorf("no intel.tor_exit_node alert for the listed address")
	}
}

// TestReportDoesNotPerturb: serve mode assembles the report at checkpoints,
// between records; its alerts include what fired windows hold without
// closing them, so reports taken at arbitrary points change nothing (the
// final report equals one taken only at the end), no alert shown early
// later shrinks, and before Flush the report already shows the rest of the
// fired windows (what analyze reports at the end).
func TestReportDoesNotPerturb(t *testing.T) {
	cfg := sim.DefaultConfig()
	cfg.Duration, cfg.Scale = 24*time.Hour, 0.3
	run := func(every int, mid func(*Engine)) *model.Report {
		e, err := New(DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		if _, err := sim.Generate(cfg, func(r *exchange.Record) error {
			e.Ingest(r)
			if n++; every > 0 && n%every == 0 {
				mid(e)
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		e.Drain()
		mid(e)
		e.Flush()
		return e.Report(fixedTime)
	}
	var last *model.Report
	ref := run(0, func(e *Engine) { last = e.Report(fixedTime) })
	if got, want := render(t, last), render(t, ref); !bytes.Equal(got, want) {
		t.Errorf("before Flush (after Drain), the report differs from the final one: %s", testutil.FirstDiff(got, want))
	}
	seen := map[string]int64{}
	got := run(997, func(e *Engine) {
		for _, a := range e.Report(fixedTime).Alerts {
			seen[a.ID] = max(seen[a.ID], a.Count)
		}
	})
	if a, b := render(t, got), render(t, ref); !bytes.Equal(a, b) {
		t.Errorf("reports taken every 997 records changed the result: %s", testutil.FirstDiff(a, b))
	}
	final := map[string]int64{}
	windowed := 0
	for _, a := range ref.Alerts {
		final[a.ID] = a.Count
		if a.Type == "recon.endpoint_spray" || a.Type == "traffic.client_spike" || a.Type == "auth.brute_force" {
			windowed++
		}
	}
	if windowed < 3 {
		t.Fatalf("the capture should raise windowed alerts: %d", windowed)
	}
	for id, c := range seen {
		if f, ok := final[id]; !ok || c > f {
			t.Errorf("alert %s showed count %d at a checkpoint, %d at the end", id, c, f)
		}
	}
}

// TestSpecErrorsNameTheFileOnce: "spec nope.yaml: spec nope.yaml: open
// nope.yaml: …" said the name three times.
func TestSpecErrorsNameTheFileOnce(t *testing.T) {
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.yaml")
	os.WriteFile(broken, []byte("openapi: 3.0.0\npaths: [\n"), 0o644)
	hostless := filepath.Join(dir, "hostless.yaml")
	os.WriteFile(hostless, []byte("openapi: 3.0.0\ninfo: {title: t, version: '1'}\npaths: {}\n"), 0o644)
	for _, arg := range []string{filepath.Join(dir, "nope.yaml"), broken, hostless} {
		cfg := DefaultConfig()
		cfg.Specs = []string{arg}
		_, err := New(cfg)
		if err == nil {
			t.Errorf("%s: no error", arg)
			continue
		}
		// The message starts by naming the file ("spec F: …" or "F:2: …")
		// and does not say it again as a prefix.
		msg := err.Error()
		head, rest, _ := strings.Cut(msg, ": ")
		if !strings.Contains(head, arg) || strings.Contains(rest, head+": ") || strings.Contains(rest, "open "+arg) {
			t.Errorf("%s: %q repeats itself", arg, msg)
		}
	}
}

// TestAccessLogAuthUnknown: an access log that does not record the
// Authorization header cannot say that requests carried no credentials:
// endpoints stay "unknown" (no PAL-T001, no "answers without credentials"
// risk); when the log format records the header (even as "-"), its absence
// is "none". Operations public by role (log in, health, robots, well-known)
// are never reported as unauthenticated.
func TestAccessLogAuthUnknown(t *testing.T) {
	run := func(withAuth bool) *model.Report {
		lp, err := source.NewLineParser(source.FormatNGINX, source.LineOptions{})
		if err != nil {
			t.Fatal(err)
		}
		e, err := New(DefaultConfig())
		if err != nil {
			t.Fatal(err)
		}
		base := time.Date(2026, 11, 18, 9, 0, 0, 0, time.UTC)
		paths := []struct{ method, uri string }{
			{"GET", "/v1/orders/%d"}, {"POST", "/v1/auth/login"}, {"GET", "/healthz"}, {"GET", "/robots.txt"},
			{"GET", "/.well-known/openid-configuration"}, {"GET", "/v1/orders/%d/status"},
		}
		for i := range 400 {
			p := paths[i%len(paths)]
			uri := p.uri
			if strings.Contains(uri, "%d") {
				uri = fmt.Sprintf(uri, 1000+i)
			}
			auth := ""
			if withAuth {
				auth = `,"http_authorization":"-"`
			}
			line := fmt.Sprintf(`{"time_iso8601":%q,"remote_addr":"203.0.113.%d","request_method":%q,"scheme":"https","host":"shop.example.test","request_uri":%q,"status":"200","body_bytes_sent":"10","request_time":"0.010","http_user_agent":"Mozilla/5.0"%s}`,
				base.Add(time.Duration(i)*time.Second).Format(time.RFC3339), i%50+1, p.method, uri, auth)
			rec, err := lp.Parse([]byte(line))
			if err != nil {
				t.Fatal(err)
			}
			e.Ingest(rec)
		}
		e.Flush()
		return e.Report(fixedTime)
	}
	t001 := func(r *model.Report) map[string]bool {
		out := map[string]bool{}
		for _, f := range r.Findings {
			if f.Rule == "PAL-T001" && f.Endpoint != nil {
				out[f.Endpoint.Method+" "+f.Endpoint.Path] = true
			}
		}
		return out
	}
	blind := run(false)
	if len(blind.Endpoints) < 6 {
		t.Fatalf("endpoints: %d", len(blind.Endpoints))
	}
	for _, ep := range blind.Endpoints {
		if ep.Authentication != "unknown" {
			t.Errorf("%s %s: authentication %q from a log without the Authorization header, want unknown", ep.Method, ep.Path, ep.Authentication)
		}
		for _, f := range ep.Risk.Factors {
			if f.Factor == "authentication" && f.Points == posture.PointsNoAuth {
				t.Errorf("%s %s: risk counts 'answers without credentials'", ep.Method, ep.Path)
			}
		}
	}
	if got := t001(blind); len(got) > 0 {
		t.Errorf("PAL-T001 from a log that cannot show credentials: %v", got)
	}
	seeing := run(true)
	got := t001(seeing)
	for _, want := range []string{"GET /v1/orders/{orderId}", "GET /v1/orders/{orderId}/status"} {
		if !got[want] {
			t.Errorf("the log records Authorization and it was absent: PAL-T001 missing on %s (got %v)", want, got)
		}
	}
	for _, public := range []string{"POST /v1/auth/login", "GET /healthz", "GET /robots.txt", "GET /.well-known/openid-configuration"} {
		if got[public] {
			t.Errorf("PAL-T001 on %s, public by its role", public)
		}
	}
	for _, ep := range seeing.Endpoints {
		if ep.Path == "/v1/auth/login" {
			if ep.Authentication != "none" || len(ep.Risk.Factors) == 0 || !strings.Contains(fmt.Sprint(ep.Risk.Factors), "public by role") {
				t.Errorf("login: authentication %q, risk %+v", ep.Authentication, ep.Risk)
			}
		}
	}
}
