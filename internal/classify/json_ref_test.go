package classify

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/go-json-experiment/json/jsontext"
)

// walkJSONRef is the reference for walkJSON: the same walk over the
// jsontext stream decoder (the implementation walkJSON replaced). The
// differential tests below check that both give the same leaves, paths,
// values and statistics, and fail on the same inputs.
func walkJSONRef(body []byte, maxLeaves int, leaf func(path []byte, kind byte, v string) bool) (WalkStats, error) {
	var st WalkStats
	dec := jsontext.NewDecoder(bytes.NewReader(body), jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))
	path := make([]byte, 1, 64)
	path[0] = '$'
	type rframe struct {
		obj        bool
		expectName bool
		base       int
	}
	stack := make([]rframe, 0, 16)
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
					return st, err
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
			return st, err
		}
		if n := len(stack); n > 0 && stack[n-1].obj && stack[n-1].expectName {
			if tok.Kind() == '}' {
				path = path[:stack[n-1].base]
				stack = stack[:n-1]
				afterValue()
				continue
			}
			path = appendKey(path[:stack[n-1].base], tok.String())
			stack[n-1].expectName = false
			continue
		}
		switch tok.Kind() {
		case '{':
			stack = append(stack, rframe{obj: true, expectName: true, base: len(path)})
		case '[':
			stack = append(stack, rframe{base: len(path)})
			path = append(path, "[*]"...)
		case '}', ']':
			n := len(stack)
			if n == 0 {
				return st, fmt.Errorf("unbalanced %q", tok.Kind())
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
			k := byte(tok.Kind())
			if k == '"' || k == '0' {
				if !leaf(path, k, tok.String()) {
					return st, nil
				}
			} else if !leaf(path, k, map[byte]string{'t': "true", 'f': "false"}[k]) {
				return st, nil
			}
			afterValue()
		}
	}
}

// walkTrace renders a walk for comparison.
func walkTrace(body []byte, maxLeaves int, ref bool) string {
	var b strings.Builder
	var st WalkStats
	var err error
	if ref {
		st, err = walkJSONRef(body, maxLeaves, func(p []byte, k byte, v string) bool {
			fmt.Fprintf(&b, "%s %c %q\n", p, k, v)
			return true
		})
	} else {
		st, err = walkJSON(string(body), maxLeaves, func(p []byte, v *jsonLeaf) bool {
			fmt.Fprintf(&b, "%s %c %q\n", p, v.Kind, v.String())
			return true
		})
	}
	fmt.Fprintf(&b, "stats %+v error %v", st, err != nil)
	return b.String()
}

var walkSeeds = []string{`{}`, `[]`, `{"a":[1,{"b":"c"}]}`, `{"a":`, `[[[[`, `{"a":"\u00e9"}`, `"x"`, `1 2`,
	`12`, `"a""b"`, `{}{}`, `1"a"`, `[1x]`, `123abc`, `nullx`, `null1`, `[1 2]`, `{"a":1 "b":2}`, "[1,]", "tru", "[-]", "[01]", "[1.]", "[1e]",
	`[1,2`, `{"a":1,}`, `[true"x"]`, `1[]`, `[]1`, `"x"1`, `1-2`, `[1-2]`, `{"a":1}x`, `  `, `"\ud800"`, "\"a\xffb\"", `[1e5,-0.5E+3]`, `-`,
	`[-01]`, `[.5]`, `[1]]`, `]`, `{"a"}`, `{1:2}`, "[\"a\tb\"]", `{"a":1}/`, `0x`, `[0x]`, `{"k":"v"}{"k":1}`, `[[1]2]`, `{"a":[1]"b":2}`,
	`truefalse`, `[truefalse]`, `"a"{}`, `1.5.5`, `[1.5.5]`, `{"a\"b":1,"c d":[true,false,null],"\u00e9\ud83d\ude00":"\ud83d\ude00\ud800\udc00x\udc00"}`,
	"{\"a\xe2\x82\":\"\xe2\x82\"}", `"\uD800\u0041"`, `"\u12"`, `"\x"`, `{"users":{"ann@example.com":{"n":1},"40211":2}}`, "\ufeff{}", `[1e+]`, `[-0.0e-0]`,
	strings.Repeat("[", 70) + strings.Repeat("]", 70), strings.Repeat(`{"a":`, 70) + "1" + strings.Repeat("}", 70), strings.Repeat("[", 70) + `"x",{"a":[1,2]}` + strings.Repeat("]", 70),
	strings.Repeat("[", 70) + `"x",{"a":[1,2}` + strings.Repeat("]", 70), strings.Repeat("[", 70) + "1 2" + strings.Repeat("]", 70),
}

func TestWalkJSONMatchesReference(t *testing.T) {
	inputs := append([]string(nil), walkSeeds...)
	for _, f := range []string{"order.json", "products.json"} {
		b := fixture(t, f)
		inputs = append(inputs, string(b), string(b[:len(b)/2]), string(b[:len(b)-1]))
	}
	// nesting limits: jsontext rejects documents deeper than 10000
	inputs = append(inputs, strings.Repeat("[", 10000)+strings.Repeat("]", 10000), strings.Repeat("[", 10001)+strings.Repeat("]", 10001))
	for _, in := range inputs {
		for _, max := range []int{4096, 2} {
			if got, want := walkTrace([]byte(in), max, false), walkTrace([]byte(in), max, true); got != want {
				t.Errorf("%.80q (max %d):\n got %s\nwant %s", in, max, got, want)
			}
		}
	}
}

func FuzzWalkJSONMatchesReference(f *testing.F) {
	for _, s := range walkSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if got, want := walkTrace(b, 64, false), walkTrace(b, 64, true); got != want {
			t.Fatalf("%q:\n got %s\nwant %s", b, got, want)
		}
	})
}

var _ = errors.New

// appendKeyRef is the path-element writer appendKey replaced (two passes).
func appendKeyRef(path []byte, name string) []byte {
	dyn := false
	if strings.Contains(name, "@") {
		dyn = true
	} else {
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
		dyn = digits == len(name) && digits >= 2 || len(name) >= 16 && hex == len(name) && digits > 0 || len(name) >= 20 && entropy(name) >= 3.5
	}
	if dyn {
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

var keySeeds = []string{"", "a", "ab", "user_id", "first-name", "ann@example.com", "12", "1", "3f2b8c1e-9a7d-4e2b-8f1a-6c5d4e3b2a10", "DEADBEEFDEADBEEF",
	"deadbeefdeadbeef", "deadbeef-deadbeef", "abcdefghijklmnopqrstuvwxyz", "Zq8xP2mN7vL4kR9tY3wB", "d e", "it's", `a\b`, "é", "$where", "a.b", "a[0]"}

func TestAppendKeyMatchesReference(t *testing.T) {
	for _, k := range keySeeds {
		if got, want := string(appendKey([]byte("$"), k)), string(appendKeyRef([]byte("$"), k)); got != want {
			t.Errorf("%q: %q, want %q", k, got, want)
		}
	}
}

func FuzzAppendKey(f *testing.F) {
	for _, k := range keySeeds {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, k string) {
		if got, want := string(appendKey([]byte("$"), k)), string(appendKeyRef([]byte("$"), k)); got != want {
			t.Fatalf("%q: %q, want %q", k, got, want)
		}
	})
}
