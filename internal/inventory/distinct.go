package inventory

import (
	"math/bits"

	"github.com/axiomhq/hyperloglog"
)

// distinct counts distinct values (clients, identities) of an operation:
// a HyperLogLog (precision 14, sparse while small) behind the exact set of
// the sparse keys already inserted into it.
//
// A hash whose sparse key is in the set is not inserted again. That
// changes nothing the sketch reports: its state, once Estimate has merged
// the pending keys, depends only on the set of sparse keys inserted
// (sparse keys are a set; dense registers are a maximum over values that
// hashes with the same sparse key share; and the sparse-to-dense switch
// depends on the number of distinct keys when Estimate runs). What it
// saves is the sparse sketch's work on repeats: the sketch adds every
// insertion of a key it already merged to its pending set again, and each
// 164 pending keys rebuild its whole list — API clients come back, so at
// thousands of clients per operation most insertions were such repeats.
//
// Memory: the set holds 4 bytes per distinct key in a table at most 3/4
// full (at most distinctMaxKeys keys: 64 KiB); past that many distinct
// values the set is dropped and every hash goes to the sketch, as before.
type distinct struct {
	sk   *hyperloglog.Sketch
	keys []uint32 // open addressing, 0 = empty (key 0 is the zero flag)
	n    int      // keys in the table
	zero bool     // key 0 was inserted
	full bool     // more than distinctMaxKeys keys: no set
}

const (
	distinctMinSlots = 16
	distinctMaxKeys  = 8192
)

// sparseKey is the sketch's sparse encoding of a hash (encodeHash with
// precision 14 and sparse precision 25 in axiomhq/hyperloglog): two hashes
// with the same key change the sketch in the same way.
func sparseKey(x uint64) uint32 {
	const p, pp = 14, 25
	idx := uint32(x >> (64 - pp))
	if idx&(1<<(pp-p)-1) == 0 {
		zeros := bits.LeadingZeros64((x&(1<<(64-pp)-1))<<pp|(1<<pp-1)) + 1
		return idx<<7 | uint32(zeros<<1) | 1
	}
	return idx << 1
}

// insert adds a (well mixed) hash.
func (d *distinct) insert(h uint64) {
	if d.sk == nil {
		d.sk = hyperloglog.New14()
	}
	if d.full {
		d.sk.InsertHash(h)
		return
	}
	if !d.add(sparseKey(h)) {
		return // already in the sketch
	}
	d.sk.InsertHash(h)
}

// add puts k in the set; false when it was there.
func (d *distinct) add(k uint32) bool {
	if k == 0 {
		if d.zero {
			return false
		}
		d.zero = true
		return true
	}
	if d.keys == nil {
		d.keys = make([]uint32, distinctMinSlots)
	}
	mask := uint32(len(d.keys) - 1)
	for i := (k * 0x9E3779B1) >> 7 & mask; ; i = (i + 1) & mask {
		switch d.keys[i] {
		case k:
			return false
		case 0:
			d.keys[i] = k
			d.n++
			if d.n > distinctMaxKeys {
				d.keys, d.n, d.full = nil, 0, true
			} else if 4*d.n > 3*len(d.keys) {
				d.grow()
			}
			return true
		}
	}
}

// grow doubles the table.
func (d *distinct) grow() {
	old := d.keys
	d.keys = make([]uint32, 2*len(old))
	mask := uint32(len(d.keys) - 1)
	for _, k := range old {
		if k == 0 {
			continue
		}
		i := (k * 0x9E3779B1) >> 7 & mask
		for d.keys[i] != 0 {
			i = (i + 1) & mask
		}
		d.keys[i] = k
	}
}

// merge adds o's values (o is not used afterwards).
func (d *distinct) merge(o *distinct) {
	if o == nil || o.sk == nil {
		return
	}
	if d.sk == nil {
		*d = *o
		return
	}
	_ = d.sk.Merge(o.sk) // same precision by construction
	switch {
	case d.full:
	case o.full:
		d.keys, d.n, d.full = nil, 0, true
	default:
		if o.zero {
			d.add(0)
		}
		for _, k := range o.keys {
			if k != 0 && !d.full {
				d.add(k)
			}
		}
	}
}

// estimate returns the sketch's estimate (ok false when nothing was
// inserted).
func (d *distinct) estimate() (n uint64, ok bool) {
	if d == nil || d.sk == nil {
		return 0, false
	}
	return d.sk.Estimate(), true
}
