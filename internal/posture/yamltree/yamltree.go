// Package yamltree has the position-preserving YAML/JSON node helpers shared
// by the static audits (OpenAPI in specaudit, gateway configuration in
// gateway): parsing with located syntax errors, multi-document streams,
// lookups that follow aliases, and JSON pointers for every node.
package yamltree

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"

	goccyyaml "github.com/goccy/go-yaml"
	goccyparser "github.com/goccy/go-yaml/parser"
	"gopkg.in/yaml.v3"

	"github.com/palisade-sec/palisade/internal/specfile"
)

// maxAliasHops bounds chains of YAML aliases.
const maxAliasHops = 32

// Error locates why a document could not be read.
type Error struct {
	File   string
	Line   int
	Column int
	Msg    string
}

func (e *Error) Error() string {
	switch {
	case e.Line > 0 && e.Column > 0:
		return fmt.Sprintf("%s:%d:%d: %s", e.File, e.Line, e.Column, e.Msg)
	case e.Line > 0:
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

// Parse parses one YAML or JSON document and returns its top-level node
// (not the document node). Syntax errors are *Error with a position.
func Parse(name string, data []byte) (top *yaml.Node, err error) {
	docs, err := ParseAll(name, data, 1)
	if err != nil {
		return nil, err
	}
	if len(docs) == 0 {
		return nil, &Error{File: name, Msg: "empty document"}
	}
	return docs[0], nil
}

// ParseAll parses a stream of YAML documents ("---" separated; JSON is one
// document) and returns the top-level node of each non-empty document, at
// most max (0: no limit). A parser panic on hostile input is returned as an
// error naming the file.
func ParseAll(name string, data []byte, max int) (docs []*yaml.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			docs, err = nil, &Error{File: name, Msg: fmt.Sprintf("parser failure: %v", r)}
		}
	}()
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &Error{File: name, Msg: "empty document"}
	}
	parse := func(b []byte) ([]*yaml.Node, error) {
		var out []*yaml.Node
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for max <= 0 || len(out) < max {
			var root yaml.Node
			if err := dec.Decode(&root); err != nil {
				if errors.Is(err, io.EOF) {
					break
				}
				return nil, err
			}
			if root.Kind == yaml.DocumentNode && len(root.Content) > 0 && !(root.Content[0].Kind == yaml.ScalarNode && root.Content[0].Tag == "!!null") {
				out = append(out, root.Content[0])
			}
		}
		return out, nil
	}
	docs, err = parse(data)
	if err != nil {
		// JSON allows tabs as insignificant whitespace where YAML does
		// not; raw tabs can't occur inside valid JSON strings, so
		// replacing them one for one keeps line and column numbers.
		if IsJSON(data) && bytes.IndexByte(data, '\t') >= 0 {
			if d2, err2 := parse(bytes.ReplaceAll(data, []byte{'\t'}, []byte{' '})); err2 == nil {
				return d2, nil
			}
		}
		return nil, SyntaxError(name, data, err)
	}
	if len(docs) == 0 {
		return nil, &Error{File: name, Msg: "empty document"}
	}
	return docs, nil
}

// IsJSON reports whether data starts like a JSON object or array.
func IsJSON(data []byte) bool {
	t := bytes.TrimSpace(data)
	return len(t) > 0 && (t[0] == '{' || t[0] == '[')
}

var (
	yamlLineRe     = regexp.MustCompile(`line (\d+)`)
	yamlLinePrefix = regexp.MustCompile(`^line \d+: `)
)

// SyntaxError locates a syntax error. yaml.v3 reports the line where the
// enclosing construct started (0-based for parser errors), so the position
// comes from encoding/json for JSON documents and from goccy/go-yaml's
// parser for YAML; yaml.v3's message and line are the fallback.
func SyntaxError(name string, data []byte, yerr error) *Error {
	msg := strings.TrimPrefix(yerr.Error(), "yaml: ")
	msg = yamlLinePrefix.ReplaceAllString(msg, "")
	le := &Error{File: name, Msg: "syntax error: " + msg}
	if IsJSON(data) {
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			var se *json.SyntaxError
			if errors.As(err, &se) {
				le.Line, le.Column = specfile.LineCol(data, int(se.Offset))
				le.Msg = "JSON syntax error: " + se.Error()
				return le
			}
		}
	}
	if _, err := goccyparser.ParseBytes(data, 0); err != nil {
		var se *goccyyaml.SyntaxError
		if errors.As(err, &se) && se.Token != nil && se.Token.Position != nil {
			le.Line, le.Column = se.Token.Position.Line, se.Token.Position.Column
			return le
		}
	}
	if m := yamlLineRe.FindStringSubmatch(yerr.Error()); m != nil {
		le.Line, _ = strconv.Atoi(m[1])
		le.Msg = "syntax error near this line: " + msg
	}
	return le
}

// Unalias follows YAML aliases (nil for a chain longer than 32).
func Unalias(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < maxAliasHops; i++ {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.AliasNode {
		return nil
	}
	return n
}

// Get returns the value of key in mapping m (nil if absent or m is not a
// mapping).
func Get(m *yaml.Node, key string) *yaml.Node {
	m = Unalias(m)
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return Unalias(m.Content[i+1])
		}
	}
	return nil
}

// GetFold is Get with a case-insensitive key.
func GetFold(m *yaml.Node, key string) *yaml.Node {
	m = Unalias(m)
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if strings.EqualFold(m.Content[i].Value, key) {
			return Unalias(m.Content[i+1])
		}
	}
	return nil
}

// Path follows a chain of mapping keys.
func Path(m *yaml.Node, keys ...string) *yaml.Node {
	for _, k := range keys {
		m = Get(m, k)
		if m == nil {
			return nil
		}
	}
	return m
}

// KeyNode returns the key node of key in m (for locations).
func KeyNode(m *yaml.Node, key string) *yaml.Node {
	m = Unalias(m)
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i]
		}
	}
	return nil
}

// Pairs calls fn for every key/value of mapping m in document order.
func Pairs(m *yaml.Node, fn func(k string, kn, v *yaml.Node)) {
	m = Unalias(m)
	if m == nil || m.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if v := Unalias(m.Content[i+1]); v != nil {
			fn(m.Content[i].Value, m.Content[i], v)
		}
	}
}

// Items returns the elements of sequence s.
func Items(s *yaml.Node) []*yaml.Node {
	s = Unalias(s)
	if s == nil || s.Kind != yaml.SequenceNode {
		return nil
	}
	out := make([]*yaml.Node, 0, len(s.Content))
	for _, c := range s.Content {
		if c = Unalias(c); c != nil {
			out = append(out, c)
		}
	}
	return out
}

// Str is the scalar value of n ("" for non-scalars).
func Str(n *yaml.Node) string {
	n = Unalias(n)
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

// Strs returns the scalar items of a sequence, or the scalar itself.
func Strs(n *yaml.Node) []string {
	n = Unalias(n)
	if n == nil {
		return nil
	}
	if n.Kind == yaml.ScalarNode {
		if n.Tag == "!!null" {
			return nil
		}
		return []string{n.Value}
	}
	var out []string
	for _, c := range Items(n) {
		if c.Kind == yaml.ScalarNode {
			out = append(out, c.Value)
		}
	}
	return out
}

// IsTrue reports a boolean true scalar.
func IsTrue(n *yaml.Node) bool {
	n = Unalias(n)
	return n != nil && n.Kind == yaml.ScalarNode && (n.Value == "true" || n.Value == "True" || n.Value == "TRUE")
}

// IsFalse reports a boolean false scalar.
func IsFalse(n *yaml.Node) bool {
	n = Unalias(n)
	return n != nil && n.Kind == yaml.ScalarNode && (n.Value == "false" || n.Value == "False" || n.Value == "FALSE")
}

// Has reports whether key is present in m.
func Has(m *yaml.Node, key string) bool { return KeyNode(m, key) != nil }

// Pointers maps every node of a tree to its JSON pointer.
type Pointers map[*yaml.Node]string

// BuildPointers walks the tree (depth at most 512).
func BuildPointers(root *yaml.Node) Pointers {
	p := Pointers{}
	p.Add(root, "")
	return p
}

// Add records the pointers of the tree under root, prefixed by base.
func (p Pointers) Add(root *yaml.Node, base string) {
	var walk func(n *yaml.Node, ptr string, depth int)
	walk = func(n *yaml.Node, ptr string, depth int) {
		if n == nil || depth > 512 {
			return
		}
		if _, seen := p[n]; seen {
			return
		}
		p[n] = ptr
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				child := ptr + "/" + EscapePointer(k.Value)
				if _, seen := p[k]; !seen {
					p[k] = child
				}
				walk(n.Content[i+1], child, depth+1)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, ptr+"/"+strconv.Itoa(i), depth+1)
			}
		}
	}
	walk(root, base, 0)
}

// EscapePointer escapes one JSON pointer token.
func EscapePointer(s string) string {
	s = strings.ReplaceAll(s, "~", "~0")
	return strings.ReplaceAll(s, "/", "~1")
}

// Walk calls fn for every node under n (n itself excluded) with the chain
// of mapping keys leading to it (sequence items add no key); fn returns
// false to skip a node's children. Depth is bounded by 64.
func Walk(n *yaml.Node, fn func(keys []string, v *yaml.Node) bool) {
	var walk func(n *yaml.Node, keys []string, depth int)
	walk = func(n *yaml.Node, keys []string, depth int) {
		if n = Unalias(n); n == nil || depth > 64 {
			return
		}
		switch n.Kind {
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				v := Unalias(n.Content[i+1])
				if v == nil {
					continue
				}
				k := append(keys[:len(keys):len(keys)], n.Content[i].Value)
				if fn(k, v) {
					walk(v, k, depth+1)
				}
			}
		case yaml.SequenceNode:
			for _, c := range n.Content {
				if c = Unalias(c); c != nil && fn(keys, c) {
					walk(c, keys, depth+1)
				}
			}
		}
	}
	walk(n, nil, 0)
}

// Last returns the last key of a chain ("" when empty).
func Last(keys []string) string {
	if len(keys) == 0 {
		return ""
	}
	return keys[len(keys)-1]
}
