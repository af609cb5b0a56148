package engine

import (
	"errors"
	"fmt"
	"io"

	"github.com/palisade-sec/palisade/internal/exchange"
)

// Progress is called periodically while reading: bytes consumed from the
// underlying reader (compressed bytes for gzip) and records decoded so far.
type Progress func(bytes, records int64)

// ReadInput decodes one input (NDJSON, gzip or HAR, sniffed) into the
// engine. Rejected records are counted with their location; a fatal error
// (unreadable or truncated input) stops this input and is returned after
// the records before it were ingested.
func (e *Engine) ReadInput(name string, r io.Reader, progress Progress) error {
	d, err := exchange.NewDecoder(name, r)
	if err != nil {
		return err
	}
	d.UsePool(&e.pool)
	e.AddFile(name)
	var n int64
	defer func() {
		e.AddBytes(d.BytesRead())
		if progress != nil {
			progress(d.BytesRead(), n)
		}
	}()
	for {
		rec, err := d.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			var re *exchange.RecordError
			if errors.As(err, &re) {
				e.Reject(re)
				continue
			}
			return err
		}
		e.Ingest(rec)
		n++
		if progress != nil && n&1023 == 0 {
			progress(d.BytesRead(), n)
		}
	}
}

// ReadFile opens a named input ("-" = stdin) and reads it.
func (e *Engine) ReadFile(name string, progress Progress) error {
	f, _, err := exchange.Open(name)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	defer f.Close()
	return e.ReadInput(name, f, progress)
}
