package specfile

import (
	"errors"
	"slices"
	"testing"
)

// TestLoadOpenAPI: both forms of both versions load to the same
// operations; null Swagger path items are dropped and named; each failing
// step is named.
func TestLoadOpenAPI(t *testing.T) {
	const v3yaml = "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths:\n  /users/{id}:\n    get:\n      parameters:\n        - {name: id, in: path, required: true, schema: {type: string}}\n      responses: {'200': {description: ok}}\n"
	const v3json = `{"openapi":"3.0.3","info":{"title":"t","version":"1"},"paths":{"/users/{id}":{"get":{"parameters":[{"name":"id","in":"path","required":true,"schema":{"type":"string"}}],"responses":{"200":{"description":"ok"}}}}}}`
	const v2yaml = "swagger: '2.0'\ninfo: {title: t, version: '1'}\npaths:\n  /users/{id}:\n    get:\n      parameters:\n        - {name: id, in: path, required: true, type: string}\n      responses: {'200': {description: ok}}\n  /gone: null\n"
	const v2json = `{"swagger":"2.0","info":{"title":"t","version":"1"},"paths":{"/users/{id}":{"get":{"parameters":[{"name":"id","in":"path","required":true,"type":"string"}],"responses":{"200":{"description":"ok"}}}},"/gone":null}}`
	for _, c := range []struct {
		name    string
		data    string
		swagger bool
		notes   []string
	}{
		{"3 yaml", v3yaml, false, nil},
		{"3 json", v3json, false, nil},
		{"2 yaml", v2yaml, true, []string{`path "/gone" has no operations (null)`}},
		{"2 json", v2json, true, []string{`path "/gone" has no operations (null)`}},
	} {
		doc, notes, err := LoadOpenAPI([]byte(c.data), c.swagger)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if !slices.Equal(notes, c.notes) {
			t.Errorf("%s: notes %q, want %q", c.name, notes, c.notes)
		}
		if doc.Paths.Len() != 1 || doc.Paths.Find("/users/{id}") == nil || doc.Paths.Find("/users/{id}").Get == nil {
			t.Errorf("%s: paths %v", c.name, doc.Paths.InMatchingOrder())
		}
	}
	for _, c := range []struct {
		name, data string
		swagger    bool
		step       string
	}{
		{"yaml syntax", "swagger: '2.0'\npaths: [\n", true, "yaml"},
		{"not swagger", `{"swagger":"2.0","paths":[1,2]}`, true, "swagger"},
		{"3 loader", `{"openapi":"3.0.3","paths":{"/x":{"get":{"responses":{"200":{"description":5}}}}}}`, false, "load"},
		{"external ref", `{"openapi":"3.0.3","info":{"title":"t","version":"1"},"paths":{"/x":{"$ref":"http://example.com/x.json"}}}`, false, "load"},
	} {
		_, _, err := LoadOpenAPI([]byte(c.data), c.swagger)
		var oe *OpenAPIError
		if !errors.As(err, &oe) || oe.Step != c.step {
			t.Errorf("%s: error %v, want step %q", c.name, err, c.step)
		}
	}
}
