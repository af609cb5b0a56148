// Package evalsplit holds the one split of the evaluation data into a
// tuning part and a validation part, shared by every evaluation (the
// injection evaluation of internal/detect/injeval, the discovery
// evaluation of internal/engine/discoveryeval). It is a leaf: it imports
// nothing of the product.
package evalsplit

import (
	"crypto/sha256"
	"encoding/binary"
)

// Splits of the evaluation data.
//
// Every development-set item belongs to the tuning part or to the
// validation part, fixed by a hash of the item itself (a payload's value,
// a spec's file name):
//
//	validation  ⇔  first 8 bytes of sha256(value), big-endian, mod 100 < ValidationPercent
//
// so the same string is in the same part whatever source or file it comes
// from, the split does not move when files are added, and anyone can
// recompute it. Work is tuned on the tuning part only: the evaluations
// print examples (misses, false positives, wrong templates) of the tuning
// part only, and the validation part's rates side by side, never its
// items. Sources that are not in the development set at all are held out
// whole.
const (
	SplitTune    = "tune"
	SplitValid   = "valid"
	SplitHeldOut = "held-out"
)

// ValidationPercent is the share of each development source kept for
// validation.
const ValidationPercent = 30

// SplitOf returns the part of a development-set item.
func SplitOf(value string) string {
	h := sha256.Sum256([]byte(value))
	if binary.BigEndian.Uint64(h[:8])%100 < ValidationPercent {
		return SplitValid
	}
	return SplitTune
}
