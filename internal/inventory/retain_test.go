package inventory

import (
	"net/url"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/identity"
	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/testutil"
)

// TestKeptStringsAreCopies: the strings the inventory keeps (hosts, path
// segments, methods, parameter names and examples, auth schemes) are not
// views of the event's text, which may be its record's whole decoded line.
func TestKeptStringsAreCopies(t *testing.T) {
	line := strings.Repeat("x", 64) + "api.example.testGET/shop/books/itemslimitx-tenanttruebasicflag"
	at := func(sub string) string { i := strings.Index(line, sub); return line[i : i+len(sub)] }
	inv := New(DefaultConfig())
	for i := 0; i < 3; i++ {
		rec := &exchange.Record{Time: t0, Client: exchange.Client{IP: "198.51.100.1"},
			Request:  exchange.Request{Method: "GET", URL: "https://api.example.test/shop/books/items", Headers: map[string]string{at("x-tenant"): at("true")}},
			Response: exchange.Response{Status: 200}}
		ev := &event.Event{Rec: rec, Time: t0, Method: at("GET"), Scheme: "https", Host: at("api.example.test"), Path: at("/shop/books/items"),
			Query: url.Values{at("limit"): {at("true")}, at("flag"): {at("true"), at("true")}}, Status: 200,
			Auth: identity.Auth{Credentials: true, Schemes: []string{at("basic")}}}
		ev.Endpoint = model.EndpointRef{Host: ev.Host, Method: ev.Method}
		ev.Endpoint, ev.PathParams = inv.Template(ev.Host, ev.Method, ev.Path)
		inv.Observe(ev)
	}
	var kept []string
	for h, ht := range inv.hosts {
		kept = append(kept, h)
		walk(ht.root, func(n *node) {
			kept = append(kept, n.seg)
			kept = append(kept, n.prefixes...)
			for m, st := range n.eps {
				kept = append(kept, m)
				kept = append(kept, st.authSchemes...)
				for k, p := range st.params {
					kept = append(kept, k.name)
					kept = append(kept, p.examples...)
				}
			}
		})
	}
	if len(kept) < 10 {
		t.Fatalf("only %d strings kept: %q", len(kept), kept)
	}
	for _, s := range kept {
		if testutil.Within(s, line) {
			t.Errorf("%q is kept as a view of the event's text", s)
		}
	}
}
