package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

const gwRules = "../../internal/posture/gateway/testdata/rules"

func TestAuditGatewayCLI(t *testing.T) {
	nginxPos := filepath.Join(gwRules, "nginx", "g001-route-without-authentication.pos.conf")
	kongBase := filepath.Join(gwRules, "kong", "baseline.yaml")
	dir := t.TempDir()
	weak := filepath.Join(dir, "weak.yaml")
	os.WriteFile(weak, []byte("openapi: 3.0.3\ninfo: {title: w, version: '1'}\nservers: [{url: 'http://api.example.test'}]\npaths:\n  /a:\n    delete:\n      responses: {'204': {description: ok}}\n"), 0o644)

	// Detected by content next to an OpenAPI document; both audits run.
	out, stderr, code := run(t, nil, "audit", nginxPos, kongBase, weak)
	if code != 0 || !strings.Contains(out, "PAL-G001") || !strings.Contains(out, "PAL-S003") ||
		!strings.Contains(out, "g001-route-without-authentication.pos.conf: nginx, 1 routes") || !strings.Contains(out, "baseline.yaml: kong, 1 routes, 0 findings") {
		t.Fatalf("exit %d\n%s\n%s", code, out, stderr)
	}
	if _, _, code = run(t, nil, "audit", "--fail-on", "high", nginxPos); code != 1 {
		t.Errorf("--fail-on high with an unauthenticated route: exit %d", code)
	}
	if _, _, code = run(t, nil, "audit", "--fail-on", "high", kongBase); code != 0 {
		t.Errorf("--fail-on high on the hardened baseline: exit %d", code)
	}
	// --rules across both catalogues selects exactly those.
	out, _, code = run(t, nil, "audit", "--format", "json", "--rules", "PAL-G001", nginxPos, weak)
	var fs []struct {
		Rule     string `json:"rule"`
		Source   string `json:"source"`
		Location struct {
			File   string `json:"file"`
			Line   int    `json:"line"`
			Column int    `json:"column"`
		} `json:"location"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &fs) != nil || len(fs) != 1 || fs[0].Rule != "PAL-G001" || fs[0].Source != "gateway-config" || fs[0].Location.Line != 19 || fs[0].Location.Column != 9 {
		t.Errorf("--rules PAL-G001: exit %d %s", code, out)
	}
	// SARIF.
	out, _, code = run(t, nil, "audit", "--format", "sarif", nginxPos)
	if code != 0 || !strings.Contains(out, `"ruleId": "PAL-G001"`) || !strings.Contains(out, `"startColumn": 9`) {
		t.Errorf("sarif: exit %d %.300s", code, out)
	}
	// --kind forces the reader: a YAML file read as NGINX is an error.
	if _, stderr, code = run(t, nil, "audit", "--kind", "nginx", kongBase); code != 2 || !strings.Contains(stderr+out, "") {
		t.Errorf("--kind nginx on YAML: exit %d %s", code, stderr)
	}
	if _, stderr, code = run(t, nil, "audit", "--kind", "traefik", kongBase); code != 2 || !strings.Contains(stderr, "--kind") {
		t.Errorf("--kind traefik: exit %d %s", code, stderr)
	}
	// A broken NGINX file next to a good one: located error, exit 2.
	broken := filepath.Join(dir, "broken.conf")
	os.WriteFile(broken, []byte("http {\n  server {\n    listen 80;\n    location / { proxy_pass http://a; \n"), 0o644)
	out, _, code = run(t, nil, "audit", broken, nginxPos)
	if code != 2 || !strings.Contains(out, "broken.conf:") || !strings.Contains(out, "PAL-G001") {
		t.Errorf("broken nginx: exit %d %s", code, out)
	}
	// --list-rules lists both catalogues.
	out, _, _ = run(t, nil, "audit", "--list-rules")
	if !strings.Contains(out, "PAL-S001") || !strings.Contains(out, "PAL-G013") || !strings.Contains(out, "PAL-G104") {
		t.Errorf("--list-rules: %s", out)
	}
}

// TestAuditTraffic joins the demo gateway configuration with a simulated
// capture, then with the report of the same capture: the same joined
// findings either way.
func TestAuditTraffic(t *testing.T) {
	if testing.Short() {
		t.Skip("simulates and analyzes 48 h of traffic")
	}
	dir := t.TempDir()
	capture := filepath.Join(dir, "cap.ndjson.gz")
	if _, stderr, code := run(t, nil, "sim", "--scale", "0.3", "-o", capture); code != 0 {
		t.Fatalf("sim: %s", stderr)
	}
	demo := "../../internal/posture/gateway/testdata/demo/sim-gateway.kong.yaml"
	joined := func(traffic string) []string {
		out, stderr, code := run(t, nil, "audit", "--format", "json", "--traffic", traffic, demo)
		if code != 0 {
			t.Fatalf("audit --traffic %s: exit %d %s", traffic, code, stderr)
		}
		var fs []struct {
			Rule     string `json:"rule"`
			Endpoint *struct {
				Method, Host, Path string
			} `json:"endpoint"`
			Evidence map[string]any `json:"evidence"`
		}
		if err := json.Unmarshal([]byte(out), &fs); err != nil {
			t.Fatal(err)
		}
		var keys []string
		for _, f := range fs {
			if !strings.HasPrefix(f.Rule, "PAL-G1") {
				continue
			}
			if _, ok := f.Evidence["risk"]; !ok {
				t.Errorf("%s without risk", f.Rule)
			}
			k := f.Rule
			if f.Endpoint != nil {
				k += " " + f.Endpoint.Host + f.Endpoint.Path
			}
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return keys
	}
	fromCapture := joined(capture)
	for _, want := range []string{
		"PAL-G101 api.shop.example.test/v0",                              // the legacy route nobody calls
		"PAL-G102 ehr.clinic.example.test/v1/staff/directory",            // served without a route
		"PAL-G103 api.bank.example.test/v1/accounts/[^/]+/transactions$", // no auth, IBANs leave
		"PAL-G104 ehr.clinic.example.test/v1/patients",                   // no rate limit, enumeration fired
	} {
		found := false
		for _, k := range fromCapture {
			if strings.HasPrefix(k, want) || strings.Contains(k, want) {
				found = true
			}
		}
		if !found {
			t.Errorf("joined findings lack %q: %q", want, fromCapture)
		}
	}
	report := filepath.Join(dir, "report.json")
	if _, stderr, code := run(t, nil, "analyze", "--no-progress", "--report", report, capture); code != 0 {
		t.Fatalf("analyze: %s", stderr)
	}
	if fromReport := joined(report); strings.Join(fromReport, "\n") != strings.Join(fromCapture, "\n") {
		t.Errorf("report and capture disagree:\n%q\n%q", fromReport, fromCapture)
	}
}
