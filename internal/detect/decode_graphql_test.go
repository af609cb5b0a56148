package detect

import (
	"encoding/json"
	"fmt"
	"net/url"
	"testing"

	"github.com/palisade-sec/palisade/internal/event"
)

func gqlEvent(t *testing.T, get bool, doc string) *event.Event {
	t.Helper()
	if get {
		return sigEvent(t, "GET", "https://api.example.test/graphql?query="+url.QueryEscape(doc), nil, "", 200)
	}
	b, _ := json.Marshal(map[string]any{"query": doc, "variables": map[string]any{"id": "42"}})
	return sigEvent(t, "POST", "https://api.example.test/graphql", map[string]string{"content-type": "application/json"}, string(b), 200)
}

// TestGraphQLDocuments: a GraphQL document is judged by its string
// literals, located by field and argument; its syntax is not a payload.
func TestGraphQLDocuments(t *testing.T) {
	d := NewInjection(Config{})
	benign := []string{
		`query { user(id: "42") { id name email orders(first: 10, orderBy: {field: CREATED_AT, direction: DESC}) { edges { node { id total } } } } }`,
		`query GetProduct($id: ID!) { product(id: $id) { id title price { amount currency } reviews(last: 5) { rating body } } }`,
		`{ search(query: "red shoes", filter: {priceLt: 50, sizes: [38, 39]}) { ... on Product { id name } ... on Category { id title } } }`,
		`query IntrospectionQuery { __schema { queryType { name } types { ...FullType } } } fragment FullType on __Type { kind name fields(includeDeprecated: true) { name args { ...InputValue } } } fragment InputValue on __InputValue { name type { name } defaultValue }`,
		`query Feed($cursor: String, $n: Int = 20) { feed(cursor: $cursor, count: $n) @connection(key: "feed") { items { id text likes @include(if: $withLikes) } } }`,
		`mutation { addReview(input: {productId: "p_1", body: """Great shoes; my son's size 38 fits — buy one & share"""}) { id } }`,
	}
	for _, doc := range benign {
		for _, get := range []bool{false, true} {
			if fs := d.Inspect(gqlEvent(t, get, doc)); len(fs) != 0 {
				t.Errorf("benign document (GET %v) %.60q: %s in %s (%s)", get, doc, fs[0].Class, fs[0].Loc, fs[0].Reason)
			}
		}
	}
	for _, tc := range []struct {
		doc, loc string
		class    InjClass
	}{
		{`{ user(id: "1' UNION SELECT password FROM users--") { name } }`, "graphql:user(id)", ClassSQLi},
		{`mutation { addComment(input: {postId: 3, body: "<script>alert(document.cookie)</script>"}) { id } }`, "graphql:addComment(input.body)", ClassXSS},
		{`query { files(paths: ["a.txt", "../../../../etc/passwd"]) { size } }`, "graphql:files(paths)", ClassPathTraversal},
		{`query Q($h: String = "; cat /etc/passwd") { ping(host: $h) { ok } }`, "graphql:$h", ClassCmd},
		{`{ feed @cache(key: "x' OR '1'='1") { id } }`, "graphql:feed@cache(key)", ClassSQLi},
		{`query ' OR 1=1 --`, "body:$.query", ClassSQLi}, // no GraphQL document: a value like any other
	} {
		fs := d.Inspect(gqlEvent(t, false, tc.doc))
		found := false
		for _, f := range fs {
			found = found || f.Class == tc.class && f.Loc == tc.loc
		}
		if !found {
			t.Errorf("%q: %s, want %s in %s", tc.doc, fmt.Sprint(fs), tc.class, tc.loc)
		}
	}
	if d.Stats.GraphQL == 0 {
		t.Error("no GraphQL document counted")
	}
}

func FuzzGraphQLLiterals(f *testing.F) {
	f.Add(`{ user(id: "42") { id } }`)
	f.Add(`query Q($a: [In!] = [{b: "x"}]) @d(k: """block""") { f(a: $a) { ... on T { g } ...F } } fragment F on T { h }`)
	f.Add(`mutation { a(b: {c: [[["deep"]]]}) }`)
	f.Fuzz(func(t *testing.T, doc string) {
		lits, ok := graphQLLiterals(doc)
		if !ok && len(lits) != 0 {
			t.Fatal("literals of no document")
		}
	})
}
