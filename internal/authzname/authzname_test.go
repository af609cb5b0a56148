package authzname

import "testing"

func TestPrivileged(t *testing.T) {
	for _, c := range []struct {
		name string
		want bool
	}{
		{"role", true}, {"is_admin", true}, {"isAdmin", true}, {"IS-ADMIN", true}, {"access_level", true},
		{"permissions", true}, {"is_staff", true}, {"user.role", true},
		{"phone", false}, {"roleplay", false}, {"admin_notes", false}, {"administrator_email", false}, {"", false},
		{"credit_limit", false}, {"_role_", true},
	} {
		if got := Privileged(c.name); got != c.want {
			t.Errorf("Privileged(%q) = %v, want %v", c.name, got, c.want)
		}
	}
}
