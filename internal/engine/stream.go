package engine

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/source"
)

// Stream feeds the engine from a streaming source (a pipe, a followed
// log): records are analyzed as they arrive. The source runs in its own
// goroutine; its sink calls and the periodic release of the reorder buffer
// are serialized, so a record waits at most Interval of wall time, not the
// reorder window of event time (on a live stream event time advances with
// the wall clock, so that window would hold every alert back by 5 minutes).
// serve does the same at its checkpoints. The engine must not be used by
// others while a Stream runs; after Run returns it is the caller's again.
type Stream struct {
	e        *Engine
	interval time.Duration

	mu      sync.Mutex
	stopped bool
}

// ErrStopped refuses records after Stop.
var ErrStopped = errors.New("engine stream stopped")

// NewStream wraps e; interval is how often the reorder buffer is released
// [1 s].
func NewStream(e *Engine, interval time.Duration) *Stream {
	if interval <= 0 {
		interval = time.Second
	}
	return &Stream{e: e, interval: interval}
}

// Records implements source.Sink.
func (s *Stream) Records(recs []*exchange.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopped {
		return ErrStopped
	}
	return s.e.Records(recs)
}

// Reject implements source.Sink.
func (s *Stream) Reject(re *exchange.RecordError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.stopped {
		s.e.Reject(re)
	}
}

// Drop implements source.Sink.
func (s *Stream) Drop(reason string, n int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.stopped {
		s.e.Drop(reason, n)
	}
}

// Run reads src into the engine until src ends (nil, or its error) or ctx
// is done (nil: the caller finishes the report with what was read). A
// source blocked in a read when ctx ends is left behind: it can hand the
// engine nothing more.
func (s *Stream) Run(ctx context.Context, src source.Source) error {
	s.e.AddFile(src.Name())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, s) }()
	tick := time.NewTicker(s.interval)
	defer tick.Stop()
	var err error
loop:
	for {
		select {
		case err = <-done:
			break loop
		case <-ctx.Done():
			break loop
		case <-tick.C:
			s.mu.Lock()
			if !s.stopped {
				s.e.Drain()
			}
			s.mu.Unlock()
		}
	}
	s.mu.Lock()
	s.stopped = true
	s.e.AddBytes(src.Stats().Bytes)
	s.mu.Unlock()
	if errors.Is(err, ErrStopped) {
		err = nil
	}
	return err
}

// OnNewAlert registers f, called when an alert is first raised, with its
// endpoint as the report names it (a live display: analyze on a stream
// prints each alert as it comes). Later events that fold into the alert
// do not call f; the report has its final state.
func (e *Engine) OnNewAlert(f func(model.Alert)) {
	if e.det == nil {
		return
	}
	e.det.Emitter().OnAlert = func(a *model.Alert, created bool) {
		if !created || f == nil {
			return
		}
		c := *a
		c.Endpoint = resolveRef(e.inv, c.Endpoint)
		f(c)
	}
}
