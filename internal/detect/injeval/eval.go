package injeval

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/palisade-sec/palisade/internal/detect"
	"github.com/palisade-sec/palisade/internal/enrich"
	"github.com/palisade-sec/palisade/internal/event"
)

// Engine is something that inspects a request and says what it found.
type Engine interface {
	Name() string
	// Detect returns the alert types (or rule families) raised, empty when
	// the request passes.
	Detect(c *Case) ([]string, error)
}

// Palisade runs Palisade's signature families (injection, ssrf,
// suspicious user agent) on each case, each with a fresh emitter.
type Palisade struct {
	enr *enrich.Enricher
	ds  []detect.Detector
}

// NewPalisade builds the evaluator with the signature families that look
// at inbound requests: injection, SSRF and suspicious user agents.
func NewPalisade() *Palisade {
	cfg := detect.Config{}
	return &Palisade{
		enr: enrich.New(enrich.DefaultConfig(), nil, nil),
		ds:  []detect.Detector{detect.NewInjection(cfg), detect.NewSSRF(cfg), detect.NewUserAgent(cfg)},
	}
}

// Name implements Engine.
func (p *Palisade) Name() string { return "palisade" }

// Event enriches a case's record.
func (p *Palisade) Event(c *Case) (*event.Event, error) { return p.enr.Enrich(c.Rec, 0) }

// Detect implements Engine.
func (p *Palisade) Detect(c *Case) ([]string, error) {
	ev, err := p.Event(c)
	if err != nil {
		return nil, err
	}
	// one engine per case (a fresh emitter), as deployed: the families
	// share their per-event work (the request walk of injection and SSRF)
	g := detect.NewEngine(p.ds...)
	g.Observe(ev)
	var out []string
	for _, a := range g.Alerts() {
		out = append(out, a.Type)
	}
	return out, nil
}

// Row is one line of the result table.
type Row struct {
	Source, Class string
	N             int
	Hits          map[string]int // engine → requests flagged
	ClassHits     int            // Palisade: requests flagged with the expected class
	Sampled       map[string]int // engine → requests evaluated (when sampling)
}

// Result is a full evaluation.
type Result struct {
	Rows     []*Row
	Engines  []string
	Elapsed  map[string]time.Duration
	Errors   map[string]int
	Examples map[string][]string // "engine|source|class|miss/fp" → a few payloads
}

// Options of Run.
type Options struct {
	// Sample caps the cases per (source, class) row given to engines other
	// than palisade (evenly spaced within the row, deterministic). 0 = all.
	Sample int
	// Examples keeps this many missed/false-positive payloads per row.
	Examples int
}

// Run evaluates all engines on the cases.
func Run(cases []Case, engines []Engine, opt Options) *Result {
	res := &Result{Elapsed: map[string]time.Duration{}, Errors: map[string]int{}, Examples: map[string][]string{}}
	rows := map[string]*Row{}
	rowOf := func(c *Case) *Row {
		k := c.Payload.Source + "|" + c.Payload.Class
		r := rows[k]
		if r == nil {
			r = &Row{Source: c.Payload.Source, Class: c.Payload.Class, Hits: map[string]int{}, Sampled: map[string]int{}}
			rows[k] = r
		}
		return r
	}
	for i := range cases {
		rowOf(&cases[i]).N++
	}
	for _, e := range engines {
		res.Engines = append(res.Engines, e.Name())
		idx := make([]int, len(cases))
		for i := range idx {
			idx[i] = i
		}
		if e.Name() != "palisade" && opt.Sample > 0 {
			// stratified: at most Sample cases per (source, class) row,
			// evenly spaced within the row
			groups := map[*Row][]int{}
			var order []*Row
			for _, i := range idx {
				r := rowOf(&cases[i])
				if groups[r] == nil {
					order = append(order, r)
				}
				groups[r] = append(groups[r], i)
			}
			idx = idx[:0]
			for _, r := range order {
				idx = append(idx, spread(groups[r], opt.Sample)...)
			}
		}
		start := time.Now()
		for _, i := range idx {
			c := &cases[i]
			r := rowOf(c)
			r.Sampled[e.Name()]++
			types, err := e.Detect(c)
			if err != nil {
				res.Errors[e.Name()]++
				continue
			}
			hit := len(types) > 0
			if hit {
				r.Hits[e.Name()]++
			}
			if e.Name() == "palisade" {
				want := expectedType(c.Payload.Class)
				for _, t := range types {
					if t == want {
						r.ClassHits++
						break
					}
				}
			}
			attack := c.Payload.Class != Benign
			if opt.Examples > 0 && (attack && !hit || !attack && hit) {
				kind := "miss"
				if !attack {
					kind = "fp " + strings.Join(types, ",")
				}
				k := e.Name() + "|" + r.Source + "|" + r.Class
				if len(res.Examples[k]) < opt.Examples {
					res.Examples[k] = append(res.Examples[k], fmt.Sprintf("[%s/%s %s] %q", c.Placement, c.Encoder, kind, clip(c.Payload.Value, 140)))
				}
			}
		}
		res.Elapsed[e.Name()] = time.Since(start)
	}
	for _, r := range rows {
		res.Rows = append(res.Rows, r)
	}
	sort.Slice(res.Rows, func(i, j int) bool {
		a, b := res.Rows[i], res.Rows[j]
		if (a.Class == Benign) != (b.Class == Benign) {
			return b.Class == Benign
		}
		if a.Class != b.Class {
			return a.Class < b.Class
		}
		return a.Source < b.Source
	})
	return res
}

func expectedType(class string) string {
	switch class {
	case "useragent":
		return "intel.suspicious_user_agent"
	case "api":
		return ""
	}
	return "injection." + class
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// Rate returns hits/sampled for an engine in a row (NaN-free: -1 when
// the engine saw no case of the row).
func (r *Row) Rate(engine string) float64 {
	n := r.Sampled[engine]
	if n == 0 {
		return -1
	}
	return float64(r.Hits[engine]) / float64(n)
}

// Aggregate sums rows per class over all sources (Benign = negatives).
func (res *Result) Aggregate() []*Row {
	m := map[string]*Row{}
	var order []string
	for _, r := range res.Rows {
		a := m[r.Class]
		if a == nil {
			a = &Row{Source: "all", Class: r.Class, Hits: map[string]int{}, Sampled: map[string]int{}}
			m[r.Class] = a
			order = append(order, r.Class)
		}
		a.N += r.N
		a.ClassHits += r.ClassHits
		for k, v := range r.Hits {
			a.Hits[k] += v
		}
		for k, v := range r.Sampled {
			a.Sampled[k] += v
		}
	}
	out := make([]*Row, 0, len(order))
	for _, k := range order {
		out = append(out, m[k])
	}
	return out
}

// Print writes the side-by-side table: attack rows show detection rates
// (TPR), benign rows false-positive rates (FPR).
func (res *Result) Print(w io.Writer) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	hdr := "source\tclass\tmetric\tn\t"
	for _, e := range res.Engines {
		hdr += e + "\t"
		if e == "palisade" {
			hdr += "palisade(class)\t"
		}
	}
	fmt.Fprintln(tw, hdr)
	line := func(r *Row) {
		metric := "TPR"
		if r.Class == Benign {
			metric = "FPR"
		}
		s := fmt.Sprintf("%s\t%s\t%s\t%d\t", r.Source, r.Class, metric, r.N)
		for _, e := range res.Engines {
			rate := r.Rate(e)
			if rate < 0 {
				s += "-\t"
			} else if r.Sampled[e] < r.N {
				s += fmt.Sprintf("%.1f%% (%d)\t", 100*rate, r.Sampled[e])
			} else {
				s += fmt.Sprintf("%.1f%%\t", 100*rate)
			}
			if e == "palisade" {
				if r.Class == Benign || r.Class == "api" {
					s += "-\t"
				} else {
					s += fmt.Sprintf("%.1f%%\t", 100*float64(r.ClassHits)/float64(r.N))
				}
			}
		}
		fmt.Fprintln(tw, s)
	}
	for _, r := range res.Rows {
		line(r)
	}
	fmt.Fprintln(tw, "\t\t\t\t")
	for _, r := range res.Aggregate() {
		line(r)
	}
	tw.Flush()
	var names []string
	for _, e := range res.Engines {
		names = append(names, fmt.Sprintf("%s %s", e, res.Elapsed[e].Round(time.Millisecond)))
	}
	fmt.Fprintf(w, "\ntime: %s\n", strings.Join(names, ", "))
	for e, n := range res.Errors {
		fmt.Fprintf(w, "errors: %s %d\n", e, n)
	}
	fmt.Fprintln(w, "palisade(class): share of attack requests flagged with the expected class; other columns: flagged with any alert. (n) = deterministic sample size.")
}

// PrintExamples lists kept misses and false positives.
func (res *Result) PrintExamples(w io.Writer) {
	keys := make([]string, 0, len(res.Examples))
	for k := range res.Examples {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "== %s\n", k)
		for _, e := range res.Examples[k] {
			fmt.Fprintln(w, "  "+e)
		}
	}
}
