package dashboard_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/store"
)

// TestBrowserGraphQLOperations: the endpoint view of a GraphQL endpoint
// lists its operations (type, root field, requests, errors) and the
// largest requests it answered; names with markup are shown as text; the
// view of an endpoint without GraphQL has no such section. Screenshots at
// 1280 and 390 px, the accessibility audit, no horizontal overflow.
func TestBrowserGraphQLOperations(t *testing.T) {
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	ls := startServer(t)
	first, last := t0, t0.Add(2*time.Hour)
	gqlEP := model.Endpoint{Host: "api.example.test", Method: "POST", Path: "/graphql", Requests: 1234, State: "active", Exposure: "external",
		Authentication: "required", FirstSeen: &first, LastSeen: &last,
		GraphQL: &model.GraphQLSummary{
			Operations: []model.GraphQLOperation{
				{Type: "mutation", Field: "login", Requests: 40, OK: 12, Errors: 28, FirstSeen: first, LastSeen: last},
				{Type: "query", Field: `<img src=x onerror="window.__pwned=1">user`, Requests: 1190, OK: 1190, FirstSeen: first, LastSeen: last},
				{Type: `<b>query</b>`, Field: "__schema", Requests: 4, OK: 4, FirstSeen: first, LastSeen: first},
			},
			MaxDepth: 7, MaxAliases: 3, MaxBatch: 5, MaxFields: 42, Dropped: 17,
		}}
	restEP := model.Endpoint{Host: "api.example.test", Method: "GET", Path: "/v1/health", Requests: 10, State: "active", Exposure: "internal",
		Authentication: "none", FirstSeen: &first, LastSeen: &last}
	if err := ls.st.SaveSnapshot(context.Background(), store.Snapshot{Report: &model.Report{Endpoints: []model.Endpoint{gqlEP, restEP}},
		EventClock: last}, time.Now()); err != nil {
		t.Fatal(err)
	}
	var page struct {
		Items []struct {
			ID     string `json:"id"`
			Method string `json:"method"`
		} `json:"items"`
	}
	ls.call(t, "GET", "/api/v1/endpoints?limit=10", nil, &page)
	ids := map[string]string{}
	for _, it := range page.Items {
		ids[it.Method] = it.ID
	}
	if ids["POST"] == "" || ids["GET"] == "" {
		t.Fatalf("stored endpoints: %+v", page.Items)
	}
	p := newPage(t, ls)
	p.width(1280)
	p.login(ls.token)
	p.open("#/endpoints/"+ids["POST"], "#ep-gql")
	sec := `section[aria-labelledby="ep-gql"]`
	p.waitText(sec, "login")
	text := p.eval(`document.querySelector('section[aria-labelledby="ep-gql"]').textContent`)
	for _, want := range []string{"mutation", "login", "1,190", "28", `<img src=x onerror="window.__pwned=1">user`, "<b>query</b>",
		"__schema", "7 levels", "5 documents", "42", "17 requests for further operations"} {
		if !strings.Contains(text, want) {
			t.Errorf("GraphQL section %q does not show %q", text, want)
		}
	}
	rows := p.eval(`Array.from(document.querySelectorAll('section[aria-labelledby="ep-gql"] tbody tr')).map(r => Array.from(r.children).map(c => c.textContent).slice(0, 4).join('|')).join('\n')`)
	if want := "mutation|login|40|28\nquery|<img src=x onerror=\"window.__pwned=1\">user|1,190|0\n<b>query</b>|__schema|4|0"; rows != want {
		t.Errorf("GraphQL rows\n%s\nwant\n%s", rows, want)
	}
	if got := p.eval(`String(window.__pwned) + String(document.querySelectorAll('main img:not(.chart), main b, main script').length)`); got != "undefined0" {
		t.Errorf("hostile markup was interpreted (%s)", got)
	}
	p.shot("endpoint-graphql-1280")
	p.width(390)
	p.open("#/endpoints/"+ids["POST"], "#ep-gql")
	time.Sleep(150 * time.Millisecond)
	p.overflow("endpoint with GraphQL at 390 px")
	p.shot("endpoint-graphql-390")
	p.width(1280)
	p.open("#/endpoints/"+ids["GET"], "#ep-params")
	if n := p.eval(`String(document.querySelectorAll('#ep-gql').length)`); n != "0" {
		t.Errorf("an endpoint without GraphQL shows a GraphQL section")
	}
}
