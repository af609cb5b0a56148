package dashboard_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/store"
)

// seedLarge writes 10,000 endpoints and 100,000 alerts straight into the
// store (no traffic is ingested, so no checkpoint overwrites them).
func seedLarge(b *testing.B, st store.Store) {
	ctx := context.Background()
	t0 := time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC)
	eps := make([]model.Endpoint, 10000)
	auth := []string{"required", "none", "unknown"}
	for i := range eps {
		first, last := t0, t0.Add(time.Duration(i)*time.Second)
		e := model.Endpoint{Host: fmt.Sprintf("api%d.example.test", i%50), Method: []string{"GET", "POST", "PUT", "DELETE"}[i%4],
			Path: fmt.Sprintf("/v1/resource%d/{id}/items", i), FirstSeen: &first, LastSeen: &last, Requests: int64(i*37%9000 + 1),
			StatusCodes: map[string]int64{"200": int64(i%900 + 1)}, Authentication: auth[i%3], Exposure: []string{"external", "internal"}[i%2],
			State: "active", Risk: model.Risk{Score: i % 101, Factors: []model.RiskFactor{{Factor: "exposure", Points: 25}}},
			Parameters: []model.Parameter{{Name: "id", In: "path", Type: "integer", Required: true, ExamplesRedacted: []string{"<int>"}}}}
		if i%10 == 0 {
			e.SensitiveData = []model.SensitiveData{{Type: "email", Location: "response.body", Field: "$.email", Confidence: 0.95}}
		}
		eps[i] = e
	}
	if err := st.SaveSnapshot(ctx, store.Snapshot{Report: &model.Report{Endpoints: eps}, EventClock: t0.Add(3 * time.Hour), Records: 1e6}, time.Now()); err != nil {
		b.Fatal(err)
	}
	types := []string{"injection.sqli", "injection.xss", "recon.endpoint_spray", "auth.brute_force", "bola.param_enumeration"}
	sevs := []string{"info", "low", "medium", "high", "critical"}
	for k := 0; k < 100000; k += 5000 {
		batch := make([]model.Alert, 5000)
		for j := range batch {
			i := k + j
			ep := eps[i%len(eps)]
			at := t0.Add(time.Duration(i) * time.Second)
			batch[j] = model.Alert{ID: fmt.Sprintf("al_%016x", i), Type: types[i%5], Title: "Synthetic " + types[i%5], Severity: sevs[i/5%5],
				Confidence: 0.9, OWASP: []string{"API8:2023"}, FirstSeen: at, LastSeen: at, Count: int64(i%50 + 1), Subject: "client",
				Client:   &model.ClientRef{IP: fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)},
				Endpoint: &model.EndpointRef{Host: ep.Host, Method: ep.Method, Path: ep.Path}, Status: "open",
				Evidence: model.Evidence{Reason: "synthetic", Observed: i % 100, Threshold: 50}, Remediation: "none"}
		}
		if _, err := st.UpsertAlerts(ctx, batch, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}

// renderJS switches the fragment to route (a fresh query string each time so
// the view really reloads) and resolves when the new list or view is drawn.
const renderJS = `new Promise((resolve, reject) => {
  const old = document.querySelector('main > *');
  if (old) old.setAttribute('data-stale', '1');
  location.hash = %q + (%q.includes('?') ? '&' : '?') + 'n=' + %d;
  const t0 = performance.now();
  const check = () => {
    const ready = document.querySelector(%q);
    const fresh = !document.querySelector('main > [data-stale]');
    const busy = document.querySelector('main [aria-busy="true"]');
    if (ready && fresh && !busy) return resolve(String(performance.now() - t0));
    if (performance.now() - t0 > 20000) return reject(new Error('not rendered: ' + %q));
    requestAnimationFrame(check);
  };
  check();
})`

// BenchmarkBrowserLargeStore measures, in headless Chromium, the time from a
// navigation to the drawn page with 10k endpoints and 100k alerts stored:
// go test ./internal/dashboard -run XXX -bench BrowserLargeStore -benchtime 20x
func BenchmarkBrowserLargeStore(b *testing.B) {
	chrome := chromiumPath(b)
	ls := startServer(b)
	seedLarge(b, ls.st)
	ctx, done := browser(b, chrome)
	defer done()
	if err := chromedp.Do(ctx, chromedp.Navigate(ls.url+"/ui/"), chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), ls.token+"\r"), chromedp.WaitVisible(chromedp.CSS("#ov-traffic"))); err != nil {
		b.Fatal(err)
	}
	views := []struct{ name, hash, ready string }{
		{"overview", "#/overview", "#ov-traffic"},
		{"inventory", "#/endpoints", "#results tbody tr"},
		{"inventory-search", "#/endpoints?q=resource99", "#results tbody tr"},
		{"alerts", "#/alerts", "#results tbody tr"},
		{"alerts-by-severity", "#/alerts?sort=severity&severity=critical", "#results tbody tr"},
		{"alert-detail", "#/alerts/al_00000000000003e7", "#triage-form"},
		{"endpoint-detail", "", "#ep-traffic"},
	}
	var epID string
	{
		var page struct {
			Items []struct{ ID string } `json:"items"`
		}
		ls.call(b, "GET", "/api/v1/endpoints?limit=1", nil, &page)
		if len(page.Items) != 1 {
			b.Fatal("no endpoint stored")
		}
		epID = page.Items[0].ID
	}
	views[len(views)-1].hash = "#/endpoints/" + epID
	for _, v := range views {
		b.Run(v.name, func(b *testing.B) {
			n := 0
			for b.Loop() {
				n++
				js := fmt.Sprintf(renderJS, v.hash, v.hash, n, v.ready, v.hash)
				if _, err := chromedp.Run(ctx, chromedp.Evaluate[string](js, chromedp.EvalAwaitPromise)); err != nil {
					b.Fatalf("%s: %v", v.name, err)
				}
			}
		})
	}
}
