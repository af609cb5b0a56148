package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"time"

	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/source"
)

// startTails follows the configured files. Each batch of records goes
// through the same durable path as HTTP ingestion (the write-ahead log);
// when the queue is full the tail waits (its file is the buffer), so
// nothing is lost to backpressure. A tail's offset is saved in
// DATA/tail/<hash>.json after its batch was appended, so a restart resumes
// where the log ends (at-least-once for the batch in flight at a crash).
func (s *Server) startTails(ctx context.Context) error {
	tails := s.config().Sources.Tail
	if len(tails) == 0 {
		return nil
	}
	dir := filepath.Join(s.opt.DataDir, "tail")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	for _, tc := range tails {
		sum := sha256.Sum256([]byte(tc.Format + "\x00" + tc.Path))
		t, err := source.NewTail(source.TailOptions{
			Path:        tc.Path,
			Format:      source.Format(tc.Format),
			LineOptions: source.LineOptions{FieldMap: tc.FieldMap, Source: tc.Source},
			FromStart:   tc.FromStart,
			StateFile:   filepath.Join(dir, hex.EncodeToString(sum[:8])+".json"),
			OnRecords:   func(recs []*exchange.Record) { s.ingestTailed(ctx, tc.Path, recs) },
			OnReject: func(e *exchange.RecordError) {
				s.m.records.WithLabelValues("rejected").Inc()
				s.log.Warn("tail: rejected line", "err", e.Error())
			},
		})
		if err != nil {
			return err
		}
		go func() {
			if err := t.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
				s.log.Error("tail stopped", "path", tc.Path, "err", err)
			}
		}()
	}
	return nil
}

// ingestTailed appends a tailed batch, waiting while the queue is full.
func (s *Server) ingestTailed(ctx context.Context, path string, recs []*exchange.Record) {
	for {
		err := s.ingestRecords(recs)
		if err == nil {
			return
		}
		if !errors.Is(err, errQueueFull) || s.closing.Load() {
			s.m.records.WithLabelValues("rejected").Add(float64(len(recs)))
			s.log.Error("tail: records not stored", "path", path, "records", len(recs), "err", err)
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}
