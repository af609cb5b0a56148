package specfile

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// Kind of a Node.
type Kind uint8

// Node kinds.
const (
	DocumentNode Kind = 1 << iota
	SequenceNode
	MappingNode
	ScalarNode
	AliasNode
)

// Style of a scalar as written.
type Style uint8

// Scalar styles (only the block styles are told apart).
const (
	PlainStyle   Style = 0
	LiteralStyle Style = 1 << iota // |
	FoldedStyle                    // >
)

// Node is a YAML (or JSON) document as a tree with source positions, for
// the static audits' rules and locations: mappings hold their keys and
// values alternately in Content, as gopkg.in/yaml.v3's nodes did. It is
// built from goccy/go-yaml's syntax tree (the project's one YAML library).
type Node struct {
	Kind  Kind
	Value string // scalars: the value (quotes and escapes resolved)
	// Tag is an explicit tag as written ("!Ref", "!!str") or, without one,
	// the resolved tag: !!str, !!int, !!float, !!bool, !!null, !!map, !!seq.
	Tag     string
	Style   Style
	Line    int // 1-based
	Column  int // 1-based
	Content []*Node
	Alias   *Node // AliasNode: the anchored node
}

// SyntaxError is a YAML syntax error with its position.
type SyntaxError struct {
	Line, Column int
	Msg          string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("line %d: %s", e.Line, e.Msg) }

// maxNodeDepth bounds the nesting of a converted tree.
const maxNodeDepth = 1000

// ParseYAML parses one document (YAML or JSON) into a DocumentNode (the
// first of a stream). A syntax error is a *SyntaxError.
func ParseYAML(data []byte) (*Node, error) {
	docs, err := ParseYAMLAll(data, 1)
	if err != nil {
		return nil, err
	}
	if len(docs) == 0 {
		return &Node{Kind: DocumentNode, Line: 1, Column: 1}, nil
	}
	return docs[0], nil
}

// ParseYAMLAll parses a stream of documents ("---" separated) into
// DocumentNodes, at most max (0: all). A document without content has no
// Content. Each document is parsed on its own (goccy/go-yaml loses the
// documents after two separators in a row), its positions those of the
// stream.
func ParseYAMLAll(data []byte, max int) ([]*Node, error) {
	var out []*Node
	for _, c := range splitDocuments(data) {
		if max > 0 && len(out) >= max {
			break
		}
		docs, err := parseDocuments(c.text, 0)
		if err != nil {
			if se, ok := err.(*SyntaxError); ok && se.Line > 0 {
				se.Line += c.line
			}
			return nil, err
		}
		for _, d := range docs {
			shiftLines(d, c.line, map[*Node]bool{})
			out = append(out, d)
		}
	}
	if max > 0 && len(out) > max {
		out = out[:max]
	}
	return out, nil
}

type docChunk struct {
	text []byte
	line int // lines before the chunk
}

// splitDocuments cuts a stream at its "---" lines (the marker replaced by
// spaces, so what follows it on its line keeps its column).
func splitDocuments(data []byte) []docChunk {
	var out []docChunk
	var cur []byte
	curLine, line, started := 0, 0, false
	for len(data) > 0 {
		end := bytes.IndexByte(data, '\n') + 1
		if end == 0 {
			end = len(data)
		}
		l := data[:end]
		data = data[end:]
		if len(l) >= 3 && l[0] == '-' && l[1] == '-' && l[2] == '-' && (len(l) == 3 || l[3] == ' ' || l[3] == '\t' || l[3] == '\r' || l[3] == '\n') {
			if started || len(bytes.TrimSpace(cur)) > 0 {
				out = append(out, docChunk{text: cur, line: curLine})
			}
			cur = append([]byte("   "), l[3:]...)
			curLine, started = line, true
		} else {
			cur = append(cur, l...)
		}
		line++
	}
	if started || len(cur) > 0 {
		out = append(out, docChunk{text: cur, line: curLine})
	}
	return out
}

func shiftLines(n *Node, by int, seen map[*Node]bool) {
	if n == nil || by == 0 || seen[n] {
		return
	}
	seen[n] = true
	n.Line += by
	for _, c := range n.Content {
		shiftLines(c, by, seen)
	}
}

// parseDocuments parses with goccy/go-yaml.
func parseDocuments(data []byte, max int) ([]*Node, error) {
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		se := &SyntaxError{Msg: err.Error()}
		if ye, ok := err.(yaml.Error); ok {
			se.Msg = ye.GetMessage()
			if t := ye.GetToken(); t != nil && t.Position != nil {
				se.Line, se.Column = t.Position.Line, t.Position.Column
			}
		}
		return nil, se
	}
	var out []*Node
	for _, d := range f.Docs {
		if max > 0 && len(out) >= max {
			break
		}
		doc := &Node{Kind: DocumentNode, Line: 1, Column: 1}
		if d.Body != nil {
			c := &converter{anchors: map[string]*Node{}}
			n, err := c.node(d.Body, 0)
			if err != nil {
				return nil, err
			}
			if n != nil {
				doc.Content = []*Node{n}
				doc.Line, doc.Column = n.Line, n.Column
			}
		}
		out = append(out, doc)
	}
	return out, nil
}

type converter struct {
	anchors map[string]*Node
}

func pos(n ast.Node) (int, int) {
	if t := n.GetToken(); t != nil && t.Position != nil {
		return t.Position.Line, t.Position.Column
	}
	return 0, 0
}

func (c *converter) node(n ast.Node, depth int) (*Node, error) {
	if depth > maxNodeDepth {
		return nil, &SyntaxError{Msg: fmt.Sprintf("nested deeper than %d levels", maxNodeDepth)}
	}
	line, col := pos(n)
	switch n := n.(type) {
	case *ast.MappingNode:
		out := &Node{Kind: MappingNode, Tag: "!!map", Line: line, Column: col}
		if len(n.Values) > 0 && !n.IsFlowStyle {
			out.Line, out.Column = pos(n.Values[0].Key)
		}
		for _, mv := range n.Values {
			if err := c.pair(out, mv, depth); err != nil {
				return nil, err
			}
		}
		return out, nil
	case *ast.MappingValueNode:
		out := &Node{Kind: MappingNode, Tag: "!!map"}
		out.Line, out.Column = pos(n.Key)
		return out, c.pair(out, n, depth)
	case *ast.SequenceNode:
		out := &Node{Kind: SequenceNode, Tag: "!!seq", Line: line, Column: col}
		for _, v := range n.Values {
			x, err := c.node(v, depth+1)
			if err != nil {
				return nil, err
			}
			if x == nil {
				x = &Node{Kind: ScalarNode}
			}
			out.Content = append(out.Content, x)
		}
		return out, nil
	case *ast.AnchorNode:
		v, err := c.node(n.Value, depth+1)
		if err != nil {
			return nil, err
		}
		if v == nil {
			v = &Node{Kind: ScalarNode, Line: line, Column: col}
		}
		c.anchors[n.Name.GetToken().Value] = v
		return v, nil
	case *ast.AliasNode:
		name := n.Value.GetToken().Value
		target, ok := c.anchors[name]
		if !ok {
			return nil, &SyntaxError{Line: line, Column: col, Msg: fmt.Sprintf("unknown anchor %q", name)}
		}
		return &Node{Kind: AliasNode, Line: line, Column: col, Alias: target}, nil
	case *ast.TagNode:
		v, err := c.node(n.Value, depth+1)
		if v == nil && err == nil {
			v = &Node{Kind: ScalarNode, Line: line, Column: col}
		}
		if v != nil {
			v.Tag = n.Start.Value
			if v.Kind != AliasNode {
				// The node's position is its tag's, as yaml.v3 gave it.
				v.Line, v.Column = line, col
			}
		}
		return v, err
	case *ast.CommentGroupNode, *ast.CommentNode:
		return nil, nil
	case *ast.StringNode:
		return &Node{Kind: ScalarNode, Tag: "!!str", Value: n.Value, Line: line, Column: col}, nil
	case *ast.LiteralNode:
		st := LiteralStyle
		if n.Start != nil && strings.HasPrefix(n.Start.Value, ">") {
			st = FoldedStyle
		}
		return &Node{Kind: ScalarNode, Tag: "!!str", Style: st, Value: n.Value.Value, Line: line, Column: col}, nil
	case *ast.NullNode:
		v := ""
		if t := n.GetToken(); t != nil && t.Value != "" {
			v = t.Value
		}
		return &Node{Kind: ScalarNode, Tag: "!!null", Value: v, Line: line, Column: col}, nil
	case ast.ScalarNode:
		v := ""
		if t := n.GetToken(); t != nil {
			v = t.Value
		}
		tag := "!!str"
		switch n.(type) {
		case *ast.IntegerNode:
			tag = "!!int"
		case *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
			tag = "!!float"
		case *ast.BoolNode:
			tag = "!!bool"
		}
		return &Node{Kind: ScalarNode, Tag: tag, Value: v, Line: line, Column: col}, nil
	case nil:
		return nil, nil
	}
	return &Node{Kind: ScalarNode, Value: n.String(), Line: line, Column: col}, nil
}

func (c *converter) pair(out *Node, mv *ast.MappingValueNode, depth int) error {
	k, err := c.node(mv.Key, depth+1)
	if err != nil {
		return err
	}
	if k == nil {
		k = &Node{Kind: ScalarNode}
	}
	if k.Kind != ScalarNode {
		// A complex key: its text, as a key can only be compared as text.
		k = &Node{Kind: ScalarNode, Value: mv.Key.String(), Line: k.Line, Column: k.Column}
	}
	v, err := c.node(mv.Value, depth+1)
	if err != nil {
		return err
	}
	if v == nil {
		l, col := pos(mv.Value)
		v = &Node{Kind: ScalarNode, Line: l, Column: col}
	}
	out.Content = append(out.Content, k, v)
	return nil
}

// UnmarshalYAML decodes a YAML (or JSON) document into plain Go values
// (maps, lists, strings, numbers, booleans), as JSONable expects.
func UnmarshalYAML(data []byte, v any) error { return yaml.Unmarshal(data, v) }
