package inventory

import (
	"fmt"
	"net/url"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/palisade-sec/palisade/internal/model"
)

// gqlRow is an operation without its times (compared separately).
type gqlRow struct {
	Op                   string // "type field"
	Requests, OK, Errors int64
}

func gqlRows(s *model.GraphQLSummary) []gqlRow {
	var out []gqlRow
	for _, o := range s.Operations {
		out = append(out, gqlRow{o.Type + " " + o.Field, o.Requests, o.OK, o.Errors})
	}
	return out
}

// gqlPost is a GraphQL request with a JSON body.
func gqlPost(body string, status int, resp string) req {
	return req{method: "POST", url: "https://" + h + "/graphql", status: status, body: body, respBody: resp,
		headers: map[string]string{"content-type": "application/json"}}
}

const gqlData = `{"data":{"ok":true}}`

// TestGraphQLOperations feeds GraphQL requests through the real enricher
// (which summarizes their documents in ev.GraphQL) and checks what the
// endpoint lists: operations by type and root field with their answers,
// and the maxima over successful answers.
func TestGraphQLOperations(t *testing.T) {
	type maxima struct{ Depth, Aliases, Batch, Fields int }
	cases := []struct {
		name         string
		reqs         []req
		method, path string
		want         []gqlRow
		max          maxima
	}{
		{name: "single queries",
			reqs: []req{
				gqlPost(`{"query":"{ user(id: 1) { name } }"}`, 200, gqlData),
				gqlPost(`{"query":"query Q { user(id: 2) { name email } }","operationName":"Q"}`, 200, gqlData),
				gqlPost(`{"query":"query { products { id price { amount currency } } }"}`, 200, gqlData),
			},
			method: "POST", path: "/graphql",
			want: []gqlRow{{"query products", 1, 1, 0}, {"query user", 2, 2, 0}},
			max:  maxima{Depth: 3, Batch: 1, Fields: 5}},
		{name: "mutation",
			reqs: []req{
				gqlPost(`{"query":"mutation Login($u: String!) { login(user: $u, password: \"x\") { token } }","variables":{"u":"alice"}}`, 200, gqlData),
				gqlPost(`{"query":"{ me { id } }"}`, 200, gqlData),
			},
			method: "POST", path: "/graphql",
			want: []gqlRow{{"mutation login", 1, 1, 0}, {"query me", 1, 1, 0}},
			max:  maxima{Depth: 2, Batch: 1, Fields: 2}},
		{name: "batch of three documents",
			reqs: []req{
				gqlPost(`[{"query":"{ user(id: 1) { name } }"},{"query":"{ orders { id } }"},{"query":"mutation { logout }"}]`, 200,
					`[{"data":{}},{"data":{}},{"data":{}}]`),
			},
			method: "POST", path: "/graphql",
			want: []gqlRow{{"mutation logout", 1, 1, 0}, {"query orders", 1, 1, 0}, {"query user", 1, 1, 0}},
			max:  maxima{Depth: 2, Batch: 3, Fields: 5}},
		{name: "aliased query",
			reqs: []req{
				gqlPost(`{"query":"{ a: user(id: 1) { name } b: user(id: 2) { name } c: user(id: 3) { name } }"}`, 200, gqlData),
			},
			method: "POST", path: "/graphql",
			want: []gqlRow{{"query user", 1, 1, 0}},
			max:  maxima{Depth: 2, Aliases: 3, Batch: 1, Fields: 6}},
		{name: "GET with ?query=",
			reqs: []req{
				{method: "GET", url: "https://" + h + "/graphql?query=" + url.QueryEscape("{ catalog { items { sku } } }"), respBody: gqlData},
				{method: "GET", url: "https://" + h + "/graphql?query=" + url.QueryEscape("query { catalog { name } }") + "&operationName=x", respBody: gqlData},
			},
			method: "GET", path: "/graphql",
			want: []gqlRow{{"query catalog", 2, 2, 0}},
			max:  maxima{Depth: 3, Batch: 1, Fields: 3}},
		{name: "application/graphql body",
			reqs: []req{
				{method: "POST", url: "https://" + h + "/graphql", body: "query { orders(first: 5) { id total } }", respBody: gqlData,
					headers: map[string]string{"content-type": "application/graphql"}},
			},
			method: "POST", path: "/graphql",
			want: []gqlRow{{"query orders", 1, 1, 0}},
			max:  maxima{Depth: 2, Batch: 1, Fields: 3}},
		{name: "error answers",
			reqs: []req{
				// 200 with a top-level "errors" member: an error, whatever "data" says
				gqlPost(`{"query":"{ secret { value } }"}`, 200, `{"errors":[{"message":"not authorized","path":["secret"]}],"data":null}`),
				gqlPost(`{"query":"{ secret { value } }"}`, 200, `{"data":{"secret":null},"errors":[{"message":"boom"}]}`),
				// an empty or null "errors" and an "errors" field inside data are not errors
				gqlPost(`{"query":"{ secret { value } }"}`, 200, `{"data":{"secret":{"value":"x"}},"errors":[]}`),
				gqlPost(`{"query":"{ secret { value } }"}`, 200, `{"errors":null,"data":{"secret":{"value":"x"}}}`),
				gqlPost(`{"query":"{ report { errors } }"}`, 200, `{"data":{"report":{"errors":["disk full"]}}}`),
				// status 400 and above
				gqlPost(`{"query":"{ secret { value } }"}`, 401, `{"message":"login first"}`),
				gqlPost(`{"query":"{ report { errors } }"}`, 500, ``),
				// a 3xx is neither
				gqlPost(`{"query":"{ report { errors } }"}`, 304, ``),
				// a batch whose second answer failed
				gqlPost(`[{"query":"{ report { errors } }"},{"query":"{ secret { value } }"}]`, 200, `[{"data":{}},{"errors":[{"message":"x"}]}]`),
				// the maxima count successful answers only
				gqlPost(`{"query":"{ secret { a { b { c { d } } } } }"}`, 200, `{"errors":[{"message":"too deep"}]}`),
			},
			method: "POST", path: "/graphql",
			want: []gqlRow{{"query report", 4, 1, 2}, {"query secret", 7, 2, 5}},
			max:  maxima{Depth: 2, Batch: 1, Fields: 2}},
		{name: "introspection",
			reqs: []req{
				gqlPost(`{"query":"query IntrospectionQuery { __schema { queryType { name } types { name kind } } }"}`, 200, `{"data":{"__schema":{}}}`),
				gqlPost(`{"query":"{ __type(name: \"User\") { fields { name } } __typename }"}`, 200, gqlData),
			},
			method: "POST", path: "/graphql",
			want: []gqlRow{{"query __schema", 1, 1, 0}, {"query __type", 1, 1, 0}},
			max:  maxima{Depth: 3, Batch: 1, Fields: 6}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			inv := New(DefaultConfig())
			f := newFeeder(t, inv)
			for _, r := range tc.reqs {
				if ev := f.send(r); ev.GraphQL == nil {
					t.Fatalf("enrichment found no GraphQL in %s %s %s", r.method, r.url, r.body)
				}
			}
			ep := endpointOf(t, inv, tc.method, tc.path)
			if ep.GraphQL == nil {
				t.Fatalf("%s %s has no GraphQL summary", tc.method, tc.path)
			}
			if diff := cmp.Diff(tc.want, gqlRows(ep.GraphQL)); diff != "" {
				t.Errorf("operations (-want +got):\n%s", diff)
			}
			g := ep.GraphQL
			if got := (maxima{g.MaxDepth, g.MaxAliases, g.MaxBatch, g.MaxFields}); got != tc.max {
				t.Errorf("maxima %+v, want %+v", got, tc.max)
			}
			if g.Dropped != 0 {
				t.Errorf("dropped %d", g.Dropped)
			}
		})
	}
}

// TestGraphQLOperationTimes: first and last seen per operation; endpoints
// without GraphQL have no summary; the JSON names the contract's members.
func TestGraphQLOperationTimes(t *testing.T) {
	inv := New(DefaultConfig())
	f := newFeeder(t, inv)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	for _, m := range []int{5, 1, 9} { // out of order: first and last are the extremes
		r := gqlPost(`{"query":"{ user { id } }"}`, 200, gqlData)
		r.at = at(m)
		f.send(r)
	}
	r := gqlPost(`{"query":"mutation { login }"}`, 200, gqlData)
	r.at = at(3)
	f.send(r)
	f.send(req{method: "POST", url: "https://" + h + "/v1/orders", body: `{"query":"not graphql"}`, headers: map[string]string{"content-type": "application/json"}})
	ep := endpointOf(t, inv, "POST", "/graphql")
	want := []model.GraphQLOperation{
		{Type: "mutation", Field: "login", Requests: 1, OK: 1, FirstSeen: at(3), LastSeen: at(3)},
		{Type: "query", Field: "user", Requests: 3, OK: 3, FirstSeen: at(1), LastSeen: at(9)},
	}
	if diff := cmp.Diff(want, ep.GraphQL.Operations); diff != "" {
		t.Errorf("operations (-want +got):\n%s", diff)
	}
	if other := endpointOf(t, inv, "POST", "/v1/orders"); other.GraphQL != nil {
		t.Errorf("a JSON body with a non-GraphQL query member made a GraphQL summary: %+v", other.GraphQL)
	}
}

// TestGraphQLOperationBound: at most MaxGraphQLOps operations per
// endpoint, the rest counted; an operation answered successfully takes
// the place of one only ever answered with errors (field names a client
// tried), never of one the API served.
func TestGraphQLOperationBound(t *testing.T) {
	t.Run("overflow counted", func(t *testing.T) {
		inv := New(DefaultConfig())
		f := newFeeder(t, inv)
		for i := range MaxGraphQLOps + 44 {
			f.send(gqlPost(fmt.Sprintf(`{"query":"{ field%03d }"}`, i), 200, gqlData))
		}
		f.send(gqlPost(`{"query":"{ field000 }"}`, 200, gqlData)) // a kept one is still counted
		g := endpointOf(t, inv, "POST", "/graphql").GraphQL
		if len(g.Operations) != MaxGraphQLOps || g.Dropped != 44 {
			t.Fatalf("%d operations, %d dropped; want %d and 44", len(g.Operations), g.Dropped, MaxGraphQLOps)
		}
		if o := g.Operations[0]; o.Field != "field000" || o.Requests != 2 {
			t.Errorf("first operation %+v", o)
		}
		if o := g.Operations[len(g.Operations)-1]; o.Field != fmt.Sprintf("field%03d", MaxGraphQLOps-1) {
			t.Errorf("last operation %+v: the first %d operations seen are kept", o, MaxGraphQLOps)
		}
	})
	t.Run("served operations win over guessed ones", func(t *testing.T) {
		inv := New(DefaultConfig())
		f := newFeeder(t, inv)
		f.send(gqlPost(`{"query":"{ served }"}`, 200, gqlData))
		for i := range MaxGraphQLOps - 1 {
			f.send(gqlPost(fmt.Sprintf(`{"query":"{ guess%03d }"}`, i), 200, `{"errors":[{"message":"Cannot query field"}]}`))
		}
		f.send(gqlPost(`{"query":"{ guess999 }"}`, 400, `{"errors":[{"message":"Cannot query field"}]}`)) // full: dropped
		f.send(gqlPost(`{"query":"{ orders { id } }"}`, 200, gqlData))                                    // evicts guess000
		g := endpointOf(t, inv, "POST", "/graphql").GraphQL
		got := map[string]bool{}
		for _, o := range g.Operations {
			got[o.Field] = true
		}
		if len(g.Operations) != MaxGraphQLOps || !got["served"] || !got["orders"] || got["guess000"] || !got["guess001"] || got["guess999"] {
			t.Errorf("%d operations (served %v, orders %v, guess000 %v, guess001 %v, guess999 %v)", len(g.Operations),
				got["served"], got["orders"], got["guess000"], got["guess001"], got["guess999"])
		}
		if g.Dropped != 2 {
			t.Errorf("dropped %d, want 2 (guess999 refused, guess000 evicted)", g.Dropped)
		}
	})
}

// TestGraphQLMergeOnCollapse: a tenant position that becomes a parameter
// merges its children's GraphQL statistics.
func TestGraphQLMergeOnCollapse(t *testing.T) {
	inv := New(DefaultConfig())
	f := newFeeder(t, inv)
	names := []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
		"mallory", "niaj", "olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yolanda"}
	for i, n := range names {
		r := gqlPost(`{"query":"{ user { id } }"}`, 200, gqlData)
		r.url = "https://" + h + "/tenants/" + n + "/graphql"
		f.send(r)
		if i%5 == 0 {
			r.body = `[{"query":"mutation { login }"},{"query":"{ a: user { id } b: user { id } }"}]`
			f.send(r)
		}
	}
	var ep *model.Endpoint
	for _, e := range inv.Endpoints(t0.Add(time.Hour)) {
		if e.Method == "POST" && strings.HasSuffix(e.Path, "/graphql") {
			if ep != nil {
				t.Fatalf("two GraphQL endpoints: %v", templates(inv, h))
			}
			ep = &e
		}
	}
	if ep == nil || !strings.Contains(ep.Path, "{") {
		t.Fatalf("tenants did not collapse into a parameter: %v", templates(inv, h))
	}
	want := []gqlRow{{"mutation login", 4, 4, 0}, {"query user", 24, 24, 0}}
	if diff := cmp.Diff(want, gqlRows(ep.GraphQL)); diff != "" {
		t.Errorf("merged operations (-want +got):\n%s", diff)
	}
	if g := ep.GraphQL; g.MaxBatch != 2 || g.MaxAliases != 2 || g.MaxDepth != 2 {
		t.Errorf("merged maxima %+v", g)
	}
}

// TestGraphQLStatsMerge: the merge of two endpoints' statistics, table by
// table: counts add, times widen, maxima rise, the bound holds.
func TestGraphQLStatsMerge(t *testing.T) {
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	op := func(typ, field string, first, last int, req, ok, errs int64) (gqlKey, *gqlOp) {
		return gqlKey{typ, field}, &gqlOp{first: at(first), last: at(last), requests: req, ok: ok, errors: errs}
	}
	build := func(n int, ok int64, extra ...func(*gqlStats)) *gqlStats {
		q := &gqlStats{ops: map[gqlKey]*gqlOp{}}
		for i := range n {
			k, o := op("query", fmt.Sprintf("f%03d", i), 0, 0, 1, ok, 1-ok)
			q.ops[k] = o
		}
		for _, e := range extra {
			e(q)
		}
		return q
	}
	with := func(typ, field string, first, last int, req, ok, errs int64) func(*gqlStats) {
		return func(q *gqlStats) { k, o := op(typ, field, first, last, req, ok, errs); q.ops[k] = o }
	}
	cases := []struct {
		name      string
		into, o   *gqlStats
		wantOps   int
		wantDrop  int64
		check     string // "type field" that must be present after the merge
		wantOp    model.GraphQLOperation
		wantDepth int
	}{
		{name: "same operation adds and widens",
			into:    build(0, 1, with("query", "user", 5, 7, 3, 2, 1), func(q *gqlStats) { q.maxDepth = 4 }),
			o:       build(0, 1, with("query", "user", 2, 6, 2, 2, 0), func(q *gqlStats) { q.maxDepth = 6; q.dropped = 3 }),
			wantOps: 1, wantDrop: 3, check: "query user", wantDepth: 6,
			wantOp: model.GraphQLOperation{Type: "query", Field: "user", Requests: 5, OK: 4, Errors: 1, FirstSeen: at(2), LastSeen: at(7)}},
		{name: "new operation joins",
			into:    build(0, 1, with("query", "user", 1, 1, 1, 1, 0)),
			o:       build(0, 1, with("mutation", "login", 3, 4, 2, 0, 2)),
			wantOps: 2, check: "mutation login",
			wantOp: model.GraphQLOperation{Type: "mutation", Field: "login", Requests: 2, Errors: 2, FirstSeen: at(3), LastSeen: at(4)}},
		{name: "full table drops the other's new operations",
			into: build(MaxGraphQLOps, 1), o: build(0, 1, with("query", "zzz", 1, 1, 7, 0, 7), with("query", "f001", 1, 1, 1, 1, 0)),
			wantOps: MaxGraphQLOps, wantDrop: 7, check: "query f001",
			wantOp: model.GraphQLOperation{Type: "query", Field: "f001", Requests: 2, OK: 2, FirstSeen: at(0), LastSeen: at(1)}},
		{name: "full of errors: a served operation evicts one",
			into: build(MaxGraphQLOps, 0), o: build(0, 1, with("query", "zzz", 1, 1, 7, 7, 0)),
			wantOps: MaxGraphQLOps, wantDrop: 1, check: "query zzz",
			wantOp: model.GraphQLOperation{Type: "query", Field: "zzz", Requests: 7, OK: 7, FirstSeen: at(1), LastSeen: at(1)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.into.merge(tc.o)
			s := tc.into.summary()
			if len(s.Operations) != tc.wantOps || s.Dropped != tc.wantDrop || s.MaxDepth != tc.wantDepth {
				t.Errorf("%d operations, %d dropped, depth %d; want %d, %d, %d", len(s.Operations), s.Dropped, s.MaxDepth, tc.wantOps, tc.wantDrop, tc.wantDepth)
			}
			found := false
			for _, o := range s.Operations {
				if o.Type+" "+o.Field == tc.check {
					found = true
					if diff := cmp.Diff(tc.wantOp, o); diff != "" {
						t.Errorf("%s (-want +got):\n%s", tc.check, diff)
					}
				}
			}
			if !found {
				t.Errorf("%s missing after the merge", tc.check)
			}
			for i := 1; i < len(s.Operations); i++ {
				a, b := s.Operations[i-1], s.Operations[i]
				if a.Type > b.Type || a.Type == b.Type && a.Field >= b.Field {
					t.Errorf("operations not sorted: %s %s before %s %s", a.Type, a.Field, b.Type, b.Field)
				}
			}
		})
	}
}

// TestGraphQLErrors: the top-level check of a response body.
func TestGraphQLErrors(t *testing.T) {
	cases := []struct {
		body string
		want bool
	}{
		{`{"data":{"a":1}}`, false},
		{`{"errors":[{"message":"x"}]}`, true},
		{` {"data":null, "errors" : [ {"message":"x"} ] }`, true},
		{`{"data":{"errors":[{"message":"x"}]}}`, false}, // not top level
		{`{"data":{"a":"\"errors\":[1]"}}`, false},       // inside a string
		{`{"errors":[]}`, false},
		{`{"errors":null}`, false},
		{`{"errors":"denied"}`, true},
		{`[{"data":{}},{"errors":[{"message":"x"}]}]`, true},
		{`[{"data":{}},{"data":{"errors":[1]}}]`, false},
		{`{"data":{"a":1},"extensions":{"errors":[1]}}`, false},
		{`{"data": tru, "errors":[1]}`, false}, // not JSON before the member: unknown
		{`data: {"errors":[1]}`, false},        // not JSON (a server-sent event)
		{`{"errors":[`, false},
		{``, false},
	}
	bp := newBodyParser()
	for _, tc := range cases {
		if got := bp.graphQLErrors(tc.body); got != tc.want {
			t.Errorf("graphQLErrors(%s) = %v, want %v", tc.body, got, tc.want)
		}
	}
	if n := testing.AllocsPerRun(100, func() { bp.graphQLErrors(`{"data":{"a":[1,2,{"b":"c"}]},"errors":[{"message":"x"}]}`) }); n != 0 {
		t.Errorf("graphQLErrors allocates %.0f times", n)
	}
}

// TestMemoryPerGraphQLOperation measures the heap an endpoint's GraphQL
// operation takes (docs/inventory.md quotes the figure).
func TestMemoryPerGraphQLOperation(t *testing.T) {
	const endpoints, ops = 64, MaxGraphQLOps
	keys := make([]gqlKey, ops)
	for i := range keys {
		keys[i] = gqlKey{"query", fmt.Sprintf("someRootField%03d", i)} // 16 bytes: a typical field name
	}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	all := make([]*gqlStats, endpoints)
	for e := range all {
		q := &gqlStats{}
		for _, k := range keys {
			q.add(k, t0, true, false)
		}
		all[e] = q
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	runtime.KeepAlive(all)
	per := float64(after.HeapAlloc-before.HeapAlloc) / float64(endpoints*ops)
	t.Logf("bytes per GraphQL operation (16-byte field name): %.0f; a full endpoint ≈ %.0f KiB", per, per*ops/1024)
	if per > 220 {
		t.Errorf("a GraphQL operation takes %.0f bytes: more than documented", per)
	}
}
