package detect

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/identity"
	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/pipeline"
)

func withScopes(scopes ...string) evOpt {
	return func(ev *event.Event) { ev.Auth.Identity.Token.Scopes = scopes }
}

// shop: 4 h of 50 customers, 3 admins (with scope reports:read), 30
// partner API keys and 2 ops keys, each using its own functions.
func shop(hours int, seed uint64) []*event.Event {
	r := rand.New(rand.NewPCG(seed, 19))
	var evs []*event.Event
	add := func(at time.Time, method, tmpl, path string, opts ...evOpt) {
		evs = append(evs, mkEv(at, ip4(6000+r.IntN(500)), method, tmpl, path, 200, opts...))
	}
	for m := 0; m < hours*60; m++ {
		at := t0.Add(time.Duration(m) * time.Minute)
		for j := 0; j < 5; j++ {
			c := withID(fmt.Sprintf("cust%d", r.IntN(50)), "customer")
			switch r.IntN(3) {
			case 0:
				add(at.Add(time.Duration(j)*time.Second), "GET", "/orders/{id}", fmt.Sprintf("/orders/%d", r.IntN(999)), c)
			case 1:
				add(at.Add(time.Duration(j)*time.Second), "POST", "/orders", "/orders", c)
			default:
				add(at.Add(time.Duration(j)*time.Second), "DELETE", "/cart/items/{id}", fmt.Sprintf("/cart/items/%d", r.IntN(99)), c)
			}
		}
		if m%3 == 0 {
			a := withID(fmt.Sprintf("admin%d", r.IntN(3)), "admin")
			add(at.Add(10*time.Second), "GET", "/admin/users", "/admin/users", a)
			add(at.Add(11*time.Second), "DELETE", "/users/{id}", fmt.Sprintf("/users/%d", r.IntN(999)), a)
			add(at.Add(12*time.Second), "PUT", "/products/{id}", fmt.Sprintf("/products/%d", r.IntN(99)), a)
			add(at.Add(13*time.Second), "GET", "/reports", "/reports", a, withScopes("reports:read"))
		}
		add(at.Add(20*time.Second), "GET", "/catalog", "/catalog", withKey(fmt.Sprintf("partner-key-%03d", r.IntN(30))))
		if m%10 == 0 {
			add(at.Add(30*time.Second), "POST", "/internal/reindex", "/internal/reindex", withKey(fmt.Sprintf("ops-key-%d", r.IntN(2))))
		}
	}
	return evs
}

type specMap map[string]model.SpecOp

func (s specMap) Operation(ref model.EndpointRef) (model.SpecOp, bool) {
	op, ok := s[ref.Method+" "+ref.Path]
	return op, ok
}

func TestBFLA(t *testing.T) {
	base := shop(4, 1)
	at := t0.Add(3*time.Hour + 30*time.Second)
	use := func(method, tmpl, path string, status int, opts ...evOpt) []*event.Event {
		return []*event.Event{mkEv(at, "203.0.113.80", method, tmpl, path, status, opts...), mkEv(at.Add(time.Minute), "203.0.113.80", method, tmpl, path, status, opts...)}
	}
	specs := specMap{"GET /reports": {Scopes: []string{"reports:read"}}}
	cases := []struct {
		name  string
		evs   []*event.Event
		want  int
		why   string
		sev   string
		specs pipeline.SpecLookup
	}{
		{"normal use by every group", base, 0, "", "", nil},
		{"customer lists users on the admin API", merge(base, use("GET", "/admin/users", "/admin/users", 200, withID("cust7", "customer"))), 1, "administrative path", "high", nil},
		{"customer deletes a user account", merge(base, use("DELETE", "/users/{id}", "/users/12", 204, withID("cust8", "customer"))), 1, "destructive method", "high", nil},
		{"customer updates a product (admins only)", merge(base, use("PUT", "/products/{id}", "/products/3", 200, withID("cust9", "customer"))), 1, "state-changing method used only by other role groups", "high", nil},
		{"denied attempt is not a privileged access", merge(base, use("GET", "/admin/users", "/admin/users", 403, withID("cust7", "customer"))), 0, "", "", nil},
		{"a new admin uses the admin API", merge(base, use("GET", "/admin/users", "/admin/users", 200, withID("admin-new", "admin"))), 0, "", "", nil},
		{"a new customer empties their cart", merge(base, use("DELETE", "/cart/items/{id}", "/cart/items/5", 204, withID("cust-new", "customer"))), 0, "", "", nil},
		{"partner key calls the ops-only internal function", merge(base, use("POST", "/internal/reindex", "/internal/reindex", 202, withKey("partner-key-007"))), 1, "administrative path", "critical", nil},
		{"token without the declared scope", merge(base, use("GET", "/reports", "/reports", 200, withID("cust3", "customer"))), 1, "the spec requires scopes reports:read that the token does not carry", "critical", specs},
		{"during the learning period", merge(shop(1, 2), []*event.Event{mkEv(t0.Add(30*time.Minute), "203.0.113.80", "GET", "/admin/users", "/admin/users", 200, withID("cust7", "customer"))}), 0, "", "", nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			as := run(newBFLA(Config{Specs: c.specs}), merge(c.evs))
			if len(as) != c.want {
				t.Fatalf("want %d alerts, got\n%s", c.want, summary(as))
			}
			for _, a := range as {
				if a.Type != "bfla.privileged_access" || a.Identity == nil || a.Count != 2 || a.Severity != c.sev {
					t.Fatalf("alert %+v", a)
				}
				if len(a.Evidence.Samples) != 1 || a.Evidence.Samples[0].Note != c.why {
					t.Fatalf("why: %+v", a.Evidence.Samples)
				}
			}
		})
	}
}

func TestPrivilegedPath(t *testing.T) {
	for p, want := range map[string]bool{"/admin/users": true, "/api/v1/Internal/jobs": true, "/users/{admin}": false, "/orders/{id}": false, "/actuator/env": true, "/products": false} {
		if privilegedPath(p) != want {
			t.Errorf("privilegedPath(%q) != %v", p, want)
		}
	}
}

// exportsAndCatalog: keys principals (API keys: no roles, key-000 …) call
// /catalog every minute for 3 h; key-000 and key-001 call /exports every
// 5 minutes.
func exportsAndCatalog(keys int) []*event.Event {
	var evs []*event.Event
	for m := 0; m < 180; m++ {
		at := t0.Add(time.Duration(m) * time.Minute)
		if m%5 == 0 {
			evs = append(evs, mkEv(at, ip4(7000+m%2), "GET", "/exports", "/exports", 200, withKey(fmt.Sprintf("key-%03d", m/5%2))))
		}
		for k := 0; k < keys; k++ {
			evs = append(evs, mkEv(at.Add(time.Duration(k)*100*time.Millisecond), ip4(7000+k), "GET", "/catalog", "/catalog", 200, withKey(fmt.Sprintf("key-%03d", k))))
		}
	}
	return evs
}

// TestBFLASmallSetNeedsEvidence: "only a small set of principals uses the
// function" is not evidence of a privileged function when few principals
// were around, nor once as many outsiders as the set may hold used it
// successfully (their uses are not learned, so the set would stay small
// and every further user would fire).
func TestBFLASmallSetNeedsEvidence(t *testing.T) {
	// keys principals (API keys: no roles) call /catalog every minute for
	// 3 h; key-0 and key-1 call /exports every 5 minutes; after 3 h the
	// outsiders call /exports twice each.
	traffic := func(keys int, outsiders []int) []*event.Event {
		evs := exportsAndCatalog(keys)
		for i, k := range outsiders {
			at := t0.Add(3*time.Hour + time.Duration(i)*time.Minute)
			for j := 0; j < 2; j++ {
				evs = append(evs, mkEv(at.Add(time.Duration(j)*time.Second), ip4(7000+k), "GET", "/exports", "/exports", 200, withKey(fmt.Sprintf("key-%03d", k))))
			}
		}
		return evs
	}
	var many []int
	for k := 10; k < 30; k++ {
		many = append(many, k)
	}
	cases := []struct {
		name      string
		keys      int
		outsiders []int
		want      int
	}{
		{"a small population: 25 principals", 25, []int{5}, 0},
		{"a large population: an outsider uses the restricted function", 80, []int{5}, 1},
		{"a large population: 20 outsiders use it, the first 5 fire", 80, many, 5},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			as := run(newBFLA(Config{}), merge(traffic(c.keys, c.outsiders)))
			if len(as) != c.want {
				t.Fatalf("want %d alerts, got\n%s", c.want, summary(as))
			}
			for _, a := range as {
				if a.Count != 2 || len(a.Evidence.Samples) != 1 || a.Evidence.Samples[0].Note != whySmallSet {
					t.Fatalf("alert %+v", a)
				}
			}
		})
	}
}

func withHost(host string) evOpt {
	return func(ev *event.Event) { ev.Host, ev.Endpoint.Host = host, host }
}

// TestBFLASmallSetPerAPI: the population a function is restricted within
// is its own API's. A shop of 6 keys (two of them use /exports) beside a
// clinic with 80 principals has not shown /exports to be restricted: a
// third shop key using it is quiet. The same shop
// with 80 keys of its own is evidence, and the third user fires.
func TestBFLASmallSetPerAPI(t *testing.T) {
	traffic := func(shopKeys, clinic int) []*event.Event {
		evs := exportsAndCatalog(shopKeys)
		for m := 0; m < 180; m++ {
			at := t0.Add(time.Duration(m) * time.Minute)
			for c := 0; c < clinic; c++ {
				evs = append(evs, mkEv(at.Add(time.Duration(c)*50*time.Millisecond), ip4(9000+c), "GET", "/catalog", "/catalog", 200,
					withKey(fmt.Sprintf("clinic-%03d", c)), withHost("ehr.example.com")))
			}
		}
		at := t0.Add(3 * time.Hour)
		for j := 0; j < 2; j++ {
			evs = append(evs, mkEv(at.Add(time.Duration(j)*time.Second), ip4(7005), "GET", "/exports", "/exports", 200, withKey("key-005")))
		}
		return evs
	}
	for _, c := range []struct {
		name           string
		shopKeys, clin int
		want           int
	}{
		{"5 shop keys beside a clinic of 80", 6, 80, 0},
		{"80 shop keys", 80, 0, 1},
		{"30 shop keys beside a clinic of 30", 30, 30, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := newBFLA(Config{})
			as := run(d, merge(traffic(c.shopKeys, c.clin)))
			if len(as) != c.want {
				t.Fatalf("want %d alerts, got\n%s", c.want, summary(as))
			}
			// the readiness of the small-set evidence follows each API's
			// principals too: 30 and 30 on two APIs ready no function
			// (small_pop 50), and the time it became ready agrees with
			// the endpoints counted ready
			for _, r := range d.Readiness(t0.Add(4 * time.Hour)) {
				if strings.Contains(r.Baseline, "principals seen on its API") && (r.ReadyAt != nil) != (r.ReadyScopes > 0) {
					t.Errorf("%s: ready at %v with %d endpoints ready", r.Baseline, r.ReadyAt, r.ReadyScopes)
				}
			}
		})
	}
}

// TestBFLAAdminAreaEvidence: in the learning period, a customer token on
// an admin function that the administrators (customers too) used fewer
// than min_uses times fires when the administrative area it lies in
// (/admin/…) has min_uses successful uses, all by groups holding the
// customer's roles and more. It stays quiet on a function nobody used
// yet, and in an area a customer already used.
func TestBFLAAdminAreaEvidence(t *testing.T) {
	admin := withID("admin1", "admin", "customer")
	var base []*event.Event
	for m := 0; m < 40; m++ {
		at := t0.Add(time.Duration(m) * time.Minute)
		base = append(base, mkEv(at, ip4(6000+m%7), "GET", "/orders", "/orders", 200, withID(fmt.Sprintf("cust%d", m%7), "customer")))
		switch m {
		case 3, 11, 19:
			base = append(base, mkEv(at.Add(time.Second), "10.10.4.21", "GET", "/admin/orders", "/admin/orders", 200, admin))
		case 5, 13, 21, 29:
			base = append(base, mkEv(at.Add(time.Second), "10.10.4.21", "POST", "/admin/refunds", "/admin/refunds", 200, admin))
		}
	}
	cust := func(tmpl string) []*event.Event {
		return twice(t0.Add(45*time.Minute), "GET", tmpl, tmpl, withID("cust1", "customer"))
	}
	customerInArea := []*event.Event{mkEv(t0.Add(30*time.Second), ip4(6003), "GET", "/admin/status", "/admin/status", 200, withID("cust3", "customer"))}
	cases := []struct {
		name string
		evs  []*event.Event
		want int
	}{
		{"customer on an admin function used 3 times, the admin area 7 times", merge(base, cust("/admin/orders")), 1},
		{"customer on an admin function nobody used yet", merge(base, cust("/admin/webhooks")), 0},
		{"an area a customer already used", merge(base, customerInArea, cust("/admin/orders")), 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			as := run(newBFLA(Config{}), c.evs)
			if len(as) != c.want {
				t.Fatalf("want %d alerts, got\n%s", c.want, summary(as))
			}
			for _, a := range as {
				if a.Identity == nil || a.Count != 2 || a.Endpoint.Path != "/admin/orders" {
					t.Fatalf("alert %+v", a)
				}
			}
		})
	}
}

// FuzzPrivilegedSegment: any path, no panic; the area is a prefix of the
// lower-cased path ending at a segment boundary.
func FuzzPrivilegedSegment(f *testing.F) {
	for _, p := range []string{"/v1/admin/orders", "/admin/ȺȺȺȺȺȺȺȺ", "/İ/admin/x", "//admin//", "/{admin}/x"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		ok, area := privilegedSegment(p)
		if area == "" {
			return
		}
		if lower := strings.ToLower(p); !ok || !strings.HasPrefix(lower, area) || lower[len(area)] != '/' {
			t.Fatalf("privilegedSegment(%q) = %v, %q", p, ok, area)
		}
	})
}

func TestPrivilegedSegment(t *testing.T) {
	for p, want := range map[string]string{"/v1/admin/orders": "/v1/admin", "/v1/Admin/orders/{id}": "/v1/admin", "/v1/admin": "", "/v1/admin/": "",
		"/v1/users/{id}/settings": "", "/internal/jobs/{id}": "/internal", "/products": "",
		// lower case longer or shorter than the path (Ⱥ → ⱥ, İ → i): the
		// first panicked on a slice of the original path
		"/admin/ȺȺȺȺȺȺȺȺ": "/admin", "/ȺȺ/admin/x": "/ⱥⱥ/admin", "/İİ/admin/x": "/ii/admin"} {
		if _, got := privilegedSegment(p); got != want {
			t.Errorf("privilegedSegment(%q) area %q, want %q", p, got, want)
		}
	}
}

// TestBFLAExclusiveArea: in the learning period a resource area whose
// functions only groups above a principal's have used counts as
// privileged without a privileged word in its path (/api/v2/staff/…);
// one function alone, an area customers use too, and a function nobody
// used yet do not.
func TestBFLAExclusiveArea(t *testing.T) {
	admin := withID("admin1", "admin", "customer")
	var base []*event.Event
	for m := 0; m < 40; m++ {
		at := t0.Add(time.Duration(m) * time.Minute)
		c := withID(fmt.Sprintf("cust%d", m%7), "customer")
		base = append(base, mkEv(at, ip4(6000+m%7), "GET", "/api/v2/orders", "/api/v2/orders", 200, c))
		switch m {
		case 3, 11, 19:
			base = append(base, mkEv(at.Add(time.Second), "10.10.4.21", "GET", "/api/v2/staff/orders", "/api/v2/staff/orders", 200, admin))
		case 5, 13, 21, 29:
			base = append(base, mkEv(at.Add(time.Second), "10.10.4.21", "POST", "/api/v2/staff/refunds", "/api/v2/staff/refunds", 200, admin))
		case 7, 15, 23, 31, 33, 35:
			base = append(base, mkEv(at.Add(time.Second), "10.10.4.21", "GET", "/api/v2/reports", "/api/v2/reports", 200, admin))
			base = append(base, mkEv(at.Add(2*time.Second), "10.10.4.21", "GET", "/api/v2/orders/export", "/api/v2/orders/export", 200, admin))
		}
	}
	cust := func(tmpl string) []*event.Event {
		return twice(t0.Add(45*time.Minute), "GET", tmpl, tmpl, withID("cust1", "customer"))
	}
	customerInArea := []*event.Event{mkEv(t0.Add(30*time.Second), ip4(6003), "GET", "/api/v2/staff/status", "/api/v2/staff/status", 200, withID("cust3", "customer"))}
	cases := []struct {
		name, path string
		evs        []*event.Event
		want       int
	}{
		{"customer on a staff function used 3 times, the staff area 7 times over 2 functions", "/api/v2/staff/orders", merge(base, cust("/api/v2/staff/orders")), 1},
		{"customer on a staff function nobody used yet", "", merge(base, cust("/api/v2/staff/webhooks")), 0},
		{"a staff area a customer already used", "", merge(base, customerInArea, cust("/api/v2/staff/orders")), 0},
		{"one function only administrators used, alone in its area", "", merge(base, cust("/api/v2/reports")), 0},
		{"an administrators' function in an area customers use", "", merge(base, cust("/api/v2/orders/export")), 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			as := run(newBFLA(Config{}), c.evs)
			if len(as) != c.want {
				t.Fatalf("want %d alerts, got\n%s", c.want, summary(as))
			}
			for _, a := range as {
				if a.Identity == nil || a.Count != 2 || a.Endpoint.Path != c.path || !strings.Contains(a.Evidence.Reason, "resource area") {
					t.Fatalf("alert %+v", a)
				}
			}
		})
	}
}

func TestResourceArea(t *testing.T) {
	for p, want := range map[string]string{"/api/v2/staff/orders": "/api/v2/staff", "/v1/users/{id}/avatar": "/v1/users", "/v1/orders": "/v1/orders",
		"/rest/2024-01-01/Reports/daily": "/rest/2024-01-01/reports", "/{tenant}/v1/items/{id}": "/{tenant}/v1/items", "/v1/": "", "/": "", "": "",
		"/Ⱥ/x": "/ⱥ", "/vx/items": "/vx"} {
		if got := resourceArea(p); got != want {
			t.Errorf("resourceArea(%q) = %q, want %q", p, got, want)
		}
	}
}

func FuzzResourceArea(f *testing.F) {
	for _, p := range []string{"/api/v2/staff/orders", "/Ⱥ/ȺȺȺȺ", "//v1//x", "/2024-01-01/x"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if z := resourceArea(p); z != "" && !strings.HasPrefix(strings.ToLower(p), z) {
			t.Fatalf("resourceArea(%q) = %q, not a prefix", p, z)
		}
	})
}

// TestBFLALearnedPeers: after the learning period, a PATCH only web
// (cookie) sessions made before is no privileged function for a customer
// token — a credential kind without roles says nothing of privilege —
// while a function of a resource area only administrators (who hold the
// customer role and more) use is one, with no privileged word in its path
// — but not an area the whole population uses, for a token that happens
// to carry fewer scopes.
func TestBFLALearnedPeers(t *testing.T) {
	base := shop(4, 1)
	staff := withID("staff1", "admin", "customer")
	for m := 0; m < 180; m += 15 {
		at := t0.Add(time.Duration(m)*time.Minute + 40*time.Second)
		web := func(ev *event.Event) {
			name := fmt.Sprintf("web%d", m%4)
			ev.Auth = identity.Auth{Identity: &identity.Identity{ID: "id_" + name, Kind: identity.KindCookie, Name: name}, Schemes: []string{"cookie"}, Credentials: true}
		}
		for j := 0; j < 30; j++ { // every app customer reads statements
			app := withID(fmt.Sprintf("app%d", j), "customer", "statements:read")
			base = append(base, mkEv(at.Add(time.Duration(j)*time.Second), ip4(7100+j), "GET", "/statements", "/statements", 200, app),
				mkEv(at.Add(time.Duration(j+1)*time.Second), ip4(7100+j), "GET", "/statements/{id}/pdf", fmt.Sprintf("/statements/%d/pdf", j), 200, app))
		}
		base = append(base,
			mkEv(at, ip4(7000+m%4), "PATCH", "/profile/{id}", fmt.Sprintf("/profile/%d", m%4), 200, web),
			mkEv(at.Add(time.Second), "10.10.4.22", "GET", "/staff/orders", "/staff/orders", 200, staff),
			mkEv(at.Add(2*time.Second), "10.10.4.22", "POST", "/staff/refunds", "/staff/refunds", 200, staff))
	}
	use := func(method, tmpl, path string) []*event.Event {
		return twice(t0.Add(3*time.Hour+30*time.Second), method, tmpl, path, withID("cust7", "customer"))
	}
	cases := []struct {
		name, why string
		evs       []*event.Event
		want      int
	}{
		{"a customer token edits its profile, which only web sessions edited so far", "", merge(base, use("PATCH", "/profile/{id}", "/profile/7")), 0},
		{"a customer token on the staff API", "resource area used only by groups holding this principal's roles and more (2 functions, 24 uses)", merge(base, use("GET", "/staff/orders", "/staff/orders")), 1},
		{"a token with fewer scopes than every customer's reads statements", "", merge(base, use("GET", "/statements", "/statements")), 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			as := run(newBFLA(Config{}), merge(c.evs))
			if len(as) != c.want {
				t.Fatalf("want %d alerts, got\n%s", c.want, summary(as))
			}
			for _, a := range as {
				if a.Identity == nil || a.Count != 2 || len(a.Evidence.Samples) != 1 || a.Evidence.Samples[0].Note != c.why {
					t.Fatalf("alert %+v %+v", a, a.Evidence.Samples)
				}
			}
		})
	}
}

// twice is two successful requests a minute apart from one address.
func twice(at time.Time, method, tmpl, path string, opts ...evOpt) []*event.Event {
	return []*event.Event{mkEv(at, "203.0.113.80", method, tmpl, path, 200, opts...), mkEv(at.Add(time.Minute), "203.0.113.80", method, tmpl, path, 200, opts...)}
}

// TestBFLARoleNamed: a path naming a role (admin, ROLE_ADMIN as admins,
// shop:staff as staff-tools) that every group which used the function
// holds, as all the principal's roles and more, and the token lacks: one
// use by that role is evidence enough, in the learning period and after
// it. Not without the role word, a role hierarchy, a use, or when the
// principal's group already used the area.
func TestBFLARoleNamed(t *testing.T) {
	customers := func(hours int, evs ...*event.Event) []*event.Event {
		var base []*event.Event
		for m := 0; m < hours*60; m++ {
			at := t0.Add(time.Duration(m) * time.Minute)
			base = append(base, mkEv(at, ip4(6000+m%29), "GET", "/v1/orders", "/v1/orders", 200, withID(fmt.Sprintf("cust%d", m%29), "customer")))
		}
		return merge(base, evs)
	}
	by := func(m int, tmpl string, opt evOpt) *event.Event {
		return mkEv(t0.Add(time.Duration(m)*time.Minute+time.Second), "10.10.4.21", "GET", tmpl, tmpl, 200, opt)
	}
	admin := withID("admin1", "admin", "customer")
	cust := func(m int, tmpl string, roles ...string) []*event.Event {
		if len(roles) == 0 {
			roles = []string{"customer"}
		}
		return twice(t0.Add(time.Duration(m)*time.Minute+30*time.Second), "GET", tmpl, tmpl, withID("cust1", roles...))
	}
	cases := []struct {
		name, path, role string
		evs              []*event.Event
	}{
		{"one admin use, a customer (cold)", "/v1/admin/orders", "admin",
			customers(1, append([]*event.Event{by(5, "/v1/admin/orders", admin), by(8, "/v1/admin/refunds", admin)}, cust(37, "/v1/admin/orders")...)...)},
		{"ROLE_ADMIN names admins", "/v1/admins/orders", "admin",
			customers(1, append([]*event.Event{by(5, "/v1/admins/orders", withID("admin2", "ROLE_ADMIN", "customer"))}, cust(37, "/v1/admins/orders")...)...)},
		{"shop:staff names staff-tools", "/api/staff-tools/refunds", "staff",
			customers(1, append([]*event.Event{by(5, "/api/staff-tools/refunds", withID("clerk", "shop:staff", "customer"))}, cust(37, "/api/staff-tools/refunds", "shop:customer")...)...)},
		{"after the learning period, below min_uses", "/v1/admin/orders", "admin",
			customers(4, append([]*event.Event{by(190, "/v1/admin/orders", admin)}, cust(210, "/v1/admin/orders")...)...)},
		{"a function nobody used yet", "", "",
			customers(1, append([]*event.Event{by(5, "/v1/admin/orders", admin)}, cust(37, "/v1/admin/webhooks")...)...)},
		{"no role word in the path", "", "",
			customers(1, append([]*event.Event{by(5, "/v1/reports", admin)}, cust(37, "/v1/reports")...)...)},
		{"roles not a hierarchy", "", "",
			customers(1, append([]*event.Event{by(5, "/v1/admin/orders", withID("admin3", "admin"))}, cust(37, "/v1/admin/orders")...)...)},
		{"the principal's group used the area", "", "",
			customers(1, append([]*event.Event{by(5, "/v1/admin/orders", admin), mkEv(t0.Add(20*time.Minute), ip4(6003), "GET", "/v1/admin/status", "/v1/admin/status", 200, withID("cust3", "customer"))}, cust(37, "/v1/admin/orders")...)...)},
		{"a role word of two letters", "", "",
			customers(1, append([]*event.Event{by(5, "/v1/qa/builds", withID("tester", "qa", "customer"))}, cust(37, "/v1/qa/builds")...)...)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			as := run(newBFLA(Config{}), c.evs)
			if c.path == "" {
				if len(as) != 0 {
					t.Fatalf("want no alert, got\n%s", summary(as))
				}
				return
			}
			if len(as) != 1 {
				t.Fatalf("want 1 alert, got\n%s", summary(as))
			}
			a := as[0]
			if a.Identity == nil || a.Identity.Name != "cust1" || a.Count != 2 || a.Endpoint.Path != c.path ||
				!strings.Contains(a.Evidence.Reason, `role "`+c.role+`"`) {
				t.Fatalf("alert %s (reason %q)", summary(as), a.Evidence.Reason)
			}
		})
	}
}

func TestRoleName(t *testing.T) {
	for in, want := range map[string]string{"Admin": "admin", "ROLE_ADMIN": "admin", "shop:staff": "staff", "https://example.com/roles/Support": "support", "realm.manager": "manager", "role-ops": "ops", "": ""} {
		if got := roleName(in); got != want {
			t.Errorf("roleName(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestBFLAFirstByEndUser: an administrative function that nobody used,
// in an administrative area nobody used, first used successfully by a
// token whose every role names an end user (customer, patient; technical
// roles ignored) fires once the learning time of traffic has passed — a
// customer on the admin API before the staff's working day. Not in the
// first minutes of the input, not for an administrator, not for a token
// that claims any other role, not on a word that only looks
// administrative (settings), not where the area has users (the other
// reasons judge), and not once small_abs end users fired on the function:
// then end users using it is how the API works.
func TestBFLAFirstByEndUser(t *testing.T) {
	at := t0.Add(3 * time.Hour)
	first := func(tmpl string, opts ...evOpt) []*event.Event {
		return merge(shop(4, 3), twice(at, "GET", tmpl, tmpl, opts...))
	}
	cases := []struct {
		name string
		evs  []*event.Event
		want int
	}{
		{"customer first on an unused admin area", first("/backoffice/orders", withID("cust7", "customer")), 1},
		{"patient with Keycloak's technical roles", first("/v1/admin-tools/export", withID("pt-9", "offline_access", "uma_authorization", "default-roles-clinic", "patient")), 1},
		{"namespaced end-user role", first("/api/sudo/run", withID("u-4", "https://example.com/roles/users")), 1},
		{"in the first minutes of the input", merge(shop(1, 3), twice(t0.Add(20*time.Minute), "GET", "/backoffice/orders", "/backoffice/orders", withID("cust7", "customer"))), 0},
		{"an administrator first", first("/backoffice/orders", withID("boss", "admin")), 0},
		{"a token with another role too", first("/backoffice/orders", withID("agent-2", "customer", "support")), 0},
		{"a role-less credential", first("/backoffice/orders", withKey("partner-key-001")), 0},
		{"settings are not administrative", first("/users/me/settings", withID("cust7", "customer")), 0},
		{"a word that starts like one", first("/badminton/courts", withID("cust7", "customer")), 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			as := ofType(run(newBFLA(Config{}), c.evs), "bfla.privileged_access")
			if len(as) != c.want {
				t.Fatalf("want %d alerts, got\n%s", c.want, summary(as))
			}
			for _, a := range as {
				if a.Identity == nil || a.Count != 2 || len(a.Evidence.Samples) != 1 || !strings.Contains(a.Evidence.Samples[0].Note, "first used by end-user role") {
					t.Fatalf("alert %+v %+v", a, a.Evidence.Samples)
				}
			}
		})
	}
	t.Run("end users on it is how the API works", func(t *testing.T) {
		evs := shop(4, 3)
		for i := 0; i < 9; i++ {
			evs = append(evs, twice(at.Add(time.Duration(i)*3*time.Minute), "GET", "/backoffice/orders", "/backoffice/orders", withID(fmt.Sprintf("cust%d", i), "customer"))...)
		}
		as := ofType(run(newBFLA(Config{}), merge(evs)), "bfla.privileged_access")
		if len(as) != 5 {
			t.Fatalf("want small_abs (5) alerts, then the function learned; got\n%s", summary(as))
		}
	})
}

func TestAdminPath(t *testing.T) {
	for p, want := range map[string]bool{"/v1/admin/orders": true, "/Administration/users": true, "/api/internal/jobs": true, "/back_office/x": false,
		"/backoffice": true, "/v1/users/{admin}": false, "/settings": false, "/badminton": false, "/v1/impersonate/{id}": true, "/international/rates": false} {
		if adminPath(p) != want {
			t.Errorf("adminPath(%q) != %v", p, want)
		}
	}
}

// TestEndUserRolesConfigured: detect.end_user_roles replaces the built-in
// vocabulary — a deployment whose end users carry "tenant-user" (or a
// namespaced "urn:acme:roles:Shopper") has its first-use rule and its
// token-reuse bar follow that list, and "customer" is then no end user.
func TestEndUserRolesConfigured(t *testing.T) {
	cfg := Config{EndUserRoles: []string{"tenant-user", "urn:acme:roles:Shopper"}}
	at := t0.Add(3 * time.Hour)
	for _, c := range []struct {
		name string
		opt  evOpt
		want int
	}{
		{"configured role", withID("t-1", "tenant-user"), 1},
		{"configured namespaced role, plural and prefixed", withID("t-2", "ROLE_SHOPPERS"), 1},
		{"built-in role no longer listed", withID("c-1", "customer"), 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			as := ofType(run(newBFLA(cfg), merge(shop(4, 3), twice(at, "GET", "/backoffice/orders", "/backoffice/orders", c.opt))), "bfla.privileged_access")
			if len(as) != c.want {
				t.Fatalf("want %d, got\n%s", c.want, summary(as))
			}
		})
	}
	u := newEndUsers(cfg)
	if ev := mkEv(at, ip4(1), "GET", "/x", "/x", 200, withID("t-3", "offline_access", "Tenant-Users")); !u.token(ev) {
		t.Errorf("tenant-users with a technical role: not an end user")
	}
	if d := newEndUsers(Config{}); !d.role("patients") || d.role("admin") {
		t.Errorf("default vocabulary: %v", d)
	}
	for r, ok := range map[string]bool{"tenant": true, "ROLE_": false, "a:b:xy": false, "https://x/roles/buyer": true} {
		if RoleNameUsable(r) != ok {
			t.Errorf("RoleNameUsable(%q) != %v", r, ok)
		}
	}
}
