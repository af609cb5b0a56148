package gateway

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/posture/specaudit"
	"github.com/palisade-sec/palisade/internal/testutil"
)

// TestSARIF writes the gateway findings of every positive fixture through
// the OpenAPI audit's SARIF writer and validates the log against the OASIS
// SARIF 2.1.0 schema: each result has file, line and column, each rule its
// documentation in docs/gateway-audit.md.
func TestSARIF(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "rules", "*", "*.pos.*"))
	g, err := AuditFiles(files, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Errors) > 0 {
		t.Fatal(g.Errors)
	}
	res := &specaudit.Result{Rules: g.Rules, Findings: g.Findings, Specs: g.Summaries}
	var b bytes.Buffer
	if err := specaudit.WriteSARIF(&b, res); err != nil {
		t.Fatal(err)
	}
	testutil.ValidateSARIF(t, b.Bytes())
	var log struct {
		Runs []struct {
			Tool struct {
				Driver struct {
					Rules []struct {
						ID      string `json:"id"`
						HelpURI string `json:"helpUri"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				Locations []struct {
					Physical struct {
						Region struct {
							StartLine   int `json:"startLine"`
							StartColumn int `json:"startColumn"`
						} `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(b.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	run := log.Runs[0]
	for _, r := range run.Tool.Driver.Rules {
		if !strings.Contains(r.HelpURI, "gateway-audit.md#pal-g") {
			t.Errorf("%s help %s", r.ID, r.HelpURI)
		}
	}
	if len(run.Results) < 70 {
		t.Errorf("%d results", len(run.Results))
	}
	for _, r := range run.Results {
		if len(r.Locations) != 1 || r.Locations[0].Physical.Region.StartLine < 1 || r.Locations[0].Physical.Region.StartColumn < 1 {
			t.Errorf("%s: result not located: %+v", r.RuleID, r.Locations)
		}
	}
}

// TestRulesDocumented: every rule has its section in docs/gateway-audit.md
// with its title, severity and OWASP mapping.
func TestRulesDocumented(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "docs", "gateway-audit.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for _, r := range catalogue {
		sec := "### " + r.ID + "\n\n**" + r.Title + "** (`" + r.Name + "`) — severity **" + r.Severity + "** — " + strings.Join(r.OWASP, "; ")
		if !strings.Contains(doc, sec) {
			t.Errorf("%s: section missing or out of date in docs/gateway-audit.md", r.ID)
		}
		if !strings.Contains(doc, r.Description) || !strings.Contains(doc, r.Remediation) {
			t.Errorf("%s: description or remediation out of date in docs/gateway-audit.md", r.ID)
		}
	}
}
