package detect

import (
	"math"
	"math/bits"

	"github.com/DataDog/sketches-go/ddsketch"
	"github.com/DataDog/sketches-go/ddsketch/mapping"
	"github.com/DataDog/sketches-go/ddsketch/store"
	"github.com/axiomhq/hyperloglog"
)

// Hashing: the fixed, seedless hashes of internal/hashing, so that keys
// and distinct-count sketches are identical from run to run.

// linCounter is a 1024-bit linear-counting sketch of distinct values: 128
// bytes, no allocation, about 2 ns per insert. Its estimate is within a few
// percent up to ~1,500 distinct values and saturates near 7,000 (every
// threshold it serves is far below that). It is used for per-client and
// per-identity windows, where an HLL (≥ 16 KB dense) per tracked subject
// would not fit the memory budget.
type linCounter [16]uint64

const linBits = 1024

func (c *linCounter) add(h uint64) (isNew bool) { return setBit(c[:], h) }

func (c *linCounter) reset() { *c = linCounter{} }

func (c *linCounter) ones() int { return ones(c[:]) }

// estimate returns the estimated number of distinct values added.
func (c *linCounter) estimate() float64 { return linEstimates[c.ones()] }

// linEstimates holds the estimate for every possible number of ones (the
// estimate only depends on it; a lookup instead of a logarithm).
var linEstimates = linearEstimates(linBits)

// setBit sets bit h mod (64·len(words)) (a power of two) of a linear
// counter and reports whether it was clear.
func setBit(words []uint64, h uint64) bool {
	b := h & uint64(64*len(words)-1)
	w, m := b>>6, uint64(1)<<(b&63)
	if words[w]&m != 0 {
		return false
	}
	words[w] |= m
	return true
}

func ones(words []uint64) int {
	n := 0
	for _, w := range words {
		n += bits.OnesCount64(w)
	}
	return n
}

// linearEstimates is the linear-counting estimate of distinct values for
// a bitmap of m bits, for every possible number of ones (saturated: one
// zero assumed).
func linearEstimates(m int) []float64 {
	t := make([]float64, m+1)
	for ones := 1; ones <= m; ones++ {
		zeros := m - ones
		if zeros == 0 {
			zeros = 1
		}
		t[ones] = math.Round(-float64(m) * math.Log(float64(zeros)/float64(m)))
	}
	return t
}

// quantiles is a bounded DDSketch (1 % relative accuracy, at most
// quantileBins bins, lowest bins collapse first so the upper tail we
// threshold on stays exact to 1 %). Memory: ≤ 8 bytes × quantileBins + ~200
// bytes ≈ 4.3 KB at the cap, typically < 1 KB.
type quantiles struct {
	sk  *ddsketch.DDSketch
	pos *store.CollapsingLowestDenseStore // sk's positive-value store (values are added to it directly)
	n   float64                           // values added (the sketch's count, without reaching into it)
	// Two cached quantiles: a DDSketch query walks its bins, and thresholds
	// are read on every event while the sketch grows slowly. A cached value
	// is reused until the count grows by 1/256 (≤ 0.4 % more data).
	cache [2]struct{ p, n, v float64 }
	next  int
}

const quantileBins = 512

// qMapping is the index mapping of every quantiles sketch (1 % relative
// accuracy; immutable, so shared), and what ddsketch's
// LogCollapsingLowestDenseDDSketch(0.01, …) would build for each.
var (
	qMapping = func() *mapping.LogarithmicMapping {
		m, err := mapping.NewLogarithmicMapping(0.01)
		if err != nil { // only for an invalid accuracy constant
			panic("detect: ddsketch: " + err.Error())
		}
		return m
	}()
	qMinIndexable, qMaxIndexable = qMapping.MinIndexableValue(), qMapping.MaxIndexableValue()
)

// newQuantiles builds what ddsketch.LogCollapsingLowestDenseDDSketch(0.01,
// quantileBins) builds, keeping the positive-value store at hand.
func newQuantiles() quantiles {
	pos := store.NewCollapsingLowestDenseStore(quantileBins)
	sk := ddsketch.NewDDSketch(qMapping, pos, store.NewCollapsingLowestDenseStore(quantileBins))
	return quantiles{sk: sk, pos: pos}
}

func (q *quantiles) add(v float64) {
	if q.sk == nil {
		*q = newQuantiles()
	}
	if v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
		return
	}
	if v > qMinIndexable && v <= qMaxIndexable {
		// What sk.Add(v) does for such a value, without its interface
		// calls.
		q.pos.AddWithCount(qMapping.Index(v), 1)
		q.n++
		return
	}
	if q.sk.Add(v) == nil { // fails only beyond the sketch's range (not counted)
		q.n++
	}
}

func (q *quantiles) count() float64 { return q.n }

// at returns the value at quantile p (0 when empty).
func (q *quantiles) at(p float64) float64 {
	if q.sk == nil || q.n == 0 {
		return 0
	}
	n := q.n
	for i := range q.cache {
		c := &q.cache[i]
		if c.p == p && c.n > 0 && n >= c.n && n < c.n*(1+1.0/256) {
			return c.v
		}
	}
	v, err := q.sk.GetValueAtQuantile(p)
	if err != nil {
		return 0
	}
	slot := q.next
	for i := range q.cache {
		if q.cache[i].p == p {
			slot = i
		}
	}
	q.cache[slot] = struct{ p, n, v float64 }{p, n, v}
	if slot == q.next {
		q.next = (q.next + 1) % len(q.cache)
	}
	return v
}

// distinct is a HyperLogLog (precision 14, sparse while small: ≈0.8 %
// error, a few hundred bytes until ~ thousands of values, 16 KB dense) for
// population-level distinct counts per endpoint.
type distinct struct {
	sk *hyperloglog.Sketch
}

func (d *distinct) add(h uint64) {
	if d.sk == nil {
		d.sk = hyperloglog.New14()
	}
	d.sk.InsertHash(h)
}

func (d *distinct) estimate() float64 {
	if d.sk == nil {
		return 0
	}
	return float64(d.sk.Estimate())
}

func (d *distinct) reset() { d.sk = nil }

// recentHashes remembers the last hashes added to a distinct sketch, per
// 64 direct-mapped slots (512 bytes). Adding a hash the sketch already
// holds changes nothing (registers keep their maximum, the sparse set
// holds each hash once), so skipping repeats gives the same sketch for far
// less work: an object read again and again in one window is the common
// case. Reset it with the sketch.
type recentHashes [64]uint64

// seen reports whether h was added recently; if not, it remembers it.
func (r *recentHashes) seen(h uint64) bool {
	i := (h >> 32) & 63 // the sketch uses the low bits for its registers
	if r[i] == h && h != 0 {
		return true
	}
	r[i] = h
	return false
}

// smallSet is an exact set of at most smallSetCap hashes (8 bytes each):
// adds beyond the cap are counted as overflow but not stored. The first
// few live inline (most sets stay that small: a principal's networks, an
// endpoint's flagged principals), the rest in a slice.
type smallSet struct {
	inl      [smallSetInline]uint64
	ninl     int
	vals     []uint64 // beyond the inline ones
	overflow int
}

const (
	smallSetCap    = 64
	smallSetInline = 4
)

func (s *smallSet) add(h uint64) bool {
	if s.has(h) {
		return false
	}
	return s.addNew(h)
}

// addNew is add for an h known not to be in the set (one scan less).
func (s *smallSet) addNew(h uint64) bool {
	if s.len() >= smallSetCap {
		s.overflow++
		return false
	}
	if s.ninl < smallSetInline {
		s.inl[s.ninl] = h
		s.ninl++
	} else {
		s.vals = append(s.vals, h)
	}
	return true
}

func (s *smallSet) has(h uint64) bool {
	for _, v := range s.inl[:s.ninl] {
		if v == h {
			return true
		}
	}
	for _, v := range s.vals {
		if v == h {
			return true
		}
	}
	return false
}

func (s *smallSet) len() int { return s.ninl + len(s.vals) }

// at returns the i-th value kept (0 ≤ i < len()).
func (s *smallSet) at(i int) uint64 {
	if i < s.ninl {
		return s.inl[i]
	}
	return s.vals[i-s.ninl]
}

func (s *smallSet) reset() { s.ninl, s.vals, s.overflow = 0, s.vals[:0], 0 }

// fmax is math.Max(x, y) and fmin math.Min(x, y), inlined (math.Max is an
// assembly call on amd64): the ordered case directly, everything else
// (equal values — signed zeros —, NaN) by math.Max / math.Min. With x > y
// neither is NaN and y is not +Inf, so x is math.Max's answer too.
func fmax(x, y float64) float64 {
	if x > y {
		return x
	}
	if y > x {
		return y
	}
	return math.Max(x, y)
}

func fmin(x, y float64) float64 {
	if x < y {
		return x
	}
	if y < x {
		return y
	}
	return math.Min(x, y)
}
