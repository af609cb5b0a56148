package inventory

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/testutil"
)

func TestLoadSpec(t *testing.T) {
	cases := []struct {
		file      string
		format    string
		hosts     []string
		bases     []string
		ops       int
		firstOp   string
		authFirst bool
	}{
		{"shop31.yaml", "openapi 3.1.0", []string{"api.example.test"}, []string{"/v1"}, 7, "GET /legacy/export", true},
		{"shop30.json", "openapi 3.0.3", []string{"eu.example.test"}, []string{"/api"}, 1, "GET /users/{userId}", false},
		{"petstore2.yaml", "swagger 2.0", []string{"pets.example.test"}, []string{"/v2"}, 2, "GET /pet/findByStatus", true},
		{"noservers.yaml", "openapi 3.0.0", nil, []string{""}, 1, "GET /ping", false},
	}
	for _, c := range cases {
		s, err := LoadSpec(filepath.Join("testdata", c.file))
		if err != nil {
			t.Errorf("%s: %v", c.file, err)
			continue
		}
		if s.Format != c.format || !cmp.Equal(s.Hosts, c.hosts) || !cmp.Equal(s.BasePaths, c.bases) || len(s.Ops) != c.ops {
			t.Errorf("%s: format %q hosts %v bases %v ops %d", c.file, s.Format, s.Hosts, s.BasePaths, len(s.Ops))
			continue
		}
		if got := s.Ops[0].Method + " " + s.Ops[0].Path; got != c.firstOp || s.Ops[0].Op.AuthRequired != c.authFirst {
			t.Errorf("%s: first op %q auth %v", c.file, got, s.Ops[0].Op.AuthRequired)
		}
	}
}

func TestLoadSpecErrors(t *testing.T) {
	cases := []struct {
		file string
		want string // regexp
	}{
		{"broken.yaml", `^testdata/broken.yaml:\d+: invalid YAML: `},
		{"broken.json", `^testdata/broken.json:5:\d+: invalid JSON: `},
		{"notopenapi.yaml", `^testdata/notopenapi.yaml: not an OpenAPI or Swagger document`},
		{"wrongpaths.yaml", `^testdata/wrongpaths.yaml:5: .*paths`},
		{"missing.yaml", `^spec testdata/missing.yaml: .*no such file`},
	}
	for _, c := range cases {
		_, err := LoadSpec(filepath.Join("testdata", c.file))
		if err == nil {
			t.Errorf("%s: no error", c.file)
			continue
		}
		if !regexp.MustCompile(c.want).MatchString(err.Error()) {
			t.Errorf("%s: error %q does not match %s", c.file, err, c.want)
		}
	}
	for _, in := range []string{"", "   ", "[1,2]", "- a\n- b\n", "openapi: 2.0\n", "swagger: '1.2'\n"} {
		if _, err := ParseSpec("x.yaml", []byte(in)); err == nil || !strings.HasPrefix(err.Error(), "x.yaml") {
			t.Errorf("ParseSpec(%q) = %v, want an error naming the file", in, err)
		}
	}
}

func TestLenientLoad(t *testing.T) {
	s, err := LoadSpec("testdata/wrongtype.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Ops) != 1 || len(s.Warnings) == 0 || !strings.Contains(s.Warnings[0], "loaded leniently") {
		t.Errorf("ops %d warnings %q", len(s.Ops), s.Warnings)
	}
}

func TestSpecStates(t *testing.T) {
	s, err := LoadSpec("testdata/shop31.yaml")
	if err != nil {
		t.Fatal(err)
	}
	inv := New(DefaultConfig())
	if err := inv.AddSpec(s); err != nil {
		t.Fatal(err)
	}
	f := newFeeder(t, inv)
	// Declared templates win: a word where {sku} is declared is the parameter,
	// the declared static sibling stays itself.
	if got := f.get("https://api.example.test/v1/products/blue-widget"); got != "/v1/products/{sku}" {
		t.Errorf("declared template: %q", got)
	}
	if got := f.get("https://api.example.test/v1/products/featured"); got != "/v1/products/featured" {
		t.Errorf("declared static: %q", got)
	}
	f.get("https://api.example.test/v1/orders/17")
	f.send(req{method: "DELETE", url: "https://api.example.test/v1/orders/17", status: 204})
	f.get("https://api.example.test/v1/internal/debug") // shadow
	f.send(req{method: "GET", url: "https://api.example.test/v1/legacy/export", at: t0.Add(-60 * 24 * time.Hour)})
	eps := inv.Endpoints(t0.Add(time.Hour))
	got := map[string]string{}
	for _, ep := range eps {
		doc := "nil"
		if ep.Documented != nil {
			doc = map[bool]string{true: "doc", false: "undoc"}[*ep.Documented]
		}
		got[ep.Method+" "+ep.Path] = ep.State + "/" + doc
	}
	want := map[string]string{
		"GET /v1/products":            "unused/doc",
		"GET /v1/products/{sku}":      "active/doc",
		"GET /v1/products/featured":   "active/doc",
		"GET /v1/orders/{orderId}":    "active/doc",
		"DELETE /v1/orders/{orderId}": "zombie/doc",
		"POST /v1/orders":             "unused/doc",
		"GET /v1/legacy/export":       "unused/doc", // deprecated, last called 60 days before the end
		"GET /v1/internal/debug":      "shadow/undoc",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("states (-want +got):\n%s", diff)
	}
	op, ok := inv.Operation(refOf("DELETE", "/v1/orders/{orderId}"))
	if !ok || !op.Deprecated || !op.AuthRequired {
		t.Errorf("Operation(DELETE orders) = %+v, %v", op, ok)
	}
	if op, ok := inv.Operation(refOf("GET", "/v1/products")); !ok || op.AuthRequired {
		t.Errorf("Operation(GET products) = %+v, %v (security: [] makes it public)", op, ok)
	}
	if _, ok := inv.Operation(refOf("GET", "/v1/internal/debug")); ok {
		t.Error("undeclared operation found")
	}
	// Declared parameters of an unused operation are listed.
	for _, ep := range eps {
		if ep.Method == "POST" && ep.Path == "/v1/orders" {
			if len(ep.Parameters) != 2 || ep.Parameters[0].Name != "quantity" || ep.Parameters[1].Name != "sku" || !ep.Parameters[1].Required {
				t.Errorf("declared params %+v", ep.Parameters)
			}
		}
	}
}

func TestAddSpecHosts(t *testing.T) {
	s, err := LoadSpec("testdata/noservers.yaml")
	if err != nil {
		t.Fatal(err)
	}
	inv := New(DefaultConfig())
	if err := inv.AddSpec(s); err == nil || !strings.Contains(err.Error(), "noservers.yaml") {
		t.Errorf("spec without host accepted: %v", err)
	}
	s, err = LoadSpec("testdata/noservers.yaml,host=svc.internal")
	if err != nil || !cmp.Equal(s.Hosts, []string{"svc.internal"}) {
		t.Fatalf("host option: %v %v", s.Hosts, err)
	}
	if _, err := LoadSpec("testdata/noservers.yaml,host="); err == nil {
		t.Error("empty host option accepted")
	}
	if err := inv.AddSpec(s); err != nil {
		t.Fatal(err)
	}
	if _, ok := inv.Operation(model.EndpointRef{Host: "svc.internal", Method: "GET", Path: "/ping"}); !ok {
		t.Error("declared op not found for the given host")
	}
}

func TestSwaggerTraffic(t *testing.T) {
	s, err := LoadSpec("testdata/petstore2.yaml")
	if err != nil {
		t.Fatal(err)
	}
	inv := New(DefaultConfig())
	if err := inv.AddSpec(s); err != nil {
		t.Fatal(err)
	}
	f := newFeeder(t, inv)
	if got := f.get("https://pets.example.test/v2/pet/findByStatus?status=sold"); got != "/v2/pet/findByStatus" {
		t.Errorf("static beside {petId}: %q", got)
	}
	if got := f.get("https://pets.example.test/v2/pet/42"); got != "/v2/pet/{petId}" {
		t.Errorf("declared param: %q", got)
	}
}

// All real-world specs of the development set load without crashing.
func TestAPIsGuruSpecs(t *testing.T) {
	dir := testutil.EvalDir(t, "openapi", "apis-guru-dev", "specs")
	files, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if testing.Short() && len(files) > 30 {
		files = files[:30]
	}
	loaded, ops := 0, 0
	inv := New(DefaultConfig())
	for _, f := range files {
		if f.IsDir() {
			continue
		}
		s, err := LoadSpec(filepath.Join(dir, f.Name()))
		if err != nil {
			t.Errorf("%v", err)
			continue
		}
		loaded++
		ops += len(s.Ops)
		if len(s.Hosts) == 0 {
			s.Hosts = []string{"spec-" + f.Name()}
		}
		if err := inv.AddSpec(s); err != nil {
			t.Errorf("AddSpec %s: %v", f.Name(), err)
		}
	}
	t.Logf("loaded %d of %d specs, %d operations, %d inventory nodes", loaded, len(files), ops, inv.Stats().Nodes)
	if loaded < len(files) {
		t.Errorf("only %d of %d specs loaded", loaded, len(files))
	}
}
