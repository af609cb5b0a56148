package inventory

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/enrich"
	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/exchange"
)

// benchEvents builds n enriched events (without a templater) of varied
// traffic: 3 hosts, ~40 routes with integer/UUID/word ids, query strings,
// credentials and JSON bodies on a quarter of the requests.
func benchEvents(b *testing.B, n int) []*event.Event {
	rng := rand.New(rand.NewPCG(7, 7))
	enr := enrich.New(enrich.DefaultConfig(), nil, nil)
	routes := []string{"/v1/users/%d", "/v1/users/%d/orders", "/v1/users/%d/orders/%d", "/v1/orders/%s", "/v1/products/SKU-%04d",
		"/v1/products/featured", "/v1/search", "/v2/accounts/%d/invoices/%d", "/v2/accounts/%d/settings", "/blog/%s", "/static/app.js",
		"/v1/users/%d/addresses/%d", "/api/items/%x", "/api/items/%x/reviews", "/api/categories/%s/items"}
	words := []string{"books", "music", "garden", "toys", "tools", "food", "sports", "games"}
	out := make([]*event.Event, n)
	for i := range out {
		r := routes[rng.IntN(len(routes))]
		var p string
		switch r {
		case "/v1/orders/%s":
			p = fmt.Sprintf(r, fmt.Sprintf("%08x-%04x-4%03x-a%03x-%012x", rng.Uint32(), rng.IntN(1<<16), rng.IntN(1<<12), rng.IntN(1<<12), rng.Uint64()&(1<<48-1)))
		case "/blog/%s":
			p = fmt.Sprintf(r, fmt.Sprintf("how-to-%s-in-%d-steps", words[rng.IntN(len(words))], rng.IntN(50)))
		case "/api/categories/%s/items":
			p = fmt.Sprintf(r, words[rng.IntN(len(words))])
		case "/api/items/%x", "/api/items/%x/reviews":
			p = fmt.Sprintf(r, rng.Uint64())
		default:
			args := make([]any, strings.Count(r, "%"))
			for j := range args {
				args[j] = rng.IntN(100000)
			}
			p = fmt.Sprintf(r, args...)
		}
		host := []string{"api.example.test", "shop.example.test", "internal.example.test"}[rng.IntN(3)]
		q := ""
		if rng.IntN(2) == 0 {
			q = fmt.Sprintf("?limit=%d&offset=%d&sort=name", rng.IntN(100), rng.IntN(1000))
		}
		rec := &exchange.Record{Time: t0.Add(timeDur(i)), DurationMs: float64(rng.IntN(300)), Client: exchange.Client{IP: fmt.Sprintf("198.51.100.%d", rng.IntN(250))},
			Request:  exchange.Request{Method: []string{"GET", "GET", "GET", "POST", "PUT"}[rng.IntN(5)], URL: "https://" + host + p + q, Headers: map[string]string{"authorization": "Bearer abc.def.ghi", "user-agent": "bench"}},
			Response: exchange.Response{Status: []int{200, 200, 200, 201, 404, 500}[rng.IntN(6)], Headers: map[string]string{"content-type": "application/json"}}}
		if rng.IntN(4) == 0 {
			rec.Request.Body = fmt.Sprintf(`{"name":"n%d","qty":%d,"tags":["a","b"],"address":{"city":"c","zip":"%05d"}}`, i, i%10, i%99999)
			rec.Response.Body = fmt.Sprintf(`{"id":%d,"status":"ok","created":"2024-01-01T00:00:00Z","items":[{"sku":"SKU-1","price":9.99}]}`, i)
		}
		if err := rec.Validate(); err != nil {
			b.Fatal(err)
		}
		ev, err := enr.Enrich(rec, uint64(i))
		if err != nil {
			b.Fatal(err)
		}
		out[i] = ev
	}
	return out
}

// BenchmarkInventory measures Template + Observe per event (the hot path).
func BenchmarkInventory(b *testing.B) {
	evs := benchEvents(b, 50_000)
	inv := New(DefaultConfig())
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ev := evs[i%len(evs)]
		ev.Endpoint, ev.PathParams = inv.Template(ev.Host, ev.Method, ev.Path)
		inv.Observe(ev)
	}
	b.StopTimer()
	b.ReportMetric(float64(inv.Stats().Nodes), "nodes")
}

func timeDur(i int) time.Duration { return time.Duration(i) * 10 * time.Millisecond }
