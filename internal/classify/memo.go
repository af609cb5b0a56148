package classify

import "strings"

// Memoization of value classifications.
//
// Classifying a value is a pure function of the value and of what the
// field name says about it (its hint; with custom types, the name itself),
// and
// API traffic repeats values a lot: currencies, statuses, categories,
// catalogue names, dates, the same customer's e-mail address in every
// response of a session. The Analyzer keeps the results for recently seen
// short values in a small set-associative table, so that a repeated value
// costs a hash and a comparison instead of the scanners. The table only
// saves work: a result read from it is the one classifyHint would compute,
// so what is found does not depend on it.
//
// Memory: memoSets×memoWays entries of 72 bytes (1.2 MB), each holding a
// copy of the value (at most memoMaxLen bytes) and of its matches: ≈ 1.5 MB
// per Analyzer on typical values, 4 MB at most.

const (
	memoSets   = 8192 // power of two
	memoWays   = 2
	memoMaxLen = 128 // longer values are classified every time
)

type memoEntry struct {
	h   uint64
	hid uint32 // interned hint
	ok  bool
	ctx string // the context key when custom types read it, else ""
	val string
	ms  []Match
}

type valueMemo struct {
	tab          []memoEntry // memoSets × memoWays, most recently used way first
	hints        map[hintKey]uint32
	hits, misses int64
}

// hintKey is what the built-in scanners read of a field hint (norm is
// only read by custom types, whose memo entries also key on the name).
type hintKey struct {
	typ, detail string
	idLike      bool
}

// hintID interns a hint.
func (m *valueMemo) hintID(h fieldHint) uint32 {
	k := hintKey{h.typ, h.detail, h.idLike}
	id, ok := m.hints[k]
	if !ok {
		if m.hints == nil {
			m.hints = map[hintKey]uint32{}
		}
		id = uint32(len(m.hints))
		m.hints[k] = id
	}
	return id
}

// memoHash hashes a hint, a context key and a value (FNV-1a over 8-byte
// words, then mixed): fixed, so runs are reproducible.
func memoHash(hid uint32, ctx, v string) uint64 {
	h := uint64(14695981039346656037) ^ uint64(hid)<<40 ^ uint64(len(ctx))<<20 ^ uint64(len(v))
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
// it holds it; hid is the interned hint. The result is valid until the
// next call.
func (m *valueMemo) classify(c *Classifier, s *scan, hint fieldHint, hid uint32, ctx, v string) []Match {
	if len(v) > memoMaxLen || v == "" || hint.typ == "" && len(v) < 6 && len(c.custom) == 0 {
		return c.classifyHint(s, hint, ctx, v) // long, or known at once
	}
	if m.tab == nil {
		m.tab = make([]memoEntry, memoSets*memoWays)
	}
	key := "" // the name matters to custom types only
	if len(c.custom) > 0 {
		key = ctx
	}
	h := memoHash(hid, key, v)
	set := m.tab[int(h&(memoSets-1))*memoWays:][:memoWays]
	for i := range set {
		e := &set[i]
		if e.ok && e.h == h && e.hid == hid && e.val == v && e.ctx == key {
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
	if old := set[0].ctx; old == key {
		key = old // already a copy
	} else {
		key = strings.Clone(key)
	}
	e := memoEntry{h: h, hid: hid, ctx: key, val: strings.Clone(v), ok: true}
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
