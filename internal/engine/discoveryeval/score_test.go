package discoveryeval

import (
	"reflect"
	"testing"
)

// TestScore: hand-made (truth, endpoint) pairs with known outcomes:
// exact, exact with wrong parameters, split, merged, split and merged.
func TestScore(t *testing.T) {
	type req struct {
		op    string // key of ops
		tmpl  string // discovered template
		probe bool
	}
	ops := map[string]struct {
		path, template string
		kinds          []Kind
	}{
		"exact":       {"/users/{id}", "/v1/users/{id}", []Kind{KindInt}},
		"static":      {"/users/me", "/v1/users/me", nil},
		"wrong":       {"/tags/{arn}", "/v1/tags/{arn}", []Kind{KindFree}},
		"split":       {"/repos/{owner}", "/v1/repos/{owner}", []Kind{KindFree}},
		"mergedA":     {"/a/run", "/v1/a/run", nil},
		"mergedB":     {"/a/stop", "/v1/a/stop", nil},
		"splitMerged": {"/a/{x}", "/v1/a/{x}", []Kind{KindPattern, KindEnum}},
	}
	var reqs []req
	add := func(op, tmpl string, n int, probe bool) {
		for range n {
			reqs = append(reqs, req{op: op, tmpl: tmpl, probe: probe})
		}
	}
	add("exact", "/v1/users/{userId}", 5, false)
	add("static", "/v1/users/me", 3, false)
	add("wrong", "/v1/tags/fixed", 4, false) // a parameter left static
	add("split", "/v1/repos/{repoId}", 6, false)
	add("split", "/v1/repos/alice", 1, false)
	add("split", "/v1/repos/bob", 1, true)
	add("mergedA", "/v1/a/{id}", 4, false)
	add("mergedB", "/v1/a/{id}", 2, false)
	add("splitMerged", "/v1/a/{id}", 3, false)
	add("splitMerged", "/v1/a/xyz", 2, false)
	var truths []Truth
	var eps []Endpoint
	for i, r := range reqs {
		o := ops[r.op]
		truths = append(truths, Truth{Spec: "t.json", Host: "h", Method: "GET", Path: o.path, Template: o.template, Kinds: o.kinds, URLPath: "/p" + string(rune('a'+i%26))})
		eps = append(eps, Endpoint{Host: "h", Method: "GET", Template: r.tmpl, Probe: r.probe})
	}
	// The same template under another method is another endpoint.
	truths = append(truths, Truth{Spec: "t.json", Host: "h", Method: "DELETE", Path: "/users/{id}", Template: "/v1/users/{id}", Kinds: []Kind{KindInt}})
	eps = append(eps, Endpoint{Host: "h", Method: "DELETE", Template: "/v1/users/{userId}"})

	got := map[string]*OpScore{}
	for _, o := range Score(truths, eps) {
		got[o.Method+" "+o.Path] = o
	}
	type want struct {
		exact, wrong bool
		split        int
		merged       []string
		mergedReqs   int
		row          string
		endpoints    int
	}
	for name, w := range map[string]want{
		"GET /users/{id}":    {exact: true, row: RowInt, endpoints: 1},
		"DELETE /users/{id}": {exact: true, row: RowInt, endpoints: 1},
		"GET /users/me":      {exact: true, row: RowNoParams, endpoints: 1},
		"GET /tags/{arn}":    {exact: true, wrong: true, row: RowFree, endpoints: 1},
		"GET /repos/{owner}": {split: 2, row: RowFree, endpoints: 3},
		"GET /a/run":         {merged: []string{"GET /a/stop", "GET /a/{x}"}, mergedReqs: 4, row: RowNoParams, endpoints: 1},
		"GET /a/stop":        {merged: []string{"GET /a/run", "GET /a/{x}"}, mergedReqs: 2, row: RowNoParams, endpoints: 1},
		"GET /a/{x}":         {split: 1, merged: []string{"GET /a/run", "GET /a/stop"}, mergedReqs: 3, row: RowPattern, endpoints: 2},
	} {
		o := got[name]
		if o == nil {
			t.Errorf("%s: not scored", name)
			continue
		}
		if o.Exact != w.exact || o.WrongParams != w.wrong || o.Split != w.split || !reflect.DeepEqual(o.MergedWith, w.merged) ||
			o.MergedRequests != w.mergedReqs || o.Row != w.row || len(o.Endpoints) != w.endpoints {
			t.Errorf("%s: exact %v wrong %v split %d merged %v (%d requests) row %s endpoints %d; want %+v",
				name, o.Exact, o.WrongParams, o.Split, o.MergedWith, o.MergedRequests, o.Row, len(o.Endpoints), w)
		}
	}
	if len(got) != 8 {
		t.Errorf("%d operations scored, want 8", len(got))
	}
	if e := got["GET /repos/{owner}"].Endpoints; e[0].Template != "/v1/repos/{repoId}" || e[0].Requests != 6 || e[2].Template != "/v1/repos/bob" || !e[2].Probe || e[1].Probe {
		t.Errorf("split endpoints %+v: most requests first, the probe flagged", e)
	}

	var all []*OpScore
	for _, o := range got {
		all = append(all, o)
	}
	r := Tally("all", all)
	wantRow := Row{Row: "all", Ops: 8, Requests: 32, Endpoints: 9, ProbeEndpoints: 1, Exact: 4, WrongParams: 1, Split: 2, ExtraEndpoints: 3,
		Merged: 3, MergedRequests: 9, SplitMerged: 1}
	if r != wantRow {
		t.Errorf("tally\n got %+v\nwant %+v", r, wantRow)
	}
	if r.Exact+r.Split+r.Merged-r.SplitMerged != r.Ops {
		t.Errorf("outcomes do not add up: %+v", r)
	}
}

func TestSameParams(t *testing.T) {
	for _, c := range []struct {
		spec, found string
		kinds       []Kind
		want        bool
	}{
		{"/v1/users/{id}", "/v1/users/{userId}", []Kind{KindInt}, true},
		{"/v1/users/{id}", "/v1/users/alice", []Kind{KindFree}, false},
		{"/v1/users/me", "/v1/users/{userId}", nil, false},
		{"/v1/{name}:cancel", "/v1/{id}", []Kind{KindFree}, true},
		{"/cargo/{origin}-{destination}", "/cargo/{id}", []Kind{KindFree, KindFree}, true},
		{"/a/{x}", "/a/{x}/{tail}", []Kind{KindFree}, false},
		{"/", "/", nil, true},
		// An enum position may be static or a parameter; the others not.
		{"/s/{sub}/va/{name}/scans", "/s/{subId}/va/default/scans", []Kind{KindUUID, KindEnum}, true},
		{"/s/{sub}/va/{name}/scans", "/s/{subId}/va/{vaId}/scans", []Kind{KindUUID, KindEnum}, true},
		{"/s/{sub}/va/{name}/scans", "/s/x/va/default/scans", []Kind{KindUUID, KindEnum}, false},
		{"/f/{a}-{b}", "/f/x-y", []Kind{KindEnum, KindFree}, false},
		{"/f/{a}-{b}", "/f/x-y", []Kind{KindEnum, KindEnum}, true},
		{"/s/{name}/x", "/s/default/x", nil, false},
	} {
		if got := SameParams(c.spec, c.found, c.kinds); got != c.want {
			t.Errorf("SameParams(%s, %s, %v) = %v, want %v", c.spec, c.found, c.kinds, got, c.want)
		}
	}
}

func TestRowOf(t *testing.T) {
	for _, c := range []struct {
		kinds []Kind
		want  string
	}{
		{nil, RowNoParams},
		{[]Kind{KindInt}, RowInt},
		{[]Kind{KindInt, KindUUID}, RowUUID},
		{[]Kind{KindUUID, KindDate}, RowDate},
		{[]Kind{KindDateTime}, RowDate},
		{[]Kind{KindEmail, KindInt}, RowEmail},
		{[]Kind{KindInt, KindEnum}, RowEnum},
		{[]Kind{KindEnum, KindExample}, RowExample},
		{[]Kind{KindExample, KindPattern, KindInt}, RowPattern},
		{[]Kind{KindInt, KindFree, KindPattern}, RowFree},
	} {
		if got := RowOf(c.kinds); got != c.want {
			t.Errorf("RowOf(%v) = %s, want %s", c.kinds, got, c.want)
		}
	}
}
