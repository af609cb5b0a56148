package gateway

import (
	"net"
	"net/url"
	"strings"

	"github.com/palisade-sec/palisade/internal/posture/specaudit"
)

// norm lowercases a name and drops separators: "Client_Secret" -> "clientsecret".
var norm = specaudit.Norm

// secretFieldNames are configuration keys whose literal value is a
// credential (normalized).
var secretFieldNames = map[string]bool{
	"password": true, "passwd": true, "secret": true, "clientsecret": true, "apikey": true,
	"apisecret": true, "secretkey": true, "privatekey": true, "accesstoken": true, "token": true,
	"authtoken": true, "bearertoken": true, "sharedsecret": true, "hmacsecret": true,
	"secretaccesskey": true, "subscriptionkey": true, "primarykey": true, "secondarykey": true,
	"authorization": true, "credentials": true, "credential": true, "key": false,
}

// isSecretField reports a field named like a credential.
func isSecretField(name string) bool {
	n := norm(name)
	return secretFieldNames[n] || strings.HasSuffix(n, "password") || strings.HasSuffix(n, "secret") || strings.HasSuffix(n, "apikey")
}

// isReference reports values that point at a secret store or variable
// rather than holding the secret: Kong vault references, environment and
// template variables, APIM named values, CloudFormation dynamic references,
// NGINX variables, file paths.
func isReference(v string) bool {
	v = strings.TrimSpace(v)
	l := strings.ToLower(v)
	switch {
	case v == "":
		return true
	case strings.HasPrefix(l, "{vault://"), strings.HasPrefix(v, "${"), strings.HasPrefix(v, "{{"),
		strings.HasPrefix(v, "$"), strings.HasPrefix(l, "env:"), strings.HasPrefix(l, "arn:aws:secretsmanager"),
		strings.HasPrefix(l, "arn:aws:ssm"), strings.HasPrefix(l, "{{resolve:"), strings.HasPrefix(v, "%"),
		strings.HasPrefix(v, "/"), strings.HasPrefix(l, "file:"), strings.HasPrefix(l, "[parameters("),
		strings.HasPrefix(l, "[reference("), strings.HasPrefix(l, "[listkeys("), strings.HasPrefix(l, "[concat("),
		strings.HasPrefix(l, "secretref:"), strings.HasPrefix(l, "keyvault"):
		return true
	}
	return false
}

// isPlaceholder reports obvious non-secrets (redacted exports, masks).
func isPlaceholder(v string) bool {
	l := strings.ToLower(strings.TrimSpace(v))
	if strings.Trim(l, "*x.-_<>") == "" || strings.Contains(l, "redacted") || l == "null" || l == "none" || l == "true" || l == "false" {
		return true
	}
	return false
}

// inlineSecret reports whether value, held by a field named field, is a
// credential written into the configuration. Any field: a value that looks
// like a known credential format (JWT, AWS key, private key, ...).
// Credential-named fields: any literal that is not a reference or a
// placeholder.
func inlineSecret(field, value string) (what string, ok bool) {
	if isReference(value) || isPlaceholder(value) {
		return "", false
	}
	if k := specaudit.CredentialKind(value); k != "" {
		return k, true
	}
	if field != "" && isSecretField(field) && len(strings.TrimSpace(value)) >= 4 {
		return field, true
	}
	return "", false
}

// bearerLiteral reports an Authorization header value carrying a literal
// credential ("Bearer abc", "Basic dXNl..."), not a variable.
func bearerLiteral(v string) bool {
	f := strings.Fields(v)
	if len(f) != 2 {
		return false
	}
	switch strings.ToLower(f[0]) {
	case "bearer", "basic", "token", "apikey", "key", "sharedaccesssignature":
		return !isReference(f[1]) && !isPlaceholder(f[1]) && len(f[1]) >= 8
	}
	return false
}

// parseBackend splits a backend URL.
func parseBackend(raw string, p Pos) Backend {
	b := Backend{URL: raw, Pos: p}
	s := strings.TrimSpace(raw)
	if strings.HasPrefix(s, "unix:") {
		b.Scheme = "unix"
		return b
	}
	if !strings.Contains(s, "://") {
		b.Host, b.Port = splitHostPort(strings.SplitN(s, "/", 2)[0])
		return b
	}
	u, err := url.Parse(s)
	if err != nil {
		if i := strings.Index(s, "://"); i > 0 {
			b.Scheme = strings.ToLower(s[:i])
			b.Host, b.Port = splitHostPort(strings.SplitN(s[i+3:], "/", 2)[0])
		}
		return b
	}
	b.Scheme = strings.ToLower(u.Scheme)
	b.Host = strings.ToLower(u.Hostname())
	b.Port = u.Port()
	if strings.HasPrefix(b.Scheme, "unix") || strings.Contains(b.URL, "unix:") {
		b.Scheme = "unix"
	}
	return b
}

func splitHostPort(hp string) (string, string) {
	if h, p, err := net.SplitHostPort(hp); err == nil {
		return strings.ToLower(h), p
	}
	return strings.ToLower(strings.Trim(hp, "[]")), ""
}

// redactURL removes user information from a URL.
func redactURL(u string) string {
	if i := strings.Index(u, "://"); i >= 0 {
		rest := u[i+3:]
		end := strings.IndexAny(rest, "/?#")
		if end < 0 {
			end = len(rest)
		}
		if at := strings.LastIndexByte(rest[:end], '@'); at >= 0 {
			return u[:i+3] + "****@" + rest[at+1:]
		}
	}
	return u
}

// userinfoPassword returns the password of a URL's user information.
func userinfoPassword(raw string) (string, bool) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil || u.User == nil {
		return "", false
	}
	p, ok := u.User.Password()
	return p, ok && p != ""
}

// isLoopback reports loopback hosts, unix sockets and in-process targets.
func isLoopback(host string) bool {
	h := strings.ToLower(strings.Trim(host, "[]"))
	if h == "localhost" || strings.HasSuffix(h, ".localhost") || h == "" {
		return true
	}
	if ip := net.ParseIP(h); ip != nil {
		return ip.IsLoopback()
	}
	return false
}

// adminPorts are the default ports of gateway administration APIs (Kong
// admin 8001/8444, Envoy and Istio admin 9901/15000, Traefik dashboard
// 8080 is too common to count).
var adminPorts = map[string]string{"8001": "Kong Admin API", "8444": "Kong Admin API", "9901": "Envoy admin interface", "15000": "Envoy/Istio admin interface", "8002": "Kong Manager"}

// debugSegments are path segments of debug and introspection endpoints
// that gateways and frameworks expose (besides the spec audit's
// administrative names).
var debugSegments = map[string]bool{
	"actuator": true, "debug": true, "pprof": true, "stub_status": true, "nginx_status": true, "server-status": true,
	"server-info": true, "metrics": true, "prometheus": true, "_admin": true, "phpmyadmin": true, "jolokia": true,
	"heapdump": true, "graphiql": true, "__debug": true, "_debug": true, ".env": true, "config_dump": true,
	"_cat": true, "_cluster": true, "_nodes": true, "stats": false,
}

// regexNoise strips regular-expression syntax from a path pattern so that
// its words can be checked.
var regexNoise = strings.NewReplacer("^", "", "$", "", "(", "", ")", "", "?", "", "*", "", "\\", "", "~", "")

// isDebugPath reports an administrative, internal or debug path.
func isDebugPath(p string) bool {
	clean := regexNoise.Replace(p)
	if specaudit.IsAdminPath(clean) {
		return true
	}
	for _, seg := range strings.Split(strings.ToLower(clean), "/") {
		if debugSegments[seg] {
			return true
		}
	}
	return false
}

// versionOf extracts an API version segment ("v1", "v2.1") from a path.
func versionOf(p string) string {
	for _, seg := range strings.Split(p, "/") {
		s := strings.ToLower(strings.Trim(seg, "^$()?*~"))
		if len(s) >= 2 && s[0] == 'v' && s[1] >= '0' && s[1] <= '9' {
			ok := true
			for _, c := range s[1:] {
				if (c < '0' || c > '9') && c != '.' {
					ok = false
					break
				}
			}
			if ok {
				return s
			}
		}
	}
	return ""
}

// versionLess orders "v1" < "v1.2" < "v2" < "v10".
func versionLess(a, b string) bool {
	pa, pb := strings.Split(strings.TrimPrefix(a, "v"), "."), strings.Split(strings.TrimPrefix(b, "v"), ".")
	for i := 0; i < len(pa) || i < len(pb); i++ {
		var x, y int
		if i < len(pa) {
			x = atoi(pa[i])
		}
		if i < len(pb) {
			y = atoi(pb[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		if c < '0' || c > '9' || n > 1e6 {
			break
		}
		n = n*10 + int(c-'0')
	}
	return n
}

// deprecatedWord reports a tag, name or annotation that marks something
// deprecated.
func deprecatedWord(s string) bool {
	l := strings.ToLower(s)
	return strings.Contains(l, "deprecated") || strings.Contains(l, "legacy") || strings.Contains(l, "sunset") || strings.Contains(l, "obsolete")
}
