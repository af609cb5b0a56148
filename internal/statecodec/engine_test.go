package statecodec_test

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"

	"github.com/DataDog/sketches-go/ddsketch/mapping"
	"github.com/DataDog/sketches-go/ddsketch/store"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/palisade-sec/palisade/internal/classify"
	"github.com/palisade-sec/palisade/internal/engine"
	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/sim"
	"github.com/palisade-sec/palisade/internal/statecodec"
)

func capture(t testing.TB, hours float64, scale float64) []*exchange.Record {
	cfg := sim.DefaultConfig()
	cfg.Duration, cfg.Scale = time.Duration(hours*float64(time.Hour)), scale
	var recs []*exchange.Record
	if _, err := sim.Generate(cfg, func(r *exchange.Record) error {
		recs = append(recs, r)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return recs
}

var fixed = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)

func report(t testing.TB, e *engine.Engine) []byte {
	e.Flush()
	b, err := json.MarshalIndent(e.Report(fixed), "", " ")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEngineRoundTrip(t *testing.T) {
	recs := capture(t, 12, 0.3)
	cfg := engine.DefaultConfig()
	whole, err := engine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range recs {
		whole.Ingest(copyRec(r))
	}
	want := report(t, whole)

	proto, _ := engine.New(cfg)
	codec, err := statecodec.New(proto, opts...)
	if err != nil {
		t.Fatal(err)
	}
	for _, cut := range []int{len(recs) / 3, 2 * len(recs) / 3} {
		a, _ := engine.New(cfg)
		for _, r := range recs[:cut] {
			a.Ingest(copyRec(r))
		}
		snap, err := codec.Encode(nil, a)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("cut %d: snapshot %d bytes; largest: %v", cut, len(snap), codec.Sizes(a, 12))
		b, _ := engine.New(cfg)
		if err := codec.Decode(snap, b); err != nil {
			t.Fatal(err)
		}
		for _, r := range recs[cut:] {
			b.Ingest(copyRec(r))
		}
		got := report(t, b)
		if !bytes.Equal(got, want) {
			t.Fatalf("cut %d: restored engine differs: %s", cut, firstDiff(got, want))
		}
	}
}

var opts = []statecodec.Option{
	statecodec.SkipType((*classify.Classifier)(nil)),
	statecodec.SkipType(jsontext.Decoder{}),
	statecodec.SkipTypeNamed("github.com/palisade-sec/palisade/internal/detect.evKeys"),
	statecodec.Register(&mapping.LogarithmicMapping{}, &mapping.CubicallyInterpolatedMapping{}, &mapping.LinearlyInterpolatedMapping{},
		&store.DenseStore{}, &store.CollapsingLowestDenseStore{}, &store.CollapsingHighestDenseStore{}, &store.BufferedPaginatedStore{}, &store.SparseStore{}),
}

func copyRec(r *exchange.Record) *exchange.Record {
	b, err := exchange.MarshalRecord(r)
	if err != nil {
		panic(err)
	}
	rec, err := exchange.DecodeRecord(b)
	if err != nil {
		panic(err)
	}
	return rec
}

func firstDiff(a, b []byte) string {
	la, lb := bytes.Split(a, []byte("\n")), bytes.Split(b, []byte("\n"))
	for i := 0; i < len(la) && i < len(lb); i++ {
		if !bytes.Equal(la[i], lb[i]) {
			lo := max(0, i-3)
			return "line " + string(rune('0'+0)) + ":\n got: " + string(bytes.Join(la[lo:i+1], []byte("\n"))) + "\nwant: " + string(bytes.Join(lb[lo:i+1], []byte("\n")))
		}
	}
	return "lengths differ"
}
