package posture

import (
	"net/netip"
	"time"

	"github.com/palisade-sec/palisade/internal/bounded"
	"github.com/palisade-sec/palisade/internal/hashing"
)

// Burst windows: per (endpoint, client address), at most MaxClientWindows,
// the least recently used evicted, in the pipeline's bounded table
// (internal/bounded: no allocation once full).

// winKey identifies a burst window: an endpoint's evidence and a client
// address.
type winKey struct {
	ep     *evidence
	client netip.Addr
}

// hash is the table key of k: the endpoint's number and the address
// (its bytes, family and zone).
func (k winKey) hash() uint64 {
	h := hashing.Addr(k.client)
	if k.client.Is4() {
		h = ^h
	}
	if z := k.client.Zone(); z != "" {
		h = hashing.Add(h, z)
	}
	return hashing.Pair(h, uint64(k.ep.id))
}

type window struct {
	key   winKey
	start time.Time
	n     int
	hit   bool
}

type windows = bounded.LRU[window]
