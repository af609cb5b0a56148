package inventory

import (
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/palisade-sec/palisade/internal/jsonscan"
)

// Limits of body schema inference. Bodies beyond them are not parsed (or
// parsed partly) and the drop is counted per endpoint.
const (
	maxBodyBytes     = 256 << 10
	maxSchemaDepth   = 12
	maxSchemaProps   = 128 // properties kept per object
	maxSchemaExample = 3   // redacted examples kept per top-level leaf
)

// JSON types as bits.
const (
	tNull uint8 = 1 << iota
	tBool
	tInt
	tNum
	tStr
	tArr
	tObj
)

// schema is a mergeable summary of the JSON values seen at one position.
type schema struct {
	types    uint8
	format   string // string format agreed by every string seen ("" when mixed)
	fmtMixed bool
	count    int64 // values seen here
	strings  int64 // of which strings
	objects  int64 // of which objects
	props    map[string]*schema
	dropped  int64 // properties beyond maxSchemaProps
	items    *schema
	examples []string // redacted, top level only
}

// bodyParser parses JSON bodies into schemas. It reuses its tokenizer.
type bodyParser struct {
	dec jsonscan.Tokenizer
}

func newBodyParser() *bodyParser { return &bodyParser{} }

var errNotJSON = errors.New("not a JSON object or array")

// parse folds one JSON document into s. Only objects and arrays are
// accepted at the top level. On a syntax error s may hold part of the
// document: callers parse into a scratch schema and merge on success.
//
// The folding reads tokens exactly as it did from a jsontext.Decoder
// (including how SkipValue behaves right after a '[' beyond
// maxSchemaDepth), from a tokenizer accepting the same documents, so
// schemas are the same (FuzzSchemaParserMatchesJSONText).
func (p *bodyParser) parse(body string, s *schema) error {
	if len(body) > maxBodyBytes {
		return fmt.Errorf("body of %d bytes exceeds %d", len(body), maxBodyBytes)
	}
	i := 0
	for i < len(body) && (body[i] == ' ' || body[i] == '\n' || body[i] == '\r' || body[i] == '\t') {
		i++
	}
	if i == len(body) || (body[i] != '{' && body[i] != '[') {
		return errNotJSON
	}
	p.dec.Reset(body, jsonscan.Options{})
	defer p.dec.Reset("", jsonscan.Options{}) // keep no reference to the body
	if err := p.value(s, 0, ""); err != nil {
		return err
	}
	if _, _, err := p.dec.ReadToken(); err != io.EOF {
		return fmt.Errorf("trailing data after JSON value at offset %d", p.dec.Offset())
	}
	return nil
}

func (p *bodyParser) value(s *schema, depth int, name string) error {
	kind, text, err := p.dec.ReadToken()
	if err != nil {
		return err
	}
	s.count++
	switch kind {
	case 'n':
		s.types |= tNull
		s.example(depth, name, "null", "", "")
	case 't', 'f':
		s.types |= tBool
		s.example(depth, name, "boolean", "", text)
	case '0':
		if strings.ContainsAny(text, ".eE") {
			s.types |= tNum
			s.example(depth, name, "number", "", text)
		} else {
			s.types |= tInt
			s.example(depth, name, "integer", "", text)
		}
	case '"':
		v := text
		s.types |= tStr
		f := stringFormat(v)
		if s.strings == 0 {
			s.format = f
		} else if f != s.format {
			s.fmtMixed = true
			s.format = ""
		}
		s.strings++
		s.example(depth, name, "string", f, v)
	case '[':
		s.types |= tArr
		if depth >= maxSchemaDepth {
			return p.dec.SkipValue() // as the Decoder did: the next value (see parse)
		}
		for p.dec.PeekKind() != ']' {
			if s.items == nil {
				s.items = &schema{}
			}
			if err := p.value(s.items, depth+1, ""); err != nil {
				return err
			}
		}
		if _, _, err := p.dec.ReadToken(); err != nil {
			return err
		}
	case '{':
		s.types |= tObj
		s.objects++
		for p.dec.PeekKind() != '}' {
			_, key, err := p.dec.ReadToken()
			if err != nil {
				return err
			}
			c := s.props[key]
			if c == nil {
				if len(s.props) >= maxSchemaProps || depth >= maxSchemaDepth {
					s.dropped++
					if err := p.dec.SkipValue(); err != nil {
						return err
					}
					continue
				}
				if s.props == nil {
					s.props = make(map[string]*schema)
				}
				c = &schema{}
				s.props[strings.Clone(key)] = c // key may be part of the body
			}
			if err := p.value(c, depth+1, key); err != nil {
				return err
			}
		}
		if _, _, err := p.dec.ReadToken(); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unexpected JSON token %c", kind)
	}
	return nil
}

// example keeps a few redacted examples of top-level properties (depth 1).
func (s *schema) example(depth int, name, typ, format, v string) {
	if depth != 1 || len(s.examples) >= maxSchemaExample {
		return
	}
	e := redactExample(name, typ, format, v)
	for _, x := range s.examples {
		if x == e {
			return
		}
	}
	s.examples = append(s.examples, e)
}

// merge folds o into s.
func (s *schema) merge(o *schema) {
	if o == nil {
		return
	}
	if s.strings == 0 {
		s.format = o.format
	} else if o.strings > 0 && o.format != s.format {
		s.fmtMixed = true
	}
	s.fmtMixed = s.fmtMixed || o.fmtMixed
	if s.fmtMixed {
		s.format = ""
	}
	s.strings += o.strings
	s.types |= o.types
	s.count += o.count
	s.objects += o.objects
	s.dropped += o.dropped
	for k, c := range o.props {
		if d := s.props[k]; d != nil {
			d.merge(c)
		} else if len(s.props) < maxSchemaProps {
			if s.props == nil {
				s.props = make(map[string]*schema)
			}
			s.props[k] = c
		} else {
			s.dropped++
		}
	}
	if o.items != nil {
		if s.items == nil {
			s.items = o.items
		} else {
			s.items.merge(o.items)
		}
	}
	for _, e := range o.examples {
		if len(s.examples) >= maxSchemaExample {
			break
		}
		dup := false
		for _, x := range s.examples {
			dup = dup || x == e
		}
		if !dup {
			s.examples = append(s.examples, e)
		}
	}
}

// typeName returns the JSON Schema type (or the first of several) and
// whether null was seen.
func (s *schema) typeNames() []string {
	var out []string
	if s.types&tObj != 0 {
		out = append(out, "object")
	}
	if s.types&tArr != 0 {
		out = append(out, "array")
	}
	if s.types&tStr != 0 {
		out = append(out, "string")
	}
	if s.types&tNum != 0 {
		out = append(out, "number")
	} else if s.types&tInt != 0 {
		out = append(out, "integer")
	}
	if s.types&tBool != 0 {
		out = append(out, "boolean")
	}
	if s.types&tNull != 0 {
		out = append(out, "null")
	}
	return out
}

// primaryType is the first non-null type ("string" when nothing else).
func (s *schema) primaryType() string {
	for _, t := range s.typeNames() {
		if t != "null" {
			return t
		}
	}
	if s.types&tNull != 0 {
		return "null"
	}
	return "string"
}

// required lists properties present in every object seen.
func (s *schema) required() []string {
	var out []string
	for k, c := range s.props {
		if s.objects > 0 && c.count >= s.objects {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}

// jsonSchema renders s as a JSON Schema (2020-12 / OpenAPI 3.1 style:
// several types become a type array).
func (s *schema) jsonSchema() map[string]any {
	m := map[string]any{}
	ts := s.typeNames()
	switch len(ts) {
	case 0:
	case 1:
		m["type"] = ts[0]
	default:
		arr := make([]any, len(ts))
		for i, t := range ts {
			arr[i] = t
		}
		m["type"] = arr
	}
	if s.format != "" && !s.fmtMixed && s.types&tStr != 0 {
		m["format"] = s.format
	}
	if len(s.props) > 0 {
		props := make(map[string]any, len(s.props))
		for k, c := range s.props {
			props[k] = c.jsonSchema()
		}
		m["properties"] = props
		if r := s.required(); len(r) > 0 {
			arr := make([]any, len(r))
			for i, x := range r {
				arr[i] = x
			}
			m["required"] = arr
		}
	}
	if s.items != nil && s.types&tArr != 0 {
		m["items"] = s.items.jsonSchema()
	}
	return m
}
