package graphql

import (
	"fmt"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/event"
)

func TestRequest(t *testing.T) {
	for _, c := range []struct {
		name, body, query string
		want              string // fmt of the summary, "<nil>" for none
	}{
		{"one query", `{"query":"query U($id: ID!) { user(id: $id) { id name friends { name } } }","variables":{"id":"1"}}`, "",
			"docs 1 ops [{query user}] depth 3 aliases 0 fields 5"},
		{"anonymous selection set", `{"query":"{ products { sku } }"}`, "", "docs 1 ops [{query products}] depth 2 aliases 0 fields 2"},
		{"mutation", `{"query":"mutation { login(user: \"a\", password: \"b\") { token } }"}`, "", "docs 1 ops [{mutation login}] depth 2 aliases 0 fields 2"},
		{"batch of three", `[{"query":"{ a }"},{"query":"{ b }"},{"query":"mutation { c }"}]`, "", "docs 3 ops [{query a} {query b} {mutation c}] depth 1 aliases 0 fields 3"},
		{"aliases", `{"query":"{ a1: user(id: 1) { id } a2: user(id: 2) { id } user(id: 3) { id } }"}`, "", "docs 1 ops [{query user}] depth 2 aliases 2 fields 6"},
		{"fragments followed for depth", `{"query":"query { me { ...F } } fragment F on User { friends { friends { name } } }"}`, "", "docs 1 ops [{query me}] depth 4 aliases 0 fields 4"},
		{"root fragment spread", `{"query":"query { ...Root } fragment Root on Query { stats { n } }"}`, "", "docs 1 ops [{query stats}] depth 2 aliases 0 fields 2"},
		{"introspection", `{"query":"{ __schema { types { name } } __typename }"}`, "", "docs 1 ops [{query __schema}] depth 3 aliases 0 fields 4"},
		{"GET query parameter", "", "{ orders(first: 5) { id } }", "docs 1 ops [{query orders}] depth 2 aliases 0 fields 2"},
		{"not a document", `{"query":"' OR 1=1 --"}`, "", "<nil>"},
		{"JSON without query", `{"name":"query"}`, "", "<nil>"},
		{"syntax error", `{"query":"{ user( }"}`, "", "<nil>"},
		{"subscription", `{"query":"subscription { priceChanged { sku } }"}`, "", "docs 1 ops [{subscription priceChanged}] depth 2 aliases 0 fields 2"},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := show(Request(c.body, c.query)); got != c.want {
				t.Errorf("Request = %s\nwant      %s", got, c.want)
			}
		})
	}
}

func show(g *event.GraphQL) string {
	if g == nil {
		return "<nil>"
	}
	return fmt.Sprintf("docs %d ops %v depth %d aliases %d fields %d", g.Documents, g.Ops, g.Depth, g.Aliases, g.Fields)
}

// TestBounds: a fragment cycle (invalid, rejected by servers, sent by
// attackers) and a very deep or very wide document stay bounded.
func TestBounds(t *testing.T) {
	cyc := `{"query":"query { ...A } fragment A on Q { a { ...B } } fragment B on Q { b { ...A } }"}`
	if g := Request(cyc, ""); g == nil || g.Depth > maxDepth+2 {
		t.Errorf("fragment cycle: %s", show(g))
	}
	deep := `{"query":"` + strings.Repeat("{ a ", 300) + strings.Repeat("}", 300) + `"}`
	if g := Request(deep, ""); g == nil || g.Depth != maxDepth {
		t.Errorf("deep: %s, want depth %d (the walk's bound)", show(g), maxDepth)
	}
	var b strings.Builder
	b.WriteString(`{"query":"{ `)
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&b, "f%d ", i)
	}
	b.WriteString(`}"}`)
	if g := Request(b.String(), ""); g == nil || len(g.Ops) != event.MaxGraphQLOps || g.Fields != 200 {
		t.Errorf("wide: %d ops, %d fields", len(g.Ops), g.Fields)
	}
	// Fragments spreading the next one twice: 2^30 fields if expanded,
	// sent 50 times in a batch; the walk stops at one budget per request.
	var bomb strings.Builder
	bomb.WriteString("query { ...F0 } ")
	for i := 0; i < 30; i++ {
		fmt.Fprintf(&bomb, "fragment F%d on Q { a%d: x { ...F%d } b%d: x { ...F%d } } ", i, i, i+1, i, i+1)
	}
	bomb.WriteString("fragment F30 on Q { leaf }")
	docs := make([]string, 50)
	for i := range docs {
		docs[i] = fmt.Sprintf(`{"query":%q}`, bomb.String())
	}
	if g := Request("["+strings.Join(docs, ",")+"]", ""); g == nil || g.Documents != 50 || g.Fields > maxSteps {
		t.Errorf("fragment bomb: %s, want 50 documents and at most %d fields visited", show(g), maxSteps)
	}
	var batch strings.Builder
	batch.WriteString("[")
	for i := 0; i < MaxDocs+50; i++ {
		if i > 0 {
			batch.WriteString(",")
		}
		batch.WriteString(`{"query":"{ a }"}`)
	}
	batch.WriteString("]")
	if g := Request(batch.String(), ""); g == nil || g.Documents != MaxDocs {
		t.Errorf("batch: %s, want %d documents", show(g), MaxDocs)
	}
}

func FuzzRequest(f *testing.F) {
	for _, s := range []string{`{"query":"{ a { b } }"}`, `[{"query":"mutation { x }"},{"query":"{ y }"}]`, `{"query":"query { ...A } fragment A on Q { a { ...A } }"}`, `{"query":"{ a1: a a2: a }"}`, "{ a }"} {
		f.Add(s, "")
		f.Add("", s)
	}
	f.Fuzz(func(t *testing.T, body, query string) {
		g := Request(body, query)
		if g == nil {
			return
		}
		if g.Documents < 1 || len(g.Ops) > event.MaxGraphQLOps || g.Depth > maxDepth || g.Aliases > g.Fields {
			t.Fatalf("summary out of bounds: %s", show(g))
		}
	})
}
