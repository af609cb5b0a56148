package classify

import (
	"math"
	"net/url"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/hashing"
	"github.com/palisade-sec/palisade/internal/jsonscan"
	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/textkind"
)

// Location is a set of places in an exchange (the event's).
type Location = event.Location

// Locations (report-v1 names in String).
const (
	LocPath           = event.LocPath
	LocQuery          = event.LocQuery
	LocRequestHeader  = event.LocRequestHeader
	LocRequestBody    = event.LocRequestBody
	LocResponseHeader = event.LocResponseHeader
	LocResponseBody   = event.LocResponseBody

	AllLocations      = event.AllLocations
	ResponseLocations = event.ResponseLocations
)

// skipHeader reports whether a (lower-case) header name is skipped: headers
// that carry the request's own credentials or session (already described
// by the inventory's auth_schemes), protocol headers, and proxy and
// transport headers are not classified.
func skipHeader(name string) bool {
	switch name {
	case "authorization", "proxy-authorization", "cookie", "set-cookie", "x-api-key", "api-key", "apikey", "x-auth-token", "x-access-token", "x-csrf-token", "x-xsrf-token":
		return true
	case "content-type", "content-length", "date", "host", "user-agent", "accept", "accept-encoding", "accept-language", "connection", "cache-control", "etag", "if-none-match", "vary", "server", "traceparent", "tracestate", "x-request-id", "x-correlation-id", "x-amzn-trace-id":
		return true
	case "x-forwarded-for", "x-real-ip", "forwarded", "via", "x-forwarded-host", "x-forwarded-proto", "x-forwarded-port", "x-envoy-external-address", "true-client-ip", "cf-connecting-ip", "x-client-ip":
		// proxy and transport headers: the client address is the inventory's business, not a data flow of the API
		return true
	}
	return false
}

// Found is one sensitive value seen in an event. Sample is redacted.
type Found struct {
	Location Location
	Field    string
	Match    Match
	Sample   string
}

// Sensitive returns f as the event carries it (event.Sensitive).
func (f Found) Sensitive() event.Sensitive {
	return event.Sensitive{Location: f.Location, Field: f.Field, Type: f.Match.Type, Confidence: f.Match.Confidence,
		Masked: f.Match.Masked, Detail: f.Match.Detail, Sample: f.Sample}
}

// Stats counts what the analyzer did and what it dropped, with reasons.
type Stats struct {
	Events        int64            `json:"events"`
	Values        int64            `json:"values"`         // values classified
	Sampled       int64            `json:"sampled"`        // values skipped because their field's class was stable
	SampledBodies int64            `json:"sampled_bodies"` // bodies skipped because every field in recent bodies was stable
	Bodies        int64            `json:"bodies"`         // bodies classified
	InvalidJSON   int64            `json:"invalid_json"`   // JSON bodies that did not parse to the end (leaves before the error were kept)
	Truncated     int64            `json:"truncated"`      // bodies cut at MaxBodyBytes or MaxLeaves
	Skipped       map[string]int64 `json:"skipped,omitempty"`
	Dropped       map[string]int64 `json:"dropped,omitempty"` // state budgets reached
}

type typeKey struct {
	typ    string
	masked bool
}

type typeStat struct {
	conf  float64
	count int64
	first time.Time
}

type fieldState struct {
	sig    uint64
	stable int
	skip   int
	types  map[typeKey]*typeStat
	name   string // the field as reported (the map key)
	// hint: the classifier's reading of the field name ctx, made once.
	ctx    string
	hint   fieldHint
	hid    uint32 // the hint interned by the analyzer's memo
	hinted bool
	// sampling: event time of the last value classified, and the last
	// fully classified body (see sampled) that classified a value of it
	lastAt time.Time
	body   uint32
	memo   memoUse // how often the value memo held this field's values
	// next: the field of the leaf that followed this one in the last body
	// walked. Bodies of an endpoint, and the elements of an array, repeat
	// their fields in the same order, so the guess saves most map lookups
	// (it is checked against the path, so a wrong guess costs nothing but
	// the comparison).
	next *fieldState
}

// hintFor returns the interpretation of the context key ctx, cached in the
// field's state (a field's context key does not change but for the letter
// case of header names).
func (st *fieldState) hintFor(a *Analyzer, ctx string) (fieldHint, uint32) {
	if !st.hinted || st.ctx != ctx {
		st.ctx, st.hint, st.hinted = strings.Clone(ctx), a.c.hint(ctx), true
		st.hid = a.memo.hintID(st.hint)
	}
	return st.hint, st.hid
}

type epState struct {
	fields [6]map[string]*fieldState // per location bit
	// first: the field of the first leaf of the last body walked, per
	// location bit (with fieldState.next, a guess at the next field)
	first [6]*fieldState
	n     int
	// Body sampling, per location bit: bodies in a row whose every field
	// was already stable (quiet), and a counter for the one-in-SampleEvery
	// walk once quiet reaches SampleAfter.
	quiet    [6]int
	skip     [6]int
	lastWalk [6]time.Time // event time of the last body walked
}

// bodySampleMaxGap bounds body sampling in event time: a body is always
// walked when the last one walked at the same endpoint and location is
// older than this, so a new data type is seen within about a minute on
// busy endpoints and at once on quiet ones.
const bodySampleMaxGap = time.Minute

// fieldSampleMaxGap bounds per-field sampling the same way: a value is
// always classified when the field's last classified value is older than
// this in event time.
const fieldSampleMaxGap = time.Minute

// toLower is strings.ToLower, answering the usual already lower-case ASCII
// text (header names, content types) eight bytes at a time: a word is
// passed when none of its bytes is an upper-case letter or non-ASCII.
func toLower(s string) string {
	const lo, hi = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := jsonscan.Load64(s, i)
		// bytes below 0x80 cannot carry into their neighbours here; any
		// byte at or above 0x80 sends the text to strings.ToLower anyway
		if (x|(x+lo*(0x80-'A'))&^(x+lo*(0x80-'Z'-1)))&hi != 0 {
			return strings.ToLower(s)
		}
	}
	for ; i < len(s); i++ {
		if c := s[i]; c >= 0x80 || c >= 'A' && c <= 'Z' {
			return strings.ToLower(s)
		}
	}
	return s
}

// cloneRef copies the strings of an endpoint reference that is kept as a
// map key: an event's strings may be views of its record's decoded text,
// which a kept substring would keep alive (docs/ARCHITECTURE.md).
func cloneRef(r model.EndpointRef) model.EndpointRef {
	return model.EndpointRef{Host: strings.Clone(r.Host), Method: strings.Clone(r.Method), Path: strings.Clone(r.Path), ID: r.ID}
}

func locIndex(l Location) int {
	for i := 0; i < 6; i++ {
		if l == 1<<i {
			return i
		}
	}
	return 0
}

// Analyzer accumulates, per endpoint, which sensitive data types appear in
// which location and field.
//
// Memory: one entry per endpoint (at most MaxEndpoints) holding one entry
// per (location, field) seen (at most MaxFieldsPerEndpoint, ≈120 bytes plus
// the field path) and one small record per data type found in that field.
// Beyond the budgets, values are still classified for Scan callers but not
// recorded; Stats().Dropped counts them.
type Analyzer struct {
	c     *Classifier
	eps   map[model.EndpointRef]*epState
	stats Stats
	scan  scan      // scratch space for classifying one value
	memo  valueMemo // recent classifications of short values
	// fullBodies numbers the bodies picked by body sampling
	fullBodies uint32

	found []event.Sensitive // what Classify found in the last event (reused)
}

// NewAnalyzer returns an analyzer using c.
func NewAnalyzer(c *Classifier) *Analyzer {
	return &Analyzer{c: c, eps: map[model.EndpointRef]*epState{}, stats: Stats{Skipped: map[string]int64{}, Dropped: map[string]int64{}}}
}

// Classifier returns the analyzer's classifier.
func (a *Analyzer) Classifier() *Classifier { return a.c }

// Stats returns counters (copies of the maps).
func (a *Analyzer) Stats() Stats {
	s := a.stats
	s.Skipped = copyMap(a.stats.Skipped)
	s.Dropped = copyMap(a.stats.Dropped)
	return s
}

func copyMap(m map[string]int64) map[string]int64 {
	out := make(map[string]int64, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Classify is the classification stage (pipeline.Classifier): it
// classifies every location of ev, records the results per endpoint and
// attaches what it found to the event (ev.Sensitive, ev.Classified), for
// the analyzers that follow. The slice is reused by the next call.
func (a *Analyzer) Classify(ev *event.Event) {
	if ev == nil {
		return
	}
	a.found = a.found[:0]
	a.Scan(ev, AllLocations, func(f Found) { a.found = append(a.found, f.Sensitive()) })
	ev.Sensitive, ev.Classified = a.found, true
}

// Observe implements pipeline.Analyzer (for use as a plain analyzer): it
// is Classify.
func (a *Analyzer) Observe(ev *event.Event) { a.Classify(ev) }

// Scan classifies the chosen locations of an event, records the results
// and calls fn (when not nil) for every match. Sampling applies per
// endpoint, location and field.
func (a *Analyzer) Scan(ev *event.Event, want Location, fn func(Found)) {
	if ev == nil || ev.Rec == nil {
		return
	}
	a.stats.Events++
	ep := a.eps[ev.Endpoint]
	if ep == nil {
		if len(a.eps) >= a.c.cfg.MaxEndpoints {
			a.stats.Dropped["endpoints_budget"]++
		} else {
			ep = &epState{}
			a.eps[cloneRef(ev.Endpoint)] = ep
		}
	}
	sc := scanCtx{a: a, ep: ep, ev: ev, fn: fn, gapCutoff: gapCutoff(ev.Time)}
	rec := ev.Rec
	if want&LocPath != 0 {
		for _, p := range ev.PathParams {
			name := strings.Trim(p.Name, "{}")
			if v, err := url.PathUnescape(p.Value); err == nil {
				sc.value(LocPath, name, name, v)
			} else {
				sc.value(LocPath, name, name, p.Value)
			}
		}
	}
	if want&LocQuery != 0 && len(ev.Query) > 0 {
		var buf [16]string
		keys := buf[:0]
		for k := range ev.Query {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			for _, v := range ev.Query[k] {
				sc.value(LocQuery, k, k, v)
			}
		}
	}
	if want&LocRequestHeader != 0 {
		sc.headers(LocRequestHeader, rec.Request.Headers)
	}
	if want&LocRequestBody != 0 && rec.Request.Body != "" {
		if ct := toLower(rec.Request.Header("content-type")); sc.walkBody(LocRequestBody, ct) {
			sc.body(LocRequestBody, ct, rec.Request.BodyText(), rec.Request.Truncated)
		}
	}
	if want&LocResponseHeader != 0 {
		sc.headers(LocResponseHeader, rec.Response.Headers)
	}
	// The response body is decoded (BodyText) only when it is walked:
	// sampled bodies are never materialized here.
	if want&LocResponseBody != 0 && rec.Response.HasBody() {
		if ct := toLower(rec.Response.Header("content-type")); sc.walkBody(LocResponseBody, ct) {
			sc.body(LocResponseBody, ct, rec.Response.BodyText(), rec.Response.Truncated)
		}
	}
}

type scanCtx struct {
	a  *Analyzer
	ep *epState
	ev *event.Event
	fn func(Found)
	// unstable is set while walking a body when a field is new or not yet
	// stable (the body taught the analyzer something).
	unstable bool
	// full: this body was picked by body sampling, so every value in it is
	// classified (no second, per-field sampling on top).
	full bool
	// bodyID identifies the body being walked (for the first-value rule
	// in sampled).
	bodyID uint32
	// gapCutoff is the event time minus fieldSampleMaxGap: a field last
	// classified at or before it is classified again (see sampled).
	gapCutoff time.Time
}

// gapCutoff returns t - fieldSampleMaxGap, so that sampled tests
// t.Sub(lastAt) >= fieldSampleMaxGap as !lastAt.After(cutoff): one
// comparison per leaf instead of a subtraction (Sub saturates, keeping the
// sign and a magnitude far above a minute, so both tests agree; see
// TestGapCutoff).
func gapCutoff(t time.Time) time.Time { return t.Add(-fieldSampleMaxGap) }

func (s *scanCtx) headers(loc Location, h map[string]string) {
	if len(h) == 0 {
		return
	}
	var buf [16][3]string // name, lower-case name, value
	kept := buf[:0]
	for k, v := range h {
		if lk := toLower(k); !skipHeader(lk) {
			kept = append(kept, [3]string{k, lk, v})
		}
	}
	if len(kept) > 1 {
		slices.SortFunc(kept, func(a, b [3]string) int { return strings.Compare(a[0], b[0]) })
	}
	for _, kv := range kept {
		s.value(loc, kv[1], kv[0], kv[2])
	}
}

// state returns the field's state, creating it within the budget.
func (s *scanCtx) state(loc Location, field string) *fieldState {
	if s.ep == nil {
		return nil
	}
	m := s.ep.fields[locIndex(loc)]
	if m == nil {
		m = map[string]*fieldState{}
		s.ep.fields[locIndex(loc)] = m
	}
	st := m[field]
	if st == nil {
		if s.ep.n >= s.a.c.cfg.MaxFieldsPerEndpoint {
			s.a.stats.Dropped["fields_budget"]++
			return nil
		}
		field = strings.Clone(field) // kept: not a view of the record's text
		st = &fieldState{name: field}
		m[field] = st
		s.ep.n++
		s.unstable = true
	}
	return st
}

// sampled reports whether the field's class is stable and this value may
// be skipped: one value in SampleEvery of a stable field is classified,
// and always the first one after a gap of fieldSampleMaxGap in event time.
// In a body picked by body sampling (full), every field has its first
// value in the body classified; further values of the same field in that
// body (the elements of an array) are sampled like any other.
func (s *scanCtx) sampled(st *fieldState) bool {
	cfg := &s.a.c.cfg
	if st == nil || cfg.SampleAfter <= 0 {
		return false
	}
	if st.stable < cfg.SampleAfter {
		s.unstable = true
		return false
	}
	if s.full && st.body != s.bodyID {
		return false
	}
	if !st.lastAt.After(s.gapCutoff) { // s.ev.Time.Sub(st.lastAt) >= fieldSampleMaxGap
		return false
	}
	st.skip++
	if st.skip%cfg.SampleEvery != 0 {
		s.a.stats.Sampled++
		return true
	}
	return false
}

// value classifies one value; field is the reported name, ctx the key
// giving context to the classifier.
func (s *scanCtx) value(loc Location, field, ctx, v string) {
	st := s.state(loc, field)
	if s.sampled(st) {
		return
	}
	s.classify(loc, field, ctx, st, v)
}

// classify classifies v (the value of field, with ctx the key giving it
// context) and records the result.
func (s *scanCtx) classify(loc Location, field, ctx string, st *fieldState, v string) {
	a := s.a
	var hint fieldHint
	var hid uint32
	var use *memoUse
	if st != nil {
		hint, hid = st.hintFor(a, ctx)
		use = &st.memo
	} else {
		hint = a.c.hint(ctx)
		hid = a.memo.hintID(hint)
	}
	s.record(loc, field, st, v, a.memo.classify(a.c, &a.scan, hint, hid, ctx, v, use))
}

func (s *scanCtx) record(loc Location, field string, st *fieldState, v string, ms []Match) {
	s.a.stats.Values++
	if st != nil {
		st.lastAt = s.ev.Time
		if s.full {
			st.body = s.bodyID
		}
		sig := matchSig(ms)
		if sig == st.sig {
			st.stable++
		} else {
			st.sig, st.stable = sig, 0
		}
	}
	for _, m := range ms {
		if st != nil {
			if st.types == nil {
				st.types = map[typeKey]*typeStat{}
			}
			tk := typeKey{m.Type, m.Masked}
			ts := st.types[tk]
			if ts == nil {
				ts = &typeStat{first: s.ev.Time}
				st.types[tk] = ts
			}
			ts.count++
			if m.Confidence > ts.conf {
				ts.conf = m.Confidence
			}
			if s.ev.Time.Before(ts.first) {
				ts.first = s.ev.Time
			}
		}
		if s.fn != nil {
			// v may share memory with the whole body: the sample is copied
			// so that keeping it does not keep the body.
			s.fn(Found{Location: loc, Field: field, Match: m, Sample: strings.Clone(Redact(m, v[m.Start:m.End]))})
		}
	}
}

// matchSig is the FNV-1a hash of the matches' types (and masked flags):
// the class of a value, compared between consecutive values of a field.
func matchSig(ms []Match) uint64 {
	h := uint64(hashing.Offset)
	for _, m := range ms {
		h = hashing.FNV1a(h, m.Type)
		if m.Masked {
			h ^= 1
			h *= hashing.Prime
		}
		h *= hashing.Prime // ^= 0
	}
	return h
}

var binaryTypes = []string{"image/", "audio/", "video/", "font/", "application/octet-stream", "application/pdf", "application/zip", "application/gzip", "application/x-protobuf", "application/grpc", "multipart/"}

// binaryType reports whether ct starts with one of binaryTypes. The usual
// JSON and text types are told apart on their first bytes, without trying
// every prefix (TestBinaryType).
func binaryType(ct string) bool {
	if ct == "" {
		return false
	}
	switch ct[0] {
	case 'i', 'v', 'f', 'm':
	case 'a':
		if len(ct) > 12 && ct[:12] == "application/" {
			switch ct[12] {
			case 'o', 'p', 'z', 'g', 'x':
			default:
				return false // json, xml, x-www-form-urlencoded… (not binary)
			}
		}
	default:
		return false // text/…, empty
	}
	for _, b := range binaryTypes {
		if strings.HasPrefix(ct, b) {
			return true
		}
	}
	return false
}

// walkBody decides whether the body at loc is walked: binary bodies never
// are; once SampleAfter bodies in a row at this endpoint and location held
// only stable fields, one body in SampleEvery is (and never a gap of more
// than bodySampleMaxGap of event time); a new field or a changed class in
// a walked body resets it. ct is the lower-cased content type.
func (s *scanCtx) walkBody(loc Location, ct string) bool {
	if binaryType(ct) {
		s.a.stats.Skipped["binary_body"]++
		return false
	}
	cfg := &s.a.c.cfg
	li := locIndex(loc)
	s.full = false
	if s.ep != nil && cfg.SampleAfter > 0 && s.ep.quiet[li] >= cfg.SampleAfter {
		s.ep.skip[li]++
		if s.ep.skip[li]%cfg.SampleEvery != 0 && s.ev.Time.Sub(s.ep.lastWalk[li]) < bodySampleMaxGap {
			s.a.stats.SampledBodies++
			return false
		}
		s.full = true
		s.a.fullBodies++
		s.bodyID = s.a.fullBodies
	}
	return true
}

// binaryRun: the shortest run of text classified in a binary body. A
// random byte is text about one time in three, so runs this long are
// about one in 10^7 positions of random data; a container's strings
// (an email, a name in a protobuf message or a tar archive) are longer.
const binaryRun = 16

// body walks a body walkBody chose (ct lower-cased).
func (s *scanCtx) body(loc Location, ct, body string, truncated bool) {
	li := locIndex(loc)
	if s.ep != nil {
		s.ep.lastWalk[li] = s.ev.Time
	}
	s.unstable = false
	defer func() {
		s.full = false
		if s.ep == nil {
			return
		}
		if s.unstable {
			s.ep.quiet[li] = 0
		} else {
			s.ep.quiet[li]++
		}
	}()
	s.a.stats.Bodies++
	max := s.a.c.cfg.MaxBodyBytes
	if len(body) > max {
		body = body[:max]
		truncated = true
	}
	if truncated {
		s.a.stats.Truncated++
	}
	if textkind.Binary(body) {
		// a file (an upload, an archive, a protobuf message): only its
		// runs of text of binaryRun bytes or more are classified — the
		// strings a container holds; read whole, random bytes made IP
		// addresses and keyword secrets ("key=" and the bytes after it)
		s.a.stats.Skipped["binary_content"]++ // binary bytes under a type that is not (binary types are never walked)
		textkind.Runs(body, binaryRun, len(body), func(run string) bool {
			s.value(loc, "$", "", run)
			return true
		})
		return
	}
	trim := strings.TrimLeft(body, " \t\r\n")
	switch {
	case strings.Contains(ct, "json") || strings.HasPrefix(trim, "{") || strings.HasPrefix(trim, "["):
		s.json(loc, body, truncated)
	case strings.HasPrefix(ct, "application/x-www-form-urlencoded"):
		vals, err := url.ParseQuery(body)
		if err != nil {
			s.a.stats.Skipped["invalid_form"]++
		}
		keys := make([]string, 0, len(vals))
		for k := range vals {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			for _, v := range vals[k] {
				s.value(loc, "$."+k, k, v)
			}
		}
	default:
		s.value(loc, "$", "", body)
	}
}

func (s *scanCtx) json(loc Location, body string, truncated bool) {
	c := s.a.c
	li := locIndex(loc)
	var fields map[string]*fieldState
	if s.ep != nil {
		fields = s.ep.fields[li]
	}
	var prev *fieldState // the field of the previous leaf
	ws, err := walkJSON(body, c.cfg.MaxLeaves, func(path []byte, tok *jsonLeaf) bool {
		k := tok.Kind
		if k == 't' || k == 'f' {
			return true
		}
		var st *fieldState
		var guess *fieldState
		if prev != nil {
			guess = prev.next
		} else if s.ep != nil {
			guess = s.ep.first[li]
		}
		if guess != nil && guess.name == string(path) {
			st = guess
		} else {
			if fields != nil {
				st = fields[string(path)] // the compiler does not allocate for this lookup
			}
			if st == nil {
				st = s.state(loc, string(path))
				if fields == nil && s.ep != nil {
					fields = s.ep.fields[li]
				}
			}
			if st != nil {
				if prev != nil {
					prev.next = st
				} else {
					s.ep.first[li] = st
				}
			}
		}
		if st != nil {
			prev = st
		}
		if s.sampled(st) {
			return true
		}
		v := tok.String()
		if v == "" {
			return true
		}
		if st != nil {
			s.classify(loc, st.name, st.name, st, v)
		} else {
			p := string(path)
			s.classify(loc, p, p, nil, v)
		}
		return true
	})
	if ws.Truncated && !truncated {
		s.a.stats.Truncated++
	}
	if err != nil {
		s.a.stats.InvalidJSON++
		if ws.Leaves == 0 && !truncated {
			// not JSON after all: classify as text
			s.value(loc, "$", "", strings.TrimSpace(body))
		}
	}
}

// EndpointData is the sensitive data found on one endpoint reference (as
// the event was templated: resolve Ref through the inventory for the
// final endpoint).
type EndpointData struct {
	Ref  model.EndpointRef
	Data []model.SensitiveData // sorted by location, field, type
}

// Results returns the sensitive data per endpoint reference, sorted by
// the reference's key (and id).
func (a *Analyzer) Results() []EndpointData {
	out := make([]EndpointData, 0, len(a.eps))
	for ref, ep := range a.eps {
		var list []model.SensitiveData
		for li, m := range ep.fields {
			loc := Location(1 << li)
			for field, st := range m {
				for tk, ts := range st.types {
					first := ts.first
					list = append(list, model.SensitiveData{
						Type: tk.typ, Location: loc.String(), Field: field,
						Confidence: math.Round(ts.conf*100) / 100, Masked: tk.masked, Count: ts.count, FirstSeen: &first,
					})
				}
			}
		}
		if len(list) == 0 {
			continue
		}
		model.SortSensitiveData(list)
		out = append(out, EndpointData{Ref: ref, Data: list})
	}
	sort.Slice(out, func(i, j int) bool {
		if ki, kj := out[i].Ref.Key(), out[j].Ref.Key(); ki != kj {
			return ki < kj
		}
		return out[i].Ref.ID < out[j].Ref.ID
	})
	return out
}
