package detect

import (
	"testing"

	"github.com/palisade-sec/palisade/internal/event"
)

func TestIntelAlerts(t *testing.T) {
	tests := []struct {
		name  string
		match event.IntelMatch
		out   bool
		types []string
		conf  float64
	}{
		{"tor", event.IntelMatch{Tor: true}, false, []string{"intel.tor_exit_node"}, 0.9},
		{"ipsum 1", event.IntelMatch{Feeds: []string{"ipsum"}, Score: 1}, false, []string{"intel.suspicious_ip"}, 0.5},
		{"ipsum 6", event.IntelMatch{Feeds: []string{"ipsum"}, Score: 6}, false, []string{"intel.suspicious_ip"}, 0.9},
		{"two feeds", event.IntelMatch{Feeds: []string{"a", "b"}, Score: 1}, false, []string{"intel.suspicious_ip"}, 0.6},
		{"tor and list", event.IntelMatch{Tor: true, Feeds: []string{"fh"}}, false, []string{"intel.tor_exit_node", "intel.suspicious_ip"}, 0},
		{"none", event.IntelMatch{}, false, nil, 0},
		{"outbound", event.IntelMatch{Tor: true}, true, nil, 0},
	}
	for _, tc := range tests {
		ev := sigEvent(t, "GET", "https://api.example.test/v1/x", nil, "", 200)
		ev.Intel, ev.Outbound = tc.match, tc.out
		em := NewEmitter()
		NewIntel(Config{}).Observe(ev, em)
		as := em.Alerts()
		if len(as) != len(tc.types) {
			t.Fatalf("%s: %d alerts, want %v", tc.name, len(as), tc.types)
		}
		got := map[string]bool{}
		for _, a := range as {
			got[a.Type] = true
			if a.Client == nil || a.Client.IP != "203.0.113.9" {
				t.Errorf("%s: client %+v", tc.name, a.Client)
			}
		}
		for _, ty := range tc.types {
			if !got[ty] {
				t.Errorf("%s: missing %s", tc.name, ty)
			}
		}
		if tc.conf > 0 && as[0].Confidence != tc.conf {
			t.Errorf("%s: confidence %.2f, want %.2f", tc.name, as[0].Confidence, tc.conf)
		}
	}
}
