package inventory

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"sort"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/palisade-sec/palisade/internal/jsonscan"
)

// The schema parser bodyParser replaced: the same folding over
// jsontext.Decoder tokens (the reference of FuzzSchemaParserMatchesJSONText).

// refBodyParser parses JSON bodies into schemas. It reuses its decoder.
type refBodyParser struct {
	rd  bytes.Reader
	dec *jsontext.Decoder
}

func newRefBodyParser() *refBodyParser {
	p := &refBodyParser{}
	p.dec = jsontext.NewDecoder(&p.rd)
	return p
}

// parse folds one JSON document into s. Only objects and arrays are
// accepted at the top level. On a syntax error s may hold part of the
// document: callers parse into a scratch schema and merge on success.
func (p *refBodyParser) parse(body []byte, s *schema) error {
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
	p.rd.Reset(body)
	p.dec.Reset(&p.rd)
	if err := p.value(s, 0, ""); err != nil {
		return err
	}
	if _, err := p.dec.ReadToken(); err != io.EOF {
		return fmt.Errorf("trailing data after JSON value at offset %d", p.dec.InputOffset())
	}
	return nil
}

func (p *refBodyParser) value(s *schema, depth int, name string) error {
	tok, err := p.dec.ReadToken()
	if err != nil {
		return err
	}
	s.count++
	switch tok.Kind() {
	case 'n':
		s.types |= tNull
		s.example(depth, name, "null", "", "")
	case 't', 'f':
		s.types |= tBool
		s.example(depth, name, "boolean", "", tok.String())
	case '0':
		raw := tok.String()
		if bytes.ContainsAny([]byte(raw), ".eE") {
			s.types |= tNum
			s.example(depth, name, "number", "", raw)
		} else {
			s.types |= tInt
			s.example(depth, name, "integer", "", raw)
		}
	case '"':
		v := tok.String()
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
			return p.dec.SkipValue() // rest of the array; the '[' is already read
		}
		for p.dec.PeekKind() != ']' {
			if s.items == nil {
				s.items = &schema{}
			}
			if err := p.value(s.items, depth+1, ""); err != nil {
				return err
			}
		}
		if _, err := p.dec.ReadToken(); err != nil {
			return err
		}
	case '{':
		s.types |= tObj
		s.objects++
		for p.dec.PeekKind() != '}' {
			kt, err := p.dec.ReadToken()
			if err != nil {
				return err
			}
			key := kt.String()
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
				s.props[key] = c
			}
			if err := p.value(c, depth+1, key); err != nil {
				return err
			}
		}
		if _, err := p.dec.ReadToken(); err != nil {
			return err
		}
	default:
		return fmt.Errorf("unexpected JSON token %v", tok.Kind())
	}
	return nil
}

// dumpSchema writes every field of a schema, properties in key order.
func dumpSchema(b *strings.Builder, s *schema) {
	if s == nil {
		b.WriteString("nil")
		return
	}
	fmt.Fprintf(b, "{t%d f%q m%v c%d s%d o%d d%d e%q", s.types, s.format, s.fmtMixed, s.count, s.strings, s.objects, s.dropped, s.examples)
	keys := make([]string, 0, len(s.props))
	for k := range s.props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(b, " %q:", k)
		dumpSchema(b, s.props[k])
	}
	if s.items != nil {
		b.WriteString(" items:")
		dumpSchema(b, s.items)
	}
	b.WriteString("}")
}

// schemaTrace parses body with the new or the reference parser, twice into
// the same schema (the second time shows what the first left behind), and
// describes the outcome: error or not (errNotJSON apart) and the schema.
func schemaTrace(body []byte, ref bool) string {
	var b strings.Builder
	s := &schema{}
	for round := 0; round < 2; round++ {
		var err error
		if ref {
			err = newRefBodyParser().parse(body, s)
		} else {
			err = newBodyParser().parse(string(body), s)
		}
		switch {
		case err == errNotJSON:
			b.WriteString("notjson ")
		case err != nil:
			b.WriteString("error ")
		default:
			b.WriteString("ok ")
		}
		if err != nil && err != errNotJSON {
			continue // a partial schema is discarded by callers
		}
	}
	if b.String() == "ok ok " {
		dumpSchema(&b, s)
	}
	return b.String()
}

var schemaSeeds = []string{
	`{"a":1,"b":[1,2,{"c":null}],"d":"2024-01-01"}`, `[]`, `[{"x":true},{"x":"s"}]`, `{"a":`, `{} {}`, `"str"`, `{}`, ` [ ] `,
	`{"a":1,"a":2}`, `{"a":1,"\u0061":2}`, `{"a":{"b":1},"c":{"b":2}}`, `{"a\"b":"c\\d\/e\u00e9\ud83d\ude00"}`,
	`["\ud83d"]`, `["\ude00"]`, `["\ud83d\u0041"]`, `["\ud83dx"]`, "[\"\xff\"]", "[\"\xed\xa0\x80\"]", "[\"a\x01\"]", `["\x"]`, `["\u12"]`,
	`[1.5e3,-0,0.1,1E+2,-1e-2]`, `[01]`, `[1.]`, `[-]`, `[.5]`, `[1e]`, `[tru]`, `[truex]`, `[null,false,true]`, `{"a":1,}`, `[1,]`, `[,1]`,
	`{"a" 1}`, `{1:2}`, `{"a":1 "b":2}`, `[1 2]`, `{"a":[]} x`, `{"a":[]}  `, "{\"a\":1}\n\t\r ", `[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]`,
	`[[[[[[[[[[[[[[]]]]]]]]]]]]]]`, `[[[[[[[[[[[[[[1,2],3]]]]]]]]]]]]]`, `[[[[[[[[[[[[[[1,2]],[3]]]]]]]]]]]]]`,
	`{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":{"j":{"k":{"l":{"m":{"n":1}}}}}}}}}}}}}}`,
	`{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":{"j":{"k":{"l":[{"x":1,"x":2}]}}}}}}}}}}}}`,
	`{"a":{"b":{"c":{"d":{"e":{"f":{"g":{"h":{"i":{"j":{"k":{"l":[[],[1]]}}}}}}}}}}}}`,
	`{"email":"a@b.example","id":"3f2b8c1e-9a7d-4e2b-8f1a-6c5d4e3b2a10","url":"https://x.test/","ip":"10.0.0.1","t":"2024-01-01T00:00:00Z","password":"hunter22"}`,
}

func TestSchemaParserMatchesJSONText(t *testing.T) {
	seeds := append([]string{}, schemaSeeds...)
	// nesting at the Decoder's limit and beyond it
	for _, n := range []int{jsonscan.DefaultMaxDepth - 1, jsonscan.DefaultMaxDepth, jsonscan.DefaultMaxDepth + 1} {
		seeds = append(seeds, strings.Repeat("[", n)+strings.Repeat("]", n))
		seeds = append(seeds, strings.Repeat(`{"a":`, n)+"1"+strings.Repeat("}", n))
	}
	// many members (duplicate check by map)
	var b strings.Builder
	b.WriteString("{")
	for i := 0; i < 300; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `"k%d":%d`, i, i)
	}
	seeds = append(seeds, b.String()+"}", b.String()+`,"k17":1}`, b.String()+`,"k299":1}`, b.String()+`,"k\u0031":1}`)
	outcomes := map[string]int{}
	for _, s := range seeds {
		got, want := schemaTrace([]byte(s), false), schemaTrace([]byte(s), true)
		if got != want {
			t.Errorf("%.120q:\n got %.300s\nwant %.300s", s, got, want)
		}
		outcomes[want[:2]]++
	}
	if outcomes["ok"] < 10 || outcomes["er"] < 10 {
		t.Fatalf("seed outcomes %v: want both parses and errors", outcomes)
	}
	rng := rand.New(rand.NewPCG(5, 6))
	// generated documents, most valid, some with one byte changed
	for n := 0; n < 20000; n++ {
		doc := []byte(genJSON(rng, 0))
		if rng.IntN(3) == 0 && len(doc) > 0 {
			i := rng.IntN(len(doc))
			switch rng.IntN(3) {
			case 0:
				doc = append(doc[:i], doc[i+1:]...)
			case 1:
				const repl = `{}[],:"\ 1a-.e`
				doc[i] = repl[rng.IntN(len(repl))]
			case 2:
				const ins = `{}[],:"\ 1a`
				doc = append(doc[:i], append([]byte{ins[rng.IntN(len(ins))]}, doc[i:]...)...)
			}
		}
		if got, want := schemaTrace(doc, false), schemaTrace(doc, true); got != want {
			t.Fatalf("%q:\n got %s\nwant %s", doc, got, want)
		}
	}
	// random documents built from pieces, valid and not
	pieces := []string{"{", "}", "[", "]", ",", ":", `"a"`, `"b"`, `"a"`, `"\u0061"`, "1", "-2.5e3", "true", "null", `"x@y.test"`, " ", `"\ud83d\ude00"`, "0", `"2024-01-01"`}
	for n := 0; n < 200000; n++ {
		var d strings.Builder
		d.WriteString([]string{"{", "["}[rng.IntN(2)])
		for k := rng.IntN(24); k > 0; k-- {
			d.WriteString(pieces[rng.IntN(len(pieces))])
		}
		doc := []byte(d.String())
		if got, want := schemaTrace(doc, false), schemaTrace(doc, true); got != want {
			t.Fatalf("%q:\n got %s\nwant %s", doc, got, want)
		}
	}
}

func FuzzSchemaParserMatchesJSONText(f *testing.F) {
	for _, s := range schemaSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if got, want := schemaTrace(body, false), schemaTrace(body, true); got != want {
			t.Fatalf("%q:\n got %s\nwant %s", body, got, want)
		}
	})
}

// genJSON returns a random JSON value (objects and arrays nested up to 15
// levels, repeated and escaped names, strings with escapes and non-ASCII).
func genJSON(rng *rand.Rand, depth int) string {
	k := rng.IntN(10)
	if depth == 0 {
		k = rng.IntN(2)
	} else if depth > 15 {
		k = 2 + rng.IntN(8)
	}
	switch k {
	case 0:
		var b strings.Builder
		b.WriteString("{")
		for i, n := 0, rng.IntN(5); i < n; i++ {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString([]string{`"a"`, `"b"`, `"c"`, `"\u0061"`, `"id"`, `"email"`, `"k` + fmt.Sprint(rng.IntN(40)) + `"`}[rng.IntN(7)])
			b.WriteString(": ")
			b.WriteString(genJSON(rng, depth+1))
		}
		b.WriteString("}")
		return b.String()
	case 1:
		var b strings.Builder
		b.WriteString("[")
		for i, n := 0, rng.IntN(4); i < n; i++ {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(genJSON(rng, depth+1))
		}
		b.WriteString("]")
		return b.String()
	case 2:
		return []string{`"x"`, `"2024-01-02"`, `"a@b.test"`, `"\u00e9t\u00e9"`, `"\ud83d\ude00"`, `"é"`, `"tab\tq\"x"`, `"https://x.test"`, `"10.1.2.3"`, `""`}[rng.IntN(10)]
	case 3:
		return []string{"0", "-1", "12", "1.5", "-2e3", "3E+1", "0.25e-2"}[rng.IntN(7)]
	case 4:
		return []string{"true", "false", "null"}[rng.IntN(3)]
	}
	return genJSON(rng, depth+1)
}
