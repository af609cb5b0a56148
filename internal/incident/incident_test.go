package incident

import (
	"math/rand"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/model"
)

var base = time.Date(2026, 11, 16, 9, 0, 0, 0, time.UTC)

type al struct {
	id, typ, ip, idn, sev, status string
	start, dur                    int // minutes after base
}

func mk(x al) model.Alert {
	a := model.Alert{ID: x.id, Type: x.typ, Severity: x.sev, Status: x.status, Count: 1,
		FirstSeen: base.Add(time.Duration(x.start) * time.Minute), LastSeen: base.Add(time.Duration(x.start+x.dur) * time.Minute)}
	if a.Severity == "" {
		a.Severity = model.SevMedium
	}
	if x.ip != "" {
		a.Client = &model.ClientRef{IP: x.ip}
		a.Subject = "client"
	}
	if x.idn != "" {
		a.Identity = &model.IdentityRef{ID: x.idn, Name: strings.TrimPrefix(x.idn, "id_") + "@example.test"}
		if x.ip == "" {
			a.Subject = "identity"
		}
	}
	if x.ip == "" && x.idn == "" {
		a.Subject = "endpoint"
	}
	return a
}

func TestPhaseOf(t *testing.T) {
	for typ, want := range map[string]string{
		"recon.endpoint_spray":        PhaseRecon,
		"intel.suspicious_user_agent": PhaseRecon,
		"injection.sqli":              PhaseExploitation,
		"auth.brute_force":            PhaseExploitation,
		"bfla.privileged_access":      PhaseExploitation,
		"bola.param_enumeration":      PhaseExfiltration,
		"payload.large_response":      PhaseExfiltration,
		"traffic.client_spike":        PhaseImpact,
		"no.such_type":                PhaseExploitation,
	} {
		a := model.Alert{Type: typ}
		if got := PhaseOf(&a); got != want {
			t.Errorf("PhaseOf(%s) = %s, want %s", typ, got, want)
		}
	}
	// The alert's own mapping wins over the catalogue.
	a := model.Alert{Type: "injection.sqli", MITRE: []model.MITRE{{Tactic: "Exfiltration"}}}
	if got := PhaseOf(&a); got != PhaseExfiltration {
		t.Errorf("own MITRE tactic ignored: %s", got)
	}
	// Without MITRE, OWASP decides.
	a = model.Alert{Type: "custom.x", OWASP: []string{"API9:2023"}}
	if got := PhaseOf(&a); got != PhaseRecon {
		t.Errorf("OWASP fallback: %s", got)
	}
}

func TestGroup(t *testing.T) {
	tests := []struct {
		name   string
		alerts []al
		want   [][]string // alert ids per incident, in output order
		chain  []bool     // KillChain per incident
	}{
		{"empty", nil, nil, nil},
		{"endpoint alerts take no part", []al{{id: "a", typ: "traffic.endpoint_spike"}}, nil, nil},
		{"one subject, kill-chain order", []al{
			{id: "a1", typ: "recon.endpoint_spray", ip: "203.0.113.9", start: 0, dur: 10},
			{id: "a2", typ: "injection.sqli", ip: "203.0.113.9", start: 20, dur: 5, sev: model.SevHigh},
			{id: "a3", typ: "bola.param_enumeration", ip: "203.0.113.9", start: 40, dur: 30, sev: model.SevHigh},
		}, [][]string{{"a1", "a2", "a3"}}, []bool{true}},
		{"phases out of order are grouped but not a kill chain", []al{
			{id: "b1", typ: "bola.param_enumeration", ip: "198.51.100.1", start: 0, dur: 10},
			{id: "b2", typ: "recon.endpoint_spray", ip: "198.51.100.1", start: 30, dur: 10},
		}, [][]string{{"b1", "b2"}}, []bool{false}},
		{"gap over an hour splits", []al{
			{id: "c1", typ: "injection.sqli", ip: "192.0.2.1", start: 0, dur: 10},
			{id: "c2", typ: "injection.xss", ip: "192.0.2.1", start: 71, dur: 10},
		}, [][]string{{"c2"}, {"c1"}}, []bool{false, false}},
		{"exactly the gap joins", []al{
			{id: "d1", typ: "injection.sqli", ip: "192.0.2.1", start: 0, dur: 10},
			{id: "d2", typ: "injection.xss", ip: "192.0.2.1", start: 70, dur: 10},
		}, [][]string{{"d1", "d2"}}, []bool{false}},
		{"different subjects stay apart", []al{
			{id: "e1", typ: "injection.sqli", ip: "192.0.2.1", start: 0, dur: 10},
			{id: "e2", typ: "injection.sqli", ip: "192.0.2.2", start: 5, dur: 10},
		}, [][]string{{"e2"}, {"e1"}}, []bool{false, false}},
		{"an identity links two addresses", []al{
			{id: "f1", typ: "recon.endpoint_spray", ip: "192.0.2.1", start: 0, dur: 10},
			{id: "f3", typ: "auth.token_reuse", idn: "id_mallory", start: 30, dur: 10},
			{id: "f2", typ: "bola.param_enumeration", ip: "192.0.2.2", idn: "id_mallory", start: 35, dur: 10},
			{id: "f4", typ: "injection.sqli", ip: "192.0.2.1", idn: "id_mallory", start: 38, dur: 1},
		}, [][]string{{"f1", "f3", "f2", "f4"}}, []bool{true}},
		{"severity orders the incidents", []al{
			{id: "g1", typ: "injection.sqli", ip: "192.0.2.1", start: 0, sev: model.SevLow},
			{id: "g2", typ: "injection.sqli", ip: "192.0.2.2", start: 0, sev: model.SevCritical},
		}, [][]string{{"g2"}, {"g1"}}, []bool{false, false}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var alerts []model.Alert
			for _, x := range tc.alerts {
				alerts = append(alerts, mk(x))
			}
			got := Group(alerts, Config{})
			var ids [][]string
			var chain []bool
			for _, inc := range got {
				ids = append(ids, inc.AlertIDs)
				chain = append(chain, inc.KillChain)
			}
			if !reflect.DeepEqual(ids, tc.want) {
				t.Fatalf("groups %v, want %v", ids, tc.want)
			}
			if !reflect.DeepEqual(chain, tc.chain) {
				t.Errorf("kill chain %v, want %v", chain, tc.chain)
			}
			// Deterministic: any input order gives the same incidents.
			r := rand.New(rand.NewSource(1))
			for range 5 {
				shuffled := append([]model.Alert(nil), alerts...)
				r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
				if again := Group(shuffled, Config{}); !reflect.DeepEqual(again, got) {
					t.Fatalf("input order changed the result")
				}
			}
		})
	}
}

func TestIncidentFields(t *testing.T) {
	alerts := []model.Alert{
		mk(al{id: "a1", typ: "recon.endpoint_spray", ip: "203.0.113.9", start: 0, dur: 10, status: "resolved"}),
		mk(al{id: "a2", typ: "bola.param_enumeration", ip: "203.0.113.9", idn: "id_mallory", start: 20, dur: 10, sev: model.SevCritical, status: "acknowledged"}),
		mk(al{id: "a3", typ: "bola.param_enumeration", idn: "id_mallory", start: 25, dur: 40, sev: model.SevHigh, status: "acknowledged"}),
	}
	alerts[1].Endpoint = &model.EndpointRef{Host: "api.example.test", Method: "GET", Path: "/v1/users/{id}"}
	alerts[1].OWASP = []string{"API1:2023"}
	got := Group(alerts, Config{})
	if len(got) != 1 {
		t.Fatalf("%d incidents, want 1", len(got))
	}
	inc := got[0]
	if !strings.HasPrefix(inc.ID, "inc_") || inc.Severity != model.SevCritical || inc.Status != "acknowledged" {
		t.Errorf("id %s severity %s status %s", inc.ID, inc.Severity, inc.Status)
	}
	if inc.Subject.Kind != "identity" || inc.Subject.ID != "id_mallory" || inc.Subject.Name != "mallory@example.test" {
		t.Errorf("subject %+v, want the identity two alerts share", inc.Subject)
	}
	if !reflect.DeepEqual(inc.Clients, []string{"203.0.113.9"}) || len(inc.Identities) != 1 {
		t.Errorf("clients %v identities %v", inc.Clients, inc.Identities)
	}
	if !inc.FirstSeen.Equal(base) || !inc.LastSeen.Equal(base.Add(65*time.Minute)) || inc.Events != 3 {
		t.Errorf("times %v–%v events %d", inc.FirstSeen, inc.LastSeen, inc.Events)
	}
	if len(inc.Stages) != 2 || inc.Stages[0].Phase != PhaseRecon || inc.Stages[1].Phase != PhaseExfiltration || inc.Stages[1].Alerts != 2 {
		t.Errorf("stages %+v", inc.Stages)
	}
	if !inc.KillChain || inc.Statuses["resolved"] != 1 || inc.Statuses["acknowledged"] != 2 {
		t.Errorf("kill chain %v statuses %v", inc.KillChain, inc.Statuses)
	}
	if !strings.Contains(inc.Title, "mallory@example.test") || !strings.Contains(inc.Title, "reconnaissance → exfiltration") {
		t.Errorf("title %q", inc.Title)
	}
	// The id follows the earliest alert, not the input.
	again := Group(alerts[1:], Config{})
	if again[0].ID == inc.ID {
		t.Errorf("without its first alert the incident kept the same id")
	}
}

// FuzzGroup: for any alerts, every alert naming a subject is in exactly one
// incident, no other alert is, incident ids are unique, stages follow the
// kill-chain order, and reversing the input changes nothing.
func FuzzGroup(f *testing.F) {
	f.Add([]byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 200, 13})
	f.Add([]byte{5, 5, 5, 5, 250, 250, 1, 2})
	types := []string{"recon.endpoint_spray", "injection.sqli", "bola.param_enumeration", "traffic.client_spike", "auth.token_reuse", "data.sensitive_exposure"}
	f.Fuzz(func(t *testing.T, b []byte) {
		var alerts []model.Alert
		for i := 0; i+2 < len(b) && len(alerts) < 60; i += 3 {
			x := al{id: "a" + strconv.Itoa(i), typ: types[int(b[i])%len(types)], start: int(b[i+1]) * 3, dur: int(b[i+2] % 50)}
			if b[i]&0x10 == 0 {
				x.ip = "192.0.2." + strconv.Itoa(int(b[i+2]%4))
			}
			if b[i]&0x20 == 0 {
				x.idn = "id_" + strconv.Itoa(int(b[i+1]%3))
			}
			alerts = append(alerts, mk(x))
		}
		got := Group(alerts, Config{})
		seen := map[string]int{}
		ids := map[string]bool{}
		for _, inc := range got {
			if ids[inc.ID] {
				t.Fatalf("duplicate incident id %s", inc.ID)
			}
			ids[inc.ID] = true
			for _, id := range inc.AlertIDs {
				seen[id]++
			}
			for i := 1; i < len(inc.Stages); i++ {
				if phaseRank(inc.Stages[i].Phase) <= phaseRank(inc.Stages[i-1].Phase) {
					t.Fatalf("stages out of order: %+v", inc.Stages)
				}
			}
		}
		for _, a := range alerts {
			want := 0
			if a.Client != nil || a.Identity != nil {
				want = 1
			}
			if seen[a.ID] != want {
				t.Fatalf("alert %s in %d incidents, want %d", a.ID, seen[a.ID], want)
			}
		}
		rev := make([]model.Alert, len(alerts))
		for i := range alerts {
			rev[len(alerts)-1-i] = alerts[i]
		}
		if again := Group(rev, Config{}); !reflect.DeepEqual(again, got) {
			t.Fatal("reversed input gives other incidents")
		}
	})
}
