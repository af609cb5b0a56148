package crs

import (
	"regexp/syntax"
	"sort"
	"strings"
	"unicode/utf8"
)

// Prefilter literals: for a regular expression, a set of strings such that
// every match contains at least one of them (ASCII case folded), found by
// walking the parsed expression. A nil set means no such set was found
// (the regex runs on every value of its targets).
const (
	maxExact = 64   // strings in an exact set (cross products stop there)
	maxLit   = 32   // bytes of a literal in an exact set
	maxReq   = 4096 // literals in a required set
)

type litInfo struct {
	exact []string // every string the node matches (nil: too many / infinite)
	req   []string // every match contains one of these (nil: none known)
}

// requiredLiterals returns the prefilter set of expr (lower-cased), nil
// when there is none.
func requiredLiterals(expr string) ([]string, error) {
	re, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil, err
	}
	li := analyze(re.Simplify())
	set := li.req
	if li.exact != nil && (set == nil || better(li.exact, set)) {
		set = li.exact
	}
	return normalizeReq(set), nil
}

func normalizeReq(set []string) []string {
	if set == nil {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for _, s := range set {
		if s == "" {
			return nil
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
		if len(s) == 1 {
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
	seen := map[string]bool{}
	out := s[:0:0]
	for _, x := range s {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	return out
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

func analyze(re *syntax.Regexp) litInfo {
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
		for i := 0; i+1 < len(re.Rune); i += 2 {
			lo, hi := re.Rune[i], re.Rune[i+1]
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
	case syntax.OpEmptyMatch, syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText, syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return litInfo{exact: []string{""}}
	case syntax.OpCapture:
		return analyze(re.Sub[0])
	case syntax.OpQuest:
		c := analyze(re.Sub[0])
		if c.exact != nil && len(c.exact)+1 <= maxExact {
			return litInfo{exact: dedupe(append(append([]string{}, c.exact...), ""))}
		}
		return litInfo{}
	case syntax.OpStar:
		return litInfo{}
	case syntax.OpPlus:
		c := analyze(re.Sub[0])
		return litInfo{req: reqOf(c)}
	case syntax.OpRepeat:
		c := analyze(re.Sub[0])
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
			c := analyze(sub)
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
			c := analyze(sub)
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
