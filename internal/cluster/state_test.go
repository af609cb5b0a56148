package cluster

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/palisade-sec/palisade/internal/detect"
	"github.com/palisade-sec/palisade/internal/engine"
	"github.com/palisade-sec/palisade/internal/statecodec"
)

// TestStateRoundTrip: for the engine and each of its stateful components
// alone (the inventory, classification, the traffic posture rules, every
// detection family), restore(snapshot(state)) taken at two thirds of a
// capture continues exactly as the original: the report after the rest of
// the capture is byte-identical to an uninterrupted run's. A control
// checks that the state matters: the rest of the capture alone gives
// another report.
func TestStateRoundTrip(t *testing.T) {
	lines := simCapture(t, 10, 0.2)
	cut := 2 * len(lines) / 3
	only := func(families ...string) []string {
		var off []string
		for _, f := range detect.Families() {
			keep := false
			for _, x := range families {
				keep = keep || x == f
			}
			if !keep {
				off = append(off, f)
			}
		}
		return off
	}
	type tc struct {
		name string
		cfg  func(*engine.Config)
	}
	cases := []tc{
		{"engine", func(*engine.Config) {}},
		{"inventory", func(c *engine.Config) { c.NoDetect, c.NoClassify, c.NoPosture = true, true, true }},
		{"classify", func(c *engine.Config) { c.NoDetect, c.NoPosture = true, true }},
		{"posture", func(c *engine.Config) { c.NoDetect, c.NoClassify = true, true }},
	}
	for _, f := range detect.Families() {
		cases = append(cases, tc{"detect/" + f, func(c *engine.Config) {
			c.NoPosture, c.NoClassify = true, f != "sensitive_exposure"
			c.Detect.Disabled = only(f)
		}})
	}
	render := func(e *engine.Engine) []byte {
		e.Flush()
		b, _ := json.MarshalIndent(e.Report(fixedNow), "", " ")
		return b
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := engine.DefaultConfig()
			c.cfg(&cfg)
			whole, err := engine.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range lines {
				whole.Ingest(decode(t, l))
			}
			want := render(whole)
			a, _ := engine.New(cfg)
			for _, l := range lines[:cut] {
				a.Ingest(decode(t, l))
			}
			proto, _ := engine.New(cfg)
			codec, err := statecodec.New(proto, codecOptions...)
			if err != nil {
				t.Fatal(err)
			}
			snap, err := codec.Encode(nil, a)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := engine.New(cfg)
			if err := codec.Decode(snap, b); err != nil {
				t.Fatal(err)
			}
			again, err := codec.Encode(nil, b)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(again, snap) {
				i := 0
				for i < len(snap) && i < len(again) && snap[i] == again[i] {
					i++
				}
				t.Fatalf("the restored state encodes differently at byte %d: %s", i, codec.Explain(b, i))
			}
			for _, l := range lines[cut:] {
				b.Ingest(decode(t, l))
			}
			if got := render(b); !bytes.Equal(got, want) {
				t.Fatalf("restored at record %d of %d, the report differs: %s", cut, len(lines), firstDiff(got, want))
			}
			if c.name == "engine" {
				fresh, _ := engine.New(cfg)
				for _, l := range lines[cut:] {
					fresh.Ingest(decode(t, l))
				}
				if bytes.Equal(render(fresh), want) {
					t.Fatal("control: the rest of the capture alone gives the same report (the test cannot fail)")
				}
			}
			t.Logf("snapshot %d bytes", len(snap))
		})
	}
}
