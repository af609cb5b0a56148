package inventory

import (
	"sort"
	"strconv"
	"strings"

	"github.com/palisade-sec/palisade/internal/model"
)

// node is one position of a host's path trie. A node is either a static
// segment or the (single) parameter child of its parent.
type node struct {
	seg      string   // static segment ("" for a parameter)
	param    bool     // parameter position
	base     string   // parameter name before de-duplication
	label    string   // parameter name as rendered (unique within the template)
	kind     segKind  // kind of the static segment, or of the values that created the parameter
	prefixes []string // parameters: prefixes of the business ids taken (MRN-)
	pinned   bool     // declared (spec) or configured (pinned template): never merged away
	end      bool     // a pinned template ends here
	depth    int      // number of segments from the root

	parent    *node
	static    map[string]*node
	pats      []*node     // static children declared as segment patterns ({name}:cancel), also in static
	pat       *segPattern // a declared segment mixing parameters and text
	pchild    *node
	collapsed bool    // the parameter child accepts weak values too
	shapeAt   int32   // word children counted when their shapes last held a collapse (shape.go)
	ckind     segKind // kind that caused the collapse: kSlug accepts only slugs

	ok   int64 // observed successful (2xx/3xx) responses through this node: evidence that the route exists
	live int64 // observed responses other than 404 (a subtree without any is a probe)
	hits int64 // observed requests through this node

	tmpl string            // rendered template, root to here
	eps  map[string]*stats // method → statistics (observed operations ending here)
	decl map[string]*declOp
	// refs: the endpoint references (with their ids) Template returned for
	// this node, one per method (a cache of endpointIDs: an entry whose
	// template is not tmpl any more is replaced)
	refs []model.EndpointRef
}

// terminal reports a node that is an operation (observed, declared or pinned).
func (n *node) terminal() bool { return len(n.eps) > 0 || len(n.decl) > 0 || n.end }

// accepts reports whether the parameter child of n takes segment s of
// kind k.
func (n *node) accepts(k segKind, s string) bool {
	pc := n.pchild
	if pc == nil || k == kVersion {
		return false
	}
	if k.strong() || pc.pinned {
		return true
	}
	if n.collapsed && (n.ckind != kSlug || k == kSlug) {
		return true
	}
	// A short business id sharing the prefix of the ids already seen
	// here (MRN-1 beside MRN-004512).
	for _, p := range pc.prefixes {
		if len(s) > len(p) && s[:len(p)] == p && s[len(p)] >= '0' && s[len(p)] <= '9' {
			return true
		}
	}
	return false
}

// idPrefix returns the alphabetic prefix and separator of a business id
// ("MRN-" of "MRN-004512", "ORD" of "ORD123456").
func idPrefix(s string) string {
	i := 0
	for i < len(s) && (s[i] >= 'a' && s[i] <= 'z' || s[i] >= 'A' && s[i] <= 'Z') {
		i++
	}
	if i < len(s) && (s[i] == '-' || s[i] == '_' || s[i] == ':') {
		i++
	}
	return s[:i]
}

// notePrefix remembers the prefix of a business id taken by parameter pc
// (at most 4 prefixes).
func (pc *node) notePrefix(s string) {
	p := idPrefix(s)
	if p == "" || len(pc.prefixes) >= 4 {
		return
	}
	for _, x := range pc.prefixes {
		if x == p {
			return
		}
	}
	pc.prefixes = append(pc.prefixes, strings.Clone(p))
}

// nameParent is the static segment a new parameter under n is named
// after: n itself, skipping version segments (/users/v1/{userId}); "" when
// there is none or it is a parameter.
func nameParent(n *node) string {
	for a := n; a != nil && a.parent != nil; a = a.parent {
		if a.param {
			return ""
		}
		if a.kind != kVersion {
			return a.seg
		}
	}
	return ""
}

// MaxDepth is the deepest template the inventory keeps: segments past it
// are folded into one final "{tail}" parameter (their values joined), so
// that one pathological URL cannot add thousands of nodes.
const MaxDepth = 48

// segments splits an escaped path into its non-empty segments, appending to
// buf (callers pass a stack array to avoid allocation). Paths deeper than
// MaxDepth end with one segment holding the rest of the path.
func segments(path string, buf []string) []string {
	n := 0
	for i := 0; i < len(path); {
		for i < len(path) && path[i] == '/' {
			i++
		}
		j := i
		for j < len(path) && path[j] != '/' {
			j++
		}
		if j > i {
			if n == MaxDepth {
				buf = append(buf, strings.TrimRight(path[i:], "/"))
				return buf
			}
			buf = append(buf, path[i:j])
			n++
		}
		i = j
	}
	return buf
}

// segPattern is a declared path segment that mixes parameters with text:
// Google's custom methods ("{name}:cancel"), file extensions
// ("{id}.json"), pairs ("{origin}-{destination}", "{lat},{lon}"). A
// concrete segment matches when it holds the literal pieces in order with
// at least one character for each parameter between them (the first
// occurrence of each separator; the last piece a suffix).
type segPattern struct {
	lits  []string // len(names)+1 literal pieces around the parameters
	names []string
}

// parseSegPattern returns the pattern of a declared segment holding a
// parameter and other text; nil for a plain "{name}" or static segment,
// and for parameters without text between them ("{a}{b}": ambiguous).
func parseSegPattern(s string) *segPattern {
	if isTemplateSeg(s) || !strings.Contains(s, "{") {
		return nil
	}
	p := &segPattern{}
	rest := s
	for {
		i := strings.IndexByte(rest, '{')
		if i < 0 {
			p.lits = append(p.lits, rest)
			break
		}
		j := strings.IndexByte(rest[i:], '}')
		if j < 0 {
			return nil
		}
		p.lits = append(p.lits, rest[:i])
		p.names = append(p.names, rest[i+1:i+j])
		rest = rest[i+j+1:]
	}
	for k := 1; k < len(p.names); k++ {
		if p.lits[k] == "" {
			return nil
		}
	}
	return p
}

// match returns the parameters' values of s appended to vals (nil when s
// does not match).
func (p *segPattern) match(s string, vals []string) []string {
	if !strings.HasPrefix(s, p.lits[0]) {
		return nil
	}
	rest := s[len(p.lits[0]):]
	last := p.lits[len(p.lits)-1]
	for k := range p.names {
		if k == len(p.names)-1 {
			if len(rest) <= len(last) || !strings.HasSuffix(rest, last) {
				return nil
			}
			return append(vals, rest[:len(rest)-len(last)])
		}
		i := strings.Index(rest[min(1, len(rest)):], p.lits[k+1])
		if i < 0 {
			return nil
		}
		i++
		vals = append(vals, rest[:i])
		rest = rest[i+len(p.lits[k+1]):]
	}
	return vals
}

// dropStatic detaches the static child c from n.
func (n *node) dropStatic(c *node) {
	delete(n.static, c.seg)
	if c.pat != nil {
		for i, x := range n.pats {
			if x == c {
				n.pats = append(n.pats[:i], n.pats[i+1:]...)
				break
			}
		}
	}
}

// methodSuffix splits a custom method (AIP-136: POST /v1/{name}:cancel)
// off a segment: "op-7:cancel" is ("op-7", ":cancel"). The method is a
// lowerCamel word of at least three letters ending the segment, after the
// segment's only ':' — an ARN (arn:aws:lambda:…:fn) or a URN is an id,
// not an id and a method.
func methodSuffix(s string) (stem, verb string, ok bool) {
	i := strings.IndexByte(s, ':')
	if i <= 0 || len(s)-i-1 < 3 || s[i+1] < 'a' || s[i+1] > 'z' {
		return "", "", false
	}
	for j := i + 1; j < len(s); j++ {
		if c := s[j]; !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return "", "", false
		}
	}
	return s[:i], s[i:], true
}

// verbChild returns the learned child of n for a custom method on its
// parameter, "{name}:cancel", creating it: when s is an id n's parameter
// takes followed by a custom method. nil otherwise.
func (inv *Inventory) verbChild(n *node, s string) *node {
	stem, verb, ok := methodSuffix(s)
	if !ok || n.pchild == nil || !n.accepts(classify(stem), stem) {
		return nil
	}
	seg := "{" + n.pchild.label + "}" + verb
	if c := n.static[seg]; c != nil {
		return c
	}
	return inv.newDeclStatic(n, seg)
}

// patChild returns the segment-pattern child of n that s matches.
func (n *node) patChild(s string) *node {
	for _, c := range n.pats {
		if c.pat.match(s, nil) != nil {
			return c
		}
	}
	return nil
}

// isTemplateSeg reports a "{name}" segment of a template.
// "{origin}-{destination}" is a segment pattern, not one parameter.
func isTemplateSeg(s string) bool {
	return len(s) >= 2 && s[0] == '{' && s[len(s)-1] == '}' && strings.IndexByte(s[1:], '{') < 0
}

// match finds the terminal node for segs, preferring static children and
// backtracking into parameter children. In template mode "{x}" segments
// only match parameter positions. It never changes the trie. Backtracking
// is bounded (a few visits per segment); past the bound match gives up and
// the caller learns the path.
func match(n *node, segs []string, tmplMode bool) *node {
	steps := 4*len(segs) + 32
	return matchRec(n, segs, tmplMode, &steps)
}

func matchRec(n *node, segs []string, tmplMode bool, steps *int) *node {
	*steps--
	if *steps < 0 {
		return nil
	}
	if len(segs) == 0 {
		if n.terminal() {
			return n
		}
		return nil
	}
	s := segs[0]
	isParam := tmplMode && isTemplateSeg(s)
	if !isParam {
		if c := n.static[s]; c != nil {
			if r := matchRec(c, segs[1:], tmplMode, steps); r != nil {
				return r
			}
		}
		for _, c := range n.pats {
			if c.pat.match(s, nil) != nil {
				if r := matchRec(c, segs[1:], tmplMode, steps); r != nil {
					return r
				}
			}
		}
	}
	if n.pchild != nil && (isParam || n.accepts(classify(s), s)) {
		if !isParam && !n.pchild.pinned {
			if _, _, ok := methodSuffix(s); ok {
				// op-7:cancel is no {id}: learning gives it {id}:cancel
				return nil
			}
		}
		return matchRec(n.pchild, segs[1:], tmplMode, steps)
	}
	return nil
}

// render recomputes the parameter label and template of n and its subtree.
func render(n *node) {
	if n.parent == nil {
		n.tmpl = "/"
	} else {
		if n.param {
			n.label = uniqueLabel(n.parent, n.base)
		}
		prefix := n.parent.tmpl
		if prefix == "/" {
			prefix = ""
		}
		if n.param {
			n.tmpl = prefix + "/{" + n.label + "}"
		} else {
			n.tmpl = prefix + "/" + n.seg
		}
	}
	for _, c := range n.static {
		render(c)
	}
	if n.pchild != nil {
		render(n.pchild)
	}
}

// uniqueLabel returns base, or base2, base3… when an ancestor already uses it.
func uniqueLabel(parent *node, base string) string {
	label := base
	for i := 2; ; i++ {
		clash := false
		for a := parent; a != nil; a = a.parent {
			if a.param && a.label == label {
				clash = true
				break
			}
		}
		if !clash {
			return label
		}
		label = base + strconv.Itoa(i)
	}
}

// children returns the static children of n sorted by segment (for
// deterministic walks).
func (n *node) sortedStatic() []*node {
	out := make([]*node, 0, len(n.static))
	for _, c := range n.static {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].seg < out[j].seg })
	return out
}

// walk visits n and its subtree in template order.
func walk(n *node, f func(*node)) {
	f(n)
	for _, c := range n.sortedStatic() {
		walk(c, f)
	}
	if n.pchild != nil {
		walk(n.pchild, f)
	}
}

// parseTemplate splits "host /path" or "/path" (pinned templates, ignore
// rules).
func parseHostPath(s string) (host, path string) {
	s = strings.TrimSpace(s)
	if i := strings.IndexAny(s, " \t"); i > 0 && !strings.HasPrefix(s, "/") {
		return strings.ToLower(s[:i]), strings.TrimSpace(s[i+1:])
	}
	return "", s
}
