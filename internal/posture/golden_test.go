package posture

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/testutil"
)

// TestFindingsGolden runs a small mixed scenario and compares the findings
// document (and the risk scores) with testdata/findings.golden.json.
func TestFindingsGolden(t *testing.T) {
	tr := NewTraffic(TrafficConfig{})
	for i := 0; i < 24; i++ {
		tr.Observe(pev(pt0.Add(time.Duration(i)*300*time.Millisecond),
			respHeader("server", "Apache/2.4.41 (Ubuntu)"), respHeader("x-content-type-options", ""),
			query("access_token=Zx81kQm2Lp0Vr7Tn4Wc9")))
	}
	tr.Observe(pev(pt0.Add(time.Minute), status(500), body("Traceback (most recent call last):\n  File \"/srv/app.py\", line 12, in get\nKeyError: 'ann@example.com'")))
	ep := baseEP()
	ep.Authentication = "none"
	ep.SensitiveData = []model.SensitiveData{{Type: "email", Location: "response.body", Field: "$.owner.email", Confidence: 0.95}}
	eps := []model.Endpoint{ep}
	fs := tr.Findings(eps, pt0.Add(time.Hour), nil)
	Score(eps, nil, fs)
	got, err := json.MarshalIndent(map[string]any{"findings": fs, "risk": eps[0].Risk}, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	testutil.Golden(t, filepath.Join("testdata", "findings.golden.json"), got)
	if bytes.Contains(got, []byte("ann@example.com")) || bytes.Contains(got, []byte("Zx81kQm2")) {
		t.Error("a sensitive value leaked into the findings")
	}
}
