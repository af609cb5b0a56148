package inventory

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/testutil"
)

// Replay of the Postman collections of the evaluation set as traffic:
// every request of a collection is sent `rounds` times with fresh ids in
// its path variables. The learned templates are compared with the truth:
// the declared spec path the request matches (crAPI, VAmPI) or, for
// requests the spec does not declare and for vAPI (no spec), the
// collection's own path with its variables as parameters.

type pmRequest struct {
	method string
	url    string // with {{vars}} and :vars
	body   string
	header map[string]string
}

type pmItem struct {
	Item    []pmItem `json:"item"`
	Request *struct {
		Method string          `json:"method"`
		URL    json.RawMessage `json:"url"`
		Header []struct {
			Key, Value string
		} `json:"header"`
		Body *struct {
			Raw string `json:"raw"`
		} `json:"body"`
	} `json:"request"`
}

func loadCollection(t *testing.T, path string) []pmRequest {
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Item       []pmItem `json:"item"`
		Collection *struct {
			Item []pmItem `json:"item"`
		} `json:"collection"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	items := doc.Item
	if doc.Collection != nil {
		items = doc.Collection.Item
	}
	var out []pmRequest
	var walk func([]pmItem)
	walk = func(list []pmItem) {
		for _, it := range list {
			walk(it.Item)
			if it.Request == nil {
				continue
			}
			r := pmRequest{method: it.Request.Method, header: map[string]string{}}
			var raw string
			if err := json.Unmarshal(it.Request.URL, &raw); err != nil {
				var u struct{ Raw string }
				if err := json.Unmarshal(it.Request.URL, &u); err != nil {
					t.Fatalf("%s: request url: %v", path, err)
				}
				raw = u.Raw
			}
			r.url = raw
			for _, hd := range it.Request.Header {
				r.header[strings.ToLower(hd.Key)] = hd.Value
			}
			if it.Request.Body != nil {
				r.body = it.Request.Body.Raw
			}
			out = append(out, r)
		}
	}
	walk(items)
	return out
}

var (
	pmVar      = regexp.MustCompile(`\{\{([^}]+)\}\}`)
	pmPathVar  = regexp.MustCompile(`/:([A-Za-z_][A-Za-z0-9_]*)`)
	firstNames = []string{"alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "niaj",
		"olivia", "peggy", "rupert", "sybil", "trent", "victor", "walter", "yolanda", "name1", "name2", "admin", "oscar",
		"pat", "quinn", "ruth", "sam", "tina", "uma", "vera", "wade", "xena", "yuri", "zoe", "arthur", "bella", "carlos", "diana", "eve"}
)

// value invents a concrete value for a collection variable.
func value(name string, rng *rand.Rand) string {
	n := strings.ToLower(name)
	switch {
	case n == "url":
		return "http://localhost:8888"
	case n == "url_mail":
		return "http://localhost:8025"
	case n == "baseurl":
		return "http://localhost:5000"
	case n == "host":
		return "localhost"
	case strings.Contains(n, "vehicle"):
		return fmt.Sprintf("%08x-%04x-4%03x-a%03x-%012x", rng.Uint32(), rng.IntN(1<<16), rng.IntN(1<<12), rng.IntN(1<<12), rng.Uint64()&(1<<48-1))
	case n == "post_id":
		const abc = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
		b := make([]byte, 22)
		for i := range b {
			b[i] = abc[rng.IntN(len(abc))]
		}
		return string(b)
	case n == "username":
		return firstNames[rng.IntN(len(firstNames))]
	case n == "book_title":
		return fmt.Sprintf("bookTitle%d", rng.IntN(100))
	case strings.Contains(n, "email"):
		return fmt.Sprintf("user%d@example.test", rng.IntN(1000))
	case strings.HasSuffix(n, "id") || strings.HasSuffix(n, "_id"):
		return fmt.Sprint(1 + rng.IntN(100000))
	}
	return fmt.Sprintf("v%d", rng.IntN(1000))
}

// truthTemplate: collection path with variables as parameters.
func collectionTemplate(raw string) string {
	p := pmVar.ReplaceAllStringFunc(raw, func(v string) string {
		name := v[2 : len(v)-2]
		switch strings.ToLower(name) {
		case "url", "url_mail", "baseurl", "host":
			return ""
		}
		return "{}"
	})
	p = pmPathVar.ReplaceAllString(p, "/{}")
	p = strings.TrimPrefix(strings.TrimPrefix(p, "http://"), "https://")
	if i := strings.IndexByte(p, '?'); i >= 0 {
		p = p[:i]
	}
	return "/" + strings.Join(segments(p, nil), "/")
}

var anyParam = regexp.MustCompile(`\{[^}]*\}`)

func norm(t string) string { return anyParam.ReplaceAllString(t, "{}") }

// specMatcher finds the declared template of a concrete path (most static
// segments wins).
type specMatcher struct {
	ops []struct {
		method, tmpl string
		re           *regexp.Regexp
		static       int
	}
}

func newSpecMatcher(s *Spec) *specMatcher {
	m := &specMatcher{}
	for _, op := range s.Ops {
		segs := segments(op.Path, nil)
		var b strings.Builder
		static := 0
		for _, sg := range segs {
			if isTemplateSeg(sg) {
				b.WriteString("/[^/]+")
			} else {
				b.WriteString("/" + regexp.QuoteMeta(sg))
				static++
			}
		}
		m.ops = append(m.ops, struct {
			method, tmpl string
			re           *regexp.Regexp
			static       int
		}{op.Method, norm("/" + strings.Join(segs, "/")), regexp.MustCompile("^" + b.String() + "$"), static})
	}
	return m
}

func (m *specMatcher) match(method, path string) (string, bool) {
	best, bs := "", -1
	for _, op := range m.ops {
		if op.method == method && op.re.MatchString(path) && op.static > bs {
			best, bs = op.tmpl, op.static
		}
	}
	return best, bs >= 0
}

type replayResult struct {
	precision, recall, accuracy float64
	early                       float64 // templates as assigned at enrichment time
	learned, truth              int
	wrong                       []string
}

func replay(t *testing.T, collection, specFile string, rounds int, withSpec bool) replayResult {
	reqs := loadCollection(t, collection)
	var spec *Spec
	var sm *specMatcher
	if specFile != "" {
		s, err := LoadSpec(specFile)
		if err != nil {
			t.Fatal(err)
		}
		spec, sm = s, newSpecMatcher(s)
	}
	inv := New(DefaultConfig())
	if withSpec && spec != nil {
		if err := inv.AddSpec(spec); err != nil {
			t.Fatal(err)
		}
	}
	f := newFeeder(t, inv)
	rng := rand.New(rand.NewPCG(1, uint64(rounds)))
	type sent struct{ host, method, tmpl, truth string }
	var log []sent
	for r := 0; r < rounds; r++ {
		for _, q := range reqs {
			u := pmVar.ReplaceAllStringFunc(q.url, func(v string) string { return value(v[2:len(v)-2], rng) })
			u = pmPathVar.ReplaceAllStringFunc(u, func(v string) string { return "/" + value(v[2:], rng) })
			if !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
				u = "http://" + u
			}
			body := pmVar.ReplaceAllStringFunc(q.body, func(v string) string { return value(v[2:len(v)-2], rng) })
			hdr := map[string]string{}
			for k, v := range q.header {
				hdr[k] = pmVar.ReplaceAllStringFunc(v, func(v string) string { return value(v[2:len(v)-2], rng) })
			}
			ev := f.send(req{method: q.method, url: u, body: body, headers: hdr, client: fmt.Sprintf("198.51.100.%d", r%5+1)})
			truth := collectionTemplate(q.url)
			if sm != nil {
				if tm, ok := sm.match(ev.Method, ev.Path); ok {
					truth = tm
				}
			}
			log = append(log, sent{ev.Host, ev.Method, ev.Endpoint.Path, truth})
		}
	}
	learned, truths := map[string]bool{}, map[string]bool{}
	correct, early := 0, 0
	var res replayResult
	for _, s := range log {
		final := inv.Resolve(model.EndpointRef{Host: s.host, Method: s.method, Path: s.tmpl})
		got := s.method + " " + s.host + norm(final.Path)
		want := s.method + " " + s.host + s.truth
		learned[got], truths[want] = true, true
		if got == want {
			correct++
		}
		if norm(s.tmpl) == s.truth {
			early++
		}
	}
	inter := 0
	for k := range learned {
		if truths[k] {
			inter++
		} else {
			res.wrong = append(res.wrong, k)
		}
	}
	sort.Strings(res.wrong)
	res.learned, res.truth = len(learned), len(truths)
	res.precision = float64(inter) / float64(len(learned))
	res.recall = float64(inter) / float64(len(truths))
	res.accuracy = float64(correct) / float64(len(log))
	res.early = float64(early) / float64(len(log))
	return res
}

func TestReplayPostmanCollections(t *testing.T) {
	base := testutil.EvalDir(t, "openapi")
	cases := []struct {
		name, collection, spec  string
		rounds                  int
		withSpec                bool
		minPrecision, minRecall float64
	}{
		{"crapi", "crapi/crAPI.postman_collection.json", "crapi/crapi-openapi-spec.json", 8, false, 1, 1},
		{"crapi", "crapi/crAPI.postman_collection.json", "crapi/crapi-openapi-spec.json", 8, true, 1, 1},
		{"vampi", "vampi/VAmPI.postman_collection.json", "vampi/openapi3.yml", 8, false, 0.6, 0.9}, // 8 book titles: below the cardinality threshold
		{"vampi", "vampi/VAmPI.postman_collection.json", "vampi/openapi3.yml", 32, false, 0.9, 0.9},
		{"vampi", "vampi/VAmPI.postman_collection.json", "vampi/openapi3.yml", 8, true, 1, 1},
		{"vapi", "vapi/vAPI.postman_collection.json", "", 8, false, 1, 1},
	}
	for _, c := range cases {
		spec := ""
		if c.spec != "" {
			spec = filepath.Join(base, c.spec)
		}
		r := replay(t, filepath.Join(base, c.collection), spec, c.rounds, c.withSpec)
		t.Logf("%-6s rounds=%-3d spec=%-5v templates learned=%-3d truth=%-3d precision=%.3f recall=%.3f request-accuracy=%.3f (at enrichment %.3f) wrong=%v",
			c.name, c.rounds, c.withSpec, r.learned, r.truth, r.precision, r.recall, r.accuracy, r.early, r.wrong)
		if r.precision < c.minPrecision || r.recall < c.minRecall {
			t.Errorf("%s rounds=%d spec=%v: precision %.3f recall %.3f below %.2f/%.2f", c.name, c.rounds, c.withSpec, r.precision, r.recall, c.minPrecision, c.minRecall)
		}
	}
}
