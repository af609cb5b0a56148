// Package textkind holds the small tests on text that several stages
// share: text against binary bytes (detect's body walk and classify, about
// a body that is a file) and an ASCII case-insensitive search (enrich,
// posture, on header values).
package textkind

import "unicode/utf8"

// Binary: s (its first 64 KiB) is not text — at least 8 of its bytes, and
// at least one in ten, are bytes no text has: NUL and the other C0
// controls except tab, line feed, form feed and carriage return, DEL, and
// bytes of invalid UTF-8. Text in a single-byte legacy encoding (Latin-1
// accents, a few bytes in a hundred) stays under the share; random,
// compressed, encrypted and image data are far above it (about one in
// two), a protobuf message full of strings near it. Text in a legacy
// encoding of another script (Cyrillic in windows-1251, Shift-JIS) reads as
// binary: raw, such bodies are rare (browsers percent-encode forms, JSON is
// UTF-8, and the enrichment stage decodes a declared charset).
func Binary(s string) bool {
	n := min(len(s), 64<<10)
	bad := Count(s[:n])
	return bad >= 8 && bad*10 >= n
}

// Count counts the bytes of s that no text has (see Binary).
func Count(s string) int {
	bad := 0
	for i := 0; i < len(s); {
		n := NonText(s, i)
		bad += min(n, 1)
		i += max(n, runeLen(s, i))
	}
	return bad
}

// First is the index of the first byte of s no text has, or -1.
func First(s string) int {
	for i := 0; i < len(s); {
		if NonText(s, i) > 0 {
			return i
		}
		i += runeLen(s, i)
	}
	return -1
}

// NonText: the byte at i is one no text has (1), else 0.
func NonText(s string, i int) int {
	c := s[i]
	if c < utf8.RuneSelf {
		if c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' || c == 0x7f {
			return 1
		}
		return 0
	}
	if r, size := utf8.DecodeRuneInString(s[i:]); r == utf8.RuneError && size == 1 {
		return 1
	}
	return 0
}

// Runs calls fn for each run of text in s (its first max bytes) at least
// min bytes long, in order, until fn returns false.
func Runs(s string, minLen, max int, fn func(run string) bool) {
	s = s[:min(len(s), max)]
	start := 0
	for i := 0; i < len(s); {
		if NonText(s, i) > 0 {
			if i-start >= minLen && !fn(s[start:i]) {
				return
			}
			i++
			start = i
			continue
		}
		i += runeLen(s, i)
	}
	if len(s)-start >= minLen {
		fn(s[start:])
	}
}

// runeLen: the length of the text character at i (1 for ASCII, the UTF-8
// sequence's length otherwise).
func runeLen(s string, i int) int {
	if s[i] < utf8.RuneSelf {
		return 1
	}
	_, size := utf8.DecodeRuneInString(s[i:])
	return size
}

// ContainsFold reports whether s contains the lower-case ASCII word w,
// ignoring ASCII case (strings.Contains(strings.ToLower(s), w) without the
// copy; w has no non-ASCII bytes, so Unicode folding cannot matter).
func ContainsFold(s, w string) bool {
	for i := 0; i+len(w) <= len(s); i++ {
		j := 0
		for j < len(w) {
			c := s[i+j]
			if c >= 'A' && c <= 'Z' {
				c += 32
			}
			if c != w[j] {
				break
			}
			j++
		}
		if j == len(w) {
			return true
		}
	}
	return false
}
