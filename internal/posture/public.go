package posture

import (
	"strings"

	"github.com/palisade-sec/palisade/internal/model"
)

// Public roles: operations that answer without credentials by design, judged
// from the method and the path template alone (never from a list of known
// endpoints). An endpoint with a public role gets no PAL-T001 and no risk
// points for its authentication; see docs/posture-traffic-rules.md.
const (
	RoleAuthEntry   = "authentication entry point" // log in, token, sign up, password reset
	RoleHealth      = "health or status probe"
	RoleWellKnown   = "well-known URI"    // RFC 8615
	RoleCrawlerFile = "crawler/site file" // robots.txt, favicon.ico, sitemap.xml, security.txt
	RoleAPIDocs     = "API description"   // openapi.json, swagger.json
)

// The last segment of the path, lower-cased, names the role.
var (
	authEntrySegs = set("login", "signin", "sign-in", "sign_in", "logon", "authenticate", "token", "tokens",
		"register", "registration", "signup", "sign-up", "sign_up", "session", "sessions", "refresh",
		"forgot-password", "forgot_password", "reset-password", "reset_password", "password-reset", "password_reset")
	healthSegs  = set("health", "healthz", "healthcheck", "health-check", "livez", "readyz", "ready", "live", "alive", "ping", "status", "version")
	crawlerSegs = set("robots.txt", "favicon.ico", "sitemap.xml", "security.txt", "humans.txt")
	docsSegs    = set("openapi.json", "openapi.yaml", "swagger.json", "swagger.yaml", "api-docs")
)

func set(s ...string) map[string]bool {
	m := make(map[string]bool, len(s))
	for _, x := range s {
		m[x] = true
	}
	return m
}

// PublicRole returns the public role of an operation, or "". Every role
// but the well-known one needs a static path (no {parameter}):
// /v1/orders/{id}/status is an order's data, not a probe, and
// POST /v1/users/{id}/tokens mints a token for a given user.
//
//   - authentication entry point: POST/PUT to a path whose last segment is
//     login, signin, logon, authenticate, token(s), register, signup,
//     session(s), refresh or a password reset (the call that obtains
//     credentials cannot carry them);
//   - health or status probe, crawler/site file, API description: GET/HEAD
//     of a path ending in health, healthz, livez, readyz, ping, status,
//     version…; robots.txt, favicon.ico, sitemap.xml, security.txt;
//     openapi.json, swagger.json, api-docs;
//   - well-known URI: GET/HEAD of any path under /.well-known/.
func PublicRole(method, path string) string {
	p := strings.ToLower(path)
	last := p[strings.LastIndexByte(p, '/')+1:]
	read := method == "GET" || method == "HEAD"
	static := !strings.Contains(p, "{")
	switch {
	case (method == "POST" || method == "PUT") && static && authEntrySegs[last]:
		return RoleAuthEntry
	case read && strings.HasPrefix(p, "/.well-known/"):
		return RoleWellKnown
	case read && static && healthSegs[last]:
		return RoleHealth
	case read && static && crawlerSegs[last]:
		return RoleCrawlerFile
	case read && static && docsSegs[last]:
		return RoleAPIDocs
	}
	return ""
}

func endpointRole(ep *model.Endpoint) string { return PublicRole(ep.Method, ep.Path) }

// credentialTypes are the data an authentication entry point returns by
// design (the credential it issues).
var credentialTypes = set("jwt", "secret")
