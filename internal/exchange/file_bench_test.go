package exchange

import (
	"bytes"
	"io"
	"os"
	"testing"
)

// BenchmarkDecodeFile decodes the capture named by PALISADE_BENCH_FILE with
// the fast decoder and with the general one alone.
func BenchmarkDecodeFile(b *testing.B) {
	for _, fast := range []bool{true, false} {
		name := "fast"
		if !fast {
			name = "general"
		}
		b.Run(name, func(b *testing.B) {
			defer func(v bool) { fastDecoding = v }(fastDecoding)
			fastDecoding = fast
			benchDecodeFile(b)
		})
	}
}

func benchDecodeFile(b *testing.B) {
	p := os.Getenv("PALISADE_BENCH_FILE")
	if p == "" {
		b.Skip("PALISADE_BENCH_FILE not set")
	}
	data, err := os.ReadFile(p)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	n := 0
	for i := 0; i < b.N; i++ {
		d, _ := NewDecoder("bench", bytes.NewReader(data))
		for {
			if _, err := d.Next(); err == io.EOF {
				break
			}
			n++
		}
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}
