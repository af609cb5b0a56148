package inventory

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestSegPattern(t *testing.T) {
	for _, c := range []struct {
		decl, seg string
		want      []string // nil: no match
	}{
		{"{name}:cancel", "op-7:cancel", []string{"op-7"}},
		{"{name}:cancel", ":cancel", nil},
		{"{name}:cancel", "op-7:cancelled", nil},
		{"{name}:cancel", "op-7", nil},
		{"{id}.json", "42.json", []string{"42"}},
		{"{id}.json", "42.xml", nil},
		{"{origin}-{destination}", "FRA-JFK", []string{"FRA", "JFK"}},
		{"{origin}-{destination}", "FRA-", nil},
		{"{origin}-{destination}", "-JFK", nil},
		{"{origin}-{destination}", "a-b-c", []string{"a", "b-c"}},
		{"{lat},{lon}", "52.5,13.4", []string{"52.5", "13.4"}},
		{"v{version}", "v2", []string{"2"}},
		{"v{version}", "v", nil},
		{"report-{date}.csv", "report-2024-01-31.csv", []string{"2024-01-31"}},
	} {
		p := parseSegPattern(c.decl)
		if p == nil {
			t.Errorf("parseSegPattern(%q) = nil", c.decl)
			continue
		}
		got := p.match(c.seg, nil)
		if fmt.Sprint(got) != fmt.Sprint(c.want) || (got == nil) != (c.want == nil) {
			t.Errorf("%q.match(%q) = %q, want %q", c.decl, c.seg, got, c.want)
		}
	}
	for _, s := range []string{"{id}", "users", "{a}{b}", "{unclosed", ""} {
		if p := parseSegPattern(s); p != nil {
			t.Errorf("parseSegPattern(%q) = %+v, want nil", s, p)
		}
	}
}

// TestDeclaredSegmentPatterns: operations declared with a parameter and
// text in one segment (Google's custom methods, extensions, pairs) get
// their own traffic. Before, "{name}:cancel" was a static segment no
// request could reach, and POST /v1/op-7:cancel was counted on POST
// /v1/{name} — a custom method merged into the plain operation, the
// declared one "unused".
func TestDeclaredSegmentPatterns(t *testing.T) {
	spec, err := ParseSpec("google-style.yaml", []byte(`openapi: 3.0.3
info: {title: t, version: "1"}
servers: [{url: "https://g.example.test"}]
paths:
  /v1/{name}:
    post: {responses: {"200": {description: ok}}}
    get: {responses: {"200": {description: ok}}}
  /v1/{name}:cancel:
    post: {responses: {"200": {description: ok}}}
  /v1/{resource}:getIamPolicy:
    get: {responses: {"200": {description: ok}}}
  /files/{id}.json:
    get: {responses: {"200": {description: ok}}}
  /routes/{origin}-{destination}/{date}:
    get: {responses: {"200": {description: ok}}}
`))
	if err != nil {
		t.Fatal(err)
	}
	inv := New(DefaultConfig())
	if err := inv.AddSpec(spec); err != nil {
		t.Fatal(err)
	}
	f := newFeeder(t, inv)
	for _, c := range []struct{ method, path, want, params string }{
		{"POST", "/v1/op-7:cancel", "/v1/{name}:cancel", "[name=op-7@1]"},
		{"POST", "/v1/op-7", "/v1/{name}", "[name=op-7@1]"},
		{"GET", "/v1/op-7", "/v1/{name}", "[name=op-7@1]"},
		{"GET", "/v1/ds-1:getIamPolicy", "/v1/{resource}:getIamPolicy", "[resource=ds-1@1]"},
		{"GET", "/files/42.json", "/files/{id}.json", "[id=42@1]"},
		{"GET", "/routes/FRA-JFK/2026-01-05", "/routes/{origin}-{destination}/{date}", "[origin=FRA@1 destination=JFK@1 date=2026-01-05@2]"},
	} {
		ev := f.send(req{method: c.method, url: "https://g.example.test" + c.path})
		var ps []string
		for _, p := range ev.PathParams {
			ps = append(ps, fmt.Sprintf("%s=%s@%d", p.Name, p.Value, p.Index))
		}
		if ev.Endpoint.Path != c.want || "["+strings.Join(ps, " ")+"]" != c.params {
			t.Errorf("%s %s: %s %v, want %s %s", c.method, c.path, ev.Endpoint.Path, ps, c.want, c.params)
		}
	}
	for _, ep := range inv.Endpoints(t0.Add(time.Hour)) {
		if ep.Requests > 0 && ep.State != "active" {
			t.Errorf("%s %s: state %s, want active (declared and called)", ep.Method, ep.Path, ep.State)
		}
	}
	// The export names the parameters of such segments.
	out, err := ExportOpenAPI("g.example.test", inv.Endpoints(t0.Add(time.Hour)), "t")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := ParseSpec("export.json", out)
	if err != nil {
		t.Fatalf("export does not load: %v", err)
	}
	var found bool
	for _, op := range doc.Ops {
		if op.Path == "/v1/{name}:cancel" {
			found = true
			if fmt.Sprint(op.Required) != "[path:name]" {
				t.Errorf("export of POST /v1/{name}:cancel: required %v, want [path:name]", op.Required)
			}
		}
	}
	if !found {
		t.Error("export lacks /v1/{name}:cancel")
	}
}

func TestMethodSuffix(t *testing.T) {
	for _, c := range []struct{ seg, stem, verb string }{
		{"op-7:cancel", "op-7", ":cancel"},
		{"ds-1:getIamPolicy", "ds-1", ":getIamPolicy"},
		{"42:undelete", "42", ":undelete"},
		{"arn:aws:lambda:eu-west-1:123456789012:function:fn", "", ""}, // an ARN is an id
		{"op:Cancel", "", ""},                                         // not lowerCamel
		{"op:go", "", ""},                                             // too short for a method
		{"op:cancel2", "", ""},                                        // letters only
		{":cancel", "", ""},                                           // no id
		{"plain", "", ""},
	} {
		stem, verb, ok := methodSuffix(c.seg)
		if ok != (c.verb != "") || stem != c.stem || verb != c.verb {
			t.Errorf("methodSuffix(%q) = %q %q %v, want %q %q", c.seg, stem, verb, ok, c.stem, c.verb)
		}
	}
}

// TestLearnedCustomMethods: without a spec, Google-style custom methods on
// ids (AIP-136) are learned beside the id's own operations: once /v1/NAME
// is a parameter, NAME:cancel is /v1/{id}:cancel — before, every
// NAME:cancel was a word of its own, and a collapse folded them into
// /v1/{id} with the plain operations.
func TestLearnedCustomMethods(t *testing.T) {
	inv := New(DefaultConfig())
	f := newFeeder(t, inv)
	for i := 0; i < 40; i++ {
		id := fmt.Sprintf("sub-%c%c", 'a'+i%26, 'a'+i/26)
		f.send(req{method: "GET", url: "https://pay.example.test/v1/" + id, respBody: `{"name":"n","state":"ACTIVE","plan":"p"}`})
		f.send(req{method: "POST", url: "https://pay.example.test/v1/" + id + ":cancel", respBody: `{"name":"n","state":"CANCELLED","plan":"p"}`})
		f.send(req{method: "POST", url: "https://pay.example.test/v1/" + id + ":extend", respBody: `{"name":"n","state":"ACTIVE","plan":"p"}`})
		f.send(req{method: "GET", url: "https://pay.example.test/v1/arn:aws:svc:eu:1:thing:" + id, respBody: `{"name":"n"}`})
	}
	got := fmt.Sprint(templates(inv, "pay.example.test"))
	if want := "[GET /v1/{id} POST /v1/{id}:cancel POST /v1/{id}:extend]"; got != want {
		t.Errorf("templates %s\nwant      %s (the ARNs are ids of GET /v1/{id})", got, want)
	}
	ev := f.send(req{method: "POST", url: "https://pay.example.test/v1/sub-zz:cancel", respBody: `{}`})
	if ev.Endpoint.Path != "/v1/{id}:cancel" || len(ev.PathParams) != 1 || ev.PathParams[0].Value != "sub-zz" {
		t.Errorf("a new id's custom method: %s %+v", ev.Endpoint.Path, ev.PathParams)
	}
}
