package jsonscan

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
)

// The reference for the Tokenizer is jsontext.Decoder with the same
// options: the tokens (kind and text), in order, and whether the text ends
// cleanly or with an error. The Tokenizer may stop before jsontext only
// where jsontext would fail too (a number or literal without a
// delimiter); it never returns a token jsontext does not.

var tokSeeds = []string{
	`{"a":"x","b":1,"c":[1,2,{"d":"<script>"}],"e":{"f":null,"g":true,"h":false}}`,
	`[1,-0,0.5,-1.25e+10,3E-2,"s",[],{}]`, `"top"`, `12`, `true`, `null`, ` {"a" : [ "b" , "c" ] } `, ``, `   `,
	`{"esc":"a\"b","u":"\u003cscript\u003e","p":"\ud83d\ude00"}`, `{"a\u0062":1,"ab":2}`, `"\ud800"`, `"\udc00\ud800"`, `"\ud800\u0041"`,
	`{"a":1,}`, `[1,]`, `{"a" 1}`, `{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":1e}`, `{"a":tru}`, `{"a":truex}`, `[1x]`, `1x`, `[1"a"]`,
	`{"a":"b"}{"c":"d"}`, `{"a":"b"} trailing`, `{"a":"b"`, `{"a":"unterminated`, `[`, `]`, `}`, `{"a":1:2}`,
	`{"a":"b\x01"}`, "{\"a\":\"\xff\xfe\"}", "\"a\xe2\x82\"", `{"é":"ü","ключ":"значение"}`, "\ufeff{\"a\":1}",
	`{"dup":1,"dup":2}`, `{"a":{"dup":1},"b":{"dup":2}}`, `[[[[[[[[1]]]]]]]]`, `{"":""}`, `-`, `--1`, `1 2`, `[1 2]`,
	`{"a":1}]`, `{"a":-}`, `{"a":{"b":1}"c":2}`, "{\"a\":\t\r\n1}", "{\"a\":\v1}", `"\u12"`, `"\x"`, `[1e+]`, `[-0.0e-0]`,
	`{"k1":1,"k2":2,"k3":3,"k4":4,"k5":5,"k6":6,"k7":7,"k8":8,"k9":9,"k10":10,"k11":11,"k12":12,"k13":13,"k14":14,"k15":15,"k16":16,"k17":17,"k3":3}`,
}

var tokOptions = func() (out []Options) {
	for _, stream := range []bool{false, true} {
		for _, dup := range []bool{false, true} {
			for _, utf := range []bool{false, true} {
				out = append(out, Options{AllowDuplicateNames: dup, AllowInvalidUTF8: utf, Stream: stream})
			}
		}
	}
	return
}()

func jsontextOpts(o Options) []jsontext.Options {
	return []jsontext.Options{jsontext.AllowDuplicateNames(o.AllowDuplicateNames), jsontext.AllowInvalidUTF8(o.AllowInvalidUTF8)}
}

// tokTrace lists the tokens and the end of a text read by the Tokenizer
// (ref false) or by jsontext (a stream decoder: without Stream, a second
// top-level value is an error).
func tokTrace(s string, o Options, ref bool) (toks []string, end string) {
	if ref {
		d := jsontext.NewDecoder(strings.NewReader(s), jsontextOpts(o)...)
		for {
			if !o.Stream && len(toks) > 0 && d.StackDepth() == 0 {
				if _, err := d.ReadToken(); err == io.EOF {
					return toks, "eof"
				}
				return toks, "error"
			}
			tok, err := d.ReadToken()
			if err == io.EOF {
				return toks, "eof"
			} else if err != nil {
				return toks, "error"
			}
			toks = append(toks, fmt.Sprintf("%c %q", tok.Kind(), tok.String()))
		}
	}
	var t Tokenizer
	t.Reset(s, o)
	for {
		k, text, err := t.ReadToken()
		if err == io.EOF {
			return toks, "eof"
		} else if err != nil {
			return toks, "error"
		}
		toks = append(toks, fmt.Sprintf("%c %q", k, text))
	}
}

func checkTokens(t *testing.T, s string) {
	t.Helper()
	for _, o := range tokOptions {
		got, gotEnd := tokTrace(s, o, false)
		want, wantEnd := tokTrace(s, o, true)
		ok := gotEnd == wantEnd && len(got) == len(want)
		if gotEnd == "error" && wantEnd == "error" {
			ok = len(got) <= len(want)
		}
		for i := 0; ok && i < len(got); i++ {
			ok = got[i] == want[i]
		}
		if !ok {
			t.Fatalf("%q with %+v:\ntokenizer %s %q\njsontext  %s %q", s, o, gotEnd, got, wantEnd, want)
		}
	}
}

func TestTokenizerMatchesJSONText(t *testing.T) {
	seeds := append([]string(nil), tokSeeds...)
	for _, n := range []int{DefaultMaxDepth - 1, DefaultMaxDepth, DefaultMaxDepth + 1} {
		seeds = append(seeds, strings.Repeat("[", n)+strings.Repeat("]", n))
		seeds = append(seeds, strings.Repeat(`{"a":`, n)+"1"+strings.Repeat("}", n))
	}
	for _, s := range seeds {
		checkTokens(t, s)
		// every prefix: bodies cut at a size limit
		for i := 0; i < len(s) && len(s) < 200; i++ {
			checkTokens(t, s[:i])
		}
	}
}

func FuzzTokenizerMatchesJSONText(f *testing.F) {
	for _, s := range tokSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { checkTokens(t, s) })
}

func TestTokenizerMaxDepth(t *testing.T) {
	var tk Tokenizer
	tk.Reset("[[[1]]]", Options{MaxDepth: 2})
	var err error
	for err == nil {
		_, _, err = tk.ReadToken()
	}
	if _, ok := err.(*SyntaxError); !ok || tk.Depth() != 2 {
		t.Fatalf("depth 3 with MaxDepth 2: %v at depth %d", err, tk.Depth())
	}
	tk.Reset("[[1]]", Options{MaxDepth: 2})
	if err := tk.SkipValue(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := tk.ReadToken(); err != io.EOF {
		t.Fatalf("after the value: %v", err)
	}
}

// TestNumberMatchesStrconv: Number accepts the longest prefix that is a
// JSON number; what it accepts, strconv parses, and ParseInt agrees with
// strconv on integers.
func TestNumber(t *testing.T) {
	for _, c := range []struct {
		in  string
		end int
		ok  bool
	}{
		{"0", 1, true}, {"-0", 2, true}, {"01", 1, true}, {"12.5e-3x", 7, true}, {"1.", 2, false}, {"-", 1, false},
		{"1e", 2, false}, {"1e+", 3, false}, {".5", 0, false}, {"1E5", 3, true}, {"123", 3, true}, {"-a", 1, false}, {"", 0, false},
	} {
		end, ok := Number(c.in, 0)
		if end != c.end || ok != c.ok {
			t.Errorf("Number(%q) = %d %v, want %d %v", c.in, end, ok, c.end, c.ok)
		}
		if bend, bok := Number([]byte(c.in), 0); bend != end || bok != ok {
			t.Errorf("Number([]byte %q) differs", c.in)
		}
	}
}

func FuzzNumber(f *testing.F) {
	for _, s := range []string{"0", "-12.5e+3", "01", "1.", "123456789012345678", "1234567890123456789", "-0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		end, ok := Number(s, 0)
		if !ok {
			return
		}
		num := s[:end]
		if !jsontext.Value(num).IsValid() {
			t.Fatalf("Number accepted %q, not valid JSON", num)
		}
		if _, err := strconv.ParseFloat(num, 64); err != nil && !strings.Contains(err.Error(), "range") {
			t.Fatalf("%q: %v", num, err)
		}
		if n, ok := ParseInt(num); ok {
			if want, err := strconv.ParseInt(num, 10, 64); err != nil || want != n {
				t.Fatalf("ParseInt(%q) = %d, strconv %d %v", num, n, want, err)
			}
		} else if !strings.ContainsAny(num, ".eE") && len(strings.TrimPrefix(num, "-")) <= 18 {
			t.Fatalf("ParseInt(%q) refused an integer", num)
		}
		// the longest prefix: one more byte is never a number
		if end < len(s) && !IsSpace(s[end]) && jsontext.Value(s[:end+1]).IsValid() {
			t.Fatalf("%q: Number stopped at %d", s, end)
		}
	})
}

// FuzzStringUnescape: String and AppendUnescape read a string as jsontext
// does, strictly and leniently.
func FuzzStringUnescape(f *testing.F) {
	for _, s := range []string{`"a"`, `"a\"b"`, `"\u00e9\ud83d\ude00"`, `"\ud800"`, "\"\xff\"", `"\x"`, `"a`, "\"\x01\"", `"\ud800\u0041"`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) == 0 || s[0] != '"' {
			s = `"` + s
		}
		for _, lenient := range []bool{false, true} {
			raw, esc, end, err := String(s, 0, lenient)
			var want string
			var werr error
			d := jsontext.NewDecoder(strings.NewReader(s), jsontext.AllowInvalidUTF8(lenient))
			tok, werr := d.ReadToken()
			if werr == nil {
				want = tok.String()
			}
			if err != nil {
				if werr == nil && end >= len(s) {
					t.Fatalf("%q lenient=%v: String: %v, jsontext read %q", s, lenient, err, want)
				}
				if werr == nil {
					t.Fatalf("%q lenient=%v: String: %v, jsontext read %q", s, lenient, err, want)
				}
				continue
			}
			if werr != nil {
				// jsontext may refuse what follows the string (a
				// delimiter), never the string itself
				if _, e := jsontext.NewDecoder(strings.NewReader(s[:end]), jsontext.AllowInvalidUTF8(lenient)).ReadToken(); e != nil {
					t.Fatalf("%q lenient=%v: String accepted, jsontext: %v", s, lenient, e)
				}
				continue
			}
			got := raw
			if esc {
				b, ok := AppendUnescape(nil, raw, lenient)
				if !ok {
					t.Fatalf("%q: AppendUnescape refused what String accepted", s)
				}
				got = string(b)
			}
			if got != want {
				t.Fatalf("%q lenient=%v: %q, jsontext %q", s, lenient, got, want)
			}
		}
	})
}

// TestNoAllocs checks the package comment: reading the tokens of a text
// without escapes, and the lexical pieces, allocate nothing.
func TestNoAllocs(t *testing.T) {
	body := `{"id": 42, "items": [{"sku": "A-1", "qty": 2, "price": 9.5}, {"sku": "B-2é", "qty": 1, "price": null}], "paid": true}`
	var tok Tokenizer
	for _, o := range tokOptions {
		read := func() {
			tok.Reset(body, o)
			for {
				if _, _, err := tok.ReadToken(); err == io.EOF {
					return
				} else if err != nil {
					t.Fatal(err)
				}
			}
		}
		read()
		if n := testing.AllocsPerRun(100, read); n != 0 {
			t.Errorf("reading tokens with %+v: %v allocations", o, n)
		}
	}
	bb := []byte(`"a long string value with é in it and more" 12.5e3`)
	buf := make([]byte, 0, 64)
	if n := testing.AllocsPerRun(100, func() {
		raw, _, end, _ := String(bb, 0, false)
		buf, _ = AppendUnescape(buf[:0], raw, true)
		_, _ = Number(bb, SkipSpace(bb, end))
		_, _, _, _ = String(body, 1, true)
	}); n != 0 {
		t.Errorf("lexical pieces: %v allocations", n)
	}
}
