package detect_test

import (
	"encoding/json"
	"errors"
	"io"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/classify"
	"github.com/palisade-sec/palisade/internal/detect"
	"github.com/palisade-sec/palisade/internal/enrich"
	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/inventory"
)

// The capture benchmark measures the detection engine alone on real
// enriched events: set PALISADE_BENCH_FILE to an exchange capture (e.g. the
// output of `palisade sim --scale 6`) and optionally PALISADE_BENCH_N to
// the number of records loaded (default 150,000). The records are decoded
// and enriched once (with the inventory templating and the classification
// analyzer the engine runs before detection); the benchmark then replays
// the events through a fresh detection engine per pass.
//
//	PALISADE_BENCH_FILE=/tmp/cap.ndjson go test -run XXX -bench Capture -cpu 1 ./internal/detect/
//
// TestCaptureAlerts (same variables, plus PALISADE_BENCH_OUT) writes the
// alerts of one pass as JSON, to compare two versions of the package.

type captureEvents struct {
	evs []*event.Event
	cls *classify.Analyzer
}

var captureCache struct {
	sync.Mutex
	ce *captureEvents
}

func loadCapture(tb testing.TB) *captureEvents {
	path := os.Getenv("PALISADE_BENCH_FILE")
	if path == "" {
		tb.Skip("PALISADE_BENCH_FILE not set")
	}
	captureCache.Lock()
	defer captureCache.Unlock()
	if captureCache.ce == nil {
		captureCache.ce = readCapture(tb, path)
	}
	return captureCache.ce
}

func readCapture(tb testing.TB, path string) *captureEvents {
	n := 150000
	if s := os.Getenv("PALISADE_BENCH_N"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil {
			tb.Fatal(err)
		}
		n = v
	}
	f, _, err := exchange.Open(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	d, err := exchange.NewDecoder(path, f)
	if err != nil {
		tb.Fatal(err)
	}
	var recs []*exchange.Record
	for len(recs) < n {
		rec, err := d.Next()
		if err == io.EOF {
			break
		}
		var re *exchange.RecordError
		if errors.As(err, &re) {
			continue
		}
		if err != nil {
			tb.Fatal(err)
		}
		recs = append(recs, rec)
	}
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].Time.Before(recs[j].Time) })
	inv := inventory.New(inventory.DefaultConfig())
	enr := enrich.New(enrich.DefaultConfig(), inv, nil)
	c, err := classify.New(classify.DefaultConfig())
	if err != nil {
		tb.Fatal(err)
	}
	ce := &captureEvents{cls: classify.NewAnalyzer(c)}
	for i, rec := range recs {
		ev, err := enr.Enrich(rec, uint64(i))
		if err != nil {
			continue
		}
		inv.Observe(ev)
		ce.evs = append(ce.evs, ev)
	}
	return ce
}

// newCaptureEngine builds the default engine, or only the families named
// in PALISADE_BENCH_FAMILIES (comma-separated).
func newCaptureEngine(ce *captureEvents) *detect.Engine {
	cfg := detect.Config{Classifier: ce.cls.Classifier()}
	if only := os.Getenv("PALISADE_BENCH_FAMILIES"); only != "" {
		keep := map[string]bool{}
		for _, f := range strings.Split(only, ",") {
			keep[strings.TrimSpace(f)] = true
		}
		for _, f := range detect.Families() {
			if !keep[f] {
				cfg.Disabled = append(cfg.Disabled, f)
			}
		}
	}
	return detect.NewDefault(cfg)
}

// BenchmarkCapture: one op = one event through every detection family.
// The classification analyzer observes each event first (detection reuses
// its per-event results, as in the engine), outside the measured time:
// detect-ns/event is the wall time spent in the detection engine alone.
//
// On a shared machine the wall time also counts the time the thread waited
// for a core. detect-cpu-ns/event corrects for that: the thread's CPU time
// over the loop (Linux) times the detection engine's share of the loop's
// wall time (preemptions fall on both parts of the loop alike).
func BenchmarkCapture(b *testing.B) {
	ce := loadCapture(b)
	runtime.GC()
	b.ReportAllocs()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var spent time.Duration
	b.ResetTimer()
	start, cpu0 := time.Now(), threadCPU()
	done := 0
	for done < b.N {
		g := newCaptureEngine(ce)
		for _, ev := range ce.evs {
			if done >= b.N {
				break
			}
			ce.cls.Observe(ev)
			t0 := time.Now()
			g.Observe(ev)
			spent += time.Since(t0)
			done++
		}
	}
	wall, cpu := time.Since(start), threadCPU()-cpu0
	b.ReportMetric(float64(spent)/float64(b.N), "detect-ns/event")
	if cpu > 0 && wall > 0 {
		b.ReportMetric(float64(spent)*float64(cpu)/float64(wall)/float64(b.N), "detect-cpu-ns/event")
	}
}

// TestCaptureAlerts writes the alerts of one pass over the capture to
// PALISADE_BENCH_OUT (JSON), for comparing versions of the package.
func TestCaptureAlerts(t *testing.T) {
	out := os.Getenv("PALISADE_BENCH_OUT")
	if out == "" {
		t.Skip("PALISADE_BENCH_OUT not set")
	}
	ce := loadCapture(t)
	g := newCaptureEngine(ce)
	for _, ev := range ce.evs {
		ce.cls.Observe(ev)
		g.Observe(ev)
	}
	g.Finish(ce.evs[len(ce.evs)-1].Time)
	b, err := json.MarshalIndent(struct {
		Alerts  any
		Changes any
		Dropped any
	}{g.Alerts(), g.APIChanges(), g.Dropped()}, "", " ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(out, b, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d events, %d alerts", len(ce.evs), len(g.Alerts()))
}
