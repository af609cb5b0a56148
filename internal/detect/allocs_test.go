package detect

import (
	"encoding/base64"
	"math/rand/v2"
	"testing"

	"github.com/palisade-sec/palisade/internal/hashing"
)

// TestNoAllocPromises checks the code comments that promise no allocation:
// a full lru table (lru.go), the linear-counting sketch and the hashes
// (sketch.go), parameter names judged URL-like (ssrf.go), and rejecting a base64 candidate that decodes to binary
// (decode.go).
func TestNoAllocPromises(t *testing.T) {
	l := newLRU[[4]int64](256)
	k := uint64(0)
	add := func() {
		k++
		v, _ := l.GetOrAdd(hashing.Mix64(k))
		v[0]++
	}
	for i := 0; i < 10_000; i++ { // full, evicting, log started and compacted
		add()
	}
	if n := testing.AllocsPerRun(5000, add); n != 0 {
		t.Errorf("lru: a new key in a full table: %v allocations", n)
	}
	if l.Evicted() == 0 {
		t.Fatal("lru: nothing evicted")
	}

	var c linCounter
	s := "203.0.113.9/GET api.test/v1/items/{id}"
	if n := testing.AllocsPerRun(100, func() { c.add(hashing.AddUint64(hashing.String(s), 7)) }); n != 0 {
		t.Errorf("linCounter.add, hashString: %v allocations", n)
	}

	// urlishName lower-cases into a stack buffer (ssrf.go)
	for _, name := range []string{"callback_URL", "Redirect", "q", "sort"} {
		if n := testing.AllocsPerRun(100, func() { urlishName(name) }); n != 0 {
			t.Errorf("urlishName(%q): %v allocations", name, n)
		}
	}

	raw := make([]byte, 600)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range raw {
		raw[i] = byte(rng.Uint32())
	}
	tok := base64.StdEncoding.EncodeToString(raw) // binary: rejected
	if _, ok := decodeBase64TextLong(tok); ok {
		t.Fatal("random bytes decoded as text")
	}
	if n := testing.AllocsPerRun(100, func() { decodeBase64TextLong(tok) }); n != 0 {
		t.Errorf("rejecting a binary base64 token: %v allocations", n)
	}
}
