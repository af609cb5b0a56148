package source

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/palisade-sec/palisade/internal/exchange"
)

func firstLine(b *testing.B, file string) []byte {
	data, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		b.Fatal(err)
	}
	return data[:bytes.IndexByte(data, '\n')]
}

func BenchmarkParseNGINX(b *testing.B) {
	lp, _ := NewLineParser(FormatNGINX, LineOptions{})
	line := firstLine(b, "nginx.log")
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := lp.Parse(line); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseEnvoy(b *testing.B) {
	lp, _ := NewLineParser(FormatEnvoy, LineOptions{})
	line := firstLine(b, "envoy.log")
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := lp.Parse(line); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseNDJSON is the reference: the native exchange decoder.
func BenchmarkParseNDJSON(b *testing.B) {
	lp, _ := NewLineParser(FormatNDJSON, LineOptions{})
	line := []byte(exLine(1))
	b.SetBytes(int64(len(line)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := lp.Parse(line); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOTLPDecodeAndMap measures protobuf decoding plus mapping of a
// 100-span export; ns/op divided by 100 is the cost per span.
func BenchmarkOTLPDecodeAndMap(b *testing.B) {
	specs := make([]spanSpec, 100)
	for i := range specs {
		specs[i] = stableServer
	}
	pb, _ := (&ptrace.ProtoMarshaler{}).MarshalTraces(buildTraces("svc", specs...))
	b.SetBytes(int64(len(pb)))
	b.ReportAllocs()
	for b.Loop() {
		td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(pb)
		if err != nil {
			b.Fatal(err)
		}
		recs, _ := SpansToRecords(td)
		if len(recs) != 100 {
			b.Fatal(len(recs))
		}
	}
}

func BenchmarkTailThroughput(b *testing.B) {
	dir := b.TempDir()
	path := filepath.Join(dir, "access.log")
	var buf bytes.Buffer
	for i := range 1000 {
		buf.WriteString(exLine(i))
	}
	b.SetBytes(int64(buf.Len()))
	sink := &countSink{}
	tl, err := NewTail(TailOptions{Path: path, FromStart: true})
	if err != nil {
		b.Fatal(err)
	}
	os.WriteFile(path, nil, 0o644)
	if err := tl.Poll(sink); err != nil {
		b.Fatal(err)
	}
	f, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o644)
	defer f.Close()
	for b.Loop() {
		f.Write(buf.Bytes())
		if err := tl.Poll(sink); err != nil {
			b.Fatal(err)
		}
	}
	if sink.n != 1000*b.N {
		b.Fatalf("%d records for %d loops", sink.n, b.N)
	}
}

type countSink struct{ n int }

func (c *countSink) Records(r []*exchange.Record) error { c.n += len(r); return nil }
func (c *countSink) Reject(*exchange.RecordError)       {}
func (c *countSink) Drop(string, int64)                 {}
