package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/store"
)

func outboundAPI(i int, sev string, reqs int64) model.OutboundAPI {
	ls := t0.Add(time.Duration(i) * time.Minute)
	o := model.OutboundAPI{Host: fmt.Sprintf("api%d.partner.example", i), Destination: "external", FirstSeen: &t0, LastSeen: &ls, Requests: reqs,
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

// TestOutboundStore: snapshots store the third-party APIs; the list pages
// by relevance, calls or last call with filters; an old endpoint row of a
// host that the snapshot calls a third party is removed, and a third-party
// row of a host that became ours.
func TestOutboundStore(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	sevs := []string{"", "high", "info", "", "medium", "low", "critical"}
	rep := &model.Report{Endpoints: []model.Endpoint{endpoint(1, 10, 5)}}
	for i := range 7 {
		rep.Outbound = append(rep.Outbound, outboundAPI(i, sevs[i], int64(100-i*10)))
	}
	// An endpoint row stored for a host before its calls were known to be
	// outbound (main before outbound[] existed).
	legacy := endpoint(2, 50, 9)
	legacy.Host = "api4.partner.example"
	if err := db.SaveSnapshot(ctx, store.Snapshot{Report: &model.Report{Endpoints: []model.Endpoint{legacy}}, EventClock: t0}, t0); err != nil {
		t.Fatal(err)
	}
	if err := db.SaveSnapshot(ctx, store.Snapshot{Report: rep, EventClock: t0.Add(time.Hour)}, t0); err != nil {
		t.Fatal(err)
	}
	if eps, _ := db.EndpointsForHost(ctx, "api4.partner.example"); len(eps) != 0 {
		t.Errorf("endpoint rows of a third-party host kept: %+v", eps)
	}
	var n int64
	if err := db.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM endpoint_traffic WHERE endpoint_id = $1`, EndpointID(legacy.Ref())).Scan(&n); err != nil || n != 0 {
		t.Errorf("traffic rows of the removed endpoint: %d, %v", n, err)
	}
	hosts := func(f store.OutboundFilter) string {
		t.Helper()
		var out []string
		for {
			p, err := db.ListOutbound(ctx, f)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range p.Items {
				if r.ID != OutboundID(r.Host) {
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
	// critical, high, medium, low, info, then the two not relevant (by id)
	notRelevant := "api0 api3"
	if OutboundID("api3.partner.example") < OutboundID("api0.partner.example") {
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
	got, err := db.OutboundAPI(ctx, OutboundID("api1.partner.example"))
	if err != nil || got.Host != "api1.partner.example" || got.API10.Severity != "high" || len(got.Operations) != 1 {
		t.Fatalf("OutboundAPI: %+v %v", got, err)
	}
	if _, err := db.OutboundAPI(ctx, "ob_nope"); err != store.ErrNotFound {
		t.Errorf("unknown id: %v", err)
	}
	o, err := db.Overview(ctx)
	if err != nil || o.OutboundAPIs != 7 || o.OutboundRelevant != 5 || o.Endpoints != 1 {
		t.Errorf("overview %+v %v", o, err)
	}
	// api2 receives an inbound call: it is ours now.
	ours := endpoint(3, 1, 1)
	ours.Host = "api2.partner.example"
	rep.Endpoints = append(rep.Endpoints, ours)
	rep.Outbound = append(rep.Outbound[:2], rep.Outbound[3:]...)
	if err := db.SaveSnapshot(ctx, store.Snapshot{Report: rep, EventClock: t0.Add(2 * time.Hour)}, t0); err != nil {
		t.Fatal(err)
	}
	if got := hosts(store.OutboundFilter{Sort: "requests"}); got != "api0 api1 api3 api4 api5 api6" {
		t.Errorf("after api2 became ours: %s", got)
	}
}

// TestOutboundMigration: a database made by the first migration alone
// (before outbound[] existed), holding endpoint rows of a third-party
// host, is upgraded in place; the next snapshot moves the host to the
// third-party list.
func TestOutboundMigration(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	sub, _ := fs.Sub(migrations, "migrations/sqlite")
	prov, err := goose.NewProvider(goose.DialectSQLite3, raw, sub)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := prov.UpTo(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if _, err := raw.ExecContext(ctx, `INSERT INTO endpoints (id, host, method, path, state, exposure, authentication, sensitive, risk, requests, first_seen, last_seen, doc, updated_at)
		VALUES ('ep_old', 'api0.partner.example', 'POST', '/v1/events', 'active', 'internal', 'required', ',,', 10, 5, 0, 0, '{}', 0)`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if p, err := db.ListOutbound(ctx, store.OutboundFilter{}); err != nil || len(p.Items) != 0 {
		t.Fatalf("migrated, empty list: %+v %v", p, err)
	}
	if err := db.SaveSnapshot(ctx, store.Snapshot{Report: &model.Report{Outbound: []model.OutboundAPI{outboundAPI(0, "medium", 5)}}, EventClock: t0}, t0); err != nil {
		t.Fatal(err)
	}
	if p, _ := db.ListEndpoints(ctx, store.EndpointFilter{}); len(p.Items) != 0 {
		t.Errorf("old endpoint row of the third-party host kept: %+v", p.Items)
	}
	if p, _ := db.ListOutbound(ctx, store.OutboundFilter{}); len(p.Items) != 1 {
		t.Errorf("third-party list %+v", p.Items)
	}
}
