package posture

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/identity"
	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/testutil"
)

// TestKeptStringsAreCopies: endpoint keys and the evidence kept (header
// values, origins, parameter names, schemes, algorithms) are not views of
// the event's text (its record's decoded line).
func TestKeptStringsAreCopies(t *testing.T) {
	line := strings.Repeat("x", 64) + "api.example.testGET/v1/itemshttpnginx/1.18.0https://evil.testtrueapi-key-query:api_keyHS256"
	at := func(sub string) string { i := strings.Index(line, sub); return line[i : i+len(sub)] }
	tr := NewTraffic(TrafficConfig{})
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < 3; i++ {
		rec := &exchange.Record{Time: t0, Request: exchange.Request{Method: "GET", Headers: map[string]string{"origin": at("https://evil.test")}},
			Response: exchange.Response{Status: 200, Headers: map[string]string{"server": at("nginx/1.18.0"), "x-powered-by": at("nginx/1.18.0"),
				"access-control-allow-credentials": at("true"), "access-control-allow-origin": at("https://evil.test")}}}
		ev := &event.Event{Rec: rec, Time: t0.Add(time.Duration(i) * time.Second), Method: at("GET"), Scheme: at("http"), Host: at("api.example.test"),
			Path: at("/v1/items"), Status: 200, External: true, ClientIP: netip.MustParseAddr("198.51.100.1"),
			Endpoint: model.EndpointRef{Host: at("api.example.test"), Method: at("GET"), Path: at("/v1/items")},
			Auth: identity.Auth{Credentials: true, Schemes: []string{at("api-key-query:api_key")},
				Identity: &identity.Identity{ID: "p1", Token: &identity.JWT{Alg: at("HS256")}}}}
		tr.Observe(ev)
	}
	var kept []string
	for ref, e := range tr.eps {
		kept = append(kept, ref.Host, ref.Method, ref.Path, e.algPending)
		for k := range e.plainSchemes {
			kept = append(kept, k)
		}
		for k := range e.credParams {
			kept = append(kept, k)
		}
		for k, v := range e.versions {
			kept = append(kept, k, v)
		}
		for k := range e.corsOrigins {
			kept = append(kept, k)
		}
	}
	if len(kept) < 9 {
		t.Fatalf("only %d strings kept: %q", len(kept), kept)
	}
	for _, s := range kept {
		if testutil.Within(s, line) {
			t.Errorf("%q is kept as a view of the event's text", s)
		}
	}
}
