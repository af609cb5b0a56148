package gateway

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/palisade-sec/palisade/internal/posture/yamltree"
)

// Kong plugin families.
var (
	kongAuth = map[string]bool{"key-auth": true, "key-auth-enc": true, "jwt": true, "basic-auth": true, "hmac-auth": true,
		"oauth2": true, "openid-connect": true, "ldap-auth": true, "ldap-auth-advanced": true, "mtls-auth": true,
		"oauth2-introspection": true, "vault-auth": true, "jwe-decrypt": false}
	kongRate = map[string]bool{"rate-limiting": true, "rate-limiting-advanced": true, "graphql-rate-limiting-advanced": true,
		"ai-rate-limiting-advanced": true, "service-protection": true}
	kongLog = map[string]bool{"http-log": true, "file-log": true, "tcp-log": true, "udp-log": true, "syslog": true,
		"loggly": true, "kafka-log": true, "datadog": false, "opentelemetry": true, "splunk-log": true}
	kongACL = map[string]bool{"acl": true, "consumer-restriction": true}
)

type kongPlugin struct {
	name string
	node *yamltree.Node
	cfg  *yamltree.Node
	pos  Pos
}

// kongScope is where a plugin applies.
type kongScope struct {
	global   []kongPlugin
	service  map[string][]kongPlugin // by service name or id
	route    map[string][]kongPlugin // by route name or id
	consumer map[string]bool         // consumers with their own plugins
}

func parseKong(d *doc) (*Config, error) {
	root := d.root
	if root.Kind != yamltree.MappingNode {
		return nil, &Error{File: d.file, Line: root.Line, Column: root.Column, Msg: "Kong declarative configuration: top level is not an object"}
	}
	cfg := &Config{File: d.file, Kind: KindKong, Files: []string{d.file}, Pos: d.pos(root)}
	sc := kongScope{service: map[string][]kongPlugin{}, route: map[string][]kongPlugin{}, consumer: map[string]bool{}}

	plugins := func(list *yamltree.Node) []kongPlugin {
		var out []kongPlugin
		for _, p := range items(list) {
			if yamlFalse(get(p, "enabled")) {
				continue
			}
			name := str(get(p, "name"))
			if name == "" {
				continue
			}
			out = append(out, kongPlugin{name: name, node: p, cfg: get(p, "config"), pos: d.pos(get(p, "name"))})
		}
		return out
	}
	// Top-level plugins: global unless they name a service/route/consumer.
	for _, p := range plugins(get(root, "plugins")) {
		switch {
		case str(get(p.node, "route")) != "":
			sc.route[str(get(p.node, "route"))] = append(sc.route[str(get(p.node, "route"))], p)
		case str(get(p.node, "service")) != "":
			sc.service[str(get(p.node, "service"))] = append(sc.service[str(get(p.node, "service"))], p)
		case get(p.node, "consumer") != nil:
		default:
			sc.global = append(sc.global, p)
		}
	}
	for _, p := range sc.global {
		kongSecrets(cfg, d, p)
	}
	for _, ps := range []map[string][]kongPlugin{sc.service, sc.route} {
		for _, list := range ps {
			for _, p := range list {
				kongSecrets(cfg, d, p)
			}
		}
	}

	type svc = kongService
	services := map[string]*svc{}
	addRoute := func(s *svc, rn *yamltree.Node) {
		name := str(get(rn, "name"))
		if name == "" {
			name = str(get(rn, "id"))
		}
		r := newRoute(name, d.pos(rn))
		if name == "" {
			r.Name = fmt.Sprintf("route at line %d", rn.Line)
		}
		if s != nil {
			r.API = s.name
			r.Backends = []Backend{s.backend}
		}
		for _, h := range items(get(rn, "hosts")) {
			r.Hosts = append(r.Hosts, Host{Value: strings.ToLower(h.Value), Pos: d.pos(h)})
		}
		if len(r.Hosts) == 0 && len(items(get(rn, "snis"))) == 0 {
			r.AnyHost = true
		}
		for _, p := range items(get(rn, "paths")) {
			pm := PathMatch{Value: p.Value, Kind: MatchPrefix, Pos: d.pos(p)}
			if strings.HasPrefix(p.Value, "~") {
				pm.Value, pm.Kind, pm.Anchor = strings.TrimPrefix(p.Value, "~"), MatchRegex, "start"
			}
			r.Paths = append(r.Paths, pm)
		}
		if len(r.Paths) == 0 {
			r.Paths = []PathMatch{{Value: "/", Kind: MatchPrefix, Pos: r.Pos}}
		}
		for _, m := range strs(get(rn, "methods")) {
			r.Methods = append(r.Methods, strings.ToUpper(m))
		}
		var applied []kongPlugin
		seen := map[string]bool{}
		add := func(list []kongPlugin, scope string) {
			for _, p := range list {
				if seen[p.name] { // the most specific scope wins
					continue
				}
				seen[p.name] = true
				applyKongPlugin(cfg, r, p, scope)
				applied = append(applied, p)
			}
		}
		routePlugins := plugins(get(rn, "plugins"))
		for _, p := range routePlugins {
			kongSecrets(cfg, d, p)
		}
		add(routePlugins, "")
		add(sc.route[name], "")
		if id := str(get(rn, "id")); id != "" {
			add(sc.route[id], "")
		}
		if s != nil {
			var forRoute, forService []kongPlugin
			for _, p := range s.plugins {
				switch target := str(get(p.node, "route")); target {
				case "":
					forService = append(forService, p)
				case name, str(get(rn, "id")):
					forRoute = append(forRoute, p)
				}
			}
			add(forRoute, "")
			add(forService, "service")
			add(sc.service[s.name], "service")
		}
		add(sc.global, "global")
		for _, tn := range []*yamltree.Node{get(rn, "tags"), s.tagsNode()} {
			for _, t := range items(tn) {
				if deprecatedWord(t.Value) && r.Deprecated == nil {
					r.Deprecated = &Policy{Kind: "tag " + t.Value, Detail: t.Value, Pos: d.pos(t)}
				}
			}
		}
		if deprecatedWord(name) && r.Deprecated == nil {
			r.Deprecated = &Policy{Kind: "name", Detail: name, Pos: d.pos(get(rn, "name"))}
		}
		if len(r.SizeLimit) == 0 {
			r.Defaults["size"] = "Kong sets no request body limit by default (nginx_http_client_max_body_size = 0)"
		}
		cfg.Routes = append(cfg.Routes, r)
	}

	for _, sn := range items(get(root, "services")) {
		s := &svc{name: str(get(sn, "name")), node: sn}
		if s.name == "" {
			s.name = str(get(sn, "id"))
		}
		s.plugins = plugins(get(sn, "plugins"))
		for _, p := range s.plugins {
			kongSecrets(cfg, d, p)
		}
		s.backend = kongBackend(d, sn)
		if pw, ok := userinfoPassword(s.backend.URL); ok {
			cfg.Secrets = append(cfg.Secrets, Secret{What: "password in service URL", Redacted: redactValue(pw), Pos: s.backend.Pos})
		}
		services[s.name] = s
		if id := str(get(sn, "id")); id != "" {
			services[id] = s
		}
		for _, rn := range items(get(sn, "routes")) {
			addRoute(s, rn)
		}
	}
	for _, rn := range items(get(root, "routes")) {
		var s *svc
		sv := get(rn, "service")
		if n := str(sv); n != "" {
			s = services[n]
		} else if n := str(get(sv, "name")); n != "" {
			s = services[n]
		} else if n := str(get(sv, "id")); n != "" {
			s = services[n]
		}
		addRoute(s, rn)
	}

	// Consumers, their credentials and their reach.
	aclInUse := false
	for _, r := range cfg.Routes {
		if len(r.ACL) > 0 {
			aclInUse = true
		}
	}
	authRoutes := 0
	apis := map[string]bool{}
	for _, r := range cfg.Routes {
		if len(r.Auth) > 0 {
			authRoutes++
			apis[r.API] = true
		}
	}
	for _, cn := range items(get(root, "consumers")) {
		name := str(get(cn, "username"))
		if name == "" {
			name = str(get(cn, "custom_id"))
		}
		c := &Consumer{Name: name, Pos: d.pos(cn)}
		creds := 0
		for _, field := range []struct{ list, key, what string }{
			{"keyauth_credentials", "key", "key-auth credential"},
			{"basicauth_credentials", "password", "basic-auth password"},
			{"jwt_secrets", "secret", "JWT HMAC secret"},
			{"hmacauth_credentials", "secret", "HMAC credential secret"},
			{"oauth2_credentials", "client_secret", "OAuth 2.0 client secret"},
		} {
			for _, cr := range items(get(cn, field.list)) {
				creds++
				v := get(cr, field.key)
				if s := str(v); v != nil && !isReference(s) && !isPlaceholder(s) {
					cfg.Secrets = append(cfg.Secrets, Secret{What: field.what + " of consumer " + name, Redacted: redactValue(s), Pos: d.pos(v)})
				}
			}
		}
		for _, p := range plugins(get(cn, "plugins")) {
			kongSecrets(cfg, d, p)
		}
		if creds > 0 && !aclInUse && len(apis) > 1 {
			c.AllAPIs = true
			c.Scope = fmt.Sprintf("no acl plugin: credentials valid on every authenticated route (%d routes of %d services)", authRoutes, len(apis))
			c.ScopePos = c.Pos
		}
		cfg.Consumers = append(cfg.Consumers, c)
	}
	for _, p := range sc.global {
		if kongLog[p.name] {
			cfg.Logging = append(cfg.Logging, kongLogPolicy(p, "global"))
		}
	}
	for _, v := range items(get(root, "vaults")) {
		pairs(get(v, "config"), func(k string, _, val *yamltree.Node) {
			if w, ok := inlineSecret(k, str(val)); ok {
				cfg.Secrets = append(cfg.Secrets, Secret{What: "vault " + w, Redacted: redactValue(str(val)), Pos: d.pos(val)})
			}
		})
	}
	return cfg, nil
}

type kongService struct {
	name    string
	node    *yamltree.Node
	backend Backend
	plugins []kongPlugin
}

func (s *kongService) tagsNode() *yamltree.Node {
	if s == nil {
		return nil
	}
	return get(s.node, "tags")
}

func yamlFalse(n *yamltree.Node) bool { return n != nil && (n.Value == "false" || n.Value == "False") }

// kongBackend reads a service's url or protocol/host/port/path.
func kongBackend(d *doc, sn *yamltree.Node) Backend {
	var b Backend
	if u := get(sn, "url"); u != nil {
		b = parseBackend(str(u), d.pos(u))
	} else {
		proto := str(get(sn, "protocol"))
		if proto == "" {
			proto = "http"
		}
		host := str(get(sn, "host"))
		port := str(get(sn, "port"))
		raw := proto + "://" + host
		if port != "" {
			raw += ":" + port
		}
		raw += str(get(sn, "path"))
		n := get(sn, "protocol")
		if n == nil {
			n = get(sn, "host")
		}
		b = parseBackend(raw, d.pos(n))
		if port == "" {
			b.Port = "80"
			if proto == "https" || proto == "grpcs" {
				b.Port = "443"
			}
		}
	}
	if b.Scheme == "https" || b.Scheme == "grpcs" || b.Scheme == "tls" || b.Scheme == "wss" {
		v := get(sn, "tls_verify")
		switch {
		case yamlFalse(v):
			b.TLSVerify, b.VerifyPos = "off", d.pos(v)
		case v != nil && v.Value == "true":
			b.TLSVerify, b.VerifyPos = "on", d.pos(v)
		default:
			b.TLSVerify, b.VerifyPos = "default-off", b.Pos
		}
	}
	return b
}

func kongLogPolicy(p kongPlugin, scope string) Policy {
	detail := p.name
	if ep := str(get(p.cfg, "endpoint")); ep != "" {
		detail += " → " + redactURL(ep)
	} else if ep := str(get(p.cfg, "http_endpoint")); ep != "" {
		detail += " → " + redactURL(ep)
	} else if ep := str(get(p.cfg, "path")); ep != "" {
		detail += " → " + ep
	} else if h := str(get(p.cfg, "host")); h != "" {
		detail += " → " + h
	}
	// Palisade reads OpenTelemetry traces (OTLP/HTTP): the opentelemetry
	// plugin pointed at it makes the traffic visible.
	return Policy{Kind: p.name, Detail: detail, Pos: p.pos, Inherited: scope, Ingestible: p.name == "opentelemetry"}
}

func applyKongPlugin(cfg *Config, r *Route, p kongPlugin, scope string) {
	pol := Policy{Kind: p.name, Pos: p.pos, Inherited: scope}
	switch {
	case kongAuth[p.name]:
		if a := str(get(p.cfg, "anonymous")); a != "" {
			// Failed authentication falls back to an anonymous consumer:
			// the route is reachable without credentials.
			r.AuthOff = &Policy{Kind: p.name + " anonymous=" + a, Pos: p.pos, Inherited: scope}
			return
		}
		r.Auth = append(r.Auth, pol)
	case kongACL[p.name]:
		r.ACL = append(r.ACL, pol) // authorization on top of authentication
	case kongRate[p.name]:
		var lim []string
		for _, k := range []string{"second", "minute", "hour", "day", "month", "year"} {
			if v := str(get(p.cfg, k)); v != "" {
				lim = append(lim, v+"/"+k)
			}
		}
		pol.Detail = strings.Join(lim, ", ")
		r.RateLimit = append(r.RateLimit, pol)
	case p.name == "request-size-limiting":
		v := str(get(p.cfg, "allowed_payload_size"))
		if v == "" {
			v = "128"
		}
		unit := str(get(p.cfg, "size_unit"))
		if unit == "" {
			unit = "megabytes"
		}
		pol.Detail = v + " " + unit
		r.SizeLimit = append(r.SizeLimit, pol)
	case p.name == "cors":
		c := CORS{Pos: p.pos, Credentials: get(p.cfg, "credentials") != nil && get(p.cfg, "credentials").Value == "true"}
		origins := get(p.cfg, "origins")
		c.Origins = strs(origins)
		if len(c.Origins) == 0 {
			c.Origins = []string{"*"} // the plugin's default allows any origin
		} else {
			c.Pos = cfgPos(p, origins)
		}
		r.CORS = append(r.CORS, c)
	case kongLog[p.name]:
		r.Logging = append(r.Logging, kongLogPolicy(p, scope))
	case p.name == "ip-restriction":
		r.IPAllow = append(r.IPAllow, pol)
	case p.name == "response-transformer" || p.name == "response-transformer-advanced":
		for _, h := range strs(path(p.cfg, "add", "headers")) {
			r.Headers[strings.ToLower(strings.TrimSpace(strings.SplitN(h, ":", 2)[0]))] = p.pos
		}
		for _, h := range strs(path(p.cfg, "append", "headers")) {
			r.Headers[strings.ToLower(strings.TrimSpace(strings.SplitN(h, ":", 2)[0]))] = p.pos
		}
	case p.name == "request-termination":
		// A terminated route publishes nothing behind it.
		r.Backends = nil
	}
	_ = cfg
}

// cfgPos locates a plugin config node (falls back to the plugin name).
func cfgPos(p kongPlugin, n *yamltree.Node) Pos {
	if n == nil {
		return p.pos
	}
	return Pos{File: p.pos.File, Line: n.Line, Column: n.Column}
}

// kongSecrets records literal credentials in a plugin's configuration.
func kongSecrets(cfg *Config, d *doc, p kongPlugin) {
	yamltree.Walk(p.cfg, func(keys []string, v *yamltree.Node) bool {
		if v.Kind != yamltree.ScalarNode {
			return true
		}
		key := yamltree.Last(keys)
		// "Authorization:Bearer xyz" in transformer header lists.
		if k, val, ok := strings.Cut(v.Value, ":"); ok {
			k, val = strings.TrimSpace(k), strings.TrimSpace(val)
			if strings.EqualFold(k, "authorization") && bearerLiteral(val) || isSecretField(k) && !isReference(val) && len(val) >= 8 {
				cfg.Secrets = append(cfg.Secrets, Secret{What: p.name + " plugin header " + k, Redacted: redactValue(val), Pos: d.pos(v)})
				return false
			}
		}
		if w, ok := inlineSecret(key, v.Value); ok {
			cfg.Secrets = append(cfg.Secrets, Secret{What: p.name + " plugin " + w, Redacted: redactValue(v.Value), Pos: d.pos(v)})
		}
		return false
	})
}

// redactValue keeps the first four characters of a secret.
func redactValue(s string) string {
	r := []rune(s)
	if len(r) <= 8 {
		return "****(" + strconv.Itoa(len(r)) + " chars)"
	}
	return fmt.Sprintf("%s…(%d chars, redacted)", string(r[:4]), len(r))
}
