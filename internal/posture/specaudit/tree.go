package specaudit

import (
	"net/url"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// maxRefHops bounds chains of $ref (a -> b -> c ...), which also stops
// reference cycles.
const maxRefHops = 32

// unalias follows YAML aliases.
func unalias(n *yaml.Node) *yaml.Node {
	for i := 0; n != nil && n.Kind == yaml.AliasNode && i < maxRefHops; i++ {
		n = n.Alias
	}
	if n != nil && n.Kind == yaml.AliasNode {
		return nil
	}
	return n
}

// get returns the value of key in mapping m (nil if absent or m is not a
// mapping).
func get(m *yaml.Node, key string) *yaml.Node {
	m = unalias(m)
	if m == nil || m.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return unalias(m.Content[i+1])
		}
	}
	return nil
}

// keyNode returns the key node of key in m (for locations).
func keyNode(m *yaml.Node, key string) *yaml.Node {
	m = unalias(m)
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

// pairs calls fn for every key/value of mapping m in document order.
func pairs(m *yaml.Node, fn func(k string, kn, v *yaml.Node)) {
	m = unalias(m)
	if m == nil || m.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(m.Content); i += 2 {
		if v := unalias(m.Content[i+1]); v != nil {
			fn(m.Content[i].Value, m.Content[i], v)
		}
	}
}

// items returns the elements of sequence s.
func items(s *yaml.Node) []*yaml.Node {
	s = unalias(s)
	if s == nil || s.Kind != yaml.SequenceNode {
		return nil
	}
	out := make([]*yaml.Node, 0, len(s.Content))
	for _, c := range s.Content {
		if c = unalias(c); c != nil {
			out = append(out, c)
		}
	}
	return out
}

// str is the scalar value of n ("" for non-scalars).
func str(n *yaml.Node) string {
	n = unalias(n)
	if n == nil || n.Kind != yaml.ScalarNode {
		return ""
	}
	return n.Value
}

// isTrue reports a boolean true scalar.
func isTrue(n *yaml.Node) bool {
	n = unalias(n)
	return n != nil && n.Kind == yaml.ScalarNode && (n.Value == "true" || n.Value == "True" || n.Value == "TRUE")
}

func isFalse(n *yaml.Node) bool {
	n = unalias(n)
	return n != nil && n.Kind == yaml.ScalarNode && (n.Value == "false" || n.Value == "False" || n.Value == "FALSE")
}

// has reports whether key is present in m.
func has(m *yaml.Node, key string) bool { return keyNode(m, key) != nil }

// pointers maps every node of the tree to its JSON pointer.
type pointers map[*yaml.Node]string

func buildPointers(root *yaml.Node) pointers {
	p := pointers{}
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
				child := ptr + "/" + escapePointer(k.Value)
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
	walk(root, "", 0)
	return p
}

func escapePointer(s string) string {
	s = strings.ReplaceAll(s, "~", "~0")
	return strings.ReplaceAll(s, "/", "~1")
}

// resolver follows local $ref values.
type resolver struct {
	root       *yaml.Node
	unresolved int
	bad        map[string]bool
}

// deref returns the node a $ref chain ends at (n itself if it has no
// $ref). External or dangling references return nil and are counted.
func (r *resolver) deref(n *yaml.Node) *yaml.Node {
	n = unalias(n)
	for i := 0; i < maxRefHops; i++ {
		if n == nil || n.Kind != yaml.MappingNode {
			return n
		}
		ref := get(n, "$ref")
		if ref == nil || ref.Kind != yaml.ScalarNode {
			return n
		}
		t := r.lookup(ref.Value)
		if t == nil {
			if r.bad == nil {
				r.bad = map[string]bool{}
			}
			if !r.bad[ref.Value] {
				r.bad[ref.Value] = true
				r.unresolved++
			}
			return nil
		}
		n = t
	}
	// A cycle of references (or an absurdly long chain).
	if r.bad == nil {
		r.bad = map[string]bool{}
	}
	if k := "cycle\x00" + str(get(n, "$ref")); !r.bad[k] {
		r.bad[k] = true
		r.unresolved++
	}
	return nil
}

func (r *resolver) lookup(ref string) *yaml.Node {
	if !strings.HasPrefix(ref, "#") {
		return nil
	}
	frag := ref[1:]
	if u, err := url.PathUnescape(frag); err == nil {
		frag = u
	}
	if frag == "" {
		return r.root
	}
	if !strings.HasPrefix(frag, "/") {
		return nil
	}
	cur := r.root
	for _, tok := range strings.Split(frag[1:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		cur = unalias(cur)
		if cur == nil {
			return nil
		}
		switch cur.Kind {
		case yaml.MappingNode:
			cur = get(cur, tok)
		case yaml.SequenceNode:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(cur.Content) {
				return nil
			}
			cur = unalias(cur.Content[i])
		default:
			return nil
		}
	}
	return cur
}
