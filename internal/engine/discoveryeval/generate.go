// Package discoveryeval measures how well API discovery (the inventory's
// path templating) generalizes to real-world API shapes it has never
// seen: it synthesizes traffic from OpenAPI specs — values drawn from each
// path parameter's schema —, runs it through the product pipeline without
// the specs (engine.New with the default configuration, one engine per
// spec) and scores the endpoints the inventory discovered against the
// specs' operations (see docs/inventory.md, "Measuring discovery on
// real-world APIs"). cmd/palisade-eval discovery drives it.
package discoveryeval

import (
	"fmt"
	"hash/fnv"
	"math/rand/v2"
	"net/url"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/inventory"
)

// Config of an evaluation run.
type Config struct {
	Requests int   `json:"requests"` // requests per operation (default 60)
	Values   int   `json:"values"`   // distinct values per path parameter (default 40)
	Seed     int64 `json:"seed"`
	MaxOps   int   `json:"max_ops"` // operations per spec (default 300); the rest are dropped and counted
	// Bodies of the responses: BodiesSpec (default; JSON from each
	// operation's success response schema) or BodiesOK ({"ok":true}).
	Bodies string `json:"bodies"`
	// WithSpec loads each spec into the engine (for its host) before its
	// traffic: what is measured is then the matching of concrete paths to
	// declared templates, which should be exact for every operation.
	WithSpec bool `json:"with_spec,omitempty"`
	Show     int  `json:"-"` // examples of each error to print (tuning part only)
}

// Defaults.
const (
	DefaultRequests = 60
	DefaultValues   = 40
	DefaultMaxOps   = 300
)

func (c *Config) defaults() {
	if c.Requests <= 0 {
		c.Requests = DefaultRequests
	}
	if c.Values <= 0 {
		c.Values = DefaultValues
	}
	if c.MaxOps <= 0 {
		c.MaxOps = DefaultMaxOps
	}
	if c.Bodies == "" {
		c.Bodies = BodiesSpec
	}
}

// check returns an error for a configuration Run cannot use.
func (c *Config) check() error {
	if c.Bodies != BodiesSpec && c.Bodies != BodiesOK {
		return fmt.Errorf("bodies %q: want %s or %s", c.Bodies, BodiesSpec, BodiesOK)
	}
	return nil
}

// Start is the event time of the first request; requests spread over
// Span.
var Start = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

// Span of the generated traffic (event time).
const Span = 2 * time.Hour

// Truth is what a generated request stands for.
type Truth struct {
	Spec     string `json:"spec"`     // spec file base name
	Host     string `json:"host"`     // the request's host
	Method   string `json:"method"`   // as declared (upper case)
	Path     string `json:"path"`     // the operation's path as declared
	Template string `json:"template"` // base path + declared path without fragment or query: what discovery should find
	Kinds    []Kind `json:"kinds,omitempty"`
	URLPath  string `json:"url_path"` // escaped path of the request
}

// Key identifies the operation of a truth.
func (t *Truth) Key() string { return t.Spec + " " + t.Method + " " + t.Path }

// Excluded counts what Generate left out or could not generate as the
// schema says. Nothing is dropped silently.
type Excluded struct {
	// Ops: operations left out, by reason.
	Ops map[string]int `json:"ops,omitempty"`
	// Notes: path parameters (one per operation and parameter) whose
	// values do not follow their schema (the generator fell back to free
	// strings, …), by reason.
	Notes map[string]int `json:"notes,omitempty"`
	// Bodies: how the operations answer their 200s (one count per
	// operation, by Body*; BodyTooBig in addition to BodyJSON), with
	// Config.Bodies "spec".
	Bodies map[string]int `json:"bodies,omitempty"`
}

func (x *Excluded) body(kind string) {
	if x.Bodies == nil {
		x.Bodies = map[string]int{}
	}
	x.Bodies[kind]++
}

func (x *Excluded) op(reason string, n int) {
	if n == 0 {
		return
	}
	if x.Ops == nil {
		x.Ops = map[string]int{}
	}
	x.Ops[reason] += n
}

func (x *Excluded) note(reason string) {
	if x.Notes == nil {
		x.Notes = map[string]int{}
	}
	x.Notes[reason]++
}

// Reasons of exclusion.
const (
	ExclFragmentParam = "operation has a parameter in the URL fragment (no request carries it)"
	ExclMalformed     = "operation path is not a template (unbalanced braces)"
	ExclSameURL       = "operation has the same method and URL path as another: they differ only by the URL fragment or query (e.g. AWS X-Amz-Target)"
	ExclSameShape     = "operation has the same method and path shape as another: they differ only by parameter names"
	ExclMaxOps        = "more than MaxOps operations in the spec: the rest dropped"
)

// piece of a path segment: literal text or a parameter.
type piece struct {
	lit   string
	param string // name, when a parameter
}

type opPlan struct {
	method, path string
	segs         [][]piece
	query        []piece // the template's query part ("a={a}&b=1"), when any
	params       []*paramPlan
	kinds        []Kind
	template     string
	resp         respPlan
	tooBig       bool // a body exceeded MaxBody
}

type paramPlan struct {
	name string
	pool []string
	kind Kind   // of the values (free strings when the generator fell back)
	note string // why the values do not follow the schema, when they do not
}

// parseTemplate splits a declared path into segments of pieces and the
// pieces of its query part; reason is set when no URL can stand for it.
func parseTemplate(p string) (segs [][]piece, query []piece, reason string) {
	if i := strings.IndexByte(p, '#'); i >= 0 {
		if strings.Contains(p[i:], "{") {
			return nil, nil, ExclFragmentParam
		}
		p = p[:i]
	}
	if i := strings.IndexByte(p, '?'); i >= 0 {
		q, ok := pieces(p[i+1:])
		if !ok {
			return nil, nil, ExclMalformed
		}
		query = q
		p = p[:i]
	}
	for _, s := range strings.Split(p, "/") {
		if s == "" {
			continue
		}
		ps, ok := pieces(s)
		if !ok {
			return nil, nil, ExclMalformed
		}
		segs = append(segs, ps)
	}
	return segs, query, ""
}

func pieces(s string) ([]piece, bool) {
	var out []piece
	for s != "" {
		i := strings.IndexAny(s, "{}")
		if i < 0 {
			out = append(out, piece{lit: s})
			break
		}
		if s[i] == '}' {
			return nil, false
		}
		if i > 0 {
			out = append(out, piece{lit: s[:i]})
		}
		j := strings.IndexByte(s[i:], '}')
		if j < 0 || strings.Contains(s[i+1:i+j], "{") {
			return nil, false
		}
		name := strings.TrimRight(strings.TrimLeft(s[i+1:i+j], "+#./;?&"), "*")
		if name == "" {
			return nil, false
		}
		out = append(out, piece{param: name})
		s = s[i+j+1:]
	}
	return out, true
}

// shape is the template with parameter names blanked: two operations of
// one method with the same shape cannot be told apart by their URLs.
func shape(segs [][]piece) string { return render(segs, false) }

// named is the template with its parameter names.
func named(segs [][]piece) string { return render(segs, true) }

func render(segs [][]piece, names bool) string {
	var b strings.Builder
	for _, s := range segs {
		b.WriteByte('/')
		for _, p := range s {
			switch {
			case p.param == "":
				b.WriteString(p.lit)
			case names:
				b.WriteString("{" + p.param + "}")
			default:
				b.WriteString("{}")
			}
		}
	}
	if names && b.Len() == 0 {
		b.WriteByte('/')
	}
	return b.String()
}

// SpecID is a spec's identifier from its file name ("googleapis.com__sql").
func SpecID(file string) string {
	base := filepath.Base(file)
	return strings.TrimSuffix(base, filepath.Ext(base))
}

// HostOf is the host a spec's traffic is sent to: its first server host,
// else <sanitized spec id>.example.test.
func HostOf(spec *inventory.Spec, file string) string {
	if len(spec.Hosts) > 0 && spec.Hosts[0] != "" {
		return spec.Hosts[0]
	}
	var b strings.Builder
	dash := false
	for _, c := range strings.ToLower(SpecID(file)) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			b.WriteRune(c)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	id := strings.TrimRight(b.String(), "-")
	if id == "" {
		id = "spec"
	}
	return id + ".example.test"
}

func rngFor(seed int64, parts ...string) *rand.Rand {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return rand.New(rand.NewPCG(uint64(seed), h.Sum64()))
}

// Generate synthesizes the traffic of one spec: Requests requests per
// operation, interleaved at random over two hours of event time from
// Start, from about 50 client addresses, 95 % answered 200 and 5 % 404.
// With Config.Bodies "spec", a 200 answers with JSON generated from the
// operation's success response schema (responsePlan, bodyGen), or 204
// or 200 without a body when it has none; a 404 with {"error":"not
// found"}. With "ok", every response is {"ok":true}.
// Each path parameter takes its values from a pool of Values distinct
// values drawn from its schema (see Kind); the pool of a parameter name
// is shared by the spec's operations that declare it alike. The result is
// the same for the same (Seed, spec file base name). Records are not
// validated (Run does it, as the decoders do).
func Generate(spec *inventory.Spec, specFile string, cfg Config) ([]*exchange.Record, []Truth, Excluded) {
	cfg.defaults()
	var ex Excluded
	file := filepath.Base(specFile)
	host := HostOf(spec, file)
	base := ""
	if len(spec.BasePaths) > 0 {
		base = strings.TrimRight(spec.BasePaths[0], "/")
	}
	baseSegs, _, _ := parseTemplate(base)

	// Plans: exclusions first (a fragment parameter, a malformed path,
	// two operations with one URL), then the MaxOps cap.
	var plans []*opPlan
	byShape := map[string][]int{}
	for _, so := range spec.Ops {
		segs, query, why := parseTemplate(so.Path)
		if why != "" {
			ex.op(why, 1)
			continue
		}
		pl := &opPlan{method: strings.ToUpper(so.Method), path: so.Path, segs: slices.Concat(baseSegs, segs), query: query}
		k := pl.method + " " + shape(pl.segs)
		byShape[k] = append(byShape[k], len(plans))
		plans = append(plans, pl)
	}
	kept := plans[:0:0]
	for _, pl := range plans {
		group := byShape[pl.method+" "+shape(pl.segs)]
		if len(group) == 1 {
			kept = append(kept, pl)
			continue
		}
		why := ExclSameShape
		for _, j := range group {
			if o := plans[j]; o != pl && named(o.segs) == named(pl.segs) {
				why = ExclSameURL
			}
		}
		ex.op(why, 1)
	}
	if len(kept) > cfg.MaxOps {
		ex.op(ExclMaxOps, len(kept)-cfg.MaxOps)
		kept = kept[:cfg.MaxOps]
	}

	// Value pools, one per (parameter name, schema) of the spec.
	pools := map[string]*paramPlan{}
	for _, pl := range kept {
		if cfg.Bodies != BodiesOK {
			pl.resp = responsePlan(spec, pl.path, pl.method)
			ex.body(pl.resp.kind)
		}
		decl := declared(spec, pl.path, pl.method)
		pl.template = named(pl.segs)
		for _, p := range slices.Concat(slices.Concat(pl.segs...), pl.query) {
			if p.param == "" {
				continue
			}
			ps, note := decl.specOf(p.param)
			if note != "" {
				ex.note(note)
			}
			key := p.param + "\x00" + ps.key()
			pp := pools[key]
			if pp == nil {
				vals, kind, note := makePool(rngFor(cfg.Seed, file, "pool", key), ps, cfg.Values)
				if len(vals) == 0 {
					// An enum of empty strings: a parameter no request can
					// carry (an empty segment is dropped).
					vals, kind = freePool(rngFor(cfg.Seed, file, "pool", key), cfg.Values), KindFree
					note = "no usable value in the schema: free strings instead"
				}
				pp = &paramPlan{name: p.param, pool: vals, kind: kind, note: note}
				pools[key] = pp
			}
			if pp.note != "" {
				ex.note(pp.note)
			}
			pl.params = append(pl.params, pp)
			pl.kinds = append(pl.kinds, pp.kind)
		}
	}

	rng := rngFor(cfg.Seed, file, "traffic")
	clients := make([]string, 0, 50)
	seenClient := map[string]bool{}
	for len(clients) < 50 {
		ip := fmt.Sprintf("10.%d.%d.%d", rng.IntN(256), rng.IntN(256), 1+rng.IntN(254))
		if !seenClient[ip] {
			seenClient[ip] = true
			clients = append(clients, ip)
		}
	}
	total := len(kept) * cfg.Requests
	order := make([]int, total)
	for i := range order {
		order[i] = i / cfg.Requests
	}
	rng.Shuffle(total, func(i, j int) { order[i], order[j] = order[j], order[i] })
	offsets := make([]int64, total)
	for i := range offsets {
		offsets[i] = rng.Int64N(int64(Span / time.Millisecond))
	}
	slices.Sort(offsets)

	recs := make([]*exchange.Record, 0, total)
	truths := make([]Truth, 0, total)
	bodies := newBodyGen()
	vals := make(map[*paramPlan]string, 4)
	for i, oi := range order {
		pl := kept[oi]
		clear(vals)
		pick := func(pp *paramPlan) string {
			if v, ok := vals[pp]; ok { // one value per name within a request
				return v
			}
			v := pp.pool[rng.IntN(len(pp.pool))]
			vals[pp] = v
			return v
		}
		var pb strings.Builder
		k := 0
		for _, s := range pl.segs {
			pb.WriteByte('/')
			for _, p := range s {
				if p.param != "" {
					pb.WriteString(url.PathEscape(pick(pl.params[k])))
					k++
				} else {
					pb.WriteString(url.PathEscape(p.lit))
				}
			}
		}
		if pb.Len() == 0 {
			pb.WriteByte('/')
		}
		path := pb.String()
		u := "https://" + host + path
		if len(pl.query) > 0 {
			var qb strings.Builder
			for _, p := range pl.query {
				if p.param != "" {
					qb.WriteString(url.QueryEscape(pick(pl.params[k])))
					k++
				} else {
					qb.WriteString(p.lit)
				}
			}
			u += "?" + qb.String()
		}
		status := 200
		if rng.IntN(100) < 5 {
			status = 404
		}
		rec := &exchange.Record{
			Time:       Start.Add(time.Duration(offsets[i]) * time.Millisecond),
			DurationMs: float64(5 + rng.IntN(120)),
			Client:     exchange.Client{IP: clients[rng.IntN(len(clients))], Port: 40000 + rng.IntN(20000)},
			Request: exchange.Request{
				Method:  pl.method,
				URL:     u,
				Headers: map[string]string{"user-agent": "discoveryeval/1", "accept": "application/json"},
			},
			Response: response(cfg.Bodies, status, pl, bodies, cfg.Seed, file, i),
		}
		switch pl.method {
		case "POST", "PUT", "PATCH":
			rec.Request.Body = "{}"
			rec.Request.Headers["content-type"] = "application/json"
		}
		recs = append(recs, rec)
		truths = append(truths, Truth{Spec: file, Host: host, Method: pl.method, Path: pl.path, Template: pl.template, Kinds: pl.kinds, URLPath: path})
	}
	for _, pl := range kept {
		if pl.tooBig {
			ex.body(BodyTooBig)
		}
	}
	return recs, truths, ex
}

// response is the response of request i (in time order) of an
// operation. Its body is drawn with a generator of its own, seeded by
// (seed, file, i): the rest of the traffic does not depend on the bodies.
func response(mode string, status int, pl *opPlan, bodies *bodyGen, seed int64, file string, i int) exchange.Response {
	jsonCT := map[string]string{"content-type": "application/json"}
	switch {
	case mode == BodiesOK:
		return exchange.Response{Status: status, Headers: jsonCT, Body: okBody}
	case status == 404:
		return exchange.Response{Status: status, Headers: jsonCT, Body: notFoundBody}
	case pl.resp.schema == nil:
		return exchange.Response{Status: pl.resp.status}
	}
	body := bodies.body(pl.resp.schema, rngFor(seed, file, "body", strconv.Itoa(i)))
	if body == "" {
		pl.tooBig = true
		return exchange.Response{Status: status}
	}
	return exchange.Response{Status: status, Headers: map[string]string{"content-type": pl.resp.ctype}, Body: body}
}

// decl is what a spec declares about the path parameters of one
// operation.
type decl struct {
	params  map[string]*openapi3.Parameter // from the kin-openapi document
	lenient map[string][2]string           // name → type, format (specs loaded leniently)
}

func declared(spec *inventory.Spec, path, method string) decl {
	var d decl
	if spec.Doc != nil && spec.Doc.Paths != nil {
		if item := spec.Doc.Paths.Value(path); item != nil {
			d.params = map[string]*openapi3.Parameter{}
			var lists []openapi3.Parameters
			if op := item.GetOperation(method); op != nil {
				lists = append(lists, op.Parameters)
			}
			lists = append(lists, item.Parameters)
			// Path parameters first, then others of the same name (a
			// template's query part names query parameters); the
			// operation's declarations override the path item's.
			for _, in := range []string{"path", ""} {
				for _, list := range lists {
					for _, pr := range list {
						if pr == nil || pr.Value == nil || (in != "" && pr.Value.In != in) {
							continue
						}
						if _, ok := d.params[pr.Value.Name]; !ok {
							d.params[pr.Value.Name] = pr.Value
						}
					}
				}
			}
			return d
		}
	}
	for _, so := range spec.Ops {
		if so.Path == path && strings.EqualFold(so.Method, method) {
			d.lenient = map[string][2]string{}
			for _, p := range so.Op.Params {
				if _, ok := d.lenient[p.Name]; !ok || p.In == "path" {
					d.lenient[p.Name] = [2]string{p.Type, p.Format}
				}
			}
		}
	}
	return d
}

// specOf returns how to generate the values of a template parameter, and
// a note when the schema could not be followed.
func (d decl) specOf(name string) (paramSpec, string) {
	if d.params == nil {
		if tf, ok := d.lenient[name]; ok {
			return fromTypeFormat(tf[0], tf[1]), "spec loaded leniently: parameter values from its type and format only"
		}
		return paramSpec{kind: KindFree}, "template parameter not declared: free strings"
	}
	prm := d.params[name]
	if prm == nil {
		return paramSpec{kind: KindFree}, "template parameter not declared: free strings"
	}
	sch := schemaOf(prm.Schema)
	if sch == nil {
		if ex, ok := exampleString(prm.Example); ok {
			return paramSpec{kind: KindExample, example: ex}, ""
		}
		return paramSpec{kind: KindFree}, "parameter without schema: free strings"
	}
	if len(sch.Enum) > 0 {
		ps := paramSpec{kind: KindEnum}
		for _, v := range sch.Enum {
			if s, ok := exampleString(v); ok {
				ps.enum = append(ps.enum, s)
			}
		}
		if len(ps.enum) > 0 {
			return ps, ""
		}
	}
	typ := ""
	if sch.Type != nil {
		for _, t := range sch.Type.Slice() {
			if t != "null" {
				typ = t
				break
			}
		}
	}
	switch typ {
	case "integer", "number":
		return paramSpec{kind: KindInt, min: sch.Min, max: sch.Max}, ""
	case "boolean":
		return paramSpec{kind: KindEnum, enum: []string{"true", "false"}}, "boolean parameter: its two values (enum row)"
	case "array", "object":
		return paramSpec{kind: KindFree}, "array or object path parameter: free strings"
	}
	switch sch.Format {
	case "uuid":
		return paramSpec{kind: KindUUID}, ""
	case "date":
		return paramSpec{kind: KindDate}, ""
	case "date-time":
		return paramSpec{kind: KindDateTime}, ""
	case "email":
		return paramSpec{kind: KindEmail}, ""
	}
	var examples []any
	examples = append(examples, sch.Example, prm.Example)
	names := make([]string, 0, len(prm.Examples))
	for k := range prm.Examples {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if e := prm.Examples[k]; e != nil && e.Value != nil {
			examples = append(examples, e.Value.Value)
		}
	}
	examples = append(examples, sch.Examples...)
	for _, e := range examples {
		if s, ok := exampleString(e); ok && s != "" {
			return paramSpec{kind: KindExample, example: s}, ""
		}
	}
	if sch.Pattern != "" {
		return paramSpec{kind: KindPattern, pattern: sch.Pattern}, ""
	}
	return paramSpec{kind: KindFree}, ""
}

func fromTypeFormat(typ, format string) paramSpec {
	switch typ {
	case "integer", "number":
		return paramSpec{kind: KindInt}
	case "boolean":
		return paramSpec{kind: KindEnum, enum: []string{"true", "false"}}
	}
	switch format {
	case "uuid":
		return paramSpec{kind: KindUUID}
	case "date":
		return paramSpec{kind: KindDate}
	case "date-time":
		return paramSpec{kind: KindDateTime}
	case "email":
		return paramSpec{kind: KindEmail}
	}
	return paramSpec{kind: KindFree}
}

// schemaOf resolves a parameter schema: its value ($ref resolved by the
// loader), or the single member of an allOf/oneOf/anyOf that says nothing
// itself.
func schemaOf(r *openapi3.SchemaRef) *openapi3.Schema {
	for depth := 0; r != nil && r.Value != nil; depth++ {
		s := r.Value
		if depth == 8 || !s.Type.IsEmpty() || s.Format != "" || len(s.Enum) > 0 || s.Pattern != "" {
			return s
		}
		var only *openapi3.SchemaRef
		for _, list := range []openapi3.SchemaRefs{s.AllOf, s.OneOf, s.AnyOf} {
			if len(list) == 1 {
				only = list[0]
				break
			}
		}
		if only == nil {
			return s
		}
		r = only
	}
	if r != nil {
		return r.Value
	}
	return nil
}

// exampleString renders a scalar example or enum value as it would
// appear in a path.
func exampleString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case float64:
		if x == float64(int64(x)) {
			return strconv.FormatInt(int64(x), 10), true
		}
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case int:
		return strconv.Itoa(x), true
	case int64:
		return strconv.FormatInt(x, 10), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}
