package specaudit

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/model"
)

func auditFile(t *testing.T, path string) []model.Finding {
	t.Helper()
	d, err := LoadFile(path)
	if err != nil {
		t.Fatalf("load %s: %v", path, err)
	}
	fs, err := Audit(d, Options{})
	if err != nil {
		t.Fatalf("audit %s: %v", path, err)
	}
	return fs
}

func countRule(fs []model.Finding, id string) int {
	n := 0
	for _, f := range fs {
		if f.Rule == id {
			n++
		}
	}
	return n
}

// TestRuleFixtures runs every rule on its positive fixtures (pos*.yaml:
// the rule must fire) and negative fixtures (neg*.yaml: near misses, the
// rule must stay silent). Every rule must have at least one of each.
func TestRuleFixtures(t *testing.T) {
	for _, r := range Rules() {
		t.Run(r.ID, func(t *testing.T) {
			dir := filepath.Join("testdata", "rules", r.ID)
			pos, _ := filepath.Glob(filepath.Join(dir, "pos*.yaml"))
			neg, _ := filepath.Glob(filepath.Join(dir, "neg*.yaml"))
			if len(pos) == 0 || len(neg) == 0 {
				t.Fatalf("rule %s needs testdata/rules/%s/pos.yaml and neg.yaml", r.ID, r.ID)
			}
			for _, p := range pos {
				fs := auditFile(t, p)
				if countRule(fs, r.ID) == 0 {
					t.Errorf("%s: expected a %s finding, got rules %v", p, r.ID, rulesOf(fs))
				}
				for _, f := range fs {
					if f.Rule != r.ID {
						continue
					}
					if f.Location == nil || f.Location.Line <= 0 || f.Location.Column <= 0 || f.Location.File != p {
						t.Errorf("%s: %s finding without a usable location: %+v", p, r.ID, f.Location)
					}
					if f.Source != "spec" || f.Severity != r.Severity || len(f.OWASP) == 0 || f.Remediation == "" || f.Message == "" {
						t.Errorf("%s: incomplete finding %+v", p, f)
					}
				}
			}
			for _, p := range neg {
				if fs := auditFile(t, p); countRule(fs, r.ID) != 0 {
					t.Errorf("%s: expected no %s finding, got %d: %v", p, r.ID, countRule(fs, r.ID), messages(fs, r.ID))
				}
			}
		})
	}
}

func rulesOf(fs []model.Finding) []string {
	var out []string
	for _, f := range fs {
		out = append(out, f.Rule)
	}
	return out
}

func messages(fs []model.Finding, id string) []string {
	var out []string
	for _, f := range fs {
		if f.Rule == id {
			out = append(out, f.Message)
		}
	}
	return out
}

func TestCatalogueWellFormed(t *testing.T) {
	if len(Rules()) < 30 {
		t.Fatalf("only %d rules", len(Rules()))
	}
	doc, err := os.ReadFile(filepath.Join("..", "..", "..", "docs", "audit.md"))
	if err != nil {
		t.Fatalf("rule catalogue docs/audit.md: %v", err)
	}
	ids, names := map[string]bool{}, map[string]bool{}
	prev := ""
	for _, r := range Rules() {
		if ids[r.ID] || names[r.Name] {
			t.Errorf("duplicate rule %s / %s", r.ID, r.Name)
		}
		ids[r.ID], names[r.Name] = true, true
		if r.ID <= prev {
			t.Errorf("rules not ordered by ID at %s", r.ID)
		}
		prev = r.ID
		if model.SeverityRank(r.Severity) < 0 || len(r.OWASP) == 0 || r.Title == "" || r.Description == "" || r.Remediation == "" || r.check == nil {
			t.Errorf("rule %s incomplete", r.ID)
		}
		for _, o := range r.OWASP {
			if !strings.HasPrefix(o, "API") || !strings.Contains(o, ":2023 ") {
				t.Errorf("rule %s: OWASP mapping %q is not an API Security 2023 category", r.ID, o)
			}
		}
		if !strings.Contains(string(doc), "### "+r.ID) {
			t.Errorf("rule %s is not documented in docs/audit.md (want a \"### %s\" heading)", r.ID, r.ID)
		}
	}
}

func TestOptionsSelected(t *testing.T) {
	tests := []struct {
		name    string
		opts    Options
		want    []string
		wantErr string
	}{
		{"only by id and name", Options{Only: []string{"PAL-S020", "basic-auth"}}, []string{"PAL-S012", "PAL-S020"}, ""},
		{"only minus disabled", Options{Only: []string{"PAL-S020", "PAL-S012"}, Disable: []string{"server-not-tls"}}, []string{"PAL-S012"}, ""},
		{"unknown rule", Options{Only: []string{"PAL-S999"}}, nil, `--rules: unknown rule "PAL-S999"`},
		{"unknown disable", Options{Disable: []string{"nope"}}, nil, `--disable: unknown rule "nope"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := tc.opts.Selected()
			if tc.wantErr != "" {
				if err == nil || err.Error() != tc.wantErr {
					t.Fatalf("err = %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, r := range rs {
				got = append(got, r.ID)
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
	all, _ := Options{Disable: []string{"PAL-S061"}}.Selected()
	if len(all) != len(Rules())-1 {
		t.Fatalf("disable one: %d rules, want %d", len(all), len(Rules())-1)
	}
}

func TestNestedQuantifier(t *testing.T) {
	tests := []struct {
		pattern string
		want    bool
	}{
		{`(a+)+`, true},
		{`^(\w*)*$`, true},
		{`^\$\{(\w+.)+\w+\}$`, true},
		{`^(a|aa)+$`, false}, // alternation ambiguity is not detected (documented limit)
		{`^([a-z]+\.)+[a-z]+$`, false},
		{`^se(-[a-z0-9]+)+$`, false},
		{`^[^\s\x00]( *[^\s\x00])*$`, false},
		{`^[a-z]+$`, false},
		{`^(ab){2,5}$`, false},
		{`^((a+)b)+$`, false}, // delimited by b
		{`(?<=x)(a+)+`, true}, // Go can't parse look-behind: textual fallback
		{`(?<=x)[a-z]+`, false},
	}
	for _, tc := range tests {
		if got, _ := nestedQuantifier(tc.pattern); got != tc.want {
			t.Errorf("nestedQuantifier(%q) = %v, want %v", tc.pattern, got, tc.want)
		}
	}
}

func TestBoundedPatternAndRedact(t *testing.T) {
	for p, want := range map[string]bool{`^[A-Z]{3}-[0-9]{4}$`: true, `^[A-Z]+$`: false, `[A-Z]{3}`: false, `^(a{1,})$`: false, `^(`: false} {
		if got := boundedPattern(p); got != want {
			t.Errorf("boundedPattern(%q) = %v", p, got)
		}
	}
	if got := redactURL("https://u:p@h/x"); got != "https://****@h/x" {
		t.Errorf("redactURL = %q", got)
	}
	if got := redact("abcdefgh"); strings.Contains(got, "efgh") {
		t.Errorf("redact = %q", got)
	}
}

func TestHostOfAndPublicHost(t *testing.T) {
	tests := []struct {
		url, host string
		public    bool
	}{
		{"http://appintegrations.{region}.amazonaws.com", "appintegrations.{region}.amazonaws.com", true},
		{"https://{host}:{port}/v1", "{host}:{port}", true},
		{"http://user:pw@api.shop.io:8080/x?y", "api.shop.io:8080", true},
		{"http://localhost:5000", "localhost:5000", false},
		{"http://127.0.0.1", "127.0.0.1", false},
		{"http://10.1.2.3/api", "10.1.2.3", false},
		{"http://[::1]:80", "[::1]:80", false},
		{"http://svc.internal", "svc.internal", false},
		{"/v1", "", false},
		{"{scheme}://api.shop.io", "api.shop.io", true},
	}
	for _, tc := range tests {
		h := hostOf(tc.url)
		if h != tc.host || publicHost(h) != tc.public {
			t.Errorf("hostOf(%q) = %q (public %v), want %q (public %v)", tc.url, h, publicHost(h), tc.host, tc.public)
		}
	}
}
