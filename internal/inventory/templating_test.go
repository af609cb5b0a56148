package inventory

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestClassify(t *testing.T) {
	cases := []struct {
		seg  string
		want segKind
	}{
		{"10023", kInt},
		{"0", kInt},
		{"3fa85f64-5717-4562-b3fc-2c963f66afa6", kUUID},
		{"507f1f77bcf86cd799439011", kHex},
		{"a94a8fe5ccb19ba61c4c0873d391e987982fbbd3", kHex},
		{"deadbeef", kWord}, // all letters: a word until cardinality says otherwise
		{"2024-01-31", kDate},
		{"2024-01-31T10:00:00Z", kDate},
		{"2023-01", kVersion},
		{"v1", kVersion},
		{"v2.1", kVersion},
		{"v1beta2", kVersion},
		{"V3", kVersion},
		{"MRN-004512", kPrefixed},
		{"SKU-88A1", kPrefixed},
		{"ORD123456", kPrefixed},
		{"INV_2024_0042", kPrefixed},
		{"alice@example.test", kEmail},
		{"alice%40example.test", kEmail},
		{"how-to-bake-bread-at-home", kSlug},
		{"forget-password", kWord},
		{"login-with-token", kWord},
		{"api1", kWord},
		{"api10", kWord},
		{"name1", kWord},
		{"jwks.json", kWord},
		{"featured", kWord},
		{"dQw4w9WgXcQxYz12AbCd", kToken},
		{"-12", kInt},
		{"3.14", kInt},
		{"covid-19", kWord},
		{"", kWord},
	}
	for _, c := range cases {
		if got := classify(c.seg); got != c.want {
			t.Errorf("classify(%q) = %v, want %v", c.seg, got, c.want)
		}
	}
}

func TestParamName(t *testing.T) {
	cases := []struct {
		parent string
		k      segKind
		want   string
	}{
		{"users", kInt, "userId"},
		{"orders", kUUID, "orderId"},
		{"categories", kInt, "categoryId"},
		{"addresses", kInt, "addressId"},
		{"line-items", kInt, "lineItemId"},
		{"service_requests", kInt, "serviceRequestId"},
		{"status", kInt, "statusId"},
		{"patients", kPrefixed, "patientId"},
		{"blog", kSlug, "blogSlug"},
		{"users", kEmail, "email"},
		{"reports", kDate, "date"},
		{"v2", kInt, "id"},
		{"", kInt, "id"},
		{"api", kInt, "id"},
	}
	for _, c := range cases {
		if got := paramName(c.parent, c.k); got != c.want {
			t.Errorf("paramName(%q, %v) = %q, want %q", c.parent, c.k, got, c.want)
		}
	}
}

const h = "api.example.test"

func TestTemplateStrongIDs(t *testing.T) {
	cases := []struct {
		urls []string
		want string // template of the last URL
	}{
		{[]string{"/v2/users/10023/orders"}, "/v2/users/{userId}/orders"},
		{[]string{"/v2/users/3fa85f64-5717-4562-b3fc-2c963f66afa6"}, "/v2/users/{userId}"},
		{[]string{"/items/507f1f77bcf86cd799439011"}, "/items/{itemId}"},
		{[]string{"/reports/2024-01-31"}, "/reports/{date}"},
		{[]string{"/patients/MRN-004512/chart"}, "/patients/{patientId}/chart"},
		{[]string{"/products/SKU-88A1"}, "/products/{productId}"},
		{[]string{"/users/alice@example.test/profile"}, "/users/{email}/profile"},
		{[]string{"/users/1/posts/2/comments/3"}, "/users/{userId}/posts/{postId}/comments/{commentId}"},
		{[]string{"/a/1/1"}, "/a/{aId}/{id}"},
		{[]string{"/things/7/things/8"}, "/things/{thingId}/things/{thingId2}"},
		{[]string{"/v1/x", "/v2/x"}, "/v2/x"},          // versions never merge
		{[]string{"/api/2023-01/x"}, "/api/2023-01/x"}, // year-month is a version
		{[]string{"/files//a///b/"}, "/files/a/b"},     // empty segments collapse
		{[]string{"/"}, "/"},
	}
	for _, c := range cases {
		inv := New(DefaultConfig())
		f := newFeeder(t, inv)
		var got string
		for _, u := range c.urls {
			got = f.get("https://" + h + u)
		}
		if got != c.want {
			t.Errorf("%v: template %q, want %q", c.urls, got, c.want)
		}
	}
}

func TestStaticSiblingsStayApart(t *testing.T) {
	inv := New(DefaultConfig())
	f := newFeeder(t, inv)
	for i := 0; i < 40; i++ {
		f.get(fmt.Sprintf("https://%s/products/SKU-%04d", h, 1000+i))
		f.get(fmt.Sprintf("https://%s/orders/%d", h, 500+i))
	}
	for i := 0; i < 5; i++ {
		f.get("https://" + h + "/products/featured")
		f.get("https://" + h + "/orders/all")
	}
	want := []string{"GET /orders/all", "GET /orders/{orderId}", "GET /products/featured", "GET /products/{productId}"}
	if diff := cmp.Diff(want, templates(inv, h)); diff != "" {
		t.Errorf("templates (-want +got):\n%s", diff)
	}
}

func TestNoWrongMerges(t *testing.T) {
	// Few distinct words under a position: a router, not an id space.
	inv := New(DefaultConfig())
	f := newFeeder(t, inv)
	words := []string{"users", "orders", "products", "carts", "payments", "invoices", "search", "login", "logout", "health"}
	for r := 0; r < 20; r++ {
		for _, w := range words {
			f.get("https://" + h + "/api/" + w)
		}
	}
	for i := 1; i <= 10; i++ {
		f.get(fmt.Sprintf("https://%s/vapi/api%d/user", h, i))
	}
	got := templates(inv, h)
	if len(got) != len(words)+10 {
		t.Fatalf("got %d templates, want %d: %v", len(got), len(words)+10, got)
	}
	for _, g := range got {
		if contains([]string{"{"}, g) {
			t.Errorf("unexpected parameter in %s", g)
		}
	}
}

func TestCardinalityConvergence(t *testing.T) {
	inv := New(DefaultConfig())
	f := newFeeder(t, inv)
	names := []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
		"mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yolanda"}
	var early []string
	for i := 0; i < 10; i++ {
		f.send(req{method: "POST", url: "https://" + h + "/users/v1/login"})
	}
	for i, n := range names {
		tm := f.get("https://" + h + "/users/v1/" + n)
		f.send(req{method: "PUT", url: "https://" + h + "/users/v1/" + n + "/email"})
		if i < 3 {
			early = append(early, tm)
		}
	}
	// Early templates were concrete; Resolve maps them to the final one.
	if early[0] != "/users/v1/alice" {
		t.Errorf("early template %q, want concrete", early[0])
	}
	want := []string{"POST /users/v1/login", "GET /users/v1/{userId}", "PUT /users/v1/{userId}/email"}
	if diff := cmp.Diff(want, templates(inv, h)); diff != "" {
		t.Errorf("templates (-want +got):\n%s", diff)
	}
	ref := inv.Resolve(refOf("GET", "/users/v1/alice"))
	if ref.Path != "/users/v1/{userId}" {
		t.Errorf("Resolve(/users/v1/alice) = %q", ref.Path)
	}
	ref = inv.Resolve(refOf("PUT", "/users/v1/bob/email"))
	if ref.Path != "/users/v1/{userId}/email" {
		t.Errorf("Resolve(/users/v1/bob/email) = %q", ref.Path)
	}
	// Statistics of the collapsed children were merged.
	for _, ep := range inv.Endpoints(t0) {
		if ep.Path == "/users/v1/{userId}" && ep.Method == "GET" && ep.Requests != int64(len(names)) {
			t.Errorf("merged requests = %d, want %d", ep.Requests, len(names))
		}
		if ep.Path == "/users/v1/{userId}/email" && ep.Requests != int64(len(names)) {
			t.Errorf("merged PUT requests = %d, want %d", ep.Requests, len(names))
		}
	}
	// New values go straight to the parameter.
	if got := f.get("https://" + h + "/users/v1/zed"); got != "/users/v1/{userId}" {
		t.Errorf("after convergence: %q", got)
	}
}

func TestSlugs(t *testing.T) {
	inv := New(DefaultConfig())
	f := newFeeder(t, inv)
	slugs := []string{"how-to-bake-bread", "ten-tips-for-better-sleep", "why-go-is-great-for-apis", "a-guide-to-sourdough-starters", "best-hikes-in-the-alps", "learning-to-play-the-cello"}
	for _, s := range slugs {
		f.get("https://" + h + "/blog/" + s)
	}
	f.get("https://" + h + "/blog/feed")
	want := []string{"GET /blog/feed", "GET /blog/{blogSlug}"}
	if diff := cmp.Diff(want, templates(inv, h)); diff != "" {
		t.Errorf("templates (-want +got):\n%s", diff)
	}
}

func TestNotFoundIsNotCardinality(t *testing.T) {
	inv := New(DefaultConfig())
	f := newFeeder(t, inv)
	for i := 0; i < 50; i++ {
		f.send(req{method: "GET", url: fmt.Sprintf("https://%s/scan-%c%c/admin.php", h, 'a'+i%26, 'a'+i/26), status: 404, client: "203.0.113.66"})
	}
	f.get("https://" + h + "/api/users")
	if got := templates(inv, h); !cmp.Equal(got, []string{"GET /api/users"}) {
		t.Errorf("endpoints = %v", got)
	}
	if p := inv.Probes(); len(p) != 50 {
		t.Errorf("probes = %d, want 50", len(p))
	}
	// A 404 on an id-templated endpoint that otherwise answers 200 stays an endpoint.
	f.get("https://" + h + "/api/users/1")
	f.send(req{method: "GET", url: "https://" + h + "/api/users/999999", status: 404})
	var found bool
	for _, ep := range inv.Endpoints(t0) {
		if ep.Path == "/api/users/{userId}" {
			found = true
			if ep.StatusCodes["404"] != 1 || ep.StatusCodes["200"] != 1 {
				t.Errorf("status codes %v", ep.StatusCodes)
			}
		}
	}
	if !found {
		t.Error("/api/users/{userId} missing")
	}
}

func TestPinnedAndIgnore(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Pinned = []string{"/accounts/{account}/settings", h + " /teams/{team}"}
	cfg.Ignore = []string{"/healthz", "/static/**"}
	inv := New(cfg)
	if err := inv.Err(); err != nil {
		t.Fatal(err)
	}
	f := newFeeder(t, inv)
	if got := f.get("https://" + h + "/accounts/acme/settings"); got != "/accounts/{account}/settings" {
		t.Errorf("pinned: %q", got)
	}
	if got := f.get("https://" + h + "/teams/red"); got != "/teams/{team}" {
		t.Errorf("host-pinned: %q", got)
	}
	if got := f.get("https://other.test/teams/red"); got != "/teams/red" {
		t.Errorf("pin of another host applied: %q", got)
	}
	f.get("https://" + h + "/healthz")
	f.get("https://" + h + "/static/js/app.js")
	for _, tm := range templates(inv, h) {
		if tm == "GET /healthz" || tm == "GET /static/js/app.js" {
			t.Errorf("ignored path inventoried: %s", tm)
		}
	}
	if s := inv.Stats(); s.Ignored != 2 {
		t.Errorf("ignored = %d, want 2", s.Ignored)
	}
	bad := New(Config{Pinned: []string{"no-slash"}, Ignore: []string{"/[x"}})
	if bad.Err() == nil {
		t.Error("bad config accepted")
	}
}

func TestNodeBudget(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxNodes = 200
	cfg.MinCardinality = 1000 // only the budget can collapse
	inv := New(cfg)
	f := newFeeder(t, inv)
	for i := 0; i < 2000; i++ {
		f.get(fmt.Sprintf("https://%s/catalog/item%c%c%c/details", h, 'a'+i%26, 'a'+(i/26)%26, 'a'+i/676))
	}
	st := inv.Stats()
	if st.Nodes > cfg.MaxNodes+64 {
		t.Errorf("nodes = %d, budget %d", st.Nodes, cfg.MaxNodes)
	}
	if st.BudgetEvents == 0 {
		t.Error("budget never enforced")
	}
	var total int64
	for _, ep := range inv.Endpoints(t0) {
		total += ep.Requests
	}
	if total != 2000 {
		t.Errorf("requests across endpoints = %d, want 2000 (nothing lost at the budget)", total)
	}
}

// Forced browsing: a scanner guessing route names under an authenticated
// prefix gets 401 for every guess. That is no evidence of a parameter.
func TestForcedBrowsingDoesNotCollapse(t *testing.T) {
	inv := New(DefaultConfig())
	f := newFeeder(t, inv)
	for i := 0; i < 30; i++ {
		f.get("https://" + h + "/v1/admin/orders")
	}
	for i := 0; i < 60; i++ {
		f.send(req{method: "GET", url: fmt.Sprintf("https://%s/v1/admin/guess%c%c", h, 'a'+i%26, 'a'+i/26), status: 401, client: "203.0.113.66"})
	}
	for i := 0; i < 3; i++ {
		f.send(req{method: "DELETE", url: fmt.Sprintf("https://%s/v1/admin/users/%d", h, 100+i), status: 204})
	}
	for _, tm := range templates(inv, h) {
		if strings.Contains(tm, "/v1/admin/{") {
			t.Errorf("forced browsing collapsed /v1/admin: %s", tm)
		}
	}
	if ep := endpointOf(t, inv, "DELETE", "/v1/admin/users/{userId}"); ep.Requests != 3 {
		t.Errorf("DELETE users requests %d", ep.Requests)
	}
}

// Splits that must not happen: different spellings of the same operation
// end in one template.
func TestNoWrongSplits(t *testing.T) {
	cases := []struct {
		name string
		urls []string
		want []string
	}{
		{"int and uuid ids", []string{"/users/42", "/users/3fa85f64-5717-4562-b3fc-2c963f66afa6", "/users/507f1f77bcf86cd799439011"}, []string{"GET /users/{userId}"}},
		{"trailing and double slashes", []string{"/orders/", "/orders", "//orders"}, []string{"GET /orders"}},
		{"escaped and plain e-mail", []string{"/members/a%40example.test", "/members/b@example.test"}, []string{"GET /members/{email}"}},
		{"ids of different lengths", []string{"/items/1", "/items/123456789012", "/items/-5"}, []string{"GET /items/{itemId}"}},
		{"prefixed ids of several families", []string{"/patients/MRN-004512", "/patients/MRN-1", "/patients/PAT-00077"}, []string{"GET /patients/{patientId}"}},
	}
	for _, c := range cases {
		inv := New(DefaultConfig())
		f := newFeeder(t, inv)
		for _, u := range c.urls {
			f.get("https://" + h + u)
		}
		if got := templates(inv, h); !cmp.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// TestDateVersions: a date opening the path is the API's version (AWS,
// Twilio), never a parameter; a date after a collection is an object's.
func TestDateVersions(t *testing.T) {
	inv := New(DefaultConfig())
	f := newFeeder(t, inv)
	for _, c := range []struct{ url, want string }{
		{"https://lambda.example.test/2015-03-31/functions", "/2015-03-31/functions"},
		{"https://lambda.example.test/2015-03-31/functions/42", "/2015-03-31/functions/{functionId}"},
		{"https://lambda.example.test/2019-09-25/functions", "/2019-09-25/functions"},
		{"https://twilio.example.test/2010-04-01/Accounts/AC123456789abcdef0123", "/2010-04-01/Accounts/{accountId}"},
		{"https://reports.example.test/reports/2024-01-31", "/reports/{date}"},
		{"https://reports.example.test/reports/2024-02-01", "/reports/{date}"},
	} {
		if got := f.get(c.url); got != c.want {
			t.Errorf("%s: %s, want %s", c.url, got, c.want)
		}
	}
}
