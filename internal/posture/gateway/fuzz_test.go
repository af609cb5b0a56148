package gateway

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tufanbarisyildirim/gonginx/parser"
)

// Every reader is fuzzed: any input gives a configuration or an *Error
// naming the file (and a line when the input has one), never a panic; the
// rules and the matcher run on whatever was read.

func seedDir(f *testing.F, dir, ext string) {
	matches, _ := filepath.Glob(filepath.Join("testdata", "rules", dir, "*"+ext))
	for _, m := range matches {
		if b, err := os.ReadFile(m); err == nil {
			f.Add(b)
		}
	}
}

func fuzzKind(f *testing.F, kind string) {
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		cfg, err := Parse("fuzz.in", data, kind)
		if err != nil {
			e, ok := err.(*Error)
			if !ok {
				t.Fatalf("error of type %T: %v", err, err)
			}
			if e.File != "fuzz.in" || e.Msg == "" {
				t.Fatalf("error without file or message: %+v", e)
			}
			return
		}
		fs, err := Audit(cfg, Options{})
		if err != nil {
			t.Fatalf("rule failure: %v", err)
		}
		for _, x := range fs {
			if x.Location == nil || x.Location.File == "" {
				t.Fatalf("finding without location: %+v", x)
			}
		}
		m := NewMatcher()
		for _, r := range cfg.Routes {
			m.MatchRoute(r, epRef("GET", "api.example.com", "/v1/users/{id}"))
		}
	})
}

func FuzzKong(f *testing.F) {
	seedDir(f, "kong", ".yaml")
	f.Add([]byte("_format_version: '3.0'\nservices: [{name: a, url: 'http://x', routes: [{paths: ['~/a(b']}]}]\n"))
	fuzzKind(f, KindKong)
}

func FuzzNGINX(f *testing.F) {
	seedDir(f, "nginx", ".conf")
	f.Add([]byte("http { server { location / { proxy_pass http://a; } }"))
	f.Add([]byte("location ~* \"^/a{2,}\" { content_by_lua_block { ngx.say('}') } }"))
	fuzzKind(f, KindNGINX)
}

func FuzzEnvoy(f *testing.F) {
	seedDir(f, "envoy", ".yaml")
	f.Add([]byte(`{"configs":[{"@type":"type.googleapis.com/envoy.admin.v3.RoutesConfigDump","static_route_configs":[{"route_config":{"name":"r"}}]}]}`))
	fuzzKind(f, KindEnvoy)
}

func FuzzKubernetes(f *testing.F) {
	seedDir(f, "k8s-ingress", ".yaml")
	seedDir(f, "k8s-gateway-api", ".yaml")
	fuzzKind(f, KindK8s)
}

func FuzzAPIM(f *testing.F) {
	seedDir(f, "azure-apim", ".json")
	f.Add([]byte(`{"resources":[{"type":"Microsoft.ApiManagement/service/apis/policies","name":"a/b/policy","properties":{"value":"<policies><inbound><cors><allowed-origins><origin>*</origin>"}}]}`))
	fuzzKind(f, KindAPIM)
}

func FuzzAWS(f *testing.F) {
	seedDir(f, "aws-cloudformation", ".yaml")
	f.Add([]byte("openapi: 3.0.0\npaths:\n  /a/{proxy+}:\n    x-amazon-apigateway-any-method:\n      x-amazon-apigateway-integration: {type: http_proxy, uri: 'http://x'}\n"))
	fuzzKind(f, KindAWS)
}

// FuzzDetect: detection never panics and its verdict parses or fails
// cleanly.
func FuzzDetect(f *testing.F) {
	for _, d := range []string{"kong", "nginx", "envoy", "azure-apim"} {
		seedDir(f, d, "")
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		k := DetectKind("fuzz.in", data)
		if k == "" || k == KindOpenAPI {
			return
		}
		_, _ = Parse("fuzz.in", data, k)
	})
}

// FuzzStatementStarts checks the position scanner against gonginx: every
// directive it pairs starts no later than the line gonginx ends it on,
// with the same name, and positions are inside the input.
func FuzzStatementStarts(f *testing.F) {
	seedDir(f, "nginx", ".conf")
	f.Add([]byte("a ${x}{b;}\nlocation /{ c \"d;}\"; }\n"))
	f.Add([]byte("x_by_lua_block { if a then b() end } y;"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<15 {
			return
		}
		starts := statementStarts(data)
		nlines := strings.Count(string(data), "\n") + 1
		for _, s := range starts {
			if s.line < 1 || s.line > nlines || s.col < 1 {
				t.Fatalf("start outside the input: %+v", s)
			}
		}
		p := parser.NewStringParser(string(data), parser.WithSkipValidDirectivesErr(), parser.WithSkipComments())
		c, err := func() (c any, err error) {
			defer func() {
				if recover() != nil {
					err = os.ErrInvalid
				}
			}()
			return p.Parse()
		}()
		if err != nil || c == nil {
			return
		}
		l := &ngxLoader{notes: map[string]int{}}
		nodes, err := l.parseFile("fuzz.conf", data)
		if err != nil {
			return
		}
		var walk func(ns []*ngxNode)
		walk = func(ns []*ngxNode) {
			for _, n := range ns {
				if n.pos.Line < 1 || n.pos.Line > nlines {
					t.Fatalf("%s at line %d outside the input (%d lines)", n.name, n.pos.Line, nlines)
				}
				walk(n.kids)
			}
		}
		walk(nodes)
	})
}
