package crs

import (
	"math/bits"
	"regexp/syntax"
	"sort"
	"unicode"
	"unicode/utf8"
)

// Byte gates: for every rule, a few byte classes every match must contain
// (each with a minimum count), derived from the parsed regular expression
// (regexp/syntax), the @pm phrases or the operator's argument. A rule runs
// only on a text that has enough bytes of each of its classes; the gates
// are necessary conditions, so they never hide a match (FuzzMatchSound
// compares Match with every rule run on every text).
//
// Example: 942430 (twelve "special" characters) needs twelve bytes of
// !"#$%&'()*+-:;<=>?@[]^`{|}~; 942150 (SQL function names followed by a
// parenthesis) needs a '('; 941100 (libinjection XSS) needs '<' or '='.

// bset is a set of bytes.
type bset [4]uint64

func (s *bset) add(c byte)          { s[c>>6] |= 1 << (c & 63) }
func (s *bset) has(c byte) bool     { return s[c>>6]&(1<<(c&63)) != 0 }
func (s *bset) addSet(o *bset)      { s[0] |= o[0]; s[1] |= o[1]; s[2] |= o[2]; s[3] |= o[3] }
func (s *bset) meets(o *bset) bool  { return s[0]&o[0]|s[1]&o[1]|s[2]&o[2]|s[3]&o[3] != 0 }
func (s *bset) within(o *bset) bool { return s[0]&^o[0]|s[1]&^o[1]|s[2]&^o[2]|s[3]&^o[3] == 0 }
func (s *bset) empty() bool         { return s[0]|s[1]|s[2]|s[3] == 0 }

func (s *bset) addRange(lo, hi int) {
	for c := lo; c <= hi; c++ {
		s.add(byte(c))
	}
}

// highBytes: the bytes of non-ASCII UTF-8 (and of invalid UTF-8).
var highBytes = func() (s bset) { s.addRange(0x80, 0xff); return }()

func bytesOf(t string) (s bset) {
	for i := 0; i < len(t); i++ {
		s.add(t[i])
	}
	return
}

// clause: a match contains at least n bytes of set (an empty set: the
// rule cannot match at all).
type clause struct {
	set bset
	n   int
}

// byteWeight is a rough frequency of each byte in benign request values
// (letters and white space common, punctuation rare): it ranks clauses,
// the rarest first. It only decides which true clauses are kept, never
// whether one is true.
var byteWeight = func() (w [256]float64) {
	for c := 0; c < 256; c++ {
		switch {
		case c >= 'a' && c <= 'z':
			w[c] = 4
		case c >= 'A' && c <= 'Z':
			w[c] = 1.5
		case c >= '0' && c <= '9':
			w[c] = 2.5
		case c == ' ':
			w[c] = 8
		case c == '.' || c == ',' || c == '-' || c == '_' || c == ':' || c == '/':
			w[c] = 1.5
		case c == '@' || c == '=' || c == '&' || c == '?' || c == '+' || c == '%' || c == '#' || c == '!' || c == '\'' || c == '(' || c == ')' || c == '"' || c == '*':
			w[c] = 0.4
		case c >= 0x80:
			w[c] = 0.1
		case c == '\n' || c == '\t' || c == '\r':
			w[c] = 0.3
		case c < 0x20 || c == 0x7f:
			w[c] = 0.02
		default:
			w[c] = 0.15
		}
	}
	return
}()

func (c *clause) weight() float64 {
	if c.set.empty() {
		return -1
	}
	w := 0.0
	for k := 0; k < 4; k++ {
		for x := c.set[k]; x != 0; x &= x - 1 {
			w += byteWeight[k<<6|bits.TrailingZeros64(x)]
		}
	}
	return w / float64(c.n)
}

// clauses kept per node and per rule; clauses whose set weighs more than
// uselessWeight (most of the alphabet) say nothing.
const (
	maxClauses    = 6
	ruleClauses   = 3
	uselessWeight = 60
)

// best sorts cs rarest first, merges equal sets (their counts add: in a
// concatenation they are different bytes of the match), drops the useless
// ones and keeps at most k.
func best(cs []clause, k int, add bool) []clause {
	var out []clause
	for _, c := range cs {
		merged := false
		for i := range out {
			if out[i].set == c.set {
				if add {
					out[i].n += c.n
				} else if c.n > out[i].n {
					out[i].n = c.n
				}
				merged = true
				break
			}
		}
		if !merged {
			out = append(out, c)
		}
	}
	type weighed struct {
		c clause
		w float64
	}
	kept := make([]weighed, 0, len(out))
	for _, c := range out {
		if w := c.weight(); w <= uselessWeight {
			kept = append(kept, weighed{c, w})
		}
	}
	sort.SliceStable(kept, func(i, j int) bool { return kept[i].w < kept[j].w })
	if len(kept) > k {
		kept = kept[:k]
	}
	res := make([]clause, len(kept))
	for i := range kept {
		res[i] = kept[i].c
	}
	return res
}

// runeSet: the bytes a match of rune r (case folded when fold) starts or
// is made of: r itself when ASCII, else every high byte.
func runeSet(r rune, fold bool) bset {
	var s bset
	if r >= utf8.RuneSelf {
		return highBytes
	}
	s.add(byte(r))
	if fold {
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f >= utf8.RuneSelf {
				s.addSet(&highBytes)
			} else {
				s.add(byte(f))
			}
		}
	}
	return s
}

// classSet: the bytes of the runes of a character class (pairs of ranges).
func classSet(rs []rune) bset {
	var s bset
	for i := 0; i+1 < len(rs); i += 2 {
		lo, hi := rs[i], rs[i+1]
		if lo < utf8.RuneSelf {
			s.addRange(int(lo), int(min(hi, utf8.RuneSelf-1)))
		}
		if hi >= utf8.RuneSelf {
			s.addSet(&highBytes)
		}
	}
	return s
}

// clausesOf returns clauses every match of re must satisfy (nil: none
// known; a clause with an empty set: re matches nothing).
func clausesOf(re *syntax.Regexp) []clause {
	fold := re.Flags&syntax.FoldCase != 0
	switch re.Op {
	case syntax.OpNoMatch:
		return []clause{{n: 1}}
	case syntax.OpLiteral:
		var cs []clause
		for _, r := range re.Rune {
			cs = append(cs, clause{set: runeSet(r, fold), n: 1})
		}
		return best(cs, maxClauses, true)
	case syntax.OpCharClass:
		s := classSet(re.Rune)
		return best([]clause{{set: s, n: 1}}, maxClauses, true)
	case syntax.OpAnyCharNotNL, syntax.OpAnyChar:
		return nil
	case syntax.OpCapture:
		return clausesOf(re.Sub[0])
	case syntax.OpPlus:
		return clausesOf(re.Sub[0])
	case syntax.OpRepeat:
		if re.Min == 0 {
			return nil
		}
		cs := clausesOf(re.Sub[0])
		out := make([]clause, len(cs))
		for i, c := range cs {
			out[i] = clause{set: c.set, n: c.n * re.Min}
		}
		return out
	case syntax.OpConcat:
		var cs []clause
		for _, sub := range re.Sub {
			cs = append(cs, clausesOf(sub)...)
		}
		return best(cs, maxClauses, true)
	case syntax.OpAlternate:
		var alts [][]clause
		for _, sub := range re.Sub {
			c := clausesOf(sub)
			if len(c) == 0 {
				return nil // an alternative without any requirement
			}
			if len(c) == 1 && c[0].set.empty() {
				continue // an alternative that matches nothing
			}
			alts = append(alts, c)
		}
		if len(alts) == 0 {
			return []clause{{n: 1}}
		}
		// any one required clause of each alternative, united, is
		// required of the alternation
		var cs []clause
		for j := 0; j < maxClauses; j++ {
			var u clause
			u.n = -1
			for _, a := range alts {
				c := a[min(j, len(a)-1)]
				u.set.addSet(&c.set)
				if u.n < 0 || c.n < u.n {
					u.n = c.n
				}
			}
			cs = append(cs, u)
		}
		return best(cs, maxClauses, false)
	}
	// empty-width assertions, empty match, star, quest: nothing required
	return nil
}

// restrict returns re for texts whose bytes all lie in c: character
// classes and literals keep only what c allows, parts that then cannot
// match are dropped (an alternative), emptied (an optional part) or make
// the whole expression fail (nil). Every match of re in such a text is a
// match of the result, so the literals the result requires are a sound
// prefilter for those texts.
func restrict(re *syntax.Regexp, c *bset) *syntax.Regexp {
	fold := re.Flags&syntax.FoldCase != 0
	switch re.Op {
	case syntax.OpNoMatch:
		return nil
	case syntax.OpLiteral:
		for _, r := range re.Rune {
			if !runeIn(r, fold, c) {
				return nil
			}
		}
		return re
	case syntax.OpCharClass:
		var rs []rune
		for i := 0; i+1 < len(re.Rune); i += 2 {
			lo, hi := re.Rune[i], re.Rune[i+1]
			for r := lo; r <= hi && r < utf8.RuneSelf; r++ {
				if c.has(byte(r)) {
					if n := len(rs); n > 0 && rs[n-1] == r-1 {
						rs[n-1] = r
					} else {
						rs = append(rs, r, r)
					}
				}
			}
			if hi >= utf8.RuneSelf && c.meets(&highBytes) {
				rs = append(rs, max(lo, utf8.RuneSelf), hi)
			}
		}
		if len(rs) == 0 {
			return nil
		}
		return &syntax.Regexp{Op: syntax.OpCharClass, Flags: re.Flags, Rune: rs}
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		var rs []rune
		for r := rune(0); r < utf8.RuneSelf; r++ {
			if c.has(byte(r)) && !(re.Op == syntax.OpAnyCharNotNL && r == '\n') {
				rs = append(rs, r, r)
			}
		}
		if c.meets(&highBytes) {
			rs = append(rs, utf8.RuneSelf, unicode.MaxRune)
		}
		if len(rs) == 0 {
			return nil
		}
		return &syntax.Regexp{Op: syntax.OpCharClass, Flags: re.Flags, Rune: rs}
	case syntax.OpCapture, syntax.OpPlus:
		sub := restrict(re.Sub[0], c)
		if sub == nil {
			return nil
		}
		return &syntax.Regexp{Op: re.Op, Flags: re.Flags, Sub: []*syntax.Regexp{sub}, Cap: re.Cap, Name: re.Name}
	case syntax.OpStar, syntax.OpQuest:
		sub := restrict(re.Sub[0], c)
		if sub == nil {
			return &syntax.Regexp{Op: syntax.OpEmptyMatch}
		}
		return &syntax.Regexp{Op: re.Op, Flags: re.Flags, Sub: []*syntax.Regexp{sub}}
	case syntax.OpRepeat:
		sub := restrict(re.Sub[0], c)
		if sub == nil {
			if re.Min == 0 {
				return &syntax.Regexp{Op: syntax.OpEmptyMatch}
			}
			return nil
		}
		return &syntax.Regexp{Op: re.Op, Flags: re.Flags, Sub: []*syntax.Regexp{sub}, Min: re.Min, Max: re.Max}
	case syntax.OpConcat:
		subs := make([]*syntax.Regexp, 0, len(re.Sub))
		for _, s := range re.Sub {
			r := restrict(s, c)
			if r == nil {
				return nil
			}
			subs = append(subs, r)
		}
		return &syntax.Regexp{Op: re.Op, Flags: re.Flags, Sub: subs}
	case syntax.OpAlternate:
		var subs []*syntax.Regexp
		for _, s := range re.Sub {
			if r := restrict(s, c); r != nil {
				subs = append(subs, r)
			}
		}
		switch len(subs) {
		case 0:
			return nil
		case 1:
			return subs[0]
		}
		return &syntax.Regexp{Op: re.Op, Flags: re.Flags, Sub: subs}
	}
	return re // empty-width assertions and the empty match
}

// runeIn: rune r (any of its case variants when fold) can be made of
// bytes of c — for a literal, the rune as written must be (a variant is
// enough when folding).
func runeIn(r rune, fold bool, c *bset) bool {
	ok := func(r rune) bool {
		if r >= utf8.RuneSelf {
			return c.meets(&highBytes)
		}
		return c.has(byte(r))
	}
	if ok(r) {
		return true
	}
	if fold {
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if ok(f) {
				return true
			}
		}
	}
	return false
}

// Tiers of texts by their bytes, each with its own prefilter literals:
// the rules restricted to texts made of the tier's bytes only. A text is
// matched with the literals of the first tier that holds all its bytes.
const (
	tierWord = iota
	tierCommon
	numTiers
)

type tierLits struct {
	lits  []string
	never bool
}

var tierBytes = [numTiers]*bset{&wordBytes, &commonBytes}

// wordBytes: identifiers, numbers, tokens, dates, e-mail addresses, plain
// paths — letters, digits and _ . : @ + = / -. On such a text (see
// wordText) no transformation of the compiled chains changes anything but
// the case of letters, which the prefilter ignores: one automaton over the
// literals of every chain scans it once.
var wordBytes = func() (s bset) {
	s.addRange('a', 'z')
	s.addRange('A', 'Z')
	s.addRange('0', '9')
	for _, c := range []byte("_.:@+=/-") {
		s.add(c)
	}
	return
}()

// commonBytes: the bytes most benign values are made of — letters, digits,
// space, non-ASCII text and the punctuation of names, numbers, dates,
// e-mail addresses and URLs. The quoting, grouping, redirection,
// substitution and escaping characters attack syntax is built from
// (" ' ` \ $ ( ) [ ] { } < > | ; ^) and control characters are not in
// it: on a text without them many rules reduce to long literals (932230's
// command names, spelt with optional quotes and $-expansions between the
// letters, become the plain names).
var commonBytes = func() (s bset) {
	s.addRange('a', 'z')
	s.addRange('A', 'Z')
	s.addRange('0', '9')
	for _, c := range []byte(" !#%&*+,-./:=?@_~") {
		s.add(c)
	}
	s.addSet(&highBytes)
	return
}()

// sqliGate: libinjection's SQLi fingerprints need two tokens, and a text
// of word characters ([A-Za-z0-9_]) is at most a number followed by one
// word (libinjection does not report "1 union" without more): a byte
// outside them is needed.
var sqliGate = func() (s bset) {
	s.addRange(0, 255)
	for c := 0; c < 256; c++ {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' {
			s[c>>6] &^= 1 << (c & 63)
		}
	}
	return
}()

// xssGate: libinjection's XSS verdicts come from tags, comments and
// doctypes (after a '<') or from an attribute value judged against its
// attribute's name (after a '=').
var xssGate = func() (s bset) { s.add('<'); s.add('='); return }()

// phraseGate: the clause of a phrase list (one byte of every phrase, the
// rarest, in both cases).
func phraseGate(phrases []string) []clause {
	var u bset
	for _, p := range phrases {
		if p == "" {
			return nil
		}
		bi := 0
		for i := 1; i < len(p); i++ {
			if byteWeight[p[i]] < byteWeight[p[bi]] {
				bi = i
			}
		}
		c := p[bi]
		u.add(c)
		if c >= 'a' && c <= 'z' {
			u.add(c - 32)
		}
	}
	return best([]clause{{set: u, n: 1}}, ruleClauses, true)
}

// phrasesWithin: the phrases made of bytes of c (in either case).
func phrasesWithin(phrases []string, c *bset) []string {
	var out []string
	for _, p := range phrases {
		ok := true
		for i := 0; i < len(p) && ok; i++ {
			b := p[i]
			ok = c.has(b) || b >= 'a' && b <= 'z' && c.has(b-32)
		}
		if ok {
			out = append(out, p)
		}
	}
	return out
}

// lowerPreimage widens a set of bytes of a lower-cased text to the bytes
// of the text before lower-casing: upper-case ASCII letters, and every
// non-ASCII byte when the set has a non-ASCII byte or 'i' or 'k' (U+0130
// lower-cases to "i̇", U+212A KELVIN SIGN to "k").
func lowerPreimage(s bset) bset {
	out := s
	for c := 'a'; c <= 'z'; c++ {
		if s.has(byte(c)) {
			out.add(byte(c - 32))
		}
	}
	if s.meets(&highBytes) || s.has('i') || s.has('k') {
		out.addSet(&highBytes)
	}
	return out
}
