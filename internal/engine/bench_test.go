package engine

import (
	"bytes"
	"io"
	"sync"
	"testing"

	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/sim"
)

// benchCapture is a simulated capture of at least 500k records (NDJSON),
// generated once per process. Scale 6 over 48 h gives ≈550k records.
var (
	benchOnce sync.Once
	benchData []byte
	benchRecs int
)

func capture(b *testing.B) []byte {
	benchOnce.Do(func() {
		cfg := sim.DefaultConfig()
		cfg.Scale = 6
		var buf bytes.Buffer
		buf.Grow(600 << 20)
		_, err := sim.Generate(cfg, func(r *exchange.Record) error {
			benchRecs++
			return exchange.Encode(&buf, r)
		})
		if err != nil {
			b.Fatal(err)
		}
		benchData = buf.Bytes()
	})
	if benchRecs < 500_000 {
		b.Fatalf("capture has %d records, want ≥ 500k", benchRecs)
	}
	return benchData
}

func reportThroughput(b *testing.B, n int, bytes int) {
	sec := b.Elapsed().Seconds()
	b.ReportMetric(float64(n)*float64(b.N)/sec, "exchanges/s")
	b.ReportMetric(float64(bytes)*float64(b.N)/sec/1e6, "MB/s")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkDecode: decoding only (the floor every stage builds on).
func BenchmarkDecode(b *testing.B) {
	data := capture(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d, err := exchange.NewDecoder("bench", bytes.NewReader(data))
		if err != nil {
			b.Fatal(err)
		}
		for {
			_, err := d.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
		}
	}
	reportThroughput(b, benchRecs, len(data))
}

func benchAnalyze(b *testing.B, mut func(*Config)) {
	data := capture(b)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cfg := DefaultConfig()
		mut(&cfg)
		e, err := New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		if err := e.ReadInput("bench", bytes.NewReader(data), nil); err != nil {
			b.Fatal(err)
		}
		e.Flush()
		e.Report(fixedTime)
	}
	reportThroughput(b, benchRecs, len(data))
}

// BenchmarkAnalyzeInventory: decode + enrich + inventory (the spine).
func BenchmarkAnalyzeInventory(b *testing.B) {
	benchAnalyze(b, func(c *Config) { c.NoDetect, c.NoClassify = true, true })
}

// BenchmarkAnalyzeNoDetect: everything but the detectors.
func BenchmarkAnalyzeNoDetect(b *testing.B) {
	benchAnalyze(b, func(c *Config) { c.NoDetect = true })
}

// BenchmarkAnalyzeFull: the whole pipeline with every detector.
func BenchmarkAnalyzeFull(b *testing.B) {
	benchAnalyze(b, func(c *Config) {})
}
