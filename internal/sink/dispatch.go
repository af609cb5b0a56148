package sink

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/palisade-sec/palisade/internal/model"
)

// Options tune the dispatcher. Zero values take the defaults in brackets.
type Options struct {
	QueueSize   int           // alerts buffered per sink [10000]
	BatchSize   int           // alerts per Send [100]
	MaxAttempts int           // sends per batch before dead-lettering [5]
	BaseBackoff time.Duration // first retry delay, doubled per attempt [500ms]
	MaxBackoff  time.Duration // cap of one delay, Retry-After included [30s]
	SendTimeout time.Duration // deadline of one Send [15s]
	// OnDeadLetter, when set, receives the batches given up on (from the
	// sink's worker goroutine; it must not block for long).
	OnDeadLetter func(sink string, alerts []model.Alert, err error)
	// Now is the wall clock for the stats timestamps [time.Now].
	Now func() time.Time
	// Jitter returns a random duration in [0, d) [math/rand/v2].
	Jitter func(d time.Duration) time.Duration
}

func (o *Options) defaults() {
	if o.QueueSize <= 0 {
		o.QueueSize = 10000
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 100
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 5
	}
	if o.BaseBackoff <= 0 {
		o.BaseBackoff = 500 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	if o.MaxBackoff < o.BaseBackoff {
		o.MaxBackoff = o.BaseBackoff
	}
	if o.SendTimeout <= 0 {
		o.SendTimeout = 15 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Jitter == nil {
		o.Jitter = func(d time.Duration) time.Duration {
			if d <= 0 {
				return 0
			}
			return rand.N(d)
		}
	}
}

// SinkStats describes one sink's delivery. Counters count alerts, except
// Retried (retry attempts) and Batches.
type SinkStats struct {
	Name        string    `json:"name"`
	Queued      int       `json:"queued"`   // waiting now
	Sent        int64     `json:"sent"`     // delivered
	Batches     int64     `json:"batches"`  // successful Send calls
	Retried     int64     `json:"retried"`  // retry attempts (all batches)
	Failed      int64     `json:"failed"`   // dead-lettered: attempts exhausted or permanent error
	Dropped     int64     `json:"dropped"`  // evicted from a full queue, or abandoned at Close
	Filtered    int64     `json:"filtered"` // not matching the sink's filter
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	LastSuccess time.Time `json:"last_success,omitzero"`
}

// Dispatcher fans alerts out to sinks without blocking the caller.
type Dispatcher struct {
	opts    Options
	workers []*worker
	wg      sync.WaitGroup
	stop    context.CancelFunc // aborts in-flight sends and backoff waits
	once    sync.Once
}

type worker struct {
	c      Configured
	opts   *Options
	mu     sync.Mutex
	ring   []model.Alert // circular queue, fixed capacity
	head   int
	n      int
	closed bool
	wake   chan struct{}
	st     SinkStats
}

// NewDispatcher starts one worker goroutine per sink.
func NewDispatcher(sinks []Configured, opts Options) *Dispatcher {
	opts.defaults()
	ctx, cancel := context.WithCancel(context.Background())
	d := &Dispatcher{opts: opts, stop: cancel}
	for _, c := range sinks {
		w := &worker{c: c, opts: &d.opts, ring: make([]model.Alert, opts.QueueSize), wake: make(chan struct{}, 1)}
		w.st.Name = c.Name()
		d.workers = append(d.workers, w)
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			w.run(ctx)
		}()
	}
	return d
}

// Publish queues the alert for every sink whose filter matches. It never
// blocks: a full queue evicts its oldest alert (counted as dropped).
// Alerts published after Close are dropped and counted.
func (d *Dispatcher) Publish(a model.Alert) {
	for _, w := range d.workers {
		w.push(&a)
	}
}

func (w *worker) push(a *model.Alert) {
	w.mu.Lock()
	if !w.c.Match(a) {
		w.st.Filtered++
		w.mu.Unlock()
		return
	}
	if w.closed {
		w.st.Dropped++
		w.mu.Unlock()
		return
	}
	if w.n == len(w.ring) {
		w.ring[w.head] = model.Alert{}
		w.head = (w.head + 1) % len(w.ring)
		w.n--
		w.st.Dropped++
	}
	w.ring[(w.head+w.n)%len(w.ring)] = *a
	w.n++
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// take removes up to max alerts; done is true when closed and empty.
func (w *worker) take(max int) (batch []model.Alert, done bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	k := min(w.n, max)
	if k == 0 {
		return nil, w.closed
	}
	batch = make([]model.Alert, k)
	for i := range k {
		batch[i] = w.ring[w.head]
		w.ring[w.head] = model.Alert{}
		w.head = (w.head + 1) % len(w.ring)
	}
	w.n -= k
	return batch, false
}

func (w *worker) run(ctx context.Context) {
	for {
		batch, done := w.take(w.opts.BatchSize)
		if done {
			return
		}
		if batch == nil {
			select {
			case <-w.wake:
			case <-ctx.Done():
				w.abandon(0)
				return
			}
			continue
		}
		if !w.deliver(ctx, batch) {
			w.abandon(len(batch))
			return
		}
	}
}

// abandon counts what is left when a hard stop interrupts the worker.
func (w *worker) abandon(inFlight int) {
	w.mu.Lock()
	w.st.Dropped += int64(w.n + inFlight)
	w.n = 0
	w.closed = true
	w.mu.Unlock()
}

// deliver sends one batch with retries. It returns false when ctx ended
// before the batch was settled (sent or dead-lettered).
func (w *worker) deliver(ctx context.Context, batch []model.Alert) bool {
	o := w.opts
	var err error
	for attempt := 1; ; attempt++ {
		sctx, cancel := context.WithTimeout(ctx, o.SendTimeout)
		err = w.c.Send(sctx, batch)
		cancel()
		if err == nil {
			w.mu.Lock()
			w.st.Sent += int64(len(batch))
			w.st.Batches++
			w.st.LastSuccess = o.Now()
			w.mu.Unlock()
			return true
		}
		if ctx.Err() != nil {
			w.noteErr(err)
			return false
		}
		w.noteErr(err)
		if IsPermanent(err) || attempt >= o.MaxAttempts {
			break
		}
		delay := backoff(o, attempt, err)
		w.mu.Lock()
		w.st.Retried++
		w.mu.Unlock()
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return false
		}
	}
	w.mu.Lock()
	w.st.Failed += int64(len(batch))
	w.mu.Unlock()
	if o.OnDeadLetter != nil {
		o.OnDeadLetter(w.st.Name, batch, err)
	}
	return true
}

func (w *worker) noteErr(err error) {
	w.mu.Lock()
	w.st.LastError = clip(err.Error(), 512)
	w.st.LastErrorAt = w.opts.Now()
	w.mu.Unlock()
}

// backoff is "full jitter" exponential backoff: a random delay in
// [0, min(max, base·2^(attempt-1))), at least base/2 so a flapping receiver
// is not hammered; a Retry-After from the receiver wins (capped at max).
func backoff(o *Options, attempt int, err error) time.Duration {
	var ra *RetryAfterError
	if errors.As(err, &ra) && ra.After > 0 {
		return min(ra.After, o.MaxBackoff)
	}
	ceil := o.BaseBackoff
	for i := 1; i < attempt && ceil < o.MaxBackoff; i++ {
		ceil *= 2
	}
	ceil = min(ceil, o.MaxBackoff)
	floor := o.BaseBackoff / 2
	return floor + o.Jitter(ceil-floor)
}

// Stats returns a snapshot per sink, in configuration order.
func (d *Dispatcher) Stats() []SinkStats {
	out := make([]SinkStats, len(d.workers))
	for i, w := range d.workers {
		w.mu.Lock()
		out[i] = w.st
		out[i].Queued = w.n
		w.mu.Unlock()
	}
	return out
}

// Close stops accepting alerts and drains the queues: workers keep sending
// (with retries) until their queue is empty or ctx ends. When ctx ends
// first, in-flight sends are cancelled, what is left is counted as dropped,
// and Close returns an error saying how many alerts were abandoned. Sinks
// that hold resources (connections, files) are closed afterwards.
func (d *Dispatcher) Close(ctx context.Context) error {
	var err error
	d.once.Do(func() {
		for _, w := range d.workers {
			w.mu.Lock()
			w.closed = true
			w.mu.Unlock()
			select {
			case w.wake <- struct{}{}:
			default:
			}
		}
		done := make(chan struct{})
		go func() { d.wg.Wait(); close(done) }()
		var before int64
		for _, s := range d.Stats() {
			before += s.Dropped
		}
		select {
		case <-done:
		case <-ctx.Done():
			d.stop()
			<-done
			var after int64
			for _, s := range d.Stats() {
				after += s.Dropped
			}
			if lost := after - before; lost > 0 {
				err = fmt.Errorf("sink: close: %w: %d alert(s) not delivered", ctx.Err(), lost)
			}
		}
		d.stop()
		for _, w := range d.workers {
			if c, ok := w.c.Sink.(interface{ Close() error }); ok {
				if cerr := c.Close(); cerr != nil && err == nil {
					err = fmt.Errorf("sink %s: close: %w", w.st.Name, cerr)
				}
			}
		}
	})
	return err
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// SinkFailures returns, per sink name, the alerts it did not deliver:
// dead-lettered (Failed) plus dropped (Dropped). It serves the
// palisade_sink_failures metric.
func (d *Dispatcher) SinkFailures() map[string]int64 {
	out := make(map[string]int64, len(d.workers))
	for _, s := range d.Stats() {
		out[s.Name] = s.Failed + s.Dropped
	}
	return out
}
