package engine

import (
	"context"

	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/source"
)

// The engine is a source.Sink: sources hand it records, rejections and
// drop counts (Read runs one; serve mode feeds it from the write-ahead
// log instead).
var _ source.PoolSink = (*Engine)(nil)

// Records implements source.Sink: every record is ingested (it never
// refuses).
func (e *Engine) Records(recs []*exchange.Record) error {
	for _, r := range recs {
		e.Ingest(r)
	}
	return nil
}

// RecordPool implements source.PoolSink: records decoded into it are
// recycled once every analyzer has seen them.
func (e *Engine) RecordPool() *exchange.RecordPool { return &e.pool }

// Read runs a one-shot source (a file, standard input, a request body)
// into the engine to its end: its name is listed in the report's inputs,
// its bytes counted, rejected records kept with their location. A fatal
// error (unreadable or truncated input) ends this input and is returned
// after the records before it were ingested.
func (e *Engine) Read(ctx context.Context, src source.Source) error {
	e.AddFile(src.Name())
	err := src.Run(ctx, e)
	e.AddBytes(src.Stats().Bytes)
	return err
}

// ReadFile opens a named input ("-" = stdin) and reads it.
func (e *Engine) ReadFile(name string) error {
	src, err := source.Open(name, source.ReaderOptions{})
	if err != nil {
		return err
	}
	return e.Read(context.Background(), src)
}
