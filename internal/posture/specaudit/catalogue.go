package specaudit

import (
	"sort"
	"strings"

	"github.com/palisade-sec/palisade/internal/authzname"
	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/posture/yamltree"
)

var catalogue = []*Rule{
	// ---- authentication and authorization -------------------------------
	{ID: "PAL-S001", Name: "no-security-schemes", Title: "No authentication declared", Severity: model.SevMedium, OWASP: []string{api2},
		Description: "The document declares operations but no security scheme and no security requirement anywhere.",
		Remediation: "Declare the authentication the API enforces (components.securitySchemes / securityDefinitions) and require it with a top-level `security`. If the API is public by design, disable this rule for it.",
		check: func(a *auditCtx, r *Rule) {
			if len(a.ops) == 0 || len(a.schemes) > 0 {
				return
			}
			for _, op := range a.ops {
				if op.Sec.Source != "none" && len(op.Sec.Schemes) > 0 {
					return
				}
			}
			n := a.schemesN
			if n == nil {
				n = keyNode(a.doc.Root, "paths")
			}
			a.report(r, n, nil, "%d operations and no security scheme: every operation is documented as anonymous", len(a.ops))
		}},
	{ID: "PAL-S002", Name: "no-global-security", Title: "No global security requirement", Severity: model.SevLow, OWASP: []string{api2},
		Description: "Security schemes are declared but the top-level `security` is missing or empty, so every operation must opt in and a new operation is anonymous by default.",
		Remediation: "Add a top-level `security` requirement and opt public operations out explicitly with `security: []`.",
		check: func(a *auditCtx, r *Rule) {
			if len(a.schemes) == 0 || len(a.ops) == 0 {
				return
			}
			s := readSecurity(a.global, "global")
			if s.Secured() {
				return
			}
			n := a.global
			if n == nil {
				n = a.schemesN
			}
			a.report(r, n, nil, "security schemes are declared but the top-level security requirement is missing or empty")
		}},
	{ID: "PAL-S003", Name: "write-operation-unauthenticated", Title: "Write operation without authentication", Severity: model.SevHigh, OWASP: []string{api2, api5},
		Description: "A POST, PUT, PATCH or DELETE operation has no effective security requirement (none, `security: []`, or an anonymous `{}` alternative). Paths that look like login, registration, token, password-reset, webhook or health endpoints are exempt.",
		Remediation: "Require authentication on state-changing operations; if the operation really is anonymous (e.g. a public form), document why and rate-limit it.",
		check: func(a *auditCtx, r *Rule) {
			for _, op := range a.ops {
				if !isWrite(op.Method) || op.Sec.Secured() || isAuthFlowPath(op.Path) {
					continue
				}
				a.report(r, keyNode(op.PathItem, op.Method), op, "%s changes state and can be called without credentials (security: %s)", opName(op), secDesc(op.Sec))
			}
		}},
	{ID: "PAL-S004", Name: "security-override-empty", Title: "Operation opts out of global security", Severity: model.SevMedium, OWASP: []string{api2},
		Description: "An operation overrides a non-empty global security requirement with an empty one (`security: []` or `[{}]`). Login, registration, token, health and documentation paths are exempt.",
		Remediation: "Remove the override, or keep it only for operations that must be anonymous and document why.",
		check: func(a *auditCtx, r *Rule) {
			if !readSecurity(a.global, "global").Secured() {
				return
			}
			for _, op := range a.ops {
				if op.Sec.Source != "operation" || op.Sec.Secured() || isAuthFlowPath(op.Path) {
					continue
				}
				a.report(r, op.Sec.Node, op, "%s overrides the global security requirement with %s", opName(op), secDesc(op.Sec))
			}
		}},
	{ID: "PAL-S005", Name: "admin-operation-unauthenticated", Title: "Administrative operation without authentication", Severity: model.SevHigh, OWASP: []string{api5},
		Description: "An operation whose path looks administrative or internal (admin, internal, debug, management, actuator, console, superuser, sudo, backoffice) has no effective security requirement.",
		Remediation: "Require authentication and an administrative scope or role on these operations, or remove them from the public API.",
		check: func(a *auditCtx, r *Rule) {
			for _, op := range a.ops {
				if op.Sec.Secured() || !adminRe.MatchString(op.Path) {
					continue
				}
				a.report(r, keyNode(op.PathItem, op.Method), op, "%s looks administrative and can be called without credentials", opName(op))
			}
		}},
	{ID: "PAL-S006", Name: "undefined-security-scheme", Title: "Security requirement names an undefined scheme", Severity: model.SevHigh, OWASP: []string{api8, api2},
		Description: "A security requirement refers to a scheme name that is not declared, so gateways and generated servers cannot enforce it.",
		Remediation: "Declare the scheme under components.securitySchemes (securityDefinitions in 2.0) or fix the name.",
		check: func(a *auditCtx, r *Rule) {
			check := func(n *yamltree.Node, op *operation) {
				for _, alt := range items(n) {
					pairs(alt, func(name string, kn, _ *yamltree.Node) {
						if _, ok := a.schemes[name]; !ok {
							a.report(r, kn, op, "security requirement names scheme %q, which is not declared", name)
						}
					})
				}
			}
			check(a.global, nil)
			for _, op := range a.ops {
				if op.Sec.Source == "operation" {
					check(op.Sec.Node, op)
				}
			}
		}},

	{ID: "PAL-S007", Name: "admin-operation-shared-security", Title: "Administrative operation accepts ordinary credentials", Severity: model.SevMedium, OWASP: []string{api5},
		Description: "An operation whose path looks administrative (see PAL-S005) is secured, but one of its security alternatives is satisfied by the credentials of a non-administrative operation: same scheme and no additional OAuth scope. Nothing in the document distinguishes an administrator from any authenticated user (broken function level authorization).",
		Remediation: "Protect administrative operations with a dedicated scheme or an admin-only scope (and enforce the role server-side).",
		check: func(a *auditCtx, r *Rule) {
			var ordinary [][]secAlt
			for _, op := range a.ops {
				if op.Sec.Secured() && !adminRe.MatchString(op.Path) {
					ordinary = append(ordinary, secAlts(op.Sec.Node))
				}
			}
			for _, op := range a.ops {
				if !op.Sec.Secured() || !adminRe.MatchString(op.Path) {
					continue
				}
				if alt, ok := satisfiedBy(secAlts(op.Sec.Node), ordinary); ok {
					a.report(r, keyNode(op.PathItem, op.Method), op, "%s looks administrative but accepts the same credentials as ordinary operations (%s)", opName(op), alt)
				}
			}
		}},

	// ---- security schemes -----------------------------------------------
	{ID: "PAL-S010", Name: "api-key-in-query", Title: "API key passed in the query string", Severity: model.SevMedium, OWASP: []string{api2},
		Description: "An apiKey security scheme reads the key from the query string, where it ends up in access logs, proxies, browser history and Referer headers.",
		Remediation: "Send API keys in a request header (e.g. `X-API-Key` or `Authorization`).",
		check: schemeCheck(func(a *auditCtx, r *Rule, name string, s *yamltree.Node) {
			if strings.EqualFold(str(get(s, "type")), "apiKey") && strings.EqualFold(str(get(s, "in")), "query") {
				a.report(r, get(s, "in"), nil, "security scheme %q takes the API key %q from the query string", name, str(get(s, "name")))
			}
		})},
	{ID: "PAL-S011", Name: "api-key-in-cookie", Title: "API key passed in a cookie", Severity: model.SevLow, OWASP: []string{api2},
		Description: "An apiKey security scheme reads the credential from a cookie: browsers attach it automatically, which exposes the API to cross-site request forgery unless other defences exist.",
		Remediation: "Prefer a header credential; if cookies are required, set SameSite=Strict/Lax, Secure and HttpOnly and add CSRF protection.",
		check: schemeCheck(func(a *auditCtx, r *Rule, name string, s *yamltree.Node) {
			if strings.EqualFold(str(get(s, "type")), "apiKey") && strings.EqualFold(str(get(s, "in")), "cookie") {
				a.report(r, get(s, "in"), nil, "security scheme %q takes the credential from cookie %q", name, str(get(s, "name")))
			}
		})},
	{ID: "PAL-S012", Name: "basic-auth", Title: "HTTP Basic authentication", Severity: model.SevMedium, OWASP: []string{api2},
		Description: "A security scheme uses HTTP Basic: a reusable password is sent with every request, base64-encoded, and cannot be scoped or expired.",
		Remediation: "Use short-lived tokens (OAuth 2.0 / OpenID Connect bearer tokens) or at least per-client API keys that can be rotated.",
		check: schemeCheck(func(a *auditCtx, r *Rule, name string, s *yamltree.Node) {
			t := strings.ToLower(str(get(s, "type")))
			if t == "basic" || (t == "http" && strings.EqualFold(str(get(s, "scheme")), "basic")) {
				a.report(r, s, nil, "security scheme %q uses HTTP Basic authentication", name)
			}
		})},
	{ID: "PAL-S013", Name: "oauth2-implicit-flow", Title: "OAuth 2.0 implicit flow", Severity: model.SevHigh, OWASP: []string{api2},
		Description: "An OAuth 2.0 scheme offers the implicit flow, which returns access tokens in the URL fragment and is deprecated by the OAuth 2.0 Security Best Current Practice (RFC 9700).",
		Remediation: "Use the authorization code flow with PKCE.",
		check:       flowCheck("implicit", "OAuth 2.0 implicit flow (tokens in the URL fragment)")},
	{ID: "PAL-S014", Name: "oauth2-password-flow", Title: "OAuth 2.0 resource owner password flow", Severity: model.SevMedium, OWASP: []string{api2},
		Description: "An OAuth 2.0 scheme offers the resource owner password credentials flow: the client handles the user's password, which defeats the purpose of delegated authorization. RFC 9700 says it must not be used.",
		Remediation: "Use the authorization code flow with PKCE (or client credentials for machine-to-machine).",
		check:       flowCheck("password", "resource owner password flow (the client sees user passwords)")},
	{ID: "PAL-S015", Name: "bearer-without-format", Title: "Bearer scheme without bearerFormat", Severity: model.SevInfo, OWASP: []string{api2},
		Description: "An HTTP bearer scheme does not say what the token is (`bearerFormat`, e.g. JWT), so reviewers and gateways cannot tell how it is validated.",
		Remediation: "Set `bearerFormat` (e.g. `JWT`) and document issuer, audience and lifetime.",
		check: schemeCheck(func(a *auditCtx, r *Rule, name string, s *yamltree.Node) {
			if strings.EqualFold(str(get(s, "type")), "http") && strings.EqualFold(str(get(s, "scheme")), "bearer") && strings.TrimSpace(str(get(s, "bearerFormat"))) == "" {
				a.report(r, s, nil, "bearer scheme %q does not declare bearerFormat", name)
			}
		})},
	{ID: "PAL-S016", Name: "auth-url-not-tls", Title: "Authorization or token URL without TLS", Severity: model.SevHigh, OWASP: []string{api2},
		Description: "An OAuth 2.0 authorizationUrl, tokenUrl or refreshUrl, or an OpenID Connect discovery URL, uses plain http:// on a non-local host: credentials and tokens would cross the network in clear.",
		Remediation: "Serve every authorization endpoint over HTTPS.",
		check: schemeCheck(func(a *auditCtx, r *Rule, name string, s *yamltree.Node) {
			checkURL := func(field string, n *yamltree.Node) {
				if n != nil && isHTTPURL(str(n)) && publicHost(hostOf(str(n))) {
					a.report(r, n, nil, "security scheme %q: %s %s is not HTTPS", name, field, redactURL(str(n)))
				}
			}
			checkURL("openIdConnectUrl", get(s, "openIdConnectUrl"))
			checkURL("authorizationUrl", get(s, "authorizationUrl"))
			checkURL("tokenUrl", get(s, "tokenUrl"))
			pairs(get(s, "flows"), func(_ string, _, f *yamltree.Node) {
				for _, fld := range []string{"authorizationUrl", "tokenUrl", "refreshUrl"} {
					checkURL(fld, get(f, fld))
				}
			})
		})},

	// ---- servers and transport -------------------------------------------
	{ID: "PAL-S020", Name: "server-not-tls", Title: "Server reachable over plain HTTP", Severity: model.SevHigh, OWASP: []string{api8},
		Description: "A server URL uses http:// or ws:// (or a Swagger 2.0 document lists the `http`/`ws` scheme) for a non-local host, so credentials and data travel unencrypted. Loopback, private addresses and reserved names (localhost, *.local, *.internal, *.test, example.com) are exempt.",
		Remediation: "Serve the API over HTTPS only and remove plain-HTTP server entries.",
		check: func(a *auditCtx, r *Rule) {
			if a.doc.Version == "2.0" {
				if !publicHost(a.host) {
					return
				}
				for _, s := range items(get(a.doc.Root, "schemes")) {
					if v := strings.ToLower(str(s)); v == "http" || v == "ws" {
						a.report(r, s, nil, "host %s is served over %s", a.host, v)
					}
				}
				return
			}
			for _, s := range a.allServers() {
				if isHTTPURL(s.URL) && publicHost(hostOf(s.URL)) {
					a.report(r, s.Node, nil, "server %s is not TLS-protected", redactURL(s.URL))
				}
			}
		}},
	{ID: "PAL-S021", Name: "no-servers", Title: "No server declared", Severity: model.SevInfo, OWASP: []string{api9},
		Description: "The document declares no `servers` (3.x) or `host` (2.0), so it is unclear which deployment it describes; inventories and scanners cannot tie it to a host.",
		Remediation: "Declare the production (and, separately, non-production) server URLs.",
		check: func(a *auditCtx, r *Rule) {
			if len(a.ops) == 0 {
				return
			}
			if a.doc.Version == "2.0" {
				if strings.TrimSpace(a.host) == "" {
					a.report(r, a.doc.Root, nil, "no host declared")
				}
				return
			}
			if len(a.allServers()) == 0 {
				a.report(r, a.doc.Root, nil, "no servers declared")
			}
		}},
	{ID: "PAL-S022", Name: "server-variable-open", Title: "Server variable without enum", Severity: model.SevLow, OWASP: []string{api9},
		Description: "A server URL variable has no `enum`, so any value (any host) is a valid server: clients and generated SDKs can be pointed anywhere and the inventory of deployments is open-ended.",
		Remediation: "List the allowed values with `enum`.",
		check: func(a *auditCtx, r *Rule) {
			seen := map[*yamltree.Node]bool{}
			check := func(list *yamltree.Node) {
				for _, s := range items(list) {
					pairs(get(s, "variables"), func(name string, kn, v *yamltree.Node) {
						if seen[kn] || len(items(get(v, "enum"))) > 0 {
							return
						}
						seen[kn] = true
						a.report(r, kn, nil, "server %s: variable {%s} accepts any value (no enum)", redactURL(str(get(s, "url"))), name)
					})
				}
			}
			check(get(a.doc.Root, "servers"))
			for _, op := range a.ops {
				check(get(op.PathItem, "servers"))
				check(get(op.Node, "servers"))
			}
		}},
	{ID: "PAL-S023", Name: "internal-operation-published", Title: "Internal operation published with public servers", Severity: model.SevMedium, OWASP: []string{api9},
		Description: "An operation or path marked `x-internal: true` is part of a document whose servers are public hosts: internal operations should not be published (or reachable) on the public API.",
		Remediation: "Strip internal operations from the published document and make sure the gateway does not route them publicly.",
		check: func(a *auditCtx, r *Rule) {
			public := false
			if a.doc.Version == "2.0" {
				public = publicHost(a.host)
			}
			for _, s := range a.allServers() {
				if publicHost(hostOf(s.URL)) {
					public = true
				}
			}
			if !public {
				return
			}
			for _, op := range a.ops {
				if isTrue(get(op.Node, "x-internal")) || isTrue(get(op.PathItem, "x-internal")) {
					n := get(op.Node, "x-internal")
					if n == nil {
						n = get(op.PathItem, "x-internal")
					}
					a.report(r, n, op, "%s is marked x-internal but published with public servers", opName(op))
				}
			}
		}},
	{ID: "PAL-S024", Name: "credentials-in-server-url", Title: "Credentials embedded in a server URL", Severity: model.SevCritical, OWASP: []string{api2, api8},
		Description: "A server URL (or 2.0 host) contains user information (`user:password@`): the credential is published with the document.",
		Remediation: "Remove the credential from the document and rotate it.",
		check: func(a *auditCtx, r *Rule) {
			if a.doc.Version == "2.0" && strings.Contains(a.host, "@") {
				a.report(r, get(a.doc.Root, "host"), nil, "host contains user information (redacted)")
			}
			for _, s := range a.allServers() {
				if userinfoRe.MatchString(strings.TrimSpace(s.URL)) {
					a.report(r, s.Node, nil, "server %s embeds credentials", redactURL(s.URL))
				}
			}
		}},

	// ---- input validation (request side) ---------------------------------
	{ID: "PAL-S030", Name: "string-unbounded", Title: "String input without maximum length", Severity: model.SevLow, OWASP: []string{api4},
		Description: "A string accepted by an operation (parameter or request-body property) has no `maxLength`, no `enum`/`const`, no length-bounded format (date, date-time, uuid, ipv4, ...) and no anchored pattern without open repetition. Binary uploads are covered by PAL-S038.",
		Remediation: "Set `maxLength` (and validate it at the edge) for every string input.",
		check: visitCheck(func(a *auditCtx, r *Rule, v schemaVisit) {
			s := v.Node
			if v.Dir != "request" || !hasType(s, "string") || has(s, "maxLength") || has(s, "enum") || has(s, "const") {
				return
			}
			f := str(get(s, "format"))
			if boundedFormats[f] || f == "binary" || f == "byte" || f == "base64" || boundedPattern(str(get(s, "pattern"))) {
				return
			}
			a.report(r, s, v.Op, "string %s has no maxLength", where(v))
		})},
	{ID: "PAL-S031", Name: "array-unbounded", Title: "Array input without maxItems", Severity: model.SevLow, OWASP: []string{api4},
		Description: "An array accepted by an operation has no `maxItems`: a client can send arbitrarily many elements.",
		Remediation: "Set `maxItems` on every array input and enforce it.",
		check: visitCheck(func(a *auditCtx, r *Rule, v schemaVisit) {
			if v.Dir == "request" && hasType(v.Node, "array") && !has(v.Node, "maxItems") {
				a.report(r, v.Node, v.Op, "array %s has no maxItems", where(v))
			}
		})},
	{ID: "PAL-S032", Name: "number-unbounded", Title: "Numeric input without maximum", Severity: model.SevLow, OWASP: []string{api4},
		Description: "An integer or number accepted by an operation has no `maximum`/`exclusiveMaximum` and no `enum`: page sizes, quantities and amounts without an upper bound invite resource exhaustion and business-logic abuse.",
		Remediation: "Set `minimum` and `maximum` on numeric inputs.",
		check: visitCheck(func(a *auditCtx, r *Rule, v schemaVisit) {
			s := v.Node
			if v.Dir != "request" || !(hasType(s, "integer") || hasType(s, "number")) {
				return
			}
			if has(s, "maximum") || has(s, "exclusiveMaximum") || has(s, "enum") || has(s, "const") {
				return
			}
			a.report(r, s, v.Op, "number %s has no maximum", where(v))
		})},
	{ID: "PAL-S033", Name: "integer-without-format", Title: "Integer input without int32/int64 format", Severity: model.SevInfo, OWASP: []string{api4},
		Description: "An integer input has no `format` (int32 or int64), so implementations disagree on its range (overflow, precision loss in JavaScript clients).",
		Remediation: "Add `format: int32` or `format: int64`.",
		check: visitCheck(func(a *auditCtx, r *Rule, v schemaVisit) {
			if v.Dir == "request" && hasType(v.Node, "integer") && !has(v.Node, "format") {
				a.report(r, v.Node, v.Op, "integer %s has no format", where(v))
			}
		})},
	{ID: "PAL-S034", Name: "request-body-open-object", Title: "Write request body accepts undeclared properties", Severity: model.SevMedium, OWASP: []string{api3},
		Description: "The root object schema of a POST/PUT/PATCH request body declares properties but leaves `additionalProperties` absent or true (and has no `unevaluatedProperties: false`): clients can send fields the server did not plan for, which is how mass-assignment bugs start.",
		Remediation: "Set `additionalProperties: false` (or `unevaluatedProperties: false` in 3.1) on write request bodies and reject unknown fields server-side.",
		check: visitCheck(func(a *auditCtx, r *Rule, v schemaVisit) {
			s := v.Node
			if v.Dir != "request" || !v.BodyRoot || !v.Write || v.Op.Method == "delete" || !has(s, "properties") {
				return
			}
			if t := types(s); len(t) > 0 && !hasType(s, "object") {
				return
			}
			ap := get(s, "additionalProperties")
			if isFalse(ap) || isFalse(get(s, "unevaluatedProperties")) || (ap != nil && ap.Kind == yamltree.MappingNode) {
				return
			}
			a.report(r, s, v.Op, "request body of %s accepts undeclared properties (additionalProperties not false)", opName(v.Op))
		})},
	{ID: "PAL-S035", Name: "privileged-field-writable", Title: "Privilege field accepted in a write request", Severity: model.SevMedium, OWASP: []string{api3, api5},
		Description: "A write request body accepts a property that looks like an authorization attribute (admin, is_admin, role(s), permission(s), privilege(s), superuser, access_level, is_staff) that is not `readOnly`: a classic mass-assignment privilege escalation.",
		Remediation: "Remove the field from client-writable schemas (or mark it readOnly) and set it server-side from the caller's authorization.",
		check: visitCheck(func(a *auditCtx, r *Rule, v schemaVisit) {
			if v.Dir != "request" || !v.Write || v.Prop == "" || v.Param || !authzname.Privileged(v.Prop) || isTrue(get(v.Node, "readOnly")) {
				return
			}
			a.report(r, v.Node, v.Op, "%s accepts privilege field %q from the client", opName(v.Op), v.Prop)
		})},
	{ID: "PAL-S036", Name: "pattern-unanchored", Title: "Input pattern not anchored", Severity: model.SevLow, OWASP: []string{api8},
		Description: "A `pattern` on an input is not anchored with `^...$`. JSON Schema patterns match anywhere in the value, so `[a-z]+` accepts `<script>a`: the pattern validates nothing. Match-all patterns (`.*`) are exempt.",
		Remediation: "Anchor input patterns: `^[a-z]+$`.",
		check: visitCheck(func(a *auditCtx, r *Rule, v schemaVisit) {
			p := get(v.Node, "pattern")
			if v.Dir != "request" || p == nil || p.Kind != yamltree.ScalarNode {
				return
			}
			if (!strings.HasPrefix(p.Value, "^") || !strings.HasSuffix(p.Value, "$")) && !matchAll(p.Value) {
				a.report(r, p, v.Op, "pattern %q on %s is not anchored with ^...$", truncate(p.Value, 80), where(v))
			}
		})},
	{ID: "PAL-S037", Name: "pattern-redos", Title: "Pattern prone to catastrophic backtracking (ReDoS)", Severity: model.SevMedium, OWASP: []string{api4},
		Description: "A `pattern` nests unbounded quantifiers ambiguously (e.g. `(a+)+`, `(\\w*)*`, `(\\w+.)+`): backtracking regex engines used by most validators take exponential time on crafted input. A nested repetition is not reported when the repeated group also requires a delimiter character the inner repetition cannot match (`^se(-[a-z0-9]+)+$` is linear).",
		Remediation: "Rewrite the pattern without nested quantifiers (make the inner repetition possessive/atomic or restructure it) and bound the input length with maxLength.",
		check: visitCheck(func(a *auditCtx, r *Rule, v schemaVisit) {
			p := get(v.Node, "pattern")
			if p == nil || p.Kind != yamltree.ScalarNode {
				return
			}
			if bad, _ := nestedQuantifier(p.Value); bad {
				a.report(r, p, v.Op, "pattern %q on %s nests unbounded quantifiers", truncate(p.Value, 80), where(v))
			}
		})},
	{ID: "PAL-S038", Name: "upload-unbounded", Title: "File upload without size limit", Severity: model.SevLow, OWASP: []string{api4},
		Description: "A binary/base64 string or Swagger 2.0 `file` input has no `maxLength`: uploads of any size are documented as acceptable.",
		Remediation: "Set `maxLength` (bytes) on upload fields and enforce a request size limit at the gateway.",
		check: visitCheck(func(a *auditCtx, r *Rule, v schemaVisit) {
			s := v.Node
			if v.Dir != "request" || has(s, "maxLength") {
				return
			}
			f := str(get(s, "format"))
			if hasType(s, "file") || (hasType(s, "string") && (f == "binary" || f == "byte" || f == "base64")) {
				a.report(r, s, v.Op, "upload %s has no maxLength", where(v))
			}
		})},

	// ---- sensitive data ---------------------------------------------------
	{ID: "PAL-S040", Name: "secret-in-response", Title: "Secret field returned in a response", Severity: model.SevHigh, OWASP: []string{api3},
		Description: "A response schema contains a property named like a password or secret (password, *password, passwd, secret, client_secret, private_key, secret_access_key, cvv, ...) and it is not `writeOnly`. Properties that are only marked `format: password` are not reported here (generators such as AWS's mark every sensitive value that way, including identifiers that are meant to be returned).",
		Remediation: "Never return secrets; remove the property from response schemas (or mark it writeOnly if the schema is shared with requests).",
		check: visitCheck(func(a *auditCtx, r *Rule, v schemaVisit) {
			if v.Dir != "response" || isTrue(get(v.Node, "writeOnly")) || v.Prop == "" {
				return
			}
			if isSecretName(v.Prop) {
				a.report(r, v.Node, v.Op, "response of %s contains secret-looking property %q", opName(v.Op), v.Prop)
			}
		})},
	{ID: "PAL-S041", Name: "password-not-writeonly", Title: "Password property not writeOnly", Severity: model.SevLow, OWASP: []string{api3},
		Description: "In an OpenAPI 3.x request schema, a password-like property (name ending in password, passwd, or `format: password`) is not marked `writeOnly: true`, so the same schema can be reused in responses and generated clients treat it as readable.",
		Remediation: "Mark password properties `writeOnly: true` (and `format: password`).",
		check: visitCheck(func(a *auditCtx, r *Rule, v schemaVisit) {
			if a.doc.Version == "2.0" || v.Dir != "request" || v.Prop == "" || v.Param || isTrue(get(v.Node, "writeOnly")) {
				return
			}
			if n := norm(v.Prop); strings.HasSuffix(n, "password") || n == "passwd" {
				a.report(r, v.Node, v.Op, "password property %q is not writeOnly", v.Prop)
			} else if str(get(v.Node, "format")) == "password" {
				a.report(r, v.Node, v.Op, "property %q (format: password) is not writeOnly", v.Prop)
			}
		})},
	{ID: "PAL-S042", Name: "pii-unconstrained", Title: "Personal data input without format or pattern", Severity: model.SevLow, OWASP: []string{api8},
		Description: "A string input named like personal data (email, phone, SSN, card number, IBAN) has no `format`, `pattern` or `enum`, so malformed or injected values are documented as acceptable.",
		Remediation: "Constrain the field (`format: email`, an anchored `pattern` for phone/SSN/card/IBAN) and validate it server-side.",
		check: visitCheck(func(a *auditCtx, r *Rule, v schemaVisit) {
			if v.Dir != "request" || v.Prop == "" || !hasType(v.Node, "string") || has(v.Node, "format") || has(v.Node, "pattern") || has(v.Node, "enum") {
				return
			}
			if k := piiKind(v.Prop); k != "" {
				a.report(r, v.Node, v.Op, "%s field %q has neither format nor pattern", k, v.Prop)
			}
		})},
	{ID: "PAL-S043", Name: "secret-in-url-parameter", Title: "Credential passed as query or path parameter", Severity: model.SevMedium, OWASP: []string{api2},
		Description: "A query or path parameter is named like a credential (password, token, access_token, api_key, secret, session_id, ...): URLs are logged by servers, proxies and browsers.",
		Remediation: "Move credentials to headers (Authorization) or the request body.",
		check: func(a *auditCtx, r *Rule) {
			seen := map[*yamltree.Node]bool{}
			for _, op := range a.ops {
				for _, p := range op.Params {
					in := str(get(p, "in"))
					name := str(get(p, "name"))
					if (in == "query" || in == "path") && urlSecretNames[norm(name)] && !seen[p] {
						seen[p] = true
						a.report(r, p, op, "%s takes credential %q in the %s", opName(op), name, in)
					}
				}
			}
		}},
	{ID: "PAL-S044", Name: "secret-in-response-header", Title: "Secret returned in a response header", Severity: model.SevMedium, OWASP: []string{api3},
		Description: "A response declares a header named like a password, secret or API key (e.g. `X-API-Key`, `X-Password`, `Client-Secret`).",
		Remediation: "Do not echo long-lived credentials in response headers; issue short-lived tokens in the body of a dedicated token endpoint instead.",
		check: func(a *auditCtx, r *Rule) {
			seen := map[*yamltree.Node]bool{}
			for _, op := range a.ops {
				a.responses(op, func(code string, _, resp *yamltree.Node) {
					pairs(get(resp, "headers"), func(name string, kn, _ *yamltree.Node) {
						n := strings.TrimPrefix(norm(name), "x")
						if seen[kn] || !(isSecretName(n) || n == "apikey" || n == "apisecret") {
							return
						}
						seen[kn] = true
						a.report(r, kn, op, "%s response %s returns header %q", opName(op), code, name)
					})
				})
			}
		}},
	{ID: "PAL-S045", Name: "secret-in-example", Title: "Credential-like value in an example or default", Severity: model.SevMedium, OWASP: []string{api8},
		Description: "An `example`, `examples`, `default` or `x-example` value contains something that looks like a real credential (JWT, AWS access key id, private key block, GitHub/Slack/Stripe/Google keys). The value is redacted in the finding.",
		Remediation: "Replace the value with an obviously fake placeholder and revoke the credential if it was real.",
		check: func(a *auditCtx, r *Rule) {
			var walk func(n *yamltree.Node, inExample bool, depth int)
			seen := map[*yamltree.Node]bool{}
			walk = func(n *yamltree.Node, inExample bool, depth int) {
				if n == nil || depth > 256 || seen[n] {
					return
				}
				seen[n] = true
				switch n.Kind {
				case yamltree.ScalarNode:
					if !inExample {
						return
					}
					for _, x := range exampleSecretRes {
						if m := x.re.FindString(n.Value); m != "" {
							a.report(r, n, nil, "example contains a %s: %s", x.kind, redact(m))
							return
						}
					}
				case yamltree.MappingNode:
					for i := 0; i+1 < len(n.Content); i += 2 {
						k := n.Content[i].Value
						ex := inExample || k == "example" || k == "examples" || k == "default" || k == "x-example" || k == "x-examples"
						walk(n.Content[i+1], ex, depth+1)
					}
				case yamltree.SequenceNode:
					for _, c := range n.Content {
						walk(c, inExample, depth+1)
					}
				}
			}
			walk(a.doc.Root, false, 0)
		}},

	// ---- object level authorization --------------------------------------
	{ID: "PAL-S050", Name: "sequential-object-id", Title: "Integer object identifier in path", Severity: model.SevMedium, OWASP: []string{api1},
		Description: "A path parameter named like an object identifier (`id`, `userId`, `order_id`, ...) is an integer. Sequential identifiers are trivially enumerable, which turns any missing object-level authorization check into a data breach (BOLA).",
		Remediation: "Enforce object-level authorization on every access; prefer random, non-guessable identifiers (UUIDs) in URLs.",
		check: func(a *auditCtx, r *Rule) {
			seen := map[*yamltree.Node]bool{}
			for _, op := range a.ops {
				for _, p := range op.Params {
					if str(get(p, "in")) != "path" || seen[p] {
						continue
					}
					name := str(get(p, "name"))
					s := p
					if a.doc.Version != "2.0" {
						s = a.res.deref(get(p, "schema"))
					}
					if s == nil || !isIDName(name) || !hasType(s, "integer") {
						continue
					}
					seen[p] = true
					a.report(r, p, op, "%s identifies objects by integer path parameter {%s}", opName(op), name)
				}
			}
		}},

	// ---- server-side request forgery -------------------------------------
	{ID: "PAL-S055", Name: "url-input", Title: "Client-supplied URL (SSRF review)", Severity: model.SevLow, OWASP: []string{api7},
		Description: "An operation accepts a URL from the client (a string parameter or request-body property named `url`, `uri`, `*_url`, `*Url`, `*_uri`, `redirect`, `redirect_to`, `return_to`, `webhook`; a bare `callback` is the JSONP function-name convention and is not reported): webhooks, URL previews, file fetching and redirects built from client input are the usual server-side request forgery and open-redirect entry points.",
		Remediation: "Fetch or redirect only to allow-listed schemes and hosts, resolve and block private/link-local/metadata addresses (169.254.169.254), disable redirects when fetching, and document the constraint (`format: uri`, an anchored `pattern`).",
		check: visitCheck(func(a *auditCtx, r *Rule, v schemaVisit) {
			if v.Dir != "request" || v.Prop == "" || !isURLName(v.Prop) {
				return
			}
			if t := types(v.Node); len(t) > 0 && !hasType(v.Node, "string") {
				return
			}
			if enum := items(get(v.Node, "enum")); len(enum) > 0 {
				return
			}
			a.report(r, v.Node, v.Op, "%s accepts URL input %q: check it is validated against an allow-list before the server fetches or redirects to it", opName(v.Op), v.Prop)
		})},

	// ---- responses ----------------------------------------------------------
	{ID: "PAL-S060", Name: "missing-401", Title: "Secured operation without 401 response", Severity: model.SevLow, OWASP: []string{api8},
		Description: "An operation that requires credentials documents no 401 (nor 4XX or default) response, so clients and tests don't know how authentication failures look.",
		Remediation: "Document a 401 response (with a uniform error body) on every secured operation.",
		check: func(a *auditCtx, r *Rule) {
			for _, op := range a.ops {
				if op.Sec.Secured() && !a.codes(op).any("401", "4XX", "DEFAULT") {
					a.report(r, keyNode(op.Node, "responses"), op, "%s requires credentials but documents no 401 response", opName(op))
				}
			}
		}},
	{ID: "PAL-S061", Name: "missing-429", Title: "No 429 (rate limit) response", Severity: model.SevInfo, OWASP: []string{api4},
		Description: "An operation documents no 429 (or 4XX) response: either there is no rate limiting or clients are not told how it behaves.",
		Remediation: "Rate-limit the API and document 429 responses with Retry-After.",
		check: func(a *auditCtx, r *Rule) {
			for _, op := range a.ops {
				if !a.codes(op).any("429", "4XX") {
					a.report(r, keyNode(op.Node, "responses"), op, "%s documents no 429 response", opName(op))
				}
			}
		}},
	{ID: "PAL-S062", Name: "no-error-responses", Title: "No error response documented", Severity: model.SevLow, OWASP: []string{api8},
		Description: "An operation documents no 4xx, 5xx or default response at all: error handling (and what errors leak) is undocumented.",
		Remediation: "Document error responses with a uniform, non-verbose error schema.",
		check: func(a *auditCtx, r *Rule) {
			for _, op := range a.ops {
				if len(a.codes(op).has) > 0 && !a.codes(op).hasClientError() {
					a.report(r, keyNode(op.Node, "responses"), op, "%s documents no error response", opName(op))
				}
			}
		}},
	{ID: "PAL-S063", Name: "success-without-schema", Title: "200 response without schema", Severity: model.SevInfo, OWASP: []string{api3},
		Description: "A 200 response has no body description (no `content`/`schema`, or a JSON media type without schema): what the operation returns — possibly more than it should — cannot be reviewed. HEAD operations are exempt.",
		Remediation: "Describe the response body with a schema listing exactly the properties returned.",
		check: func(a *auditCtx, r *Rule) {
			for _, op := range a.ops {
				if op.Method == "head" {
					continue
				}
				a.responses(op, func(code string, kn, resp *yamltree.Node) {
					if code != "200" {
						return
					}
					if a.doc.Version == "2.0" {
						if get(resp, "schema") == nil {
							a.report(r, kn, op, "%s: 200 response has no schema", opName(op))
						}
						return
					}
					c := get(resp, "content")
					if c == nil || len(c.Content) == 0 {
						a.report(r, kn, op, "%s: 200 response has no content", opName(op))
						return
					}
					pairs(c, func(mt string, mkn, m *yamltree.Node) {
						if jsonMedia(mt) && get(m, "schema") == nil {
							a.report(r, mkn, op, "%s: 200 response %s has no schema", opName(op), mt)
						}
					})
				})
			}
		}},

	// ---- inventory and misc ---------------------------------------------------
	{ID: "PAL-S070", Name: "deprecated-operation", Title: "Deprecated operation still published", Severity: model.SevInfo, OWASP: []string{api9},
		Description: "An operation is marked `deprecated: true` but still in the document: deprecated versions tend to lag behind on security fixes (zombie APIs).",
		Remediation: "Set a removal date, monitor its traffic (Palisade flags zombie endpoints at runtime) and remove it.",
		check: func(a *auditCtx, r *Rule) {
			for _, op := range a.ops {
				if isTrue(get(op.Node, "deprecated")) {
					a.report(r, get(op.Node, "deprecated"), op, "%s is deprecated but still published", opName(op))
				}
			}
		}},
	{ID: "PAL-S071", Name: "trace-method", Title: "TRACE operation exposed", Severity: model.SevMedium, OWASP: []string{api8},
		Description: "The document declares a TRACE operation, which echoes requests (including cookies and Authorization headers) back to the caller (cross-site tracing).",
		Remediation: "Disable TRACE on the server and gateway and remove it from the document.",
		check: func(a *auditCtx, r *Rule) {
			for _, op := range a.ops {
				if op.Method == "trace" {
					a.report(r, keyNode(op.PathItem, "trace"), op, "%s is declared", opName(op))
				}
			}
		}},
	{ID: "PAL-S072", Name: "cors-wildcard", Title: "CORS allows any origin", Severity: model.SevMedium, OWASP: []string{api8},
		Description: "A response documents `Access-Control-Allow-Origin` with the value `*` (enum, default or example): any web site can read responses from browsers.",
		Remediation: "Reflect only an allow-list of trusted origins; never combine a wildcard with credentials.",
		check: func(a *auditCtx, r *Rule) {
			seen := map[*yamltree.Node]bool{}
			for _, op := range a.ops {
				a.responses(op, func(code string, _, resp *yamltree.Node) {
					pairs(get(resp, "headers"), func(name string, kn, h *yamltree.Node) {
						if !strings.EqualFold(name, "Access-Control-Allow-Origin") || seen[kn] {
							return
						}
						h = a.res.deref(h)
						if wildcardValue(h) || wildcardValue(a.res.deref(get(h, "schema"))) {
							seen[kn] = true
							a.report(r, kn, op, "%s response %s allows any origin (Access-Control-Allow-Origin: *)", opName(op), code)
						}
					})
				})
			}
		}},
}

func wildcardValue(n *yamltree.Node) bool {
	if n == nil {
		return false
	}
	if str(get(n, "default")) == "*" || str(get(n, "example")) == "*" || str(get(n, "const")) == "*" {
		return true
	}
	for _, e := range items(get(n, "enum")) {
		if str(e) == "*" {
			return true
		}
	}
	return false
}

func isURLName(name string) bool {
	switch n := norm(name); n {
	case "url", "uri", "redirect", "redirectto", "returnto", "webhook":
		return true
	default:
		return strings.HasSuffix(n, "url") || strings.HasSuffix(n, "uri")
	}
}

func isIDName(name string) bool {
	n := strings.ToLower(name)
	return n == "id" || strings.HasSuffix(n, "_id") || strings.HasSuffix(n, "-id") ||
		(strings.HasSuffix(name, "Id") && len(name) > 2) || (strings.HasSuffix(name, "ID") && len(name) > 2)
}

func piiKind(prop string) string {
	n := norm(prop)
	switch {
	case n == "email" || n == "emailaddress" || n == "useremail" || n == "contactemail":
		return "e-mail"
	case n == "phone" || n == "phonenumber" || n == "mobile" || n == "mobilenumber" || n == "telephone" || n == "msisdn":
		return "phone"
	case n == "ssn" || n == "socialsecuritynumber":
		return "SSN"
	case n == "cardnumber" || n == "creditcard" || n == "creditcardnumber" || n == "pan":
		return "card number"
	case n == "iban":
		return "IBAN"
	}
	return ""
}

func secDesc(s security) string {
	switch {
	case s.Source == "none":
		return "none declared"
	case len(s.Schemes) == 0:
		return "[] (" + s.Source + ")"
	case s.Anonymous:
		return "anonymous alternative {} (" + s.Source + ")"
	}
	return s.Source
}

func where(v schemaVisit) string {
	if v.Prop != "" {
		return "\"" + v.Prop + "\" in " + opName(v.Op)
	}
	return "in " + opName(v.Op)
}

func truncate(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

func schemeCheck(fn func(a *auditCtx, r *Rule, name string, s *yamltree.Node)) func(a *auditCtx, r *Rule) {
	return func(a *auditCtx, r *Rule) {
		pairs(a.schemesN, func(name string, _, _ *yamltree.Node) {
			if s := a.schemes[name]; s != nil {
				fn(a, r, name, s)
			}
		})
	}
}

func flowCheck(flow, what string) func(a *auditCtx, r *Rule) {
	return schemeCheck(func(a *auditCtx, r *Rule, name string, s *yamltree.Node) {
		if !strings.EqualFold(str(get(s, "type")), "oauth2") {
			return
		}
		if f := get(s, "flow"); f != nil && str(f) == flow { // 2.0
			a.report(r, f, nil, "security scheme %q uses the %s", name, what)
		}
		if f := keyNode(get(s, "flows"), flow); f != nil { // 3.x
			a.report(r, f, nil, "security scheme %q offers the %s", name, what)
		}
	})
}

func visitCheck(fn func(a *auditCtx, r *Rule, v schemaVisit)) func(a *auditCtx, r *Rule) {
	return func(a *auditCtx, r *Rule) {
		for _, v := range a.visits {
			fn(a, r, v)
		}
	}
}

// secAlt is one alternative of a security requirement: scheme -> scopes.
type secAlt map[string][]string

func secAlts(n *yamltree.Node) []secAlt {
	var out []secAlt
	for _, alt := range items(n) {
		m := secAlt{}
		pairs(alt, func(k string, _, v *yamltree.Node) {
			var scopes []string
			for _, s := range items(v) {
				scopes = append(scopes, str(s))
			}
			m[k] = scopes
		})
		out = append(out, m)
	}
	return out
}

// satisfiedBy reports an alternative of admin that the credentials of some
// ordinary operation's alternative satisfy: every scheme it needs is
// required there too, with at least the same scopes.
func satisfiedBy(admin []secAlt, ordinary [][]secAlt) (string, bool) {
	for _, a := range admin {
		if len(a) == 0 {
			continue
		}
		for _, alts := range ordinary {
			for _, o := range alts {
				if covers(o, a) {
					names := make([]string, 0, len(a))
					for k := range a {
						names = append(names, k)
					}
					sort.Strings(names)
					return strings.Join(names, " + "), true
				}
			}
		}
	}
	return "", false
}

func covers(have, need secAlt) bool {
	for scheme, scopes := range need {
		got, ok := have[scheme]
		if !ok {
			return false
		}
		set := map[string]bool{}
		for _, s := range got {
			set[s] = true
		}
		for _, s := range scopes {
			if !set[s] {
				return false
			}
		}
	}
	return true
}
