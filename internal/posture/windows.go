package posture

import (
	"net/netip"
	"time"
)

// Burst windows: per (endpoint, client address), at most MaxClientWindows,
// the least recently used evicted. Every event with a client address
// touches one, so they are kept without allocation: windows in pages, an
// open-addressing index of 8-byte slots, and the LRU order kept lazily
// (see Traffic.uses).

// winKey identifies a burst window: an endpoint's evidence and a client
// address.
type winKey struct {
	ep     *evidence
	client netip.Addr
}

// hash mixes the endpoint's number and the address (equal keys hash
// equally: equal addresses have equal bytes, family and zone).
func (k winKey) hash() uint32 {
	a := k.client.As16()
	lo := uint64(a[0]) | uint64(a[1])<<8 | uint64(a[2])<<16 | uint64(a[3])<<24 | uint64(a[4])<<32 | uint64(a[5])<<40 | uint64(a[6])<<48 | uint64(a[7])<<56
	hi := uint64(a[8]) | uint64(a[9])<<8 | uint64(a[10])<<16 | uint64(a[11])<<24 | uint64(a[12])<<32 | uint64(a[13])<<40 | uint64(a[14])<<48 | uint64(a[15])<<56
	x := lo*0x9E3779B97F4A7C15 ^ hi*0xC2B2AE3D27D4EB4F ^ uint64(k.ep.id)*0x165667B19E3779F9
	if k.client.Is4() {
		x ^= 0x27D4EB2F165667C5
	}
	x ^= x >> 29
	x *= 0xBF58476D1CE4E5B9
	x ^= x >> 32
	return uint32(x)
}

type window struct {
	key   winKey
	start time.Time
	n     int
	hit   bool
	used  uint64 // sequence number of the window's last use
}

// windows holds the burst windows in pages, so that growing to
// MaxClientWindows never copies them.
type windows struct {
	pages [][]window
	n     int
}

const winPage = 1024

func (ws *windows) at(i int32) *window { return &ws.pages[i/winPage][i%winPage] }

// add appends a zero window and returns its index.
func (ws *windows) add() int32 {
	if ws.n%winPage == 0 {
		ws.pages = append(ws.pages, make([]window, winPage))
	}
	ws.n++
	return int32(ws.n - 1)
}

// use records that window idx was used at sequence number seq.
type use struct {
	seq uint64
	idx int32
}

// winIndex maps window keys to window numbers: linear probing over slots
// holding the key's 32-bit hash and the window number + 1 (0: empty); the
// home slot of an entry is its hash masked, so entries move at deletion
// (backward shift, no tombstones) without reading the windows. At most
// half full.
type winIndex struct {
	slots []uint64
	n     int
}

func (x *winIndex) mask() uint32 { return uint32(len(x.slots) - 1) }

// find returns the window with key k (hash h).
func (x *winIndex) find(h uint32, k winKey, ws *windows) (int32, bool) {
	if x.n == 0 {
		return 0, false
	}
	m := x.mask()
	for p := h & m; ; p = (p + 1) & m {
		s := x.slots[p]
		if s == 0 {
			return 0, false
		}
		if uint32(s>>32) == h {
			if i := int32(uint32(s)) - 1; ws.at(i).key == k {
				return i, true
			}
		}
	}
}

// insert adds window i (hash h), which is not in the index.
func (x *winIndex) insert(h uint32, i int32) {
	if 2*(x.n+1) > len(x.slots) {
		x.grow()
	}
	m := x.mask()
	p := h & m
	for x.slots[p] != 0 {
		p = (p + 1) & m
	}
	x.slots[p] = uint64(h)<<32 | uint64(uint32(i+1))
	x.n++
}

func (x *winIndex) grow() {
	old := x.slots
	n := 2 * len(old)
	if n < 1024 {
		n = 1024
	}
	x.slots = make([]uint64, n)
	m := x.mask()
	for _, s := range old {
		if s == 0 {
			continue
		}
		p := uint32(s>>32) & m
		for x.slots[p] != 0 {
			p = (p + 1) & m
		}
		x.slots[p] = s
	}
}

// remove deletes window i (hash h), which is in the index.
func (x *winIndex) remove(h uint32, i int32) {
	m := x.mask()
	want := uint64(h)<<32 | uint64(uint32(i+1))
	p := h & m
	for x.slots[p] != want {
		p = (p + 1) & m
	}
	// backward shift: move up every later entry of the run whose home is
	// not cyclically within (p, q]
	for q := (p + 1) & m; x.slots[q] != 0; q = (q + 1) & m {
		home := uint32(x.slots[q]>>32) & m
		if p <= q && (home <= p || home > q) || p > q && home <= p && home > q {
			x.slots[p] = x.slots[q]
			p = q
		}
	}
	x.slots[p] = 0
	x.n--
}
