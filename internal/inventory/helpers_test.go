package inventory

import (
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/enrich"
	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/model"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// feeder runs records through enrichment (with the inventory as templater)
// and into Observe, like the engine does.
type feeder struct {
	t   testing.TB
	inv *Inventory
	enr *enrich.Enricher
	seq uint64
}

func newFeeder(t testing.TB, inv *Inventory) *feeder {
	return &feeder{t: t, inv: inv, enr: enrich.New(enrich.DefaultConfig(), inv, nil)}
}

type req struct {
	method, url string
	status      int
	client      string
	headers     map[string]string
	body        string
	respBody    string
	at          time.Time
}

func (f *feeder) send(r req) *event.Event {
	f.t.Helper()
	if r.status == 0 {
		r.status = 200
	}
	if r.client == "" {
		r.client = "203.0.113.7"
	}
	if r.at.IsZero() {
		r.at = t0.Add(time.Duration(f.seq) * time.Second)
	}
	rec := &exchange.Record{Time: r.at, DurationMs: 12, Client: exchange.Client{IP: r.client},
		Request:  exchange.Request{Method: r.method, URL: r.url, Headers: r.headers, Body: r.body},
		Response: exchange.Response{Status: r.status, Body: r.respBody, Headers: map[string]string{"content-type": "application/json"}}}
	if err := rec.Validate(); err != nil {
		f.t.Fatalf("record %s %s: %v", r.method, r.url, err)
	}
	ev, err := f.enr.Enrich(rec, f.seq)
	if err != nil {
		f.t.Fatalf("enrich %s: %v", r.url, err)
	}
	f.seq++
	f.inv.Observe(ev)
	return ev
}

// get sends a GET with status 200 and returns the template assigned at
// enrichment time.
func (f *feeder) get(url string) string {
	f.t.Helper()
	return f.send(req{method: "GET", url: url}).Endpoint.Path
}

// templates lists the current "METHOD path" of every endpoint of a host.
func templates(inv *Inventory, host string) []string {
	var out []string
	for _, ep := range inv.Endpoints(t0.Add(24 * time.Hour)) {
		if ep.Host == host {
			out = append(out, ep.Method+" "+ep.Path)
		}
	}
	return out
}

func refOf(method, path string) model.EndpointRef {
	return model.EndpointRef{Host: h, Method: method, Path: path}
}
