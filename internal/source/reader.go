package source

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/palisade-sec/palisade/internal/exchange"
)

// ReaderOptions configure a Reader.
type ReaderOptions struct {
	// Batch is the most records handed to the sink at once [256]. A batch
	// is delivered early when the input has nothing more buffered (a
	// stream that is waiting for its writer), so records never wait for a
	// full batch.
	Batch int
	// Progress, when set, is called every 1024 records and at the end
	// with the bytes read from the input and the records decoded so far.
	Progress func(bytes, records int64)
	// Limits bound what the decoder reads and holds (untrusted input: the
	// ingest API): bytes after every decoding layer, one record. Zero: the
	// decoder's built-in bounds (a record of at most exchange.MaxLine).
	Limits exchange.Limits
}

// Reader is the Source of one file or stream of exchange records: NDJSON
// (plain or gzip, sniffed by its magic bytes) or a HAR 1.2 document
// (sniffed by its first key), decoded by exchange.Decoder. Rejected lines
// (HAR entries) are reported with their line (entry) and field. It is
// one-shot: Run returns at the end of the input.
type Reader struct {
	counter
	name      string
	r         io.Reader
	closer    io.Closer
	o         ReaderOptions
	streaming bool
	decoded   int64
}

// NewReader returns the Source of r; name labels it in errors.
func NewReader(name string, r io.Reader, o ReaderOptions) *Reader {
	if o.Batch <= 0 {
		o.Batch = 256
	}
	return &Reader{name: name, r: r, o: o}
}

// Open returns the Source of a named input: a file, or "-" for standard
// input. Run closes the file. A directory or a missing file is an error
// here, before anything is read.
func Open(name string, o ReaderOptions) (*Reader, error) {
	rc, _, err := exchange.Open(name)
	if err != nil {
		return nil, err
	}
	rd := NewReader(name, rc, o)
	rd.closer = rc
	rd.streaming = true
	if f, ok := rc.(*os.File); ok {
		rd.streaming = isStream(f)
	} else if name == "-" {
		rd.streaming = isStream(os.Stdin)
	}
	return rd, nil
}

// isStream reports whether f is not a regular file (a pipe, a terminal, a
// socket): its end is not known in advance and records arrive over time.
func isStream(f *os.File) bool {
	st, err := f.Stat()
	return err != nil || !st.Mode().IsRegular()
}

// Name implements Source.
func (r *Reader) Name() string { return r.name }

// Streaming reports whether the input is a stream rather than a regular
// file (Open only): records arrive while it is read, so a consumer shows
// results as they come instead of only at the end.
func (r *Reader) Streaming() bool { return r.streaming }

// Run implements Source: it decodes the input to its end. Rejected
// records are reported to the sink and the input goes on; an unreadable
// or truncated input ends Run with an error after the records before the
// damage were delivered.
func (r *Reader) Run(ctx context.Context, sink Sink) error {
	if r.closer != nil {
		defer r.closer.Close()
	}
	d, err := exchange.NewDecoderLimits(r.name, r.r, r.o.Limits)
	if err != nil {
		return err
	}
	if ps, ok := sink.(PoolSink); ok {
		d.UsePool(ps.RecordPool())
	}
	var last int64
	defer func() {
		r.addBytes(d.BytesRead() - last)
		if r.o.Progress != nil {
			r.o.Progress(d.BytesRead(), r.decoded)
		}
	}()
	batch := make([]*exchange.Record, 0, r.o.Batch)
	deliver := func() error {
		err := r.records(sink, batch)
		clear(batch)
		batch = batch[:0]
		b := d.BytesRead()
		r.addBytes(b - last)
		last = b
		if err != nil {
			return fmt.Errorf("%s: %w", r.name, err)
		}
		return ctx.Err()
	}
	for {
		if len(batch) > 0 && (len(batch) >= r.o.Batch || d.Buffered() == 0) {
			if err := deliver(); err != nil {
				return ignoreCanceled(err)
			}
		}
		rec, err := d.Next()
		if err == io.EOF {
			return ignoreCanceled(deliver())
		}
		if err != nil {
			var re *exchange.RecordError
			if errors.As(err, &re) {
				// In input order: the records before it first.
				if err := deliver(); err != nil {
					return ignoreCanceled(err)
				}
				r.reject(sink, re)
				continue
			}
			if derr := deliver(); derr != nil {
				return errors.Join(err, ignoreCanceled(derr))
			}
			return err
		}
		batch = append(batch, rec)
		r.decoded++
		if r.o.Progress != nil && r.decoded&1023 == 0 {
			r.o.Progress(d.BytesRead(), r.decoded)
		}
	}
}

// ignoreCanceled turns the end of the caller's context into a normal end.
func ignoreCanceled(err error) error {
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return nil
	}
	return err
}
