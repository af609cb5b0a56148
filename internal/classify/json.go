package classify

import (
	"fmt"
	"math/bits"
	"strings"
	"sync"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/palisade-sec/palisade/internal/jsonlit"
)

// MaxDepth is the deepest JSON nesting walked; deeper values are skipped
// and counted.
const MaxDepth = 64

// maxNesting is the nesting at which a document is rejected as invalid
// (as encoding/json/v2's jsontext does), also inside skipped values.
const maxNesting = 10000

// WalkStats counts what a walk skipped.
type WalkStats struct {
	Leaves    int
	Truncated bool // MaxLeaves reached
	TooDeep   int  // values skipped beyond MaxDepth
}

// jsonLeaf is a scalar met by walkJSON. The text of a string is converted
// (unescaped) only when String is called, so skipped (sampled) leaves cost
// nothing.
type jsonLeaf struct {
	Kind byte   // '"' string, '0' number, 't' true, 'f' false
	raw  string // string: the bytes between the quotes; otherwise the literal as written
	esc  bool   // raw holds escapes or invalid UTF-8 and must be unquoted
}

// String returns the string value, the number as written, or
// "true"/"false". Invalid UTF-8 and lone surrogates become U+FFFD.
func (l *jsonLeaf) String() string {
	if l.esc {
		return unquoteJSON(l.raw)
	}
	return l.raw
}

type frame struct {
	obj  bool
	base int // path length before the container's own path element
}

// jsonWalker holds the reusable buffers of walkJSON.
type jsonWalker struct {
	path  []byte
	stack []frame
	leaf  jsonLeaf // the leaf handed to the callback
}

var walkers = sync.Pool{New: func() any { return &jsonWalker{path: make([]byte, 0, 128), stack: make([]frame, 0, 16)} }}

// jsonError is a syntax error at a byte offset.
type jsonError struct {
	off int
	msg string
}

func (e *jsonError) Error() string { return fmt.Sprintf("invalid JSON at byte %d: %s", e.off, e.msg) }

func errAt(s string, i int, what string) error {
	if i >= len(s) {
		return &jsonError{len(s), "unexpected EOF"}
	}
	return &jsonError{i, fmt.Sprintf("invalid character %q %s", s[i], what)}
}

func skipSpace(s string, i int) int {
	for i < len(s) && s[i] <= ' ' && jsonlit.IsSpace(s[i]) { // most bytes are above ' ': one test
		i++
	}
	return i
}

// scanString reads the JSON string starting with the quote at s[i]. It
// returns the raw contents, whether they must be unquoted, and the offset
// after the closing quote. Syntax follows RFC 8259; invalid UTF-8 is
// accepted (and replaced when unquoted), control characters are not.
func scanString(s string, i int) (raw string, esc bool, next int, err error) {
	start := i + 1
	j := start
	for {
		// eight bytes at a time while none needs a closer look; the
		// lowest flagged byte of a word is the first that does
		found := false
		for j+8 <= len(s) {
			if m := jsonlit.SpecialOrHigh(jsonlit.Load64(s, j)); m != 0 {
				j += bits.TrailingZeros64(m) >> 3
				found = true
				break
			}
			j += 8
		}
		if !found {
			for j < len(s) && jsonlit.Plain[s[j]] {
				j++
			}
		}
		if j >= len(s) {
			return "", false, j, &jsonError{len(s), "unexpected EOF in string"}
		}
		switch c := s[j]; {
		case c == '"':
			return s[start:j], esc, j + 1, nil
		case c == '\\':
			esc = true
			if j+1 >= len(s) {
				return "", false, j, &jsonError{len(s), "unexpected EOF in string"}
			}
			switch s[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				if j+6 > len(s) {
					return "", false, j, &jsonError{len(s), "unexpected EOF in string escape"}
				}
				if _, ok := jsonlit.Hex4(s[j+2 : j+6]); !ok {
					return "", false, j, &jsonError{j, "invalid escape sequence in string"}
				}
				j += 6
			default:
				return "", false, j, &jsonError{j, "invalid escape sequence in string"}
			}
		case c < 0x20:
			return "", false, j, errAt(s, j, "in string (expecting non-control character)")
		default: // ≥ 0x80
			r, n := utf8.DecodeRuneInString(s[j:])
			if r == utf8.RuneError && n <= 1 {
				if !utf8.FullRuneInString(s[j:]) {
					return "", false, j, &jsonError{len(s), "unexpected EOF in string"}
				}
				esc = true
			}
			j += n
		}
	}
}

// unquoteJSON decodes the contents of a string already checked by
// scanString: escapes are resolved, invalid UTF-8 bytes and lone
// surrogates become U+FFFD.
func unquoteJSON(raw string) string {
	var b strings.Builder
	b.Grow(len(raw))
	for i := 0; i < len(raw); {
		c := raw[i]
		switch {
		case c == '\\':
			switch raw[i+1] {
			case 'b':
				b.WriteByte('\b')
			case 'f':
				b.WriteByte('\f')
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			case 'u':
				r, _ := jsonlit.Hex4(raw[i+2 : i+6])
				i += 6
				if utf16.IsSurrogate(r) {
					r2 := rune(-1)
					if i+6 <= len(raw) && raw[i] == '\\' && raw[i+1] == 'u' {
						r2, _ = jsonlit.Hex4(raw[i+2 : i+6])
					}
					if d := utf16.DecodeRune(r, r2); d != utf8.RuneError {
						r = d
						i += 6
					} else {
						r = utf8.RuneError
					}
				}
				b.WriteRune(r)
				continue
			default: // '"', '\\', '/'
				b.WriteByte(raw[i+1])
			}
			i += 2
		case c < utf8.RuneSelf:
			b.WriteByte(c)
			i++
		default:
			r, n := utf8.DecodeRuneInString(raw[i:])
			if r == utf8.RuneError && n <= 1 {
				b.WriteString("\uFFFD")
			} else {
				b.WriteString(raw[i : i+n])
			}
			i += n
		}
	}
	return b.String()
}

func isDigitJ(c byte) bool { return c >= '0' && c <= '9' }

// scanNumber reads a JSON number starting at s[i] (longest valid prefix,
// as a stream decoder does) and returns the offset after it.
func scanNumber(s string, i int) (int, error) {
	j := i
	if s[j] == '-' {
		j++
	}
	if j >= len(s) {
		return j, &jsonError{len(s), "unexpected EOF in number"}
	}
	switch {
	case s[j] == '0':
		j++
	case s[j] >= '1' && s[j] <= '9':
		for j < len(s) && isDigitJ(s[j]) {
			j++
		}
	default:
		return j, errAt(s, j, "in number (expecting digit)")
	}
	if j < len(s) && s[j] == '.' {
		j++
		if j >= len(s) {
			return j, &jsonError{len(s), "unexpected EOF in number"}
		}
		if !isDigitJ(s[j]) {
			return j, errAt(s, j, "in number (expecting digit)")
		}
		for j < len(s) && isDigitJ(s[j]) {
			j++
		}
	}
	if j < len(s) && (s[j] == 'e' || s[j] == 'E') {
		j++
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		if j >= len(s) {
			return j, &jsonError{len(s), "unexpected EOF in number"}
		}
		if !isDigitJ(s[j]) {
			return j, errAt(s, j, "in number (expecting digit)")
		}
		for j < len(s) && isDigitJ(s[j]) {
			j++
		}
	}
	return j, nil
}

// scanLiteral checks that s[i:] starts with lit.
func scanLiteral(s string, i int, lit string) (int, error) {
	for k := 0; k < len(lit); k++ {
		if i+k >= len(s) {
			return i + k, &jsonError{len(s), "unexpected EOF in literal"}
		}
		if s[i+k] != lit[k] {
			return i + k, errAt(s, i+k, "in literal "+lit)
		}
	}
	return i + len(lit), nil
}

// skipValue validates and skips the value starting at s[i] (after
// whitespace), depth being the nesting already open around it.
func skipValue(s string, i, depth int) (int, error) {
	open := 0 // containers opened by this value
	var kinds []byte
	for {
		i = skipSpace(s, i)
		if i >= len(s) {
			return i, &jsonError{len(s), "unexpected EOF"}
		}
		// a value
		var err error
		switch c := s[i]; {
		case c == '{' || c == '[':
			if depth+open+1 > maxNesting {
				return i, &jsonError{i, "exceeded max depth"}
			}
			open++
			kinds = append(kinds, c)
			i = skipSpace(s, i+1)
			if i < len(s) && (c == '{' && s[i] == '}' || c == '[' && s[i] == ']') {
				open--
				kinds = kinds[:len(kinds)-1]
				i++
				break
			}
			if c == '{' {
				if i, err = skipName(s, i); err != nil {
					return i, err
				}
			}
			continue
		case c == '"':
			if _, _, i, err = scanString(s, i); err != nil {
				return i, err
			}
		case c == '-' || isDigitJ(c):
			if i, err = scanNumber(s, i); err != nil {
				return i, err
			}
		case c == 't':
			if i, err = scanLiteral(s, i, "true"); err != nil {
				return i, err
			}
		case c == 'f':
			if i, err = scanLiteral(s, i, "false"); err != nil {
				return i, err
			}
		case c == 'n':
			if i, err = scanLiteral(s, i, "null"); err != nil {
				return i, err
			}
		default:
			return i, errAt(s, i, "at start of value")
		}
		// after a value
		for {
			if open == 0 {
				return i, nil
			}
			i = skipSpace(s, i)
			if i >= len(s) {
				return i, &jsonError{len(s), "unexpected EOF"}
			}
			k := kinds[len(kinds)-1]
			if s[i] == ',' {
				i++
				if k == '{' {
					if i, err = skipName(s, skipSpace(s, i)); err != nil {
						return i, err
					}
				}
				break
			}
			if k == '{' && s[i] == '}' || k == '[' && s[i] == ']' {
				i++
				open--
				kinds = kinds[:len(kinds)-1]
				continue
			}
			return i, errAt(s, i, "after a value (expecting ',' or the end of the container)")
		}
	}
}

// skipName reads an object member name and its colon.
func skipName(s string, i int) (int, error) {
	if i >= len(s) {
		return i, &jsonError{len(s), "unexpected EOF"}
	}
	if s[i] != '"' {
		return i, errAt(s, i, "where an object member name was expected")
	}
	_, _, i, err := scanString(s, i)
	if err != nil {
		return i, err
	}
	i = skipSpace(s, i)
	if i >= len(s) {
		return i, &jsonError{len(s), "unexpected EOF"}
	}
	if s[i] != ':' {
		return i, errAt(s, i, "after object name (expecting ':')")
	}
	return i + 1, nil
}

// walkJSON scans a JSON text (a stream of top-level values, as a stream
// decoder reads it) and calls leaf for every string, number and boolean,
// with the JSON path of the leaf ("$.a.b", arrays as "[*]"). Leaves before
// a syntax error are delivered; the error gives its byte offset.
func walkJSON(body string, maxLeaves int, leaf func(path []byte, v *jsonLeaf) bool) (WalkStats, error) {
	var st WalkStats
	w := walkers.Get().(*jsonWalker)
	defer walkers.Put(w)
	path := append(w.path[:0], '$')
	stack := w.stack[:0]
	defer func() { w.path, w.stack, w.leaf = path[:0], stack[:0], jsonLeaf{} }()
	s := body
	i := 0
	lv := &w.leaf
	var err error
	for {
		// A value is expected at s[i] (after whitespace).
		i = skipSpace(s, i)
		if i >= len(s) {
			if len(stack) == 0 {
				return st, nil
			}
			return st, &jsonError{len(s), "unexpected EOF"}
		}
		c := s[i]
		switch {
		case c == '{' || c == '[':
			if len(stack) >= MaxDepth {
				if i, err = skipValue(s, i, len(stack)); err != nil {
					return st, err
				}
				st.TooDeep++
				goto after
			}
			stack = append(stack, frame{obj: c == '{', base: len(path)})
			i = skipSpace(s, i+1)
			if c == '[' {
				if i < len(s) && s[i] == ']' {
					i++
					stack = stack[:len(stack)-1]
					goto after
				}
				path = append(path, "[*]"...)
				continue
			}
			if i < len(s) && s[i] == '}' {
				i++
				stack = stack[:len(stack)-1]
				goto after
			}
			goto name
		case c == '"':
			raw, esc, next, err := scanString(s, i)
			if err != nil {
				return st, err
			}
			i = next
			*lv = jsonLeaf{Kind: '"', raw: raw, esc: esc}
		case c == '-' || isDigitJ(c):
			next, err := scanNumber(s, i)
			if err != nil {
				return st, err
			}
			*lv = jsonLeaf{Kind: '0', raw: s[i:next]}
			i = next
		case c == 't':
			if i, err = scanLiteral(s, i, "true"); err != nil {
				return st, err
			}
			*lv = jsonLeaf{Kind: 't', raw: "true"}
		case c == 'f':
			if i, err = scanLiteral(s, i, "false"); err != nil {
				return st, err
			}
			*lv = jsonLeaf{Kind: 'f', raw: "false"}
		case c == 'n':
			if i, err = scanLiteral(s, i, "null"); err != nil {
				return st, err
			}
			goto after
		default:
			return st, errAt(s, i, "at start of value")
		}
		if st.Leaves >= maxLeaves {
			st.Truncated = true
			return st, nil
		}
		st.Leaves++
		if !leaf(path, lv) {
			return st, nil
		}
	after:
		// After a value: a separator or the end of containers.
		for {
			n := len(stack)
			if n == 0 {
				break
			}
			i = skipSpace(s, i)
			if i >= len(s) {
				return st, &jsonError{len(s), "unexpected EOF"}
			}
			top := stack[n-1]
			if s[i] == ',' {
				i++
				if top.obj {
					goto name
				}
				break
			}
			if top.obj && s[i] == '}' || !top.obj && s[i] == ']' {
				i++
				path = path[:top.base]
				stack = stack[:n-1]
				continue
			}
			if top.obj {
				return st, errAt(s, i, "after object value (expecting ',' or '}')")
			}
			return st, errAt(s, i, "after array element (expecting ',' or ']')")
		}
		continue
	name:
		// An object member name is expected.
		{
			i = skipSpace(s, i)
			if i >= len(s) {
				return st, &jsonError{len(s), "unexpected EOF"}
			}
			if s[i] != '"' {
				return st, errAt(s, i, "where an object member name was expected")
			}
			raw, esc, next, err := scanString(s, i)
			if err != nil {
				return st, err
			}
			name := raw
			if esc {
				name = unquoteJSON(raw)
			}
			top := stack[len(stack)-1]
			path = appendKey(path[:top.base], name)
			i = skipSpace(s, next)
			if i >= len(s) {
				return st, &jsonError{len(s), "unexpected EOF"}
			}
			if s[i] != ':' {
				return st, errAt(s, i, "after object name (expecting ':')")
			}
			i++
		}
	}
}

// ClassifyJSON classifies every leaf of a JSON document; fn receives the
// leaf's JSON path, the match (offsets are within the leaf value) and the
// leaf value. It returns what the walk skipped and a positioned error for
// invalid JSON (leaves before the error were classified).
func (c *Classifier) ClassifyJSON(body []byte, fn func(field string, m Match, value string)) (WalkStats, error) {
	if len(body) > c.cfg.MaxBodyBytes {
		body = body[:c.cfg.MaxBodyBytes]
	}
	return walkJSON(string(body), c.cfg.MaxLeaves, func(path []byte, tok *jsonLeaf) bool {
		k := tok.Kind
		if k == 't' || k == 'f' {
			return true
		}
		v := tok.String()
		if len(v) == 0 {
			return true
		}
		p := string(path)
		for _, m := range c.classify(p, v) {
			fn(p, m, v)
		}
		return true
	})
}

// Byte classes of object keys.
const (
	kcDigit  = 1 << iota // 0-9
	kcHex                // hex digit or '-'
	kcSimple             // may appear in a dotted path element
	kcAt                 // '@'
)

var keyClass = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		if isDigit(b) {
			t[c] |= kcDigit
		}
		if isHex(b) || b == '-' {
			t[c] |= kcHex
		}
		if isAlnum(b) || b == '_' || b == '-' || b >= 0x80 {
			t[c] |= kcSimple
		}
		if b == '@' {
			t[c] |= kcAt
		}
	}
	return
}()

// keyKind reports, in one pass, whether an object key is dynamic (see
// dynamicKey) and whether it can be written as a dotted path element. The
// byte classes every byte has (all) and some byte has (any) decide it: all
// digits is a number, all hex with a digit a hex id.
func keyKind(name string) (dynamic, simple bool) {
	all := uint8(0xff)
	any := uint8(0)
	for i := 0; i < len(name); i++ {
		k := keyClass[name[i]]
		all &= k
		any |= k
	}
	simple = name != "" && all&kcSimple != 0
	switch {
	case any&kcAt != 0:
		return true, simple
	case len(name) >= 2 && all&kcDigit != 0:
		return true, simple
	case len(name) >= 16 && all&kcHex != 0 && any&kcDigit != 0:
		return true, simple // UUIDs, hex ids and hashes
	case len(name) >= 20 && entropy(name) >= 3.5:
		return true, simple
	}
	return false, simple
}

func appendKey(path []byte, name string) []byte {
	dynamic, simple := keyKind(name)
	if dynamic {
		return append(path, ".*"...)
	}
	if simple {
		path = append(path, '.')
		return append(path, name...)
	}
	path = append(path, "['"...)
	for i := 0; i < len(name); i++ {
		if name[i] == '\'' || name[i] == '\\' {
			path = append(path, '\\')
		}
		path = append(path, name[i])
	}
	return append(path, "']"...)
}
