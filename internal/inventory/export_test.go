package inventory

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/testutil"
)

func exportFixture(t *testing.T) *Inventory {
	inv := New(DefaultConfig())
	f := newFeeder(t, inv)
	for i := 0; i < 12; i++ {
		f.send(req{method: "GET", url: fmt.Sprintf("https://%s/v2/users/%d?fields=name&verbose=true", h, 1000+i),
			headers:  map[string]string{"authorization": "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ1MSJ9.c2ln"},
			respBody: fmt.Sprintf(`{"id":%d,"name":"n%d","email":"u%d@example.test","tags":["a"]}`, 1000+i, i, i)})
		f.send(req{method: "POST", url: fmt.Sprintf("https://%s/v2/users/%d/orders", h, 1000+i), status: 201,
			headers: map[string]string{"x-api-key": "k-123", "content-type": "application/json", "x-tenant": "t1"},
			body:    fmt.Sprintf(`{"sku":"SKU-%04d","quantity":%d}`, i, i), respBody: `{"orderId":"3fa85f64-5717-4562-b3fc-2c963f66afa6"}`})
	}
	f.send(req{method: "GET", url: "https://" + h + "/v2/users/999999", status: 404})
	f.send(req{method: "GET", url: "https://" + h + "/v2/status"})
	f.send(req{method: "GET", url: "https://" + h + "/wp-login.php", status: 404})
	f.send(req{method: "GET", url: "https://other.test/x"})
	return inv
}

func TestExportOpenAPIGolden(t *testing.T) {
	inv := exportFixture(t)
	doc, err := ExportOpenAPI(h, inv.Endpoints(t0), "Example API")
	if err != nil {
		t.Fatal(err)
	}
	if err := ValidateDocument(doc); err != nil {
		t.Fatalf("exported document does not validate: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(doc, &m); err != nil || m["openapi"] != "3.1.0" {
		t.Fatalf("not an OpenAPI 3.1 JSON document: %v %v", err, m["openapi"])
	}
	for _, leak := range []string{"k-123", "eyJhbGci", "u1@example.test", "wp-login", "other.test"} {
		if bytes.Contains(doc, []byte(leak)) {
			t.Errorf("export contains %q", leak)
		}
	}
	testutil.Golden(t, "testdata/export.golden.json", doc)
}

func TestExportErrors(t *testing.T) {
	inv := exportFixture(t)
	if _, err := ExportOpenAPI("nobody.test", inv.Endpoints(t0), ""); err == nil || !strings.Contains(err.Error(), "nobody.test") {
		t.Errorf("export of unknown host: %v", err)
	}
	if err := ValidateDocument([]byte(`{"openapi":"3.1.0","info":{"title":"t"},"paths":{}}`)); err == nil {
		t.Error("document without info.version validated")
	}
	bad := `{"openapi":"3.1.0","info":{"title":"t","version":"1"},"paths":{"/a":{"get":{"responses":{"200":{"description":"d",
	"content":{"application/json":{"schema":{"type":["string","bogus"]}}}}}}}}}`
	if err := ValidateDocument([]byte(bad)); err == nil {
		t.Error("schema with an unknown type validated")
	}
	good := strings.Replace(bad, `"bogus"`, `"null"`, 1)
	if err := ValidateDocument([]byte(good)); err != nil {
		t.Errorf("3.1 type array rejected: %v", err)
	}
}

// TestExportGraphQL: a GraphQL endpoint stays one operation in the export
// (its documents are not paths), which lists what it served in
// x-palisade-graphql-operations; other operations carry no such member.
func TestExportGraphQL(t *testing.T) {
	inv := New(DefaultConfig())
	f := newFeeder(t, inv)
	for _, q := range []string{`{"query":"{ user(id: 1) { name } }"}`, `{"query":"mutation { login(u: \"a\") { token } }"}`, `[{"query":"{ orders { id } }"},{"query":"{ user(id: 2) { name } }"}]`} {
		f.send(gqlPost(q, 200, gqlData))
	}
	f.send(req{method: "GET", url: "https://" + h + "/v2/status"})
	doc, err := ExportOpenAPI(h, inv.Endpoints(t0), "")
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Paths map[string]map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(doc, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Paths) != 2 || len(m.Paths["/graphql"]) != 1 || m.Paths["/graphql"]["post"] == nil {
		t.Fatalf("paths %v: want /graphql with one POST operation and /v2/status", m.Paths)
	}
	got, _ := json.Marshal(m.Paths["/graphql"]["post"]["x-palisade-graphql-operations"])
	if want := `["mutation login","query orders","query user"]`; string(got) != want {
		t.Errorf("x-palisade-graphql-operations = %s, want %s", got, want)
	}
	if _, ok := m.Paths["/v2/status"]["get"]["x-palisade-graphql-operations"]; ok {
		t.Error("a REST operation carries x-palisade-graphql-operations")
	}
}
