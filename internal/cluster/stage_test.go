package cluster

import (
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/engine"
	"github.com/palisade-sec/palisade/internal/model"
)

// TestPopulationTakesPartitionInOrder: a partition's batch stored with a
// hole (one message not acknowledged while a NATS server failed) and the
// hole published again after the rest, with duplicates of what followed
// it, reaches the detectors complete, in order and once; a hole never
// filled is given up after maxHeld messages and counted.
func TestPopulationTakesPartitionInOrder(t *testing.T) {
	lines := simCapture(t, 0.2, 0.05)[:5]
	c, err := NewPopulationStage(1, engine.DefaultConfig(), 0)
	if err != nil {
		t.Fatal(err)
	}
	fwd := func(i int) *Forward {
		r := decode(t, lines[i])
		return &Forward{Part: 0, Out: uint64(i + 1), InSeq: uint64(i + 1), Time: r.Time.UnixNano(),
			Endpoint: model.EndpointRef{Method: r.Request.Method, Host: "api.example", Path: "/x"}, Record: lines[i]}
	}
	var seq uint64
	take := func(f *Forward, m *Mark) {
		seq++
		if err := c.Take(seq, f, m); err != nil {
			t.Fatal(err)
		}
	}
	for _, i := range []int{0, 1, 3, 4, 2, 3, 4} {
		take(fwd(i), nil)
	}
	end := decode(t, lines[4]).Time.Add(time.Hour).UnixNano()
	take(nil, &Mark{Part: 0, Out: 6, Time: end})
	if c.records != 5 || c.late != 0 || c.Pending() != 0 || c.missing != 0 {
		t.Fatalf("records %d late %d pending %d missing %d, want 5 0 0 0", c.records, c.late, c.Pending(), c.missing)
	}

	// A hole that never fills.
	take(nil, &Mark{Part: 0, Out: 8, Time: end + 1})
	for o := uint64(9); c.last[0] < 7; o++ {
		take(nil, &Mark{Part: 0, Out: o, Time: end + int64(o)})
		if o > 8+maxHeld {
			t.Fatal("the hole was never given up")
		}
	}
	if c.missing != 1 || len(c.held[0]) != 0 {
		t.Fatalf("missing %d held %d, want 1 0", c.missing, len(c.held[0]))
	}
	if got := c.Partial(time.Now()).Report.AnalysisDropped["cluster forwards missing"]; got != 1 {
		t.Fatalf(`analysis_dropped["cluster forwards missing"] = %d, want 1`, got)
	}
}
