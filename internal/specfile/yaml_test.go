package specfile

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestParseYAMLTree(t *testing.T) {
	doc, err := ParseYAML([]byte("openapi: 3.0.0\npaths:\n  /a:\n    get: &op\n      tags: [x, \"y\"]\n  /b:\n    get: *op\nempty:\n"))
	if err != nil {
		t.Fatal(err)
	}
	top := doc.Content[0]
	if top.Kind != MappingNode || top.Line != 1 || top.Column != 1 || len(top.Content) != 6 {
		t.Fatalf("top %+v", top)
	}
	if k, v := top.Content[0], top.Content[1]; k.Value != "openapi" || v.Value != "3.0.0" || v.Line != 1 || v.Column != 10 {
		t.Fatalf("openapi: %+v %+v", k, v)
	}
	paths := top.Content[3]
	a := paths.Content[1].Content[1]
	tags := a.Content[1]
	if tags.Kind != SequenceNode || len(tags.Content) != 2 || tags.Content[1].Value != "y" || tags.Line != 5 {
		t.Fatalf("tags %+v", tags)
	}
	alias := paths.Content[3].Content[1]
	if alias.Kind != AliasNode || alias.Alias != a {
		t.Fatalf("alias %+v", alias)
	}
	if e := top.Content[5]; e.Kind != ScalarNode || e.Value != "null" && e.Value != "" {
		t.Fatalf("empty value %+v", e)
	}
	j, err := ParseYAML([]byte("{\n  \"a\": [1, {\"b\": null}]\n}"))
	if err != nil || j.Content[0].Content[0].Line != 2 || j.Content[0].Content[1].Content[1].Content[1].Value != "null" {
		t.Fatalf("json: %v %+v", err, j)
	}
	_, err = ParseYAML([]byte("a: [\nb: 1\n"))
	var se *SyntaxError
	if !errors.As(err, &se) || se.Line == 0 {
		t.Fatalf("syntax error %v", err)
	}
	deep := strings.Repeat("[", 5000) + strings.Repeat("]", 5000)
	if _, err := ParseYAML([]byte(deep)); err == nil {
		t.Log("deep nesting accepted by the parser")
	}
}

func FuzzParseYAML(f *testing.F) {
	f.Add([]byte("a: &x [1, 2]\nb: *x\n"))
	f.Add([]byte(`{"openapi": "3.1.0", "paths": {}}`))
	f.Add([]byte("- |\n  text\n- !!str 3\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		doc, err := ParseYAML(data)
		if err != nil {
			return
		}
		var walk func(n *Node, d int)
		walk = func(n *Node, d int) {
			if n == nil || d > maxNodeDepth+2 {
				t.Fatalf("nil node or depth %d", d)
			}
			if n.Kind == AliasNode {
				if n.Alias == nil {
					t.Fatal("alias without target")
				}
				return
			}
			if n.Kind == MappingNode && len(n.Content)%2 != 0 {
				t.Fatal("mapping with an odd number of nodes")
			}
			for _, c := range n.Content {
				walk(c, d+1)
			}
		}
		walk(doc, 0)
	})
}

// A stream's documents are all read (goccy/go-yaml alone loses the ones
// after two separators in a row), with the stream's line numbers.
func TestParseYAMLAllDocuments(t *testing.T) {
	docs, err := ParseYAMLAll([]byte("a: 1\n---\n---\nb: [x, y]\n--- # c\nc:\n  d: 2\n"), 0)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range docs {
		if len(d.Content) == 0 {
			got = append(got, "empty")
			continue
		}
		k := d.Content[0].Content[0]
		got = append(got, fmt.Sprintf("%s@%d:%d", k.Value, k.Line, k.Column))
	}
	if strings.Join(got, " ") != "a@1:1 empty b@4:1 c@6:1" {
		t.Fatalf("documents %v", got)
	}
	if d := docs[3].Content[0].Content[1].Content[1]; d.Value != "2" || d.Line != 7 || d.Column != 6 {
		t.Fatalf("nested value %+v", d)
	}
	_, err = ParseYAMLAll([]byte("a: 1\n---\nb: [\n"), 0)
	var se *SyntaxError
	if !errors.As(err, &se) || se.Line < 3 {
		t.Fatalf("error in the second document: %v", err)
	}
}
