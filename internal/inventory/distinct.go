package inventory

import "github.com/axiomhq/hyperloglog"

// distinct counts distinct values (clients, identities) of an operation:
// a HyperLogLog (precision 14, sparse while small) behind a small
// direct-mapped table of the hashes inserted recently.
//
// A hash found in the table is not inserted again. That changes nothing
// the sketch reports: its state, once Estimate has merged the pending
// keys, depends only on the set of hashes inserted (sparse keys are a set,
// dense registers a maximum, and the sparse-to-dense switch is decided on
// the number of distinct keys when Estimate runs). What it saves is the
// sparse sketch's work on repeats: every insertion of a key already merged
// into its sparse list goes to its pending set again, and each 164
// pending keys rebuild the whole list.
//
// Memory: the table grows with the hashes that missed it, from 16 to at
// most distinctMaxSlots slots of 8 bytes (8 KiB).
type distinct struct {
	sk     *hyperloglog.Sketch
	recent []uint64 // hash → slot hash&(len-1); 0 is empty
	misses int      // insertions since the table last grew
}

const (
	distinctMinSlots = 16
	distinctMaxSlots = 1024
)

// insert adds a (well mixed) hash.
func (d *distinct) insert(h uint64) {
	if d.sk == nil {
		d.sk = hyperloglog.New14()
		d.recent = make([]uint64, distinctMinSlots)
	}
	if h == 0 { // the empty slot value: never remembered
		d.sk.InsertHash(h)
		return
	}
	slot := &d.recent[h&uint64(len(d.recent)-1)]
	if *slot == h {
		return
	}
	d.sk.InsertHash(h)
	*slot = h
	d.misses++
	if d.misses > 2*len(d.recent) && len(d.recent) < distinctMaxSlots {
		d.grow()
	}
}

// grow doubles the table, keeping the hashes it holds.
func (d *distinct) grow() {
	old := d.recent
	d.recent = make([]uint64, 2*len(old))
	for _, h := range old {
		if h != 0 {
			d.recent[h&uint64(len(d.recent)-1)] = h
		}
	}
	d.misses = 0
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
}

// estimate returns the sketch's estimate (0 when nothing was inserted).
func (d *distinct) estimate() (n uint64, ok bool) {
	if d == nil || d.sk == nil {
		return 0, false
	}
	return d.sk.Estimate(), true
}
