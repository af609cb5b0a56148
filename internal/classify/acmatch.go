package classify

// acMatcher finds every occurrence of a set of literals in a text, ASCII
// case-insensitively and overlapping, in the order of their end offsets
// (longest first among those ending at the same offset): the semantics of
// an Aho–Corasick automaton in standard, overlapping mode, which it is,
// compiled to a dense DFA over byte classes. It allocates nothing per
// text, which matters because nearly every value runs through it.
type acMatcher struct {
	cls    [256]uint8 // byte → class (ASCII letters folded); 0: in no literal
	nc     int        // number of classes
	next   []uint16   // state*nc + class → state
	out    [][]int32  // state → literals ending there (by decreasing length)
	hasOut []bool
	lens   []int32 // literal → length
}

func lowerASCII(c byte) byte {
	if c >= 'A' && c <= 'Z' {
		return c + 32
	}
	return c
}

// newACMatcher compiles the literals (at most 65,535 states).
func newACMatcher(lits []string) *acMatcher {
	m := &acMatcher{lens: make([]int32, len(lits))}
	// byte classes
	for _, l := range lits {
		for i := 0; i < len(l); i++ {
			c := lowerASCII(l[i])
			if m.cls[c] == 0 {
				m.nc++
				m.cls[c] = uint8(m.nc)
			}
		}
	}
	m.nc++ // class 0
	for c := 'A'; c <= 'Z'; c++ {
		m.cls[c] = m.cls[c+32]
	}
	// trie
	type node struct {
		child map[uint8]int
		own   []int32
	}
	nodes := []node{{child: map[uint8]int{}}}
	for id, l := range lits {
		m.lens[id] = int32(len(l))
		st := 0
		for i := 0; i < len(l); i++ {
			c := m.cls[l[i]]
			nx, ok := nodes[st].child[c]
			if !ok {
				nx = len(nodes)
				nodes = append(nodes, node{child: map[uint8]int{}})
				nodes[st].child[c] = nx
			}
			st = nx
		}
		nodes[st].own = append(nodes[st].own, int32(id))
	}
	if len(nodes) > 65535 {
		panic("classify: keyword automaton too large")
	}
	// States are numbered in breadth-first order, so that the rows of the
	// shallow states, where a scan spends most of its time, are adjacent.
	n := len(nodes)
	order := make([]int, 0, n) // BFS order of trie nodes
	order = append(order, 0)
	for k := 0; k < len(order); k++ {
		for c := 0; c < m.nc; c++ {
			if nx, ok := nodes[order[k]].child[uint8(c)]; ok {
				order = append(order, nx)
			}
		}
	}
	id := make([]int, n) // trie node → state
	for k, nd := range order {
		id[nd] = k
	}
	// failure links, output lists and dense transitions, breadth first
	fail := make([]int, n) // by state
	m.next = make([]uint16, n*m.nc)
	m.out = make([][]int32, n)
	m.hasOut = make([]bool, n)
	for st, nd := range order {
		out := append([]int32(nil), nodes[nd].own...)
		if st != 0 {
			out = append(out, m.out[fail[st]]...)
		}
		m.out[st] = out
		m.hasOut[st] = len(out) > 0
		for c := 0; c < m.nc; c++ {
			child, ok := nodes[nd].child[uint8(c)]
			if !ok {
				if st != 0 {
					m.next[st*m.nc+c] = m.next[fail[st]*m.nc+c]
				}
				continue
			}
			nx := id[child]
			m.next[st*m.nc+c] = uint16(nx)
			if st != 0 {
				fail[nx] = int(m.next[fail[st]*m.nc+c])
			}
		}
	}
	return m
}

// each calls fn for every occurrence of a literal in t, with the literal's
// index and its span.
func (m *acMatcher) each(t string, fn func(lit, start, end int)) {
	st := 0
	nc := m.nc
	for i := 0; i < len(t); i++ {
		st = int(m.next[st*nc+int(m.cls[t[i]])])
		if m.hasOut[st] {
			for _, id := range m.out[st] {
				fn(int(id), i+1-int(m.lens[id]), i+1)
			}
		}
	}
}
