package gateway

import (
	"fmt"
	"sort"
	"strings"

	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/posture/specaudit"
)

const (
	api1 = specaudit.API1
	api2 = specaudit.API2
	api3 = specaudit.API3
	api4 = specaudit.API4
	api5 = specaudit.API5
	api6 = specaudit.API6
	api8 = specaudit.API8
	api9 = specaudit.API9
)

// DocURI is the rule documentation.
const DocURI = "https://github.com/palisade-sec/palisade/blob/main/docs/gateway-audit.md"

// rule is one gateway check: metadata shared with the OpenAPI audit's
// output writers, and a check on the normalized model (static rules) or
// on the model joined with traffic (Joined).
type rule struct {
	*specaudit.Rule
	Joined bool
	check  func(a *auditor, r *rule)
}

func meta(id, name, title, sev string, owasp []string, desc, fix string) *specaudit.Rule {
	return &specaudit.Rule{ID: id, Name: name, Title: title, Severity: sev, OWASP: owasp, Description: desc, Remediation: fix,
		Tags: []string{"gateway"}, HelpURI: DocURI + "#" + strings.ToLower(id)}
}

// Rules returns the catalogue (static and joined rules), ordered by ID.
func Rules() []*specaudit.Rule {
	out := make([]*specaudit.Rule, len(catalogue))
	for i, r := range catalogue {
		out[i] = r.Rule
	}
	return out
}

// RuleByID finds a rule by ID or name.
func RuleByID(id string) *specaudit.Rule {
	if r := ruleByID(id); r != nil {
		return r.Rule
	}
	return nil
}

func ruleByID(id string) *rule {
	for _, r := range catalogue {
		if strings.EqualFold(r.ID, id) || strings.EqualFold(r.Name, id) {
			return r
		}
	}
	return nil
}

// IsJoined reports a rule that needs traffic.
func IsJoined(id string) bool {
	r := ruleByID(id)
	return r != nil && r.Joined
}

// auditor runs rules on one configuration.
type auditor struct {
	cfg  *Config
	out  []model.Finding
	seen map[string]bool
	// joined-rule context (nil for static audits)
	j   *joinCtx
	all []*Config
}

// emit records a finding at p. sev "" uses the rule's severity.
func (a *auditor) emit(r *rule, p Pos, route *Route, sev, msg string, ev map[string]any) {
	a.emitKey(r, p, route, sev, msg, ev, "")
}

// emitKey is emit for findings that share a location but not a subject
// (key distinguishes them: one finding per endpoint).
func (a *auditor) emitKey(r *rule, p Pos, route *Route, sev, msg string, ev map[string]any, subject string) {
	if !p.Valid() {
		p = a.cfg.Pos
		if route != nil && route.Pos.Valid() {
			p = route.Pos
		}
	}
	key := r.ID + "\x00" + p.File + fmt.Sprintf("\x00%d:%d\x00", p.Line, p.Column) + p.Pointer + "\x00" + subject
	if a.seen[key] {
		return
	}
	a.seen[key] = true
	if sev == "" {
		sev = r.Severity
	}
	f := model.Finding{
		ID:          findingID(a.cfg.File, strings.TrimSpace(r.ID+" "+subject), p),
		Rule:        r.ID,
		Title:       r.Title,
		Severity:    sev,
		OWASP:       append([]string(nil), r.OWASP...),
		Source:      "gateway-config",
		Message:     msg,
		Remediation: r.Remediation,
		Location:    &model.Location{File: p.File, Line: p.Line, Column: p.Column, Pointer: p.Pointer},
		Evidence:    ev,
	}
	if route != nil {
		f.Endpoint = routeRef(route)
		if f.Evidence == nil {
			f.Evidence = map[string]any{}
		}
		f.Evidence["gateway"] = routeEvidence(a.cfg, route)
	}
	a.out = append(a.out, f)
}

// routeRef names a route as an endpoint (first host, method and path).
func routeRef(r *Route) *model.EndpointRef {
	ref := &model.EndpointRef{Host: "*", Method: "*", Path: "/"}
	if len(r.Hosts) > 0 && !r.AnyHost {
		ref.Host = r.Hosts[0].Value
	}
	if len(r.Methods) == 1 {
		ref.Method = r.Methods[0]
	}
	if len(r.Paths) > 0 {
		ref.Path = r.Paths[0].Value
	}
	return ref
}

func routeEvidence(c *Config, r *Route) map[string]any {
	ev := map[string]any{"kind": c.Kind, "route": r.Name, "location": r.Pos.String()}
	if len(r.Hosts) > 0 {
		ev["hosts"] = r.HostStrings()
	}
	if r.AnyHost {
		ev["any_host"] = true
	}
	ev["paths"] = r.PathStrings()
	if len(r.Methods) > 0 {
		ev["methods"] = r.Methods
	}
	return ev
}

func policyKinds(ps []Policy) []string {
	var out []string
	for _, p := range ps {
		k := p.Kind
		if p.Inherited != "" {
			k += " (from " + p.Inherited + ")"
		}
		out = append(out, k)
	}
	return out
}

func hasBodyMethod(r *Route) bool {
	if len(r.Methods) == 0 {
		return true
	}
	for _, m := range r.Methods {
		switch m {
		case "POST", "PUT", "PATCH", "DELETE", "*":
			return true
		}
	}
	return false
}

func anonymousByDesign(r *Route) bool {
	if len(r.Paths) == 0 {
		return false
	}
	for _, p := range r.Paths {
		v := regexNoise.Replace(p.Value)
		if v == "/" || v == "" || !specaudit.IsAuthFlowPath(v) {
			return false
		}
	}
	return true
}

func isAdminRoute(r *Route) (string, bool) {
	if w, ok := r.Defaults["admin"]; ok {
		return w, true
	}
	for _, p := range r.Paths {
		if isDebugPath(p.Value) {
			return "administrative or debug path " + p.Value, true
		}
	}
	for _, b := range r.Backends {
		if what, ok := adminPorts[b.Port]; ok && (isLoopback(b.Host) || strings.Contains(b.Host, "admin") || strings.Contains(b.Host, "kong")) {
			return "backend " + b.Host + ":" + b.Port + " is the " + what, true
		}
	}
	return "", false
}

func ipRestricted(r *Route) bool {
	for _, p := range r.IPAllow {
		if p.Kind == "deny" && p.Detail != "all" {
			continue
		}
		return true
	}
	return false
}

// backendGroup is one backend target and the routes that reach it the
// same way (one finding per backend, not per route).
type backendGroup struct {
	backend Backend
	routes  []*Route
}

func (g backendGroup) others() string {
	if len(g.routes) > 1 {
		return fmt.Sprintf(" and %d other routes", len(g.routes)-1)
	}
	return ""
}

func groupBackends(c *Config, keep func(Backend) bool) []backendGroup {
	idx := map[string]int{}
	var out []backendGroup
	for _, rt := range c.Routes {
		for _, b := range rt.Backends {
			if !keep(b) {
				continue
			}
			k := b.Scheme + "\x00" + b.Host + "\x00" + b.Port + "\x00" + b.TLSVerify + "\x00" + b.VerifyPos.String()
			if b.Host == "" {
				k += "\x00" + b.Pos.String()
			}
			i, ok := idx[k]
			if !ok {
				i = len(out)
				idx[k] = i
				out = append(out, backendGroup{backend: b})
			}
			if n := len(out[i].routes); n == 0 || out[i].routes[n-1] != rt {
				out[i].routes = append(out[i].routes, rt)
			}
		}
	}
	return out
}

var catalogue = []*rule{
	{Rule: meta("PAL-G001", "route-without-authentication", "Route without any authentication policy", model.SevHigh, []string{api2, api5},
		"A published route reaches its backend without any authentication policy in force at the gateway (none configured at route, service, server or global level, or one explicitly switched off or made optional with an anonymous fallback). Paths that are anonymous by design (login, registration, token, password reset, webhooks, health, documentation) are exempt; an IP allow-list lowers the severity to medium.",
		"Enforce authentication at the gateway (JWT/OIDC validation, API keys, mTLS, external authorization) on every route; make public routes explicit and rate-limit them."),
		check: func(a *auditor, r *rule) {
			for _, rt := range a.cfg.Routes {
				if len(rt.Backends) == 0 && rt.Defaults["admin"] == "" {
					continue
				}
				if (len(rt.Auth) > 0 && rt.AuthOff == nil) || anonymousByDesign(rt) {
					continue
				}
				p, why := rt.Pos, "no authentication policy applies"
				if rt.AuthOff != nil {
					p, why = rt.AuthOff.Pos, "authentication is switched off or optional here ("+rt.AuthOff.Kind+")"
				}
				sev := ""
				if ipRestricted(rt) {
					sev = model.SevMedium
					why += "; reachable only from an IP allow-list"
				}
				if note := rt.Defaults["auth-doc"]; note != "" {
					why += " (" + note + ")"
				}
				a.emit(r, p, rt, sev, fmt.Sprintf("%s is reachable without credentials: %s", rt.Display(), why), nil)
			}
		}},
	{Rule: meta("PAL-G002", "backend-plaintext", "Backend reached over plain HTTP", model.SevMedium, []string{api8},
		"The gateway forwards requests (with their credentials and data) to a backend over plain HTTP or plaintext gRPC on a non-loopback address. Traffic between the gateway and the backend can be read or changed by anything on that network path — including inside a cluster or VPC. Reported once per backend, with the number of routes that reach it.",
		"Use HTTPS (or gRPC over TLS) to backends and verify their certificates; in a cluster, use a mesh with mTLS."),
		check: func(a *auditor, r *rule) {
			for _, g := range groupBackends(a.cfg, func(b Backend) bool {
				return (b.Scheme == "http" || b.Scheme == "ws" || b.Scheme == "grpc") && !isLoopback(b.Host) && !strings.HasPrefix(b.Host, "$")
			}) {
				b := g.backend
				where := ""
				if strings.HasSuffix(b.Host, ".svc") || strings.Contains(b.Host, ".svc.") || strings.HasSuffix(b.Host, ".internal") || strings.HasSuffix(b.Host, ".local") {
					where = " (inside the cluster or private network: still readable by anything on that path)"
				}
				a.emit(r, b.Pos, g.routes[0], "", fmt.Sprintf("%s%s forwards to %s over %s%s", g.routes[0].Display(), g.others(), redactURL(b.URL), b.Scheme, where), map[string]any{"backend": redactURL(b.URL), "routes": len(g.routes)})
			}
		}},
	{Rule: meta("PAL-G003", "backend-tls-unverified", "Backend TLS certificate not verified", model.SevHigh, []string{api8},
		"The gateway connects to a backend over TLS without verifying its certificate: explicitly switched off (proxy_ssl_verify off, tls_verify: false, validateCertificateChain: false, insecureSkipVerification, an Envoy UpstreamTlsContext without validation context), or left at a product default that does not verify (NGINX and ingress-nginx proxy_ssl_verify, Kong tls_verify; medium severity). Anyone who can intercept the connection can impersonate the backend.",
		"Turn verification on with a trusted CA bundle (proxy_ssl_verify on + proxy_ssl_trusted_certificate; Kong tls_verify: true + ca_certificates; Envoy validation_context.trusted_ca; APIM validateCertificateChain/Name: true)."),
		check: func(a *auditor, r *rule) {
			for _, g := range groupBackends(a.cfg, func(b Backend) bool { return b.TLSVerify == "off" || b.TLSVerify == "default-off" }) {
				b, rt := g.backend, g.routes[0]
				if b.TLSVerify == "off" {
					a.emit(r, b.VerifyPos, rt, "", fmt.Sprintf("%s%s connects to %s over TLS without verifying the certificate", rt.Display(), g.others(), redactURL(b.URL)), map[string]any{"backend": redactURL(b.URL), "routes": len(g.routes)})
				} else {
					a.emit(r, b.VerifyPos, rt, model.SevMedium, fmt.Sprintf("%s%s connects to %s over TLS and the product's default does not verify the certificate (no verification setting here)", rt.Display(), g.others(), redactURL(b.URL)), map[string]any{"backend": redactURL(b.URL), "default": true, "routes": len(g.routes)})
				}
			}
		}},
	{Rule: meta("PAL-G004", "inline-secret", "Secret or key written inline in the configuration", model.SevHigh, []string{api2, api8},
		"A credential is written in the configuration itself: consumer API keys and passwords, JWT/HMAC secrets, subscription keys, named values not backed by a vault, Authorization headers with a literal token added to upstream requests, private keys, Kubernetes Secret values. Configuration is copied to repositories, CI logs and backups, and the credential cannot be rotated without a deployment. Values are redacted in findings.",
		"Move the credential to a secret store (Kong vaults, Kubernetes Secrets from an external store, Azure Key Vault named values, AWS Secrets Manager dynamic references) and reference it; rotate the exposed value."),
		check: func(a *auditor, r *rule) {
			for _, s := range a.cfg.Secrets {
				a.emit(r, s.Pos, nil, "", fmt.Sprintf("%s is written inline: %s", s.What, s.Redacted), map[string]any{"what": s.What, "value_redacted": s.Redacted})
			}
		}},
	{Rule: meta("PAL-G005", "no-rate-limit", "Route without rate limit", model.SevMedium, []string{api4, api6},
		"No rate limit applies to a published route (none on the route, service, server, virtual host or globally). Without it, credential stuffing, enumeration, scraping and cost-driving floods reach the backend at full speed.",
		"Add a rate limit per consumer or client address (limit_req, rate-limiting plugin, local_ratelimit, rate-limit-by-key, stage throttling) sized from observed traffic."),
		check: func(a *auditor, r *rule) {
			for _, rt := range a.cfg.Routes {
				if len(rt.Backends) == 0 || len(rt.RateLimit) > 0 || rt.Defaults["rate-unknown"] != "" {
					continue
				}
				msg := fmt.Sprintf("%s has no rate limit", rt.Display())
				if n := rt.Defaults["rate"]; n != "" {
					msg += " (" + n + ")"
				}
				a.emit(r, rt.Pos, rt, "", msg, nil)
			}
		}},
	{Rule: meta("PAL-G006", "no-request-size-limit", "Route without request size limit", model.SevLow, []string{api4},
		"A route that accepts request bodies has no body size limit, or an explicitly unlimited one (client_max_body_size 0, proxy-body-size \"0\"). Products whose default is bounded (NGINX's 1 MB, API Gateway's 10 MB) are not reported unless the limit is removed.",
		"Set a request body limit that fits the API (client_max_body_size, request-size-limiting, Envoy buffer filter max_request_bytes, validate-content max-size)."),
		check: func(a *auditor, r *rule) {
			for _, rt := range a.cfg.Routes {
				if len(rt.Backends) == 0 || !hasBodyMethod(rt) {
					continue
				}
				if rt.SizeUnlim != nil {
					a.emit(r, rt.SizeUnlim.Pos, rt, model.SevMedium, fmt.Sprintf("%s accepts request bodies of any size (%s %s)", rt.Display(), rt.SizeUnlim.Kind, rt.SizeUnlim.Detail), nil)
					continue
				}
				if len(rt.SizeLimit) > 0 {
					continue
				}
				msg := fmt.Sprintf("%s has no request body size limit", rt.Display())
				if n := rt.Defaults["size"]; n != "" {
					msg += " (" + n + ")"
				}
				a.emit(r, rt.Pos, rt, "", msg, nil)
			}
		}},
	{Rule: meta("PAL-G007", "permissive-cors", "CORS allows any origin", model.SevMedium, []string{api8},
		"The gateway's CORS policy allows any origin (`*`, an origin reflected from the request, a match-all pattern or `null`). With credentials allowed as well the severity is high: any web site a user visits can call the API with the user's cookies or credentials and read the answers.",
		"Allow-list the exact origins of your front ends; never reflect the Origin header; do not allow credentials with a wildcard."),
		check: func(a *auditor, r *rule) {
			for _, rt := range a.cfg.Routes {
				for _, c := range rt.CORS {
					bad := ""
					for _, o := range c.Origins {
						switch {
						case o == "*" || o == ".*" || o == "null":
							bad = o
						case strings.HasPrefix(o, "reflect:"):
							bad = "the request's Origin (" + strings.TrimPrefix(o, "reflect:") + ")"
						}
					}
					if bad == "" {
						continue
					}
					sev, cred := "", ""
					if c.Credentials {
						sev, cred = model.SevHigh, " and allows credentials"
					}
					a.emit(r, c.Pos, rt, sev, fmt.Sprintf("%s allows origin %s%s", rt.Display(), bad, cred), map[string]any{"origins": c.Origins, "credentials": c.Credentials})
				}
			}
		}},
	{Rule: meta("PAL-G008", "admin-route-published", "Administrative or debug interface published", model.SevHigh, []string{api5, api9, api8},
		"A route publishes an administrative, internal or debug interface (admin, internal, management, actuator, debug, pprof, metrics, status pages, the gateway's own admin API), or the gateway's admin interface listens on a non-loopback address, with no IP allow-list. With authentication the severity is medium.",
		"Do not route administrative interfaces through the public gateway; bind admin listeners to loopback or a management network; if they must be reachable, restrict them by IP and require strong authentication."),
		check: func(a *auditor, r *rule) {
			for _, ad := range a.cfg.Admin {
				a.emit(r, ad.Pos, nil, "", fmt.Sprintf("%s listens on %s (not loopback)", ad.What, ad.Address), map[string]any{"address": ad.Address})
			}
			for _, rt := range a.cfg.Routes {
				why, ok := isAdminRoute(rt)
				if !ok || ipRestricted(rt) {
					continue
				}
				sev := ""
				auth := "without authentication"
				if len(rt.Auth) > 0 && rt.AuthOff == nil {
					sev, auth = model.SevMedium, "behind "+strings.Join(policyKinds(rt.Auth), ", ")
				}
				a.emit(r, rt.Pos, rt, sev, fmt.Sprintf("%s publishes %s %s and no IP allow-list", rt.Display(), why, auth), nil)
			}
		}},
	{Rule: meta("PAL-G009", "old-version-routed", "Deprecated or old API version still routed", model.SevLow, []string{api9},
		"A route serves an API version older than another version the same gateway routes for the same API (e.g. /v1/orders next to /v2/orders, an APIM version set), or one the configuration itself marks deprecated, legacy or non-current. Old versions lag behind on fixes and are forgotten in reviews (zombie APIs).",
		"Retire the old version (or give it a sunset date, a Deprecation/Sunset header and its own monitoring); Palisade flags zombie endpoints that still receive traffic."),
		check: func(a *auditor, r *rule) {
			type ver struct {
				rt *Route
				v  string
			}
			groups := map[string][]ver{}
			for _, rt := range a.cfg.Routes {
				if rt.Deprecated != nil {
					a.emit(r, rt.Deprecated.Pos, rt, "", fmt.Sprintf("%s is marked deprecated (%s) and still routed", rt.Display(), rt.Deprecated.Kind), nil)
				}
				v, key := rt.Version, ""
				if v != "" {
					key = "api\x00" + rt.API
				} else if len(rt.Paths) > 0 {
					v = versionOf(rt.Paths[0].Value)
					if v == "" {
						continue
					}
					key = strings.Join(rt.HostStrings(), ",") + "\x00" + strings.Replace(strings.ToLower(rt.Paths[0].Value), v, "{v}", 1)
				}
				if v != "" {
					groups[key] = append(groups[key], ver{rt, strings.ToLower(v)})
				}
			}
			keys := make([]string, 0, len(groups))
			for k := range groups {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				g := groups[k]
				newest := ""
				for _, x := range g {
					if newest == "" || versionLess(newest, x.v) {
						newest = x.v
					}
				}
				for _, x := range g {
					if versionLess(x.v, newest) {
						p := x.rt.Pos
						if x.rt.VersionPos.Valid() {
							p = x.rt.VersionPos
						}
						a.emit(r, p, x.rt, "", fmt.Sprintf("%s still routes version %s while %s is published", x.rt.Display(), x.v, newest), map[string]any{"version": x.v, "newest": newest})
					}
				}
			}
		}},
	{Rule: meta("PAL-G010", "traffic-not-visible", "Access logging or traffic mirroring to Palisade not configured", model.SevMedium, []string{api9, api8},
		"Nothing sends this gateway's traffic where Palisade (or any API security monitor) can see it: no access log or it is switched off for a route, no traffic mirror; or the access logs are in a format Palisade cannot read (e.g. NGINX's default `combined`; Palisade reads JSON access logs, mirrored traffic and OpenTelemetry traces). Attacks on these routes leave no trace to detect or investigate.",
		"Configure a JSON access log (NGINX log_format escape=json, Envoy json_format; see docs/sources.md) or mirror traffic to Palisade's ingestion API, on every route."),
		check: func(a *auditor, r *rule) {
			routes := a.cfg.Routes
			any, ingestible, unknown := len(a.cfg.Logging) > 0 || len(a.cfg.Mirror) > 0, false, 0
			for _, p := range append(append([]Policy(nil), a.cfg.Logging...), a.cfg.Mirror...) {
				if p.Ingestible {
					ingestible = true
				}
			}
			for _, rt := range routes {
				if rt.Defaults["logging-unknown"] != "" {
					unknown++
					continue
				}
				if len(rt.Mirror) > 0 || len(rt.Logging) > 0 {
					any = true
				}
				for _, p := range append(append([]Policy(nil), rt.Logging...), rt.Mirror...) {
					if p.Ingestible {
						ingestible = true
					}
				}
				if rt.LoggingOff != nil && len(rt.Mirror) == 0 {
					a.emit(r, rt.LoggingOff.Pos, rt, "", fmt.Sprintf("%s switches access logging off (%s) and is not mirrored: its traffic is invisible", rt.Display(), rt.LoggingOff.Kind), nil)
				}
			}
			if len(routes) == 0 || unknown == len(routes) {
				return
			}
			if !any {
				a.emit(r, a.cfg.Pos, nil, "", fmt.Sprintf("no access log and no traffic mirror is configured for the %d routes of this %s configuration", len(routes), a.cfg.Kind), nil)
				return
			}
			if !ingestible {
				var what []string
				for _, p := range a.cfg.Logging {
					what = append(what, p.Detail)
				}
				p := a.cfg.Pos
				if len(a.cfg.Logging) > 0 {
					p = a.cfg.Logging[0].Pos
				}
				a.emit(r, p, nil, model.SevLow, fmt.Sprintf("access logs are not in a format Palisade reads and no traffic is mirrored (%s)", strings.Join(what, "; ")), nil)
			}
		}},
	{Rule: meta("PAL-G011", "wildcard-host", "Route matches any or wildcard hosts", model.SevLow, []string{api9, api8},
		"A route matches every Host header (no host condition, `*`, NGINX `server_name _` or default_server, Envoy domains [\"*\"]) or a wildcard or regular-expression host. Requests for forgotten, internal or attacker-chosen names reach the API, host-based controls are bypassed and the inventory of what is published is open-ended. Matching any host is medium severity; a wildcard subdomain is low.",
		"List the exact host names each API is published under; give catch-all servers a fixed 404/421 answer instead of the API."),
		check: func(a *auditor, r *rule) {
			for _, rt := range a.cfg.Routes {
				if len(rt.Backends) == 0 {
					continue
				}
				p := rt.HostsPos
				if !p.Valid() {
					p = rt.Pos
				}
				if rt.AnyHost {
					a.emit(r, p, rt, model.SevMedium, fmt.Sprintf("%s matches any Host header", rt.Display()), nil)
					continue
				}
				for _, h := range rt.Hosts {
					if strings.HasPrefix(h.Value, "*") || strings.HasPrefix(h.Value, ".") || strings.HasPrefix(h.Value, "~") || strings.HasSuffix(h.Value, ".*") {
						a.emit(r, h.Pos, rt, "", fmt.Sprintf("%s matches the wildcard host %s", rt.Display(), h.Value), map[string]any{"host": h.Value})
					}
				}
			}
		}},
	{Rule: meta("PAL-G012", "missing-security-headers", "Security headers missing from responses", model.SevLow, []string{api8},
		"The gateway adds neither `X-Content-Type-Options: nosniff` nor, on HTTPS listeners, `Strict-Transport-Security` to the responses of these routes (reported once per server, virtual host or ingress rule). API Gateway proxy integrations, which return the backend's headers unchanged, are not reported. Without HSTS a client can be downgraded to plain HTTP; without nosniff, API answers can be interpreted as HTML or script by browsers.",
		"Add the headers at the gateway for every API response (add_header ... always, response-transformer, response_headers_to_add, ResponseHeaderModifier, set-header in outbound)."),
		check: func(a *auditor, r *rule) {
			type group struct {
				first   *Route
				routes  int
				missing []string
			}
			groups := map[string]*group{}
			var order []string
			for _, rt := range a.cfg.Routes {
				if len(rt.Backends) == 0 || rt.Defaults["headers-backend"] != "" {
					continue
				}
				var missing []string
				if _, ok := rt.Headers["x-content-type-options"]; !ok {
					missing = append(missing, "X-Content-Type-Options")
				}
				if _, ok := rt.Headers["strict-transport-security"]; !ok && rt.Defaults["plaintext-listener"] == "" {
					missing = append(missing, "Strict-Transport-Security")
				}
				if len(missing) == 0 {
					continue
				}
				k := rt.HostsPos.String()
				if !rt.HostsPos.Valid() {
					k = "hosts:" + strings.Join(rt.HostStrings(), ",")
				}
				k += "\x00" + strings.Join(missing, ",")
				g := groups[k]
				if g == nil {
					g = &group{first: rt, missing: missing}
					groups[k] = g
					order = append(order, k)
				}
				g.routes++
			}
			for _, k := range order {
				g := groups[k]
				others := ""
				if g.routes > 1 {
					others = fmt.Sprintf(" and %d other routes of the same hosts", g.routes-1)
				}
				verb := "adds"
				if g.routes > 1 {
					verb = "add"
				}
				a.emit(r, g.first.Pos, g.first, "", fmt.Sprintf("%s%s "+verb+" no %s", g.first.Display(), others, strings.Join(g.missing, ", ")), map[string]any{"missing": g.missing, "routes": g.routes})
			}
		}},
	{Rule: meta("PAL-G013", "key-scope-all-apis", "Key or subscription valid for every API", model.SevMedium, []string{api5, api2},
		"A consumer key, subscription or usage-plan key is scoped to every API the gateway publishes (APIM subscription scope `/apis`, Kong consumers with credentials and no ACL restricting routes across several services, an API Gateway usage plan covering every API). A key issued for one integration works everywhere: one leak exposes all APIs, and least privilege cannot be enforced.",
		"Scope keys to a product or a single API (APIM product or API subscriptions, Kong acl groups per service, one usage plan per API)."),
		check: func(a *auditor, r *rule) {
			for _, c := range a.cfg.Consumers {
				if !c.AllAPIs {
					continue
				}
				p := c.ScopePos
				if !p.Valid() {
					p = c.Pos
				}
				a.emit(r, p, nil, "", fmt.Sprintf("%s is valid for every API (%s)", strings.TrimSpace("consumer "+c.Name), c.Scope), map[string]any{"consumer": c.Name, "scope": c.Scope})
			}
		}},
	// ---- joined with traffic (join.go) ----
	{Rule: meta("PAL-G101", "route-unused-in-traffic", "Published route never used in traffic", model.SevLow, []string{api9},
		"The gateway publishes a route that no request in the analysed traffic matched, although the traffic covers the route's hosts. Unused routes are attack surface nobody watches (often an old integration or a forgotten test route).",
		"Confirm the route is still needed; remove it or restrict it; if it is seasonal, keep it documented and monitored."), Joined: true, check: checkUnused},
	{Rule: meta("PAL-G102", "traffic-bypasses-gateway", "Traffic that no gateway route or spec explains", model.SevHigh, []string{api9, api8},
		"Endpoints seen in traffic are matched by no route of the audited gateway configuration and are not declared in any loaded spec: requests reach them without passing the gateway's policies (a direct path to the backend, another ingress, or a route missing from the configuration under audit). Reported per endpoint for hosts the gateway publishes and once per host it does not publish, ranked by the endpoints' risk.",
		"Close the direct path (network policy, security group, backend bound to the gateway only) or add the endpoint to the gateway with its policies; document it in the spec."), Joined: true, check: checkBypass},
	{Rule: meta("PAL-G103", "unauthenticated-route-sensitive-data", "Route without authentication returns sensitive data", model.SevCritical, []string{api2, api3},
		"A route the gateway does not authenticate serves endpoints whose responses, in the analysed traffic, carried sensitive data (personal data, financial data, secrets). The configuration gap is being exercised: anyone can fetch that data.",
		"Require authentication at the gateway for these routes now; review who fetched the data without credentials (Palisade's endpoint and alert views)."), Joined: true, check: checkSensitive},
	{Rule: meta("PAL-G104", "unthrottled-route-abused", "Route without rate limit where volume or enumeration was detected", model.SevHigh, []string{api4, api6, api1},
		"A route with no rate limit at the gateway serves endpoints on which Palisade's traffic detectors fired for volume, enumeration, brute force, credential stuffing or scraping. A rate limit at the gateway would have slowed or stopped what was observed.",
		"Add a rate limit per identity and per client address on the route (see PAL-G005), sized from the endpoint's baseline; investigate the alerts cited."), Joined: true, check: checkAbused},
}
