package server

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"golang.org/x/sync/semaphore"
)

// decodeBudget is the process-wide bound on memory held by request
// decoding (ingest NDJSON/HAR, OTLP): a request reserves its worst-case
// working set before reading its body and waits (up to budgetWait, 5 s)
// when the budget is taken, then gets 429 with Retry-After.
type decodeBudget struct {
	sem   *semaphore.Weighted
	total int64
	inUse atomic.Int64
	waits atomic.Int64
	full  atomic.Int64
}

// budgetWait is how long a request waits for the decode budget (a variable for tests).
var budgetWait = 5 * time.Second

var errBudget = errors.New("decode budget exhausted")

func newDecodeBudget(total int64) *decodeBudget {
	return &decodeBudget{sem: semaphore.NewWeighted(total), total: total}
}

// acquire reserves n bytes (at most the whole budget) and returns the
// release function.
func (b *decodeBudget) acquire(ctx context.Context, n int64) (func(), error) {
	if n > b.total {
		n = b.total
	}
	if !b.sem.TryAcquire(n) {
		b.waits.Add(1)
		ctx, cancel := context.WithTimeout(ctx, budgetWait)
		defer cancel()
		if err := b.sem.Acquire(ctx, n); err != nil {
			b.full.Add(1)
			return nil, errBudget
		}
	}
	b.inUse.Add(n)
	var once atomic.Bool
	return func() {
		if once.CompareAndSwap(false, true) {
			b.inUse.Add(-n)
			b.sem.Release(n)
		}
	}, nil
}

// Working-set reservations. NDJSON and HAR: the decoder buffers (three of
// 256 KiB, two gzip windows), one record held up to four times (the line
// or HAR entry, the decoded record, its re-encoding for the log, the HAR
// entry struct) and one batch of re-encoded records (≤ 8 MiB).
// OTLP: the decompressed body plus its protobuf/JSON decoding (measured
// ≤ 6× the body for dense small spans: internal/server abuse suite).
const (
	batchBytes     = 8 << 20
	decoderBuffers = 1 << 20
	otlpExpansion  = 6
)

func ingestReservation(c *IngestConfig) int64 {
	return decoderBuffers + 4*c.MaxRecord + batchBytes
}

func otlpReservation(c *IngestConfig) int64 { return (1 + otlpExpansion) * c.MaxOTLP }
