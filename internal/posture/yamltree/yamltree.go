// Package yamltree has the position-preserving YAML/JSON node helpers shared
// by the static audits (OpenAPI in specaudit, gateway configuration in
// gateway): parsing with located syntax errors, multi-document streams,
// lookups that follow aliases, and JSON pointers for every node. The tree
// is specfile.Node, built from goccy/go-yaml (the project's one YAML
// library).
package yamltree

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

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

// Node is a node of the tree (see specfile.Node).
type Node = specfile.Node

// Node kinds and scalar styles.
const (
	DocumentNode = specfile.DocumentNode
	SequenceNode = specfile.SequenceNode
	MappingNode  = specfile.MappingNode
	ScalarNode   = specfile.ScalarNode
	AliasNode    = specfile.AliasNode
	LiteralStyle = specfile.LiteralStyle
	FoldedStyle  = specfile.FoldedStyle
)

// Parse parses one YAML or JSON document and returns its top-level node
// (not the document node). Syntax errors are *Error with a position.
func Parse(name string, data []byte) (top *Node, err error) {
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
// most max (0: no limit). A document written as JSON is held to JSON's
// grammar (the YAML parser reads JSON leniently). A parser panic on
// hostile input is returned as an error naming the file.
func ParseAll(name string, data []byte, max int) (docs []*Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			docs, err = nil, &Error{File: name, Msg: fmt.Sprintf("parser failure: %v", r)}
		}
	}()
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &Error{File: name, Msg: "empty document"}
	}
	if looksJSON(data) && !json.Valid(data) {
		return nil, SyntaxError(name, data, errors.New("not valid JSON"))
	}
	parse := func(b []byte) ([]*Node, error) {
		all, err := specfile.ParseYAMLAll(b, 0)
		if err != nil {
			return nil, err
		}
		var out []*Node
		for _, d := range all {
			if max > 0 && len(out) >= max {
				break
			}
			if len(d.Content) > 0 && !(d.Content[0].Kind == ScalarNode && d.Content[0].Tag == "!!null") {
				out = append(out, d.Content[0])
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

// looksJSON reports a document written as JSON: an array, or an object
// whose first key is quoted (or an empty object). A YAML flow mapping
// ({a: 1}) is not.
func looksJSON(data []byte) bool {
	t := bytes.TrimSpace(data)
	if len(t) == 0 {
		return false
	}
	if t[0] == '[' {
		return true
	}
	if t[0] != '{' {
		return false
	}
	t = bytes.TrimLeft(t[1:], " \t\r\n")
	return len(t) > 0 && (t[0] == '"' || t[0] == '}')
}

// SyntaxError locates a syntax error: for a JSON document at the position
// encoding/json gives, else where the YAML parser stopped.
func SyntaxError(name string, data []byte, yerr error) *Error {
	le := &Error{File: name, Msg: "syntax error: " + yerr.Error()}
	var se *specfile.SyntaxError
	if errors.As(yerr, &se) {
		le.Msg = "syntax error: " + se.Msg
		le.Line, le.Column = se.Line, se.Column
	}
	if IsJSON(data) {
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			var jse *json.SyntaxError
			if errors.As(err, &jse) {
				le.Line, le.Column = specfile.LineCol(data, int(jse.Offset))
				le.Msg = "JSON syntax error: " + jse.Error()
			}
		}
	}
	return le
}

// Unalias follows YAML aliases (nil for a chain longer than 32).
func Unalias(n *Node) *Node {
	for i := 0; n != nil && n.Kind == AliasNode && i < maxAliasHops; i++ {
		n = n.Alias
	}
	if n != nil && n.Kind == AliasNode {
		return nil
	}
	return n
}

// Get returns the value of key in mapping m (nil if absent or m is not a
// mapping).
func Get(m *Node, key string) *Node {
	m = Unalias(m)
	if m == nil || m.Kind != MappingNode {
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
func GetFold(m *Node, key string) *Node {
	m = Unalias(m)
	if m == nil || m.Kind != MappingNode {
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
func Path(m *Node, keys ...string) *Node {
	for _, k := range keys {
		m = Get(m, k)
		if m == nil {
			return nil
		}
	}
	return m
}

// KeyNode returns the key node of key in m (for locations).
func KeyNode(m *Node, key string) *Node {
	m = Unalias(m)
	if m == nil || m.Kind != MappingNode {
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
func Pairs(m *Node, fn func(k string, kn, v *Node)) {
	m = Unalias(m)
	if m == nil || m.Kind != MappingNode {
		return
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if v := Unalias(m.Content[i+1]); v != nil {
			fn(m.Content[i].Value, m.Content[i], v)
		}
	}
}

// Items returns the elements of sequence s.
func Items(s *Node) []*Node {
	s = Unalias(s)
	if s == nil || s.Kind != SequenceNode {
		return nil
	}
	out := make([]*Node, 0, len(s.Content))
	for _, c := range s.Content {
		if c = Unalias(c); c != nil {
			out = append(out, c)
		}
	}
	return out
}

// Str is the scalar value of n ("" for non-scalars).
func Str(n *Node) string {
	n = Unalias(n)
	if n == nil || n.Kind != ScalarNode {
		return ""
	}
	return n.Value
}

// Strs returns the scalar items of a sequence, or the scalar itself.
func Strs(n *Node) []string {
	n = Unalias(n)
	if n == nil {
		return nil
	}
	if n.Kind == ScalarNode {
		if n.Tag == "!!null" {
			return nil
		}
		return []string{n.Value}
	}
	var out []string
	for _, c := range Items(n) {
		if c.Kind == ScalarNode {
			out = append(out, c.Value)
		}
	}
	return out
}

// IsTrue reports a boolean true scalar.
func IsTrue(n *Node) bool {
	n = Unalias(n)
	return n != nil && n.Kind == ScalarNode && (n.Value == "true" || n.Value == "True" || n.Value == "TRUE")
}

// IsFalse reports a boolean false scalar.
func IsFalse(n *Node) bool {
	n = Unalias(n)
	return n != nil && n.Kind == ScalarNode && (n.Value == "false" || n.Value == "False" || n.Value == "FALSE")
}

// Has reports whether key is present in m.
func Has(m *Node, key string) bool { return KeyNode(m, key) != nil }

// Pointers maps every node of a tree to its JSON pointer.
type Pointers map[*Node]string

// BuildPointers walks the tree (depth at most 512).
func BuildPointers(root *Node) Pointers {
	p := Pointers{}
	p.Add(root, "")
	return p
}

// Add records the pointers of the tree under root, prefixed by base.
func (p Pointers) Add(root *Node, base string) {
	var walk func(n *Node, ptr string, depth int)
	walk = func(n *Node, ptr string, depth int) {
		if n == nil || depth > 512 {
			return
		}
		if _, seen := p[n]; seen {
			return
		}
		p[n] = ptr
		switch n.Kind {
		case MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				child := ptr + "/" + EscapePointer(k.Value)
				if _, seen := p[k]; !seen {
					p[k] = child
				}
				walk(n.Content[i+1], child, depth+1)
			}
		case SequenceNode:
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
func Walk(n *Node, fn func(keys []string, v *Node) bool) {
	var walk func(n *Node, keys []string, depth int)
	walk = func(n *Node, keys []string, depth int) {
		if n = Unalias(n); n == nil || depth > 64 {
			return
		}
		switch n.Kind {
		case MappingNode:
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
		case SequenceNode:
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
