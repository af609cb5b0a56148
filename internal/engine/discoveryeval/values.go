package discoveryeval

import (
	"fmt"
	"math"
	"math/rand/v2"
	"regexp"
	"regexp/syntax"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Kind is how the values of a path parameter were generated.
type Kind string

// Value kinds.
const (
	KindInt      Kind = "int"      // integers (type integer or number)
	KindUUID     Kind = "uuid"     // format uuid
	KindDate     Kind = "date"     // format date: YYYY-MM-DD
	KindDateTime Kind = "datetime" // format date-time: RFC 3339
	KindEmail    Kind = "email"    // format email
	KindEnum     Kind = "enum"     // the schema's enum (or a boolean's two values)
	KindExample  Kind = "example"  // shape-preserving mutations of the declared example
	KindPattern  Kind = "pattern"  // generated from the schema's pattern
	KindFree     Kind = "free"     // other strings: lower-case word-like tokens
)

// strength orders kinds from the weakest (free strings, which need
// cardinality before they become a parameter) to the strongest (typed
// ids templated on first sight): an operation is reported in the row of
// its weakest parameter.
func (k Kind) strength() int {
	switch k {
	case KindFree:
		return 0
	case KindPattern:
		return 1
	case KindExample:
		return 2
	case KindEnum:
		return 3
	case KindDate, KindDateTime:
		return 4
	case KindEmail:
		return 5
	case KindUUID:
		return 6
	case KindInt:
		return 7
	}
	return -1
}

// Row names of the report, in print order.
const (
	RowNoParams = "no params"
	RowInt      = "int"
	RowUUID     = "uuid"
	RowDate     = "date/datetime"
	RowEmail    = "email"
	RowExample  = "example"
	RowPattern  = "pattern"
	RowFree     = "free"
	RowEnum     = "enum"
)

// RowNames lists the rows in print order.
var RowNames = []string{RowNoParams, RowInt, RowUUID, RowDate, RowEmail, RowExample, RowPattern, RowFree, RowEnum}

// RowOf returns the row of an operation whose path parameters have these
// kinds: its weakest kind's ("no params" without parameters).
func RowOf(kinds []Kind) string {
	if len(kinds) == 0 {
		return RowNoParams
	}
	w := kinds[0]
	for _, k := range kinds[1:] {
		if k.strength() < w.strength() {
			w = k
		}
	}
	switch w {
	case KindInt:
		return RowInt
	case KindUUID:
		return RowUUID
	case KindDate, KindDateTime:
		return RowDate
	case KindEmail:
		return RowEmail
	case KindExample:
		return RowExample
	case KindPattern:
		return RowPattern
	case KindEnum:
		return RowEnum
	}
	return RowFree
}

// paramSpec is how the values of a path parameter are drawn: its kind and
// what its schema bounds them with. Its pool holds Config.Values distinct
// values (fewer when the kind has fewer: an enum, a narrow integer range,
// a short example).
type paramSpec struct {
	kind    Kind
	min     *float64 // integers
	max     *float64
	enum    []string
	example string
	pattern string
}

// key identifies the schema of a pool (deterministic: it seeds the pool's
// generator).
func (p paramSpec) key() string {
	f := func(v *float64) string {
		if v == nil {
			return "-"
		}
		return strconv.FormatFloat(*v, 'g', -1, 64)
	}
	return strings.Join([]string{string(p.kind), f(p.min), f(p.max), strings.Join(p.enum, "\x01"), p.example, p.pattern}, "\x00")
}

// makePool returns up to n distinct values for p, and the kind actually
// used with a note when the generator fell back (a pattern it cannot
// generate, an example without letters or digits, …).
func makePool(rng *rand.Rand, p paramSpec, n int) ([]string, Kind, string) {
	switch p.kind {
	case KindInt:
		return intPool(rng, p.min, p.max, n), KindInt, ""
	case KindUUID:
		return distinct(n, n*4, func() string { return randUUID(rng) }), KindUUID, ""
	case KindDate:
		return distinct(n, n*4, func() string { return randTime(rng).Format("2006-01-02") }), KindDate, ""
	case KindDateTime:
		return distinct(n, n*4, func() string { return randTime(rng).Format(time.RFC3339) }), KindDateTime, ""
	case KindEmail:
		return distinct(n, n*4, func() string { return randEmail(rng) }), KindEmail, ""
	case KindEnum:
		return distinct(len(p.enum), len(p.enum), func() string { return "" }, p.enum...), KindEnum, ""
	case KindExample:
		if strings.Contains(p.example, "/") {
			return freePool(rng, n), KindFree, "example contains '/': free strings instead (no multi-segment values are generated)"
		}
		if !strings.ContainsFunc(p.example, isAlnum) {
			return freePool(rng, n), KindFree, "example has no letter or digit to vary: free strings instead"
		}
		return distinct(n, n*20, func() string { return mutate(rng, p.example) }), KindExample, ""
	case KindPattern:
		g, why := compilePattern(p.pattern, false)
		if g == nil {
			return freePool(rng, n), KindFree, "pattern not generated (" + why + "): free strings instead"
		}
		vals := distinct(n, n*20, func() string { return g.generate(rng) })
		if len(vals) == 0 {
			return freePool(rng, n), KindFree, "pattern not generated (only empty or unmatched values): free strings instead"
		}
		return vals, KindPattern, ""
	}
	return freePool(rng, n), KindFree, ""
}

func isAlnum(r rune) bool { return r < utf8.RuneSelf && (isLetter(byte(r)) || r >= '0' && r <= '9') }

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// distinct calls gen until it has n distinct non-empty values or made
// tries attempts; seed values come first.
func distinct(n, tries int, gen func() string, seed ...string) []string {
	seen := make(map[string]bool, n)
	var out []string
	add := func(v string) {
		if v != "" && !seen[v] && len(out) < n {
			seen[v] = true
			out = append(out, v)
		}
	}
	for _, v := range seed {
		add(v)
	}
	for i := 0; i < tries && len(out) < n; i++ {
		add(gen())
	}
	return out
}

// intPool: integers within [min, max] when given, else 1..10^6 with mixed
// digit lengths (as many 2-digit as 6-digit ids).
func intPool(rng *rand.Rand, lo, hi *float64, n int) []string {
	var a, b int64
	switch {
	case lo != nil && hi != nil:
		a, b = int64(math.Ceil(*lo)), int64(math.Floor(*hi))
	case lo != nil:
		a = int64(math.Ceil(*lo))
		b = a + 1_000_000
	case hi != nil:
		b = int64(math.Floor(*hi))
		a = 1
		if b < 1 {
			a = b - 1_000_000
		}
	default:
		return distinct(n, n*8, func() string {
			d := 1 + rng.IntN(6) // digits
			lo := int64(math.Pow10(d - 1))
			return strconv.FormatInt(lo+rng.Int64N(9*lo), 10)
		})
	}
	if b < a {
		a, b = b, a
	}
	if b-a < int64(n) {
		out := make([]string, 0, b-a+1)
		for v := a; v <= b; v++ {
			out = append(out, strconv.FormatInt(v, 10))
		}
		return out
	}
	return distinct(n, n*8, func() string { return strconv.FormatInt(a+rng.Int64N(b-a+1), 10) })
}

func randUUID(rng *rand.Rand) string {
	var b [16]byte
	for i := range b {
		b[i] = byte(rng.UintN(256))
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func randTime(rng *rand.Rand) time.Time {
	from := time.Date(2015, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	to := time.Date(2026, 12, 31, 23, 59, 59, 0, time.UTC).Unix()
	return time.Unix(from+rng.Int64N(to-from), 0).UTC()
}

var domains = []string{"example.com", "mail.example.org", "corp.example.net", "example.test"}

func randEmail(rng *rand.Rand) string {
	local := word(rng, 3, 8)
	switch rng.IntN(3) {
	case 0:
		local += "." + word(rng, 3, 9)
	case 1:
		local += strconv.Itoa(rng.IntN(100))
	}
	return local + "@" + domains[rng.IntN(len(domains))]
}

const (
	consonants = "bcdfghjklmnprstvwz"
	vowels     = "aeiou"
)

// word returns a pronounceable lower-case word of lo..hi letters.
func word(rng *rand.Rand, lo, hi int) string {
	n := lo + rng.IntN(hi-lo+1)
	b := make([]byte, n)
	v := rng.IntN(2) == 0
	for i := range b {
		if v {
			b[i] = vowels[rng.IntN(len(vowels))]
		} else {
			b[i] = consonants[rng.IntN(len(consonants))]
		}
		v = !v
	}
	return string(b)
}

// freeValue: lower-case word-like tokens of 4–12 letters; a quarter carry
// a hyphen (two words), a fifth trailing digits.
func freeValue(rng *rand.Rand) string {
	switch r := rng.IntN(20); {
	case r < 5:
		a := word(rng, 3, 6)
		return a + "-" + word(rng, 3, 11-len(a))
	case r < 9:
		w := word(rng, 4, 9)
		return w + strconv.Itoa(rng.IntN(1000))
	default:
		return word(rng, 4, 12)
	}
}

func freePool(rng *rand.Rand, n int) []string {
	return distinct(n, n*8, func() string { return freeValue(rng) })
}

// mutate replaces each ASCII letter of ex with a random letter of the
// same case and each digit with a random digit; everything else is kept.
// A hexadecimal example (8 or more hex digits, a digit among them, every
// letter a–f: a UUID, a hash, an object id) keeps its letters within a–f,
// so that its values stay hexadecimal as the example's shape says.
func mutate(rng *rand.Rand, ex string) string {
	hex := isHexShaped(ex)
	b := []byte(ex)
	for i, c := range b {
		switch {
		case hex && c >= 'a' && c <= 'f':
			b[i] = 'a' + byte(rng.IntN(6))
		case hex && c >= 'A' && c <= 'F':
			b[i] = 'A' + byte(rng.IntN(6))
		case c >= 'a' && c <= 'z':
			b[i] = 'a' + byte(rng.IntN(26))
		case c >= 'A' && c <= 'Z':
			b[i] = 'A' + byte(rng.IntN(26))
		case c >= '0' && c <= '9':
			b[i] = '0' + byte(rng.IntN(10))
		}
	}
	return string(b)
}

// isHexShaped: 8 or more hexadecimal digits, at least one decimal digit,
// and no letter beyond f.
func isHexShaped(s string) bool {
	n, digit := 0, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			n++
			digit = true
		case c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F':
			n++
		case isLetter(c):
			return false
		}
	}
	return n >= 8 && digit
}

// patternGen generates strings from a simple regular expression: literals,
// character classes (negated ones too), '.', anchors, groups, alternation
// and repetition (*, +, ?, {n,m}). Unbounded and long repetitions are
// capped (at most 12 more than the minimum), characters are drawn from
// printable ASCII without '/' and space, and every value is checked
// against the pattern.
type patternGen struct {
	re      *syntax.Regexp
	full    *regexp.Regexp
	classes map[*syntax.Regexp]classSet // of the pattern's character classes
}

var bigRepeat = regexp.MustCompile(`\{[0-9]+,[0-9]+\}`)

// compilePattern returns the generator of a pattern, or nil and why it
// cannot generate it. A literal '/' is refused unless slash (path
// parameter values never span segments; response bodies may hold one).
func compilePattern(p string, slash bool) (*patternGen, string) {
	// Go bounds repetition counts to 1000: an upper bound beyond (".{1,2097152}",
	// a length limit) is read as unbounded, which changes nothing for the
	// short values generated.
	p = bigRepeat.ReplaceAllStringFunc(p, func(m string) string {
		lo, hi, _ := strings.Cut(m[1:len(m)-1], ",")
		if n, err := strconv.Atoi(hi); err == nil && n > 1000 && len(lo) < 4 {
			return "{" + lo + ",}"
		}
		return m
	})
	full, err := regexp.Compile(p)
	if err != nil {
		return nil, "not a Go regular expression"
	}
	re, err := syntax.Parse(p, syntax.Perl)
	if err != nil {
		return nil, "not a Go regular expression"
	}
	re = re.Simplify()
	if why := supported(re, slash); why != "" {
		return nil, why
	}
	pg := &patternGen{re: re, full: full, classes: map[*syntax.Regexp]classSet{}}
	var walk func(*syntax.Regexp)
	walk = func(r *syntax.Regexp) {
		if r.Op == syntax.OpCharClass {
			pg.classes[r] = newClassSet(r.Rune)
		}
		for _, s := range r.Sub {
			walk(s)
		}
	}
	walk(re)
	return pg, ""
}

func supported(re *syntax.Regexp, slash bool) string {
	switch re.Op {
	case syntax.OpLiteral:
		if !slash && strings.ContainsRune(string(re.Rune), '/') {
			return "a literal '/'"
		}
	case syntax.OpCharClass, syntax.OpAnyChar, syntax.OpAnyCharNotNL, syntax.OpEmptyMatch,
		syntax.OpBeginLine, syntax.OpEndLine, syntax.OpBeginText, syntax.OpEndText:
	case syntax.OpConcat, syntax.OpCapture, syntax.OpStar, syntax.OpPlus, syntax.OpQuest, syntax.OpRepeat, syntax.OpAlternate:
		for _, s := range re.Sub {
			if why := supported(s, slash); why != "" {
				return why
			}
		}
	default:
		return "uses " + opName(re.Op)
	}
	return ""
}

func opName(op syntax.Op) string {
	switch op {
	case syntax.OpWordBoundary, syntax.OpNoWordBoundary:
		return "word boundaries"
	case syntax.OpNoMatch:
		return "a class matching nothing"
	}
	return fmt.Sprintf("regexp op %d", op)
}

// generate returns a value matching the pattern ("" when the attempt
// failed: empty, or not matched).
func (g *patternGen) generate(rng *rand.Rand) string {
	return g.generateN(rng, maxExtraRepeat)
}

// generateN is generate with unbounded and long repetitions capped at
// extra more than their minimum.
func (g *patternGen) generateN(rng *rand.Rand, extra int) string {
	var b strings.Builder
	if !g.gen(rng, g.re, &b, extra) {
		return ""
	}
	s := b.String()
	if s == "" || !g.full.MatchString(s) {
		return ""
	}
	return s
}

const maxExtraRepeat = 12

func (g *patternGen) gen(rng *rand.Rand, re *syntax.Regexp, b *strings.Builder, extra int) bool {
	switch re.Op {
	case syntax.OpLiteral:
		for _, r := range re.Rune {
			if re.Flags&syntax.FoldCase != 0 && r < utf8.RuneSelf && isLetter(byte(r)) && rng.IntN(2) == 0 {
				r ^= 0x20
			}
			b.WriteRune(r)
		}
	case syntax.OpCharClass:
		c, ok := g.classes[re].pick(rng)
		if !ok {
			return false
		}
		b.WriteByte(c)
	case syntax.OpAnyChar, syntax.OpAnyCharNotNL:
		b.WriteByte(safeChars[rng.IntN(len(safeChars))])
	case syntax.OpConcat:
		for _, s := range re.Sub {
			if !g.gen(rng, s, b, extra) {
				return false
			}
		}
	case syntax.OpCapture:
		return g.gen(rng, re.Sub[0], b, extra)
	case syntax.OpAlternate:
		return g.gen(rng, re.Sub[rng.IntN(len(re.Sub))], b, extra)
	case syntax.OpStar, syntax.OpPlus, syntax.OpQuest, syntax.OpRepeat:
		lo, hi := 0, extra
		switch re.Op {
		case syntax.OpPlus:
			lo, hi = 1, 1+extra
		case syntax.OpQuest:
			hi = 1
		case syntax.OpRepeat:
			lo, hi = re.Min, re.Max
			if hi < 0 || hi > lo+extra {
				hi = lo + extra
			}
		}
		n := lo + rng.IntN(hi-lo+1)
		for range n {
			if !g.gen(rng, re.Sub[0], b, extra) {
				return false
			}
		}
	}
	return true // anchors and empty matches write nothing
}

// safeChars are what '.' and classes draw from: printable ASCII without
// space and '/' (a value never spans segments), weighted towards letters
// and digits as real identifiers are.
var safeChars = func() []byte {
	var out []byte
	for c := byte('!'); c <= '~'; c++ {
		if c != '/' {
			out = append(out, c)
		}
	}
	for range 3 {
		for c := byte('0'); c <= 'z'; c++ {
			if isLetter(c) || c >= '0' && c <= '9' {
				out = append(out, c)
			}
		}
	}
	return out
}()

// classSet is a character class (ranges as pairs) reduced to the safe
// characters, and its letters and digits.
type classSet struct{ in, alnum []byte }

func newClassSet(ranges []rune) classSet {
	var in, alnum []byte
	for c := byte('!'); c <= '~'; c++ {
		if c == '/' {
			continue
		}
		for i := 0; i+1 < len(ranges); i += 2 {
			if rune(c) >= ranges[i] && rune(c) <= ranges[i+1] {
				in = append(in, c)
				if isAlnum(rune(c)) {
					alnum = append(alnum, c)
				}
				break
			}
		}
	}
	return classSet{in: in, alnum: alnum}
}

// pick draws a character of the class among the safe characters: a
// letter or digit three times in four when the class has any (a negated
// class such as \S or [^*#&+:<>?] describes identifiers, not punctuation
// soup).
func (c classSet) pick(rng *rand.Rand) (byte, bool) {
	if len(c.in) == 0 {
		return 0, false
	}
	if len(c.alnum) > 0 && rng.IntN(4) != 0 {
		return c.alnum[rng.IntN(len(c.alnum))], true
	}
	return c.in[rng.IntN(len(c.in))], true
}
