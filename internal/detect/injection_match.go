package detect

import (
	"path"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/palisade-sec/palisade/internal/detect/crs"
)

// InjClass is an injection class (the suffix of the injection.* alert type).
type InjClass uint8

// Injection classes.
const (
	ClassSQLi InjClass = iota
	ClassXSS
	ClassCmd
	ClassPathTraversal
	ClassNoSQL
	ClassSSTI
	ClassXXE
	ClassLDAP
	ClassCRLF
	numInjClasses
)

var injClassNames = [numInjClasses]string{"sqli", "xss", "cmd", "path_traversal", "nosql", "ssti", "xxe", "ldap", "crlf"}

func (c InjClass) String() string { return injClassNames[c] }

// AlertType returns the alert type of the class.
func (c InjClass) AlertType() string { return "injection." + injClassNames[c] }

// InjClasses lists every class.
func InjClasses() []InjClass {
	out := make([]InjClass, numInjClasses)
	for i := range out {
		out[i] = InjClass(i)
	}
	return out
}

// InjMatch is one class matched in one value.
type InjMatch struct {
	Class      InjClass
	Confidence float64
	Start, End int    // byte range of the matched fragment in the decoded text
	Reason     string // which structure matched (e.g. "libinjection fingerprint s&1", "metachar ; + command id")
	// FileProbe: a file asked for through the path, no traversal — not
	// reported where the API answered with an error (Injection.notServed)
	FileProbe bool
}

// byte classes seen in a value (one pass), used to skip matchers cheaply.
type byteSet uint64

const (
	bQuote byteSet = 1 << iota // ' "
	bBacktick
	bLT
	bGT
	bSemi
	bPipe
	bAmp
	bDollar
	bParen
	bBrace
	bBracket
	bSlash
	bBackslash
	bDot2 // ".."
	bEq
	bStar
	bCRLF
	bSpace
	bHash
	bPercent
	bColon
	bDash
	bAt
	bNUL
)

func scanBytes(s string) byteSet {
	var f byteSet
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\'', '"':
			f |= bQuote
		case '`':
			f |= bBacktick
		case '<':
			f |= bLT
		case '>':
			f |= bGT
		case ';':
			f |= bSemi
		case '|':
			f |= bPipe
		case '&':
			f |= bAmp
		case '$':
			f |= bDollar
		case '(', ')':
			f |= bParen
		case '{', '}':
			f |= bBrace
		case '[', ']':
			f |= bBracket
		case '/':
			f |= bSlash
		case '\\':
			f |= bBackslash
		case '.':
			if i+1 < len(s) && s[i+1] == '.' {
				f |= bDot2
			}
		case '=':
			f |= bEq
		case '*':
			f |= bStar
		case '\r', '\n':
			f |= bCRLF
		case ' ', '\t':
			f |= bSpace
		case '#':
			f |= bHash
		case '%':
			f |= bPercent
		case ':':
			f |= bColon
		case '-':
			f |= bDash
		case '@':
			f |= bAt
		case 0:
			f |= bNUL
		}
	}
	return f
}

func (f byteSet) any(m byteSet) bool { return f&m != 0 }

// plainBytes: a value of n bytes with byte classes f is one no matcher
// looks at (identifiers, numbers, words, dates, e-mail-ish values).
func plainBytes(f byteSet, n int) bool {
	return f == 0 || f == bSpace && n < 8 || f == bDash || f == bColon || f == bAt || f == bDash|bAt
}

// Extra classes of a raw value (valueClasses), for the decisions taken
// before matching: whether decoding layers can change it, whether it can be
// base64, whether it can hold an SSRF target.
const (
	vcDecode uint8 = 1 << iota // % & \ or a non-ASCII byte: decodeLayers may change the value
	vcNotB64                   // a byte outside the base64 alphabets (and '=')
	vcSpace                    // ASCII white space or a non-ASCII byte (TrimSpace may trim)
	vcSSRF                     // one of :/.%\& or a digit (an SSRF target needs one)
	vcURL                      // one of : / \ (a URL or a dangerous scheme needs one)
)

// byteSetTab is scanBytes' classes per byte ('.' is handled apart: only
// ".." counts).
var byteSetTab = func() (t [256]byteSet) {
	for c := 0; c < 256; c++ {
		if c != '.' {
			t[c] = scanBytes(string([]byte{byte(c)}))
		}
	}
	return
}()

var valueClassTab = func() (t [256]uint8) {
	for c := 0; c < 256; c++ {
		b := byte(c)
		var v uint8
		if b == '%' || b == '&' || b == '\\' || b >= 0x80 {
			v |= vcDecode
		}
		if !(b >= 'A' && b <= 'Z' || b >= 'a' && b <= 'z' || b >= '0' && b <= '9' || b == '+' || b == '/' || b == '-' || b == '_' || b == '=') {
			v |= vcNotB64
		}
		if b == ' ' || b == '\t' || b == '\n' || b == '\v' || b == '\f' || b == '\r' || b >= 0x80 {
			v |= vcSpace
		}
		if b == ':' || b == '/' || b == '.' || b == '%' || b == '\\' || b == '&' || b >= '0' && b <= '9' {
			v |= vcSSRF
		}
		if b == ':' || b == '/' || b == '\\' {
			v |= vcURL
		}
		t[c] = v
	}
	return
}()

// valueClasses returns the byte classes of s for the matchers (scanBytes)
// and the extra classes above, in one pass.
func valueClasses(s string) (byteSet, uint8) {
	var f byteSet
	var x uint8
	for i := 0; i < len(s); i++ {
		c := s[i]
		f |= byteSetTab[c]
		x |= valueClassTab[c]
		if c == '.' && i+1 < len(s) && s[i+1] == '.' {
			f |= bDot2
		}
	}
	return f, x
}

// MatchInjection runs every class matcher over one decoded value. kind says
// where the value came from (some structures only mean something in some
// places: a "$ne" member name is NoSQL injection, the same word in prose is
// not). It returns at most one match per class, the strongest.
func MatchInjection(kind PartKind, text string) []InjMatch {
	return matchInjection(kind, text, scanBytes(text))
}

// matchInjection is MatchInjection with the byte classes of text (f =
// scanBytes(text)) already known.
func matchInjection(kind PartKind, text string, f byteSet) []InjMatch {
	return matchInjectionLib(kind, text, f, nil)
}

// matchInjectionLib is matchInjection with libinjection's verdicts
// remembered in lib (nil: none), which the CRS rules of the same value
// share.
func matchInjectionLib(kind PartKind, text string, f byteSet, lib *crs.LibMemo) []InjMatch {
	if m, ok := serializedStream(text); ok {
		return []InjMatch{m}
	}
	if plainBytes(f, len(text)) {
		// one plain token: only a database system object or a
		// deserialization marker can be news ("xp_cmdshell",
		// "OPENROWSET", "com.sun.rowset.JdbcRowSetImpl" as a Fastjson
		// @type, a YAML tag "!!javax.script.ScriptEngineManager")
		if m, ok := deserializationGadget(text); ok {
			return []InjMatch{m}
		}
		if len(text) >= 7 && len(text) <= 40 && (strings.IndexByte(text, '_') >= 0 || strings.IndexByte("oOsSmM", text[0]) >= 0) {
			if m, ok := dbSystemObject(asciiLower(text)); ok {
				return []InjMatch{m}
			}
		}
		return nil
	}
	var out []InjMatch
	add := func(m InjMatch, ok bool) {
		if ok {
			out = append(out, m)
		}
	}
	lower := ""
	low := func() string {
		if lower == "" {
			lower = asciiLower(text)
		}
		return lower
	}
	if kind == PartXML || f.any(bLT) && f.any(bGT|bBracket) {
		add(matchXXE(low()))
	}
	if kind == PartXML {
		return out // the whole XML body: its text nodes are inspected on their own
	}
	if f.any(bQuote | bParen | bEq | bDash | bHash | bSemi | bStar | bSpace | bBacktick) {
		m, ok := matchSQLi(text, low(), f, lib)
		if !ok && hasQuoteLookalike(text) {
			// typographic and full-width quotes that a database's
			// best-fit conversion to its single-byte character set turns
			// into ASCII quotes (U+2019 → ', U+201D → ", U+FF07 → ')
			t := quoteLookalikes.Replace(text)
			// strong evidence only (a libinjection fingerprint, a
			// tautology, a union) or SQL code syntax: typographic
			// quotes are the apostrophes of prose
			if m, ok = matchSQLi(t, asciiLower(t), scanBytes(t), lib); ok && (m.Confidence >= 0.85 || syntaxOf(t)&synSQL != 0) {
				m.Start, m.End = 0, min(len(text), 60)
				m.Reason += " (look-alike quotes)"
			} else {
				ok = false
			}
		}
		add(m, ok)
	}
	if f.any(bLT | bColon | bQuote | bBacktick) {
		add(matchXSS(text, low(), f, lib))
	} else if strings.IndexByte(text, 0xbc) >= 0 && !utf8.ValidString(text) {
		// bytes with the high bit set where markup should be: a reader
		// that keeps 7 bits (US-ASCII) sees 0xBC as "<", 0xBE as ">",
		// 0xA2 as a double quote
		t := sevenBit(text)
		if m, ok := matchXSS(t, asciiLower(t), scanBytes(t), lib); ok {
			m.Reason += " (US-ASCII 7-bit encoding)"
			add(m, true)
		} else if i := strings.IndexByte(text, 0xbc); i+1 < len(text) && (isLetterByte(text[i+1]) || text[i+1] == '/') && strings.IndexByte(text[i:], 0xbe) > 0 {
			// a tag written with them at all is an encoding evasion: no
			// text has a lone 0xBC byte before a tag name and a 0xBE
			add(InjMatch{Class: ClassXSS, Confidence: 0.7, Start: i, End: min(len(text), i+60), Reason: "markup in US-ASCII 7-bit encoding (0xBC, 0xBE)"}, true)
		}
	}
	if f.any(bSemi | bPipe | bAmp | bBacktick | bDollar | bCRLF | bLT | bSpace | bPercent | bQuote | bBackslash) {
		m, ok := matchCmd(kind, text, low(), f)
		if !ok && kind == PartPath && f.any(bSemi|bPipe|bAmp|bBacktick|bDollar|bCRLF) {
			m, ok = pathSegmentCmd(text)
		}
		add(m, ok)
	} else if f.any(bSlash) && strings.ContainsAny(text, "?*[") {
		add(matchCmd(kind, text, low(), f))
	} else {
		// no shell metacharacter: matchCmd is not run, but a
		// deserialization marker need not have one ("!!python/name:os.system")
		add(deserializationGadget(text))
	}
	if f.any(bDot2 | bSlash | bBackslash | bColon | bNUL) {
		m, ok := matchTraversal(low(), f)
		if !ok && kind == PartPath {
			m, ok = pathSystemFile(text, low())
		}
		add(m, ok)
	}
	if kind == PartJSONKey || kind == PartQueryName || kind == PartFormName || f.any(bDollar) || f.any(bQuote) && f.any(bPipe|bAmp|bSemi) || strings.Contains(low(), "this.") || strings.Contains(low(), "db.") || f.any(bSemi) && f.any(bBrace) {
		add(matchNoSQL(kind, text, low(), f))
	}
	if f.any(bBrace|bLT|bBracket|bParen) && f.any(bBrace|bPercent|bHash|bDollar|bAt|bLT|bBracket) {
		add(matchSSTI(text, low(), f))
	}
	if f.any(bParen) && f.any(bEq|bStar|bPipe|bAmp) || f.any(bStar) && f.any(bParen|bPipe) {
		add(matchLDAP(text, low(), f))
	}
	if f.any(bCRLF) {
		add(matchCRLF(kind, text, low()))
	} else if strings.Contains(text, "\u560a") || strings.Contains(text, "\u560d") {
		// U+560A/U+560D: truncated to LF/CR by servers that keep the low byte
		t := crlfLookalikes.Replace(text)
		if m, ok := matchCRLF(kind, t, asciiLower(t)); ok {
			m.Start, m.End = 0, min(len(text), 60)
			m.Reason += " (U+560A/U+560D line breaks)"
			add(m, true)
		}
	}
	return out
}

// sevenBit clears the high bit of every byte.
func sevenBit(s string) string {
	b := []byte(s)
	for i, c := range b {
		b[i] = c & 0x7f
	}
	return string(b)
}

// quoteLookalikes: quotes that best-fit conversion (Windows code pages,
// SQL Server's varchar, MySQL's latin1) maps to ASCII quotes.
var quoteLookalikes = strings.NewReplacer("\u2018", "'", "\u2019", "'", "\u201a", "'", "\u201b", "'", "\u2032", "'", "\u02bc", "'", "\uff07", "'",
	"\u201c", "\"", "\u201d", "\"", "\u201e", "\"", "\u2033", "\"", "\uff02", "\"")

// hasQuoteLookalike: a cheap test for quoteLookalikes (their UTF-8 lead
// bytes first).
func hasQuoteLookalike(s string) bool {
	if strings.IndexByte(s, 0xe2) < 0 && strings.IndexByte(s, 0xca) < 0 && strings.IndexByte(s, 0xef) < 0 {
		return false
	}
	return strings.ContainsAny(s, "\u2018\u2019\u201a\u201b\u2032\u02bc\uff07\u201c\u201d\u201e\u2033\uff02")
}

// asciiLower lower-cases ASCII letters only, so that byte offsets in the
// result are offsets in the input (strings.ToLower may change lengths of
// invalid or non-ASCII input).
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if c := b[j]; c >= 'A' && c <= 'Z' {
					b[j] = c + 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// ---- SQL injection ---------------------------------------------------------

func matchSQLi(text, lower string, f byteSet, lib *crs.LibMemo) (InjMatch, bool) {
	// A weak verdict (a bare "word 'word" or "1-2" shape) needs SQL
	// structure as well, as no verdict does.
	if ok, fp := lib.IsSQLi(text); ok && !weakSQLiVerdict(fp, lower) {
		return InjMatch{Class: ClassSQLi, Confidence: 0.85, Start: 0, End: len(text), Reason: "libinjection fingerprint " + fp}, true
	}
	return sqlStructure(lower)
}

// weakSQLiVerdict: libinjection's fingerprint fp of lower is one of its
// weakest (sqliFingerprintWeak) and no quote is broken out of.
func weakSQLiVerdict(fp, lower string) bool {
	return sqliFingerprintWeak(fp, lower) && !quoteBreak(lower)
}

// sqliFingerprintWeak reports fingerprints that, in prose, come from
// apostrophes and hyphens rather than from SQL (e.g. "O'Brien-Smith").
func sqliFingerprintWeak(fp, lower string) bool {
	switch fp {
	case "sos", "s&sos", "n&1", "1&1", "1o1", "sn", "s", "snn", "1nn", "nn":
		return true
	}
	// Barewords joined by AND / OR / NOT and parentheses, nothing else: a
	// search engine's boolean syntax ("(a OR b) AND c", "foo AND NOT bar");
	// an injection needs a number, a string, an operator, a function, a
	// comment or a keyword besides.
	if strings.Trim(fp, "n&()") == "" {
		return true
	}
	// Barewords and a comment opener that is a pathname wildcard
	// ("logs/2026/*", sqlCommentOpen), no quote: a storage prefix.
	if strings.Trim(fp, "nc") == "" && !strings.ContainsAny(lower, "'\"`") && !sqlCommentOpen(lower) {
		return true
	}
	// A sentence with a single apostrophe and no SQL punctuation.
	return !strings.ContainsAny(lower, "=()#;*") && !strings.Contains(lower, "--") && strings.Count(lower, "'") == 1 && !strings.Contains(lower, " or ") && !strings.Contains(lower, " and ")
}

var sqlFuncs = []string{
	"sleep(", "benchmark(", "pg_sleep(", "waitfor delay", "dbms_pipe.receive_message", "extractvalue(", "updatexml(",
	"load_file(", "into outfile", "into dumpfile", "information_schema", "@@version", "xp_cmdshell", "sys.fn_", "utl_http",
	"char(", "concat(", "group_concat(", "version()", "database()", "user()", "current_user", "sysobjects", "pg_catalog",
	"sqlite_master", "mysql.user", "dbms_", "randomblob(", "generate_series(", "exec master", "exec(", "execute(",
	"cast(", "convert(", "substring(", "ascii(", "ord(", "mid(", "hex(", "unhex(", "nvl(", "iif(", "if(", "ifnull(",
}

// sqlStructure finds SQL syntax that libinjection does not report: stacked
// or unioned SELECTs, time/error functions, tautologies after a quote.
func sqlStructure(lower string) (InjMatch, bool) {
	toks := sqlWords(lower)
	for i := 0; i < len(toks); i++ {
		w := toks[i].w
		next := func(k int) string {
			if i+k < len(toks) {
				return toks[i+k].w
			}
			return ""
		}
		switch w {
		case "union":
			if n := next(1); n == "select" || n == "all" && next(2) == "select" || n == "distinct" && next(2) == "select" {
				return InjMatch{Class: ClassSQLi, Confidence: 0.9, Start: toks[i].at, End: min(len(lower), toks[i].at+60), Reason: "union select"}, true
			}
		case "select":
			// select ... from, with SQL punctuation somewhere (prose "I'll
			// select the items from the list" has none).
			for k := 1; k < 12 && i+k < len(toks); k++ {
				if toks[i+k].w == "from" && (quoteBreak(lower) || strings.Contains(lower, "(") || strings.Contains(lower, "--") || strings.Contains(lower, "/*") || strings.Contains(lower, ";") || strings.Contains(lower, "*") || strings.Contains(lower, "#")) {
					return InjMatch{Class: ClassSQLi, Confidence: 0.8, Start: toks[i].at, End: min(len(lower), toks[i].at+60), Reason: "select … from"}, true
				}
			}
		case "drop", "truncate", "alter":
			if n := next(1); (n == "table" || n == "database") && strings.ContainsAny(lower, ";'") {
				return InjMatch{Class: ClassSQLi, Confidence: 0.85, Start: toks[i].at, End: min(len(lower), toks[i].at+60), Reason: w + " " + n}, true
			}
		case "insert":
			if next(1) == "into" && strings.ContainsAny(lower, ";'") && strings.Contains(lower, "values") {
				return InjMatch{Class: ClassSQLi, Confidence: 0.8, Start: toks[i].at, End: min(len(lower), toks[i].at+60), Reason: "insert into"}, true
			}
		case "order", "group":
			if next(1) == "by" && isNumber(next(2)) && strings.ContainsAny(lower, "'#") && (strings.Contains(lower, "--") || strings.Contains(lower, "#")) {
				return InjMatch{Class: ClassSQLi, Confidence: 0.75, Start: toks[i].at, End: min(len(lower), toks[i].at+40), Reason: w + " by n"}, true
			}
		case "or", "and", "having", "where", "xor":
			// tautology: OR 1=1, OR 'a'='a', AND 3>2 (operands equal or numeric).
			// Not the AND of a range ("between 10 and 20", "prices
			// between 5 and 9"): BETWEEN's own AND, whatever follows.
			if w == "and" && i >= 2 && toks[i-2].w == "between" {
				continue
			}
			if m, ok := tautology(lower, toks[i].at+len(w)); ok && tautologyEnds(lower[m:]) {
				return InjMatch{Class: ClassSQLi, Confidence: 0.85, Start: toks[i].at, End: min(len(lower), m), Reason: w + " tautology"}, true
			}
		}
	}
	if m, ok := dbSystemObject(lower); ok {
		return m, true
	}
	if strings.ContainsAny(lower, "('@;") || strings.Contains(lower, "--") {
		for _, fn := range sqlFuncs {
			if i := strings.Index(lower, fn); i >= 0 && sqlContext(lower, i) {
				return InjMatch{Class: ClassSQLi, Confidence: 0.75, Start: i, End: min(len(lower), i+60), Reason: "SQL function " + strings.TrimRight(fn, "( ")}, true
			}
		}
	}
	return InjMatch{}, false
}

// dbSystemObjects: procedures and catalog objects of database engines
// that mean nothing outside a query — the SQL counterpart of a system
// file name: extended and system stored procedures (SQL Server), PL/SQL
// packages reaching the network or files (Oracle), catalogs and
// system tables (MySQL, PostgreSQL, SQLite, Access). Words that are
// also ordinary words or product names (Northwind, varchar) are not here.
var dbSystemObjects = []string{
	"xp_cmdshell", "xp_dirtree", "xp_fileexist", "xp_regread", "xp_regwrite", "xp_servicecontrol", "xp_availablemedia", "xp_subdirs", "xp_ntsec_enumdomains", "xp_terminate_process", "xp_loginconfig",
	"sp_executesql", "sp_oacreate", "sp_oamethod", "sp_configure", "sp_addlogin", "sp_addsrvrolemember", "sp_password", "sp_makewebtask", "sp_execute_external_script",
	"openrowset", "opendatasource",
	"utl_http", "utl_inaddr", "utl_file", "utl_smtp", "utl_tcp", "dbms_pipe", "dbms_lock", "dbms_java", "dbms_xmlquery", "dbms_scheduler", "ctxsys.drithsx",
	"information_schema", "pg_catalog", "pg_shadow", "pg_sleep", "pg_read_file", "pg_ls_dir", "sqlite_master", "sqlite_schema", "msysaccessobjects", "msysobjects", "sysobjects", "syscolumns", "mysql.user",
}

// dbSystemObject: a value that names a database system procedure or
// catalog object as a token of its own ("xp_cmdshell", "exec
// sp_executesql", "from pg_shadow"), outside natural-language text.
func dbSystemObject(lower string) (InjMatch, bool) {
	if len(lower) < 7 || !strings.Contains(lower, "_") && !strings.Contains(lower, "open") && !strings.Contains(lower, "sysobj") && !strings.Contains(lower, "syscol") && !strings.Contains(lower, "msys") {
		return InjMatch{}, false
	}
	for _, o := range dbSystemObjects {
		i := strings.Index(lower, o)
		if i < 0 {
			continue
		}
		j := i + len(o)
		if i > 0 && isCmdWordChar(lower[i-1]) || j < len(lower) && (isCmdWordChar(lower[j]) && lower[j] != '.') {
			continue // inside a longer name ("my_xp_cmdshell_notes")
		}
		if isProse(lower) {
			return InjMatch{}, false // "how do I disable xp_cmdshell on our server?"
		}
		return InjMatch{Class: ClassSQLi, Confidence: 0.65, Start: i, End: min(len(lower), i+60), Reason: "database system object " + o}, true
	}
	return InjMatch{}, false
}

// quoteBreak: a quote that is not an apostrophe inside a word ("1' or",
// "x' --", "'a'"), unlike "I'll" or "O'Brien".
func quoteBreak(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '\'' && s[i] != '"' && s[i] != '`' {
			continue
		}
		before := i > 0 && isLetter(s[i-1])
		after := i+1 < len(s) && isLetter(s[i+1])
		if !(before && after) {
			return true
		}
	}
	return false
}

// tautologyEnds: what follows a tautology is the end of the value, a
// comment, a closing quote/paren or more SQL — not the rest of a sentence.
func tautologyEnds(rest string) bool {
	r := strings.TrimLeft(rest, " \t)'\"`")
	if r == "" || strings.HasPrefix(r, "--") || strings.HasPrefix(r, "#") || strings.HasPrefix(r, "/*") || strings.HasPrefix(r, ";") || strings.HasPrefix(r, "%00") || r[0] == 0 {
		return true
	}
	for _, kw := range []string{"and ", "or ", "union", "limit", "order ", "group ", "having", "into", "from", "select", "waitfor", "procedure", "--", "&&", "||"} {
		if strings.HasPrefix(r, kw) {
			return true
		}
	}
	return false
}

// sqlContext: a SQL function name counts when the value also carries SQL
// punctuation around it (a quote, a comment, a statement separator, or a
// keyword operator), not in a sentence like "convert(currency) rates".
func sqlContext(lower string, i int) bool {
	before := lower[:i]
	return strings.ContainsAny(before, "'\";") || strings.Contains(lower, "--") || strings.Contains(lower, "/*") ||
		strings.Contains(before, " or ") || strings.Contains(before, " and ") || strings.Contains(before, "select") ||
		strings.HasPrefix(lower[i:], "sleep(") || strings.HasPrefix(lower[i:], "pg_sleep(") || strings.HasPrefix(lower[i:], "benchmark(") ||
		strings.HasPrefix(lower[i:], "waitfor delay") || strings.HasPrefix(lower[i:], "xp_cmdshell") || strings.HasPrefix(lower[i:], "information_schema") ||
		strings.HasPrefix(lower[i:], "@@version") || strings.HasPrefix(lower[i:], "dbms_pipe")
}

type sqlTok struct {
	w  string
	at int
}

// sqlWords splits into lower-case words, treating SQL comments, quotes and
// punctuation as separators ("union/**/select" → union, select).
func sqlWords(s string) []sqlTok {
	var out []sqlTok
	i := 0
	for i < len(s) && len(out) < 256 {
		c := s[i]
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '@' {
			j := i
			for j < len(s) && (s[j] >= 'a' && s[j] <= 'z' || s[j] >= '0' && s[j] <= '9' || s[j] == '_' || s[j] == '@' || s[j] == '.') {
				j++
			}
			out = append(out, sqlTok{s[i:j], i})
			i = j
			continue
		}
		if c == '/' && i+1 < len(s) && s[i+1] == '*' {
			if k := strings.Index(s[i+2:], "*/"); k >= 0 {
				i += k + 4
				continue
			}
		}
		i++
	}
	return out
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// tautology parses "X op Y" after a boolean keyword, where X and Y are
// equal literals or both numbers and op is a comparison. Returns the end.
func tautology(s string, i int) (int, bool) {
	skip := func() {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t' || s[i] == '(' || s[i] == '+') {
			i++
		}
		for i+1 < len(s) && s[i] == '/' && s[i+1] == '*' {
			k := strings.Index(s[i+2:], "*/")
			if k < 0 {
				return
			}
			i += k + 4
			for i < len(s) && (s[i] == ' ' || s[i] == '(') {
				i++
			}
		}
	}
	operand := func() (string, bool) {
		skip()
		if i >= len(s) {
			return "", false
		}
		if q := s[i]; q == '\'' || q == '"' || q == '`' {
			j := strings.IndexByte(s[i+1:], q)
			if j < 0 {
				v := s[i+1:]
				i = len(s)
				return v, true // unterminated: the application closes it
			}
			v := s[i+1 : i+1+j]
			i += j + 2
			return v, true
		}
		j := i
		for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] >= 'a' && s[j] <= 'z' || s[j] == '_' || s[j] == '.') {
			j++
		}
		if j == i {
			return "", false
		}
		v := s[i:j]
		i = j
		return v, true
	}
	start := i
	_ = start
	a, ok := operand()
	if !ok {
		return 0, false
	}
	skip()
	op := ""
	for _, o := range []string{"<=>", "==", "!=", "<>", ">=", "<=", "=", ">", "<", " like ", " is ", "like ", "is "} {
		if strings.HasPrefix(s[i:], o) {
			op = strings.TrimSpace(o)
			i += len(o)
			break
		}
	}
	if op == "" {
		// "OR 1" / "OR true" followed by a comment or the end.
		rest := strings.TrimLeft(s[i:], " )")
		if (a == "1" || a == "true") && (rest == "" || strings.HasPrefix(rest, "--") || strings.HasPrefix(rest, "#") || strings.HasPrefix(rest, "/*") || strings.HasPrefix(rest, ";")) {
			return i, true
		}
		return 0, false
	}
	b, ok := operand()
	if !ok {
		return 0, false
	}
	if a == b || isNumber(a) && isNumber(b) || strings.HasPrefix(b, a) && op == "like" {
		return i, true
	}
	return 0, false
}

// ---- XSS -------------------------------------------------------------------

var xssTags = []string{"<script", "<svg", "<iframe", "<img", "<body", "<object", "<embed", "<video", "<audio", "<details", "<marquee",
	"<math", "<style", "<link", "<meta", "<base", "<form", "<input", "<isindex", "<frameset", "<frame", "<applet", "<xss", "<a ", "<div", "<x ", "<textarea", "<select", "<keygen", "<table", "<td", "<bgsound", "<layer", "<image", "<html", "<animate", "<set"}

func matchXSS(text, lower string, f byteSet, lib *crs.LibMemo) (InjMatch, bool) {
	// URL schemes that execute script.
	for _, sch := range []string{"javascript:", "vbscript:", "data:text/html", "livescript:"} {
		if i := indexScheme(lower, sch); i >= 0 {
			return InjMatch{Class: ClassXSS, Confidence: 0.9, Start: i, End: min(len(text), i+60), Reason: "script URL " + strings.TrimSuffix(sch, ":")}, true
		}
	}
	if f.any(bLT) {
		if i := strings.Index(lower, "<script"); i >= 0 {
			return InjMatch{Class: ClassXSS, Confidence: 0.95, Start: i, End: min(len(text), i+60), Reason: "<script> tag"}, true
		}
		// A tag with an event handler or a script-bearing attribute.
		for i := strings.IndexByte(lower, '<'); i >= 0 && i < len(lower); {
			end := strings.IndexByte(lower[i:], '>')
			tag := lower[i:]
			if end >= 0 {
				tag = lower[i : i+end]
			}
			if len(tag) > 1 && (tag[1] >= 'a' && tag[1] <= 'z' || tag[1] == '/' || tag[1] == '!') {
				if a := eventHandlerMin(tag, 5); a != "" {
					return InjMatch{Class: ClassXSS, Confidence: 0.9, Start: i, End: min(len(text), i+80), Reason: "tag with " + a}, true
				}
				if strings.Contains(tag, "src=") && strings.Contains(tag, "javascript") || strings.Contains(tag, "expression(") || strings.Contains(tag, "srcdoc=") {
					return InjMatch{Class: ClassXSS, Confidence: 0.85, Start: i, End: min(len(text), i+80), Reason: "tag with script attribute"}, true
				}
			}
			n := strings.IndexByte(lower[i+1:], '<')
			if n < 0 {
				break
			}
			i += n + 1
		}
	}
	if lib.IsXSS(text) {
		// libinjection flags harmless markup too ("<b>", "<a href=…>"): keep
		// its verdict when a known dangerous tag or an attribute breakout is present.
		for _, t := range xssTags {
			if i := strings.Index(lower, t); i >= 0 {
				return InjMatch{Class: ClassXSS, Confidence: 0.8, Start: i, End: min(len(text), i+60), Reason: "libinjection XSS, tag " + t[1:]}, true
			}
		}
		if f.any(bQuote|bGT) && eventHandler(lower) != "" {
			return InjMatch{Class: ClassXSS, Confidence: 0.8, Start: 0, End: min(len(text), 80), Reason: "libinjection XSS, attribute breakout"}, true
		}
	}
	// Attribute breakout without a tag: "\" onmouseover=alert(1) x=\"".
	if f.any(bQuote) {
		if a := eventHandler(lower); a != "" {
			q := strings.IndexAny(lower, "'\"")
			if q >= 0 && strings.Index(lower, a) > q {
				return InjMatch{Class: ClassXSS, Confidence: 0.75, Start: q, End: min(len(text), q+80), Reason: "quote breakout with " + a}, true
			}
		}
	}
	// Script sinks without markup, as injected into a JS context.
	if f.any(bQuote|bSemi) && f.any(bParen|bBacktick) {
		for _, s := range []string{"alert(", "alert`", "prompt(", "confirm(", "eval(", "document.cookie", "document.domain", "string.fromcharcode(", "window.location", "document.write("} {
			if i := strings.Index(lower, s); i >= 0 {
				// must follow a JS string/statement breakout
				if j := strings.LastIndexAny(lower[:i], "'\";"); j >= 0 {
					return InjMatch{Class: ClassXSS, Confidence: 0.7, Start: j, End: min(len(text), i+60), Reason: "JS context breakout " + strings.TrimRight(s, "(`")}, true
				}
			}
		}
	}
	return InjMatch{}, false
}

// indexScheme finds a script scheme at the start of the value or after a
// quote/equals/paren, ignoring whitespace and control characters inside the
// scheme name ("java\tscript:").
func indexScheme(lower, sch string) int {
	i := strings.Index(lower, sch[:4])
	for i >= 0 {
		j, k := i, 0
		for j < len(lower) && k < len(sch) {
			c := lower[j]
			if c == sch[k] {
				k++
				j++
				continue
			}
			if c == '\t' || c == '\n' || c == '\r' || c == 0 || c == ' ' && k > 0 {
				j++
				continue
			}
			break
		}
		if k == len(sch) {
			pre := strings.TrimRight(lower[:i], " \t\r\n\x00")
			post := lower[j:min(len(lower), j+60)]
			// code follows ("javascript:alert(1)", "javascript://%0a…"), not
			// prose ("JavaScript: Basics of JavaScript Language").
			code := strings.ContainsAny(post, "(`=/%;\\&[{") || sch == "data:text/html"
			if code && (pre == "" || strings.ContainsAny(pre[len(pre)-1:], "'\"=(`[<>") || strings.HasSuffix(pre, "url")) {
				return i
			}
		}
		n := strings.Index(lower[i+1:], sch[:4])
		if n < 0 {
			return -1
		}
		i += n + 1
	}
	return -1
}

var eventAttrs = []string{"onload", "onerror", "onmouseover", "onclick", "onfocus", "onblur", "onmouseout", "onmouseenter", "onmousedown",
	"onmouseup", "onmousemove", "onkeydown", "onkeyup", "onkeypress", "onchange", "oninput", "onsubmit", "onreset", "onselect", "onabort",
	"onanimationstart", "onanimationend", "ontransitionend", "onbegin", "onend", "onstart", "onfinish", "ontoggle", "onpageshow", "onhashchange",
	"onpopstate", "onresize", "onscroll", "onwheel", "ondrag", "ondrop", "oncopy", "onpaste", "oncut", "onbeforeprint", "onafterprint",
	"onplay", "onplaying", "onpointerover", "onpointerdown", "onpointerenter", "onauxclick", "ondblclick", "oncontextmenu", "onfocusin",
	"onformdata", "onmessage", "onunload", "onbeforeunload", "onloadstart", "onprogress", "onsearch", "oninvalid", "onreadystatechange", "onactivate", "onbeforeactivate"}

// eventHandler returns an on* attribute assignment found in s ("onerror=").
func eventHandler(s string) string { return eventHandlerMin(s, 6) }

// eventHandlerMin: unknown on* names count from minLen characters ("onxxx"
// probes inside a tag: 5; outside a tag: 6).
func eventHandlerMin(s string, minLen int) string {
	for i := strings.Index(s, "on"); i >= 0; {
		if i == 0 || strings.IndexByte(" \t\n\r/\"'`;", s[i-1]) >= 0 {
			j := i + 2
			for j < len(s) && s[j] >= 'a' && s[j] <= 'z' {
				j++
			}
			k := j
			for k < len(s) && (s[k] == ' ' || s[k] == '\t' || s[k] == '\n' || s[k] == '\r' || s[k] == '/') {
				k++
			}
			if j-i > 3 && k < len(s) && s[k] == '=' {
				name := s[i:j]
				for _, a := range eventAttrs {
					if a == name {
						return name
					}
				}
				if j-i >= minLen { // unknown but plausible handler name
					return name
				}
			}
		}
		n := strings.Index(s[i+2:], "on")
		if n < 0 {
			break
		}
		i += n + 2
	}
	return ""
}

// ---- OS command injection -------------------------------------------------

// Commands that are not English words: a metacharacter followed by one of
// these is command injection.
var strongCmds = map[string]bool{
	"whoami": true, "uname": true, "wget": true, "curl": true, "nc": true, "ncat": true, "netcat": true, "bash": true, "sh": true,
	"zsh": true, "ksh": true, "csh": true, "tcsh": true, "dash": true, "python": true, "python2": true, "python3": true, "perl": true, "ruby": true,
	"php": true, "nslookup": true, "ifconfig": true, "ipconfig": true, "netstat": true, "powershell": true, "pwsh": true, "cmd": true,
	"cmd.exe": true, "certutil": true, "bitsadmin": true, "chmod": true, "chown": true, "systeminfo": true, "tasklist": true,
	"useradd": true, "crontab": true, "busybox": true, "mkfifo": true, "telnet": true, "nmap": true, "xterm": true, "wmic": true,
	"rundll32": true, "regsvr32": true, "mshta": true, "cscript": true, "wscript": true, "base64": true, "xxd": true, "hostname": true,
	"sudo": true, "nohup": true, "pwd": true, "ls": true, "id": true, "cat": true, "ping": true, "sleep": true, "echo": true, "dir": true,
	"type": true, "rm": true, "uname -a": true, "env": true, "printenv": true, "net": true, "whoami.exe": true, "timeout": true,
	"awk": true, "sed": true, "find": true, "head": true, "tail": true, "more": true, "less": true, "grep": true, "kill": true, "ps": true,
	"ssh": true, "ftp": true, "tftp": true, "dig": true, "host": true, "eval": true, "exec": true, "expr": true, "sort": true,
	"set": true, "touch": true, "cp": true, "mv": true, "tac": true, "nl": true, "od": true, "tar": true, "java": true, "node": true,
	"lua": true, "gcc": true, "which": true, "reboot": true, "shutdown": true, "halt": true, "killall": true, "ulimit": true, "lsof": true,
	"socat": true, "openssl": true, "scp": true, "rsync": true, "mail": true, "sendmail": true, "system": true, "uptime": true, "w": true,
	"last": true, "who": true, "finger": true, "getent": true, "ldd": true, "strings": true, "file": true,
	"netsh": true, "reg": true, "sysinfo": true, "schtasks": true, "sc": true, "taskkill": true, "icacls": true, "attrib": true,
}

// Commands that are also ordinary words: they need a shell-looking
// argument (an option, an absolute path, a number for sleep/ping, nothing
// at all, or another metacharacter) to count.
var wordCmds = map[string]bool{
	"ls": true, "id": true, "cat": true, "ping": true, "sleep": true, "echo": true, "dir": true, "type": true, "rm": true, "env": true,
	"net": true, "timeout": true, "find": true, "head": true, "tail": true, "more": true, "less": true, "grep": true, "kill": true,
	"ps": true, "host": true, "eval": true, "exec": true, "expr": true, "sort": true, "set": true, "touch": true, "cp": true, "mv": true,
	"tac": true, "nl": true, "od": true, "java": true, "node": true, "which": true, "system": true, "w": true, "last": true, "who": true,
	"file": true, "mail": true, "strings": true, "sh": true, "nc": true, "pwd": true, "finger": true, "dig": true, "awk": true, "sed": true,
	"tar": true, "halt": true, "reboot": true, "shutdown": true, "uptime": true, "ssh": true, "ftp": true, "cmd": true, "php": true,
	"reg": true, "sc": true, "attrib": true,
}

// caseFreeCmds: the programs that Windows' shells find whatever the case
// of their name ("WHOAMI", "Ping"); every other program of strongCmds is a
// Unix one, whose name is case-sensitive.
var caseFreeCmds = map[string]bool{
	"whoami": true, "whoami.exe": true, "hostname": true, "ipconfig": true, "netstat": true, "nslookup": true, "ping": true,
	"powershell": true, "pwsh": true, "cmd": true, "cmd.exe": true, "certutil": true, "bitsadmin": true, "systeminfo": true,
	"tasklist": true, "taskkill": true, "wmic": true, "rundll32": true, "regsvr32": true, "mshta": true, "cscript": true,
	"wscript": true, "dir": true, "type": true, "echo": true, "set": true, "net": true, "netsh": true, "reg": true, "sc": true,
	"schtasks": true, "icacls": true, "attrib": true, "timeout": true, "find": true, "more": true, "sort": true, "curl": true,
	"tar": true, "ftp": true, "tftp": true, "telnet": true, "shutdown": true, "sysinfo": true, "java": true, "node": true,
	"python": true, "python3": true, "perl": true, "php": true, "ruby": true, "ssh": true, "scp": true,
}

// wordsOnly: s is words of text — letters, digits, spaces and sentence
// punctuation — with no path, URL, option, operator or quote of a
// command line.
func wordsOnly(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isWordByte(c) && c != ' ' && c != '.' && c != ',' && c != '!' && c != '?' {
			return false
		}
	}
	return true
}

// hasUpperASCII: s holds an ASCII capital letter.
func hasUpperASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'A' && c <= 'Z' {
			return true
		}
	}
	return false
}

func isCmdWordChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
}

func matchCmd(kind PartKind, text, lower string, f byteSet) (InjMatch, bool) {
	// Unambiguous shell constructs.
	for _, s := range []string{"${ifs}", "$ifs$", "${ifs%", "$(", "/bin/sh", "/bin/bash", "/bin/busybox", "/usr/bin/", "cmd.exe", "cmd /c", "cmd%20/c", "powershell -", "powershell.exe", "%comspec%", "<!--#exec", "<!--#include", "/dev/tcp/", "2>&1", ">&/dev/", "|sh", "| sh", "|bash", "| bash"} {
		if i := strings.Index(lower, s); i >= 0 {
			if s == "$(" {
				// $(cmd …): the command must follow.
				if c, _ := cmdAt(lower, i+2); c == "" {
					continue
				}
			}
			return InjMatch{Class: ClassCmd, Confidence: 0.9, Start: i, End: min(len(text), i+60), Reason: "shell construct " + s}, true
		}
	}
	if m, ok := deserializationGadget(text); ok {
		return m, true
	}
	if f.any(bBacktick) {
		if i := strings.IndexByte(lower, '`'); i >= 0 {
			if j := strings.IndexByte(lower[i+1:], '`'); j > 0 {
				if c, _ := cmdAt(lower, i+1); c != "" {
					return InjMatch{Class: ClassCmd, Confidence: 0.85, Start: i, End: min(len(text), i+j+2), Reason: "backtick substitution " + c}, true
				}
			}
		}
	}
	// Metacharacter, then a command in command position. Not in user
	// agents: "(Windows Phone 8.1; ARM; Touch; …)" is a token list.
	for i := 0; i < len(lower) && kind != PartUserAgent; i++ {
		c := lower[i]
		if c != ';' && c != '|' && c != '&' && c != '\n' && c != '\r' && c != '\x00' {
			continue
		}
		j := i + 1
		for j < len(lower) && (lower[j] == '|' || lower[j] == '&' || lower[j] == ';') {
			j++
		}
		cmd, end := cmdAt(lower, j)
		if cmd == "" {
			continue
		}
		if end < len(lower) && strings.IndexByte(",=:@", lower[end]) >= 0 {
			// the shell word goes on past the name: ";base64,iVBOR…" in a
			// data URI is the word "base64,iVBOR…", ";id=5" an assignment
			continue
		}
		// "Tom & Jerry", "R&D; cat food": a word command needs shell-looking arguments.
		if wordCmds[cmd] && !shellArgs(cmd, lower[end:]) {
			continue
		}
		if !caseFreeCmds[cmd] && hasUpperASCII(text[j:end]) && wordsOnly(text[end:]) {
			// "…; Base64 encoded": Unix program names are case-sensitive —
			// a shell runs no "Base64" — and words follow, no command line
			continue
		}
		if c == '&' && (j-i == 1) && !strings.HasPrefix(lower[i+1:], " ") && !wordBoundaryEnd(lower, end) {
			continue
		}
		return InjMatch{Class: ClassCmd, Confidence: 0.85, Start: i, End: min(len(text), i+60), Reason: "metacharacter " + strings.TrimSpace(lower[i:j]) + " + command " + cmd}, true
	}
	// Code-execution functions given a command or code: system('id'),
	// exec("sleep 5"), passthru(…), phpinfo(), <?php … ?>.
	if f.any(bParen) || f.any(bLT) {
		if i := strings.Index(lower, "<?php"); i >= 0 {
			return InjMatch{Class: ClassCmd, Confidence: 0.85, Start: i, End: min(len(text), i+60), Reason: "PHP code"}, true
		}
		if i := strings.Index(lower, "phpinfo()"); i >= 0 {
			return InjMatch{Class: ClassCmd, Confidence: 0.8, Start: i, End: min(len(text), i+40), Reason: "phpinfo()"}, true
		}
		for _, fn := range execFuncs {
			for off := 0; ; {
				i := strings.Index(lower[off:], fn)
				if i < 0 {
					break
				}
				i += off
				off = i + len(fn)
				if i > 0 && (isCmdWordChar(lower[i-1]) && lower[i-1] != '.') {
					continue // "filesystem(", "myexec("
				}
				arg := strings.TrimLeft(lower[off:], " \t")
				if len(arg) > 0 && (arg[0] == '\'' || arg[0] == '"' || arg[0] == '`' || arg[0] == '$') {
					if c, _ := cmdAt(arg, 1); c != "" || arg[0] == '$' {
						return InjMatch{Class: ClassCmd, Confidence: 0.85, Start: i, End: min(len(text), i+60), Reason: "code execution " + strings.TrimSuffix(fn, "(")}, true
					}
				}
			}
		}
	}
	// A program named through pathname expansion: "/bin/c?t /etc/passwd".
	if f.any(bSlash) && strings.ContainsAny(lower, "?*[") && kind != PartUserAgent {
		if i, j, prog, ok := globCommand(lower); ok {
			return InjMatch{Class: ClassCmd, Confidence: 0.8, Start: i, End: min(len(text), j), Reason: "program named by a wildcard path (" + prog + ")"}, true
		}
	}
	// Windows environment expansions used to reach system files.
	for _, v := range []string{"%systemroot%", "%windir%", "%comspec%", "%programfiles%", "%userprofile%"} {
		if i := strings.Index(lower, v); i >= 0 {
			return InjMatch{Class: ClassCmd, Confidence: 0.8, Start: i, End: min(len(text), i+60), Reason: "Windows environment expansion " + v}, true
		}
	}
	// A whole value that is a command line: "cat /etc/passwd", "ls -l /",
	// "curl https://…", "ipconfig", "net user x y /add".
	if cmd, end := cmdAt(lower, 0); cmd != "" && kind != PartUserAgent {
		rest := lower[end:]
		strong := !wordCmds[cmd]
		switch {
		case strings.TrimSpace(rest) == "" && aloneCmds[cmd]:
			return InjMatch{Class: ClassCmd, Confidence: 0.6, Start: 0, End: min(len(text), 60), Reason: "bare command " + cmd}, true
		case shellArgs(cmd, rest) && (hasSensitivePath(rest) || strings.Contains(rest, " -") && strong || strings.Contains(rest, " /") && cmd == "ls" || absPathArg(rest)):
			return InjMatch{Class: ClassCmd, Confidence: 0.7, Start: 0, End: min(len(text), 60), Reason: "command line " + cmd}, true
		case (cmd == "curl" || cmd == "wget") && (strings.HasPrefix(strings.TrimSpace(rest), "http") || strings.HasPrefix(strings.TrimSpace(rest), "-")):
			return InjMatch{Class: ClassCmd, Confidence: 0.65, Start: 0, End: min(len(text), 60), Reason: "downloader command " + cmd}, true
		case cmd == "which" && strongCmds[strings.TrimSpace(rest)]:
			return InjMatch{Class: ClassCmd, Confidence: 0.6, Start: 0, End: min(len(text), 60), Reason: "which " + strings.TrimSpace(rest)}, true
		}
	}
	return InjMatch{}, false
}

// pathSegmentCmd judges each segment of a URL path that holds a shell
// metacharacter on its own: a segment ends the shell word there
// ("/items/;id/reviews" runs id, which the whole path, "id/reviews", reads
// as a word going on). Segments without a metacharacter are not judged (a
// page called /man/netstat is documentation).
func pathSegmentCmd(text string) (InjMatch, bool) {
	judged := 0
	for off := 0; off < len(text) && judged < maxCmdSegments; {
		end := strings.IndexByte(text[off:], '/')
		if end < 0 {
			end = len(text)
		} else {
			end += off
		}
		if seg := text[off:end]; strings.ContainsAny(seg, ";|&`$\n") {
			judged++
			if m, ok := matchCmd(PartPath, seg, asciiLower(seg), scanBytes(seg)); ok {
				m.Start, m.End = m.Start+off, m.End+off
				m.Reason += " (a path segment)"
				return m, true
			}
		}
		off = end + 1
	}
	return InjMatch{}, false
}

// maxCmdSegments bounds the path segments pathSegmentCmd judges.
const maxCmdSegments = 16

// absPathArg: the first argument is an absolute path of two segments or
// more ("cat /var/log/app.log", "find /usr/lib"), not "/" between words
// ("more / less").
func absPathArg(rest string) bool {
	r := strings.TrimLeft(rest, " \t")
	if len(r) < 4 || r[0] != '/' {
		return false
	}
	end := strings.IndexAny(r, " \t\n")
	if end < 0 {
		end = len(r)
	}
	tok := r[:end]
	k := strings.IndexByte(tok[1:], '/')
	return k > 0 && k+2 < len(tok)
}

var execFuncs = []string{"system(", "exec(", "shell_exec(", "passthru(", "popen(", "proc_open(", "pcntl_exec(", "eval(", "assert(", "execute(", "spawn(", "execsync(", "getruntime().exec(", "os.system(", "subprocess.call(", "subprocess.popen(", "subprocess.run(", "child_process"}

// commands that are an attack probe even with no argument (not words or
// language names that could be an ordinary field value).
var aloneCmds = map[string]bool{"whoami": true, "uname": true, "ipconfig": true, "ifconfig": true, "netstat": true, "systeminfo": true, "tasklist": true, "whoami.exe": true, "sysinfo": true}

func wordBoundaryEnd(s string, i int) bool { return i >= len(s) || !isCmdWordChar(s[i]) }

// cmdAt reads a command name at position i (after blanks, quotes, an
// absolute directory such as /usr/bin/) and returns it if it is known.
func cmdAt(s string, i int) (string, int) {
	for i < len(s) && (s[i] == ' ' || s[i] == '+' || s[i] == '\t' || s[i] == '\'' || s[i] == '"' || s[i] == '(' || s[i] == '{' || s[i] == '\\') {
		i++
	}
	start := i
	for i < len(s) && (isCmdWordChar(s[i]) || s[i] == '/') {
		i++
	}
	w := s[start:i]
	if k := strings.LastIndexByte(w, '/'); k >= 0 {
		if !strings.HasPrefix(w, "/") {
			return "", i
		}
		w = w[k+1:]
	}
	// quote- and backslash-splitting evasion: w'h'o'am'i, c""at, wh\oami,
	// c'a't — the shell drops the quotes and backslashes inside a word
	if i < len(s) && splitChar(s[i]) && len(w) > 0 {
		var b strings.Builder
		b.WriteString(w)
		j, splits, empty := i, 0, false
		for j < len(s) && (isCmdWordChar(s[j]) || splitChar(s[j])) {
			if !splitChar(s[j]) {
				b.WriteByte(s[j])
				j++
				continue
			}
			k := j
			for k < len(s) && splitChar(s[k]) {
				k++
			}
			if k < len(s) && isCmdWordChar(s[k]) {
				splits++ // the word goes on after the quotes
				empty = empty || k-j >= 2
			}
			j = k
		}
		// a command that is also a word needs more than one split or an
		// empty pair: "it's", "l's" are an apostrophe, "c'a't", "i''d" are not
		if c := b.String(); splits > 0 && strongCmds[c] && (!wordCmds[c] || splits >= 2 || empty) {
			return c, j
		}
	}
	if strongCmds[w] {
		return w, i
	}
	return "", i
}

// splitChar: a byte the shell removes from inside a word (quote removal,
// a backslash escaping an ordinary letter).
func splitChar(c byte) bool { return c == '\'' || c == '"' || c == '\\' }

// binDirs are the system binary directories, binPrograms the programs of
// strongCmds (one name per slot, in a fixed order: the first match names
// the finding).
var (
	binDirs     = []string{"/bin/", "/sbin/", "/usr/bin/", "/usr/sbin/", "/usr/local/bin/"}
	binPrograms = func() []string {
		var out []string
		for c := range strongCmds {
			if !strings.ContainsAny(c, " .") {
				out = append(out, c)
			}
		}
		sort.Strings(out)
		return out
	}()
)

// maxGlobWords bounds the wildcard words globCommand matches per value
// (each costs up to a few hundred pattern matches).
const maxGlobWords = 4

// globCommand finds a word that names a program through shell pathname
// expansion: an absolute path with wildcards ("/bin/c?t", "/???/??t",
// "/usr/bin/w[h]oami") that matches a known program in a system binary
// directory — a way to run a command without writing its name. The base
// name must keep a literal character ("/*/*" is no name), and URL paths
// with a query ("/api/items?id=3") match no program.
func globCommand(lower string) (start, end int, prog string, ok bool) {
	tried := 0
	for i := 0; i < len(lower) && tried < maxGlobWords; i++ {
		if lower[i] != '/' || i > 0 && !globWordStart(lower[i-1]) {
			continue
		}
		j := i
		for j < len(lower) && strings.IndexByte(" \t;|&`\n)'\"<>", lower[j]) < 0 {
			j++
		}
		tok := lower[i:j]
		k := strings.LastIndexByte(tok, '/')
		dirPat, base := tok[:k+1], tok[k+1:]
		if strings.ContainsAny(tok, "?*[") && strings.Trim(base, "?*[]") != "" && strings.Count(tok, "/") <= 4 {
			tried++
			fixed := !strings.ContainsAny(base, "*[") // one byte per pattern byte
			for _, d := range binDirs {
				if m, err := path.Match(dirPat, d); err != nil || !m {
					continue
				}
				for _, c := range binPrograms {
					if fixed && len(c) != len(base) {
						continue
					}
					if m, err := path.Match(base, c); err == nil && m {
						return i, j, d + c, true
					}
				}
			}
		}
		i = j
	}
	return 0, 0, "", false
}

// globWordStart: a byte after which a shell word can start.
func globWordStart(c byte) bool {
	return c == ' ' || c == '\t' || c == ';' || c == '|' || c == '&' || c == '`' || c == '\n' || c == '(' || c == '$' || c == '\'' || c == '"' || c == '='
}

// shellArgs: does what follows a command look like shell arguments?
func shellArgs(cmd, rest string) bool {
	r := strings.TrimLeft(rest, " +\t")
	if r == "" || r[0] == ';' || r[0] == '|' || r[0] == '&' || r[0] == '`' || r[0] == '\n' || r[0] == ')' || r[0] == '\'' || r[0] == '"' || r[0] == '#' || r[0] == '>' || r[0] == '<' || r[0] == '$' {
		return len(r) > 0 || cmd == "id" || cmd == "ls" || cmd == "pwd" || cmd == "env" || cmd == "w" || cmd == "who" || cmd == "uptime" || cmd == "set" || cmd == "dir" || cmd == "ps" || cmd == "last" || len(rest) == 0
	}
	if len(rest) > 0 && rest[0] != ' ' && rest[0] != '\t' && rest[0] != '+' && rest[0] != '$' {
		return false // "cats", "id42"
	}
	switch r[0] {
	case '-', '/', '~', '\\', '.':
		return true
	}
	if (cmd == "sleep" || cmd == "ping" || cmd == "timeout") && r[0] >= '0' && r[0] <= '9' {
		return true
	}
	if cmd == "ping" && (strings.HasPrefix(r, "-") || strings.Count(r, ".") >= 3) {
		return true
	}
	if cmd == "type" || cmd == "dir" {
		return len(r) > 2 && r[1] == ':' // type c:\windows\win.ini
	}
	if cmd == "echo" {
		return strings.ContainsAny(r, ">|;$`")
	}
	if cmd == "net" {
		for _, sub := range []string{"user", "localgroup", "view", "share", "use ", "start", "stop", "group", "accounts", "session"} {
			if strings.HasPrefix(r, sub) {
				return true
			}
		}
	}
	if cmd == "reg" {
		return strings.HasPrefix(r, "add ") || strings.HasPrefix(r, "query ") || strings.HasPrefix(r, "delete ") || strings.HasPrefix(r, "save ")
	}
	if cmd == "type" || cmd == "dir" {
		return len(r) > 2 && r[1] == ':' || strings.HasPrefix(r, "%")
	}
	return false
}

var sensitivePaths = []string{"/etc/", "/bin/", "/sbin/", "/usr/", "/var/", "/tmp/", "/dev/", "/proc/", "/root", "/home/", "/opt/", "/boot", "c:\\", "c:/", "/windows", "\\windows", "win.ini", "system32"}

func hasSensitivePath(s string) bool {
	for _, p := range sensitivePaths {
		if strings.Contains(s, p) {
			return true
		}
	}
	return false
}

// ---- path traversal --------------------------------------------------------

var lookalikes = strings.NewReplacer("\u2215", "/", "\u2216", "/", "\u2044", "/", "\uff0f", "/", "\uff3c", "/", "\u29f8", "/", "\u29f9", "/", "\uff0e", ".", "\u2024", ".")

var sensitiveFiles = []string{"etc/passwd", "etc/shadow", "etc/hosts", "etc/group", "etc/issue", "etc/motd", "etc/sudoers", "etc/crontab",
	"proc/self/", "proc/version", "proc/cpuinfo", "proc/1/", "windows/win.ini", "windows\\win.ini", "win.ini", "boot.ini", "windows/system32", "windows\\system32",
	"system32/", "web-inf/web.xml", "web-inf\\web.xml", "meta-inf/", ".ssh/id_rsa", ".ssh/authorized_keys", ".bash_history", ".htpasswd", "wp-config.php",
	"var/log/", "inetpub/", "/.env", "/.git/", "etc/nginx", "etc/apache2", "etc/httpd", "php.ini", "my.cnf", "/.aws/credentials", "id_rsa"}

var fileWrappers = []string{"php://filter", "php://input", "php://fd", "php://memory", "expect://", "zip://", "phar://", "data://text", "compress.zlib://", "glob://", "file:///", "file://localhost/", "file:/etc", "jar:file:"}

func matchTraversal(lower string, f byteSet) (InjMatch, bool) {
	s := lower
	if f.any(bBackslash) {
		s = strings.ReplaceAll(s, "\\", "/")
	}
	if strings.ContainsAny(s, "\u2215\u2216\u2044\uff0f\uff3c\u29f8\u29f9\uff0e\u2024") {
		// look-alike slashes and dots that servers "best-fit" to ASCII
		s = lookalikes.Replace(s)
	}
	for _, w := range fileWrappers {
		if i := strings.Index(s, w); i >= 0 {
			return InjMatch{Class: ClassPathTraversal, Confidence: 0.9, Start: i, End: min(len(s), i+60), Reason: "file wrapper " + strings.TrimRight(w, ":/")}, true
		}
	}
	if strings.Contains(s, "0x") {
		// dotdotpwn-style literal hex separators ("..0x2f..0x2fetc0x2fpasswd")
		s = hexSeps.Replace(s)
		if strings.Contains(s, "..") {
			f |= bDot2
		}
	}
	steps, first := 0, -1
	if f.any(bDot2) {
		// "../", "..;/", "....//", "..%00/" (decoded), trailing "..".
		sep := -1 // the next path-parameter end found (positions only grow: one scan in all)
		for i := strings.Index(s, ".."); i >= 0 && i < len(s); {
			j := i
			for j < len(s) && s[j] == '.' {
				j++
			}
			k := j
			for k < len(s) && (s[k] == ';' || s[k] == 0) {
				k++
			}
			if k > j && s[j] == ';' {
				// a path parameter after the dots ("..;jsessionid=x/",
				// "..;/"): servlet containers drop it and keep "..";
				// it runs to the next separator
				if sep < k {
					sep = len(s)
					if n := strings.IndexAny(s[k:], "/ ?"); n >= 0 {
						sep = k + n
					}
				}
				k = sep
			}
			leftOK := i == 0 || s[i-1] == '/' || s[i-1] == '=' || s[i-1] == ' ' || s[i-1] == '\'' || s[i-1] == '"' || s[i-1] == ':' || s[i-1] == 0
			if leftOK && (k >= len(s) || s[k] == '/') {
				steps++
				if first < 0 {
					first = i
				}
			}
			n := strings.Index(s[j:], "..")
			if n < 0 {
				break
			}
			i = j + n
		}
	}
	target := ""
	for _, p := range sensitiveFiles {
		if strings.Contains(s, p) {
			target = p
			break
		}
	}
	if steps == 0 && !strings.ContainsAny(s, " \t\n") {
		// Fuzzer probes: a system file at the end of a value, after a
		// run of junk separators ("??/??/boot.ini", ".?%5c.?%5cboot.ini").
		for _, t := range []string{"boot.ini", "win.ini", "etc/passwd", "etc/issue", "etc/shadow", "etc/hosts", "etcpasswd", "etcissue", "system32"} {
			if i := strings.LastIndex(s, t); i >= 4 && i+len(t) >= len(s)-8 {
				junk := 0
				for k := 0; k < i; k++ {
					if strings.IndexByte(".?%/\\:;*", s[k]) >= 0 || s[k] >= 0x80 {
						junk++
					}
				}
				if junk >= 4 && junk*2 >= i {
					return InjMatch{Class: ClassPathTraversal, Confidence: 0.7, Start: 0, End: min(len(s), 80), Reason: "obfuscated traversal probe for " + t}, true
				}
			}
		}
	}
	if steps == 0 && f.any(bDot2) {
		// Obfuscated separators: the same short junk unit between dot pairs
		// ("..%c0%qf..%c0%qf", "..2f..2f"), or dots followed by a system
		// file once separators are dropped ("....etcpasswd").
		if i, unit := repeatedTraversalUnit(s); i >= 0 {
			return InjMatch{Class: ClassPathTraversal, Confidence: 0.8, Start: i, End: min(len(s), i+80), Reason: "traversal with obfuscated separator " + strconvQuote(unit)}, true
		}
		i := strings.Index(s, "..")
		sq := squashAlnum(s[i:])
		for _, t := range squashedTargets {
			if strings.Contains(sq, t) {
				return InjMatch{Class: ClassPathTraversal, Confidence: 0.75, Start: i, End: min(len(s), i+80), Reason: "dots before system file " + t}, true
			}
		}
	}
	switch {
	case steps >= 2:
		conf := 0.85
		if target != "" {
			conf = 0.95
		}
		return InjMatch{Class: ClassPathTraversal, Confidence: conf, Start: first, End: min(len(s), first+80), Reason: "traversal sequence"}, true
	case steps == 1 && (target != "" || f.any(bNUL)):
		return InjMatch{Class: ClassPathTraversal, Confidence: 0.85, Start: first, End: min(len(s), first+80), Reason: "traversal to " + target}, true
	case steps == 1 && !strings.ContainsAny(s, " \t\n"):
		return InjMatch{Class: ClassPathTraversal, Confidence: 0.55, Start: first, End: min(len(s), first+80), Reason: "parent-directory reference"}, true
	case target == "" && systemPath(s):
		return InjMatch{Class: ClassPathTraversal, Confidence: 0.6, Start: 0, End: min(len(s), 80), Reason: "absolute system path"}, true
	case target != "":
		// An absolute sensitive file given as a value: "/etc/passwd",
		// "c:/windows/win.ini" (not a word inside prose).
		i := strings.Index(s, target)
		pre := strings.TrimRight(s[:i], "/")
		if pre == "" || strings.HasSuffix(pre, "c:") || strings.HasSuffix(pre, "=") || strings.HasSuffix(pre, "file:") || f.any(bNUL) || strings.HasSuffix(pre, "%00") {
			if target == "win.ini" || target == "id_rsa" || target == "php.ini" || target == "my.cnf" || target == "wp-config.php" || target == ".htpasswd" {
				if pre != "" || i > 0 && s[i-1] != '/' {
					return InjMatch{}, false
				}
			}
			return InjMatch{Class: ClassPathTraversal, Confidence: 0.75, Start: i, End: min(len(s), i+60), Reason: "sensitive file " + target}, true
		}
	}
	return InjMatch{}, false
}

var hexSeps = strings.NewReplacer("0x2f", "/", "0x5c", "/", "0x2e", ".")

var squashedTargets = []string{"etcpasswd", "etcshadow", "etcissue", "etchosts", "etcgroup", "bootini", "winini", "windowssystem32", "webinfwebxml", "procselfenviron", "procselfcmdline", "procversion"}

func squashAlnum(s string) string {
	b := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		if c := s[i]; c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			b = append(b, c)
		}
	}
	return string(b)
}

func strconvQuote(s string) string {
	if len(s) > 16 {
		s = s[:16]
	}
	return "\"" + strings.ToValidUTF8(s, "?") + "\""
}

// repeatedTraversalUnit finds "..U..U" where U is the same 1–12 byte unit
// that is not a plain word (an encoded or junk separator).
func repeatedTraversalUnit(s string) (int, string) {
	i := strings.Index(s, "..")
	for i >= 0 && i+2 < len(s) {
		j := i + 2
		for j < len(s) && s[j] == '.' {
			j++
		}
		k := strings.Index(s[j:], "..")
		if k <= 0 || k > 12 {
			n := strings.Index(s[j:], "..")
			if n < 0 {
				return -1, ""
			}
			i = j + n
			continue
		}
		unit := s[j : j+k]
		word := true
		for x := 0; x < len(unit); x++ {
			if c := unit[x]; !(c >= 'a' && c <= 'z') {
				word = false
			}
		}
		if !word && strings.Count(s, ".."+unit) >= 2 {
			return i, unit
		}
		i = j + k
	}
	return -1, ""
}

var systemRoots = []string{"etc/", "proc/", "boot/", "root/", "windows/", "winnt/", "inetpub/", "var/log/", "var/adm/", "var/mail/", "var/spool/", "var/www/logs/", "usr/local/apache", "usr/local/etc/", "usr/local/php", "private/etc/", "system32/", "program files/", "xampp/", "wamp/", "apache/logs", "apache2/logs", "apache2/conf", "apache/conf", "opt/lampp/", "log/error", "log/access"}

// systemPath: the whole value is an absolute path under a system
// directory ("/etc/vfstab", "c:/winnt/php.ini", "/var/log/auth.log").
func systemPath(s string) bool {
	v := strings.TrimSpace(strings.TrimPrefix(s, "file:"))
	if len(v) > 2 && v[1] == ':' && v[0] >= 'a' && v[0] <= 'z' {
		v = v[2:]
	}
	if !strings.HasPrefix(v, "/") || strings.ContainsAny(v, " <>'\"") && !strings.Contains(v, "program files") {
		return false
	}
	v = strings.TrimLeft(v, "/")
	for _, r := range systemRoots {
		if strings.HasPrefix(v, r) && len(v) > len(r) {
			return true
		}
	}
	return false
}

// pathSystemFile is embeddedSystemPath as a match of the path.
func pathSystemFile(text, lower string) (InjMatch, bool) {
	i, ok := embeddedSystemPath(lower)
	if !ok {
		return InjMatch{}, false
	}
	return InjMatch{Class: ClassPathTraversal, Confidence: 0.7, Start: i, End: min(len(text), i+60), Reason: "absolute system path as a path parameter", FileProbe: true}, true
}

// embeddedSystemPath finds, in a URL path, an absolute path under a system
// directory given as a path parameter: after an empty segment
// ("/files//etc/passwd") or as a drive-letter segment
// ("/download/c:/windows/win.ini", "/x/c:\\boot.ini"). A path join that
// lets an absolute second argument win (Python's os.path.join, Node's
// path.resolve, Java's Path.resolve) turns it into that file. It returns
// where the absolute path starts.
func embeddedSystemPath(lower string) (int, bool) {
	if strings.IndexByte(lower, '\\') >= 0 {
		lower = strings.ReplaceAll(lower, "\\", "/")
	}
	tried := 0
	for i := 1; i+1 < len(lower) && tried < maxPathCandidates; i++ {
		switch {
		case lower[i] == '/' && lower[i-1] == '/' && (i < 2 || lower[i-2] != '/'): // a run of slashes once
		case lower[i-1] == '/' && i+2 < len(lower) && lower[i] >= 'a' && lower[i] <= 'z' && lower[i+1] == ':' && lower[i+2] == '/':
		default:
			continue
		}
		tried++
		if systemPath(lower[i:]) {
			return i, true
		}
	}
	return 0, false
}

// maxPathCandidates bounds the places embeddedSystemPath tries per path
// (each costs a scan of the rest of it).
const maxPathCandidates = 8

// ---- NoSQL injection -------------------------------------------------------

var mongoOps = map[string]bool{"$ne": true, "$eq": true, "$gt": true, "$gte": true, "$lt": true, "$lte": true, "$in": true, "$nin": true,
	"$regex": true, "$where": true, "$exists": true, "$or": true, "$and": true, "$not": true, "$nor": true, "$expr": true, "$elemmatch": true,
	"$type": true, "$function": true, "$accumulator": true, "$lookup": true, "$text": true, "$jsonschema": true, "$mod": true, "$all": true,
	"$size": true, "$comment": true, "$options": true, "$search": true}

func matchNoSQL(kind PartKind, text, lower string, f byteSet) (InjMatch, bool) {
	if kind == PartJSONKey || kind == PartQueryName || kind == PartFormName {
		// A member name that is an operator ({"password": {"$ne": null}}) or
		// a bracketed operator in a query name (user[$ne]=x).
		k := lower
		if i := strings.Index(k, "[$"); i >= 0 {
			k = k[i+1:]
			k = strings.TrimSuffix(k, "]")
			if j := strings.IndexByte(k, ']'); j >= 0 {
				k = k[:j]
			}
		}
		if mongoOps[k] {
			return InjMatch{Class: ClassNoSQL, Confidence: 0.9, Start: 0, End: len(text), Reason: "query operator " + k + " in a member name"}, true
		}
	}
	// Operators inside a string value: "{ $ne: 1 }", "', $where: '1 == 1'", "[$ne]=1".
	for i := strings.IndexByte(lower, '$'); i >= 0; {
		j := i + 1
		for j < len(lower) && lower[j] >= 'a' && lower[j] <= 'z' {
			j++
		}
		op := lower[i:j]
		if mongoOps[op] {
			pre := strings.TrimRight(lower[:i], " \t\"'")
			post := strings.TrimLeft(lower[j:], " \t\"'")
			if (pre == "" || strings.HasSuffix(pre, "{") || strings.HasSuffix(pre, ",") || strings.HasSuffix(pre, "[") || kind == PartPath && strings.HasSuffix(pre, "/")) && (strings.HasPrefix(post, ":") || strings.HasPrefix(post, "]")) {
				return InjMatch{Class: ClassNoSQL, Confidence: 0.85, Start: i, End: min(len(text), i+60), Reason: "query operator " + op}, true
			}
		}
		n := strings.IndexByte(lower[i+1:], '$')
		if n < 0 {
			break
		}
		i += n + 1
	}
	// Server-side JavaScript ($where) injection after a string breakout.
	if f.any(bQuote | bSemi | bPipe | bAmp) {
		for _, s := range []string{"this.", "return true", "return 1", "return(true)", "db.", "sleep(", "mapreduce(", "function()", "tojson(", "objectid("} {
			i := strings.Index(lower, s)
			if i < 0 {
				continue
			}
			pre := lower[:i]
			if s == "db." && !(strings.Contains(lower[i:], ".find") || strings.Contains(lower[i:], ".insert") || strings.Contains(lower[i:], ".drop") || strings.Contains(lower[i:], "getcollection") || strings.Contains(lower[i:], ".update") || strings.Contains(lower[i:], ".remove")) {
				continue
			}
			dbStart := s == "db." && (i == 0 || strings.IndexByte("/=;'\" ", lower[i-1]) >= 0)
			if strings.ContainsAny(pre, "'\";") && (strings.Contains(pre, "&&") || strings.Contains(pre, "||") || strings.Contains(pre, ";") || s == "db.") || dbStart {
				return InjMatch{Class: ClassNoSQL, Confidence: 0.8, Start: max(0, strings.LastIndexAny(pre, "'\";")), End: min(len(text), i+60), Reason: "server-side JavaScript " + strings.TrimRight(s, ".(")}, true
			}
		}
		// Server-side JavaScript statements after a breakout: a loop or a
		// delay ("; var d = new Date(); do { … } while (…)").
		if i := strings.IndexByte(lower, ';'); i >= 0 {
			rest := lower[i+1:]
			js := strings.Contains(rest, "var ") || strings.Contains(rest, "let ") || strings.Contains(rest, "const ")
			loop := strings.Contains(rest, "while(") || strings.Contains(rest, "while (") || strings.Contains(rest, "for(") || strings.Contains(rest, "for (")
			if js && loop && strings.ContainsAny(rest, "{}") {
				return InjMatch{Class: ClassNoSQL, Confidence: 0.75, Start: i, End: min(len(text), i+60), Reason: "server-side JavaScript loop"}, true
			}
		}
		// '|| 1==1', "' || 'a'=='a"
		if i := strings.Index(lower, "||"); i >= 0 {
			if m, ok := jsTautology(lower[i+2:]); ok {
				return InjMatch{Class: ClassNoSQL, Confidence: 0.75, Start: i, End: min(len(text), i+2+m), Reason: "JavaScript tautology"}, true
			}
		}
	}
	return InjMatch{}, false
}

func jsTautology(s string) (int, bool) {
	t := strings.TrimLeft(s, " '\"(")
	off := len(s) - len(t)
	i := 0
	for i < len(t) && (t[i] >= '0' && t[i] <= '9' || t[i] >= 'a' && t[i] <= 'z') {
		i++
	}
	a := t[:i]
	r := strings.TrimLeft(t[i:], " '\"")
	if !strings.HasPrefix(r, "==") || a == "" {
		return 0, false
	}
	r = strings.TrimLeft(strings.TrimLeft(r, "="), " '\"")
	if strings.HasPrefix(r, a) {
		return off + i + 4, true
	}
	return 0, false
}

// ---- server-side template injection ---------------------------------------

var sstiMarkers = []string{"__class__", "__mro__", "__subclasses__", "__globals__", "__builtins__", "__import__", "__init__", "__base__",
	".class.", ".getclass(", "getruntime", "java.lang", "runtime.exec", "processbuilder", "freemarker.template", "?new(", "popen(", "os.system",
	"subprocess", "config.items", "config.", "self.", "request.", "lipsum", "cycler", "joiner", "namespace", "app.request", "settings.",
	"_self.env", "registerundefinedfiltercallback", "getfilter(", "dump(", "system(", "exec(", "eval(", "passthru(", "shell_exec(",
	"jndi:", "t(java", "new java", "${env", "env:", "sys:", "import ", "require(", "process.", "global.", "constructor", "file.open", "file.read",
	"readlines", ".read(", "smarty", "php ", "sleep(", "ognl", "#_memberaccess", "@java", "applicationscope", "#context", "velocity",
	".getclass", "class.forname", "classloader", "scriptengine", "nashorn", "tostring", "spel", "[].class", "''.class", "\"\".class"}

func matchSSTI(text, lower string, f byteSet) (InjMatch, bool) {
	type delim struct{ open, close string }
	delims := []delim{{"{{", "}}"}, {"${", "}"}, {"#{", "}"}, {"<%=", "%>"}, {"<%", "%>"}, {"{%", "%}"}, {"*{", "}"}, {"@{", "}"}, {"[[", "]]"}, {"@(", ")"}, {"{$", "}"}, {"<#", ">"}, {"[#", "]"}, {"#set(", ")"}, {"%{", "}"}, {"{php}", "{/php}"}}
	openers := 0
	for _, d := range delims {
		i := strings.Index(lower, d.open)
		if i < 0 {
			continue
		}
		openers++
		body := lower[i+len(d.open):]
		if j := strings.Index(body, d.close); j >= 0 {
			body = body[:j]
		} else if d.open != "{php}" {
			// unterminated: only obviously malicious bodies count
			if len(body) > 200 {
				body = body[:200]
			}
		}
		body = strings.TrimSpace(body)
		if body == "" {
			continue
		}
		if d.open == "{php}" {
			return InjMatch{Class: ClassSSTI, Confidence: 0.9, Start: i, End: min(len(text), i+60), Reason: "smarty {php}"}, true
		}
		if d.open == "${" && strings.HasPrefix(body, "jndi:") || strings.HasPrefix(body, "${jndi:") || strings.Contains(body, "jndi:") && (strings.Contains(body, "ldap") || strings.Contains(body, "rmi") || strings.Contains(body, "dns")) {
			return InjMatch{Class: ClassSSTI, Confidence: 0.95, Start: i, End: min(len(text), i+60), Reason: "JNDI lookup (Log4Shell)"}, true
		}
		if arithmetic(body) {
			return InjMatch{Class: ClassSSTI, Confidence: 0.85, Start: i, End: min(len(text), i+len(d.open)+len(body)+len(d.close)), Reason: "expression " + d.open + " arithmetic " + d.close}, true
		}
		for _, m := range sstiMarkers {
			if strings.Contains(body, m) {
				if (m == "config." || m == "self." || m == "request." || m == "settings." || m == "import " || m == "tostring") && !(strings.Contains(body, "(") || strings.Contains(body, "__") || strings.Contains(body, "[")) {
					continue // {{ request.path }} in a template preview
				}
				return InjMatch{Class: ClassSSTI, Confidence: 0.9, Start: i, End: min(len(text), i+80), Reason: "template expression with " + strings.TrimSpace(m)}, true
			}
		}
		if d.open == "{{" && (body == "self" || body == "config" || body == "request" || strings.HasPrefix(body, "''") || strings.HasPrefix(body, "[]") || strings.HasPrefix(body, "()")) {
			return InjMatch{Class: ClassSSTI, Confidence: 0.8, Start: i, End: min(len(text), i+60), Reason: "template object " + body}, true
		}
		if d.open == "#set(" && strings.HasPrefix(body, "$") && strings.Contains(body, "=") {
			return InjMatch{Class: ClassSSTI, Confidence: 0.8, Start: i, End: min(len(text), i+60), Reason: "velocity #set directive"}, true
		}
		if d.open == "<#" && (strings.HasPrefix(body, "assign") || strings.HasPrefix(body, "include")) || d.open == "[#" && strings.HasPrefix(body, "assign") {
			return InjMatch{Class: ClassSSTI, Confidence: 0.85, Start: i, End: min(len(text), i+60), Reason: "freemarker directive"}, true
		}
	}
	// Polyglot probes: many template openers at once ("${{<%[%'\"}}%\\.").
	if openers >= 3 {
		return InjMatch{Class: ClassSSTI, Confidence: 0.75, Start: 0, End: min(len(text), 60), Reason: "template polyglot"}, true
	}
	return InjMatch{}, false
}

// arithmetic: the body is an arithmetic expression on literals ("7*7",
// "7*'7'", "3 * 3", "1+2").
func arithmetic(body string) bool {
	b := strings.ReplaceAll(strings.ReplaceAll(strings.ReplaceAll(body, " ", ""), "'", ""), "\"", "")
	b = strings.Trim(b, "{}()=")
	if len(b) < 3 || len(b) > 40 {
		return false
	}
	digits, ops := 0, 0
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c == '*' || c == '+' || c == '/' || c == '-' || c == '%':
			if i == 0 || i == len(b)-1 {
				return false
			}
			ops++
		case c == '.':
		default:
			return false
		}
	}
	return digits >= 2 && ops >= 1 && strings.ContainsAny(b, "*+/%")
}

// ---- XXE --------------------------------------------------------------------

func matchXXE(lower string) (InjMatch, bool) {
	if i := strings.Index(lower, "<!entity"); i >= 0 {
		rest := lower[i:]
		if e := strings.IndexByte(rest, '>'); e >= 0 {
			rest = rest[:e]
		}
		conf, why := 0.8, "entity declaration"
		switch {
		case strings.Contains(rest, "system") || strings.Contains(rest, "public"):
			conf, why = 0.95, "external entity"
		case strings.HasPrefix(strings.TrimSpace(rest[8:]), "%"):
			conf, why = 0.95, "parameter entity"
		}
		return InjMatch{Class: ClassXXE, Confidence: conf, Start: i, End: min(len(lower), i+80), Reason: why}, true
	}
	if i := strings.Index(lower, "<!doctype"); i >= 0 {
		rest := lower[i:]
		if e := strings.IndexByte(rest, '>'); e >= 0 {
			rest = rest[:e]
		}
		if strings.Contains(rest, " system ") || strings.Contains(rest, " system\"") || strings.Contains(rest, " public ") && (strings.Contains(rest, "http") || strings.Contains(rest, "file:")) {
			return InjMatch{Class: ClassXXE, Confidence: 0.85, Start: i, End: min(len(lower), i+80), Reason: "external DTD"}, true
		}
		if strings.Contains(rest, "[") && strings.Contains(lower[i:], "%") {
			return InjMatch{Class: ClassXXE, Confidence: 0.8, Start: i, End: min(len(lower), i+80), Reason: "internal DTD subset with parameter reference"}, true
		}
	}
	for _, s := range []string{"xmlns:xi=\"http://www.w3.org/2001/xinclude\"", "<xi:include", "<xsl:import", "<xsl:include", "document('http", "document(\"http", "document('file", "xsl:value-of select=\"system-property"} {
		if i := strings.Index(lower, s); i >= 0 {
			return InjMatch{Class: ClassXXE, Confidence: 0.85, Start: i, End: min(len(lower), i+80), Reason: "XInclude/XSLT external reference"}, true
		}
	}
	return InjMatch{}, false
}

// ---- LDAP injection --------------------------------------------------------

func matchLDAP(text, lower string, f byteSet) (InjMatch, bool) {
	// Filter breakouts: ")(attr=", ")(|", ")(&", "(|(attr=", "*)(", "*))".
	for i := strings.IndexByte(lower, ')'); i >= 0 && i < len(lower); {
		j := i + 1
		for j < len(lower) && lower[j] == ')' {
			j++
		}
		k := j
		for k < len(lower) && lower[k] == '(' {
			k++
		}
		if k > j {
			if k < len(lower) && (lower[k] == '|' || lower[k] == '&' || lower[k] == '!') || ldapAttrAssert(lower[k:]) {
				return InjMatch{Class: ClassLDAP, Confidence: 0.85, Start: max(0, i-1), End: min(len(text), i+60), Reason: "filter breakout )("}, true
			}
		}
		if i > 0 && lower[i-1] == '*' && (j-i >= 2 || k > j) {
			return InjMatch{Class: ClassLDAP, Confidence: 0.8, Start: i - 1, End: min(len(text), i+60), Reason: "wildcard filter close *)"}, true
		}
		n := strings.IndexByte(lower[j:], ')')
		if n < 0 {
			break
		}
		i = j + n
	}
	for _, op := range []string{"(|(", "(&(", "(!("} {
		if i := strings.Index(lower, op); i >= 0 && ldapAttrAssert(lower[i+3:]) {
			return InjMatch{Class: ClassLDAP, Confidence: 0.8, Start: i, End: min(len(text), i+60), Reason: "filter composition " + op}, true
		}
	}
	return InjMatch{}, false
}

// ldapAttrAssert: "attr=", "attr~=", "attr>=", "attr<=" where attr is an
// LDAP attribute name (letters, digits, '-', '.', ';').
func ldapAttrAssert(s string) bool {
	i := 0
	for i < len(s) && (s[i] >= 'a' && s[i] <= 'z' || s[i] >= '0' && s[i] <= '9' || s[i] == '-' || s[i] == '.' || s[i] == ';' || s[i] == '_') {
		i++
	}
	if i == 0 || i > 40 || i >= len(s) {
		return false
	}
	if s[i] == '=' {
		return true
	}
	return i+1 < len(s) && (s[i] == '~' || s[i] == '>' || s[i] == '<') && s[i+1] == '='
}

// ---- CRLF / header injection -------------------------------------------------

// Headers an attacker injects, with the shape their value must have so that
// a line of prose ("Location: Paris", "Date: Monday") is not taken for one.
var injectedHeaders = map[string]func(v string) bool{
	"set-cookie":                       func(v string) bool { return strings.Contains(v, "=") },
	"set-cookie2":                      func(v string) bool { return strings.Contains(v, "=") },
	"location":                         urlShaped,
	"content-location":                 urlShaped,
	"refresh":                          func(v string) bool { return len(v) > 0 && v[0] >= '0' && v[0] <= '9' && strings.Contains(v, "url=") },
	"content-type":                     func(v string) bool { i := strings.IndexByte(v, '/'); return i > 0 && !strings.Contains(v[:i], " ") },
	"content-length":                   func(v string) bool { return len(v) > 0 && isNumber(strings.TrimSpace(v)) },
	"transfer-encoding":                func(v string) bool { return strings.HasPrefix(v, "chunked") },
	"content-disposition":              func(v string) bool { return strings.HasPrefix(v, "attachment") || strings.HasPrefix(v, "inline") },
	"x-xss-protection":                 func(v string) bool { return len(v) > 0 && (v[0] == '0' || v[0] == '1') },
	"access-control-allow-origin":      func(string) bool { return true },
	"access-control-allow-credentials": func(string) bool { return true },
	"content-security-policy":          func(string) bool { return true },
	"strict-transport-security":        func(v string) bool { return strings.Contains(v, "max-age") },
	"x-frame-options":                  func(string) bool { return true },
	"x-forwarded-for":                  func(string) bool { return true },
	"x-forwarded-host":                 func(string) bool { return true },
	"www-authenticate":                 func(string) bool { return true },
	"cache-control": func(v string) bool {
		return strings.Contains(v, "max-age") || strings.Contains(v, "no-") || strings.Contains(v, "public") || strings.Contains(v, "private")
	},
}

var crlfLookalikes = strings.NewReplacer("\u560a", "\n", "\u560d", "\r")

func urlShaped(v string) bool {
	return strings.HasPrefix(v, "http:") || strings.HasPrefix(v, "https:") || strings.HasPrefix(v, "/") || strings.HasPrefix(v, "javascript:") || strings.HasPrefix(v, "data:")
}

var mailVerbs = []string{"rcpt to", "mail from", "data", "quit", "helo", "ehlo", "rset", "vrfy", "expn", "bcc:", "cc:", "to:", "from:", "subject:", "reply-to:", "mime-version:"}

var imapVerbs = []string{" capability", " fetch ", " login ", " select ", " list ", " examine ", " store ", " logout", " noop", " authenticate", " append ", " delete ", " rename ", " copy ",
	" status ", " search ", " uid ", " expunge", " subscribe ", " unsubscribe ", " lsub ", " create ", " check", " close"}

// pop3Command: a POP3 command with the shape of its arguments at the start
// of rest (lower case): RETR/DELE/LIST/TOP with message numbers, APOP with
// a name and a 32-digit hex digest; USER/PASS and a bare STAT, UIDL, RSET,
// HELP only where line breaks have no business (URL parts).
func pop3Command(rest string, inURL bool) (string, bool) {
	line := rest
	if i := strings.IndexAny(line, "\r\n"); i >= 0 {
		line = line[:i]
	}
	f := strings.Fields(line)
	if len(f) == 0 || len(f) > 3 {
		return "", false
	}
	num := func(s string) bool {
		for i := 0; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		}
		return s != ""
	}
	switch f[0] {
	case "retr", "dele", "list":
		if len(f) == 2 && num(f[1]) {
			return f[0], true
		}
	case "top":
		if len(f) == 3 && num(f[1]) && num(f[2]) {
			return f[0], true
		}
	case "apop":
		if len(f) == 3 && len(f[2]) == 32 && strings.Trim(f[2], "0123456789abcdef") == "" {
			return f[0], true
		}
	case "user", "pass", "help":
		if inURL && len(f) == 2 {
			return f[0], true
		}
	case "stat", "uidl", "rset":
		if inURL && len(f) == 1 {
			return f[0], true
		}
	}
	return "", false
}

func matchCRLF(kind PartKind, text, lower string) (InjMatch, bool) {
	inURL := kind == PartPath || kind == PartQuery || kind == PartQueryName || kind == PartHeader || kind == PartCookie
	for i := 0; i < len(lower); i++ {
		c := lower[i]
		if c != '\r' && c != '\n' {
			continue
		}
		crlf := c == '\r' && i+1 < len(lower) && lower[i+1] == '\n'
		j := i + 1
		for j < len(lower) && (lower[j] == '\r' || lower[j] == '\n') {
			j++
		}
		rest := lower[j:]
		if strings.HasPrefix(rest, "http/1.") || strings.HasPrefix(rest, "http/2") {
			return InjMatch{Class: ClassCRLF, Confidence: 0.95, Start: i, End: min(len(text), i+60), Reason: "response splitting"}, true
		}
		// "Header-Name: value" after the line break.
		k := 0
		for k < len(rest) && k < 64 && (rest[k] >= 'a' && rest[k] <= 'z' || rest[k] >= '0' && rest[k] <= '9' || rest[k] == '-' || rest[k] == '_') {
			k++
		}
		if k > 0 && k < len(rest) && rest[k] == ':' {
			name := rest[:k]
			val := strings.TrimLeft(rest[k+1:], " \t")
			if shape, ok := injectedHeaders[name]; ok && shape(val) {
				return InjMatch{Class: ClassCRLF, Confidence: 0.9, Start: i, End: min(len(text), i+60), Reason: "injected header " + name}, true
			}
			if strings.HasPrefix(name, "x-") && len(name) > 3 && inURL && crlf {
				return InjMatch{Class: ClassCRLF, Confidence: 0.8, Start: i, End: min(len(text), i+60), Reason: "injected header " + name}, true
			}
		}
		// Mail (SMTP) and IMAP command injection.
		for _, v := range mailVerbs {
			if strings.HasPrefix(rest, v) && (len(rest) == len(v) || strings.ContainsRune(" :\r\n", rune(rest[len(v)])) || strings.HasSuffix(v, ":")) {
				if strings.HasSuffix(v, ":") && !inURL {
					continue // "Subject: …" on a new line of a text field is prose
				}
				if (v == "data" || v == "quit") && len(strings.TrimSpace(rest)) != len(v) && !strings.HasPrefix(rest[len(v):], "\r\n") && !strings.HasPrefix(rest[len(v):], "\n") {
					continue // "data science" after a line break in prose
				}
				return InjMatch{Class: ClassCRLF, Confidence: 0.8, Start: i, End: min(len(text), i+60), Reason: "mail command " + strings.TrimSuffix(v, ":")}, true
			}
		}
		if v, ok := pop3Command(rest, inURL); ok {
			return InjMatch{Class: ClassCRLF, Confidence: 0.75, Start: i, End: min(len(text), i+60), Reason: "POP3 command " + strings.ToUpper(v)}, true
		}
		// IMAP: "tag COMMAND".
		if sp := strings.IndexByte(rest, ' '); sp > 0 && sp <= 8 {
			tag := rest[:sp]
			alnum := true
			for x := 0; x < len(tag); x++ {
				if !(tag[x] >= 'a' && tag[x] <= 'z' || tag[x] >= '0' && tag[x] <= '9') {
					alnum = false
				}
			}
			if alnum {
				for _, v := range imapVerbs {
					if strings.HasPrefix(rest[sp:], v) && strings.ToUpper(text[j+sp:min(len(text), j+sp+len(v))]) == text[j+sp:min(len(text), j+sp+len(v))] {
						return InjMatch{Class: ClassCRLF, Confidence: 0.75, Start: i, End: min(len(text), i+60), Reason: "IMAP command" + strings.ToUpper(strings.TrimRight(v, " "))}, true
					}
				}
			}
		}
		i = j - 1
	}
	return InjMatch{}, false
}
