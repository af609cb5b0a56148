package specfile

import (
	"fmt"

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

// Node is a YAML (or JSON) document as a tree with source positions, for
// the spec audit's rules and locations: mappings hold their keys and
// values alternately in Content, as gopkg.in/yaml.v3's nodes did. It is
// built from goccy/go-yaml's syntax tree (the project's one YAML library).
type Node struct {
	Kind    Kind
	Value   string // scalars: the value (quotes and escapes resolved)
	Line    int    // 1-based
	Column  int    // 1-based
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

// ParseYAML parses one document (YAML or JSON) into a DocumentNode. A
// syntax error is a *SyntaxError.
func ParseYAML(data []byte) (*Node, error) {
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
	doc := &Node{Kind: DocumentNode, Line: 1, Column: 1}
	if len(f.Docs) == 0 || f.Docs[0].Body == nil {
		return doc, nil
	}
	c := &converter{anchors: map[string]*Node{}}
	n, err := c.node(f.Docs[0].Body, 0)
	if err != nil {
		return nil, err
	}
	if n != nil {
		doc.Content = []*Node{n}
		doc.Line, doc.Column = n.Line, n.Column
	}
	return doc, nil
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
		out := &Node{Kind: MappingNode, Line: line, Column: col}
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
		out := &Node{Kind: MappingNode}
		out.Line, out.Column = pos(n.Key)
		return out, c.pair(out, n, depth)
	case *ast.SequenceNode:
		out := &Node{Kind: SequenceNode, Line: line, Column: col}
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
		return v, err
	case *ast.CommentGroupNode, *ast.CommentNode:
		return nil, nil
	case *ast.StringNode:
		return &Node{Kind: ScalarNode, Value: n.Value, Line: line, Column: col}, nil
	case *ast.LiteralNode:
		return &Node{Kind: ScalarNode, Value: n.Value.Value, Line: line, Column: col}, nil
	case *ast.NullNode:
		v := ""
		if t := n.GetToken(); t != nil && t.Value != "" {
			v = t.Value
		}
		return &Node{Kind: ScalarNode, Value: v, Line: line, Column: col}, nil
	case ast.ScalarNode:
		v := ""
		if t := n.GetToken(); t != nil {
			v = t.Value
		}
		return &Node{Kind: ScalarNode, Value: v, Line: line, Column: col}, nil
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
