package inventory

import (
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/axiomhq/hyperloglog"

	"github.com/palisade-sec/palisade/internal/hashing"
)

// distinctRef is what distinct replaced: every hash inserted into the
// sketch.
type distinctRef struct{ sk *hyperloglog.Sketch }

func (r *distinctRef) insert(h uint64) {
	if r.sk == nil {
		r.sk = hyperloglog.New14()
	}
	r.sk.InsertHash(h)
}

func (r *distinctRef) estimate() (uint64, bool) {
	if r.sk == nil {
		return 0, false
	}
	return r.sk.Estimate(), true
}

// runDistinct applies a stream of operations to a distinct and to the
// reference and fails on the first estimate that differs. Each op: insert
// one of the first `pool` hashes (repeats), a fresh hash, an estimate, or a
// merge of a second counter fed the same way.
func runDistinct(t *testing.T, ops []byte, pool int, wide bool) {
	t.Helper()
	var d, d2 distinct
	var r, r2 distinctRef
	hashes := make([]uint64, pool)
	for i := range hashes {
		hashes[i] = hashing.Fmix64(uint64(i) + 1)
	}
	hashes[0] = 0 // the table's empty value must still count
	fresh := uint64(1 << 40)
	check := func(where int) {
		got, gok := d.estimate()
		want, wok := r.estimate()
		if got != want || gok != wok {
			t.Fatalf("op %d: estimate %d (%v), reference %d (%v)", where, got, gok, want, wok)
		}
	}
	for i := 0; i+1 < len(ops); i += 2 {
		arg := int(ops[i+1])
		if wide && i+2 < len(ops) {
			arg = arg<<8 | int(ops[i+2])
		}
		switch ops[i] % 8 {
		case 0, 1, 2, 3:
			h := hashes[arg%pool]
			d.insert(h)
			r.insert(h)
		case 4:
			fresh++
			h := hashing.Fmix64(fresh)
			d.insert(h)
			r.insert(h)
		case 5:
			h := hashes[arg%pool]
			d2.insert(h)
			r2.insert(h)
		case 6:
			check(i)
		case 7:
			if r2.sk != nil {
				d.merge(&d2)
				if r.sk == nil {
					r.sk = r2.sk
				} else {
					_ = r.sk.Merge(r2.sk)
				}
				d2, r2 = distinct{}, distinctRef{}
			}
		}
	}
	check(len(ops))
}

// TestDistinctMatchesSketch: the table in front of the sketch changes no
// estimate, below and across the sparse-to-dense switch (more than 16,384
// distinct sparse keys), with repeats, merges and estimates in between.
func TestDistinctMatchesSketch(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for _, tc := range []struct{ n, pool int }{{50, 3}, {2000, 40}, {20000, 900}, {60000, 5000}, {150000, 30000}} {
		ops := make([]byte, 2*tc.n+1)
		for i := range ops {
			ops[i] = byte(rng.IntN(256))
		}
		// mostly repeats: ops 0-3 (and a few of the others)
		for i := 0; i < len(ops); i += 2 {
			if rng.IntN(10) < 8 {
				ops[i] = byte(rng.IntN(4))
			}
		}
		runDistinct(t, ops, tc.pool, true)
	}
	// a stream reaching dense: 40,000 distinct values, each seen 3 times
	var d distinct
	var r distinctRef
	for k := 0; k < 3; k++ {
		for i := 1; i <= 40000; i++ {
			h := hashing.Fmix64(uint64(i))
			d.insert(h)
			r.insert(h)
		}
		got, _ := d.estimate()
		want, _ := r.estimate()
		if got != want {
			t.Fatalf("round %d: estimate %d, reference %d", k, got, want)
		}
		if want < 35000 {
			t.Fatalf("reference estimate %d for 40,000 values", want)
		}
	}
	if !d.full {
		t.Fatalf("set of %d keys kept past %d distinct values", d.n, distinctMaxKeys)
	}
}

// TestSparseKey checks sparseKey against the sketch itself: two hashes
// have the same key exactly when a sparse sketch holding the first does
// not count the second.
func TestSparseKey(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	same, differ := 0, 0
	for i := 0; i < 20000; i++ {
		x := rng.Uint64()
		var y uint64
		switch i % 4 {
		case 0: // same 25-bit index, other low bits
			y = x&^(1<<39-1) | rng.Uint64()&(1<<39-1)
		case 1: // an index with its low 11 bits zero (keys carrying the rank)
			x &^= (1<<11 - 1) << 39
			y = x&^(1<<39-1) | rng.Uint64()>>uint(25+rng.IntN(39))
		case 2: // differs in one bit
			y = x ^ 1<<uint(rng.IntN(64))
		default:
			y = rng.Uint64()
		}
		sk := hyperloglog.New14()
		sk.InsertHash(x)
		one := sk.Estimate()
		sk.InsertHash(y)
		two := sk.Estimate()
		if got, want := sparseKey(x) == sparseKey(y), one == two; got != want {
			t.Fatalf("%#x, %#x: same key %v, sketch counts them once %v", x, y, got, want)
		}
		if one == two {
			same++
		} else {
			differ++
		}
	}
	if same < 1000 || differ < 1000 {
		t.Fatalf("degenerate pairs: %d same, %d different", same, differ)
	}
}

func FuzzDistinct(f *testing.F) {
	seed := make([]byte, 0, 64)
	for i := 0; i < 32; i++ {
		seed = binary.LittleEndian.AppendUint16(seed, uint16(i*37))
	}
	f.Add(seed, uint16(5))
	f.Add([]byte{0, 0, 0, 1, 6, 0, 5, 3, 7, 0, 6, 0}, uint16(2))
	f.Fuzz(func(t *testing.T, ops []byte, pool uint16) {
		runDistinct(t, ops, int(pool%2000)+1, false)
	})
}
