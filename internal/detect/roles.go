package detect

import (
	"strings"

	"github.com/palisade-sec/palisade/internal/event"
)

// endUserRoles name the end users of a service, who are not its
// administrators (singular or plural).
var endUserRoles = []string{"customer", "user", "member", "guest", "patient", "client", "subscriber", "consumer", "buyer",
	"shopper", "visitor", "public", "anonymous", "student", "learner", "player", "viewer", "reader"}

func endUserRole(r string) bool {
	for _, u := range endUserRoles {
		if sameWord(r, u) {
			return true
		}
	}
	return false
}

// technicalRole: roles an identity provider grants every account
// (Keycloak's offline_access, uma_authorization, default-roles-<realm>);
// they say nothing of who the principal is.
func technicalRole(r string) bool {
	return r == "offline_access" || r == "uma_authorization" || strings.HasPrefix(r, "default-roles-")
}

// endUserOf returns the first of normalized role names (roleName) that
// names an end user when every one of them does, technical roles aside;
// "" otherwise (no role, or any other role).
func endUserOf(names []string) string {
	end := ""
	for _, r := range names {
		switch {
		case technicalRole(r):
		case endUserRole(r):
			if end == "" {
				end = r
			}
		default:
			return ""
		}
	}
	return end
}

// endUserToken reports whether every role claim of ev's principal names
// an end user of the service (endUserOf).
func endUserToken(ev *event.Event) bool {
	id := ev.Auth.Identity
	if id == nil || id.Token == nil {
		return false
	}
	names := make([]string, 0, len(id.Token.Roles))
	for _, r := range id.Token.Roles {
		names = append(names, roleName(r))
	}
	return endUserOf(names) != ""
}
