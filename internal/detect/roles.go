package detect

import (
	"strings"

	"github.com/palisade-sec/palisade/internal/event"
)

// DefaultEndUserRoles name the end users of a service, who are not its
// administrators (matched singular or plural). Config.EndUserRoles
// (detect.end_user_roles) replaces them.
var DefaultEndUserRoles = []string{"customer", "user", "member", "guest", "patient", "client", "subscriber", "consumer", "buyer",
	"shopper", "visitor", "public", "anonymous", "student", "learner", "player", "viewer", "reader"}

// endUsers is a deployment's end-user role vocabulary, normalized by
// roleName.
type endUsers []string

// newEndUsers returns the vocabulary of cfg (its EndUserRoles, else the
// default one).
func newEndUsers(cfg Config) endUsers {
	names := cfg.EndUserRoles
	if len(names) == 0 {
		names = DefaultEndUserRoles
	}
	out := make(endUsers, 0, len(names))
	for _, n := range names {
		if r := roleName(n); r != "" {
			out = append(out, r)
		}
	}
	return out
}

// RoleNameUsable reports whether a configured role name still names a
// role once normalized (roleName) — at least 3 characters, as path and
// role words are matched (sameWord).
func RoleNameUsable(r string) bool { return len(roleName(r)) >= 3 }

func (u endUsers) role(r string) bool {
	for _, w := range u {
		if sameWord(r, w) {
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

// of returns the first of normalized role names (roleName) that
// names an end user when every one of them does, technical roles aside;
// "" otherwise (no role, or any other role).
func (u endUsers) of(names []string) string {
	end := ""
	for _, r := range names {
		switch {
		case technicalRole(r):
		case u.role(r):
			if end == "" {
				end = r
			}
		default:
			return ""
		}
	}
	return end
}

// token reports whether every role claim of ev's principal names an end
// user of the service (of).
func (u endUsers) token(ev *event.Event) bool {
	id := ev.Auth.Identity
	if id == nil || id.Token == nil {
		return false
	}
	names := make([]string, 0, len(id.Token.Roles))
	for _, r := range id.Token.Roles {
		names = append(names, roleName(r))
	}
	return u.of(names) != ""
}
