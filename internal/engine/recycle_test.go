package engine

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/sim"
	"github.com/palisade-sec/palisade/internal/source"
	"github.com/palisade-sec/palisade/internal/testutil"
)

// TestRecycledRecordsSameReport: Read recycles records once analyzed;
// the report must be byte-identical to one built from records that are
// never reused (decoded without a pool and ingested one by one). A record
// kept by an analyzer past Observe would show up here as a difference.
func TestRecycledRecordsSameReport(t *testing.T) {
	cfg := sim.DefaultConfig()
	cfg.Duration = 12 * time.Hour
	cfg.Scale = 0.3
	var buf bytes.Buffer
	if _, err := sim.Generate(cfg, func(r *exchange.Record) error { return exchange.Encode(&buf, r) }); err != nil {
		t.Fatal(err)
	}
	data := buf.Bytes()

	pooled, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if err := pooled.Read(context.Background(), source.NewReader("capture", bytes.NewReader(data), source.ReaderOptions{})); err != nil {
		t.Fatal(err)
	}
	pooled.Flush()
	if pooled.pool.Len() == 0 {
		t.Fatal("no record went back to the pool")
	}

	fresh, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	d, err := exchange.NewDecoder("capture", bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	fresh.AddFile("capture")
	for {
		rec, err := d.Next()
		if err == io.EOF {
			break
		}
		var re *exchange.RecordError
		if errors.As(err, &re) {
			fresh.Reject(re)
			continue
		} else if err != nil {
			t.Fatal(err)
		}
		fresh.Ingest(rec)
	}
	fresh.AddBytes(d.BytesRead())
	fresh.Flush()

	a, b := render(t, pooled.Report(fixedTime)), render(t, fresh.Report(fixedTime))
	if !bytes.Equal(a, b) {
		t.Fatalf("recycling records changed the report: %s", testutil.FirstDiff(a, b))
	}
	if len(a) < 10000 {
		t.Fatalf("report suspiciously small (%d bytes)", len(a))
	}
}
