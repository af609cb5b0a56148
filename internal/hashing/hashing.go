// Package hashing is the one set of hash functions of the pipeline: fixed
// and seedless, so that keys, sketches and checkpointed or compared state
// are the same from run to run and from node to node (hash/maphash is
// seeded per process and would make estimates vary on replay). It imports
// nothing of the product and allocates nothing.
//
//   - String / Add: strings and bytes, eight bytes at a time (a
//     multiply-xor step whose loads combine into one 64-bit load), the tail
//     byte by byte (FNV-1a); Sep separates fields, AddUint64 folds an
//     integer.
//   - FNV1a: plain FNV-1a, byte by byte (addresses, match signatures, the
//     simulator's stream seeds); Addr hashes an address.
//   - Mix64 (splitmix64): the finalizer, for sketches and table keys that
//     need well-mixed bits; Pair combines two hashes. Fmix64 (murmur3) and
//     Sketch: the inventory's sketch keys, kept as they were (see Fmix64).
//   - Index: the top bits of a key for a power-of-two table (Fibonacci
//     hashing).
package hashing

import "net/netip"

// FNV-1a's 64-bit parameters.
const (
	Offset = 14695981039346656037
	Prime  = 1099511628211
)

// golden is 2^64 divided by the golden ratio (Fibonacci hashing).
const golden = 0x9e3779b97f4a7c15

// String hashes s: Mix64(Add(Offset, s)).
func String(s string) uint64 { return Mix64(Add(Offset, s)) }

// Add folds s into h eight bytes at a time, the tail byte by byte
// (FNV-1a).
func Add[T ~string | ~[]byte](h uint64, s T) uint64 {
	for len(s) >= 8 {
		v := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
			uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
		h = (h ^ v) * golden
		h ^= h >> 29
		s = s[8:]
	}
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= Prime
	}
	return h
}

// Sep folds a field separator into h.
func Sep(h uint64) uint64 {
	h ^= 0xff
	h *= Prime
	return h
}

// AddUint64 folds the eight bytes of v (little-endian) into h, FNV-1a.
func AddUint64(h, v uint64) uint64 {
	for i := 0; i < 8; i++ {
		h ^= v & 0xff
		h *= Prime
		v >>= 8
	}
	return h
}

// FNV1a folds b into h byte by byte (FNV-1a).
func FNV1a[T ~string | ~[]byte](h uint64, b T) uint64 {
	for i := 0; i < len(b); i++ {
		h ^= uint64(b[i])
		h *= Prime
	}
	return h
}

// Addr hashes an address (its 16-byte form): Mix64 of its FNV-1a.
func Addr(a netip.Addr) uint64 {
	b := a.As16()
	return Mix64(FNV1a(Offset, b[:]))
}

// Mix64 is the splitmix64 finalizer.
func Mix64(z uint64) uint64 {
	z ^= z >> 30
	z *= 0xbf58476d1ce4e5b9
	z ^= z >> 27
	z *= 0x94d049bb133111eb
	z ^= z >> 31
	return z
}

// Fmix64 is the murmur3 finalizer. The inventory's distinct-count
// sketches key on Fmix64 of FNV-1a (see Sketch): that definition is kept as
// it was, because another hash moves their HyperLogLog estimates (by a few
// units in thousands on a 525k-record capture), which reports show and
// stores keep.
func Fmix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb53fe5a34e53
	h ^= h >> 33
	return h
}

// Sketch is the key of a value in the inventory's distinct-count sketches:
// Fmix64(FNV1a(Offset, s)).
func Sketch[T ~string | ~[]byte](s T) uint64 { return Fmix64(FNV1a(Offset, s)) }

// Pair combines two hashes into a key (order matters): Mix64(a ^ b·φ).
func Pair(a, b uint64) uint64 { return Mix64(a ^ b*golden) }

// Index is the top bits of k for a table of 2^(64-shift) slots (Fibonacci
// hashing).
func Index(k uint64, shift uint) uint64 { return (k * golden) >> shift }
