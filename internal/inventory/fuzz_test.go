package inventory

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/event"
)

func FuzzTemplate(f *testing.F) {
	for _, s := range []string{"/v2/users/10023/orders", "/", "//a//b/", "/users/alice@example.test", "/blog/how-to-bake-bread-at-home",
		"/p/MRN-004512", "/x/%7Bid%7D", "/{id}/a", "/a/{", "/v1/2023-01/3fa85f64-5717-4562-b3fc-2c963f66afa6"} {
		f.Add("GET", s, 200)
	}
	cfg := DefaultConfig()
	cfg.MaxNodes = 500
	cfg.MinCardinality = 4
	cfg.Pinned = []string{"/pinned/{p}/x"}
	inv := New(cfg)
	f.Fuzz(func(t *testing.T, method, path string, status int) {
		ref, params := inv.Template("fuzz.test", method, path)
		tmpl := ref.Path
		want := len(segments(path, nil))
		got := len(segments(tmpl, nil))
		if got != want {
			t.Fatalf("Template(%q) = %q: %d segments, want %d", path, tmpl, got, want)
		}
		for _, p := range params {
			if p.Index < 0 || p.Index >= want || segments(path, nil)[p.Index] != p.Value {
				t.Fatalf("Template(%q): bad param %+v", path, p)
			}
		}
		if ref.Host != "fuzz.test" || ref.Method != method {
			t.Fatalf("Template(%q) = %+v", path, ref)
		}
		if again, _ := inv.Template("fuzz.test", method, path); again.Path == ref.Path && again.ID != ref.ID {
			t.Fatalf("Template(%q): same reference, ids %d and %d", path, ref.ID, again.ID)
		}
		ev := &event.Event{Method: method, Host: "fuzz.test", Path: path, Status: status, PathParams: params, Endpoint: ref}
		inv.Observe(ev)
		c := inv.Resolve(ev.Endpoint)
		if len(segments(c.Path, nil)) != want {
			t.Fatalf("Resolve(%q) = %q", tmpl, c.Path)
		}
		// Resolving by the id and by the strings of the reference agree.
		byStrings := ref
		byStrings.ID = 0
		if s := inv.Resolve(byStrings); s != c {
			t.Fatalf("Resolve(%+v) = %+v by id, %+v by strings", ref, c, s)
		}
	})
}

func FuzzParseSpec(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.yaml")
	more, _ := filepath.Glob("testdata/*.json")
	for _, p := range append(files, more...) {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ParseSpec("fuzz.yaml", data)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "fuzz.yaml") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		if len(s.Hosts) == 0 {
			s.Hosts = []string{"fuzz.test"}
		}
		inv := New(DefaultConfig())
		if err := inv.AddSpec(s); err != nil {
			t.Fatal(err)
		}
		inv.Endpoints(t0)
	})
}

func FuzzBodySchema(f *testing.F) {
	for _, s := range []string{`{"a":1,"b":[1,2,{"c":null}],"d":"2024-01-01"}`, `[]`, `[{"x":true},{"x":"s"}]`, `{"a":`, `{} {}`, `"str"`} {
		f.Add([]byte(s))
	}
	bp := newBodyParser()
	f.Fuzz(func(t *testing.T, body []byte) {
		s := &schema{}
		if err := bp.parse(string(body), s); err != nil {
			return
		}
		acc := &schema{}
		acc.merge(s)
		acc.merge(s)
		_ = acc.jsonSchema()
		if s.types == 0 {
			t.Fatalf("parsed %q without a type", body)
		}
	})
}

// FuzzSegPattern: a declared segment pattern never panics, and a match
// gives back the segment: the literal pieces with the values between them.
func FuzzSegPattern(f *testing.F) {
	for _, s := range [][2]string{{"{name}:cancel", "op-7:cancel"}, {"{id}.json", "42.json"}, {"{a}-{b}", "x-y-z"}, {"{lat},{lon}", "1,2"}, {"v{v}", "v"}, {"{a}{b}", "ab"}, {"{x", "{x"}, {"pre{a}mid{b}post", "preXmidYpost"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, decl, seg string) {
		p := parseSegPattern(decl)
		if p == nil {
			return
		}
		if len(p.lits) != len(p.names)+1 {
			t.Fatalf("%q: %d pieces for %d names", decl, len(p.lits), len(p.names))
		}
		vals := p.match(seg, nil)
		if vals == nil {
			return
		}
		if len(vals) != len(p.names) {
			t.Fatalf("%q.match(%q): %d values for %d names", decl, seg, len(vals), len(p.names))
		}
		var b strings.Builder
		b.WriteString(p.lits[0])
		for i, v := range vals {
			if v == "" {
				t.Fatalf("%q.match(%q): empty value %d", decl, seg, i)
			}
			b.WriteString(v)
			b.WriteString(p.lits[i+1])
		}
		if b.String() != seg {
			t.Fatalf("%q.match(%q) = %q: rebuilds %q", decl, seg, vals, b.String())
		}
	})
}
