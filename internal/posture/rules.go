// Package posture evaluates API posture from observed traffic: rules that
// turn per-endpoint evidence (schemes, headers, errors, tokens, bursts,
// inventory state and sensitive data) into findings (report-v1
// `findings[]`, source "traffic"), and the per-endpoint risk score.
// posture/specaudit holds the static OpenAPI audit.
package posture

import "github.com/palisade-sec/palisade/internal/model"

// Rule describes one traffic posture rule.
type Rule struct {
	ID          string   `json:"id"`
	Name        string   `json:"name"`
	Title       string   `json:"title"`
	Severity    string   `json:"severity"` // default; some rules raise or lower it per finding
	OWASP       []string `json:"owasp"`
	Description string   `json:"description"`
	Remediation string   `json:"remediation"`
	Source      string   `json:"source"`
}

const (
	api2 = "API2:2023"
	api3 = "API3:2023"
	api4 = "API4:2023"
	api8 = "API8:2023"
	api9 = "API9:2023"
)

// Rule ids.
const (
	RuleUnauthenticated   = "PAL-T001"
	RuleAttackPath        = "PAL-T002"
	RulePlainHTTP         = "PAL-T003"
	RuleUnused            = "PAL-T004"
	RuleNoRateLimit       = "PAL-T005"
	RuleVerboseErrors     = "PAL-T006"
	RuleVersionDisclosure = "PAL-T007"
	RuleCORSCredentials   = "PAL-T008"
	RuleSecurityHeaders   = "PAL-T009"
	RuleCredentialsInURL  = "PAL-T010"
	RuleBasicOverHTTP     = "PAL-T011"
	RuleWeakJWT           = "PAL-T012"
	RuleZombie            = "PAL-T013"
	RuleShadow            = "PAL-T014"
	RuleUndeclaredData    = "PAL-T015"
	RuleExpiredAccepted   = "PAL-T016"
	RuleGraphQLIntrospect = "PAL-T017"
	RuleGraphQLCost       = "PAL-T018"
)

var rules = []Rule{
	mk(RuleUnauthenticated, "unauthenticated-endpoint", "Endpoint answers without authentication", model.SevMedium, []string{api2},
		"Successful responses were returned to requests that carried no credentials (no Authorization header, API key, session cookie or client certificate). Severity is low when the endpoint was only called from internal addresses.",
		"Require authentication on the operation, or document it as intentionally public (health checks, public catalogues) and keep it free of personal data."),
	mk(RuleAttackPath, "exposed-unauthenticated-sensitive", "Internet-exposed, unauthenticated endpoint returns sensitive data", model.SevHigh, []string{api2, api3},
		"Attack path: the endpoint is called from the internet, answers without authentication, and its responses carry sensitive data (unmasked). Critical when the data includes secrets, card numbers, SSNs, IBANs or passport numbers.",
		"Require authentication and authorization on the operation; remove or mask sensitive fields in the response; restrict exposure at the gateway until fixed."),
	mk(RulePlainHTTP, "plain-http", "Traffic over plain HTTP or WebSocket", model.SevMedium, []string{api8},
		"Requests from external clients reached the endpoint over http:// or ws:// (no TLS). Raised to high when credentials travelled in clear. Internal-only plain traffic (behind a TLS-terminating proxy) is not reported.",
		"Serve the API over HTTPS/WSS only, redirect or refuse plain HTTP, and enable HSTS."),
	mk(RuleUnused, "unused-endpoint", "Endpoint unused for the configured period", model.SevLow, []string{api9},
		"The endpoint received no request for at least the configured period (default 30 days) before the end of the observed traffic, or is declared in a spec but never called while the observed traffic covers that period.",
		"Remove or disable operations nobody uses; unused code paths are unmaintained attack surface."),
	mk(RuleNoRateLimit, "no-rate-limiting", "No rate limiting observed", model.SevMedium, []string{api4},
		"At least one client sent a burst to the endpoint (by default ≥20 requests within 10 seconds from one client address) and the endpoint never answered 429 nor sent rate-limit headers (RateLimit-*, X-RateLimit-*, Retry-After).",
		"Enforce per-client and per-identity rate limits at the gateway and return 429 with Retry-After when exceeded."),
	mk(RuleVerboseErrors, "verbose-errors", "Verbose errors or stack traces in responses", model.SevMedium, []string{api8},
		"Responses contained stack traces (Java, Python, .NET, Node.js, PHP, Go, Ruby) or database error strings (SQL syntax errors, driver exceptions). They reveal internals and help attackers tune injection.",
		"Return generic error bodies (e.g. RFC 9457 problem details) and log details server-side only; disable debug modes in production."),
	mk(RuleVersionDisclosure, "version-disclosure", "Server or framework version disclosed", model.SevLow, []string{api8},
		"Response headers name the server software with its version (Server: nginx/1.18.0) or the framework (X-Powered-By, X-AspNet-Version, X-AspNetMvc-Version, X-Generator).",
		"Remove X-Powered-By and version headers and configure the server to send a generic Server header (nginx: server_tokens off; Apache: ServerTokens Prod)."),
	mk(RuleCORSCredentials, "cors-credentials-permissive", "Permissive CORS with credentials", model.SevHigh, []string{api8},
		"Responses allow credentials (Access-Control-Allow-Credentials: true) while allowing any origin: a wildcard or \"null\" origin, or the request's Origin reflected back (seen for at least two different origins).",
		"Allow credentials only for an explicit allow-list of trusted origins; never reflect the Origin header unchecked."),
	mk(RuleSecurityHeaders, "missing-security-headers", "Security headers missing on API responses", model.SevLow, []string{api8},
		"Most successful responses lacked X-Content-Type-Options: nosniff, lacked Strict-Transport-Security over HTTPS, or—on responses to authenticated requests or carrying sensitive data—lacked Cache-Control: no-store. Raised to medium when the missing header is no-store on sensitive data.",
		"Send X-Content-Type-Options: nosniff and HSTS on every response, and Cache-Control: no-store on authenticated or sensitive responses."),
	mk(RuleCredentialsInURL, "credentials-in-url", "Credentials or tokens in the URL", model.SevMedium, []string{api2, api8},
		"API keys, tokens, passwords or JWTs were sent in the query string or path. URLs are logged by proxies, servers and browsers and leak through Referer headers.",
		"Send credentials in the Authorization header (or another header); rotate the keys that were sent in URLs."),
	mk(RuleBasicOverHTTP, "basic-auth-over-http", "Basic authentication over plain HTTP", model.SevHigh, []string{api2},
		"Requests carried HTTP Basic credentials (a reversible base64 user:password) over plain HTTP.",
		"Use HTTPS only; prefer short-lived tokens to Basic authentication; rotate the exposed passwords."),
	mk(RuleWeakJWT, "weak-jwt", "Weak JWT: unsigned, no expiry or very long lifetime", model.SevMedium, []string{api2},
		"Bearer JWTs accepted by the endpoint use alg \"none\" or an empty signature (high), carry no exp claim, or live longer than the configured maximum (default 24 hours). HS256 is not flagged: traffic cannot show the key's strength.",
		"Reject unsigned tokens, require exp, keep access-token lifetimes short (minutes to hours) and use refresh tokens for long sessions."),
	mk(RuleExpiredAccepted, "expired-token-accepted", "API accepts JWTs past their expiry", model.SevMedium, []string{api2},
		"The endpoint answered 2xx to requests whose JWT exp was more than the allowed clock skew (default 5 minutes) in the past: the API (or its gateway) does not enforce exp, or enforces it late. One finding per endpoint with how often and how far past exp. Tokens used long after expiry are alerts (auth.weak_token_accepted), not this finding.",
		"Enforce exp at the gateway and in the API with a small clock skew; refresh tokens before they expire in the clients; shorten the cache of token validation results."),
	mk(RuleGraphQLIntrospect, "graphql-introspection", "GraphQL introspection enabled", model.SevMedium, []string{api8, api9},
		"The GraphQL endpoint answered an introspection query (__schema) with the schema: anyone who can reach it can list every type, field, argument and mutation, including the ones no client uses — the map an attacker needs for BOLA, BFLA and injection. Severity is low when only internal clients were answered. A response whose body was not recorded is counted when its status was 2xx.",
		"Disable introspection in production (Apollo: introspection: false; graphql-java: NoIntrospectionGraphqlFieldVisibility; Hasura: disable the __schema role permission) or allow it only to authenticated internal roles; publish the schema to the clients that need it instead."),
	mk(RuleGraphQLCost, "graphql-cost-unlimited", "GraphQL query cost not limited", model.SevMedium, []string{api4},
		"The GraphQL endpoint executed requests beyond the configured cost limits (by default a selection deeper than 10 fields, more than 15 aliased fields, or a batch of more than 10 documents in one request) and answered them with data: nothing bounds what one request can make the server resolve. Nested lists, aliases that repeat an expensive field and batches are the denial-of-service and brute-force amplifiers of GraphQL (one request, thousands of resolver calls or login attempts). A response that came back without data (an error such as \"query depth limit exceeded\") is a limit at work and is not counted. Severity is low when only internal clients were answered.",
		"Enforce a maximum depth, a complexity or cost budget, a limit on aliases and on batched operations per request in the GraphQL server or gateway (graphql-depth-limit, graphql-cost-analysis, Apollo's operation limits, Hasura's allow lists, persisted queries for public clients), and time out resolvers."),
	mk(RuleZombie, "zombie-operation", "Deprecated (zombie) operation still in use", model.SevMedium, []string{api9},
		"The operation is marked deprecated in the spec but still receives traffic.",
		"Migrate the remaining clients and retire the operation, or keep it patched and monitored until then."),
	mk(RuleShadow, "shadow-operation", "Undocumented (shadow) operation in use", model.SevMedium, []string{api9},
		"The operation receives traffic but is not in any declared spec: it escapes review, testing and gateway policy.",
		"Document the operation in the spec (and review it), or remove it."),
	mk(RuleUndeclaredData, "undeclared-sensitive-data", "Response returns sensitive data the spec does not declare", model.SevMedium, []string{api3},
		"A documented operation returned sensitive data in a response field that its declared response schema does not contain: an excessive data exposure the spec review could not see.",
		"Remove the field from the response (filter server-side), or declare it in the spec so it is reviewed and classified."),
}

// outboundRules are the traffic rules that judge our services' own calls
// to a third-party API (the report's outbound[]): what the calls send. The
// other rules judge how an API answers (authentication enforced, headers,
// errors, CORS, rate limits, spec conformance): on a third-party API that
// is the provider's posture, not ours, and they are not reported.
var outboundRules = map[string]bool{RuleCredentialsInURL: true, RuleBasicOverHTTP: true, RuleWeakJWT: true}

// AppliesToOutbound reports whether a traffic rule's findings on the
// operations of a third-party API our services call are ours to fix.
func AppliesToOutbound(rule string) bool { return outboundRules[rule] }

func mk(id, name, title, sev string, owasp []string, desc, rem string) Rule {
	return Rule{ID: id, Name: name, Title: title, Severity: sev, OWASP: owasp, Description: desc, Remediation: rem, Source: "traffic"}
}

// Rules returns the traffic rule catalogue in id order.
func Rules() []Rule {
	out := make([]Rule, len(rules))
	copy(out, rules)
	return out
}

func ruleByID(id string) Rule {
	for _, r := range rules {
		if r.ID == id {
			return r
		}
	}
	panic("posture: unknown rule " + id)
}
