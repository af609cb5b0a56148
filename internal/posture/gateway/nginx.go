package gateway

import (
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/tufanbarisyildirim/gonginx/config"
	"github.com/tufanbarisyildirim/gonginx/parser"
)

// Bounds of an NGINX tree.
const (
	maxNGINXFiles = 10000
	maxNGINXDepth = 32
)

// ngxNode is a directive of the NGINX tree with includes spliced in.
type ngxNode struct {
	name string
	args []string
	pos  Pos
	kids []*ngxNode
	// block reports a directive with a block ({...}), even empty.
	block bool
}

func (n *ngxNode) arg(i int) string {
	if i < len(n.args) {
		return n.args[i]
	}
	return ""
}

type ngxLoader struct {
	fs      fileSystem
	mainDir string
	absMain string
	files   map[string][]*ngxNode // by absolute path
	order   []string              // display names of files read
	stack   map[string]bool
	notes   map[string]int
}

var gonginxPosRe = regexp.MustCompile(`line (\d+)(?:, column (\d+))?`)

// parseNGINXFile parses one file (without following includes).
func (l *ngxLoader) parseFile(display string, data []byte) (nodes []*ngxNode, err error) {
	defer func() {
		if r := recover(); r != nil {
			nodes, err = nil, &Error{File: display, Msg: fmt.Sprintf("NGINX parser failure: %v", r)}
		}
	}()
	p := parser.NewStringParser(string(data), parser.WithSkipValidDirectivesErr(), parser.WithSkipComments())
	c, perr := p.Parse()
	if perr != nil {
		e := &Error{File: display, Msg: "NGINX syntax error: " + perr.Error()}
		if m := gonginxPosRe.FindStringSubmatch(perr.Error()); m != nil {
			e.Line, _ = strconv.Atoi(m[1])
			if m[2] != "" {
				e.Column, _ = strconv.Atoi(m[2])
			}
		} else if strings.Contains(perr.Error(), "eof") {
			e.Line = 1 + strings.Count(string(data), "\n")
			e.Msg = "NGINX syntax error: unexpected end of file (a block is not closed)"
		}
		return nil, e
	}
	if c == nil || c.Block == nil {
		return nil, nil
	}
	ps := &position{starts: statementStarts(data), at: map[config.IDirective]stmtStart{}}
	top := blockChildren(c.Block)
	ps.walk(top, 0)
	var conv func(ds []config.IDirective, depth int) []*ngxNode
	conv = func(ds []config.IDirective, depth int) []*ngxNode {
		if depth > 200 {
			return nil
		}
		out := make([]*ngxNode, 0, len(ds))
		for _, d := range ds {
			line, col := ps.locate(d)
			n := &ngxNode{name: d.GetName(), pos: Pos{File: display, Line: line, Column: col}}
			for _, a := range d.GetParameters() {
				n.args = append(n.args, unquoteNGINX(a.Value))
			}
			if d.GetBlock() != nil {
				n.block = true
				n.kids = conv(children(d), depth+1)
			}
			out = append(out, n)
		}
		return out
	}
	return conv(top, 0), nil
}

func unquoteNGINX(s string) string {
	if len(s) >= 2 && (s[0] == '"' && s[len(s)-1] == '"' || s[0] == '\'' && s[len(s)-1] == '\'') {
		return s[1 : len(s)-1]
	}
	return s
}

// expand splices included files into the tree (depth-first, cycles and
// bounds enforced, unresolved includes noted).
func (l *ngxLoader) expand(nodes []*ngxNode, depth int) ([]*ngxNode, error) {
	out := make([]*ngxNode, 0, len(nodes))
	for _, n := range nodes {
		if n.name == "include" && !n.block && len(n.args) == 1 {
			inc, err := l.include(n, depth)
			if err != nil {
				return nil, err
			}
			out = append(out, inc...)
			continue
		}
		if len(n.kids) > 0 {
			k, err := l.expand(n.kids, depth)
			if err != nil {
				return nil, err
			}
			n.kids = k
		}
		out = append(out, n)
	}
	return out, nil
}

func (l *ngxLoader) include(n *ngxNode, depth int) ([]*ngxNode, error) {
	pat := n.args[0]
	if l.fs == nil {
		l.notes["include not followed (configuration read from memory)"]++
		return nil, nil
	}
	if depth >= maxNGINXDepth {
		return nil, &Error{File: n.pos.File, Line: n.pos.Line, Column: n.pos.Column, Msg: fmt.Sprintf("include nested deeper than %d levels", maxNGINXDepth)}
	}
	var candidates []string
	if filepath.IsAbs(pat) {
		// Configurations copied out of /etc/nginx (fixtures, a repository
		// holding the server's configuration) include /etc/nginx/...:
		// look next to the main file first.
		if rest, ok := strings.CutPrefix(pat, "/etc/nginx/"); ok && filepath.Clean(l.absMain) != "/etc/nginx" {
			candidates = append(candidates, filepath.Join(l.mainDir, rest))
		}
		candidates = append(candidates, pat)
	} else {
		candidates = append(candidates, filepath.Join(l.mainDir, pat))
	}
	var matches []string
	for _, c := range candidates {
		m, err := l.fs.Glob(c)
		if err != nil {
			return nil, &Error{File: n.pos.File, Line: n.pos.Line, Column: n.pos.Column, Msg: fmt.Sprintf("include %s: %v", pat, err)}
		}
		if len(m) > 0 {
			matches = m
			break
		}
	}
	if len(matches) == 0 {
		if !strings.ContainsAny(pat, "*?[") {
			l.notes["include matched no file: "+pat]++
		}
		return nil, nil
	}
	sort.Strings(matches)
	var out []*ngxNode
	for _, m := range matches {
		if strings.ContainsAny(pat, "*?[") && strings.HasPrefix(filepath.Base(m), ".") {
			continue
		}
		abs, err := filepath.Abs(m)
		if err != nil {
			abs = m
		}
		if l.stack[abs] {
			l.notes["include cycle skipped: "+m]++
			continue
		}
		nodes, ok := l.files[abs]
		if !ok {
			if len(l.files) >= maxNGINXFiles {
				return nil, &Error{File: n.pos.File, Line: n.pos.Line, Column: n.pos.Column, Msg: fmt.Sprintf("more than %d included files", maxNGINXFiles)}
			}
			data, err := l.fs.ReadFile(m)
			if err != nil {
				if e, ok := err.(*Error); ok {
					return nil, e
				}
				return nil, &Error{File: m, Msg: err.Error()}
			}
			nodes, err = l.parseFile(m, data)
			if err != nil {
				return nil, err
			}
			l.files[abs] = nodes
			l.order = append(l.order, m)
		} else {
			// The same file included twice: its directives are
			// repeated, as NGINX does, with the same positions.
			nodes = cloneNodes(nodes)
		}
		l.stack[abs] = true
		exp, err := l.expand(nodes, depth+1)
		delete(l.stack, abs)
		if err != nil {
			return nil, err
		}
		out = append(out, exp...)
	}
	return out, nil
}

func cloneNodes(ns []*ngxNode) []*ngxNode {
	out := make([]*ngxNode, len(ns))
	for i, n := range ns {
		c := *n
		c.kids = cloneNodes(n.kids)
		out[i] = &c
	}
	return out
}

func parseNGINX(name string, data []byte, fsys fileSystem) (*Config, error) {
	l := &ngxLoader{fs: fsys, mainDir: filepath.Dir(name), files: map[string][]*ngxNode{}, stack: map[string]bool{}, notes: map[string]int{}}
	l.absMain, _ = filepath.Abs(l.mainDir)
	nodes, err := l.parseFile(name, data)
	if err != nil {
		return nil, err
	}
	abs, _ := filepath.Abs(name)
	l.stack[abs] = true
	l.files[abs] = nodes
	l.order = append(l.order, name)
	nodes, err = l.expand(nodes, 0)
	if err != nil {
		return nil, err
	}
	cfg := &Config{File: name, Kind: KindNGINX, Files: l.order, Pos: Pos{File: name, Line: 1, Column: 1}}
	w := &ngxWalker{cfg: cfg, upstreams: map[string]*ngxNode{}, formats: map[string]bool{}}
	w.prepass(nodes, 0)
	root := &ngxScope{level: "main"}
	w.walk(nodes, root, nil, 0)
	for note, n := range l.notes {
		if n > 1 {
			note = fmt.Sprintf("%s (%d times)", note, n)
		}
		cfg.Notes = append(cfg.Notes, note)
	}
	sort.Strings(cfg.Notes)
	return cfg, nil
}

// ngxScope holds what a block inherits. NGINX's array-valued directives
// (add_header, access_log, limit_req, allow/deny, mirror) are inherited only
// when the current level defines none of them.
type ngxScope struct {
	level     string // main, http, server, location
	headers   []ngxHeader
	logs      []Policy
	logOff    *Policy
	limitReq  []Policy
	bodySize  *Policy
	auth      []Policy
	authOff   *Policy
	allow     []Policy
	mirror    []Policy
	sslVerify *Policy // proxy_ssl_verify
	hosts     []Host
	anyHost   bool
	tls       bool
	serverPos Pos
	server    bool
	methods   []string
}

type ngxHeader struct {
	name, value string
	pos         Pos
}

type ngxWalker struct {
	cfg       *Config
	upstreams map[string]*ngxNode
	formats   map[string]bool // log_format name -> JSON (Palisade-readable)
}

// prepass collects upstreams and log formats (they may follow their use).
func (w *ngxWalker) prepass(nodes []*ngxNode, depth int) {
	if depth > 200 {
		return
	}
	for _, n := range nodes {
		switch n.name {
		case "upstream":
			if len(n.args) > 0 {
				w.upstreams[n.args[0]] = n
			}
		case "log_format":
			if len(n.args) > 0 {
				body := strings.Join(n.args[1:], " ")
				w.formats[n.args[0]] = strings.Contains(body, "escape=json") || strings.HasPrefix(strings.TrimSpace(strings.Join(n.args[1:], "")), "escape=json") || (strings.Contains(body, "{") && strings.Contains(body, `"`))
			}
		}
		w.prepass(n.kids, depth+1)
	}
}

var authVarRe = regexp.MustCompile(`\$(http_authorization|http_x_api_key|http_apikey|http_api_key|arg_api_key|arg_apikey|arg_token|http_x_auth_token|cookie_session|ssl_client_verify|jwt_claim_\w+|http_x_token)\b`)

// scope derives a child scope from its parent and the block's directives.
func (w *ngxWalker) scope(parent *ngxScope, nodes []*ngxNode, level string) *ngxScope {
	s := *parent
	s.level = level
	inh := func(p []Policy) []Policy {
		out := make([]Policy, len(p))
		for i, x := range p {
			if x.Inherited == "" {
				x.Inherited = parent.level
			}
			out[i] = x
		}
		return out
	}
	s.logs, s.limitReq, s.allow, s.mirror, s.auth = inh(parent.logs), inh(parent.limitReq), inh(parent.allow), inh(parent.mirror), inh(parent.auth)
	s.headers = append([]ngxHeader(nil), parent.headers...)
	var headers []ngxHeader
	var logs, limits, allows, mirrors []Policy
	hasHeaders, hasLogs, hasLimits, hasAllow, hasMirror := false, false, false, false, false
	for _, n := range nodes {
		switch n.name {
		case "add_header", "more_set_headers":
			hasHeaders = true
			if n.name == "add_header" && len(n.args) >= 1 {
				headers = append(headers, ngxHeader{name: strings.ToLower(n.arg(0)), value: n.arg(1), pos: n.pos})
			} else {
				for _, a := range n.args {
					if strings.HasPrefix(a, "-") {
						continue
					}
					k, v, _ := strings.Cut(a, ":")
					headers = append(headers, ngxHeader{name: strings.ToLower(strings.TrimSpace(k)), value: strings.TrimSpace(v), pos: n.pos})
				}
			}
		case "access_log":
			hasLogs = true
			if n.arg(0) == "off" {
				p := Policy{Kind: "access_log off", Pos: n.pos}
				s.logOff = &p
				continue
			}
			format := "combined"
			if len(n.args) > 1 && !strings.Contains(n.args[1], "=") {
				format = n.args[1]
			}
			logs = append(logs, Policy{Kind: "access_log", Detail: n.arg(0) + " format=" + format, Pos: n.pos, Ingestible: w.formats[format]})
		case "limit_req":
			hasLimits = true
			limits = append(limits, Policy{Kind: "limit_req", Detail: strings.Join(n.args, " "), Pos: n.pos})
		case "client_max_body_size":
			p := Policy{Kind: "client_max_body_size", Detail: n.arg(0), Pos: n.pos}
			s.bodySize = &p
		case "auth_basic", "auth_request", "auth_jwt", "auth_oidc", "auth_digest", "auth_pam", "auth_ldap", "auth_gss", "auth_spnego":
			if n.arg(0) == "off" {
				p := Policy{Kind: n.name + " off", Pos: n.pos}
				s.authOff = &p
				s.auth = removeKind(s.auth, n.name)
				continue
			}
			s.authOff = nil
			s.auth = append(removeKind(s.auth, n.name), Policy{Kind: n.name, Detail: n.arg(0), Pos: n.pos})
		case "access_by_lua", "access_by_lua_block", "access_by_lua_file", "rewrite_by_lua_file":
			if n.name != "rewrite_by_lua_file" {
				s.auth = append(removeKind(s.auth, "access_by_lua"), Policy{Kind: "access_by_lua", Detail: "custom Lua access phase", Pos: n.pos})
			}
		case "ssl_verify_client":
			if n.arg(0) == "on" {
				s.auth = append(s.auth, Policy{Kind: "ssl_verify_client", Detail: "mutual TLS", Pos: n.pos})
			}
		case "if":
			// if ($http_authorization = "") { return 401; }
			cond := strings.Join(n.args, " ")
			if authVarRe.MatchString(cond) {
				for _, k := range n.kids {
					if k.name == "return" && (k.arg(0) == "401" || k.arg(0) == "403") {
						s.auth = append(s.auth, Policy{Kind: "if-check", Detail: cond, Pos: n.pos})
					}
				}
			}
		case "allow", "deny":
			hasAllow = true
			allows = append(allows, Policy{Kind: n.name, Detail: n.arg(0), Pos: n.pos})
		case "mirror":
			hasMirror = true
			if n.arg(0) == "off" {
				continue
			}
			mirrors = append(mirrors, Policy{Kind: "mirror", Detail: n.arg(0), Pos: n.pos, Ingestible: true})
		case "proxy_ssl_verify", "grpc_ssl_verify", "uwsgi_ssl_verify":
			p := Policy{Kind: n.name, Detail: n.arg(0), Pos: n.pos}
			s.sslVerify = &p
		case "limit_except":
			s.methods = nil
			for _, m := range n.args {
				s.methods = append(s.methods, strings.ToUpper(m))
			}
		}
	}
	if hasHeaders {
		s.headers = headers
	}
	if hasLogs {
		s.logs = logs
		if len(logs) > 0 {
			s.logOff = nil
		}
	}
	if hasLimits {
		s.limitReq = limits
	}
	if hasAllow {
		s.allow = allows
	}
	if hasMirror {
		s.mirror = mirrors
	}
	return &s
}

func removeKind(ps []Policy, kind string) []Policy {
	out := ps[:0:0]
	for _, p := range ps {
		if p.Kind != kind {
			out = append(out, p)
		}
	}
	return out
}

var passDirectives = map[string]string{"proxy_pass": "", "grpc_pass": "grpc", "fastcgi_pass": "fastcgi", "uwsgi_pass": "uwsgi", "scgi_pass": "scgi", "memcached_pass": "memcached"}

func (w *ngxWalker) walk(nodes []*ngxNode, sc *ngxScope, loc *ngxNode, depth int) {
	if depth > 64 {
		return
	}
	w.secrets(nodes)
	for _, n := range nodes {
		switch n.name {
		case "http":
			hs := w.scope(sc, n.kids, "http")
			if hs.logOff == nil && len(hs.logs) == 0 {
				hs.logs = []Policy{{Kind: "access_log", Detail: "logs/access.log format=combined (NGINX default)", Pos: n.pos, Inherited: "default"}}
			}
			w.cfg.Logging = append(w.cfg.Logging, hs.logs...)
			w.cfg.Mirror = append(w.cfg.Mirror, hs.mirror...)
			w.walk(n.kids, hs, nil, depth+1)
		case "server":
			if !n.block || sc.level == "upstream" {
				continue
			}
			ss := w.scope(sc, n.kids, "server")
			ss.server = true
			ss.serverPos = n.pos
			ss.hosts, ss.anyHost, ss.tls = nil, false, false
			names := 0
			for _, k := range n.kids {
				switch k.name {
				case "server_name":
					for _, a := range k.args {
						names++
						if a == "_" || a == "" || a == "*" {
							ss.anyHost = true
							continue
						}
						ss.hosts = append(ss.hosts, Host{Value: strings.ToLower(a), Pos: k.pos})
					}
				case "listen":
					for _, a := range k.args {
						if a == "ssl" || a == "quic" {
							ss.tls = true
						}
						if a == "default_server" || a == "default" {
							ss.anyHost = true
						}
					}
				}
			}
			if names == 0 {
				ss.anyHost = true
			}
			before := len(w.cfg.Routes)
			w.walk(n.kids, ss, nil, depth+1)
			if len(w.cfg.Routes) == before {
				// A server that proxies at server level.
				if r := w.route(n, n.kids, ss, "/", ""); r != nil {
					w.cfg.Routes = append(w.cfg.Routes, r)
				}
			}
		case "location":
			if len(n.args) == 0 {
				continue
			}
			mod, match := "", n.args[0]
			if len(n.args) > 1 {
				mod, match = n.args[0], n.args[1]
			}
			if strings.HasPrefix(match, "@") {
				continue // named location: internal redirects only
			}
			internal := false
			for _, k := range n.kids {
				if k.name == "internal" {
					internal = true
				}
			}
			if internal {
				continue
			}
			ls := w.scope(sc, n.kids, "location")
			w.walk(n.kids, ls, n, depth+1)
			if r := w.route(n, n.kids, ls, match, mod); r != nil {
				w.cfg.Routes = append(w.cfg.Routes, r)
			}
		case "map":
			w.mapKeys(n)
		}
	}
}

func hasPass(nodes []*ngxNode) bool {
	for _, n := range nodes {
		if _, ok := passDirectives[n.name]; ok {
			return true
		}
		if n.name == "stub_status" || n.name == "api" || n.name == "status" || n.name == "vhost_traffic_status_display" {
			return true
		}
	}
	return false
}

// route builds the route of a location (or of a server proxying at its
// own level); nil when the block publishes no backend or status page.
func (w *ngxWalker) route(n *ngxNode, kids []*ngxNode, sc *ngxScope, match, mod string) *Route {
	if !hasPass(kids) {
		return nil
	}
	r := newRoute("", n.pos)
	pm := PathMatch{Value: match, Kind: MatchPrefix, Pos: n.pos}
	switch mod {
	case "=":
		pm.Kind = MatchExact
	case "~":
		pm.Kind = MatchRegex
	case "~*":
		pm.Kind, pm.IgnoreCase = MatchRegex, true
	}
	r.Paths = []PathMatch{pm}
	r.Hosts = sc.hosts
	r.AnyHost = sc.anyHost
	r.HostsPos = sc.serverPos
	r.Methods = sc.methods
	if len(r.Hosts) > 0 {
		r.API = r.Hosts[0].Value
	}
	name := "location " + strings.TrimSpace(mod+" "+match)
	if n.name == "server" {
		name = "server"
	}
	if len(r.Hosts) > 0 {
		name += " of " + r.Hosts[0].Value
	}
	r.Name = name
	for _, k := range kids {
		if scheme, ok := passDirectives[k.name]; ok && len(k.args) > 0 {
			w.backends(r, k, scheme, sc)
		}
		switch k.name {
		case "stub_status", "api", "status", "vhost_traffic_status_display":
			r.Defaults["admin"] = "NGINX " + k.name + " page"
		}
	}
	r.Auth = sc.auth
	r.AuthOff = sc.authOff
	r.IPAllow = nil
	for _, a := range sc.allow {
		if a.Kind == "deny" && a.Detail == "all" {
			r.IPAllow = sc.allow
		}
	}
	r.RateLimit = sc.limitReq
	switch {
	case sc.bodySize == nil:
		r.SizeLimit = []Policy{{Kind: "client_max_body_size", Detail: "1m (NGINX default)", Pos: n.pos, Inherited: "default"}}
		r.Defaults["size"] = "NGINX limits request bodies to 1 MB by default"
	case strings.TrimSpace(sc.bodySize.Detail) == "0":
		p := *sc.bodySize
		r.SizeUnlim = &p
	default:
		r.SizeLimit = []Policy{*sc.bodySize}
	}
	r.Logging = sc.logs
	r.LoggingOff = sc.logOff
	r.Mirror = sc.mirror
	var cors *CORS
	for _, h := range sc.headers {
		r.Headers[h.name] = h.pos
		switch h.name {
		case "access-control-allow-origin":
			if cors == nil {
				cors = &CORS{Pos: h.pos}
			}
			o := h.value
			if strings.Contains(o, "$http_origin") {
				o = "reflect:" + o
			}
			cors.Origins = append(cors.Origins, o)
		case "access-control-allow-credentials":
			if cors == nil {
				cors = &CORS{Pos: h.pos}
			}
			cors.Credentials = strings.EqualFold(strings.TrimSpace(h.value), "true")
		}
	}
	if cors != nil && len(cors.Origins) > 0 {
		r.CORS = []CORS{*cors}
	}
	if !sc.tls {
		// HSTS only matters on HTTPS servers.
		r.Defaults["plaintext-listener"] = "server listens without TLS"
	}
	return r
}

func (w *ngxWalker) backends(r *Route, k *ngxNode, scheme string, sc *ngxScope) {
	target := k.args[0]
	b := parseBackend(target, k.pos)
	if scheme != "" && b.Scheme == "" {
		b.Scheme = scheme
	}
	if b.Scheme == "grpcs" || b.Scheme == "https" {
		switch {
		case sc.sslVerify != nil && sc.sslVerify.Detail == "on":
			b.TLSVerify, b.VerifyPos = "on", sc.sslVerify.Pos
		case sc.sslVerify != nil:
			b.TLSVerify, b.VerifyPos = "off", sc.sslVerify.Pos
		default:
			b.TLSVerify, b.VerifyPos = "default-off", k.pos
		}
	}
	if pw, ok := userinfoPassword(target); ok {
		w.cfg.Secrets = append(w.cfg.Secrets, Secret{What: "password in " + k.name + " URL", Redacted: redactValue(pw), Pos: k.pos})
	}
	if up, ok := w.upstreams[strings.SplitN(b.Host, ":", 2)[0]]; ok && b.Port == "" {
		for _, s := range up.kids {
			if s.name != "server" || len(s.args) == 0 {
				continue
			}
			ub := b
			ub.Host, ub.Port = splitHostPort(s.args[0])
			if strings.HasPrefix(s.args[0], "unix:") {
				ub.Scheme = "unix"
			}
			ub.URL = target + " (upstream " + up.arg(0) + ": " + s.args[0] + ")"
			r.Backends = append(r.Backends, ub)
		}
		return
	}
	r.Backends = append(r.Backends, b)
}

// secrets records literal credentials set by directives of this level.
func (w *ngxWalker) secrets(nodes []*ngxNode) {
	for _, n := range nodes {
		switch n.name {
		case "proxy_set_header", "grpc_set_header", "fastcgi_param", "uwsgi_param", "more_set_input_headers", "add_header", "proxy_set_body":
			if len(n.args) >= 2 {
				h, v := n.args[0], strings.Join(n.args[1:], " ")
				if strings.EqualFold(h, "authorization") || strings.EqualFold(h, "proxy-authorization") {
					if bearerLiteral(v) {
						w.cfg.Secrets = append(w.cfg.Secrets, Secret{What: n.name + " " + h, Redacted: redactValue(v), Pos: n.pos})
					}
					continue
				}
				if what, ok := inlineSecret(h, v); ok {
					w.cfg.Secrets = append(w.cfg.Secrets, Secret{What: n.name + " " + h + " (" + what + ")", Redacted: redactValue(v), Pos: n.pos})
				}
			}
		case "set":
			if len(n.args) == 2 {
				if what, ok := inlineSecret(strings.TrimPrefix(n.args[0], "$"), n.args[1]); ok {
					w.cfg.Secrets = append(w.cfg.Secrets, Secret{What: "set " + n.args[0] + " (" + what + ")", Redacted: redactValue(n.args[1]), Pos: n.pos})
				}
			}
		default:
			for _, a := range n.args {
				if k := inlineCredentialFormat(a); k != "" {
					w.cfg.Secrets = append(w.cfg.Secrets, Secret{What: n.name + " argument (" + k + ")", Redacted: redactValue(a), Pos: n.pos})
				}
			}
		}
	}
}

// mapKeys reports API keys listed literally in a map on a credential
// variable: map $http_x_api_key $client { "k3y..." alice; }.
func (w *ngxWalker) mapKeys(n *ngxNode) {
	if !authVarRe.MatchString(n.arg(0)) {
		return
	}
	for _, e := range n.kids {
		k := e.name
		if k == "default" || k == "hostnames" || k == "volatile" || k == "include" || strings.HasPrefix(k, "~") || isPlaceholder(k) || len(k) < 8 {
			continue
		}
		w.cfg.Secrets = append(w.cfg.Secrets, Secret{What: "API key listed in map " + n.arg(0), Redacted: redactValue(k), Pos: e.pos})
	}
}

// inlineCredentialFormat names a recognizable credential in a value.
func inlineCredentialFormat(v string) string {
	if isReference(v) {
		return ""
	}
	w, ok := inlineSecret("", v)
	if !ok {
		return ""
	}
	return w
}
