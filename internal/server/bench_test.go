package server

import (
	"bytes"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"
)

// BenchmarkIngestHTTP measures records/s through POST /api/v1/ingest over
// loopback: decode, validate, WAL append with fsync, answer. The engine is
// a trivial fake so the figure is the ingestion path alone.
func BenchmarkIngestHTTP(b *testing.B) {
	for _, tc := range []struct {
		name    string
		perReq  int
		clients int
		gzip    bool
	}{
		{"req=1000/clients=1", 1000, 1, false},
		{"req=1000/clients=4", 1000, 4, false},
		{"req=1000/clients=4/gzip", 1000, 4, true},
		{"req=50/clients=8", 50, 8, false},
	} {
		b.Run(tc.name, func(b *testing.B) {
			env := newEnv(b, func(c *Config) { c.Ingest.QueueRecords = 1 << 40 }, nil)
			body := []byte(ndjson(tc.perReq, "/v1/items/42"))
			hdr := ""
			if tc.gzip {
				body = gz(string(body))
				hdr = "gzip"
			}
			tok := env.tokens["ingest"]
			b.SetBytes(int64(len(body)))
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			var mu sync.Mutex
			n := b.N
			next := 0
			for range tc.clients {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						mu.Lock()
						if next >= n {
							mu.Unlock()
							return
						}
						next++
						mu.Unlock()
						req, _ := http.NewRequest("POST", env.http.URL+"/api/v1/ingest", bytes.NewReader(body))
						req.Header.Set("Authorization", "Bearer "+tok)
						if hdr != "" {
							req.Header.Set("Content-Encoding", hdr)
						}
						resp, err := http.DefaultClient.Do(req)
						if err != nil {
							b.Error(err)
							return
						}
						resp.Body.Close()
						if resp.StatusCode != 200 {
							b.Error(fmt.Sprint("status ", resp.StatusCode))
							return
						}
					}
				}()
			}
			wg.Wait()
			el := time.Since(start)
			b.ReportMetric(float64(n*tc.perReq)/el.Seconds(), "records/s")
		})
	}
}
