package cluster

import (
	"reflect"
	"testing"

	"github.com/palisade-sec/palisade/internal/model"
)

// mergedFields are the report fields Merge assembles (GeneratedAt is the
// merge's own time).
var mergedFields = []string{"GeneratedAt", "Input", "Endpoints", "Alerts", "Findings", "Probes", "APIChange", "Intel",
	"AnalysisDropped", "Hosts", "Outbound", "Readiness"}

// TestMergeCoversReport fails when model.Report gains a field Merge does
// not know: a clustered deployment would silently drop it.
func TestMergeCoversReport(t *testing.T) {
	known := map[string]bool{}
	for _, f := range mergedFields {
		known[f] = true
	}
	rt := reflect.TypeFor[model.Report]()
	for i := 0; i < rt.NumField(); i++ {
		if f := rt.Field(i); !known[f.Name] {
			t.Errorf("model.Report.%s is not merged by cluster.Merge: handle it and add it to mergedFields", f.Name)
		}
	}
}

// TestFoldAlertsClientBySubject: two parts of one alert fold as on one
// node — an alert of a client type that followed a principal gets its lead
// client from the merged addresses (the new one here), while an alert whose
// catalogue subject is the identity itself (auth.token_reuse) names no
// client, only clients[].
func TestFoldAlertsClientBySubject(t *testing.T) {
	id := &model.IdentityRef{ID: "id_1", Name: "alice"}
	part := func(typ string, cs ...model.ClientCount) model.Alert {
		return model.Alert{Type: typ, Subject: "identity", Identity: id, Count: 1, Clients: cs,
			Endpoint: &model.EndpointRef{Host: "a.test", Method: "GET", Path: "/p/{id}"}}
	}
	usual := model.ClientCount{IP: "192.0.2.1", Count: 30}
	thief := model.ClientCount{IP: "203.0.113.9", Count: 20, New: true}
	for _, tc := range []struct {
		typ, want string
	}{
		{"bola.param_enumeration", "203.0.113.9"},
		{"auth.token_reuse", ""},
	} {
		out := foldAlerts([]model.Alert{part(tc.typ, usual), part(tc.typ, thief)})
		if len(out) != 1 || len(out[0].Clients) != 2 {
			t.Fatalf("%s: folded into %d alerts: %+v", tc.typ, len(out), out)
		}
		got := ""
		if out[0].Client != nil {
			got = out[0].Client.IP
		}
		if got != tc.want {
			t.Errorf("%s: client %q, want %q", tc.typ, got, tc.want)
		}
	}
}
