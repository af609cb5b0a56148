package inventory

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestProbesDoNotPadTheInventory: what a scanner touched is not an API.
// Operations that only ever got a denial (401/403/404/405), operations only
// reconnaissance sources called, and instance-metadata hosts are probes —
// not endpoints, not in the OpenAPI export — until legitimate traffic uses
// them.
func TestProbesDoNotPadTheInventory(t *testing.T) {
	inv := New(DefaultConfig())
	f := newFeeder(t, inv)
	users := []string{"198.51.100.1", "198.51.100.2", "198.51.100.3", "198.51.100.4", "198.51.100.5"}
	for i := range 60 {
		c := users[i%len(users)]
		f.send(req{method: "GET", url: "https://" + h + "/v1/products", client: c})
		f.send(req{method: "GET", url: fmt.Sprintf("https://%s/v1/orders/%d", h, 1000+i), client: c})
		if i%10 == 0 { // a customer's stale ids: a few 404s among many answers
			f.send(req{method: "GET", url: fmt.Sprintf("https://%s/v1/orders/%d", h, 9000+i), status: 404, client: c})
		}
	}
	f.send(req{method: "GET", url: "https://" + h + "/v1/health", client: "10.0.0.9"}) // the load balancer
	const scanner = "203.0.113.60"
	for _, w := range []string{"admin", "backup", "config", "debug", "env", "export", "keys", "logs", "metrics", "secrets", "system", "users", "jobs", "queue", "cache"} {
		f.send(req{method: "GET", url: "https://" + h + "/v1/admin/" + w, status: 401, client: scanner})
	}
	for i := range 30 {
		f.send(req{method: "GET", url: fmt.Sprintf("https://%s/wp-%c/x.php", h, 'a'+i), status: 404, client: scanner})
	}
	f.send(req{method: "GET", url: "https://" + h + "/robots.txt", client: scanner})
	f.send(req{method: "GET", url: "https://" + h + "/v1/health", client: scanner})
	f.send(req{method: "GET", url: "https://" + h + "/v1/products", client: scanner})
	f.send(req{method: "GET", url: "http://169.254.169.254/latest/meta-data/iam/security-credentials", client: "10.0.0.12"})
	f.send(req{method: "GET", url: "http://[fd00:ec2::254]/latest/meta-data/", client: "10.0.0.12"})

	want := []string{"GET /v1/health", "GET /v1/orders/{orderId}", "GET /v1/products"}
	if diff := cmp.Diff(want, templates(inv, h)); diff != "" {
		t.Errorf("endpoints (-want +got):\n%s", diff)
	}
	for _, ep := range inv.Endpoints(t0) {
		if ep.Host != h {
			t.Errorf("endpoint on %s (an instance-metadata address is never an API of ours)", ep.Host)
		}
	}
	reasons := map[string]int{}
	byPath := map[string]string{}
	for _, p := range inv.Probes() {
		reasons[p.Reason]++
		byPath[p.Method+" "+p.Host+p.Path] = p.Reason
	}
	if reasons[ProbeDenied] != 15 || reasons[ProbeNotFound] != 30 || reasons[ProbeMetadata] != 2 || reasons[ProbeRecon] != 1 {
		t.Errorf("probe reasons %v", reasons)
	}
	if r := byPath["GET "+h+"/robots.txt"]; r != ProbeRecon {
		t.Errorf("/robots.txt, only the scanner called it: %q", r)
	}
	doc, err := ExportOpenAPI(h, inv.Endpoints(t0), "")
	if err != nil {
		t.Fatal(err)
	}
	var oa struct {
		Paths map[string]json.RawMessage `json:"paths"`
	}
	json.Unmarshal(doc, &oa)
	for p := range oa.Paths {
		if strings.Contains(p, "admin") || strings.Contains(p, "robots") || strings.Contains(p, "wp-") {
			t.Errorf("OpenAPI export has the probe %s", p)
		}
	}
	// Legitimate traffic turns a probe into an endpoint.
	f.send(req{method: "GET", url: "https://" + h + "/robots.txt", client: "198.51.100.2"})
	f.send(req{method: "GET", url: "https://" + h + "/v1/admin/config", client: "10.0.0.20", headers: map[string]string{"authorization": "Bearer x.y.z"}})
	want = []string{"GET /robots.txt", "GET /v1/admin/config", "GET /v1/health", "GET /v1/orders/{orderId}", "GET /v1/products"}
	if diff := cmp.Diff(want, templates(inv, h)); diff != "" {
		t.Errorf("after legitimate use (-want +got):\n%s", diff)
	}
}
