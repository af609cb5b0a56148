// Package authzname holds the vocabulary of request fields that name an
// authorization attribute — admin, is_admin, role(s), permission(s),
// privilege(s), superuser, access_level, is_staff — which a client that
// can set them can raise its own rights with (mass assignment, OWASP
// API3:2023). The spec audit flags a write body that accepts one
// (posture/specaudit); the params family reports an end user's first
// write carrying one (detect).
package authzname

import "strings"

var privileged = map[string]bool{
	"admin": true, "isadmin": true, "role": true, "roles": true, "userrole": true,
	"permission": true, "permissions": true, "privilege": true, "privileges": true,
	"superuser": true, "issuperuser": true, "accesslevel": true, "isstaff": true,
}

// Privileged reports whether name, compared without case and without
// `_ - .` and spaces (`is_admin`, `isAdmin`, `IS-ADMIN`), names an
// authorization attribute.
func Privileged(name string) bool { return privileged[Norm(name)] }

// Norm is name in lower case without `_ - .` and spaces.
func Norm(name string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(name) {
		if c != '_' && c != '-' && c != '.' && c != ' ' {
			b.WriteRune(c)
		}
	}
	return b.String()
}
