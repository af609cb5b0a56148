// Package bounded holds the bounded table of the pipeline: a map from
// 64-bit keys (hashes, see internal/hashing) to values with a budget and
// least-recently-used eviction. Every per-client, per-identity,
// per-endpoint or per-window state of the analyzers lives in one, so every
// such table has an explicit budget. It imports nothing of the product.
package bounded

import (
	"cmp"
	"math"
	"slices"

	"github.com/palisade-sec/palisade/internal/hashing"
)

// LRU is a bounded map from 64-bit keys (hashes) to values with
// least-recently-used eviction.
//
// Values are stored inline in chunked slots: when the table is full, the
// least recently used entry is evicted (OnEvict sees it first) and its slot
// is reset and reused for the new key, so a full table allocates nothing.
// Pointers returned by Get/GetOrAdd stay valid until the entry is evicted;
// callers must not keep them across events.
//
// The tables are large (up to hundreds of thousands of clients) and looked
// up several times per event, so a lookup is built to touch as little
// memory as possible:
//
//   - the index is open addressing with linear probing over (fingerprint,
//     slot) pairs (8 bytes: 32 bits of the key, the slot; at most half
//     full; the slot's key settles a fingerprint match): one cache line per
//     lookup in the common case, no pointers for the garbage collector;
//   - recency is an access log instead of a doubly linked list: a use
//     stamps the slot (a 4-byte array) and appends (slot, stamp) to the
//     log, where a linked list would write to the neighbours' slots (two
//     more cache misses). The least recently used entry is the oldest log
//     record whose stamp is still its slot's current stamp (later uses left
//     newer records). The log is compacted when it reaches twice the number
//     of entries (amortized O(1) per use, sequential), and stamps are
//     renumbered then, so they never wrap. Eviction order is exactly LRU.
//     Until the table is first full nothing is ever evicted, so only the
//     stamps are kept: the log is built from them (entries in stamp order)
//     at the first eviction.
//
// Memory per entry besides the value: index 8–16 bytes, stamp 4 bytes,
// key 8 bytes, and once the table was full the log, ≤ 32 bytes (≈ 20–60
// bytes in all).
//
// Iteration (Each) follows slot order, which depends only on the order of
// insertions and evictions, never on hashing, so outputs built from it are
// deterministic.
type LRU[V any] struct {
	cap     int
	n       int
	table   []lruBucket // power-of-two length, at most half full
	shift   uint        // 64 - log2(len(table))
	chunks  [][]lruSlot[V]
	stamps  []uint32 // current stamp per slot
	log     []lruRec // uses, oldest first from logHead (once logging)
	logHead int
	logging bool // the log is kept (from the first eviction on)
	clock   uint32
	evicted int64
	// OnEvict, when set, sees an entry before it is evicted.
	OnEvict func(k uint64, v *V)
}

type lruBucket struct {
	fp   uint32 // fingerprint: the key's high bits
	slot int32  // slot index + 1; 0 = empty bucket
}

func lruFP(k uint64) uint32 { return uint32(k >> 32) }

type lruSlot[V any] struct {
	key uint64
	val V
}

type lruRec struct {
	slot  int32
	stamp uint32
}

const lruChunk = 1024

// New returns a table of at most capacity entries (at least 1).
func New[V any](capacity int) *LRU[V] {
	if capacity < 1 {
		capacity = 1
	}
	return &LRU[V]{cap: capacity}
}

func (l *LRU[V]) slot(i int32) *lruSlot[V] { return &l.chunks[i/lruChunk][i%lruChunk] }

// Len is the number of entries.
func (l *LRU[V]) Len() int { return l.n }

// Evicted is the number of entries dropped at the budget so far.
func (l *LRU[V]) Evicted() int64 { return l.evicted }

func lruHash(k uint64, shift uint) uint64 { return hashing.Index(k, shift) }

// find returns the slot of k, or -1.
func (l *LRU[V]) find(k uint64) int32 {
	if l.n == 0 {
		return -1
	}
	mask := uint64(len(l.table) - 1)
	fp := lruFP(k)
	for i := lruHash(k, l.shift); ; i = (i + 1) & mask {
		b := l.table[i]
		if b.slot == 0 {
			return -1
		}
		if b.fp == fp && l.slot(b.slot-1).key == k {
			return b.slot - 1
		}
	}
}

// insert adds k → slot to the index (k is not present; the index has
// room: see grow).
func (l *LRU[V]) insert(k uint64, slot int32) {
	mask := uint64(len(l.table) - 1)
	i := lruHash(k, l.shift)
	for l.table[i].slot != 0 {
		i = (i + 1) & mask
	}
	l.table[i] = lruBucket{fp: lruFP(k), slot: slot + 1}
}

// grow enlarges the index to hold more than n entries at most half full,
// re-indexing slots 0..n-1.
func (l *LRU[V]) grow() {
	size := 64
	for size < 2*(l.n+1) {
		size *= 2
	}
	if size < 2*len(l.table) {
		size = 2 * len(l.table)
	}
	l.table = make([]lruBucket, size)
	l.shift = 64
	for s := size; s > 1; s >>= 1 {
		l.shift--
	}
	mask := uint64(size - 1)
	for s := 0; s < l.n; s++ { // slot order: sequential reads of the keys
		k := l.slot(int32(s)).key
		i := lruHash(k, l.shift)
		for l.table[i].slot != 0 {
			i = (i + 1) & mask
		}
		l.table[i] = lruBucket{fp: lruFP(k), slot: int32(s) + 1}
	}
}

// remove deletes k from the index (backward-shift deletion: no tombstones).
func (l *LRU[V]) remove(k uint64) {
	mask := uint64(len(l.table) - 1)
	fp := lruFP(k)
	i := lruHash(k, l.shift)
	for {
		b := l.table[i]
		if b.slot == 0 {
			return // not present
		}
		if b.fp == fp && l.slot(b.slot-1).key == k {
			break
		}
		i = (i + 1) & mask
	}
	for {
		l.table[i] = lruBucket{}
		j := i
		for {
			j = (j + 1) & mask
			b := l.table[j]
			if b.slot == 0 {
				return
			}
			// b may move into the hole at i when its home position is not
			// in the cyclic range (i, j].
			h := lruHash(l.slot(b.slot-1).key, l.shift)
			if (j > i && (h <= i || h > j)) || (j < i && h <= i && h > j) {
				l.table[i] = b
				i = j
				break
			}
		}
	}
}

// touch marks slot i as the most recently used.
func (l *LRU[V]) touch(i int32) {
	if !l.logging {
		if l.clock >= lruClockMax {
			l.renumber()
		}
		l.clock++
		l.stamps[i] = l.clock
		return
	}
	if n := len(l.log); n > l.logHead && l.log[n-1].slot == i {
		return // already the most recent
	}
	// Compact when superseded records pile up, and when evictions consumed
	// the front of the log (else, under a flood of new keys, the log would
	// only grow at its end).
	if live := len(l.log) - l.logHead; live >= 2*l.n+64 || l.logHead >= 1024 && l.logHead >= live {
		l.compact()
	}
	l.clock++
	l.stamps[i] = l.clock
	l.log = append(l.log, lruRec{slot: i, stamp: l.clock})
}

// compact drops the log records superseded by later uses and renumbers the
// stamps from 1 in use order.
func (l *LRU[V]) compact() {
	live := l.log[:0]
	var clock uint32
	for _, r := range l.log[l.logHead:] {
		if l.stamps[r.slot] == r.stamp {
			clock++
			l.stamps[r.slot] = clock
			live = append(live, lruRec{slot: r.slot, stamp: clock})
		}
	}
	l.log, l.logHead, l.clock = live, 0, clock
}

// lruClockMax is where the stamps are renumbered before the log is kept
// (a variable for tests).
var lruClockMax uint32 = math.MaxUint32

// startLog builds the log from the stamps (every entry, in use order) and
// keeps it from now on.
func (l *LRU[V]) startLog() {
	l.log = l.log[:0]
	for i := 0; i < l.n; i++ {
		l.log = append(l.log, lruRec{slot: int32(i), stamp: l.stamps[i]})
	}
	slices.SortFunc(l.log, func(a, b lruRec) int { return cmp.Compare(a.stamp, b.stamp) })
	l.logHead, l.logging = 0, true
	l.compact() // renumbers the stamps from 1
}

// renumber gives the stamps the values 1..n in use order (before logging,
// when the clock would wrap).
func (l *LRU[V]) renumber() {
	l.startLog()
	l.log, l.logHead, l.logging = l.log[:0], 0, false
}

// oldest removes and returns the least recently used slot.
func (l *LRU[V]) oldest() int32 {
	if !l.logging {
		l.startLog()
	}
	for {
		r := l.log[l.logHead]
		l.logHead++
		if l.stamps[r.slot] == r.stamp {
			return r.slot
		}
	}
}

// Get returns the value for k and marks it recently used.
func (l *LRU[V]) Get(k uint64) (*V, bool) {
	i := l.find(k)
	if i < 0 {
		return nil, false
	}
	l.touch(i)
	return &l.slot(i).val, true
}

// Peek returns the value without touching recency.
func (l *LRU[V]) Peek(k uint64) (*V, bool) {
	i := l.find(k)
	if i < 0 {
		return nil, false
	}
	return &l.slot(i).val, true
}

// GetOrAdd returns the value for k, creating a zero value (evicting the
// least recently used entry when the table is full).
func (l *LRU[V]) GetOrAdd(k uint64) (v *V, created bool) {
	if i := l.find(k); i >= 0 {
		l.touch(i)
		return &l.slot(i).val, false
	}
	var i int32
	if l.n < l.cap {
		i = int32(l.n)
		if int(i)/lruChunk >= len(l.chunks) {
			size := lruChunk
			if rest := l.cap - l.n; rest < size {
				size = rest
			}
			l.chunks = append(l.chunks, make([]lruSlot[V], size))
		}
		l.stamps = append(l.stamps, 0)
		if 2*(l.n+1) > len(l.table) {
			l.grow()
		}
		l.slot(i).key = k
		l.insert(k, i)
		l.n++
	} else {
		i = l.oldest()
		s := l.slot(i)
		if l.OnEvict != nil {
			l.OnEvict(s.key, &s.val)
		}
		l.evicted++
		l.remove(s.key)
		var zero V
		s.val = zero
		s.key = k
		l.insert(k, i) // same number of entries: the index has room
	}
	l.touch(i)
	return &l.slot(i).val, true
}

// Each visits the entries in slot order (deterministic).
func (l *LRU[V]) Each(f func(k uint64, v *V)) {
	for i := 0; i < l.n; i++ {
		s := l.slot(int32(i))
		f(s.key, &s.val)
	}
}
