package detect

import "github.com/palisade-sec/palisade/internal/bounded"

// lru is the bounded table (internal/bounded) the anomaly families keep
// every per-client, per-identity and per-endpoint state in, so every such
// table has an explicit budget.
type lru[V any] = bounded.LRU[V]

func newLRU[V any](capacity int) *lru[V] { return bounded.New[V](capacity) }
