package posture

import (
	"net/netip"
	"testing"
	"time"
)

// TestBurstAllocs: burst windows are kept without allocation (windows.go):
// once the window budget is reached, a new (endpoint, client) pair evicts
// the least recently used window and reuses its slot.
func TestBurstAllocs(t *testing.T) {
	tr := NewTraffic(TrafficConfig{MaxClientWindows: 64})
	ev := pev(pt0)
	tr.Observe(ev)
	e := tr.eps[ev.Endpoint]
	n := uint32(0)
	next := func() {
		n++
		ev.ClientIP = netip.AddrFrom4([4]byte{198, 51, byte(n >> 8), byte(n)})
		ev.Time = pt0.Add(time.Duration(n) * time.Millisecond)
		tr.burst(ev, e)
	}
	for i := 0; i < 4096; i++ { // fill the budget, evict, compact the use log
		next()
	}
	if allocs := testing.AllocsPerRun(2000, next); allocs != 0 {
		t.Errorf("a new window in a full table: %v allocations", allocs)
	}
	if tr.stats.Dropped["client_windows_evicted"] == 0 {
		t.Fatal("no window was evicted: the budget was not reached")
	}
}
