package inventory

import (
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/DataDog/sketches-go/ddsketch"

	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/hashing"
	"github.com/palisade-sec/palisade/internal/model"
)

// Per-endpoint bounds. Memory of one endpoint is dominated by its sketches:
// three DDSketches (bounded to sketchBins bins each, ≈ 8 bytes a bin) and two
// HyperLogLogs (sparse while small, 16 KiB each once dense at precision 14).
const (
	sketchBins        = 512
	maxParamsPerEP    = 64
	maxAuthSchemes    = 16
	maxParamExamples  = 3
	schemaFullSamples = 32 // bodies parsed before sampling starts
	schemaSampleEvery = 16 // then 1 body in this many
	schemaSlowAfter   = 4096
	typeFullSamples   = 64 // parameter values typed before sampling starts
	typeSampleEvery   = 16 // then 1 value in this many
)

// stats of one operation (host, method, template).
type stats struct {
	first, last time.Time
	requests    int64
	outbound    int64 // requests from outbound records (our services calling the host)
	status      map[int]int64

	okWithCreds, okNoCreds int64
	authSchemes            []string
	schemes                uint8 // bits: http, https, ws, wss, other
	external               bool

	latency, reqSize, respSize *ddsketch.DDSketch
	clients, identities        distinct
	few                        [4]uint64 // the first distinct client hashes (recon.go)
	nfew                       int       // len(few) + 1: more clients than that

	params        map[paramKey]*paramStats
	paramsDropped int64

	reqSchema, respSchema *schema
	reqBodies, respBodies int64 // JSON bodies offered to inference
	bodyErrors            int64 // bodies that looked like JSON but did not parse

	changes []model.APIChange

	gql *gqlStats // GraphQL operations (graphql.go); nil without GraphQL requests
}

type paramKey struct{ in, name string }

type paramStats struct {
	seen      int64
	firstSeen time.Time
	firstAt   int64 // endpoint request count when first seen
	types     map[string]int64
	formats   map[string]int64
	examples  []string
	reported  bool
	clients   [3]uint64 // a few distinct client hashes (adoption by more than one client)
	nclients  int
}

func newStats() *stats { return &stats{status: make(map[int]int64, 4)} }

func newSketch() *ddsketch.DDSketch {
	s, err := ddsketch.LogCollapsingLowestDenseDDSketch(0.01, sketchBins)
	if err != nil {
		panic(err) // constant arguments: cannot fail
	}
	return s
}

var schemeBits = map[string]uint8{"http": 1, "https": 2, "ws": 4, "wss": 8}

// observe updates the statistics with one event and returns the hash of
// its client address (0 when it has none). The body parser is shared by
// the inventory.
func (st *stats) observe(ev *event.Event, params []event.PathParam, bp *bodyParser, cfg *Config, ref model.EndpointRef) uint64 {
	if st.requests == 0 || ev.Time.Before(st.first) {
		st.first = ev.Time
	}
	if ev.Time.After(st.last) {
		st.last = ev.Time
	}
	st.requests++
	if ev.Outbound {
		st.outbound++
	}
	st.status[ev.Status]++
	if ev.Success() {
		switch {
		case ev.Auth.Credentials:
			st.okWithCreds++
		case ev.Auth.Unseen:
			// The sensor could not show credentials: says nothing.
		default:
			st.okNoCreds++
		}
	}
	for _, s := range ev.Auth.Schemes {
		st.addScheme(s)
	}
	if b, ok := schemeBits[ev.Scheme]; ok {
		st.schemes |= b
	} else {
		st.schemes |= 16
	}
	if ev.External {
		st.external = true
	}
	rec := ev.Rec
	if rec != nil {
		if rec.DurationMs > 0 {
			if st.latency == nil {
				st.latency = newSketch()
			}
			_ = st.latency.Add(rec.DurationMs)
		}
		if rec.Request.Size > 0 {
			if st.reqSize == nil {
				st.reqSize = newSketch()
			}
			_ = st.reqSize.Add(float64(rec.Request.Size))
		}
		if rec.Response.Size > 0 {
			if st.respSize == nil {
				st.respSize = newSketch()
			}
			_ = st.respSize.Add(float64(rec.Response.Size))
		}
	}
	var ipHash uint64
	if ev.ClientIP.IsValid() {
		b := ev.ClientIP.As16()
		ipHash = hashing.Sketch(b[:])
		st.clients.insert(ipHash)
		st.addFew(ipHash)
	}
	if id := ev.Identity(); id != nil && id.ID != "" {
		st.identities.insert(hashing.Sketch(id.ID))
	}
	for _, p := range params {
		st.param(ev, cfg, ref, "path", p.Name, p.Value, ipHash, false)
	}
	for name, vals := range ev.Query {
		v := ""
		if len(vals) > 0 {
			v = vals[0]
		}
		st.param(ev, cfg, ref, "query", name, v, ipHash, len(vals) > 1)
	}
	if rec != nil {
		for name, v := range rec.Request.Headers {
			if headerParam(name) {
				st.param(ev, cfg, ref, "header", name, v, ipHash, false)
			}
		}
		st.bodies(ev, bp)
	}
	st.graphQL(ev, bp)
	return ipHash
}

func (st *stats) addScheme(s string) {
	for _, x := range st.authSchemes {
		if x == s {
			return
		}
	}
	if len(st.authSchemes) < maxAuthSchemes {
		st.authSchemes = append(st.authSchemes, strings.Clone(s))
	}
}

// headerParam selects request headers worth inventorying as parameters:
// custom x-* headers that are neither transport metadata nor credentials
// (credentials are reported as auth_schemes).
func headerParam(name string) bool {
	if !strings.HasPrefix(name, "x-") {
		return false
	}
	switch name {
	case "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-port", "x-real-ip",
		"x-request-id", "x-amzn-trace-id", "x-b3-traceid", "x-b3-spanid", "x-b3-parentspanid", "x-b3-sampled",
		"x-envoy-expected-rq-timeout-ms", "x-envoy-attempt-count", "x-envoy-external-address", "x-envoy-internal",
		"x-cloud-trace-context", "x-correlation-id", "x-requested-with", "x-original-forwarded-for":
		return false
	}
	return !sensitiveName(name)
}

func (st *stats) param(ev *event.Event, cfg *Config, ref model.EndpointRef, in, name, v string, client uint64, array bool) {
	k := paramKey{in, name}
	p := st.params[k]
	if p == nil {
		if len(st.params) >= maxParamsPerEP {
			st.paramsDropped++
			return
		}
		if st.params == nil {
			st.params = make(map[paramKey]*paramStats, 4)
		}
		p = &paramStats{firstSeen: ev.Time, firstAt: st.requests - 1, types: make(map[string]int64, 1)}
		k.name = strings.Clone(name) // kept: not a view of the record's text
		st.params[k] = p
	}
	p.seen++
	// Types are learned from the first values, then from a sample.
	if p.seen <= typeFullSamples || p.seen%typeSampleEvery == 0 {
		typ, format := valueType(v)
		if array {
			typ, format = "array", ""
		}
		p.types[typ]++
		if format != "" {
			if p.formats == nil {
				p.formats = make(map[string]int64, 1)
			}
			p.formats[format]++
		}
		if len(p.examples) < maxParamExamples && p.seen <= typeFullSamples {
			e := redactExample(name, typ, format, v)
			dup := false
			for _, x := range p.examples {
				dup = dup || x == e
			}
			if !dup {
				p.examples = append(p.examples, strings.Clone(e))
			}
		}
	}
	if client != 0 && p.nclients < len(p.clients) {
		dup := false
		for _, c := range p.clients[:p.nclients] {
			dup = dup || c == client
		}
		if !dup {
			p.clients[p.nclients] = client
			p.nclients++
		}
	}
	// Population-wide adoption of a new query/header parameter: the
	// endpoint had history without it, and since it appeared (nearly) every
	// request from more than one client carries it.
	if in != "path" && !p.reported && p.firstAt >= int64(cfg.ChangeMinHistory) {
		since := st.requests - p.firstAt
		if since >= int64(cfg.ChangeWindow) && p.nclients >= 2 {
			if float64(p.seen) >= cfg.ChangeAdoption*float64(since) {
				p.reported = true
				ref.Host, ref.Method = strings.Clone(ref.Host), strings.Clone(ref.Method)
				st.changes = append(st.changes, model.APIChange{Time: p.firstSeen, Endpoint: ref, Kind: "parameter_added",
					Detail: in + " parameter " + strconv.Quote(name) + " first seen after " + strconv.FormatInt(p.firstAt, 10) +
						" requests without it, then carried by " + strconv.FormatInt(p.seen, 10) + " of the next " + strconv.FormatInt(since, 10)})
			} else if since >= 4*int64(cfg.ChangeWindow) {
				p.reported = true // never adopted widely: stop checking
			}
		}
	}
}

func (st *stats) bodies(ev *event.Event, bp *bodyParser) {
	rec := ev.Rec
	if rec.Request.Body != "" && jsonish(rec.Request.Header("content-type")) {
		st.reqBodies++
		if sampled(st.reqBodies) {
			st.reqSchema = st.fold(st.reqSchema, bp, rec.Request.BodyText())
		}
	}
	if ev.Status >= 200 && ev.Status < 300 && rec.Response.HasBody() && jsonish(rec.Response.Header("content-type")) {
		st.respBodies++
		if sampled(st.respBodies) {
			st.respSchema = st.fold(st.respSchema, bp, rec.Response.BodyText())
		}
	}
}

// sampled: the first bodies of an endpoint are all parsed, then one in
// schemaSampleEvery, and past schemaSlowAfter (a schema long converged) one
// in schemaSampleEvery*8 — a field that appears late is still seen within a
// few hundred requests of the endpoint.
func sampled(n int64) bool {
	switch {
	case n <= schemaFullSamples:
		return true
	case n <= schemaSlowAfter:
		return n%schemaSampleEvery == 0
	}
	return n%(schemaSampleEvery*8) == 0
}

// jsonish accepts JSON media types and a missing content type (the parser
// then decides: only bodies starting with { or [ are tried).
func jsonish(ct string) bool {
	return ct == "" || strings.Contains(ct, "json")
}

func (st *stats) fold(into *schema, bp *bodyParser, body string) *schema {
	tmp := &schema{}
	if err := bp.parse(body, tmp); err != nil {
		if err != errNotJSON {
			st.bodyErrors++
		}
		return into
	}
	if into == nil {
		return tmp
	}
	into.merge(tmp)
	return into
}

// merge folds o (a collapsed sibling's statistics) into st.
func (st *stats) merge(o *stats) {
	if o.requests > 0 && (st.requests == 0 || o.first.Before(st.first)) {
		st.first = o.first
	}
	if o.last.After(st.last) {
		st.last = o.last
	}
	base := st.requests
	st.requests += o.requests
	st.outbound += o.outbound
	for k, v := range o.status {
		st.status[k] += v
	}
	st.okWithCreds += o.okWithCreds
	st.okNoCreds += o.okNoCreds
	for _, s := range o.authSchemes {
		st.addScheme(s)
	}
	st.schemes |= o.schemes
	st.external = st.external || o.external
	st.latency = mergeSketch(st.latency, o.latency)
	st.reqSize = mergeSketch(st.reqSize, o.reqSize)
	st.respSize = mergeSketch(st.respSize, o.respSize)
	st.clients.merge(&o.clients)
	st.identities.merge(&o.identities)
	if o.nfew > len(o.few) {
		st.nfew = len(st.few) + 1
	} else {
		for _, h := range o.few[:o.nfew] {
			st.addFew(h)
		}
	}
	for k, p := range o.params {
		q := st.params[k]
		if q == nil {
			if len(st.params) >= maxParamsPerEP {
				st.paramsDropped++
				continue
			}
			if st.params == nil {
				st.params = make(map[paramKey]*paramStats)
			}
			p.firstAt += base
			st.params[k] = p
			continue
		}
		q.seen += p.seen
		if p.firstSeen.Before(q.firstSeen) {
			q.firstSeen = p.firstSeen
		}
		for t, n := range p.types {
			q.types[t] += n
		}
		for f, n := range p.formats {
			if q.formats == nil {
				q.formats = make(map[string]int64)
			}
			q.formats[f] += n
		}
		for _, e := range p.examples {
			if len(q.examples) >= maxParamExamples {
				break
			}
			dup := false
			for _, x := range q.examples {
				dup = dup || x == e
			}
			if !dup {
				q.examples = append(q.examples, e)
			}
		}
		q.reported = q.reported || p.reported
	}
	st.paramsDropped += o.paramsDropped
	if o.reqSchema != nil {
		if st.reqSchema == nil {
			st.reqSchema = o.reqSchema
		} else {
			st.reqSchema.merge(o.reqSchema)
		}
	}
	if o.respSchema != nil {
		if st.respSchema == nil {
			st.respSchema = o.respSchema
		} else {
			st.respSchema.merge(o.respSchema)
		}
	}
	st.reqBodies += o.reqBodies
	st.respBodies += o.respBodies
	st.bodyErrors += o.bodyErrors
	st.changes = append(st.changes, o.changes...)
	if o.gql != nil {
		if st.gql == nil {
			st.gql = o.gql
		} else {
			st.gql.merge(o.gql)
		}
	}
}

func mergeSketch(a, b *ddsketch.DDSketch) *ddsketch.DDSketch {
	if b == nil {
		return a
	}
	if a == nil {
		return b
	}
	_ = a.MergeWith(b) // same mapping by construction
	return a
}

func distribution(s *ddsketch.DDSketch) *model.Distribution {
	if s == nil || s.IsEmpty() {
		return nil
	}
	q, err := s.GetValuesAtQuantiles([]float64{0.5, 0.9, 0.99})
	if err != nil {
		return nil
	}
	mx, _ := s.GetMaxValue()
	return &model.Distribution{P50: round2(q[0]), P90: round2(q[1]), P99: round2(q[2]), Max: round2(mx)}
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }

// fill writes the statistics into an inventory entry.
func (st *stats) fill(ep *model.Endpoint) {
	f, l := st.first, st.last
	ep.FirstSeen, ep.LastSeen = &f, &l
	ep.Requests = st.requests
	for c, n := range st.status {
		ep.StatusCodes[strconv.Itoa(c)] = n
	}
	switch {
	case st.okNoCreds > 0:
		ep.Authentication = "none"
	case st.okWithCreds > 0:
		ep.Authentication = "required"
	}
	ep.AuthSchemes = append([]string{}, st.authSchemes...)
	sort.Strings(ep.AuthSchemes)
	if st.external {
		ep.Exposure = "external"
	}
	ep.Latency = distribution(st.latency)
	ep.RequestSize = distribution(st.reqSize)
	ep.ResponseSize = distribution(st.respSize)
	if n, ok := st.clients.estimate(); ok {
		ep.Clients = int64(n)
	}
	if n, ok := st.identities.estimate(); ok {
		ep.Identities = int64(n)
	}
	for i, name := range []string{"http", "https", "ws", "wss"} {
		if st.schemes&(1<<i) != 0 {
			ep.Schemes = append(ep.Schemes, name)
		}
	}
	for k, p := range st.params {
		typ, format := p.dominant()
		ep.Parameters = append(ep.Parameters, model.Parameter{Name: k.name, In: k.in, Type: typ, Format: format,
			Required: k.in == "path" || p.seen*100 >= 98*st.requests, ExamplesRedacted: append([]string{}, p.examples...),
			Seen: p.seen, FirstSeen: timePtr(p.firstSeen)})
	}
	if st.reqSchema != nil && st.reqSchema.types&tObj != 0 {
		req := st.reqSchema.required()
		for name, c := range st.reqSchema.props {
			if _, dup := st.params[paramKey{"body", name}]; dup {
				continue
			}
			ep.Parameters = append(ep.Parameters, model.Parameter{Name: name, In: "body", Type: c.primaryType(),
				Format: c.format, Required: contains(req, name), ExamplesRedacted: append([]string{}, c.examples...), Seen: c.count})
		}
		ep.RequestSchema = st.reqSchema.jsonSchema()
	} else if st.reqSchema != nil {
		ep.RequestSchema = st.reqSchema.jsonSchema()
	}
	if st.respSchema != nil {
		ep.ResponseSchema = st.respSchema.jsonSchema()
	}
	sortParams(ep.Parameters)
	if st.gql != nil {
		ep.GraphQL = st.gql.summary()
	}
}

var inOrder = map[string]int{"path": 0, "query": 1, "header": 2, "body": 3}

func sortParams(ps []model.Parameter) {
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].In != ps[j].In {
			return inOrder[ps[i].In] < inOrder[ps[j].In]
		}
		return ps[i].Name < ps[j].Name
	})
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func timePtr(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// dominant returns the most frequent type (integer and number widen to
// number when both occur; any string makes it a string) and a format shared
// by every value of that type.
func (p *paramStats) dominant() (string, string) {
	typ := ""
	switch {
	case p.types["array"] > 0:
		typ = "array"
	case p.types["string"] > 0:
		typ = "string"
	case p.types["number"] > 0:
		typ = "number"
	case p.types["integer"] > 0 && p.types["boolean"] > 0:
		typ = "string"
	case p.types["integer"] > 0:
		typ = "integer"
	case p.types["boolean"] > 0:
		typ = "boolean"
	default:
		typ = "string"
	}
	format := ""
	switch typ {
	case "integer":
		if p.formats["int64"] > 0 {
			format = "int64"
		}
	case "string":
		for f, n := range p.formats {
			if f != "int32" && f != "int64" && n == p.types["string"] {
				format = f
			}
		}
	}
	return typ, format
}
