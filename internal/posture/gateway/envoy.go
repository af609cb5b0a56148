package gateway

import (
	"fmt"
	"strings"

	"github.com/palisade-sec/palisade/internal/posture/yamltree"
)

// Envoy is read from its YAML/JSON tree rather than decoded into
// go-control-plane's protobuf types: protojson keeps no source positions
// (every finding needs file:line:column), and decoding typed_config needs
// the Go type of every extension the file names (a configuration using
// one we did not link fails as a whole). Field names are the same in
// v3 and v2 where both exist (config vs typed_config, tls_context vs
// transport_socket, hosts vs load_assignment are read both ways).

type envoyDump struct {
	d         *doc
	cfg       *Config
	listeners []*yamltree.Node
	clusters  map[string]*yamltree.Node
	routeCfgs map[string]*yamltree.Node
}

func parseEnvoy(d *doc) (*Config, error) {
	root := d.root
	if root.Kind != yamltree.MappingNode {
		return nil, &Error{File: d.file, Line: root.Line, Column: root.Column, Msg: "Envoy configuration: top level is not an object"}
	}
	e := &envoyDump{d: d, cfg: &Config{File: d.file, Kind: KindEnvoy, Files: []string{d.file}, Pos: d.pos(root)},
		clusters: map[string]*yamltree.Node{}, routeCfgs: map[string]*yamltree.Node{}}
	if cs := get(root, "configs"); cs != nil {
		// Admin /config_dump.
		for _, c := range items(cs) {
			t := str(get(c, "@type"))
			switch {
			case strings.HasSuffix(t, "BootstrapConfigDump"):
				e.bootstrap(get(c, "bootstrap"))
			case strings.HasSuffix(t, "ListenersConfigDump"):
				for _, l := range items(get(c, "static_listeners")) {
					e.listeners = append(e.listeners, get(l, "listener"))
				}
				for _, l := range items(get(c, "dynamic_listeners")) {
					if a := path(l, "active_state", "listener"); a != nil {
						e.listeners = append(e.listeners, a)
					}
				}
			case strings.HasSuffix(t, "ClustersConfigDump"):
				for _, k := range []string{"static_clusters", "dynamic_active_clusters"} {
					for _, cl := range items(get(c, k)) {
						e.addCluster(get(cl, "cluster"))
					}
				}
			case strings.HasSuffix(t, "RoutesConfigDump"):
				for _, k := range []string{"static_route_configs", "dynamic_route_configs"} {
					for _, rc := range items(get(c, k)) {
						if r := get(rc, "route_config"); r != nil {
							e.routeCfgs[str(get(r, "name"))] = r
						}
					}
				}
			}
		}
	} else {
		e.bootstrap(root)
	}
	for _, l := range e.listeners {
		e.listener(l)
	}
	e.secretsIn(root)
	return e.cfg, nil
}

func (e *envoyDump) addCluster(c *yamltree.Node) {
	if c == nil {
		return
	}
	e.clusters[str(get(c, "name"))] = c
}

func (e *envoyDump) bootstrap(b *yamltree.Node) {
	if b == nil {
		return
	}
	if a := get(b, "admin"); a != nil {
		addr, port := socketAddress(get(a, "address"))
		if addr != "" && !isLoopback(addr) && !strings.HasPrefix(addr, "/") {
			e.cfg.Admin = append(e.cfg.Admin, Admin{What: "Envoy admin interface", Address: fmt.Sprintf("%s:%s", addr, port), Pos: e.d.pos(path(a, "address", "socket_address", "address"))})
		}
	}
	sr := get(b, "static_resources")
	e.listeners = append(e.listeners, items(get(sr, "listeners"))...)
	for _, c := range items(get(sr, "clusters")) {
		e.addCluster(c)
	}
}

func socketAddress(addr *yamltree.Node) (string, string) {
	sa := get(addr, "socket_address")
	if sa == nil {
		if p := str(path(addr, "pipe", "path")); p != "" {
			return p, ""
		}
		return "", ""
	}
	port := str(get(sa, "port_value"))
	if port == "" {
		port = str(get(sa, "named_port"))
	}
	return str(get(sa, "address")), port
}

// typedConfig returns a filter's typed_config (v3) or config (v2).
func typedConfig(n *yamltree.Node) *yamltree.Node {
	if t := get(n, "typed_config"); t != nil {
		if v := get(t, "value"); v != nil && strings.Contains(str(get(t, "@type")), "TypedStruct") {
			return v
		}
		return t
	}
	return get(n, "config")
}

func filterName(n *yamltree.Node) string {
	name := str(get(n, "name"))
	if t := str(get(get(n, "typed_config"), "@type")); t != "" {
		return name + " " + t
	}
	return name
}

type envoyFilters struct {
	auth       []Policy
	jwtRules   *yamltree.Node
	rate       []Policy
	rateNeeds  bool // local_ratelimit without a bucket: per-route config decides
	size       []Policy
	corsFilter bool
	logs       []Policy
	tls        bool
}

func (e *envoyDump) listener(l *yamltree.Node) {
	if l == nil {
		return
	}
	for _, fc := range items(get(l, "filter_chains")) {
		tls := get(fc, "transport_socket") != nil || get(fc, "tls_context") != nil
		mtls := false
		if ts := typedConfig(get(fc, "transport_socket")); ts != nil && yamltree.IsTrue(get(ts, "require_client_certificate")) {
			mtls = true
		}
		if yamltree.IsTrue(path(fc, "tls_context", "require_client_certificate")) {
			mtls = true
		}
		for _, f := range items(get(fc, "filters")) {
			if !strings.Contains(filterName(f), "http_connection_manager") {
				continue
			}
			hcm := typedConfig(f)
			var fl envoyFilters
			fl.tls = tls
			if mtls {
				fl.auth = append(fl.auth, Policy{Kind: "mutual TLS", Pos: e.d.pos(get(fc, "transport_socket"))})
			}
			for _, al := range items(get(hcm, "access_log")) {
				fl.logs = append(fl.logs, e.accessLog(al))
			}
			e.cfg.Logging = append(e.cfg.Logging, fl.logs...)
			for _, hf := range items(get(hcm, "http_filters")) {
				name := filterName(hf)
				tc := typedConfig(hf)
				pos := e.d.pos(get(hf, "name"))
				switch {
				case strings.Contains(name, "jwt_authn"):
					fl.auth = append(fl.auth, Policy{Kind: "jwt_authn", Pos: pos})
					fl.jwtRules = get(tc, "rules")
				case strings.Contains(name, "ext_authz"), strings.Contains(name, "basic_auth"), strings.Contains(name, "oauth2"),
					strings.Contains(name, "api_key_auth"), strings.Contains(name, "envoy.filters.http.rbac") || strings.HasSuffix(name, ".rbac.v3.RBAC"):
					kind := strings.TrimPrefix(strings.Fields(name)[0], "envoy.filters.http.")
					if yamltree.IsTrue(get(hf, "disabled")) {
						continue
					}
					fl.auth = append(fl.auth, Policy{Kind: kind, Pos: pos})
				case strings.Contains(name, "local_ratelimit"):
					if get(tc, "token_bucket") != nil {
						fl.rate = append(fl.rate, Policy{Kind: "local_ratelimit", Detail: tokenBucket(get(tc, "token_bucket")), Pos: pos})
					} else {
						fl.rateNeeds = true
					}
				case strings.Contains(name, "ratelimit"):
					fl.rate = append(fl.rate, Policy{Kind: "ratelimit", Detail: str(get(tc, "domain")), Pos: pos})
				case strings.Contains(name, "buffer"):
					fl.size = append(fl.size, Policy{Kind: "buffer", Detail: str(get(tc, "max_request_bytes")) + " bytes", Pos: pos})
				case strings.Contains(name, "cors"):
					fl.corsFilter = true
				}
			}
			rc := get(hcm, "route_config")
			if rc == nil {
				rc = e.routeCfgs[str(path(hcm, "rds", "route_config_name"))]
			}
			e.routeConfig(rc, &fl)
		}
	}
}

func tokenBucket(tb *yamltree.Node) string {
	return fmt.Sprintf("%s tokens / %s", str(get(tb, "max_tokens")), str(get(tb, "fill_interval")))
}

func (e *envoyDump) accessLog(al *yamltree.Node) Policy {
	tc := typedConfig(al)
	p := Policy{Kind: "access_log", Pos: e.d.pos(get(al, "name")), Detail: str(get(al, "name"))}
	if pth := str(get(tc, "path")); pth != "" {
		p.Detail += " → " + pth
	}
	if path(tc, "log_format", "json_format") != nil || get(tc, "json_format") != nil || strings.Contains(str(get(get(al, "typed_config"), "@type")), "grpc") ||
		strings.Contains(str(get(get(al, "typed_config"), "@type")), "open_telemetry") {
		p.Ingestible = true
	}
	return p
}

// routeConfig reads a RouteConfiguration.
func (e *envoyDump) routeConfig(rc *yamltree.Node, fl *envoyFilters) {
	if rc == nil {
		return
	}
	headers := map[string]Pos{}
	addHeaders := func(m map[string]Pos, n *yamltree.Node) {
		for _, h := range items(get(n, "response_headers_to_add")) {
			k := get(get(h, "header"), "key")
			if k != nil {
				m[strings.ToLower(k.Value)] = e.d.pos(k)
			}
		}
	}
	addHeaders(headers, rc)
	e.requestHeaderSecrets(rc)
	for _, vh := range items(get(rc, "virtual_hosts")) {
		vhHeaders := map[string]Pos{}
		for k, v := range headers {
			vhHeaders[k] = v
		}
		addHeaders(vhHeaders, vh)
		e.requestHeaderSecrets(vh)
		var hosts []Host
		anyHost := false
		for _, dn := range items(get(vh, "domains")) {
			if dn.Value == "*" {
				anyHost = true
				continue
			}
			hosts = append(hosts, Host{Value: strings.ToLower(dn.Value), Pos: e.d.pos(dn)})
		}
		vhCORS := e.cors(vh, "")
		vhPer := get(vh, "typed_per_filter_config")
		vhName := str(get(vh, "name"))
		vhRate := len(items(get(vh, "rate_limits"))) > 0
		for _, rn := range items(get(vh, "routes")) {
			act := get(rn, "route")
			if act == nil {
				continue // redirect or direct_response: no backend
			}
			name := str(get(rn, "name"))
			if name == "" {
				name = vhName + " route"
			}
			r := newRoute(name, e.d.pos(rn))
			r.API = vhName
			r.Hosts, r.AnyHost = hosts, anyHost
			r.HostsPos = e.d.pos(get(vh, "domains"))
			m := get(rn, "match")
			switch {
			case get(m, "path") != nil:
				r.Paths = []PathMatch{{Value: str(get(m, "path")), Kind: MatchExact, Pos: e.d.pos(get(m, "path"))}}
			case get(m, "safe_regex") != nil:
				rx := path(m, "safe_regex", "regex")
				r.Paths = []PathMatch{{Value: str(rx), Kind: MatchRegex, Anchor: "full", Pos: e.d.pos(rx)}}
			case get(m, "regex") != nil:
				r.Paths = []PathMatch{{Value: str(get(m, "regex")), Kind: MatchRegex, Anchor: "full", Pos: e.d.pos(get(m, "regex"))}}
			case get(m, "path_separated_prefix") != nil:
				r.Paths = []PathMatch{{Value: str(get(m, "path_separated_prefix")), Kind: MatchPrefix, Pos: e.d.pos(get(m, "path_separated_prefix"))}}
			case get(m, "prefix") != nil:
				r.Paths = []PathMatch{{Value: str(get(m, "prefix")), Kind: MatchPrefix, Pos: e.d.pos(get(m, "prefix"))}}
			default:
				r.Paths = []PathMatch{{Value: "/", Kind: MatchPrefix, Pos: e.d.pos(m)}}
			}
			if yamltree.IsFalse(get(m, "case_sensitive")) {
				r.Paths[0].IgnoreCase = true
			}
			for _, h := range items(get(m, "headers")) {
				if str(get(h, "name")) == ":method" {
					if v := str(get(h, "exact_match")); v != "" {
						r.Methods = append(r.Methods, strings.ToUpper(v))
					}
					if v := str(path(h, "string_match", "exact")); v != "" {
						r.Methods = append(r.Methods, strings.ToUpper(v))
					}
				}
			}
			// Backends.
			var clusters []*yamltree.Node
			if c := get(act, "cluster"); c != nil {
				clusters = append(clusters, c)
			}
			for _, wc := range items(path(act, "weighted_clusters", "clusters")) {
				clusters = append(clusters, get(wc, "name"))
			}
			for _, cn := range clusters {
				r.Backends = append(r.Backends, e.clusterBackends(str(cn), e.d.pos(cn))...)
			}
			for _, k := range []string{"request_mirror_policies", "request_mirror_policy"} {
				mp := get(act, k)
				list := items(mp)
				if mp != nil && mp.Kind == yamltree.MappingNode {
					list = []*yamltree.Node{mp}
				}
				for _, x := range list {
					r.Mirror = append(r.Mirror, Policy{Kind: "request_mirror", Detail: str(get(x, "cluster")), Pos: e.d.pos(x), Ingestible: true})
				}
			}
			// Policies.
			per := get(rn, "typed_per_filter_config")
			r.Auth = append(r.Auth, e.routeAuth(fl, r, per, vhPer)...)
			r.RateLimit = append(r.RateLimit, fl.rate...)
			if fl.rateNeeds {
				for _, pc := range []*yamltree.Node{per, vhPer} {
					pairs(pc, func(k string, kn, v *yamltree.Node) {
						if strings.Contains(k, "local_ratelimit") && get(v, "token_bucket") != nil && len(r.RateLimit) == 0 {
							r.RateLimit = append(r.RateLimit, Policy{Kind: "local_ratelimit", Detail: tokenBucket(get(v, "token_bucket")), Pos: e.d.pos(kn)})
						}
					})
				}
			}
			if len(items(get(act, "rate_limits"))) > 0 || vhRate {
				hasGlobal := false
				for _, p := range fl.rate {
					if p.Kind == "ratelimit" {
						hasGlobal = true
					}
				}
				if !hasGlobal {
					r.Defaults["rate"] = "rate_limits actions without the ratelimit HTTP filter do nothing"
				}
			}
			r.SizeLimit = append(r.SizeLimit, fl.size...)
			pairs(per, func(k string, kn, v *yamltree.Node) {
				if strings.Contains(k, "buffer") && yamltree.IsTrue(get(v, "disabled")) {
					r.SizeLimit = nil
				}
			})
			if len(r.SizeLimit) == 0 {
				r.Defaults["size"] = "Envoy streams request bodies without a size limit unless the buffer filter is configured"
			}
			if c := e.cors(act, ""); c != nil {
				r.CORS = append(r.CORS, *c)
			} else if c := e.corsPer(per); c != nil {
				r.CORS = append(r.CORS, *c)
			} else if vhCORS != nil {
				r.CORS = append(r.CORS, *vhCORS)
			} else if c := e.corsPer(vhPer); c != nil {
				r.CORS = append(r.CORS, *c)
			}
			r.Logging = fl.logs
			for k, v := range vhHeaders {
				r.Headers[k] = v
			}
			addHeaders(r.Headers, rn)
			e.requestHeaderSecrets(rn)
			if !fl.tls {
				r.Defaults["plaintext-listener"] = "listener without TLS"
			}
			if deprecatedWord(name) || deprecatedWord(vhName) {
				r.Deprecated = &Policy{Kind: "name", Detail: name, Pos: r.Pos}
			}
			e.cfg.Routes = append(e.cfg.Routes, r)
		}
	}
}

// routeAuth decides which HCM auth filters apply to a route.
func (e *envoyDump) routeAuth(fl *envoyFilters, r *Route, per, vhPer *yamltree.Node) []Policy {
	disabled := map[string]*yamltree.Node{}
	for _, pc := range []*yamltree.Node{vhPer, per} {
		pairs(pc, func(k string, kn, v *yamltree.Node) {
			if yamltree.IsTrue(get(v, "disabled")) || yamltree.IsTrue(path(v, "config", "disabled")) {
				disabled[k] = kn
			}
		})
	}
	var out []Policy
	for _, a := range fl.auth {
		off := false
		for k, kn := range disabled {
			if strings.Contains(k, a.Kind) {
				off = true
				p := Policy{Kind: a.Kind + " disabled", Pos: e.d.pos(kn)}
				r.AuthOff = &p
			}
		}
		if off {
			continue
		}
		if a.Kind == "jwt_authn" && fl.jwtRules != nil {
			if !jwtRuleRequires(fl.jwtRules, r.Paths[0].Value) {
				continue
			}
		}
		if a.Kind == "jwt_authn" && fl.jwtRules == nil {
			// requirement_map: the route names its requirement.
			found := false
			for _, pc := range []*yamltree.Node{per, vhPer} {
				pairs(pc, func(k string, _, v *yamltree.Node) {
					if strings.Contains(k, "jwt_authn") && str(get(v, "requirement_name")) != "" {
						found = true
					}
				})
			}
			if !found {
				continue
			}
		}
		out = append(out, a)
	}
	return out
}

// jwtRuleRequires applies jwt_authn rules (first match wins) to a path.
func jwtRuleRequires(rules *yamltree.Node, p string) bool {
	for _, rule := range items(rules) {
		m := get(rule, "match")
		matched := false
		switch {
		case get(m, "path") != nil:
			matched = str(get(m, "path")) == p
		case get(m, "prefix") != nil:
			matched = strings.HasPrefix(p, str(get(m, "prefix")))
		case get(m, "safe_regex") != nil:
			matched = true // assume the rule covers it
		}
		if matched {
			return get(rule, "requires") != nil
		}
	}
	return false
}

// cors reads a (deprecated inline) CorsPolicy under n.cors.
func (e *envoyDump) cors(n *yamltree.Node, _ string) *CORS {
	c := get(n, "cors")
	if c == nil {
		return nil
	}
	return e.corsPolicy(c)
}

func (e *envoyDump) corsPer(per *yamltree.Node) *CORS {
	var out *CORS
	pairs(per, func(k string, _, v *yamltree.Node) {
		if strings.Contains(k, "cors") && out == nil {
			out = e.corsPolicy(v)
		}
	})
	return out
}

func (e *envoyDump) corsPolicy(c *yamltree.Node) *CORS {
	out := &CORS{Pos: e.d.pos(c), Credentials: yamltree.IsTrue(get(c, "allow_credentials"))}
	out.Origins = append(out.Origins, strs(get(c, "allow_origin"))...)
	for _, m := range items(get(c, "allow_origin_string_match")) {
		switch {
		case get(m, "exact") != nil:
			out.Origins = append(out.Origins, str(get(m, "exact")))
		case get(m, "prefix") != nil:
			p := str(get(m, "prefix"))
			if p == "" || p == "http" || p == "https" || p == "http://" || p == "https://" {
				p = "*"
			}
			out.Origins = append(out.Origins, p)
		case get(m, "safe_regex") != nil:
			rx := str(path(m, "safe_regex", "regex"))
			if rx == ".*" || rx == ".+" || rx == "^.*$" || rx == "(.*)" || rx == "https?://.*" {
				rx = "*"
			}
			out.Origins = append(out.Origins, rx)
		}
	}
	for _, o := range strs(get(c, "allow_origin_regex")) {
		if o == ".*" {
			o = "*"
		}
		out.Origins = append(out.Origins, o)
	}
	return out
}

// clusterBackends lists a cluster's endpoints with their TLS settings.
func (e *envoyDump) clusterBackends(name string, p Pos) []Backend {
	c := e.clusters[name]
	base := Backend{URL: "cluster " + name, Pos: p, Scheme: "http"}
	if c == nil {
		return []Backend{base}
	}
	ts := get(c, "transport_socket")
	var tlsCtx *yamltree.Node
	if ts != nil && strings.Contains(str(get(ts, "name"))+str(get(get(ts, "typed_config"), "@type")), "tls") {
		tlsCtx = typedConfig(ts)
	} else if t := get(c, "tls_context"); t != nil {
		tlsCtx, ts = t, t
	}
	if tlsCtx != nil {
		base.Scheme = "https"
		vc := path(tlsCtx, "common_tls_context", "validation_context")
		sds := path(tlsCtx, "common_tls_context", "validation_context_sds_secret_config")
		if sds == nil {
			sds = path(tlsCtx, "common_tls_context", "combined_validation_context")
		}
		switch {
		case vc != nil && str(get(vc, "trust_chain_verification")) == "ACCEPT_UNTRUSTED":
			base.TLSVerify, base.VerifyPos = "off", e.d.pos(get(vc, "trust_chain_verification"))
		case vc != nil && (get(vc, "trusted_ca") != nil || get(vc, "ca_certificate_provider_instance") != nil):
			base.TLSVerify, base.VerifyPos = "on", e.d.pos(vc)
		case sds != nil:
			base.TLSVerify, base.VerifyPos = "on", e.d.pos(sds)
		default:
			base.TLSVerify, base.VerifyPos = "off", e.d.pos(ts)
		}
	}
	var out []Backend
	eps := items(path(c, "load_assignment", "endpoints"))
	for _, ep := range eps {
		for _, lb := range items(get(ep, "lb_endpoints")) {
			addr, port := socketAddress(path(lb, "endpoint", "address"))
			b := base
			b.Host, b.Port = strings.ToLower(addr), port
			b.URL = fmt.Sprintf("cluster %s (%s://%s:%s)", name, b.Scheme, addr, port)
			b.Pos = e.d.pos(path(lb, "endpoint", "address"))
			if strings.HasPrefix(addr, "/") {
				b.Scheme = "unix"
			}
			out = append(out, b)
		}
	}
	for _, h := range items(get(c, "hosts")) { // v2
		addr, port := socketAddress(h)
		b := base
		b.Host, b.Port = strings.ToLower(addr), port
		b.URL = fmt.Sprintf("cluster %s (%s://%s:%s)", name, b.Scheme, addr, port)
		b.Pos = e.d.pos(h)
		out = append(out, b)
	}
	if len(out) == 0 {
		out = []Backend{base}
	}
	return out
}

// requestHeaderSecrets reports literal credentials added to requests.
func (e *envoyDump) requestHeaderSecrets(n *yamltree.Node) {
	for _, h := range items(get(n, "request_headers_to_add")) {
		hd := get(h, "header")
		k, v := str(get(hd, "key")), get(hd, "value")
		if v == nil {
			continue
		}
		if strings.EqualFold(k, "authorization") {
			if bearerLiteral(v.Value) {
				e.cfg.Secrets = append(e.cfg.Secrets, Secret{What: "request header " + k, Redacted: redactValue(v.Value), Pos: e.d.pos(v)})
			}
			continue
		}
		if w, ok := inlineSecret(k, v.Value); ok {
			e.cfg.Secrets = append(e.cfg.Secrets, Secret{What: "request header " + k + " (" + w + ")", Redacted: redactValue(v.Value), Pos: e.d.pos(v)})
		}
	}
}

// secretsIn reports inline key material and secrets anywhere under n:
// inline_string/inline_bytes under private keys, secrets, passwords and
// user lists, symmetric JWKS keys, and credential-formatted values.
func (e *envoyDump) secretsIn(n *yamltree.Node) {
	yamltree.Walk(n, func(keys []string, v *yamltree.Node) bool {
		if v.Kind != yamltree.ScalarNode {
			return true
		}
		k := yamltree.Last(keys)
		if k == "inline_string" || k == "inline_bytes" {
			parent := ""
			if len(keys) >= 2 {
				parent = strings.ToLower(keys[len(keys)-2])
			}
			switch {
			case strings.Contains(v.Value, "PRIVATE KEY"), strings.Contains(parent, "private_key"), strings.Contains(parent, "secret"),
				strings.Contains(parent, "password"), strings.Contains(parent, "users"), strings.Contains(parent, "token"), strings.Contains(parent, "hmac"):
				e.cfg.Secrets = append(e.cfg.Secrets, Secret{What: parent + " inline", Redacted: redactValue(v.Value), Pos: e.d.pos(v)})
			case strings.Contains(parent, "jwks") && strings.Contains(v.Value, `"oct"`):
				e.cfg.Secrets = append(e.cfg.Secrets, Secret{What: "symmetric key in inline JWKS", Redacted: redactValue(v.Value), Pos: e.d.pos(v)})
			}
			return false
		}
		if w, ok := inlineSecret(k, v.Value); ok && !strings.HasSuffix(k, "_name") && k != "name" && k != "key" {
			e.cfg.Secrets = append(e.cfg.Secrets, Secret{What: k + " (" + w + ")", Redacted: redactValue(v.Value), Pos: e.d.pos(v)})
		}
		return false
	})
}
