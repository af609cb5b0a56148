package bounded

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// refLRU is the obvious exact LRU (a recency list), for checking lru.
type refLRU struct {
	cap   int
	order []uint64 // least recent first
	vals  map[uint64]int
}

func (r *refLRU) use(k uint64) {
	if i := slices.Index(r.order, k); i >= 0 {
		r.order = append(r.order[:i], r.order[i+1:]...)
	}
	r.order = append(r.order, k)
}

// TestLRUMatchesReference drives the table and the reference with the same
// random operations (small key spaces force collisions in the index, long
// probe chains, deletions and evictions) and compares every answer, the
// evicted keys and the slot-order iteration.
func TestLRUMatchesReference(t *testing.T) {
	testLRUMatchesReference(t)
	// again with the stamps renumbered every few hundred uses before the
	// tables fill
	defer func(m uint32) { lruClockMax = m }(lruClockMax)
	lruClockMax = 300
	testLRUMatchesReference(t)
}

func testLRUMatchesReference(t *testing.T) {
	for _, tc := range []struct{ cap, keys, ops int }{{1, 4, 2000}, {3, 8, 5000}, {50, 200, 50000}, {1000, 3000, 200000}, {5000, 5000, 100000}, {2000, 2400, 100000}} {
		r := rand.New(rand.NewPCG(uint64(tc.cap), 7))
		l := New[int](tc.cap)
		ref := &refLRU{cap: tc.cap, vals: map[uint64]int{}}
		var evicted, refEvicted []uint64
		l.OnEvict = func(k uint64, v *int) {
			if *v != ref.vals[k] {
				t.Fatalf("cap %d: evicted %d with value %d, want %d", tc.cap, k, *v, ref.vals[k])
			}
			evicted = append(evicted, k)
		}
		slotOf := map[uint64]int{} // reference slot assignment
		var slots []uint64
		for op := 0; op < tc.ops; op++ {
			// keys with common low and high bits collide in the index
			k := uint64(r.IntN(tc.keys)) << (r.IntN(3) * 20)
			switch r.IntN(4) {
			case 0: // peek
				v, ok := l.Peek(k)
				rv, rok := ref.vals[k]
				if ok != rok || ok && *v != rv {
					t.Fatalf("cap %d op %d: peek(%d) = %v, want %v %v", tc.cap, op, k, ok, rv, rok)
				}
			case 1: // get
				v, ok := l.Get(k)
				rv, rok := ref.vals[k]
				if ok != rok || ok && *v != rv {
					t.Fatalf("cap %d op %d: get(%d) = %v, want %v %v", tc.cap, op, k, ok, rv, rok)
				}
				if ok {
					ref.use(k)
					*v = op
					ref.vals[k] = op
				}
			default: // getOrAdd
				v, created := l.GetOrAdd(k)
				_, had := ref.vals[k]
				if created == had {
					t.Fatalf("cap %d op %d: getOrAdd(%d) created=%v, had=%v", tc.cap, op, k, created, had)
				}
				if created {
					if *v != 0 {
						t.Fatalf("cap %d: new value not zero", tc.cap)
					}
					if len(ref.order) == tc.cap {
						old := ref.order[0]
						ref.order = ref.order[1:]
						delete(ref.vals, old)
						refEvicted = append(refEvicted, old)
						s := slotOf[old]
						delete(slotOf, old)
						slotOf[k], slots[s] = s, k
					} else {
						slotOf[k] = len(slots)
						slots = append(slots, k)
					}
				}
				ref.use(k)
				*v = op
				ref.vals[k] = op
			}
		}
		if !slices.Equal(evicted, refEvicted) {
			t.Fatalf("cap %d: evictions differ (%d vs %d)", tc.cap, len(evicted), len(refEvicted))
		}
		if l.Len() != len(ref.vals) || l.Evicted() != int64(len(refEvicted)) {
			t.Fatalf("cap %d: len %d evicted %d, want %d %d", tc.cap, l.Len(), l.Evicted(), len(ref.vals), len(refEvicted))
		}
		var keys []uint64
		l.Each(func(k uint64, v *int) {
			if *v != ref.vals[k] {
				t.Fatalf("cap %d: each(%d) = %d, want %d", tc.cap, k, *v, ref.vals[k])
			}
			keys = append(keys, k)
		})
		if !slices.Equal(keys, slots) {
			t.Fatalf("cap %d: slot order differs", tc.cap)
		}
	}
}

// TestLRULogBounded: the access log stays proportional to the table under
// a long flood of new keys (evictions consume its front) and under a long
// run of uses of the same few keys.
func TestLRULogBounded(t *testing.T) {
	l := New[int](1000)
	for k := uint64(0); k < 2_000_000; k++ {
		l.GetOrAdd(k)
		if k%3 == 0 {
			l.Get(k - k%1000)
		}
	}
	for i := 0; i < 2_000_000; i++ {
		l.Get(uint64(2_000_000 - 1 - i%7))
	}
	if c := cap(l.log); c > 8*1000+4096 {
		t.Fatalf("log capacity %d for 1000 entries", c)
	}
}
