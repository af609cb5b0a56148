package classify

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/go-json-experiment/json/jsontext"
)

// MaxDepth is the deepest JSON nesting walked; deeper values are skipped
// and counted.
const MaxDepth = 64

var decoders = sync.Pool{New: func() any {
	return jsontext.NewDecoder(bytes.NewReader(nil), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
}}

// WalkStats counts what a walk skipped.
type WalkStats struct {
	Leaves    int
	Truncated bool // MaxLeaves reached
	TooDeep   int  // values skipped beyond MaxDepth
}

type frame struct {
	obj        bool
	expectName bool
	base       int
}

// walkJSON streams a JSON document and calls leaf for every string, number
// and boolean, with the JSON path of the leaf ("$.a.b", arrays as "[*]").
// Only the leaf callback decides whether to convert the token to a string,
// so skipped (sampled) leaves cost no allocation.
func walkJSON(body []byte, maxLeaves int, leaf func(path []byte, tok jsontext.Token) bool) (WalkStats, error) {
	var st WalkStats
	dec := decoders.Get().(*jsontext.Decoder)
	defer func() {
		dec.Reset(bytes.NewReader(nil))
		decoders.Put(dec)
	}()
	dec.Reset(bytes.NewReader(body))
	path := make([]byte, 1, 64)
	path[0] = '$'
	stack := make([]frame, 0, 16)
	afterValue := func() {
		if n := len(stack); n > 0 && stack[n-1].obj {
			stack[n-1].expectName = true
			path = path[:stack[n-1].base]
		}
	}
	for {
		if len(stack) > 0 && !stack[len(stack)-1].expectName && len(stack) >= MaxDepth {
			k := dec.PeekKind()
			if k == '{' || k == '[' {
				if err := dec.SkipValue(); err != nil {
					return st, wrapJSON(dec, err)
				}
				st.TooDeep++
				afterValue()
				continue
			}
		}
		tok, err := dec.ReadToken()
		if err == io.EOF {
			return st, nil
		}
		if err != nil {
			return st, wrapJSON(dec, err)
		}
		if n := len(stack); n > 0 && stack[n-1].obj && stack[n-1].expectName {
			if tok.Kind() == '}' {
				path = path[:stack[n-1].base]
				stack = stack[:n-1]
				afterValue()
				continue
			}
			name := tok.String()
			path = path[:stack[n-1].base]
			path = appendKey(path, name)
			stack[n-1].expectName = false
			continue
		}
		switch tok.Kind() {
		case '{':
			stack = append(stack, frame{obj: true, expectName: true, base: len(path)})
		case '[':
			stack = append(stack, frame{base: len(path)})
			path = append(path, "[*]"...)
		case '}', ']':
			n := len(stack)
			if n == 0 {
				return st, fmt.Errorf("unbalanced %q at offset %d", tok.Kind(), dec.InputOffset())
			}
			path = path[:stack[n-1].base]
			stack = stack[:n-1]
			afterValue()
		case 'n':
			afterValue()
		default:
			if st.Leaves >= maxLeaves {
				st.Truncated = true
				return st, nil
			}
			st.Leaves++
			if !leaf(path, tok) {
				return st, nil
			}
			afterValue()
		}
	}
}

func wrapJSON(dec *jsontext.Decoder, err error) error {
	var se *jsontext.SyntacticError
	if errors.As(err, &se) {
		return fmt.Errorf("invalid JSON at byte %d: %v", se.ByteOffset, se.Err)
	}
	return fmt.Errorf("invalid JSON at byte %d: %v", dec.InputOffset(), err)
}

// dynamicKey reports object keys that are data rather than names: e-mail
// addresses, numbers, UUIDs and long high-entropy strings (maps keyed by
// user, id or token). They become "*" in paths, so that no value reaches a
// field name and a map does not create one field per entry.
func dynamicKey(name string) bool {
	if strings.Contains(name, "@") {
		return true
	}
	digits, hex := 0, 0
	for i := 0; i < len(name); i++ {
		c := name[i]
		if isDigit(c) {
			digits++
		}
		if isHex(c) || c == '-' {
			hex++
		}
	}
	switch {
	case digits == len(name) && digits >= 2:
		return true
	case len(name) >= 16 && hex == len(name) && digits > 0:
		return true // UUIDs, hex ids and hashes
	case len(name) >= 20 && entropy(name) >= 3.5:
		return true
	}
	return false
}

func appendKey(path []byte, name string) []byte {
	if dynamicKey(name) {
		return append(path, ".*"...)
	}
	simple := name != ""
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(isAlnum(c) || c == '_' || c == '-' || c >= 0x80) {
			simple = false
			break
		}
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

// tokenText returns the text of a scalar token: the string value, the
// number as written, or "true"/"false".
func tokenText(tok jsontext.Token) string {
	switch tok.Kind() {
	case 't':
		return "true"
	case 'f':
		return "false"
	}
	return tok.String()
}

// ClassifyJSON classifies every leaf of a JSON document; fn receives the
// leaf's JSON path, the match (offsets are within the leaf value) and the
// leaf value. It returns what the walk skipped and a positioned error for
// invalid JSON (leaves before the error were classified).
func (c *Classifier) ClassifyJSON(body []byte, fn func(field string, m Match, value string)) (WalkStats, error) {
	if len(body) > c.cfg.MaxBodyBytes {
		body = body[:c.cfg.MaxBodyBytes]
	}
	return walkJSON(body, c.cfg.MaxLeaves, func(path []byte, tok jsontext.Token) bool {
		k := tok.Kind()
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
