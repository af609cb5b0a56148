package detect

import (
	"fmt"
	"math"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/palisade-sec/palisade/internal/alert"
	"github.com/palisade-sec/palisade/internal/config"
	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/graphql"
	"github.com/palisade-sec/palisade/internal/hashing"
	"github.com/palisade-sec/palisade/internal/identity"
	"github.com/palisade-sec/palisade/internal/model"
)

// Family "authabuse": auth.brute_force, auth.credential_stuffing,
// auth.token_reuse.
//
// A failed authentication is a 401/403 answer on a login-like endpoint
// (a path segment naming login, signin, auth, oauth, token, session,
// password, mfa/otp…), or a 401 answer elsewhere to a request carrying
// credentials. Usernames are taken from basic auth or from the login body
// (JSON or form fields username, user, login, email, …) and only a hash is
// kept — never the name.
//
//   - auth.brute_force (client): failures per client IP in a 10 min
//     window above max(bf_abs, bf_peer · p99 of clients' failure windows);
//     401s outside login endpoints only count when the client cycles at
//     least 3 distinct credentials (a client retrying with one expired token
//     is not guessing). The threshold scales with the number of principals
//     that authenticated successfully from the IP in the window / 4 (NAT).
//   - auth.credential_stuffing (endpoint): failures on one login endpoint
//     in a 20 min window above max(cs_abs, mean + k·sd, ratio·mean of the
//     endpoint's EWMA once it has 6 windows; 4·cs_abs before), spread over ≥ cs_clients
//     clients and ≥ cs_users distinct usernames (at least 0.3 per failure),
//     no single client holding half of the failures.
//   - auth.token_reuse (identity): distinct client networks (/24 IPv4, /48
//     IPv6; all internal addresses count as one) per principal in a 1 h
//     window above max(tr_abs, 2 · own max, 2 · p99 of principals) — a phone
//     roaming between Wi-Fi and carrier uses 2–3 networks; a service fleet
//     that always uses many sets its own max. A principal without history
//     needs twice tr_abs; before tr_gate principal-hours of peers,
//     tr_cold (4) × tr_abs. The window is also judged shifted by half its
//     length (the previous window's second half with this one's first),
//     against the principal's largest window before the previous one.
//
// Memory: per client IP ≈ 190 bytes, per principal ≈ 830 bytes (three
// address tallies of 137 B) + up to 1.5 KB of network hashes while active
// (three sets of ≤ 64), per login endpoint ≈ 300 bytes + 2
// HLLs; LRU-bounded by Config.MaxTrackedClients / MaxTrackedIdentities
// (default 200,000) and max_endpoints (default 20,000).

func init() {
	Register("authabuse", func(cfg Config) Detector { return newAuthAbuse(cfg) })
	RegisterOptions("authabuse", func() FamilyOptions { return defaultAuthabuseOptions() })
}

// authabuseOptions are the authabuse family's options (detect.options.authabuse).
type authabuseOptions struct {
	BfWindow     config.Duration `yaml:"bf_window" doc:"brute-force window (failures per client address)"`
	BfAbs        float64         `yaml:"bf_abs" doc:"brute-force absolute floor (failures per window)"`
	BfPeer       float64         `yaml:"bf_peer" doc:"brute force fires above bf_peer × the p99 of clients' windows"`
	BfGate       float64         `yaml:"bf_gate" doc:"client windows before the brute-force peer bound applies"`
	CsWindow     config.Duration `yaml:"cs_window" doc:"credential-stuffing window (failures per login endpoint)"`
	CsAbs        float64         `yaml:"cs_abs" doc:"credential-stuffing absolute floor (failures per window)"`
	CsUsers      float64         `yaml:"cs_users" doc:"distinct usernames a credential-stuffing window needs"`
	CsClients    float64         `yaml:"cs_clients" doc:"distinct client addresses a credential-stuffing window needs"`
	CsK          float64         `yaml:"cs_k" doc:"credential stuffing fires above mean + cs_k·sd of the endpoint's windows"`
	CsRatio      float64         `yaml:"cs_ratio" doc:"credential stuffing fires above cs_ratio × the endpoint's mean"`
	TrWindow     config.Duration `yaml:"tr_window" doc:"token-reuse window (distinct networks per principal)"`
	TrAbs        float64         `yaml:"tr_abs" doc:"token-reuse absolute floor (distinct networks per window)"`
	TrGate       float64         `yaml:"tr_gate" doc:"principal windows before the token-reuse peer bound applies"`
	MaxEndpoints int             `yaml:"max_endpoints" doc:"login endpoints tracked (LRU)"`
	TrCold       float64         `yaml:"tr_cold" doc:"before tr_gate principal-hours of peers, token reuse fires above tr_cold × tr_abs networks (and 2 × the principal's own largest hour)"`
	GraphQLBatch int             `yaml:"graphql_batch" doc:"authentication attempts (login, OTP, password checks …) batched in one GraphQL request — by aliases or an array of operations — that are brute force on their own (no client logs in that often at once); at least 2"`
}

func defaultAuthabuseOptions() *authabuseOptions {
	return &authabuseOptions{
		BfWindow:     config.Duration(10 * time.Minute),
		BfAbs:        20,
		BfPeer:       3,
		BfGate:       50,
		CsWindow:     config.Duration(20 * time.Minute),
		CsAbs:        50,
		CsUsers:      20,
		CsClients:    5,
		CsK:          6,
		CsRatio:      4,
		TrWindow:     config.Duration(time.Hour),
		TrAbs:        5,
		TrGate:       30,
		MaxEndpoints: 20000,
		TrCold:       4,
		GraphQLBatch: 10,
	}
}

// Validate implements config.Validator.
func (o *authabuseOptions) Validate() error {
	if o.GraphQLBatch < 2 {
		return config.Errorf("graphql_batch", "must be at least 2, not %d", o.GraphQLBatch)
	}
	return checkOptions(o)
}

type authDetector struct {
	endUsers endUsers // the end-user role vocabulary (Config.EndUserRoles)
	keyed
	bfWin, csWin, trWin       time.Duration
	bfAbs, bfPeer, bfGate     float64
	csAbs, csUsers, csClients float64
	csK, csRatio              float64
	trAbs, trGate, trCold     float64
	gqlBatch                  int
	clients                   *lru[authClient]
	eps                       *lru[authEndpoint]
	ids                       *lru[authIdentity]
	bfPop, trPop              quantiles
	js                        jsonScanner
	login                     map[uint64]bool // loginLike of the endpoint's path, by endpoint hash (bounded)
	first, now                time.Time
	readyBF, readyCS, readyTR readyMark
	// Clients with failures (principals) active in the current global
	// brute-force (token-reuse) window, folded into the population when it
	// rolls: most clients never return, so their own roll never comes.
	bfGW, trGW         int64
	bfActive, trActive []uint64
}

type authClient struct {
	w          window
	loginFails float64
	credFails  float64
	creds      lin256 // distinct credentials / usernames that failed
	okIDs      lin256 // principals that succeeded from this IP
	fire       fireState
	rep        float64
	hit        *Hit
	folded     bool
}

type authEndpoint struct {
	ref        model.EndpointRef
	w          window
	maxClient  float64 // most login failures of one client (its 10 min window)
	nextEval   float64 // failure count at which the HLLs are next estimated
	evalN      float64 // failure count at the last estimate
	users, cls distinct
	base       ewstat
	fire       fireState
	last       time.Time
	hit        *Hit
}

type authIdentity struct {
	w        window
	nets     smallSet
	late     smallSet // networks of the window's second half
	carry    smallSet // the previous window's late networks, when it was the one before
	ips      lin256
	lastNet  uint64
	switches float64
	own      float64
	ownPrev  float64 // own before the last window was learned
	closed   uint32
	fire     fireState
	rep      float64
	hit      *Hit
	addrs    addrTally // client addresses of the window's requests
	// the addresses and requests of the window's second half, and of the
	// previous window's (carried): a shifted window's alert names them
	lateAddrs, carryAddrs addrTally
	lateN, carryN         float64
	folded                bool
}

func newAuthAbuse(cfg Config) *authDetector {
	o := optionsFor[*authabuseOptions](cfg, "authabuse")
	d := &authDetector{
		endUsers: newEndUsers(cfg),
		bfWin:    o.BfWindow.D(), bfAbs: o.BfAbs, bfPeer: o.BfPeer, bfGate: o.BfGate,
		csWin: o.CsWindow.D(), csAbs: o.CsAbs, csUsers: o.CsUsers, csClients: o.CsClients,
		csK: o.CsK, csRatio: o.CsRatio,
		trWin: o.TrWindow.D(), trAbs: o.TrAbs, trGate: o.TrGate, trCold: o.TrCold, gqlBatch: o.GraphQLBatch,
		bfPop: newQuantiles(), trPop: newQuantiles(), login: map[uint64]bool{},
	}
	d.clients = newLRU[authClient](capOr(cfg.MaxTrackedClients, 200000))
	d.ids = newLRU[authIdentity](capOr(cfg.MaxTrackedIdentities, 200000))
	d.eps = newLRU[authEndpoint](o.MaxEndpoints)
	d.clients.OnEvict = func(_ uint64, c *authClient) { d.foldClient(c) }
	d.ids.OnEvict = func(_ uint64, s *authIdentity) { d.foldIdentity(s) }
	return d
}

func (d *authDetector) Name() string { return "authabuse" }

var loginWords = []string{"login", "logon", "signin", "sign-in", "sign_in", "token", "session", "password", "passwd", "oauth", "2fa", "mfa", "otp"}

// loginLike reports whether an endpoint path names an authentication step.
func loginLike(path string) bool {
	p := strings.ToLower(path)
	for p != "" {
		var seg string
		seg, p, _ = strings.Cut(strings.TrimPrefix(p, "/"), "/")
		if strings.HasPrefix(seg, "auth") && !strings.HasPrefix(seg, "author") {
			return true
		}
		for _, w := range loginWords {
			if strings.Contains(seg, w) {
				return true
			}
		}
	}
	return false
}

var usernameFields = map[string]bool{
	"username": true, "user": true, "user_name": true, "login": true, "email": true, "mail": true, "account": true,
	"userid": true, "user_id": true, "phone": true, "mobile": true, "identifier": true, "principal": true, "client_id": true,
}

// username returns a hash of the username a login request names (0 when
// none is found). The name itself is never kept.
func username(ev *event.Event) uint64 {
	var js jsonScanner
	return usernameWith(&js, ev)
}

func usernameWith(js *jsonScanner, ev *event.Event) uint64 {
	if id := ev.Auth.Identity; id != nil && id.Kind == identity.KindBasic {
		return hashing.String("u:" + strings.ToLower(id.Name))
	}
	if ev.Rec == nil || ev.Rec.Request.Body == "" || len(ev.Rec.Request.Body) > 16<<10 {
		return 0
	}
	var name string
	ct := ev.Rec.Request.Header("content-type")
	switch {
	case strings.Contains(ct, "json"):
		_ = js.scan(ev.Rec.Request.BodyText(), func(k string, kind jsontext.Kind, v string) {
			if name == "" && kind == '"' && usernameFields[strings.ToLower(k)] {
				name = v
			}
		}) // a malformed body simply names no user
	case strings.Contains(ct, "x-www-form-urlencoded"):
		if f, err := url.ParseQuery(ev.Rec.Request.BodyText()); err == nil {
			best := ""
			for k, vs := range f { // smallest matching field name wins: deterministic
				if usernameFields[strings.ToLower(k)] && len(vs) > 0 && (best == "" || k < best) {
					best, name = k, vs[0]
				}
			}
		}
	}
	if name == "" {
		return 0
	}
	return hashing.String("u:" + strings.ToLower(strings.TrimSpace(name)))
}

func (d *authDetector) Observe(ev *event.Event, out *Emitter) {
	d.begin(ev)
	if d.first.IsZero() {
		d.first = ev.Time
	}
	d.now = ev.Time
	eh := d.keys.endpoint(ev)
	login, ok := d.login[eh]
	if !ok {
		if len(d.login) >= 50000 {
			clear(d.login) // bounded cache
		}
		login = loginLike(ev.Endpoint.Path)
		d.login[eh] = login
	}
	if !ev.Outbound && (ev.Method == "POST" || ev.Method == "GET" && ev.Query.Has("query")) {
		d.graphQLBatch(ev, out)
	}
	fail := ev.Status == 401 || login && ev.Status == 403
	credFail := fail && !login && ev.Auth.Credentials
	if fail && !login && !credFail {
		fail = false // 401 without credentials: an anonymous call to a protected endpoint
	}
	if ev.Auth.Identity != nil && ev.Success() {
		d.identity(ev, out)
	}
	if !fail && !(ev.Auth.Identity != nil && ev.Success()) {
		return
	}
	var user uint64
	if fail {
		if login {
			user = usernameWith(&d.js, ev)
		}
		if user == 0 && ev.Auth.Identity != nil {
			user = hashing.String(ev.Auth.Identity.TokenID + ev.Auth.Identity.ID)
		}
	}
	c := d.client(ev, fail, login, user, out)
	if fail && login {
		d.stuffing(ev, user, c.loginFails, out)
	}
}

func (d *authDetector) foldClient(c *authClient) {
	if c.folded {
		return
	}
	c.folded = true
	if v := c.loginFails + c.credFails; v > 0 {
		if c.fire.firedIn(c.w.idx) {
			v = fmin(v, c.fire.thr)
		}
		d.bfPop.add(v)
		if d.bfPop.count() >= d.bfGate {
			d.readyBF.mark(d.now)
		}
	}
}

// rollActive folds the subjects of a global window that closed: clients
// (ids false) or principals.
func (d *authDetector) rollActive(gw *int64, active *[]uint64, idx int64, ids bool, out *Emitter) {
	if idx <= *gw {
		return
	}
	for _, k := range *active {
		if ids {
			if s, ok := d.ids.Peek(k); ok && s.w.idx == *gw {
				d.closeIdentity(s, out)
				d.foldIdentity(s)
			}
		} else if c, ok := d.clients.Peek(k); ok && c.w.idx == *gw {
			d.closeClient(c, out)
			d.foldClient(c)
		}
	}
	*active, *gw = (*active)[:0], idx
}

func (d *authDetector) client(ev *event.Event, fail, login bool, user uint64, out *Emitter) *authClient {
	idx := winIndex(ev.Time, d.bfWin)
	d.rollActive(&d.bfGW, &d.bfActive, idx, false, out)
	c, created := d.clients.GetOrAdd(d.keys.ip(ev))
	if created {
		c.w.idx = idx
	}
	if idx > c.w.idx {
		d.closeClient(c, out)
		d.foldClient(c)
		*c = authClient{w: window{idx: idx}}
	}
	c.w.n++
	if !fail {
		c.okIDs.add(d.keys.identity(ev))
		return c
	}
	if c.loginFails+c.credFails == 0 && c.w.idx == d.bfGW && len(d.bfActive) < maxActive {
		d.bfActive = append(d.bfActive, d.keys.ip(ev))
	}
	if login {
		c.loginFails++
	} else {
		c.credFails++
	}
	if user != 0 {
		c.creds.add(user)
	}
	creds := c.creds.estimate()
	fails := c.loginFails
	if creds >= 3 {
		fails += c.credFails
	}
	if fails <= d.bfAbs {
		return c
	}
	thr := d.bfAbs
	var p99 float64
	if d.bfPop.count() >= d.bfGate {
		p99 = d.bfPop.at(0.99)
		thr = fmax(thr, d.bfPeer*p99)
	}
	users := c.okIDs.estimate()
	thr *= fmax(1, users/4)
	if fails <= thr {
		return c
	}
	delta, first := c.fire.cross(c.w.idx, fails, thr)
	if delta == 0 {
		return c
	}
	h := Hit{Type: alert.AuthBruteForce, Time: ev.Time, Client: clientIP(ev), Identity: identityRef(ev), Endpoint: endpointRef(ev),
		Count:      int64(fails - c.rep),
		Confidence: confidence(fails, thr, d.bfPop.count(), 4*d.bfGate),
		Evidence: model.Evidence{
			Observed: fails, Baseline: round2(p99), Threshold: round2(thr), Window: winLabel(d.bfWin),
			Reason:  "many failed authentications from one client",
			Details: map[string]any{"distinct_credentials": creds, "login_failures": c.loginFails, "principals_ok_from_ip": users},
		},
	}
	c.rep = fails
	if first {
		h.Sample = anomSample(ev, "")
	}
	c.hit = &h
	out.Emit(h)
	c.hit.Sample = nil
	return c
}

func (d *authDetector) closeClient(c *authClient, out *Emitter) {
	fails := c.loginFails
	if c.creds.estimate() >= 3 {
		fails += c.credFails
	}
	if c.hit == nil || !c.fire.firedIn(c.w.idx) || fails <= c.rep {
		return
	}
	h := *c.hit
	h.Count, h.Evidence.Observed = int64(fails-c.rep), fails
	if !out.Preview() {
		c.rep = fails
	}
	out.Emit(h)
}

func (d *authDetector) stuffing(ev *event.Event, user uint64, clientFails float64, out *Emitter) {
	idx := winIndex(ev.Time, d.csWin)
	e, created := d.eps.GetOrAdd(d.keys.endpoint(ev))
	if created {
		e.w.idx = idx
		e.ref = keepRef(ev.Endpoint)
	}
	if idx > e.w.idx {
		d.judgeStuffing(e, nil, out)
		d.closeEndpoint(e, out)
		v := e.w.n
		if e.fire.firedIn(e.w.idx) {
			v = fmin(v, e.fire.thr)
		}
		e.base.update(v, 0.1)
		for gap := min(idx-e.w.idx-1, 80); gap > 0; gap-- {
			e.base.update(0, 0.1)
		}
		if e.base.n >= 6 {
			d.readyCS.mark(ev.Time)
		}
		e.w, e.hit, e.maxClient, e.nextEval, e.evalN = window{idx: idx}, nil, 0, 0, 0
		e.users.reset()
		e.cls.reset()
	}
	e.w.n++
	e.last = ev.Time
	if user != 0 {
		e.users.add(user)
	}
	e.cls.add(d.keys.ip(ev))
	e.maxClient = fmax(e.maxClient, clientFails)
	d.judgeStuffing(e, ev, out)
}

// judgeStuffing judges the endpoint's window; ev is nil for its last
// judgement, when the window ends.
func (d *authDetector) judgeStuffing(e *authEndpoint, ev *event.Event, out *Emitter) {
	// Before the endpoint has 6 windows of history only a flood four times
	// the absolute minimum counts.
	thr := 4 * d.csAbs
	if e.base.n >= 6 {
		thr = fmax(d.csAbs, e.base.upper(d.csK, d.csRatio))
	}
	// HLL estimates cost microseconds: evaluate at geometrically spaced
	// counts (every 8 failures, then every 1/8 of the count), at the first
	// failure above the bar, and once more when the window ends with
	// failures not yet estimated.
	due := ev == nil || e.w.n >= e.nextEval || e.w.n > thr && e.evalN <= thr
	if e.w.n <= d.csAbs || !due || e.w.n == e.evalN {
		return
	}
	e.nextEval, e.evalN = e.w.n+fmax(8, e.w.n/8), e.w.n
	users, clients := e.users.estimate(), e.cls.estimate()
	// Spread: many clients and many usernames, no client holding half of
	// the failures (that is brute force), about one attempt per username.
	if e.w.n <= thr || users < d.csUsers || clients < d.csClients || e.maxClient >= e.w.n/2 || users < 0.3*e.w.n {
		return
	}
	delta, first := e.fire.cross(e.w.idx, e.w.n, thr)
	if delta == 0 {
		return
	}
	at, ep := e.last, keepRef(e.ref)
	if ev != nil {
		at, ep = ev.Time, keepRef(ev.Endpoint)
	}
	e.hit = &Hit{Type: alert.AuthCredentialStuffing, Time: at, Endpoint: &ep, Count: int64(delta),
		Confidence: confidence(e.w.n, thr, float64(e.base.n), 24),
		Evidence: model.Evidence{
			Observed: e.w.n, Baseline: round2(e.base.mean), Threshold: round2(thr), Window: winLabel(d.csWin),
			Reason:  "many failed logins on this endpoint spread over many clients and many distinct usernames",
			Details: map[string]any{"distinct_usernames": users, "distinct_clients": clients, "max_failures_one_client": e.maxClient, "baseline_windows": e.base.n},
		},
	}
	if first && ev != nil {
		e.hit.Sample = anomSample(ev, "")
	}
	out.Emit(*e.hit)
	e.hit.Sample = nil
}

func (d *authDetector) closeEndpoint(e *authEndpoint, out *Emitter) {
	if e.hit == nil {
		return
	}
	if r := e.fire.remainder(e.w.idx, e.w.n, out); r > 0 {
		h := *e.hit
		h.Count, h.Time, h.Evidence.Observed = int64(r), e.last, e.w.n
		h.Evidence.Details = map[string]any{"distinct_usernames": e.users.estimate(), "distinct_clients": e.cls.estimate(),
			"max_failures_one_client": e.maxClient, "baseline_windows": e.base.n}
		out.Emit(h)
	}
}

func (d *authDetector) foldIdentity(s *authIdentity) {
	if s.w.n == 0 || s.folded {
		return
	}
	s.folded = true
	v := float64(s.nets.len() + s.nets.overflow)
	if s.fire.firedIn(s.w.idx) {
		v = fmin(v, s.fire.thr)
	} else {
		s.ownPrev = s.own
		s.own = fmax(s.own, v)
	}
	s.closed++
	d.trPop.add(v)
	if d.trPop.count() >= d.trGate {
		d.readyTR.mark(d.now)
	}
}

var internalNet = hashing.String("internal-network")

func (d *authDetector) identity(ev *event.Event, out *Emitter) {
	idx := winIndex(ev.Time, d.trWin)
	d.rollActive(&d.trGW, &d.trActive, idx, true, out)
	s, created := d.ids.GetOrAdd(d.keys.identity(ev))
	if created {
		s.w.idx = idx
	}
	if idx > s.w.idx {
		d.closeIdentity(s, out)
		d.foldIdentity(s)
		if idx == s.w.idx+1 && !s.fire.firedIn(s.w.idx) {
			// (a window that fired reported its second half already)
			s.carry, s.late = s.late, s.carry
			s.carryAddrs, s.carryN = s.lateAddrs, s.lateN
		} else {
			s.carry.reset()
			s.carryAddrs.reset()
			s.carryN = 0
		}
		s.late.reset()
		s.lateAddrs.reset()
		s.lateN = 0
		s.w, s.ips, s.lastNet, s.switches, s.rep, s.hit, s.fire = window{idx: idx}, lin256{}, 0, 0, 0, nil, fireState{}
		s.nets.reset()
		s.addrs.reset()
		s.folded = false
	}
	if s.w.n == 0 && s.w.idx == d.trGW && len(d.trActive) < maxActive {
		d.trActive = append(d.trActive, d.keys.identity(ev))
	}
	s.w.n++
	s.addrs.add(ev.ClientIP)
	nk := internalNet
	if ev.External {
		nk = netKey(ev.ClientIP)
	}
	s.ips.add(d.keys.ip(ev))
	if s.lastNet != 0 && nk != s.lastNet {
		s.switches++
	}
	s.lastNet = nk
	// The window shifted by half its length: the previous window's second
	// half and this one's first. An hour of roaming that straddles the
	// boundary (30 networks from 11:45 to 12:14) is two halves under the
	// bar in the tumbling windows.
	ws := int64(d.trWin / time.Second)
	late := ws > 1 && ev.Time.Unix()-s.w.idx*ws >= ws/2
	if late {
		s.late.add(nk)
		s.lateAddrs.add(ev.ClientIP)
		s.lateN++
	}
	if !s.nets.add(nk) {
		return
	}
	nets := float64(s.nets.len() + s.nets.overflow)
	shifted := false
	if !late && s.carry.len() > 0 {
		u := nets + float64(s.carry.len()+s.carry.overflow)
		for i := 0; i < s.nets.len(); i++ {
			if s.carry.has(s.nets.at(i)) {
				u--
			}
		}
		if u > nets {
			nets, shifted = u, true
		}
	}
	if nets <= d.trAbs {
		return
	}
	// Before tr_gate principal-hours of peers, a principal fires above
	// max(tr_cold × tr_abs, 2 × its own max): a service fleet that always
	// spreads over a dozen networks is not an attack just because the
	// capture is young.
	var p99 float64
	cold := d.trPop.count() < d.trGate
	if !cold {
		p99 = d.trPop.at(0.99)
	}
	own := s.own
	if shifted {
		// the previous window's second half is in the count: what that
		// window taught is not the bar. A principal whose only history it
		// is faces the cold bar (a service fleet on a dozen networks in its
		// second hour has no other normal yet).
		own = s.ownPrev
		cold = cold || s.closed < 2
	}
	thr := fmax(d.trAbs, fmax(2*own, 2*p99))
	if cold && !d.endUsers.token(ev) {
		// (a token whose every role names an end user — a customer, a
		// patient — is no service fleet: it faces the bar of a principal
		// without history, 2 × tr_abs, below)
		thr = fmax(thr, d.trCold*d.trAbs)
	}
	if s.closed == 0 {
		thr = fmax(thr, 2*d.trAbs)
	}
	if nets <= thr {
		return
	}
	delta, first := s.fire.cross(s.w.idx, nets, thr)
	if delta == 0 {
		return
	}
	h := Hit{Type: alert.AuthTokenReuse, Time: ev.Time, Client: clientIP(ev), Identity: identityRef(ev),
		Count:      int64(s.w.n - s.rep),
		Confidence: confidence(nets, thr, d.trPop.count(), 4*d.trGate),
		Evidence: model.Evidence{
			Observed: nets, Baseline: round2(fmax(own, p99)), Threshold: round2(thr), Window: winLabel(d.trWin),
			Reason:  "one principal used from an implausible number of client networks in a short time",
			Details: map[string]any{"client_ips": s.ips.estimate(), "network_switches": s.switches, "own_max": own, "peer_p99": round2(p99)},
		},
	}
	if shifted {
		// the networks counted include the previous window's second half
		// (its addresses are named below). That window was part of what
		// fired: it is not the principal's normal.
		h.Evidence.Details["window_shifted"] = true
		s.own = s.ownPrev
	}
	h.Clients, h.ClientsOther = s.addrs.delta(true)
	if shifted && s.carryN > 0 {
		// the previous window's second half is evidence: its addresses
		// and requests are the alert's too (once)
		cs, other := s.carryAddrs.delta(true)
		h.Clients, h.ClientsOther = append(h.Clients, cs...), h.ClientsOther+other // addClients merges an address named twice
		h.Count += int64(s.carryN)
		s.carryN = 0
	}
	s.rep = s.w.n
	if first {
		h.Sample = anomSample(ev, "")
	}
	s.hit = &h
	out.Emit(h)
	s.hit.Sample = nil
}

func (d *authDetector) closeIdentity(s *authIdentity, out *Emitter) {
	if s.hit == nil || !s.fire.firedIn(s.w.idx) || s.w.n <= s.rep {
		return
	}
	h := *s.hit
	h.Count = int64(s.w.n - s.rep)
	h.Clients, h.ClientsOther = s.addrs.delta(!out.Preview())
	if !out.Preview() {
		s.rep = s.w.n
	}
	out.Emit(h)
}

// Finish reports the remainder of fired windows.
func (d *authDetector) Finish(at time.Time, out *Emitter) {
	d.clients.Each(func(_ uint64, c *authClient) { d.closeClient(c, out) })
	d.eps.Each(func(_ uint64, e *authEndpoint) {
		if !out.Preview() {
			d.judgeStuffing(e, nil, out) // the open window's last judgement (a look must not commit it)
		}
		d.closeEndpoint(e, out)
	})
	d.ids.Each(func(_ uint64, s *authIdentity) { d.closeIdentity(s, out) })
}

// Readiness implements pipeline.ReadinessReporter.
func (d *authDetector) Readiness(at time.Time) []model.Readiness {
	h := hoursSince(d.first, at)
	bf := baseline{detector: "authabuse", name: "failure windows of clients", scope: "population", alerts: alertNames(alert.AuthBruteForce),
		requires: model.Need{Windows: int64(d.bfGate)},
		while:    fmt.Sprintf("the absolute floor only: > %g failures per %s from one client (× principals succeeding from it / 4)", d.bfAbs, winLabel(d.bfWin))}
	tr := baseline{detector: "authabuse", name: "networks per principal-hour", scope: "population", alerts: alertNames(alert.AuthTokenReuse),
		requires: model.Need{Windows: int64(d.trGate)},
		while:    fmt.Sprintf("a principal fires above max(%g, 2 × its own max) networks in %s (%g for a token whose every role names an end user)", d.trCold*d.trAbs, winLabel(d.trWin), 2*d.trAbs)}
	cs := baseline{detector: "authabuse", name: "failures per login endpoint (EWMA)", scope: "login endpoint", alerts: alertNames(alert.AuthCredentialStuffing),
		requires: model.Need{Windows: 6, Hours: 6 * d.csWin.Hours()},
		while:    fmt.Sprintf("> %g failures per %s (4 × the floor), spread over ≥ %g clients and ≥ %g usernames", 4*d.csAbs, winLabel(d.csWin), d.csClients, d.csUsers)}.tally()
	d.eps.Each(func(_ uint64, e *authEndpoint) {
		cs.Add(e.ref.Key(), model.Need{Windows: int64(e.base.n)}, e.base.n >= 6)
	})
	return []model.Readiness{bf.population(model.Need{Windows: int64(d.bfPop.count()), Hours: h}, d.readyBF),
		cs.Readiness(d.readyCS.at), tr.population(model.Need{Windows: int64(d.trPop.count()), Hours: h}, d.readyTR)}
}

// graphQLBatch: a GraphQL request that checks a secret many times at once
// — "a1: login(…) a2: login(…) …" aliases, or a JSON array of operations
// (batching, which Apollo and graphene accept) — is brute force in one
// request: the failure statuses the windows count never show (the answer
// is one 200 with an error per alias). Population-free: no client logs
// in graphql_batch times at once. One alert per (client, endpoint), folded.
func (d *authDetector) graphQLBatch(ev *event.Event, out *Emitter) {
	var docs []string
	if q := ev.Query.Get("query"); q != "" {
		docs = append(docs, q)
	}
	if body := ev.Rec.Request.Body; body != "" && ev.Rec.Request.BodyEncoding == "" {
		t := strings.TrimLeft(body, " \t\r\n")
		switch {
		case (strings.HasPrefix(t, "{") || strings.HasPrefix(t, "[")) && strings.Contains(t, `"query"`):
			docs = graphql.RequestDocs(t, docs)
		case graphql.IsDocument(t): // application/graphql: the body is the document
			docs = append(docs, t)
		}
	}
	if len(docs) == 0 {
		return
	}
	fields := map[string]int{}
	n := 0
	for _, doc := range docs {
		if authField(doc) { // a cheap test before parsing: a word of a secret check anywhere
			n += graphQLAuthAttempts(doc, fields)
		}
	}
	if n < d.gqlBatch {
		return
	}
	names := make([]string, 0, len(fields))
	for f := range fields {
		names = append(names, f)
	}
	sort.Strings(names)
	out.Emit(Hit{Type: alert.AuthBruteForce, Time: ev.Time, Client: clientIP(ev), Identity: identityRef(ev), Endpoint: endpointRef(ev),
		Count:      int64(n),
		Confidence: fmin(0.95, 0.7+0.05*math.Log2(float64(n)/float64(d.gqlBatch))),
		Evidence: model.Evidence{
			Observed: float64(n), Threshold: float64(d.gqlBatch),
			Reason:  "authentication attempts batched in one GraphQL request",
			Details: map[string]any{"graphql_attempts": n, "graphql_fields": names, "graphql_operations": len(docs)},
		},
		Sample: anomSample(ev, fmt.Sprintf("%d authentication attempts (%s) in one request", n, strings.Join(names, ", "))),
	})
}
