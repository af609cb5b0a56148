package crs

import (
	"fmt"
	"io/fs"
	"path"
	"regexp/syntax"
	"slices"
	"strconv"
	"strings"
	"sync"

	coreruleset "github.com/corazawaf/coraza-coreruleset/v4"
	re2 "github.com/wasilibs/go-re2"

	"github.com/palisade-sec/palisade/internal/classify/ac"
)

// Target is the kind of request value a rule inspects (a bit set).
type Target uint16

// Targets, after the CRS variables they stand for.
const (
	TArgs        Target = 1 << iota // ARGS: query, form, JSON and multipart values
	TArgNames                       // ARGS_NAMES
	TCookies                        // REQUEST_COOKIES
	TCookieNames                    // REQUEST_COOKIES_NAMES
	THeaders                        // REQUEST_HEADERS (see Rule.hdrIncl / hdrExcl)
	TPath                           // REQUEST_FILENAME, REQUEST_BASENAME, REQUEST_URI(_RAW), REQUEST_LINE
	TBody                           // REQUEST_BODY
	TXML                            // XML:/*, XML://@*
	TFiles                          // FILES, FILES_NAMES, X-Filename headers
	// TPathFiles: the TPath rules of the path-traversal class (traversal
	// sequences, OS and restricted file names) — all a path of plain
	// bytes (letters, digits, - _ . /) can carry: SQL, shell and markup
	// need quotes, spaces, operators or brackets
	TPathFiles
)

var targetNames = map[string]Target{
	"ARGS": TArgs, "ARGS_GET": TArgs, "ARGS_POST": TArgs, "ARGS_NAMES": TArgNames, "ARGS_GET_NAMES": TArgNames, "ARGS_POST_NAMES": TArgNames,
	"REQUEST_COOKIES": TCookies, "REQUEST_COOKIES_NAMES": TCookieNames, "REQUEST_HEADERS": THeaders,
	"REQUEST_FILENAME": TPath, "REQUEST_BASENAME": TPath, "REQUEST_URI": TPath, "REQUEST_URI_RAW": TPath, "REQUEST_LINE": TPath,
	"REQUEST_BODY": TBody, "XML:/*": TXML, "XML://@*": TXML, "FILES": TFiles, "FILES_NAMES": TFiles,
}

// Classes of attack rules by their CRS tag (the caller maps them to its
// alert types). Rules with other tags are not compiled.
var tagClasses = map[string]string{
	"attack-sqli": "sqli", "attack-xss": "xss", "attack-rce": "cmd", "attack-injection-php": "cmd",
	"attack-lfi": "path_traversal", "attack-injection-java": "cmd", "attack-ssti": "ssti",
}

// Files compiled: the request attack rule files of those classes. Remote
// file inclusion (931: URLs with IP addresses or off-domain URLs in
// parameters) is left to Palisade's SSRF family, which judges URL targets
// with the client's and the API's own hosts in view.
var ruleFiles = []string{
	"REQUEST-930-APPLICATION-ATTACK-LFI.conf", "REQUEST-932-APPLICATION-ATTACK-RCE.conf",
	"REQUEST-933-APPLICATION-ATTACK-PHP.conf", "REQUEST-941-APPLICATION-ATTACK-XSS.conf", "REQUEST-942-APPLICATION-ATTACK-SQLI.conf",
	"REQUEST-944-APPLICATION-ATTACK-JAVA.conf",
}

type opKind uint8

const (
	opRx opKind = iota + 1
	opPm
	opDetectSQLi
	opDetectXSS
	opContains
	opBeginsWith
	opEndsWith
	opStreq
)

// Rule is one compiled CRS rule.
type Rule struct {
	ID       int
	Class    string // sqli, xss, cmd, path_traversal, ssti
	PL       int    // paranoia level (1–4)
	Severity int    // anomaly points: critical 5, error 4, warning 3, notice 2
	Msg      string
	File     string
	Line     int

	targets          Target
	hdrIncl, hdrExcl map[string]bool // lower-case header names (only / never)
	tf               []transform
	chainKey         string
	op               opKind
	arg              string
	re               *re2.Regexp
	lits             []string // prefilter (or the @pm phrases); nil: always evaluated
	// @pm: an automaton over the distinct phrases (ASCII case folded),
	// pmID[i] the index in lits of its phrase i (the first of equal ones)
	pm   *ac.Matcher
	pmID []int32
	// on texts made of the bytes of a tier only (wordBytes, commonBytes):
	// the prefilter of the rule restricted to them (nil: always
	// evaluated), or never (never: the rule cannot match such a text)
	tiers [numTiers]tierLits
	idx   int // index in Set.Rules
	// byte gates: every match has at least n bytes of each clause's set
	// (in the text the operator runs on, lower-cased for t:lowercase
	// rules: the sets are widened to the bytes that lower-case into them)
	clauses []clause
	capture bool
	lower   bool // t:lowercase (applied after the group's transformations)
	links   []link
}

type link struct {
	src    string // "value", "tx0", "tx1"
	tf     []transform
	op     opKind
	neg    bool
	arg    string
	re     *re2.Regexp
	phr    []string
	setCap bool
	argCap int // ≥ 0: the argument is the macro %{TX.n} (the rule's capture n), -1: a constant
}

// Stats says what was compiled and what was not.
type Stats struct {
	Files, Rules, Regexes, Phrases, Prefiltered, Always int
	// PrefilteredCommon: rules with a prefilter on texts of common bytes
	PrefilteredCommon int
	Skipped           map[string]int // reason → rules
}

// Set is the compiled rule set; safe for concurrent use.
type Set struct {
	Rules  []*Rule
	byID   map[int]*Rule
	levels map[int]int // every tagged rule's paranoia level, compiled or skipped
	Stats  Stats
	groups []*group
	word   word
	gates  gates
	words  int // uint64 words of a rule mask
}

var (
	defaultOnce sync.Once
	defaultSet  *Set
	defaultErr  error
)

// Default returns the rule set compiled from the embedded CRS (once per
// process: compiling takes a few hundred milliseconds).
func Default() (*Set, error) {
	defaultOnce.Do(func() { defaultSet, defaultErr = Compile(coreruleset.FS) })
	return defaultSet, defaultErr
}

// Version is the CRS version compiled (from the rules' ver: action).
var Version = "OWASP_CRS/4.25.0"

// Compile reads the attack rule files of fsys (a coreruleset.FS-shaped
// tree: @owasp_crs/*.conf and *.data) and compiles them.
func Compile(fsys fs.FS) (*Set, error) {
	s := &Set{Stats: Stats{Skipped: map[string]int{}}, levels: map[int]int{}}
	for _, f := range ruleFiles {
		p := path.Join("@owasp_crs", f)
		raw, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil, fmt.Errorf("crs: %w", err)
		}
		ds, err := parseConf(p, string(raw))
		if err != nil {
			return nil, fmt.Errorf("crs: %w", err)
		}
		s.Stats.Files++
		for _, d := range ds {
			if d.name != "SecRule" || len(d.args) < 3 {
				continue
			}
			if id, pl := ruleLevel(d); id != 0 && pl != 0 {
				s.levels[id] = pl
			}
			r, skip, err := compileRule(fsys, d)
			if err != nil {
				return nil, err
			}
			if skip != "" {
				if skip != "control" {
					s.Stats.Skipped[skip]++
				}
				continue
			}
			s.Rules = append(s.Rules, r)
		}
	}
	s.build()
	return s, nil
}

// ruleLevel reads a rule's id and paranoia-level tag (0 where absent).
func ruleLevel(d *directive) (id, pl int) {
	for _, a := range splitActions(d.args[2]) {
		switch {
		case a.name == "id":
			id, _ = strconv.Atoi(a.value)
		case a.name == "tag" && strings.HasPrefix(a.value, "paranoia-level/"):
			pl, _ = strconv.Atoi(strings.TrimPrefix(a.value, "paranoia-level/"))
		}
	}
	return id, pl
}

func compileRule(fsys fs.FS, d *directive) (*Rule, string, error) {
	acts := splitActions(d.args[2])
	r := &Rule{File: d.file, Line: d.line}
	for _, a := range acts {
		switch a.name {
		case "id":
			r.ID, _ = strconv.Atoi(a.value)
		case "tag":
			if c, ok := tagClasses[a.value]; ok {
				r.Class = c
			}
			if n, ok := strings.CutPrefix(a.value, "paranoia-level/"); ok {
				r.PL, _ = strconv.Atoi(n)
			}
		case "severity":
			switch strings.ToUpper(a.value) {
			case "CRITICAL", "2":
				r.Severity = 5
			case "ERROR", "3":
				r.Severity = 4
			case "WARNING", "4":
				r.Severity = 3
			case "NOTICE", "5":
				r.Severity = 2
			}
		case "msg":
			r.Msg = a.value
		case "capture":
			r.capture = true
		case "t":
			if tf, ok := transformNames[a.value]; ok {
				r.tf = append(r.tf, tf)
			} else if a.value == "none" {
				r.tf = r.tf[:0]
			} else if !identityTransforms[a.value] {
				return nil, "transformation " + a.value, nil
			}
		}
	}
	vars := d.args[0]
	if strings.HasPrefix(vars, "TX:") {
		return nil, "control", nil // paranoia-level gates and score bookkeeping
	}
	if r.Class == "" || r.PL == 0 {
		return nil, "no attack class or paranoia tag", nil
	}
	for _, v := range strings.Split(vars, "|") {
		neg := strings.HasPrefix(v, "!")
		v = strings.TrimPrefix(v, "!")
		name, sel, hasSel := strings.Cut(v, ":")
		if name == "XML" {
			r.targets |= TXML
			continue
		}
		if name == "REQUEST_HEADERS" && hasSel {
			h := strings.ToLower(sel)
			if strings.Contains(h, "filename") || h == "x_filename" || h == "x.filename" {
				r.targets |= TFiles
				continue
			}
			if neg {
				if r.hdrExcl == nil {
					r.hdrExcl = map[string]bool{}
				}
				r.hdrExcl[h] = true
				continue
			}
			if r.hdrIncl == nil {
				r.hdrIncl = map[string]bool{}
			}
			r.hdrIncl[h] = true
			r.targets |= THeaders
			continue
		}
		if neg {
			continue // exclusions of single cookies / argument names
		}
		t, ok := targetNames[name]
		if !ok {
			continue // variables with no counterpart in a request value (QUERY_STRING is its arguments)
		}
		if t == THeaders && !hasSel {
			r.hdrIncl = nil // all headers
			r.targets |= THeaders
			r.hdrAll()
			continue
		}
		r.targets |= t
	}
	if r.targets == 0 {
		return nil, "no request-value target", nil
	}
	if r.targets&TPath != 0 && r.Class == "path_traversal" {
		r.targets |= TPathFiles
	}
	op, arg, neg := splitOp(d.args[1])
	if neg {
		return nil, "negated operator", nil
	}
	if err := r.setOp(fsys, op, arg); err != nil {
		return nil, "", fmt.Errorf("crs: %s:%d: rule %d: %w", d.file, d.line, r.ID, err)
	}
	if r.op == 0 {
		return nil, "operator @" + op, nil
	}
	for c := d.chained; c != nil; c = c.chained {
		l, skip, err := compileLink(c)
		if err != nil {
			return nil, "", fmt.Errorf("crs: %s:%d: rule %d chain: %w", c.file, c.line, r.ID, err)
		}
		if skip != "" {
			return nil, skip, nil
		}
		r.links = append(r.links, l)
	}
	// rules are grouped by the text their prefilter scans: lower-casing
	// makes no difference to the case-folded automaton, so it is applied
	// per rule, before the operator
	var keys []string
	var tf []transform
	for _, t := range r.tf {
		if t == tLowercase {
			r.lower = true
			continue
		}
		tf = append(tf, t)
		keys = append(keys, strconv.Itoa(int(t)))
	}
	r.tf = tf
	r.chainKey = strings.Join(keys, ",")
	// the gates are judged on the text before lower-casing (t:lowercase,
	// and cmdLine, which lower-cases too) where the case of letters is
	// all a chain changes (word texts): they allow either case
	if r.lower || slices.Contains(r.tf, tCmdLine) {
		for i := range r.clauses {
			r.clauses[i].set = lowerPreimage(r.clauses[i].set)
		}
	}
	if len(r.clauses) > ruleClauses {
		r.clauses = r.clauses[:ruleClauses]
	}
	return r, "", nil
}

// hdrAll marks a rule on every header (hdrIncl nil).
func (r *Rule) hdrAll() {}

func splitOp(s string) (op, arg string, neg bool) {
	if strings.HasPrefix(s, "!") {
		neg = true
		s = s[1:]
	}
	if !strings.HasPrefix(s, "@") {
		return "rx", s, neg
	}
	op, arg, _ = strings.Cut(s[1:], " ")
	return op, arg, neg
}

func (r *Rule) setOp(fsys fs.FS, op, arg string) error {
	switch op {
	case "rx":
		re, err := re2.Compile(arg)
		if err != nil {
			return err
		}
		ast, err := syntax.Parse(arg, syntax.Perl)
		if err != nil {
			return err
		}
		ast = ast.Simplify()
		r.op, r.re, r.arg, r.lits = opRx, re, arg, requiredLiterals(ast)
		r.clauses = clausesOf(ast)
		for i := range r.tiers {
			if rc := restrict(ast, tierBytes[i]); rc == nil {
				r.tiers[i].never = true
			} else {
				r.tiers[i].lits = requiredLiterals(rc)
			}
		}
	case "pm", "pmf", "pmFromFile":
		var phrases []string
		if op == "pm" {
			phrases = strings.Fields(arg)
		} else {
			raw, err := fs.ReadFile(fsys, path.Join("@owasp_crs", arg))
			if err != nil {
				return err
			}
			for _, l := range strings.Split(string(raw), "\n") {
				l = strings.TrimSpace(l)
				if l != "" && !strings.HasPrefix(l, "#") {
					phrases = append(phrases, lowerASCII(l))
				}
			}
		}
		for i := range phrases {
			phrases[i] = lowerASCII(phrases[i])
		}
		r.op, r.lits, r.arg = opPm, phrases, arg
		r.pm, r.pmID = phraseMatcher(phrases)
		r.clauses = phraseGate(phrases)
		for i := range r.tiers {
			r.tiers[i].lits = phrasesWithin(phrases, tierBytes[i])
			r.tiers[i].never = len(r.tiers[i].lits) == 0
		}
	case "detectSQLi":
		r.op = opDetectSQLi
		r.clauses = []clause{{set: sqliGate, n: 1}}
		for i := range r.tiers {
			r.tiers[i].never = !sqliGate.meets(tierBytes[i])
		}
	case "detectXSS":
		r.op = opDetectXSS
		r.clauses = []clause{{set: xssGate, n: 1}}
		for i := range r.tiers {
			r.tiers[i].never = !xssGate.meets(tierBytes[i])
		}
	case "contains", "beginsWith", "endsWith", "streq":
		r.op = map[string]opKind{"contains": opContains, "beginsWith": opBeginsWith, "endsWith": opEndsWith, "streq": opStreq}[op]
		r.arg = arg
		if op == "contains" && arg != "" {
			r.lits = []string{lowerASCII(arg)}
		}
		var cs []clause
		for i := 0; i < len(arg); i++ {
			var b bset
			b.add(arg[i])
			cs = append(cs, clause{set: b, n: 1})
		}
		r.clauses = best(cs, ruleClauses, true)
		for i := range r.tiers {
			if ab := bytesOf(arg); !ab.within(tierBytes[i]) {
				r.tiers[i].never = true
			}
			r.tiers[i].lits = r.lits
		}
	}
	return nil
}

func compileLink(d *directive) (link, string, error) {
	var l link
	switch d.args[0] {
	case "MATCHED_VAR", "MATCHED_VARS", "MATCHED_VARS|XML:/*|XML://@*":
		l.src = "value"
	case "TX:0":
		l.src = "tx0"
	case "TX:1":
		l.src = "tx1"
	default:
		return l, "chain on " + d.args[0], nil
	}
	for _, a := range splitActions(d.args[2]) {
		switch a.name {
		case "t":
			if tf, ok := transformNames[a.value]; ok {
				l.tf = append(l.tf, tf)
			} else if a.value == "none" {
				l.tf = l.tf[:0]
			} else if !identityTransforms[a.value] {
				return l, "chain transformation " + a.value, nil
			}
		case "capture":
			l.setCap = true
		}
	}
	op, arg, neg := splitOp(d.args[1])
	l.neg, l.arg, l.argCap = neg, arg, -1
	if strings.Contains(arg, "%{") {
		// the only macros of the attack files' chains: a capture of the
		// rule (942130: TX:1 "@streq %{TX.2}", both sides of a tautology)
		n, ok := txMacro(arg)
		if !ok || op == "rx" || op == "pm" {
			return l, "chain macro " + arg, nil
		}
		l.argCap = n
	}
	switch op {
	case "rx":
		re, err := re2.Compile(arg)
		if err != nil {
			return l, "", err
		}
		l.op, l.re = opRx, re
	case "pm":
		l.op = opPm
		for _, p := range strings.Fields(arg) {
			l.phr = append(l.phr, lowerASCII(p))
		}
	case "beginsWith":
		l.op = opBeginsWith
	case "endsWith":
		l.op = opEndsWith
	case "contains":
		l.op = opContains
	case "streq":
		l.op = opStreq
	default:
		return l, "chain operator @" + op, nil
	}
	return l, "", nil
}

func (r *Rule) headerOK(target Target, header string) bool {
	if target != THeaders {
		return true
	}
	if r.hdrExcl[header] {
		return false
	}
	return r.hdrIncl == nil || r.hdrIncl[header]
}

// eval runs the rule's operator on t (the transformed text; raw is the
// value before the rule's transformations) and its chain.
// lib (nil: none) remembers libinjection's verdicts.
func (r *Rule) eval(t, raw string, lib *LibMemo) (int, int, bool) {
	start, end := -1, -1
	var caps []string
	switch r.op {
	case opRx:
		if r.capture && len(r.links) > 0 {
			// most runs find no match: the DFA says so several times
			// faster than the submatch engines (the match, and so its
			// groups, are the same either way)
			if !r.re.MatchString(t) {
				return 0, 0, false
			}
			m := r.re.FindStringSubmatchIndex(t)
			if m == nil {
				return 0, 0, false
			}
			start, end = m[0], m[1]
			for i := 0; i+1 < len(m); i += 2 {
				if m[i] >= 0 {
					caps = append(caps, t[m[i]:m[i+1]])
				} else {
					caps = append(caps, "")
				}
			}
		} else {
			m := r.re.FindStringIndex(t)
			if m == nil {
				return 0, 0, false
			}
			start, end = m[0], m[1]
		}
	case opPm:
		// the prefilter found a phrase of this rule in t; the span is
		// that of the first phrase (in list order) present, at its first
		// occurrence: one pass of the rule's automaton
		if r.pm == nil {
			lt := lowerASCII(t)
			for _, p := range r.lits {
				if i := strings.Index(lt, p); i >= 0 {
					start, end = i, i+len(p)
					break
				}
			}
			if start < 0 {
				return 0, 0, false
			}
			break
		}
		best, at := int32(-1), 0
		for i, st := 0, 0; i < len(t); i++ {
			st = r.pm.Next(st, t[i])
			if !r.pm.HasOut(st) {
				continue
			}
			for _, id := range r.pm.Out(st) {
				if j := r.pmID[id]; best < 0 || j < best {
					best, at = j, i+1-r.pm.Len(id)
				}
			}
		}
		if best < 0 {
			return 0, 0, false
		}
		start, end = at, at+len(r.lits[best])
	case opDetectSQLi:
		if ok, _ := lib.IsSQLi(t); !ok {
			return 0, 0, false
		}
	case opDetectXSS:
		if !lib.IsXSS(t) {
			return 0, 0, false
		}
	case opContains:
		i := strings.Index(t, r.arg)
		if i < 0 {
			return 0, 0, false
		}
		start, end = i, i+len(r.arg)
	case opBeginsWith:
		if !strings.HasPrefix(t, r.arg) {
			return 0, 0, false
		}
	case opEndsWith:
		if !strings.HasSuffix(t, r.arg) {
			return 0, 0, false
		}
	case opStreq:
		if t != r.arg {
			return 0, 0, false
		}
	}
	for _, l := range r.links {
		var src string
		switch l.src {
		case "value":
			src = raw
		case "tx0":
			if len(caps) > 0 {
				src = caps[0]
			}
		case "tx1":
			if len(caps) > 1 {
				src = caps[1]
			}
		}
		for _, tf := range l.tf {
			src = tf.apply(src)
		}
		arg := l.arg
		if l.argCap >= 0 {
			arg = ""
			if l.argCap < len(caps) {
				arg = caps[l.argCap]
			}
		}
		ok := false
		switch l.op {
		case opRx:
			if l.setCap {
				if m := l.re.FindStringSubmatch(src); m != nil {
					ok = true
					caps = m
				}
			} else {
				ok = l.re.MatchString(src)
			}
		case opPm:
			ls := lowerASCII(src)
			for _, p := range l.phr {
				if strings.Contains(ls, p) {
					ok = true
					break
				}
			}
		case opBeginsWith:
			ok = strings.HasPrefix(src, arg)
		case opEndsWith:
			ok = strings.HasSuffix(src, arg)
		case opContains:
			ok = strings.Contains(src, arg)
		case opStreq:
			ok = src == arg
		}
		if ok == l.neg {
			return 0, 0, false
		}
	}
	return start, end, true
}

// phraseMatcher compiles the phrases of an @pm rule (lower-case) into one
// automaton over the distinct ones, with each one's first index (nil when
// a phrase is empty — it is in every text — or the phrases hold too many
// distinct bytes for the automaton: the phrases are then tried in turn).
func phraseMatcher(phrases []string) (*ac.Matcher, []int32) {
	first := map[string]int32{}
	var uniq []string
	var ids []int32
	var bytes [256]bool
	nb := 0
	for i, p := range phrases {
		if p == "" {
			return nil, nil
		}
		for j := 0; j < len(p); j++ {
			if !bytes[p[j]] {
				bytes[p[j]] = true
				nb++
			}
		}
		if _, ok := first[p]; ok {
			continue
		}
		first[p] = int32(i)
		uniq = append(uniq, p)
		ids = append(ids, int32(i))
	}
	if nb > 200 {
		return nil, nil
	}
	return ac.New(uniq, true), ids
}

// txMacro reads "%{TX.n}" (n a digit, TX in any case).
func txMacro(arg string) (int, bool) {
	if len(arg) != 7 || !strings.HasPrefix(arg, "%{") || !strings.EqualFold(arg[2:5], "tx.") || arg[5] < '0' || arg[5] > '9' || arg[6] != '}' {
		return 0, false
	}
	return int(arg[5] - '0'), true
}

// Rule returns the compiled rule with the id, nil when there is none.
func (s *Set) Rule(id int) *Rule { return s.byID[id] }

// Level is the paranoia level CRS tags rule id with, whether Palisade
// compiled the rule or skipped it (0: no such tagged rule).
func (s *Set) Level(id int) int { return s.levels[id] }
