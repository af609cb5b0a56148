package engine

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/source"
)

const attackLine = `{"time":"2026-11-18T14:03:22Z","client":{"ip":"203.0.113.9"},"request":{"method":"GET","url":"https://api.example.test/v1/items?q=1%27%20UNION%20SELECT%20username,password%20FROM%20users--"},"response":{"status":200}}` + "\n"
const plainLine = `{"time":"2026-11-18T14:03:23Z","client":{"ip":"198.51.100.7"},"request":{"method":"GET","url":"https://api.example.test/v1/items?q=shoes"},"response":{"status":200}}` + "\n"

// A stream's records are analyzed while it is open: the alert of a record
// comes out within the release interval, not at the end of the input nor
// after the reorder window of event time.
func TestStreamAlertsAsTheyCome(t *testing.T) {
	e, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	alerts := make(chan model.Alert, 10)
	e.OnNewAlert(func(a model.Alert) { alerts <- a })
	pr, pw := io.Pipe()
	st := NewStream(e, 10*time.Millisecond)
	done := make(chan error, 1)
	go func() { done <- st.Run(context.Background(), source.NewReader("-", pr, source.ReaderOptions{})) }()
	go pw.Write([]byte(plainLine + attackLine))
	select {
	case a := <-alerts:
		if !strings.HasPrefix(a.Type, "injection.") || a.Client == nil || a.Client.IP != "203.0.113.9" {
			t.Fatalf("alert %+v", a)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no alert while the stream is open")
	}
	pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	e.Flush()
	r := e.Report(time.Now())
	if r.Input.Records != 2 || len(r.Input.Files) != 1 || r.Input.Bytes == 0 {
		t.Fatalf("input %+v", r.Input)
	}
}

// Cancelling a stream (Ctrl-C) ends Run although the source is blocked in
// a read; the engine then holds what was read, and nothing more arrives.
func TestStreamCancel(t *testing.T) {
	e, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	defer pw.Close()
	ctx, cancel := context.WithCancel(context.Background())
	st := NewStream(e, 10*time.Millisecond)
	done := make(chan error, 1)
	go func() { done <- st.Run(ctx, source.NewReader("-", pr, source.ReaderOptions{})) }()
	pw.Write([]byte(plainLine))
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		st.mu.Lock()
		n := e.input.Records
		st.mu.Unlock()
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the record was not delivered")
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return on cancellation")
	}
	go pw.Write([]byte(attackLine))
	time.Sleep(50 * time.Millisecond)
	e.Flush()
	if r := e.Report(time.Now()); r.Input.Records != 1 || len(r.Alerts) != 0 {
		t.Fatalf("records %d alerts %d after the stop", r.Input.Records, len(r.Alerts))
	}
}
