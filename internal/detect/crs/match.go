package crs

import (
	"math/bits"
	"slices"
	"sort"
	"strings"

	"github.com/palisade-sec/palisade/internal/classify/ac"
)

// Rule masks: bit i of a []uint64 mask is Set.Rules[i].

// group: the rules sharing one transformation chain, with two prefilter
// automata (one over the rules' literals, one over the literals they keep
// on texts of common bytes).
type group struct {
	key  string
	tf   []transform
	mask []uint64 // the group's rules

	m, mC             *ac.Matcher
	litRule, litRuleC [][]int32 // literal → rules
	always, alwaysC   []uint64  // rules without a prefilter

	maxPL []Target // targets of rules at PL ≤ i (index i)
}

// gates: the byte gates of every rule, bit-sliced.
type gates struct {
	// sel[t][pl]: rules inspecting target bit t at paranoia level ≤ pl
	sel [numTargets][5][]uint64
	// clause[j][b*words+w]: rules whose j-th clause has byte b (rules
	// with fewer clauses have every byte)
	clause [ruleClauses][]uint64
	// counted: clauses with a count above one, checked once the byte
	// gate let their rule through
	counted []countGate
}

type countGate struct {
	rule int32
	set  bset
	n    int
}

const numTargets = 10

func targetIndex(t Target) int { return bits.TrailingZeros16(uint16(t)) }

func (s *Set) build() {
	s.words = (len(s.Rules) + 63) / 64
	mask := func() []uint64 { return make([]uint64, s.words) }
	byKey := map[string]*group{}
	var keys []string
	for t := range s.gates.sel {
		for pl := range s.gates.sel[t] {
			s.gates.sel[t][pl] = mask()
		}
	}
	for j := range s.gates.clause {
		s.gates.clause[j] = make([]uint64, 256*s.words)
	}
	s.byID = map[int]*Rule{}
	for i, r := range s.Rules {
		r.idx = i
		s.byID[r.ID] = r
		w, b := i>>6, uint64(1)<<(i&63)
		g := byKey[r.chainKey]
		if g == nil {
			g = &group{key: r.chainKey, tf: r.tf, maxPL: make([]Target, 5), mask: mask(), always: mask(), alwaysC: mask()}
			byKey[r.chainKey] = g
			keys = append(keys, r.chainKey)
		}
		g.mask[w] |= b
		for pl := r.PL; pl < 5; pl++ {
			g.maxPL[pl] |= r.targets
		}
		for t := 0; t < numTargets; t++ {
			if r.targets&(1<<t) != 0 {
				for pl := r.PL; pl < 5; pl++ {
					s.gates.sel[t][pl][w] |= b
				}
			}
		}
		for j := 0; j < ruleClauses; j++ {
			cl := clause{n: 1}
			if j < len(r.clauses) {
				cl = r.clauses[j]
			} else {
				cl.set.addRange(0, 255)
			}
			for c := 0; c < 256; c++ {
				if cl.set.has(byte(c)) {
					s.gates.clause[j][c*s.words+w] |= b
				}
			}
			if cl.n > 1 {
				s.gates.counted = append(s.gates.counted, countGate{rule: int32(i), set: cl.set, n: cl.n})
			}
		}
		if r.lits == nil {
			g.always[w] |= b
		}
		if t := &r.tiers[tierCommon]; !t.never && t.lits == nil {
			g.alwaysC[w] |= b
		}
		s.Stats.Rules++
		switch r.op {
		case opRx:
			s.Stats.Regexes++
		case opPm:
			s.Stats.Phrases += len(r.lits)
		}
		if r.lits == nil {
			s.Stats.Always++
		} else if r.op == opRx {
			s.Stats.Prefiltered++
		}
		if t := &r.tiers[tierCommon]; !t.never && t.lits != nil {
			s.Stats.PrefilteredCommon++
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		g := byKey[k]
		g.m, g.litRule = automaton(s.Rules, g.mask, func(r *Rule) ([]string, bool) { return r.lits, true })
		g.mC, g.litRuleC = automaton(s.Rules, g.mask, func(r *Rule) ([]string, bool) {
			t := &r.tiers[tierCommon]
			return t.lits, !t.never
		})
		s.groups = append(s.groups, g)
	}
	s.word.always = mask()
	s.word.m, s.word.litRule = automaton(s.Rules, nil, func(r *Rule) ([]string, bool) {
		t := &r.tiers[tierWord]
		if !t.never && t.lits == nil {
			s.word.always[r.idx>>6] |= 1 << (r.idx & 63)
		}
		return t.lits, !t.never
	})
}

// automaton builds a prefilter over the literals lits gives for the rules
// of mask (nil: every rule; ok false: the rule is left out).
func automaton(rules []*Rule, mask []uint64, lits func(*Rule) ([]string, bool)) (*ac.Matcher, [][]int32) {
	idx := map[string]int{}
	var all []string
	var litRule [][]int32
	for i, r := range rules {
		if mask != nil && mask[i>>6]&(1<<(i&63)) == 0 {
			continue
		}
		ls, ok := lits(r)
		if !ok {
			continue
		}
		for _, l := range ls {
			j, seen := idx[l]
			if !seen {
				j = len(all)
				idx[l] = j
				all = append(all, l)
				litRule = append(litRule, nil)
			}
			if n := len(litRule[j]); n == 0 || litRule[j][n-1] != int32(i) {
				litRule[j] = append(litRule[j], int32(i))
			}
		}
	}
	if len(all) == 0 {
		return nil, nil
	}
	return ac.New(all, true), litRule
}

// word: the prefilter of texts made of word bytes (see wordText): one
// automaton over the word-tier literals of every rule, whatever its chain.
type word struct {
	m       *ac.Matcher
	litRule [][]int32
	always  []uint64 // rules without a word-tier prefilter
}

// Hit is a rule that matched a value.
type Hit struct {
	Rule *Rule
	// Start, End: the span of the regex match (or the phrase) in the
	// transformed text; -1 when the operator has no span.
	Start, End int
	Text       string // the transformed text the rule matched
}

// Scratch holds per-call buffers; one per goroutine.
type Scratch struct {
	poss, possT, cand []uint64
	// the results of possible within the current Match, by the bytes
	// (and the text, for the counted clauses) they were computed for
	possMemo [possMemoSize]possEntry
	nPoss    int
	acc      [ruleClauses][]uint64
	hits     []Hit
	cnt      [256]int32
	cntFor   string // the text cnt counts
	// Evaluated counts the operators run (rules past their gates and
	// prefilters), for tests and benchmarks.
	Evaluated int
	// Trace, when set, is called with each rule evaluated (tests).
	Trace func(r *Rule)
	// Lib, when set, remembers libinjection's verdicts (shared with the
	// caller's own use of libinjection on the same texts).
	Lib *LibMemo
}

// possEntry is one remembered result of possible.
type possEntry struct {
	ts   bset
	t    string
	any  bool
	poss []uint64
}

const possMemoSize = 4

func (sc *Scratch) size(words int) {
	if len(sc.poss) < words {
		sc.poss, sc.possT, sc.cand = make([]uint64, words), make([]uint64, words), make([]uint64, words)
		for i := range sc.possMemo {
			sc.possMemo[i].poss = make([]uint64, words)
		}
		for j := range sc.acc {
			sc.acc[j] = make([]uint64, words)
		}
	}
}

// Match runs the rules at paranoia level ≤ maxPL that inspect target (one
// Target bit) on text (for THeaders, header is the lower-case header name)
// and returns the hits in rule order, valid until the next call with sc.
//
// A rule is evaluated only when (1) its byte gates hold on the text its
// transformation chain makes of text and (2) its prefilter found one of
// its literals there — the literals it keeps for texts of the first tier
// (word bytes, common bytes) that holds the text's bytes — or it has
// none. Both are necessary conditions of a match (the tests compare Match
// with every rule run on every text). On a text of word bytes only (the
// identifiers, tokens and enumerations most API values are) it allocates
// nothing once sc has grown (TestMatchAllocs).
func (s *Set) Match(target Target, header string, text string, maxPL int, sc *Scratch) []Hit {
	sc.hits = sc.hits[:0]
	sc.cntFor = ""
	sc.nPoss = 0
	if text == "" || maxPL < 1 || target == 0 {
		return nil
	}
	maxPL = min(maxPL, 4)
	ti := targetIndex(target)
	sc.size(s.words)
	textSet := bytesOf(text)
	if wordText(text, &textSet) {
		s.matchWord(target, header, text, &textSet, maxPL, sc)
	} else {
		// the rules whose gates hold on text itself, then per chain
		s.possible(ti, maxPL, &textSet, text, sc.poss[:s.words], sc)
		s.matchGroups(ti, target, header, text, &textSet, maxPL, sc)
	}
	// in rule order, whichever way they were found
	slices.SortFunc(sc.hits, func(a, b Hit) int { return a.Rule.idx - b.Rule.idx })
	// no view of the caller's text is kept past the call (only in the hits)
	sc.cntFor = ""
	for i := range sc.nPoss {
		sc.possMemo[i].t = ""
	}
	sc.nPoss = 0
	return sc.hits
}

// matchGroups is Match per transformation chain. sc.poss holds the rules
// whose gates hold on text itself.
func (s *Set) matchGroups(ti int, target Target, header, text string, textSet *bset, maxPL int, sc *Scratch) {
	w := s.words
	poss := sc.poss[:w]
	for _, g := range s.groups {
		if g.maxPL[maxPL]&target == 0 {
			continue
		}
		// the rules of the chain whose gates can hold on what the chain
		// makes of the text
		gp := poss
		if sup := transformedBytes(g.tf, textSet); sup != *textSet {
			var any bool
			if gp, any = s.possibleMemo(ti, maxPL, &sup, "", sc); !any {
				continue
			}
		}
		if !meets(gp, g.mask) {
			continue
		}
		t := text
		for _, tf := range g.tf {
			t = tf.apply(t)
		}
		if t == "" {
			continue
		}
		ts := *textSet
		if t != text {
			if ts = bytesOf(t); ts != *textSet {
				var any bool
				if gp, any = s.possibleMemo(ti, maxPL, &ts, t, sc); !any || !meets(gp, g.mask) {
					continue
				}
			}
		}
		cand := sc.cand[:w]
		m, litRule, always := g.m, g.litRule, g.always
		if ts.within(&commonBytes) {
			m, litRule, always = g.mC, g.litRuleC, g.alwaysC
		}
		copy(cand, always)
		if m != nil {
			scan(m, litRule, prefilterText(t, ts.meets(&highBytes)), cand)
		}
		lower := ""
		for wi := range cand {
			word := cand[wi] & gp[wi] & g.mask[wi]
			for word != 0 {
				b := bits.TrailingZeros64(word)
				word &^= 1 << b
				r := s.Rules[wi*64+b]
				if !r.headerOK(target, header) {
					continue
				}
				if r.lower {
					// lower-cased once per chain
					if lower == "" {
						lower = strings.ToLower(t)
					}
					s.evalLower(r, lower, text, sc)
					continue
				}
				s.eval(r, t, text, sc)
			}
		}
	}
}

// possibleMemo is possible into a slice of sc, remembered for the rest
// of the Match call (chains often make texts with the same bytes).
func (s *Set) possibleMemo(ti, pl int, ts *bset, t string, sc *Scratch) ([]uint64, bool) {
	for i := range sc.nPoss {
		if e := &sc.possMemo[i]; e.ts == *ts && e.t == t {
			return e.poss[:s.words], e.any
		}
	}
	if sc.nPoss == possMemoSize {
		gp := sc.possT[:s.words]
		return gp, s.possible(ti, pl, ts, t, gp, sc)
	}
	e := &sc.possMemo[sc.nPoss]
	sc.nPoss++
	e.ts, e.t = *ts, t
	e.any = s.possible(ti, pl, ts, t, e.poss[:s.words], sc)
	return e.poss[:s.words], e.any
}

func meets(a, b []uint64) bool {
	for i := range a {
		if a[i]&b[i] != 0 {
			return true
		}
	}
	return false
}

// scan runs the prefilter over textStart, t, textEnd and marks the rules
// whose literals it found.
func scan(m *ac.Matcher, litRule [][]int32, t string, cand []uint64) {
	st := m.Next(0, textStart[0])
	for i := 0; i <= len(t); i++ {
		c := textEnd[0]
		if i < len(t) {
			c = t[i]
		}
		st = m.Next(st, c)
		if m.HasOut(st) {
			for _, id := range m.Out(st) {
				for _, ri := range litRule[id] {
					cand[ri>>6] |= 1 << (ri & 63)
				}
			}
		}
	}
}

// possible sets poss to the rules of target ti at level ≤ pl whose byte
// gates hold on a text with the bytes ts (t: the text, for the counted
// clauses; "" when only the bytes are known — counted clauses then hold),
// and reports whether there is any.
func (s *Set) possible(ti, pl int, ts *bset, t string, poss []uint64, sc *Scratch) bool {
	w := s.words
	for j := range sc.acc {
		clear(sc.acc[j][:w])
	}
	a0, a1, a2 := sc.acc[0][:w], sc.acc[1][:w], sc.acc[2][:w]
	g0, g1, g2 := s.gates.clause[0], s.gates.clause[1], s.gates.clause[2] // ruleClauses == 3
	for k := 0; k < 4; k++ {
		for x := ts[k]; x != 0; x &= x - 1 {
			c := (k<<6 | bits.TrailingZeros64(x)) * w
			for i := 0; i < w; i++ {
				a0[i] |= g0[c+i]
				a1[i] |= g1[c+i]
				a2[i] |= g2[c+i]
			}
		}
	}
	any := false
	sel := s.gates.sel[ti][pl]
	for i := 0; i < w; i++ {
		poss[i] = sel[i] & a0[i] & a1[i] & a2[i]
		any = any || poss[i] != 0
	}
	if !any || t == "" {
		return any
	}
	for _, cg := range s.gates.counted {
		if poss[cg.rule>>6]&(1<<(cg.rule&63)) == 0 {
			continue
		}
		if sc.cntFor != t {
			clear(sc.cnt[:])
			for i := 0; i < len(t); i++ {
				sc.cnt[t[i]]++
			}
			sc.cntFor = t
		}
		if countIn(&sc.cnt, &cg.set, ts, cg.n) < cg.n {
			poss[cg.rule>>6] &^= 1 << (cg.rule & 63)
		}
	}
	any = false
	for i := 0; i < w; i++ {
		any = any || poss[i] != 0
	}
	return any
}

// countIn counts the bytes of set in a text (cnt: its byte counts, ts:
// its bytes), stopping at n.
func countIn(cnt *[256]int32, set, ts *bset, n int) int {
	k := 0
	for q := 0; q < 4 && k < n; q++ {
		for x := set[q] & ts[q]; x != 0; x &= x - 1 {
			k += int(cnt[q<<6|bits.TrailingZeros64(x)])
		}
	}
	return k
}

// wordText: t is made of word bytes and no compiled transformation
// changes it but for the case of its letters: no "--" (removeCommentsChar),
// nothing normalizePath resolves ("//", "/.", a leading "./" or "../",
// "." or "..").
func wordText(t string, ts *bset) bool {
	if !ts.within(&wordBytes) {
		return false
	}
	if ts.has('-') && strings.Contains(t, "--") {
		return false
	}
	if ts.has('.') || ts.has('/') {
		if t == "." || t == ".." || strings.Contains(t, "//") || strings.Contains(t, "/.") || strings.HasPrefix(t, "./") || strings.HasPrefix(t, "../") {
			return false
		}
	}
	return true
}

// matchWord is Match on a word text: one prefilter pass, then each
// candidate rule whose gates hold, on its chain's transformation of the
// text (which changes at most the case of letters: the gates of such
// chains allow either case).
func (s *Set) matchWord(target Target, header, text string, ts *bset, maxPL int, sc *Scratch) {
	cand := sc.cand[:s.words]
	copy(cand, s.word.always)
	if s.word.m != nil {
		scan(s.word.m, s.word.litRule, text, cand)
	}
	for wi := range cand {
		word := cand[wi]
		for word != 0 {
			b := bits.TrailingZeros64(word)
			word &^= 1 << b
			r := s.Rules[wi*64+b]
			if r.PL > maxPL || r.targets&target == 0 || !r.gatesHold(ts, text, sc) || !r.headerOK(target, header) {
				continue
			}
			t := text
			for _, tf := range r.tf {
				t = tf.apply(t)
			}
			s.eval(r, t, text, sc)
		}
	}
}

// gatesHold: r's byte gates hold on text (ts: its bytes).
func (r *Rule) gatesHold(ts *bset, text string, sc *Scratch) bool {
	for i := range r.clauses {
		c := &r.clauses[i]
		if !ts.meets(&c.set) {
			return false
		}
		if c.n > 1 {
			if sc.cntFor != text {
				clear(sc.cnt[:])
				for i := 0; i < len(text); i++ {
					sc.cnt[text[i]]++
				}
				sc.cntFor = text
			}
			if countIn(&sc.cnt, &c.set, ts, c.n) < c.n {
				return false
			}
		}
	}
	return true
}

// transformedBytes: the bytes a text with the bytes b may hold after the
// transformations tfs (a superset).
func transformedBytes(tfs []transform, b *bset) bset {
	out := *b
	for _, tf := range tfs {
		out = tf.bytes(out)
	}
	return out
}

var (
	asciiSpace = func() (s bset) {
		for _, c := range []byte(" \t\n\v\f\r") {
			s.add(c)
		}
		return
	}()
	allBytes = func() (s bset) { s.addRange(0, 255); return }()
)

// bytes: the bytes the transformation's output may hold, given the bytes
// of its input (a superset).
func (t transform) bytes(b bset) bset {
	hi := b.meets(&highBytes)
	switch t {
	case tLowercase:
		out := b
		for c := 'A'; c <= 'Z'; c++ {
			if b.has(byte(c)) {
				out.add(byte(c + 32))
			}
		}
		if hi {
			out.addSet(&highBytes)
			out.addRange('a', 'z')
		}
		return out
	case tCmdLine:
		out := b
		for c := 'A'; c <= 'Z'; c++ {
			if b.has(byte(c)) {
				out.add(byte(c + 32))
			}
		}
		if b.meets(&asciiSpace) || b.has(',') || b.has(';') {
			out.add(' ')
		}
		return out
	case tCompressWhitespace:
		out := b
		if b.meets(&asciiSpace) || hi {
			out.add(' ')
		}
		if hi {
			out.addSet(&highBytes)
		}
		return out
	case tRemoveWhitespace:
		if hi {
			out := b
			out.addSet(&highBytes)
			return out
		}
		return b
	case tNormalizePathWin:
		if b.has('\\') {
			out := b
			out.add('/')
			return out
		}
		return b
	case tReplaceComments:
		if b.has('/') && b.has('*') {
			out := b
			out.add(' ')
			return out
		}
		return b
	case tCSSDecode, tEscapeSeqDecode:
		if b.has('\\') {
			return allBytes
		}
		return b
	case tBase64Decode:
		return allBytes
	}
	// removeNulls, normalizePath, removeCommentsChar, trim: only remove
	return b
}

// eval runs r on t (the text after its chain's transformations; text:
// before them) and records a hit.
func (s *Set) eval(r *Rule, t, text string, sc *Scratch) {
	if t == "" {
		return
	}
	if r.lower {
		t = strings.ToLower(t)
	}
	s.evalLower(r, t, text, sc)
}

// evalLower is eval with t already lower-cased for t:lowercase rules.
func (s *Set) evalLower(r *Rule, t, text string, sc *Scratch) {
	sc.Evaluated++
	if sc.Trace != nil {
		sc.Trace(r)
	}
	if st, en, ok := r.eval(t, text, sc.Lib); ok {
		sc.hits = append(sc.hits, Hit{Rule: r, Start: st, End: en, Text: t})
	}
}
