package classify

import "strings"

// Memoization of value classifications.
//
// Classifying a value is a pure function of the value and the key giving
// it context (the field name, through its hint and the custom types), and
// API traffic repeats values a lot: currencies, statuses, categories,
// catalogue names, dates, the same customer's e-mail address in every
// response of a session. The Analyzer keeps the results for recently seen
// short values in a small set-associative table, so that a repeated value
// costs a hash and a comparison instead of the scanners. The table only
// saves work: a result read from it is the one classifyHint would compute,
// so what is found does not depend on it.
//
// Memory: memoSets×memoWays entries, each holding a copy of the value (at
// most memoMaxLen bytes) and of its matches: at most ≈ 2.5 MB per Analyzer.

const (
	memoSets   = 8192 // power of two
	memoWays   = 2
	memoMaxLen = 128 // longer values are classified every time
)

type memoEntry struct {
	h   uint64
	ctx string
	val string
	ms  []Match
	ok  bool
}

type valueMemo struct {
	tab          []memoEntry // memoSets × memoWays, most recently used way first
	hits, misses int64
}

// memoHash hashes a context key and a value (FNV-1a over 8-byte words,
// then mixed): fixed, so runs are reproducible.
func memoHash(ctx, v string) uint64 {
	h := uint64(14695981039346656037) ^ uint64(len(ctx))<<32 ^ uint64(len(v))
	h = hashStr(h, ctx)
	h ^= 0xff
	h = hashStr(h, v)
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	return h
}

func hashStr(h uint64, s string) uint64 {
	const prime = 1099511628211
	for len(s) >= 8 {
		x := uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
			uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
		h = (h ^ x) * prime
		h ^= h >> 29
		s = s[8:]
	}
	for i := 0; i < len(s); i++ {
		h = (h ^ uint64(s[i])) * prime
	}
	return h
}

// classify returns classifyHint's result for (ctx, v), from the table when
// it holds it. The result is valid until the next call.
func (m *valueMemo) classify(c *Classifier, s *scan, hint fieldHint, ctx, v string) []Match {
	if len(v) > memoMaxLen || v == "" {
		return c.classifyHint(s, hint, ctx, v)
	}
	if m.tab == nil {
		m.tab = make([]memoEntry, memoSets*memoWays)
	}
	h := memoHash(ctx, v)
	set := m.tab[int(h&(memoSets-1))*memoWays:][:memoWays]
	for i := range set {
		e := &set[i]
		if e.ok && e.h == h && e.val == v && e.ctx == ctx {
			m.hits++
			if i > 0 { // most recently used first
				set[0], set[i] = set[i], set[0]
				return set[0].ms
			}
			return e.ms
		}
	}
	m.misses++
	ms := c.classifyHint(s, hint, ctx, v)
	// Evict the least recently used way; the entry owns its strings (v and
	// details may share memory with a whole body).
	copy(set[1:], set[:memoWays-1])
	if old := set[0].ctx; old == ctx {
		ctx = old // already a copy
	} else {
		ctx = strings.Clone(ctx)
	}
	e := memoEntry{h: h, ctx: ctx, val: strings.Clone(v), ok: true}
	if len(ms) > 0 {
		e.ms = make([]Match, len(ms))
		for i, x := range ms {
			x.Detail = strings.Clone(x.Detail)
			e.ms[i] = x
		}
	}
	set[0] = e
	return ms
}
