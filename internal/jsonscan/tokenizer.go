package jsonscan

import (
	"io"
)

// Options are the variants of the Tokenizer, named after the jsontext
// options they mirror.
type Options struct {
	// MaxDepth is the number of open containers allowed; opening one more
	// is an error. 0: 10000, jsontext's limit.
	MaxDepth int
	// AllowDuplicateNames: a member name repeated in an object is not an
	// error (strict: it is, names compared unescaped).
	AllowDuplicateNames bool
	// AllowInvalidUTF8: invalid UTF-8 and unpaired escaped surrogates in
	// strings are accepted and become U+FFFD (strict: errors).
	AllowInvalidUTF8 bool
	// Stream: a sequence of top-level values, as jsontext.Decoder reads
	// it (strict: one value and nothing after it but white space).
	Stream bool
}

// DefaultMaxDepth is jsontext's limit on open containers.
const DefaultMaxDepth = 10000

// Tokenizer reads the tokens of a JSON text held in a string, with the
// meaning of jsontext.Decoder's ReadToken, PeekKind and SkipValue: RFC 8259
// syntax, one top-level value and nothing after it but white space (or a
// stream of values), the Options' checks. Tokens are substrings of the text; a string with
// escapes is unescaped into a new string (Escaped reports it). Reading a token allocates
// nothing once the Tokenizer's stacks have grown (TestNoAllocs), except
// the set of names of an object with more than 16 members.
//
// A number or literal must be followed by a delimiter (white space, ',',
// ']', '}' or the end): otherwise the error comes before the token (where
// jsontext fails one token later), so a caller that replays a failed walk
// with jsontext has seen no token jsontext does not return. Errors are *SyntaxError (io.EOF after the top-level value,
// or for a text of white space only).
//
// The zero Tokenizer is ready for Reset.
type Tokenizer struct {
	opts    Options
	s       string
	i       int
	stack   []tokFrame
	names   []string // member names of the open objects (see tokFrame)
	started bool     // the top-level value was begun
	err     error    // sticky
	peeked  bool     // pk is the kind of the next token (t.i at its start)
	pk      byte
	esc     bool   // the last string token held escapes
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

const tokLinearNames = 16

// Reset starts reading s with the options o.
func (t *Tokenizer) Reset(s string, o Options) {
	if o.MaxDepth <= 0 {
		o.MaxDepth = DefaultMaxDepth
	}
	t.opts = o
	t.s, t.i, t.started, t.err, t.peeked, t.esc = s, 0, false, nil, false, false
	// forget the names and sets of the last text (they may be part of it)
	clear(t.stack[:cap(t.stack)])
	clear(t.names[:cap(t.names)])
	t.stack = t.stack[:0]
	t.names = t.names[:0]
}

// Depth is the number of open containers.
func (t *Tokenizer) Depth() int { return len(t.stack) }

// Offset is the offset of the next byte to read.
func (t *Tokenizer) Offset() int { return t.i }

// Escaped reports whether the last string token held escapes (or, with
// AllowInvalidUTF8, invalid UTF-8): its text is then a new string, not a
// substring of the input.
func (t *Tokenizer) Escaped() bool { return t.esc }

func (t *Tokenizer) fail(err error) byte {
	if t.err == nil {
		t.err = err
	}
	return 0
}

// PeekKind returns the kind of the next token ('{', '}', '[', ']', '"',
// '0', 'n', 't', 'f'), or 0 at an error (which the next ReadToken
// returns). Separators before the token are consumed.
func (t *Tokenizer) PeekKind() byte {
	if !t.peeked {
		t.pk = t.next()
		t.peeked = true
	}
	return t.pk
}

// next moves to the start of the next token, consuming whitespace and the
// separator the innermost container expects, and returns its kind.
func (t *Tokenizer) next() byte {
	if t.err != nil {
		return 0
	}
	s := t.s
	i := SkipSpace(s, t.i)
	name := false // an object member name is required
	if n := len(t.stack); n == 0 {
		if i == len(s) {
			t.i = i
			return t.fail(io.EOF)
		}
		if t.started && !t.opts.Stream {
			t.i = i
			return t.fail(ErrAt(s, i, "after top-level value"))
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
				return t.fail(ErrAt(s, i, ""))
			}
			switch s[i] {
			case end:
				t.i = i
				return end
			case ',':
				f.state = stComma
				i = SkipSpace(s, i+1)
				name = f.obj
			default:
				return t.fail(ErrAt(s, i, "after a value (expecting ',' or the end of the container)"))
			}
		case stComma:
			name = f.obj
		}
	}
	t.i = i
	if i >= len(s) {
		return t.fail(ErrAt(s, i, ""))
	}
	c := s[i]
	if name && c != '"' {
		return t.fail(ErrAt(s, i, "where an object member name was expected"))
	}
	switch {
	case c == '{' || c == '[' || c == '"' || c == 'n' || c == 't' || c == 'f':
		return c
	case c == '-' || c >= '0' && c <= '9':
		return '0'
	}
	return t.fail(ErrAt(s, i, "at start of value"))
}

// ReadToken reads the next token: its kind and its text as
// jsontext.Token.String gives it (a string unescaped, a number as
// written, "true", "null", "{"…).
func (t *Tokenizer) ReadToken() (kind byte, text string, err error) {
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
		if n >= t.opts.MaxDepth {
			t.fail(&SyntaxError{i, "exceeded max depth"})
			return 0, "", t.err
		}
		if f != nil {
			f.state = stAfter
		}
		t.stack = append(t.stack, tokFrame{obj: k == '{', state: stOpen, names0: len(t.names)})
		t.i = i + 1
		return k, s[i : i+1], nil
	case '"':
		raw, esc, end, err := String(s, i, t.opts.AllowInvalidUTF8)
		if err != nil {
			t.fail(err)
			return 0, "", t.err
		}
		text = raw
		t.esc = esc
		if esc {
			t.buf, _ = AppendUnescape(t.buf[:0], raw, t.opts.AllowInvalidUTF8)
			text = string(t.buf)
		}
		t.i = end
		if f != nil && f.obj && f.state != stValue {
			// a member name: unique, then ':'
			if !t.opts.AllowDuplicateNames && !f.insert(t, text) {
				t.fail(&SyntaxError{i, "duplicate object member name"})
				return 0, "", t.err
			}
			j := SkipSpace(s, end)
			if j >= len(s) || s[j] != ':' {
				t.fail(ErrAt(s, j, "after object name (expecting ':')"))
				return 0, "", t.err
			}
			t.i = j + 1
			f.state = stValue
			return k, text, nil
		}
	case '0':
		end, ok := Number(s, i)
		if !ok {
			t.fail(NumberError(s, end))
			return 0, "", t.err
		}
		if !t.delim(end) {
			t.fail(ErrAt(s, end, "after a number"))
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
		end, err := Literal(s, i, lit)
		if err == nil && !t.delim(end) {
			err = ErrAt(s, end, "after literal "+lit)
		}
		if err != nil {
			t.fail(err)
			return 0, "", t.err
		}
		text, t.i = lit, end
	}
	if f != nil {
		f.state = stAfter
	}
	return k, text, nil
}

// delim reports whether a number or literal may end at i: before a
// delimiter, or anywhere at the top level of a stream (jsontext reads
// "1true" as two values).
func (t *Tokenizer) delim(i int) bool {
	return Delim(t.s, i) || t.opts.Stream && len(t.stack) == 0
}

// insert records a member name of the object; false when it is a
// duplicate.
func (f *tokFrame) insert(t *Tokenizer, name string) bool {
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
func (t *Tokenizer) SkipValue() error {
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
		t.fail(ErrAt(t.s, t.i, "where a value was expected"))
		return t.err
	}
	_, _, err := t.ReadToken()
	return err
}
