package posture

import (
	"bufio"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/testutil"
)

func TestScore(t *testing.T) {
	r1 := model.EndpointRef{Host: "h", Method: "GET", Path: "/a"}
	r2 := model.EndpointRef{Host: "h", Method: "GET", Path: "/b"}
	eps := []model.Endpoint{
		{Host: "h", Method: "GET", Path: "/a", Exposure: "external", Authentication: "none",
			SensitiveData: []model.SensitiveData{{Type: "email", Location: "response.body", Field: "$.e"}, {Type: "credit_card", Location: "response.body", Field: "$.c", Masked: true}}},
		{Host: "h", Method: "GET", Path: "/b", Exposure: "internal", Authentication: "required"},
	}
	alerts := []model.Alert{
		{Severity: "high", Endpoint: &r1}, {Severity: "high", Endpoint: &r1}, {Severity: "critical", Endpoint: &r1},
		{Severity: "critical", Endpoint: &r2, Status: "resolved"},
	}
	findings := []model.Finding{{Severity: "medium", Endpoint: &r1}, {Severity: "low", Endpoint: &r2}}
	Score(eps, alerts, findings)
	a := eps[0].Risk
	want := []model.RiskFactor{
		{Factor: "exposure", Points: 25, Detail: "called from the internet"},
		{Factor: "authentication", Points: 25, Detail: "answers without credentials"},
		{Factor: "open_alerts", Points: 25, Detail: "1 critical, 2 high"},
		{Factor: "data_sensitivity", Points: 15, Detail: "email"},
		{Factor: "findings", Points: 3, Detail: "1 medium"},
	}
	if a.Score != 93 || !reflect.DeepEqual(a.Factors, want) {
		t.Errorf("risk /a = %d %+v", a.Score, a.Factors)
	}
	b := eps[1].Risk
	if b.Score != 1 || len(b.Factors) != 1 || b.Factors[0].Factor != "findings" {
		t.Errorf("risk /b = %+v (resolved alerts must not count)", b)
	}
	// Cap at 100.
	eps[0].SensitiveData = append(eps[0].SensitiveData, model.SensitiveData{Type: "us_ssn", Location: "response.body", Field: "$.s"})
	findings = append(findings, model.Finding{Severity: "critical", Endpoint: &r1}, model.Finding{Severity: "critical", Endpoint: &r1})
	Score(eps, alerts, findings)
	if eps[0].Risk.Score != 100 {
		t.Errorf("score = %d, want capped 100", eps[0].Risk.Score)
	}
}

func TestFindingsDeterministicAndCanonical(t *testing.T) {
	early := model.EndpointRef{Host: ref.Host, Method: "GET", Path: "/v1/items/7"}
	canon := canonMap{early.Key(): ref}
	run := func() []model.Finding {
		tr := NewTraffic(TrafficConfig{})
		e1 := pev(pt0, respHeader("server", "nginx/1.18.0"))
		e1.Endpoint = early
		tr.Observe(e1)
		tr.Observe(pev(pt0.Add(time.Second), scheme("http")))
		ep := baseEP()
		ep.Authentication = "none"
		return tr.Findings([]model.Endpoint{ep}, pt0.Add(time.Hour), canon)
	}
	a, b := run(), run()
	if !reflect.DeepEqual(a, b) {
		t.Fatal("findings differ between identical runs")
	}
	got := rulesOf(a)
	for _, r := range []string{RuleVersionDisclosure, RulePlainHTTP, RuleUnauthenticated} {
		if got[r] == "" {
			t.Errorf("missing %s (early evidence must be merged into the canonical endpoint): %v", r, got)
		}
	}
	for i := 1; i < len(a); i++ {
		if model.SeverityRank(a[i-1].Severity) < model.SeverityRank(a[i].Severity) {
			t.Errorf("findings not sorted by severity: %s before %s", a[i-1].Severity, a[i].Severity)
		}
	}
}

type canonMap map[string]model.EndpointRef

func (c canonMap) Resolve(r model.EndpointRef) model.EndpointRef {
	if v, ok := c[r.Key()]; ok {
		return v
	}
	return r
}

func TestBudgets(t *testing.T) {
	tr := NewTraffic(TrafficConfig{MaxEndpoints: 1, MaxClientWindows: 2})
	for i, p := range []string{"/a", "/b"} {
		ev := pev(pt0.Add(time.Duration(i)*time.Second), client("198.51.100.9"))
		ev.Endpoint.Path = p
		tr.Observe(ev)
	}
	for i := 0; i < 4; i++ {
		ev := pev(pt0, client("198.51.100."+string(rune('1'+i))))
		ev.Endpoint.Path = "/a"
		tr.Observe(ev)
	}
	st := tr.Stats()
	if st.Dropped["endpoints_budget"] != 1 || st.Dropped["client_windows_evicted"] != 3 {
		t.Errorf("stats = %+v", st)
	}
}

// TestVerboseErrorsCRSReference measures how many of the CRS SQL error
// strings (a reference list, not traffic) the verbose-error rule
// recognises in an error response, and that benign bodies do not trigger it.
func TestVerboseErrorsCRSReference(t *testing.T) {
	dir := testutil.EvalDir(t, "threatintel", "crs-data")
	f, err := os.Open(filepath.Join(dir, "sql-errors.data"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := NewTraffic(TrafficConfig{})
	var total, hit int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		total++
		if k, _ := tr.verboseError("Error: "+line+" near line 1", 500); k != "" {
			hit++
		} else if testing.Verbose() {
			t.Logf("not recognised: %q", line)
		}
	}
	cov := float64(hit) / float64(total)
	t.Logf("CRS sql-errors.data: %d/%d strings recognised (%.2f)", hit, total, cov)
	if cov < 0.7 {
		t.Errorf("coverage %.2f below floor 0.70", cov)
	}
	for _, benign := range []string{`{"items":[],"total":0}`, `{"error":"not found","code":404}`, `<html><body>Welcome</body></html>`, `{"message":"Validation failed: name is required"}`} {
		if k, s := tr.verboseError(benign, 500); k != "" {
			t.Errorf("benign body %q flagged as %s (%q)", benign, k, s)
		}
	}
}

func FuzzVerboseError(f *testing.F) {
	for _, s := range []string{"", "goroutine 1 [running]:", "x.java:12)", "ORA-00933: SQL", ".go:", ".rb:1:in `x'"} {
		f.Add(s, 500)
	}
	tr := NewTraffic(TrafficConfig{})
	f.Fuzz(func(t *testing.T, body string, status int) {
		k, snip := tr.verboseError(body, status)
		if k == "" && snip != "" || len(snip) > 200 {
			t.Fatalf("kind %q snippet %q", k, snip)
		}
	})
}

func TestFindingsTemplateFallback(t *testing.T) {
	tr := NewTraffic(TrafficConfig{}) // no canonicalizer
	e := pev(pt0, respHeader("server", "nginx/1.18.0"))
	e.Endpoint = model.EndpointRef{Host: ref.Host, Method: "GET", Path: "/v1/items/7"}
	tr.Observe(e)
	other := pev(pt0, respHeader("server", "nginx/1.18.0"))
	other.Endpoint = model.EndpointRef{Host: ref.Host, Method: "GET", Path: "/v1/items/7/reviews"}
	tr.Observe(other)
	fs := tr.Findings([]model.Endpoint{baseEP()}, pt0.Add(time.Hour), nil)
	if len(fs) != 1 || fs[0].Rule != RuleVersionDisclosure || fs[0].Endpoint.Path != "/v1/items/{id}" {
		t.Fatalf("findings = %+v, want one version disclosure on /v1/items/{id}", fs)
	}
	if !templateCovers("/a/{id}/b", "/a/7/b") || templateCovers("/a/{id}", "/a/7/b") || templateCovers("/a/b", "/a/c") {
		t.Error("templateCovers")
	}
}
