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
