package discoveryeval

import (
	"encoding/hex"
	"encoding/json"
	"net/mail"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/inventory"
)

var uuidRe = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func f64(v float64) *float64 { return &v }

// TestPools: the values of each kind have the kind's shape, are distinct,
// never hold '/', and the generator falls back to free strings (with a
// note) where it says it does.
func TestPools(t *testing.T) {
	for _, c := range []struct {
		name     string
		spec     paramSpec
		n        int // expected pool size
		kind     Kind
		fallback bool // a note is expected
		check    func(t *testing.T, v string)
	}{
		{"int", paramSpec{kind: KindInt}, 40, KindInt, false, func(t *testing.T, v string) {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 || n > 1_000_000 {
				t.Errorf("int %q", v)
			}
		}},
		{"int range", paramSpec{kind: KindInt, min: f64(5), max: f64(9)}, 5, KindInt, false, func(t *testing.T, v string) {
			if n, err := strconv.Atoi(v); err != nil || n < 5 || n > 9 {
				t.Errorf("int in [5,9]: %q", v)
			}
		}},
		{"int min", paramSpec{kind: KindInt, min: f64(1000)}, 40, KindInt, false, func(t *testing.T, v string) {
			if n, err := strconv.Atoi(v); err != nil || n < 1000 {
				t.Errorf("int ≥ 1000: %q", v)
			}
		}},
		{"uuid", paramSpec{kind: KindUUID}, 40, KindUUID, false, func(t *testing.T, v string) {
			if !uuidRe.MatchString(v) {
				t.Errorf("uuid %q", v)
			}
			if _, err := hex.DecodeString(strings.ReplaceAll(v, "-", "")); err != nil {
				t.Errorf("uuid %q: %v", v, err)
			}
		}},
		{"date", paramSpec{kind: KindDate}, 40, KindDate, false, func(t *testing.T, v string) {
			if _, err := time.Parse("2006-01-02", v); err != nil {
				t.Errorf("date %q: %v", v, err)
			}
		}},
		{"date-time", paramSpec{kind: KindDateTime}, 40, KindDateTime, false, func(t *testing.T, v string) {
			if _, err := time.Parse(time.RFC3339, v); err != nil {
				t.Errorf("date-time %q: %v", v, err)
			}
		}},
		{"email", paramSpec{kind: KindEmail}, 40, KindEmail, false, func(t *testing.T, v string) {
			if a, err := mail.ParseAddress(v); err != nil || a.Address != v {
				t.Errorf("email %q: %v", v, err)
			}
		}},
		{"enum", paramSpec{kind: KindEnum, enum: []string{"json", "xml", "csv"}}, 3, KindEnum, false, func(t *testing.T, v string) {
			if v != "json" && v != "xml" && v != "csv" {
				t.Errorf("enum value %q", v)
			}
		}},
		{"example word", paramSpec{kind: KindExample, example: "octocat"}, 40, KindExample, false, sameShape("octocat")},
		{"example business id", paramSpec{kind: KindExample, example: "ORD-2024-0042"}, 40, KindExample, false, sameShape("ORD-2024-0042")},
		{"example mixed", paramSpec{kind: KindExample, example: "aB3_x.Y9:z"}, 40, KindExample, false, sameShape("aB3_x.Y9:z")},
		{"example hex", paramSpec{kind: KindExample, example: "5f3a9b2c-0d1e-4f5a-8b7c-9d0e1f2a3b4c"}, 40, KindExample, false, func(t *testing.T, v string) {
			sameShape("5f3a9b2c-0d1e-4f5a-8b7c-9d0e1f2a3b4c")(t, v)
			if _, err := hex.DecodeString(strings.ReplaceAll(v, "-", "")); err != nil {
				t.Errorf("a hexadecimal example's value %q is not hexadecimal", v)
			}
		}},
		{"example with slash", paramSpec{kind: KindExample, example: "projects/p1/zones/z1"}, 40, KindFree, true, isFree},
		{"example without letters", paramSpec{kind: KindExample, example: "--"}, 40, KindFree, true, isFree},
		{"pattern class", paramSpec{kind: KindPattern, pattern: `^[a-z]{3,8}$`}, 40, KindPattern, false, matches(`^[a-z]{3,8}$`)},
		{"pattern unanchored", paramSpec{kind: KindPattern, pattern: `[0-9]+`}, 40, KindPattern, false, matches(`^[0-9]+$`)},
		{"pattern prefix", paramSpec{kind: KindPattern, pattern: `^app-[0-9A-Za-z]{10}$`}, 40, KindPattern, false, matches(`^app-[0-9A-Za-z]{10}$`)},
		{"pattern hex sid", paramSpec{kind: KindPattern, pattern: `^MG[0-9a-fA-F]{32}$`}, 40, KindPattern, false, matches(`^MG[0-9a-fA-F]{32}$`)},
		{"pattern group", paramSpec{kind: KindPattern, pattern: `^se(-[a-z0-9]+)+$`}, 40, KindPattern, false, matches(`^se(-[a-z0-9]+)+$`)},
		{"pattern negated", paramSpec{kind: KindPattern, pattern: `^[^*#&+:<>?]+$`}, 40, KindPattern, false, matches(`^[^*#&+:<>?/]+$`)},
		{"pattern dot", paramSpec{kind: KindPattern, pattern: `.*\S.*`}, 40, KindPattern, false, matches(`\S`)},
		{"pattern huge repeat", paramSpec{kind: KindPattern, pattern: `^.{1,2097152}`}, 40, KindPattern, false, func(t *testing.T, v string) {
			if len(v) > 13 {
				t.Errorf("repetition not capped: %d bytes", len(v))
			}
		}},
		{"pattern word boundary", paramSpec{kind: KindPattern, pattern: `\bab\w+`}, 40, KindFree, true, isFree},
		{"pattern lookahead", paramSpec{kind: KindPattern, pattern: `^(?=.*[0-9])[a-z0-9]+$`}, 40, KindFree, true, isFree},
		{"pattern needs slash", paramSpec{kind: KindPattern, pattern: `^projects/[^/]+$`}, 40, KindFree, true, isFree},
		{"pattern only empty", paramSpec{kind: KindPattern, pattern: `^$`}, 40, KindFree, true, isFree},
		{"free", paramSpec{kind: KindFree}, 40, KindFree, false, isFree},
	} {
		t.Run(c.name, func(t *testing.T) {
			vals, kind, note := makePool(rngFor(1, c.name), c.spec, 40)
			if kind != c.kind {
				t.Errorf("kind %s, want %s (note %q)", kind, c.kind, note)
			}
			if (note != "") != c.fallback {
				t.Errorf("note %q, fallback expected: %v", note, c.fallback)
			}
			if len(vals) != c.n {
				t.Errorf("%d values, want %d: %q", len(vals), c.n, vals)
			}
			seen := map[string]bool{}
			for _, v := range vals {
				if seen[v] {
					t.Errorf("duplicate %q", v)
				}
				seen[v] = true
				if v == "" || strings.Contains(v, "/") {
					t.Errorf("value %q: empty or spans segments", v)
				}
				c.check(t, v)
			}
		})
	}
}

func TestIntDigitLengths(t *testing.T) {
	vals := intPool(rngFor(3, "x"), nil, nil, 40)
	lens := map[int]int{}
	for _, v := range vals {
		lens[len(v)]++
	}
	if len(lens) < 4 {
		t.Errorf("digit lengths %v: want a mix", lens)
	}
}

// sameShape: a mutation of ex keeps its length, its punctuation in place
// and the class (lower, upper, digit) of every character, and differs
// from it.
func sameShape(ex string) func(t *testing.T, v string) {
	class := func(c byte) byte {
		switch {
		case c >= 'a' && c <= 'z':
			return 'a'
		case c >= 'A' && c <= 'Z':
			return 'A'
		case c >= '0' && c <= '9':
			return '0'
		}
		return c
	}
	return func(t *testing.T, v string) {
		if len(v) != len(ex) {
			t.Errorf("%q: length %d, example %q has %d", v, len(v), ex, len(ex))
			return
		}
		for i := range len(v) {
			if class(v[i]) != class(ex[i]) {
				t.Errorf("%q: byte %d is %q, example %q has %q", v, i, v[i], ex, ex[i])
			}
		}
	}
}

func matches(re string) func(t *testing.T, v string) {
	r := regexp.MustCompile(re)
	return func(t *testing.T, v string) {
		if !r.MatchString(v) {
			t.Errorf("%q does not match %s", v, re)
		}
	}
}

var freeRe = regexp.MustCompile(`^[a-z]+(-[a-z]+|[0-9]{1,3})?$`)

func isFree(t *testing.T, v string) {
	letters := strings.Count(strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' {
			return 'x'
		}
		return -1
	}, v), "x")
	if !freeRe.MatchString(v) || letters < 4 || letters > 12 {
		t.Errorf("free value %q: want a lower-case word of 4–12 letters, maybe with a hyphen or digits", v)
	}
}

const genSpec = `{
  "openapi": "3.0.3",
  "info": {"title": "gen", "version": "1"},
  "paths": {
    "/items/{id}": {"get": {"parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}}], "responses": {"200": {"description": "ok"}}}},
    "/items/{id}/tags/{tag}": {"get": {"parameters": [
        {"name": "id", "in": "path", "required": true, "schema": {"type": "integer"}},
        {"name": "tag", "in": "path", "required": true, "schema": {"type": "string", "example": "Blue-7"}}], "responses": {"200": {"description": "ok"}}}},
    "/files/{name}.json": {"get": {"parameters": [{"name": "name", "in": "path", "required": true, "schema": {"type": "string", "pattern": "^[a-z]{4}$"}}], "responses": {"200": {"description": "ok"}}}},
    "/#X-Amz-Target=Svc.A": {"post": {"responses": {"200": {"description": "ok"}}}},
    "/#X-Amz-Target=Svc.B": {"post": {"responses": {"200": {"description": "ok"}}}},
    "/things/{a}": {"get": {"parameters": [{"name": "a", "in": "path", "required": true, "schema": {"type": "string"}}], "responses": {"200": {"description": "ok"}}}},
    "/things/{b}": {"get": {"parameters": [{"name": "b", "in": "path", "required": true, "schema": {"type": "string"}}], "responses": {"200": {"description": "ok"}}}},
    "/tags/{arn}#tagKeys": {"delete": {"parameters": [{"name": "arn", "in": "path", "required": true, "schema": {"type": "string"}}], "responses": {"200": {"description": "ok"}}}},
    "/search/{q}": {"get": {"responses": {"200": {"description": "ok"}}}},
    "/static": {"post": {"responses": {"200": {"description": "ok"}}}}
  }
}`

// TestGenerate: operations that no URL can tell apart are excluded and
// counted, the others get Requests requests each with values of their
// kinds, in time order over the span, and the same seed gives the same
// records (another seed other values).
func TestGenerate(t *testing.T) {
	spec, err := inventory.ParseSpec("gen.json", []byte(genSpec))
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Requests: 20, Values: 10, Seed: 7}
	recs, truths, ex := Generate(spec, "dir/gen.json", cfg)
	wantEx := map[string]int{ExclSameURL: 2, ExclSameShape: 2}
	if !reflect.DeepEqual(ex.Ops, wantEx) {
		t.Errorf("excluded %v, want %v", ex.Ops, wantEx)
	}
	if ex.Notes["template parameter not declared: free strings"] != 1 {
		t.Errorf("notes %v: want the undeclared {q}", ex.Notes)
	}
	if len(recs) != 6*20 || len(truths) != len(recs) {
		t.Fatalf("%d records, %d truths; want 120", len(recs), len(truths))
	}
	want := map[string][]Kind{
		"GET /items/{id}":            {KindInt},
		"GET /items/{id}/tags/{tag}": {KindInt, KindExample},
		"GET /files/{name}.json":     {KindPattern},
		"DELETE /tags/{arn}#tagKeys": {KindFree},
		"GET /search/{q}":            {KindFree},
		"POST /static":               nil,
	}
	shapes := map[string]*regexp.Regexp{
		"GET /items/{id}":            regexp.MustCompile(`^/items/[0-9]+$`),
		"GET /items/{id}/tags/{tag}": regexp.MustCompile(`^/items/([0-9]+)/tags/[A-Z][a-z]{3}-[0-9]$`),
		"GET /files/{name}.json":     regexp.MustCompile(`^/files/[a-z]{4}\.json$`),
		"DELETE /tags/{arn}#tagKeys": regexp.MustCompile(`^/tags/[a-z0-9-]+$`),
		"GET /search/{q}":            regexp.MustCompile(`^/search/[a-z0-9-]+$`),
		"POST /static":               regexp.MustCompile(`^/static$`),
	}
	perOp := map[string]int{}
	hosts := map[string]bool{}
	for i, tr := range truths {
		k := tr.Method + " " + tr.Path
		perOp[k]++
		if !reflect.DeepEqual(tr.Kinds, want[k]) {
			t.Errorf("%s: kinds %v, want %v", k, tr.Kinds, want[k])
		}
		if !shapes[k].MatchString(tr.URLPath) {
			t.Errorf("%s: path %q", k, tr.URLPath)
		}
		r := recs[i]
		if r.Request.URL != "https://gen.example.test"+tr.URLPath || r.Request.Method != tr.Method {
			t.Errorf("record %d: %s %s for %s %s", i, r.Request.Method, r.Request.URL, tr.Method, tr.URLPath)
		}
		if i > 0 && r.Time.Before(recs[i-1].Time) {
			t.Errorf("record %d out of time order", i)
		}
		if r.Time.Before(Start) || !r.Time.Before(Start.Add(Span)) {
			t.Errorf("record %d at %v: outside the span", i, r.Time)
		}
		if err := r.Validate(); err != nil {
			t.Errorf("record %d: %v", i, err)
		}
		hosts[r.Client.IP] = true
	}
	for k := range want {
		if perOp[k] != cfg.Requests {
			t.Errorf("%s: %d requests, want %d", k, perOp[k], cfg.Requests)
		}
	}
	if len(hosts) < 30 {
		t.Errorf("%d client addresses", len(hosts))
	}
	for _, tr := range truths {
		if tr.Path == "/tags/{arn}#tagKeys" && (tr.Template != "/tags/{arn}" || tr.Host != "gen.example.test" || tr.Spec != "gen.json") {
			t.Errorf("truth %+v: want template /tags/{arn} (fragment cut) on gen.example.test", tr)
		}
	}
	// Interleaved: the first 20 requests are not all of one operation.
	first := map[string]bool{}
	for _, tr := range truths[:20] {
		first[tr.Path] = true
	}
	if len(first) < 3 {
		t.Errorf("operations not interleaved: %v", first)
	}

	enc := func(cfg Config) string {
		spec, _ := inventory.ParseSpec("gen.json", []byte(genSpec))
		recs, truths, _ := Generate(spec, "other/dir/gen.json", cfg)
		b, err := json.Marshal(struct {
			R any
			T any
		}{recs, truths})
		if err != nil {
			t.Fatal(err)
		}
		return string(b)
	}
	if a, b := enc(cfg), enc(cfg); a != b {
		t.Error("the same seed gave different records")
	}
	other := cfg
	other.Seed++
	if enc(cfg) == enc(other) {
		t.Error("another seed gave the same records")
	}
}

func TestHostOf(t *testing.T) {
	spec := &inventory.Spec{}
	for file, want := range map[string]string{
		"specs/googleapis.com__sql.json": "googleapis-com-sql.example.test",
		"bhagavadgita.io.yaml":           "bhagavadgita-io.example.test",
		"__.json":                        "spec.example.test",
	} {
		if got := HostOf(spec, file); got != want {
			t.Errorf("HostOf(%s) = %s, want %s", file, got, want)
		}
	}
	spec.Hosts = []string{"api.example.com", "api2.example.com"}
	if got := HostOf(spec, "x.json"); got != "api.example.com" {
		t.Errorf("HostOf with servers = %s", got)
	}
}
