package server

import (
	"context"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// The served OpenAPI document is valid and describes exactly the routes the
// server has.
func TestOpenAPIDocument(t *testing.T) {
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(OpenAPIDocument())
	if err != nil {
		t.Fatal(err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("invalid OpenAPI document: %v", err)
	}
	env := newEnv(t, nil, nil)
	described := map[string]bool{}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			described[method+" "+path] = true
			if op.OperationID == "" || op.Summary == "" {
				t.Errorf("%s %s: operationId and summary required", method, path)
			}
			if path != "/healthz" && op.Responses.Value("401") == nil {
				t.Errorf("%s %s: 401 not documented", method, path)
			}
		}
	}
	served := map[string]bool{}
	for _, rt := range env.srv.Routes() {
		k := rt.Method + " " + rt.Pattern
		served[k] = true
		if !described[k] {
			t.Errorf("route %s is not in openapi.json", k)
		}
	}
	for k := range described {
		if !served[k] {
			t.Errorf("openapi.json describes %s, which the server does not serve", k)
		}
	}
	resp, body := env.do(t, "GET", "/api/v1/openapi.json", "viewer", nil)
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") || len(body) != len(OpenAPIDocument()) {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}
