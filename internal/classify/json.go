package classify

import (
	"sync"
	"unsafe"

	"github.com/palisade-sec/palisade/internal/jsonscan"
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
		return unquote(l.raw)
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
	skip  jsonscan.Tokenizer
}

var walkers = sync.Pool{New: func() any { return &jsonWalker{path: make([]byte, 0, 128), stack: make([]frame, 0, 16)} }}

// unquote decodes the contents of a string checked by jsonscan.String
// (lenient): escapes are resolved, invalid UTF-8 bytes and lone
// surrogates become U+FFFD.
func unquote(raw string) string {
	b, _ := jsonscan.AppendUnescape(make([]byte, 0, len(raw)), raw, true)
	return unsafe.String(unsafe.SliceData(b), len(b)) // b is not written again
}

var skipOpts = jsonscan.Options{AllowDuplicateNames: true, AllowInvalidUTF8: true}

// skipValue validates and skips the container starting at s[i], depth
// being the nesting already open around it (the shared tokenizer, with
// the walk's lenient options and what is left of the nesting limit).
func (w *jsonWalker) skipValue(s string, i, depth int) (int, error) {
	o := skipOpts
	o.MaxDepth = maxNesting - depth
	w.skip.Reset(s[i:], o)
	defer w.skip.Reset("", o)
	if err := w.skip.SkipValue(); err != nil {
		if se, ok := err.(*jsonscan.SyntaxError); ok {
			return i + se.Offset, &jsonscan.SyntaxError{Offset: i + se.Offset, Msg: se.Msg}
		}
		return len(s), &jsonscan.SyntaxError{Offset: len(s), Msg: "unexpected EOF"}
	}
	return i + w.skip.Offset(), nil
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
		i = jsonscan.SkipSpace(s, i)
		if i >= len(s) {
			if len(stack) == 0 {
				return st, nil
			}
			return st, &jsonscan.SyntaxError{Offset: len(s), Msg: "unexpected EOF"}
		}
		c := s[i]
		switch {
		case c == '{' || c == '[':
			if len(stack) >= MaxDepth {
				if i, err = w.skipValue(s, i, len(stack)); err != nil {
					return st, err
				}
				st.TooDeep++
				goto after
			}
			stack = append(stack, frame{obj: c == '{', base: len(path)})
			i = jsonscan.SkipSpace(s, i+1)
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
			raw, esc, next, err := jsonscan.String(s, i, true)
			if err != nil {
				return st, err
			}
			i = next
			*lv = jsonLeaf{Kind: '"', raw: raw, esc: esc}
		case c == '-' || c >= '0' && c <= '9':
			next, ok := jsonscan.Number(s, i)
			if !ok {
				return st, jsonscan.NumberError(s, next)
			}
			*lv = jsonLeaf{Kind: '0', raw: s[i:next]}
			i = next
		case c == 't':
			if i, err = jsonscan.Literal(s, i, "true"); err != nil {
				return st, err
			}
			*lv = jsonLeaf{Kind: 't', raw: "true"}
		case c == 'f':
			if i, err = jsonscan.Literal(s, i, "false"); err != nil {
				return st, err
			}
			*lv = jsonLeaf{Kind: 'f', raw: "false"}
		case c == 'n':
			if i, err = jsonscan.Literal(s, i, "null"); err != nil {
				return st, err
			}
			goto after
		default:
			return st, jsonscan.ErrAt(s, i, "at start of value")
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
			i = jsonscan.SkipSpace(s, i)
			if i >= len(s) {
				return st, &jsonscan.SyntaxError{Offset: len(s), Msg: "unexpected EOF"}
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
				return st, jsonscan.ErrAt(s, i, "after object value (expecting ',' or '}')")
			}
			return st, jsonscan.ErrAt(s, i, "after array element (expecting ',' or ']')")
		}
		continue
	name:
		// An object member name is expected.
		{
			i = jsonscan.SkipSpace(s, i)
			if i >= len(s) {
				return st, &jsonscan.SyntaxError{Offset: len(s), Msg: "unexpected EOF"}
			}
			if s[i] != '"' {
				return st, jsonscan.ErrAt(s, i, "where an object member name was expected")
			}
			raw, esc, next, err := jsonscan.String(s, i, true)
			if err != nil {
				return st, err
			}
			name := raw
			if esc {
				name = unquote(raw)
			}
			top := stack[len(stack)-1]
			path = appendKey(path[:top.base], name)
			i = jsonscan.SkipSpace(s, next)
			if i >= len(s) {
				return st, &jsonscan.SyntaxError{Offset: len(s), Msg: "unexpected EOF"}
			}
			if s[i] != ':' {
				return st, jsonscan.ErrAt(s, i, "after object name (expecting ':')")
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
