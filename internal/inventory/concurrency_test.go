package inventory

import (
	"fmt"
	"sync"
	"testing"

	"github.com/palisade-sec/palisade/internal/event"
)

// The inventory is shared by enrichment, analyzers and readers (serve
// mode): concurrent use must be safe (run with -race).
func TestConcurrentUse(t *testing.T) {
	inv := New(DefaultConfig())
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 300; i++ {
				p := fmt.Sprintf("/g%d/users/%d/item%d", g%2, i, i%20)
				ref, ps := inv.Template(h, "GET", p)
				ev := &event.Event{Method: "GET", Host: h, Path: p, Status: 200, PathParams: ps, Time: t0, Endpoint: ref}
				inv.Observe(ev)
				if i%50 == 0 {
					inv.Endpoints(t0)
					inv.Resolve(ev.Endpoint)
					inv.Probes()
					inv.APIChanges()
				}
			}
		}(g)
	}
	wg.Wait()
	var total int64
	for _, ep := range inv.Endpoints(t0) {
		total += ep.Requests
	}
	if total != 1200 {
		t.Errorf("requests = %d, want 1200", total)
	}
	if got := templates(inv, h); len(got) != 2 || got[0] != "GET /g0/users/{userId}/{id}" {
		t.Errorf("templates %v", got)
	}
}
