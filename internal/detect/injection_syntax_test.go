package detect

import "testing"

func TestSyntaxOf(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want codeSyntax
	}{
		// SQL grammar
		{"admin'--", synSQL},
		{"' notnull --", synSQL},
		{"'glob 1;", synSQL},
		{"x' or username like x escape 'x';", synSQL},
		{"1 union/**/select 2", synSQL},
		{"name = '", synSQL},
		{"OR name = \"", synSQL},
		{"AND deleted = 0)", synSQL},
		{"or 1 like 1", synSQL},
		// shell grammar
		{"sh -c id", synShell},
		{"cat ${HOME}/x", synShell},
		{"echo $(id)", synShell},
		{"cp $SRC /tmp", synShell},
		{"echo %PATH%", synShell},
		{";vim -c:pwd", synShell},
		{"| nc host 80", synShell},
		{"FOR /D %a IN (dirs) DO abc", synShell},
		{"IF NOT EXIST C:\\x CMD", synShell},
		{"if [%1]==[] echo missing", synShell},
		// natural-language text and ordinary values
		{"Customer since '09; still happy", 0},
		{"He said 'no' and left", 0},
		{"Rated 5/5 -- OR better if it had a dimmer", 0},
		{"O'Brien and O'Neil", 0},
		{"teachers' and students' rooms", 0},
		{"well-known item, ships in 2-3 days", 0},
		{"and/or either", 0},
		{"sendere$a2", 0},
		{"price: $12.50", 0},
		{"100% cotton", 0},
		{"If not defined, use the default", 0},
		{"For details see the FAQ", 0},
		{"#1 seller", 0},
		{"Assembly: insert tab A -> slot B, done", 0},
		{"2026-01-01", 0},
	} {
		if got := syntaxOf(tc.v); got != tc.want {
			t.Errorf("syntaxOf(%q) = %v (%d), want %v", tc.v, got, got, tc.want)
		}
	}
}
