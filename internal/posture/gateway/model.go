// Package gateway is Palisade's static audit of API gateway and
// infrastructure configuration: Kong declarative configuration (decK),
// NGINX (with includes), Envoy (static bootstrap and admin /config_dump),
// Kubernetes Ingress and Gateway API manifests, Azure API Management
// (ARM/Bicep JSON with policy XML) and AWS API Gateway (OpenAPI with
// x-amazon-apigateway-* extensions, or CloudFormation).
//
// Each format is parsed into one normalized model (Config: routes with
// their hosts, paths, methods, backends, policies, plus consumers and
// inline secrets), every element carrying its source position. The rules
// (rules.go) run on that model only, so they are the same for every format;
// Join (join.go) confronts the routes with what traffic showed.
package gateway

import (
	"fmt"
	"strings"
)

// Kinds of configuration.
const (
	KindKong    = "kong"
	KindNGINX   = "nginx"
	KindEnvoy   = "envoy"
	KindK8s     = "kubernetes"
	KindAPIM    = "azure-apim"
	KindAWS     = "aws-apigateway"
	KindOpenAPI = "openapi" // not a gateway: audited by specaudit
)

// Kinds lists the gateway kinds (for --kind).
var Kinds = []string{KindKong, KindNGINX, KindEnvoy, KindK8s, KindAPIM, KindAWS}

// Pos is a source position (1-based line and column; Pointer is a JSON
// pointer for YAML/JSON formats, a directive path for NGINX).
type Pos struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Pointer string `json:"pointer,omitempty"`
}

func (p Pos) String() string {
	if p.Column > 0 {
		return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Column)
	}
	return fmt.Sprintf("%s:%d", p.File, p.Line)
}

// Valid reports a located position.
func (p Pos) Valid() bool { return p.File != "" && p.Line > 0 }

// Config is one gateway configuration, normalized.
type Config struct {
	File  string   // the file given
	Kind  string   // one of Kinds
	Files []string // every file read (NGINX includes)
	Pos   Pos      // the document root

	Routes    []*Route
	Consumers []*Consumer
	Secrets   []Secret
	// Admin lists administrative interfaces the configuration exposes
	// outside any route (Envoy's admin listener, Kong's admin_listen).
	Admin []Admin
	// Logging and Mirror are configuration-wide (NGINX http-level
	// access_log, Kong global plugins, Envoy HCM access logs, APIM
	// diagnostics, API Gateway stage access logs); routes inherit them
	// through Route.Logging/Mirror already.
	Logging []Policy
	Mirror  []Policy

	// Notes say what was not read or resolved (unresolved includes,
	// unsupported resources), counted: shown per file in the text output.
	Notes []string
}

// Route is one published route: what the gateway matches and what it
// applies to matching requests. Policies inherited from an enclosing scope
// (NGINX server/http block, Kong service or global plugin, APIM API or
// product policy) are resolved into the route with their own position.
type Route struct {
	Name    string
	Pos     Pos
	Hosts   []Host // empty: any host (see AnyHost)
	AnyHost bool   // matches every Host header (no host restriction, "*", server_name _)
	// HostsPos locates the host condition shared by sibling routes (NGINX
	// server, Envoy virtual host, Ingress rule); Pos when unset.
	HostsPos Pos
	// HostUnknown: the file does not say which hosts serve the route (an
	// API Gateway API answers on its own execute-api and custom domains):
	// it matches any host when joined with traffic, and is not a wildcard.
	HostUnknown bool
	Paths       []PathMatch
	Methods     []string // upper case; empty: every method

	Backends []Backend

	Auth       []Policy // authentication policies in force
	AuthOff    *Policy  // explicitly anonymous (e.g. auth_basic off, anonymous consumer)
	ACL        []Policy // consumer/group authorization (Kong acl) on top of Auth
	IPAllow    []Policy // network restrictions (allow/deny, ip-restriction, ip-filter)
	RateLimit  []Policy
	SizeLimit  []Policy // request body size limit in force
	SizeUnlim  *Policy  // explicitly unlimited (client_max_body_size 0)
	CORS       []CORS
	Logging    []Policy
	LoggingOff *Policy // access logging explicitly off here
	Mirror     []Policy
	Headers    map[string]Pos // response headers the gateway adds (lower-case names)

	Deprecated *Policy // marked deprecated/legacy by the configuration
	Version    string  // API version the route serves ("v1"), from path or metadata
	VersionPos Pos
	API        string // API/service the route belongs to (grouping for versions)

	// DefaultPolicies records which of the rule-relevant behaviours come
	// from the product's defaults rather than the file (e.g. NGINX's 1 MB
	// body limit): name -> explanation.
	Defaults map[string]string
}

// Host is a host the route matches.
type Host struct {
	Value string
	Pos   Pos
}

// Path match kinds.
const (
	MatchPrefix = "prefix"
	MatchExact  = "exact"
	MatchRegex  = "regex"
)

// PathMatch is one path condition.
type PathMatch struct {
	Value      string
	Kind       string // prefix, exact, regex
	IgnoreCase bool
	// Anchor says how a regex applies: "" searches anywhere (NGINX),
	// "start" anchors at the start (Kong), "full" matches the whole path
	// (Envoy safe_regex, Gateway API).
	Anchor string
	Pos    Pos
}

// Backend is where the route sends requests.
type Backend struct {
	URL       string // as configured (may be an upstream name)
	Scheme    string // http, https, grpc, grpcs, unix, ... ("" unknown)
	Host      string
	Port      string
	Pos       Pos
	TLSVerify string // "on", "off", "default-off" (product default does not verify), "" (n/a or unknown)
	VerifyPos Pos
}

// Policy is a configured behaviour with where it is set.
type Policy struct {
	Kind   string // e.g. "key-auth", "jwt", "limit_req", "access_log"
	Detail string // e.g. the log target, the limit
	Pos    Pos
	// Inherited names the scope it comes from when not set on the route
	// itself ("server", "http", "service", "global", "api", "product").
	Inherited string
	// Ingestible marks an access log or mirror Palisade can read (JSON
	// access log, traffic mirror, HTTP log to a collector).
	Ingestible bool
}

// CORS is a cross-origin policy.
type CORS struct {
	Origins     []string // "*" any; "$http_origin"/"reflect" reflect any
	Credentials bool
	Pos         Pos
}

// Consumer is a key, subscription or consumer with its scope.
type Consumer struct {
	Name     string
	Pos      Pos
	AllAPIs  bool   // scoped to every API / route
	ScopePos Pos    // where the scope is set
	Scope    string // the scope as configured
}

// Secret is an inline credential (the value is kept redacted only).
type Secret struct {
	What     string // e.g. "key-auth credential", "Authorization header"
	Redacted string
	Pos      Pos
}

// Admin is an administrative interface exposed by the configuration.
type Admin struct {
	What    string // e.g. "Envoy admin interface"
	Address string
	Pos     Pos
}

// newRoute initializes maps.
func newRoute(name string, pos Pos) *Route {
	return &Route{Name: name, Pos: pos, Headers: map[string]Pos{}, Defaults: map[string]string{}}
}

// Display names the route for messages.
func (r *Route) Display() string {
	var hosts []string
	for _, h := range r.Hosts {
		hosts = append(hosts, h.Value)
	}
	var paths []string
	for _, p := range r.Paths {
		s := p.Value
		switch p.Kind {
		case MatchExact:
			s = "=" + s
		case MatchRegex:
			s = "~" + s
		}
		paths = append(paths, s)
	}
	s := r.Name
	if len(hosts) > 0 || len(paths) > 0 {
		h := strings.Join(hosts, ",")
		if h == "" {
			h = "*"
		}
		p := strings.Join(paths, ",")
		if p == "" {
			p = "/"
		}
		if s != "" {
			s += " "
		}
		s += "(" + h + " " + p
		if len(r.Methods) > 0 {
			s += " " + strings.Join(r.Methods, ",")
		}
		s += ")"
	}
	if s == "" {
		s = "route"
	}
	return s
}

// PathStrings returns the path values (for evidence).
func (r *Route) PathStrings() []string {
	out := make([]string, 0, len(r.Paths))
	for _, p := range r.Paths {
		out = append(out, p.Value)
	}
	return out
}

// HostStrings returns the host values (for evidence).
func (r *Route) HostStrings() []string {
	out := make([]string, 0, len(r.Hosts))
	for _, h := range r.Hosts {
		out = append(out, h.Value)
	}
	return out
}
