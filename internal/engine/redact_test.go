package engine

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/testutil"
)

// Finding 4: every alert and finding leaving the engine (the report, from
// which serve also feeds the store and the sinks) goes through one
// redaction step. Canaries of every sensitive class are planted inside
// injection payloads; none may appear in the alerts or the report (the
// fragments of injection alerts carried full card numbers, an IBAN and an
// SSN before).
func TestCanariesRedactedAtTheExit(t *testing.T) {
	e, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 11, 18, 9, 0, 0, 0, time.UTC)
	qs, bodies := testutil.CanaryAttacks()
	i := 0
	add := func(method, path, body string) {
		r := &exchange.Record{Time: base.Add(time.Duration(i) * time.Second), Client: exchange.Client{IP: "203.0.113.9"},
			Request:  exchange.Request{Method: method, URL: "https://shop.example.test" + path, Body: body, Headers: map[string]string{"content-type": "application/json"}},
			Response: exchange.Response{Status: 200}}
		i++
		if err := r.Validate(); err != nil {
			t.Fatal(err)
		}
		e.Ingest(r)
	}
	for _, q := range qs {
		add("GET", q, "")
	}
	for _, b := range bodies {
		add("POST", "/v1/comments", b)
	}
	// Mid-stream (open windows, as serve reads it at each checkpoint) and
	// at the end.
	e.Drain()
	mid := e.Report(fixedTime)
	e.Flush()
	rep := e.Report(fixedTime)
	if len(rep.Alerts) == 0 || len(mid.Alerts) == 0 {
		t.Fatalf("no alerts raised (%d, %d): the canary attacks must be detected for this test to mean anything", len(rep.Alerts), len(mid.Alerts))
	}
	b, _ := json.Marshal(rep)
	if leaks := testutil.Leaks(b); len(leaks) > 0 {
		t.Errorf("report leaks %v", leaks)
	}
	m, _ := json.Marshal(mid)
	if leaks := testutil.Leaks(m); len(leaks) > 0 {
		t.Errorf("mid-stream report (serve's checkpoints: store and sinks) leaks %v", leaks)
	}
}

// The reorder buffer is bounded in bytes as well as in records: records
// carry bodies of the client's size, and serve no longer drains the buffer
// at checkpoints (found by the abuse suite: 8 uploads of 1,000 × 30 KB
// records held ≈ 500 MiB for the reorder window).
func TestReorderBufferBytesBounded(t *testing.T) {
	cfg := DefaultConfig()
	cfg.ReorderMaxBytes = 1 << 20
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 11, 18, 9, 0, 0, 0, time.UTC)
	body := strings.Repeat("b", 100<<10)
	var most int64
	for i := range 100 {
		r := &exchange.Record{Time: base.Add(time.Duration(i) * time.Millisecond), Client: exchange.Client{IP: "192.0.2.1"},
			Request: exchange.Request{Method: "POST", URL: "https://a.test/x", Body: body}, Response: exchange.Response{Status: 200}}
		if err := r.Validate(); err != nil {
			t.Fatal(err)
		}
		e.Ingest(r)
		most = max(most, e.bufBytes)
	}
	if most > cfg.ReorderMaxBytes || e.buf.Len() == 0 {
		t.Fatalf("buffer held %d bytes (limit %d), %d records", most, cfg.ReorderMaxBytes, e.buf.Len())
	}
	e.Flush()
	if rep := e.Report(fixedTime); rep.Input.Records != 100 || rep.Input.Late != 0 {
		t.Fatalf("records %d late %d", rep.Input.Records, rep.Input.Late)
	}
}
