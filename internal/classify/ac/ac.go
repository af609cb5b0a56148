// Package ac finds many literals in a text at once: an Aho–Corasick
// automaton compiled to a dense DFA over byte classes, with states
// numbered breadth first (the shallow states, where a scan spends most of
// its time, have adjacent rows). It reports every occurrence, overlapping,
// in the order of their end offsets (the longest first among those ending
// at the same offset) — the standard, overlapping semantics — optionally
// ASCII case-insensitively, and allocates nothing per text.
package ac

import "sort"

// Matcher is immutable after New and safe for concurrent use.
type Matcher struct {
	cls    [256]uint8 // byte → class; 0: in no literal
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

// New compiles the literals; fold makes matching ASCII case-insensitive.
// It panics beyond 65,535 states (≈ that many literal bytes).
func New(lits []string, fold bool) *Matcher {
	m := &Matcher{lens: make([]int32, len(lits))}
	norm := func(c byte) byte {
		if fold {
			return lowerASCII(c)
		}
		return c
	}
	for _, l := range lits {
		for i := 0; i < len(l); i++ {
			if c := norm(l[i]); m.cls[c] == 0 {
				m.nc++
				m.cls[c] = uint8(m.nc)
			}
		}
	}
	if m.nc > 254 {
		panic("ac: too many distinct bytes")
	}
	m.nc++ // class 0
	if fold {
		for c := 'A'; c <= 'Z'; c++ {
			m.cls[c] = m.cls[c+32]
		}
	}
	// trie: children in a flat table, nc entries per node (0: none; the
	// root is never a child)
	nc := m.nc
	child := make([]int32, nc, nc*(len(lits)+1))
	var own [][]int32
	own = append(own, nil)
	for id, l := range lits {
		m.lens[id] = int32(len(l))
		st := 0
		for i := 0; i < len(l); i++ {
			c := int(m.cls[l[i]])
			nx := int(child[st*nc+c])
			if nx == 0 {
				nx = len(own)
				own = append(own, nil)
				child = append(child, make([]int32, nc)...)
				child[st*nc+c] = int32(nx)
			}
			st = nx
		}
		own[st] = append(own[st], int32(id))
	}
	n := len(own)
	if n > 65535 {
		panic("ac: automaton too large")
	}
	order := make([]int32, 0, n) // trie nodes, breadth first
	order = append(order, 0)
	for k := 0; k < len(order); k++ {
		row := child[int(order[k])*nc : int(order[k])*nc+nc]
		for c := 0; c < nc; c++ {
			if nx := row[c]; nx != 0 {
				order = append(order, nx)
			}
		}
	}
	id := make([]int32, n) // trie node → state
	for k, nd := range order {
		id[nd] = int32(k)
	}
	// failure links, output lists and dense transitions, breadth first
	fail := make([]int32, n) // by state
	m.next = make([]uint16, n*nc)
	m.out = make([][]int32, n)
	m.hasOut = make([]bool, n)
	for st, nd := range order {
		out := append([]int32(nil), own[nd]...)
		if st != 0 {
			out = append(out, m.out[fail[st]]...)
		}
		if len(out) > 0 {
			m.out[st] = out
		}
		m.hasOut[st] = len(out) > 0
		row := child[int(nd)*nc : int(nd)*nc+nc]
		for c := 0; c < nc; c++ {
			ch := row[c]
			if ch == 0 {
				if st != 0 {
					m.next[st*nc+c] = m.next[int(fail[st])*nc+c]
				}
				continue
			}
			nx := id[ch]
			m.next[st*nc+c] = uint16(nx)
			if st != 0 {
				fail[nx] = int32(m.next[int(fail[st])*nc+c])
			}
		}
	}
	return m
}

// Next is the state after reading byte c in state st (the start state is 0).
func (m *Matcher) Next(st int, c byte) int { return int(m.next[st*m.nc+int(m.cls[c])]) }

// HasOut reports whether literals end in state st.
func (m *Matcher) HasOut(st int) bool { return m.hasOut[st] }

// Out lists the literals ending in state st, longest first.
func (m *Matcher) Out(st int) []int32 { return m.out[st] }

// Len is the length of literal id.
func (m *Matcher) Len(id int32) int { return int(m.lens[id]) }

// Each calls fn for every occurrence of a literal in t, with the literal's
// index and its span.
func (m *Matcher) Each(t string, fn func(id, start, end int)) {
	st := 0
	for i := 0; i < len(t); i++ {
		st = m.Next(st, t[i])
		if m.hasOut[st] {
			for _, id := range m.out[st] {
				fn(int(id), i+1-int(m.lens[id]), i+1)
			}
		}
	}
}

// Any reports whether some literal occurs in t.
func (m *Matcher) Any(t string) bool {
	st := 0
	for i := 0; i < len(t); i++ {
		st = m.Next(st, t[i])
		if m.hasOut[st] {
			return true
		}
	}
	return false
}

// Match is one occurrence of a literal: its index and its span.
type Match struct{ ID, Start, End int }

// Leftmost appends to dst, for every offset of t where a literal starts,
// the longest literal starting there (the lowest index among equal ones),
// in offset order: the longest occurrence starting first, then the
// longest starting after that start, and so on — so occurrences may
// overlap. This is what the Aho–Corasick library this package replaced
// returned from FindAll in leftmost-longest mode (the search resumes one
// byte after the start of the last match); the classification keyword
// rules and the verbose-error patterns rely on it. It allocates only to
// grow dst.
func (m *Matcher) Leftmost(t string, dst []Match) []Match {
	base := len(dst)
	m.Each(t, func(id, start, end int) { dst = append(dst, Match{id, start, end}) })
	all := dst[base:]
	sort.Slice(all, func(i, j int) bool {
		a, b := &all[i], &all[j]
		if a.Start != b.Start {
			return a.Start < b.Start
		}
		if a.End != b.End {
			return a.End > b.End
		}
		return a.ID < b.ID
	})
	out, prev := dst[:base], -1
	for _, x := range all { // out never passes the element read
		if x.Start != prev {
			out = append(out, x)
			prev = x.Start
		}
	}
	return out
}
