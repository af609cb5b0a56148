package server

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/engine"
	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/sim"
)

// GET /api/v1/detectors and the palisade_detector_* gauges report the
// engine's learning state at the last checkpoint: on one hour of a small
// deployment, the population-free families are ready and bfla's learning
// period (2 h) is not.
func TestDetectorsReadiness(t *testing.T) {
	eng, err := engine.New(engine.DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	env := newEnvWith(t, t.TempDir(), nil, nil, eng)
	// Before the first checkpoint: an empty list, no as_of.
	resp, body := env.do(t, "GET", "/api/v1/detectors", "viewer", nil)
	var rd Readiness
	if resp.StatusCode != http.StatusOK || json.Unmarshal(body, &rd) != nil || rd.AsOf != nil || rd.Detectors == nil || len(rd.Detectors) != 0 {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
	cfg := sim.DefaultConfig()
	cfg.Variant, _ = sim.VariantByName("one-hour")
	var buf bytes.Buffer
	if _, err := sim.Generate(cfg, func(r *exchange.Record) error {
		b, err := json.Marshal(r)
		buf.Write(b)
		buf.WriteByte('\n')
		return err
	}); err != nil {
		t.Fatal(err)
	}
	resp, body = env.do(t, "POST", "/api/v1/ingest", "ingest", &buf)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("ingest: %d %s", resp.StatusCode, body)
	}
	byName := map[string]string{}
	waitFor(t, "readiness at a checkpoint", func() bool {
		_, body := env.do(t, "GET", "/api/v1/detectors", "viewer", nil)
		rd = Readiness{}
		json.Unmarshal(body, &rd)
		for _, d := range rd.Detectors {
			byName[d.Detector] = d.State
		}
		return rd.AsOf != nil && rd.AsOf.After(cfg.Start.Add(50*60e9)) && byName["bfla"] != ""
	})
	if byName["bfla"] != "partial" && byName["bfla"] != "learning" || byName["spray"] == "" || rd.Ready+rd.Partial+rd.Learning != len(rd.Detectors) {
		t.Fatalf("states %v (%d/%d/%d)", byName, rd.Ready, rd.Partial, rd.Learning)
	}
	for _, d := range rd.Detectors {
		if d.Detector != "bfla" {
			continue
		}
		for _, b := range d.Baselines {
			if b.Scope == "population" && (b.State != "learning" || b.Missing == nil || b.Missing.Hours <= 0 || b.WhileLearning == "") {
				t.Errorf("bfla learning period: %+v", b)
			}
		}
	}
	_, mb := env.do(t, "GET", "/metrics", "viewer", nil)
	for _, want := range []string{`palisade_detector_state{detector="bfla",state="` + byName["bfla"] + `"} 1`, `palisade_detector_scopes{baseline=`} {
		if !strings.Contains(string(mb), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}
