package server

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/store"
)

// hostile is a subject name and path with markup: every answer must carry
// it escaped (JSON with HTML escaping), never as markup.
const hostile = `<img src=x onerror=alert(1)>"'&`

func invAlert(id, typ, ip, idn string, start time.Duration) model.Alert {
	a := model.Alert{ID: id, Type: typ, Title: typ, Severity: model.SevHigh, Count: 3, Subject: "client",
		FirstSeen: base.Add(start), LastSeen: base.Add(start + 5*time.Minute),
		Client:   &model.ClientRef{IP: ip},
		Endpoint: &model.EndpointRef{Host: "api.example.com", Method: "GET", Path: "/v1/" + hostile + "/{id}"}}
	if idn != "" {
		a.Identity = &model.IdentityRef{ID: idn, Kind: "jwt", Name: hostile}
	}
	return a
}

func noRawMarkup(t *testing.T, what string, body []byte) {
	t.Helper()
	if bytes.Contains(body, []byte("<img")) || bytes.Contains(body, []byte("onerror=alert(1)>")) {
		t.Errorf("%s: markup not escaped in the JSON answer: %.300s", what, body)
	}
	if !bytes.Contains(body, []byte(`\u003cimg`)) {
		t.Errorf("%s: the hostile name is missing from the answer", what)
	}
}

func TestIncidentsAPI(t *testing.T) {
	env := newEnv(t, nil, nil)
	ctx := context.Background()
	alerts := []model.Alert{
		invAlert("al_1", "recon.endpoint_spray", "203.0.113.9", "", 0),
		invAlert("al_2", "injection.sqli", "203.0.113.9", "id_m", 10*time.Minute),
		invAlert("al_3", "bola.param_enumeration", "198.51.100.4", "id_m", 20*time.Minute),
		invAlert("al_4", "injection.sqli", "192.0.2.77", "", 0), // alone
	}
	if _, err := env.st.UpsertAlerts(ctx, alerts, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, body := env.do(t, "GET", "/api/v1/incidents", "viewer", nil)
	if resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	var list IncidentList
	json.Unmarshal(body, &list)
	if len(list.Items) != 1 || len(list.Items[0].AlertIDs) != 3 || !list.Items[0].KillChain || list.AlertsConsidered != 4 {
		t.Fatalf("incidents %s", body)
	}
	noRawMarkup(t, "incidents", body)
	id := list.Items[0].ID
	// min_alerts=1 shows the lone alert too; q filters by subject.
	_, body = env.do(t, "GET", "/api/v1/incidents?min_alerts=1", "viewer", nil)
	json.Unmarshal(body, &list)
	if len(list.Items) != 2 {
		t.Errorf("min_alerts=1: %d incidents", len(list.Items))
	}
	_, body = env.do(t, "GET", "/api/v1/incidents?min_alerts=1&q=192.0.2.77&limit=1", "viewer", nil)
	json.Unmarshal(body, &list)
	if len(list.Items) != 1 || list.Items[0].AlertIDs[0] != "al_4" || list.NextCursor != "" {
		t.Errorf("q filter: %s", body)
	}
	for _, bad := range []string{"?status=nope", "?min_alerts=-1", "?from=yesterday", "?cursor=bm9wZQ"} {
		if resp, _ := env.do(t, "GET", "/api/v1/incidents"+bad, "viewer", nil); resp.StatusCode != 400 {
			t.Errorf("incidents%s: %d, want 400", bad, resp.StatusCode)
		}
	}
	resp, body = env.do(t, "GET", "/api/v1/incidents/"+id, "viewer", nil)
	var det IncidentDetail
	if err := json.Unmarshal(body, &det); err != nil || resp.StatusCode != 200 || len(det.Alerts) != 3 {
		t.Fatalf("incident detail %d %s", resp.StatusCode, body)
	}
	if resp, _ := env.do(t, "GET", "/api/v1/incidents/inc_nope", "viewer", nil); resp.StatusCode != 404 {
		t.Errorf("unknown incident: %d", resp.StatusCode)
	}
	// One triage action for the group: analysts only, false_positive needs a reason.
	tri := func(role, body string) (*http.Response, []byte) {
		return env.do(t, "POST", "/api/v1/incidents/"+id+"/triage", role, strings.NewReader(body))
	}
	if resp, _ := tri("viewer", `{"action":"acknowledge"}`); resp.StatusCode != 403 {
		t.Errorf("viewer triaged an incident: %d", resp.StatusCode)
	}
	if resp, _ := tri("analyst", `{"action":"false_positive"}`); resp.StatusCode != 400 {
		t.Errorf("false positive without reason: %d", resp.StatusCode)
	}
	if resp, _ := tri("analyst", `{"action":"acknowledge","extra":1}`); resp.StatusCode != 400 {
		t.Errorf("unknown field: %d", resp.StatusCode)
	}
	resp, body = tri("analyst", `{"action":"acknowledge","reason":"working on it `+strings.ReplaceAll(hostile, `"`, `\"`)+`"}`)
	var tr IncidentTriageResponse
	if err := json.Unmarshal(body, &tr); err != nil || resp.StatusCode != 200 || tr.Triaged != 3 || tr.Incident.Status != store.StatusAcknowledged {
		t.Fatalf("incident triage %d %s", resp.StatusCode, body)
	}
	for _, aid := range []string{"al_1", "al_2", "al_3"} {
		a, hist, _ := env.st.Alert(ctx, aid)
		if a.Status != store.StatusAcknowledged || len(hist) != 1 || hist[0].Actor == "" {
			t.Errorf("%s: status %s history %+v", aid, a.Status, hist)
		}
	}
	if a, _, _ := env.st.Alert(ctx, "al_4"); a.Status != store.StatusOpen {
		t.Errorf("alert outside the incident triaged")
	}
	page, _ := env.st.ListAudit(ctx, 10, "")
	found := false
	for _, e := range page.Items {
		found = found || e.Action == "incident.triage" && e.Target == id
	}
	if !found {
		t.Errorf("incident triage not audited: %+v", page.Items)
	}
	// Bulk triage of alerts.
	resp, body = env.do(t, "POST", "/api/v1/alerts/triage", "analyst", strings.NewReader(`{"ids":["al_4","al_nope"],"action":"resolve"}`))
	var bulk BulkTriageResponse
	if json.Unmarshal(body, &bulk); resp.StatusCode != 200 || bulk.Triaged != 1 || len(bulk.NotFound) != 1 {
		t.Errorf("bulk triage %d %s", resp.StatusCode, body)
	}
	ids := make([]string, MaxBulk+1)
	for i := range ids {
		ids[i] = "al_x"
	}
	b, _ := json.Marshal(BulkTriageRequest{IDs: ids, Action: "resolve"})
	if resp, _ := env.do(t, "POST", "/api/v1/alerts/triage", "analyst", bytes.NewReader(b)); resp.StatusCode != 400 {
		t.Errorf("bulk over the bound: %d", resp.StatusCode)
	}
}

// A dashboard session must send the CSRF token on the new state-changing
// routes too.
func TestInvestigationCSRF(t *testing.T) {
	env := newEnv(t, nil, nil)
	resp, body := env.do(t, "POST", "/api/v1/session", "analyst", nil)
	var sr SessionResponse
	json.Unmarshal(body, &sr)
	cookie := ""
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie {
			cookie = c.Name + "=" + c.Value
		}
	}
	for _, path := range []string{"/api/v1/incidents/inc_x/triage", "/api/v1/alerts/triage", "/api/v1/findings/fd_x/triage", "/api/v1/findings/triage"} {
		for _, csrf := range []string{"", "wrong"} {
			r, _ := env.do(t, "POST", path, "", strings.NewReader(`{"action":"reopen","ids":["x"]}`), "Cookie", cookie, csrfHeader, csrf)
			if r.StatusCode != http.StatusForbidden {
				t.Errorf("POST %s with CSRF %q: %d, want 403", path, csrf, r.StatusCode)
			}
		}
		r, _ := env.do(t, "POST", path, "", strings.NewReader(`{}`), "Cookie", cookie, csrfHeader, sr.CSRFToken)
		if r.StatusCode == http.StatusForbidden || r.StatusCode == http.StatusUnauthorized {
			t.Errorf("POST %s with the CSRF token: %d", path, r.StatusCode)
		}
	}
}

func TestFindingTriageAPI(t *testing.T) {
	env := newEnv(t, nil, nil)
	ctx := context.Background()
	ref := model.EndpointRef{Host: "api.example.com", Method: "GET", Path: "/v1/" + hostile}
	fs := []model.Finding{{ID: "fd_1", Rule: "PAL-T001", Title: "Unauthenticated " + hostile, Severity: "high", Endpoint: &ref, Source: "traffic"},
		{ID: "fd_2", Rule: "PAL-T001", Title: "Unauthenticated", Severity: "high", Source: "traffic"}}
	if err := env.st.SaveSnapshot(ctx, store.Snapshot{Report: &model.Report{Findings: fs}, EventClock: base}, time.Now()); err != nil {
		t.Fatal(err)
	}
	exp := time.Now().Add(30 * 24 * time.Hour).UTC().Format(time.RFC3339)
	for _, tc := range []struct {
		body string
		code int
	}{
		{`{"action":"accept_risk","reason":"WAF rule 12"}`, 400},                           // no expiry
		{`{"action":"accept_risk","expires_at":"` + exp + `"}`, 400},                       // no reason
		{`{"action":"accept_risk","reason":"x","expires_at":"2001-01-01T00:00:00Z"}`, 400}, // past
		{`{"action":"accept_risk","reason":"x","expires_at":"2999-01-01T00:00:00Z"}`, 400}, // too far
		{`{"action":"mark_fixed","expires_at":"` + exp + `"}`, 400},                        // expiry on fixed
		{`{"action":"delete"}`, 400},                                                       // unknown
		{`{"action":"accept_risk","reason":"WAF rule ` + strings.ReplaceAll(hostile, `"`, `\"`) + `","expires_at":"` + exp + `"}`, 200},
	} {
		resp, body := env.do(t, "POST", "/api/v1/findings/fd_1/triage", "analyst", strings.NewReader(tc.body))
		if resp.StatusCode != tc.code {
			t.Errorf("%s: %d %s, want %d", tc.body, resp.StatusCode, body, tc.code)
		}
	}
	resp, body := env.do(t, "GET", "/api/v1/findings/fd_1", "viewer", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"status":"accepted"`) || !strings.Contains(string(body), `"history"`) {
		t.Fatalf("finding %d %s", resp.StatusCode, body)
	}
	noRawMarkup(t, "finding", body)
	_, body = env.do(t, "GET", "/api/v1/findings?status=accepted", "viewer", nil)
	if !strings.Contains(string(body), "fd_1") || strings.Contains(string(body), "fd_2") {
		t.Errorf("status filter %s", body)
	}
	if resp, _ := env.do(t, "GET", "/api/v1/findings?status=nope", "viewer", nil); resp.StatusCode != 400 {
		t.Errorf("bad status: %d", resp.StatusCode)
	}
	resp, body = env.do(t, "POST", "/api/v1/findings/triage", "analyst", strings.NewReader(`{"ids":["fd_2","fd_9"],"action":"mark_fixed","reason":"release 2.4"}`))
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"triaged":1`) {
		t.Errorf("bulk findings %d %s", resp.StatusCode, body)
	}
	resp, body = env.do(t, "GET", "/api/v1/findings/groups?by=rule", "viewer", nil)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"accepted":1`) || !strings.Contains(string(body), `"fixed":1`) {
		t.Errorf("groups %d %s", resp.StatusCode, body)
	}
	if resp, _ := env.do(t, "GET", "/api/v1/findings/groups?by=host", "viewer", nil); resp.StatusCode != 400 {
		t.Errorf("bad grouping: %d", resp.StatusCode)
	}
}

func TestCatalogAPI(t *testing.T) {
	env := newEnv(t, nil, nil)
	resp, body := env.do(t, "GET", "/api/v1/catalog", "viewer", nil)
	var c Catalog
	if err := json.Unmarshal(body, &c); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	if c.OWASP["API1:2023"] != "Broken Object Level Authorization" || len(c.OWASP) != 10 {
		t.Errorf("OWASP names %v", c.OWASP)
	}
	for _, a := range c.AlertTypes {
		for _, o := range a.OWASP {
			if c.OWASP[o] == "" {
				t.Errorf("%s: OWASP %s has no name", a.Type, o)
			}
		}
		if a.Phase == "" {
			t.Errorf("%s: no phase", a.Type)
		}
	}
	if c.Details["peer_p99"] == "" || len(c.AlertTypes) < 30 {
		t.Errorf("catalogue incomplete: %d types", len(c.AlertTypes))
	}
}

// TestSubjectsEndToEnd runs the real engine with the activity summary: the
// traffic of an address and of an identity reaches the store at a
// checkpoint and the attacker view answers; erasure removes the address
// from the store and keeps the running engine from writing it back.
func TestSubjectsEndToEnd(t *testing.T) {
	eng := activityEngine(t)
	env := newEnvEngine(t, eng)
	var buf strings.Builder
	for i := range 40 {
		ip := "203.0.113.9"
		if i%4 == 0 {
			ip = "198.51.100.4"
		}
		buf.WriteString(`{"time":"` + base.Add(time.Duration(i)*time.Second).Format(time.RFC3339Nano) + `","client":{"ip":"` + ip +
			`"},"request":{"method":"GET","url":"https://api.example.com/v1/users/` + string(rune('a'+i%20)) + `x/%3Cscript%3Ealert(1)%3C%2Fscript%3E` +
			`","headers":{"authorization":"Basic bWFsbG9yeTpzM2NyM3Q="}},"response":{"status":200}}` + "\n")
	}
	resp, body := env.do(t, "POST", "/api/v1/ingest", "ingest", strings.NewReader(buf.String()))
	if resp.StatusCode != 200 {
		t.Fatalf("ingest %d %s", resp.StatusCode, body)
	}
	var detail SubjectResponse
	waitFor(t, "subject stored", func() bool {
		resp, body := env.do(t, "GET", "/api/v1/subjects/client/203.0.113.9", "viewer", nil)
		if resp.StatusCode != 200 {
			return false
		}
		json.Unmarshal(body, &detail)
		return detail.Activity != nil && detail.Activity.Requests == 30
	})
	a := detail.Activity
	if len(a.Identities) != 1 || a.Identities[0].Name != "mallory" || len(a.Endpoints) == 0 {
		t.Errorf("client activity %+v", a)
	}
	_, body = env.do(t, "GET", "/api/v1/subjects?q=mallory", "viewer", nil)
	var page store.Page[store.SubjectRow]
	json.Unmarshal(body, &page)
	if len(page.Items) != 1 || page.Items[0].Kind != "identity" {
		t.Fatalf("search %s", body)
	}
	idn := page.Items[0].ID
	eps, _ := env.st.ListEndpoints(context.Background(), store.EndpointFilter{})
	var callers struct{ Items []store.EndpointSubject }
	for _, e := range eps.Items {
		_, body := env.do(t, "GET", "/api/v1/endpoints/"+e.ID+"/subjects", "viewer", nil)
		var c struct{ Items []store.EndpointSubject }
		json.Unmarshal(body, &c)
		callers.Items = append(callers.Items, c.Items...)
	}
	kinds := map[string]int{}
	for _, c := range callers.Items {
		kinds[c.Kind]++
	}
	if kinds["client"] == 0 || kinds["identity"] == 0 {
		t.Errorf("endpoint callers %+v", callers.Items)
	}
	if resp, _ := env.do(t, "GET", "/api/v1/endpoints/ep_nope/subjects", "viewer", nil); resp.StatusCode != 404 {
		t.Errorf("callers of an unknown endpoint: %d", resp.StatusCode)
	}
	_, body = env.do(t, "GET", "/api/v1/subjects/identity/"+idn, "viewer", nil)
	json.Unmarshal(body, &detail)
	if detail.Activity == nil || detail.Activity.Requests != 40 || len(detail.Activity.Addresses) != 2 {
		t.Fatalf("identity activity %s", body)
	}
	for _, bad := range []string{"/api/v1/subjects/client/not-an-ip", "/api/v1/subjects/host/x", "/api/v1/subjects?kind=host"} {
		if resp, _ := env.do(t, "GET", bad, "viewer", nil); resp.StatusCode != 400 {
			t.Errorf("%s: %d, want 400", bad, resp.StatusCode)
		}
	}
	if resp, _ := env.do(t, "GET", "/api/v1/subjects/client/192.0.2.200", "viewer", nil); resp.StatusCode != 404 {
		t.Errorf("unknown subject: %d", resp.StatusCode)
	}
	// Erase the address: gone from the store, and from the identity.
	resp, body = env.do(t, "POST", "/api/v1/erase", "admin", strings.NewReader(`{"ip":"203.0.113.9"}`))
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"subjects_erased":2`) {
		t.Fatalf("erase %d %s", resp.StatusCode, body)
	}
	// More traffic from the erased address: the engine still holds it,
	// but checkpoints do not write it back.
	resp, _ = env.do(t, "POST", "/api/v1/ingest", "ingest", strings.NewReader(strings.ReplaceAll(buf.String(), `"time":"2026-05-01T10:00`, `"time":"2026-05-01T10:05`)))
	if resp.StatusCode != 200 {
		t.Fatal(resp.StatusCode)
	}
	waitFor(t, "second batch stored", func() bool {
		_, body := env.do(t, "GET", "/api/v1/subjects/identity/"+idn, "viewer", nil)
		json.Unmarshal(body, &detail)
		return detail.Activity != nil && detail.Activity.Requests == 80
	})
	if resp, body := env.do(t, "GET", "/api/v1/subjects/client/203.0.113.9", "viewer", nil); resp.StatusCode != 404 {
		t.Errorf("erased address written back: %d %s", resp.StatusCode, body)
	}
	for _, p := range detail.Activity.Addresses {
		if p.ID == "203.0.113.9" {
			t.Errorf("erased address written back into the identity's addresses")
		}
	}
}

func TestChartsAPI(t *testing.T) {
	env := newEnv(t, nil, nil)
	ctx := context.Background()
	ep := model.Endpoint{Host: "api.example.com", Method: "GET", Path: "/v1/" + hostile, Requests: 5, State: "active"}
	rep := &model.Report{Endpoints: []model.Endpoint{ep}}
	subs := []model.SubjectActivity{{Kind: "identity", ID: "id_" + hostile, Name: hostile, FirstSeen: base, LastSeen: base,
		Hours: []model.HourCount{{Hour: base.Unix(), Requests: 7}}}}
	if err := env.st.SaveSnapshot(ctx, store.Snapshot{Report: rep, EventClock: base, Traffic: map[int64]int64{base.Unix(): 5}, Subjects: subs}, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := env.st.UpsertAlerts(ctx, []model.Alert{invAlert("al_c1", "injection.sqli", "203.0.113.9", "", 0)}, time.Now()); err != nil {
		t.Fatal(err)
	}
	page, _ := env.st.ListEndpoints(ctx, store.EndpointFilter{})
	for _, path := range []string{"traffic.svg", "alerts-by-severity.svg?scheme=dark", "alerts-by-owasp.svg",
		"endpoint.svg?id=" + page.Items[0].ID, "subject.svg?kind=identity&id=" + url.QueryEscape("id_"+hostile), "subject.svg?kind=client&id=192.0.2.1"} {
		resp, body := env.do(t, "GET", "/api/v1/charts/"+path, "viewer", nil)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/svg+xml" || !bytes.HasPrefix(body, []byte("<svg")) {
			t.Errorf("%s: %d %s %.100s", path, resp.StatusCode, resp.Header.Get("Content-Type"), body)
			continue
		}
		if bytes.Contains(body, []byte("<img")) || bytes.Contains(body, []byte("<script")) {
			t.Errorf("%s: markup from the data in the chart: %s", path, body)
		}
		d := xml.NewDecoder(bytes.NewReader(body))
		for {
			if _, err := d.Token(); err == io.EOF {
				break
			} else if err != nil {
				t.Errorf("%s: not well-formed: %v", path, err)
				break
			}
		}
	}
	for path, code := range map[string]int{"nope.svg": 404, "traffic.svg?scheme=blue": 400, "endpoint.svg?id=ep_nope": 404, "subject.svg?kind=host&id=x": 400} {
		if resp, _ := env.do(t, "GET", "/api/v1/charts/"+path, "viewer", nil); resp.StatusCode != code {
			t.Errorf("%s: %d, want %d", path, resp.StatusCode, code)
		}
	}
}
