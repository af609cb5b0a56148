package inventory

import "sort"

// Response shapes as evidence at a collapse. Instances of one resource
// (/users/alice, /users/bob) answer with objects that share most of their
// members; distinct operations that happen to sit at one position
// (/CreateJob, /ListJobs, /DescribeJob …, an RPC-style API's actions)
// answer with data of their own. The cardinality rule alone cannot tell
// them apart once a position has enough word children; the shapes of their
// JSON answers can.

// maxShapeChildren bounds the children compared (pairwise) at one check.
const maxShapeChildren = 32

// schemaKeys returns the top-level member names of a response schema (an
// array's items' names when the answer is an array), sorted; nil when it
// has none.
func schemaKeys(sc *schema) []string {
	if sc == nil {
		return nil
	}
	if sc.types&tObj == 0 && sc.items != nil {
		sc = sc.items
	}
	if len(sc.props) == 0 {
		return nil
	}
	keys := make([]string, 0, len(sc.props))
	for k := range sc.props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// methodKeys returns the response keys of method m's operation ending at
// n (nil when unknown). A node where no operation ends has no shape of its
// own: the operations below a parent id are the same for every parent,
// but which of them a given parent's traffic reached first is chance.
func (n *node) methodKeys(m string) []string {
	if st := n.eps[m]; st != nil {
		return schemaKeys(st.respSchema)
	}
	return nil
}

// jaccard is |a∩b| / |a∪b| of two sorted sets.
func jaccard(a, b []string) float64 {
	i, j, both := 0, 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] == b[j]:
			both++
			i++
			j++
		case a[i] < b[j]:
			i++
		default:
			j++
		}
	}
	union := len(a) + len(b) - both
	if union == 0 {
		return 1
	}
	return float64(both) / float64(union)
}

// shapeHoldMax: past this many times MinCardinality word children, a
// position collapses whatever their answers: that many distinct operations
// at one position is rarer than a store of documents whose shapes are its
// clients' own (/configs/{name}).
const shapeHoldMax = 8

// shapeHold reports whether a position that reached its cardinality with
// count word children stays static because they answered with distinct
// shapes. Once held, it is judged again when its children have doubled
// (each judgment sorts the children and compares up to maxShapeChildren
// of them pairwise): the cost per new child stays constant.
func (inv *Inventory) shapeHold(n *node, count int) bool {
	if count >= shapeHoldMax*inv.cfg.MinCardinality {
		return false
	}
	if n.shapeAt > 0 && count < 2*int(n.shapeAt) {
		return true
	}
	if !inv.resourceShape(n).distinct {
		n.shapeAt = 0
		return false
	}
	n.shapeAt = int32(count)
	inv.shapeHeld++
	return true
}

// resourceShape returns the answer's shape that most word children of n
// share for method m — the medoid of the largest group of children whose
// answers to m are similar (Jaccard at least ShapeSimilarity) — and
// whether the position holds distinct operations instead: at least half
// of MinCardinality children with a known shape, and no group of that
// many similar ones. m is the method most children answered with a known
// shape (instances of one resource are compared by one method's answers:
// a GET and a DELETE of one object answer differently). shape is nil when
// too few shapes are known to say.
func (inv *Inventory) resourceShape(n *node) (v shapeView) {
	if inv.cfg.ShapeSimilarity <= 0 {
		return v
	}
	var m string
	var kids []*node
	counts := map[string]int{}
	for _, c := range n.sortedStatic() {
		if c.ok == 0 || c.pinned || !c.kind.weak() {
			continue
		}
		kids = append(kids, c)
		for _, meth := range ownMethods(c) {
			counts[meth]++
		}
	}
	for meth, k := range counts {
		if k > counts[m] || k == counts[m] && meth < m {
			m = meth
		}
	}
	need := (inv.cfg.MinCardinality + 1) / 2
	if counts[m] < need {
		return v
	}
	var shapes [][]string
	for _, c := range kids {
		if k := c.methodKeys(m); k != nil {
			shapes = append(shapes, k)
			if len(shapes) == maxShapeChildren {
				break
			}
		}
	}
	if len(shapes) < need {
		return v
	}
	best, bestDeg := 0, -1
	for i := range shapes {
		deg := 0
		for j := range shapes {
			if i != j && jaccard(shapes[i], shapes[j]) >= inv.cfg.ShapeSimilarity {
				deg++
			}
		}
		if deg > bestDeg {
			best, bestDeg = i, deg
		}
	}
	return shapeView{method: m, medoid: shapes[best], shapes: shapes, distinct: bestDeg+1 < need}
}

// shapeView is what resourceShape saw of a position's children.
type shapeView struct {
	method   string     // the method compared
	medoid   []string   // the resource's shape (nil: too few known)
	shapes   [][]string // the children's shapes compared
	distinct bool       // no group of similar shapes: distinct operations
}

// ownMethods lists the methods of the operations ending at c, sorted.
func ownMethods(c *node) []string {
	out := make([]string, 0, len(c.eps))
	for m := range c.eps {
		out = append(out, m)
	}
	sort.Strings(out)
	return out
}

// otherShape reports a child where an operation of the compared method
// ends whose answers are known and unlike any other child's: a distinct
// operation beside the parameter (/users/search beside /users/{userId}).
// An instance whose object lacks a few members still resembles some other
// instance, and is merged.
func (inv *Inventory) otherShape(c *node, v shapeView) bool {
	if v.medoid == nil {
		return false
	}
	k := c.methodKeys(v.method)
	if k == nil || jaccard(k, v.medoid) >= inv.cfg.ShapeSimilarity {
		return false
	}
	same := 0 // the child's own shape is among v.shapes once
	for _, o := range v.shapes {
		if jaccard(k, o) >= inv.cfg.ShapeSimilarity {
			if same++; same > 1 {
				return false
			}
		}
	}
	return true
}
