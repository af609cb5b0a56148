package enrich

import (
	"encoding/base64"
	"fmt"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/exchange"
)

// TestGraphQLSummary: enrichment reads a request's GraphQL documents once
// (ev.GraphQL) — by POST as JSON (one or a batch), as
// application/graphql, in a GET's query parameter, recorded as bytes —
// and leaves other requests alone.
func TestGraphQLSummary(t *testing.T) {
	e := New(DefaultConfig(), nil, nil)
	b64 := base64.StdEncoding.EncodeToString([]byte(`{"query":"{ me { id } }"}`))
	for _, c := range []struct {
		name, method, url, ct, body, enc string
		want                             string // ops and documents, or "<nil>"
	}{
		{"json", "POST", "/graphql", "application/json", `{"query":"query { user(id: 1) { name } }"}`, "", "[{query user}] 1"},
		{"batch", "POST", "/graphql", "application/json", `[{"query":"{ a }"},{"query":"mutation { b }"}]`, "", "[{query a} {mutation b}] 2"},
		{"application/graphql", "POST", "/graphql", "application/graphql", "mutation { login(u: \"a\", p: \"b\") { token } }", "", "[{mutation login}] 1"},
		{"GET", "GET", "/graphql?query=%7B%20orders%20%7B%20id%20%7D%20%7D", "", "", "", "[{query orders}] 1"},
		{"base64 JSON", "POST", "/graphql", "application/json", b64, "base64", "[{query me}] 1"},
		{"a search called query", "GET", "/search?query=red+shoes", "", "", "", "<nil>"},
		{"JSON with a query member that is no document", "POST", "/search", "application/json", `{"query":"red shoes"}`, "", "<nil>"},
		{"bytes of another type", "POST", "/upload", "image/png", b64, "base64", "<nil>"},
		{"plain JSON", "POST", "/orders", "application/json", `{"sku":"a"}`, "", "<nil>"},
	} {
		t.Run(c.name, func(t *testing.T) {
			rec := &exchange.Record{Time: time.Unix(1e9, 0), Client: exchange.Client{IP: "198.51.100.4"},
				Request:  exchange.Request{Method: c.method, URL: "https://api.example.test" + c.url, Headers: map[string]string{}, Body: c.body, BodyEncoding: c.enc},
				Response: exchange.Response{Status: 200}}
			if c.ct != "" {
				rec.Request.Headers["content-type"] = c.ct
			}
			if err := rec.Validate(); err != nil {
				t.Fatal(err)
			}
			ev, err := e.Enrich(rec, 0)
			if err != nil {
				t.Fatal(err)
			}
			got := "<nil>"
			if g := ev.GraphQL; g != nil {
				got = fmt.Sprintf("%v %d", g.Ops, g.Documents)
			}
			if got != c.want {
				t.Errorf("GraphQL = %s, want %s", got, c.want)
			}
		})
	}
}
