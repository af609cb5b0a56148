package injeval

import (
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"

	crstests "github.com/corazawaf/coraza-coreruleset/v4/tests"
	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/testutil"
)

func TestParseGoTestWAF(t *testing.T) {
	data := []byte(`payload:
  - "\'-alert(1)//"
  - 'plain'
encoder:
  - Plain
  - URL
placeholder:
  - URLParam
  - RawRequest:
      method: "POST"
      path: "/x"
      headers:
        Content-Type: "application/x-www-form-urlencoded"
      body: "a={{payload}}"
type: XSS
`)
	ps, fixed, err := ParseGoTestWAF(data, "t.yml")
	if err != nil {
		t.Fatal(err)
	}
	_ = fixed // gopkg.in/yaml.v3 reads \' itself; stricter parsers need the retry
	if len(ps) != 2 || ps[0].Value != "'-alert(1)//" || ps[0].Class != "xss" || len(ps[0].Placeholders) != 2 || ps[0].Placeholders[1].Body != "a={{payload}}" || ps[0].Placeholders[1].Method != "POST" {
		t.Fatalf("parsed %+v", ps)
	}
	st := &LoadStats{}
	cases := BuildCases(ps, nil, st)
	if len(cases) != 8 {
		t.Fatalf("%d cases, want 2 payloads × 2 encoders × 2 placeholders", len(cases))
	}
	for _, c := range cases {
		if c.Placement == "raw" && !strings.HasPrefix(c.Rec.Request.Body, "a=") {
			t.Errorf("raw body %q", c.Rec.Request.Body)
		}
		if c.Placement == "query" && c.Encoder == "URL" && !strings.Contains(c.Rec.Request.URL, "%27-alert%281%29%2F%2F") && !strings.Contains(c.Rec.Request.URL, "plain") {
			t.Errorf("URL-encoded query %q", c.Rec.Request.URL)
		}
	}
	for _, bad := range []struct{ in, want string }{
		{"payload: [a]\nencoder: [Plain]\n", "no placeholder"},
		{"encoder: [Plain]\nplaceholder: [URLParam]\n", "no payload"},
		{"payload: [a]\nplaceholder: [URLParam]\n", "no encoder"},
		{"payload: [a\n", "t.yml"},
		{"payload: [a]\nencoder: [Plain]\nplaceholder: [[x]]\n", "want a name or a mapping"},
	} {
		if _, _, err := ParseGoTestWAF([]byte(bad.in), "t.yml"); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%q: error %v, want %q", bad.in, err, bad.want)
		}
	}
}

func TestMinimalEscape(t *testing.T) {
	for in, want := range map[string]string{
		"a b#c":    "a%20b%23c",
		"%2e%2e/x": "%2e%2e/x",
		"100%":     "100%25",
		"<script>": "%3Cscript%3E",
		"q?x":      "q?x",
		"é":        "%C3%A9",
	} {
		if got := minimalEscape(in, false); got != want {
			t.Errorf("minimalEscape(%q) = %q, want %q", in, got, want)
		}
	}
	if got := minimalEscape("a?b", true); got != "a%3Fb" {
		t.Errorf("path escape: %q", got)
	}
}

func FuzzParseGoTestWAF(f *testing.F) {
	f.Add([]byte("payload: [\"\\'x\"]\nencoder: [Plain]\nplaceholder: [URLParam]\ntype: SQL Injection\n"))
	f.Add([]byte("payload: [a]\nencoder: [URL]\nplaceholder:\n  - RawRequest:\n      method: GET\n      path: /{{payload}}\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ps, _, err := ParseGoTestWAF(data, "fuzz.yml")
		if err != nil {
			return
		}
		if len(ps) == 0 {
			t.Fatal("no payloads without an error")
		}
		st := &LoadStats{}
		for _, c := range BuildCases(ps, nil, st) {
			if err := c.Rec.Validate(); err != nil {
				t.Fatalf("invalid record built: %v", err)
			}
		}
	})
}

// Floors are the minimum recall Palisade must keep on the development
// set, on the tuning and on the validation part (set from the measured
// figures with a margin of a few points; rows under 100 requests are too
// small to hold a floor). They apply to the "any signature alert" rate per
// class. Low floors (ldap) reflect list entries that are single filter
// characters ("*", "|", "(") — not attacks on their own.
var tprFloors = map[string]float64{
	"sqli": 0.95, "xss": 0.78, "cmd": 0.82, "path_traversal": 0.80, "nosql": 0.78, "ssti": 0.90,
	"xxe": 0.80, "ldap": 0.05, "crlf": 0.75,
}

// fprCeilings per benign source and part. Measured (cold policy, CRS
// rules included): GoTestWAF look-alikes 6.5 % / 6.2 % (6 of 93, 3 of 48
// requests; CRS PL1 on the same requests 5.4 % / 14.6 %; one of the six is
// one PL2 SQLi rule on SQL words, "union+was+a+great+select" in a
// multipart field, which does not decode '+' and so reads as one token,
// not prose), HttpParams
// "norm" 0.0 %, presidio prose 1.1 % / 0.1 % (texts that literally contain
// "SELECT * FROM Users WHERE …", and CRS rules on multi-line texts).
// The values real-world API descriptions give their requests
// (api-values): 0.4 % / 0.1 % (11 of 2,931, 1 of 1,153; CRS PL1 0.5 / 1.0 %,
// PL2 1.9 / 2.4 % on the same requests).
var fprCeilings = map[string]float64{"gotestwaf": 0.08, "httpparams": 0.002, "presidio": 0.015, APIValuesSource: 0.005}

func loadEval(t *testing.T) []Case {
	dir := testutil.EvalDir(t, "injection")
	ps, st, err := LoadAll(dir, 400)
	if err != nil {
		t.Fatal(err)
	}
	// The 3 upstream files with \' escapes load, and the escape reads as a quote.
	n := 0
	for _, p := range ps {
		if p.Source == "gotestwaf" && (p.Set == "xss-scripting" || p.Set == "rest" || p.Set == "soap") {
			n++
			if strings.Contains(p.Value, `\'`) {
				t.Errorf("%s: escape left in %q", p.Set, p.Value)
			}
		}
	}
	if n == 0 {
		t.Error("xss-scripting/rest/soap payloads missing")
	}
	return BuildCases(ps, nil, st)
}

func TestPalisadeFloors(t *testing.T) {
	if testing.Short() {
		t.Skip("full injection evaluation (~10-20 s) skipped in -short mode")
	}
	cases := loadEval(t)
	res := Run(cases, []Engine{NewPalisade()}, Options{})
	var b strings.Builder
	res.Print(&b)
	t.Log("\n" + b.String())
	for _, r := range res.Aggregate() {
		if r.Class == Benign {
			if ceil, ok := fprCeilings[r.Source]; ok && r.Rate("palisade") > ceil {
				t.Errorf("benign %s (%s): FPR %.3f above ceiling %.3f", r.Source, r.Split, r.Rate("palisade"), ceil)
			}
			continue
		}
		if floor, ok := tprFloors[r.Class]; ok && r.N >= 100 && r.Rate("palisade") < floor {
			t.Errorf("class %s (%s): recall %.3f below floor %.2f", r.Class, r.Split, r.Rate("palisade"), floor)
		}
	}
}

// warmCeilings: FPR ceilings of the warm engines on the benign source of
// their pool's kind (measured: HttpParams norm 0.0 % / 0.0 % under the
// values pool; presidio prose 0.6 % / 0.0 % and GoTestWAF look-alikes
// 1.1 % / 2.1 % under the text pool; CRS PL1 0.5 / 0.0, 6.5 / 4.0,
// 5.4 / 14.6 %).
var warmCeilings = map[string]map[string]float64{
	"palisade-warm-values": {"httpparams": 0.002},
	"palisade-warm-text":   {"presidio": 0.015, "gotestwaf": 0.06},
}

// TestWarmFloors: with every argument's positive model learned from a
// benign pool, the recall floors hold and the false-positive rate on the
// benign source of the pool's kind stays under its ceiling.
func TestWarmFloors(t *testing.T) {
	if testing.Short() {
		t.Skip("full injection evaluation, warm (~30 s) skipped in -short mode")
	}
	cases := loadEval(t)
	var engines []Engine
	for _, wp := range WarmPools {
		w, err := NewWarm(wp.Name, wp.Source, cases)
		if err != nil {
			t.Fatal(err)
		}
		engines = append(engines, w)
	}
	if _, err := NewWarm("none", "nowhere", cases); err == nil {
		t.Error("a pool without values built an engine")
	}
	res := Run(cases, engines, Options{})
	for _, r := range res.Aggregate() {
		for _, e := range res.Engines {
			if r.Class == Benign {
				if ceil, ok := warmCeilings[e][r.Source]; ok && r.Rate(e) > ceil {
					t.Errorf("%s: benign %s (%s): FPR %.3f above ceiling %.3f", e, r.Source, r.Split, r.Rate(e), ceil)
				}
				continue
			}
			if floor, ok := tprFloors[r.Class]; ok && r.N >= 100 && r.Rate(e) < floor {
				t.Errorf("%s: class %s (%s): recall %.3f below floor %.2f", e, r.Class, r.Split, r.Rate(e), floor)
			}
		}
	}
}

// TestPrintTable prints the side-by-side table with Coraza + CRS at
// paranoia levels 1 and 2. It is slow (minutes); run it with
//
//	PALISADE_EVAL_TABLE=1 go test ./internal/detect/injeval -run TestPrintTable -v -timeout 30m
//
// PALISADE_EVAL_SAMPLE sets the Coraza sample size per (source, class) row (default 1000),
// PALISADE_EVAL_EXAMPLES the number of misses / false positives listed per row.
func TestPrintTable(t *testing.T) {
	if os.Getenv("PALISADE_EVAL_TABLE") == "" {
		t.Skip("set PALISADE_EVAL_TABLE=1 to print the comparison table")
	}
	cases := loadEval(t)
	engines := []Engine{NewPalisade()}
	if os.Getenv("PALISADE_EVAL_NO_CORAZA") == "" {
		for _, pl := range []int{1, 2} {
			c, err := NewCoraza(pl)
			if err != nil {
				t.Fatal(err)
			}
			engines = append(engines, c)
		}
	}
	sample := envInt("PALISADE_EVAL_SAMPLE", 1000)
	res := Run(cases, engines, Options{Sample: sample, Examples: envInt("PALISADE_EVAL_EXAMPLES", 0)})
	var b strings.Builder
	res.Print(&b)
	res.PrintExamples(&b)
	t.Log("\n" + b.String())
}

func envInt(k string, def int) int {
	v := os.Getenv(k)
	n := 0
	for _, c := range v {
		if c < '0' || c > '9' {
			return def
		}
		n = n*10 + int(c-'0')
	}
	if v == "" {
		return def
	}
	return n
}

// TestTableGolden runs Palisade on a small fixed corpus and compares the
// printed table (without the timing line) with testdata/table.golden.
func TestTableGolden(t *testing.T) {
	raw, err := os.ReadFile("testdata/mini.yml")
	if err != nil {
		t.Fatal(err)
	}
	ps, _, err := ParseGoTestWAF(raw, "mini.yml")
	if err != nil {
		t.Fatal(err)
	}
	st := &LoadStats{}
	hp, err := LoadHTTPParams("testdata/mini.csv", st)
	if err != nil {
		t.Fatal(err)
	}
	cases := BuildCases(append(ps, hp...), []string{"query", "json"}, st)
	res := Run(cases, []Engine{NewPalisade()}, Options{Examples: 2})
	var b strings.Builder
	res.Print(&b)
	res.PrintExamples(&b)
	var lines []string
	for _, l := range strings.Split(b.String(), "\n") {
		if !strings.HasPrefix(l, "cost:") {
			lines = append(lines, l)
		}
	}
	testutil.Golden(t, "testdata/table.golden", []byte(strings.Join(lines, "\n")))
}

// TestCorazaVerdicts: the Coraza adapter sends a Content-Length with a
// body (a benign form POST is not scored by CRS 920180), and names the
// attack classes of the rules that matched beside the blocking rule.
func TestCorazaVerdicts(t *testing.T) {
	c, err := NewCoraza(1)
	if err != nil {
		t.Fatal(err)
	}
	has := func(types []string, want string) bool {
		for _, x := range types {
			if x == want {
				return true
			}
		}
		return false
	}
	for _, tc := range []struct {
		name string
		cs   Case
		want string // "" = not blocked
	}{
		{"benign form POST", Case{Rec: newRecord("POST", "http://api.test/orders", map[string]string{"content-type": "application/x-www-form-urlencoded"}, "name=Alice&qty=2")}, ""},
		{"SQLi in a query", Case{Rec: newRecord("GET", "http://api.test/items?id=1%27%20OR%20%271%27%3D%271", nil, "")}, "injection.sqli"},
		{"XSS in a form", Case{Rec: newRecord("POST", "http://api.test/notes", map[string]string{"content-type": "application/x-www-form-urlencoded"}, "q=%3Cscript%3Ealert(1)%3C/script%3E")}, "injection.xss"},
		{"body without a content type", Case{Rec: newRecord("POST", "http://api.test/notes", nil, "hello")}, "crs:949110"},
	} {
		types, err := c.Detect(&tc.cs)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		switch {
		case tc.want == "" && len(types) > 0:
			t.Errorf("%s: blocked: %v", tc.name, types)
		case tc.want != "" && !has(types, tc.want):
			t.Errorf("%s: got %v, want %s among them", tc.name, types, tc.want)
		}
		if tc.want == "crs:949110" && (has(types, "injection.sqli") || has(types, "injection.xss")) {
			t.Errorf("%s: a protocol block named an attack class: %v", tc.name, types)
		}
	}
}

// TestVerdicts: Options.Verdicts gets one line per case and engine, with
// Palisade's alerts and their evidence as JSON, the same in two runs, and
// the rest of the result does not depend on it.
func TestVerdicts(t *testing.T) {
	ps := []Payload{
		{Source: "t", Class: "sqli", Value: "1' or '1'='1", Split: SplitTune},
		{Source: "t", Class: "xss", Value: "<script>alert(document.cookie)</script>", Split: SplitTune},
		{Source: "t", Class: Benign, Value: "blue shoes", Split: SplitTune},
	}
	cases := BuildCases(ps, []string{"query", "json"}, &LoadStats{})
	run := func(w *strings.Builder) *Result {
		return Run(cases, []Engine{NewPalisade()}, Options{Verdicts: w})
	}
	var a, b strings.Builder
	ra := run(&a)
	run(&b)
	if a.String() != b.String() {
		t.Fatal("two runs wrote different verdicts")
	}
	lines := strings.Split(strings.TrimSuffix(a.String(), "\n"), "\n")
	if len(lines) != len(cases) {
		t.Fatalf("%d lines for %d cases:\n%s", len(lines), len(cases), a.String())
	}
	flagged := 0
	for i, l := range lines {
		f := strings.Split(l, "\t")
		if len(f) != 6 || f[1] != "palisade" || f[2] != rowKey(cases[i].Payload) {
			t.Fatalf("line %d: %q", i, l)
		}
		var alerts []model.Alert
		if err := json.Unmarshal([]byte(f[5]), &alerts); err != nil {
			t.Fatalf("line %d: verdict %q: %v", i, f[5], err)
		}
		if len(alerts) > 0 {
			flagged++
			if alerts[0].Type == "" || alerts[0].Evidence.Details["location"] == nil {
				t.Errorf("line %d: alert without type or location: %q", i, f[5])
			}
		}
	}
	hits := 0
	for _, r := range ra.Rows {
		hits += r.Hits["palisade"]
	}
	if flagged != hits || flagged == 0 {
		t.Errorf("%d verdicts with alerts, %d requests flagged", flagged, hits)
	}
	if plain := Run(cases, []Engine{NewPalisade()}, Options{}); plain.Cost["palisade"].Requests != ra.Cost["palisade"].Requests {
		t.Error("the verdict dump changed what was run")
	}
}

// crsSuiteFloors: cold recall floors on the OWASP CRS regression suite
// (the go-ftw files embedded in the coraza-coreruleset module; its
// documented false positives skipped), tuning and validation parts.
// Measured: sqli 93.2 / 87.6 %, xss 96.0 / 95.2 %, cmd 96.0 / 83.4 %,
// path traversal 100 / 100 % (36 / 26 requests); CRS PL2 with a rule of the
// class among its matches (the (class) column): 98.1 / 96.8, 100 / 100,
// 96.8 / 95.1, 100 / 100 %. The floors sit a few points under the
// measures: they guard the signals, not the suite.
var crsSuiteFloors = map[string]float64{"sqli": 0.86, "xss": 0.92, "cmd": 0.80, "path_traversal": 0.90}

// TestCRSSuiteFloors needs no ../shared: the suite ships in a module.
func TestCRSSuiteFloors(t *testing.T) {
	st := &LoadStats{}
	cases, err := LoadCRSRegression(crstests.FS, st)
	if err != nil {
		t.Fatal(err)
	}
	res := Run(cases, []Engine{NewPalisade()}, Options{})
	for _, r := range res.Aggregate() {
		floor, ok := crsSuiteFloors[r.Class]
		if !ok {
			continue
		}
		if got := r.Rate("palisade"); got < floor {
			t.Errorf("CRS suite %s (%s): recall %.3f below floor %.2f", r.Class, r.Split, got, floor)
		}
	}
}

// TestCRSStrata: every CRS suite case is labelled with the paranoia level of
// the rule it tests, and the per-source table shows the levels apart.
func TestCRSStrata(t *testing.T) {
	st := &LoadStats{}
	cases, err := LoadCRSRegression(crstests.FS, st)
	if err != nil {
		t.Fatal(err)
	}
	n := map[string]int{}
	for _, c := range cases {
		n[c.Payload.Stratum]++
		if strings.HasPrefix(c.Payload.Set, "932350.yaml") && c.Payload.Stratum != "PL3" {
			t.Errorf("%s: stratum %q, want PL3", c.Payload.Set, c.Payload.Stratum)
		}
	}
	if n["PL?"] > 0 || n["PL1"] == 0 || n["PL2"] == 0 || n["PL3"] == 0 {
		t.Errorf("strata: %v", n)
	}
	res := Run(cases[:200], []Engine{NewPalisade()}, Options{})
	var b strings.Builder
	res.Print(&b)
	if !strings.Contains(b.String(), "crs-regression PL1") {
		t.Errorf("per-source table without strata:\n%s", b.String())
	}
}

// TestCRSKnownFalsePositives: the CRS suite's tests of a rule's documented
// false positives (benign text the rule is expected to match) are not
// counted as attacks; the skip is counted and named.
func TestCRSKnownFalsePositives(t *testing.T) {
	for desc, want := range map[string]bool{
		"Known false positive with `Wall` at start of string":                   true,
		"Expected (rare) false positive: JWT token in Authorization header":     true,
		"False-positive: Detects or-based authentication bypass":                true,
		"Known false positive with `Cut` at start of string (expected failure)": true,
		"FP with word performance":                                              true,
		"SQL injection with comment and FPAT keyword":                           false,
		"Detect false-positive-free payload":                                    true, // conservative: named as one
		"Remote command execution with ;ifconfig":                               false,
	} {
		if got := knownFalsePositive.MatchString(desc); got != want {
			t.Errorf("%q: %v, want %v", desc, got, want)
		}
	}
	st := &LoadStats{}
	cases, err := LoadCRSRegression(crstests.FS, st)
	if err != nil {
		t.Fatal(err)
	}
	const reason = CRSRegressionSource + ": documented false positive of the rule (benign input it is known to match)"
	if st.Skipped[reason] == 0 {
		t.Fatalf("no documented false positive skipped: %v", st.Skipped)
	}
	for _, c := range cases {
		if strings.Contains(c.Payload.Value, "Wall Street") {
			t.Errorf("%s: a documented false positive counted as an attack", c.Payload.Set)
		}
	}
}

// TestAggregateWeights: an aggregate weighs each row by its size, not by
// how many of its requests a sampled engine evaluated.
func TestAggregateWeights(t *testing.T) {
	res := &Result{Rows: []*Row{
		{Source: "big", Class: "sqli", Split: SplitTune, N: 1000, Hits: map[string]int{"c": 10, "p": 100}, ClassHits: map[string]int{"c": 10}, Sampled: map[string]int{"c": 100, "p": 1000}},
		{Source: "small", Class: "sqli", Split: SplitTune, N: 100, Hits: map[string]int{"c": 100, "p": 100}, ClassHits: map[string]int{"c": 100}, Sampled: map[string]int{"c": 100, "p": 100}},
	}}
	r := res.Find("sqli", SplitTune)
	if r == nil {
		t.Fatal("no aggregate row")
	}
	// sampled: (10 % of 1000 + 100 % of 100) / 1100, not 110 / 200
	if got := r.Rate("c"); math.Abs(got-200.0/1100) > 1e-9 || r.drawn("c") != 200 {
		t.Errorf("sampled engine: rate %.4f drawn %d, want %.4f of 200 drawn", got, r.drawn("c"), 200.0/1100)
	}
	if got := r.ClassRate("c"); math.Abs(got-200.0/1100) > 1e-9 {
		t.Errorf("sampled engine class rate %.4f", got)
	}
	if got := r.Rate("p"); math.Abs(got-200.0/1100) > 1e-9 {
		t.Errorf("whole engine: rate %.4f, want %.4f", got, 200.0/1100)
	}
	var b strings.Builder
	res.Engines = []string{"c", "p"}
	res.Print(&b)
	if !strings.Contains(b.String(), "18.2% (200)") {
		t.Errorf("the aggregate does not show the sample size:\n%s", b.String())
	}
}
