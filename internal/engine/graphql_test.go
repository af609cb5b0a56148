package engine

import (
	"bytes"
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/report"
)

// TestReportGraphQLOperations: the report of `palisade analyze` (the
// engine's report written by report.WriteJSON) lists a GraphQL endpoint's
// operations under endpoints[].graphql, sorted by type then field, with
// how they were answered; an endpoint without GraphQL has no graphql
// member; the human summary counts them.
func TestReportGraphQLOperations(t *testing.T) {
	start := time.Date(2026, 11, 18, 9, 0, 0, 0, time.UTC)
	gql := func(body string) exchange.Request {
		return exchange.Request{Method: "POST", URL: "https://gql.example.test/graphql", Body: body,
			Headers: map[string]string{"content-type": "application/json"}}
	}
	type rec struct {
		req    exchange.Request
		status int
		resp   string
	}
	var recs []rec
	for range 3 {
		recs = append(recs, rec{gql(`{"query":"{ user(id: 1) { name orders { id } } }"}`), 200, `{"data":{"user":null}}`})
	}
	recs = append(recs,
		rec{gql(`{"query":"mutation { login(user: \"a\", password: \"b\") { token } }"}`), 200, `{"errors":[{"message":"bad credentials"}],"data":null}`},
		rec{gql(`[{"query":"{ a: product(id: 1) { sku } b: product(id: 2) { sku } }"},{"query":"{ user(id: 2) { name } }"}]`), 200, `[{"data":{}},{"data":{}}]`},
		rec{exchange.Request{Method: "GET", URL: "https://gql.example.test/graphql?query=" + url.QueryEscape("{ __schema { types { name } } }")}, 200, `{"data":{}}`},
		rec{exchange.Request{Method: "GET", URL: "https://gql.example.test/v1/health"}, 200, `{"ok":true}`},
	)
	var buf bytes.Buffer
	for i, r := range recs {
		x := &exchange.Record{Time: start.Add(time.Duration(i) * time.Minute), DurationMs: 10, Client: exchange.Client{IP: "203.0.113.20"}, Request: r.req,
			Response: exchange.Response{Status: r.status, Body: r.resp, Headers: map[string]string{"content-type": "application/json"}}}
		if err := exchange.Encode(&buf, x); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(t.TempDir(), "graphql.ndjson")
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	r := analyzeFile(t, DefaultConfig(), path)
	var doc struct {
		Endpoints []map[string]json.RawMessage `json:"endpoints"`
	}
	if err := json.Unmarshal(render(t, r), &doc); err != nil {
		t.Fatal(err)
	}
	type op struct {
		Type, Field          string
		Requests, OK, Errors int64
		FirstSeen            string `json:"first_seen"`
	}
	type summary struct {
		Operations []op `json:"operations"`
		MaxDepth   int  `json:"max_depth"`
		MaxAliases int  `json:"max_aliases"`
		MaxBatch   int  `json:"max_batch"`
		MaxFields  int  `json:"max_fields"`
	}
	got := map[string]*summary{}
	for _, e := range doc.Endpoints {
		var method, p string
		json.Unmarshal(e["method"], &method)
		json.Unmarshal(e["path"], &p)
		raw, ok := e["graphql"]
		if !ok {
			got[method+" "+p] = nil
			continue
		}
		var s summary
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatalf("%s %s graphql: %v", method, p, err)
		}
		got[method+" "+p] = &s
	}
	want := map[string]*summary{
		"POST /graphql": {Operations: []op{
			{Type: "mutation", Field: "login", Requests: 1, Errors: 1, FirstSeen: "2026-11-18T09:03:00Z"},
			{Type: "query", Field: "product", Requests: 1, OK: 1, FirstSeen: "2026-11-18T09:04:00Z"},
			{Type: "query", Field: "user", Requests: 4, OK: 4, FirstSeen: "2026-11-18T09:00:00Z"},
		}, MaxDepth: 3, MaxAliases: 2, MaxBatch: 2, MaxFields: 6},
		"GET /graphql":   {Operations: []op{{Type: "query", Field: "__schema", Requests: 1, OK: 1, FirstSeen: "2026-11-18T09:05:00Z"}}, MaxDepth: 3, MaxBatch: 1, MaxFields: 3},
		"GET /v1/health": nil,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("endpoints' graphql (-want +got):\n%s", diff)
	}
	var sum bytes.Buffer
	if err := report.Summary(&sum, r); err != nil {
		t.Fatal(err)
	}
	if line := "graphql    2 endpoints serve GraphQL (operations: 1 mutation, 3 query)"; !strings.Contains(sum.String(), line) {
		t.Errorf("summary lacks %q:\n%s", line, sum.String())
	}
}
