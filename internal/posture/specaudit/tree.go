package specaudit

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/palisade-sec/palisade/internal/posture/yamltree"
)

// maxRefHops bounds chains of $ref (a -> b -> c ...), which also stops
// reference cycles.
const maxRefHops = 32

// The node helpers live in yamltree (shared with the gateway audit).
var (
	unalias       = yamltree.Unalias
	get           = yamltree.Get
	keyNode       = yamltree.KeyNode
	pairs         = yamltree.Pairs
	items         = yamltree.Items
	str           = yamltree.Str
	isTrue        = yamltree.IsTrue
	isFalse       = yamltree.IsFalse
	has           = yamltree.Has
	buildPointers = yamltree.BuildPointers
)

// pointers maps every node of the tree to its JSON pointer.
type pointers = yamltree.Pointers

// resolver follows local $ref values.
type resolver struct {
	root       *yamltree.Node
	unresolved int
	bad        map[string]bool
}

// deref returns the node a $ref chain ends at (n itself if it has no
// $ref). External or dangling references return nil and are counted.
func (r *resolver) deref(n *yamltree.Node) *yamltree.Node {
	n = unalias(n)
	for i := 0; i < maxRefHops; i++ {
		if n == nil || n.Kind != yamltree.MappingNode {
			return n
		}
		ref := get(n, "$ref")
		if ref == nil || ref.Kind != yamltree.ScalarNode {
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

func (r *resolver) lookup(ref string) *yamltree.Node {
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
		case yamltree.MappingNode:
			cur = get(cur, tok)
		case yamltree.SequenceNode:
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
