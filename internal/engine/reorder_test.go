package engine

import (
	"math/rand/v2"
	"sort"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/exchange"
)

// TestReorderBufferOrder: whatever the arrival order (in order, slightly
// out of order, reversed, ties), pop returns (time, seq) order, also when
// pushes and pops interleave.
func TestReorderBufferOrder(t *testing.T) {
	t0 := time.Date(2026, 11, 18, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		at   func(i int, r *rand.Rand) time.Duration
	}{
		{"in order", func(i int, r *rand.Rand) time.Duration { return time.Duration(i) * time.Second }},
		{"ties", func(i int, r *rand.Rand) time.Duration { return time.Duration(i/7) * time.Second }},
		{"jitter", func(i int, r *rand.Rand) time.Duration {
			return time.Duration(i)*time.Second - time.Duration(r.IntN(30))*time.Second
		}},
		{"reversed", func(i int, r *rand.Rand) time.Duration { return -time.Duration(i) * time.Second }},
		{"random", func(i int, r *rand.Rand) time.Duration { return time.Duration(r.IntN(100)) * time.Second }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			var b reorderBuffer
			var all, got []heapItem
			for i := 0; i < 5000; i++ {
				it := heapItem{rec: &exchange.Record{Time: t0.Add(tc.at(i, r))}, seq: uint64(i)}
				all = append(all, it)
				b.push(it)
				// Release what is older than a 60 s watermark, as Ingest does.
				wm := t0.Add(tc.at(i, r) - time.Minute)
				for b.Len() > 0 && !b.peek().rec.Time.After(wm) && r.IntN(2) == 0 {
					got = append(got, b.pop())
				}
			}
			var rest []heapItem
			for b.Len() > 0 {
				rest = append(rest, b.pop())
			}
			if !sort.SliceIsSorted(rest, func(i, j int) bool { return itemLess(rest[i], rest[j]) }) {
				t.Fatal("final drain out of order")
			}
			if len(got)+len(rest) != len(all) {
				t.Fatalf("released %d of %d", len(got)+len(rest), len(all))
			}
		})
	}
}

// TestReorderBufferMinimum: each pop returns the minimum of what is buffered.
func TestReorderBufferMinimum(t *testing.T) {
	t0 := time.Date(2026, 11, 18, 0, 0, 0, 0, time.UTC)
	r := rand.New(rand.NewPCG(3, 4))
	var b reorderBuffer
	live := map[uint64]heapItem{}
	for i := 0; i < 20000; i++ {
		if r.IntN(3) > 0 || b.Len() == 0 {
			d := time.Duration(i) * time.Second
			if r.IntN(5) == 0 {
				d -= time.Duration(r.IntN(600)) * time.Second
			}
			it := heapItem{rec: &exchange.Record{Time: t0.Add(d)}, seq: uint64(i)}
			live[it.seq] = it
			b.push(it)
			continue
		}
		got := b.pop()
		for _, it := range live {
			if itemLess(it, got) {
				t.Fatalf("pop %d returned time %v seq %d while time %v seq %d was buffered", i, got.rec.Time, got.seq, it.rec.Time, it.seq)
			}
		}
		delete(live, got.seq)
		if b.Len() != len(live) {
			t.Fatalf("Len %d, want %d", b.Len(), len(live))
		}
	}
}
