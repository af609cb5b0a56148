package storetest

// The investigation part of the store (dash): subject summaries, finding
// triage, probes and API changes, alert filters by subject.

import (
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/store"
	"github.com/palisade-sec/palisade/internal/store/sqlstore"
)

func subj(kind, id string, at time.Time, n int64, peers ...string) model.SubjectActivity {
	a := model.SubjectActivity{Kind: kind, ID: id, FirstSeen: at, LastSeen: at.Add(time.Minute),
		Hours:     []model.HourCount{{Hour: store.HourBucket(at), Requests: n}},
		Endpoints: []model.SubjectEndpoint{{EndpointRef: model.EndpointRef{Host: "h0.example", Method: "GET", Path: "/v1/items/0"}, Requests: n, FirstSeen: at, LastSeen: at}}}
	for _, p := range peers {
		if kind == "identity" {
			a.Addresses = append(a.Addresses, model.SubjectPeer{ID: p, Requests: 1, LastSeen: at})
		} else {
			a.Identities = append(a.Identities, model.SubjectPeer{ID: p, Name: "mallory", Requests: 1, LastSeen: at})
		}
	}
	return a
}

func testSubjectsMergeListErase(t *testing.T, fresh Fresh) {
	db := Open(t, fresh)
	rep := &model.Report{Endpoints: []model.Endpoint{Endpoint(0, 10, 5, "email", "card")}, Findings: []model.Finding{Finding("PAL-S001", nil)}}
	snap := store.Snapshot{Report: rep, EventClock: t0, Subjects: []model.SubjectActivity{
		subj("client", "203.0.113.9", t0, 10, "id_mallory"), subj("identity", "id_mallory", t0, 10, "203.0.113.9", "198.51.100.7"),
		subj("client", "198.51.100.7", t0.Add(-time.Hour), 3, "id_mallory"),
	}}
	if err := db.SaveSnapshot(ctx, snap, t0); err != nil {
		t.Fatal(err)
	}
	// A second, smaller summary of the same subject (a restart rebuilt it
	// from the retained log) does not lower the stored counts.
	snap.Subjects = []model.SubjectActivity{subj("client", "203.0.113.9", t0, 4)}
	if err := db.SaveSnapshot(ctx, snap, t0); err != nil {
		t.Fatal(err)
	}
	d, err := db.Subject(ctx, "client", "203.0.113.9")
	if err != nil {
		t.Fatal(err)
	}
	if d.Requests != 10 || len(d.Identities) != 1 || d.Identities[0].ID != "id_mallory" {
		t.Errorf("subject %+v", d)
	}
	if len(d.EndpointData) != 2 || d.EndpointData[0].Type != "card" || d.EndpointData[1].Endpoints[0] != "GET h0.example/v1/items/0" {
		t.Errorf("endpoint data classes %+v", d.EndpointData)
	}
	if _, err := db.Subject(ctx, "client", "192.0.2.1"); err != store.ErrNotFound {
		t.Errorf("missing subject: %v", err)
	}
	// List: newest first, filter by kind and by substring, keyset pages.
	page, err := db.ListSubjects(ctx, store.SubjectFilter{Limit: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Items) != 2 || page.NextCursor == "" || page.Items[0].LastSeen.Before(page.Items[1].LastSeen) {
		t.Fatalf("page 1 %+v", page)
	}
	p2, err := db.ListSubjects(ctx, store.SubjectFilter{Limit: 2, Cursor: page.NextCursor})
	if err != nil || len(p2.Items) != 1 || p2.Items[0].ID != "198.51.100.7" {
		t.Fatalf("page 2 %+v %v", p2, err)
	}
	if q, _ := db.ListSubjects(ctx, store.SubjectFilter{Q: "MALL"}); len(q.Items) != 1 || q.Items[0].Kind != "identity" {
		t.Errorf("search: %+v", q.Items)
	}
	if _, err := db.ListSubjects(ctx, store.SubjectFilter{Kind: "bogus"}); err == nil {
		t.Error("unknown kind accepted")
	}
	// The endpoint's callers, most requests to it first.
	callers, err := db.EndpointSubjects(ctx, "GET h0.example/v1/items/0", 10)
	if err != nil || len(callers) != 3 || callers[0].Requests != 10 || callers[2].ID != "198.51.100.7" {
		t.Fatalf("endpoint subjects %+v %v", callers, err)
	}
	// An analyst named the address in a finding's triage reason.
	if _, err := db.TriageFinding(ctx, "fd_PAL-S001", "mark_fixed", "tk_a", "blocked 203.0.113.9 at the WAF", time.Time{}, t0); err != nil {
		t.Fatal(err)
	}
	// Erasing an address deletes its summary and removes it from the
	// identity's addresses (its requests stay counted as "other").
	res, err := db.EraseClientIP(ctx, "203.0.113.9", "ip:x", t0)
	if err != nil {
		t.Fatal(err)
	}
	if res.SubjectsErased != 2 {
		t.Errorf("subjects erased %d, want 2", res.SubjectsErased)
	}
	if _, err := db.Subject(ctx, "client", "203.0.113.9"); err != store.ErrNotFound {
		t.Errorf("erased address still stored: %v", err)
	}
	if rows := containing(Dump(t, db), "blocked [erased] at the WAF"); len(rows) != 2 {
		t.Errorf("finding triage reason and history not redacted: %v", rows)
	}
	idn, err := db.Subject(ctx, "identity", "id_mallory")
	if err != nil {
		t.Fatal(err)
	}
	if len(idn.Addresses) != 1 || idn.Addresses[0].ID != "198.51.100.7" || idn.AddressesOther != 1 {
		t.Errorf("identity addresses after erasure %+v other %d", idn.Addresses, idn.AddressesOther)
	}
	if rows := containing(Dump(t, db), "203.0.113.9"); len(rows) != 0 {
		t.Errorf("rows still name the erased address:\n%s", strings.Join(rows, "\n"))
	}
	// Erasing the identity removes it from the addresses' identities.
	if _, err := db.EraseIdentity(ctx, "id_mallory", "id:tomb", t0); err != nil {
		t.Fatal(err)
	}
	if rows := containing(Dump(t, db), "id_mallory"); len(rows) != 0 {
		t.Errorf("rows still name the erased identity:\n%s", strings.Join(rows, "\n"))
	}
}

func testSubjectRetention(t *testing.T, fresh Fresh) {
	db := Open(t, fresh)
	old := t0.Add(-40 * 24 * time.Hour)
	snap := store.Snapshot{EventClock: t0, Subjects: []model.SubjectActivity{
		subj("client", "192.0.2.1", old, 1), subj("client", "192.0.2.2", t0, 1),
		subj("identity", "id_a", t0, 2, "192.0.2.2"),
	}}
	// The identity used an old address too.
	snap.Subjects[2].Addresses = append(snap.Subjects[2].Addresses, model.SubjectPeer{ID: "192.0.2.1", Requests: 1, LastSeen: old})
	if err := db.SaveSnapshot(ctx, snap, t0); err != nil {
		t.Fatal(err)
	}
	r, err := db.ApplyRetention(ctx, store.RetentionPolicy{ClientIPs: 30 * 24 * time.Hour}, t0, t0, func(s string) string { return "ps" })
	if err != nil {
		t.Fatal(err)
	}
	if r.SubjectsDeleted != 1 {
		t.Errorf("subjects deleted %d, want 1", r.SubjectsDeleted)
	}
	if rows := containing(Dump(t, db), "192.0.2.1"); len(rows) != 0 {
		t.Errorf("the expired address is still stored:\n%s", strings.Join(rows, "\n"))
	}
	d, err := db.Subject(ctx, "identity", "id_a")
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Addresses) != 1 || d.Addresses[0].ID != "192.0.2.2" || d.AddressesOther != 1 {
		t.Errorf("old address kept in the identity: %+v", d.Addresses)
	}
}

func Finding(rule string, ep *model.EndpointRef) model.Finding {
	id := "fd_" + rule
	if ep != nil {
		id += "_" + strings.ReplaceAll(ep.Path, "/", "_")
	}
	return model.Finding{ID: id, Rule: rule, Title: rule + " title", Severity: model.SevHigh, Endpoint: ep, Source: "traffic"}
}

func testFindingTriage(t *testing.T, fresh Fresh) {
	db := Open(t, fresh)
	e0, e1 := Endpoint(0, 10, 5), Endpoint(1, 10, 5)
	r0, r1 := e0.Ref(), e1.Ref()
	f1, f2, f3 := Finding("PAL-T001", &r0), Finding("PAL-T001", &r1), Finding("PAL-S001", nil)
	save := func(clock time.Time, eps []model.Endpoint, fs ...model.Finding) {
		t.Helper()
		if err := db.SaveSnapshot(ctx, store.Snapshot{EventClock: clock, Report: &model.Report{Endpoints: eps, Findings: fs}}, clock); err != nil {
			t.Fatal(err)
		}
	}
	save(t0, []model.Endpoint{e0, e1}, f1, f2, f3)
	// accept_risk needs a reason and a future expiry.
	if _, err := db.TriageFinding(ctx, f1.ID, "accept_risk", "tk_a", "", t0.Add(time.Hour), t0); err == nil {
		t.Error("accept_risk without a reason")
	}
	if _, err := db.TriageFinding(ctx, f1.ID, "accept_risk", "tk_a", "compensating WAF rule", t0.Add(-time.Hour), t0); err == nil {
		t.Error("accept_risk with a past expiry")
	}
	sf, err := db.TriageFinding(ctx, f1.ID, "accept_risk", "tk_a", "compensating WAF rule", t0.Add(24*time.Hour), t0)
	if err != nil || sf.Status != store.FindingAccepted || sf.Triage == nil || sf.Triage.ExpiresAt == nil {
		t.Fatalf("accept: %+v %v", sf, err)
	}
	if _, err := db.TriageFinding(ctx, "fd_nope", "mark_fixed", "tk_a", "", time.Time{}, t0); err != store.ErrNotFound {
		t.Errorf("unknown finding: %v", err)
	}
	if _, err := db.TriageFinding(ctx, f2.ID, "mark_fixed", "tk_a", "auth added in 2.4", time.Time{}, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := db.TriageFinding(ctx, f3.ID, "mark_fixed", "tk_a", "spec fixed", time.Time{}, t0); err != nil {
		t.Fatal(err)
	}
	// Lists carry the status; the groups count it.
	page, err := db.ListFindings(ctx, store.FindingFilter{Status: store.FindingFixed})
	if err != nil || len(page.Items) != 2 {
		t.Fatalf("fixed findings %+v %v", page.Items, err)
	}
	groups, err := db.FindingGroups(ctx, "rule")
	if err != nil || len(groups) != 2 || groups[0].Key != "PAL-T001" || groups[0].Count != 2 || groups[0].Statuses["accepted"] != 1 || groups[0].Title != "PAL-T001 title" {
		t.Fatalf("groups %+v %v", groups, err)
	}
	if g, err := db.FindingGroups(ctx, "endpoint"); err != nil || len(g) != 3 {
		t.Fatalf("groups by endpoint %+v %v", g, err)
	}
	if _, err := db.FindingGroups(ctx, "host"); err == nil {
		t.Error("unknown grouping accepted")
	}
	// A snapshot without new traffic changes nothing.
	save(t0, []model.Endpoint{e0, e1}, f1, f2, f3)
	if sf, _, _ := db.Finding(ctx, f2.ID); sf.Status != store.FindingFixed {
		t.Errorf("fixed finding changed without new traffic: %s", sf.Status)
	}
	// Later traffic on e1 still produces f2: reopened with history. f3 (no
	// endpoint) is no longer produced: verified. The acceptance of f1
	// expires (wall clock past its expiry).
	later := t0.Add(48 * time.Hour)
	e1.LastSeen = &later
	save(later, []model.Endpoint{e0, e1}, f1, f2)
	sf, hist, err := db.Finding(ctx, f2.ID)
	if err != nil || sf.Status != store.FindingOpen || len(hist) != 2 || hist[1].Actor != "system" || hist[1].Action != "reopen" {
		t.Errorf("f2 after later traffic: %+v %+v %v", sf, hist, err)
	}
	sf, hist, err = db.Finding(ctx, f3.ID)
	if err != nil || sf.Status != store.FindingVerified || hist[len(hist)-1].To != store.FindingVerified {
		t.Errorf("f3 not verified: %+v %+v %v", sf, hist, err)
	}
	if v, err := db.ListFindings(ctx, store.FindingFilter{Status: store.FindingVerified}); err != nil || len(v.Items) != 1 || v.Items[0].ID != f3.ID {
		t.Errorf("verified list %+v %v", v.Items, err)
	}
	sf, hist, _ = db.Finding(ctx, f1.ID)
	if sf.Status != store.FindingOpen || hist[len(hist)-1].Action != "expire" {
		t.Errorf("expired acceptance: %+v %+v", sf, hist)
	}
	// A verified finding produced again reopens.
	save(later.Add(time.Hour), []model.Endpoint{e0, e1}, f1, f2, f3)
	if sf, _, _ := db.Finding(ctx, f3.ID); sf.Status != store.FindingOpen {
		t.Errorf("verified finding produced again is %s", sf.Status)
	}
	if _, err := db.ListFindings(ctx, store.FindingFilter{Status: "bogus"}); err == nil {
		t.Error("unknown status accepted")
	}
}

func testProbesAndAPIChanges(t *testing.T, fresh Fresh) {
	db := Open(t, fresh)
	rep := &model.Report{
		Probes: []model.Probe{{Host: "api.example", Method: "GET", Path: "/admin", Requests: 9, Reason: "denied"},
			{Host: "api.example", Method: "GET", Path: "/.env", Requests: 2, Reason: "not_found"},
			{Host: "169.254.169.254", Method: "GET", Path: "/latest/meta-data", Requests: 1, Reason: "metadata"}},
		APIChange: []model.APIChange{{Time: t0, Endpoint: model.EndpointRef{Host: "api.example", Method: "GET", Path: "/v1/x"}, Kind: "parameter_added", Detail: "q"},
			{Time: t0.Add(time.Hour), Endpoint: model.EndpointRef{Host: "api.example", Method: "GET", Path: "/v1/y"}, Kind: "parameter_added", Detail: "p"}},
	}
	if err := db.SaveSnapshot(ctx, store.Snapshot{Report: rep, EventClock: t0}, t0); err != nil {
		t.Fatal(err)
	}
	p, err := db.ListProbes(ctx, store.ProbeFilter{Limit: 2})
	if err != nil || len(p.Items) != 2 || p.Items[0].Path != "/admin" || p.NextCursor == "" {
		t.Fatalf("probes %+v %v", p, err)
	}
	p2, err := db.ListProbes(ctx, store.ProbeFilter{Limit: 2, Cursor: p.NextCursor})
	if err != nil || len(p2.Items) != 1 || p2.Items[0].Reason != "metadata" {
		t.Fatalf("probes page 2 %+v %v", p2, err)
	}
	if f, _ := db.ListProbes(ctx, store.ProbeFilter{Reason: "not_found"}); len(f.Items) != 1 {
		t.Errorf("reason filter %+v", f.Items)
	}
	if f, _ := db.ListProbes(ctx, store.ProbeFilter{Q: "META"}); len(f.Items) != 1 {
		t.Errorf("search %+v", f.Items)
	}
	c, err := db.ListAPIChanges(ctx, 1, "")
	if err != nil || len(c.Items) != 1 || c.Items[0].Endpoint.Path != "/v1/y" {
		t.Fatalf("changes %+v %v", c, err)
	}
	c2, err := db.ListAPIChanges(ctx, 1, c.NextCursor)
	if err != nil || len(c2.Items) != 1 || c2.Items[0].Endpoint.Path != "/v1/x" || c2.NextCursor != "" {
		t.Fatalf("changes page 2 %+v %v", c2, err)
	}
	// The next snapshot replaces them.
	if err := db.SaveSnapshot(ctx, store.Snapshot{Report: &model.Report{}, EventClock: t0}, t0); err != nil {
		t.Fatal(err)
	}
	if p, _ := db.ListProbes(ctx, store.ProbeFilter{}); len(p.Items) != 0 {
		t.Errorf("probes not replaced: %d", len(p.Items))
	}
}

func testAlertFilterBySubject(t *testing.T, fresh Fresh) {
	db := Open(t, fresh)
	a1 := Alert(1, "injection.sqli", "high", "203.0.113.9", t0)
	a2 := Alert(2, "auth.token_reuse", "high", "192.0.2.1", t0)
	a2.Identity = &model.IdentityRef{ID: "id_m", Kind: "jwt"}
	a2.Clients = []model.ClientCount{{IP: "192.0.2.1", Count: 3}, {IP: "203.0.113.9", Count: 1}}
	if _, err := db.UpsertAlerts(ctx, []model.Alert{a1, a2}, t0); err != nil {
		t.Fatal(err)
	}
	if p, _ := db.ListAlerts(ctx, store.AlertFilter{Address: "203.0.113.9"}); len(p.Items) != 2 {
		t.Errorf("address filter found %d alerts, want 2 (subject and clients[])", len(p.Items))
	}
	if p, _ := db.ListAlerts(ctx, store.AlertFilter{IdentityID: "id_m"}); len(p.Items) != 1 || p.Items[0].ID != a2.ID {
		t.Errorf("identity filter %+v", p.Items)
	}
}

// StoreSubjectsNaming stores the investigation rows that name ip: its
// client summary, an identity that used it and kept, and a finding whose
// triage reason names it — for the tests that read the database files
// after an erasure.
func StoreSubjectsNaming(t testing.TB, db *sqlstore.DB, ip, kept string) {
	t.Helper()
	snap := store.Snapshot{EventClock: t0, Report: &model.Report{Findings: []model.Finding{Finding("PAL-S001", nil)}},
		Subjects: []model.SubjectActivity{subj("client", ip, t0, 5, "id_z"), subj("client", kept, t0, 5, "id_z"), subj("identity", "id_z", t0, 10, ip, kept)}}
	must(t, db.SaveSnapshot(ctx, snap, t0))
	_, err := db.TriageFinding(ctx, "fd_PAL-S001", "mark_fixed", "tk", "blocked "+ip+" at the edge", time.Time{}, t0)
	must(t, err)
}
