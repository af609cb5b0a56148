package detect

import (
	"math/rand/v2"
	"testing"
)

// TestSmallSetMatchesMap: adds, membership, size, cap overflow and reset
// behave like a capped map, across the inline and spilled parts.
func TestSmallSetMatchesMap(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	var s smallSet
	ref := map[uint64]bool{}
	over := 0
	for i := 0; i < 20000; i++ {
		if i%997 == 0 {
			s.reset()
			ref, over = map[uint64]bool{}, 0
		}
		h := uint64(r.IntN(90))
		if got, want := s.has(h), ref[h]; got != want {
			t.Fatalf("op %d: has(%d) = %v, want %v", i, h, got, want)
		}
		want := !ref[h] && len(ref) < smallSetCap
		if !ref[h] && len(ref) >= smallSetCap {
			over++
		}
		if got := s.add(h); got != want {
			t.Fatalf("op %d: add(%d) = %v, want %v", i, h, got, want)
		}
		if want {
			ref[h] = true
		}
		if s.len() != len(ref) || s.overflow != over {
			t.Fatalf("op %d: len %d overflow %d, want %d %d", i, s.len(), s.overflow, len(ref), over)
		}
	}
}
