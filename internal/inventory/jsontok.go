package inventory

import (
	"errors"
	"io"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/palisade-sec/palisade/internal/jsonlit"
)

// jsonTok reads the tokens of one JSON text held in a string: the part of
// jsontext.Decoder the schema parser uses (ReadToken, PeekKind, SkipValue
// with the same meaning), accepting exactly what the Decoder accepts with
// its default options — RFC 8259 syntax, valid UTF-8 (escaped surrogates
// paired), no duplicate member names (compared unescaped), at most
// maxNesting open containers — and nothing after the top-level value but
// whitespace. Tokens are substrings of the text (strings are unescaped
// only when they hold escapes): reading a token allocates nothing, where
// the Decoder copied the body and every string token.
//
// Errors are not the Decoder's messages: callers only tell success from
// failure. FuzzSchemaParserMatchesJSONText checks the equivalence.
type jsonTok struct {
	s       string
	i       int
	stack   []tokFrame
	names   []string // member names of the open objects (see tokFrame)
	started bool     // the top-level value was begun
	err     error    // sticky
	peeked  bool     // pk is the kind of the next token (t.i at its start)
	pk      byte
	buf     []byte // unescaped text of the last string token
}

// tokFrame is an open container.
type tokFrame struct {
	obj   bool
	state uint8
	// names: this object's member names are names[names0:], or set once
	// there are more than tokLinearNames of them
	names0 int
	set    map[string]struct{}
}

// Container states.
const (
	stOpen  = iota // after '{' or '[': a member or the end
	stAfter        // after a member: ',' or the end
	stComma        // after ',': a member
	stValue        // object: after a name and ':', a value
)

// maxNesting: the Decoder's limit on open containers.
const maxNesting = 10000

const tokLinearNames = 16

var (
	errTokSyntax = errors.New("invalid JSON")
	errTokEOF    = errors.New("unexpected end of JSON input")
	errTokDup    = errors.New("duplicate object member name")
	errTokDepth  = errors.New("JSON nesting too deep")
	errTokUTF8   = errors.New("invalid UTF-8 or escape in JSON string")
)

func (t *jsonTok) reset(s string) {
	t.s, t.i, t.started, t.err, t.peeked = s, 0, false, nil, false
	// forget the names and sets of the last text (they may be part of it)
	clear(t.stack[:cap(t.stack)])
	clear(t.names[:cap(t.names)])
	t.stack = t.stack[:0]
	t.names = t.names[:0]
}

func (t *jsonTok) fail(err error) byte {
	if t.err == nil {
		t.err = err
	}
	return 0
}

// PeekKind returns the kind of the next token ('{', '}', '[', ']', '"',
// '0', 'n', 't', 'f'), or 0 at an error (which the next ReadToken
// returns). Separators before the token are consumed.
func (t *jsonTok) PeekKind() byte {
	if !t.peeked {
		t.pk = t.next()
		t.peeked = true
	}
	return t.pk
}

// next moves to the start of the next token, consuming whitespace and the
// separator the innermost container expects, and returns its kind.
func (t *jsonTok) next() byte {
	if t.err != nil {
		return 0
	}
	s := t.s
	i := t.i
	for i < len(s) && jsonlit.IsSpace(s[i]) {
		i++
	}
	name := false // an object member name is required
	if n := len(t.stack); n == 0 {
		if t.started {
			t.i = i
			if i == len(s) {
				return t.fail(io.EOF)
			}
			return t.fail(errTokSyntax) // data after the top-level value
		}
	} else {
		f := &t.stack[n-1]
		end := byte(']')
		if f.obj {
			end = '}'
		}
		switch f.state {
		case stOpen:
			if i < len(s) && s[i] == end {
				t.i = i
				return end
			}
			name = f.obj
		case stAfter:
			if i >= len(s) {
				return t.fail(errTokEOF)
			}
			switch s[i] {
			case end:
				t.i = i
				return end
			case ',':
				f.state = stComma
				i++
				for i < len(s) && jsonlit.IsSpace(s[i]) {
					i++
				}
				name = f.obj
			default:
				return t.fail(errTokSyntax)
			}
		case stComma:
			name = f.obj
		}
	}
	t.i = i
	if i >= len(s) {
		return t.fail(errTokEOF)
	}
	c := s[i]
	if name && c != '"' {
		return t.fail(errTokSyntax)
	}
	switch {
	case c == '{' || c == '[' || c == '"' || c == 'n' || c == 't' || c == 'f':
		return c
	case c == '-' || c >= '0' && c <= '9':
		return '0'
	}
	return t.fail(errTokSyntax)
}

// ReadToken reads the next token: its kind and its text as
// jsontext.Token.String gives it (a string unescaped, a number as
// written, "true", "null", "{"…). The text is valid until the next call.
func (t *jsonTok) ReadToken() (kind byte, text string, err error) {
	k := t.PeekKind()
	t.peeked = false
	if k == 0 {
		return 0, "", t.err
	}
	s := t.s
	i := t.i
	t.started = true
	n := len(t.stack)
	var f *tokFrame
	if n > 0 {
		f = &t.stack[n-1]
	}
	switch k {
	case '}', ']':
		t.i = i + 1
		t.names = t.names[:t.stack[n-1].names0]
		t.stack = t.stack[:n-1]
		return k, s[i : i+1], nil
	case '{', '[':
		if n == maxNesting {
			t.fail(errTokDepth)
			return 0, "", t.err
		}
		if f != nil {
			f.state = stAfter
		}
		t.stack = append(t.stack, tokFrame{obj: k == '{', state: stOpen, names0: len(t.names)})
		t.i = i + 1
		return k, s[i : i+1], nil
	case '"':
		raw, esc, end, err := tokString(s, i)
		if err != nil {
			t.fail(err)
			return 0, "", t.err
		}
		text = raw
		if esc {
			t.buf = appendUnescaped(t.buf[:0], raw)
			text = string(t.buf)
		}
		t.i = end
		if f != nil && f.obj && f.state != stValue {
			// a member name: unique, then ':'
			if !f.insert(t, text) {
				t.fail(errTokDup)
				return 0, "", t.err
			}
			j := end
			for j < len(s) && jsonlit.IsSpace(s[j]) {
				j++
			}
			if j >= len(s) {
				t.fail(errTokEOF)
				return 0, "", t.err
			}
			if s[j] != ':' {
				t.fail(errTokSyntax)
				return 0, "", t.err
			}
			t.i = j + 1
			f.state = stValue
			return k, text, nil
		}
	case '0':
		end, ok := tokNumber(s, i)
		if !ok {
			t.fail(errTokSyntax)
			return 0, "", t.err
		}
		text, t.i = s[i:end], end
	default: // 'n', 't', 'f'
		lit := "null"
		if k == 't' {
			lit = "true"
		} else if k == 'f' {
			lit = "false"
		}
		if len(s)-i < len(lit) || s[i:i+len(lit)] != lit {
			t.fail(errTokSyntax)
			return 0, "", t.err
		}
		text, t.i = lit, i+len(lit)
	}
	if f != nil {
		f.state = stAfter
	}
	return k, text, nil
}

// insert records a member name of the object; false when it is a
// duplicate.
func (f *tokFrame) insert(t *jsonTok, name string) bool {
	if f.set != nil {
		if _, dup := f.set[name]; dup {
			return false
		}
		f.set[name] = struct{}{}
		return true
	}
	for _, x := range t.names[f.names0:] {
		if x == name {
			return false
		}
	}
	if len(t.names)-f.names0 >= tokLinearNames {
		f.set = make(map[string]struct{}, 2*tokLinearNames)
		for _, x := range t.names[f.names0:] {
			f.set[x] = struct{}{}
		}
		f.set[name] = struct{}{}
		return true
	}
	t.names = append(t.names, name)
	return true
}

// SkipValue skips the next value, as jsontext.Decoder.SkipValue does: a
// whole object or array, or one scalar; an error at the end of a
// container.
func (t *jsonTok) SkipValue() error {
	switch k := t.PeekKind(); k {
	case '{', '[':
		depth := len(t.stack)
		for {
			if _, _, err := t.ReadToken(); err != nil {
				return err
			}
			if len(t.stack) <= depth {
				return nil
			}
		}
	case '}', ']':
		t.peeked = false
		t.fail(errTokSyntax)
		return t.err
	}
	_, _, err := t.ReadToken()
	return err
}

// tokNumber returns the end of the JSON number at s[i] (the longest valid
// prefix is not enough: what follows is checked by the next token).
func tokNumber(s string, i int) (int, bool) {
	j := i
	if s[j] == '-' {
		j++
	}
	if j >= len(s) {
		return j, false
	}
	switch {
	case s[j] == '0':
		j++
	case s[j] >= '1' && s[j] <= '9':
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
	default:
		return j, false
	}
	if j < len(s) && s[j] == '.' {
		j++
		if j >= len(s) || s[j] < '0' || s[j] > '9' {
			return j, false
		}
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
	}
	if j < len(s) && (s[j] == 'e' || s[j] == 'E') {
		j++
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		if j >= len(s) || s[j] < '0' || s[j] > '9' {
			return j, false
		}
		for j < len(s) && s[j] >= '0' && s[j] <= '9' {
			j++
		}
	}
	return j, true
}

// tokString reads the JSON string whose quote is at s[i]: its raw contents,
// whether they hold escapes, and the offset after the closing quote.
// Invalid UTF-8, unpaired escaped surrogates and control characters are
// errors (as in jsontext without AllowInvalidUTF8).
func tokString(s string, i int) (raw string, esc bool, end int, err error) {
	start := i + 1
	j := start
	for {
		for j < len(s) && jsonlit.Plain[s[j]] {
			j++
		}
		if j >= len(s) {
			return "", false, j, errTokEOF
		}
		switch c := s[j]; {
		case c == '"':
			return s[start:j], esc, j + 1, nil
		case c == '\\':
			esc = true
			if j+1 >= len(s) {
				return "", false, j, errTokEOF
			}
			switch s[j+1] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
				j += 2
			case 'u':
				r, ok := jsonlit.Hex4(s[j+2:])
				if !ok {
					return "", false, j, errTokUTF8
				}
				j += 6
				if utf16.IsSurrogate(r) {
					r2, ok := rune(0), false
					if j+6 <= len(s) && s[j] == '\\' && s[j+1] == 'u' {
						r2, ok = jsonlit.Hex4(s[j+2:])
					}
					if !ok || utf16.DecodeRune(r, r2) == utf8.RuneError {
						return "", false, j, errTokUTF8
					}
					j += 6
				}
			default:
				return "", false, j, errTokUTF8
			}
		case c < 0x20:
			return "", false, j, errTokSyntax
		default: // ≥ 0x80
			r, n := utf8.DecodeRuneInString(s[j:])
			if r == utf8.RuneError && n <= 1 {
				return "", false, j, errTokUTF8
			}
			j += n
		}
	}
}

// appendUnescaped appends the value of string contents checked by
// tokString.
func appendUnescaped(dst []byte, raw string) []byte {
	for {
		k := strings.IndexByte(raw, '\\')
		if k < 0 {
			return append(dst, raw...)
		}
		dst = append(dst, raw[:k]...)
		var n int
		var ok bool
		if dst, n, ok = jsonlit.AppendEscape(dst, raw, k); !ok {
			// tokString let no bad escape through; keep the rest as is.
			return append(dst, raw[k:]...)
		}
		raw = raw[k+n:]
	}
}
