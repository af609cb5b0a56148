package cluster

import (
	"bytes"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/engine"
)

// TestCheckpointSize measures an endpoint partition's checkpoint after the
// 48 h demo capture in one partition (docs/cluster.md quotes it) and
// checks that it restores to the same state; the largest parts are logged.
func TestCheckpointSize(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	cfg := engine.DefaultConfig()
	s, codecs, records := filledStage(t, cfg, 48, 1)
	t0 := time.Now()
	raw, err := codecs.endpoint.Encode(nil, s)
	if err != nil {
		t.Fatal(err)
	}
	t1 := time.Now()
	z := compress(raw)
	t2 := time.Now()
	f, _ := NewEndpointStage(0, cfg, nil)
	if err := codecs.endpoint.Decode(raw, f); err != nil {
		t.Fatal(err)
	}
	t3 := time.Now()
	again, err := codecs.endpoint.Encode(nil, f)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(again, raw) {
		t.Fatalf("the restored partition encodes differently: %s", explainDiff(codecs.endpoint, f, raw, again))
	}
	t.Logf("%d records: state %d bytes (zstd %d), encode %v, compress %v, decode %v", records, len(raw), len(z), t1.Sub(t0), t2.Sub(t1), t3.Sub(t2))
	for _, l := range codecs.endpoint.Sizes(s, 25) {
		t.Log(l)
	}
}

// BenchmarkCheckpointEncode: encoding an endpoint partition's state after
// a 12 h simulated capture (what a checkpoint costs the partition's loop).
func BenchmarkCheckpointEncode(b *testing.B) {
	s, codecs, _ := filledStage(b, engine.DefaultConfig(), 12, 0.5)
	var buf []byte
	b.ResetTimer()
	for b.Loop() {
		var err error
		if buf, err = codecs.endpoint.Encode(buf[:0], s); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(buf)), "state-bytes")
}

// filledStage is one endpoint partition that took a whole simulated
// capture, with the codecs of its configuration.
func filledStage(tb testing.TB, cfg engine.Config, hours, scale float64) (*EndpointStage, *stateCodecs, int) {
	lines := simCapture(tb, hours, scale)
	s, err := NewEndpointStage(0, cfg, nil)
	if err != nil {
		tb.Fatal(err)
	}
	codecs, err := newStateCodecs(cfg, 1)
	if err != nil {
		tb.Fatal(err)
	}
	for i, l := range lines {
		s.Record(uint64(i+1), decode(tb, l))
	}
	return s, codecs, len(lines)
}
