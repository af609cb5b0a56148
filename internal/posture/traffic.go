package posture

import (
	"strings"
	"sync"
	"time"

	"github.com/palisade-sec/palisade/internal/classify/ac"

	"github.com/palisade-sec/palisade/internal/bounded"
	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/textkind"
)

// SpecFields answers which response fields a documented operation declares,
// as JSON paths in the classifier's notation ("$.customer.email", arrays as
// "[*]"). ok is false when the operation or its response schema is unknown.
type SpecFields interface {
	SpecFields(ref model.EndpointRef) (fields []string, ok bool)
}

// TrafficConfig tunes the traffic rules. Zero values take the defaults.
type TrafficConfig struct {
	// UnusedAfter: an endpoint with no request for this long before the end
	// of the observed traffic is unused (default 30 days).
	UnusedAfter time.Duration `json:"unused_after"`
	// A burst is BurstRequests requests from one client address to one
	// endpoint within BurstWindow (defaults 20 and 10s).
	BurstRequests int           `json:"burst_requests"`
	BurstWindow   time.Duration `json:"burst_window"`
	// MinResponses: responses needed before judging security headers (default 5).
	MinResponses int `json:"min_responses"`
	// MaxTokenLifetime: JWTs living longer (exp-iat) are flagged (default 24h).
	MaxTokenLifetime time.Duration `json:"max_token_lifetime"`
	// TokenSkew is the clock skew allowed past a JWT's exp before a
	// successful response to it counts as accepting an expired token
	// (PAL-T016; default 5m, as the weak-token detector).
	TokenSkew time.Duration `json:"token_skew"`
	// GraphQL cost limits (PAL-T018): a request whose selection is deeper
	// than GraphQLMaxDepth, with more aliased fields than GraphQLMaxAliases
	// or more documents than GraphQLMaxBatch, answered with data, shows the
	// endpoint does not bound a request's cost (defaults 10, 15, 10).
	GraphQLMaxDepth   int `json:"graphql_max_depth"`
	GraphQLMaxAliases int `json:"graphql_max_aliases"`
	GraphQLMaxBatch   int `json:"graphql_max_batch"`
	// MaxEndpoints bounds per-endpoint evidence (default 20000); events of
	// further endpoints are counted in Stats().Dropped.
	MaxEndpoints int `json:"max_endpoints"`
	// MaxClientWindows bounds the (endpoint, client) burst windows kept
	// (least recently used evicted; default 65536).
	MaxClientWindows int `json:"max_client_windows"`
	// SpecFields (optional) enables PAL-T015.
	SpecFields SpecFields `json:"-"`
}

func (c *TrafficConfig) defaults() {
	if c.UnusedAfter <= 0 {
		c.UnusedAfter = 30 * 24 * time.Hour
	}
	if c.BurstRequests <= 0 {
		c.BurstRequests = 20
	}
	if c.BurstWindow <= 0 {
		c.BurstWindow = 10 * time.Second
	}
	if c.MinResponses <= 0 {
		c.MinResponses = 5
	}
	if c.MaxTokenLifetime <= 0 {
		c.MaxTokenLifetime = 24 * time.Hour
	}
	if c.TokenSkew <= 0 {
		c.TokenSkew = 5 * time.Minute
	}
	if c.GraphQLMaxDepth <= 0 {
		c.GraphQLMaxDepth = 10
	}
	if c.GraphQLMaxAliases <= 0 {
		c.GraphQLMaxAliases = 15
	}
	if c.GraphQLMaxBatch <= 0 {
		c.GraphQLMaxBatch = 10
	}
	if c.MaxEndpoints <= 0 {
		c.MaxEndpoints = 20000
	}
	if c.MaxClientWindows <= 0 {
		c.MaxClientWindows = 65536
	}
}

const maxKeys = 8 // distinct values kept per evidence set (header values, param names…)

// evidence collected for one endpoint.
type evidence struct {
	requests int64
	first    time.Time
	last     time.Time

	plain, plainCreds int64
	plainSchemes      map[string]int64
	basicHTTP         int64

	credParams map[string]int64 // query parameters carrying credentials

	verbose       map[string]int64 // kind -> responses
	verboseSample string
	okBodies      int64 // success-response bodies seen (for sampling the verbose-error scan)

	versions map[string]string // header -> value

	corsWildcard     int64
	corsOrigins      map[string]bool // distinct origins reflected with credentials
	corsReflected    int64
	eligible         int64 // 2xx responses judged for headers
	missNosniff      int64
	httpsResp        int64
	missHSTS         int64
	authResp         int64
	authMissNoStore  int64
	missNoStore      int64
	jwtNone          int64
	jwtNoExp         int64
	jwtLong          int64
	jwtMaxLife       time.Duration
	jwtOK            int64         // 2xx responses to requests with a decodable JWT carrying exp
	jwtExpiredOK     int64         // … of which past exp beyond the skew (PAL-T016)
	jwtExpiredSum    time.Duration // their total time past exp
	jwtExpiredMax    time.Duration
	jwtAlgs          map[string]int64 // see flushAlgs
	algPending       string           // the last algorithm seen, counted in algN but not yet in jwtAlgs
	algN             int64
	id               uint32 // number of the endpoint in its Traffic (hashes burst windows)
	bursts           int64
	maxBurst         int
	rateLimited      int64 // 429s or rate-limit headers seen
	externalRequests int64
	gqlIntro         int64 // GraphQL introspection queries answered with the schema (PAL-T017)
	gqlIntroExternal int64 // … to external clients
	gqlIntroNoBody   int64 // … of which the response body was not recorded (2xx only)
	gqlCostly        int64 // GraphQL requests beyond a cost limit answered with data (PAL-T018)
	gqlCostlyExt     int64 // … from external clients
	gqlCostlyNoBody  int64 // … answered 2xx without a recorded body
	gqlDepth         int   // the deepest, most aliased and largest batch among them
	gqlAliases       int
	gqlBatch         int
}

// flushAlgs moves the pending algorithm count into jwtAlgs. Tokens of one
// endpoint nearly always use one algorithm, so Observe counts a run of the
// same algorithm before touching the map; keys reach the map in the same
// order as they would one by one, so the bound of maxKeys keeps the same
// ones.
func (e *evidence) flushAlgs() {
	if e.algN > 0 {
		e.jwtAlgs = addKey(e.jwtAlgs, e.algPending, e.algN)
		e.algPending, e.algN = "", 0
	}
}

func addKey(m map[string]int64, k string, n int64) map[string]int64 {
	if m == nil {
		m = map[string]int64{}
	}
	if _, ok := m[k]; ok || len(m) < maxKeys {
		m[k] += n
	}
	return m
}

// addKeyCopy is addKey for a key that may be a view of an event's text
// (docs/ARCHITECTURE.md): a new key is copied, and an existing one is
// updated through the key kept (a map assignment stores the key it is
// given).
func addKeyCopy(m map[string]int64, k string, n int64) map[string]int64 {
	if m == nil {
		m = map[string]int64{}
	}
	if _, ok := m[k]; ok {
		for kept := range m {
			if kept == k {
				m[kept] += n
				break
			}
		}
	} else if len(m) < maxKeys {
		m[strings.Clone(k)] = n
	}
	return m
}

// Stats counts dropped evidence.
type Stats struct {
	Events  int64            `json:"events"`
	Dropped map[string]int64 `json:"dropped,omitempty"`
}

// Traffic collects per-endpoint posture evidence from events.
//
// Memory: one evidence record per endpoint (≈400 bytes plus at most 8
// entries per evidence set), at most MaxEndpoints; plus at most
// MaxClientWindows burst windows (≈64 bytes each plus 20–60 bytes of the
// bounded table's index and recency log).
type Traffic struct {
	cfg   TrafficConfig
	eps   map[model.EndpointRef]*evidence
	win   *windows // burst windows by winKey.hash
	first time.Time
	last  time.Time
	stats Stats
	// headersReady: event time the first endpoint had MinResponses
	// successful responses (readiness of the security-header rule).
	headersReady time.Time
}

// The verbose-error literals: the library automaton (leftmost-longest,
// which decides what is reported) and an exact presence check that lets
// bodies without any of the literals skip it.
var (
	verboseOnce    sync.Once
	verboseAC      *ac.Matcher
	verbosePresent *presence
)

// NewTraffic returns a traffic posture analyzer.
func NewTraffic(cfg TrafficConfig) *Traffic {
	cfg.defaults()
	verboseOnce.Do(func() {
		lits := make([]string, len(verbosePatterns))
		for i, p := range verbosePatterns {
			lits[i] = p.lit
		}
		verboseAC = ac.New(lits, false)
		verbosePresent = newPresence(lits)
	})
	t := &Traffic{
		cfg: cfg, eps: map[model.EndpointRef]*evidence{},
		stats: Stats{Dropped: map[string]int64{}},
	}
	// Built here (it allocates nothing until used) so that a restored
	// state (internal/statecodec) finds its eviction hook wired.
	t.win = bounded.New[window](t.cfg.MaxClientWindows)
	t.win.OnEvict = func(uint64, *window) { t.stats.Dropped["client_windows_evicted"]++ }
	return t
}

// Stats returns counters.
func (t *Traffic) Stats() Stats {
	s := t.stats
	s.Dropped = map[string]int64{}
	for k, v := range t.stats.Dropped {
		s.Dropped[k] = v
	}
	return s
}

var rateHeaders = []string{"ratelimit", "ratelimit-limit", "ratelimit-remaining", "ratelimit-policy", "x-ratelimit-limit", "x-ratelimit-remaining", "x-rate-limit-limit", "x-rate-limit-remaining", "retry-after"}

// versionHeaders disclose software versions (besides server).
var versionHeaders = [...]string{"x-powered-by", "x-aspnet-version", "x-aspnetmvc-version", "x-generator", "x-powered-by-plesk"}

// respHeaders holds the response headers the rules read ("" when absent).
type respHeaders struct {
	rate       bool // a rate-limit header is set
	server     string
	versions   [len(versionHeaders)]string
	acac, acao string // access-control-allow-credentials, -origin
	xcto, hsts string // x-content-type-options, strict-transport-security
	cache      string // cache-control
}

func (r *respHeaders) set(name, v string) {
	switch name {
	case "ratelimit", "ratelimit-limit", "ratelimit-remaining", "ratelimit-policy", "x-ratelimit-limit", "x-ratelimit-remaining", "x-rate-limit-limit", "x-rate-limit-remaining", "retry-after":
		r.rate = r.rate || v != ""
	case "server":
		r.server = v
	case "x-powered-by":
		r.versions[0] = v
	case "x-aspnet-version":
		r.versions[1] = v
	case "x-aspnetmvc-version":
		r.versions[2] = v
	case "x-generator":
		r.versions[3] = v
	case "x-powered-by-plesk":
		r.versions[4] = v
	case "access-control-allow-credentials":
		r.acac = v
	case "access-control-allow-origin":
		r.acao = v
	case "x-content-type-options":
		r.xcto = v
	case "strict-transport-security":
		r.hsts = v
	case "cache-control":
		r.cache = v
	}
}

// respHeaderNames lists every name respHeaders.set reads.
var respHeaderNames = append(append([]string{"server", "access-control-allow-credentials", "access-control-allow-origin",
	"x-content-type-options", "strict-transport-security", "cache-control"}, rateHeaders...), versionHeaders[:]...)

// readRespHeaders reads the headers the rules need: one pass over a small
// header map rather than a lookup per name.
func readRespHeaders(h map[string]string) (r respHeaders) {
	if len(h) <= len(respHeaderNames)/2 {
		for k, v := range h {
			r.set(k, v)
		}
		return r
	}
	for _, k := range respHeaderNames {
		if v, ok := h[k]; ok {
			r.set(k, v)
		}
	}
	return r
}

// Observe implements pipeline.Analyzer.
func (t *Traffic) Observe(ev *event.Event) {
	if ev == nil || ev.Rec == nil {
		return
	}
	t.stats.Events++
	if t.first.IsZero() || ev.Time.Before(t.first) {
		t.first = ev.Time
	}
	if ev.Time.After(t.last) {
		t.last = ev.Time
	}
	e := t.eps[ev.Endpoint]
	if e == nil {
		if len(t.eps) >= t.cfg.MaxEndpoints {
			t.stats.Dropped["endpoints_budget"]++
			return
		}
		e = &evidence{first: ev.Time, id: uint32(len(t.eps))}
		ref := ev.Endpoint // kept: its strings copied, not views of the record's text
		ref.Host, ref.Method, ref.Path = strings.Clone(ref.Host), strings.Clone(ref.Method), strings.Clone(ref.Path)
		t.eps[ref] = e
	}
	e.requests++
	if ev.Time.Before(e.first) {
		e.first = ev.Time
	}
	if ev.Time.After(e.last) {
		e.last = ev.Time
	}
	if ev.External {
		e.externalRequests++
	}
	rec := ev.Rec
	req, resp := &rec.Request, &rec.Response
	rh := readRespHeaders(resp.Headers)

	// Plain HTTP / WS and credentials over it.
	if (ev.Scheme == "http" || ev.Scheme == "ws") && ev.External {
		e.plain++
		scheme := "http" // a constant rather than a view of the event's text
		if ev.Scheme == "ws" {
			scheme = "ws"
		}
		e.plainSchemes = addKey(e.plainSchemes, scheme, 1)
		if ev.Auth.Credentials {
			e.plainCreds++
		}
	}
	if ev.Scheme == "http" || ev.Scheme == "ws" {
		for _, s := range ev.Auth.Schemes {
			if s == "basic" {
				e.basicHTTP++
			}
		}
	}
	// Credentials in the URL (as recognised by identity derivation).
	for _, s := range ev.Auth.Schemes {
		if p, ok := strings.CutPrefix(s, "api-key-query:"); ok {
			e.credParams = addKeyCopy(e.credParams, p, 1)
		}
	}
	// JWT checks.
	if id := ev.Auth.Identity; id != nil && id.Token != nil && id.Token.Malformed == "" {
		tok := id.Token
		if e.algN > 0 && tok.Alg == e.algPending {
			e.algN++
		} else {
			e.flushAlgs()
			e.algPending, e.algN = strings.Clone(tok.Alg), 1
		}
		switch {
		case tok.Unsigned:
			e.jwtNone++
		case tok.Exp.IsZero():
			e.jwtNoExp++
		default:
			if l := tok.Lifetime(); l > t.cfg.MaxTokenLifetime {
				e.jwtLong++
				if l > e.jwtMaxLife {
					e.jwtMaxLife = l
				}
			}
			if !ev.Outbound && ev.Status >= 200 && ev.Status < 300 {
				e.jwtOK++
				if past := ev.Time.Sub(tok.Exp); past > t.cfg.TokenSkew {
					e.jwtExpiredOK++
					e.jwtExpiredSum += past
					e.jwtExpiredMax = max(e.jwtExpiredMax, past)
				}
			}
		}
	}
	// GraphQL introspection answered (PAL-T017).
	if !ev.Outbound && ev.Status >= 200 && ev.Status < 300 && introspectionQuery(ev) {
		answered := !resp.HasBody() || strings.Contains(resp.BodyText(), `"__schema"`)
		if answered {
			e.gqlIntro++
			if !resp.HasBody() {
				e.gqlIntroNoBody++
			}
			if ev.External {
				e.gqlIntroExternal++
			}
		}
	}
	// GraphQL requests beyond the cost limits executed (PAL-T018).
	if g := ev.GraphQL; g != nil && !ev.Outbound && ev.Status >= 200 && ev.Status < 300 &&
		(g.Depth > t.cfg.GraphQLMaxDepth || g.Aliases > t.cfg.GraphQLMaxAliases || g.Documents > t.cfg.GraphQLMaxBatch) {
		if !resp.HasBody() || graphQLData(resp.BodyText()) {
			e.gqlCostly++
			if !resp.HasBody() {
				e.gqlCostlyNoBody++
			}
			if ev.External {
				e.gqlCostlyExt++
			}
			e.gqlDepth = max(e.gqlDepth, g.Depth)
			e.gqlAliases = max(e.gqlAliases, g.Aliases)
			e.gqlBatch = max(e.gqlBatch, g.Documents)
		}
	}
	// Rate limiting: 429 or rate-limit headers, and bursts per client.
	if ev.Status == 429 || rh.rate {
		e.rateLimited++
	}
	t.burst(ev, e)
	// Verbose errors.
	// Error responses are always scanned; success responses (where only
	// strong stack-trace markers count) are scanned for the first 64 per
	// endpoint, then one in 8: a framework that leaks traces in 200s does
	// so repeatedly.
	scan := ev.Status >= 400
	if !scan && resp.HasBody() {
		e.okBodies++
		scan = e.okBodies <= 64 || e.okBodies%8 == 0
	}
	if scan && resp.HasBody() {
		if kind, snip := t.verboseError(resp.BodyText(), ev.Status); kind != "" {
			e.verbose = addKey(e.verbose, kind, 1)
			if e.verboseSample == "" {
				e.verboseSample = strings.Clone(snip)
			}
		}
	}
	// Version disclosure.
	if v := rh.server; v != "" && hasDigit(v) {
		e.versions = addStr(e.versions, "server", v)
	}
	for i, h := range versionHeaders {
		if v := rh.versions[i]; v != "" {
			e.versions = addStr(e.versions, h, v)
		}
	}
	// CORS with credentials.
	if strings.EqualFold(strings.TrimSpace(rh.acac), "true") {
		acao := strings.TrimSpace(rh.acao)
		origin := strings.TrimSpace(req.Header("origin"))
		switch {
		case acao == "*" || strings.EqualFold(acao, "null"):
			e.corsWildcard++
		case acao != "" && origin != "" && acao == origin && !sameHost(origin, ev.Host):
			e.corsReflected++
			if e.corsOrigins == nil {
				e.corsOrigins = map[string]bool{}
			}
			if _, ok := e.corsOrigins[origin]; !ok && len(e.corsOrigins) < maxKeys {
				e.corsOrigins[strings.Clone(origin)] = true
			}
		}
	}
	// Security headers on successful API responses.
	if ev.Status >= 200 && ev.Status < 300 {
		e.eligible++
		if e.eligible == int64(t.cfg.MinResponses) && t.headersReady.IsZero() {
			t.headersReady = ev.Time
		}
		if !strings.EqualFold(strings.TrimSpace(rh.xcto), "nosniff") {
			e.missNosniff++
		}
		if ev.Scheme == "https" || ev.Scheme == "wss" {
			e.httpsResp++
			if rh.hsts == "" {
				e.missHSTS++
			}
		}
		noStore := textkind.ContainsFold(rh.cache, "no-store")
		if !noStore {
			e.missNoStore++
		}
		if ev.Auth.Credentials {
			e.authResp++
			if !noStore {
				e.authMissNoStore++
			}
		}
	}
}

func addStr(m map[string]string, k, v string) map[string]string {
	if m == nil {
		m = map[string]string{}
	}
	if _, ok := m[k]; !ok && len(m) < maxKeys {
		m[k] = strings.Clone(clip(v, 80))
	}
	return m
}

func hasDigit(s string) bool { return strings.ContainsAny(s, "0123456789") }

func sameHost(origin, host string) bool {
	o := origin
	if i := strings.Index(o, "://"); i >= 0 {
		o = o[i+3:]
	}
	return strings.EqualFold(strings.TrimSuffix(o, "/"), host)
}

// burst counts requests per (endpoint, client) in fixed windows of
// BurstWindow starting at the window's first request. At most
// MaxClientWindows windows are kept; the least recently used is evicted.
func (t *Traffic) burst(ev *event.Event, e *evidence) {
	if !ev.ClientIP.IsValid() {
		return
	}
	k := winKey{e, ev.ClientIP}
	w, created := t.win.GetOrAdd(k.hash())
	if created || w.key != k { // (a different key: a 64-bit collision, the window restarts)
		*w = window{key: k, start: ev.Time}
	}
	if ev.Time.Sub(w.start) >= t.cfg.BurstWindow || ev.Time.Before(w.start) {
		w.start, w.n, w.hit = ev.Time, 0, false
	}
	w.n++
	if w.n > e.maxBurst {
		e.maxBurst = w.n
	}
	if w.n >= t.cfg.BurstRequests && !w.hit {
		w.hit = true
		e.bursts++
	}
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}

// introspectionQuery: the request carries a GraphQL document asking for
// the schema (__schema) — in its body (a JSON query member, or
// application/graphql) or in the query parameter of a GET.
// graphQLData reports a GraphQL response that carries data: a "data"
// member that is not null (a batch answers an array of such objects). A
// server that refuses a request answers {"errors": […]} or "data": null.
func graphQLData(body string) bool {
	for rest := body; ; {
		i := strings.Index(rest, `"data"`)
		if i < 0 {
			return false
		}
		rest = strings.TrimLeft(rest[i+len(`"data"`):], " \t\r\n")
		if !strings.HasPrefix(rest, ":") {
			continue
		}
		rest = strings.TrimLeft(rest[1:], " \t\r\n")
		if rest != "" && !strings.HasPrefix(rest, "null") {
			return true
		}
	}
}

func introspectionQuery(ev *event.Event) bool {
	if q := ev.Query.Get("query"); q != "" && strings.Contains(q, "__schema") {
		return true
	}
	b := ev.Rec.Request.Body
	return len(b) < 1<<20 && strings.Contains(b, "__schema") && strings.Contains(b, "{")
}
