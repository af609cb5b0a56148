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
				it := newItem(&exchange.Record{Time: t0.Add(tc.at(i, r))}, uint64(i))
				all = append(all, it)
				b.push(it)
				// Release what is older than a 60 s watermark, as Ingest does.
				wm := t0.Add(tc.at(i, r) - time.Minute)
				for b.Len() > 0 && b.peek().notAfter(wm.Unix(), int32(wm.Nanosecond())) && r.IntN(2) == 0 {
					got = append(got, b.pop())
				}
			}
			var rest []heapItem
			for b.Len() > 0 {
				rest = append(rest, b.pop())
			}
			if !sort.SliceIsSorted(rest, func(i, j int) bool { return refLess(rest[i], rest[j]) }) {
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
			it := newItem(&exchange.Record{Time: t0.Add(d)}, uint64(i))
			live[it.seq] = it
			b.push(it)
			continue
		}
		got := b.pop()
		for _, it := range live {
			if refLess(it, got) {
				t.Fatalf("pop %d returned time %v seq %d while time %v seq %d was buffered", i, got.rec.Time, got.seq, it.rec.Time, it.seq)
			}
		}
		delete(live, got.seq)
		if b.Len() != len(live) {
			t.Fatalf("Len %d, want %d", b.Len(), len(live))
		}
	}
}

// refLess is the (time, seq) order on the records' times themselves.
func refLess(a, b heapItem) bool {
	if c := a.rec.Time.Compare(b.rec.Time); c != 0 {
		return c < 0
	}
	return a.seq < b.seq
}

// TestItemOrderIsTimeOrder: the integer keys order items as their times do,
// down to the nanosecond and far from the epoch.
func TestItemOrderIsTimeOrder(t *testing.T) {
	base := []time.Time{
		time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(1600, 5, 5, 0, 0, 0, 1, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 999999999, time.UTC), time.Unix(0, 0),
		time.Date(2026, 11, 18, 10, 0, 0, 5, time.FixedZone("x", 3600)),
		time.Date(2026, 11, 18, 9, 0, 0, 5, time.UTC), time.Date(2300, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC),
	}
	var ts []time.Time
	for _, b := range base {
		for _, d := range []time.Duration{-time.Second, -1, 0, 1, time.Second} {
			ts = append(ts, b.Add(d))
		}
	}
	for i, a := range ts {
		for j, b := range ts {
			x, y := newItem(&exchange.Record{Time: a}, uint64(i)), newItem(&exchange.Record{Time: b}, uint64(j))
			if itemLess(x, y) != refLess(x, y) {
				t.Fatalf("%v (seq %d) < %v (seq %d): got %v", a, i, b, j, itemLess(x, y))
			}
			if x.notAfter(y.sec, y.nsec) != !a.After(b) {
				t.Fatalf("%v not after %v: got %v", a, b, x.notAfter(y.sec, y.nsec))
			}
		}
	}
}
