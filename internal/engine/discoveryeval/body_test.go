package discoveryeval

import (
	"encoding/json"
	"fmt"
	"net/mail"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/inventory"
)

var formatsOnce sync.Once

// validationOpts: response validation, formats too (uuid and email are
// not checked by kin-openapi unless defined).
func validationOpts() []openapi3.SchemaValidationOption {
	formatsOnce.Do(func() {
		openapi3.DefineStringFormatValidator("uuid", openapi3.NewRegexpFormatValidator(openapi3.FormatOfStringForUUIDOfRFC9562))
		openapi3.DefineStringFormatValidator("email", openapi3.NewCallbackValidator(func(s string) error {
			a, err := mail.ParseAddress(s)
			if err == nil && a.Address != s {
				err = fmt.Errorf("%q is not a bare address", s)
			}
			return err
		}))
		openapi3.DefineStringFormatValidator("uri", openapi3.NewRegexpFormatValidator(`^https://[a-z.]+/[a-z]+/[0-9]+$`))
	})
	return []openapi3.SchemaValidationOption{openapi3.VisitAsResponse(), openapi3.EnableFormatValidation(), openapi3.MultiErrors()}
}

func loadBodies(t *testing.T) *inventory.Spec {
	t.Helper()
	spec, err := inventory.LoadSpec(filepath.Join("testdata", "bodies", "bodies.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if spec.Doc == nil {
		t.Fatalf("spec loaded leniently: %v", spec.Warnings)
	}
	return spec
}

// opSchema is the schema a generated body must validate against.
func opSchema(t *testing.T, spec *inventory.Spec, method, path, code, ctype string) *openapi3.Schema {
	t.Helper()
	rr := spec.Doc.Paths.Value(path).GetOperation(method).Responses.Value(code)
	return rr.Value.Content[ctype].Schema.Value
}

// depthOf: nesting of objects and arrays (a scalar is 0).
func depthOf(v any) int {
	d := 0
	switch x := v.(type) {
	case map[string]any:
		for _, c := range x {
			d = max(d, depthOf(c))
		}
		return d + 1
	case []any:
		for _, c := range x {
			d = max(d, depthOf(c))
		}
		return d + 1
	}
	return 0
}

// TestBodies: the 200s of every operation with a JSON success schema
// carry a body that validates against it (allOf, oneOf, anyOf, arrays,
// nested $refs, a recursive schema, 201, 2XX, default with */*); an
// operation without JSON content answers 204 or 200 without a body as
// the spec says; 404s carry the shared error body. Optional properties
// vary between instances of one operation, and oneOf picks each branch.
func TestBodies(t *testing.T) {
	spec := loadBodies(t)
	recs, truths, ex := Generate(spec, "bodies.yaml", Config{Requests: 60, Values: 20, Seed: 5})
	type want struct {
		status      int
		code        string // of the response whose schema the body follows; "" when no body
		schemaCType string // its media type
		recordCType string // the record's content-type
	}
	const js = "application/json"
	wants := map[string]want{
		"GET /pets":               {200, "200", js, js},
		"POST /pets":              {200, "201", js + "; charset=utf-8", js + "; charset=utf-8"},
		"GET /pets/{petId}":       {200, "200", js, js},
		"DELETE /pets/{petId}":    {204, "", "", ""},
		"GET /dogs/{dogId}":       {200, "200", js, js},
		"GET /animals/{animalId}": {200, "200", js, js},
		"GET /nodes/{nodeId}":     {200, "200", "application/hal+json", "application/hal+json"},
		"GET /owners/{ownerId}":   {200, "default", "*/*", js},
		"GET /stats":              {200, "2XX", js, js},
		"GET /health":             {204, "", "", ""},
		"GET /report.csv":         {200, "", "", ""},
	}
	opts := validationOpts()
	keys := map[string]map[string]bool{} // operation → distinct key sets of its objects
	kinds := map[string]bool{}
	anyOf := map[string]bool{}
	var nodeDepth, n404 int
	for i, r := range recs {
		tr := truths[i]
		op := tr.Method + " " + tr.Path
		w, ok := wants[op]
		if !ok {
			t.Fatalf("unexpected operation %s", op)
		}
		if err := r.Validate(); err != nil {
			t.Errorf("%s: %v", op, err)
		}
		resp := r.Response
		if resp.Status == 404 {
			n404++
			if resp.Body != notFoundBody || resp.Headers["content-type"] != "application/json" {
				t.Errorf("%s 404: %q %v", op, resp.Body, resp.Headers)
			}
			continue
		}
		if resp.Status != w.status {
			t.Errorf("%s: status %d, want %d", op, resp.Status, w.status)
		}
		if w.code == "" {
			if resp.Body != "" || resp.Headers["content-type"] != "" {
				t.Errorf("%s: body %q, headers %v; want none", op, resp.Body, resp.Headers)
			}
			continue
		}
		if ct := resp.Headers["content-type"]; ct != w.recordCType {
			t.Errorf("%s: content-type %q, want %q", op, ct, w.recordCType)
		}
		if len(resp.Body) > MaxBody {
			t.Errorf("%s: body of %d bytes", op, len(resp.Body))
		}
		var v any
		if err := json.Unmarshal([]byte(resp.Body), &v); err != nil {
			t.Fatalf("%s: body does not decode: %v\n%s", op, err, resp.Body)
		}
		if err := opSchema(t, spec, tr.Method, tr.Path, w.code, w.schemaCType).VisitJSON(v, opts...); err != nil {
			t.Errorf("%s: body does not validate: %v\n%s", op, err, resp.Body)
		}
		if m, ok := v.(map[string]any); ok {
			ks := make([]string, 0, len(m))
			for k := range m {
				ks = append(ks, k)
			}
			if keys[op] == nil {
				keys[op] = map[string]bool{}
			}
			sort.Strings(ks)
			keys[op][strings.Join(ks, ",")] = true
			if _, ok := m["secret"]; ok {
				t.Errorf("%s: a writeOnly property in a response: %s", op, resp.Body)
			}
			switch op {
			case "GET /animals/{animalId}":
				kinds[fmt.Sprint(m["kind"])] = true
			case "GET /stats":
				anyOf[fmt.Sprintf("%T", m["value"])] = true
			case "GET /dogs/{dogId}":
				if _, ok := m["bark"]; !ok || m["id"] == nil || m["name"] == nil {
					t.Errorf("dog without the required members of both allOf parts: %s", resp.Body)
				}
			case "GET /nodes/{nodeId}":
				nodeDepth = max(nodeDepth, depthOf(v))
			}
		}
	}
	if n404 == 0 {
		t.Error("no 404")
	}
	for _, op := range []string{"GET /pets/{petId}", "GET /dogs/{dogId}", "POST /pets"} {
		if len(keys[op]) < 3 {
			t.Errorf("%s: %d distinct property sets over 60 requests: optional properties do not vary", op, len(keys[op]))
		}
	}
	if !kinds["cat"] || !kinds["bird"] || len(kinds) != 2 {
		t.Errorf("oneOf branches picked: %v", kinds)
	}
	if !anyOf["string"] || !anyOf["float64"] {
		t.Errorf("anyOf branches picked: %v", anyOf)
	}
	if nodeDepth < 2 || nodeDepth > maxBodyDepth+1 {
		t.Errorf("recursive node: depth %d", nodeDepth)
	}
	wantBodies := map[string]int{BodyJSON: 8, Body204: 2, BodyNone: 1}
	if !reflect.DeepEqual(ex.Bodies, wantBodies) {
		t.Errorf("bodies %v, want %v", ex.Bodies, wantBodies)
	}
}

// TestBodiesDeterministic: the same seed gives the same bodies, another
// seed others; the bodies do not change the rest of the traffic (URLs,
// times, clients, statuses but the 204s are those of --bodies ok); with
// --bodies ok every response is {"ok":true}.
func TestBodiesDeterministic(t *testing.T) {
	gen := func(cfg Config) []*exchange.Record {
		recs, _, _ := Generate(loadBodies(t), "x/bodies.yaml", cfg)
		return recs
	}
	enc := func(recs []*exchange.Record) string {
		b, err := json.Marshal(recs)
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	cfg := Config{Requests: 20, Seed: 9}
	a, b := gen(cfg), gen(cfg)
	if enc(a) != enc(b) {
		t.Error("the same seed gave different bodies")
	}
	other := cfg
	other.Seed++
	if enc(a) == enc(gen(other)) {
		t.Error("another seed gave the same records")
	}
	ok := cfg
	ok.Bodies = BodiesOK
	o := gen(ok)
	if len(o) != len(a) {
		t.Fatalf("%d records with ok bodies, %d with spec bodies", len(o), len(a))
	}
	for i := range a {
		x, y := a[i], o[i]
		if x.Request.URL != y.Request.URL || !x.Time.Equal(y.Time) || x.Client != y.Client || x.DurationMs != y.DurationMs {
			t.Fatalf("record %d differs beyond its response: %+v / %+v", i, x.Request, y.Request)
		}
		if x.Response.Status != y.Response.Status && !(x.Response.Status == 204 && y.Response.Status == 200) {
			t.Errorf("record %d: status %d with spec bodies, %d with ok", i, x.Response.Status, y.Response.Status)
		}
		if y.Response.Body != okBody || y.Response.Headers["content-type"] != "application/json" {
			t.Errorf("ok body: %+v", y.Response)
		}
	}
}

// bigSpec: a page of wide objects (far over 16 KiB if generated in
// full), an object with 60 optional properties, and one whose required
// members alone exceed 16 KiB.
func bigSpec() string {
	var wide, many, huge []string
	var req []string
	for i := range 30 {
		wide = append(wide, fmt.Sprintf(`"f%02d": {"type": "string", "minLength": 200}`, i))
	}
	for i := range 60 {
		many = append(many, fmt.Sprintf(`"p%02d": {"type": "integer"}`, i))
	}
	for i := range 50 {
		huge = append(huge, fmt.Sprintf(`"h%02d": {"type": "string", "minLength": 500}`, i))
		req = append(req, fmt.Sprintf(`"h%02d"`, i))
	}
	return `{
  "openapi": "3.0.3",
  "info": {"title": "big", "version": "1"},
  "paths": {
    "/page": {"get": {"responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {
      "type": "object", "required": ["items"], "properties": {
        "total": {"type": "integer"},
        "items": {"type": "array", "minItems": 3, "items": {"type": "object", "properties": {
          "tags": {"type": "array", "items": {"type": "object", "properties": {` + strings.Join(wide, ",") + `}}},
          ` + strings.Join(wide, ",") + `}}}}}}}}}}},
    "/many": {"get": {"responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {
      "type": "object", "required": ["p59"], "properties": {` + strings.Join(many, ",") + `}}}}}}}},
    "/huge": {"get": {"responses": {"200": {"description": "ok", "content": {"application/json": {"schema": {
      "type": "object", "required": [` + strings.Join(req, ",") + `], "properties": {` + strings.Join(huge, ",") + `}}}}}}}}
  }
}`
}

// TestBodyBound: bodies stay within 16 KiB and still validate; an object
// has at most 40 properties, its required ones among them; a body whose
// required members alone exceed the bound is left out and counted.
func TestBodyBound(t *testing.T) {
	spec, err := inventory.ParseSpec("big.json", []byte(bigSpec()))
	if err != nil {
		t.Fatal(err)
	}
	if spec.Doc == nil {
		t.Fatalf("loaded leniently: %v", spec.Warnings)
	}
	recs, truths, ex := Generate(spec, "big.json", Config{Requests: 15, Seed: 2})
	opts := validationOpts()
	var full int
	for i, r := range recs {
		tr := truths[i]
		if r.Response.Status != 200 {
			continue
		}
		switch tr.Path {
		case "/huge":
			if r.Response.Body != "" || r.Response.Headers["content-type"] != "" {
				t.Errorf("/huge: a body of %d bytes", len(r.Response.Body))
			}
			continue
		case "/page":
			if len(r.Response.Body) > MaxBody-2048 {
				full++
			}
		}
		if len(r.Response.Body) > MaxBody {
			t.Errorf("%s: %d bytes", tr.Path, len(r.Response.Body))
		}
		var v any
		if err := json.Unmarshal([]byte(r.Response.Body), &v); err != nil {
			t.Fatalf("%s: %v", tr.Path, err)
		}
		if err := opSchema(t, spec, "GET", tr.Path, "200", "application/json").VisitJSON(v, opts...); err != nil {
			t.Errorf("%s: %v", tr.Path, err)
		}
		if tr.Path == "/many" {
			m := v.(map[string]any)
			if len(m) > maxProperties || m["p59"] == nil {
				t.Errorf("/many: %d properties, p59 %v", len(m), m["p59"])
			}
		}
	}
	if full == 0 {
		t.Error("/page: no body near the bound (the test does not test it)")
	}
	if ex.Bodies[BodyTooBig] != 1 || ex.Bodies[BodyJSON] != 3 {
		t.Errorf("bodies %v", ex.Bodies)
	}
}

// TestResponsePlan: which response a plan picks, and the 204 rule.
func TestResponsePlan(t *testing.T) {
	const src = `{
  "openapi": "3.0.3",
  "info": {"title": "plan", "version": "1"},
  "paths": {
    "/a": {"get": {"responses": {"202": {"description": "x", "content": {"application/json": {"schema": {"type": "string"}}}}}}},
    "/b": {"get": {"responses": {"204": {"description": "x"}, "default": {"description": "x", "content": {"application/xml": {"schema": {"type": "string"}}}}}}},
    "/c": {"get": {"responses": {"200": {"description": "x", "content": {"application/json": {}}}}}},
    "/d": {"get": {"responses": {"400": {"description": "x", "content": {"application/json": {"schema": {"type": "string"}}}}}}},
    "/e": {"get": {"responses": {"201": {"description": "x", "content": {"application/vnd.api+json": {"schema": {"type": "integer"}}}}, "default": {"description": "x", "content": {"application/json": {"schema": {"type": "string"}}}}}}}
  }
}`
	spec, err := inventory.ParseSpec("plan.json", []byte(src))
	if err != nil || spec.Doc == nil {
		t.Fatal(err, spec.Warnings)
	}
	for path, want := range map[string]respPlan{
		"/a": {status: 200, kind: BodyNone},                                    // 202 is not a success response of the list
		"/b": {status: 204, kind: Body204},                                     // the lowest success code is 204
		"/c": {status: 200, kind: BodyNone},                                    // JSON without a schema
		"/d": {status: 204, kind: Body204},                                     // no success response declares content
		"/e": {status: 200, kind: BodyJSON, ctype: "application/vnd.api+json"}, // 201 before default
	} {
		got := responsePlan(spec, path, "GET")
		got.schema = nil
		if got != want {
			t.Errorf("%s: %+v, want %+v", path, got, want)
		}
	}
	if p := responsePlan(&inventory.Spec{}, "/a", "GET"); p.kind != BodyLenient || p.status != 200 {
		t.Errorf("lenient: %+v", p)
	}
}
