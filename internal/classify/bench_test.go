package classify

import (
	"testing"
	"time"
)

// BenchmarkClassifyBody measures classification of typical JSON response
// bodies (2.5 KB order with PII, 4 KB product list without) against a
// walk-only baseline (decoding cost) and the sampled steady state.
func BenchmarkClassifyBody(b *testing.B) {
	c, err := New(DefaultConfig())
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"order.json", "products.json"} {
		body := fixture(b, name)
		b.Run(name+"/walk-only", func(b *testing.B) {
			text := string(body) // a response body reaches the analyzer as a string
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				_, _ = walkJSON(text, 4096, func(_ []byte, tok *jsonLeaf) bool { _ = tok.String(); return true })
			}
		})
		b.Run(name+"/classify", func(b *testing.B) {
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				_, _ = c.ClassifyJSON(body, func(string, Match, string) {})
			}
		})
		b.Run(name+"/analyzer-sampled", func(b *testing.B) {
			a := NewAnalyzer(c)
			ev := mkEvent(time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), "/x", string(body))
			for i := 0; i < 200; i++ { // reach the stable, sampled state
				a.Scan(ev, LocResponseBody, nil)
			}
			b.SetBytes(int64(len(body)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				a.Scan(ev, LocResponseBody, nil)
			}
		})
	}
}
