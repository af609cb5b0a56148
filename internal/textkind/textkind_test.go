package textkind

import (
	"fmt"
	"strings"
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

func TestBinary(t *testing.T) {
	for _, tc := range []struct {
		s    string
		want bool
	}{
		{"", false},
		{"plain ASCII text, a sentence of a form", false},
		{"Les élèves ont déjà payé: café, crème brûlée", false},                                                                      // UTF-8
		{"Les \xe9l\xe8ves ont d\xe9j\xe0 pay\xe9 leur caf\xe9 avant de partir pour la gare, puis ils sont rentr\xe9s tard.", false}, // Latin-1: 6 % of its bytes
		{"注文番号と配送先の住所を確認してください", false},
		{"\xbf' OR 1=1 -- a multi-byte quote trick", false}, // one invalid byte: under the floor of 8
		{"\x00\x01\x02\x03\x04\x05\x06\x07", true},
		{strings.Repeat("\x89PNG\x00\x00\x00\rIHDR\x00\x00\x01\x00", 4), true},
		{"q=1 UNION SELECT 1--" + strings.Repeat("\x00", 8), true},
		{"tabs\tand\nnew lines\r\nand form feeds\f are text", false},
	} {
		if got := Binary(tc.s); got != tc.want {
			t.Errorf("Binary(%q) = %v, want %v", tc.s, got, tc.want)
		}
	}
}
