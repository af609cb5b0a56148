package exchange

import (
	"bytes"
	"fmt"
	"io"
	"testing"
	"time"
)

func synthCapture(n int) []byte {
	var b bytes.Buffer
	t0 := time.Date(2026, 11, 18, 0, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		r := &Record{Time: t0.Add(time.Duration(i) * 10 * time.Millisecond), DurationMs: float64(i%300) + 0.5,
			Client: Client{IP: fmt.Sprintf("198.51.%d.%d", i%200, i%250)},
			Request: Request{Method: "GET", URL: fmt.Sprintf("https://api.example.test/v2/users/%d/orders?page=%d", 10000+i%5000, i%7),
				Headers: map[string]string{"user-agent": "Mozilla/5.0 (X11; Linux x86_64) Gecko/20100101 Firefox/130.0", "authorization": "Bearer eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyMTIzIn0.c2ln", "accept": "application/json"}},
			Response: Response{Status: 200, Headers: map[string]string{"content-type": "application/json", "server": "envoy"},
				Body: fmt.Sprintf(`{"orders":[{"id":%d,"total":12.5,"items":[{"sku":"SKU-%d","qty":1}],"email":"user%d@mail.example.test"}],"page":%d}`, i, i%900, i%5000, i%7)}}
		Encode(&b, r)
	}
	return b.Bytes()
}

// BenchmarkDecodeNDJSON measures decoding + validation of ~600-byte records,
// with the fast decoder and with the general (reflection-based) one alone.
func BenchmarkDecodeNDJSON(b *testing.B) {
	for _, fast := range []bool{true, false} {
		name := "fast"
		if !fast {
			name = "general"
		}
		b.Run(name, func(b *testing.B) {
			defer func(v bool) { fastDecoding = v }(fastDecoding)
			fastDecoding = fast
			benchDecode(b)
		})
	}
}

func benchDecode(b *testing.B) {
	data := synthCapture(50_000)
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		d, _ := NewDecoder("bench", bytes.NewReader(data))
		for {
			if _, err := d.Next(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(50_000*b.N)/b.Elapsed().Seconds(), "records/s")
}
