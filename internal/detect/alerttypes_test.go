package detect

import "testing"

func TestInjectionTypes(t *testing.T) {
	for _, c := range InjClasses() {
		if got := injectionTypes[c].String(); got != c.AlertType() {
			t.Errorf("class %s: alert type %q, want %q", c, got, c.AlertType())
		}
	}
}
