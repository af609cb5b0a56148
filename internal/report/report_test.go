package report

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/model"
)

func TestSummaryOrdersBySeverity(t *testing.T) {
	t0 := time.Date(2026, 11, 18, 9, 0, 0, 0, time.UTC)
	ep := &model.EndpointRef{Host: "a.test", Method: "GET", Path: "/x/{id}"}
	r := &model.Report{
		Input: model.Input{Records: 3},
		Alerts: []model.Alert{
			{Type: "param.unseen", Severity: model.SevLow, FirstSeen: t0, Client: &model.ClientRef{IP: "192.0.2.1"}},
			{Type: "injection.sqli", Severity: model.SevHigh, FirstSeen: t0, Client: &model.ClientRef{IP: "192.0.2.2"}, Endpoint: ep},
		},
		Findings: []model.Finding{
			{Rule: "PAL-T009", Severity: model.SevLow, Title: "headers"},
			{Rule: "PAL-T002", Severity: model.SevCritical, Title: "attack path", Endpoint: ep},
		},
	}
	var b bytes.Buffer
	if err := Summary(&b, r); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if strings.Index(out, "injection.sqli") > strings.Index(out, "param.unseen") {
		t.Errorf("alerts not most severe first:\n%s", out)
	}
	if strings.Index(out, "PAL-T002") > strings.Index(out, "PAL-T009") {
		t.Errorf("findings not most severe first:\n%s", out)
	}
	if !strings.Contains(out, "GET a.test/x/{id}") || !strings.Contains(out, "2 (1 high, 1 low)") {
		t.Errorf("summary:\n%s", out)
	}
	// The report's own order is untouched.
	if r.Alerts[0].Type != "param.unseen" {
		t.Errorf("Summary reordered the report")
	}
}

// The summary names the detectors that never became ready, those ready
// only in part, and what each learning baseline does meanwhile.
func TestSummaryReadiness(t *testing.T) {
	h := 0.5
	at := time.Date(2026, 11, 18, 9, 30, 0, 0, time.UTC)
	r := &model.Report{Readiness: []model.Readiness{
		{Analyzer: "detect", Detector: "spray", Baseline: "client windows", Scope: "population", State: model.StateLearning,
			Requires: model.Need{Windows: 50}, Have: &model.Need{Windows: 12}, Missing: &model.Need{Windows: 38}, LearningScopes: 1,
			WhileLearning: "population-free rules only"},
		{Analyzer: "detect", Detector: "traffic", Baseline: "endpoint rate", Scope: "endpoint", State: model.StateReady,
			Requires: model.Need{Windows: 12, Hours: 1}, ReadyScopes: 3, LearningScopes: 1, ReadyAt: &at, HoursToReady: &h,
			Learning: []model.ScopeReadiness{{Key: "GET a.test/x", Have: model.Need{Windows: 4}, Missing: model.Need{Windows: 8, Hours: 0.67}}}},
		{Analyzer: "detect", Detector: "traffic", Baseline: "client windows per endpoint", Scope: "endpoint", State: model.StateLearning,
			Requires: model.Need{Windows: 50}, LearningScopes: 4, WhileLearning: "newcomers are not judged"},
	}}
	var b bytes.Buffer
	if err := Summary(&b, r); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	for _, want := range []string{"detectors  0 ready, 1 partly ready, 1 learning", "never ready on this input: spray", "traffic (1 of 2 baselines)",
		"38 windows", "0.50 h", "8 windows, 0.67 h (nearest: GET a.test/x)", "spray, client windows: population-free rules only",
		"traffic, client windows per endpoint: newcomers are not judged"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "traffic, endpoint rate:") {
		t.Errorf("a ready baseline is listed under While learning:\n%s", out)
	}
}

// TestSubjectAddresses: the summary's subject names the alert's client,
// says when it is new to the principal, and counts the other addresses
// and the new ones among them.
func TestSubjectAddresses(t *testing.T) {
	alice := &model.IdentityRef{ID: "id_1", Name: "alice"}
	tests := []struct {
		a    model.Alert
		want string
	}{
		{model.Alert{}, "(endpoint)"},
		{model.Alert{Client: &model.ClientRef{IP: "192.0.2.1"}}, "192.0.2.1"},
		{model.Alert{Identity: alice, Client: &model.ClientRef{IP: "192.0.2.1"}, Clients: []model.ClientCount{{IP: "192.0.2.1", Count: 9}}}, "alice @ 192.0.2.1"},
		{model.Alert{Identity: alice, Client: &model.ClientRef{IP: "203.0.113.9"},
			Clients: []model.ClientCount{{IP: "192.0.2.1", Count: 30}, {IP: "203.0.113.9", Count: 12, New: true}, {IP: "203.0.113.10", Count: 11, New: true}}},
			"alice @ 203.0.113.9 (new) +2 addresses, 1 new"},
		{model.Alert{Identity: alice, Clients: []model.ClientCount{{IP: "192.0.2.1", Count: 30}}, ClientsOther: 40, ClientsOtherNew: 40},
			"alice (1+ addresses, new ones unlisted)"},
		{model.Alert{Client: &model.ClientRef{IP: "192.0.2.1"}, Clients: []model.ClientCount{{IP: "192.0.2.1", Count: 3}, {IP: "192.0.2.2", Count: 1}}}, "192.0.2.1 +1 address"},
		{model.Alert{Identity: &model.IdentityRef{ID: "id_2"}}, "id_2"},
		{model.Alert{Identity: alice, Clients: []model.ClientCount{{IP: "192.0.2.1", Count: 3}}}, "alice (1 address)"},
	}
	for _, tc := range tests {
		if got := subject(tc.a); got != tc.want {
			t.Errorf("subject = %q, want %q", got, tc.want)
		}
	}
}
