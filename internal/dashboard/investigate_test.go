package dashboard_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/store"
)

// page drives one headless tab against a live server: helpers to wait,
// evaluate, take screenshots (with the accessibility audit) and collect
// console errors.
type page struct {
	t        *testing.T
	ls       *liveServer
	ctx      context.Context
	art      string
	step     int
	mu       sync.Mutex
	problems []string
}

func newPage(t *testing.T, ls *liveServer) *page {
	t.Helper()
	chrome := chromiumPath(t)
	bctx, done := browser(t, chrome)
	t.Cleanup(done)
	ctx, cancel := context.WithTimeout(bctx, 4*time.Minute)
	t.Cleanup(cancel)
	p := &page{t: t, ls: ls, ctx: ctx, art: artifactsDir(t)}
	msgs := chromedp.Console(bctx)
	go func() {
		for m, err := range msgs {
			if err != nil {
				return
			}
			s := m.String()
			if strings.Contains(s, "status of 401") || strings.Contains(s, "status of 403") {
				continue
			}
			if m.IsException() || m.Type == chromedp.ConsoleError || strings.Contains(strings.ToLower(s), "content security policy") {
				p.mu.Lock()
				p.problems = append(p.problems, s)
				p.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() {
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, s := range p.problems {
			t.Errorf("browser console: %s", s)
		}
	})
	return p
}

func (p *page) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	sctx, cancel := context.WithTimeout(p.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		p.shot("failed-" + strings.ReplaceAll(what, " ", "-"))
		p.t.Fatalf("%s: %v", what, err)
	}
}

func (p *page) eval(js string) string {
	p.t.Helper()
	s, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](js))
	if err != nil {
		p.t.Fatalf("%s: %v", js, err)
	}
	return s
}

func (p *page) waitText(sel, want string) {
	p.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := p.eval(fmt.Sprintf(`(document.querySelector(%q) || {}).textContent || ""`, sel))
		if strings.Contains(got, want) {
			return
		}
		if time.Now().After(deadline) {
			p.shot("failed-wait")
			p.t.Fatalf("%s: text %q does not contain %q", sel, got, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// shot saves a full-page screenshot and runs the accessibility audit.
func (p *page) shot(name string) {
	p.t.Helper()
	p.step++
	png, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		p.t.Fatalf("screenshot %s: %v", name, err)
	}
	safe := strings.Map(func(r rune) rune {
		if r == '/' || r == '#' || r == '?' || r == '=' || r == ' ' {
			return '-'
		}
		return r
	}, name)
	if err := os.WriteFile(filepath.Join(p.art, fmt.Sprintf("%s-%02d-%s.png", p.t.Name(), p.step, safe)), png, 0o644); err != nil {
		p.t.Fatal(err)
	}
	if strings.HasPrefix(name, "failed") {
		return
	}
	var problems []string
	if err := json.Unmarshal([]byte(p.eval(auditJS)), &problems); err != nil {
		p.t.Fatal(err)
	}
	for _, s := range problems {
		p.t.Errorf("%s: %s", name, s)
	}
}

func (p *page) login(token string) {
	p.t.Helper()
	p.do("open login", chromedp.Navigate(p.ls.url+"/ui/#/login"), chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), token+"\r"), chromedp.WaitVisible(chromedp.CSS("#nav")))
}

func (p *page) open(hash, waitSel string) {
	p.t.Helper()
	p.do("open "+hash, chromedp.Navigate(p.ls.url+"/ui/"+hash), chromedp.WaitVisible(chromedp.CSS(waitSel)))
}

// seedAlert stores an alert directly (no traffic needed).
func seedAlerts(t *testing.T, ls *liveServer, alerts ...model.Alert) {
	t.Helper()
	if _, err := ls.st.UpsertAlerts(context.Background(), alerts, time.Now()); err != nil {
		t.Fatal(err)
	}
}

var t0 = time.Date(2026, 11, 16, 9, 0, 0, 0, time.UTC)

// clientAlert is an alert whose subject is a client address that also
// names the identity behind the requests (e.g. an enumeration by one
// principal from one address).
func clientAlert(id, typ, ip, identityName string, at time.Time) model.Alert {
	return model.Alert{
		ID: id, Type: typ, Title: "Object identifier enumeration", Severity: model.SevHigh, Confidence: 0.9,
		OWASP: []string{"API1:2023"}, MITRE: []model.MITRE{{Tactic: "Collection", TechniqueID: "T1530", TechniqueName: "Data from Cloud Storage"}},
		FirstSeen: at, LastSeen: at.Add(10 * time.Minute), Count: 40, Subject: "client",
		Client:  &model.ClientRef{IP: ip},
		Clients: []model.ClientCount{{IP: ip, Count: 40}},
		Identity: &model.IdentityRef{ID: "id_" + strings.ToLower(strings.Map(func(r rune) rune {
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, identityName)), Kind: "jwt", Name: identityName},
		Endpoint: &model.EndpointRef{Host: "api.example.test", Method: "GET", Path: "/v1/users/{id}"},
		Evidence: model.Evidence{Observed: 120, Baseline: 8, Threshold: 30, Window: "5m", Reason: "many ids",
			Details: map[string]any{"parameter": "id", "in": "path", "error_share": 0.1}},
		Remediation: "Enforce object-level authorization.",
	}
}

// TestAlertSubjectShowsIdentity: issue 15, defect 2. An alert whose subject
// is a client address also carries the identity behind it (API and CLI show
// both); the dashboard showed only the address, in the list and the detail.
func TestAlertSubjectShowsIdentity(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	ls := startServer(t)
	seedAlerts(t, ls, clientAlert("al_subject1", "bola.param_enumeration", "203.0.113.9", "mallory@example.test", t0))
	p := newPage(t, ls)
	p.login(ls.token)
	p.open("#/alerts", "#results tbody tr")
	row := p.eval(`document.querySelector('#results tbody tr').textContent`)
	for _, want := range []string{"203.0.113.9", "mallory@example.test"} {
		if !strings.Contains(row, want) {
			t.Errorf("alert list row %q does not show %q", row, want)
		}
	}
	p.open("#/alerts/al_subject1", "#al-sum")
	sum := p.eval(`document.querySelector('section[aria-labelledby="al-sum"]').textContent`)
	for _, want := range []string{"203.0.113.9", "mallory@example.test"} {
		if !strings.Contains(sum, want) {
			t.Errorf("alert summary %q does not show %q", sum, want)
		}
	}
	p.shot("alert-subject")
}

// hostileName is an identity name with markup: shown as text everywhere.
const hostileName = `<img src=x onerror="window.__pwned=1">mallory`

// seedInvestigation stores what the investigation views show: an incident
// of three alerts (reconnaissance, injection, enumeration) by one address
// and identity, the subjects' activity, findings, probes and API changes.
func seedInvestigation(t *testing.T, ls *liveServer) {
	t.Helper()
	ctx := context.Background()
	ip, idn := "203.0.113.9", "id_mallory"
	spray := clientAlert("al_inv1", "recon.endpoint_spray", ip, "x", t0)
	spray.Identity = nil
	spray.Title, spray.Severity, spray.OWASP = "Endpoint spray (API reconnaissance)", model.SevMedium, []string{"API9:2023"}
	spray.MITRE = []model.MITRE{{Tactic: "Reconnaissance", TechniqueID: "T1595", TechniqueName: "Active Scanning"}}
	spray.Evidence = model.Evidence{Observed: 60, Baseline: 4, Threshold: 20, Window: "5m", Details: map[string]any{"not_found_share": 0.8, "peer_p99": 4}}
	sqli := clientAlert("al_inv2", "injection.sqli", ip, "x", t0.Add(15*time.Minute))
	sqli.Identity = &model.IdentityRef{ID: idn, Kind: "jwt", Name: hostileName}
	sqli.Title, sqli.OWASP = "SQL injection attempt", []string{"API8:2023"}
	sqli.MITRE = []model.MITRE{{Tactic: "Initial Access", TechniqueID: "T1190", TechniqueName: "Exploit Public-Facing Application"}}
	sqli.Evidence = model.Evidence{Observed: 0.95, Reason: "SQL keywords in the query", Details: map[string]any{"location": "query:q", "fragment": "' OR 1=1--"},
		Samples: []model.Sample{{Time: t0.Add(15 * time.Minute), Method: "GET", URL: "https://api.example.test/v1/search?q=%27+OR+1%3D1--", Status: 200, Client: ip}}}
	bola := clientAlert("al_inv3", "bola.param_enumeration", ip, "x", t0.Add(30*time.Minute))
	bola.Identity = &model.IdentityRef{ID: idn, Kind: "jwt", Name: hostileName}
	bola.Subject = "identity"
	bola.Evidence.Details = map[string]any{"parameter": "id", "in": "path", "error_share": 0.1, "peer_p99": 6,
		"ids_sample": []string{"1001", "1002", "1003", "1004"}, "id_range": "1001–1120"}
	seedAlerts(t, ls, spray, sqli, bola)
	ep := model.Endpoint{Host: "api.example.test", Method: "GET", Path: "/v1/users/{id}", Requests: 200, State: "active", Exposure: "external",
		Authentication: "required", SensitiveData: []model.SensitiveData{{Type: "email", Location: "response.body", Field: "email", Confidence: 0.9}}}
	hostilePath := model.EndpointRef{Host: "api.example.test", Method: "GET", Path: `/v1/<script>alert(1)</script>/{id}`}
	rep := &model.Report{
		Endpoints: []model.Endpoint{ep},
		Findings: []model.Finding{
			{ID: "fd_inv1", Rule: "PAL-T001", Title: `Unauthenticated endpoint <b onmouseover="window.__pwned=2">x</b>`, Severity: model.SevHigh,
				OWASP: []string{"API2:2023"}, Endpoint: &hostilePath, Source: "traffic", Message: "No credential on 200 answers.", Remediation: "Require authentication."},
			{ID: "fd_inv2", Rule: "PAL-T001", Title: "Unauthenticated endpoint", Severity: model.SevHigh, OWASP: []string{"API2:2023"},
				Endpoint: &model.EndpointRef{Host: "api.example.test", Method: "GET", Path: "/v1/health-report"}, Source: "traffic"},
			{ID: "fd_inv3", Rule: "PAL-T005", Title: "Sensitive data in answers", Severity: model.SevMedium, OWASP: []string{"API3:2023"},
				Endpoint: &model.EndpointRef{Host: "api.example.test", Method: "GET", Path: "/v1/users/{id}"}, Source: "traffic"},
		},
		Probes: []model.Probe{{Host: "api.example.test", Method: "GET", Path: "/v1/admin/users", Requests: 3, Reason: "denied"},
			{Host: "169.254.169.254", Method: "GET", Path: "/latest/meta-data/iam/security-credentials/", Requests: 1, Reason: "metadata"}},
		APIChange: []model.APIChange{{Time: t0, Endpoint: model.EndpointRef{Host: "api.example.test", Method: "GET", Path: "/v1/orders"}, Kind: "parameter_added", Detail: "query parameter page_token adopted by 95 % of clients"}},
	}
	var hours []model.HourCount
	for i := range 6 {
		hours = append(hours, model.HourCount{Hour: t0.Add(time.Duration(i-2) * time.Hour).Unix(), Requests: int64(5 + i*i*10)})
	}
	ref := model.EndpointRef{Host: "api.example.test", Method: "GET", Path: "/v1/users/{id}"}
	subs := []model.SubjectActivity{
		{Kind: "client", ID: ip, FirstSeen: t0.Add(-2 * time.Hour), LastSeen: t0.Add(3 * time.Hour), Hours: hours, Status: map[string]int64{"2xx": 300, "4xx": 80},
			Endpoints:  []model.SubjectEndpoint{{EndpointRef: ref, Requests: 300, Errors: 20, FirstSeen: t0, LastSeen: t0.Add(time.Hour)}},
			Identities: []model.SubjectPeer{{ID: idn, Name: hostileName, Requests: 250, LastSeen: t0.Add(time.Hour)}}, DataClasses: []string{"email"}},
		{Kind: "identity", ID: idn, Name: hostileName, FirstSeen: t0, LastSeen: t0.Add(3 * time.Hour), Hours: hours[2:],
			Endpoints: []model.SubjectEndpoint{{EndpointRef: ref, Requests: 250, FirstSeen: t0, LastSeen: t0.Add(time.Hour)}},
			Addresses: []model.SubjectPeer{{ID: ip, Requests: 250, LastSeen: t0.Add(time.Hour)}, {ID: "198.51.100.4", Requests: 12, LastSeen: t0}}},
	}
	if err := ls.st.SaveSnapshot(ctx, store.Snapshot{Report: rep, EventClock: t0.Add(3 * time.Hour), Subjects: subs}, time.Now()); err != nil {
		t.Fatal(err)
	}
}

// overflow fails when the page scrolls sideways at the current width.
func (p *page) overflow(name string) {
	p.t.Helper()
	got := p.eval(`JSON.stringify([document.documentElement.scrollWidth, window.innerWidth, Array.from(document.querySelectorAll('main *')).filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 && !e.closest('.table-wrap')).slice(0, 3).map(e => e.tagName + '.' + e.className).join(' ')])`)
	var v []any
	json.Unmarshal([]byte(got), &v)
	if len(v) == 3 && v[0].(float64) > v[1].(float64) {
		p.t.Errorf("%s: the page is %v px wide in a %v px window (overflowing: %v)", name, v[0], v[1], v[2])
	}
}

func (p *page) width(w int64) {
	p.t.Helper()
	p.do(fmt.Sprintf("viewport %d", w), chromedp.EmulateViewport(w, 900))
}

// TestBrowserInvestigation walks the investigation views in headless
// Chromium: alert → evidence (explained, enumerated ids, OWASP names) →
// attacker view → incident → triage of the incident; finding accept-risk
// with an expiry; findings by rule; probes and changes; the search box;
// bulk triage. Every view is screenshot at 1280 and 390 px and checked for
// horizontal overflow and by the accessibility audit; hostile names are
// shown as text.
func TestBrowserInvestigation(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	ls := startServer(t)
	seedInvestigation(t, ls)
	p := newPage(t, ls)
	p.width(1280)
	p.login(ls.token)
	pwned := func(where string) {
		t.Helper()
		if got := p.eval(`String(window.__pwned) + String(document.querySelectorAll('main img:not(.chart), main b, main script').length)`); got != "undefined0" {
			t.Errorf("%s: hostile markup was interpreted (%s)", where, got)
		}
	}

	// Alert detail: explained evidence, enumerated ids, OWASP names, the incident.
	p.open("#/alerts/al_inv3", "#al-ev")
	p.waitText(`section[aria-labelledby="al-ev"]`, "Enumerated identifiers")
	ev := p.eval(`document.querySelector('section[aria-labelledby="al-ev"]').textContent`)
	for _, want := range []string{"1001", "1004", "1001–1120", "estimated distinct object identifiers", "99th percentile of the other subjects"} {
		if !strings.Contains(ev, want) {
			t.Errorf("alert evidence does not show %q", want)
		}
	}
	p.waitText(`section[aria-labelledby="al-sum"]`, "Broken Object Level Authorization")
	p.waitText("#alert-incident", "reconnaissance")
	pwned("alert")
	p.shot("alert-1280")

	// → attacker view (the identity), through the subject link.
	p.do("open attacker view", chromedp.Click(chromedp.CSS(`section[aria-labelledby="al-sum"] a[href^="#/subjects/identity/"]`)),
		chromedp.WaitVisible(chromedp.CSS("#sj-traffic")))
	p.waitText("h1", "mallory")
	p.waitText(`section[aria-labelledby="sj-peers"]`, "198.51.100.4")
	p.waitText(`section[aria-labelledby="sj-inc"]`, "reconnaissance")
	if n := p.eval(`String(document.querySelectorAll('section[aria-labelledby="sj-traffic"] img.chart[src*="subject.svg"]').length)`); n != "1" {
		t.Errorf("attacker view has %s request charts, want 1", n)
	}
	for deadline := time.Now().Add(10 * time.Second); p.eval(chartsLoaded) != "true"; {
		if time.Now().After(deadline) {
			t.Fatal("the attacker view's chart (server-rendered SVG) did not load")
		}
		time.Sleep(100 * time.Millisecond)
	}
	pwned("attacker view")
	p.shot("attacker-identity-1280")
	// The address's view: identities seen from it and data classes returned.
	p.do("open address", chromedp.Click(chromedp.CSS(`section[aria-labelledby="sj-peers"] a[href="#/subjects/client/203.0.113.9"]`)),
		chromedp.WaitVisible(chromedp.CSS("#sj-data")))
	p.waitText(`section[aria-labelledby="sj-data"]`, "email")
	p.waitText(`section[aria-labelledby="sj-peers"]`, hostileName)
	pwned("client view")
	p.shot("attacker-client-1280")

	// → incident, then one triage for the group.
	p.waitText(`section[aria-labelledby="sj-inc"]`, "3")
	p.do("open incident", chromedp.Click(chromedp.CSS(`section[aria-labelledby="sj-inc"] tbody th a`)), chromedp.WaitVisible(chromedp.CSS("#in-chain")))
	chain := p.eval(`document.querySelector('ol.chain').textContent`)
	if i, j, k := strings.Index(chain, "reconnaissance"), strings.Index(chain, "exploitation"), strings.Index(chain, "exfiltration"); i < 0 || j < i || k < j {
		t.Errorf("kill chain out of order: %q", chain)
	}
	incID := strings.TrimPrefix(p.eval(`location.hash`), "#/incidents/")
	p.shot("incident-1280")
	p.do("incident triage", chromedp.Click(chromedp.CSS(`#incident-triage-form input[value=acknowledge]`)),
		chromedp.SendKeys(chromedp.CSS("#incident-triage-reason"), `triaging <i>all</i>`), chromedp.Click(chromedp.CSS("#incident-triage-submit")),
		chromedp.WaitVisible(chromedp.CSS("#triage-done")))
	p.waitText("#incident-status", "acknowledged")
	for _, id := range []string{"al_inv1", "al_inv2", "al_inv3"} {
		var a struct {
			Status  string `json:"status"`
			History []store.TriageEvent
		}
		ls.call(t, "GET", "/api/v1/alerts/"+id, nil, &a)
		if a.Status != store.StatusAcknowledged || len(a.History) != 1 || a.History[0].Reason != "triaging <i>all</i>" {
			t.Errorf("%s after the incident triage: %+v", id, a)
		}
	}
	p.shot("incident-triaged-1280")

	// Findings: accept the risk of one with an expiry; by rule.
	p.open("#/findings", "#results tbody tr")
	pwned("findings")
	p.shot("findings-1280")
	p.open("#/findings/fd_inv1", "#finding-triage-form")
	expiry := time.Now().UTC().AddDate(0, 1, 0).Format("2006-01-02")
	p.do("accept risk", chromedp.Click(chromedp.CSS(`#finding-triage-form input[value=accept_risk]`)), chromedp.Click(chromedp.CSS("#finding-triage-submit")))
	p.waitText("#finding-triage-msg", "reason is required")
	p.do("accept risk with reason", chromedp.SendKeys(chromedp.CSS("#finding-triage-reason"), "compensating WAF rule 12"), chromedp.Click(chromedp.CSS("#finding-triage-submit")))
	p.waitText("#finding-triage-msg", "Give the date")
	p.do("expiry", chromedp.SetValue(chromedp.CSS("#finding-triage-expiry"), expiry), chromedp.Click(chromedp.CSS("#finding-triage-submit")),
		chromedp.WaitVisible(chromedp.CSS("#triage-done")))
	p.waitText("#finding-status", "accepted")
	var f store.StoredFinding
	ls.call(t, "GET", "/api/v1/findings/fd_inv1", nil, &f)
	if f.Status != store.FindingAccepted || f.Triage == nil || f.Triage.ExpiresAt == nil || f.Triage.ExpiresAt.Format("2006-01-02") != expiry {
		t.Errorf("finding after accept-risk: %+v %+v", f, f.Triage)
	}
	pwned("finding")
	p.shot("finding-accepted-1280")
	p.open("#/findings/groups?by=rule", "#results, table")
	p.waitText("main", "PAL-T001")
	p.shot("findings-by-rule-1280")
	p.open("#/changes", "#pr-list")
	p.waitText("main", "page_token")
	p.waitText("main", "instance-metadata host")
	p.shot("probes-changes-1280")

	// The search box of the top bar.
	p.do("search", chromedp.SendKeys(chromedp.CSS("#global-q"), "mallory\r"), chromedp.WaitVisible(chromedp.CSS("#se-sub")))
	p.waitText(`section[aria-labelledby="se-sub"]`, "id_mallory")
	p.shot("search-1280")

	// Bulk triage on the alert list.
	p.open("#/alerts?status=acknowledged", "#bulk-all")
	p.waitText(".pager", "3 alerts")
	p.do("bulk", chromedp.Click(chromedp.CSS("#bulk-all")), chromedp.SetValue(chromedp.CSS("#bulk-action"), "resolve"),
		chromedp.Click(chromedp.CSS("#bulk-apply")), chromedp.WaitVisible(chromedp.CSS("#triage-done")))
	p.waitText("#triage-done", "3 alerts triaged")
	var inc struct {
		Status string `json:"status"`
	}
	ls.call(t, "GET", "/api/v1/incidents/"+incID, nil, &inc)
	if inc.Status != store.StatusResolved {
		t.Errorf("incident after bulk resolve: %s", inc.Status)
	}
	p.shot("alerts-bulk-1280")

	// Every view at 1280 and 390 px: no horizontal overflow.
	views := []struct{ name, hash, wait string }{
		{"overview", "#/overview", "#ov-traffic"},
		{"alerts", "#/alerts?status=any", "#results tbody tr"},
		{"alert", "#/alerts/al_inv3", "#al-ev"},
		{"attacker", "#/subjects/client/203.0.113.9", "#sj-data"},
		{"incidents", "#/incidents?status=any", "#results tbody tr"},
		{"incident", "#/incidents/" + incID, "#in-chain"},
		{"findings", "#/findings", "#results tbody tr"},
		{"finding", "#/findings/fd_inv1", "#fd-hist"},
		{"findings-by-endpoint", "#/findings/groups?by=endpoint", "main table"},
		{"changes", "#/changes", "#ch-list"},
		{"search", "#/search?q=203.0.113", "#se-sub"},
	}
	for _, w := range []int64{1280, 390} {
		p.width(w)
		for _, v := range views {
			p.open(v.hash, v.wait)
			time.Sleep(150 * time.Millisecond) // late sections (incidents, changes)
			p.overflow(fmt.Sprintf("%s at %d px", v.name, w))
			if w == 390 {
				p.shot(v.name + "-390")
			}
		}
	}

	// A viewer reads an incident but gets no triage form.
	p.width(1280)
	p.do("logout", chromedp.Click(chromedp.CSS("#logout")), chromedp.WaitVisible(chromedp.CSS("#token")))
	p.login(ls.viewer)
	p.open("#/incidents/"+incID, "#in-triage")
	p.waitText(`section[aria-labelledby="in-triage"]`, "may read incidents but not triage them")
	if n := p.eval(`String(document.querySelectorAll('#incident-triage-form, #bulk-apply').length)`); n != "0" {
		t.Errorf("viewer sees a triage form")
	}
	p.open("#/findings/fd_inv2", "#fd-triage")
	p.waitText(`section[aria-labelledby="fd-triage"]`, "may read findings but not triage them")
	p.shot("viewer-incident")
}

// TestAlertNewAddresses: an alert that follows a principal marks the
// addresses the principal had not used before (clients[].new) and says how
// many of the unnamed addresses' events were new; the usual address is not
// marked.
func TestAlertNewAddresses(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	ls := startServer(t)
	a := clientAlert("al_newaddr1", "bola.param_enumeration", "203.0.113.11", "rn.owner", t0)
	a.Subject = "identity"
	a.Clients = []model.ClientCount{{IP: "198.18.7.20", Count: 60}, {IP: "203.0.113.11", Count: 40, New: true}}
	a.ClientsOther, a.ClientsOtherNew = 160, 150
	seedAlerts(t, ls, a)
	p := newPage(t, ls)
	p.login(ls.token)
	p.open("#/alerts/al_newaddr1", "#al-sum")
	items := p.eval(`JSON.stringify([...document.querySelectorAll('section[aria-labelledby="al-sum"] ul.plain li')].map((li) => li.textContent))`)
	var got []string
	if err := json.Unmarshal([]byte(items), &got); err != nil {
		t.Fatal(err)
	}
	if len(got) < 3 || strings.Contains(got[0], "new to this principal") || !strings.Contains(got[1], "203.0.113.11") ||
		!strings.Contains(got[1], "new to this principal") || !strings.Contains(got[2], "150 from addresses new to the principal") {
		t.Errorf("addresses %q", got)
	}
}
