package sqlstore

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/store"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func openTest(t testing.TB) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "p.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func endpoint(i int, risk int, reqs int64, sens ...string) model.Endpoint {
	ls := t0.Add(time.Duration(i) * time.Second)
	e := model.Endpoint{Host: fmt.Sprintf("h%d.example", i%3), Method: "GET", Path: fmt.Sprintf("/v1/items/%d", i),
		FirstSeen: &t0, LastSeen: &ls, Requests: reqs, State: "active", Exposure: "external", Authentication: "required",
		Risk: model.Risk{Score: risk}}
	if i%4 == 0 {
		e.Authentication = "none"
		e.State = "shadow"
	}
	for _, s := range sens {
		e.SensitiveData = append(e.SensitiveData, model.SensitiveData{Type: s, Location: "response.body", Field: "x", Confidence: 0.9})
	}
	return e
}

func testAlert(i int, typ, sev, ip string, last time.Time) model.Alert {
	return model.Alert{ID: fmt.Sprintf("al_%04d", i), Type: typ, Title: typ, Severity: sev, Subject: "client", OWASP: []string{"API8:2023"},
		Client: &model.ClientRef{IP: ip}, Endpoint: &model.EndpointRef{Host: "h", Method: "GET", Path: "/x"},
		FirstSeen: last.Add(-time.Minute), LastSeen: last, Count: 1,
		Evidence: model.Evidence{Samples: []model.Sample{{Time: last, Method: "GET", URL: "https://h/x", Status: 200, Client: ip}}}}
}

func TestTokens(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	h := sha256.Sum256([]byte("secret"))
	if err := db.CreateToken(ctx, store.Token{ID: "tk_1", Name: "ci", Role: "analyst", Hash: h[:], CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateToken(ctx, store.Token{ID: "tk_2", Role: "root", Hash: []byte{1}, CreatedAt: t0}); err == nil {
		t.Fatal("unknown role accepted")
	}
	tk, err := db.TokenByHash(ctx, h[:])
	if err != nil || tk.ID != "tk_1" || tk.Role != "analyst" || tk.RevokedAt != nil {
		t.Fatalf("got %+v, %v", tk, err)
	}
	if _, err := db.TokenByHash(ctx, []byte("nope")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("want ErrNotFound, got %v", err)
	}
	sh := sha256.Sum256([]byte("sess"))
	if err := db.CreateSession(ctx, store.Session{Hash: sh[:], CSRFHash: []byte{2}, TokenID: "tk_1", Role: "analyst", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SessionByHash(ctx, sh[:], t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.SessionByHash(ctx, sh[:], t0.Add(2*time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("expired session found")
	}
	if err := db.RevokeToken(ctx, "tk_1", t0); err != nil {
		t.Fatal(err)
	}
	if err := db.RevokeToken(ctx, "tk_1", t0); err == nil {
		t.Fatal("double revoke succeeded")
	}
	if _, err := db.SessionByHash(ctx, sh[:], t0.Add(time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("session of revoked token still valid")
	}
	tk, _ = db.TokenByHash(ctx, h[:])
	if tk.RevokedAt == nil {
		t.Fatal("revocation not recorded")
	}
	list, _ := db.ListTokens(ctx)
	if len(list) != 1 {
		t.Fatalf("list: %d tokens", len(list))
	}
}

func TestEndpointsFilterAndPaging(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	var eps []model.Endpoint
	for i := range 40 {
		var sens []string
		if i%5 == 0 {
			sens = []string{"email"}
		}
		eps = append(eps, endpoint(i, i%7*10, int64(100+i), sens...))
	}
	if err := db.SaveSnapshot(ctx, store.Snapshot{Report: &model.Report{Endpoints: eps}, EventClock: t0, Records: 10}, t0); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		f    store.EndpointFilter
		want int
	}{
		{"all", store.EndpointFilter{}, 40},
		{"host", store.EndpointFilter{Host: "h1.example"}, 13},
		{"state", store.EndpointFilter{State: "shadow"}, 10},
		{"auth", store.EndpointFilter{Authentication: "none"}, 10},
		{"sensitive", store.EndpointFilter{Sensitive: "email"}, 8},
		{"sensitive like-escape", store.EndpointFilter{Sensitive: "%"}, 0},
		{"q", store.EndpointFilter{Q: "ITEMS/3"}, 11},
		{"requests sort", store.EndpointFilter{Sort: "requests"}, 40},
		{"last_seen sort", store.EndpointFilter{Sort: "last_seen"}, 40},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := c.f
			f.Limit = 7
			got := collectEndpoints(t, db, f)
			if len(got) != c.want {
				t.Fatalf("got %d endpoints, want %d", len(got), c.want)
			}
			seen := map[string]bool{}
			for _, r := range got {
				if seen[r.ID] {
					t.Fatalf("duplicate %s across pages", r.ID)
				}
				seen[r.ID] = true
			}
			for i := 1; i < len(got); i++ {
				a, b := got[i-1], got[i]
				var va, vb int64
				switch f.Sort {
				case "", "risk":
					va, vb = int64(a.Risk.Score), int64(b.Risk.Score)
				case "requests":
					va, vb = a.Requests, b.Requests
				case "last_seen":
					va, vb = a.LastSeen.UnixNano(), b.LastSeen.UnixNano()
				}
				if va < vb || va == vb && a.ID > b.ID {
					t.Fatalf("order broken at %d", i)
				}
			}
		})
	}
	if _, err := db.ListEndpoints(ctx, store.EndpointFilter{Sort: "name"}); err == nil {
		t.Fatal("unknown sort accepted")
	}
	p, _ := db.ListEndpoints(ctx, store.EndpointFilter{Limit: 5})
	if _, err := db.ListEndpoints(ctx, store.EndpointFilter{Sort: "requests", Cursor: p.NextCursor}); err == nil {
		t.Fatal("cursor of another sort accepted")
	}
	if _, err := db.ListEndpoints(ctx, store.EndpointFilter{Cursor: "!!"}); err == nil {
		t.Fatal("garbage cursor accepted")
	}
}

func collectEndpoints(t *testing.T, db *DB, f store.EndpointFilter) []store.EndpointRow {
	t.Helper()
	var out []store.EndpointRow
	for range 100 {
		p, err := db.ListEndpoints(context.Background(), f)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, p.Items...)
		if p.NextCursor == "" {
			return out
		}
		f.Cursor = p.NextCursor
	}
	t.Fatal("pagination does not end")
	return nil
}

// Rows inserted while a client pages do not make it skip or repeat rows
// that were there before.
func TestCursorStability(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	var eps []model.Endpoint
	for i := range 30 {
		eps = append(eps, endpoint(i, 50, 10))
	}
	db.SaveSnapshot(ctx, store.Snapshot{Report: &model.Report{Endpoints: eps}, EventClock: t0}, t0)
	f := store.EndpointFilter{Limit: 10}
	p1, err := db.ListEndpoints(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	// New endpoints with risk above, equal and below the page boundary.
	more := []model.Endpoint{endpoint(100, 90, 1), endpoint(101, 50, 1), endpoint(102, 10, 1)}
	db.SaveSnapshot(ctx, store.Snapshot{Report: &model.Report{Endpoints: more}, EventClock: t0}, t0)
	f.Cursor = p1.NextCursor
	rest := collectEndpoints(t, db, f)
	seen := map[string]int{}
	for _, r := range append(p1.Items, rest...) {
		seen[r.ID]++
	}
	for _, e := range eps {
		if n := seen[EndpointID(e.Ref())]; n != 1 {
			t.Fatalf("endpoint %s seen %d times", e.Path, n)
		}
	}
}

func TestTrafficSeries(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	e := endpoint(1, 10, 100)
	db.SaveSnapshot(ctx, store.Snapshot{Report: &model.Report{Endpoints: []model.Endpoint{e}}, EventClock: t0}, t0)
	e.Requests = 130
	db.SaveSnapshot(ctx, store.Snapshot{Report: &model.Report{Endpoints: []model.Endpoint{e}}, EventClock: t0.Add(10 * time.Minute)}, t0)
	e.Requests = 150
	db.SaveSnapshot(ctx, store.Snapshot{Report: &model.Report{Endpoints: []model.Endpoint{e}}, EventClock: t0.Add(70 * time.Minute),
		Traffic: map[int64]int64{store.HourBucket(t0): 140, store.HourBucket(t0.Add(70 * time.Minute)): 10}}, t0)
	d, err := db.Endpoint(ctx, EndpointID(e.Ref()))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Traffic) != 2 || d.Traffic[0].Requests != 130 || d.Traffic[1].Requests != 20 || !d.Traffic[0].Time.Equal(t0) {
		t.Fatalf("traffic %+v", d.Traffic)
	}
	o, _ := db.Overview(ctx)
	if o.Endpoints != 1 || len(o.Traffic) != 2 || o.Traffic[0].Requests != 140 || !o.Traffic[1].Time.Equal(t0.Add(time.Hour)) {
		t.Fatalf("overview %+v", o)
	}
	if _, err := db.Endpoint(ctx, "ep_missing"); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("missing endpoint found")
	}
}

func TestAlertsTriageAndSuppression(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	a := testAlert(1, "injection.sqli", "high", "203.0.113.9", t0)
	r, err := db.UpsertAlerts(ctx, []model.Alert{a, testAlert(2, "recon.endpoint_spray", "medium", "198.51.100.1", t0)}, t0)
	if err != nil || len(r.Created) != 2 {
		t.Fatalf("%+v %v", r, err)
	}
	// Same state again: nothing new.
	r, _ = db.UpsertAlerts(ctx, []model.Alert{a}, t0)
	if len(r.Created)+len(r.Updated) != 0 {
		t.Fatalf("unchanged alert reported: %+v", r)
	}
	if _, err := db.Triage(ctx, a.ID, "false_positive", "tk_a", "", t0); err == nil {
		t.Fatal("false_positive without reason accepted")
	}
	if _, err := db.Triage(ctx, a.ID, "delete", "tk_a", "", t0); err == nil {
		t.Fatal("unknown action accepted")
	}
	if _, err := db.Triage(ctx, "al_none", "resolve", "tk_a", "", t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("missing alert triaged")
	}
	sa, err := db.Triage(ctx, a.ID, "false_positive", "tk_a", "scanner we run", t0)
	if err != nil || sa.Status != store.StatusFalsePositive {
		t.Fatalf("%+v %v", sa, err)
	}
	a.Count, a.LastSeen = 5, t0.Add(time.Hour)
	r, _ = db.UpsertAlerts(ctx, []model.Alert{a}, t0)
	if r.Suppressed != 1 || len(r.Created)+len(r.Updated) != 0 {
		t.Fatalf("repeat of false positive not suppressed: %+v", r)
	}
	got, hist, _ := db.Alert(ctx, a.ID)
	if got.Status != store.StatusFalsePositive || got.Count != 5 || len(hist) != 1 || hist[0].Reason != "scanner we run" {
		t.Fatalf("%+v %+v", got, hist)
	}
	// Resolved alerts reopen on new activity; acknowledged stay acknowledged.
	b := testAlert(2, "recon.endpoint_spray", "medium", "198.51.100.1", t0)
	db.Triage(ctx, b.ID, "resolve", "tk_a", "", t0)
	b.Count, b.LastSeen = 2, t0.Add(time.Minute)
	r, _ = db.UpsertAlerts(ctx, []model.Alert{b}, t0)
	got, hist, _ = db.Alert(ctx, b.ID)
	if len(r.Updated) != 1 || got.Status != store.StatusOpen || hist[len(hist)-1].Action != "reopen" {
		t.Fatalf("resolved alert not reopened: %+v %+v", got.Status, hist)
	}
	db.Triage(ctx, b.ID, "acknowledge", "tk_a", "", t0)
	b.Count = 3
	db.UpsertAlerts(ctx, []model.Alert{b}, t0)
	got, _, _ = db.Alert(ctx, b.ID)
	if got.Status != store.StatusAcknowledged {
		t.Fatalf("acknowledged alert changed to %s", got.Status)
	}
	// Filters.
	p, _ := db.ListAlerts(ctx, store.AlertFilter{Statuses: []string{"acknowledged"}})
	if len(p.Items) != 1 || p.Items[0].ID != b.ID {
		t.Fatalf("status filter: %+v", p.Items)
	}
	p, _ = db.ListAlerts(ctx, store.AlertFilter{Types: []string{"injection.sqli"}, Severities: []string{"high", "critical"}})
	if len(p.Items) != 1 {
		t.Fatalf("type filter: %d", len(p.Items))
	}
	p, _ = db.ListAlerts(ctx, store.AlertFilter{From: t0.Add(30 * time.Minute)})
	if len(p.Items) != 1 || p.Items[0].ID != a.ID {
		t.Fatalf("time filter: %+v", p.Items)
	}
	o, _ := db.Overview(ctx)
	if o.OpenAlerts != 0 {
		t.Fatalf("open alerts %d", o.OpenAlerts)
	}
}

func TestAlertPagingBySeverity(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	sevs := []string{"info", "low", "medium", "high", "critical"}
	var as []model.Alert
	for i := range 53 {
		as = append(as, testAlert(i, "injection.xss", sevs[i%5], fmt.Sprintf("192.0.2.%d", i), t0.Add(time.Duration(i%9)*time.Minute)))
	}
	if _, err := db.UpsertAlerts(ctx, as, t0); err != nil {
		t.Fatal(err)
	}
	for _, sort := range []string{"last_seen", "severity"} {
		f := store.AlertFilter{Sort: sort, Limit: 10}
		seen := map[string]bool{}
		prev := int64(1 << 62)
		for {
			p, err := db.ListAlerts(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			for _, a := range p.Items {
				if seen[a.ID] {
					t.Fatalf("%s: duplicate %s", sort, a.ID)
				}
				seen[a.ID] = true
				v := a.LastSeen.UnixNano()
				if sort == "severity" {
					v = int64(model.SeverityRank(a.Severity))
				}
				if v > prev {
					t.Fatalf("%s: order broken", sort)
				}
				prev = v
			}
			if p.NextCursor == "" {
				break
			}
			f.Cursor = p.NextCursor
		}
		if len(seen) != 53 {
			t.Fatalf("%s: %d alerts", sort, len(seen))
		}
	}
}

func TestRetention(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	old := testAlert(1, "injection.sqli", "high", "203.0.113.9", t0.Add(-40*24*time.Hour))
	old.Clients = []model.ClientCount{{IP: "203.0.113.9", Count: 2}, {IP: "203.0.113.8", Count: 1}}
	older := testAlert(2, "injection.sqli", "high", "203.0.113.10", t0.Add(-100*24*time.Hour))
	fresh := testAlert(3, "injection.sqli", "high", "203.0.113.11", t0)
	db.UpsertAlerts(ctx, []model.Alert{old, older, fresh}, t0)
	db.Audit(ctx, store.AuditEntry{At: t0.Add(-400 * 24 * time.Hour), Actor: "x", Action: "old"})
	db.Audit(ctx, store.AuditEntry{At: t0, Actor: "x", Action: "new"})
	pseudo := func(ip string) string { return "anon-" + fmt.Sprintf("%x", sha256.Sum256([]byte(ip)))[:8] }
	pol := store.RetentionPolicy{ClientIPs: 30 * 24 * time.Hour, Alerts: 90 * 24 * time.Hour, Audit: 365 * 24 * time.Hour}
	// Event clock at t0, wall clock at t0: event-time expiry.
	r, err := db.ApplyRetention(ctx, pol, t0, t0, pseudo)
	if err != nil {
		t.Fatal(err)
	}
	if r.AlertsDeleted != 1 || r.AlertsPseudonymize != 1 || r.AuditDeleted != 1 {
		t.Fatalf("%+v", r)
	}
	got, _, err := db.Alert(ctx, old.ID)
	if err != nil || strings.Contains(mustJSON(got), "203.0.113.9") || strings.Contains(mustJSON(got), "203.0.113.8") || !strings.HasPrefix(got.Client.IP, "anon-") {
		t.Fatalf("not pseudonymized: %s", mustJSON(got))
	}
	if _, _, err := db.Alert(ctx, older.ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("expired alert kept")
	}
	// Second run is idempotent.
	r, _ = db.ApplyRetention(ctx, pol, t0, t0, pseudo)
	if r != (store.RetentionResult{}) {
		t.Fatalf("second run changed %+v", r)
	}
	// Wall-time expiry: traffic stopped (event clock frozen), 91 days of wall time pass.
	r, _ = db.ApplyRetention(ctx, pol, t0, t0.Add(91*24*time.Hour), pseudo)
	if r.AlertsDeleted != 2 {
		t.Fatalf("wall-time expiry: %+v", r)
	}
}

func TestErase(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	ip := "203.0.113.9"
	a := testAlert(1, "injection.sqli", "high", ip, t0)
	ep := testAlert(2, "traffic.endpoint_spike", "medium", "", t0)
	ep.Subject, ep.Client = "endpoint", nil
	ep.Evidence.Samples = []model.Sample{{URL: "https://h/x", Client: ip}, {URL: "https://h/y", Client: "192.0.2.1"}}
	idn := testAlert(3, "auth.token_reuse", "high", "", t0)
	idn.Subject, idn.Client, idn.Identity = "identity", nil, &model.IdentityRef{ID: "id_abc", Kind: "jwt"}
	idn.Clients = []model.ClientCount{{IP: ip, Count: 3}, {IP: "192.0.2.5", Count: 1}}
	db.UpsertAlerts(ctx, []model.Alert{a, ep, idn}, t0)
	r, err := db.EraseClientIP(ctx, ip, "ip:tomb", t0)
	if err != nil || r.AlertsDeleted != 1 || r.SamplesRemoved != 1 {
		t.Fatalf("%+v %v", r, err)
	}
	// clients[] of other alerts: the address goes, its events stay counted.
	if got, _, _ := db.Alert(ctx, idn.ID); strings.Contains(mustJSON(got), ip) || len(got.Clients) != 1 || got.ClientsOther != 3 {
		t.Fatalf("IP left in %s", mustJSON(got))
	}
	got, _, _ := db.Alert(ctx, ep.ID)
	if strings.Contains(mustJSON(got), ip) || len(got.Evidence.Samples) != 1 {
		t.Fatalf("IP left in %s", mustJSON(got))
	}
	r, _ = db.EraseIdentity(ctx, "id_abc", "id:id_abc", t0)
	if r.AlertsDeleted != 1 {
		t.Fatalf("%+v", r)
	}
	ts, _ := db.Tombstoned(ctx, []string{"ip:tomb", "id:id_abc", "ip:other"})
	if !ts["ip:tomb"] || !ts["id:id_abc"] || ts["ip:other"] {
		t.Fatalf("%v", ts)
	}
}

func TestFindingsAndSpecsAndAudit(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	rep := &model.Report{Findings: []model.Finding{
		{ID: "f1", Rule: "unauthenticated", Severity: "high", Endpoint: &model.EndpointRef{Host: "h", Method: "GET", Path: "/a"}},
		{ID: "f2", Rule: "tls", Severity: "low"},
	}}
	db.SaveSnapshot(ctx, store.Snapshot{Report: rep, EventClock: t0}, t0)
	p, _ := db.ListFindings(ctx, store.FindingFilter{Limit: 1})
	if len(p.Items) != 1 || p.Items[0].ID != "f1" || p.NextCursor == "" {
		t.Fatalf("%+v", p)
	}
	p, _ = db.ListFindings(ctx, store.FindingFilter{Cursor: p.NextCursor})
	if len(p.Items) != 1 || p.Items[0].ID != "f2" {
		t.Fatalf("%+v", p)
	}
	// A later snapshot replaces findings.
	db.SaveSnapshot(ctx, store.Snapshot{Report: &model.Report{Findings: rep.Findings[1:]}, EventClock: t0}, t0)
	p, _ = db.ListFindings(ctx, store.FindingFilter{})
	if len(p.Items) != 1 {
		t.Fatalf("findings not replaced: %d", len(p.Items))
	}
	db.SaveSpec(ctx, store.Spec{ID: "sp1", Name: "petstore.yaml", SHA256: "x", Content: []byte("openapi: 3.0.0"), UploadedAt: t0, UploadedBy: "tk"})
	specs, _ := db.ListSpecs(ctx)
	if len(specs) != 1 || specs[0].Content != nil || specs[0].Size != 14 {
		t.Fatalf("%+v", specs)
	}
	for i := range 5 {
		db.Audit(ctx, store.AuditEntry{At: t0, Actor: "tk", Action: fmt.Sprint("a", i), Detail: map[string]any{"k": i}})
	}
	ap, _ := db.ListAudit(ctx, 3, "")
	if len(ap.Items) != 3 || ap.Items[0].Action != "a4" || ap.NextCursor == "" {
		t.Fatalf("%+v", ap)
	}
	ap, _ = db.ListAudit(ctx, 3, ap.NextCursor)
	if len(ap.Items) != 2 || ap.Items[1].Action != "a0" {
		t.Fatalf("%+v", ap)
	}
}

func mustJSON(v any) string {
	b, _ := jsonMarshal(v)
	return string(b)
}

var jsonMarshal = func(v any) ([]byte, error) { return json.Marshal(v) }
