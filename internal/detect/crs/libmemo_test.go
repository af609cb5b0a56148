package crs

import (
	"testing"

	libinjection "github.com/corazawaf/libinjection-go"
)

// TestLibMemo: the memo answers what libinjection answers, whatever the
// order of the texts (repeats, alternations, a Reset in between).
func TestLibMemo(t *testing.T) {
	var m LibMemo
	texts := append([]string{"", "1' or '1'='1", "1' or '1'='1", "<script>alert(1)</script>", "1' or '1'='1", "plain"}, soundSamples...)
	check := func(v string) {
		t.Helper()
		ok, fp := libinjection.IsSQLi(v)
		if gok, gfp := m.IsSQLi(v); gok != ok || gfp != fp {
			t.Fatalf("IsSQLi(%q) = %v %q, libinjection %v %q", v, gok, gfp, ok, fp)
		}
		if g, w := m.IsXSS(v), libinjection.IsXSS(v); g != w {
			t.Fatalf("IsXSS(%q) = %v, libinjection %v", v, g, w)
		}
	}
	for i, v := range texts {
		check(v)
		check(v)
		check(texts[len(texts)-1-i])
		if i%7 == 0 {
			m.Reset()
		}
	}
	var nilMemo *LibMemo
	if ok, _ := nilMemo.IsSQLi("1' or '1'='1"); !ok {
		t.Fatal("a nil memo must call libinjection")
	}
}
