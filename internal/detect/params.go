package detect

import (
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/palisade-sec/palisade/internal/alert"
	"github.com/palisade-sec/palisade/internal/authzname"
	"github.com/palisade-sec/palisade/internal/config"
	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/jsonscan"
	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/pipeline"
)

// Family "params": param.unseen and param.anomalous_type.
//
// Parameters are query parameters, top-level fields of JSON and form
// request bodies, and custom request headers (x-…, minus tracing and proxy
// headers). Per endpoint the family learns which parameters exist and, per
// parameter, which value types occur (empty, boolean, integer, number,
// UUID, token, text, object/array). Parameters declared in a loaded spec
// (Config.Specs) are known, with their declared type, from the first
// request, and an endpoint the spec declares needs no learning period
// (undeclared parameters there are candidates at once: adopted by the
// population they are recorded as API changes — documentation drift).
//
// Learning: an endpoint is in learning until it has learn_requests
// requests (default 200) spanning learn_time (default 1 h); every
// parameter seen meanwhile is normal.
//
// param.unseen: after learning, a parameter never seen on the endpoint
// becomes a candidate. When adopt_subjects distinct subjects (default 5) use
// it, it is a population-wide API change (a release): it is recorded (see
// APIChanges) and never alerts. When it has been around for decide_time
// (default 1 h) or decide_requests other requests (default 50) reached the
// endpoint without it, and at most two subjects used it, the first subject
// gets a param.unseen alert (time and sample of the first use). Decisions
// are deferred, so the alert arrives up to decide_time after the first use.
// A query parameter that pages through or orders a list (page, limit,
// offset, cursor, sort …: pagingParams) is learned then instead: the
// first client with more orders than fit on a page sends ?page=2 long
// after the endpoint's learning (adopted by the population, it is
// recorded as an API change like any other).
//
// param.anomalous_type (never for secrets such as password or token
// fields, whose values are free-form): a value of a type that the parameter has shown in
// less than 0.1 % of type_gate+ observations (default 100) and that no
// common (≥ 1 %) type of the parameter accepts (text accepts any scalar,
// token accepts numbers and UUIDs, number accepts integers), or that the
// spec's declared type does not accept.
//
// Memory: per endpoint ≈ 180 bytes (the writers' counter of massAssign
// included) + per parameter ≈ 200 bytes (+ 300 bytes while a candidate),
// at most max_params_per_endpoint (default 128) parameters per endpoint —
// further names are counted in Dropped() — and
// max_endpoints (default 20,000) endpoints, LRU. Recorded API changes are
// capped at 10,000.

func init() {
	Register("params", func(cfg Config) Detector { return newParams(cfg) })
	RegisterOptions("params", func() FamilyOptions { return defaultParamsOptions() })
}

// paramsOptions are the params family's options (detect.options.params).
type paramsOptions struct {
	LearnRequests        float64         `yaml:"learn_requests" doc:"requests to an endpoint before a new parameter is a candidate"`
	LearnTime            config.Duration `yaml:"learn_time" doc:"time from an endpoint's first request before a new parameter is a candidate"`
	AdoptSubjects        float64         `yaml:"adopt_subjects" doc:"subjects using a new parameter that make it an API change (no alert)"`
	DecideTime           config.Duration `yaml:"decide_time" doc:"time after which a candidate used by few subjects raises param.unseen"`
	DecideRequests       float64         `yaml:"decide_requests" doc:"other requests to the endpoint after which a candidate used by few subjects raises param.unseen"`
	TypeGate             float64         `yaml:"type_gate" doc:"observations of a parameter before its value types are judged"`
	MaxParamsPerEndpoint int             `yaml:"max_params_per_endpoint" doc:"parameters learned per endpoint"`
	MaxEndpoints         int             `yaml:"max_endpoints" doc:"endpoints tracked (LRU)"`
	MaxBody              int             `yaml:"max_body" doc:"bytes of a request body inspected for parameters"`
}

func defaultParamsOptions() *paramsOptions {
	return &paramsOptions{
		LearnRequests:        200,
		LearnTime:            config.Duration(time.Hour),
		AdoptSubjects:        5,
		DecideTime:           config.Duration(time.Hour),
		DecideRequests:       50,
		TypeGate:             100,
		MaxParamsPerEndpoint: 128,
		MaxEndpoints:         20000,
		MaxBody:              64 << 10,
	}
}

// Validate implements config.Validator.
func (o *paramsOptions) Validate() error { return checkOptions(o) }

// Value types, ordered.
const (
	vtEmpty = iota
	vtBool
	vtInt
	vtNumber
	vtUUID
	vtToken
	vtText
	vtObject
	vtCount
)

var vtNames = [vtCount]string{"empty", "boolean", "integer", "number", "uuid", "token", "text", "object"}

// accepts reports whether a parameter whose values are of type l also
// normally takes values of type t.
func accepts(l, t int) bool {
	switch {
	case l == t || t == vtEmpty:
		return true
	case l == vtText:
		return t != vtObject
	case l == vtToken:
		return t == vtInt || t == vtNumber || t == vtUUID || t == vtBool
	case l == vtNumber:
		return t == vtInt
	}
	return false
}

// valueType classifies a scalar value.
func valueType(v string) int {
	if v == "" {
		return vtEmpty
	}
	if v == "true" || v == "false" {
		return vtBool
	}
	if looksUUID(v) {
		return vtUUID
	}
	digits, dot, token := true, 0, true
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= '0' && c <= '9':
		case c == '-' && i == 0:
		case c == '.':
			dot++
		default:
			digits = false
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c == '-' || c == ':' || c == '+' || c == '/' || c == '=' || c == '@') {
				token = false
			}
		}
	}
	switch {
	case digits && dot == 0 && v != "-":
		return vtInt
	case digits && dot == 1 && len(v) > 1:
		return vtNumber
	case token:
		return vtToken
	}
	return vtText
}

func specType(typ, format string) int {
	switch typ {
	case "integer":
		return vtInt
	case "number":
		return vtNumber
	case "boolean":
		return vtBool
	case "object", "array":
		return vtObject
	case "string":
		if format == "uuid" {
			return vtUUID
		}
		return vtText
	}
	return -1
}

type paramsDetector struct {
	keyed
	learnN, adopt, decideN, typeGate float64
	learnT, decideT                  time.Duration
	maxParams, maxBody               int
	eps                              *lru[paramEndpoint]
	specs                            pipeline.SpecLookup
	changes                          []model.APIChange
	dropped                          map[string]int64
	scratch                          []obsParam
	js                               jsonScanner
	ownHdrs                          []reqHeader  // header list without an engine
	ownQuery                         []queryParam // query list without an engine
	readyEP, readyType               readyMark
	endUsers                         endUsers
}

type paramEndpoint struct {
	ref      model.EndpointRef
	first    time.Time
	n        float64
	learned  bool
	params   [3]map[string]*paramStat // by location: query, header, body
	nparams  int
	cands    []*paramStat
	declared bool
	served   bool // answered something other than 4xx (not only a probe path)
	// writers: distinct subjects of the endpoint's write requests
	// (POST, PUT, PATCH) during its learning (see massAssign).
	writers lin256
}

type paramStat struct {
	name, in string
	seen     float64
	types    [vtCount]float32
	declared int  // spec type, -1 when undeclared
	secret   int8 // secretParam(name): 0 not computed yet, 1 no, 2 yes
	cand     *paramCandidate
}

type paramCandidate struct {
	first    time.Time
	subj     uint64
	subjects lin256
	others   float64 // requests to the endpoint without the parameter since first use
	uses     float64 // requests by the first subject with it
	state    int     // 0 open, 1 adopted, 2 reported, 3 undecided at the budget
	hit      Hit
	// authz: opened during the endpoint's learning, an authorization
	// attribute in an end user's write (massAssign), after writers
	// subjects wrote to the endpoint without it.
	authz   bool
	writers float64
}

type obsParam struct {
	name, in, value string
	object          bool
}

func newParams(cfg Config) *paramsDetector {
	o := optionsFor[*paramsOptions](cfg, "params")
	return &paramsDetector{
		endUsers:  newEndUsers(cfg),
		learnN:    o.LearnRequests,
		learnT:    o.LearnTime.D(),
		adopt:     o.AdoptSubjects,
		decideT:   o.DecideTime.D(),
		decideN:   o.DecideRequests,
		typeGate:  o.TypeGate,
		maxParams: o.MaxParamsPerEndpoint,
		maxBody:   o.MaxBody,
		eps:       newLRU[paramEndpoint](o.MaxEndpoints),
		specs:     cfg.Specs,
		dropped:   map[string]int64{},
	}
}

func (d *paramsDetector) Name() string { return "params" }

// APIChanges returns the population-wide parameter additions recorded so
// far, ordered by time, endpoint and detail.
func (d *paramsDetector) APIChanges() []model.APIChange {
	out := append([]model.APIChange(nil), d.changes...)
	sort.SliceStable(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if !a.Time.Equal(b.Time) {
			return a.Time.Before(b.Time)
		}
		if a.Endpoint.Key() != b.Endpoint.Key() {
			return a.Endpoint.Key() < b.Endpoint.Key()
		}
		return a.Detail < b.Detail
	})
	return out
}

// Dropped counts what the family did not track, by reason.
func (d *paramsDetector) Dropped() map[string]int64 {
	out := map[string]int64{}
	for k, v := range d.dropped {
		out[k] = v
	}
	return out
}

// ignoredHeaders are x- headers set by proxies, tracers and SDKs.
func ignoredHeader(h string) bool {
	switch h {
	case "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-forwarded-port", "x-real-ip", "x-request-id",
		"x-correlation-id", "x-amzn-trace-id", "x-cloud-trace-context", "x-envoy-external-address", "x-envoy-expected-rq-timeout-ms",
		"x-envoy-attempt-count", "x-requested-with", "x-csrf-token", "x-xsrf-token", "x-api-key", "x-auth-token", "x-access-token",
		"x-client-ip", "x-originating-ip", "x-cluster-client-ip", "x-trace-id", "x-span-id", "x-ms-client-request-id":
		return true
	}
	return strings.HasPrefix(h, "x-b3-") || strings.HasPrefix(h, "x-datadog-") || strings.HasPrefix(h, "x-envoy-") ||
		strings.HasPrefix(h, "x-amz-") || strings.HasPrefix(h, "x-goog-") || strings.HasPrefix(h, "x-ms-") || strings.HasPrefix(h, "x-forwarded-")
}

// observed collects the parameters of a request, sorted by (in, name).
func (d *paramsDetector) observed(ev *event.Event) []obsParam {
	ps := d.scratch[:0]
	for _, q := range d.keys.query(ev, &d.ownQuery) {
		v := ""
		if len(q.vals) > 0 {
			v = q.vals[0]
		}
		ps = append(ps, obsParam{name: q.name, in: "query", value: v})
	}
	if ev.Rec != nil {
		ct := "" // ev.Rec.Request.Header("content-type")
		for _, h := range d.keys.headers(ev, &d.ownHdrs) {
			if h.name == "content-type" {
				ct = h.value
			}
			if strings.HasPrefix(h.name, "x-") && !ignoredHeader(h.name) {
				ps = append(ps, obsParam{name: h.name, in: "header", value: h.value})
			}
		}
		if body := ev.Rec.Request.Body; body != "" && len(body) <= d.maxBody {
			switch {
			case strings.Contains(ct, "json"):
				err := d.js.scan(ev.Rec.Request.BodyText(), func(k string, kind jsontext.Kind, v string) {
					ps = append(ps, obsParam{name: k, in: "body", value: v, object: kind == '{' || kind == '['})
				})
				if err != nil {
					d.dropped["params: request body is not a JSON object"]++
				}
			case strings.Contains(ct, "x-www-form-urlencoded"):
				if f, err := url.ParseQuery(ev.Rec.Request.BodyText()); err == nil {
					for k, vs := range f {
						ps = append(ps, obsParam{name: k, in: "body", value: vs[0]})
					}
				} else {
					d.dropped["params: form body does not parse"]++
				}
			}
		}
	}
	if len(ps) > 1 {
		slices.SortFunc(ps, func(a, b obsParam) int { // (in, name) pairs are distinct
			if c := strings.Compare(a.in, b.in); c != 0 {
				return c
			}
			return strings.Compare(a.name, b.name)
		})
	}
	d.scratch = ps
	return ps
}

func (d *paramsDetector) Observe(ev *event.Event, out *Emitter) {
	d.begin(ev)
	ep, created := d.eps.GetOrAdd(d.keys.endpoint(ev))
	if created {
		ep.ref, ep.first = keepRef(ev.Endpoint), ev.Time
		for i := range ep.params {
			ep.params[i] = map[string]*paramStat{}
		}
		d.declare(ep)
		if ep.declared {
			d.readyType.mark(ev.Time) // declared types are checked from the first request
		}
	}
	ep.n++
	if ev.Status < 400 || ev.Status >= 500 {
		ep.served = true
	}
	if !ep.learned && (ep.declared || ep.n >= d.learnN && ev.Time.Sub(ep.first) >= d.learnT) {
		ep.learned = true
		d.readyEP.mark(ev.Time)
	}
	sk, _ := d.keys.subject(ev)
	ps := d.observed(ev)
	for i := range ps {
		p := &ps[i]
		m := ep.params[inIndex(p.in)]
		st := m[p.name]
		if st == nil {
			if ep.nparams >= d.maxParams {
				d.dropped["params: parameter budget per endpoint reached"]++
				continue
			}
			st = &paramStat{name: strings.Clone(p.name), in: p.in, declared: -1}
			m[st.name] = st
			ep.nparams++
			if ep.learned || d.massAssign(ep, ev, p) {
				st.cand = &paramCandidate{first: ev.Time, subj: sk}
				if !ep.learned {
					st.cand.authz, st.cand.writers = true, ep.writers.estimate()
				}
				st.cand.hit = Hit{Type: alert.ParamUnseen, Time: ev.Time, Client: clientIP(ev), Identity: identityRef(ev), Endpoint: endpointRef(ev),
					Sample: anomSample(ev, p.in+" parameter "+clipStr(p.name, 64)),
				}
				ep.cands = append(ep.cands, st)
			}
		}
		t := vtObject
		if !p.object {
			t = valueType(p.value)
		}
		if st.cand != nil {
			c := st.cand
			c.subjects.add(sk)
			if sk == c.subj {
				c.uses++
				if c.state == 2 { // already reported: later uses fold into the alert
					h := c.hit
					h.Time, h.Sample, h.Count = ev.Time, nil, 1
					out.Emit(h)
				}
			}
		} else if (ep.learned || st.declared >= 0) && !st.isSecret() {
			d.checkType(ev, st, p, t, out)
		}
		st.seen++
		st.types[t]++
		if st.seen == d.typeGate && st.declared < 0 && st.cand == nil {
			d.readyType.mark(ev.Time)
		}
	}
	if !ep.learned && sk != 0 && writeMethod(ev.Method) {
		ep.writers.add(sk)
	}
	d.decide(ep, ev, sk, out)
}

// massAssign reports whether p, new to an endpoint still learning its
// parameters, is an authorization attribute (authzname: role, is_admin,
// permissions …) in the body of an end user's write (POST, PUT, PATCH;
// every role of its token names an end user), on an endpoint that at
// least adopt_subjects (5) distinct subjects wrote to before without it.
// Such a field is then a candidate as after the learning (decided the
// same way: adopted by the population, an API change; kept to one or two
// subjects, param.unseen): a customer setting its own role in a profile
// update is mass assignment (OWASP API3:2023) on the first day as on any
// other, and the writes of five others tell what the body carries.
func (d *paramsDetector) massAssign(ep *paramEndpoint, ev *event.Event, p *obsParam) bool {
	return p.in == "body" && writeMethod(ev.Method) && ep.writers.estimate() >= d.adopt &&
		authzname.Privileged(p.name) && d.endUsers.token(ev)
}

// writeMethod: POST, PUT or PATCH.
func writeMethod(m string) bool { return m == "POST" || m == "PUT" || m == "PATCH" }

// declare seeds the parameters the spec declares for the endpoint.
func (d *paramsDetector) declare(ep *paramEndpoint) {
	if d.specs == nil {
		return
	}
	op, ok := d.specs.Operation(ep.ref)
	if !ok {
		return
	}
	ep.declared = true
	for _, sp := range op.Params {
		in := sp.In
		if in != "query" && in != "header" && in != "body" {
			continue
		}
		name := sp.Name
		if in == "header" {
			name = strings.ToLower(name)
		}
		if ep.nparams >= d.maxParams {
			d.dropped["params: parameter budget per endpoint reached"]++
			break
		}
		ep.params[inIndex(in)][name] = &paramStat{name: name, in: in, declared: specType(sp.Type, sp.Format)}
		ep.nparams++
	}
}

func (d *paramsDetector) checkType(ev *event.Event, st *paramStat, p *obsParam, t int, out *Emitter) {
	if st.declared >= 0 {
		if accepts(st.declared, t) || (st.declared == vtNumber && t == vtInt) {
			return
		}
	} else {
		if st.seen < d.typeGate {
			return
		}
		if float64(st.types[t]) >= 0.001*st.seen {
			return
		}
		for l := 0; l < vtCount; l++ {
			if float64(st.types[l]) >= 0.01*st.seen && accepts(l, t) {
				return
			}
		}
	}
	var learned []string
	for l := 0; l < vtCount; l++ {
		if st.types[l] > 0 && float64(st.types[l]) >= 0.01*st.seen {
			learned = append(learned, fmt.Sprintf("%s %.1f%%", vtNames[l], 100*float64(st.types[l])/st.seen))
		}
	}
	base := any(strings.Join(learned, ", "))
	reason := "parameter value of a type never (or almost never) seen for this parameter"
	if st.declared >= 0 {
		base = "declared " + vtNames[st.declared]
		reason = "parameter value does not match the type the spec declares"
	}
	conf := 0.6
	if st.declared >= 0 || st.seen >= 10*d.typeGate {
		conf = 0.8
	}
	out.Emit(Hit{Type: alert.ParamAnomalousType, Time: ev.Time, Client: clientIP(ev), Identity: identityRef(ev), Endpoint: endpointRef(ev),
		Confidence: conf,
		Evidence: model.Evidence{
			Observed: vtNames[t], Baseline: base, Threshold: "< 0.1% of observations",
			Reason:  reason,
			Details: map[string]any{"parameter": p.name, "in": p.in, "value_length": len(p.value), "observations": st.seen},
		},
		Sample: anomSample(ev, p.in+" parameter "+clipStr(p.name, 64)+": "+vtNames[t]),
	})
}

// decide settles open candidates of the endpoint: adopted (API change) or
// reported (param.unseen).
func (d *paramsDetector) decide(ep *paramEndpoint, ev *event.Event, sk uint64, out *Emitter) {
	if len(ep.cands) == 0 {
		return
	}
	open := ep.cands[:0]
	for _, st := range ep.cands {
		c := st.cand
		if c.subj != sk {
			c.others++
		}
		subjects := c.subjects.estimate()
		switch {
		case subjects >= d.adopt:
			c.state = 1
			d.record(ep, st, subjects)
			st.cand = nil // a normal parameter from now on
			continue
		case subjects <= 2 && (ev.Time.Sub(c.first) >= d.decideT || c.others >= d.decideN):
			if st.in == "query" && pagingParams[strings.ToLower(st.name)] {
				// paging through a list is not a hidden parameter: the
				// first client with more than a page sends ?page=2 late
				st.cand = nil
				continue
			}
			c.state = 2
			h := c.hit
			h.Count = int64(fmax(1, c.uses))
			h.Confidence = 0.5
			if subjects == 1 {
				h.Confidence = 0.7
			}
			h.Evidence = model.Evidence{
				Observed: st.name, Baseline: fmt.Sprintf("%d parameters learned on this endpoint", ep.nparams-len(ep.cands)),
				Threshold: fmt.Sprintf("used by < %g subjects", d.adopt),
				Window:    winLabel(d.decideT),
				Reason:    "a parameter never seen on this endpoint, sent by one client and not adopted by the population",
				Details:   map[string]any{"parameter": st.name, "in": st.in, "subjects": subjects, "requests_by_others": c.others},
			}
			if c.authz {
				h.Evidence.Reason = "an authorization attribute never sent to this endpoint, in an end user's write, while the endpoint's parameters are learned: the writes of others never carried it (mass assignment)"
				h.Evidence.Details["authorization_attribute"] = true
				h.Evidence.Details["writers_before"] = c.writers
			}
			c.hit.Evidence = h.Evidence
			c.hit.Confidence = h.Confidence
			out.Emit(h)
			continue // stays a candidate in state 2 (later uses fold), off the open list
		}
		open = append(open, st)
	}
	for i := len(open); i < len(ep.cands); i++ {
		ep.cands[i] = nil
	}
	ep.cands = open
}

func (d *paramsDetector) record(ep *paramEndpoint, st *paramStat, subjects float64) {
	if len(d.changes) >= 10000 {
		d.dropped["params: api change budget reached"]++
		return
	}
	d.changes = append(d.changes, model.APIChange{
		Time: st.cand.first, Endpoint: ep.ref, Kind: "parameter_added",
		Detail: fmt.Sprintf("%s parameter %q adopted by %g clients", st.in, st.name, subjects),
	})
}

// Finish settles nothing: open candidates stay undecided (too little
// evidence either way); they are counted in Dropped().
func (d *paramsDetector) Finish(at time.Time, out *Emitter) {
	if out.Preview() {
		return
	}
	n := int64(0)
	d.eps.Each(func(_ uint64, ep *paramEndpoint) {
		for _, st := range ep.cands {
			if st.cand != nil && st.cand.state == 0 {
				n++
			}
		}
	})
	if n > 0 {
		d.dropped["params: candidates undecided at end of input"] = n
	}
}

func (st *paramStat) isSecret() bool {
	if st.secret == 0 {
		st.secret = 1
		if secretParam(st.name) {
			st.secret = 2
		}
	}
	return st.secret == 2
}

// secretParam reports parameters whose values are free-form secrets
// (passwords, tokens): their "type" carries no signal.
func secretParam(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"pass", "pwd", "secret", "token", "otp", "pin"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

func inIndex(in string) int {
	switch in {
	case "header":
		return 1
	case "body":
		return 2
	}
	return 0
}

var errNotObject = errors.New("not a JSON object")

// scanFast reads a top-level JSON object with the shared tokenizer, with
// jsontext's default options (duplicate names and invalid UTF-8 are
// errors). ok is false when it fails: the caller then scans with jsontext,
// which names the error.
func (js *jsonScanner) scanFast(body string) (_ []jsonMember, ok bool) {
	t := &js.fast
	t.Reset(body, jsonscan.Options{})
	defer t.Reset("", jsonscan.Options{}) // keep no reference to the body
	js.mem = js.mem[:0]
	if k, _, err := t.ReadToken(); err != nil || k != '{' {
		return nil, false
	}
	for {
		k, key, err := t.ReadToken()
		if err != nil {
			return nil, false
		}
		if k == '}' {
			return js.mem, true // what follows the object is never read
		}
		k = t.PeekKind()
		v := ""
		switch k {
		case '{', '[':
			err = t.SkipValue()
		default:
			_, v, err = t.ReadToken()
			if k == 'n' {
				v = ""
			}
		}
		if err != nil {
			return nil, false
		}
		js.mem = append(js.mem, jsonMember{key: key, kind: jsontext.Kind(k), value: v})
	}
}

// jsonTopLevel calls fn for each member of a top-level JSON object: the
// key, the kind of its value and, for scalars, the value as text (strings
// unescaped, numbers/booleans/null raw). Nested values are skipped (fn sees
// their kind and an empty value). It returns an error naming the byte
// offset when the body is not a JSON object or is malformed; members read
// before the error have been reported.
func jsonTopLevel(body string, fn func(key string, kind jsontext.Kind, value string)) error {
	var js jsonScanner
	return js.scan(body, fn)
}

// jsonScanner reuses its decoder and reader between bodies (one per
// detector: detectors are not used concurrently).
type jsonScanner struct {
	r   strings.Reader
	dec *jsontext.Decoder
	// fast path (see scanFast): members collected first, reported only
	// when the whole top-level object is read
	fast   jsonscan.Tokenizer
	mem    []jsonMember
	noFast bool // tests: jsontext only
}

type jsonMember struct {
	key   string
	kind  jsontext.Kind
	value string
}

func (js *jsonScanner) scan(body string, fn func(key string, kind jsontext.Kind, value string)) error {
	if !js.noFast {
		if ms, ok := js.scanFast(body); ok {
			for _, m := range ms {
				fn(m.key, m.kind, m.value)
			}
			return nil
		}
	}
	js.r.Reset(body)
	if js.dec == nil {
		js.dec = jsontext.NewDecoder(&js.r)
	} else {
		js.dec.Reset(&js.r)
	}
	dec := js.dec
	tok, err := dec.ReadToken()
	if err != nil {
		return fmt.Errorf("json body: %w", err)
	}
	if tok.Kind() != '{' {
		return fmt.Errorf("json body: offset 0: %w", errNotObject)
	}
	for {
		switch dec.PeekKind() {
		case '}':
			return nil
		case 0:
			_, err := dec.ReadToken()
			if err == nil {
				err = errors.New("unexpected end")
			}
			return fmt.Errorf("json body: offset %d: %w", dec.InputOffset(), err)
		}
		kt, err := dec.ReadToken()
		if err != nil {
			return fmt.Errorf("json body: offset %d: %w", dec.InputOffset(), err)
		}
		key := kt.String()
		kind := dec.PeekKind()
		if kind == '{' || kind == '[' {
			if err := dec.SkipValue(); err != nil {
				return fmt.Errorf("json body: key %q: offset %d: %w", clipStr(key, 64), dec.InputOffset(), err)
			}
			fn(key, kind, "")
			continue
		}
		vt, err := dec.ReadToken()
		if err != nil {
			return fmt.Errorf("json body: key %q: offset %d: %w", clipStr(key, 64), dec.InputOffset(), err)
		}
		v := vt.String()
		if kind == 'n' {
			v = ""
		}
		fn(key, kind, v)
	}
}

// Readiness implements pipeline.ReadinessReporter.
func (d *paramsDetector) Readiness(at time.Time) []model.Readiness {
	set := baseline{detector: "params", name: "parameters of each endpoint", scope: "endpoint", alerts: alertNames(alert.ParamUnseen),
		requires: model.Need{Requests: int64(d.learnN), Hours: d.learnT.Hours()},
		while:    fmt.Sprintf("every parameter seen is learned as normal (no param.unseen) — except an authorization attribute (role, is_admin …) in an end user's write that %g writers before never sent; endpoints the spec declares need no learning", d.adopt)}.tally()
	types := baseline{detector: "params", name: "value types of each parameter", scope: "parameter", alerts: alertNames(alert.ParamAnomalousType),
		requires: model.Need{Requests: int64(d.typeGate)},
		while:    "values are learned; parameters with a type declared in the spec are checked against it from the first request"}.tally()
	d.eps.Each(func(_ uint64, ep *paramEndpoint) {
		if !ep.served {
			return // a probe path, not an endpoint
		}
		k := ep.ref.Key()
		set.Add(k, model.Need{Requests: int64(ep.n), Hours: hoursSince(ep.first, at)}, ep.learned)
		for i, m := range ep.params {
			for name, st := range m {
				if st.cand != nil || st.isSecret() {
					continue
				}
				types.Add(k+" ("+inNames[i]+" "+name+")", model.Need{Requests: int64(st.seen)}, st.declared >= 0)
			}
		}
	})
	return []model.Readiness{set.Readiness(d.readyEP.at), types.Readiness(d.readyType.at)}
}

var inNames = [3]string{"query", "header", "body"}
