package config

import (
	"fmt"
	"slices"
	"sync"
)

// Registry maps names to constructors of configuration sections: the
// members a section with dynamic members may hold (detector families'
// options, source kinds). Safe for concurrent use; register from init().
type Registry[T any] struct {
	what string // "detector options", "source kind" (in panics)
	mu   sync.RWMutex
	m    map[string]entry[T]
}

type entry[T any] struct {
	make func() T
	doc  string
}

// NewRegistry returns an empty registry; what names its members in
// messages.
func NewRegistry[T any](what string) *Registry[T] {
	return &Registry[T]{what: what, m: map[string]entry[T]{}}
}

// Register adds a member; registering a name twice panics (a programming
// error, found at start).
func (r *Registry[T]) Register(name, doc string, make func() T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.m[name]; dup {
		panic(fmt.Sprintf("%s %q registered twice", r.what, name))
	}
	r.m[name] = entry[T]{make: make, doc: doc}
}

// Unregister removes a member (tests that register their own).
func (r *Registry[T]) Unregister(name string) {
	r.mu.Lock()
	delete(r.m, name)
	r.mu.Unlock()
}

// New returns a new value of a member (its defaults filled in).
func (r *Registry[T]) New(name string) (T, bool) {
	r.mu.RLock()
	e, ok := r.m[name]
	r.mu.RUnlock()
	if !ok {
		var zero T
		return zero, false
	}
	return e.make(), true
}

// Doc is a member's one-line description.
func (r *Registry[T]) Doc(name string) string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.m[name].doc
}

// Names lists the members, sorted.
func (r *Registry[T]) Names() []string {
	r.mu.RLock()
	defer r.mu.RUnlock()
	out := make([]string, 0, len(r.m))
	for k := range r.m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
