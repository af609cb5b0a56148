// Package storetest is the conformance suite of the store: every method of
// store.Store, run by the tests of store/sqlite and store/postgres against
// their database (Run). It checks round trips, keyset pagination, filters
// with hostile values, idempotent upserts (replaying a checkpoint changes
// nothing), retention and erasure leaving no form of the erased value in
// any table, authentication, the pool that user queries cannot exhaust,
// and concurrent writers.
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/store"
	"github.com/palisade-sec/palisade/internal/store/sqlstore"
)

// Fresh returns a new, empty database without migrations (raw, one pool on
// it) and a function that opens the store on it (applying the
// migrations). Stores and pools are closed by the test's cleanup.
type Fresh func(t testing.TB) (raw *sql.DB, open func() (*sqlstore.DB, error))

// Open returns a new, empty, migrated store.
func Open(t testing.TB, fresh Fresh) *sqlstore.DB {
	t.Helper()
	_, open := fresh(t)
	db, err := open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Tests is the suite: name → test. Run runs them all.
var Tests = []struct {
	Name string
	Fn   func(t *testing.T, fresh Fresh)
}{
	{"Tokens", testTokens},
	{"Sessions", testSessions},
	{"EndpointsFilterAndPaging", testEndpointsFilterAndPaging},
	{"CursorStability", testCursorStability},
	{"PageBound", testPageBound},
	{"EndpointsForHostAndHosts", testEndpointsForHost},
	{"TrafficSeries", testTrafficSeries},
	{"AlertsTriageAndSuppression", testAlertsTriageAndSuppression},
	{"AlertPaging", testAlertPaging},
	{"AlertFilters", testAlertFilters},
	{"Findings", testFindings},
	{"Specs", testSpecs},
	{"GatewayConfigs", testGatewayConfigs},
	{"Audit", testAudit},
	{"Settings", testSettings},
	{"Overview", testOverview},
	{"Outbound", testOutbound},
	{"HostileValues", testHostileValues},
	{"HostileStoredValues", testHostileStored},
	{"ReplayIdempotent", testReplayIdempotent},
	{"SnapshotSeq", testSnapshotSeq},
	{"Retention", testRetention},
	{"EraseClientIP", testEraseIP},
	{"EraseIdentity", testEraseIdentity},
	{"TombstonedMany", testTombstonedMany},
	{"QueryPoolCannotStarveAuth", testPoolIsolation},
	{"Deadlines", testDeadlines},
	{"ConcurrentWriters", testConcurrentWriters},
	{"UpgradeFromFirstMigration", testUpgrade},
	{"SubjectsMergeListErase", testSubjectsMergeListErase},
	{"SubjectRetention", testSubjectRetention},
	{"FindingTriage", testFindingTriage},
	{"ProbesAndAPIChanges", testProbesAndAPIChanges},
	{"AlertFilterBySubject", testAlertFilterBySubject},
}

// Run runs the whole suite against the database fresh makes.
func Run(t *testing.T, fresh Fresh) {
	for _, tc := range Tests {
		t.Run(tc.Name, func(t *testing.T) { tc.Fn(t, fresh) })
	}
}

// T0 is the reference time of the fixtures.
var T0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

var t0 = T0

// Endpoint is a fixture endpoint (host h{i%3}.example, path /v1/items/i).
func Endpoint(i int, risk int, reqs int64, sens ...string) model.Endpoint {
	ls := t0.Add(time.Duration(i) * time.Second)
	first := t0
	e := model.Endpoint{Host: fmt.Sprintf("h%d.example", i%3), Method: "GET", Path: fmt.Sprintf("/v1/items/%d", i),
		FirstSeen: &first, LastSeen: &ls, Requests: reqs, State: "active", Exposure: "external", Authentication: "required",
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

// Alert is a fixture alert about client ip.
func Alert(i int, typ, sev, ip string, last time.Time) model.Alert {
	return model.Alert{ID: fmt.Sprintf("al_%04d", i), Type: typ, Title: typ, Severity: sev, Subject: "client", OWASP: []string{"API8:2023"},
		Client: &model.ClientRef{IP: ip}, Endpoint: &model.EndpointRef{Host: "h", Method: "GET", Path: "/x"},
		FirstSeen: last.Add(-time.Minute), LastSeen: last, Count: 1,
		Evidence: model.Evidence{Samples: []model.Sample{{Time: last, Method: "GET", URL: "https://h/x", Status: 200, Client: ip}}}}
}

// OutboundAPI is a fixture third-party API.
func OutboundAPI(i int, sev string, reqs int64) model.OutboundAPI {
	ls := t0.Add(time.Duration(i) * time.Minute)
	first := t0
	o := model.OutboundAPI{Host: fmt.Sprintf("api%d.partner.example", i), Destination: "external", FirstSeen: &first, LastSeen: &ls, Requests: reqs,
		StatusCodes: map[string]int64{"200": reqs}, AuthSent: []string{"bearer"}, DataSent: []string{}, DataReceived: []string{},
		TLS:        model.OutboundTLS{Schemes: []string{"https"}, Ports: []int{443}},
		Operations: []model.OutboundOperation{{Method: "POST", Path: "/v1/events", Requests: reqs}},
		API10:      model.API10{Reasons: []string{}, Alerts: []string{}, Findings: []string{}}}
	if i%3 == 0 {
		o.Destination = "internal"
	}
	if sev != "" {
		o.API10.Relevant, o.API10.Severity, o.API10.Reasons = true, sev, []string{"test"}
	}
	return o
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

var ctx = context.Background()

// Dump renders every row of every table of the store (goose's version
// table aside) as text, table by table, rows sorted: what a test compares
// before and after an operation, or searches for an erased value.
func Dump(t testing.TB, db *sqlstore.DB) map[string][]string {
	t.Helper()
	sys, _ := db.Pools()
	q := `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name`
	if db.Dialect().Name == "postgres" {
		q = `SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename`
	}
	rows, err := sys.QueryContext(ctx, q)
	must(t, err)
	var tables []string
	for rows.Next() {
		var n string
		must(t, rows.Scan(&n))
		if n != "goose_db_version" {
			tables = append(tables, n)
		}
	}
	rows.Close()
	out := map[string][]string{}
	for _, tb := range tables {
		rows, err := sys.QueryContext(ctx, `SELECT * FROM `+tb)
		must(t, err)
		cols, _ := rows.Columns()
		var lines []string
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			must(t, rows.Scan(ptrs...))
			var b strings.Builder
			for i, v := range vals {
				if i > 0 {
					b.WriteString(" | ")
				}
				switch x := v.(type) {
				case []byte:
					fmt.Fprintf(&b, "%s", x)
				case nil:
					b.WriteString("NULL")
				default:
					fmt.Fprint(&b, x)
				}
			}
			lines = append(lines, b.String())
		}
		rows.Close()
		sort.Strings(lines)
		out[tb] = lines
	}
	return out
}

// containing returns the rows of the dump that contain s.
func containing(d map[string][]string, s string) []string {
	var out []string
	for tb, rows := range d {
		for _, r := range rows {
			if strings.Contains(r, s) {
				out = append(out, tb+": "+r)
			}
		}
	}
	return out
}

// ---- authentication ----

func testTokens(t *testing.T, fresh Fresh) {
	db := Open(t, fresh)
	h := sha256.Sum256([]byte("secret"))
	if err := db.CreateToken(ctx, store.Token{ID: "tk_1", Name: "ci", Role: "analyst", Hash: h[:], CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateToken(ctx, store.Token{ID: "tk_2", Role: "root", Hash: []byte{1}, CreatedAt: t0}); err == nil {
		t.Fatal("unknown role accepted")
	}
	if err := db.CreateToken(ctx, store.Token{ID: "tk_1", Role: "viewer", Hash: []byte{2}, CreatedAt: t0}); err == nil {
		t.Fatal("duplicate id accepted")
	}
	if err := db.CreateToken(ctx, store.Token{ID: "tk_3", Role: "viewer", Hash: h[:], CreatedAt: t0}); err == nil {
		t.Fatal("duplicate hash accepted")
	}
	tk, err := db.TokenByHash(ctx, h[:])
	if err != nil || tk.ID != "tk_1" || tk.Role != "analyst" || tk.Name != "ci" || !bytes.Equal(tk.Hash, h[:]) || tk.RevokedAt != nil || tk.LastUsed != nil || !tk.CreatedAt.Equal(t0) {
		t.Fatalf("got %+v, %v", tk, err)
	}
	if _, err := db.TokenByHash(ctx, []byte("nope")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("want ErrNotFound, got %v", err)
	}
	// A hash with every byte value (BLOB/BYTEA round trip).
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	hostileName := "o'hara \x00\xff; DROP TABLE tokens; --"
	must(t, db.CreateToken(ctx, store.Token{ID: "tk_4", Name: hostileName, Role: "ingest", Hash: all, CreatedAt: t0.Add(time.Second)}))
	tk, err = db.TokenByHash(ctx, all)
	if err != nil || tk.ID != "tk_4" || tk.Name != db.Dialect().Text(hostileName) {
		t.Fatalf("hostile name: %+v %v", tk, err)
	}
	must(t, db.TouchToken(ctx, "tk_1", t0.Add(time.Hour)))
	tk, _ = db.TokenByHash(ctx, h[:])
	if tk.LastUsed == nil || !tk.LastUsed.Equal(t0.Add(time.Hour)) {
		t.Fatalf("touch: %+v", tk)
	}
	n, err := db.CountTokens(ctx)
	if err != nil || n != 2 {
		t.Fatalf("count %d %v", n, err)
	}
	must(t, db.RevokeToken(ctx, "tk_1", t0))
	if err := db.RevokeToken(ctx, "tk_1", t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("double revoke: %v", err)
	}
	if err := db.RevokeToken(ctx, "tk_none", t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("revoke of unknown: %v", err)
	}
	tk, _ = db.TokenByHash(ctx, h[:])
	if tk.RevokedAt == nil || !tk.RevokedAt.Equal(t0) {
		t.Fatal("revocation not recorded")
	}
	list, err := db.ListTokens(ctx)
	if err != nil || len(list) != 2 || list[0].ID != "tk_1" || list[1].ID != "tk_4" {
		t.Fatalf("list: %+v %v", list, err)
	}
}

func testSessions(t *testing.T, fresh Fresh) {
	db := Open(t, fresh)
	h := sha256.Sum256([]byte("secret"))
	must(t, db.CreateToken(ctx, store.Token{ID: "tk_1", Name: "ci", Role: "analyst", Hash: h[:], CreatedAt: t0}))
	sh := sha256.Sum256([]byte("sess"))
	se := store.Session{Hash: sh[:], CSRFHash: []byte{0, 2, 255}, TokenID: "tk_1", Role: "analyst", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	must(t, db.CreateSession(ctx, se))
	got, err := db.SessionByHash(ctx, sh[:], t0.Add(time.Minute))
	if err != nil || !bytes.Equal(got.CSRFHash, se.CSRFHash) || got.TokenID != "tk_1" || got.Role != "analyst" || !got.ExpiresAt.Equal(se.ExpiresAt) || !got.CreatedAt.Equal(t0) {
		t.Fatalf("%+v %v", got, err)
	}
	if _, err := db.SessionByHash(ctx, sh[:], t0.Add(2*time.Hour)); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("expired session found")
	}
	if _, err := db.SessionByHash(ctx, []byte("other"), t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("unknown session found")
	}
	// A session of a token that does not exist is never valid.
	orphan := sha256.Sum256([]byte("orphan"))
	must(t, db.CreateSession(ctx, store.Session{Hash: orphan[:], CSRFHash: []byte{1}, TokenID: "tk_none", Role: "admin", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
	if _, err := db.SessionByHash(ctx, orphan[:], t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("session of an unknown token found")
	}
	sh2 := sha256.Sum256([]byte("sess2"))
	must(t, db.CreateSession(ctx, store.Session{Hash: sh2[:], CSRFHash: []byte{3}, TokenID: "tk_1", Role: "analyst", CreatedAt: t0, ExpiresAt: t0.Add(time.Hour)}))
	must(t, db.DeleteSession(ctx, sh2[:]))
	if _, err := db.SessionByHash(ctx, sh2[:], t0); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("deleted session found")
	}
	must(t, db.RevokeToken(ctx, "tk_1", t0))
	if _, err := db.SessionByHash(ctx, sh[:], t0.Add(time.Minute)); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("session of revoked token still valid")
	}
	if rows := containing(Dump(t, db), "analyst"); len(rows) != 1 { // the token only: revocation deleted its sessions
		t.Fatalf("sessions of the revoked token kept: %v", rows)
	}
}

// ---- inventory ----

func snapshot(t testing.TB, db *sqlstore.DB, s store.Snapshot) {
	t.Helper()
	if s.EventClock.IsZero() {
		s.EventClock = t0
	}
	must(t, db.SaveSnapshot(ctx, s, t0))
}

func testEndpointsFilterAndPaging(t *testing.T, fresh Fresh) {
	db := Open(t, fresh)
	var eps []model.Endpoint
	for i := range 40 {
		var sens []string
		if i%5 == 0 {
			sens = []string{"email"}
		}
		eps = append(eps, Endpoint(i, i%7*10, int64(100+i), sens...))
	}
	snapshot(t, db, store.Snapshot{Report: &model.Report{Endpoints: eps}, Records: 10})
	cases := []struct {
		name string
		f    store.EndpointFilter
		want int
	}{
		{"all", store.EndpointFilter{}, 40},
		{"host", store.EndpointFilter{Host: "h1.example"}, 13},
		{"state", store.EndpointFilter{State: "shadow"}, 10},
		{"auth", store.EndpointFilter{Authentication: "none"}, 10},
		{"exposure", store.EndpointFilter{Exposure: "external"}, 40},
		{"sensitive", store.EndpointFilter{Sensitive: "email"}, 8},
		{"sensitive any case", store.EndpointFilter{Sensitive: "EMAIL"}, 8},
		{"sensitive like-escape", store.EndpointFilter{Sensitive: "%"}, 0},
		{"q", store.EndpointFilter{Q: "ITEMS/3"}, 11},
		{"q host", store.EndpointFilter{Q: "H2.EXAM"}, 13},
		{"requests sort", store.EndpointFilter{Sort: "requests"}, 40},
		{"last_seen sort", store.EndpointFilter{Sort: "last_seen"}, 40},
		{"combined", store.EndpointFilter{Host: "h0.example", State: "shadow", Sort: "requests"}, 4},
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
				if r.ID != sqlstore.EndpointID(r.Ref()) {
					t.Fatalf("id %s of %s", r.ID, r.Ref().Key())
				}
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
	if _, err := db.ListEndpoints(ctx, store.EndpointFilter{Sort: "name"}); err == nil || !strings.HasPrefix(err.Error(), "sort:") {
		t.Fatalf("unknown sort: %v", err)
	}
	p, _ := db.ListEndpoints(ctx, store.EndpointFilter{Limit: 5})
	if _, err := db.ListEndpoints(ctx, store.EndpointFilter{Sort: "requests", Cursor: p.NextCursor}); err == nil || !strings.HasPrefix(err.Error(), "cursor:") {
		t.Fatalf("cursor of another sort: %v", err)
	}
	for _, c := range []string{"!!", "e30", store.EncodeCursor(store.Cursor{Sort: "risk", ID: "' OR 1=1 --", Num: -1 << 63})} {
		p, err := db.ListEndpoints(ctx, store.EndpointFilter{Cursor: c})
		if c == "!!" || c == "e30" {
			if err == nil {
				t.Fatalf("garbage cursor %q accepted", c)
			}
			continue
		}
		if err != nil || len(p.Items) != 0 {
			t.Fatalf("hostile cursor: %d items, %v", len(p.Items), err)
		}
	}
	// Detail round trip.
	d, err := db.Endpoint(ctx, sqlstore.EndpointID(eps[5].Ref()))
	if err != nil || d.Path != eps[5].Path || d.Requests != eps[5].Requests || len(d.SensitiveData) != 1 || !d.LastSeen.Equal(*eps[5].LastSeen) {
		t.Fatalf("detail %+v %v", d, err)
	}
	if _, err := db.Endpoint(ctx, "ep_missing"); !errors.Is(err, store.ErrNotFound) {
		t.Fatal("missing endpoint found")
	}
}

func collectEndpoints(t testing.TB, db *sqlstore.DB, f store.EndpointFilter) []store.EndpointRow {
	t.Helper()
	var out []store.EndpointRow
	for range 1000 {
		p, err := db.ListEndpoints(ctx, f)
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
func testCursorStability(t *testing.T, fresh Fresh) {
	db := Open(t, fresh)
	var eps []model.Endpoint
	for i := range 30 {
		eps = append(eps, Endpoint(i, 50, 10))
	}
	snapshot(t, db, store.Snapshot{Report: &model.Report{Endpoints: eps}})
	f := store.EndpointFilter{Limit: 10}
	p1, err := db.ListEndpoints(ctx, f)
	must(t, err)
	more := []model.Endpoint{Endpoint(100, 90, 1), Endpoint(101, 50, 1), Endpoint(102, 10, 1)}
	snapshot(t, db, store.Snapshot{Report: &model.Report{Endpoints: more}})
	f.Cursor = p1.NextCursor
	rest := collectEndpoints(t, db, f)
	seen := map[string]int{}
	for _, r := range append(p1.Items, rest...) {
		seen[r.ID]++
	}
	for _, e := range eps {
		if n := seen[sqlstore.EndpointID(e.Ref())]; n != 1 {
			t.Fatalf("endpoint %s seen %d times", e.Path, n)
		}
	}
}

// Lists are bounded: a page holds at most 500 rows whatever the limit.
func testPageBound(t *testing.T, fresh Fresh) {
	db := Open(t, fresh)
	var eps []model.Endpoint
	var als []model.Alert
	for i := range 620 {
		eps = append(eps, Endpoint(i, i%10, 1))
		als = append(als, Alert(i, "injection.sqli", "high", "192.0.2.1", t0))
	}
	snapshot(t, db, store.Snapshot{Report: &model.Report{Endpoints: eps}})
	_, err := db.UpsertAlerts(ctx, als, t0)
	must(t, err)
	for _, lim := range []int{0, 501, 1 << 30, -5} {
		p, err := db.ListEndpoints(ctx, store.EndpointFilter{Limit: lim})
		must(t, err)
		want := store.ClampLimit(lim)
		if len(p.Items) != want || p.NextCursor == "" {
			t.Fatalf("limit %d: %d endpoints", lim, len(p.Items))
		}
		a, err := db.ListAlerts(ctx, store.AlertFilter{Limit: lim})
		must(t, err)
		if len(a.Items) != want || a.NextCursor == "" {
			t.Fatalf("limit %d: %d alerts", lim, len(a.Items))
		}
	}
	if got := collectEndpoints(t, db, store.EndpointFilter{Limit: 500}); len(got) != 620 {
		t.Fatalf("%d endpoints over pages", len(got))
	}
}

func testEndpointsForHost(t *testing.T, fresh Fresh) {
	db := Open(t, fresh)
	var eps []model.Endpoint
	for i := range 9 {
		eps = append(eps, Endpoint(i, 1, 1))
	}
	z := Endpoint(20, 1, 1)
	z.Host = "a.example" // sorts first
	eps = append(eps, z)
	snapshot(t, db, store.Snapshot{Report: &model.Report{Endpoints: eps}})
	hosts, err := db.Hosts(ctx, 10)
	if err != nil || strings.Join(hosts, " ") != "a.example h0.example h1.example h2.example" {
		t.Fatalf("hosts %v %v", hosts, err)
	}
	if hosts, _ := db.Hosts(ctx, 2); len(hosts) != 2 {
		t.Fatalf("limit: %v", hosts)
	}
	got, err := db.EndpointsForHost(ctx, "h1.example")
	if err != nil || len(got) != 3 {
		t.Fatalf("%d %v", len(got), err)
	}
	for i := 1; i < len(got); i++ {
		if got[i-1].Path > got[i].Path {
			t.Fatalf("not sorted by path: %s, %s", got[i-1].Path, got[i].Path)
		}
	}
	if all, _ := db.EndpointsForHost(ctx, ""); len(all) != 10 || all[0].Host != "a.example" {
		t.Fatalf("all hosts: %d", len(all))
	}
	if none, err := db.EndpointsForHost(ctx, "nope.example"); err != nil || len(none) != 0 {
		t.Fatalf("%v %v", none, err)
	}
}

func testTrafficSeries(t *testing.T, fresh Fresh) {
	db := Open(t, fresh)
	e := Endpoint(1, 10, 100)
	snapshot(t, db, store.Snapshot{Report: &model.Report{Endpoints: []model.Endpoint{e}}})
	e.Requests = 130
	snapshot(t, db, store.Snapshot{Report: &model.Report{Endpoints: []model.Endpoint{e}}, EventClock: t0.Add(10 * time.Minute)})
	e.Requests = 150
	snapshot(t, db, store.Snapshot{Report: &model.Report{Endpoints: []model.Endpoint{e}}, EventClock: t0.Add(70 * time.Minute),
		Traffic: map[int64]int64{store.HourBucket(t0): 140, store.HourBucket(t0.Add(70 * time.Minute)): 10}})
	d, err := db.Endpoint(ctx, sqlstore.EndpointID(e.Ref()))
	must(t, err)
	if len(d.Traffic) != 2 || d.Traffic[0].Requests != 130 || d.Traffic[1].Requests != 20 || !d.Traffic[0].Time.Equal(t0) {
		t.Fatalf("traffic %+v", d.Traffic)
	}
	o, _ := db.Overview(ctx)
	if o.Endpoints != 1 || len(o.Traffic) != 2 || o.Traffic[0].Requests != 140 || !o.Traffic[1].Time.Equal(t0.Add(time.Hour)) {
		t.Fatalf("overview %+v", o)
	}
	// The series holds the newest 168 hours (7 days).
	tr := map[int64]int64{}
	for h := range 200 {
		tr[store.HourBucket(t0.Add(time.Duration(h)*time.Hour))] += 1
	}
	snapshot(t, db, store.Snapshot{Traffic: tr, EventClock: t0.Add(199 * time.Hour)})
	o, _ = db.Overview(ctx)
	if len(o.Traffic) != 168 || !o.Traffic[167].Time.Equal(t0.Add(199*time.Hour)) {
		t.Fatalf("overview series: %d points, last %v", len(o.Traffic), o.Traffic[len(o.Traffic)-1].Time)
	}
}

// ---- alerts ----

func testAlertsTriageAndSuppression(t *testing.T, fresh Fresh) {
	db := Open(t, fresh)
	a := Alert(1, "injection.sqli", "high", "203.0.113.9", t0)
	r, err := db.UpsertAlerts(ctx, []model.Alert{a, Alert(2, "recon.endpoint_spray", "medium", "198.51.100.1", t0)}, t0)
	if err != nil || len(r.Created) != 2 {
		t.Fatalf("%+v %v", r, err)
	}
	if r.Created[0].Status != store.StatusOpen {
		t.Fatalf("new alert status %q", r.Created[0].Status)
	}
	// Same state again: nothing new.
	r, _ = db.UpsertAlerts(ctx, []model.Alert{a}, t0)
	if len(r.Created)+len(r.Updated) != 0 {
		t.Fatalf("unchanged alert reported: %+v", r)
	}
	// Counts never regress (a restarted engine holds less).
	old := a
	old.Count, old.LastSeen = 0, t0.Add(-time.Hour)
	r, _ = db.UpsertAlerts(ctx, []model.Alert{old}, t0)
	if got, _, _ := db.Alert(ctx, a.ID); len(r.Created)+len(r.Updated) != 0 || got.Count != 1 || !got.LastSeen.Equal(t0) {
		t.Fatalf("regressed: %+v %+v", r, got)
	}
	if _, err := db.Triage(ctx, a.ID, "false_positive", "tk_a", " ", t0); err == nil {
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
	// A new alert with the same fold key (another id) is suppressed too.
	twin := a
	twin.ID = "al_twin"
	r, _ = db.UpsertAlerts(ctx, []model.Alert{twin}, t0)
	if r.Suppressed != 1 || len(r.Created) != 0 {
		t.Fatalf("twin of a false positive: %+v", r)
	}
	got, hist, _ := db.Alert(ctx, a.ID)
	if got.Status != store.StatusFalsePositive || got.Count != 5 || len(hist) != 1 || hist[0].Reason != "scanner we run" || hist[0].Actor != "tk_a" ||
		hist[0].From != store.StatusOpen || hist[0].To != store.StatusFalsePositive || !hist[0].At.Equal(t0) {
		t.Fatalf("%+v %+v", got, hist)
	}
	// Reopen lifts the suppression.
	_, err = db.Triage(ctx, a.ID, "reopen", "tk_a", "", t0)
	must(t, err)
	a.Count = 6
	r, _ = db.UpsertAlerts(ctx, []model.Alert{a}, t0)
	if r.Suppressed != 0 || len(r.Updated) != 1 || r.Updated[0].Status != store.StatusOpen {
		t.Fatalf("after reopen: %+v", r)
	}
	// Resolved alerts reopen on new activity; acknowledged stay acknowledged.
	b := Alert(2, "recon.endpoint_spray", "medium", "198.51.100.1", t0)
	_, err = db.Triage(ctx, b.ID, "resolve", "tk_a", "", t0)
	must(t, err)
	b.Count, b.LastSeen = 2, t0.Add(time.Minute)
	r, _ = db.UpsertAlerts(ctx, []model.Alert{b}, t0)
	got, hist, _ = db.Alert(ctx, b.ID)
	if len(r.Updated) != 1 || got.Status != store.StatusOpen || hist[len(hist)-1].Action != "reopen" || hist[len(hist)-1].Actor != "system" {
		t.Fatalf("resolved alert not reopened: %+v %+v", got.Status, hist)
	}
	_, err = db.Triage(ctx, b.ID, "acknowledge", "tk_a", "", t0)
	must(t, err)
	b.Count = 3
	_, err = db.UpsertAlerts(ctx, []model.Alert{b}, t0)
	must(t, err)
	got, _, _ = db.Alert(ctx, b.ID)
	if got.Status != store.StatusAcknowledged || got.Count != 3 {
		t.Fatalf("acknowledged alert changed to %s", got.Status)
	}
	o, _ := db.Overview(ctx)
	if o.OpenAlerts != 1 || o.OpenBySeverity["high"] != 1 || o.OpenByOWASP["API8:2023"] != 1 {
		t.Fatalf("open alerts %+v", o)
	}
}

func testAlertPaging(t *testing.T, fresh Fresh) {
	db := Open(t, fresh)
	sevs := []string{"info", "low", "medium", "high", "critical"}
	var as []model.Alert
	for i := range 53 {
		as = append(as, Alert(i, "injection.xss", sevs[i%5], fmt.Sprintf("192.0.2.%d", i), t0.Add(time.Duration(i%9)*time.Minute)))
	}
	_, err := db.UpsertAlerts(ctx, as, t0)
	must(t, err)
	for _, sort := range []string{"last_seen", "severity"} {
		f := store.AlertFilter{Sort: sort, Limit: 10}
		seen := map[string]bool{}
		prev := int64(1 << 62)
		prevID := ""
		for {
			p, err := db.ListAlerts(ctx, f)
			must(t, err)
			for _, a := range p.Items {
				if seen[a.ID] {
					t.Fatalf("%s: duplicate %s", sort, a.ID)
				}
				seen[a.ID] = true
				v := a.LastSeen.UnixNano()
				if sort == "severity" {
					v = int64(model.SeverityRank(a.Severity))
				}
				if v > prev || v == prev && a.ID < prevID {
					t.Fatalf("%s: order broken", sort)
				}
				prev, prevID = v, a.ID
				if !a.UpdatedAt.Equal(t0) {
					t.Fatalf("updated_at %v", a.UpdatedAt)
				}
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
	if _, err := db.ListAlerts(ctx, store.AlertFilter{Sort: "count"}); err == nil || !strings.HasPrefix(err.Error(), "sort:") {
		t.Fatalf("unknown sort: %v", err)
	}
	p, _ := db.ListAlerts(ctx, store.AlertFilter{Limit: 1})
	if _, err := db.ListAlerts(ctx, store.AlertFilter{Sort: "severity", Cursor: p.NextCursor}); err == nil {
		t.Fatal("cursor of another sort accepted")
	}
}

func testAlertFilters(t *testing.T, fresh Fresh) {
	db := Open(t, fresh)
	a := Alert(1, "injection.sqli", "high", "203.0.113.9", t0)
	b := Alert(2, "recon.endpoint_spray", "medium", "198.51.100.1", t0.Add(time.Hour))
	b.Endpoint = &model.EndpointRef{Host: "api.example", Method: "POST", Path: "/login"}
	c := Alert(3, "injection.sqli", "critical", "198.51.100.1", t0.Add(2*time.Hour))
	_, err := db.UpsertAlerts(ctx, []model.Alert{a, b, c}, t0)
	must(t, err)
	_, err = db.Triage(ctx, c.ID, "acknowledge", "x", "", t0)
	must(t, err)
	ids := func(f store.AlertFilter) string {
		t.Helper()
		p, err := db.ListAlerts(ctx, f)
		must(t, err)
		var out []string
		for _, x := range p.Items {
			out = append(out, strings.TrimPrefix(x.ID, "al_000"))
		}
		return strings.Join(out, " ")
	}
	for _, tc := range []struct {
		f    store.AlertFilter
		want string
	}{
		{store.AlertFilter{}, "3 2 1"},
		{store.AlertFilter{Types: []string{"injection.sqli"}}, "3 1"},
		{store.AlertFilter{Types: []string{"injection.sqli", "recon.endpoint_spray"}, Severities: []string{"medium", "critical"}}, "3 2"},
		{store.AlertFilter{Statuses: []string{"open"}}, "2 1"},
		{store.AlertFilter{Statuses: []string{"acknowledged", "resolved"}}, "3"},
		{store.AlertFilter{From: t0.Add(30 * time.Minute)}, "3 2"},
		{store.AlertFilter{To: t0.Add(90 * time.Minute)}, "2 1"},
		{store.AlertFilter{From: t0.Add(30 * time.Minute), To: t0.Add(90 * time.Minute)}, "2"},
		{store.AlertFilter{Endpoint: "POST api.example/login"}, "2"},
		{store.AlertFilter{ClientIP: "198.51.100.1"}, "3 2"},
		{store.AlertFilter{ClientIP: "198.51.100.1", Types: []string{"recon.endpoint_spray"}}, "2"},
		{store.AlertFilter{Sort: "severity"}, "3 1 2"},
	} {
		if got := ids(tc.f); got != tc.want {
			t.Errorf("%+v: %q, want %q", tc.f, got, tc.want)
		}
	}
}

func testFindings(t *testing.T, fresh Fresh) {
	db := Open(t, fresh)
	rep := &model.Report{Findings: []model.Finding{
		{ID: "f1", Rule: "unauthenticated", Severity: "high", Endpoint: &model.EndpointRef{Host: "h", Method: "GET", Path: "/a"}},
		{ID: "f2", Rule: "tls", Severity: "low"},
		{ID: "f3", Rule: "unauthenticated", Severity: "high", Endpoint: &model.EndpointRef{Host: "h", Method: "GET", Path: "/b"}},
		{ID: "f4", Rule: "cors", Severity: "medium"},
	}}
	snapshot(t, db, store.Snapshot{Report: rep})
	var all []string
	f := store.FindingFilter{Limit: 1}
	for {
		p, err := db.ListFindings(ctx, f)
		must(t, err)
		for _, x := range p.Items {
			all = append(all, x.ID)
		}
		if p.NextCursor == "" {
			break
		}
		f.Cursor = p.NextCursor
	}
	if strings.Join(all, " ") != "f1 f3 f4 f2" {
		t.Fatalf("order %v", all)
	}
	for _, tc := range []struct {
		f    store.FindingFilter
		want int
	}{
		{store.FindingFilter{Rule: "unauthenticated"}, 2},
		{store.FindingFilter{Severities: []string{"low", "medium"}}, 2},
		{store.FindingFilter{Endpoint: "GET h/b"}, 1},
		{store.FindingFilter{Rule: "unauthenticated", Endpoint: "GET h/b"}, 1},
		{store.FindingFilter{Rule: "nope"}, 0},
	} {
		p, err := db.ListFindings(ctx, tc.f)
		if err != nil || len(p.Items) != tc.want {
			t.Errorf("%+v: %d, %v", tc.f, len(p.Items), err)
		}
	}
	// A later snapshot replaces findings.
	snapshot(t, db, store.Snapshot{Report: &model.Report{Findings: rep.Findings[1:2]}})
	p, _ := db.ListFindings(ctx, store.FindingFilter{})
	if len(p.Items) != 1 || p.Items[0].ID != "f2" {
		t.Fatalf("findings not replaced: %+v", p.Items)
	}
	// A snapshot without a report leaves them.
	snapshot(t, db, store.Snapshot{})
	if o, _ := db.Overview(ctx); o.Findings != 1 {
		t.Fatalf("findings %d", o.Findings)
	}
}

// ---- specs, gateway configurations, audit, settings ----

func testSpecs(t *testing.T, fresh Fresh) {
	db := Open(t, fresh)
	big := bytes.Repeat([]byte("openapi: 3.0.0\x00\xff\n"), 1<<16) // 1 MiB with NUL and invalid UTF-8: bytes, not text
	must(t, db.SaveSpec(ctx, store.Spec{ID: "sp1", Name: "petstore.yaml", SHA256: "x", Content: []byte("openapi: 3.0.0"), UploadedAt: t0, UploadedBy: "tk"}))
	must(t, db.SaveSpec(ctx, store.Spec{ID: "sp2", Name: "big.yaml", SHA256: "y", Content: big, UploadedAt: t0.Add(time.Second), UploadedBy: "tk", Hosts: []string{"a.example", "b.example"}}))
	must(t, db.SaveSpec(ctx, store.Spec{ID: "sp3", Name: "petstore.yaml", SHA256: "z", Content: []byte("v2"), UploadedAt: t0.Add(2 * time.Second), UploadedBy: "tk2"}))
	specs, err := db.ListSpecs(ctx)
	if err != nil || len(specs) != 3 || specs[0].Content != nil || specs[0].Size != 14 || specs[1].Size != len(big) || strings.Join(specs[1].Hosts, ",") != "a.example,b.example" || specs[1].Hosts == nil {
		t.Fatalf("%+v %v", specs, err)
	}
	if !specs[2].UploadedAt.Equal(t0.Add(2*time.Second)) || specs[2].UploadedBy != "tk2" || specs[0].Hosts != nil {
		t.Fatalf("%+v", specs[2])
	}
	full, err := db.SpecContents(ctx)
	if err != nil || len(full) != 3 || !bytes.Equal(full[1].Content, big) {
		t.Fatalf("contents: %v", err)
	}
	// Saving an id again replaces it.
	must(t, db.SaveSpec(ctx, store.Spec{ID: "sp1", Name: "renamed.yaml", SHA256: "x", Content: []byte("new"), UploadedAt: t0, UploadedBy: "tk"}))
	if specs, _ := db.ListSpecs(ctx); len(specs) != 3 || specs[0].Name != "renamed.yaml" || specs[0].Size != 3 {
		t.Fatalf("replace: %+v", specs)
	}
	del, err := db.DeleteSpecs(ctx, "petstore.yaml")
	if err != nil || len(del) != 1 || del[0].ID != "sp3" || del[0].Content != nil {
		t.Fatalf("delete by name: %+v %v", del, err)
	}
	del, err = db.DeleteSpecs(ctx, "sp2")
	if err != nil || len(del) != 1 || del[0].Name != "big.yaml" {
		t.Fatalf("delete by id: %+v %v", del, err)
	}
	if _, err := db.DeleteSpecs(ctx, "sp2"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete again: %v", err)
	}
	if specs, _ := db.ListSpecs(ctx); len(specs) != 1 {
		t.Fatalf("left %+v", specs)
	}
}

func testGatewayConfigs(t *testing.T, fresh Fresh) {
	db := Open(t, fresh)
	if l, err := db.ListGatewayConfigs(ctx); err != nil || l == nil || len(l) != 0 {
		t.Fatalf("empty list: %#v %v", l, err)
	}
	content := []byte("_format_version: \"3.0\"\x00\xfe")
	must(t, db.SaveGatewayConfig(ctx, store.GatewayConfig{ID: "gw1", Name: "kong.yaml", Kind: "kong", SHA256: "s", Content: content, UploadedAt: t0, UploadedBy: "tk"}))
	must(t, db.SaveGatewayConfig(ctx, store.GatewayConfig{ID: "gw2", Name: "nginx.conf", Kind: "nginx", SHA256: "t", Content: []byte("server {}"), UploadedAt: t0.Add(time.Second), UploadedBy: "tk"}))
	l, err := db.ListGatewayConfigs(ctx)
	if err != nil || len(l) != 2 || l[0].ID != "gw1" || l[0].Content != nil || l[0].Size != len(content) || l[0].Kind != "kong" || !l[0].UploadedAt.Equal(t0) {
		t.Fatalf("%+v %v", l, err)
	}
	full, err := db.GatewayConfigContents(ctx)
	if err != nil || len(full) != 2 || !bytes.Equal(full[0].Content, content) {
		t.Fatalf("contents %v", err)
	}
	must(t, db.SaveGatewayConfig(ctx, store.GatewayConfig{ID: "gw1", Name: "kong2.yaml", Kind: "kong", SHA256: "s", Content: []byte("x"), UploadedAt: t0, UploadedBy: "tk"}))
	if l, _ := db.ListGatewayConfigs(ctx); len(l) != 2 || l[0].Name != "kong2.yaml" {
		t.Fatalf("replace: %+v", l)
	}
	must(t, db.DeleteGatewayConfig(ctx, "gw1"))
	if err := db.DeleteGatewayConfig(ctx, "gw1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("delete again: %v", err)
	}
	if l, _ := db.ListGatewayConfigs(ctx); len(l) != 1 || l[0].ID != "gw2" {
		t.Fatalf("left %+v", l)
	}
}

func testAudit(t *testing.T, fresh Fresh) {
	db := Open(t, fresh)
	if p, err := db.ListAudit(ctx, 10, ""); err != nil || len(p.Items) != 0 || p.NextCursor != "" {
		t.Fatalf("empty: %+v %v", p, err)
	}
	for i := range 5 {
		must(t, db.Audit(ctx, store.AuditEntry{At: t0.Add(time.Duration(i) * time.Second), Actor: "tk", Action: fmt.Sprint("a", i), Target: "t'\x00", Detail: map[string]any{"k": float64(i), "s": "v"}}))
	}
	must(t, db.Audit(ctx, store.AuditEntry{At: t0, Actor: "tk", Action: "nodetail"}))
	ap, err := db.ListAudit(ctx, 3, "")
	if err != nil || len(ap.Items) != 3 || ap.Items[0].Action != "nodetail" || ap.Items[1].Action != "a4" || ap.NextCursor == "" {
		t.Fatalf("%+v %v", ap, err)
	}
	if ap.Items[0].Detail != nil || ap.Items[1].Detail["k"] != float64(4) || ap.Items[1].Target != db.Dialect().Text("t'\x00") || !ap.Items[1].At.Equal(t0.Add(4*time.Second)) {
		t.Fatalf("%+v", ap.Items[:2])
	}
	if ap.Items[0].ID <= ap.Items[1].ID {
		t.Fatalf("ids not increasing: %d, %d", ap.Items[1].ID, ap.Items[0].ID)
	}
	ap, _ = db.ListAudit(ctx, 3, ap.NextCursor)
	if len(ap.Items) != 3 || ap.Items[2].Action != "a0" || ap.NextCursor != "" {
		t.Fatalf("%+v", ap)
	}
	if _, err := db.ListAudit(ctx, 3, store.EncodeCursor(store.Cursor{Sort: "risk"})); err == nil {
		t.Fatal("cursor of another list accepted")
	}
}

func testSettings(t *testing.T, fresh Fresh) {
	db := Open(t, fresh)
	if _, err := db.Setting(ctx, "k"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("unset: %v", err)
	}
	must(t, db.PutSetting(ctx, "k", "v1", t0))
	must(t, db.PutSetting(ctx, "k", "v2\n'\"", t0))
	must(t, db.PutSetting(ctx, "empty", "", t0))
	if v, err := db.Setting(ctx, "k"); err != nil || v != "v2\n'\"" {
		t.Fatalf("%q %v", v, err)
	}
	if v, err := db.Setting(ctx, "empty"); err != nil || v != "" {
		t.Fatalf("empty value: %q %v", v, err)
	}
	big := strings.Repeat("x", 1<<20)
	must(t, db.PutSetting(ctx, "big", big, t0))
	if v, _ := db.Setting(ctx, "big"); v != big {
		t.Fatal("1 MiB value")
	}
}

func testOverview(t *testing.T, fresh Fresh) {
	db := Open(t, fresh)
	o, err := db.Overview(ctx)
	if err != nil || o.Endpoints != 0 || o.EventClock != nil || o.LastSnapshotWallUTC != nil || o.Traffic == nil {
		t.Fatalf("empty: %+v %v", o, err)
	}
	var eps []model.Endpoint
	for i := range 12 {
		var sens []string
		if i%3 == 0 {
			sens = []string{"email", "ssn"}
		}
		eps = append(eps, Endpoint(i, 1, 1, sens...))
	}
	eps[1].State, eps[2].State, eps[3].State = "zombie", "undocumented", "undocumented"
	eps[5].Exposure = "internal"
	snapshot(t, db, store.Snapshot{Report: &model.Report{Endpoints: eps, Findings: []model.Finding{{ID: "f", Rule: "r", Severity: "low"}},
		Outbound: []model.OutboundAPI{OutboundAPI(1, "high", 1), OutboundAPI(2, "", 1)}}, Records: 1234, EventClock: t0.Add(time.Hour)})
	_, err = db.UpsertAlerts(ctx, []model.Alert{Alert(1, "injection.sqli", "high", "192.0.2.1", t0), Alert(2, "injection.sqli", "low", "192.0.2.2", t0)}, t0)
	must(t, err)
	o, err = db.Overview(ctx)
	must(t, err)
	want := store.Overview{APIs: 3, Endpoints: 12, Unauthenticated: 3, External: 11, Sensitive: 4, Shadow: 3, Zombie: 1, Undocumented: 2,
		OutboundAPIs: 2, OutboundRelevant: 1, OpenAlerts: 2, Findings: 1, RecordsProcessed: 1234}
	got := *o
	got.OpenBySeverity, got.OpenByOWASP, got.Traffic, got.EventClock, got.LastSnapshotWallUTC = nil, nil, nil, nil, nil
	if got.APIs != want.APIs || got.Endpoints != want.Endpoints || got.Unauthenticated != want.Unauthenticated || got.External != want.External ||
		got.Sensitive != want.Sensitive || got.Shadow != want.Shadow || got.Zombie != want.Zombie || got.Undocumented != want.Undocumented ||
		got.OutboundAPIs != want.OutboundAPIs || got.OutboundRelevant != want.OutboundRelevant || got.OpenAlerts != want.OpenAlerts ||
		got.Findings != want.Findings || got.RecordsProcessed != want.RecordsProcessed {
		t.Fatalf("got %+v\nwant %+v", got, want)
	}
	if o.OpenBySeverity["high"] != 1 || o.OpenBySeverity["low"] != 1 || o.OpenByOWASP["API8:2023"] != 2 {
		t.Fatalf("%+v %+v", o.OpenBySeverity, o.OpenByOWASP)
	}
	if o.EventClock == nil || !o.EventClock.Equal(t0.Add(time.Hour)) || o.LastSnapshotWallUTC == nil || !o.LastSnapshotWallUTC.Equal(t0) {
		t.Fatalf("clocks %v %v", o.EventClock, o.LastSnapshotWallUTC)
	}
}

// TestOutbound: snapshots store the third-party APIs; the list pages by
// relevance, calls or last call with filters; an old endpoint row of a
// host that the snapshot calls a third party is removed, and a third-party
// row of a host that became ours.
func testOutbound(t *testing.T, fresh Fresh) {
	db := Open(t, fresh)
	sevs := []string{"", "high", "info", "", "medium", "low", "critical"}
	rep := &model.Report{Endpoints: []model.Endpoint{Endpoint(1, 10, 5)}}
	for i := range 7 {
		rep.Outbound = append(rep.Outbound, OutboundAPI(i, sevs[i], int64(100-i*10)))
	}
	legacy := Endpoint(2, 50, 9)
	legacy.Host = "api4.partner.example"
	snapshot(t, db, store.Snapshot{Report: &model.Report{Endpoints: []model.Endpoint{legacy}}})
	snapshot(t, db, store.Snapshot{Report: rep, EventClock: t0.Add(time.Hour)})
	if eps, _ := db.EndpointsForHost(ctx, "api4.partner.example"); len(eps) != 0 {
		t.Errorf("endpoint rows of a third-party host kept: %+v", eps)
	}
	if rows := containing(Dump(t, db), sqlstore.EndpointID(legacy.Ref())); len(rows) != 0 {
		t.Errorf("rows of the removed endpoint: %v", rows)
	}
	hosts := func(f store.OutboundFilter) string {
		t.Helper()
		var out []string
		for {
			p, err := db.ListOutbound(ctx, f)
			must(t, err)
			for _, r := range p.Items {
				if r.ID != sqlstore.OutboundID(r.Host) {
					t.Errorf("id %s for %s", r.ID, r.Host)
				}
				out = append(out, strings.TrimSuffix(r.Host, ".partner.example"))
			}
			if p.NextCursor == "" {
				return strings.Join(out, " ")
			}
			f.Cursor = p.NextCursor
		}
	}
	notRelevant := "api0 api3"
	if sqlstore.OutboundID("api3.partner.example") < sqlstore.OutboundID("api0.partner.example") {
		notRelevant = "api3 api0"
	}
	for _, tc := range []struct {
		f    store.OutboundFilter
		want string
	}{
		{store.OutboundFilter{Limit: 2}, "api6 api1 api4 api5 api2 " + notRelevant},
		{store.OutboundFilter{Sort: "requests", Limit: 3}, "api0 api1 api2 api3 api4 api5 api6"},
		{store.OutboundFilter{Sort: "last_seen"}, "api6 api5 api4 api3 api2 api1 api0"},
		{store.OutboundFilter{Relevant: true}, "api6 api1 api4 api5 api2"},
		{store.OutboundFilter{Destination: "internal", Sort: "requests"}, "api0 api3 api6"},
		{store.OutboundFilter{Q: "API5"}, "api5"},
		{store.OutboundFilter{Q: "%"}, ""},
	} {
		if got := hosts(tc.f); got != tc.want {
			t.Errorf("%+v: %s, want %s", tc.f, got, tc.want)
		}
	}
	if _, err := db.ListOutbound(ctx, store.OutboundFilter{Sort: "risk"}); err == nil || !strings.HasPrefix(err.Error(), "sort:") {
		t.Errorf("unknown sort: %v", err)
	}
	if _, err := db.ListOutbound(ctx, store.OutboundFilter{Sort: "requests", Cursor: store.EncodeCursor(store.Cursor{Sort: "api10"})}); err == nil || !strings.HasPrefix(err.Error(), "cursor:") {
		t.Errorf("cursor of another order: %v", err)
	}
	got, err := db.OutboundAPI(ctx, sqlstore.OutboundID("api1.partner.example"))
	if err != nil || got.Host != "api1.partner.example" || got.API10.Severity != "high" || len(got.Operations) != 1 {
		t.Fatalf("OutboundAPI: %+v %v", got, err)
	}
	if _, err := db.OutboundAPI(ctx, "ob_nope"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown id: %v", err)
	}
	o, err := db.Overview(ctx)
	if err != nil || o.OutboundAPIs != 7 || o.OutboundRelevant != 5 || o.Endpoints != 1 {
		t.Errorf("overview %+v %v", o, err)
	}
	ours := Endpoint(3, 1, 1)
	ours.Host = "api2.partner.example"
	rep.Endpoints = append(rep.Endpoints, ours)
	rep.Outbound = append(rep.Outbound[:2], rep.Outbound[3:]...)
	snapshot(t, db, store.Snapshot{Report: rep, EventClock: t0.Add(2 * time.Hour)})
	if got := hosts(store.OutboundFilter{Sort: "requests"}); got != "api0 api1 api3 api4 api5 api6" {
		t.Errorf("after api2 became ours: %s", got)
	}
}

// ---- hostile values ----

// Hostile are filter values an attacker may send: quotes, LIKE wildcards
// and the escape character, NUL, invalid UTF-8, SQL fragments,
// placeholders, bidi controls, a long value.
var Hostile = []string{"'", "''", `\`, `\\`, "%", "_", "%_%", "\x00", "a\x00b", "\xff\xfe", "' OR '1'='1", "'; DROP TABLE alerts; --",
	"$1", "?", `"`, "é", "\u202e", "*", "ep_%", ",", ",,", "--", "/*", strings.Repeat("A", 5000), strings.Repeat("%", 300)}

// testHostileValues: every filter and lookup, given hostile values, runs
// without error (or a clean validation error) and matches nothing in a
// store that holds none of them.
func testHostileValues(t *testing.T, fresh Fresh) {
	db := Open(t, fresh)
	var eps []model.Endpoint
	for i := range 12 {
		eps = append(eps, Endpoint(i, i, int64(i), "email"))
	}
	snapshot(t, db, store.Snapshot{Report: &model.Report{Endpoints: eps, Findings: []model.Finding{{ID: "f1", Rule: "tls", Severity: "low"}},
		Outbound: []model.OutboundAPI{OutboundAPI(1, "high", 3)}}})
	_, err := db.UpsertAlerts(ctx, []model.Alert{Alert(1, "injection.sqli", "high", "192.0.2.1", t0)}, t0)
	must(t, err)
	before := Dump(t, db)
	for _, v := range Hostile {
		name := fmt.Sprintf("%q", v)
		if len(name) > 40 {
			name = name[:40]
		}
		checks := map[string]func() (int, error){
			"endpoints.host":     func() (int, error) { return nEP(db.ListEndpoints(ctx, store.EndpointFilter{Host: v})) },
			"endpoints.state":    func() (int, error) { return nEP(db.ListEndpoints(ctx, store.EndpointFilter{State: v})) },
			"endpoints.exposure": func() (int, error) { return nEP(db.ListEndpoints(ctx, store.EndpointFilter{Exposure: v})) },
			"endpoints.auth":     func() (int, error) { return nEP(db.ListEndpoints(ctx, store.EndpointFilter{Authentication: v})) },
			"endpoints.sens":     func() (int, error) { return nEP(db.ListEndpoints(ctx, store.EndpointFilter{Sensitive: v})) },
			"endpoints.q":        func() (int, error) { return nEP(db.ListEndpoints(ctx, store.EndpointFilter{Q: v})) },
			"endpoint":           func() (int, error) { return one(db.Endpoint(ctx, v)) },
			"endpoints.forhost":  func() (int, error) { l, err := db.EndpointsForHost(ctx, v); return len(l), err },
			"alerts.type":        func() (int, error) { return nAl(db.ListAlerts(ctx, store.AlertFilter{Types: []string{v, v}})) },
			"alerts.sev":         func() (int, error) { return nAl(db.ListAlerts(ctx, store.AlertFilter{Severities: []string{v}})) },
			"alerts.status":      func() (int, error) { return nAl(db.ListAlerts(ctx, store.AlertFilter{Statuses: []string{v}})) },
			"alerts.endpoint":    func() (int, error) { return nAl(db.ListAlerts(ctx, store.AlertFilter{Endpoint: v})) },
			"alerts.client":      func() (int, error) { return nAl(db.ListAlerts(ctx, store.AlertFilter{ClientIP: v})) },
			"alert": func() (int, error) {
				a, _, err := db.Alert(ctx, v)
				return one(a, err)
			},
			"findings.rule":     func() (int, error) { return nF(db.ListFindings(ctx, store.FindingFilter{Rule: v})) },
			"findings.sev":      func() (int, error) { return nF(db.ListFindings(ctx, store.FindingFilter{Severities: []string{v}})) },
			"findings.endpoint": func() (int, error) { return nF(db.ListFindings(ctx, store.FindingFilter{Endpoint: v})) },
			"outbound.q":        func() (int, error) { return nOb(db.ListOutbound(ctx, store.OutboundFilter{Q: v})) },
			"outbound.dest":     func() (int, error) { return nOb(db.ListOutbound(ctx, store.OutboundFilter{Destination: v})) },
			"outbound":          func() (int, error) { return one(db.OutboundAPI(ctx, v)) },
			"setting":           func() (int, error) { _, err := db.Setting(ctx, v); return 1, err },
			"tokenbyhash":       func() (int, error) { return one(db.TokenByHash(ctx, []byte(v))) },
			"session":           func() (int, error) { return one(db.SessionByHash(ctx, []byte(v), t0)) },
			"tombstoned": func() (int, error) {
				m, err := db.Tombstoned(ctx, []string{v})
				return len(m), err
			},
			"deletespecs": func() (int, error) { l, err := db.DeleteSpecs(ctx, v); return len(l), err },
			"deletegw":    func() (int, error) { return 1, db.DeleteGatewayConfig(ctx, v) },
			"triage": func() (int, error) {
				a, err := db.Triage(ctx, v, "acknowledge", "x", "", t0)
				return one(a, err)
			},
			"revoke": func() (int, error) { return 1, db.RevokeToken(ctx, v, t0) },
		}
		for k, fn := range checks {
			n, err := fn()
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				t.Errorf("%s %s: %v", k, name, err)
			} else if n != 0 {
				t.Errorf("%s %s: matched %d", k, name, n)
			}
		}
		for _, sort := range []string{v, "risk; DROP TABLE endpoints"} {
			if _, err := db.ListEndpoints(ctx, store.EndpointFilter{Sort: sort}); err == nil {
				t.Errorf("sort %q accepted", sort)
			}
			if _, err := db.ListAlerts(ctx, store.AlertFilter{Sort: sort}); err == nil {
				t.Errorf("alert sort %q accepted", sort)
			}
		}
		if _, err := db.ListEndpoints(ctx, store.EndpointFilter{Cursor: v}); err == nil {
			t.Errorf("cursor %s accepted", name)
		}
	}
	if after := Dump(t, db); mustJSON(after) != mustJSON(before) {
		t.Fatal("hostile reads changed the store")
	}
}

func nEP(p store.Page[store.EndpointRow], err error) (int, error)  { return len(p.Items), err }
func nAl(p store.Page[store.StoredAlert], err error) (int, error)  { return len(p.Items), err }
func nF(p store.Page[store.StoredFinding], err error) (int, error) { return len(p.Items), err }
func nOb(p store.Page[store.OutboundRow], err error) (int, error)  { return len(p.Items), err }
func one[T any](p *T, err error) (int, error) {
	if p == nil {
		return 0, err
	}
	return 1, err
}

// testHostileStored: hostile strings stored by the analysis (hosts and
// paths come from traffic) are written, found by the same value and by
// substring, and never match by accident.
func testHostileStored(t *testing.T, fresh Fresh) {
	db := Open(t, fresh)
	var eps []model.Endpoint
	for i, v := range Hostile {
		e := Endpoint(i, 10, 1)
		e.Host = "x" + v + ".example"
		e.Path = "/p/" + v
		eps = append(eps, e)
	}
	eps = append(eps, Endpoint(100, 1, 1))
	snapshot(t, db, store.Snapshot{Report: &model.Report{Endpoints: eps}})
	var als []model.Alert
	for i, v := range Hostile {
		a := Alert(i, "injection.sqli", "high", v, t0)
		a.Endpoint = &model.EndpointRef{Host: "x" + v, Method: "GET", Path: "/p/" + v}
		als = append(als, a)
	}
	_, err := db.UpsertAlerts(ctx, als, t0)
	must(t, err)
	for i, v := range Hostile {
		name := fmt.Sprintf("%q", v)
		if len(name) > 40 {
			name = name[:40]
		}
		want := db.Dialect().Text(v)
		// Values the database stores alike are one value for it.
		same := 0
		for _, w := range Hostile {
			if db.Dialect().Text(w) == want {
				same++
			}
		}
		p, err := db.ListEndpoints(ctx, store.EndpointFilter{Host: "x" + v + ".example"})
		if err != nil || len(p.Items) != same || !strings.HasPrefix(p.Items[0].Path, "/p/") {
			t.Errorf("host %s: %d, %v", name, len(p.Items), err)
			continue
		}
		if _, err := db.Endpoint(ctx, sqlstore.EndpointID(eps[i].Ref())); err != nil {
			t.Errorf("detail %s: %v", name, err)
		}
		// Substring: every stored path containing the value, no other.
		wantQ := 0
		for _, e := range eps {
			if strings.Contains(asciiLower(db.Dialect().Text(e.Path)), asciiLower(want)) || strings.Contains(asciiLower(db.Dialect().Text(e.Host)), asciiLower(want)) {
				wantQ++
			}
		}
		if got := collectEndpoints(t, db, store.EndpointFilter{Q: v, Limit: 500}); len(got) != wantQ {
			t.Errorf("q %s: %d, want %d", name, len(got), wantQ)
		}
		ap, err := db.ListAlerts(ctx, store.AlertFilter{ClientIP: v})
		if err != nil || len(ap.Items) != same {
			t.Errorf("alerts by client %s: %d, %v", name, len(ap.Items), err)
		}
		ap, err = db.ListAlerts(ctx, store.AlertFilter{Endpoint: als[i].Endpoint.Key()})
		if err != nil || len(ap.Items) != same {
			t.Errorf("alerts by endpoint %s: %d, %v", name, len(ap.Items), err)
		}
		got, _, err := db.Alert(ctx, als[i].ID)
		if err != nil || got.Client.IP != jsonText(v) {
			t.Errorf("alert document %s: %v", name, err)
		}
	}
}

func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// jsonText is s after a JSON round trip (invalid UTF-8 becomes U+FFFD).
func jsonText(s string) string {
	var out string
	_ = json.Unmarshal([]byte(mustJSON(s)), &out)
	return out
}

// ---- idempotence ----

func checkpointFixture() (store.Snapshot, []model.Alert) {
	var eps []model.Endpoint
	for i := range 30 {
		eps = append(eps, Endpoint(i, i, int64(10+i), "email"))
	}
	rep := &model.Report{Endpoints: eps, Findings: []model.Finding{{ID: "f1", Rule: "tls", Severity: "low"}, {ID: "f2", Rule: "cors", Severity: "high"}},
		Outbound: []model.OutboundAPI{OutboundAPI(1, "high", 3), OutboundAPI(2, "", 5)}}
	snap := store.Snapshot{Report: rep, EventClock: t0.Add(time.Hour), Records: 500, Traffic: map[int64]int64{store.HourBucket(t0): 400, store.HourBucket(t0.Add(time.Hour)): 100}, Seq: 10}
	var als []model.Alert
	for i := range 20 {
		als = append(als, Alert(i, "injection.sqli", "high", fmt.Sprintf("192.0.2.%d", i), t0))
	}
	return snap, als
}

// testReplayIdempotent: a checkpoint written twice (at-least-once
// delivery) leaves the store as written once, and the second write
// reports nothing new.
func testReplayIdempotent(t *testing.T, fresh Fresh) {
	db := Open(t, fresh)
	snap, als := checkpointFixture()
	must(t, db.SaveSnapshot(ctx, snap, t0))
	r, err := db.UpsertAlerts(ctx, als, t0)
	must(t, err)
	if len(r.Created) != len(als) {
		t.Fatalf("created %d", len(r.Created))
	}
	once := Dump(t, db)
	must(t, db.SaveSnapshot(ctx, snap, t0.Add(time.Minute)))
	r, err = db.UpsertAlerts(ctx, als, t0.Add(time.Minute))
	must(t, err)
	if len(r.Created)+len(r.Updated) != 0 || r.Suppressed != 0 {
		t.Fatalf("replay reported %+v", r)
	}
	if twice := Dump(t, db); mustJSON(twice) != mustJSON(once) {
		diffDump(t, once, twice)
	}
	// Without a Seq the inventory and findings are still idempotent
	// (only Traffic, an increment, needs the Seq).
	snap.Seq, snap.Traffic = 0, nil
	must(t, db.SaveSnapshot(ctx, snap, t0))
	must(t, db.SaveSnapshot(ctx, snap, t0))
	a := Dump(t, db)
	must(t, db.SaveSnapshot(ctx, snap, t0))
	if b := Dump(t, db); mustJSON(a) != mustJSON(b) {
		diffDump(t, a, b)
	}
}

func diffDump(t testing.TB, a, b map[string][]string) {
	t.Helper()
	for tb := range b {
		if mustJSON(a[tb]) != mustJSON(b[tb]) {
			t.Errorf("table %s changed:\n%s\n→\n%s", tb, strings.Join(a[tb], "\n"), strings.Join(b[tb], "\n"))
		}
	}
	t.FailNow()
}

// testSnapshotSeq: a snapshot at or below the last Seq written is a
// replay; a newer one applies.
func testSnapshotSeq(t *testing.T, fresh Fresh) {
	db := Open(t, fresh)
	snap, _ := checkpointFixture()
	must(t, db.SaveSnapshot(ctx, snap, t0))
	before := Dump(t, db)
	older := snap
	older.Seq = 9
	older.Report = &model.Report{Endpoints: []model.Endpoint{Endpoint(99, 1, 1)}}
	older.Traffic = map[int64]int64{store.HourBucket(t0): 1}
	must(t, db.SaveSnapshot(ctx, older, t0.Add(time.Hour)))
	if after := Dump(t, db); mustJSON(after) != mustJSON(before) {
		diffDump(t, before, after)
	}
	newer := older
	newer.Seq = 11
	must(t, db.SaveSnapshot(ctx, newer, t0.Add(time.Hour)))
	o, _ := db.Overview(ctx)
	if o.Endpoints != 31 || o.Traffic[0].Requests != 401 {
		t.Fatalf("newer snapshot not applied: %d endpoints, traffic %+v", o.Endpoints, o.Traffic)
	}
	if v, _ := db.Setting(ctx, "sys.snapshot_seq"); v != "11" {
		t.Fatalf("seq %q", v)
	}
}

// ---- privacy ----

func testRetention(t *testing.T, fresh Fresh) {
	db := Open(t, fresh)
	old := Alert(1, "injection.sqli", "high", "203.0.113.9", t0.Add(-40*24*time.Hour))
	old.Clients = []model.ClientCount{{IP: "203.0.113.9", Count: 2}, {IP: "203.0.113.8", Count: 1}}
	older := Alert(2, "injection.sqli", "high", "203.0.113.10", t0.Add(-100*24*time.Hour))
	fresh1 := Alert(3, "injection.sqli", "high", "203.0.113.11", t0)
	_, err := db.UpsertAlerts(ctx, []model.Alert{old, older, fresh1}, t0)
	must(t, err)
	_, err = db.Triage(ctx, older.ID, "acknowledge", "x", "reason-of-older", t0)
	must(t, err)
	_, err = db.Triage(ctx, fresh1.ID, "acknowledge", "x", "same actor as 203.0.113.8, not 203.0.113.80", t0)
	must(t, err)
	must(t, db.Audit(ctx, store.AuditEntry{At: t0, Actor: "x", Action: "alert.triage", Target: old.ID, Detail: map[string]any{"reason": "from 203.0.113.9."}}))
	must(t, db.Audit(ctx, store.AuditEntry{At: t0.Add(-400 * 24 * time.Hour), Actor: "x", Action: "old"}))
	must(t, db.Audit(ctx, store.AuditEntry{At: t0, Actor: "x", Action: "new"}))
	sh := sha256.Sum256([]byte("s"))
	must(t, db.CreateSession(ctx, store.Session{Hash: sh[:], CSRFHash: []byte{1}, TokenID: "t", Role: "admin", CreatedAt: t0.Add(-2 * time.Hour), ExpiresAt: t0.Add(-time.Hour)}))
	snapshot(t, db, store.Snapshot{Traffic: map[int64]int64{store.HourBucket(t0.Add(-100 * 24 * time.Hour)): 5, store.HourBucket(t0): 7}})
	pseudo := func(ip string) string { return "anon-" + fmt.Sprintf("%x", sha256.Sum256([]byte(ip)))[:8] }
	pol := store.RetentionPolicy{ClientIPs: 30 * 24 * time.Hour, Alerts: 90 * 24 * time.Hour, Audit: 365 * 24 * time.Hour}
	r, err := db.ApplyRetention(ctx, pol, t0, t0, pseudo)
	must(t, err)
	if r.AlertsDeleted != 1 || r.AlertsPseudonymize != 1 || r.AuditDeleted != 1 {
		t.Fatalf("%+v", r)
	}
	got, _, err := db.Alert(ctx, old.ID)
	if err != nil || !strings.HasPrefix(got.Client.IP, "anon-") || got.Clients[1].IP != pseudo("203.0.113.8") || got.Evidence.Samples[0].Client != pseudo("203.0.113.9") {
		t.Fatalf("not pseudonymized: %s", mustJSON(got))
	}
	if p, _ := db.ListAlerts(ctx, store.AlertFilter{ClientIP: pseudo("203.0.113.9")}); len(p.Items) != 1 {
		t.Fatal("pseudonymized alert not found by its pseudonym")
	}
	d := Dump(t, db)
	for _, ip := range []string{"203.0.113.9", "203.0.113.8", "203.0.113.10"} {
		if rows := containing(d, ip); len(rows) != 0 && !(ip == "203.0.113.8" && len(rows) == 1 && strings.Count(rows[0], ip) == 1 && strings.Contains(rows[0], "203.0.113.80")) {
			t.Errorf("%s left after retention: %v", ip, rows)
		}
	}
	if rows := containing(d, "reason-of-older"); len(rows) != 0 {
		t.Errorf("history of a deleted alert kept: %v", rows)
	}
	if rows := containing(d, "same actor as "+pseudo("203.0.113.8")+", not 203.0.113.80"); len(rows) != 1 {
		t.Errorf("free text not pseudonymized: %v", d["alert_history"])
	}
	if rows := containing(d, "from "+pseudo("203.0.113.9")+"."); len(rows) != 1 {
		t.Errorf("audit detail not pseudonymized: %v", d["audit_log"])
	}
	if len(d["sessions"]) != 0 || len(d["audit_log"]) != 2 {
		t.Errorf("sessions %v audit %v", d["sessions"], d["audit_log"])
	}
	if o, _ := db.Overview(ctx); len(o.Traffic) != 1 || o.Traffic[0].Requests != 7 {
		t.Errorf("expired traffic kept: %+v", o.Traffic)
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
	// Tombstones expire with the client-address period (wall time).
	_, err = db.EraseIdentity(ctx, "id_x", "id:id_x", t0)
	must(t, err)
	r, _ = db.ApplyRetention(ctx, pol, t0, t0.Add(31*24*time.Hour), pseudo)
	if r.TombstonesDeleted != 1 {
		t.Fatalf("tombstone: %+v", r)
	}
}

func testEraseIP(t *testing.T, fresh Fresh) {
	db := Open(t, fresh)
	ip := "203.0.113.9"
	a := Alert(1, "injection.sqli", "high", ip, t0)
	ep := Alert(2, "traffic.endpoint_spike", "medium", "", t0)
	ep.Subject, ep.Client = "endpoint", nil
	ep.Evidence.Samples = []model.Sample{{URL: "https://h/x", Client: ip}, {URL: "https://h/y", Client: "192.0.2.1"}}
	idn := Alert(3, "auth.token_reuse", "high", "", t0)
	idn.Subject, idn.Client, idn.Identity = "identity", nil, &model.IdentityRef{ID: "id_abc", Kind: "jwt"}
	idn.Clients = []model.ClientCount{{IP: ip, Count: 3}, {IP: "192.0.2.5", Count: 1}}
	// The same address stored in another spelling (before ingest
	// canonicalized addresses).
	mapped := Alert(4, "injection.xss", "high", "::ffff:"+ip, t0)
	v6 := "2001:db8::9"
	six := Alert(5, "injection.xss", "high", "2001:0db8:0000::9", t0)
	other := Alert(6, "injection.xss", "high", "203.0.113.90", t0) // the IP as a prefix of another
	_, err := db.UpsertAlerts(ctx, []model.Alert{a, ep, idn, mapped, six, other}, t0)
	must(t, err)
	_, err = db.Triage(ctx, a.ID, "false_positive", "tk", "our scanner at "+ip, t0)
	must(t, err)
	_, err = db.Triage(ctx, ep.ID, "acknowledge", "tk", "spike from "+ip+" (and 203.0.113.90)", t0)
	must(t, err)
	must(t, db.Audit(ctx, store.AuditEntry{At: t0, Actor: "tk", Action: "alert.triage", Target: ep.ID, Detail: map[string]any{"reason": "spike from " + ip}}))
	r, err := db.EraseClientIP(ctx, ip, "ip:tomb", t0)
	if err != nil || r.AlertsDeleted != 2 || r.SamplesRemoved != 1 {
		t.Fatalf("%+v %v", r, err)
	}
	if got, _, _ := db.Alert(ctx, idn.ID); len(got.Clients) != 1 || got.ClientsOther != 3 {
		t.Fatalf("clients: %s", mustJSON(got))
	}
	if got, _, _ := db.Alert(ctx, ep.ID); len(got.Evidence.Samples) != 1 {
		t.Fatalf("samples: %s", mustJSON(got))
	}
	if _, _, err := db.Alert(ctx, other.ID); err != nil {
		t.Fatalf("alert of 203.0.113.90 erased: %v", err)
	}
	d := Dump(t, db)
	var left []string
	for _, row := range containing(d, ip) {
		if !strings.Contains(row, "203.0.113.90") || strings.Count(row, ip) != strings.Count(row, "203.0.113.90") {
			left = append(left, row)
		}
	}
	if len(left) != 0 {
		t.Fatalf("%s left after erasure:\n%s", ip, strings.Join(left, "\n"))
	}
	if rows := containing(d, "spike from [erased] (and 203.0.113.90)"); len(rows) != 1 {
		t.Fatalf("free text of another alert: %v", d["alert_history"])
	}
	r, err = db.EraseClientIP(ctx, v6, "ip:tomb6", t0)
	if err != nil || r.AlertsDeleted != 1 {
		t.Fatalf("IPv6 in another spelling: %+v %v", r, err)
	}
	if rows := containing(Dump(t, db), "2001:0db8"); len(rows) != 0 {
		t.Fatalf("left: %v", rows)
	}
	ts, err := db.Tombstoned(ctx, []string{"ip:tomb", "ip:tomb6", "ip:other"})
	if err != nil || !ts["ip:tomb"] || !ts["ip:tomb6"] || ts["ip:other"] || len(ts) != 2 {
		t.Fatalf("%v %v", ts, err)
	}
	// Erasing again finds nothing and keeps one tombstone.
	r, err = db.EraseClientIP(ctx, ip, "ip:tomb", t0.Add(time.Hour))
	if err != nil || r.AlertsDeleted+r.SamplesRemoved != 0 {
		t.Fatalf("again: %+v %v", r, err)
	}
	if rows := containing(Dump(t, db), "ip:tomb"); len(rows) != 2 {
		t.Fatalf("tombstones %v", rows)
	}
}

func testEraseIdentity(t *testing.T, fresh Fresh) {
	db := Open(t, fresh)
	idn := Alert(3, "auth.token_reuse", "high", "", t0)
	idn.Subject, idn.Client, idn.Identity = "identity", nil, &model.IdentityRef{ID: "id_abc", Kind: "jwt"}
	keep := Alert(4, "auth.token_reuse", "high", "", t0)
	keep.Subject, keep.Client, keep.Identity = "identity", nil, &model.IdentityRef{ID: "id_abcd", Kind: "jwt"}
	_, err := db.UpsertAlerts(ctx, []model.Alert{idn, keep}, t0)
	must(t, err)
	_, err = db.Triage(ctx, idn.ID, "resolve", "tk", "done", t0)
	must(t, err)
	_, err = db.Triage(ctx, keep.ID, "resolve", "tk", "not id_abc but id_abcd", t0)
	must(t, err)
	r, err := db.EraseIdentity(ctx, "id_abc", "id:id_abc", t0)
	if err != nil || r.AlertsDeleted != 1 {
		t.Fatalf("%+v %v", r, err)
	}
	d := Dump(t, db)
	for _, row := range containing(d, `id_abc"`) {
		t.Errorf("left: %s", row)
	}
	if len(d["alert_history"]) != 1 || !strings.Contains(d["alert_history"][0], "not [erased] but id_abcd") {
		t.Errorf("history: %v", d["alert_history"])
	}
	if _, _, err := db.Alert(ctx, keep.ID); err != nil {
		t.Fatal("another identity's alert erased")
	}
	ts, _ := db.Tombstoned(ctx, []string{"id:id_abc", "id:id_abcd"})
	if !ts["id:id_abc"] || ts["id:id_abcd"] {
		t.Fatalf("%v", ts)
	}
}

// testTombstonedMany: more keys than a statement may bind.
func testTombstonedMany(t *testing.T, fresh Fresh) {
	db := Open(t, fresh)
	for i := range 3 {
		_, err := db.EraseIdentity(ctx, fmt.Sprint("id_", i*30000), fmt.Sprint("id:id_", i*30000), t0)
		must(t, err)
	}
	keys := make([]string, 70000)
	for i := range keys {
		keys[i] = fmt.Sprint("id:id_", i)
	}
	ts, err := db.Tombstoned(ctx, keys)
	if err != nil || len(ts) != 3 || !ts["id:id_60000"] {
		t.Fatalf("%d %v", len(ts), err)
	}
	if ts, err := db.Tombstoned(ctx, nil); err != nil || len(ts) != 0 {
		t.Fatalf("%v %v", ts, err)
	}
}

// ---- pools, deadlines, concurrency ----

// testPoolIsolation: user queries run on their own pool. With every
// connection of the query pool held, token lookups (authentication) and
// writes still answer at once, and a further user query waits for its
// deadline.
func testPoolIsolation(t *testing.T, fresh Fresh) {
	db := Open(t, fresh)
	_, q := db.Pools()
	var held []*sql.Conn
	for range sqlstore.QueryConns {
		c, err := q.Conn(ctx)
		must(t, err)
		held = append(held, c)
	}
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := db.CountTokens(tctx); err != nil {
		t.Fatalf("authentication pool starved: %v", err)
	}
	if _, err := db.TokenByHash(tctx, []byte("x")); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("authentication pool starved: %v", err)
	}
	if err := db.Audit(tctx, store.AuditEntry{At: t0, Actor: "test", Action: "test"}); err != nil {
		t.Fatalf("write pool starved: %v", err)
	}
	if _, err := db.UpsertAlerts(tctx, []model.Alert{Alert(1, "injection.sqli", "high", "192.0.2.1", t0)}, t0); err != nil {
		t.Fatalf("checkpoint starved: %v", err)
	}
	qctx, qcancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer qcancel()
	if _, err := db.Overview(qctx); err == nil {
		t.Fatal("query pool larger than QueryConns")
	}
	if _, err := db.ListEndpoints(qctx, store.EndpointFilter{}); err == nil {
		t.Fatal("query pool larger than QueryConns")
	}
}

// testDeadlines: every query honours the caller's deadline.
func testDeadlines(t *testing.T, fresh Fresh) {
	db := Open(t, fresh)
	done, cancel := context.WithCancel(ctx)
	cancel()
	calls := map[string]func(context.Context) error{
		"ListEndpoints": func(c context.Context) error { _, err := db.ListEndpoints(c, store.EndpointFilter{}); return err },
		"ListAlerts":    func(c context.Context) error { _, err := db.ListAlerts(c, store.AlertFilter{}); return err },
		"Overview":      func(c context.Context) error { _, err := db.Overview(c); return err },
		"TokenByHash":   func(c context.Context) error { _, err := db.TokenByHash(c, []byte("x")); return err },
		"SaveSnapshot":  func(c context.Context) error { return db.SaveSnapshot(c, store.Snapshot{}, t0) },
		"UpsertAlerts": func(c context.Context) error {
			_, err := db.UpsertAlerts(c, []model.Alert{Alert(1, "a", "low", "192.0.2.1", t0)}, t0)
			return err
		},
		"ApplyRetention": func(c context.Context) error {
			_, err := db.ApplyRetention(c, store.RetentionPolicy{Alerts: time.Hour}, t0, t0, func(s string) string { return s })
			return err
		},
	}
	for name, fn := range calls {
		err := fn(done)
		if err == nil || !errors.Is(err, context.Canceled) && !strings.Contains(err.Error(), "cancel") {
			t.Errorf("%s with a cancelled context: %v", name, err)
		}
	}
	// A deadline during a long query ends it (the server's
	// request_timeout bounds every API query this way).
	var eps []model.Endpoint
	for i := range 3000 {
		eps = append(eps, Endpoint(i, i%50, int64(i), "email"))
	}
	snapshot(t, db, store.Snapshot{Report: &model.Report{Endpoints: eps}})
	start := time.Now()
	dctx, dcancel := context.WithTimeout(ctx, time.Millisecond)
	defer dcancel()
	for i := 0; i < 200 && time.Since(start) < 10*time.Second; i++ {
		if _, err := db.ListEndpoints(dctx, store.EndpointFilter{Q: "items", Limit: 500}); err != nil {
			return
		}
	}
	t.Fatal("queries past the deadline kept answering")
}

// testConcurrentWriters: checkpoints, triage and token writes from many
// goroutines at once: every alert is reported created exactly once, no
// update is lost, triage survives upserts.
func testConcurrentWriters(t *testing.T, fresh Fresh) {
	db := Open(t, fresh)
	const writers, rounds, nAlerts = 6, 5, 40
	var mu sync.Mutex
	created := map[string]int{}
	var wg sync.WaitGroup
	errc := make(chan error, 100)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := range rounds {
				var batch []model.Alert
				for i := range nAlerts {
					a := Alert(i, "injection.sqli", "high", fmt.Sprintf("192.0.2.%d", i), t0.Add(time.Duration(r)*time.Minute))
					a.Count = int64(w*rounds + r + 1)
					batch = append(batch, a)
				}
				res, err := db.UpsertAlerts(ctx, batch, t0)
				if err != nil {
					errc <- fmt.Errorf("upsert: %w", err)
					return
				}
				mu.Lock()
				for _, a := range res.Created {
					created[a.ID]++
				}
				mu.Unlock()
				e := Endpoint(w, 1, int64(r+1))
				if err := db.SaveSnapshot(ctx, store.Snapshot{Report: &model.Report{Endpoints: []model.Endpoint{e}}, EventClock: t0,
					Traffic: map[int64]int64{store.HourBucket(t0): 1}}, t0); err != nil {
					errc <- fmt.Errorf("snapshot: %w", err)
					return
				}
				h := sha256.Sum256([]byte(fmt.Sprint(w, r)))
				if err := db.CreateToken(ctx, store.Token{ID: fmt.Sprint("tk_", w, "_", r), Role: "viewer", Hash: h[:], CreatedAt: t0}); err != nil {
					errc <- fmt.Errorf("token: %w", err)
					return
				}
				if _, err := db.TokenByHash(ctx, h[:]); err != nil {
					errc <- fmt.Errorf("token lookup: %w", err)
					return
				}
			}
		}()
	}
	// Triage while upserts run (after the alerts exist).
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < nAlerts; i += 4 {
			id := fmt.Sprintf("al_%04d", i)
			for range 200 {
				if _, err := db.Triage(ctx, id, "acknowledge", "tk", "", t0); err == nil {
					break
				} else if !errors.Is(err, store.ErrNotFound) {
					errc <- fmt.Errorf("triage: %w", err)
					return
				}
				time.Sleep(5 * time.Millisecond)
			}
		}
	}()
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	if t.Failed() {
		return
	}
	if len(created) != nAlerts {
		t.Fatalf("%d alerts created", len(created))
	}
	for id, n := range created {
		if n != 1 {
			t.Errorf("%s reported created %d times", id, n)
		}
	}
	for i := range nAlerts {
		a, hist, err := db.Alert(ctx, fmt.Sprintf("al_%04d", i))
		must(t, err)
		if a.Count != writers*rounds || !a.LastSeen.Equal(t0.Add(time.Duration(rounds-1)*time.Minute)) {
			t.Errorf("%s: count %d last %v", a.ID, a.Count, a.LastSeen)
		}
		if i%4 == 0 && (a.Status != store.StatusAcknowledged || len(hist) != 1) {
			t.Errorf("%s: triage lost: %s %+v", a.ID, a.Status, hist)
		}
	}
	o, err := db.Overview(ctx)
	must(t, err)
	if len(o.Traffic) != 1 || o.Traffic[0].Requests != writers*rounds {
		t.Errorf("traffic %+v, want %d", o.Traffic, writers*rounds)
	}
	if n, _ := db.CountTokens(ctx); n != writers*rounds {
		t.Errorf("%d tokens", n)
	}
}

// ---- migrations ----

// testUpgrade: a database made by the first migration alone (before
// outbound[] existed), holding endpoint rows of a third-party host, is
// upgraded in place by Open; the next snapshot moves the host to the
// third-party list.
func testUpgrade(t *testing.T, fresh Fresh) {
	raw, open := fresh(t)
	d := sqlstore.SQLite
	if isPostgres(raw) {
		d = sqlstore.Postgres
	}
	must(t, sqlstore.MigrateTo(ctx, d, raw, 1))
	if _, err := raw.ExecContext(ctx, `INSERT INTO endpoints (id, host, method, path, state, exposure, authentication, sensitive, risk, requests, first_seen, last_seen, doc, updated_at)
		VALUES ('ep_old', 'api0.partner.example', 'POST', '/v1/events', 'active', 'internal', 'required', ',,', 10, 5, 0, 0, '{}', 0)`); err != nil {
		t.Fatal(err)
	}
	db, err := open()
	must(t, err)
	defer db.Close()
	if p, err := db.ListOutbound(ctx, store.OutboundFilter{}); err != nil || len(p.Items) != 0 {
		t.Fatalf("migrated, empty list: %+v %v", p, err)
	}
	if specs, err := db.ListSpecs(ctx); err != nil || len(specs) != 0 {
		t.Fatalf("specs after migration: %v", err)
	}
	snapshot(t, db, store.Snapshot{Report: &model.Report{Outbound: []model.OutboundAPI{OutboundAPI(0, "medium", 5)}}})
	if p, _ := db.ListEndpoints(ctx, store.EndpointFilter{}); len(p.Items) != 0 {
		t.Errorf("old endpoint row of the third-party host kept: %+v", p.Items)
	}
	if p, _ := db.ListOutbound(ctx, store.OutboundFilter{}); len(p.Items) != 1 {
		t.Errorf("third-party list %+v", p.Items)
	}
}

func isPostgres(db *sql.DB) bool {
	var v string
	return db.QueryRowContext(ctx, `SELECT version()`).Scan(&v) == nil && strings.HasPrefix(v, "PostgreSQL")
}
