package activity

import (
	"fmt"
	"net/netip"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/identity"
	"github.com/palisade-sec/palisade/internal/model"
)

var t0 = time.Date(2026, 11, 16, 9, 0, 0, 0, time.UTC)

func ev(at time.Duration, ip, id, path string, status int) *event.Event {
	e := &event.Event{Time: t0.Add(at), ClientIP: netip.MustParseAddr(ip), Status: status,
		Endpoint: model.EndpointRef{Host: "api.example.test", Method: "GET", Path: path}}
	if id != "" {
		e.Auth.Identity = &identity.Identity{ID: id, Name: id + "@example.test"}
	}
	return e
}

func TestTrackerSummaries(t *testing.T) {
	tr := New(Config{}, nil)
	tr.Observe(ev(0, "203.0.113.9", "", "/v1/health", 200))
	for i := range 30 {
		e := ev(time.Duration(i)*time.Minute+time.Hour, "203.0.113.9", "id_mallory", "/v1/users/{id}", 200+i%2*204)
		// The classification stage found an e-mail address in the answer
		// (and a masked card, which is no exposure).
		e.Classified = true
		e.Sensitive = []event.Sensitive{{Location: event.LocResponseBody, Type: "email"}, {Location: event.LocResponseBody, Type: "credit_card", Masked: true},
			{Location: event.LocRequestBody, Type: "phone"}}
		tr.Observe(e)
	}
	tr.Observe(ev(2*time.Hour, "198.51.100.7", "id_mallory", "/v1/users/{id}", 200))
	got := tr.Take(10, nil)
	if len(got) != 3 {
		t.Fatalf("%d summaries, want 3 (two addresses, one identity)", len(got))
	}
	var client, ident *model.SubjectActivity
	for i := range got {
		switch got[i].ID {
		case "203.0.113.9":
			client = &got[i]
		case "id_mallory":
			ident = &got[i]
		}
	}
	if client == nil || ident == nil {
		t.Fatalf("missing subjects: %+v", got)
	}
	if Requests(client) != 31 || len(client.Hours) != 2 || client.Hours[0].Requests != 1 || client.Hours[1].Requests != 30 {
		t.Errorf("client hours %+v", client.Hours)
	}
	if client.Status["2xx"] != 16 || client.Status["4xx"] != 15 {
		t.Errorf("client status %v", client.Status)
	}
	if len(client.Endpoints) != 2 || client.Endpoints[0].Path != "/v1/users/{id}" || client.Endpoints[0].Requests != 30 || client.Endpoints[0].Errors != 15 {
		t.Errorf("client endpoints %+v", client.Endpoints)
	}
	if len(client.Identities) != 1 || client.Identities[0].ID != "id_mallory" || client.Identities[0].Requests != 30 {
		t.Errorf("client identities %+v", client.Identities)
	}
	if !reflect.DeepEqual(client.DataClasses, []string{"email"}) {
		t.Errorf("client data classes %v", client.DataClasses)
	}
	if ident.Kind != "identity" || ident.Name != "id_mallory@example.test" || len(ident.Addresses) != 2 || ident.Addresses[0].ID != "203.0.113.9" || ident.Addresses[1].Requests != 1 {
		t.Errorf("identity %+v", ident)
	}
	if !ident.FirstSeen.Equal(t0.Add(time.Hour)) || !ident.LastSeen.Equal(t0.Add(2*time.Hour)) {
		t.Errorf("identity first/last %v %v", ident.FirstSeen, ident.LastSeen)
	}
	if again := tr.Take(10, nil); len(again) != 0 {
		t.Errorf("taken subjects returned again: %d", len(again))
	}
}

func TestTrackerBounds(t *testing.T) {
	tr := New(Config{MaxSubjects: 10, MaxHours: 3, MaxEndpoints: 2, MaxPeers: 2, MaxClasses: 1}, nil)
	for i := range 5 {
		tr.Observe(ev(time.Duration(i)*time.Hour, "192.0.2.1", fmt.Sprintf("id_%d", i), fmt.Sprintf("/p%d", i), 200))
	}
	for i := range 20 {
		tr.Observe(ev(5*time.Hour, fmt.Sprintf("198.51.100.%d", i), "", "/x", 200))
	}
	if tr.Len() != 10 {
		t.Errorf("tracker holds %d subjects, budget 10", tr.Len())
	}
	if tr.LostDirty == 0 {
		t.Error("evictions of unwritten subjects are not counted")
	}
	// Top-n by new requests, plus pinned subjects.
	tr2 := New(Config{MaxHours: 3, MaxEndpoints: 2, MaxPeers: 2}, nil)
	for i := range 5 {
		tr2.Observe(ev(time.Duration(i)*time.Hour, "192.0.2.1", fmt.Sprintf("id_%d", i), fmt.Sprintf("/p%d", i), 200))
	}
	tr2.Observe(ev(5*time.Hour, "192.0.2.99", "", "/x", 200))
	got := tr2.Take(1, func(kind, id string) bool { return id == "192.0.2.99" })
	if len(got) != 2 || got[0].ID != "192.0.2.1" || got[1].ID != "192.0.2.99" {
		t.Fatalf("take(1, pin) = %v", got)
	}
	c := got[0]
	if len(c.Hours) != 3 || c.Hours[0].Hour != t0.Add(2*time.Hour).Unix() {
		t.Errorf("hours not capped to the newest 3: %+v", c.Hours)
	}
	if len(c.Endpoints) != 2 || c.EndpointsOther != 3 || len(c.Identities) != 2 || c.IdentitiesOther != 3 {
		t.Errorf("caps: %d endpoints + %d other, %d identities + %d other", len(c.Endpoints), c.EndpointsOther, len(c.Identities), c.IdentitiesOther)
	}
	if tr2.Pending() != 5 {
		t.Errorf("pending %d, want the 5 identities not taken", tr2.Pending())
	}
}

func TestMerge(t *testing.T) {
	old := model.SubjectActivity{Kind: "client", ID: "192.0.2.1", FirstSeen: t0, LastSeen: t0.Add(time.Hour),
		Hours:      []model.HourCount{{Hour: 100, Requests: 5}, {Hour: 200, Requests: 7}},
		Endpoints:  []model.SubjectEndpoint{{EndpointRef: model.EndpointRef{Path: "/a"}, Requests: 5}},
		Identities: []model.SubjectPeer{{ID: "id_a", Requests: 3}}, DataClasses: []string{"email"}}
	cur := model.SubjectActivity{Kind: "client", ID: "192.0.2.1", FirstSeen: t0.Add(30 * time.Minute), LastSeen: t0.Add(2 * time.Hour),
		Hours:      []model.HourCount{{Hour: 200, Requests: 4}, {Hour: 300, Requests: 1}},
		Endpoints:  []model.SubjectEndpoint{{EndpointRef: model.EndpointRef{Path: "/a"}, Requests: 2}, {EndpointRef: model.EndpointRef{Path: "/b"}, Requests: 3}},
		Identities: []model.SubjectPeer{{ID: "id_b", Requests: 1}}, DataClasses: []string{"card"}}
	m := Merge(old, cur, Config{})
	if !m.FirstSeen.Equal(t0) || !m.LastSeen.Equal(t0.Add(2*time.Hour)) || Requests(&m) != 13 {
		t.Errorf("merged first %v last %v requests %d", m.FirstSeen, m.LastSeen, Requests(&m))
	}
	if len(m.Endpoints) != 2 || m.Endpoints[0].Path != "/a" || m.Endpoints[0].Requests != 5 {
		t.Errorf("endpoints %+v", m.Endpoints)
	}
	if len(m.Identities) != 2 || !reflect.DeepEqual(m.DataClasses, []string{"card", "email"}) {
		t.Errorf("identities %+v classes %v", m.Identities, m.DataClasses)
	}
	if again := Merge(m, cur, Config{}); !reflect.DeepEqual(again, m) {
		t.Errorf("merging the same summary twice changed the result")
	}
	if !DropPeer(&m, "id_a") || len(m.Identities) != 1 || m.IdentitiesOther != 3 {
		t.Errorf("DropPeer: %+v other %d", m.Identities, m.IdentitiesOther)
	}
}

// TestMemoryPerSubject measures the heap a subject takes: a typical client
// (3 endpoints over 5 hours, no identity) and one with every bound full.
// docs/dashboard.md quotes these figures.
func TestMemoryPerSubject(t *testing.T) {
	measure := func(n int, feed func(tr *Tracker, i int)) float64 {
		runtime.GC()
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		tr := New(Config{MaxSubjects: n + 1}, nil)
		for i := range n {
			feed(tr, i)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		runtime.KeepAlive(tr)
		return float64(after.HeapAlloc-before.HeapAlloc) / float64(n)
	}
	typical := measure(5000, func(tr *Tracker, i int) {
		ip := fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
		for h := range 5 {
			for e := range 3 {
				tr.Observe(ev(time.Duration(h)*time.Hour, ip, "", fmt.Sprintf("/v1/items/%d", e), 200))
			}
		}
	})
	full := measure(300, func(tr *Tracker, i int) {
		ip := fmt.Sprintf("10.0.%d.%d", i>>8&255, i&255)
		for h := range 170 {
			tr.Observe(ev(time.Duration(h)*time.Hour, ip, "", fmt.Sprintf("/v1/a-rather-long-resource-name/%d/items", h%70), 200))
		}
	})
	t.Logf("bytes per subject: typical %.0f, every bound full %.0f", typical, full)
	if typical > 2048 || full > 24<<10 {
		t.Errorf("a subject takes %.0f bytes (typical) / %.0f (full): more than documented", typical, full)
	}
}

// TestEndpointIDs: events carry the inventory's endpoint id (enrichment
// sets it), the kept references do not; repeated calls of one endpoint
// are one entry, not one entry per call until MaxEndpoints is full.
func TestEndpointIDs(t *testing.T) {
	tr := New(Config{}, nil)
	for i := range 50 {
		e := ev(time.Duration(i)*time.Second, "203.0.113.9", "", "/v1/orders/{id}", 200)
		e.Endpoint.ID = 7
		tr.Observe(e)
	}
	got := tr.Take(10, nil)
	if len(got) != 1 || len(got[0].Endpoints) != 1 || got[0].Endpoints[0].Requests != 50 || got[0].EndpointsOther != 0 {
		t.Fatalf("summary %+v", got)
	}
}
