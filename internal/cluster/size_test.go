package cluster

import (
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/engine"
)

func TestScratchSize(t *testing.T) {
	lines := simCapture(t, 48, 1)
	cfg := engine.DefaultConfig()
	s, _ := NewEndpointStage(0, cfg, nil)
	codecs, _ := newStateCodecs(cfg, 1)
	for i, l := range lines {
		s.Record(uint64(i+1), decode(t, l))
	}
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
	t.Logf("%d records: state %d bytes (zstd %d), encode %v, compress %v, decode %v", len(lines), len(raw), len(z), t1.Sub(t0), t2.Sub(t1), t3.Sub(t2))
	for _, l := range codecs.endpoint.Sizes(s, 25) {
		t.Log(l)
	}
}
