package exchange

import (
	"bytes"
	"io"
	"os"
	"testing"
)

func BenchmarkDecodeFile(b *testing.B) {
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
