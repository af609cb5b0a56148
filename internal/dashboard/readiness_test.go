package dashboard_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/sim"
)

// TestBrowserReadinessPanel: on one hour of a small deployment, the
// overview's readiness panel says which detectors are still learning,
// what they still need and what they do meanwhile (bfla's learning period
// is 2 h), and passes the accessibility audit.
func TestBrowserReadinessPanel(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	chrome := chromiumPath(t)
	ls := startServer(t)
	cfg := sim.DefaultConfig()
	cfg.Variant, _ = sim.VariantByName("one-hour")
	var buf bytes.Buffer
	if _, err := sim.Generate(cfg, func(r *exchange.Record) error { return exchange.Encode(&buf, r) }); err != nil {
		t.Fatal(err)
	}
	if code := ls.call(t, "POST", "/api/v1/ingest", &buf, nil); code != 200 {
		t.Fatalf("ingest: HTTP %d", code)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		var rd struct {
			AsOf      *time.Time `json:"as_of"`
			Detectors []struct{ Detector, State string }
		}
		ls.call(t, "GET", "/api/v1/detectors", nil, &rd)
		if rd.AsOf != nil && rd.AsOf.After(cfg.Start.Add(55*time.Minute)) && len(rd.Detectors) > 5 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no readiness after the ingest: %+v", rd)
		}
		time.Sleep(200 * time.Millisecond)
	}
	bctx, done := browser(t, chrome)
	defer done()
	ctx, cancel := context.WithTimeout(bctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.Navigate(ls.url+"/ui/#/overview"), chromedp.WaitVisible(chromedp.CSS("#token")),
		chromedp.SendKeys(chromedp.CSS("#token"), ls.viewer+"\r"), chromedp.WaitVisible(chromedp.CSS("#readiness tbody tr"))); err != nil {
		t.Fatal(err)
	}
	row, err := chromedp.Run(ctx, chromedp.Evaluate[string](`[...document.querySelectorAll('#readiness tbody tr')].find(r => r.querySelector('th').textContent === 'bfla')?.textContent || ''`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(row, "Meanwhile") || !strings.Contains(row, "h") || strings.Contains(row, "ready0") {
		t.Errorf("bfla row %q: want its learning state, what it needs and what it does meanwhile", row)
	}
	summary, _ := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#readiness p")))
	if !strings.Contains(summary, "event time") || !strings.Contains(summary, "learning") {
		t.Errorf("readiness summary %q", summary)
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(artifactsDir(t), "readiness-one-hour.png"), png, 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := chromedp.Run(ctx, chromedp.Evaluate[string](auditJS))
	if err != nil {
		t.Fatal(err)
	}
	if res != "[]" {
		t.Errorf("accessibility audit of the overview: %s", res)
	}
}
