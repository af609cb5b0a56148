package detect

import (
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/jsonscan"
)

// jsonWalk returns what the part walker emits for a JSON body (kind, name,
// value, location per part, the return value, and the stop point), with
// or without the fast tokenizer. stopAfter > 0 stops the walk after that
// many parts.
func jsonWalk(body string, noFast bool, stopAfter int) string {
	w := getWalker(PartLimits{MaxParts: 1 << 20}, nil, nil)
	defer putWalker(w)
	w.noFast = noFast
	defer func() { w.noFast = false }()
	var b strings.Builder
	n := 0
	w.fn = func(p Part) bool {
		fmt.Fprintf(&b, "%d|%q|%q|%s\n", p.Kind, p.Name, p.Value, p.Loc())
		n++
		return stopAfter == 0 || n < stopAfter
	}
	ok := w.jsonBody(body)
	fmt.Fprintf(&b, "ok=%v n=%d", ok, w.n)
	return b.String()
}

var jsonSeeds = []string{
	`{"a":"x","b":1,"c":[1,2,{"d":"<script>"}],"e":{"f":null,"g":true,"h":false}}`,
	`[1,-0,0.5,-1.25e+10,3E-2,"s",[],{}]`, `"top"`, `12`, `true`, `null`, ` {"a" : [ "b" , "c" ] } `,
	`{"q":"1' OR '1'='1","$where":"sleep(1)","weird key":"v"}`, `{"esc":"a\"b","u":"\u003cscript\u003e"}`,
	`{"a":1,}`, `[1,]`, `{"a" 1}`, `{"a":01}`, `{"a":1.}`, `{"a":.5}`, `{"a":1e}`, `{"a":tru}`, `{"a":truex}`,
	`{"a":"b"}{"c":"d"}`, `{"a":"b"} {"c":"d"}`, `{"a":"b"} trailing`, `{"a":"b"`, `{"a":"unterminated`, `[`, `]`, `}`,
	`{"a":"b\x01"}`, "{\"a\":\"\xff\xfe\"}", `{"é":"ü","ключ":"значение"}`, `{"a":1}  `, "\ufeff{\"a\":1}",
	`{"dup":1,"dup":2}`, `[[[[[[[[1]]]]]]]]`, `{"a":[{"b":[{"c":"d"}]}]}`, `{"":""}`, `{"a":"","b":[]}`, `-`, `--1`, `1 2`,
	`{"a":1}]`, `{"a":-}`, `{"a":[1 2]}`, `{"a":{"b":1}"c":2}`, "{\"a\":\t\r\n1}", "{\"a\":\v1}",
}

func mutateJSON(r *rand.Rand, s string) string {
	b := []byte(s)
	const pool = "{}[]\":,0123456789-+.eEtrufalsn \\\x00\x1f\xc3\xa9\xff/ab"
	for k := r.IntN(3); k >= 0 && len(b) > 0; k-- {
		i := r.IntN(len(b))
		switch r.IntN(4) {
		case 0:
			b[i] = pool[r.IntN(len(pool))]
		case 1:
			b = append(b[:i], b[i+1:]...)
		case 2:
			b = append(b[:i], append([]byte{pool[r.IntN(len(pool))]}, b[i:]...)...)
		case 3:
			b = b[:i] // truncation (a body cut at max_body)
		}
	}
	return string(b)
}

// TestJSONFastPathMatchesJSONText: the walk with the fast tokenizer emits
// exactly the parts (and locations, and stop behaviour) of the jsontext
// walk, on valid, invalid, truncated and mutated bodies.
func TestJSONFastPathMatchesJSONText(t *testing.T) {
	r := rand.New(rand.NewPCG(8, 1))
	bodies := append([]string(nil), jsonSeeds...)
	for i := 0; i < 30000; i++ {
		bodies = append(bodies, mutateJSON(r, jsonSeeds[r.IntN(len(jsonSeeds))]))
	}
	fast := 0
	for _, body := range bodies {
		for _, stop := range []int{0, 1, 3} {
			want, got := jsonWalk(body, true, stop), jsonWalk(body, false, stop)
			if got != want {
				t.Fatalf("body %q stop %d:\nfast path:\n%s\njsontext:\n%s", body, stop, got, want)
			}
		}
		var f jsonscan.Tokenizer
		f.Reset(body, fastJSONOpts)
		for {
			if _, _, err := f.ReadToken(); err != nil {
				if err == io.EOF {
					fast++
				}
				break
			}
		}
	}
	if fast < len(bodies)/10 {
		t.Fatalf("only %d of %d bodies took the fast path to the end", fast, len(bodies))
	}
}

func FuzzJSONFastPath(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		if want, got := jsonWalk(body, true, 0), jsonWalk(body, false, 0); got != want {
			t.Fatalf("body %q:\nfast path:\n%s\njsontext:\n%s", body, got, want)
		}
	})
}

// BenchmarkJSONWalk walks the JSON request bodies of a capture
// (PALISADE_BENCH_FILE, first 100,000 records) with and without the fast
// tokenizer; one op = one body.
func BenchmarkJSONWalk(b *testing.B) {
	path := os.Getenv("PALISADE_BENCH_FILE")
	if path == "" {
		b.Skip("PALISADE_BENCH_FILE not set")
	}
	f, _, err := exchange.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	d, err := exchange.NewDecoder(path, f)
	if err != nil {
		b.Fatal(err)
	}
	var bodies []string
	for i := 0; i < 100000; i++ {
		rec, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			continue
		}
		if body := rec.Request.BodyText(); body != "" && strings.Contains(rec.Request.Header("content-type"), "json") {
			bodies = append(bodies, body)
		}
	}
	for _, mode := range []string{"fast", "jsontext"} {
		b.Run(mode, func(b *testing.B) {
			w := getWalker(PartLimits{}, nil, func(Part) bool { return true })
			w.noFast = mode == "jsontext"
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				w.n = 0
				w.jsonBody(bodies[i%len(bodies)])
			}
		})
	}
}

func topLevelWalk(body string, noFast bool) string {
	js := jsonScanner{noFast: noFast}
	var b strings.Builder
	err := js.scan(body, func(k string, kind jsontext.Kind, v string) { fmt.Fprintf(&b, "%q %c %q\n", k, kind, v) })
	if err != nil {
		b.WriteString("error: " + err.Error())
	}
	return b.String()
}

// TestJSONTopLevelFastPathMatchesJSONText: the params family's top-level
// scan reports the same members and the same error with and without the
// fast path.
func TestJSONTopLevelFastPathMatchesJSONText(t *testing.T) {
	r := rand.New(rand.NewPCG(4, 4))
	seeds := append([]string{`{"a":{"x":1,"x":2}}`, `{"a":[{"k":1},{"k":2}]}`, `{"a":1} garbage`, `{"a":1,"a":2}`, `{"b":{"c":{"d":[1,{"e":null}]}},"f":"g"}`}, jsonSeeds...)
	bodies := append([]string(nil), seeds...)
	for i := 0; i < 30000; i++ {
		bodies = append(bodies, mutateJSON(r, seeds[r.IntN(len(seeds))]))
	}
	for _, body := range bodies {
		if want, got := topLevelWalk(body, true), topLevelWalk(body, false); got != want {
			t.Fatalf("body %q:\nfast path:\n%s\njsontext:\n%s", body, got, want)
		}
	}
}
