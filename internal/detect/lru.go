package detect

// lru is a bounded map with least-recently-used eviction. It is the only
// container the anomaly families keep per-client, per-identity or
// per-endpoint state in, so every such table has an explicit budget.
//
// Values are heap objects owned by the table: when the table is full, the
// least recently used entry is evicted (onEvict sees it first) and its value
// object is reset and reused for the new key, so a full table allocates
// nothing. Pointers returned by get/getOrAdd stay valid until the entry is
// evicted; callers must not keep them across events.
//
// Iteration (each) follows slot order, which depends only on the order of
// insertions and evictions, never on map iteration order, so outputs built
// from it are deterministic.
type lru[K comparable, V any] struct {
	cap     int
	index   map[K]int32
	slots   []lruSlot[K, V]
	head    int32 // most recently used; -1 when empty
	tail    int32 // least recently used
	evicted int64
	onEvict func(k K, v *V)
}

type lruSlot[K comparable, V any] struct {
	key        K
	val        *V
	prev, next int32
}

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

// Len is the number of entries.
func (l *lru[K, V]) Len() int { return len(l.slots) }

// Evicted is the number of entries dropped at the budget so far.
func (l *lru[K, V]) Evicted() int64 { return l.evicted }

func (l *lru[K, V]) unlink(i int32) {
	s := &l.slots[i]
	if s.prev >= 0 {
		l.slots[s.prev].next = s.next
	} else {
		l.head = s.next
	}
	if s.next >= 0 {
		l.slots[s.next].prev = s.prev
	} else {
		l.tail = s.prev
	}
}

func (l *lru[K, V]) pushFront(i int32) {
	s := &l.slots[i]
	s.prev = -1
	s.next = l.head
	if l.head >= 0 {
		l.slots[l.head].prev = i
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
	return l.slots[i].val, true
}

// peek returns the value without touching recency.
func (l *lru[K, V]) peek(k K) (*V, bool) {
	i, ok := l.index[k]
	if !ok {
		return nil, false
	}
	return l.slots[i].val, true
}

// getOrAdd returns the value for k, creating a zero value (evicting the
// least recently used entry when the table is full).
func (l *lru[K, V]) getOrAdd(k K) (v *V, created bool) {
	if v, ok := l.get(k); ok {
		return v, false
	}
	var i int32
	if len(l.slots) < l.cap {
		i = int32(len(l.slots))
		l.slots = append(l.slots, lruSlot[K, V]{key: k, val: new(V)})
	} else {
		i = l.tail
		s := &l.slots[i]
		if l.onEvict != nil {
			l.onEvict(s.key, s.val)
		}
		l.evicted++
		delete(l.index, s.key)
		l.unlink(i)
		var zero V
		*s.val = zero
		s.key = k
	}
	l.index[k] = i
	l.pushFront(i)
	return l.slots[i].val, true
}

// each visits the entries in slot order (deterministic).
func (l *lru[K, V]) each(f func(k K, v *V)) {
	for i := range l.slots {
		f(l.slots[i].key, l.slots[i].val)
	}
}
