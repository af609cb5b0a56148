package gateway

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/palisade-sec/palisade/internal/posture/yamltree"
)

// MaxFileBytes bounds one configuration file (64 MiB).
const MaxFileBytes = 64 << 20

// Error locates why a configuration could not be audited.
type Error = yamltree.Error

// Load reads and parses one configuration file. kind is one of Kinds, or ""
// to detect it from the content.
func Load(path, kind string) (*Config, error) {
	data, err := readBounded(path)
	if err != nil {
		return nil, err
	}
	return parse(path, data, kind, osFS{})
}

// Parse parses a configuration held in memory; name is used in locations.
// NGINX includes are not followed (they are reported as unresolved).
func Parse(name string, data []byte, kind string) (*Config, error) {
	return parse(name, data, kind, nil)
}

func readBounded(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &Error{File: path, Msg: err.Error()}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, &Error{File: path, Msg: err.Error()}
	}
	if len(data) > MaxFileBytes {
		return nil, &Error{File: path, Msg: fmt.Sprintf("file larger than %d bytes", MaxFileBytes)}
	}
	return data, nil
}

// fileSystem is what the NGINX loader reads includes through.
type fileSystem interface {
	ReadFile(path string) ([]byte, error)
	Glob(pattern string) ([]string, error)
}

type osFS struct{}

func (osFS) ReadFile(p string) ([]byte, error)     { return readBounded(p) }
func (osFS) Glob(pattern string) ([]string, error) { return filepath.Glob(pattern) }

func parse(name string, data []byte, kind string, fsys fileSystem) (cfg *Config, err error) {
	defer func() {
		// A bug in a format reader must never take the whole audit
		// down: report it against the file.
		if r := recover(); r != nil {
			cfg, err = nil, &Error{File: name, Msg: fmt.Sprintf("internal error reading the configuration: %v", r)}
		}
	}()
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, &Error{File: name, Msg: "empty file"}
	}
	var docs []*yamltree.Node
	if kind == "" {
		kind, docs, err = detect(name, data)
		if err != nil {
			return nil, err
		}
	} else if kind != KindNGINX {
		docs, err = yamltree.ParseAll(name, data, maxDocs)
		if err != nil {
			return nil, err
		}
	}
	switch kind {
	case KindNGINX:
		return parseNGINX(name, data, fsys)
	case KindKong:
		return parseKong(newDoc(name, docs[0]))
	case KindEnvoy:
		return parseEnvoy(newDoc(name, docs[0]))
	case KindK8s:
		return parseK8s(name, docs)
	case KindAPIM:
		return parseAPIM(newDoc(name, docs[0]))
	case KindAWS:
		return parseAWS(newDoc(name, docs[0]))
	case KindOpenAPI:
		return nil, &Error{File: name, Msg: "an OpenAPI document without x-amazon-apigateway extensions: audit it as a spec"}
	}
	return nil, &Error{File: name, Msg: fmt.Sprintf("unknown kind %q (want %s)", kind, strings.Join(Kinds, ", "))}
}

// maxDocs bounds the documents of one YAML stream.
const maxDocs = 10000

var nginxHint = regexp.MustCompile(`(?m)^\s*(http|server|events|location|upstream|stream|map|include|worker_processes|user|listen|server_name|proxy_pass|load_module|error_log|access_log)\b[^\n]*[{;]`)

// DetectKind names the kind of a configuration file (one of Kinds, or
// KindOpenAPI), or "" when it is none of them.
func DetectKind(name string, data []byte) string {
	k, _, err := detect(name, data)
	if err != nil {
		return ""
	}
	return k
}

// detect recognizes the format by content (never by file name alone).
func detect(name string, data []byte) (string, []*yamltree.Node, error) {
	docs, yerr := yamltree.ParseAll(name, data, maxDocs)
	if yerr == nil && len(docs) > 0 && docs[0].Kind == yamltree.MappingNode {
		if k := detectTree(docs, data); k != "" {
			return k, docs, nil
		}
	}
	if nginxHint.Match(data) && !yamltree.IsJSON(data) {
		return KindNGINX, nil, nil
	}
	if yerr != nil {
		return "", nil, &Error{File: name, Msg: "not a recognized configuration: " + yerr.Error()}
	}
	return "", nil, &Error{File: name, Msg: "not a recognized configuration (want Kong decK, NGINX, Envoy, Kubernetes Ingress/Gateway API, Azure API Management ARM, AWS API Gateway, or OpenAPI; or give --kind)"}
}

func detectTree(docs []*yamltree.Node, data []byte) string {
	top := docs[0]
	g := func(k string) *yamltree.Node { return yamltree.Get(top, k) }
	switch {
	case g("openapi") != nil || g("swagger") != nil:
		if bytes.Contains(data, []byte("x-amazon-apigateway-")) {
			return KindAWS
		}
		return KindOpenAPI
	case g("_format_version") != nil || g("_transform") != nil:
		return KindKong
	case g("static_resources") != nil || g("dynamic_resources") != nil || (g("admin") != nil && g("node") != nil):
		return KindEnvoy
	case g("configs") != nil && bytes.Contains(data, []byte("envoy.admin.v3.")):
		return KindEnvoy
	case g("AWSTemplateFormatVersion") != nil || (g("Resources") != nil && bytes.Contains(data, []byte("AWS::ApiGateway"))) || (g("Resources") != nil && bytes.Contains(data, []byte("AWS::Serverless::Api"))):
		return KindAWS
	case bytes.Contains(data, []byte("Microsoft.ApiManagement/")) && (g("resources") != nil || g("type") != nil || g("value") != nil):
		return KindAPIM
	}
	for _, d := range docs {
		if yamltree.Get(d, "apiVersion") != nil && yamltree.Get(d, "kind") != nil {
			return KindK8s
		}
	}
	if g("services") != nil && (g("consumers") != nil || g("plugins") != nil || g("upstreams") != nil) {
		return KindKong // decK without _format_version (Kong 1.x/2.x)
	}
	return ""
}

// doc is one YAML/JSON document with the pointers of its nodes.
type doc struct {
	file string
	root *yamltree.Node
	ptr  yamltree.Pointers
}

func newDoc(file string, root *yamltree.Node) *doc {
	return &doc{file: file, root: root, ptr: yamltree.BuildPointers(root)}
}

// pos locates node n (the root when nil).
func (d *doc) pos(n *yamltree.Node) Pos {
	if n == nil {
		n = d.root
	}
	return Pos{File: d.file, Line: n.Line, Column: n.Column, Pointer: d.ptr[n]}
}

// short aliases for the node helpers.
var (
	get   = yamltree.Get
	items = yamltree.Items
	str   = yamltree.Str
	strs  = yamltree.Strs
	pairs = yamltree.Pairs
	path  = yamltree.Path
)
