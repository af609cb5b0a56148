package cluster

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/palisade-sec/palisade/internal/bus"
	"github.com/palisade-sec/palisade/internal/exchange"
)

// Ingest is the ingest role's way onto the bus: it publishes validated
// records to the record stream, keyed by partition key, and returns only
// when JetStream acknowledged every one of them (stored on the configured
// replicas). No local write-ahead log is needed: an acknowledged record is
// on the bus.
//
// It also carries the clock of the input to every partition: after a
// batch, a tick with the newest event time published (at most one round
// of ticks every tickEvery), so that a partition without records of its
// own still releases what it holds as analyze would.
type Ingest struct {
	b      *bus.Bus
	maxLag int64
	log    *slog.Logger

	lag      atomic.Int64 // refreshed by Run
	lagKnown atomic.Bool
	maxTime  atomic.Int64 // newest event time published (ns)

	mu       sync.Mutex
	ticked   int64 // newest event time ticked
	lastTick time.Time

	Published atomic.Int64
}

// Busy is returned when the bus or the analysis behind it cannot take
// records now: the HTTP answer is 429 (Busy) or 503 with Retry-After.
type Busy struct {
	After time.Duration
	Lag   bool // analysis lags beyond max_lag (429); else the bus failed (503)
	Err   error
}

func (e *Busy) Error() string {
	if e.Lag {
		return fmt.Sprintf("analysis is behind (more than the configured max_lag records wait); retry in %v", e.After)
	}
	return fmt.Sprintf("event bus unavailable: %v; retry in %v", e.Err, e.After)
}

func (e *Busy) Unwrap() error { return e.Err }

// RetryAfter is when to try again.
func (e *Busy) RetryAfter() time.Duration { return e.After }

// Overloaded reports the analysis lag (429) rather than a bus failure (503).
func (e *Busy) Overloaded() bool { return e.Lag }

const tickEvery = 100 * time.Millisecond

// NewIngest returns the ingest publisher of a bus the analysis workers
// provisioned (or that this process provisioned).
func NewIngest(b *bus.Bus, maxLag int64, log *slog.Logger) *Ingest {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Ingest{b: b, maxLag: maxLag, log: log}
}

// Run refreshes the lag and sends pending ticks until ctx is done.
func (in *Ingest) Run(ctx context.Context) {
	t := time.NewTicker(tickEvery)
	defer t.Stop()
	lagAt := time.Time{}
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		in.tick(ctx, true)
		if time.Since(lagAt) >= time.Second {
			lagAt = time.Now()
			lctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			n, err := in.b.Lag(lctx)
			cancel()
			if err == nil {
				in.lag.Store(n)
				in.lagKnown.Store(true)
			} else if ctx.Err() == nil {
				in.log.Warn("cluster: lag", "err", err)
			}
		}
	}
}

// Lag is the last measured analysis lag (records not yet delivered to the
// slowest partition's worker).
func (in *Ingest) Lag() int64 { return in.lag.Load() }

// Publish publishes recs and returns once the bus acknowledged them all,
// or a *Busy error: over the lag bound nothing is published; on a bus
// failure some records may have been stored and the client's retry sends
// them again (at-least-once, as with the write-ahead log).
func (in *Ingest) Publish(ctx context.Context, recs []*exchange.Record) error {
	keys := make([]string, 0, len(recs))
	data := make([][]byte, 0, len(recs))
	var newest int64
	for _, r := range recs {
		b, err := exchange.MarshalRecord(r)
		if err != nil {
			return fmt.Errorf("cluster: record: %w", err)
		}
		keys, data = append(keys, Key(r)), append(data, b)
		newest = max(newest, r.Time.UnixNano())
	}
	return in.PublishEncoded(ctx, keys, data, newest, nil)
}

// Key is the partition key of a record (server.Bus).
func (in *Ingest) Key(rec *exchange.Record) string { return Key(rec) }

// PublishEncoded publishes encoded records with their partition keys
// (server.Bus); newest is their newest event time (Unix ns).
func (in *Ingest) PublishEncoded(ctx context.Context, keys []string, data [][]byte, newest int64, ids []string) error {
	if len(data) == 0 {
		return nil
	}
	if in.maxLag > 0 && in.lag.Load() > in.maxLag {
		return &Busy{After: 5 * time.Second, Lag: true}
	}
	msgs := make([]bus.Out, len(data))
	for i := range data {
		msgs[i] = bus.Out{Subject: in.b.RecordSubject(bus.Token(keys[i])), Data: data[i]}
		if ids != nil {
			msgs[i].Header = nats.Header{"Nats-Msg-Id": []string{ids[i]}}
		}
	}
	if err := in.b.Publish(ctx, msgs); err != nil {
		return &Busy{After: 2 * time.Second, Err: err}
	}
	in.Published.Add(int64(len(data)))
	for {
		cur := in.maxTime.Load()
		if newest <= cur || in.maxTime.CompareAndSwap(cur, newest) {
			break
		}
	}
	in.tick(ctx, false)
	return nil
}

// tick sends every partition the newest event time published, when it
// advanced (at most once per tickEvery unless force).
func (in *Ingest) tick(ctx context.Context, force bool) {
	in.mu.Lock()
	defer in.mu.Unlock()
	t := in.maxTime.Load()
	if t <= in.ticked || !force && time.Since(in.lastTick) < tickEvery {
		return
	}
	msgs := make([]bus.Out, 0, in.b.Partitions())
	for p := 0; p < in.b.Partitions(); p++ {
		msgs = append(msgs, in.b.ControlMsg(p, bus.KindTick, time.Unix(0, t)))
	}
	if err := in.b.Publish(ctx, msgs); err != nil {
		if ctx.Err() == nil {
			in.log.Warn("cluster: tick", "err", err)
		}
		return
	}
	in.ticked, in.lastTick = t, time.Now()
}

// Flush sends the pending tick now (tests, shutdown).
func (in *Ingest) Flush(ctx context.Context) { in.tick(ctx, true) }
