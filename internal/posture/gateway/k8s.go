package gateway

import (
	"fmt"
	"sort"
	"strings"

	"github.com/palisade-sec/palisade/internal/posture/yamltree"
)

// Kubernetes manifests are read from the YAML tree (positions) rather than
// decoded into sigs.k8s.io/gateway-api's Go types, which would add
// k8s.io/apimachinery to the binary and still lose every position.

const (
	annNginx   = "nginx.ingress.kubernetes.io/"
	annKong    = "konghq.com/"
	annTraefik = "traefik.ingress.kubernetes.io/"
)

type k8sObj struct {
	d        *doc
	n        *yamltree.Node
	kind     string
	name, ns string
	apiVer   string
}

type k8sSet struct {
	cfg         *Config
	objs        []k8sObj
	kongPlugins map[string]k8sObj // name -> KongPlugin / KongClusterPlugin
	middlewares map[string]k8sObj // Traefik Middleware (ns-name and name)
	backendTLS  map[string]k8sObj // service name -> BackendTLSPolicy
	policies    []k8sObj          // Envoy Gateway SecurityPolicy / BackendTrafficPolicy
	gatewayTLS  map[string]bool   // Gateway name -> has an HTTPS listener
	gateways    []k8sObj
}

func parseK8s(name string, docs []*yamltree.Node) (*Config, error) {
	s := &k8sSet{cfg: &Config{File: name, Kind: KindK8s, Files: []string{name}}, kongPlugins: map[string]k8sObj{},
		middlewares: map[string]k8sObj{}, backendTLS: map[string]k8sObj{}, gatewayTLS: map[string]bool{}}
	skipped := map[string]int{}
	var add func(d *doc, n *yamltree.Node, depth int)
	add = func(d *doc, n *yamltree.Node, depth int) {
		if n == nil || n.Kind != yamltree.MappingNode || depth > 4 {
			return
		}
		kind := str(get(n, "kind"))
		if strings.HasSuffix(kind, "List") {
			for _, it := range items(get(n, "items")) {
				add(d, it, depth+1)
			}
			return
		}
		o := k8sObj{d: d, n: n, kind: kind, apiVer: str(get(n, "apiVersion")), name: str(path(n, "metadata", "name")), ns: str(path(n, "metadata", "namespace"))}
		s.objs = append(s.objs, o)
		switch kind {
		case "KongPlugin", "KongClusterPlugin":
			s.kongPlugins[o.name] = o
		case "Middleware":
			s.middlewares[o.name] = o
			s.middlewares[o.ns+"-"+o.name] = o
		case "BackendTLSPolicy":
			for _, t := range append(items(path(n, "spec", "targetRefs")), path(n, "spec", "targetRef")) {
				if t != nil {
					s.backendTLS[str(get(t, "name"))] = o
				}
			}
		case "SecurityPolicy", "BackendTrafficPolicy":
			s.policies = append(s.policies, o)
		case "Gateway":
			s.gateways = append(s.gateways, o)
			for _, l := range items(path(n, "spec", "listeners")) {
				if p := str(get(l, "protocol")); p == "HTTPS" || p == "TLS" {
					s.gatewayTLS[o.name] = true
				}
			}
		case "Ingress", "HTTPRoute", "GRPCRoute", "Secret", "IngressRoute", "ConfigMap":
		default:
			skipped[kind]++
		}
	}
	for i, n := range docs {
		d := newDoc(name, n)
		if len(docs) > 1 {
			d.ptr = yamltree.Pointers{}
			d.ptr.Add(n, fmt.Sprintf("/%d", i)) // document index as the first token
		}
		if n.Kind != yamltree.MappingNode {
			return nil, &Error{File: name, Line: n.Line, Column: n.Column, Msg: fmt.Sprintf("document %d is not an object", i+1)}
		}
		if str(get(n, "apiVersion")) == "" || str(get(n, "kind")) == "" {
			return nil, &Error{File: name, Line: n.Line, Column: n.Column, Msg: fmt.Sprintf("document %d: not a Kubernetes object (apiVersion and kind required)", i+1)}
		}
		add(d, n, 0)
	}
	if len(docs) > 0 {
		s.cfg.Pos = Pos{File: name, Line: docs[0].Line, Column: docs[0].Column}
	}
	var logOff *Policy
	for _, o := range s.objs {
		switch o.kind {
		case "Ingress":
			s.ingress(o)
		case "HTTPRoute", "GRPCRoute":
			s.httpRoute(o)
		case "Secret":
			s.secret(o)
		case "KongPlugin", "KongClusterPlugin":
			kongSecrets(s.cfg, o.d, kongPlugin{name: str(get(o.n, "plugin")), cfg: get(o.n, "config"), pos: o.d.pos(get(o.n, "plugin"))})
		case "ConfigMap":
			// ingress-nginx controller settings: JSON access logs.
			data := get(o.n, "data")
			if f := get(data, "log-format-upstream"); f != nil || yamltree.IsTrue(get(data, "log-format-escape-json")) || str(get(data, "log-format-escape-json")) == "true" {
				json := str(get(data, "log-format-escape-json")) == "true" || strings.HasPrefix(strings.TrimSpace(str(f)), "{")
				n := f
				if n == nil {
					n = get(data, "log-format-escape-json")
				}
				s.cfg.Logging = append(s.cfg.Logging, Policy{Kind: "ingress-nginx log-format", Detail: "ConfigMap " + o.name, Pos: o.d.pos(n), Ingestible: json})
			}
			if v := get(data, "enable-access-log"); yamltree.IsFalse(v) || str(v) == "false" {
				logOff = &Policy{Kind: "enable-access-log false", Detail: "ConfigMap " + o.name, Pos: o.d.pos(v)}
			}
		}
	}
	if logOff != nil {
		// The controller-wide switch, wherever the ConfigMap is in the file.
		for _, r := range s.cfg.Routes {
			if r.LoggingOff == nil {
				r.LoggingOff = logOff
			}
		}
	}
	if len(s.cfg.Logging) == 0 && len(s.cfg.Routes) > 0 {
		// Controllers log every request by default, in their own text
		// format unless configured otherwise.
		s.cfg.Logging = append(s.cfg.Logging, Policy{Kind: "controller default access log", Detail: "the ingress controller's default text access log", Pos: s.cfg.Pos, Inherited: "default"})
	}
	var kinds []string
	for k, n := range skipped {
		kinds = append(kinds, fmt.Sprintf("%d %s", n, k))
	}
	sort.Strings(kinds)
	if len(kinds) > 0 {
		s.cfg.Notes = append(s.cfg.Notes, "objects not audited: "+strings.Join(kinds, ", "))
	}
	return s.cfg, nil
}

func (s *k8sSet) annotations(o k8sObj) map[string]*yamltree.Node {
	out := map[string]*yamltree.Node{}
	pairs(path(o.n, "metadata", "annotations"), func(k string, _, v *yamltree.Node) { out[k] = v })
	return out
}

func (s *k8sSet) ingress(o k8sObj) {
	ann := s.annotations(o)
	a := func(k string) string { return str(ann[k]) }
	apos := func(k string) Pos { return o.d.pos(ann[k]) }
	spec := get(o.n, "spec")
	tlsHosts := map[string]bool{}
	for _, t := range items(get(spec, "tls")) {
		for _, h := range strs(get(t, "hosts")) {
			tlsHosts[strings.ToLower(h)] = true
		}
	}
	proto := strings.ToUpper(a(annNginx + "backend-protocol"))
	regex := a(annNginx+"use-regex") == "true"
	build := func(hostN *yamltree.Node, p *yamltree.Node, backend *yamltree.Node, pos Pos) {
		r := newRoute(o.name, pos)
		r.API = o.name
		if hostN != nil && hostN.Value != "" {
			r.Hosts = []Host{{Value: strings.ToLower(hostN.Value), Pos: o.d.pos(hostN)}}
			r.HostsPos = o.d.pos(hostN)
		} else {
			r.AnyHost = true
			r.HostsPos = o.d.pos(o.n)
		}
		pm := PathMatch{Value: "/", Kind: MatchPrefix, Pos: pos}
		if p != nil {
			pm.Value = str(get(p, "path"))
			if pm.Value == "" {
				pm.Value = "/"
			}
			pm.Pos = o.d.pos(get(p, "path"))
			switch str(get(p, "pathType")) {
			case "Exact":
				pm.Kind = MatchExact
			case "ImplementationSpecific":
				if regex {
					pm.Kind = MatchRegex
				}
			}
		}
		r.Paths = []PathMatch{pm}
		// Backend: a Service (v1: service.name/port.number; v1beta1: serviceName/servicePort).
		svc := str(path(backend, "service", "name"))
		port := str(path(backend, "service", "port", "number"))
		if port == "" {
			port = str(path(backend, "service", "port", "name"))
		}
		if svc == "" {
			svc, port = str(get(backend, "serviceName")), str(get(backend, "servicePort"))
		}
		scheme := "http"
		switch proto {
		case "HTTPS":
			scheme = "https"
		case "GRPC":
			scheme = "grpc"
		case "GRPCS":
			scheme = "grpcs"
		}
		ns := o.ns
		if ns == "" {
			ns = "default"
		}
		b := Backend{URL: fmt.Sprintf("%s://%s.%s.svc:%s", scheme, svc, ns, port), Scheme: scheme, Host: svc + "." + ns + ".svc", Port: port, Pos: o.d.pos(backend)}
		if scheme == "https" || scheme == "grpcs" {
			switch v := a(annNginx + "proxy-ssl-verify"); v {
			case "on":
				b.TLSVerify, b.VerifyPos = "on", apos(annNginx+"proxy-ssl-verify")
			case "":
				b.TLSVerify, b.VerifyPos = "default-off", apos(annNginx+"backend-protocol")
			default:
				b.TLSVerify, b.VerifyPos = "off", apos(annNginx+"proxy-ssl-verify")
			}
		}
		if svc != "" {
			r.Backends = []Backend{b}
		}
		s.ingressAnnotations(o, r, ann)
		if hostN == nil || !tlsHosts[strings.ToLower(hostN.Value)] {
			r.Defaults["plaintext-listener"] = "host not listed under spec.tls"
		}
		s.cfg.Routes = append(s.cfg.Routes, r)
	}
	if db := get(spec, "defaultBackend"); db != nil {
		build(nil, nil, db, o.d.pos(db))
	} else if db := get(spec, "backend"); db != nil {
		build(nil, nil, db, o.d.pos(db))
	}
	for _, rule := range items(get(spec, "rules")) {
		host := get(rule, "host")
		for _, p := range items(path(rule, "http", "paths")) {
			build(host, p, get(p, "backend"), o.d.pos(p))
		}
	}
}

// ingressAnnotations applies controller annotations (ingress-nginx, Kong,
// Traefik) to a route.
func (s *k8sSet) ingressAnnotations(o k8sObj, r *Route, ann map[string]*yamltree.Node) {
	a := func(k string) string { return str(ann[k]) }
	pol := func(k, kind, detail string) Policy {
		return Policy{Kind: kind, Detail: detail, Pos: o.d.pos(ann[k])}
	}
	// ingress-nginx
	if v := a(annNginx + "auth-type"); v != "" {
		r.Auth = append(r.Auth, pol(annNginx+"auth-type", "auth-type "+v, a(annNginx+"auth-secret")))
	}
	if v := a(annNginx + "auth-url"); v != "" {
		r.Auth = append(r.Auth, pol(annNginx+"auth-url", "external auth", redactURL(v)))
	}
	if v := a(annNginx + "auth-tls-verify-client"); v == "on" {
		r.Auth = append(r.Auth, pol(annNginx+"auth-tls-verify-client", "mutual TLS", ""))
	}
	for _, k := range []string{"limit-rps", "limit-rpm", "limit-rph", "global-rate-limit"} {
		if v := a(annNginx + k); v != "" && v != "0" {
			r.RateLimit = append(r.RateLimit, pol(annNginx+k, k, v))
		}
	}
	if v, ok := ann[annNginx+"proxy-body-size"]; ok {
		if strings.TrimSpace(v.Value) == "0" {
			p := pol(annNginx+"proxy-body-size", "proxy-body-size", "0 (unlimited)")
			r.SizeUnlim = &p
		} else {
			r.SizeLimit = append(r.SizeLimit, pol(annNginx+"proxy-body-size", "proxy-body-size", v.Value))
		}
	} else if ingressNGINX(ann) {
		r.SizeLimit = append(r.SizeLimit, Policy{Kind: "proxy-body-size", Detail: "1m (ingress-nginx default)", Pos: r.Pos, Inherited: "default"})
	}
	if a(annNginx+"enable-cors") == "true" {
		c := CORS{Pos: o.d.pos(ann[annNginx+"enable-cors"]), Credentials: a(annNginx+"cors-allow-credentials") != "false"}
		if v := a(annNginx + "cors-allow-origin"); v != "" {
			c.Pos = o.d.pos(ann[annNginx+"cors-allow-origin"])
			for _, x := range strings.Split(v, ",") {
				c.Origins = append(c.Origins, strings.TrimSpace(x))
			}
		} else {
			c.Origins = []string{"*"} // ingress-nginx's default
		}
		r.CORS = append(r.CORS, c)
	}
	if v := a(annNginx + "enable-access-log"); v == "false" {
		p := pol(annNginx+"enable-access-log", "enable-access-log false", "")
		r.LoggingOff = &p
	}
	if v := a(annNginx + "mirror-target"); v != "" {
		r.Mirror = append(r.Mirror, Policy{Kind: "mirror-target", Detail: redactURL(v), Pos: o.d.pos(ann[annNginx+"mirror-target"]), Ingestible: true})
	}
	if v := a(annNginx + "whitelist-source-range"); v != "" {
		r.IPAllow = append(r.IPAllow, pol(annNginx+"whitelist-source-range", "whitelist-source-range", v))
	}
	if v := a(annNginx + "allowlist-source-range"); v != "" {
		r.IPAllow = append(r.IPAllow, pol(annNginx+"allowlist-source-range", "allowlist-source-range", v))
	}
	for _, k := range []string{"configuration-snippet", "server-snippet"} {
		if v, ok := ann[annNginx+k]; ok {
			s.snippet(o, r, v)
		}
	}
	// Kong Ingress Controller
	if v := a(annKong + "plugins"); v != "" {
		for _, name := range strings.Split(v, ",") {
			kp, ok := s.kongPlugins[strings.TrimSpace(name)]
			if !ok {
				s.cfg.Notes = append(s.cfg.Notes, "KongPlugin "+strings.TrimSpace(name)+" not in the file")
				continue
			}
			applyKongPlugin(s.cfg, r, kongPlugin{name: str(get(kp.n, "plugin")), node: kp.n, cfg: get(kp.n, "config"), pos: kp.d.pos(get(kp.n, "plugin"))}, "")
		}
	}
	// Traefik
	if v := a(annTraefik + "router.middlewares"); v != "" {
		for _, name := range strings.Split(v, ",") {
			name = strings.TrimSuffix(strings.TrimSpace(name), "@kubernetescrd")
			if mw, ok := s.middlewares[name]; ok {
				s.traefik(mw, r)
			}
		}
	}
	for k, v := range ann {
		if deprecatedWord(k) || (strings.HasSuffix(k, "/deprecated") && v.Value == "true") {
			r.Deprecated = &Policy{Kind: "annotation", Detail: k, Pos: o.d.pos(v)}
		}
	}
	if deprecatedWord(o.name) {
		r.Deprecated = &Policy{Kind: "name", Detail: o.name, Pos: o.d.pos(path(o.n, "metadata", "name"))}
	}
}

func ingressNGINX(ann map[string]*yamltree.Node) bool {
	for k := range ann {
		if strings.HasPrefix(k, annNginx) {
			return true
		}
	}
	v := ann["kubernetes.io/ingress.class"]
	return v != nil && strings.Contains(v.Value, "nginx")
}

// snippet reads NGINX directives embedded in an annotation with gonginx
// (security headers, access_log off, inline credentials).
func (s *k8sSet) snippet(o k8sObj, r *Route, v *yamltree.Node) {
	l := &ngxLoader{notes: map[string]int{}}
	base := o.d.pos(v)
	nodes, err := l.parseFile(o.d.file, []byte(v.Value))
	if err != nil {
		s.cfg.Notes = append(s.cfg.Notes, fmt.Sprintf("%s: snippet not parsed: %v", base, err))
		return
	}
	// Positions inside the block scalar: offset lines by the scalar's line
	// (+1 for "|" block scalars).
	off := base.Line
	if v.Style == yamltree.LiteralStyle || v.Style == yamltree.FoldedStyle {
		off++
	} else {
		off = base.Line - 1
	}
	var fix func(ns []*ngxNode)
	fix = func(ns []*ngxNode) {
		for _, n := range ns {
			n.pos = Pos{File: o.d.file, Line: off + n.pos.Line - 1, Column: n.pos.Column, Pointer: base.Pointer}
			if v.Style == yamltree.LiteralStyle || v.Style == yamltree.FoldedStyle {
				n.pos.Column += v.Column + 1
			}
			fix(n.kids)
		}
	}
	fix(nodes)
	w := &ngxWalker{cfg: s.cfg, upstreams: map[string]*ngxNode{}, formats: map[string]bool{}}
	w.secrets(nodes)
	sc := w.scope(&ngxScope{}, nodes, "location")
	for _, h := range sc.headers {
		r.Headers[h.name] = h.pos
	}
	if sc.logOff != nil {
		r.LoggingOff = sc.logOff
	}
	r.RateLimit = append(r.RateLimit, sc.limitReq...)
	r.Auth = append(r.Auth, sc.auth...)
}

// traefik applies a Traefik Middleware.
func (s *k8sSet) traefik(mw k8sObj, r *Route) {
	spec := get(mw.n, "spec")
	pairs(spec, func(k string, kn, v *yamltree.Node) {
		p := Policy{Kind: "traefik " + k, Pos: mw.d.pos(kn)}
		switch k {
		case "basicAuth", "digestAuth", "forwardAuth":
			r.Auth = append(r.Auth, p)
		case "rateLimit":
			p.Detail = str(get(v, "average"))
			r.RateLimit = append(r.RateLimit, p)
		case "buffering":
			if m := str(get(v, "maxRequestBodyBytes")); m != "" && m != "0" {
				p.Detail = m
				r.SizeLimit = append(r.SizeLimit, p)
			}
		case "ipWhiteList", "ipAllowList":
			r.IPAllow = append(r.IPAllow, p)
		case "headers":
			pairs(get(v, "customResponseHeaders"), func(h string, hn, _ *yamltree.Node) { r.Headers[strings.ToLower(h)] = mw.d.pos(hn) })
			if get(v, "stsSeconds") != nil {
				r.Headers["strict-transport-security"] = mw.d.pos(get(v, "stsSeconds"))
			}
			if yamltree.IsTrue(get(v, "contentTypeNosniff")) {
				r.Headers["x-content-type-options"] = mw.d.pos(get(v, "contentTypeNosniff"))
			}
			if yamltree.IsTrue(get(v, "frameDeny")) {
				r.Headers["x-frame-options"] = mw.d.pos(get(v, "frameDeny"))
			}
			if o := get(v, "accessControlAllowOriginList"); o != nil {
				r.CORS = append(r.CORS, CORS{Origins: strs(o), Credentials: yamltree.IsTrue(get(v, "accessControlAllowCredentials")), Pos: mw.d.pos(o)})
			}
		}
	})
}

// httpRoute reads a Gateway API HTTPRoute or GRPCRoute.
func (s *k8sSet) httpRoute(o k8sObj) {
	spec := get(o.n, "spec")
	var hosts []Host
	for _, h := range items(get(spec, "hostnames")) {
		hosts = append(hosts, Host{Value: strings.ToLower(h.Value), Pos: o.d.pos(h)})
	}
	tls := false
	var gwHosts []Host
	for _, pr := range items(get(spec, "parentRefs")) {
		gw := str(get(pr, "name"))
		if s.gatewayTLS[gw] {
			tls = true
		}
		if len(hosts) == 0 {
			for _, g := range s.gateways {
				if g.name != gw {
					continue
				}
				for _, l := range items(path(g.n, "spec", "listeners")) {
					if h := get(l, "hostname"); h != nil {
						gwHosts = append(gwHosts, Host{Value: strings.ToLower(h.Value), Pos: g.d.pos(h)})
					}
				}
			}
		}
	}
	if len(hosts) == 0 {
		hosts = gwHosts
	}
	ns := o.ns
	if ns == "" {
		ns = "default"
	}
	pols := s.policiesFor(o)
	for ri, rule := range items(get(spec, "rules")) {
		matches := items(get(rule, "matches"))
		if len(matches) == 0 {
			matches = []*yamltree.Node{nil}
		}
		r := newRoute(fmt.Sprintf("%s rule %d", o.name, ri+1), o.d.pos(rule))
		r.API = o.name
		r.Hosts = hosts
		r.AnyHost = len(hosts) == 0
		r.HostsPos = o.d.pos(get(spec, "hostnames"))
		if r.AnyHost {
			r.HostsPos = o.d.pos(o.n)
		}
		for _, m := range matches {
			pm := PathMatch{Value: "/", Kind: MatchPrefix, Pos: o.d.pos(rule)}
			if p := get(m, "path"); p != nil {
				pm.Value = str(get(p, "value"))
				if pm.Value == "" {
					pm.Value = "/"
				}
				pm.Pos = o.d.pos(p)
				switch str(get(p, "type")) {
				case "Exact":
					pm.Kind = MatchExact
				case "RegularExpression":
					pm.Kind, pm.Anchor = MatchRegex, "full"
				}
			}
			if svc := get(m, "method"); svc != nil && o.kind == "GRPCRoute" {
				pm.Value = "/" + str(get(svc, "service")) + "/" + str(get(svc, "method"))
				pm.Kind = MatchPrefix
			} else if mt := str(get(m, "method")); mt != "" {
				r.Methods = append(r.Methods, strings.ToUpper(mt))
			}
			r.Paths = append(r.Paths, pm)
		}
		for _, br := range items(get(rule, "backendRefs")) {
			name, port := str(get(br, "name")), str(get(br, "port"))
			scheme := "http"
			if o.kind == "GRPCRoute" {
				scheme = "grpc"
			}
			b := Backend{URL: fmt.Sprintf("%s://%s.%s.svc:%s", scheme, name, ns, port), Scheme: scheme, Host: name + "." + ns + ".svc", Port: port, Pos: o.d.pos(br)}
			if bt, ok := s.backendTLS[name]; ok {
				b.Scheme = "https"
				b.URL = strings.Replace(b.URL, scheme+"://", "https://", 1)
				v := path(bt.n, "spec", "validation")
				if v == nil {
					v = path(bt.n, "spec", "tls")
				}
				if get(v, "caCertificateRefs") != nil || get(v, "wellKnownCACertificates") != nil || get(v, "caCertRefs") != nil {
					b.TLSVerify, b.VerifyPos = "on", bt.d.pos(v)
				} else {
					b.TLSVerify, b.VerifyPos = "off", bt.d.pos(path(bt.n, "spec"))
				}
			}
			r.Backends = append(r.Backends, b)
		}
		for _, f := range items(get(rule, "filters")) {
			t := str(get(f, "type"))
			switch t {
			case "RequestMirror":
				r.Mirror = append(r.Mirror, Policy{Kind: "RequestMirror", Detail: str(path(f, "requestMirror", "backendRef", "name")), Pos: o.d.pos(f), Ingestible: true})
			case "ResponseHeaderModifier":
				for _, k := range []string{"add", "set"} {
					for _, h := range items(path(f, "responseHeaderModifier", k)) {
						r.Headers[strings.ToLower(str(get(h, "name")))] = o.d.pos(h)
					}
				}
			case "RequestHeaderModifier":
				for _, k := range []string{"add", "set"} {
					for _, h := range items(path(f, "requestHeaderModifier", k)) {
						n, v := str(get(h, "name")), str(get(h, "value"))
						if strings.EqualFold(n, "authorization") && bearerLiteral(v) {
							s.cfg.Secrets = append(s.cfg.Secrets, Secret{What: "request header " + n, Redacted: redactValue(v), Pos: o.d.pos(get(h, "value"))})
						} else if w, ok := inlineSecret(n, v); ok {
							s.cfg.Secrets = append(s.cfg.Secrets, Secret{What: "request header " + n + " (" + w + ")", Redacted: redactValue(v), Pos: o.d.pos(get(h, "value"))})
						}
					}
				}
			case "CORS":
				c := get(f, "cors")
				r.CORS = append(r.CORS, CORS{Origins: strs(get(c, "allowOrigins")), Credentials: yamltree.IsTrue(get(c, "allowCredentials")), Pos: o.d.pos(c)})
			case "ExtensionRef":
				if kp, ok := s.kongPlugins[str(path(f, "extensionRef", "name"))]; ok {
					applyKongPlugin(s.cfg, r, kongPlugin{name: str(get(kp.n, "plugin")), node: kp.n, cfg: get(kp.n, "config"), pos: kp.d.pos(get(kp.n, "plugin"))}, "")
				}
			}
		}
		for _, p := range pols {
			s.applyPolicy(p, r)
		}
		ann := s.annotations(o)
		s.ingressAnnotations(o, r, ann)
		if !tls {
			r.Defaults["plaintext-listener"] = "no HTTPS listener on the parent Gateway"
		}
		if len(r.SizeLimit) == 0 {
			r.Defaults["size"] = "Gateway API sets no request body limit; the implementation's default applies"
		}
		s.cfg.Routes = append(s.cfg.Routes, r)
	}
}

// policiesFor lists Envoy Gateway policies targeting the route or its Gateway.
func (s *k8sSet) policiesFor(o k8sObj) []k8sObj {
	parents := map[string]bool{}
	for _, pr := range items(path(o.n, "spec", "parentRefs")) {
		parents[str(get(pr, "name"))] = true
	}
	var out []k8sObj
	for _, p := range s.policies {
		for _, t := range append(items(path(p.n, "spec", "targetRefs")), path(p.n, "spec", "targetRef")) {
			if t == nil {
				continue
			}
			k, n := str(get(t, "kind")), str(get(t, "name"))
			if (k == o.kind && n == o.name) || (k == "Gateway" && parents[n]) {
				out = append(out, p)
				break
			}
		}
	}
	return out
}

func (s *k8sSet) applyPolicy(p k8sObj, r *Route) {
	spec := get(p.n, "spec")
	inh := ""
	pairs(spec, func(k string, kn, v *yamltree.Node) {
		pol := Policy{Kind: p.kind + " " + k, Pos: p.d.pos(kn), Inherited: inh}
		switch k {
		case "jwt", "basicAuth", "oidc", "apiKeyAuth", "extAuth", "authorization":
			r.Auth = append(r.Auth, pol)
		case "rateLimit":
			r.RateLimit = append(r.RateLimit, pol)
		case "cors":
			r.CORS = append(r.CORS, CORS{Origins: strs(get(v, "allowOrigins")), Credentials: yamltree.IsTrue(get(v, "allowCredentials")), Pos: p.d.pos(kn)})
		case "requestBuffer":
			r.SizeLimit = append(r.SizeLimit, pol)
		}
	})
}

// secret reports Secret manifests carrying their values in the file.
func (s *k8sSet) secret(o k8sObj) {
	for _, k := range []string{"data", "stringData"} {
		pairs(get(o.n, k), func(key string, _, v *yamltree.Node) {
			if v.Kind != yamltree.ScalarNode || v.Value == "" || isPlaceholder(v.Value) || isReference(v.Value) {
				return
			}
			if key == "tls.crt" || key == "ca.crt" {
				return // certificates are public
			}
			s.cfg.Secrets = append(s.cfg.Secrets, Secret{What: fmt.Sprintf("Secret %s %s.%s", o.name, k, key), Redacted: redactValue(v.Value), Pos: o.d.pos(v)})
		})
	}
}
