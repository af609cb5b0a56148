package sink

import (
	"bytes"
	"context"
	"testing"

	"github.com/palisade-sec/palisade/internal/model"
)

func BenchmarkFormatCEF(b *testing.B) {
	a := sampleAlert()
	b.ReportAllocs()
	for b.Loop() {
		_ = FormatCEF(&a, "1.0.0")
	}
}

func BenchmarkEncodeOCSF(b *testing.B) {
	alerts := []model.Alert{sampleAlert()}
	var buf bytes.Buffer
	b.ReportAllocs()
	for b.Loop() {
		buf.Reset()
		if err := EncodeOCSF(&buf, alerts, OCSFOptions{APIActivity: true}); err != nil {
			b.Fatal(err)
		}
	}
}

type nopSink struct{}

func (nopSink) Name() string                              { return "nop" }
func (nopSink) Send(context.Context, []model.Alert) error { return nil }

// BenchmarkPublish is the cost the pipeline pays per alert with three
// sinks configured (the workers run concurrently).
func BenchmarkPublish(b *testing.B) {
	d := NewDispatcher([]Configured{{Sink: nopSink{}}, {Sink: nopSink{}, Filter: Filter{Types: []string{"injection.*"}}}, {Sink: nopSink{}, Filter: Filter{MinSeverity: model.SevCritical}}}, Options{QueueSize: 1 << 16})
	a := sampleAlert()
	b.ReportAllocs()
	for b.Loop() {
		d.Publish(a)
	}
	b.StopTimer()
	d.Close(context.Background())
}
