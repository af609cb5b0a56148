package classify

import (
	"strings"

	"github.com/palisade-sec/palisade/internal/bounded"
	"github.com/palisade-sec/palisade/internal/hashing"
)

// Memoization of value classifications.
//
// Classifying a value is a pure function of the value and of what the
// field name says about it (its hint; with custom types, the name itself),
// and
// API traffic repeats values a lot: currencies, statuses, categories,
// catalogue names, dates, the same customer's e-mail address in every
// response of a session. The Analyzer keeps the results for recently seen
// short values in the pipeline's bounded table (internal/bounded, least
// recently used evicted), so that a repeated value costs a hash and a
// comparison instead of the scanners. The table only saves work: a result
// read from it is the one classifyHint would compute, so what is found
// does not depend on it.
//
// Memory: memoCap entries of 72 bytes plus 20–60 bytes of the table's
// index and recency log (≈ 2 MB), each holding a copy of the value (at
// most memoMaxLen bytes) and of its matches: ≈ 2.5 MB per Analyzer on
// typical values, 5 MB at most.

const (
	memoCap    = 16384
	memoMaxLen = 128 // longer values are classified every time
)

type memoEntry struct {
	hid uint32 // interned hint
	n   uint8  // length of the value held in inl (0: in val)
	inl [memoInline]byte
	val string // the value when longer than memoInline
	ctx string // the context key when custom types read it, else ""
	ms  []Match
}

// memoInline: values up to this length are held in the entry itself, so
// that comparing them reads no other memory.
const memoInline = 24

func (e *memoEntry) holds(hid uint32, key, v string) bool {
	if e.hid != hid || e.ctx != key {
		return false
	}
	if e.n > 0 {
		return string(e.inl[:e.n]) == v
	}
	return e.val == v
}

// memoUse counts, per field, how often the table held its values: a
// field whose values do not repeat (identifiers, amounts, timestamps)
// skips the table, which is then left to the fields that do.
type memoUse struct {
	tries, hits, skips uint32
}

// skip reports whether this value of the field bypasses the table: when
// fewer than 1 in 16 of at least 64 recent lookups found their value.
// One value in 16 of a skipping field is still looked up, so a field
// whose values start repeating comes back.
func (u *memoUse) skip() bool {
	if u.tries < 64 || u.hits*16 >= u.tries {
		return false
	}
	u.skips++
	return u.skips%16 != 0
}

func (u *memoUse) count(hit bool) {
	u.tries++
	if hit {
		u.hits++
	}
	if u.tries >= 1024 { // recent lookups weigh more
		u.tries, u.hits = u.tries/2, u.hits/2
	}
}

type valueMemo struct {
	tab          *bounded.LRU[memoEntry] // by memoHash
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

// memoHash hashes a hint, a context key and a value (internal/hashing:
// fixed, so runs are reproducible).
func memoHash(hid uint32, ctx, v string) uint64 {
	h := uint64(hashing.Offset) ^ uint64(hid)<<40 ^ uint64(len(ctx))<<20 ^ uint64(len(v))
	h = hashing.Add(h, ctx)
	h = hashing.Add(hashing.Sep(h), v)
	return hashing.Mix64(h)
}

// classify returns classifyHint's result for (ctx, v), from the table when
// it holds it; hid is the interned hint, u (nil: none) the field's use of
// the table. The result is valid until the next call.
func (m *valueMemo) classify(c *Classifier, s *scan, hint fieldHint, hid uint32, ctx, v string, u *memoUse) []Match {
	if len(v) > memoMaxLen || v == "" || hint.typ == "" && len(v) < 6 && len(c.custom) == 0 {
		return c.classifyHint(s, hint, ctx, v) // long, or known at once
	}
	if u != nil && u.skip() {
		return c.classifyHint(s, hint, ctx, v)
	}
	if m.tab == nil {
		m.tab = bounded.New[memoEntry](memoCap)
	}
	key := "" // the name matters to custom types only
	if len(c.custom) > 0 {
		key = ctx
	}
	e, created := m.tab.GetOrAdd(memoHash(hid, key, v))
	if !created && e.holds(hid, key, v) {
		m.hits++
		if u != nil {
			u.count(true)
		}
		return e.ms
	}
	m.misses++
	if u != nil {
		u.count(false)
	}
	ms := c.classifyHint(s, hint, ctx, v)
	// Fill the entry (new, or another key with the same hash); it owns its
	// strings (v and details may share memory with a whole body).
	if old := e.ctx; old == key {
		key = old // already a copy
	} else {
		key = strings.Clone(key)
	}
	*e = memoEntry{hid: hid, ctx: key}
	if len(v) <= memoInline {
		e.n = uint8(copy(e.inl[:], v))
	} else {
		e.val = strings.Clone(v)
	}
	if len(ms) > 0 {
		e.ms = make([]Match, len(ms))
		for i, x := range ms {
			x.Detail = strings.Clone(x.Detail)
			e.ms[i] = x
		}
	}
	return ms
}
