package specaudit

import (
	"fmt"
	"regexp"
	"regexp/syntax"
	"strings"

	"github.com/palisade-sec/palisade/internal/authzname"
	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/posture/yamltree"
)

// Rule is one audit check. IDs are stable: never renumber or reuse one.
type Rule struct {
	ID          string
	Name        string // short kebab-case name
	Title       string
	Severity    string
	OWASP       []string // OWASP API Security Top 10 2023
	Description string   // what it checks
	Remediation string
	// Tags are the SARIF tags after "security" (default "openapi"), and
	// HelpURI the rule's documentation (default docs/audit.md#id): other
	// audits (gateway configuration) reuse the output writers with their
	// own rules.
	Tags    []string
	HelpURI string
	check   func(a *auditCtx, r *Rule)
}

// OWASP API Security Top 10 2023 categories, as rules cite them.
const (
	API1 = "API1:2023 Broken Object Level Authorization"
	API2 = "API2:2023 Broken Authentication"
	API3 = "API3:2023 Broken Object Property Level Authorization"
	API4 = "API4:2023 Unrestricted Resource Consumption"
	API5 = "API5:2023 Broken Function Level Authorization"
	API6 = "API6:2023 Unrestricted Access to Sensitive Business Flows"
	API7 = "API7:2023 Server Side Request Forgery"
	API8 = "API8:2023 Security Misconfiguration"
	API9 = "API9:2023 Improper Inventory Management"
)

const (
	api1 = API1
	api2 = API2
	api3 = API3
	api4 = API4
	api5 = API5
	api7 = API7
	api8 = API8
	api9 = API9
)

// Rules returns the catalogue, ordered by ID.
func Rules() []*Rule { return catalogue }

// RuleByID finds a rule by ID or name.
func RuleByID(id string) *Rule {
	for _, r := range catalogue {
		if strings.EqualFold(r.ID, id) || strings.EqualFold(r.Name, id) {
			return r
		}
	}
	return nil
}

func (a *auditCtx) report(r *Rule, n *yamltree.Node, op *operation, format string, args ...any) {
	a.emit(r.ID, n, op, fmt.Sprintf(format, args...), nil)
}

func opName(op *operation) string { return strings.ToUpper(op.Method) + " " + op.Path }

// Norm lowercases a name and drops separators: "Client_Secret" -> "clientsecret".
func Norm(s string) string { return norm(s) }

// norm lowercases a name and drops separators: "Client_Secret" -> "clientsecret".
func norm(s string) string { return authzname.Norm(s) }

var (
	authFlowRe = regexp.MustCompile(`(?i)(^|/)(login|logout|signin|sign-in|sign_in|signup|sign-up|sign_up|register|registration|token|tokens|oauth2?|auth|authenticate|authorize|session|sessions|password|forgot[-_]?password|reset[-_]?password|verify|verification|otp|callback|webhooks?|health|healthz|livez|readyz|status|ping|version|openapi|swagger|docs?)(\.json|\.yaml)?(/|$)`)
	adminRe    = regexp.MustCompile(`(?i)(^|/)_?(admin|administrator|internal|debug|management|manage|actuator|console|superuser|sudo|backoffice|back-office)(/|$|[-_])`)
)

func isAuthFlowPath(p string) bool { return authFlowRe.MatchString(p) }

// IsAuthFlowPath reports paths that are anonymous by design: login,
// registration, token, password reset, webhooks, health and documentation.
func IsAuthFlowPath(p string) bool { return authFlowRe.MatchString(p) }

// IsAdminPath reports paths that look administrative or internal (admin,
// internal, debug, management, actuator, console, ...).
func IsAdminPath(p string) bool { return adminRe.MatchString(p) }

// CredentialKind names the kind of credential s contains (JWT, AWS access
// key id, private key, GitHub/Slack/Stripe/Google key), or "".
func CredentialKind(s string) string {
	for _, x := range exampleSecretRes {
		if x.re.MatchString(s) {
			return x.kind
		}
	}
	return ""
}

// Redact keeps the first four characters of a secret.
func Redact(s string) string { return redact(s) }

// secret-looking property / parameter names (normalized).
var secretNames = map[string]bool{
	"password": true, "passwd": true, "pwd": true, "passphrase": true, "secret": true,
	"clientsecret": true, "apisecret": true, "secretkey": true, "privatekey": true,
	"secretaccesskey": true, "passwordhash": true, "cvv": true, "cvc": true, "cvv2": true,
}

func isSecretName(name string) bool {
	n := norm(name)
	return secretNames[n] || strings.HasSuffix(n, "password")
}

// credential names that must never travel in a URL.
var urlSecretNames = map[string]bool{
	"password": true, "passwd": true, "pwd": true, "secret": true, "clientsecret": true,
	"token": true, "accesstoken": true, "refreshtoken": true, "idtoken": true, "authtoken": true,
	"apikey": true, "apitoken": true, "sessionid": true, "sessiontoken": true, "privatekey": true,
	"secretkey": true, "apisecret": true,
}

// boundedFormats are string formats whose values have a bounded length.
var boundedFormats = map[string]bool{
	"date": true, "date-time": true, "time": true, "uuid": true, "ipv4": true, "ipv6": true,
	"int32": true, "int64": true, "duration": true,
}

// boundedPattern reports an anchored pattern with no unbounded repetition.
func boundedPattern(p string) bool {
	if !strings.HasPrefix(p, "^") || !strings.HasSuffix(p, "$") {
		return false
	}
	re, err := syntax.Parse(p, syntax.Perl)
	if err != nil {
		return false
	}
	return re.MaxCap() >= 0 && !hasUnbounded(re)
}

func hasUnbounded(re *syntax.Regexp) bool {
	switch re.Op {
	case syntax.OpStar, syntax.OpPlus:
		return true
	case syntax.OpRepeat:
		if re.Max == -1 {
			return true
		}
	}
	for _, s := range re.Sub {
		if hasUnbounded(s) {
			return true
		}
	}
	return false
}

// nestedQuantifier reports a repetition applied to something that itself
// repeats without bound in an ambiguous way, e.g. (a+)+, (\w*)*,
// (\w+.)+ — the catastrophic-backtracking shape for backtracking engines
// (ECMAScript, Java, .NET, Python, PCRE). An inner repetition is harmless
// when the repeated body also requires a character the inner repetition
// cannot match (a delimiter): ^se(-[a-z0-9]+)+$ and ( *[^ ])* are linear.
func nestedQuantifier(p string) (bool, error) {
	re, err := syntax.Parse(p, syntax.Perl)
	if err != nil {
		// Constructs Go does not know (lookaround, backreferences):
		// fall back to a textual check for "(...+...)+" shapes.
		return redosText.MatchString(p), err
	}
	var walk func(re *syntax.Regexp) bool
	walk = func(re *syntax.Regexp) bool {
		if isUnboundedRep(re) && ambiguousBody(re.Sub[0]) {
			return true
		}
		for _, s := range re.Sub {
			if walk(s) {
				return true
			}
		}
		return false
	}
	return walk(re), nil
}

func isUnboundedRep(re *syntax.Regexp) bool {
	return re.Op == syntax.OpStar || re.Op == syntax.OpPlus || (re.Op == syntax.OpRepeat && (re.Max == -1 || re.Max > 10))
}

func uncapture(re *syntax.Regexp) *syntax.Regexp {
	for re.Op == syntax.OpCapture && len(re.Sub) == 1 {
		re = re.Sub[0]
	}
	return re
}

// ambiguousBody reports whether the body of an outer repetition contains
// an unbounded repetition that no mandatory delimiter separates.
func ambiguousBody(body *syntax.Regexp) bool {
	body = uncapture(body)
	if !containsUnbounded(body) {
		return false
	}
	if body.Op != syntax.OpConcat {
		return true // (a+)+, (a|b+)*, ...
	}
	for i, el := range body.Sub {
		el = uncapture(el)
		if !containsUnbounded(el) {
			continue
		}
		if !isUnboundedRep(el) {
			return true // a nested group: be conservative
		}
		inner, ok := charSet(uncapture(el.Sub[0]))
		if !ok {
			return true
		}
		delimited := false
		for j, other := range body.Sub {
			if j == i {
				continue
			}
			if cs, ok := charSet(uncapture(other)); ok && disjoint(inner, cs) {
				delimited = true
				break
			}
		}
		if !delimited {
			return true
		}
	}
	return false
}

func containsUnbounded(re *syntax.Regexp) bool {
	if isUnboundedRep(re) {
		return true
	}
	for _, s := range re.Sub {
		if containsUnbounded(s) {
			return true
		}
	}
	return false
}

// charSet returns the rune ranges a single-character node matches.
func charSet(re *syntax.Regexp) ([]rune, bool) {
	switch re.Op {
	case syntax.OpLiteral:
		if len(re.Rune) != 1 || re.Flags&syntax.FoldCase != 0 {
			return nil, false
		}
		return []rune{re.Rune[0], re.Rune[0]}, true
	case syntax.OpCharClass:
		return re.Rune, true
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		return []rune{0, 0x10FFFF}, true
	}
	return nil, false
}

func disjoint(a, b []rune) bool {
	for i := 0; i+1 < len(a); i += 2 {
		for j := 0; j+1 < len(b); j += 2 {
			if a[i] <= b[j+1] && b[j] <= a[i+1] {
				return false
			}
		}
	}
	return true
}

// matchAll reports patterns that accept everything, where anchoring is
// meaningless.
func matchAll(p string) bool {
	switch strings.TrimSuffix(strings.TrimPrefix(p, "^"), "$") {
	case ".*", "[\\s\\S]*", "(.*)", "[^]*":
		return true
	}
	return false
}

var redosText = regexp.MustCompile(`\([^()]*[+*][^()]*\)[+*{]`)

// secret material in examples.
var exampleSecretRes = []struct {
	kind string
	re   *regexp.Regexp
}{
	{"JWT", regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}`)},
	{"AWS access key id", regexp.MustCompile(`\b(AKIA|ASIA)[0-9A-Z]{16}\b`)},
	{"private key", regexp.MustCompile(`-----BEGIN ([A-Z]+ )?PRIVATE KEY-----`)},
	{"GitHub token", regexp.MustCompile(`\bgh[pousr]_[A-Za-z0-9]{36,}\b`)},
	{"Slack token", regexp.MustCompile(`\bxox[abposr]-[0-9A-Za-z-]{10,}\b`)},
	{"Stripe live key", regexp.MustCompile(`\b[sr]k_live_[0-9A-Za-z]{16,}\b`)},
	{"Google API key", regexp.MustCompile(`\bAIza[0-9A-Za-z_-]{35}\b`)},
}

// redact keeps the first four characters of a secret.
func redact(s string) string {
	r := []rune(s)
	if len(r) <= 4 {
		return "****"
	}
	return fmt.Sprintf("%s…(%d chars, redacted)", string(r[:4]), len(r))
}

var userinfoRe = regexp.MustCompile(`^([a-zA-Z][a-zA-Z0-9+.-]*://)([^/@\s]+)@`)

// redactURL removes user information from a URL.
func redactURL(u string) string { return userinfoRe.ReplaceAllString(u, "${1}****@") }

func isHTTPURL(u string) bool {
	l := strings.ToLower(strings.TrimSpace(u))
	return strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "ws://")
}

// allServers lists servers at document, path and operation level.
func (a *auditCtx) allServers() []serverURL {
	out := append([]serverURL(nil), a.servers...)
	seen := map[*yamltree.Node]bool{}
	add := func(n *yamltree.Node) {
		for _, s := range items(get(n, "servers")) {
			if u := get(s, "url"); u != nil && !seen[u] {
				seen[u] = true
				out = append(out, serverURL{URL: str(u), Node: u})
			}
		}
	}
	for _, op := range a.ops {
		add(op.PathItem)
		add(op.Node)
	}
	return out
}

// errorCodes summarizes the documented responses of an operation.
type codes struct{ has map[string]bool }

func (c codes) any(list ...string) bool {
	for _, k := range list {
		if c.has[k] {
			return true
		}
	}
	return false
}

func (a *auditCtx) codes(op *operation) codes {
	c := codes{has: map[string]bool{}}
	a.responses(op, func(code string, _, _ *yamltree.Node) { c.has[strings.ToUpper(code)] = true })
	return c
}

func (c codes) hasClientError() bool {
	for k := range c.has {
		if k == "DEFAULT" || strings.HasPrefix(k, "4") || strings.HasPrefix(k, "5") {
			return true
		}
	}
	return false
}

// jsonMedia reports a JSON-ish media type.
func jsonMedia(mt string) bool {
	mt = strings.ToLower(mt)
	return strings.Contains(mt, "json") || mt == "*/*"
}

func endpointOf(op *operation) *model.EndpointRef {
	if op == nil {
		return nil
	}
	r := op.Ref
	return &r
}
