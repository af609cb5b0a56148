package inventory

import (
	"reflect"
	"testing"

	"github.com/palisade-sec/palisade/internal/model"
)

func TestSpecFields(t *testing.T) {
	spec := []byte(`openapi: 3.0.3
info: {title: t, version: "1"}
servers: [{url: "https://api.example.test"}]
components:
  schemas:
    Node:
      type: object
      properties:
        name: {type: string}
        children: {type: array, items: {$ref: "#/components/schemas/Node"}}
paths:
  /users/{id}:
    get:
      parameters: [{name: id, in: path, required: true, schema: {type: integer}}]
      responses:
        "200":
          description: ok
          content:
            application/json:
              schema:
                type: object
                properties:
                  email: {type: string}
                  orders: {type: array, items: {type: object, properties: {total: {type: number}}}}
                  meta: {type: object, additionalProperties: true}
        "404": {description: missing}
  /tree:
    get:
      responses:
        "200": {description: ok, content: {application/json: {schema: {$ref: "#/components/schemas/Node"}}}}
  /plain:
    get:
      responses: {"204": {description: none}}
`)
	s, err := ParseSpec("t.yaml", spec)
	if err != nil {
		t.Fatal(err)
	}
	inv := New(DefaultConfig())
	if err := inv.AddSpec(s); err != nil {
		t.Fatal(err)
	}
	got, ok := inv.SpecFields(model.EndpointRef{Host: "api.example.test", Method: "GET", Path: "/users/{id}"})
	want := []string{"$.email", "$.meta", "$.meta.*", "$.orders", "$.orders[*].total"}
	if !ok || !reflect.DeepEqual(got, want) {
		t.Errorf("users fields = %v %v, want %v", got, ok, want)
	}
	got, ok = inv.SpecFields(model.EndpointRef{Host: "api.example.test", Method: "GET", Path: "/tree"})
	if !ok || !contains(got, "$.name") || !contains(got, "$.children[*].*") {
		t.Errorf("recursive schema fields = %v", got)
	}
	if _, ok := inv.SpecFields(model.EndpointRef{Host: "api.example.test", Method: "GET", Path: "/plain"}); ok {
		t.Errorf("operation without a JSON response schema must not report fields")
	}
	if _, ok := inv.SpecFields(model.EndpointRef{Host: "other.test", Method: "GET", Path: "/users/{id}"}); ok {
		t.Errorf("undeclared host reported fields")
	}
}
