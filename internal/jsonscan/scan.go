package jsonscan

import (
	"fmt"
	"math/bits"
	"unicode/utf16"
	"unicode/utf8"
)

// SyntaxError is a JSON syntax error at a byte offset of the text.
type SyntaxError struct {
	Offset int
	Msg    string
}

func (e *SyntaxError) Error() string {
	return fmt.Sprintf("invalid JSON at byte %d: %s", e.Offset, e.Msg)
}

// ErrAt is the error for the byte at s[i] (or the end of s) that breaks
// the grammar; what says where ("in number (expecting digit)").
func ErrAt[T text](s T, i int, what string) error {
	if i >= len(s) {
		return &SyntaxError{len(s), "unexpected EOF"}
	}
	return &SyntaxError{i, fmt.Sprintf("invalid character %q %s", s[i], what)}
}

// SkipSpace returns the offset of the first byte at or after i that is not
// JSON white space.
func SkipSpace[T text](s T, i int) int {
	for i < len(s) && s[i] <= ' ' && IsSpace(s[i]) { // most bytes are above ' ': one test
		i++
	}
	return i
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// Number reads the JSON number (RFC 8259 grammar) at s[i] and returns the
// offset after it: the longest valid prefix, as a stream decoder reads it
// (what follows is the caller's to check). On failure end is the offset of
// the byte that breaks the grammar, len(s) when the text ended.
//
// This is the one number grammar of the scanners; ParseInt and
// strconv.ParseFloat convert what it accepts.
func Number[T text](s T, i int) (end int, ok bool) {
	j := i
	if j < len(s) && s[j] == '-' {
		j++
	}
	if j >= len(s) {
		return j, false
	}
	switch c := s[j]; {
	case c == '0':
		j++
	case c >= '1' && c <= '9':
		for j++; j < len(s) && isDigit(s[j]); j++ {
		}
	default:
		return j, false
	}
	if j < len(s) && s[j] == '.' {
		j++
		if j >= len(s) || !isDigit(s[j]) {
			return j, false
		}
		for j++; j < len(s) && isDigit(s[j]); j++ {
		}
	}
	if j < len(s) && (s[j] == 'e' || s[j] == 'E') {
		j++
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		if j >= len(s) || !isDigit(s[j]) {
			return j, false
		}
		for j++; j < len(s) && isDigit(s[j]); j++ {
		}
	}
	return j, true
}

// NumberError is the error for a Number that failed at end.
func NumberError[T text](s T, end int) error {
	if end >= len(s) {
		return &SyntaxError{len(s), "unexpected EOF in number"}
	}
	return ErrAt(s, end, "in number (expecting digit)")
}

// ParseInt converts a JSON number that Number accepted and that is an
// integer (no fraction, no exponent) of at most 18 digits; false for
// anything else.
func ParseInt[T text](num T) (int64, bool) {
	i := 0
	neg := len(num) > 0 && num[0] == '-'
	if neg {
		i++
	}
	if d := len(num) - i; d == 0 || d > 18 {
		return 0, false
	}
	var n int64
	for ; i < len(num); i++ {
		c := num[i]
		if !isDigit(c) {
			return 0, false
		}
		n = n*10 + int64(c-'0')
	}
	if neg {
		n = -n
	}
	return n, true
}

// Literal checks that s[i:] starts with lit ("true", "false", "null") and
// returns the offset after it, or the error at the first byte that
// differs.
func Literal[T text](s T, i int, lit string) (int, error) {
	for k := 0; k < len(lit); k++ {
		if i+k >= len(s) {
			return i + k, &SyntaxError{len(s), "unexpected EOF in literal"}
		}
		if s[i+k] != lit[k] {
			return i + k, ErrAt(s, i+k, "in literal "+lit)
		}
	}
	return i + len(lit), nil
}

// String reads the JSON string whose opening quote is at s[i]: its raw
// contents, whether they must go through AppendUnescape (escapes, or —
// lenient — invalid UTF-8), and the offset after the closing quote.
// Control characters are errors. Strict (lenient false, jsontext's
// default): invalid UTF-8 and unpaired escaped surrogates are errors.
// Lenient (jsontext's AllowInvalidUTF8): they are accepted, and become
// U+FFFD when unescaped.
func String[T text](s T, i int, lenient bool) (raw T, esc bool, end int, err error) {
	start := i + 1
	j := start
	for {
		// eight bytes at a time while none needs a closer look; the
		// lowest flagged byte of a word is the first that does
		found := false
		for j+8 <= len(s) {
			if m := SpecialOrHigh(Load64(s, j)); m != 0 {
				j += bits.TrailingZeros64(m) >> 3
				found = true
				break
			}
			j += 8
		}
		if !found {
			for j < len(s) && Plain[s[j]] {
				j++
			}
		}
		if j >= len(s) {
			return raw, false, j, &SyntaxError{len(s), "unexpected EOF in string"}
		}
		switch c := s[j]; {
		case c == '"':
			return s[start:j], esc, j + 1, nil
		case c == '\\':
			esc = true
			if j+1 >= len(s) {
				return raw, false, j, &SyntaxError{len(s), "unexpected EOF in string"}
			}
			switch s[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				if j+6 > len(s) {
					return raw, false, j, &SyntaxError{len(s), "unexpected EOF in string escape"}
				}
				r, ok := Hex4(s[j+2 : j+6])
				if !ok {
					return raw, false, j, &SyntaxError{j, "invalid escape sequence in string"}
				}
				j += 6
				if !lenient && utf16.IsSurrogate(r) {
					r2, ok := rune(0), false
					if j+6 <= len(s) && s[j] == '\\' && s[j+1] == 'u' {
						r2, ok = Hex4(s[j+2 : j+6])
					}
					if !ok || utf16.DecodeRune(r, r2) == utf8.RuneError {
						return raw, false, j, &SyntaxError{j - 6, "invalid surrogate pair in string"}
					}
					j += 6
				}
			default:
				return raw, false, j, &SyntaxError{j, "invalid escape sequence in string"}
			}
		case c < 0x20:
			return raw, false, j, ErrAt(s, j, "in string (expecting non-control character)")
		default: // ≥ 0x80
			r, n := decodeRune(s[j:])
			if r == utf8.RuneError && n <= 1 {
				if !fullRune(s[j:]) {
					return raw, false, j, &SyntaxError{len(s), "unexpected EOF in string"}
				}
				if !lenient {
					return raw, false, j, &SyntaxError{j, "invalid UTF-8 in string"}
				}
				esc = true
			}
			j += n
		}
	}
}

func decodeRune[T text](s T) (rune, int) {
	switch v := any(s).(type) {
	case string:
		return utf8.DecodeRuneInString(v)
	case []byte:
		return utf8.DecodeRune(v)
	}
	return utf8.DecodeRuneInString(string(s))
}

func fullRune[T text](s T) bool {
	switch v := any(s).(type) {
	case string:
		return utf8.FullRuneInString(v)
	case []byte:
		return utf8.FullRune(v)
	}
	return utf8.FullRuneInString(string(s))
}

// AppendUnescape appends the value of the contents of a JSON string (raw,
// as String returned it) to dst. Strict (lenient false): ok is false at an
// escape that is not JSON or an unpaired surrogate; other bytes are copied
// as they are. Lenient: invalid UTF-8 and unpaired surrogates become
// U+FFFD, and ok is true for whatever String accepted.
//
// This is the one escape decoder of the scanners (the exchange decoder's
// arena copy calls AppendEscape, its step).
func AppendUnescape[T text](dst []byte, raw T, lenient bool) ([]byte, bool) {
	for len(raw) > 0 {
		k := 0
		for k < len(raw) && raw[k] != '\\' {
			k++
		}
		if lenient {
			dst = appendValid(dst, raw[:k])
		} else {
			dst = append(dst, raw[:k]...)
		}
		if k == len(raw) {
			break
		}
		var n int
		var ok bool
		if dst, n, ok = AppendEscape(dst, raw, k); !ok {
			if !lenient || k+1 >= len(raw) || raw[k+1] != 'u' || len(raw)-k < 6 {
				return dst, false
			}
			// an unpaired surrogate (String checked the hex digits)
			dst = utf8.AppendRune(dst, utf8.RuneError)
			n = 6
		}
		raw = raw[k+n:]
	}
	return dst, true
}

// appendValid appends s with each byte of invalid UTF-8 as U+FFFD.
func appendValid[T text](dst []byte, s T) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			dst = append(dst, c)
			i++
			continue
		}
		r, n := decodeRune(s[i:])
		if r == utf8.RuneError && n <= 1 {
			dst = append(dst, "\uFFFD"...)
		} else {
			dst = append(dst, s[i:i+n]...)
		}
		i += n
	}
	return dst
}

// Delim reports whether a number or literal may end at s[i]: at the end
// of the text, white space, ',', ']' or '}'.
func Delim[T text](s T, i int) bool {
	if i >= len(s) {
		return true
	}
	switch s[i] {
	case ' ', '\t', '\n', '\r', ',', ']', '}':
		return true
	}
	return false
}
