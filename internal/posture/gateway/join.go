package gateway

import (
	"fmt"
	"net"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/posture/specaudit"
)

// ---- matching gateway routes to inventory endpoints ----

// Matcher matches routes to inventory endpoint templates; it caches
// compiled regular expressions (patterns Go's RE2 cannot compile, such as
// PCRE look-arounds, never match and are counted in Unsupported).
type Matcher struct {
	re          map[string]*regexp.Regexp
	Unsupported map[string]bool
}

// NewMatcher returns an empty matcher.
func NewMatcher() *Matcher {
	return &Matcher{re: map[string]*regexp.Regexp{}, Unsupported: map[string]bool{}}
}

// MatchRoute reports whether route r serves endpoint ep (an inventory
// template such as GET api.example.com /v1/users/{userId}): host condition
// (exact, *.suffix, .domain, prefix.*, ~regex; any host), method (HEAD is
// served by GET routes) and any of the route's paths (prefix, exact or
// regex; template parameters match any one segment).
func (m *Matcher) MatchRoute(r *Route, ep model.EndpointRef) bool {
	if !m.matchHost(r, ep.Host) {
		return false
	}
	if len(r.Methods) > 0 && ep.Method != "" && ep.Method != "*" {
		ok := false
		for _, x := range r.Methods {
			if x == ep.Method || x == "*" || x == "ANY" || (ep.Method == "HEAD" && x == "GET") {
				ok = true
				break
			}
		}
		if !ok {
			return false
		}
	}
	for _, p := range r.Paths {
		if m.matchPath(p, ep.Path) {
			return true
		}
	}
	return false
}

// BestRoute returns the route of routes that serves ep, nil if none: when
// several match, the most specific wins — an exact path, then a regular
// expression, then the longest prefix (NGINX's order for plain prefixes,
// Kong's for regex routes); among equals, a route naming the host beats a
// catch-all, then the first in the file.
func (m *Matcher) BestRoute(routes []*Route, ep model.EndpointRef) *Route {
	var best *Route
	bestScore := -1
	for _, r := range routes {
		if !m.MatchRoute(r, ep) {
			continue
		}
		score := 0
		for _, p := range r.Paths {
			if !m.matchPath(p, ep.Path) {
				continue
			}
			s := 0
			switch {
			case p.Kind != MatchRegex && narrows(p.Value, ep.Path):
				// The route covers one value of an endpoint parameter
				// (/v1/accounts/health for /v1/accounts/{id}).
				s = 1 << 2
			case p.Kind == MatchExact:
				s = 3 << 20
			case p.Kind == MatchRegex:
				s = 2 << 20
			default:
				s = 1<<20 + min(len(p.Value), 1<<16)<<2
			}
			if s > score {
				score = s
			}
		}
		if !r.AnyHost && len(r.Hosts) > 0 {
			score++
		}
		if score > bestScore {
			best, bestScore = r, score
		}
	}
	return best
}

func stripPort(h string) string {
	h = strings.ToLower(h)
	if host, _, err := net.SplitHostPort(h); err == nil {
		return strings.Trim(host, "[]")
	}
	return strings.Trim(h, "[]")
}

// HostMatches reports whether a route host condition accepts host.
func (m *Matcher) HostMatches(cond, host string) bool {
	cond, host = stripPort(cond), stripPort(host)
	switch {
	case cond == host:
		return true
	case strings.HasPrefix(cond, "~"):
		re := m.compile("host:"+cond, strings.TrimPrefix(cond, "~"), "", true)
		return re != nil && re.MatchString(host)
	case strings.HasPrefix(cond, "*."):
		return strings.HasSuffix(host, cond[1:]) && len(host) > len(cond)-1
	case strings.HasPrefix(cond, "."):
		return host == cond[1:] || strings.HasSuffix(host, cond)
	case strings.HasSuffix(cond, ".*"):
		return strings.HasPrefix(host, cond[:len(cond)-1])
	}
	return false
}

func (m *Matcher) matchHost(r *Route, host string) bool {
	if r.AnyHost || r.HostUnknown || len(r.Hosts) == 0 {
		return true
	}
	for _, h := range r.Hosts {
		if m.HostMatches(h.Value, host) {
			return true
		}
	}
	return false
}

// narrows reports a route path with a literal segment where the template
// has a parameter.
func narrows(route, tmpl string) bool {
	a, b := splitPath(route), splitPath(tmpl)
	for i := range a {
		if i < len(b) && isParam(b[i]) && !isParam(a[i]) {
			return true
		}
	}
	return false
}

func isParam(seg string) bool {
	return len(seg) >= 2 && seg[0] == '{' && seg[len(seg)-1] == '}'
}

func segEq(a, b string, fold bool) bool {
	if isParam(a) || isParam(b) {
		return true
	}
	if fold {
		return strings.EqualFold(a, b)
	}
	return a == b
}

// matchPath matches one path condition against a template.
func (m *Matcher) matchPath(p PathMatch, tmpl string) bool {
	if tmpl == "" {
		tmpl = "/"
	}
	switch p.Kind {
	case MatchRegex:
		re := m.compile(p.Anchor+":"+p.Value, p.Value, p.Anchor, p.IgnoreCase)
		if re == nil {
			return false
		}
		for _, cand := range instantiate(tmpl) {
			if re.MatchString(cand) {
				return true
			}
		}
		return false
	case MatchExact:
		a, b := splitPath(p.Value), splitPath(tmpl)
		if len(a) != len(b) {
			return false
		}
		for i := range a {
			if !segEq(a[i], b[i], p.IgnoreCase) {
				return false
			}
		}
		return true
	}
	// Prefix: a string prefix, where a template parameter stands for any
	// one segment.
	pre := p.Value
	if pre == "" || pre == "/" {
		return true
	}
	a, b := splitPath(pre), splitPath(tmpl)
	trailing := strings.HasSuffix(pre, "/")
	if len(a) > len(b) {
		return false
	}
	for i := range a {
		last := i == len(a)-1
		switch {
		case isParam(a[i]) || isParam(b[i]):
		case last && !trailing:
			if p.IgnoreCase {
				if !strings.HasPrefix(strings.ToLower(b[i]), strings.ToLower(a[i])) {
					return false
				}
			} else if !strings.HasPrefix(b[i], a[i]) {
				return false
			}
		default:
			if !segEq(a[i], b[i], p.IgnoreCase) {
				return false
			}
		}
	}
	if trailing && len(a) == len(b) && !strings.HasSuffix(tmpl, "/") {
		// "/api/" does not match "/api".
		return false
	}
	return true
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

// paramSamples stand for a template parameter when a regex is tried:
// digits, a word, a dashed code and a UUID.
var paramSamples = []string{"1", "12345", "abc", "ab-12", "3f2b8c1e-4d5a-4b6c-9e7f-0a1b2c3d4e5f"}

// instantiate turns a template into concrete paths for regex matching.
func instantiate(tmpl string) []string {
	if !strings.Contains(tmpl, "{") {
		return []string{tmpl}
	}
	var out []string
	for _, s := range paramSamples {
		segs := strings.Split(tmpl, "/")
		for i, g := range segs {
			if isParam(g) {
				segs[i] = s
			}
		}
		out = append(out, strings.Join(segs, "/"))
	}
	return out
}

func (m *Matcher) compile(key, expr, anchor string, fold bool) *regexp.Regexp {
	if re, ok := m.re[key]; ok {
		return re
	}
	src := expr
	switch anchor {
	case "full":
		src = "^(?:" + expr + ")$"
	case "start":
		src = "^(?:" + expr + ")"
	}
	if fold {
		src = "(?i)" + src
	}
	re, err := regexp.Compile(src)
	if err != nil || len(expr) > 4096 {
		re = nil
		m.Unsupported[expr] = true
	}
	m.re[key] = re
	return re
}

// ---- joined rules ----

// JoinOptions select the joined rules.
type JoinOptions struct {
	Only, Disable []string
}

type joinCtx struct {
	rep     *model.Report
	m       *Matcher
	matches map[*Route][]*model.Endpoint // active endpoints a route serves
	alerts  map[string][]*model.Alert    // by endpoint key
	hosts   map[string]bool              // hosts seen in traffic
	window  string
}

// active endpoints: received traffic.
func activeEndpoints(rep *model.Report) []*model.Endpoint {
	var out []*model.Endpoint
	for i := range rep.Endpoints {
		if rep.Endpoints[i].Requests > 0 {
			out = append(out, &rep.Endpoints[i])
		}
	}
	return out
}

// Join confronts the configurations with what the traffic showed (an
// analysis report: inventory with risk scores, alerts) and returns the
// joined findings, most risky first (evidence.risk is the highest risk
// score of the endpoints involved).
func Join(cfgs []*Config, rep *model.Report, opts JoinOptions) ([]model.Finding, error) {
	rules, err := Options{Only: opts.Only, Disable: opts.Disable}.selected()
	if err != nil {
		return nil, err
	}
	if rep == nil {
		return nil, nil
	}
	j := &joinCtx{rep: rep, m: NewMatcher(), matches: map[*Route][]*model.Endpoint{}, alerts: map[string][]*model.Alert{}, hosts: map[string]bool{}}
	if rep.Input.From != nil && rep.Input.To != nil {
		j.window = rep.Input.From.UTC().Format(time.RFC3339) + " … " + rep.Input.To.UTC().Format(time.RFC3339)
	}
	eps := activeEndpoints(rep)
	for _, e := range eps {
		j.hosts[stripPort(e.Host)] = true
	}
	for i := range rep.Alerts {
		a := &rep.Alerts[i]
		if a.Endpoint != nil {
			j.alerts[a.Endpoint.Key()] = append(j.alerts[a.Endpoint.Key()], a)
		}
	}
	for _, c := range cfgs {
		for _, e := range eps {
			if r := j.m.BestRoute(c.Routes, e.Ref()); r != nil {
				j.matches[r] = append(j.matches[r], e)
			}
		}
	}
	var out []model.Finding
	var errs []error
	// Per-configuration rules, then the bypass rule across all of them.
	for _, c := range cfgs {
		a := &auditor{cfg: c, seen: map[string]bool{}, j: j}
		for _, r := range rules {
			if !r.Joined || r.ID == "PAL-G102" {
				continue
			}
			if err := a.run(r); err != nil {
				errs = append(errs, err)
			}
		}
		out = append(out, a.out...)
	}
	for _, r := range rules {
		if r.ID == "PAL-G102" && len(cfgs) > 0 {
			a := &auditor{cfg: cfgs[0], seen: map[string]bool{}, j: j}
			a.all = cfgs
			if err := a.run(r); err != nil {
				errs = append(errs, err)
			}
			out = append(out, a.out...)
		}
	}
	sort.SliceStable(out, func(i, k int) bool {
		ri, rk := riskOf(out[i]), riskOf(out[k])
		if ri != rk {
			return ri > rk
		}
		if model.SeverityRank(out[i].Severity) != model.SeverityRank(out[k].Severity) {
			return model.SeverityRank(out[i].Severity) > model.SeverityRank(out[k].Severity)
		}
		return out[i].ID < out[k].ID
	})
	if len(errs) > 0 {
		return out, errs[0]
	}
	return out, nil
}

func riskOf(f model.Finding) int {
	if v, ok := f.Evidence["risk"].(int); ok {
		return v
	}
	return 0
}

// endpointEvidence summarizes endpoints (most risky first, at most 10).
func endpointEvidence(eps []*model.Endpoint) ([]map[string]any, int) {
	sorted := append([]*model.Endpoint(nil), eps...)
	sort.SliceStable(sorted, func(i, k int) bool {
		if sorted[i].Risk.Score != sorted[k].Risk.Score {
			return sorted[i].Risk.Score > sorted[k].Risk.Score
		}
		return sorted[i].Ref().Key() < sorted[k].Ref().Key()
	})
	risk := 0
	var out []map[string]any
	for i, e := range sorted {
		if e.Risk.Score > risk {
			risk = e.Risk.Score
		}
		if i < 10 {
			out = append(out, map[string]any{"endpoint": e.Method + " " + e.Host + e.Path, "requests": e.Requests, "risk": e.Risk.Score, "authentication": e.Authentication, "exposure": e.Exposure})
		}
	}
	return out, risk
}

func (a *auditor) trafficEvidence(eps []*model.Endpoint) map[string]any {
	list, risk := endpointEvidence(eps)
	ev := map[string]any{"risk": risk, "traffic": map[string]any{"endpoints": list, "endpoint_count": len(eps), "window": a.j.window, "records": a.j.rep.Input.Records}}
	return ev
}

// routeAnonymous reports a route the gateway does not authenticate.
func routeAnonymous(rt *Route) bool {
	return len(rt.Auth) == 0 || rt.AuthOff != nil
}

func checkUnused(a *auditor, r *rule) {
	for _, rt := range a.cfg.Routes {
		if len(rt.Backends) == 0 || len(a.j.matches[rt]) > 0 {
			continue
		}
		// Only when the traffic covers the route's hosts.
		covered := false
		for h := range a.j.hosts {
			if a.j.m.matchHost(rt, h) {
				covered = true
				break
			}
		}
		if !covered {
			continue
		}
		ev := map[string]any{"risk": 0, "traffic": map[string]any{"window": a.j.window, "records": a.j.rep.Input.Records, "matched_endpoints": 0}}
		a.emit(r, rt.Pos, rt, "", fmt.Sprintf("%s matched no request in the traffic analysed (%d records, %s)", rt.Display(), a.j.rep.Input.Records, a.j.window), ev)
	}
}

// sensitiveCredentialTypes are expected from login/token routes.
var sensitiveCredentialTypes = map[string]bool{"jwt": true, "secret": true, "session": true, "token": true}

func checkSensitive(a *auditor, r *rule) {
	for _, rt := range a.cfg.Routes {
		if !routeAnonymous(rt) || len(rt.Backends) == 0 {
			continue
		}
		var eps []*model.Endpoint
		types := map[string]bool{}
		anonSeen := false
		for _, e := range a.j.matches[rt] {
			hit := false
			for _, s := range e.SensitiveData {
				if !strings.HasPrefix(s.Location, "response.") || s.Masked {
					continue
				}
				if sensitiveCredentialTypes[s.Type] && specaudit.IsAuthFlowPath(e.Path) {
					continue // login and token endpoints return credentials by design
				}
				types[s.Type] = true
				hit = true
			}
			if hit {
				eps = append(eps, e)
				if e.Authentication == "none" {
					anonSeen = true
				}
			}
		}
		if len(eps) == 0 {
			continue
		}
		ts := sortedSet(types)
		p := rt.Pos
		if rt.AuthOff != nil {
			p = rt.AuthOff.Pos
		}
		ev := a.trafficEvidence(eps)
		ev["sensitive_types"] = ts
		ev["gateway_auth"] = "none"
		sev, seen := "", "successful calls without credentials were seen"
		if !anonSeen {
			sev, seen = model.SevHigh, "the backend itself required credentials on every successful call seen (defence in one layer only)"
		}
		a.emit(r, p, rt, sev, fmt.Sprintf("%s enforces no authentication and %d endpoint(s) behind it returned %s; %s", rt.Display(), len(eps), strings.Join(ts, ", "), seen), ev)
	}
}

// abuseAlerts are the detections a gateway rate limit would slow down.
var abuseAlerts = map[string]bool{
	"traffic.endpoint_spike": true, "traffic.client_spike": true, "traffic.identity_spike": true,
	"bola.param_enumeration": true, "bola.distributed_param_enumeration": true, "recon.endpoint_spray": true,
	"auth.brute_force": true, "auth.credential_stuffing": true, "payload.large_response": false,
}

func checkAbused(a *auditor, r *rule) {
	for _, rt := range a.cfg.Routes {
		if len(rt.RateLimit) > 0 || len(rt.Backends) == 0 || rt.Defaults["rate-unknown"] != "" {
			continue
		}
		var eps []*model.Endpoint
		var alerts []map[string]any
		types := map[string]bool{}
		for _, e := range a.j.matches[rt] {
			hit := false
			for _, al := range a.j.alerts[e.Ref().Key()] {
				if !abuseAlerts[al.Type] {
					continue
				}
				hit = true
				types[al.Type] = true
				if len(alerts) < 10 {
					x := map[string]any{"id": al.ID, "type": al.Type, "severity": al.Severity, "endpoint": e.Method + " " + e.Host + e.Path, "count": al.Count, "first_seen": al.FirstSeen.UTC().Format(time.RFC3339)}
					if al.Client != nil {
						x["client"] = al.Client.IP
					}
					if al.Identity != nil {
						x["identity"] = al.Identity.ID
					}
					alerts = append(alerts, x)
				}
			}
			if hit {
				eps = append(eps, e)
			}
		}
		if len(eps) == 0 {
			continue
		}
		ts := sortedSet(types)
		ev := a.trafficEvidence(eps)
		ev["alerts"] = alerts
		ev["gateway_rate_limit"] = "none"
		a.emit(r, rt.Pos, rt, "", fmt.Sprintf("%s has no rate limit and traffic detections fired on %d endpoint(s) behind it: %s", rt.Display(), len(eps), strings.Join(ts, ", ")), ev)
	}
}

func checkBypass(a *auditor, r *rule) {
	eps := activeEndpoints(a.j.rep)
	served := map[*model.Endpoint]bool{}
	for _, list := range a.j.matches {
		for _, e := range list {
			served[e] = true
		}
	}
	// Hosts the configurations publish explicitly (a route names them).
	published := func(host string) (*Route, *Config) {
		for _, c := range a.all {
			for _, rt := range c.Routes {
				if rt.AnyHost {
					continue
				}
				for _, h := range rt.Hosts {
					if a.j.m.HostMatches(h.Value, host) {
						return rt, c
					}
				}
			}
		}
		return nil, nil
	}
	byHost := map[string][]*model.Endpoint{}
	var hosts []string
	for _, e := range eps {
		if served[e] || (e.Documented != nil && *e.Documented) {
			continue
		}
		if rt, c := published(e.Host); rt != nil {
			p := rt.HostsPos
			if !p.Valid() {
				p = rt.Pos
			}
			ev := a.trafficEvidence([]*model.Endpoint{e})
			ev["configuration"] = c.File
			ev["endpoint_state"] = e.State
			a.cfg = c
			// High when the endpoint handles sensitive data or detections
			// fired on it; a lone probe-like endpoint is medium.
			sev := model.SevMedium
			if len(e.SensitiveData) > 0 || len(a.j.alerts[e.Ref().Key()]) > 0 {
				sev = ""
			}
			a.emitAt(r, p, e, sev, fmt.Sprintf("%s %s%s received %d requests but no route of %s matches it and no spec declares it: it is reached without the gateway's policies", e.Method, e.Host, e.Path, e.Requests, c.File), ev)
			continue
		}
		if e.Exposure != "external" {
			continue // internal-only traffic (service-to-service, outbound calls) is not expected at the edge gateway
		}
		h := stripPort(e.Host)
		if byHost[h] == nil {
			hosts = append(hosts, h)
		}
		byHost[h] = append(byHost[h], e)
	}
	sort.Strings(hosts)
	for _, h := range hosts {
		list := byHost[h]
		var reqs int64
		for _, e := range list {
			reqs += e.Requests
		}
		ev := a.trafficEvidence(list)
		a.cfg = a.all[0]
		a.emitAt(r, a.cfg.Pos, nil, model.SevMedium, fmt.Sprintf("host %s received %d requests from the internet on %d endpoint(s) that no audited gateway configuration publishes and no spec declares", h, reqs, len(list)), ev)
	}
}

// emitAt records a joined finding about an endpoint (not a route).
func (a *auditor) emitAt(r *rule, p Pos, e *model.Endpoint, sev, msg string, ev map[string]any) {
	key := ""
	if e != nil {
		key = e.Ref().Key()
	}
	n := len(a.out)
	a.emitKey(r, p, nil, sev, msg, ev, key)
	if len(a.out) > n && e != nil {
		ref := e.Ref()
		a.out[n].Endpoint = &ref
	}
}

func sortedSet(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
