package textkind

import (
	"fmt"
	"testing"
)

func TestRuns(t *testing.T) {
	for _, tc := range []struct {
		s    string
		min  int
		want string
	}{
		{"abc\x00defgh\x01\xffijklmnop", 4, "[defgh ijklmnop]"},
		{"héllo wörld", 4, "[héllo wörld]"},
		{"\x00\x00\x00", 1, "[]"},
		{"ab\x00cd", 3, "[]"},
	} {
		var got []string
		Runs(tc.s, tc.min, len(tc.s), func(r string) bool { got = append(got, r); return true })
		if s := fmt.Sprint(got); s != tc.want {
			t.Errorf("Runs(%q, %d) = %s, want %s", tc.s, tc.min, s, tc.want)
		}
	}
	if First("ok\x7fno") != 2 || First("all text\n") != -1 || Count("a\x00b\xffc") != 2 {
		t.Error("First or Count")
	}
}
