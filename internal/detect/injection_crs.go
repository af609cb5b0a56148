package detect

import (
	"bytes"
	"encoding/pem"
	"io"
	"strconv"
	"strings"
	"unicode"

	"github.com/palisade-sec/palisade/internal/detect/crs"
	"github.com/palisade-sec/palisade/internal/jsonscan"
)

// CRS rule content in the injection family: the attack rules of the OWASP
// Core Rule Set compiled by package crs (phrase lists and regex literals in
// Aho–Corasick prefilters, regexes in RE2) run on every decoded value next
// to the structural matchers. A value's CRS evidence per class is the sum
// of the anomaly points (critical 5, error 4, warning 3, notice 2) of the
// rules that matched it at paranoia level ≤ crs_paranoia, as CRS scores a
// request; what it takes to report is in crsConfidence.

// crsTarget maps a part kind to the CRS variable family that inspects it.
func crsTarget(k PartKind) crs.Target {
	switch k {
	case PartQuery, PartForm, PartJSON, PartMultipart, PartProto, PartGraphQL, PartCSV:
		return crs.TArgs
	case PartQueryName, PartFormName, PartJSONKey:
		return crs.TArgNames
	case PartCookie:
		return crs.TCookies
	case PartCookieName:
		return crs.TCookieNames
	case PartHeaderProto:
		return crs.THeaders
	case PartHeader, PartUserAgent:
		return crs.THeaders
	case PartPath:
		return crs.TPath
	case PartPathPlain:
		return crs.TPathFiles
	case PartXMLText:
		return crs.TXML
	case PartXML, PartBody:
		return crs.TBody
	case PartMultipartFile:
		return crs.TFiles
	}
	return 0
}

// infraHeaderPrefixes are the x- headers proxies, meshes, gateways, CDNs
// and tracers set (route patterns, peer ids, trace contexts): not the
// application's data.
var infraHeaderPrefixes = []string{"x-forwarded-", "x-b3-", "x-amz", "x-datadog-", "x-envoy-", "x-istio-", "x-kong-", "x-apigw-",
	"x-ms-", "x-goog-", "x-cloud-", "x-vercel-", "x-nf-", "x-akamai-", "x-azure-", "x-arr-", "x-appengine-", "x-cdn-", "x-edge-", "x-cache"}

// appHeader: a non-standard header ("x-…") that carries the
// application's own data (X-Custom-Data, X-User-Id, X-Filter) — an input
// of the API like a query parameter, so the CRS rules for arguments (ARGS)
// judge it; CRS itself inspects only the few headers its rules name. The
// proxy and tracing headers of that prefix (X-Forwarded-*, X-Real-IP …)
// keep the header rules.
func appHeader(name string) bool {
	if !strings.HasPrefix(name, "x-") {
		return false
	}
	for _, infra := range infraHeaderPrefixes {
		if strings.HasPrefix(name, infra) {
			return false
		}
	}
	switch name {
	case "x-real-ip", "x-client-ip", "x-originating-ip", "x-remote-ip", "x-remote-addr", "x-cluster-client-ip", "x-request-id", "x-correlation-id", "x-requested-with", "x-csrf-token", "x-xsrf-token", "x-api-key":
		return false
	}
	return true
}

var crsClassOf = map[string]InjClass{"sqli": ClassSQLi, "xss": ClassXSS, "cmd": ClassCmd, "path_traversal": ClassPathTraversal, "ssti": ClassSSTI}

// crsEvidence is the CRS evidence of one value for one class.
type crsEvidence struct {
	pl1, pl2 int // anomaly points of rules at PL1, at PL ≤ 2
	n        int // rules matched
	best     *crs.Rule
	start    int
	end      int
	ids      []int
}

// span is the part of text the strongest rule matched (the whole text when
// that rule gave no span within it).
func (e *crsEvidence) span(text string) string {
	if e.start < 0 || e.end > len(text) || e.start >= e.end {
		return text
	}
	return text[e.start:e.end]
}

// libSQLiRule is CRS's libinjection rule (@detectSQLi).
const libSQLiRule = 942100

// weakLibSQLi: libinjection calls t SQLi on one of its weakest
// fingerprints (sqliFingerprintWeak: an apostrophe in a name, barewords
// joined by AND / OR) without a quote broken out of — what the
// structural matcher does not report without SQL structure either
// (matchSQLi); CRS's rule on the same verdict is dropped alike.
func weakLibSQLi(lib *crs.LibMemo, t string) bool {
	ok, fp := lib.IsSQLi(t)
	if !ok {
		return false
	}
	lower := strings.ToLower(t)
	if !weakSQLiVerdict(fp, lower) {
		return false
	}
	_, structural := sqlStructure(lower)
	return !structural
}

// crsMatch runs the rule set on text and folds the hits per class.
func (s *requestScanner) crsMatch(kind PartKind, name, text string, ev *[numInjClasses]crsEvidence) bool {
	t := crsTarget(kind)
	if kind == PartHeader && appHeader(name) {
		t = crs.TArgs
	}
	if t == 0 || s.crs == nil {
		return false
	}
	hdr := ""
	if t == crs.THeaders {
		hdr = name
		if kind == PartUserAgent {
			hdr = "user-agent"
		}
	}
	hits := s.crs.Match(t, hdr, text, s.crsPL, &s.crsScratch)
	defer clear(hits) // the hits keep views of text
	for i := range hits {
		h := &hits[i]
		c, ok := crsClassOf[h.Rule.Class]
		if !ok {
			continue
		}
		if h.Rule.ID == libSQLiRule && weakLibSQLi(&s.lib, h.Text) {
			continue // libinjection's verdict, judged as the structural matcher judges it
		}
		if c == ClassCmd && (commaAfterName(text, h) || capitalUnixProgram(text, h)) {
			continue
		}
		e := &ev[c]
		if h.Rule.PL <= 1 {
			e.pl1 += h.Rule.Severity
		}
		if h.Rule.PL <= 2 {
			e.pl2 += h.Rule.Severity
		}
		e.n++
		e.ids = append(e.ids, h.Rule.ID)
		if e.best == nil || h.Rule.PL < e.best.PL || h.Rule.PL == e.best.PL && h.Rule.Severity > e.best.Severity {
			e.best = h.Rule
			e.start, e.end = h.Start, h.End
			if h.Text != text { // span in a transformed text: report the whole value
				e.start, e.end = 0, len(text)
			}
		}
	}
	return len(hits) > 0
}

// maxJSONValue bounds the JSON documents crsMatchJSON walks (larger ones
// are judged as text), maxJSONLeaves the strings it judges one by one
// (the rest of a document with more is judged as text).
const (
	maxJSONValue  = 64 << 10
	maxJSONLeaves = 256
)

// crsMatchJSON judges a value that is a JSON object or array (a filter in
// a query parameter, a context object in a header, base64 of JSON) as CRS
// judges a JSON body: each member name and string leaf on its own, not the
// document's punctuation — CRS's SQL character-anomaly and quote rules
// (942200, 942340, 942370, 942430) fire on every `":"` and `","` of
// ordinary JSON. Per class, the leaf with the strongest evidence is kept,
// its span placed in the document. Members without their braces
// (`"tags": ["captions", "dialogue"]`, a fragment an API takes in a query)
// are judged as the object they are the members of. It returns false when
// text is not a well-formed JSON container or member list (the caller
// matches it as text).
func (s *requestScanner) crsMatchJSON(kind PartKind, name, text string, ev *[numInjClasses]crsEvidence) bool {
	t := strings.TrimLeft(text, " \t\r\n")
	if len(text) > maxJSONValue || t == "" || t[0] != '{' && t[0] != '[' && !(t[0] == '"' && strings.Contains(t, "\":")) {
		return false
	}
	whole := text
	if t[0] == '"' {
		text = "{" + text + "}" // spans are shifted back below
	}
	tk := &s.jtok
	defer tk.Reset("", jsonscan.Options{}) // keep no view of the record
	tk.Reset(text, jsonscan.Options{MaxDepth: 64, AllowDuplicateNames: true})
	// One pass: leaves are judged into acc, which counts only if the whole
	// document is well-formed (a broken one is text: an injection breaking
	// out of it); past maxJSONLeaves the tokens are only checked.
	var acc [numInjClasses]crsEvidence
	for leaves := 0; ; {
		k, v, err := tk.ReadToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return false
		}
		if k != '"' || v == "" || leaves > maxJSONLeaves {
			continue
		}
		end := tk.Offset() - 1 // the closing quote
		start := end - len(v)
		if tk.Escaped() || start < 0 || text[start:end] != v {
			start, end = 0, len(text) // unescaped into a copy: the whole document
		}
		leaves++
		if leaves == maxJSONLeaves {
			// past the bound, the rest of the document is text (its
			// punctuation included): no leaf goes unjudged
			start, end = max(0, min(start, end)-1), len(text)
			v = text[start:]
			leaves++ // judged: the rest is only checked
		}
		var le [numInjClasses]crsEvidence
		if !s.crsMatch(kind, name, v, &le) {
			continue
		}
		for c := range le {
			e, b := &le[c], &acc[c]
			if e.best == nil || b.best != nil && (e.pl1 < b.pl1 || e.pl1 == b.pl1 && e.pl2 <= b.pl2) {
				continue
			}
			if start == 0 && end == len(text) {
				e.start, e.end = 0, len(text)
			} else {
				e.start, e.end = start+e.start, start+e.end
			}
			*b = *e
		}
	}
	if len(text) != len(whole) {
		for c := range acc {
			e := &acc[c]
			e.start, e.end = max(0, e.start-1), min(len(whole), e.end-1)
			if e.start >= e.end {
				e.start, e.end = 0, len(whole)
			}
		}
	}
	*ev = acc
	return true
}

// commaAfterName: a command rule matched a program's name followed by a
// comma ("gzip, deflate, br", "wget, curl and friends"): to the shell that
// is the word "gzip,", no program — unless a brace opened before it, where
// the comma separates the words of a brace expansion ("{wget,evil/x}").
func commaAfterName(text string, h *crs.Hit) bool {
	return h.Text == text && h.End > h.Start && h.End <= len(text) && text[h.End-1] == ',' && strings.IndexByte(text[:h.End], '{') < 0
}

// unixProgramRules: CRS's command rules that match a Unix program's name
// (its unix-shell word lists, with or without arguments).
var unixProgramRules = map[int]bool{932230: true, 932231: true, 932232: true, 932235: true, 932236: true, 932239: true, 932250: true, 932260: true, 932340: true, 932350: true}

// capitalUnixProgram: a rule of unixProgramRules matched, in the value as
// sent, a word with a capital letter in command position followed by
// words only ("ENV FATE", "…; Base64 encoded"). CRS matches these lists
// whatever the case; a Unix shell runs no "Base64" or "ENV" — names are
// case-sensitive there — so the match is a word of text. Names that
// Windows' shells also find whatever their case (caseFreeCmds: "WHOAMI",
// "Ping") still count.
func capitalUnixProgram(text string, h *crs.Hit) bool {
	if !unixProgramRules[h.Rule.ID] || h.Text != text || h.Start < 0 || h.End > len(text) || h.Start >= h.End {
		return false
	}
	span := text[h.Start:h.End]
	i := 0
	for i < len(span) && !isLetterByte(span[i]) && !(span[i] >= '0' && span[i] <= '9') {
		if span[i] == '/' || span[i] == '$' || span[i] == '`' {
			return false // a path or an expansion: not a bare name in command position
		}
		i++
	}
	j := i
	for j < len(span) && (isWordByte(span[j]) || span[j] == '.' || span[j] == '-' || span[j] == '+') {
		j++
	}
	w := span[i:j]
	if w == "" || !hasUpperASCII(w) || caseFreeCmds[asciiLower(w)] {
		return false
	}
	// only words follow ("encoded", "FATE"): an argument with a path, a
	// URL, an option or an operator ("; Wget http://…/x.sh") is a command
	// line whatever the case of its first word
	return wordsOnly(text[h.Start+j:])
}

// crsConfidence turns a value's CRS evidence for a class into a
// confidence (0: not reported on this evidence alone). Cold (no learned
// profile of the parameter says otherwise):
//
//   - one rule of paranoia level 1 (5 points), or two rules at level ≤ 2
//     (10 points), report — as CRS blocks a request at 5 points;
//   - in natural-language text (prose: see isProse) CRS rules fire on words
//     and punctuation ("union … select", "ls 300", "{{name}}", commas in
//     addresses), so two rules of level 1 are needed there; the structural
//     matchers, which parse SQL, shell and markup, judge prose on their own.
//     Text with code syntax (syntaxOf: a trailing SQL comment, a broken
//     string literal, shell variables, command-line options) is not prose;
//   - one rule of level 2 reports where the value has the syntax of the
//     rule's language (SQL for SQLi rules, shell for command rules), or,
//     with a lower confidence (0.55), where the rule is evidence enough
//     alone (loneLevel2: a SQLi rule whose match has SQL vocabulary, an
//     XSS rule in a value with markup or script syntax, a command rule
//     that matches a shell construct); the command rules that fire on a word
//     naming a program ("curl and divergence") or on addresses ("s/n 4?h")
//     always need shell syntax.
//
// The parameter's learned profile (see injection_profile.go) adjusts this:
// a single level-2 rule counts in a value that departs from a trained
// parameter (a type, byte class or length its benign values never had);
// CRS-only evidence on a value that fits a parameter whose benign values
// trip the class's rules, or on rules routine there, is discounted.
func crsConfidence(e *crsEvidence, prose bool, syn codeSyntax, lone bool) float64 {
	if prose {
		if e.pl1 >= 10 {
			return 0.75
		}
		return 0
	}
	switch {
	case e.pl1 >= 10:
		return 0.85
	case e.pl1 >= 5:
		return 0.7
	case e.pl2 >= 10:
		return 0.65
	case e.pl2 >= 5 && syn != 0:
		// one level-2 rule where the value has the grammar of the
		// rule's language (syntaxOf)
		return 0.6
	case e.pl2 >= 5 && lone:
		return loneConfidence
	}
	return 0
}

// loneConfidence is the confidence of one level-2 rule that is evidence
// enough alone (loneLevel2): above the default min_confidence (0.5), below
// a rule backed by the syntax of its language; min_confidence: 0.6 turns
// these findings off.
const loneConfidence = 0.55

// loneLevel2: one CRS rule of paranoia level 2 for class c is evidence
// enough in a value that is not natural-language text, without the syntax
// of the rule's language:
//
//   - SQLi: the rule's match has SQL vocabulary (sqlVocabulary: a reserved
//     word that is not an everyday English word, or a pair such as "order
//     by") — a rule on operators or
//     identifiers alone ("h2<h1") is not enough — and the rule is not
//     942200 alone, which fires on commas between words and numbers
//     (street addresses, lists: "c/ rio avia, 105, 2"), and the value is
//     more than that one word: a match type, column type or operator
//     named in a field of its own ("regexp", "varchar", "rlike": the
//     enumerations of real API descriptions) is the word, not a
//     statement;
//   - XSS: the level-2 rules match markup and script syntax (event
//     handlers, tag handlers, filter evasions), in a value that has some
//     (a bracket, quote, backtick, parenthesis, brace or backslash) — not
//     an attribute assignment alone ("src=img.png", 941150) or an arrow
//     ("a --> b", 941181 alone) — and not on template placeholders alone
//     (templatePlaceholders: 941380's "{{" around a bare name or a
//     filtered one, "Dear {{first_name}}", "{{ name | upper }}");
//   - command injection: the level-2 rules that match shell constructs
//     (a separator or pipe before a program, history and tilde
//     expansion, mail-protocol commands); not those of cmdWordRules
//     alone, which fire on words and addresses;
//   - the other classes: never.
func loneLevel2(c InjClass, ids []int, text, span string) bool {
	switch c {
	case ClassSQLi:
		return !onlyRules(ids, 942200) && sqlVocabulary(span) && !oneWord(text)
	case ClassXSS:
		return !templatePlaceholders(ids, text) && !onlyRules(ids, 941181) && strings.ContainsAny(text, "<>\"'`(\\{")
	case ClassCmd:
		return !onlyRules(ids, cmdWordRules...)
	}
	return false
}

// oneWord: t, trimmed, is one word (letters, digits, underscores).
func oneWord(t string) bool {
	t = strings.TrimSpace(t)
	return t != "" && wordPrefix(t) == len(t)
}

// crsNotRun says why CRS rules are not run on a decoded value that is
// data of a known format CRS misreads ("" when they are run): a media
// data URI or PEM blocks.
func crsNotRun(s string) string {
	switch {
	case mediaDataURI(s):
		return "a data URI of an image, audio, video or font type with a base64 payload"
	case pemArmored(s):
		return "PEM blocks (a certificate, key or CSR)"
	}
	return ""
}

// pemArmored: s is, white space aside, nothing but PEM blocks (RFC 7468:
// "-----BEGIN CERTIFICATE-----", base64 lines, "-----END
// CERTIFICATE-----"; encoding/pem decodes each, base64 body included) — a
// certificate, public key or CSR sent to an API that takes one (TLS
// uploads, SSH keys, signing keys). CRS's SQL comment rules (942440,
// 942430) match its dashes; the structural matchers still judge it.
func pemArmored(s string) bool {
	t := strings.TrimSpace(s)
	if !strings.HasPrefix(t, "-----BEGIN ") {
		return false // (no copy of the value unless it opens like PEM)
	}
	b := []byte(t)
	for len(b) > 0 {
		if !bytes.HasPrefix(b, []byte("-----BEGIN ")) {
			return false
		}
		blk, rest := pem.Decode(b)
		if blk == nil {
			return false
		}
		b = bytes.TrimSpace(rest)
	}
	return true
}

// mediaDataURI: s is a data URI (RFC 2397) of an image (not SVG, which
// holds script), audio, video or font type whose payload is base64 — a
// profile picture or a signature sent inline. CRS's XSS attribute-vector
// rules (941130, 941170) and command rules (";base64") match its header;
// the structural matchers still judge it (a data:text/html URI is a
// script URL).
func mediaDataURI(s string) bool {
	if len(s) < 12 || !strings.EqualFold(s[:5], "data:") {
		return false
	}
	comma := strings.IndexByte(s, ',')
	if comma < 0 {
		return false
	}
	hdr := strings.ToLower(s[5:comma])
	mt, params, _ := strings.Cut(hdr, ";")
	top, sub, ok := strings.Cut(mt, "/")
	if !ok || sub == "" || strings.Contains(sub, "svg") {
		return false
	}
	switch top {
	case "image", "audio", "video", "font":
	default:
		return false
	}
	for _, c := range sub {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '+') {
			return false
		}
	}
	if !strings.HasSuffix(params, "base64") {
		return false
	}
	for i := comma + 1; i < len(s); i++ {
		if c := s[i]; !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

// loneSuffix opens the part of a reason that says a finding rests on one
// level-2 rule alone.
const loneSuffix = "; one paranoia-2 rule alone ("

// loneWhy says, in an alert's reason, what made one level-2 rule enough.
func loneWhy(c InjClass) string {
	switch c {
	case ClassSQLi:
		return "its match holds SQL vocabulary"
	case ClassXSS:
		return "markup or script syntax"
	case ClassCmd:
		return "a shell construct"
	}
	return ""
}

// cmdWordRules are the command-injection rules of paranoia level 2 that
// fire on ordinary words and values: 932236, a Unix program's name at the
// start of the value ("curl and divergence", "java lang courses"); 932200
// and 932240, evasion by globbing or quoting inside a word ("s/n 4?h",
// "v$idr3ar"). Alone they need shell syntax (syntaxOf).
var cmdWordRules = []int{932236, 932200, 932240}

// onlyRules: every id of ids is one of rs.
func onlyRules(ids []int, rs ...int) bool {
	for _, id := range ids {
		found := false
		for _, r := range rs {
			if r == id {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// sqlVocab is the SQL vocabulary of sqlVocabulary: the reserved words of
// statements, operators, types and the functions injections use that are
// not everyday English words ("order", "and", "or", "not", "table", "like",
// "case", "true" are, and count only in the pairs of sqlPairs).
var sqlVocab = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`select union insert exec execute declare having offset rlike regexp
		xor cast convert chr concat substring ascii sleep benchmark waitfor varchar nvarchar
		information_schema procedure load_file outfile null truncate`) {
		m[w] = true
	}
	return m
}()

// sqlPairs are English words that are SQL in these pairs of consecutive
// words ("order by", "is not").
var sqlPairs = map[[2]string]bool{{"order", "by"}: true, {"group", "by"}: true, {"is", "not"}: true, {"not", "like"}: true,
	{"drop", "table"}: true, {"delete", "from"}: true, {"insert", "into"}: true, {"union", "all"}: true}

// sqlVocabulary: s has a word of SQL's vocabulary (sqlVocab, any case, as
// a token of letters, digits and '_'), or one of sqlPairs.
func sqlVocabulary(s string) bool {
	var buf, prev [16]byte
	np := 0
	for i := 0; i < len(s); {
		if !isWordByte(s[i]) {
			if s[i] != ' ' && s[i] != '\t' {
				np = 0 // a pair is two words with only white space between them
			}
			i++
			continue
		}
		j := i
		for j < len(s) && isWordByte(s[j]) {
			j++
		}
		n := j - i
		if n > len(buf) {
			np, i = 0, j
			continue
		}
		w := buf[:n]
		for k := 0; k < n; k++ {
			b := s[i+k]
			if 'A' <= b && b <= 'Z' {
				b += 'a' - 'A'
			}
			w[k] = b
		}
		if sqlVocab[string(w)] || np > 0 && sqlPairs[[2]string{string(prev[:np]), string(w)}] {
			return true
		}
		np = copy(prev[:], w)
		i = j
	}
	return false
}

// templatePlaceholders: the value's only XSS rule is CRS 941380 (AngularJS
// client-side template injection, "{{"), and every "{{…}}" it holds is a
// template placeholder — a name or dotted path, maybe through filters
// (letters, digits, '_', '.', '-', '|', spaces), no call, operator, quote
// or bracket.
func templatePlaceholders(ids []int, s string) bool {
	if !onlyRules(ids, 941380) {
		return false
	}
	n := 0
	for {
		i := strings.Index(s, "{{")
		if i < 0 {
			return n > 0
		}
		j := strings.Index(s[i+2:], "}}")
		if j < 0 {
			return false
		}
		in := strings.TrimSpace(s[i+2 : i+2+j])
		if in == "" {
			return false
		}
		for k := 0; k < len(in); k++ {
			if c := in[k]; !(isWordByte(c) || c == '.' || c == '-' || c == ' ' || c == '|') {
				return false
			}
		}
		n++
		s = s[i+4+j:]
	}
}

// varPlaceholders: the value's only command evidence is CRS's variable
// expansion rules (932130, and 933135 which reads "${" as PHP) on template
// placeholders — every "$" opens "${name}" with a name or dotted path that
// has a lower-case letter (Rudder's "group:${nodeGroupId}", a build tool's
// "${project.version}", Terraform's "${var.region}") and nothing else of a
// shell. Configuration APIs store such templates; a shell reads
// "${nodeGroupId}" as an empty variable and runs nothing. The variables of
// evasion are upper case or special ("${IFS}", "${PATH:0:1}", "${@}") and
// come with a command, which the structural matcher judges apart. CRS
// 932240 (a word broken by quoting or expansion) also reads the "-" or "."
// beside a placeholder ("deploy-${env}", "${var.region}-${var.env}"); it
// is allowed when no placeholder sits inside a word — "who${x}ami" and
// "i${x}d" split a program's name, which is evasion.
func varPlaceholders(ids []int, s string) bool {
	if !onlyRules(ids, 932130, 933135, 932240) || strings.ContainsAny(s, "`;|&\n") {
		return false
	}
	n := 0
	for i := strings.IndexByte(s, '$'); i >= 0; i = strings.IndexByte(s, '$') {
		if i+2 >= len(s) || s[i+1] != '{' {
			return false
		}
		j := strings.IndexByte(s[i+2:], '}')
		if j <= 0 {
			return false
		}
		if end := i + 3 + j; i > 0 && isWordByte(s[i-1]) && end < len(s) && isWordByte(s[end]) {
			return false
		}
		name, lower := s[i+2:i+2+j], false
		if !isLetterByte(name[0]) && name[0] != '_' {
			return false
		}
		for k := 0; k < len(name); k++ {
			c := name[k]
			if !isWordByte(c) && c != '.' {
				return false
			}
			lower = lower || c >= 'a' && c <= 'z'
		}
		if !lower {
			return false
		}
		n++
		s = s[i+3+j:]
	}
	return n > 0
}

// classSyntax: the code syntax that confirms a class's level-2 rules.
func classSyntax(c InjClass) codeSyntax {
	switch c {
	case ClassSQLi:
		return synSQL
	case ClassCmd:
		return synShell
	}
	return 0
}

// isProse: the value reads as natural-language text — at least four
// whitespace-separated tokens that are words (≥ 70 % letters, at least
// two), and letters and white space make up ≥ 75 % of it. In a value with
// no white space and no code punctuation (brackets, braces, parentheses,
// ';', '|', '&', '$', '`', '\\', '*'), '+' separates the words:
// form-encoded text carried where '+' is not decoded (a multipart part, a
// JSON string, a header) is the same text ("I+would+like+to+search+for+
// \"%t\""); "<iframe+src=…>" is not.
func isProse(s string) bool {
	plus := strings.Count(s, "+") >= 3 && !strings.ContainsAny(s, " \t\n\r<>(){}[];|&$`\\*")
	words, letters, spaces, n := 0, 0, 0, 0
	tokLetters, tokLen := 0, 0
	endTok := func() {
		if tokLen > 0 && tokLetters >= 2 && tokLetters*10 >= tokLen*7 {
			words++
		}
		tokLetters, tokLen = 0, 0
	}
	for _, r := range s {
		n++
		switch {
		case r == ' ' || r == '\t' || r == '\n' || r == '\r' || plus && r == '+':
			spaces++
			endTok()
			continue
		case unicode.IsLetter(r):
			letters++
			tokLetters++
		}
		tokLen++
	}
	endTok()
	return words >= 4 && (letters+spaces)*4 >= n*3
}

func crsReason(e *crsEvidence) string {
	var b strings.Builder
	b.WriteString("CRS ")
	b.WriteString(strconv.Itoa(e.best.ID))
	if e.best.Msg != "" {
		b.WriteString(" (")
		b.WriteString(e.best.Msg)
		b.WriteString(")")
	}
	if e.n > 1 {
		b.WriteString(" + ")
		b.WriteString(strconv.Itoa(e.n - 1))
		b.WriteString(" more rules")
	}
	return b.String()
}

// Formatting markup that rich-text fields carry (what HTML sanitizers
// allow): CRS's XSS rules fire on any tag, its SQL rules on quotes in
// attributes.
var benignTags = map[string]bool{
	"p": true, "b": true, "i": true, "u": true, "s": true, "em": true, "strong": true, "br": true, "hr": true, "ul": true, "ol": true,
	"li": true, "a": true, "span": true, "div": true, "h1": true, "h2": true, "h3": true, "h4": true, "h5": true, "h6": true,
	"blockquote": true, "code": true, "pre": true, "small": true, "sub": true, "sup": true, "table": true, "thead": true,
	"tbody": true, "tr": true, "td": true, "th": true, "dl": true, "dt": true, "dd": true, "mark": true, "del": true, "ins": true,
}

var benignAttrs = map[string]bool{"href": true, "class": true, "title": true, "id": true, "target": true, "rel": true, "lang": true, "dir": true, "colspan": true, "rowspan": true}

// benignMarkup reports whether every tag of s is formatting markup
// (benignTags, with only benignAttrs attributes, no script URL in href)
// and returns s with the tags replaced by spaces. A '<' that opens no tag
// ("<3", "a < b") is text. ok=false when s has no tag at all.
func benignMarkup(s string) (string, bool) {
	var b strings.Builder
	tags := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c != '<' || i+1 >= len(s) || !(s[i+1] == '/' || s[i+1] >= 'a' && s[i+1] <= 'z' || s[i+1] >= 'A' && s[i+1] <= 'Z' || s[i+1] == '!' || s[i+1] == '?') {
			b.WriteByte(c)
			i++
			continue
		}
		end := strings.IndexByte(s[i:], '>')
		if end < 0 {
			return "", false // an unterminated tag
		}
		tag := strings.ToLower(s[i+1 : i+end])
		if !benignTag(tag) {
			return "", false
		}
		tags++
		b.WriteByte(' ')
		i += end + 1
	}
	return b.String(), tags > 0
}

func benignTag(tag string) bool {
	tag = strings.TrimPrefix(tag, "/")
	tag = strings.TrimSuffix(strings.TrimSpace(tag), "/")
	name, attrs, _ := strings.Cut(tag, " ")
	if !benignTags[name] {
		return false
	}
	for attrs = strings.TrimSpace(attrs); attrs != ""; attrs = strings.TrimSpace(attrs) {
		k, rest, hasVal := strings.Cut(attrs, "=")
		k = strings.TrimSpace(k)
		if strings.ContainsAny(k, " \"'") {
			return false
		}
		if !benignAttrs[k] {
			return false
		}
		if !hasVal {
			break
		}
		rest = strings.TrimLeft(rest, " ")
		var v string
		if rest != "" && (rest[0] == '"' || rest[0] == '\'') {
			j := strings.IndexByte(rest[1:], rest[0])
			if j < 0 {
				return false
			}
			v, attrs = rest[1:1+j], rest[2+j:]
		} else {
			j := strings.IndexByte(rest, ' ')
			if j < 0 {
				j = len(rest)
			}
			v, attrs = rest[:j], rest[j:]
		}
		lv := strings.ToLower(strings.TrimSpace(v))
		if strings.ContainsAny(lv, "<>`") || strings.Contains(lv, "script:") || strings.HasPrefix(lv, "data:") || strings.Contains(lv, "expression(") {
			return false
		}
	}
	return true
}

// crsIDs lists rule ids with their paranoia levels ("942100/PL1 942200/PL2").
func crsIDs(set *crs.Set, ids []int) string {
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.Itoa(id))
		if r := set.Rule(id); r != nil {
			b.WriteString("/PL")
			b.WriteString(strconv.Itoa(r.PL))
		}
	}
	return b.String()
}

// crsVerdict says what the cold policy made of a class's CRS evidence.
func crsVerdict(e *crsEvidence, conf float64, prose, markup bool, syn codeSyntax) string {
	switch {
	case conf == loneConfidence:
		return "reported " + strconv.FormatFloat(conf, 'f', 2, 64) + " (one PL2 rule, evidence alone outside natural-language text; unless the learned profile suppresses it)"
	case conf > 0 && syn != 0:
		return "reported " + strconv.FormatFloat(conf, 'f', 2, 64) + " (" + syn.String() + "; unless the learned profile suppresses it)"
	case conf > 0:
		return "reported " + strconv.FormatFloat(conf, 'f', 2, 64) + " (unless the learned profile suppresses it)"
	case markup:
		return "not reported: harmless formatting markup"
	case prose && e.pl1 >= 5:
		return "not reported: natural-language text needs two PL1 rules"
	case prose:
		return "not reported: natural-language text, PL2 rules only"
	case e.pl1 == 0 && e.pl2 >= 5:
		return "not reported: one PL2 rule without the syntax of its language (reported where the value departs from a trained parameter)"
	}
	return "not reported"
}

// traversalSeqRules are the CRS rules that match a traversal sequence
// itself (930100 in its encoded forms, 930110 decoded), as opposed to the
// rules that name a file target (930120 OS files, 930130 restricted files).
var traversalSeqRules = map[int]bool{930100: true, 930110: true}

// traversalNowhere: CRS path-traversal evidence that is not traversal — a
// traversal sequence ("../", "..\") in free text that leads to no path
// segment (every sequence is followed by white space: "../ sale",
// "shoes ..\ 50% off"), matched only by the rules of the sequence itself
// (no file target), in a parameter the request does not use as a path: not
// the path, a file name or a parameter named like a path, file, URL or
// template (pathishName). Structural matches are judged on their own.
func traversalNowhere(kind PartKind, name, text string, ids []int) bool {
	switch kind {
	case PartPath, PartPathPlain, PartMultipartFile:
		return false
	}
	for _, id := range ids {
		if !traversalSeqRules[id] {
			return false
		}
	}
	seqs, words := 0, false
	for i := 0; i+2 < len(text); i++ {
		if text[i] != '.' || text[i+1] != '.' || text[i+2] != '/' && text[i+2] != '\\' {
			continue
		}
		seqs++
		if j := i + 3; j < len(text) && text[j] != ' ' && text[j] != '\t' {
			return false // the sequence leads somewhere (or to the end)
		} else if j >= len(text) {
			return false
		}
	}
	for i := 0; i+1 < len(text) && !words; i++ {
		words = isLetter(text[i]) && isLetter(text[i+1])
	}
	return seqs > 0 && words && !pathishName(name)
}

// pathishName: a parameter named like a URL, host, path or file
// (urlishName), or a directory, folder, template or include.
func pathishName(name string) bool {
	if urlishName(name) {
		return true
	}
	l := strings.ToLower(name)
	for _, w := range []string{"file", "path", "dir", "folder", "template", "include", "doc"} {
		if strings.Contains(l, w) {
			return true
		}
	}
	return false
}

// anyRule: one of ids is in set.
func anyRule(ids []int, set map[int]bool) bool {
	for _, id := range ids {
		if set[id] {
			return true
		}
	}
	return false
}
