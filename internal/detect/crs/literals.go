package crs

import (
	"regexp/syntax"
	"slices"
	"sort"
	"strings"
	"unicode/utf8"
)

// Virtual bytes around the text the prefilter scans: the automaton reads
// textStart, the text, then textEnd, so that a literal can say "at the
// start" (^) or "at the end" ($) of the text. A text holding these bytes
// itself only adds candidates.
const (
	textStart = "\x02"
	textEnd   = "\x03"
)

// Prefilter literals: for a regular expression, a set of strings such that
// every match contains at least one of them (ASCII case folded), found by
// walking the parsed expression. A nil set means no such set was found
// (the regex runs on every value of its targets).
const (
	maxExact = 64   // strings in an exact set (cross products stop there)
	maxLit   = 32   // bytes of a literal in an exact set
	maxReq   = 4096 // literals in a required set
	// a literal and the beginnings of what follows it: up to prefixLen
	// bytes, at most maxCross literals
	prefixLen = 4
	maxCross  = 512
)

type litInfo struct {
	exact []string // every string the node matches (nil: too many / infinite)
	req   []string // every match contains one of these (nil: none known)
}

// requiredLiterals returns the prefilter set of a parsed, simplified
// expression (lower-cased), nil when there is none.
func requiredLiterals(re *syntax.Regexp) []string {
	a := &litAnalyzer{pre: map[preKey][]pfx{}}
	li := a.analyze(re)
	set := li.req
	if li.exact != nil && (set == nil || better(li.exact, set)) {
		set = li.exact
	}
	return normalizeReq(set)
}

func normalizeReq(set []string) []string {
	if set == nil {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for _, s := range set {
		if strings.Trim(s, textStart+textEnd) == "" {
			return nil // found in every text
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	// drop literals that contain a shorter one of the set
	sort.Slice(out, func(i, j int) bool {
		if len(out[i]) != len(out[j]) {
			return len(out[i]) < len(out[j])
		}
		return out[i] < out[j]
	})
	if len(out) <= 1500 {
		kept := out[:0:0]
		for _, s := range out {
			red := false
			for _, k := range kept {
				if strings.Contains(s, k) {
					red = true
					break
				}
			}
			if !red {
				kept = append(kept, s)
			}
		}
		out = kept
	}
	return out
}

func minLen(set []string) int {
	m := -1
	for _, s := range set {
		if m < 0 || len(s) < m {
			m = len(s)
		}
	}
	if m < 0 {
		return 0
	}
	return m
}

// selectivity of a required set: that of its least selective literal —
// its length, except that a single letter, digit or space (in most
// values) counts less than a single punctuation or control byte.
func selectivity(set []string) float64 {
	m := -1.0
	for _, s := range set {
		w := float64(len(s))
		if strings.Trim(s, textStart+textEnd) == "" {
			w = 0
		} else if len(s) == 1 {
			c := s[0]
			if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == ' ' || c == '.' || c == ',' || c == '-' {
				w = 0.2
			} else {
				w = 1.5
			}
		}
		if m < 0 || w < m {
			m = w
		}
	}
	if m < 0 {
		return 0
	}
	return m
}

// better: a is a more selective required set than b (more selective
// weakest literal, then fewer literals).
func better(a, b []string) bool {
	if b == nil {
		return a != nil && minLen(a) > 0
	}
	if a == nil || minLen(a) == 0 {
		return false
	}
	sa, sb := selectivity(a), selectivity(b)
	if sa != sb {
		return sa > sb
	}
	return len(a) < len(b)
}

func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 32
		}
	}
	return string(b)
}

func runesLiteral(rs []rune, fold bool) (string, bool) {
	var b strings.Builder
	for _, r := range rs {
		if fold && r >= utf8.RuneSelf && strings.ToLower(string(r)) != strings.ToUpper(string(r)) {
			return "", false // a non-ASCII letter folds to forms the ASCII folding of the automaton misses
		}
		b.WriteRune(r)
	}
	return lowerASCII(b.String()), true
}

func cross(a, b []string) []string {
	out := make([]string, 0, len(a)*len(b))
	for _, x := range a {
		for _, y := range b {
			out = append(out, x+y)
		}
	}
	return out
}

func dedupe(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}

func fits(set []string) bool {
	if len(set) > maxExact {
		return false
	}
	for _, s := range set {
		if len(s) > maxLit {
			return false
		}
	}
	return true
}

// litAnalyzer remembers the prefix sets it computed (by node and length).
type litAnalyzer struct {
	pre map[preKey][]pfx
}

type preKey struct {
	re *syntax.Regexp
	k  int
}

func (a *litAnalyzer) analyze(re *syntax.Regexp) litInfo {
	fold := re.Flags&syntax.FoldCase != 0
	switch re.Op {
	case syntax.OpLiteral:
		if s, ok := runesLiteral(re.Rune, fold); ok {
			return litInfo{exact: []string{s}}
		}
		return litInfo{}
	case syntax.OpCharClass:
		// pairs of ranges; small ASCII classes become exact sets
		var set []string
		n := 0
		rs := asciiFoldClass(re.Rune)
		for i := 0; i+1 < len(rs); i += 2 {
			lo, hi := rs[i], rs[i+1]
			if hi >= utf8.RuneSelf {
				return litInfo{}
			}
			n += int(hi-lo) + 1
			if n > 2*maxExact {
				return litInfo{}
			}
			for r := lo; r <= hi; r++ {
				set = append(set, lowerASCII(string(r)))
			}
		}
		set = dedupe(set)
		if len(set) == 0 || len(set) > 12 {
			return litInfo{}
		}
		return litInfo{exact: set}
	case syntax.OpBeginText:
		return litInfo{exact: []string{textStart}}
	case syntax.OpEndText:
		return litInfo{exact: []string{textEnd}}
	case syntax.OpBeginLine:
		return litInfo{exact: []string{textStart, "\n"}}
	case syntax.OpEndLine:
		return litInfo{exact: []string{textEnd, "\n"}}
	case syntax.OpEmptyMatch, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return litInfo{exact: []string{""}}
	case syntax.OpCapture:
		return a.analyze(re.Sub[0])
	case syntax.OpQuest:
		c := a.analyze(re.Sub[0])
		if c.exact != nil && len(c.exact)+1 <= maxExact {
			return litInfo{exact: dedupe(append(append([]string{}, c.exact...), ""))}
		}
		return litInfo{}
	case syntax.OpStar:
		return litInfo{}
	case syntax.OpPlus:
		c := a.analyze(re.Sub[0])
		return litInfo{req: reqOf(c)}
	case syntax.OpRepeat:
		c := a.analyze(re.Sub[0])
		if re.Min == 0 {
			return litInfo{}
		}
		if re.Min == 1 && re.Max == 1 {
			return c
		}
		return litInfo{req: reqOf(c)}
	case syntax.OpConcat:
		cur := []string{""}
		all := true
		var best []string
		consider := func(set []string) {
			if set != nil && minLen(set) > 0 && len(set) <= maxReq && better(set, best) {
				best = set
			}
		}
		for _, sub := range re.Sub {
			c := a.analyze(sub)
			if c.exact != nil && len(cur)*len(c.exact) <= maxExact {
				if x := cross(cur, c.exact); fits(x) {
					cur = dedupe(x)
					continue
				}
			}
			all = false
			consider(cur)
			consider(c.req)
			consider(c.exact)
			// what precedes, followed by how the part's matches begin
			// (up to a literal of prefixLen bytes)
			if n := minLen(cur); n > 0 && n < prefixLen {
				for k := prefixLen - n; k >= 1; k-- {
					if ps := a.prefixes(sub, k); ps != nil && len(cur)*len(ps) <= maxCross {
						consider(dedupe(cross(cur, ps)))
						break
					}
				}
			}
			if c.exact != nil && fits(c.exact) {
				cur = c.exact
			} else {
				cur = []string{""}
			}
		}
		consider(cur)
		if all {
			return litInfo{exact: cur, req: best}
		}
		return litInfo{req: best}
	case syntax.OpAlternate:
		var exact, req []string
		exactOK, reqOK := true, true
		for _, sub := range re.Sub {
			c := a.analyze(sub)
			if exactOK {
				if c.exact != nil && len(exact)+len(c.exact) <= maxExact {
					exact = append(exact, c.exact...)
				} else {
					exactOK = false
				}
			}
			if reqOK {
				if r := reqOf(c); r == nil {
					reqOK = false
				} else if req = append(req, r...); len(req) > maxReq {
					reqOK = false
				}
			}
			if !exactOK && !reqOK {
				return litInfo{}
			}
		}
		out := litInfo{}
		if exactOK {
			out.exact = dedupe(exact)
		}
		if reqOK {
			out.req = dedupe(req)
		}
		return out
	}
	return litInfo{}
}

// reqOf is the required set of a node: its required literals, else its
// exact strings (nil when they include the empty string).
func reqOf(c litInfo) []string {
	var set []string
	if c.req != nil {
		set = c.req
	}
	if c.exact != nil && (set == nil || better(c.exact, set)) {
		set = c.exact
	}
	if set == nil || minLen(set) == 0 {
		return nil
	}
	return set
}

// prefixes returns strings of at most k bytes such that every match of re
// begins with one of them — or is one of them, when shorter (nil: unknown
// or too many). Lower-cased, ASCII folded like the literals.
func (a *litAnalyzer) prefixes(re *syntax.Regexp, k int) []string {
	ps := a.prefixSet(re, k)
	if ps == nil {
		return nil
	}
	out := make([]string, 0, len(ps))
	for _, p := range ps {
		if p.s == "" {
			return nil // a match may be empty: nothing follows for sure
		}
		out = append(out, p.s)
	}
	return dedupe(out)
}

// pfx is a prefix of the matches of a node; full: the whole match.
type pfx struct {
	s    string
	full bool
}

const maxPrefixes = 512

func (a *litAnalyzer) prefixSet(re *syntax.Regexp, k int) []pfx {
	key := preKey{re, k}
	if ps, ok := a.pre[key]; ok {
		return ps
	}
	ps := a.prefixSetOf(re, k)
	a.pre[key] = ps
	return ps
}

func (a *litAnalyzer) prefixSetOf(re *syntax.Regexp, k int) []pfx {
	fold := re.Flags&syntax.FoldCase != 0
	switch re.Op {
	case syntax.OpLiteral:
		s, ok := runesLiteral(re.Rune, fold)
		if !ok {
			return nil
		}
		if len(s) > k {
			return []pfx{{s: s[:k]}}
		}
		return []pfx{{s: s, full: true}}
	case syntax.OpCharClass:
		li := a.analyze(re)
		if li.exact == nil {
			return nil
		}
		out := make([]pfx, 0, len(li.exact))
		for _, s := range li.exact {
			out = append(out, pfx{s: s, full: true})
		}
		return out
	case syntax.OpEmptyMatch, syntax.OpWordBoundary, syntax.OpNoWordBoundary, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText:
		return []pfx{{full: true}}
	case syntax.OpCapture:
		return a.prefixSet(re.Sub[0], k)
	case syntax.OpQuest:
		c := a.prefixSet(re.Sub[0], k)
		if c == nil {
			return nil
		}
		return append(c, pfx{full: true})
	case syntax.OpStar, syntax.OpPlus, syntax.OpRepeat:
		if re.Op == syntax.OpRepeat && re.Min == 1 && re.Max == 1 {
			return a.prefixSet(re.Sub[0], k)
		}
		c := a.prefixSet(re.Sub[0], k)
		if c == nil {
			return nil
		}
		out := make([]pfx, 0, len(c)+1)
		for _, p := range c {
			out = append(out, pfx{s: p.s}) // more repetitions may follow
		}
		if re.Op == syntax.OpStar || re.Op == syntax.OpRepeat && re.Min == 0 {
			out = append(out, pfx{full: true})
		}
		return out
	case syntax.OpConcat:
		cur := []pfx{{full: true}}
		for _, sub := range re.Sub {
			open := false
			for _, p := range cur {
				if p.full && len(p.s) < k {
					open = true
					break
				}
			}
			if !open {
				break
			}
			var next []pfx
			for _, p := range cur {
				if !p.full || len(p.s) >= k {
					next = append(next, pfx{s: p.s})
					continue
				}
				c := a.prefixSet(sub, k-len(p.s))
				if c == nil {
					return nil
				}
				for _, q := range c {
					next = append(next, pfx{s: p.s + q.s, full: q.full})
				}
				if len(next) > maxPrefixes {
					return nil
				}
			}
			cur = dedupePfx(next)
		}
		return cur
	case syntax.OpAlternate:
		var out []pfx
		for _, sub := range re.Sub {
			c := a.prefixSet(sub, k)
			if c == nil {
				return nil
			}
			out = append(out, c...)
			if len(out) > maxPrefixes {
				return nil
			}
		}
		return dedupePfx(out)
	}
	return nil
}

func dedupePfx(ps []pfx) []pfx {
	seen := map[pfx]bool{}
	out := ps[:0:0]
	for _, p := range ps {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// The text the prefilter scans has U+017F (ſ), U+212A (Kelvin sign) and
// U+0130 (İ) replaced with s, k and i (prefilterText): case-insensitive
// expressions match ſ and K where they match s and k, and lower-casing
// turns K into k and İ into i, which the ASCII-folding automaton would
// not see. asciiFoldClass drops ſ and K from a class that has s or k,
// which they then stand for.
func asciiFoldClass(rs []rune) []rune {
	has := func(r rune) bool {
		for i := 0; i+1 < len(rs); i += 2 {
			if rs[i] <= r && r <= rs[i+1] {
				return true
			}
		}
		return false
	}
	var drop []rune
	if has(0x17f) && (has('s') || has('S')) {
		drop = append(drop, 0x17f)
	}
	if has(0x212a) && (has('k') || has('K')) {
		drop = append(drop, 0x212a)
	}
	if drop == nil {
		return rs
	}
	var out []rune
	for i := 0; i+1 < len(rs); i += 2 {
		lo, hi := rs[i], rs[i+1]
		for _, d := range drop {
			if lo <= d && d <= hi {
				if lo < d {
					out = append(out, lo, d-1)
				}
				lo = d + 1
			}
		}
		if lo <= hi {
			out = append(out, lo, hi)
		}
	}
	return out
}

var foldReplacer = strings.NewReplacer("\u017f", "s", "\u212a", "k", "\u0130", "i")

// prefilterText is t as the prefilter reads it (see asciiFoldClass); hi:
// t has a non-ASCII byte.
func prefilterText(t string, hi bool) string {
	if !hi || !(strings.Contains(t, "\u017f") || strings.Contains(t, "\u212a") || strings.Contains(t, "\u0130")) {
		return t
	}
	return foldReplacer.Replace(t)
}
