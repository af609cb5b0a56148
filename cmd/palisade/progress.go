package main

import (
	"fmt"
	"os"
	"sync/atomic"
	"time"

	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"
)

// progress draws a bar on stderr when stderr is a terminal: bytes read,
// records/s and, when the total size is known, an ETA. It is silent
// otherwise.
type progress struct {
	p       *mpb.Progress
	bar     *mpb.Bar
	records atomic.Int64
	start   time.Time
	total   int64
}

func newProgress(enabled bool, total int64, unknownSize bool) *progress {
	pr := &progress{start: time.Now(), total: total}
	if !enabled || !term.IsTerminal(int(os.Stderr.Fd())) {
		return pr
	}
	if unknownSize {
		total = 0
	}
	pr.p = mpb.New(mpb.WithOutput(os.Stderr), mpb.WithRefreshRate(150*time.Millisecond), mpb.WithWidth(40))
	rate := decor.Any(func(decor.Statistics) string {
		n := pr.records.Load()
		el := time.Since(pr.start).Seconds()
		if el <= 0 {
			el = 1e-9
		}
		return fmt.Sprintf("%d records  %.0f rec/s", n, float64(n)/el)
	})
	if total > 0 {
		pr.bar = pr.p.AddBar(total,
			mpb.PrependDecorators(decor.Name("analyze "), decor.CountersKibiByte("% .1f / % .1f")),
			mpb.AppendDecorators(rate, decor.Name("  ETA "), decor.AverageETA(decor.ET_STYLE_GO)))
	} else {
		pr.bar = pr.p.AddBar(0,
			mpb.PrependDecorators(decor.Name("analyze "), decor.CurrentKibiByte("% .1f")),
			mpb.AppendDecorators(rate))
	}
	return pr
}

func (pr *progress) update(bytes, records int64) {
	if pr.bar == nil {
		return
	}
	pr.records.Store(records)
	pr.bar.SetCurrent(bytes)
}

// log prints a line above the bar (or plainly).
func (pr *progress) log(msg string) {
	if pr.p == nil {
		fmt.Fprintln(os.Stderr, msg)
		return
	}
	fmt.Fprintln(pr.p, msg)
}

func (pr *progress) finish() {
	if pr.p == nil {
		return
	}
	if pr.total > 0 {
		pr.bar.SetTotal(-1, true)
	} else {
		pr.bar.SetTotal(-1, true)
	}
	pr.p.Wait()
}
