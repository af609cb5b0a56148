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
	if err := os.WriteFile(filepath.Join(p.art, fmt.Sprintf("%s-%02d-%s.png", p.t.Name(), p.step, name)), png, 0o644); err != nil {
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
