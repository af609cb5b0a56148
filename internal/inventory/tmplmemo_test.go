package inventory

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/enrich"
	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/exchange"
)

// TestTemplateMemo: Observe reusing the node Template found changes
// nothing. Two inventories see the same traffic, one with the memo off;
// the traffic learns new routes, collapses word positions into parameters,
// reaches a small node budget (pruning and collapsing), hits ignored and
// pinned paths, and sometimes calls Template without Observe, Observe
// without a fresh Template, or another method in between.
func TestTemplateMemo(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  func(*Config)
	}{
		{"default", func(*Config) {}},
		{"budget", func(c *Config) { c.MaxNodes = 120 }},
		{"pins-ignores", func(c *Config) {
			c.Pinned = []string{"/v1/users/{id}/orders", "b.test /items/{sku}"}
			c.Ignore = []string{"/static/**", "/healthz"}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var invs [2]*Inventory
			var enrs [2]*enrich.Enricher
			for i := range invs {
				cfg := DefaultConfig()
				tc.cfg(&cfg)
				invs[i] = New(cfg)
				if err := invs[i].Err(); err != nil {
					t.Fatal(err)
				}
				enrs[i] = enrich.New(enrich.DefaultConfig(), invs[i], nil)
			}
			invs[1].noTmplMemo = true
			rng := rand.New(rand.NewPCG(11, 12))
			words := []string{"books", "music", "garden", "toys", "tools", "food", "sports", "games", "shoes", "hats", "maps", "pens",
				"cups", "bags", "lamps", "desks", "beds", "rugs", "fans", "mops"}
			hosts := []string{"a.test", "b.test", "c.test"}
			hits := 0
			for i := 0; i < 20000; i++ {
				var p string
				switch rng.IntN(9) {
				case 0:
					p = fmt.Sprintf("/v1/users/%d", rng.IntN(500))
				case 1:
					p = fmt.Sprintf("/v1/users/%d/orders", rng.IntN(500))
				case 2:
					p = "/shop/" + words[rng.IntN(len(words))] + "/items"
				case 3:
					p = fmt.Sprintf("/items/SKU-%04d", rng.IntN(3000))
				case 4:
					p = fmt.Sprintf("/x/%s-%d/y/%d", words[rng.IntN(len(words))], rng.IntN(40), rng.IntN(9))
				case 5:
					p = []string{"/static/app.js", "/healthz", "/", "/v2/status"}[rng.IntN(4)]
				case 6:
					p = fmt.Sprintf("/probe/%x", rng.Uint32())
				default:
					p = "/api/" + words[rng.IntN(len(words))] + "/" + words[rng.IntN(len(words))]
				}
				status := []int{200, 200, 200, 201, 404, 404, 401, 500}[rng.IntN(8)]
				rec := &exchange.Record{Time: t0.Add(time.Duration(i) * time.Second), DurationMs: float64(rng.IntN(100)),
					Client:   exchange.Client{IP: fmt.Sprintf("198.51.100.%d", rng.IntN(200))},
					Request:  exchange.Request{Method: []string{"GET", "GET", "POST"}[rng.IntN(3)], URL: "https://" + hosts[rng.IntN(3)] + p},
					Response: exchange.Response{Status: status}}
				if err := rec.Validate(); err != nil {
					t.Fatal(err)
				}
				var evs [2]*event.Event
				for k := range invs {
					ev, err := enrs[k].Enrich(rec, uint64(i))
					if err != nil {
						t.Fatal(err)
					}
					evs[k] = ev
				}
				switch rng.IntN(20) {
				case 0: // another Template between
					for k := range invs {
						invs[k].Template("c.test", "GET", "/v1/users/1")
					}
				case 1: // another method between
					for k := range invs {
						invs[k].Stats()
					}
				case 2: // Template without Observe
					continue
				}
				if m := invs[0].tmplMemo; m.n != nil && m.path == evs[0].Path {
					hits++
				}
				for k := range invs {
					invs[k].Observe(evs[k])
				}
			}
			if hits < 1000 {
				t.Fatalf("memo used %d times: the test does not exercise it", hits)
			}
			var out [2]string
			for k := range invs {
				b, err := json.Marshal(struct {
					E any
					P any
					C any
					S Stats
				}{invs[k].Endpoints(t0.Add(30 * time.Hour)), invs[k].Probes(), invs[k].APIChanges(), invs[k].Stats()})
				if err != nil {
					t.Fatal(err)
				}
				out[k] = string(b)
			}
			if out[0] != out[1] {
				t.Fatalf("with the memo:\n%.2000s\nwithout:\n%.2000s", out[0], out[1])
			}
			if tc.name == "budget" && invs[0].Stats().BudgetEvents == 0 {
				t.Fatal("budget never enforced")
			}
		})
	}
}
