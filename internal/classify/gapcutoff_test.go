package classify

import (
	"math/rand/v2"
	"testing"
	"time"
)

// TestGapCutoff checks the comparison sampled uses against the
// subtraction it replaces, on times around the gap, far apart (where Sub
// saturates), the zero time and times carrying monotonic clock readings.
func TestGapCutoff(t *testing.T) {
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	now := time.Now() // with a monotonic reading
	times := []time.Time{{}, base, now, time.Unix(0, 0), time.Date(1, 1, 1, 0, 0, 30, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), time.Date(1700, 1, 1, 0, 0, 0, 0, time.UTC)}
	for _, d := range []time.Duration{0, 1, time.Second, fieldSampleMaxGap - 1, fieldSampleMaxGap, fieldSampleMaxGap + 1, time.Hour, time.Duration(1<<63 - 1)} {
		times = append(times, base.Add(d), base.Add(-d), now.Add(d), now.Add(-d))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		times = append(times, base.Add(time.Duration(rng.Int64N(int64(4*fieldSampleMaxGap)))-2*fieldSampleMaxGap))
	}
	n := 0
	for _, ev := range times {
		cut := gapCutoff(ev)
		for _, last := range times {
			old := ev.Sub(last) >= fieldSampleMaxGap
			if got := !last.After(cut); got != old {
				t.Fatalf("event %v, last %v: cutoff test %v, Sub test %v", ev, last, got, old)
			}
			if old {
				n++
			}
		}
	}
	if n == 0 || n == len(times)*len(times) {
		t.Fatalf("degenerate test: %d of %d pairs past the gap", n, len(times)*len(times))
	}
}
