package detect

// lru is a bounded map with least-recently-used eviction. It is the only
// container the anomaly families keep per-client, per-identity or
// per-endpoint state in, so every such table has an explicit budget.
//
// Values are stored inline in the table: when the table is full, the least
// recently used entry is evicted (onEvict sees it first) and its slot is
// reset and reused for the new key, so a full table allocates nothing. Pointers returned by get/getOrAdd stay valid until the entry is
// evicted; callers must not keep them across events.
//
// Iteration (each) follows slot order, which depends only on the order of
// insertions and evictions, never on map iteration order, so outputs built
// from it are deterministic.
type lru[K comparable, V any] struct {
	cap     int
	n       int
	index   map[K]int32
	chunks  [][]lruSlot[K, V] // fixed-size chunks: slots never move
	head    int32             // most recently used; -1 when empty
	tail    int32             // least recently used
	evicted int64
	onEvict func(k K, v *V)
}

// Values live inline in chunked slots (one cache line less to fetch per
// lookup than a pointer per value, and far fewer heap objects for the
// garbage collector to scan).
type lruSlot[K comparable, V any] struct {
	key        K
	prev, next int32
	val        V
}

const lruChunk = 1024

func newLRU[K comparable, V any](capacity int) *lru[K, V] {
	if capacity < 1 {
		capacity = 1
	}
	hint := capacity
	if hint > 4096 {
		hint = 4096
	}
	return &lru[K, V]{cap: capacity, index: make(map[K]int32, hint), head: -1, tail: -1}
}

func (l *lru[K, V]) slot(i int32) *lruSlot[K, V] { return &l.chunks[i/lruChunk][i%lruChunk] }

// Len is the number of entries.
func (l *lru[K, V]) Len() int { return l.n }

// Evicted is the number of entries dropped at the budget so far.
func (l *lru[K, V]) Evicted() int64 { return l.evicted }

func (l *lru[K, V]) unlink(i int32) {
	s := l.slot(i)
	if s.prev >= 0 {
		l.slot(s.prev).next = s.next
	} else {
		l.head = s.next
	}
	if s.next >= 0 {
		l.slot(s.next).prev = s.prev
	} else {
		l.tail = s.prev
	}
}

func (l *lru[K, V]) pushFront(i int32) {
	s := l.slot(i)
	s.prev = -1
	s.next = l.head
	if l.head >= 0 {
		l.slot(l.head).prev = i
	}
	l.head = i
	if l.tail < 0 {
		l.tail = i
	}
}

// get returns the value for k and marks it recently used.
func (l *lru[K, V]) get(k K) (*V, bool) {
	i, ok := l.index[k]
	if !ok {
		return nil, false
	}
	if l.head != i {
		l.unlink(i)
		l.pushFront(i)
	}
	return &l.slot(i).val, true
}

// peek returns the value without touching recency.
func (l *lru[K, V]) peek(k K) (*V, bool) {
	i, ok := l.index[k]
	if !ok {
		return nil, false
	}
	return &l.slot(i).val, true
}

// getOrAdd returns the value for k, creating a zero value (evicting the
// least recently used entry when the table is full).
func (l *lru[K, V]) getOrAdd(k K) (v *V, created bool) {
	if v, ok := l.get(k); ok {
		return v, false
	}
	var i int32
	if l.n < l.cap {
		i = int32(l.n)
		if int(i)/lruChunk >= len(l.chunks) {
			size := lruChunk
			if rest := l.cap - l.n; rest < size {
				size = rest
			}
			l.chunks = append(l.chunks, make([]lruSlot[K, V], size))
		}
		l.n++
		l.slot(i).key = k
	} else {
		i = l.tail
		s := l.slot(i)
		if l.onEvict != nil {
			l.onEvict(s.key, &s.val)
		}
		l.evicted++
		delete(l.index, s.key)
		l.unlink(i)
		var zero V
		s.val = zero
		s.key = k
	}
	l.index[k] = i
	l.pushFront(i)
	return &l.slot(i).val, true
}

// each visits the entries in slot order (deterministic).
func (l *lru[K, V]) each(f func(k K, v *V)) {
	for i := 0; i < l.n; i++ {
		s := l.slot(int32(i))
		f(s.key, &s.val)
	}
}
