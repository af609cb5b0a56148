package inventory

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/palisade-sec/palisade/internal/model"
)

func endpointOf(t *testing.T, inv *Inventory, method, path string) model.Endpoint {
	t.Helper()
	for _, ep := range inv.Endpoints(t0.Add(time.Hour)) {
		if ep.Method == method && ep.Path == path {
			return ep
		}
	}
	t.Fatalf("no endpoint %s %s in %v", method, path, templates(inv, h))
	return model.Endpoint{}
}

func TestEndpointStatistics(t *testing.T) {
	inv := New(DefaultConfig())
	f := newFeeder(t, inv)
	jwt := "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"
	for i := 0; i < 10; i++ {
		f.send(req{method: "GET", url: fmt.Sprintf("https://%s/v2/users/%d/orders?limit=%d&since=2024-01-0%d&email=a%d@example.test&api_key=SECRETSECRET%d", h, 100+i, 10+i, 1+i%9, i, i),
			client: fmt.Sprintf("198.51.100.%d", i%4), headers: map[string]string{"authorization": jwt, "x-tenant": "acme-corp"},
			respBody: `{"items":[{"id":1,"total":9.5,"created":"2024-01-01T10:00:00Z"}],"next":null}`})
	}
	ep := endpointOf(t, inv, "GET", "/v2/users/{userId}/orders")
	if ep.Requests != 10 || ep.StatusCodes["200"] != 10 || ep.Authentication != "required" || ep.Exposure != "external" {
		t.Errorf("requests %d status %v auth %q exposure %q", ep.Requests, ep.StatusCodes, ep.Authentication, ep.Exposure)
	}
	if !cmp.Equal(ep.AuthSchemes, []string{"api-key-query:api_key", "bearer-jwt"}) {
		t.Errorf("auth schemes %v", ep.AuthSchemes)
	}
	if ep.Clients != 4 || ep.Identities != 1 || !cmp.Equal(ep.Schemes, []string{"https"}) {
		t.Errorf("clients %d identities %d schemes %v", ep.Clients, ep.Identities, ep.Schemes)
	}
	if ep.Latency == nil || ep.Latency.P50 < 11.8 || ep.Latency.P50 > 12.2 {
		t.Errorf("latency %+v", ep.Latency)
	}
	got := map[string]string{}
	for _, p := range ep.Parameters {
		got[p.In+":"+p.Name] = fmt.Sprintf("%s/%s/%v/%s", p.Type, p.Format, p.Required, strings.Join(p.ExamplesRedacted, ","))
	}
	want := map[string]string{
		"path:userId":     "integer//true/<int>",
		"query:limit":     "integer//true/<int>",
		"query:since":     "string/date/true/<date>",
		"query:email":     "string/email/true/<email>",
		"query:api_key":   "string//true/<redacted>",
		"header:x-tenant": "string//true/ac******",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("parameters (-want +got):\n%s", diff)
	}
	js, _ := json.Marshal(ep.ResponseSchema)
	wantSchema := `{"properties":{"items":{"items":{"properties":{"created":{"format":"date-time","type":"string"},"id":{"type":"integer"},"total":{"type":"number"}},"required":["created","id","total"],"type":"object"},"type":"array"},"next":{"type":"null"}},"required":["items","next"],"type":"object"}`
	if string(js) != wantSchema {
		t.Errorf("response schema\n got %s\nwant %s", js, wantSchema)
	}
	// Secrets never appear anywhere in the endpoint.
	all, _ := json.Marshal(inv.Endpoints(t0))
	for _, secret := range []string{"SECRETSECRET", "eyJhbGci", "a1@example.test", "acme-corp"} {
		if strings.Contains(string(all), secret) {
			t.Errorf("inventory leaks %q", secret)
		}
	}
}

func TestAuthenticationAndExposure(t *testing.T) {
	inv := New(DefaultConfig())
	f := newFeeder(t, inv)
	f.send(req{method: "GET", url: "https://" + h + "/open", client: "10.0.0.5"})
	f.send(req{method: "GET", url: "https://" + h + "/mixed", headers: map[string]string{"x-api-key": "k1"}, client: "10.0.0.5"})
	f.send(req{method: "GET", url: "https://" + h + "/mixed", client: "10.0.0.6"})
	f.send(req{method: "GET", url: "https://" + h + "/denied", status: 401, client: "10.0.0.6"})
	f.send(req{method: "GET", url: "https://" + h + "/partly", status: 401, client: "10.0.0.6"})
	f.send(req{method: "GET", url: "https://" + h + "/partly", status: 403, client: "10.0.0.7"})
	f.send(req{method: "GET", url: "https://" + h + "/partly", status: 500, client: "10.0.0.7"})
	// Only denials: no evidence the operation exists for anyone; a probe.
	if p := inv.Probes(); len(p) != 1 || p[0].Path != "/denied" || p[0].Reason != ProbeDenied {
		t.Errorf("probes %+v", p)
	}
	cases := map[string][2]string{"/open": {"none", "internal"}, "/mixed": {"none", "internal"}, "/partly": {"unknown", "internal"}}
	for p, w := range cases {
		ep := endpointOf(t, inv, "GET", p)
		if ep.Authentication != w[0] || ep.Exposure != w[1] {
			t.Errorf("%s: auth %q exposure %q, want %v", p, ep.Authentication, ep.Exposure, w)
		}
	}
}

func TestRequestBodyParameters(t *testing.T) {
	inv := New(DefaultConfig())
	f := newFeeder(t, inv)
	f.send(req{method: "POST", url: "https://" + h + "/orders", body: `{"sku": broken`, headers: map[string]string{"content-type": "application/json"}, status: 400})
	for i := 0; i < 40; i++ {
		body := fmt.Sprintf(`{"sku":"SKU-%04d","quantity":%d,"password":"hunter%d","note":"gift wrap"}`, i, i, i)
		if i%2 == 1 {
			body = fmt.Sprintf(`{"sku":"SKU-%04d","quantity":%d,"password":"x"}`, i, i)
		}
		f.send(req{method: "POST", url: "https://" + h + "/orders", body: body, headers: map[string]string{"content-type": "application/json"}, status: 201})
	}
	ep := endpointOf(t, inv, "POST", "/orders")
	got := map[string]string{}
	for _, p := range ep.Parameters {
		got[p.In+":"+p.Name] = fmt.Sprintf("%s/%v/%s", p.Type, p.Required, strings.Join(p.ExamplesRedacted, ","))
	}
	want := map[string]string{"body:sku": "string/true/<string>", "body:quantity": "integer/true/<int>",
		"body:password": "string/true/<redacted>", "body:note": "string/false/gi******"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("body parameters (-want +got):\n%s", diff)
	}
	if s := inv.Stats(); s.BodyErrors != 1 {
		t.Errorf("body errors = %d, want 1", s.BodyErrors)
	}
}

func TestAPIChanges(t *testing.T) {
	inv := New(DefaultConfig())
	f := newFeeder(t, inv)
	for i := 0; i < 60; i++ {
		f.send(req{method: "GET", url: fmt.Sprintf("https://%s/search?q=x%d", h, i), client: fmt.Sprintf("198.51.100.%d", i%7)})
	}
	for i := 0; i < 60; i++ {
		f.send(req{method: "GET", url: fmt.Sprintf("https://%s/search?q=x%d&page_size=20", h, i), client: fmt.Sprintf("198.51.100.%d", i%7)})
	}
	// A parameter a single client tries now and then is no API change.
	for i := 0; i < 60; i++ {
		u := fmt.Sprintf("https://%s/search?q=y%d&page_size=20", h, i)
		if i%10 == 0 {
			u += "&debug=1"
		}
		f.send(req{method: "GET", url: u, client: fmt.Sprintf("198.51.100.%d", i%7)})
	}
	ch := inv.APIChanges()
	if len(ch) != 1 || ch[0].Kind != "parameter_added" || !strings.Contains(ch[0].Detail, `"page_size"`) || ch[0].Endpoint.Path != "/search" {
		t.Fatalf("changes = %+v", ch)
	}
	if !ch[0].Time.Equal(t0.Add(60 * time.Second)) {
		t.Errorf("change time %v", ch[0].Time)
	}
}

func TestRedactExample(t *testing.T) {
	cases := []struct{ name, v, want string }{
		{"id", "123", "<int>"},
		{"uid", "3fa85f64-5717-4562-b3fc-2c963f66afa6", "<uuid>"},
		{"to", "bob@example.test", "<email>"},
		{"password", "hunter2", "<redacted>"},
		{"X-Auth-Token", "abc", "<redacted>"},
		{"q", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig", "<string>"},
		{"format", "json", "js**"},
		{"city", "Zürich", "Zü****"},
		{"flag", "true", "true"},
		{"url", "https://roottusk.com", "<uri>"},
		{"ip", "192.0.2.1", "<ipv4>"},
		{"kind", "to", "<string>"},
	}
	for _, c := range cases {
		typ, format := valueType(c.v)
		if got := redactExample(c.name, typ, format, c.v); got != c.want {
			t.Errorf("redact(%q, %q) = %q, want %q", c.name, c.v, got, c.want)
		}
	}
}
