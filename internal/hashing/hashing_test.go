package hashing

import (
	"hash/fnv"
	"net/netip"
	"testing"
)

// The definitions are fixed: keys and sketches computed by an earlier
// version (checkpoints, stored reports) must stay comparable. The values
// are those of the functions this package replaced (detect's hashString,
// ipHash and mix64 pairs, inventory's hash64s) on main at a4c18a0.
func TestFixedValues(t *testing.T) {
	for _, c := range []struct {
		name      string
		got, want uint64
	}{
		{"String", String("customer-42@example.test"), 0xa4b6e0c52040c66b},
		{"Sketch", Sketch("customer-42"), 0xb55bc187012b72b},
		{"Addr", Addr(netip.MustParseAddr("203.0.113.7")), 0xe08e6a5eb0372eab},
		{"Pair", Pair(1, 2), 0xbeeb8da1658eec67},
	} {
		if c.got != c.want {
			t.Errorf("%s = %#x, want %#x", c.name, c.got, c.want)
		}
	}
}

// FNV1a is FNV-1a (hash/fnv), in both of its forms.
func TestFNV1a(t *testing.T) {
	for _, s := range []string{"", "a", "customer-42", "a longer string of more than eight bytes"} {
		h := fnv.New64a()
		h.Write([]byte(s))
		if got := FNV1a(Offset, s); got != h.Sum64() {
			t.Errorf("FNV1a(%q) = %#x, hash/fnv %#x", s, got, h.Sum64())
		}
		if FNV1a(Offset, []byte(s)) != FNV1a(Offset, s) || Add(Offset, []byte(s)) != Add(Offset, s) {
			t.Errorf("%q: string and bytes differ", s)
		}
	}
}

// TestNoAllocs checks the package comment.
func TestNoAllocs(t *testing.T) {
	b := []byte("customer-42@example.test")
	a := netip.MustParseAddr("2001:db8::1")
	if n := testing.AllocsPerRun(100, func() {
		_ = String("customer-42") ^ Sketch(b) ^ Addr(a) ^ AddUint64(Sep(Add(Offset, b)), 7) ^ Pair(1, 2) ^ Index(3, 54)
	}); n != 0 {
		t.Errorf("%v allocations", n)
	}
}
