package cluster

import (
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"sort"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/activity"
	"github.com/palisade-sec/palisade/internal/engine"
	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/sim"
	"github.com/palisade-sec/palisade/internal/statecodec"
)

var fixedNow = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)

func simCapture(t testing.TB, hours, scale float64) [][]byte {
	cfg := sim.DefaultConfig()
	cfg.Duration, cfg.Scale = time.Duration(hours*float64(time.Hour)), scale
	var out [][]byte
	if _, err := sim.Generate(cfg, func(r *exchange.Record) error {
		b, err := exchange.MarshalRecord(r)
		out = append(out, b)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

// simRecords is simCapture decoded.
func simRecords(t testing.TB, hours, scale float64) []*exchange.Record {
	var recs []*exchange.Record
	for _, l := range simCapture(t, hours, scale) {
		recs = append(recs, decode(t, l))
	}
	return recs
}

func decode(t testing.TB, b []byte) *exchange.Record {
	r, err := exchange.DecodeRecord(b)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// analyzeReport is what `palisade analyze` reports on the lines.
func analyzeReport(t testing.TB, cfg engine.Config, lines [][]byte) *model.Report {
	e, err := engine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lines {
		e.Ingest(decode(t, l))
	}
	e.Flush()
	return e.Report(fixedNow)
}

func partOf(key string, n int) int {
	h := fnv.New32a()
	h.Write([]byte(key))
	return int(h.Sum32() % uint32(n))
}

// localCluster runs the two stages in one process, as the bus would
// deliver messages: records in input order, a tick to every partition after
// each batch, idle markers at the end.
func localCluster(t testing.TB, cfg engine.Config, lines [][]byte, parts, batch int) *model.Report {
	return localClusterRestoring(t, cfg, lines, parts, batch, 0)
}

// localClusterRestoring is localCluster where every stage is checkpointed
// and restored into a fresh one every `every` batches (0: never).
func localClusterRestoring(t testing.TB, cfg engine.Config, lines [][]byte, parts, batch, every int) *model.Report {
	return Merge(localClusterParts(t, cfg, lines, parts, batch, every), fixedNow)
}

// localClusterParts is localClusterRestoring's partials at the end.
func localClusterParts(t testing.TB, cfg engine.Config, lines [][]byte, parts, batch, every int) []*Partial {
	pop, err := NewPopulationStage(parts, cfg, 0)
	if err != nil {
		t.Fatal(err)
	}
	var popSeq uint64
	emit := func(f *Forward, m *Mark) {
		popSeq++
		if err := pop.Take(popSeq, f, m); err != nil {
			t.Fatal(err)
		}
	}
	stages := make([]*EndpointStage, parts)
	for i := range stages {
		if stages[i], err = NewEndpointStage(i, cfg, emit); err != nil {
			t.Fatal(err)
		}
	}
	var seq uint64
	var maxT time.Time
	for i := 0; i < len(lines); i += batch {
		for _, l := range lines[i:min(i+batch, len(lines))] {
			r := decode(t, l)
			seq++
			stages[partOf(Key(r), parts)].Record(seq, r)
			if r.Time.After(maxT) {
				maxT = r.Time
			}
		}
		for _, s := range stages {
			seq++
			s.Tick(seq, maxT)
		}
		if every > 0 && (i/batch)%every == every-1 {
			codecs, err := newStateCodecs(cfg, parts)
			if err != nil {
				t.Fatal(err)
			}
			for j, s := range stages {
				raw, err := codecs.endpoint.Encode(nil, s)
				if err != nil {
					t.Fatal(err)
				}
				fresh, err := NewEndpointStage(j, cfg, emit)
				if err != nil {
					t.Fatal(err)
				}
				if err := codecs.endpoint.Decode(raw, fresh); err != nil {
					t.Fatal(err)
				}
				again, err := codecs.endpoint.Encode(nil, fresh)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(raw, again) {
					t.Fatalf("partition %d: the restored stage encodes differently (%d vs %d bytes): %s", j, len(again), len(raw), explainDiff(codecs.endpoint, s, raw, again))
				}
				fresh.SetEmit(emit)
				stages[j] = fresh
			}
			raw, err := codecs.population.Encode(nil, pop)
			if err != nil {
				t.Fatal(err)
			}
			fresh, err := NewPopulationStage(parts, cfg, 0)
			if err != nil {
				t.Fatal(err)
			}
			if err := codecs.population.Decode(raw, fresh); err != nil {
				t.Fatal(err)
			}
			pop = fresh
		}
	}
	for _, s := range stages {
		seq++
		s.Idle(seq)
	}
	var ps []*Partial
	for _, s := range stages {
		ps = append(ps, s.Partial(fixedNow))
	}
	ps = append(ps, pop.Partial(fixedNow))
	return ps
}

func TestLocalClusterEqualsAnalyze(t *testing.T) {
	lines := simCapture(t, 24, 0.3)
	cfg := engine.DefaultConfig()
	want := analyzeReport(t, cfg, lines)
	for _, parts := range []int{1, 4} {
		t.Run(fmt.Sprint(parts), func(t *testing.T) {
			got := localCluster(t, cfg, lines, parts, 200)
			compareReports(t, got, want)
		})
	}
}

func compareReports(t *testing.T, got, want *model.Report) {
	t.Helper()
	js := func(v any) []byte { b, _ := json.MarshalIndent(v, "", " "); return b }
	if a, b := js(got.Input), js(want.Input); !bytes.Equal(a, b) {
		t.Errorf("input differs:\n got %s\nwant %s", a, b)
	}
	if a, b := js(got.Endpoints), js(want.Endpoints); !bytes.Equal(a, b) {
		t.Errorf("endpoints differ (%d vs %d): %s", len(got.Endpoints), len(want.Endpoints), firstDiff(a, b))
	}
	if a, b := js(got.Findings), js(want.Findings); !bytes.Equal(a, b) {
		t.Errorf("findings differ (%d vs %d): %s", len(got.Findings), len(want.Findings), firstDiff(a, b))
	}
	if a, b := js(got.Probes), js(want.Probes); !bytes.Equal(a, b) {
		t.Errorf("probes differ: %s", firstDiff(a, b))
	}
	if a, b := js(got.APIChange), js(want.APIChange); !bytes.Equal(a, b) {
		t.Errorf("api changes differ: %s", firstDiff(a, b))
	}
	gm, wm := map[string]model.Alert{}, map[string]model.Alert{}
	for _, a := range got.Alerts {
		gm[a.ID] = a
	}
	for _, a := range want.Alerts {
		wm[a.ID] = a
		g, ok := gm[a.ID]
		if !ok {
			t.Errorf("missing alert %s %s subject %s client %v identity %v endpoint %v count %d", a.ID, a.Type, a.Subject, a.Client, a.Identity, a.Endpoint, a.Count)
			continue
		}
		if x, y := js(g), js(a); !bytes.Equal(x, y) {
			t.Errorf("alert %s %s differs: %s", a.ID, a.Type, firstDiff(x, y))
		}
	}
	for _, a := range got.Alerts {
		if _, ok := wm[a.ID]; !ok {
			t.Errorf("extra alert %s %s subject %s client %v identity %v endpoint %v count %d", a.ID, a.Type, a.Subject, a.Client, a.Identity, a.Endpoint, a.Count)
		}
	}
	if a, b := js(got.AnalysisDropped), js(want.AnalysisDropped); !bytes.Equal(a, b) {
		t.Errorf("analysis_dropped differs:\n got %s\nwant %s", a, b)
	}
	// And the whole document (any field the ones above do not name).
	g, w := *got, *want
	g.GeneratedAt, w.GeneratedAt = time.Time{}, time.Time{}
	if a, b := js(g), js(w); !bytes.Equal(a, b) && !t.Failed() {
		t.Errorf("reports differ: %s", firstDiff(a, b))
	}
	t.Logf("%d endpoints, %d alerts, %d findings", len(want.Endpoints), len(want.Alerts), len(want.Findings))
}

func firstDiff(a, b []byte) string {
	la, lb := bytes.Split(a, []byte("\n")), bytes.Split(b, []byte("\n"))
	for i := 0; i < len(la) && i < len(lb); i++ {
		if !bytes.Equal(la[i], lb[i]) {
			lo := max(0, i-4)
			return fmt.Sprintf("line %d:\n got: %s\nwant: %s", i+1, bytes.Join(la[lo:i+1], []byte("\n")), bytes.Join(lb[lo:i+1], []byte("\n")))
		}
	}
	return fmt.Sprintf("lengths %d vs %d lines", len(la), len(lb))
}

// TestLocalClusterRestored: stages checkpointed and restored every few
// batches still give analyze's report.
// With the activity summary on (serve's attacker view), the population
// stage's subject summaries equal the single engine's.
func TestLocalClusterRestored(t *testing.T) {
	lines := simCapture(t, 12, 0.2)
	cfg := engine.DefaultConfig()
	ac := activity.DefaultConfig()
	cfg.Activity = &ac
	e, err := engine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range lines {
		e.Ingest(decode(t, l))
	}
	e.Flush()
	want := e.Report(fixedNow)
	wantSubs := e.TakeSubjects(SubjectsPerPartial, nil)
	ps := localClusterParts(t, cfg, lines, 4, 200, 7)
	compareReports(t, Merge(ps, fixedNow), want)
	gotSubs := MergeSubjects(ps)
	sort.Slice(wantSubs, func(i, j int) bool {
		if wantSubs[i].Kind != wantSubs[j].Kind {
			return wantSubs[i].Kind < wantSubs[j].Kind
		}
		return wantSubs[i].ID < wantSubs[j].ID
	})
	if len(wantSubs) == 0 || len(wantSubs) >= SubjectsPerPartial {
		t.Fatalf("%d subjects: the capture does not test the summaries", len(wantSubs))
	}
	js := func(v any) []byte { b, _ := json.MarshalIndent(v, "", " "); return b }
	if a, b := js(gotSubs), js(wantSubs); !bytes.Equal(a, b) {
		t.Fatalf("subject summaries differ (%d vs %d): %s", len(gotSubs), len(wantSubs), firstDiff(a, b))
	}
	eps := 0
	for _, s := range wantSubs {
		eps += len(s.Endpoints)
	}
	t.Logf("%d subject summaries equal (%d endpoint entries)", len(wantSubs), eps)
}

func TestLocalClusterFull(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	lines := simCapture(t, 48, 1)
	cfg := engine.DefaultConfig()
	hosts := map[string]int{}
	for _, l := range lines {
		r := decode(t, l)
		hosts[Key(r)]++
	}
	for h, n := range hosts {
		t.Logf("host %s: %d records, partition of 8: %d", h, n, partOf(h, 8))
	}
	want := analyzeReport(t, cfg, lines)
	types := map[string]int{}
	for _, a := range want.Alerts {
		types[a.Type]++
	}
	t.Logf("alert types: %v", types)
	got := localCluster(t, cfg, lines, 8, 500)
	compareReports(t, got, want)
}

func explainDiff(c *statecodec.Codec, root any, a, b []byte) string {
	i := 0
	for i < len(a) && i < len(b) && a[i] == b[i] {
		i++
	}
	return fmt.Sprintf("first difference at byte %d: %s", i, c.Explain(root, i))
}

// TestLocalClusterVariants: other seeds and simulator variants, other
// partition counts (hosts share partitions), restores in the middle.
func TestLocalClusterVariants(t *testing.T) {
	if testing.Short() {
		t.Skip("long")
	}
	cfg := engine.DefaultConfig()
	for i, v := range sim.Variants {
		t.Run(v.Name, func(t *testing.T) {
			sc := sim.DefaultConfig()
			sc.Seed, sc.Variant, sc.Duration, sc.Scale = int64(7+i), v, 30*time.Hour, 0.4
			var lines [][]byte
			if _, err := sim.Generate(sc, func(r *exchange.Record) error {
				b, err := exchange.MarshalRecord(r)
				lines = append(lines, b)
				return err
			}); err != nil {
				t.Fatal(err)
			}
			want := analyzeReport(t, cfg, lines)
			got := localClusterRestoring(t, cfg, lines, 2+i, 300, 11)
			compareReports(t, got, want)
		})
	}
}
