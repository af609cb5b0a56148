package yamltree

import (
	"strings"
	"testing"
)

func TestParseAllAndErrors(t *testing.T) {
	docs, err := ParseAll("m.yaml", []byte("a: 1\n---\n---\nb: [x, y]\n"), 0)
	if err != nil || len(docs) != 2 || Str(Get(docs[0], "a")) != "1" || len(Items(Get(docs[1], "b"))) != 2 {
		t.Fatalf("%v %d", err, len(docs))
	}
	if docs, _ := ParseAll("m.yaml", []byte("a: 1\n---\nb: 2\n---\nc: 3\n"), 2); len(docs) != 2 {
		t.Errorf("max not applied: %d", len(docs))
	}
	// JSON with tabs (valid JSON, invalid YAML) still parses.
	if _, err := Parse("t.json", []byte("{\n\t\"a\": 1\n}")); err != nil {
		t.Errorf("tabs: %v", err)
	}
	for _, c := range []struct {
		in        string
		line, col int
	}{
		{"{\n  \"a\": 1\n  \"b\": 2\n}", 3, 4},
		{"a: 1\nb: [1, 2\nc: 3\n", 0, 0},
		{"", 0, 0},
	} {
		_, err := Parse("e.txt", []byte(c.in))
		e, ok := err.(*Error)
		if !ok || e.File != "e.txt" || !strings.HasPrefix(e.Error(), "e.txt") {
			t.Errorf("%q: %v", c.in, err)
			continue
		}
		if c.line > 0 && (e.Line != c.line || e.Column != c.col) {
			t.Errorf("%q: at %d:%d, want %d:%d", c.in, e.Line, e.Column, c.line, c.col)
		}
	}
}

func TestWalkAndPointers(t *testing.T) {
	top, err := Parse("w.yaml", []byte("a:\n  b: [{c: 1}, {d: {e: 2}}]\n  x/y: 3\n"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	Walk(top, func(keys []string, v *yamlNode) bool {
		if v.Kind == scalar {
			got = append(got, strings.Join(keys, ".")+"="+v.Value)
		}
		return true
	})
	if strings.Join(got, " ") != "a.b.c=1 a.b.d.e=2 a.x/y=3" {
		t.Errorf("walk: %q", got)
	}
	p := BuildPointers(top)
	if n := Path(top, "a", "x/y"); p[n] != "/a/x~1y" {
		t.Errorf("pointer %q", p[n])
	}
	if e := Path(top, "a", "b"); p[Items(e)[1]] != "/a/b/1" {
		t.Errorf("pointer %q", p[Items(e)[1]])
	}
	// Depth is bounded: a deep sequence does not exhaust the stack.
	deep := strings.Repeat("[", 5000) + strings.Repeat("]", 5000)
	if d, err := Parse("d.yaml", []byte(deep)); err == nil {
		n := 0
		Walk(d, func([]string, *yamlNode) bool { n++; return true })
		if n > 70 {
			t.Errorf("walked %d levels", n)
		}
	}
}

type yamlNode = Node

const scalar = ScalarNode
