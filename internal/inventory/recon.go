package inventory

import (
	"math/bits"

	"github.com/palisade-sec/palisade/internal/hashing"
)

// Reconnaissance sources. The inventory judges from its own evidence (no
// alert of the detection stage): per client address, the distinct
// operations answered with a denial (401, 403, 404, 405) and the share of
// its requests denied, counted from its first denial. A client with
// denials on at least Config.ReconMinOps distinct operations, and on at
// least half of its requests, is a reconnaissance source: a scanner
// guessing paths, not an application using its API. Operations only such
// clients called are probes (probeReason), until another client uses them.
//
// Memory: one entry per client with at least one denial (≈ 100 bytes),
// at most Config.MaxReconClients; per operation, the first four client
// hashes (stats.few).

// reconClient is what the inventory knows of one client with denials.
type reconClient struct {
	requests, denied uint32
	ops              [4]uint64 // 256-bit linear counter of denied operations
}

func denial(status int) bool {
	return status == 401 || status == 403 || status == 404 || status == 405
}

// trackRecon counts one request of a client (ipHash) to an operation.
func (inv *Inventory) trackRecon(ipHash uint64, method, tmpl string, status int) {
	c := inv.recon[ipHash]
	if c == nil {
		if !denial(status) {
			return
		}
		if len(inv.recon) >= inv.cfg.MaxReconClients {
			inv.reconDropped++
			return
		}
		c = &reconClient{}
		inv.recon[ipHash] = c
	}
	if c.requests < ^uint32(0) {
		c.requests++
	}
	if denial(status) {
		if c.denied < ^uint32(0) {
			c.denied++
		}
		b := hashing.Fmix64(hashing.FNV1a(hashing.FNV1a(hashing.FNV1a(uint64(hashing.Offset), method), " "), tmpl)) & 255 // = Sketch(method+" "+tmpl)
		c.ops[b>>6] |= 1 << (b & 63)
	}
}

// isRecon reports whether the client is a reconnaissance source.
func (inv *Inventory) isRecon(ipHash uint64) bool {
	c := inv.recon[ipHash]
	if c == nil {
		return false
	}
	n := 0
	for _, w := range c.ops {
		n += bits.OnesCount64(w)
	}
	return n >= inv.cfg.ReconMinOps && 2*c.denied >= c.requests
}

// reconOnly reports whether every client of the operation is a
// reconnaissance source (an operation with more than four clients is not).
func (inv *Inventory) reconOnly(st *stats) bool {
	if st.nfew == 0 || st.nfew > len(st.few) {
		return false
	}
	for _, h := range st.few[:st.nfew] {
		if !inv.isRecon(h) {
			return false
		}
	}
	return true
}

// addFew remembers a client of the operation (the first four; nfew past
// four means "more").
func (st *stats) addFew(h uint64) {
	if st.nfew > len(st.few) {
		return
	}
	for _, x := range st.few[:st.nfew] {
		if x == h {
			return
		}
	}
	if st.nfew == len(st.few) {
		st.nfew++
		return
	}
	st.few[st.nfew] = h
	st.nfew++
}
