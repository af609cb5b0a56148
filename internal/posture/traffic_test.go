package posture

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/netip"
	"net/url"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/graphql"
	"github.com/palisade-sec/palisade/internal/identity"
	"github.com/palisade-sec/palisade/internal/model"
)

var pt0 = time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)

var ref = model.EndpointRef{Host: "api.example.com", Method: "GET", Path: "/v1/items/{id}"}

type evOpt func(*event.Event)

func scheme(s string) evOpt { return func(e *event.Event) { e.Scheme = s } }
func internal() evOpt       { return func(e *event.Event) { e.External = false } }
func status(c int) evOpt {
	return func(e *event.Event) { e.Status = c; e.Rec.Response.Status = c }
}
func client(ip string) evOpt { return func(e *event.Event) { e.ClientIP = netip.MustParseAddr(ip) } }
func reqHeader(k, v string) evOpt {
	return func(e *event.Event) { e.Rec.Request.Headers[k] = v }
}
func respHeader(k, v string) evOpt {
	return func(e *event.Event) {
		if v == "" {
			delete(e.Rec.Response.Headers, k)
		} else {
			e.Rec.Response.Headers[k] = v
		}
	}
}
func body(b string) evOpt { return func(e *event.Event) { e.Rec.Response.Body = b } }
func reqBody(b string) evOpt {
	return func(e *event.Event) { e.Rec.Request.Method, e.Rec.Request.Body = "POST", b }
}
func query(q string) evOpt { return func(e *event.Event) { e.Rec.Request.URL += "?" + q } }

// gqlReq: a POST of a GraphQL request body, summarized as enrichment does.
func gqlReq(b string) evOpt {
	return func(e *event.Event) {
		e.Rec.Request.Method, e.Rec.Request.Body = "POST", b
		e.GraphQL = graphql.Request(b, "")
	}
}

// pev builds an enriched event: an external HTTPS GET answered 200 with
// the recommended headers, unless options say otherwise. Auth is derived
// from the request headers and URL as the enrichment stage does.
func pev(at time.Time, opts ...evOpt) *event.Event {
	rec := &exchange.Record{
		Time:    at,
		Client:  exchange.Client{IP: "198.51.100.1"},
		Request: exchange.Request{Method: "GET", URL: "https://api.example.com/v1/items/7", Headers: map[string]string{}},
		Response: exchange.Response{Status: 200, Body: `{"id":7}`, Headers: map[string]string{
			"content-type": "application/json", "x-content-type-options": "nosniff",
			"strict-transport-security": "max-age=63072000", "cache-control": "no-store",
		}},
	}
	e := &event.Event{Rec: rec, Time: at, Method: "GET", Scheme: "https", Host: "api.example.com", Path: "/v1/items/7",
		ClientIP: netip.MustParseAddr("198.51.100.1"), External: true, Endpoint: ref, Status: 200}
	for _, o := range opts {
		o(e)
	}
	if e.Scheme != "https" {
		rec.Request.URL = strings.Replace(rec.Request.URL, "https://", e.Scheme+"://", 1)
	}
	u, _ := url.Parse(rec.Request.URL)
	e.URL, e.Query = u, u.Query()
	e.Auth = identity.New(identity.DefaultConfig()).Derive(&rec.Request, u)
	return e
}

func baseEP() model.Endpoint {
	last := pt0.Add(time.Hour)
	yes := true
	return model.Endpoint{Host: ref.Host, Method: ref.Method, Path: ref.Path, Requests: 10, StatusCodes: map[string]int64{"200": 10},
		Authentication: "required", Exposure: "external", State: "active", Documented: &yes, LastSeen: &last, FirstSeen: &last}
}

func jwt(claims map[string]any, alg string) string {
	h, _ := json.Marshal(map[string]any{"alg": alg, "typ": "JWT"})
	p, _ := json.Marshal(claims)
	sig := "c2lnbmF0dXJl"
	if alg == "none" {
		sig = ""
	}
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p) + "." + sig
}

type fakeSpec map[string][]string

func (f fakeSpec) SpecFields(r model.EndpointRef) ([]string, bool) {
	v, ok := f[r.Key()]
	return v, ok
}

func rulesOf(fs []model.Finding) map[string]string {
	m := map[string]string{}
	for _, f := range fs {
		m[f.Rule] = f.Severity
	}
	return m
}

func TestTrafficRules(t *testing.T) {
	bearer := func(tok string) evOpt { return reqHeader("authorization", "Bearer "+tok) }
	basic := reqHeader("authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("ann:pw")))
	n := func(k int, mk func(i int) *event.Event) []*event.Event {
		var out []*event.Event
		for i := 0; i < k; i++ {
			out = append(out, mk(i))
		}
		return out
	}
	every := func(d time.Duration, opts ...evOpt) func(int) *event.Event {
		return func(i int) *event.Event { return pev(pt0.Add(time.Duration(i)*d), opts...) }
	}
	epWith := func(mod func(*model.Endpoint)) model.Endpoint {
		ep := baseEP()
		mod(&ep)
		return ep
	}
	noauth := func(ep *model.Endpoint) { ep.Authentication = "none" }
	sd := func(typ, loc, field string, masked bool) model.SensitiveData {
		return model.SensitiveData{Type: typ, Location: loc, Field: field, Confidence: 0.9, Masked: masked}
	}
	cases := []struct {
		name   string
		rule   string
		events []*event.Event
		ep     model.Endpoint
		cfg    TrafficConfig
		want   string // severity, "" = no finding of this rule
	}{
		{"unauthenticated external", RuleUnauthenticated, nil, epWith(noauth), TrafficConfig{}, model.SevMedium},
		{"unauthenticated internal", RuleUnauthenticated, nil, epWith(func(e *model.Endpoint) { noauth(e); e.Exposure = "internal" }), TrafficConfig{}, model.SevLow},
		{"authenticated", RuleUnauthenticated, nil, baseEP(), TrafficConfig{}, ""},
		{"unauthenticated but never successful", RuleUnauthenticated, nil, epWith(func(e *model.Endpoint) { noauth(e); e.StatusCodes = map[string]int64{"401": 10} }), TrafficConfig{}, ""},

		{"attack path with ssn", RuleAttackPath, nil, epWith(func(e *model.Endpoint) {
			noauth(e)
			e.SensitiveData = []model.SensitiveData{sd("us_ssn", "response.body", "$.ssn", false)}
		}), TrafficConfig{}, model.SevCritical},
		{"attack path with email", RuleAttackPath, nil, epWith(func(e *model.Endpoint) {
			noauth(e)
			e.SensitiveData = []model.SensitiveData{sd("email", "response.body", "$.email", false)}
		}), TrafficConfig{}, model.SevHigh},
		{"no attack path: masked data", RuleAttackPath, nil, epWith(func(e *model.Endpoint) {
			noauth(e)
			e.SensitiveData = []model.SensitiveData{sd("credit_card", "response.body", "$.card", true)}
		}), TrafficConfig{}, ""},
		{"no attack path: internal", RuleAttackPath, nil, epWith(func(e *model.Endpoint) {
			noauth(e)
			e.Exposure = "internal"
			e.SensitiveData = []model.SensitiveData{sd("us_ssn", "response.body", "$.ssn", false)}
		}), TrafficConfig{}, ""},
		{"no attack path: authenticated", RuleAttackPath, nil, epWith(func(e *model.Endpoint) {
			e.SensitiveData = []model.SensitiveData{sd("us_ssn", "response.body", "$.ssn", false)}
		}), TrafficConfig{}, ""},

		{"plain http external", RulePlainHTTP, []*event.Event{pev(pt0, scheme("http"))}, baseEP(), TrafficConfig{}, model.SevMedium},
		{"plain ws with credentials", RulePlainHTTP, []*event.Event{pev(pt0, scheme("ws"), reqHeader("x-api-key", "k-123456789"))}, baseEP(), TrafficConfig{}, model.SevHigh},
		{"plain http internal only", RulePlainHTTP, []*event.Event{pev(pt0, scheme("http"), internal())}, baseEP(), TrafficConfig{}, ""},
		{"https", RulePlainHTTP, []*event.Event{pev(pt0)}, baseEP(), TrafficConfig{}, ""},

		{"unused 40 days", RuleUnused, []*event.Event{pev(pt0), pev(pt0.Add(40 * 24 * time.Hour))}, baseEP(), TrafficConfig{}, model.SevLow},
		{"used recently", RuleUnused, []*event.Event{pev(pt0), pev(pt0.Add(10 * 24 * time.Hour))}, baseEP(), TrafficConfig{}, ""},
		{"declared never called over 31 days", RuleUnused, []*event.Event{pev(pt0), pev(pt0.Add(31 * 24 * time.Hour))}, epWith(func(e *model.Endpoint) {
			e.Requests, e.LastSeen, e.FirstSeen, e.State, e.Path = 0, nil, nil, "unused", "/v1/other"
		}), TrafficConfig{}, model.SevLow},
		{"declared never called over 1 hour", RuleUnused, []*event.Event{pev(pt0), pev(pt0.Add(time.Hour))}, epWith(func(e *model.Endpoint) {
			e.Requests, e.LastSeen, e.FirstSeen, e.State, e.Path = 0, nil, nil, "unused", "/v1/other"
		}), TrafficConfig{}, ""},

		{"burst never limited", RuleNoRateLimit, n(25, every(200*time.Millisecond)), baseEP(), TrafficConfig{}, model.SevMedium},
		{"burst answered 429", RuleNoRateLimit, append(n(25, every(200*time.Millisecond)), pev(pt0.Add(6*time.Second), status(429))), baseEP(), TrafficConfig{}, ""},
		{"rate-limit headers", RuleNoRateLimit, n(25, every(200*time.Millisecond, respHeader("x-ratelimit-remaining", "10"))), baseEP(), TrafficConfig{}, ""},
		{"spread over minutes is no burst", RuleNoRateLimit, n(25, every(10*time.Second)), baseEP(), TrafficConfig{}, ""},
		{"many clients, none bursting", RuleNoRateLimit, n(25, func(i int) *event.Event {
			return pev(pt0.Add(time.Duration(i)*100*time.Millisecond), client(fmt.Sprintf("198.51.100.%d", i+2)))
		}), baseEP(), TrafficConfig{}, ""},

		{"java stack trace", RuleVerboseErrors, []*event.Event{pev(pt0, status(500), body("java.lang.IllegalStateException: boom\n\tat com.acme.Orders.get(Orders.java:42)"))}, baseEP(), TrafficConfig{}, model.SevMedium},
		{"python traceback on 200", RuleVerboseErrors, []*event.Event{pev(pt0, body(`{"error":"Traceback (most recent call last):\n  File \"/app/x.py\", line 3"}`))}, baseEP(), TrafficConfig{}, model.SevMedium},
		{"mysql error", RuleVerboseErrors, []*event.Event{pev(pt0, status(500), body("You have an error in your SQL syntax; check the manual"))}, baseEP(), TrafficConfig{}, model.SevMedium},
		{"weak pattern on 200 is ignored", RuleVerboseErrors, []*event.Event{pev(pt0, body(`{"msg":"SQL error handling guide"}`))}, baseEP(), TrafficConfig{}, ""},
		{"plain error body", RuleVerboseErrors, []*event.Event{pev(pt0, status(500), body(`{"type":"about:blank","title":"Internal Server Error","status":500}`))}, baseEP(), TrafficConfig{}, ""},

		{"nginx version", RuleVersionDisclosure, []*event.Event{pev(pt0, respHeader("server", "nginx/1.18.0"))}, baseEP(), TrafficConfig{}, model.SevLow},
		{"x-powered-by", RuleVersionDisclosure, []*event.Event{pev(pt0, respHeader("x-powered-by", "PHP/7.4.3"))}, baseEP(), TrafficConfig{}, model.SevLow},
		{"server without version", RuleVersionDisclosure, []*event.Event{pev(pt0, respHeader("server", "nginx"))}, baseEP(), TrafficConfig{}, ""},

		{"cors wildcard with credentials", RuleCORSCredentials, []*event.Event{pev(pt0, respHeader("access-control-allow-origin", "*"), respHeader("access-control-allow-credentials", "true"))}, baseEP(), TrafficConfig{}, model.SevHigh},
		{"cors reflected", RuleCORSCredentials, []*event.Event{
			pev(pt0, reqHeader("origin", "https://evil.example"), respHeader("access-control-allow-origin", "https://evil.example"), respHeader("access-control-allow-credentials", "true")),
			pev(pt0, reqHeader("origin", "https://other.example"), respHeader("access-control-allow-origin", "https://other.example"), respHeader("access-control-allow-credentials", "true")),
		}, baseEP(), TrafficConfig{}, model.SevHigh},
		{"cors single allowed origin", RuleCORSCredentials, []*event.Event{pev(pt0, reqHeader("origin", "https://app.example"), respHeader("access-control-allow-origin", "https://app.example"), respHeader("access-control-allow-credentials", "true"))}, baseEP(), TrafficConfig{}, ""},
		{"cors wildcard without credentials", RuleCORSCredentials, []*event.Event{pev(pt0, respHeader("access-control-allow-origin", "*"))}, baseEP(), TrafficConfig{}, ""},

		{"missing nosniff and hsts", RuleSecurityHeaders, n(6, every(time.Minute, respHeader("x-content-type-options", ""), respHeader("strict-transport-security", ""))), baseEP(), TrafficConfig{}, model.SevLow},
		{"no-store missing on sensitive", RuleSecurityHeaders, n(6, every(time.Minute, respHeader("cache-control", "max-age=60"))), epWith(func(e *model.Endpoint) {
			e.SensitiveData = []model.SensitiveData{sd("email", "response.body", "$.email", false)}
		}), TrafficConfig{}, model.SevMedium},
		{"all headers present", RuleSecurityHeaders, n(6, every(time.Minute)), baseEP(), TrafficConfig{}, ""},
		{"too few responses", RuleSecurityHeaders, n(3, every(time.Minute, respHeader("x-content-type-options", ""))), baseEP(), TrafficConfig{}, ""},

		{"api key in query", RuleCredentialsInURL, []*event.Event{pev(pt0, query("api_key=sk_live_51HxQe2LkT9vYb3Nq8RmZpW4c"))}, baseEP(), TrafficConfig{}, model.SevMedium},
		{"classified token in path", RuleCredentialsInURL, nil, epWith(func(e *model.Endpoint) {
			e.SensitiveData = []model.SensitiveData{sd("jwt", "path", "token", false)}
		}), TrafficConfig{}, model.SevMedium},
		{"harmless query", RuleCredentialsInURL, []*event.Event{pev(pt0, query("page=2"))}, baseEP(), TrafficConfig{}, ""},

		{"basic over http", RuleBasicOverHTTP, []*event.Event{pev(pt0, scheme("http"), basic)}, baseEP(), TrafficConfig{}, model.SevHigh},
		{"basic over https", RuleBasicOverHTTP, []*event.Event{pev(pt0, basic)}, baseEP(), TrafficConfig{}, ""},

		{"jwt alg none", RuleWeakJWT, []*event.Event{pev(pt0, bearer(jwt(map[string]any{"sub": "u1", "exp": pt0.Add(time.Hour).Unix()}, "none")))}, baseEP(), TrafficConfig{}, model.SevHigh},
		{"jwt 30-day lifetime", RuleWeakJWT, []*event.Event{pev(pt0, bearer(jwt(map[string]any{"sub": "u1", "iat": pt0.Unix(), "exp": pt0.Add(30 * 24 * time.Hour).Unix()}, "RS256")))}, baseEP(), TrafficConfig{}, model.SevMedium},
		{"jwt without exp", RuleWeakJWT, []*event.Event{pev(pt0, bearer(jwt(map[string]any{"sub": "u1"}, "HS256")))}, baseEP(), TrafficConfig{}, model.SevMedium},
		{"jwt accepted 8 minutes past exp", RuleExpiredAccepted, []*event.Event{
			pev(pt0, bearer(jwt(map[string]any{"sub": "u1", "iat": pt0.Add(-23 * time.Minute).Unix(), "exp": pt0.Add(-8 * time.Minute).Unix()}, "ES256"))),
			pev(pt0, bearer(jwt(map[string]any{"sub": "u2", "iat": pt0.Add(-10 * time.Minute).Unix(), "exp": pt0.Add(5 * time.Minute).Unix()}, "ES256"))),
		}, baseEP(), TrafficConfig{}, model.SevMedium},
		{"jwt 4 minutes past exp is within the skew", RuleExpiredAccepted, []*event.Event{
			pev(pt0, bearer(jwt(map[string]any{"sub": "u1", "iat": pt0.Add(-19 * time.Minute).Unix(), "exp": pt0.Add(-4 * time.Minute).Unix()}, "ES256"))),
		}, baseEP(), TrafficConfig{}, ""},
		{"jwt 1-hour lifetime", RuleWeakJWT, []*event.Event{pev(pt0, bearer(jwt(map[string]any{"sub": "u1", "iat": pt0.Unix(), "exp": pt0.Add(time.Hour).Unix()}, "HS256")))}, baseEP(), TrafficConfig{}, ""},

		{"graphql introspection answered to the internet", RuleGraphQLIntrospect, []*event.Event{
			pev(pt0, reqBody(`{"query":"query IntrospectionQuery { __schema { queryType { name } types { name } } }"}`), body(`{"data":{"__schema":{"queryType":{"name":"Query"},"types":[]}}}`)),
		}, baseEP(), TrafficConfig{}, model.SevMedium},
		{"graphql introspection by GET, internal only", RuleGraphQLIntrospect, []*event.Event{
			pev(pt0, internal(), query("query=%7B__schema%7BqueryType%7Bname%7D%7D%7D"), body(`{"data":{"__schema":{"queryType":{"name":"Query"}}}}`)),
		}, baseEP(), TrafficConfig{}, model.SevLow},
		{"graphql introspection refused", RuleGraphQLIntrospect, []*event.Event{
			pev(pt0, reqBody(`{"query":"{ __schema { types { name } } }"}`), body(`{"errors":[{"message":"GraphQL introspection is not allowed","extensions":{"code":"GRAPHQL_VALIDATION_FAILED"}}]}`)),
			pev(pt0, reqBody(`{"query":"{ __schema { types { name } } }"}`), status(400)),
		}, baseEP(), TrafficConfig{}, ""},
		{"graphql: a deep query executed, to the internet", RuleGraphQLCost, []*event.Event{
			pev(pt0, gqlReq(`{"query":"{ user(id: 1) { friends { friends { friends { friends { friends { friends { friends { friends { friends { friends { name } } } } } } } } } } } }"}`), body(`{"data":{"user":{"friends":[]}}}`)),
		}, baseEP(), TrafficConfig{}, model.SevMedium},
		{"graphql: 100 aliases executed, internal only", RuleGraphQLCost, []*event.Event{
			pev(pt0, internal(), gqlReq(`{"query":"{ `+aliases(100)+` }"}`), body(`{"data":{"a0":{"id":1}}}`)),
		}, baseEP(), TrafficConfig{}, model.SevLow},
		{"graphql: a batch of 20 executed", RuleGraphQLCost, []*event.Event{
			pev(pt0, gqlReq(batchOf(20)), body(`[{"data":{"me":{"id":1}}}]`)),
		}, baseEP(), TrafficConfig{}, model.SevMedium},
		{"graphql: a deep query refused (a limit at work)", RuleGraphQLCost, []*event.Event{
			pev(pt0, gqlReq(`{"query":"{ a { b { c { d { e { f { g { h { i { j { k { l } } } } } } } } } } } }"}`), body(`{"errors":[{"message":"query exceeds maximum depth of 8"}],"data":null}`)),
			pev(pt0, gqlReq(batchOf(20)), status(400)),
		}, baseEP(), TrafficConfig{}, ""},
		{"graphql: ordinary queries", RuleGraphQLCost, []*event.Event{
			pev(pt0, gqlReq(`{"query":"{ me { id orders(first: 5) { id items { sku } } } }"}`), body(`{"data":{"me":{"id":1}}}`)),
			pev(pt0, gqlReq(batchOf(3)), body(`[{"data":{}}]`)),
		}, baseEP(), TrafficConfig{}, ""},
		{"graphql: limits configured higher", RuleGraphQLCost, []*event.Event{
			pev(pt0, gqlReq(`{"query":"{ `+aliases(100)+` }"}`), body(`{"data":{"a0":{"id":1}}}`)),
		}, baseEP(), TrafficConfig{GraphQLMaxAliases: 200}, ""},
		{"zombie in use", RuleZombie, nil, epWith(func(e *model.Endpoint) { e.State, e.Deprecated = "zombie", true }), TrafficConfig{}, model.SevMedium},
		{"active", RuleZombie, nil, baseEP(), TrafficConfig{}, ""},
		{"shadow in use", RuleShadow, nil, epWith(func(e *model.Endpoint) { no := false; e.State, e.Documented = "shadow", &no }), TrafficConfig{}, model.SevMedium},
		{"documented", RuleShadow, nil, baseEP(), TrafficConfig{}, ""},

		{"undeclared ssn field", RuleUndeclaredData, nil, epWith(func(e *model.Endpoint) {
			e.SensitiveData = []model.SensitiveData{sd("email", "response.body", "$.email", false), sd("us_ssn", "response.body", "$.ssn", false)}
		}), TrafficConfig{SpecFields: fakeSpec{ref.Key(): {"$.id", "$.email"}}}, model.SevHigh},
		{"all fields declared", RuleUndeclaredData, nil, epWith(func(e *model.Endpoint) {
			e.SensitiveData = []model.SensitiveData{sd("email", "response.body", "$.email", false)}
		}), TrafficConfig{SpecFields: fakeSpec{ref.Key(): {"$.id", "$.email"}}}, ""},
		{"schema unknown", RuleUndeclaredData, nil, epWith(func(e *model.Endpoint) {
			e.SensitiveData = []model.SensitiveData{sd("us_ssn", "response.body", "$.ssn", false)}
		}), TrafficConfig{SpecFields: fakeSpec{}}, ""},
	}
	seen := map[string]bool{}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tr := NewTraffic(tc.cfg)
			for _, ev := range tc.events {
				tr.Observe(ev)
			}
			now := pt0.Add(time.Hour)
			if len(tc.events) > 0 {
				now = tc.events[len(tc.events)-1].Time
			}
			ep := tc.ep
			if tc.rule == RuleUnused && ep.LastSeen != nil {
				first := pt0
				ep.LastSeen, ep.FirstSeen = &first, &first
			}
			fs := tr.Findings([]model.Endpoint{ep}, now, nil)
			got := rulesOf(fs)[tc.rule]
			if got != tc.want {
				t.Fatalf("rule %s severity = %q, want %q (findings %+v)", tc.rule, got, tc.want, fs)
			}
			for _, f := range fs {
				if f.Source != "traffic" || f.ID != FindingID(f.Rule, withPath(ref, ep.Path)) || f.Message == "" || f.Remediation == "" || len(f.OWASP) == 0 {
					t.Errorf("malformed finding %+v", f)
				}
			}
			if tc.want != "" {
				seen[tc.rule] = true
			}
		})
	}
	for _, r := range Rules() {
		if !seen[r.ID] {
			t.Errorf("rule %s has no positive case", r.ID)
		}
	}
}

func withPath(r model.EndpointRef, p string) model.EndpointRef { r.Path = p; return r }

// TestEvidenceMergeDeterministic: merging evidence sets over the per-set
// cap keeps the same keys whatever the map iteration order (keys merge in
// sorted order), so findings built from early endpoint templates are stable.
func TestEvidenceMergeDeterministic(t *testing.T) {
	src := &evidence{credParams: map[string]int64{}, corsOrigins: map[string]bool{}, versions: map[string]string{}}
	for i := 0; i < 3*maxKeys; i++ {
		k := string(rune('a'+i%26)) + strconv.Itoa(i)
		src.credParams[k] = int64(i)
		src.corsOrigins[k] = true
		src.versions[k] = "v" + k
	}
	var first *evidence
	for run := 0; run < 20; run++ {
		dst := &evidence{credParams: map[string]int64{"zz": 1}}
		dst.merge(src)
		if len(dst.credParams) != maxKeys || len(dst.corsOrigins) != maxKeys || len(dst.versions) != maxKeys {
			t.Fatalf("caps not applied: %d %d %d", len(dst.credParams), len(dst.corsOrigins), len(dst.versions))
		}
		if first == nil {
			first = dst
			continue
		}
		if !reflect.DeepEqual(first, dst) {
			t.Fatalf("run %d kept other keys: %v vs %v", run, first.credParams, dst.credParams)
		}
	}
	if _, ok := first.credParams["a0"]; !ok {
		t.Errorf("the smallest keys should survive the cap: %v", first.credParams)
	}
}

// aliases returns n aliased copies of one field.
func aliases(n int) string {
	var b strings.Builder
	for i := 0; i < n; i++ {
		fmt.Fprintf(&b, "a%d: user(id: %d) { id } ", i, i)
	}
	return b.String()
}

// batchOf returns a batched GraphQL request of n documents.
func batchOf(n int) string {
	var b strings.Builder
	b.WriteString("[")
	for i := 0; i < n; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		b.WriteString(`{"query":"{ me { id } }"}`)
	}
	b.WriteString("]")
	return b.String()
}
