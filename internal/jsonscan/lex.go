// Package jsonscan is the one hand-written JSON scanner of the pipeline:
// the lexical pieces (white space, the number grammar, string scanning
// eight bytes at a time, the escape decoder) and a Tokenizer with the
// options of jsontext that matter here (duplicate names, invalid UTF-8,
// nesting limit). The exchange decoder, the classifier's walker, the
// inventory's schema parser and the detectors' body walkers are built on
// it; each is fuzzed against encoding/json/v2's jsontext as its reference.
// Reading a token or a lexical piece of a text without escapes allocates
// nothing (TestNoAllocs). It imports nothing of the product.
package jsonscan

import (
	"unicode/utf16"
	"unicode/utf8"
)

// Plain marks the bytes a JSON string holds verbatim that need no closer
// look: printable ASCII other than '"' and '\\'.
var Plain = func() (t [256]bool) {
	for c := 0x20; c < 0x80; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return
}()

const (
	lo = 0x0101010101010101
	hi = 0x8080808080808080
)

// text is what the scanners read: a string or a byte slice.
type text interface{ ~string | ~[]byte }

// Load64 reads eight bytes of s at i, little-endian (one load).
func Load64[T text](s T, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// Special flags (bit 7 of the byte) the bytes of x, eight bytes read
// little-endian, that end a run of verbatim string bytes: '"', '\\' and
// control characters. Borrows of the subtractions only reach bytes above a
// flagged one, so the lowest flag is exact: its byte is the first special
// byte (bits.TrailingZeros64(m) / 8); higher flags may be spurious.
func Special(x uint64) uint64 {
	quote := x ^ (lo * '"')
	bslash := x ^ (lo * '\\')
	return ((x-lo*0x20)&^x | (quote-lo)&^quote | (bslash-lo)&^bslash) & hi
}

// SpecialOrHigh is Special that also flags bytes ≥ 0x80 (for scanners that
// check UTF-8 themselves): the bytes that are not Plain.
func SpecialOrHigh(x uint64) uint64 {
	quote := x ^ (lo * '"')
	bslash := x ^ (lo * '\\')
	return ((x-lo*0x20)&^x | (quote-lo)&^quote | (bslash-lo)&^bslash | x) & hi
}

// HexVal is the value of the hex digit c.
func HexVal(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// Hex4 reads the four hex digits of a \u escape at the start of h.
func Hex4[T text](h T) (rune, bool) {
	if len(h) < 4 {
		return 0, false
	}
	var v rune
	for i := 0; i < 4; i++ {
		c := h[i]
		switch {
		case c >= '0' && c <= '9':
			v = v<<4 | rune(c-'0')
		case c >= 'a' && c <= 'f':
			v = v<<4 | rune(c-'a'+10)
		case c >= 'A' && c <= 'F':
			v = v<<4 | rune(c-'A'+10)
		default:
			return 0, false
		}
	}
	return v, true
}

// IsSpace reports whether c is JSON white space.
func IsSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// AppendEscape appends the value of the escape sequence at b[j] (a
// backslash) to dst and returns the sequence's length. It reports false for
// anything that is not a JSON escape, including unpaired surrogates.
func AppendEscape[T text](dst []byte, b T, j int) ([]byte, int, bool) {
	if j+1 >= len(b) {
		return dst, 0, false
	}
	switch c := b[j+1]; c {
	case '"', '\\', '/':
		dst = append(dst, c)
	case 'b':
		dst = append(dst, '\b')
	case 'f':
		dst = append(dst, '\f')
	case 'n':
		dst = append(dst, '\n')
	case 'r':
		dst = append(dst, '\r')
	case 't':
		dst = append(dst, '\t')
	case 'u':
		r, ok := Hex4(b[j+2:])
		if !ok {
			return dst, 0, false
		}
		if !utf16.IsSurrogate(r) {
			return utf8.AppendRune(dst, r), 6, true
		}
		rest := b[j+6:]
		if len(rest) < 6 || rest[0] != '\\' || rest[1] != 'u' {
			return dst, 0, false
		}
		r2, ok := Hex4(rest[2:])
		if !ok {
			return dst, 0, false
		}
		if r = utf16.DecodeRune(r, r2); r == utf8.RuneError {
			return dst, 0, false
		}
		return utf8.AppendRune(dst, r), 12, true
	default:
		return dst, 0, false
	}
	return dst, 2, true
}
