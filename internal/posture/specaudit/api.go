package specaudit

import (
	"net"
	"strings"

	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/posture/yamltree"
)

// methods in the order operations are listed.
var methods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

func isWrite(m string) bool { return m == "post" || m == "put" || m == "patch" || m == "delete" }

// operation is one (path, method) of the document.
type operation struct {
	Path, Method string
	Node         *yamltree.Node // the operation object
	PathItem     *yamltree.Node
	Params       []*yamltree.Node // resolved, path-level merged under operation-level
	Sec          security
	Ref          model.EndpointRef
}

// security is the effective security of an operation.
type security struct {
	Node      *yamltree.Node // the security array in force (nil: none)
	Source    string         // "operation", "global" or "none"
	Schemes   []string       // scheme names required by any alternative
	Anonymous bool           // an empty alternative ({}) allows anonymous calls
}

// Secured reports whether every alternative requires credentials.
func (s security) Secured() bool { return len(s.Schemes) > 0 && !s.Anonymous }

func readSecurity(n *yamltree.Node, source string) security {
	s := security{Node: n, Source: source}
	if n == nil || n.Kind != yamltree.SequenceNode {
		s.Source = "none"
		s.Node = nil
		return s
	}
	alts := items(n)
	if len(alts) == 0 {
		return s
	}
	for _, alt := range alts {
		if alt.Kind != yamltree.MappingNode || len(alt.Content) == 0 {
			s.Anonymous = true
			continue
		}
		pairs(alt, func(k string, _, _ *yamltree.Node) { s.Schemes = append(s.Schemes, k) })
	}
	return s
}

// schemaVisit is one schema node reached from an operation.
type schemaVisit struct {
	Node     *yamltree.Node
	Dir      string // "request" or "response"
	Write    bool   // reached from a POST/PUT/PATCH/DELETE request
	Prop     string // property (or parameter) name, "" at the root
	BodyRoot bool   // the root schema of a request body
	Op       *operation
	Param    bool // the "schema" is a Swagger 2.0 non-body parameter
}

type auditCtx struct {
	doc      *Doc
	ptr      pointers
	res      *resolver
	ops      []*operation
	schemes  map[string]*yamltree.Node // name -> resolved scheme object
	schemesN *yamltree.Node            // the schemes container (for locations)
	global   *yamltree.Node            // top-level security
	servers  []serverURL
	host     string
	visits   []schemaVisit
	emit     func(rule string, n *yamltree.Node, op *operation, msg string, ev map[string]any)
}

type serverURL struct {
	URL  string
	Node *yamltree.Node
}

func newAuditCtx(d *Doc) *auditCtx {
	a := &auditCtx{doc: d, ptr: buildPointers(d.Root), res: &resolver{root: d.Root}, schemes: map[string]*yamltree.Node{}}
	root := d.Root
	a.global = get(root, "security")
	if d.Version == "2.0" {
		a.schemesN = get(root, "securityDefinitions")
		if h := get(root, "host"); h != nil {
			a.host = str(h)
		}
	} else {
		a.schemesN = get(get(root, "components"), "securitySchemes")
		for _, s := range items(get(root, "servers")) {
			if u := get(s, "url"); u != nil {
				a.servers = append(a.servers, serverURL{URL: str(u), Node: u})
			}
		}
		if len(a.servers) > 0 {
			a.host = hostOf(a.servers[0].URL)
		}
	}
	pairs(a.schemesN, func(k string, _, v *yamltree.Node) {
		if r := a.res.deref(v); r != nil {
			a.schemes[k] = r
		}
	})
	globalSec := readSecurity(a.global, "global")
	pairs(get(root, "paths"), func(path string, _, pi *yamltree.Node) {
		pi = a.res.deref(pi)
		if pi == nil || pi.Kind != yamltree.MappingNode {
			return
		}
		pathParams := a.params(get(pi, "parameters"))
		for _, m := range methods {
			on := get(pi, m)
			if on == nil || on.Kind != yamltree.MappingNode {
				continue
			}
			op := &operation{Path: path, Method: m, Node: on, PathItem: pi,
				Ref: model.EndpointRef{Host: a.host, Method: strings.ToUpper(m), Path: path}}
			own := a.params(get(on, "parameters"))
			seen := map[string]bool{}
			for _, p := range own {
				seen[str(get(p, "in"))+"\x00"+str(get(p, "name"))] = true
				op.Params = append(op.Params, p)
			}
			for _, p := range pathParams {
				if !seen[str(get(p, "in"))+"\x00"+str(get(p, "name"))] {
					op.Params = append(op.Params, p)
				}
			}
			if s := get(on, "security"); s != nil {
				op.Sec = readSecurity(s, "operation")
			} else {
				op.Sec = globalSec
			}
			a.ops = append(a.ops, op)
		}
	})
	a.collectSchemas()
	return a
}

func (a *auditCtx) params(n *yamltree.Node) []*yamltree.Node {
	var out []*yamltree.Node
	for _, p := range items(n) {
		if r := a.res.deref(p); r != nil && r.Kind == yamltree.MappingNode {
			out = append(out, r)
		}
	}
	return out
}

// responses calls fn for every response of op (resolved).
func (a *auditCtx) responses(op *operation, fn func(code string, kn, resp *yamltree.Node)) {
	pairs(get(op.Node, "responses"), func(code string, kn, v *yamltree.Node) {
		if r := a.res.deref(v); r != nil && r.Kind == yamltree.MappingNode {
			fn(code, kn, r)
		}
	})
}

// collectSchemas walks every schema reachable from an operation, once per
// (node, direction, write) triple, in document order.
func (a *auditCtx) collectSchemas() {
	type key struct {
		n     *yamltree.Node
		dir   string
		write bool
	}
	seen := map[key]bool{}
	var walk func(n *yamltree.Node, v schemaVisit, depth int)
	walk = func(n *yamltree.Node, v schemaVisit, depth int) {
		n = a.res.deref(n)
		if n == nil || n.Kind != yamltree.MappingNode || depth > 64 {
			return
		}
		k := key{n, v.Dir, v.Write}
		if seen[k] {
			return
		}
		seen[k] = true
		v.Node = n
		a.visits = append(a.visits, v)
		child := v
		child.BodyRoot = false
		child.Param = false
		pairs(get(n, "properties"), func(name string, _, s *yamltree.Node) {
			c := child
			c.Prop = name
			walk(s, c, depth+1)
		})
		pairs(get(n, "patternProperties"), func(_ string, _, s *yamltree.Node) { walk(s, child, depth+1) })
		if ap := get(n, "additionalProperties"); ap != nil && ap.Kind == yamltree.MappingNode {
			walk(ap, child, depth+1)
		}
		if it := get(n, "items"); it != nil {
			if it.Kind == yamltree.SequenceNode {
				for _, x := range items(it) {
					walk(x, child, depth+1)
				}
			} else {
				walk(it, child, depth+1)
			}
		}
		for _, comb := range []string{"allOf", "anyOf", "oneOf", "prefixItems"} {
			for _, x := range items(get(n, comb)) {
				walk(x, child, depth+1)
			}
		}
	}
	for _, op := range a.ops {
		write := isWrite(op.Method)
		for _, p := range op.Params {
			in := str(get(p, "in"))
			v := schemaVisit{Dir: "request", Write: write, Prop: str(get(p, "name")), Op: op}
			switch {
			case a.doc.Version == "2.0" && in == "body":
				v.BodyRoot = true
				v.Prop = ""
				walk(get(p, "schema"), v, 0)
			case a.doc.Version == "2.0":
				v.Param = true
				walk(p, v, 0)
			default:
				walk(get(p, "schema"), v, 0)
				pairs(get(p, "content"), func(_ string, _, mt *yamltree.Node) { walk(get(mt, "schema"), v, 0) })
			}
		}
		if rb := a.res.deref(get(op.Node, "requestBody")); rb != nil {
			pairs(get(rb, "content"), func(_ string, _, mt *yamltree.Node) {
				walk(get(mt, "schema"), schemaVisit{Dir: "request", Write: write, BodyRoot: true, Op: op}, 0)
			})
		}
		a.responses(op, func(_ string, _ *yamltree.Node, r *yamltree.Node) {
			v := schemaVisit{Dir: "response", Op: op}
			if a.doc.Version == "2.0" {
				walk(get(r, "schema"), v, 0)
				return
			}
			pairs(get(r, "content"), func(_ string, _, mt *yamltree.Node) { walk(get(mt, "schema"), v, 0) })
		})
	}
}

// types returns the declared type(s) of a schema ("type" may be a list in
// 3.1).
func types(s *yamltree.Node) []string {
	t := get(s, "type")
	if t == nil {
		return nil
	}
	if t.Kind == yamltree.SequenceNode {
		var out []string
		for _, x := range items(t) {
			out = append(out, str(x))
		}
		return out
	}
	return []string{str(t)}
}

func hasType(s *yamltree.Node, want string) bool {
	for _, t := range types(s) {
		if t == want {
			return true
		}
	}
	return false
}

// hostOf returns the host[:port] of an absolute URL ("" for relative
// ones). It does not use url.Parse, which rejects server variables
// ("https://{region}.api.io:{port}"); variables are kept as they are.
func hostOf(raw string) string {
	s := strings.TrimSpace(raw)
	i := strings.Index(s, "://")
	if i <= 0 {
		return ""
	}
	s = s[i+3:]
	if j := strings.IndexAny(s, "/?#"); j >= 0 {
		s = s[:j]
	}
	if j := strings.LastIndexByte(s, '@'); j >= 0 {
		s = s[j+1:]
	}
	return s
}

// publicHost reports whether host (possibly with a port) names something
// other than loopback, private or link-local addresses and reserved
// local names. Hosts made of server variables ("{host}") count as public:
// nothing says they are not.
func publicHost(host string) bool {
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	h = strings.Trim(strings.ToLower(h), "[]")
	if h == "" {
		return false
	}
	if h == "localhost" || strings.HasSuffix(h, ".localhost") || strings.HasSuffix(h, ".local") ||
		strings.HasSuffix(h, ".internal") || strings.HasSuffix(h, ".test") || strings.HasSuffix(h, ".example") ||
		h == "example.com" || strings.HasSuffix(h, ".example.com") {
		return false
	}
	if ip := net.ParseIP(h); ip != nil {
		return !(ip.IsLoopback() || ip.IsPrivate() || ip.IsLinkLocalUnicast() || ip.IsUnspecified())
	}
	return true
}
