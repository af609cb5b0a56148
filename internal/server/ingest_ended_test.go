package server

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// cancelAfter is a request body that ends the request's context once n
// bytes were read, and goes on giving bytes: what a body deadline or a
// client gone looks like to the handler while the decoder still works
// through what it buffered.
type cancelAfter struct {
	r      io.Reader
	n      int
	cancel context.CancelFunc
}

func (c *cancelAfter) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n -= n
	if c.n <= 0 {
		c.cancel()
	}
	return n, err
}

// An ingest whose request ended before its body did is not a success (the
// abuse suite's HAR bomb was answered 200 with part of its records
// accepted once the body deadline fired while the decoder worked).
func TestIngestRequestEndedIsNotSuccess(t *testing.T) {
	env := newEnv(t, func(c *Config) { c.Ingest.BatchRecords = 50 }, nil)
	body := ndjson(5000, "/ended")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	req := httptest.NewRequest("POST", "/api/v1/ingest", &cancelAfter{r: strings.NewReader(body), n: 64 << 10, cancel: cancel}).WithContext(ctx)
	w := httptest.NewRecorder()
	env.srv.handleIngest(w, req)
	if w.Code != http.StatusRequestTimeout {
		t.Fatalf("status %d, want 408: %s", w.Code, w.Body)
	}
	var res IngestResult
	if err := json.Unmarshal(w.Body.Bytes(), &res); err != nil {
		t.Fatal(err)
	}
	if res.Accepted >= 5000 || res.ResumeRecord != res.Accepted+1 || !strings.Contains(res.NotAccepted, "resend from resume_record") {
		t.Fatalf("%+v", res)
	}
}
