package gateway

import (
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/model"
)

func epRef(m, h, p string) model.EndpointRef { return model.EndpointRef{Method: m, Host: h, Path: p} }

func TestMatchRoute(t *testing.T) {
	route := func(hosts []string, any bool, methods []string, paths ...PathMatch) *Route {
		r := newRoute("r", Pos{})
		for _, h := range hosts {
			r.Hosts = append(r.Hosts, Host{Value: h})
		}
		r.AnyHost = any
		r.Methods = methods
		r.Paths = paths
		return r
	}
	prefix := func(v string) PathMatch { return PathMatch{Value: v, Kind: MatchPrefix} }
	exact := func(v string) PathMatch { return PathMatch{Value: v, Kind: MatchExact} }
	regex := func(v, anchor string) PathMatch { return PathMatch{Value: v, Kind: MatchRegex, Anchor: anchor} }
	cases := []struct {
		name string
		r    *Route
		ep   model.EndpointRef
		want bool
	}{
		{"prefix", route([]string{"api.example.com"}, false, nil, prefix("/v1/orders")), epRef("GET", "api.example.com", "/v1/orders/{orderId}"), true},
		{"prefix is a string prefix", route(nil, true, nil, prefix("/v1/order")), epRef("GET", "x", "/v1/orders"), true},
		{"prefix with trailing slash needs the slash", route(nil, true, nil, prefix("/v1/orders/")), epRef("GET", "x", "/v1/orders"), false},
		{"prefix with trailing slash", route(nil, true, nil, prefix("/v1/orders/")), epRef("GET", "x", "/v1/orders/{id}"), true},
		{"prefix other path", route(nil, true, nil, prefix("/v1/orders")), epRef("GET", "x", "/v1/users"), false},
		{"root prefix", route(nil, true, nil, prefix("/")), epRef("GET", "x", "/anything/{id}"), true},
		{"template param in route", route(nil, true, nil, prefix("/users/{id}/orders")), epRef("GET", "x", "/users/{userId}/orders/{orderId}"), true},
		{"endpoint param matches literal", route(nil, true, nil, prefix("/users/42")), epRef("GET", "x", "/users/{userId}"), true},
		{"exact", route(nil, true, nil, exact("/v1/health")), epRef("GET", "x", "/v1/health"), true},
		{"exact is not a prefix", route(nil, true, nil, exact("/v1/health")), epRef("GET", "x", "/v1/health/live"), false},
		{"exact with params", route(nil, true, nil, exact("/orders/{id}")), epRef("GET", "x", "/orders/{orderId}"), true},
		{"regex search (NGINX)", route(nil, true, nil, regex(`\.php$`, "")), epRef("GET", "x", "/index.php"), true},
		{"regex on template", route(nil, true, nil, regex(`^/v1/accounts/[^/]+/transactions$`, "")), epRef("GET", "x", "/v1/accounts/{accountId}/transactions"), true},
		{"regex digits only on a template", route(nil, true, nil, regex(`^/users/\d+$`, "")), epRef("GET", "x", "/users/{id}"), true},
		{"regex full match (Envoy)", route(nil, true, nil, regex(`/v1/.*`, "full")), epRef("GET", "x", "/api/v1/x"), false},
		{"regex start anchor (Kong)", route(nil, true, nil, regex(`/v1/`, "start")), epRef("GET", "x", "/api/v1/x"), false},
		{"regex case folding", route(nil, true, nil, PathMatch{Value: `^/API`, Kind: MatchRegex, IgnoreCase: true}), epRef("GET", "x", "/api/x"), true},
		{"unsupported regex never matches", route(nil, true, nil, regex(`^/(?!admin)`, "")), epRef("GET", "x", "/users"), false},
		{"host wildcard", route([]string{"*.example.com"}, false, nil, prefix("/")), epRef("GET", "api.example.com", "/"), true},
		{"host wildcard not apex", route([]string{"*.example.com"}, false, nil, prefix("/")), epRef("GET", "example.com", "/"), false},
		{"host dot form (NGINX)", route([]string{".example.com"}, false, nil, prefix("/")), epRef("GET", "example.com", "/"), true},
		{"host suffix wildcard (NGINX)", route([]string{"api.*"}, false, nil, prefix("/")), epRef("GET", "api.example.org", "/"), true},
		{"host regex (NGINX)", route([]string{`~^api\d+\.example\.com$`}, false, nil, prefix("/")), epRef("GET", "api7.example.com", "/"), true},
		{"host with port", route([]string{"api.example.com"}, false, nil, prefix("/")), epRef("GET", "api.example.com:8443", "/"), true},
		{"host case", route([]string{"API.Example.com"}, false, nil, prefix("/")), epRef("GET", "api.example.com", "/"), true},
		{"other host", route([]string{"api.example.com"}, false, nil, prefix("/")), epRef("GET", "www.example.com", "/"), false},
		{"method", route(nil, true, []string{"GET"}, prefix("/")), epRef("POST", "x", "/"), false},
		{"HEAD served by GET", route(nil, true, []string{"GET"}, prefix("/")), epRef("HEAD", "x", "/"), true},
	}
	m := NewMatcher()
	for _, c := range cases {
		if got := m.MatchRoute(c.r, c.ep); got != c.want {
			t.Errorf("%s: MatchRoute = %v, want %v", c.name, got, c.want)
		}
	}
	if !m.Unsupported[`^/(?!admin)`] {
		t.Error("unsupported pattern not recorded")
	}
}

func TestBestRoute(t *testing.T) {
	mk := func(name string, p PathMatch) *Route {
		r := newRoute(name, Pos{})
		r.AnyHost = true
		r.Paths = []PathMatch{p}
		return r
	}
	routes := []*Route{
		mk("root", PathMatch{Value: "/", Kind: MatchPrefix}),
		mk("accounts", PathMatch{Value: "/v1/accounts", Kind: MatchPrefix}),
		mk("tx", PathMatch{Value: `^/v1/accounts/[^/]+/transactions$`, Kind: MatchRegex}),
		mk("health", PathMatch{Value: "/v1/accounts/health", Kind: MatchExact}),
	}
	m := NewMatcher()
	for _, c := range []struct{ path, want string }{
		{"/v1/accounts/{id}", "accounts"},
		{"/v1/accounts/{id}/transactions", "tx"},
		{"/v1/accounts/health", "health"},
		{"/other", "root"},
	} {
		if got := m.BestRoute(routes, epRef("GET", "h", c.path)); got == nil || got.Name != c.want {
			t.Errorf("%s: best route %v, want %s", c.path, got, c.want)
		}
	}
}

// TestJoin runs the joined rules on a small report and checks each
// finding's subject and evidence, and the ranking by risk.
func TestJoin(t *testing.T) {
	conf := `_format_version: "3.0"
services:
  - name: shop
    url: https://shop.internal:8443
    routes:
      - name: public
        hosts: [api.example.com]
        paths: [/v1/products, /v1/users]
      - name: legacy
        hosts: [api.example.com]
        paths: [/v0]
      - name: login
        hosts: [api.example.com]
        paths: [/v1/auth/login]
  - name: private
    url: https://private.internal:8443
    routes:
      - name: accounts
        hosts: [api.example.com]
        paths: [/v1/accounts]
        plugins: [{name: jwt}, {name: rate-limiting, config: {minute: 10}}]
`
	cfg, err := Parse("kong.yaml", []byte(conf), "")
	if err != nil {
		t.Fatal(err)
	}
	from, to := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 1, 2, 0, 0, 0, 0, time.UTC)
	yes := true
	ep := func(m, h, p string, n int64, risk int, auth, exposure string, sd ...model.SensitiveData) model.Endpoint {
		return model.Endpoint{Method: m, Host: h, Path: p, Requests: n, Risk: model.Risk{Score: risk}, Authentication: auth, Exposure: exposure, SensitiveData: sd}
	}
	rep := &model.Report{Input: model.Input{Records: 1000, From: &from, To: &to},
		Endpoints: []model.Endpoint{
			ep("GET", "api.example.com", "/v1/users/{userId}", 300, 80, "none", "external", model.SensitiveData{Type: "us_ssn", Location: "response.body", Field: "ssn"}),
			ep("GET", "api.example.com", "/v1/products", 500, 40, "none", "external"),
			ep("POST", "api.example.com", "/v1/auth/login", 200, 70, "none", "external", model.SensitiveData{Type: "jwt", Location: "response.body", Field: "token"}),
			ep("GET", "api.example.com", "/v1/accounts/{id}", 50, 60, "required", "external", model.SensitiveData{Type: "iban", Location: "response.body"}),
			ep("GET", "api.example.com", "/internal/debug", 5, 90, "none", "external"),
			ep("GET", "api.example.com", "/v1/docs", 5, 20, "none", "external"),
			ep("GET", "other.example.com", "/x", 40, 30, "none", "external"),
			ep("GET", "partner.example.net", "/feed", 40, 30, "none", "internal"),
			ep("GET", "api.example.com", "/v1/declared", 0, 0, "unknown", "external"),
		},
		Alerts: []model.Alert{
			{ID: "a1", Type: "bola.param_enumeration", Severity: "high", Count: 70, Endpoint: &model.EndpointRef{Method: "GET", Host: "api.example.com", Path: "/v1/users/{userId}"}, FirstSeen: from},
			{ID: "a2", Type: "injection.sqli", Severity: "high", Endpoint: &model.EndpointRef{Method: "GET", Host: "api.example.com", Path: "/v1/products"}},
		},
	}
	rep.Endpoints[5].Documented = &yes // declared by a spec: explained
	fs, err := Join([]*Config{cfg}, rep, JoinOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string][]string{}
	for _, f := range fs {
		subj := ""
		if f.Endpoint != nil {
			subj = f.Endpoint.Method + " " + f.Endpoint.Host + f.Endpoint.Path
		}
		got[f.Rule] = append(got[f.Rule], subj)
		if f.Location == nil || f.Location.Line == 0 {
			t.Errorf("%s not located", f.Rule)
		}
		if _, ok := f.Evidence["risk"]; !ok {
			t.Errorf("%s without risk evidence", f.Rule)
		}
	}
	want := map[string][]string{
		"PAL-G101": {"* api.example.com/v0"},
		"PAL-G102": {"GET api.example.com/internal/debug", ""},
		"PAL-G103": {"* api.example.com/v1/products"},
		"PAL-G104": {"* api.example.com/v1/products"},
	}
	for rule, subs := range want {
		if strings.Join(got[rule], "|") != strings.Join(subs, "|") {
			t.Errorf("%s: got %q, want %q", rule, got[rule], subs)
		}
	}
	if len(got) != len(want) {
		t.Errorf("rules fired: %v", got)
	}
	// Ranked by endpoint risk: the bypassing debug endpoint (90) first.
	if fs[0].Rule != "PAL-G102" || riskOf(fs[0]) != 90 {
		t.Errorf("first finding %s risk %d, want PAL-G102 with 90", fs[0].Rule, riskOf(fs[0]))
	}
	for i := 1; i < len(fs); i++ {
		if riskOf(fs[i]) > riskOf(fs[i-1]) {
			t.Errorf("not ranked by risk: %d after %d", riskOf(fs[i]), riskOf(fs[i-1]))
		}
	}
	// G103 cites the SSN endpoint, not the login JWT.
	for _, f := range fs {
		if f.Rule == "PAL-G103" {
			if ts := f.Evidence["sensitive_types"].([]string); len(ts) != 1 || ts[0] != "us_ssn" {
				t.Errorf("G103 types %v", ts)
			}
			if f.Severity != model.SevCritical {
				t.Errorf("G103 severity %s (anonymous calls were seen)", f.Severity)
			}
		}
		if f.Rule == "PAL-G104" && !strings.Contains(f.Message, "bola.param_enumeration") {
			t.Errorf("G104 message %q", f.Message)
		}
	}
}
