package posture

import (
	"errors"
	"io"
	"os"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/classify"
	"github.com/palisade-sec/palisade/internal/enrich"
	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/inventory"
)

// BenchmarkAnalyzers replays a capture (PALISADE_BENCH_FILE, NDJSON; at
// most PALISADE_BENCH_N records, default all) through the three analyzers
// of the inventory/classify/posture packages as the engine wires them
// (enrichment with the inventory as templater; records released after a
// delay of 8192 records, so that they are as cold in the caches as behind
// the engine's reorder buffer), and reports each analyzer's time per
// exchange. Decoding and enrichment are not counted.
// processCPU returns the user+system CPU time of this process.
func processCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// observeWarm feeds the analyzers the first PALISADE_BENCH_WARM records,
// which are not counted. Under callgrind, --toggle-collect='*observeTimed'
// counts the instructions of the other records only.
//
//go:noinline
func observeWarm(inv *inventory.Inventory, cls *classify.Analyzer, pos *Traffic, ev *event.Event) {
	inv.Observe(ev)
	cls.Observe(ev)
	pos.Observe(ev)
}

// observeTimed feeds the analyzers one counted record and adds the time
// each took.
//
//go:noinline
func observeTimed(inv *inventory.Inventory, cls *classify.Analyzer, pos *Traffic, ev *event.Event, tInv, tCls, tPos *time.Duration) {
	t0 := time.Now()
	inv.Observe(ev)
	t1 := time.Now()
	cls.Observe(ev)
	t2 := time.Now()
	pos.Observe(ev)
	t3 := time.Now()
	*tInv += t1.Sub(t0)
	*tCls += t2.Sub(t1)
	*tPos += t3.Sub(t2)
}

func BenchmarkAnalyzers(b *testing.B) {
	path := os.Getenv("PALISADE_BENCH_FILE")
	if path == "" {
		b.Skip("PALISADE_BENCH_FILE not set")
	}
	limit, warm := -1, 0
	if s := os.Getenv("PALISADE_BENCH_WARM"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatal(err)
		}
		warm = n
	}
	if s := os.Getenv("PALISADE_BENCH_N"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			b.Fatal(err)
		}
		limit = n
	}
	const delay = 8192
	var tInv, tCls, tPos time.Duration
	var total int
	c0 := processCPU()
	for i := 0; i < b.N; i++ {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		d, err := exchange.NewDecoder("bench", f)
		if err != nil {
			b.Fatal(err)
		}
		pool := &exchange.RecordPool{}
		d.UsePool(pool)
		inv := inventory.New(inventory.DefaultConfig())
		c, err := classify.New(classify.DefaultConfig())
		if err != nil {
			b.Fatal(err)
		}
		cls := classify.NewAnalyzer(c)
		pos := NewTraffic(TrafficConfig{SpecFields: inv})
		enr := enrich.New(enrich.DefaultConfig(), inv, nil)
		ring := make([]*exchange.Record, 0, delay)
		head := 0
		var seq uint64
		release := func(rec *exchange.Record) {
			ev, err := enr.Enrich(rec, seq)
			seq++
			if err != nil {
				pool.Put(rec)
				return
			}
			if seq <= uint64(warm) {
				observeWarm(inv, cls, pos, ev)
			} else {
				observeTimed(inv, cls, pos, ev, &tInv, &tCls, &tPos)
				total++
			}
			enr.Recycle(ev)
			pool.Put(rec)
		}
		n := 0
		for limit < 0 || n < limit {
			rec, err := d.Next()
			if err == io.EOF {
				break
			}
			var re *exchange.RecordError
			if errors.As(err, &re) {
				continue
			}
			if err != nil {
				b.Fatal(err)
			}
			n++
			if len(ring) < delay {
				ring = append(ring, rec)
				continue
			}
			old := ring[head]
			ring[head] = rec
			head = (head + 1) % delay
			release(old)
		}
		for k := 0; k < len(ring); k++ {
			release(ring[(head+k)%len(ring)])
		}
		f.Close()
	}
	cpu := processCPU() - c0
	per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(total) }
	// CPU time of the whole process (decoding and enrichment included, GC
	// included) per counted exchange: steadier than the timers above on a
	// loaded machine; compare builds that differ in these packages only.
	b.ReportMetric(per(cpu), "proc-cpu-ns/ex")
	b.ReportMetric(per(tInv), "inv-ns/ex")
	b.ReportMetric(per(tCls), "cls-ns/ex")
	b.ReportMetric(per(tPos), "pos-ns/ex")
	b.ReportMetric(per(tInv+tCls+tPos), "sum-ns/ex")
	b.ReportMetric(0, "ns/op")
}
