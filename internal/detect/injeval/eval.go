package injeval

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"runtime"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/palisade-sec/palisade/internal/detect"
	"github.com/palisade-sec/palisade/internal/enrich"
	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/model"
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
// at inbound requests: injection, SSRF and suspicious user agents. The
// injection family runs without its positive model (every parameter
// unknown), so that each request is judged on its own, whatever the order
// of the cases: the cold policy.
func NewPalisade() *Palisade {
	opts, err := detect.ParseOptions("injection: {profile: false}")
	if err != nil {
		panic(err) // a constant document
	}
	cfg := detect.Config{Options: opts}
	return &Palisade{
		enr: enrich.New(enrich.DefaultConfig(), nil, nil),
		ds:  []detect.Detector{detect.NewInjection(cfg), detect.NewSSRF(cfg), detect.NewUserAgent(cfg)},
	}
}

// Name implements Engine.
func (p *Palisade) Name() string { return "palisade" }

// Explain says what the injection family made of each value of a case
// (for studying misses and false positives of the tuning part).
func (p *Palisade) Explain(c *Case) string {
	ev, err := p.Event(c)
	if err != nil {
		return "  (request: " + err.Error() + ")\n"
	}
	return explainValues(p.ds[0].(*detect.Injection), ev)
}

// explainValues is what inj made of each value of ev.
func explainValues(inj *detect.Injection, ev *event.Event) string {
	var b strings.Builder
	_, vs := inj.Explain(ev)
	if len(vs) == 0 {
		b.WriteString("  (no value inspected)\n")
	}
	for _, v := range vs {
		fmt.Fprintf(&b, "  %s [%s] %q\n", v.Loc, strings.Join(v.Layers, ","), v.Text)
		if v.Skipped != "" {
			fmt.Fprintf(&b, "    skipped: %s\n", v.Skipped)
		}
		for _, x := range v.Structural {
			fmt.Fprintf(&b, "    structural: %s\n", x)
		}
		for _, x := range v.CRS {
			fmt.Fprintf(&b, "    crs %s\n", x)
		}
		for _, x := range v.Verdict {
			fmt.Fprintf(&b, "    verdict %s\n", x)
		}
	}
	return b.String()
}

// Event enriches a case's record.
func (p *Palisade) Event(c *Case) (*event.Event, error) { return p.enr.Enrich(c.Rec, 0) }

// Detect implements Engine.
func (p *Palisade) Detect(c *Case) ([]string, error) {
	ev, err := p.Event(c)
	if err != nil {
		return nil, err
	}
	types, _ := alertTypes(p.ds, ev, false)
	return types, nil
}

// DetectVerdict implements Verdicter.
func (p *Palisade) DetectVerdict(c *Case) ([]string, string, error) {
	ev, err := p.Event(c)
	if err != nil {
		return nil, "", err
	}
	types, v := alertTypes(p.ds, ev, true)
	return types, v, nil
}

// Verdicter is an Engine that can also say, for Options.Verdicts, the
// full verdict on a case: every alert with all its fields (evidence:
// the matched rules, locations and redacted fragments), as one line of
// JSON.
type Verdicter interface {
	DetectVerdict(c *Case) (types []string, verdict string, err error)
}

// alertTypes runs the detectors on ev in one engine per case (a fresh
// emitter), as deployed: the families share their per-event work (the
// request walk of injection and SSRF). With verdict, it also returns the
// alerts as JSON (Verdicter).
func alertTypes(ds []detect.Detector, ev *event.Event, verdict bool) ([]string, string) {
	g := detect.NewEngine(ds...)
	g.Observe(ev)
	alerts := g.Alerts()
	var out []string
	for _, a := range alerts {
		out = append(out, a.Type)
	}
	if !verdict {
		return out, ""
	}
	if alerts == nil {
		alerts = []model.Alert{} // "[]", like a request with alerts
	}
	b, err := json.Marshal(alerts) // all fields, the identifier too (a hash of the alert's key)
	if err != nil {
		return out, "(" + err.Error() + ")"
	}
	return out, string(b)
}

// Row is one line of the result table: the cases of one source, class
// and split.
type Row struct {
	Source, Class, Split string
	Stratum              string // Payload.Stratum (per-source rows only)
	N                    int
	Hits                 map[string]int // engine → requests flagged
	ClassHits            map[string]int // engine → requests flagged with the expected class (Coraza: blocked, and a rule of the class among the matches)
	Sampled              map[string]int // engine → requests evaluated (when sampling)
	// Drawn (aggregated rows only): engine → requests actually evaluated.
	// An aggregate weighs each row by its size: a row sampled s of n
	// counts its hits × n/s over n (Sampled), so that a small source
	// evaluated whole does not weigh as much as a large one sampled.
	Drawn map[string]int
}

// Cost is what an engine spent on the run.
type Cost struct {
	Requests int
	Wall     time.Duration
	CPU      time.Duration // CPU time of the evaluating thread (0 when unknown)
}

// PerRequest is the CPU (or, when unknown, wall) time per request.
func (c Cost) PerRequest() time.Duration {
	if c.Requests == 0 {
		return 0
	}
	if c.CPU > 0 {
		return c.CPU / time.Duration(c.Requests)
	}
	return c.Wall / time.Duration(c.Requests)
}

// Result is a full evaluation.
type Result struct {
	Rows     []*Row
	Engines  []string
	Cost     map[string]Cost
	Errors   map[string]int
	Examples map[string][]string // "engine|source|class|miss/fp" → a few payloads (tuning part only)
	// Placement: tuning-part attack cases per placement (engine →
	// "placement|class" → [hits, sampled]).
	Placement map[string]map[string]*[2]int
}

// Options of Run.
type Options struct {
	// Sample caps the cases per (source, class, split) row given to
	// engines other than Palisade's (evenly spaced within the row,
	// deterministic). 0 = all.
	Sample int
	// Examples keeps this many missed/false-positive payloads per row, of
	// the tuning part only.
	Examples int
	// Explain adds, to each example, what Palisade made of every value of
	// the request (Palisade.Explain).
	Explain bool
	// Verdicts, when set, receives one line per case and engine: the
	// case's index, the engine, source|class|split, placement/encoder, a
	// hash of the payload, and the engine's verdict (for a Verdicter, every
	// alert with its evidence as JSON; else the alert types). Two builds'
	// files differ exactly where a verdict changed. Writing them costs CPU
	// time in the timed loop: the cost line of such a run is not the
	// engine's.
	Verdicts io.Writer
}

func rowKey(p *Payload) string { return p.Source + "|" + p.Class + "|" + p.Split }

// Run evaluates all engines on the cases. Each engine runs on one locked
// OS thread so that its CPU time is measured apart.
func Run(cases []Case, engines []Engine, opt Options) *Result {
	res := &Result{Cost: map[string]Cost{}, Errors: map[string]int{}, Examples: map[string][]string{}, Placement: map[string]map[string]*[2]int{}}
	rows := map[string]*Row{}
	rowOf := func(c *Case) *Row {
		k := rowKey(c.Payload) + "|" + c.Payload.Stratum
		r := rows[k]
		if r == nil {
			r = &Row{Source: c.Payload.Source, Class: c.Payload.Class, Split: c.Payload.Split, Stratum: c.Payload.Stratum, Hits: map[string]int{}, ClassHits: map[string]int{}, Sampled: map[string]int{}}
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
		if !strings.HasPrefix(e.Name(), "palisade") && opt.Sample > 0 {
			// stratified: at most Sample cases per row, evenly spaced
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
		pl := map[string]*[2]int{}
		res.Placement[e.Name()] = pl
		runtime.LockOSThread()
		cpu0, cpuOK := threadCPU()
		start := time.Now()
		for _, i := range idx {
			c := &cases[i]
			r := rowOf(c)
			r.Sampled[e.Name()]++
			var (
				types   []string
				verdict string
				err     error
			)
			if v, ok := e.(Verdicter); ok && opt.Verdicts != nil {
				types, verdict, err = v.DetectVerdict(c)
			} else {
				types, err = e.Detect(c)
				verdict = strings.Join(types, ",")
			}
			if opt.Verdicts != nil {
				if err != nil {
					verdict = "error: " + err.Error()
				}
				fmt.Fprintf(opt.Verdicts, "%d\t%s\t%s\t%s/%s\t%x\t%s\n", i, e.Name(), rowKey(c.Payload), c.Placement, c.Encoder, sha256.Sum256([]byte(c.Payload.Value)), verdict)
			}
			if err != nil {
				res.Errors[e.Name()]++
				continue
			}
			hit := len(types) > 0
			if hit {
				r.Hits[e.Name()]++
			}
			attack := c.Payload.Class != Benign
			if hit && attack {
				want := expectedType(c.Payload.Class)
				for _, t := range types {
					if t == want {
						r.ClassHits[e.Name()]++
						break
					}
				}
			}
			if c.Payload.Split != SplitTune {
				continue // validation and held-out items are never shown
			}
			if attack {
				k := c.Placement + "|" + c.Payload.Class
				if pl[k] == nil {
					pl[k] = &[2]int{}
				}
				pl[k][1]++
				if hit {
					pl[k][0]++
				}
			}
			if opt.Examples > 0 && (attack && !hit || !attack && hit) {
				kind := "miss"
				if !attack {
					kind = "fp " + strings.Join(types, ",")
				}
				k := e.Name() + "|" + r.Source + "|" + r.Class
				if len(res.Examples[k]) < opt.Examples {
					ex := fmt.Sprintf("[%s/%s %s] %q", c.Placement, c.Encoder, kind, clip(c.Payload.Value, 140))
					if c.Payload.Source == CRSRegressionSource {
						ex = fmt.Sprintf("[%s %s] %s %q", c.Payload.Set, kind, c.Rec.Request.Method, clip(c.Payload.Value, 300))
					}
					if p, ok := e.(interface{ Explain(*Case) string }); ok && opt.Explain {
						ex += "\n" + strings.TrimRight(p.Explain(c), "\n")
					}
					res.Examples[k] = append(res.Examples[k], ex)
				}
			}
		}
		cost := Cost{Requests: len(idx), Wall: time.Since(start)}
		if cpu1, ok := threadCPU(); ok && cpuOK {
			cost.CPU = cpu1 - cpu0
		}
		runtime.UnlockOSThread()
		res.Cost[e.Name()] = cost
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
		if a.Source != b.Source {
			return a.Source < b.Source
		}
		if a.Stratum != b.Stratum {
			return a.Stratum < b.Stratum
		}
		return splitOrder(a.Split) < splitOrder(b.Split)
	})
	return res
}

func splitOrder(s string) int {
	switch s {
	case SplitTune:
		return 0
	case SplitValid:
		return 1
	}
	return 2
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

// Rate returns hits/sampled for an engine in a row (-1 when the engine saw
// no case of the row).
func (r *Row) Rate(engine string) float64 {
	n := r.Sampled[engine]
	if n == 0 {
		return -1
	}
	return float64(r.Hits[engine]) / float64(n)
}

// ClassRate is the share of the row's cases an engine flagged with the
// expected class (-1 when the engine saw no case of the row).
func (r *Row) ClassRate(engine string) float64 {
	n := r.Sampled[engine]
	if n == 0 {
		return -1
	}
	return float64(r.ClassHits[engine]) / float64(n)
}

// classCell is the (class) column of an engine: "-" for benign rows and
// classes the engine has no rules of.
func (r *Row) classCell(engine string) string {
	if r.Class == Benign || r.Class == "api" || strings.HasPrefix(engine, "coraza") && !coraClass[r.Class] {
		return "-\t"
	}
	return pct(r.ClassRate(engine), r.drawn(engine), r.N) + "\t"
}

func (r *Row) add(o *Row) {
	r.N += o.N
	for k, s := range o.Sampled {
		if s == 0 {
			continue
		}
		w := float64(o.N) / float64(s) // 1 when the row was evaluated whole
		r.Hits[k] += int(math.Round(float64(o.Hits[k]) * w))
		r.ClassHits[k] += int(math.Round(float64(o.ClassHits[k]) * w))
		r.Sampled[k] += o.N
		r.Drawn[k] += s
	}
}

// drawn is how many requests an engine evaluated for the row.
func (r *Row) drawn(engine string) int {
	if r.Drawn != nil {
		return r.Drawn[engine]
	}
	return r.Sampled[engine]
}

// Aggregate sums rows per (class, split) over all sources; benign rows stay
// per source (each benign set is its own false-positive measure).
func (res *Result) Aggregate() []*Row {
	m := map[string]*Row{}
	var order []string
	for _, r := range res.Rows {
		src := "all"
		if r.Class == Benign {
			src = r.Source
		}
		k := src + "|" + r.Class + "|" + r.Split
		a := m[k]
		if a == nil {
			a = &Row{Source: src, Class: r.Class, Split: r.Split, Hits: map[string]int{}, ClassHits: map[string]int{}, Sampled: map[string]int{}, Drawn: map[string]int{}}
			m[k] = a
			order = append(order, k)
		}
		a.add(r)
	}
	out := make([]*Row, 0, len(order))
	for _, k := range order {
		out = append(out, m[k])
	}
	return out
}

// Find returns the aggregated row of a class (or, for Benign, of a benign
// source) and split, nil when absent.
func (res *Result) Find(classOrBenignSource, split string) *Row {
	for _, r := range res.Aggregate() {
		if r.Split != split {
			continue
		}
		if r.Class == classOrBenignSource && r.Class != Benign || r.Class == Benign && r.Source == classOrBenignSource {
			return r
		}
	}
	return nil
}

func pct(rate float64, sampled, n int) string {
	if rate < 0 {
		return "-"
	}
	if sampled < n {
		return fmt.Sprintf("%.1f%% (%d)", 100*rate, sampled)
	}
	return fmt.Sprintf("%.1f%%", 100*rate)
}

// Print writes the summary table (per class, tuning / validation /
// held-out side by side; attack rows show recall, benign rows the
// false-positive rate of each benign set), the per-source table, the
// per-placement table of the tuning part, and the cost of each engine.
func (res *Result) Print(w io.Writer) {
	splits := []string{SplitTune, SplitValid, SplitHeldOut}
	present := map[string]bool{}
	for _, r := range res.Rows {
		present[r.Split] = true
	}
	var sp []string
	for _, s := range splits {
		if present[s] {
			sp = append(sp, s)
		}
	}
	agg := res.Aggregate()
	type key struct{ label, metric string }
	var labels []key
	seen := map[key]bool{}
	byKey := map[string]*Row{}
	for _, r := range agg {
		k := key{r.Class, "recall"}
		if r.Class == Benign {
			k = key{"benign " + r.Source, "FPR"}
		}
		if !seen[k] {
			seen[k] = true
			labels = append(labels, k)
		}
		byKey[k.label+"|"+r.Split] = r
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	hdr := "class\tmetric\t"
	for _, s := range sp {
		hdr += s + " n\t"
		for _, e := range res.Engines {
			hdr += e + "\t(class)\t"
		}
	}
	fmt.Fprintln(tw, hdr)
	for _, k := range labels {
		line := k.label + "\t" + k.metric + "\t"
		for _, s := range sp {
			r := byKey[k.label+"|"+s]
			if r == nil {
				line += "-\t" + strings.Repeat("-\t", 2*len(res.Engines))
				continue
			}
			line += fmt.Sprintf("%d\t", r.N)
			for _, e := range res.Engines {
				line += pct(r.Rate(e), r.drawn(e), r.N) + "\t" + r.classCell(e)
			}
		}
		fmt.Fprintln(tw, line)
	}
	tw.Flush()

	fmt.Fprintln(w, "\nper source:")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	hdr = "source\tclass\tsplit\tmetric\tn\t"
	for _, e := range res.Engines {
		hdr += e + "\t(class)\t"
	}
	fmt.Fprintln(tw, hdr)
	for _, r := range res.Rows {
		metric := "recall"
		if r.Class == Benign {
			metric = "FPR"
		}
		src := r.Source
		if r.Stratum != "" {
			src += " " + r.Stratum
		}
		s := fmt.Sprintf("%s\t%s\t%s\t%s\t%d\t", src, r.Class, r.Split, metric, r.N)
		for _, e := range res.Engines {
			s += pct(r.Rate(e), r.Sampled[e], r.N) + "\t" + r.classCell(e)
		}
		fmt.Fprintln(tw, s)
	}
	tw.Flush()

	if len(res.Placement) > 0 {
		fmt.Fprintln(w, "\nper placement (tuning part, attacks):")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		hdr = "placement\tclass\t"
		for _, e := range res.Engines {
			hdr += e + "\t"
		}
		fmt.Fprintln(tw, hdr)
		keys := map[string]bool{}
		for _, m := range res.Placement {
			for k := range m {
				keys[k] = true
			}
		}
		ks := make([]string, 0, len(keys))
		for k := range keys {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		for _, k := range ks {
			p, c, _ := strings.Cut(k, "|")
			s := p + "\t" + c + "\t"
			for _, e := range res.Engines {
				if v := res.Placement[e][k]; v != nil && v[1] > 0 {
					s += fmt.Sprintf("%.1f%% (%d)\t", 100*float64(v[0])/float64(v[1]), v[1])
				} else {
					s += "-\t"
				}
			}
			fmt.Fprintln(tw, s)
		}
		tw.Flush()
	}

	var names []string
	pal := res.Cost["palisade"].PerRequest()
	for _, e := range res.Engines {
		c := res.Cost[e]
		kind, spent := "CPU", c.CPU
		if c.CPU == 0 {
			kind, spent = "wall", c.Wall
		}
		s := fmt.Sprintf("%s %d requests, %s %s (%.1f µs/request)", e, c.Requests, kind, spent.Round(time.Millisecond), float64(c.PerRequest().Nanoseconds())/1000)
		if e != "palisade" && pal > 0 {
			s += fmt.Sprintf(", palisade %.0f× faster", float64(c.PerRequest())/float64(pal))
		}
		names = append(names, s)
	}
	fmt.Fprintf(w, "\ncost: %s\n", strings.Join(names, "; "))
	errs := make([]string, 0, len(res.Errors))
	for e := range res.Errors {
		errs = append(errs, e)
	}
	sort.Strings(errs)
	for _, e := range errs {
		fmt.Fprintf(w, "errors: %s %d\n", e, res.Errors[e])
	}
	fmt.Fprintf(w, "recall/FPR: share of requests flagged with any alert (Coraza: blocked, by any rule — protocol-enforcement rules included); (class): flagged with the expected injection class (Coraza: blocked, with a rule of that class's CRS file among the matches); (n): deterministic sample size. Splits: tune/valid by sha256 of the payload (%d %% validation), held-out: sources never tuned on.\n", ValidationPercent)
}

// PrintExamples lists kept misses and false positives (tuning part only).
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
