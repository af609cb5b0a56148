package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/activity"
	"github.com/palisade-sec/palisade/internal/engine"
	"github.com/palisade-sec/palisade/internal/store"
)

// TestAPIOnEveryStore runs the REST API end to end with the real engine on
// each store — the SQLite file and PostgreSQL (skipped without a test
// database, mandatory under CI=true: pgtest) — and asserts the same
// things on both: ingest → checkpoint → endpoints, alerts, findings and
// subjects read back; a token created in the store works at once and stops
// working when revoked; alert and finding triage with history; roles.
// When both ran, their answers must be equal.
func TestAPIOnEveryStore(t *testing.T) {
	answers := map[string]apiAnswers{}
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) { answers[kind] = apiScenario(t, kind) })
	}
	a, okA := answers["sqlite"]
	b, okB := answers["postgres"]
	if okA && okB && !reflect.DeepEqual(a, b) {
		x, _ := json.MarshalIndent(a, "", " ")
		y, _ := json.MarshalIndent(b, "", " ")
		t.Fatalf("SQLite and PostgreSQL answer differently:\nsqlite:   %s\npostgres: %s", x, y)
	}
}

// apiAnswers is what the API answered, without wall-clock times.
type apiAnswers struct {
	Endpoints []string // "METHOD host/path requests risk"
	Alerts    []string // "id type severity count"
	Findings  []string // "id rule severity"
	Subjects  []string // "kind id requests"
	Overview  int64    // records processed
}

// e2eTraffic: normal reads of three endpoints by five clients, and one
// client sending script injection and SQL injection in a query parameter
// with Basic credentials.
func e2eTraffic() (string, int) {
	var b strings.Builder
	n := 0
	add := func(i int, ip, path, auth string, status int) {
		h := ""
		if auth != "" {
			h = `,"headers":{"authorization":"` + auth + `"}`
		}
		fmt.Fprintf(&b, `{"time":%q,"client":{"ip":%q},"request":{"method":"GET","url":"https://api.example.com%s"%s},"response":{"status":%d}}`+"\n",
			base.Add(time.Duration(i)*time.Second).Format(time.RFC3339Nano), ip, path, h, status)
		n++
	}
	for i := range 120 {
		ip := fmt.Sprintf("198.51.100.%d", 10+i%5)
		add(i, ip, fmt.Sprintf("/v1/items/%d", 1000+i%7), "", 200)
		add(i, ip, "/v1/health", "", 200)
	}
	for i := range 30 {
		payload := url.QueryEscape("<script>alert(1)</script>")
		if i%2 == 1 {
			payload = url.QueryEscape("1' OR '1'='1' --")
		}
		add(120+i, "203.0.113.66", "/v1/search?q="+payload, "Basic bWFsbG9yeTpzM2NyM3Q=", 200)
	}
	return b.String(), n
}

func apiScenario(t *testing.T, kind string) apiAnswers {
	eng := activityEngine(t)
	dir := t.TempDir()
	st, err := openTestStoreOn(t, kind, dir, "palisade.db")
	if err != nil {
		t.Fatal(err)
	}
	env := startEnv(t, dir, st, nil, func(o *Options) { o.Engine, o.IdleFlush = eng, 200*time.Millisecond }, eng)
	traffic, n := e2eTraffic()
	if resp, body := env.do(t, "POST", "/api/v1/ingest", "ingest", strings.NewReader(traffic)); resp.StatusCode != 200 {
		t.Fatalf("ingest %d %s", resp.StatusCode, body)
	}
	// The answers once the input is processed and two reads agree (the
	// last checkpoint written).
	var got apiAnswers
	waitFor(t, "checkpoint of all records", func() bool {
		a := readAnswers(t, env)
		if a.Overview != int64(n) || len(a.Alerts) == 0 || !reflect.DeepEqual(a, got) {
			got = a
			time.Sleep(150 * time.Millisecond)
			return false
		}
		return true
	})
	if len(got.Endpoints) < 3 || len(got.Findings) == 0 || len(got.Subjects) < 6 {
		t.Fatalf("too little stored: %+v", got)
	}
	t.Logf("%s: %d records, %d endpoints, %d alerts, %d findings, %d subjects", kind, got.Overview, len(got.Endpoints), len(got.Alerts), len(got.Findings), len(got.Subjects))
	var types []string
	for _, a := range got.Alerts {
		types = append(types, strings.Fields(a)[1])
	}
	if !strings.Contains(strings.Join(types, " "), "injection.") {
		t.Errorf("no injection alert from the attack traffic: %v", types)
	}

	// Tokens: one created in the store (as palisade token create does)
	// works at once; revoked, it stops working.
	ctx := context.Background()
	sec, tk, err := NewToken(store.RoleViewer, "e2e", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.CreateToken(ctx, tk); err != nil {
		t.Fatal(err)
	}
	env.tokens["e2e"] = sec
	if resp, _ := env.do(t, "GET", "/api/v1/alerts", "e2e", nil); resp.StatusCode != 200 {
		t.Errorf("new token: %d", resp.StatusCode)
	}
	if resp, _ := env.do(t, "POST", "/api/v1/alerts/x/triage", "e2e", strings.NewReader(`{"action":"acknowledge"}`)); resp.StatusCode != 403 {
		t.Errorf("viewer triage: %d, want 403", resp.StatusCode)
	}
	if err := st.RevokeToken(ctx, tk.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if resp, _ := env.do(t, "GET", "/api/v1/alerts", "e2e", nil); resp.StatusCode != 401 {
		t.Errorf("revoked token: %d, want 401", resp.StatusCode)
	}

	// Alert triage, with its history.
	id := strings.Fields(got.Alerts[0])[0]
	resp, body := env.do(t, "POST", "/api/v1/alerts/"+url.PathEscape(id)+"/triage", "analyst", strings.NewReader(`{"action":"acknowledge","reason":"looking into 203.0.113.66"}`))
	if resp.StatusCode != 200 {
		t.Fatalf("triage %d %s", resp.StatusCode, body)
	}
	var ad AlertDetail
	_, body = env.do(t, "GET", "/api/v1/alerts/"+url.PathEscape(id), "viewer", nil)
	if err := json.Unmarshal(body, &ad); err != nil || ad.Status != "acknowledged" || len(ad.History) != 1 || ad.History[0].Reason != "looking into 203.0.113.66" {
		t.Errorf("alert after triage: %s", body)
	}
	if _, body := env.do(t, "GET", "/api/v1/alerts?status=acknowledged", "viewer", nil); !strings.Contains(string(body), id) {
		t.Errorf("status filter: %s", body)
	}
	// Finding triage.
	fid := strings.Fields(got.Findings[0])[0]
	resp, body = env.do(t, "POST", "/api/v1/findings/"+url.PathEscape(fid)+"/triage", "analyst", strings.NewReader(`{"action":"mark_fixed","reason":"release 2.4"}`))
	if resp.StatusCode != 200 {
		t.Fatalf("finding triage %d %s", resp.StatusCode, body)
	}
	if _, body := env.do(t, "GET", "/api/v1/findings/"+url.PathEscape(fid), "viewer", nil); !strings.Contains(string(body), `"status":"fixed"`) || !strings.Contains(string(body), "release 2.4") {
		t.Errorf("finding after triage: %s", body)
	}
	// Erasure of the attacker's address through the API.
	resp, body = env.do(t, "POST", "/api/v1/erase", "admin", strings.NewReader(`{"ip":"203.0.113.66"}`))
	if resp.StatusCode != 200 {
		t.Fatalf("erase %d %s", resp.StatusCode, body)
	}
	if resp, _ := env.do(t, "GET", "/api/v1/subjects/client/203.0.113.66", "viewer", nil); resp.StatusCode != 404 {
		t.Errorf("erased subject: %d", resp.StatusCode)
	}
	if _, body := env.do(t, "GET", "/api/v1/alerts?address=203.0.113.66", "viewer", nil); strings.Contains(string(body), "203.0.113.66") {
		t.Errorf("erased address still in alerts: %s", body)
	}
	return got
}

// readAnswers reads every page of the API's lists.
func readAnswers(t *testing.T, env *testEnv) apiAnswers {
	t.Helper()
	var a apiAnswers
	pages := func(path string, each func(json.RawMessage)) {
		cursor := ""
		for {
			sep := "?"
			if strings.Contains(path, "?") {
				sep = "&"
			}
			_, body := env.do(t, "GET", path+sep+"limit=2&cursor="+url.QueryEscape(cursor), "viewer", nil)
			var p struct {
				Items      []json.RawMessage `json:"items"`
				NextCursor string            `json:"next_cursor"`
			}
			if err := json.Unmarshal(body, &p); err != nil {
				t.Fatalf("%s: %v %s", path, err, body)
			}
			for _, it := range p.Items {
				each(it)
			}
			if p.NextCursor == "" {
				return
			}
			cursor = p.NextCursor
		}
	}
	pages("/api/v1/endpoints", func(m json.RawMessage) {
		var e struct {
			Method, Host, Path string
			Requests           int64
			Risk               struct{ Score int }
		}
		json.Unmarshal(m, &e)
		a.Endpoints = append(a.Endpoints, fmt.Sprintf("%s %s%s %d %d", e.Method, e.Host, e.Path, e.Requests, e.Risk.Score))
	})
	pages("/api/v1/alerts", func(m json.RawMessage) {
		var x struct {
			ID, Type, Severity string
			Count              int64
		}
		json.Unmarshal(m, &x)
		a.Alerts = append(a.Alerts, fmt.Sprintf("%s %s %s %d", x.ID, x.Type, x.Severity, x.Count))
	})
	pages("/api/v1/findings", func(m json.RawMessage) {
		var x struct{ ID, Rule, Severity string }
		json.Unmarshal(m, &x)
		a.Findings = append(a.Findings, fmt.Sprintf("%s %s %s", x.ID, x.Rule, x.Severity))
	})
	pages("/api/v1/subjects", func(m json.RawMessage) {
		var x struct {
			Kind, ID string
			Requests int64
		}
		json.Unmarshal(m, &x)
		a.Subjects = append(a.Subjects, fmt.Sprintf("%s %s %d", x.Kind, x.ID, x.Requests))
	})
	for _, l := range [][]string{a.Endpoints, a.Alerts, a.Findings, a.Subjects} {
		sort.Strings(l)
	}
	_, body := env.do(t, "GET", "/api/v1/overview", "viewer", nil)
	var ov struct {
		Records int64 `json:"records_processed"`
	}
	json.Unmarshal(body, &ov)
	a.Overview = ov.Records
	return a
}

// TestConfigStoreKey: server.store is shown without its password and
// cannot be moved through the API (the store is opened before the
// configuration stored in it is read).
func TestConfigStoreKey(t *testing.T) {
	env := newEnv(t, func(c *Config) { c.Server.Store = "postgres://pal:s3cret-pw@db.internal:5432/palisade" }, nil)
	_, body := env.do(t, "GET", "/api/v1/config", "admin", nil)
	if strings.Contains(string(body), "s3cret-pw") || !strings.Contains(string(body), "pal:xxxxx@db.internal") {
		t.Fatalf("config view: %s", body)
	}
	for _, tc := range []struct {
		doc  string
		code int
	}{
		{`{"server":{"store":"sqlite:///var/lib/other.db"}}`, 400},
		{`{"server":{"store":"mysql://db/p"}}`, 400},
		{`{"server":{"store":"postgres://pal:xxxxx@db.internal:5432/palisade"}}`, 200}, // the GET answer sent back
		{`{"retention":{"alerts":"30d"}}`, 200},
	} {
		resp, body := env.do(t, "PUT", "/api/v1/config", "admin", strings.NewReader(tc.doc))
		if resp.StatusCode != tc.code {
			t.Errorf("PUT %s: %d %s, want %d", tc.doc, resp.StatusCode, body, tc.code)
		}
	}
	if _, body := env.do(t, "GET", "/api/v1/config", "admin", nil); !strings.Contains(string(body), "pal:xxxxx@db.internal") {
		t.Errorf("store lost from the running configuration: %s", body)
	}
}

// activityEngine is the real engine with the activity summary (attacker
// view) on.
func activityEngine(t testing.TB) *engine.Engine {
	t.Helper()
	ecfg := engine.DefaultConfig()
	ac := activity.DefaultConfig()
	ecfg.Activity = &ac
	eng, err := engine.New(ecfg)
	if err != nil {
		t.Fatal(err)
	}
	return eng
}
