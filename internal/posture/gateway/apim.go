package gateway

import (
	"encoding/xml"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"

	"github.com/palisade-sec/palisade/internal/posture/yamltree"
)

// Azure API Management: an ARM template (or a Bicep file compiled or
// exported to ARM JSON) holding Microsoft.ApiManagement/service resources.
// Policies are XML documents inside JSON strings: they are read with
// encoding/xml and located at the JSON string (file:line:column), with the
// element and its line inside the policy in the finding's detail.

type armRes struct {
	typ   string   // full type, e.g. Microsoft.ApiManagement/service/apis
	name  []string // name segments after the service
	n     *yamltree.Node
	props *yamltree.Node
}

type apimPolicy struct {
	pos      Pos
	elems    []apimElem
	base     map[string]bool // section -> contains <base/>
	sections map[string]bool
}

type apimElem struct {
	section string
	name    string
	attrs   map[string]string
	text    string // text of <value> children (set-header) / <origin>
	kids    []string
	origins []string // <origin> values (cors)
	line    int
}

var armParamRe = regexp.MustCompile(`(?:parameters|variables)\('[^']*'\)`)
var armLitRe = regexp.MustCompile(`'([^']*)'`)

// armName splits a resource name ("svc/api/op" or an ARM expression).
func armName(s string) []string {
	if strings.HasPrefix(s, "[") {
		s = armParamRe.ReplaceAllString(s, "")
		var lits []string
		for _, m := range armLitRe.FindAllStringSubmatch(s, -1) {
			lits = append(lits, m[1])
		}
		s = "X" + strings.Join(lits, "")
		if !strings.Contains(s, "/") {
			return []string{s}
		}
	}
	parts := strings.Split(s, "/")
	return parts
}

func parseAPIM(d *doc) (*Config, error) {
	cfg := &Config{File: d.file, Kind: KindAPIM, Files: []string{d.file}, Pos: d.pos(d.root)}
	var res []armRes
	var collect func(list *yamltree.Node, parentType string, parentName []string, depth int)
	collect = func(list *yamltree.Node, parentType string, parentName []string, depth int) {
		if depth > 8 {
			return
		}
		var nodes []*yamltree.Node
		if list != nil && list.Kind == yamltree.MappingNode { // languageVersion 2.0: symbolic names
			pairs(list, func(_ string, _, v *yamltree.Node) { nodes = append(nodes, v) })
		} else {
			nodes = items(list)
		}
		for _, n := range nodes {
			typ := str(get(n, "type"))
			name := armName(str(get(n, "name")))
			if parentType != "" && !strings.Contains(typ, "/") {
				typ = parentType + "/" + typ
				name = append(append([]string(nil), parentName...), name...)
			} else if len(name) > 0 {
				name = name[1:] // drop the service name
			}
			if strings.HasPrefix(typ, "Microsoft.ApiManagement/service") {
				res = append(res, armRes{typ: strings.TrimPrefix(typ, "Microsoft.ApiManagement/"), name: name, n: n, props: get(n, "properties")})
			}
			collect(get(n, "resources"), typ, name, depth+1)
		}
	}
	if get(d.root, "resources") != nil {
		collect(get(d.root, "resources"), "", nil, 0)
	} else if get(d.root, "value") != nil { // a list export: {"value": [...]}
		collect(get(d.root, "value"), "", nil, 0)
	} else {
		collect(&yamltree.Node{Kind: yamltree.SequenceNode, Content: []*yamltree.Node{d.root}}, "", nil, 0)
	}
	if len(res) == 0 {
		return nil, &Error{File: d.file, Line: d.root.Line, Column: d.root.Column, Msg: "no Microsoft.ApiManagement resources"}
	}
	seg := func(r armRes, i int) string {
		if i < len(r.name) {
			return r.name[i]
		}
		return ""
	}
	var (
		global    *apimPolicy
		apiPol    = map[string]*apimPolicy{}
		opPol     = map[string]*apimPolicy{}
		prodPol   = map[string]*apimPolicy{}
		prodAPIs  = map[string][]string{}
		backends  = map[string]Backend{}
		apis      []armRes
		ops       = map[string][]armRes{}
		hosts     []Host
		logging   []Policy
		apiLogs   = map[string][]Policy{}
		namedSecr = map[string]bool{}
	)
	for _, r := range res {
		p := r.props
		switch r.typ {
		case "service":
			for _, hc := range items(get(p, "hostnameConfigurations")) {
				if str(get(hc, "type")) == "Proxy" {
					if h := get(hc, "hostName"); h != nil {
						hosts = append(hosts, Host{Value: strings.ToLower(h.Value), Pos: d.pos(h)})
					}
				}
			}
			pairs(get(p, "customProperties"), func(k string, _, v *yamltree.Node) {
				if strings.Contains(k, "Protocols.Server.Http10") {
					return
				}
			})
		case "service/policies":
			global = parseAPIMPolicy(d, get(p, "value"), get(p, "format"), cfg)
		case "service/apis":
			apis = append(apis, r)
		case "service/apis/operations":
			ops[seg(r, 0)] = append(ops[seg(r, 0)], r)
		case "service/apis/policies":
			apiPol[seg(r, 0)] = parseAPIMPolicy(d, get(p, "value"), get(p, "format"), cfg)
		case "service/apis/operations/policies":
			opPol[seg(r, 0)+"/"+seg(r, 1)] = parseAPIMPolicy(d, get(p, "value"), get(p, "format"), cfg)
		case "service/products/policies":
			prodPol[seg(r, 0)] = parseAPIMPolicy(d, get(p, "value"), get(p, "format"), cfg)
		case "service/products/apis":
			prodAPIs[seg(r, 1)] = append(prodAPIs[seg(r, 1)], seg(r, 0))
		case "service/backends":
			b := parseBackend(str(get(p, "url")), d.pos(get(p, "url")))
			if b.Scheme == "https" {
				tls := get(p, "tls")
				switch {
				case yamlFalse(get(tls, "validateCertificateChain")):
					b.TLSVerify, b.VerifyPos = "off", d.pos(get(tls, "validateCertificateChain"))
				case yamlFalse(get(tls, "validateCertificateName")):
					b.TLSVerify, b.VerifyPos = "off", d.pos(get(tls, "validateCertificateName"))
				default:
					b.TLSVerify = "on"
				}
			}
			backends[seg(r, 0)] = b
			apimCredSecrets(cfg, d, get(p, "credentials"), "backend "+seg(r, 0))
		case "service/namedValues", "service/properties":
			v := get(p, "value")
			name := str(get(p, "displayName"))
			if v == nil || isReference(v.Value) {
				continue
			}
			if get(p, "keyVault") != nil {
				continue
			}
			if yamlTrue(get(p, "secret")) || isSecretField(name) || isSecretField(seg(r, 0)) {
				namedSecr[seg(r, 0)] = true
				if !isPlaceholder(v.Value) {
					cfg.Secrets = append(cfg.Secrets, Secret{What: "named value " + name + " (not in Key Vault)", Redacted: redactValue(v.Value), Pos: d.pos(v)})
				}
			} else if w, ok := inlineSecret("", v.Value); ok {
				cfg.Secrets = append(cfg.Secrets, Secret{What: "named value " + name + " (" + w + ")", Redacted: redactValue(v.Value), Pos: d.pos(v)})
			}
		case "service/subscriptions":
			scope := get(p, "scope")
			c := &Consumer{Name: firstNonEmpty(str(get(p, "displayName")), seg(r, 0)), Pos: d.pos(r.n), Scope: str(scope), ScopePos: d.pos(scope)}
			sc := strings.TrimSuffix(strings.ToLower(str(scope)), "/")
			if strings.HasSuffix(sc, "/apis") || strings.HasSuffix(sc, "/apis')]") || strings.HasSuffix(sc, "'/apis')]") || strings.HasSuffix(sc, "/apis\")]") {
				c.AllAPIs = true
			}
			cfg.Consumers = append(cfg.Consumers, c)
			for _, k := range []string{"primaryKey", "secondaryKey"} {
				if v := get(p, k); v != nil && !isReference(v.Value) && !isPlaceholder(v.Value) {
					cfg.Secrets = append(cfg.Secrets, Secret{What: "subscription " + k, Redacted: redactValue(v.Value), Pos: d.pos(v)})
				}
			}
		case "service/diagnostics":
			logging = append(logging, Policy{Kind: "diagnostics " + seg(r, 0), Detail: str(get(p, "loggerId")), Pos: d.pos(r.n), Inherited: "service", Ingestible: true})
		case "service/apis/diagnostics":
			apiLogs[seg(r, 0)] = append(apiLogs[seg(r, 0)], Policy{Kind: "diagnostics " + seg(r, 1), Detail: str(get(p, "loggerId")), Pos: d.pos(r.n), Ingestible: true})
		case "service/loggers":
			apimCredSecrets(cfg, d, get(p, "credentials"), "logger "+seg(r, 0))
		}
	}
	cfg.Logging = logging
	hostUnknown := false
	if len(hosts) == 0 {
		// The default gateway host, SERVICE.azure-api.net.
		for _, r := range res {
			if r.typ == "service" {
				name := str(get(r.n, "name"))
				if strings.HasPrefix(name, "[") {
					hostUnknown = true
					continue
				}
				hosts = []Host{{Value: strings.ToLower(name) + ".azure-api.net", Pos: d.pos(get(r.n, "name"))}}
			}
		}
		if len(hosts) == 0 {
			hostUnknown = true
		}
	}
	// Versions in the same version set: older ones are "old versions".
	for _, a := range apis {
		id := seg(a, 0)
		p := a.props
		apiPath := strings.Trim(str(get(p, "path")), "/")
		var b []Backend
		if u := get(p, "serviceUrl"); u != nil {
			bk := parseBackend(u.Value, d.pos(u))
			if bk.Scheme == "https" {
				bk.TLSVerify = "on" // APIM validates by default
			}
			b = append(b, bk)
		}
		version := str(get(p, "apiVersion"))
		pols := []*apimPolicy{global}
		for prod, list := range prodAPIs {
			for _, x := range list {
				if x == id {
					pols = append(pols, prodPol[prod])
				}
			}
		}
		pols = append(pols, apiPol[id])
		subReq := get(p, "subscriptionRequired")
		mk := func(name string, n *yamltree.Node, method, tmpl string, extra *apimPolicy) {
			r := newRoute(name, d.pos(n))
			r.API = firstNonEmpty(str(get(p, "apiVersionSetId")), id)
			r.Hosts = hosts
			r.HostUnknown = hostUnknown
			full := "/" + apiPath
			if tmpl != "" {
				full = strings.TrimSuffix(full, "/") + "/" + strings.TrimPrefix(tmpl, "/")
				r.Paths = []PathMatch{{Value: full, Kind: MatchExact, Pos: d.pos(n)}}
			} else {
				r.Paths = []PathMatch{{Value: full, Kind: MatchPrefix, Pos: d.pos(get(p, "path"))}}
			}
			if method != "" {
				r.Methods = []string{strings.ToUpper(method)}
			}
			r.Backends = append([]Backend(nil), b...)
			if version != "" {
				r.Version, r.VersionPos = version, d.pos(get(p, "apiVersion"))
			}
			if subReq == nil || yamlTrue(subReq) {
				r.Auth = append(r.Auth, Policy{Kind: "subscription key", Pos: d.pos(a.n), Inherited: "api"})
			} else {
				pp := Policy{Kind: "subscriptionRequired false", Pos: d.pos(subReq)}
				r.AuthOff = &pp
			}
			if s := get(p, "authenticationSettings"); get(s, "oAuth2") != nil || get(s, "openid") != nil {
				// Documentation only: APIM does not enforce these without validate-jwt.
				r.Defaults["auth-doc"] = "authenticationSettings documents OAuth 2.0 but does not enforce it"
			}
			applyAPIMPolicies(r, append(append([]*apimPolicy(nil), pols...), extra), backends)
			r.Logging = append(append(r.Logging, logging...), apiLogs[id]...)
			if yamlFalse(get(p, "isCurrent")) {
				r.Deprecated = &Policy{Kind: "isCurrent false", Detail: "not the current revision", Pos: d.pos(get(p, "isCurrent"))}
			}
			if deprecatedWord(str(get(p, "apiVersionDescription"))) || deprecatedWord(str(get(p, "description"))) || deprecatedWord(str(get(p, "displayName"))) {
				r.Deprecated = &Policy{Kind: "description", Detail: "described as deprecated", Pos: d.pos(a.n)}
			}
			for _, pr := range strs(get(p, "protocols")) {
				if strings.EqualFold(pr, "http") {
					r.Defaults["plaintext-listener"] = "API accepts http"
				}
			}
			if len(r.SizeLimit) == 0 {
				r.Defaults["size"] = "no validate-content max-size policy"
			}
			cfg.Routes = append(cfg.Routes, r)
		}
		if len(ops[id]) == 0 {
			mk(firstNonEmpty(str(get(p, "displayName")), id), a.n, "", "", nil)
			continue
		}
		for _, o := range ops[id] {
			op := seg(o, 1)
			mk(firstNonEmpty(str(get(p, "displayName")), id)+" "+op, o.n, str(get(o.props, "method")), str(get(o.props, "urlTemplate")), opPol[id+"/"+op])
		}
	}
	_ = namedSecr
	return cfg, nil
}

func yamlTrue(n *yamltree.Node) bool { return n != nil && (n.Value == "true" || n.Value == "True") }

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}

func apimCredSecrets(cfg *Config, d *doc, n *yamltree.Node, what string) {
	yamltree.Walk(n, func(keys []string, v *yamltree.Node) bool {
		key := yamltree.Last(keys)
		switch key {
		case "scheme", "username", "certificateIds", "certificate":
			return false
		}
		if v.Kind != yamltree.ScalarNode {
			return true
		}
		if isReference(v.Value) || isPlaceholder(v.Value) {
			return false
		}
		lk := strings.ToLower(key)
		if _, ok := inlineSecret(key, v.Value); ok || key == "parameter" || strings.Contains(lk, "key") || strings.Contains(lk, "connectionstring") {
			cfg.Secrets = append(cfg.Secrets, Secret{What: what + " credential " + key, Redacted: redactValue(v.Value), Pos: d.pos(v)})
		}
		return false
	})
}

// parseAPIMPolicy reads a policy document (format xml/rawxml; links are
// noted, not fetched).
func parseAPIMPolicy(d *doc, v, format *yamltree.Node, cfg *Config) *apimPolicy {
	if v == nil {
		return nil
	}
	p := &apimPolicy{pos: d.pos(v), base: map[string]bool{}, sections: map[string]bool{}}
	if f := strings.ToLower(str(format)); strings.HasSuffix(f, "link") {
		cfg.Notes = append(cfg.Notes, fmt.Sprintf("%s: policy given as a link (%s), not fetched", p.pos, str(format)))
		return p
	}
	dec := xml.NewDecoder(strings.NewReader(v.Value))
	dec.Strict = false
	dec.Entity = xml.HTMLEntity
	var stack []string
	var cur []*apimElem
	for i := 0; i < 100000; i++ {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			line, _ := dec.InputPos()
			cfg.Notes = append(cfg.Notes, fmt.Sprintf("%s: policy XML not fully read (policy line %d): %v", p.pos, line, err))
			break
		}
		switch t := tok.(type) {
		case xml.StartElement:
			name := t.Name.Local
			stack = append(stack, name)
			section := ""
			if len(stack) >= 2 {
				section = stack[1]
			}
			if len(stack) == 2 {
				p.sections[name] = true
			}
			if name == "base" {
				p.base[section] = true
			}
			line, _ := dec.InputPos()
			e := &apimElem{section: section, name: name, attrs: map[string]string{}, line: line}
			for _, a := range t.Attr {
				e.attrs[a.Name.Local] = a.Value
			}
			if len(cur) > 0 {
				cur[len(cur)-1].kids = append(cur[len(cur)-1].kids, name)
			}
			cur = append(cur, e)
		case xml.CharData:
			if len(cur) > 0 {
				if txt := strings.TrimSpace(string(t)); txt != "" {
					cur[len(cur)-1].text = strings.TrimSpace(cur[len(cur)-1].text + " " + txt)
				}
			}
		case xml.EndElement:
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			if len(cur) == 0 {
				continue
			}
			e := cur[len(cur)-1]
			cur = cur[:len(cur)-1]
			switch {
			case len(cur) == 2: // <policies><section><policy>
				p.elems = append(p.elems, *e)
			case len(cur) > 2: // nested (<value>, <origin>, ...): fold into the parent
				parent := cur[len(cur)-1]
				if e.text != "" {
					parent.text = strings.TrimSpace(parent.text + " " + e.text)
				}
				for k, v := range e.attrs {
					if _, ok := parent.attrs[e.name+"."+k]; !ok {
						parent.attrs[e.name+"."+k] = v
					}
				}
				parent.kids = append(parent.kids, e.kids...)
				if e.name == "origin" {
					parent.origins = append(parent.origins, e.text)
				}
				parent.origins = append(parent.origins, e.origins...)
			}
		}
	}
	// secrets inside the policy
	for _, e := range p.elems {
		detail := fmt.Sprintf("<%s> at policy line %d", e.name, e.line)
		switch e.name {
		case "set-header", "set-query-parameter":
			n := e.attrs["name"]
			if strings.EqualFold(n, "authorization") && bearerLiteral(e.text) {
				cfg.Secrets = append(cfg.Secrets, Secret{What: detail + " " + n, Redacted: redactValue(e.text), Pos: p.pos})
			} else if w, ok := inlineSecret(n, e.text); ok && !strings.Contains(e.text, "{{") && !strings.Contains(e.text, "@(") {
				cfg.Secrets = append(cfg.Secrets, Secret{What: detail + " " + n + " (" + w + ")", Redacted: redactValue(e.text), Pos: p.pos})
			}
		case "authentication-basic":
			if pw := e.attrs["password"]; pw != "" && !strings.Contains(pw, "{{") && !isPlaceholder(pw) {
				cfg.Secrets = append(cfg.Secrets, Secret{What: detail + " password", Redacted: redactValue(pw), Pos: p.pos})
			}
		}
		for k, v := range e.attrs {
			if strings.Contains(v, "{{") || strings.Contains(v, "@(") {
				continue
			}
			if w, ok := inlineSecret(k, v); ok && k != "password" {
				cfg.Secrets = append(cfg.Secrets, Secret{What: detail + " attribute " + k + " (" + w + ")", Redacted: redactValue(v), Pos: p.pos})
			}
		}
	}
	return p
}

// applyAPIMPolicies applies a chain global → product → API → operation:
// a level without <base/> in a section drops what the levels above put
// there.
func applyAPIMPolicies(r *Route, chain []*apimPolicy, backends map[string]Backend) {
	type item struct {
		e   apimElem
		pos Pos
		lvl int
	}
	sections := map[string][]item{}
	levels := []string{"global", "product", "api", "operation"}
	for i, p := range chain {
		if p == nil {
			continue
		}
		for sec := range p.sections {
			if !p.base[sec] {
				sections[sec] = nil
			}
		}
		for _, e := range p.elems {
			sections[e.section] = append(sections[e.section], item{e: e, pos: p.pos, lvl: i})
		}
	}
	var secs []string
	for s := range sections {
		secs = append(secs, s)
	}
	sort.Strings(secs)
	for _, sec := range secs {
		for _, it := range sections[sec] {
			e := it.e
			lvl := levels[min(it.lvl, len(levels)-1)]
			if it.lvl == len(chain)-1 {
				lvl = ""
			}
			pol := Policy{Kind: e.name, Detail: fmt.Sprintf("<%s> at policy line %d", e.name, e.line), Pos: it.pos, Inherited: lvl}
			switch e.name {
			case "validate-jwt", "validate-azure-ad-token", "validate-client-certificate":
				if sec == "inbound" {
					r.Auth = append(r.Auth, pol)
				}
			case "check-header":
				if n := strings.ToLower(e.attrs["name"]); sec == "inbound" && (n == "authorization" || strings.Contains(n, "key") || strings.Contains(n, "token")) {
					r.Auth = append(r.Auth, pol)
				}
			case "ip-filter":
				r.IPAllow = append(r.IPAllow, pol)
			case "rate-limit", "rate-limit-by-key", "quota", "quota-by-key", "llm-token-limit", "azure-openai-token-limit":
				pol.Detail += " calls=" + e.attrs["calls"] + " period=" + e.attrs["renewal-period"]
				r.RateLimit = append(r.RateLimit, pol)
			case "validate-content":
				if e.attrs["max-size"] != "" {
					pol.Detail += " max-size=" + e.attrs["max-size"]
					r.SizeLimit = append(r.SizeLimit, pol)
				}
			case "cors":
				c := CORS{Pos: it.pos, Credentials: strings.EqualFold(e.attrs["allow-credentials"], "true")}
				c.Origins = append(c.Origins, e.origins...)
				if len(c.Origins) == 0 {
					c.Origins = []string{"*"}
				}
				r.CORS = append(r.CORS, c)
			case "log-to-eventhub", "trace", "emit-metric":
				if e.name != "emit-metric" {
					pol.Ingestible = e.name == "log-to-eventhub"
					r.Logging = append(r.Logging, pol)
				}
			case "send-one-way-request":
				pol.Ingestible = true
				r.Mirror = append(r.Mirror, pol)
			case "set-header":
				if sec == "outbound" {
					act := e.attrs["exists-action"]
					if act != "delete" {
						r.Headers[strings.ToLower(e.attrs["name"])] = it.pos
					}
				}
			case "set-backend-service":
				if id := e.attrs["backend-id"]; id != "" {
					if b, ok := backends[id]; ok {
						r.Backends = []Backend{b}
					}
				} else if u := e.attrs["base-url"]; u != "" {
					r.Backends = []Backend{parseBackend(u, it.pos)}
				}
			}
		}
	}
}
