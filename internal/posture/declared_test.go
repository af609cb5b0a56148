package posture

import "testing"

func TestDeclaredField(t *testing.T) {
	declared := map[string]bool{"$.email": true, "$.meta.*": true, "$.items[*].card": true}
	for _, c := range []struct {
		field string
		want  bool
	}{
		{"$.email", true},
		{"$.meta.owner.ssn", true},
		{"$.items[*].card", true},
		{"$.items[*].ssn", false},
		{"$.ssn", false},
		{"$.emails", false},
	} {
		if got := declaredField(declared, c.field); got != c.want {
			t.Errorf("declaredField(%q) = %v, want %v", c.field, got, c.want)
		}
	}
	if !declaredField(map[string]bool{"$.*": true}, "$.anything.deep") {
		t.Errorf("open root object must declare everything")
	}
}
