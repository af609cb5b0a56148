package detect

import "unicode/utf8"

// A fast path for walking JSON request bodies. The jsontext decoder the
// part walker uses copies its input and allocates every string it returns;
// most API bodies are small, valid, escape-free JSON, for which the values
// are plain substrings of the body. fastJSON tokenizes exactly that subset
// (strict RFC 8259 grammar, strings without escapes or control characters,
// valid UTF-8, one top-level value, bounded depth) and gives up ("bail") on
// anything else, before returning the token it cannot vouch for. Every
// token it returns is therefore one jsontext returns too, in the same
// order; when it gives up, the walk is replayed with jsontext, skipping the
// emissions already made (see partWalker.jsonBody), so the parts and their
// order are exactly those of the jsontext walk.

type fastJSON struct {
	s     string
	i     int
	stack []byte // open containers: '{' or '['
	state uint8
}

const (
	fjValue      = iota // a value (start, after ':' or ',' in an array)
	fjValueOrEnd        // after '[': a value or ']'
	fjNameOrEnd         // after '{': a member name or '}'
	fjName              // after ',' in an object: a member name
	fjColon             // after a member name
	fjCommaOrEnd        // after a value inside a container
	fjDone              // after the top-level value
)

// Token results of next.
const (
	fjTok = iota
	fjEOF
	fjBail
)

const fastJSONMaxDepth = 256

func (t *fastJSON) reset(s string) {
	t.s, t.i, t.stack, t.state = s, 0, t.stack[:0], fjValue
}

func (t *fastJSON) skipWS() {
	for t.i < len(t.s) {
		switch t.s[t.i] {
		case ' ', '\t', '\n', '\r':
			t.i++
		default:
			return
		}
	}
}

func (t *fastJSON) afterValue() {
	if len(t.stack) == 0 {
		t.state = fjDone
	} else {
		t.state = fjCommaOrEnd
	}
}

// delim reports whether a number or literal may end at i.
func (t *fastJSON) delim(i int) bool {
	if i >= len(t.s) {
		return true
	}
	switch t.s[i] {
	case ' ', '\t', '\n', '\r', ',', ']', '}':
		return true
	}
	return false
}

// str reads a string at t.i (on '"').
func (t *fastJSON) str() (string, bool) {
	j := t.i + 1
	hi := false
	for ; j < len(t.s); j++ {
		c := t.s[j]
		if c == '"' {
			break
		}
		if c == '\\' || c < 0x20 {
			return "", false
		}
		if c >= 0x80 {
			hi = true
		}
	}
	if j >= len(t.s) {
		return "", false
	}
	v := t.s[t.i+1 : j]
	if hi && !utf8.ValidString(v) {
		return "", false
	}
	t.i = j + 1
	return v, true
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// num reads a number at t.i.
func (t *fastJSON) num() (string, bool) {
	s, j := t.s, t.i
	if j < len(s) && s[j] == '-' {
		j++
	}
	switch {
	case j < len(s) && s[j] == '0':
		j++
	case j < len(s) && s[j] >= '1' && s[j] <= '9':
		for j++; j < len(s) && isDigit(s[j]); j++ {
		}
	default:
		return "", false
	}
	if j < len(s) && s[j] == '.' {
		j++
		if j >= len(s) || !isDigit(s[j]) {
			return "", false
		}
		for ; j < len(s) && isDigit(s[j]); j++ {
		}
	}
	if j < len(s) && (s[j] == 'e' || s[j] == 'E') {
		j++
		if j < len(s) && (s[j] == '+' || s[j] == '-') {
			j++
		}
		if j >= len(s) || !isDigit(s[j]) {
			return "", false
		}
		for ; j < len(s) && isDigit(s[j]); j++ {
		}
	}
	if !t.delim(j) {
		return "", false
	}
	v := s[t.i:j]
	t.i = j
	return v, true
}

// next returns the next token: its kind as jsontext reports it ('{', '}',
// '[', ']', '"', '0', 't', 'f', 'n') and, for strings and numbers, its
// text.
func (t *fastJSON) next() (kind byte, val string, res int) {
	for {
		t.skipWS()
		if t.i >= len(t.s) {
			if t.state == fjDone || t.state == fjValue && len(t.stack) == 0 {
				return 0, "", fjEOF
			}
			return 0, "", fjBail // truncated
		}
		c := t.s[t.i]
		switch t.state {
		case fjDone:
			return 0, "", fjBail // more than one top-level value
		case fjColon:
			if c != ':' {
				return 0, "", fjBail
			}
			t.i++
			t.state = fjValue
			continue
		case fjCommaOrEnd:
			top := t.stack[len(t.stack)-1]
			if c == ',' {
				t.i++
				if top == '{' {
					t.state = fjName
				} else {
					t.state = fjValue
				}
				continue
			}
			if c == '}' && top == '{' || c == ']' && top == '[' {
				return t.close(c)
			}
			return 0, "", fjBail
		case fjNameOrEnd, fjName:
			if c == '}' && t.state == fjNameOrEnd {
				return t.close(c)
			}
			if c != '"' {
				return 0, "", fjBail
			}
			v, ok := t.str()
			if !ok {
				return 0, "", fjBail
			}
			t.state = fjColon
			return '"', v, fjTok
		case fjValueOrEnd:
			if c == ']' {
				return t.close(c)
			}
		}
		// a value
		switch {
		case c == '{' || c == '[':
			if len(t.stack) >= fastJSONMaxDepth {
				return 0, "", fjBail
			}
			t.stack = append(t.stack, c)
			t.i++
			if c == '{' {
				t.state = fjNameOrEnd
			} else {
				t.state = fjValueOrEnd
			}
			return c, "", fjTok
		case c == '"':
			v, ok := t.str()
			if !ok {
				return 0, "", fjBail
			}
			t.afterValue()
			return '"', v, fjTok
		case c == '-' || isDigit(c):
			v, ok := t.num()
			if !ok {
				return 0, "", fjBail
			}
			t.afterValue()
			return '0', v, fjTok
		case c == 't' || c == 'f' || c == 'n':
			lit := "null"
			if c == 't' {
				lit = "true"
			} else if c == 'f' {
				lit = "false"
			}
			if len(t.s)-t.i < len(lit) || t.s[t.i:t.i+len(lit)] != lit || !t.delim(t.i+len(lit)) {
				return 0, "", fjBail
			}
			t.i += len(lit)
			t.afterValue()
			return c, "", fjTok
		}
		return 0, "", fjBail
	}
}

func (t *fastJSON) close(c byte) (byte, string, int) {
	t.stack = t.stack[:len(t.stack)-1]
	t.i++
	t.afterValue()
	return c, "", fjTok
}
