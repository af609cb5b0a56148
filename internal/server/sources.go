package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/source"
)

// walSink is the source.Sink of what the server reads itself (followed
// logs, OTLP exports): records are appended to the write-ahead log, so
// Records returning nil means durable; rejections and drops are counted.
// A sink that waits (a followed log: its file is the buffer) retries while
// the queue is full until ctx ends; one that does not (OTLP: the exporter
// retries) refuses with a *source.Retry.
type walSink struct {
	s    *Server
	ctx  context.Context
	name string
	wait bool
}

func (k *walSink) Records(recs []*exchange.Record) error {
	for {
		err := k.s.ingestRecords(recs)
		if err == nil {
			return nil
		}
		var busy RetryLater // the bus of a clustered deployment
		if errors.As(err, &busy) {
			if !k.wait || k.s.closing.Load() {
				return &source.Retry{Busy: busy.Overloaded(), After: busy.RetryAfter(), Msg: busy.Error()}
			}
		}
		full := errors.Is(err, errQueueFull) || busy != nil
		if !full || !k.wait || k.s.closing.Load() {
			if full {
				secs, _ := strconv.Atoi(k.s.retryAfter())
				return &source.Retry{Busy: true, After: time.Duration(secs) * time.Second, Msg: "ingest queue full"}
			}
			if k.s.closing.Load() {
				return &source.Retry{After: 5 * time.Second, Msg: "server is shutting down"}
			}
			k.s.log.Error("records not stored", "source", k.name, "records", len(recs), "err", err)
			return &source.Retry{After: 30 * time.Second, Msg: "storage unavailable"}
		}
		select {
		case <-k.ctx.Done():
			return k.ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func (k *walSink) Reject(e *exchange.RecordError) {
	k.s.m.records.WithLabelValues("rejected").Inc()
	k.s.log.Warn("rejected input", "source", k.name, "err", e.Error())
}

func (k *walSink) Drop(reason string, n int64) {
	k.s.m.dropped.WithLabelValues(reason).Add(float64(n))
}

// startSources runs the OTLP receiver and the configured sources (the
// "sources" section: followed logs, and any kind registered with
// source.Register) into the write-ahead log. A source keeps its position
// in DATA/tail (a followed log: <hash>.json, saved once its records are
// durable), so a restart resumes where it stopped (at-least-once for what
// was in flight).
func (s *Server) startSources(ctx context.Context) error {
	go s.otlp.Run(ctx, &walSink{s: s, ctx: ctx, name: "otlp"})
	srcs := s.config().Sources
	if len(srcs) == 0 {
		return nil
	}
	dir := filepath.Join(s.opt.DataDir, "tail")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return srcs.Each(func(kind string, i int, sc source.Config) error {
		src, err := sc.New(dir)
		if err != nil {
			return fmt.Errorf("sources.%s[%d]: %w", kind, i, err)
		}
		go func() {
			if err := src.Run(ctx, &walSink{s: s, ctx: ctx, name: src.Name(), wait: true}); err != nil && ctx.Err() == nil {
				s.log.Error("source stopped", "source", src.Name(), "err", err)
			}
		}()
		return nil
	})
}
