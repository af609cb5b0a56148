// Package inventory builds a live inventory of API endpoints from enriched
// events: it learns path templates from traffic (/v2/users/10023/orders →
// /v2/users/{userId}/orders), keeps per-endpoint statistics, reads declared
// OpenAPI/Swagger specs (documented, deprecated, shadow, zombie, unused) and
// exports the observed API as an OpenAPI 3.1 document.
//
// The inventory implements pipeline.Templater (Template), pipeline.Analyzer
// (Observe), pipeline.EndpointResolver (Resolve) and pipeline.SpecLookup
// (Operation). It is safe for concurrent use (one mutex).
package inventory

import (
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/palisade-sec/palisade/internal/enrich"
	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/model"
)

// Config of the inventory. Zero fields take the documented defaults.
type Config struct {
	// Pinned templates, e.g. "/v2/users/{userId}/orders", or host-scoped
	// "api.example.test /v2/items/{id}". Requests matching one always get it.
	Pinned []string
	// Ignore lists path globs never inventoried ("/healthz", "/static/**"),
	// optionally host-scoped like Pinned. "*" matches within one segment,
	// "**" any number of segments.
	Ignore []string
	// UnusedAfter: declared operations without traffic for this long before
	// the last event are "unused" (default 30 days).
	UnusedAfter time.Duration
	// MaxNodes bounds the path-trie nodes across all hosts (default 200,000).
	// At the budget the inventory first drops positions that only ever
	// answered 404 (they become probes), then collapses the widest position
	// into a parameter.
	MaxNodes int
	// MinCardinality: a position whose static word children with a
	// successful (2xx/3xx) response reach this count becomes a parameter
	// (default 16). 401/403/404 answers are not evidence of a route.
	MinCardinality int
	// SlugCardinality: the same for long hyphenated slugs (default 5).
	SlugCardinality int
	// RetainFactor, RetainMin: at a collapse, a static sibling survives when
	// its traffic is at least RetainFactor × the median sibling's and at
	// least RetainMin requests (defaults 4 and 3): /users/login stays apart
	// from /users/{userId}.
	RetainFactor float64
	RetainMin    int64
	// ShapeSimilarity: instances of one resource answer with objects that
	// share most members; distinct operations at one position (an RPC
	// API's /CreateJob, /ListJobs …) answer with data of their own. Two
	// answers are similar when the Jaccard similarity of their top-level
	// member names (one method's answers) is at least this (default 0.5).
	// A position that reached its cardinality stays static when at least
	// half of MinCardinality word children answered with JSON and no
	// group of that many is similar; at a collapse, a child whose answer
	// is like no other child's stays a static operation (/users/search
	// beside /users/{userId}). Fewer known shapes (non-JSON or empty
	// answers): the cardinality rule alone decides. Negative: off.
	ShapeSimilarity float64
	// MaxProbes bounds the probe list (default 10,000; overflow is counted).
	MaxProbes int
	// ReconMinOps: a client is a reconnaissance source once it got a
	// denial (401/403/404/405) on at least this many distinct operations
	// and on at least half of its requests since its first denial (default
	// 20). An operation whose clients (it keeps the first four) are all
	// reconnaissance sources is a probe, not an endpoint.
	ReconMinOps int
	// MaxReconClients bounds the clients tracked for that (those with at
	// least one denial; default 100,000 ≈ 10 MB; beyond, new clients are
	// not tracked, and counted).
	MaxReconClients int
	// MaxEndpointIDs bounds the endpoint ids (model.EndpointID) given to
	// the references events are templated to (default 262,144, ≈160 bytes
	// each: ≈42 MB at the budget). Beyond it references get no id and are resolved from their
	// strings, with the same result; Stats.IDsDropped counts them.
	MaxEndpointIDs int
	// API change detection: a new query/header parameter is reported when
	// the endpoint had ChangeMinHistory requests without it (default 50)
	// and at least ChangeAdoption (default 0.9) of the next ChangeWindow
	// requests (default 50), from more than one client, carry it.
	ChangeMinHistory int
	ChangeWindow     int
	ChangeAdoption   float64
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{UnusedAfter: 30 * 24 * time.Hour, MaxNodes: 200_000, MinCardinality: 16, SlugCardinality: 5,
		RetainFactor: 4, RetainMin: 3, ShapeSimilarity: 0.5, MaxProbes: 10_000, ReconMinOps: 20, MaxReconClients: 100_000, MaxEndpointIDs: 1 << 18, ChangeMinHistory: 50, ChangeWindow: 50, ChangeAdoption: 0.9}
}

func (c *Config) defaults() {
	d := DefaultConfig()
	if c.UnusedAfter <= 0 {
		c.UnusedAfter = d.UnusedAfter
	}
	if c.MaxNodes <= 0 {
		c.MaxNodes = d.MaxNodes
	}
	if c.MinCardinality <= 1 {
		c.MinCardinality = d.MinCardinality
	}
	if c.SlugCardinality <= 1 {
		c.SlugCardinality = d.SlugCardinality
	}
	if c.RetainFactor <= 0 {
		c.RetainFactor = d.RetainFactor
	}
	if c.RetainMin <= 0 {
		c.RetainMin = d.RetainMin
	}
	if c.ShapeSimilarity == 0 || c.ShapeSimilarity > 1 {
		c.ShapeSimilarity = d.ShapeSimilarity
	}
	if c.ReconMinOps <= 0 {
		c.ReconMinOps = d.ReconMinOps
	}
	if c.MaxReconClients <= 0 {
		c.MaxReconClients = d.MaxReconClients
	}
	if c.MaxProbes <= 0 {
		c.MaxProbes = d.MaxProbes
	}
	if c.MaxEndpointIDs <= 0 {
		c.MaxEndpointIDs = d.MaxEndpointIDs
	}
	if c.ChangeMinHistory <= 0 {
		c.ChangeMinHistory = d.ChangeMinHistory
	}
	if c.ChangeWindow <= 0 {
		c.ChangeWindow = d.ChangeWindow
	}
	if c.ChangeAdoption <= 0 || c.ChangeAdoption > 1 {
		c.ChangeAdoption = d.ChangeAdoption
	}
}

type hostPattern struct {
	host string // "" = every host
	segs []string
}

// Inventory is the live API inventory.
type Inventory struct {
	mu sync.Mutex
	// changesReady: event time the first endpoint reached ChangeMinHistory
	// requests (readiness of API change detection).
	changesReady time.Time
	// tmplMemo: see Template; noTmplMemo turns it off (tests)
	tmplMemo   tmplMemo
	noTmplMemo bool
	cfg        Config
	hosts      map[string]*hostTrie
	nodes      int
	bp         *bodyParser
	pins       []hostPattern
	ignores    []hostPattern
	specs      []*Spec
	ids        endpointIDs

	probes        map[model.Probe]int64 // pruned 404-only paths (Requests zero in the key)
	probesDropped int64
	recon         map[uint64]*reconClient // by client address hash: clients with a denial
	reconDropped  int64                   // clients not tracked (MaxReconClients)
	ignored       int64
	collapses     int64
	shapeHeld     int64 // cardinality reached, collapse held: children answer with distinct shapes
	shapeKept     int64 // children kept static at a collapse: their answers are unlike the parameter's
	budgetEvents  int64
	budgetFloor   int
	errs          []error // configuration problems (bad pinned templates)
}

type hostTrie struct {
	name     string // the host (the map key)
	root     *node
	declared bool // a spec declares operations for this host
	pinned   bool // the trie holds pinned nodes
}

// New returns an inventory. Malformed pinned templates or ignore rules are
// reported by Err.
func New(cfg Config) *Inventory {
	cfg.defaults()
	inv := &Inventory{cfg: cfg, hosts: make(map[string]*hostTrie), bp: newBodyParser(), probes: make(map[model.Probe]int64), recon: make(map[uint64]*reconClient)}
	inv.ids.max = cfg.MaxEndpointIDs
	for i, p := range cfg.Pinned {
		host, pth := parseHostPath(p)
		if !strings.HasPrefix(pth, "/") {
			inv.errs = append(inv.errs, fmt.Errorf("inventory: pinned[%d] %q: template must start with /", i, p))
			continue
		}
		inv.pins = append(inv.pins, hostPattern{host, segments(pth, nil)})
	}
	for i, p := range cfg.Ignore {
		host, pth := parseHostPath(p)
		segs := segments(pth, nil)
		for _, s := range segs {
			if _, err := path.Match(s, ""); err != nil {
				inv.errs = append(inv.errs, fmt.Errorf("inventory: ignore[%d] %q: bad glob segment %q: %v", i, p, s, err))
				segs = nil
				break
			}
		}
		if segs != nil || pth == "/" {
			inv.ignores = append(inv.ignores, hostPattern{host, segs})
		}
	}
	return inv
}

// Err reports configuration problems found by New (nil when none).
func (inv *Inventory) Err() error {
	if len(inv.errs) == 0 {
		return nil
	}
	msgs := make([]string, len(inv.errs))
	for i, e := range inv.errs {
		msgs[i] = e.Error()
	}
	return fmt.Errorf("%s", strings.Join(msgs, "; "))
}

// Stats are counters about the inventory itself.
type Stats struct {
	Hosts, Nodes  int
	Ignored       int64 // events matching an ignore rule
	Collapses     int64 // positions turned into parameters
	ShapeHeld     int64 // collapses held back: the children answered with distinct shapes (Config.ShapeSimilarity)
	ShapeKept     int64 // children kept static at a collapse: they answered unlike the parameter's resource
	BudgetEvents  int64 // times the node budget was enforced
	ProbesDropped int64 // probe paths beyond MaxProbes
	EndpointIDs   int   // endpoint ids given
	IDsDropped    int64 // references beyond MaxEndpointIDs (given no id)
	ParamsDropped int64 // parameters beyond the per-endpoint limit
	BodyErrors    int64 // JSON-looking bodies that did not parse
}

// Stats returns counters.
func (inv *Inventory) Stats() Stats {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.tmplMemo = tmplMemo{} // see Template
	s := Stats{Hosts: len(inv.hosts), Nodes: inv.nodes, Ignored: inv.ignored, Collapses: inv.collapses, ShapeHeld: inv.shapeHeld, ShapeKept: inv.shapeKept,
		BudgetEvents: inv.budgetEvents, ProbesDropped: inv.probesDropped, EndpointIDs: len(inv.ids.refs), IDsDropped: inv.ids.dropped}
	for _, h := range inv.hosts {
		walk(h.root, func(n *node) {
			for _, st := range n.eps {
				s.ParamsDropped += st.paramsDropped
				s.BodyErrors += st.bodyErrors
			}
		})
	}
	return s
}

func (inv *Inventory) host(h string) *hostTrie {
	t := inv.hosts[h]
	if t != nil {
		return t
	}
	h = strings.Clone(h) // kept: not a view of the record's text (see docs/ARCHITECTURE.md)
	t = &hostTrie{name: h, root: &node{tmpl: "/"}}
	inv.hosts[h] = t
	inv.nodes++
	for _, p := range inv.pins {
		if p.host == "" || p.host == h {
			n := inv.insertPinned(t, p.segs)
			n.end = true
		}
	}
	return t
}

// insertPinned adds a declared/pinned template to a host trie and returns
// its terminal node. Unpinned static siblings of a new pinned parameter are
// merged into it (a declaration wins over learning).
func (inv *Inventory) insertPinned(t *hostTrie, segs []string) *node {
	t.pinned = true
	n := t.root
	n.pinned = true
	for _, s := range segs {
		if isTemplateSeg(s) {
			if n.pchild == nil {
				inv.newParam(n, kWeakParam, s[1:len(s)-1])
			}
			pc := n.pchild
			if !pc.pinned {
				pc.pinned = true
				pc.base = s[1 : len(s)-1]
				render(pc)
			}
			for _, c := range n.sortedStatic() {
				if !c.pinned && c.kind != kVersion {
					n.dropStatic(c)
					inv.merge(c, pc)
				}
			}
			render(pc)
			n = pc
			continue
		}
		c := n.static[s]
		if c == nil {
			c = inv.newDeclStatic(n, s)
		}
		c.pinned = true
		n = c
	}
	return n
}

func (inv *Inventory) newStatic(p *node, s string) *node {
	s = strings.Clone(s) // kept: not a view of the record's text
	c := &node{seg: s, kind: classify(s), parent: p, depth: p.depth + 1}
	if p.static == nil {
		p.static = make(map[string]*node, 2)
	}
	p.static[s] = c
	inv.nodes++
	render(c)
	return c
}

// newDeclStatic adds a static child for a declared or learned template
// segment: one that mixes parameters with text ({name}:cancel) is also a
// segment pattern of n.
func (inv *Inventory) newDeclStatic(n *node, seg string) *node {
	c := inv.newStatic(n, seg)
	if c.pat = parseSegPattern(seg); c.pat != nil {
		n.pats = append(n.pats, c)
	}
	return c
}

func (inv *Inventory) newParam(p *node, k segKind, name string) *node {
	if name == "" {
		name = paramName(nameParent(p), k)
	}
	c := &node{param: true, base: name, kind: k, parent: p, depth: p.depth + 1}
	p.pchild = c
	inv.nodes++
	render(c)
	return c
}

// ignoredPath reports whether host/path matches an ignore rule.
func (inv *Inventory) ignoredPath(host string, segs []string) bool {
	for _, ig := range inv.ignores {
		if (ig.host == "" || ig.host == host) && globMatch(ig.segs, segs) {
			return true
		}
	}
	return false
}

func globMatch(pat, segs []string) bool {
	if len(pat) == 0 {
		return len(segs) == 0
	}
	if pat[0] == "**" {
		for i := 0; i <= len(segs); i++ {
			if globMatch(pat[1:], segs[i:]) {
				return true
			}
		}
		return false
	}
	if len(segs) == 0 {
		return false
	}
	if ok, _ := path.Match(pat[0], segs[0]); !ok {
		return false
	}
	return globMatch(pat[1:], segs[1:])
}

// Template implements pipeline.Templater: it returns the endpoint of a
// request (the template of its concrete escaped path, with the reference's
// stable id) and the values of its templated segments, learning from the
// path. Ignored paths are returned unchanged, without an id.
func (inv *Inventory) Template(host, method, p string) (model.EndpointRef, []event.PathParam) {
	var buf [24]string
	segs := segments(p, buf[:0])
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.tmplMemo = tmplMemo{}
	if len(inv.ignores) > 0 && inv.ignoredPath(host, segs) {
		return model.EndpointRef{Host: host, Method: method, Path: p}, nil
	}
	inv.budget()
	// resolve, remembering the node when the path was known (the trie is
	// unchanged): Observe of the same event, which follows at once in the
	// engine, then needs no second walk.
	var n *node
	t := inv.hosts[host]
	if t != nil {
		if n = match(t.root, segs, false); n != nil {
			inv.tmplMemo = tmplMemo{host: host, path: p, n: n}
		}
	}
	if n == nil {
		n = inv.resolve(host, segs)
		if t == nil {
			t = inv.hosts[host] // resolve made it
		}
	}
	return inv.endpointRef(t, n, method), pathParams(n, segs)
}

// endpointRef returns the reference (with its id) of method on node n of
// host trie t: from the node's cache when its template did not change,
// else from the id table (one map lookup), remembered on the node.
func (inv *Inventory) endpointRef(t *hostTrie, n *node, method string) model.EndpointRef {
	for i := range n.refs {
		if r := &n.refs[i]; r.Method == method && r.Path == n.tmpl {
			return *r
		}
	}
	ref := inv.ids.assign(t.name, method, n.tmpl)
	if ref.ID == 0 {
		return ref
	}
	for i := range n.refs {
		if n.refs[i].Method == ref.Method { // the template changed since
			n.refs[i] = ref
			return ref
		}
	}
	if len(n.refs) < 8 {
		n.refs = append(n.refs, ref)
	}
	return ref
}

// tmplMemo is the node Template found for (host, path) without changing
// the trie. It is valid until the next call of any locked method: every
// one clears it, so a node is reused only when nothing ran between
// Template and Observe (TestTemplateMemo).
type tmplMemo struct {
	host, path string
	n          *node
}

// resolve returns the node of a concrete path, learning it when unknown.
func (inv *Inventory) resolve(host string, segs []string) *node {
	t := inv.host(host)
	if n := match(t.root, segs, false); n != nil {
		return n
	}
	n := t.root
	for i, s := range segs {
		if i == MaxDepth {
			if n.pchild == nil {
				inv.newParam(n, kWeakParam, "tail")
			}
			n = n.pchild
			break
		}
		if c := n.static[s]; c != nil {
			n = c
			continue
		}
		if c := n.patChild(s); c != nil {
			n = c
			continue
		}
		if c := inv.verbChild(n, s); c != nil {
			n = c
			continue
		}
		k := classify(s)
		if i == 0 && k == kDate && len(s) == 10 {
			// A date opening the path is the API's version, as AWS
			// (/2015-03-31/functions) and Twilio (/2010-04-01/Accounts)
			// date theirs: an object's date follows its collection.
			k = kVersion
		}
		if n.accepts(k, s) {
			if k == kPrefixed {
				n.pchild.notePrefix(s)
			}
			n = n.pchild
			continue
		}
		if k.strong() {
			if n.pchild == nil {
				inv.newParam(n, k, "")
			}
			if k == kPrefixed {
				n.pchild.notePrefix(s)
			}
			n = n.pchild
			continue
		}
		if inv.nodes >= inv.cfg.MaxNodes+64 && !n.pinned {
			// Over budget within one walk: fold this segment into the
			// position's parameter rather than growing further.
			inv.budgetEvents++
			if n.pchild == nil {
				inv.newParam(n, kWeakParam, "")
			}
			n.collapsed, n.ckind = true, kWord
			n = n.pchild
			continue
		}
		n = inv.newStatic(n, s)
		if k == kVersion {
			n.kind = kVersion // never merged into a parameter, skipped when naming one
		}
	}
	return n
}

func pathParams(n *node, segs []string) []event.PathParam {
	cnt := 0
	for a := n; a != nil; a = a.parent {
		if a.param {
			cnt++
		} else if a.pat != nil {
			cnt += len(a.pat.names)
		}
	}
	if cnt == 0 {
		return nil
	}
	out := make([]event.PathParam, cnt)
	i := cnt - 1
	for a := n; a != nil; a = a.parent {
		if a.param {
			out[i] = event.PathParam{Name: a.label, Value: segs[a.depth-1], Index: a.depth - 1}
			i--
		} else if a.pat != nil {
			var buf [4]string
			vals := a.pat.match(segs[a.depth-1], buf[:0])
			for k := len(a.pat.names) - 1; k >= 0; k-- {
				v := ""
				if k < len(vals) {
					v = vals[k]
				}
				out[i] = event.PathParam{Name: a.pat.names[k], Value: v, Index: a.depth - 1}
				i--
			}
		}
	}
	return out
}

// Observe implements pipeline.Analyzer: it updates the statistics of the
// event's endpoint and learns from its response (404-only positions are
// not evidence of a parameter).
func (inv *Inventory) Observe(ev *event.Event) {
	var buf [24]string
	segs := segments(ev.Path, buf[:0])
	inv.mu.Lock()
	defer inv.mu.Unlock()
	memo := inv.tmplMemo
	inv.tmplMemo = tmplMemo{}
	if len(inv.ignores) > 0 && inv.ignoredPath(ev.Host, segs) {
		inv.ignored++
		return
	}
	budgetEvents := inv.budgetEvents
	inv.budget() // a no-op right after Template's; checked anyway
	var n *node
	if memo.n != nil && !inv.noTmplMemo && inv.budgetEvents == budgetEvents && memo.host == ev.Host && memo.path == ev.Path {
		n = memo.n // what resolve returns: the trie did not change since Template matched it
	} else {
		n = inv.resolve(ev.Host, segs)
	}
	if n.eps == nil {
		n.eps = make(map[string]*stats, 1)
	}
	st := n.eps[ev.Method]
	if st == nil {
		st = newStats()
		n.eps[strings.Clone(ev.Method)] = st
	}
	// Re-derive path parameter names from the current trie: the event may
	// have been templated before a collapse.
	params := ev.PathParams
	if len(params) == 0 || ev.Endpoint.Path != n.tmpl {
		params = pathParams(n, segs)
	}
	ipHash := st.observe(ev, params, inv.bp, &inv.cfg, model.EndpointRef{Host: ev.Host, Method: ev.Method, Path: n.tmpl})
	if ipHash != 0 && !ev.Outbound { // our services calling out are not scanning us
		inv.trackRecon(ipHash, ev.Method, n.tmpl, ev.Status)
	}
	if inv.changesReady.IsZero() && st.requests >= int64(inv.cfg.ChangeMinHistory) {
		inv.changesReady = ev.Time // first endpoint with enough history for API change detection
	}

	// Only successful responses are evidence that a route exists: scanners
	// guessing words under an authenticated prefix get 401/403 for every
	// guess and must not turn the position into a parameter.
	ok := ev.Success()
	live := ev.Status != 404
	// Positions whose child got its first successful response, leaf first.
	var chain [24]*node
	grown := chain[:0]
	for a := n; a != nil; a = a.parent {
		a.hits++
		if live {
			a.live++
		}
		if ok {
			a.ok++
			if a.ok == 1 && !a.param && !a.pinned && a.parent != nil && a.kind.weak() {
				grown = append(grown, a.parent)
			}
		}
	}
	// Check from the root down so that a collapse high up happens first
	// (it re-examines the merged subtree itself).
	for i := len(grown) - 1; i >= 0; i-- {
		if inv.checkCardinality(grown[i]) {
			break
		}
	}
}

// checkCardinality collapses n's static children into a parameter when
// enough of them answered something other than 404. Reports a collapse.
func (inv *Inventory) checkCardinality(n *node) bool {
	if n.collapsed && n.ckind != kSlug {
		return false
	}
	words, slugs := 0, 0
	for _, c := range n.static {
		if c.ok > 0 && !c.pinned {
			switch c.kind {
			case kWord:
				words++
			case kSlug:
				slugs++
			}
		}
	}
	if n.collapsed { // slug position: only words are left to count
		slugs = 0
	}
	if words+slugs >= inv.cfg.MinCardinality || slugs >= inv.cfg.SlugCardinality {
		if inv.shapeHold(n, words+slugs) {
			return false
		}
		k := kWord
		if slugs > words {
			k = kSlug
		}
		inv.collapse(n, k, false)
		return true
	}
	return false
}

// collapse turns the static children of n into its parameter child,
// keeping pinned children, version segments and siblings much busier than
// the median (likely real routes). Statistics of merged children are merged.
func (inv *Inventory) collapse(n *node, k segKind, force bool) {
	inv.collapses++
	n.collapsed = true
	n.ckind = k
	if n.pchild == nil {
		inv.newParam(n, kWeakParam, paramName(nameParent(n), k))
	}
	pc := n.pchild
	var cands []*node
	for _, c := range n.sortedStatic() {
		if !c.pinned && c.pat == nil && c.kind != kVersion && (k != kSlug || c.kind == kSlug) {
			cands = append(cands, c)
		}
	}
	oks := make([]int64, len(cands))
	for i, c := range cands {
		oks[i] = c.ok
	}
	sort.Slice(oks, func(i, j int) bool { return oks[i] < oks[j] })
	var median int64
	if len(oks) > 0 {
		median = oks[len(oks)/2]
	}
	factor := inv.cfg.RetainFactor
	var shapes shapeView
	if force {
		factor *= 4
	} else if shapes = inv.resourceShape(n); shapes.distinct {
		// collapsing past shapeHoldMax: no resource shape to keep
		// the others apart from
		shapes = shapeView{}
	}
	for _, c := range cands {
		if c.ok >= inv.cfg.RetainMin && float64(c.ok) >= factor*float64(max(median, 1)) {
			continue
		}
		if inv.otherShape(c, shapes) {
			inv.shapeKept++
			continue
		}
		n.dropStatic(c)
		if v := inv.verbChild(n, c.seg); v != nil {
			inv.merge(c, v) // op-7:cancel joins {id}:cancel, not {id}
			continue
		}
		inv.merge(c, pc)
	}
	render(pc)
	inv.checkSubtree(pc)
}

// checkSubtree re-examines cardinality under a node that received merged
// children.
func (inv *Inventory) checkSubtree(n *node) {
	if inv.checkCardinality(n) {
		return
	}
	for _, c := range n.sortedStatic() {
		inv.checkSubtree(c)
	}
	if n.pchild != nil {
		inv.checkSubtree(n.pchild)
	}
}

// merge folds src (detached from its parent) into dst, recursively.
func (inv *Inventory) merge(src, dst *node) {
	inv.nodes--
	dst.ok += src.ok
	dst.live += src.live
	dst.hits += src.hits
	dst.end = dst.end || src.end
	for m, st := range src.eps {
		if dst.eps == nil {
			dst.eps = make(map[string]*stats, len(src.eps))
		}
		if d := dst.eps[m]; d != nil {
			d.merge(st)
		} else {
			dst.eps[m] = st
		}
	}
	for m, d := range src.decl {
		if dst.decl == nil {
			dst.decl = make(map[string]*declOp)
		}
		if dst.decl[m] == nil {
			dst.decl[m] = d
		}
	}
	for _, c := range src.sortedStatic() {
		if d := dst.static[c.seg]; d != nil {
			inv.merge(c, d)
		} else if dst.accepts(c.kind, c.seg) && !c.pinned {
			inv.merge(c, dst.pchild)
		} else {
			c.parent = dst
			c.depth = dst.depth + 1
			if dst.static == nil {
				dst.static = make(map[string]*node)
			}
			dst.static[c.seg] = c
			if c.pat != nil {
				dst.pats = append(dst.pats, c)
			}
			redepth(c)
		}
	}
	if src.pchild != nil {
		if dst.pchild != nil {
			for _, p := range src.pchild.prefixes {
				dst.pchild.notePrefix(p + "0")
			}
		}
		if dst.pchild == nil {
			src.pchild.parent = dst
			dst.pchild = src.pchild
			redepth(src.pchild)
		} else {
			inv.merge(src.pchild, dst.pchild)
		}
		if src.collapsed && (!dst.collapsed || src.ckind != kSlug) {
			dst.ckind = src.ckind
		}
		dst.collapsed = dst.collapsed || src.collapsed
	}
}

func redepth(n *node) {
	if n.parent != nil {
		n.depth = n.parent.depth + 1
	}
	for _, c := range n.static {
		redepth(c)
	}
	if n.pchild != nil {
		redepth(n.pchild)
	}
}

// budget enforces the node budget when it is reached; when enforcement
// cannot get below it (pinned or deep structure), it waits for another
// tenth of the budget before trying again.
func (inv *Inventory) budget() {
	if inv.nodes < inv.cfg.MaxNodes || inv.nodes < inv.budgetFloor {
		return
	}
	inv.enforceBudget()
	if inv.nodes >= inv.cfg.MaxNodes {
		inv.budgetFloor = inv.nodes + inv.cfg.MaxNodes/10 + 1
	} else {
		inv.budgetFloor = 0
	}
}

// enforceBudget brings the node count to 90 % of the budget: first by
// dropping 404-only subtrees (recorded as probes), then by collapsing the
// widest positions.
func (inv *Inventory) enforceBudget() {
	inv.budgetEvents++
	target := inv.cfg.MaxNodes * 9 / 10
	hosts := inv.sortedHosts()
	for _, h := range hosts {
		inv.pruneProbes(h, inv.hosts[h].root)
	}
	for inv.nodes > target {
		var widest *node
		for _, h := range hosts {
			walk(inv.hosts[h].root, func(n *node) {
				if n.collapsed {
					return
				}
				w := 0
				for _, c := range n.static {
					if !c.pinned && c.kind != kVersion {
						w++
					}
				}
				if w > 1 && (widest == nil || w > len(widest.static)) {
					widest = n
				}
			})
		}
		if widest == nil {
			return // only pinned structure left
		}
		before := inv.nodes
		inv.collapse(widest, kWord, true)
		if inv.nodes >= before {
			return
		}
	}
}

// pruneProbes removes unpinned subtrees that never answered anything but
// 404 and records their operations as probes.
func (inv *Inventory) pruneProbes(host string, n *node) {
	for _, c := range n.sortedStatic() {
		if c.live == 0 && !c.pinned && len(c.decl) == 0 {
			inv.recordProbes(host, c)
			n.dropStatic(c)
			inv.nodes -= countNodes(c)
			continue
		}
		inv.pruneProbes(host, c)
	}
	if pc := n.pchild; pc != nil {
		if pc.live == 0 && !pc.pinned && len(pc.decl) == 0 {
			inv.recordProbes(host, pc)
			n.pchild = nil
			n.collapsed = false
			inv.nodes -= countNodes(pc)
		} else {
			inv.pruneProbes(host, pc)
		}
	}
}

func countNodes(n *node) int {
	c := 1
	for _, s := range n.static {
		c += countNodes(s)
	}
	if n.pchild != nil {
		c += countNodes(n.pchild)
	}
	return c
}

func (inv *Inventory) recordProbes(host string, n *node) {
	walk(n, func(x *node) {
		for m, st := range x.eps {
			k := model.Probe{Host: host, Method: m, Path: x.tmpl, Reason: ProbeNotFound}
			if _, ok := inv.probes[k]; !ok && len(inv.probes) >= inv.cfg.MaxProbes {
				inv.probesDropped++
				continue
			}
			inv.probes[k] += st.requests
		}
	})
}

func (inv *Inventory) sortedHosts() []string {
	out := make([]string, 0, len(inv.hosts))
	for h := range inv.hosts {
		out = append(out, h)
	}
	sort.Strings(out)
	return out
}

// Resolve implements pipeline.EndpointResolver, the one place where an
// endpoint reference recorded early (its id, or for a reference without
// one its concrete path or a template since collapsed) is mapped to what
// it stands for now: the endpoint's current template, with that
// reference's id (0 when it has none). A reference the inventory does not
// know is returned unchanged (without id).
func (inv *Inventory) Resolve(ref model.EndpointRef) model.EndpointRef {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.tmplMemo = tmplMemo{} // see Template
	if r, ok := inv.ids.ref(ref.ID); ok {
		ref = r
	}
	ref.ID = 0
	out := inv.canonical(ref)
	out.ID = inv.ids.lookup(out)
	return out
}

// canonical maps a reference to its current template (inv.mu held).
// Unknown references are returned unchanged.
func (inv *Inventory) canonical(ref model.EndpointRef) model.EndpointRef {
	t := inv.hosts[ref.Host]
	if t == nil {
		return ref
	}
	var buf [24]string
	if n := match(t.root, segments(ref.Path, buf[:0]), true); n != nil {
		ref.Path = n.tmpl
	}
	return ref
}

// Endpoints returns the inventory sorted by host, path and method:
// observed operations (except those that only ever answered 404, see
// Probes) and declared operations without traffic. now is the time of the
// last event; declared operations not called within UnusedAfter before it
// are "unused".
func (inv *Inventory) Endpoints(now time.Time) []model.Endpoint {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.tmplMemo = tmplMemo{} // see Template
	var out []model.Endpoint
	third := inv.outboundHosts()
	for _, h := range inv.sortedHosts() {
		if third[h] {
			continue // a third-party API our services call: see Outbound
		}
		t := inv.hosts[h]
		walk(t.root, func(n *node) {
			methods := make([]string, 0, len(n.eps)+len(n.decl))
			for m := range n.eps {
				methods = append(methods, m)
			}
			for m := range n.decl {
				if n.eps[m] == nil {
					methods = append(methods, m)
				}
			}
			for _, m := range methods {
				st, d := n.eps[m], n.decl[m]
				if inv.probeReason(h, st, d) != "" {
					continue
				}
				out = append(out, inv.endpoint(h, t, n, m, st, d, now))
			}
		})
	}
	sortEndpoints(out)
	return out
}

func sortEndpoints(out []model.Endpoint) {
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Host != b.Host {
			return a.Host < b.Host
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Method < b.Method
	})
}

// outboundHosts returns the hosts whose every observed request came from
// an outbound exchange record (our services calling a third-party API).
// A host that received one inbound call, or only declared operations, is
// one of ours (inv.mu held).
func (inv *Inventory) outboundHosts() map[string]bool {
	out := map[string]bool{}
	for h, t := range inv.hosts {
		var requests, outbound int64
		walk(t.root, func(n *node) {
			for _, st := range n.eps {
				requests += st.requests
				outbound += st.outbound
			}
		})
		if outbound > 0 && outbound == requests {
			out[h] = true
		}
	}
	return out
}

// OutboundHosts returns, sorted, the hosts that are third-party APIs our
// services call: every request observed to them came from an outbound
// exchange record (direction "outbound"). Their operations are listed by
// Outbound, never by Endpoints, Probes or APIChanges.
func (inv *Inventory) OutboundHosts() []string {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.tmplMemo = tmplMemo{} // see Template
	var out []string
	for h := range inv.outboundHosts() {
		out = append(out, h)
	}
	sort.Strings(out)
	return out
}

// Outbound returns the operations of the third-party APIs our services
// call (see OutboundHosts), as observed: templated like ours, with the
// statistics of Endpoints (operations that only ever answered 404 too: a
// broken integration is worth seeing), sorted by host, path and method.
// Declared-but-unused operations of such hosts are left out.
func (inv *Inventory) Outbound(now time.Time) []model.Endpoint {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.tmplMemo = tmplMemo{} // see Template
	var out []model.Endpoint
	third := inv.outboundHosts()
	for _, h := range inv.sortedHosts() {
		if !third[h] {
			continue
		}
		t := inv.hosts[h]
		walk(t.root, func(n *node) {
			for m, st := range n.eps {
				if st.requests > 0 {
					out = append(out, inv.endpoint(h, t, n, m, st, nil, now))
				}
			}
		})
	}
	sortEndpoints(out)
	return out
}

// Hosts summarizes the hosts of eps (Endpoints' result): endpoints,
// requests and states per host, and the names of the declared specs that
// cover each host. Documented is true for a host a spec covers, false for
// one no spec covers when specs were loaded, null when none was.
func (inv *Inventory) Hosts(eps []model.Endpoint) []model.APIHost {
	inv.mu.Lock()
	specs := map[string][]string{}
	loaded := len(inv.specs) > 0
	for _, s := range inv.specs {
		for _, h := range s.Hosts {
			h = strings.ToLower(h)
			if !slices.Contains(specs[h], s.Name) {
				specs[h] = append(specs[h], s.Name)
			}
		}
	}
	inv.mu.Unlock()
	var out []model.APIHost
	idx := map[string]int{}
	for i := range eps {
		ep := &eps[i]
		j, ok := idx[ep.Host]
		if !ok {
			j = len(out)
			idx[ep.Host] = j
			h := model.APIHost{Host: ep.Host, Specs: append([]string{}, specs[ep.Host]...), States: map[string]int64{}}
			if loaded {
				doc := len(h.Specs) > 0
				h.Documented = &doc
			}
			out = append(out, h)
		}
		out[j].Endpoints++
		out[j].Requests += ep.Requests
		out[j].States[ep.State]++
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Host < out[j].Host })
	return out
}

// Probe reasons (model.Probe.Reason).
const (
	ProbeNotFound = "not_found"      // every response was 404
	ProbeDenied   = "denied"         // every response was 401, 403, 404 or 405
	ProbeRecon    = "reconnaissance" // called only by reconnaissance sources
	ProbeMetadata = "metadata"       // a cloud instance-metadata service
)

// probeReason says why an observed operation is a probe and not an
// endpoint, or "": it was never answered but with a denial or "not found"
// (no evidence that it exists, or that anyone may use it), only
// reconnaissance sources called it, or its host is an instance-metadata
// service. Declared operations are always endpoints; legitimate traffic
// (a non-denied answer, a client that is not a scanner) makes an operation
// an endpoint.
func (inv *Inventory) probeReason(host string, st *stats, d *declOp) string {
	if d != nil || st == nil || st.requests == 0 {
		return ""
	}
	switch {
	case enrich.IsInstanceMetadataHost(host):
		return ProbeMetadata
	case st.status[404] == st.requests:
		return ProbeNotFound
	case st.status[401]+st.status[403]+st.status[404]+st.status[405] == st.requests:
		return ProbeDenied
	case inv.reconOnly(st):
		return ProbeRecon
	}
	return ""
}

func (inv *Inventory) endpoint(host string, t *hostTrie, n *node, method string, st *stats, d *declOp, now time.Time) model.Endpoint {
	ep := model.Endpoint{Host: host, Method: method, Path: n.tmpl, StatusCodes: map[string]int64{}, Parameters: []model.Parameter{},
		Authentication: "unknown", AuthSchemes: []string{}, Exposure: "internal", SensitiveData: []model.SensitiveData{},
		Risk: model.Risk{Factors: []model.RiskFactor{}}, State: "active"}
	if st != nil {
		st.fill(&ep)
	}
	undocumented := !t.declared && len(inv.specs) > 0 // specs were loaded, none for this host
	if t.declared || undocumented {
		doc := d != nil
		ep.Documented = &doc
	}
	if d != nil {
		ep.Deprecated = d.op.Deprecated
		ep.SpecSource = d.source
		declared := map[paramKey]bool{}
		for _, p := range d.op.Params {
			declared[paramKey{p.In, p.Name}] = true
		}
		seen := map[paramKey]bool{}
		for i := range ep.Parameters {
			p := &ep.Parameters[i]
			k := paramKey{p.In, p.Name}
			seen[k] = true
			doc := declared[k]
			if p.In == "path" {
				doc = true // path parameters are matched by position
			}
			p.Documented = &doc
		}
		for _, p := range d.op.Params {
			if seen[paramKey{p.In, p.Name}] || p.In == "path" && st != nil {
				continue
			}
			yes := true
			ep.Parameters = append(ep.Parameters, model.Parameter{Name: p.Name, In: p.In, Type: p.Type, Format: p.Format,
				Required: d.required[paramKey{p.In, p.Name}], ExamplesRedacted: []string{}, Documented: &yes})
		}
		sortParams(ep.Parameters)
		if ep.Authentication == "unknown" && st == nil && d.op.AuthRequired {
			ep.Authentication = "required"
		}
	} else if t.declared {
		for i := range ep.Parameters {
			no := false
			ep.Parameters[i].Documented = &no
		}
	}
	switch {
	case undocumented:
		ep.State = "undocumented"
	case !t.declared:
		ep.State = "active"
	case d == nil:
		ep.State = "shadow"
	case st == nil || st.requests == 0 || now.Sub(st.last) > inv.cfg.UnusedAfter:
		ep.State = "unused"
	case d.op.Deprecated:
		ep.State = "zombie"
	default:
		ep.State = "active"
	}
	return ep
}

// Probes returns the operations that are not endpoints (see probeReason),
// with the reason, sorted by host, path and method.
func (inv *Inventory) Probes() []model.Probe {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.tmplMemo = tmplMemo{} // see Template
	type opKey struct{ host, method, path string }
	acc := make(map[opKey]model.Probe, len(inv.probes))
	add := func(p model.Probe, n int64) {
		k := opKey{p.Host, p.Method, p.Path}
		q, ok := acc[k]
		if !ok {
			q = p
		}
		q.Requests += n
		acc[k] = q
	}
	third := inv.outboundHosts()
	for k, v := range inv.probes {
		if !third[k.Host] {
			add(k, v)
		}
	}
	for _, h := range inv.sortedHosts() {
		if third[h] {
			continue // see Outbound
		}
		walk(inv.hosts[h].root, func(n *node) {
			for m, st := range n.eps {
				if r := inv.probeReason(h, st, n.decl[m]); r != "" {
					add(model.Probe{Host: h, Method: m, Path: n.tmpl, Reason: r}, st.requests)
				}
			}
		})
	}
	out := make([]model.Probe, 0, len(acc))
	for _, p := range acc {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Host != b.Host {
			return a.Host < b.Host
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Method < b.Method
	})
	return out
}

// APIChanges returns population-wide contract changes (new parameters
// adopted by the client population), by time.
func (inv *Inventory) APIChanges() []model.APIChange {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	inv.tmplMemo = tmplMemo{} // see Template
	var out []model.APIChange
	third := inv.outboundHosts()
	for _, h := range inv.sortedHosts() {
		if third[h] {
			continue // not our API's contract
		}
		walk(inv.hosts[h].root, func(n *node) {
			for m, st := range n.eps {
				for _, c := range st.changes {
					c.Endpoint = model.EndpointRef{Host: h, Method: m, Path: n.tmpl}
					out = append(out, c)
				}
			}
		})
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].Time.Equal(out[j].Time) {
			return out[i].Time.Before(out[j].Time)
		}
		if out[i].Endpoint.Key() != out[j].Endpoint.Key() {
			return out[i].Endpoint.Key() < out[j].Endpoint.Key()
		}
		return out[i].Detail < out[j].Detail
	})
	return out
}
