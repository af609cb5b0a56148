package evalsplit

import "testing"

// TestSplitOf pins the split: moving it would move items between the
// tuning and the validation parts of every evaluation. The comment gives
// the first 8 bytes of sha256(value), big-endian, mod 100.
func TestSplitOf(t *testing.T) {
	for _, c := range []struct{ value, want string }{
		{"v225", SplitValid},                     // 0
		{"1' or '1'='1", SplitValid},             // 3
		{"v96", SplitValid},                      // 29: the last validation bucket
		{"v106", SplitTune},                      // 30: the first tuning bucket
		{"<script>alert(1)</script>", SplitTune}, // 42
		{"", SplitTune},                          // 52
		{"svix.com.json", SplitTune},             // 75
		{"1forge.com.json", SplitTune},           // 86
		{"v5", SplitTune},                        // 99
	} {
		if got := SplitOf(c.value); got != c.want {
			t.Errorf("SplitOf(%q) = %s, want %s", c.value, got, c.want)
		}
	}
	if ValidationPercent != 30 {
		t.Errorf("ValidationPercent = %d: the parts of every evaluation move with it", ValidationPercent)
	}
}
