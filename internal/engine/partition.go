package engine

import (
	"time"

	"github.com/palisade-sec/palisade/internal/event"
)

// An engine that analyzes one partition of a clustered deployment
// (internal/cluster) sees only the records of its partition, but its
// event-time clock must follow the whole input's, as `palisade analyze`'s
// does: the bus carries ticks (the newest event time an ingest process
// has published) into every partition, and Advance moves the clock to
// them. Records are still released in (time, input position) order; a
// tick only lets the watermark pass records it would otherwise hold until
// the next record of the partition.

// Advance moves the event-time clock to t (when t is later than the
// newest record so far) and releases the records the watermark passes,
// as a record of time t would.
func (e *Engine) Advance(t time.Time) {
	if !t.After(e.maxTime) {
		return
	}
	e.maxTime = t
	watermark := e.maxTime.Add(-e.cfg.Reorder)
	wsec, wnsec := watermark.Unix(), int32(watermark.Nanosecond())
	for e.buf.Len() > 0 && e.buf.peek().notAfter(wsec, wnsec) {
		e.release(e.buf.pop())
	}
}

// Watermark is the event time below which the engine releases no more
// records in order: the later of the newest released record and the
// clock minus the reorder window. A record older than it that arrives
// now is released at once (and counted late when older than the newest
// released one). After Drain (nothing buffered) it is the newest time
// seen.
func (e *Engine) Watermark() time.Time {
	w := e.maxTime.Add(-e.cfg.Reorder)
	if e.buf.Len() == 0 && e.maxTime.After(w) {
		w = e.maxTime
	}
	if e.released.After(w) {
		w = e.released
	}
	return w
}

// Clock is the engine's event-time clock: the newest record or tick.
func (e *Engine) Clock() time.Time { return e.maxTime }

// Buffered is the number of records waiting for the watermark.
func (e *Engine) Buffered() int { return e.buf.Len() }

// OnRelease registers fn to see every event after the analyzers observed
// it (the cluster's endpoint stage forwards events to the population
// stage from here). fn must not keep the event: it is recycled after.
func (e *Engine) OnRelease(fn func(ev *event.Event)) { e.onRelease = fn }
