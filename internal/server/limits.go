package server

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"golang.org/x/sync/semaphore"
)

// Bounds on what a client controls in a URL (docs/security.md). They are
// fixed, not configured: no legitimate use comes near them.
const (
	maxQueryBytes  = 16 << 10 // the whole raw query string
	maxQueryKeys   = 32       // distinct parameters
	maxParamBytes  = 8 << 10  // one value (a list of up to maxListValues names)
	maxSearchBytes = 256      // q (substring search)
	maxListValues  = 100      // comma-separated values of one list parameter, all occurrences
)

// checkQuery bounds the query string of every request before a handler or
// a database query sees it. The error names the parameter.
func checkQuery(r *http.Request) error {
	raw := r.URL.RawQuery
	if raw == "" {
		return nil
	}
	// Parameters first, so that an oversized one is named.
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return fmt.Errorf("query string: %v", err)
	}
	if len(vals) > maxQueryKeys {
		return fmt.Errorf("query string: %d parameters, at most %d", len(vals), maxQueryKeys)
	}
	for k, vs := range vals {
		name := clipName(k)
		n := 0
		for _, v := range vs {
			n += strings.Count(v, ",") + 1
		}
		if n > maxListValues {
			return fmt.Errorf("query parameter %s: %d values, at most %d", name, n, maxListValues)
		}
		for _, v := range vs {
			max := maxParamBytes
			if k == "q" {
				max = maxSearchBytes
			}
			if len(v) > max {
				return fmt.Errorf("query parameter %s: %d bytes, at most %d", name, len(v), max)
			}
			if !utf8.ValidString(v) {
				return fmt.Errorf("query parameter %s: not valid UTF-8", name)
			}
			if strings.IndexByte(v, 0) >= 0 {
				return fmt.Errorf("query parameter %s: contains a NUL byte", name)
			}
		}
	}
	if len(raw) > maxQueryBytes {
		return fmt.Errorf("query string: %d bytes, at most %d", len(raw), maxQueryBytes)
	}
	return nil
}

func clipName(k string) string {
	if !utf8.ValidString(k) {
		k = strings.ToValidUTF8(k, "?")
	}
	if len(k) > 40 {
		k = k[:40] + "…"
	}
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return '?'
		}
		return r
	}, k)
}

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
