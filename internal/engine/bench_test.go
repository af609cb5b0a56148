package engine

import (
	"bytes"
	"context"
	"errors"
	"github.com/palisade-sec/palisade/internal/activity"
	"io"
	"os"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/sim"
	"github.com/palisade-sec/palisade/internal/source"
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
		if p := os.Getenv("PALISADE_BENCH_FILE"); p != "" {
			// A capture written earlier by `palisade sim --scale 6 -o FILE`
			// (the same records; reading is faster than generating).
			data, err := os.ReadFile(p)
			if err != nil {
				b.Fatal(err)
			}
			benchData, benchRecs = data, bytes.Count(data, []byte("\n"))
			return
		}
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

// reportThroughput reports wall-clock and CPU-time throughput. The
// CPU-time figures (exchanges per CPU-second of this process, GC included)
// are what "per core" means and stay meaningful on a loaded machine.
func reportThroughput(b *testing.B, n int, bytes int, cpu time.Duration) {
	sec := b.Elapsed().Seconds()
	total := float64(n) * float64(b.N)
	b.ReportMetric(total/sec, "exchanges/s")
	b.ReportMetric(float64(bytes)*float64(b.N)/sec/1e6, "MB/s")
	b.ReportMetric(total/cpu.Seconds(), "exchanges/cpu-s")
	b.ReportMetric(cpu.Seconds()*1e9/total, "cpu-ns/exchange")
	b.ReportMetric(0, "ns/op")
}

// cpuTime returns the user+system CPU time of this process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkDecode: decoding only (the floor every stage builds on).
func BenchmarkDecode(b *testing.B) {
	data := capture(b)
	b.ResetTimer()
	c0 := cpuTime()
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
			var re *exchange.RecordError
			if err != nil && !errors.As(err, &re) {
				b.Fatal(err)
			}
		}
	}
	reportThroughput(b, benchRecs, len(data), cpuTime()-c0)
}

func benchAnalyze(b *testing.B, mut func(*Config)) {
	data := capture(b)
	b.ResetTimer()
	c0 := cpuTime()
	for i := 0; i < b.N; i++ {
		cfg := DefaultConfig()
		mut(&cfg)
		e, err := New(cfg)
		if err != nil {
			b.Fatal(err)
		}
		if err := e.Read(context.Background(), source.NewReader("bench", bytes.NewReader(data), source.ReaderOptions{})); err != nil {
			b.Fatal(err)
		}
		e.Flush()
		e.Report(fixedTime)
	}
	reportThroughput(b, benchRecs, len(data), cpuTime()-c0)
}

// BenchmarkAnalyzeInventory: decode + enrich + inventory (the spine).
func BenchmarkAnalyzeInventory(b *testing.B) {
	benchAnalyze(b, func(c *Config) { c.NoDetect, c.NoClassify, c.NoPosture = true, true, true })
}

// BenchmarkAnalyzeNoDetect: everything but the detectors.
func BenchmarkAnalyzeNoDetect(b *testing.B) {
	benchAnalyze(b, func(c *Config) { c.NoDetect = true })
}

// BenchmarkAnalyzeFull: the whole pipeline with every detector.
func BenchmarkAnalyzeFull(b *testing.B) {
	benchAnalyze(b, func(c *Config) {})
}

// BenchmarkAnalyzeServe: the whole pipeline plus serve's per-subject
// activity summary (the attacker view); compare with BenchmarkAnalyzeFull in
// the same run.
func BenchmarkAnalyzeServe(b *testing.B) {
	benchAnalyze(b, func(c *Config) {
		ac := activity.DefaultConfig()
		c.Activity = &ac
	})
}
