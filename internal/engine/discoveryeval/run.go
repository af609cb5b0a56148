package discoveryeval

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/palisade-sec/palisade/internal/engine"
	"github.com/palisade-sec/palisade/internal/evalsplit"
	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/inventory"
	"github.com/palisade-sec/palisade/internal/model"
)

// Result of a run. Items (operations, specs) are given for the tuning part
// only; the validation part is only counted.
type Result struct {
	Config Config `json:"config"`
	Files  int    `json:"files"`  // spec files in the directory
	Scored int    `json:"scored"` // specs whose traffic was scored
	Parts  []Part `json:"parts"`  // tune, valid
	// Specs: per-spec tallies of the tuning part.
	Specs []SpecRow `json:"specs,omitempty"`
	// Examples of split, merged and wrong-parameter operations of the
	// tuning part (Config.Show of each).
	Examples []Example `json:"examples,omitempty"`
}

// Part is the tally of one split.
type Part struct {
	Split  string `json:"split"`
	Files  int    `json:"files"`
	Scored int    `json:"scored"`
	// Rows by the kind of the operations' path parameters (RowNames).
	Rows []Row `json:"rows"`
	// Headline: every operation but the enum row's (a low-cardinality
	// enum is legitimately static).
	Headline Row `json:"headline"`
	// ExcludedSpecs: whole specs left out, by reason; ExcludedOps:
	// operations left out, by reason; Notes: parameters whose values do
	// not follow their schema, by reason.
	ExcludedSpecs map[string]int `json:"excluded_specs,omitempty"`
	ExcludedOps   map[string]int `json:"excluded_ops,omitempty"`
	Notes         map[string]int `json:"notes,omitempty"`
	// Bodies: how the scored operations answer their 200s, by Body*
	// (Config.Bodies "spec" only).
	Bodies map[string]int `json:"bodies,omitempty"`
	// Errors: 0 unless the generator or the pipeline is broken.
	Errors DiscoverStats `json:"errors,omitzero"`

	ops []*OpScore
}

// SpecRow is the tally of one spec of the tuning part.
type SpecRow struct {
	Spec string `json:"spec"`
	Row
}

// Example is one operation discovery got wrong (tuning part).
type Example struct {
	Error string `json:"error"` // split, merged, wrong params
	*OpScore
}

// Reasons a whole spec is left out.
const (
	ExclSpecParse = "spec does not parse"
	ExclSpecNoOps = "spec declares no operation"
	ExclSpecAll   = "every operation of the spec excluded (counted by reason)"
)

// SpecFiles lists the spec files of a directory (.json, .yaml, .yml),
// sorted.
func SpecFiles(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range ents {
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".json", ".yaml", ".yml":
			if e.Type().IsRegular() {
				out = append(out, filepath.Join(dir, e.Name()))
			}
		}
	}
	sort.Strings(out)
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no spec file (.json, .yaml, .yml)", dir)
	}
	return out, nil
}

// Run generates the traffic of every spec of specDir, runs each spec's
// through its own engine (the default configuration, no spec loaded),
// scores the discovered endpoints, and prints the table (and examples of
// the tuning part's errors when cfg.Show > 0) to w. Each spec is in the
// tuning or the validation part by evalsplit.SplitOf of its file name.
func Run(specDir string, cfg Config, w io.Writer) (Result, error) {
	cfg.defaults()
	if err := cfg.check(); err != nil {
		return Result{}, err
	}
	files, err := SpecFiles(specDir)
	if err != nil {
		return Result{}, err
	}
	res := Result{Config: cfg, Files: len(files)}
	parts := map[string]*Part{}
	for _, s := range []string{evalsplit.SplitTune, evalsplit.SplitValid} {
		parts[s] = &Part{Split: s, ExcludedSpecs: map[string]int{}, ExcludedOps: map[string]int{}, Notes: map[string]int{}, Bodies: map[string]int{}}
	}
	for _, f := range files {
		base := filepath.Base(f)
		p := parts[evalsplit.SplitOf(base)]
		p.Files++
		spec, err := inventory.LoadSpec(f)
		if err != nil {
			p.ExcludedSpecs[ExclSpecParse]++
			continue
		}
		if len(spec.Ops) == 0 {
			p.ExcludedSpecs[ExclSpecNoOps]++
			continue
		}
		recs, truths, ex := Generate(spec, f, cfg)
		for k, n := range ex.Ops {
			p.ExcludedOps[k] += n
		}
		for k, n := range ex.Notes {
			p.Notes[k] += n
		}
		for k, n := range ex.Bodies {
			p.Bodies[k] += n
		}
		if len(recs) == 0 {
			p.ExcludedSpecs[ExclSpecAll]++
			continue
		}
		var specs []string
		if cfg.WithSpec {
			specs = []string{f + ",host=" + HostOf(spec, f)}
		}
		eps, st, err := Discover(recs, specs...)
		if err != nil {
			return res, fmt.Errorf("%s: %w", base, err)
		}
		p.Errors.add(st)
		ops := Score(truths, eps)
		p.ops = append(p.ops, ops...)
		p.Scored++
		res.Scored++
		if p.Split == evalsplit.SplitTune {
			res.Specs = append(res.Specs, SpecRow{Spec: base, Row: Tally(base, ops)})
		}
	}
	for _, s := range []string{evalsplit.SplitTune, evalsplit.SplitValid} {
		p := parts[s]
		byRow := map[string][]*OpScore{}
		var headline []*OpScore
		for _, o := range p.ops {
			byRow[o.Row] = append(byRow[o.Row], o)
			if o.Row != RowEnum {
				headline = append(headline, o)
			}
		}
		for _, r := range RowNames {
			p.Rows = append(p.Rows, Tally(r, byRow[r]))
		}
		p.Headline = Tally("all but enum", headline)
		res.Parts = append(res.Parts, *p)
	}
	if cfg.Show > 0 {
		res.Examples = examples(parts[evalsplit.SplitTune].ops, cfg.Show)
	}
	res.Print(w)
	if cfg.Show > 0 {
		res.PrintExamples(w)
	}
	return res, nil
}

// DiscoverStats counts what went wrong in Discover; all are 0 unless the
// generator or the pipeline is broken.
type DiscoverStats struct {
	Rejected    int `json:"rejected,omitempty"`     // records Validate refused
	NotAnalyzed int `json:"not_analyzed,omitempty"` // validated records the engine never handed to the analyzers
	// Unlisted: requests resolved to an endpoint that the inventory lists
	// neither as an endpoint nor as a probe.
	Unlisted int `json:"unlisted,omitempty"`
}

func (s *DiscoverStats) add(o DiscoverStats) {
	s.Rejected += o.Rejected
	s.NotAnalyzed += o.NotAnalyzed
	s.Unlisted += o.Unlisted
}

// Discover runs records through a fresh engine built as palisade analyze
// builds it (default configuration; the given specs loaded, as --spec
// takes them — none when measuring discovery), each record validated as
// the decoders do, flushed at the end of the input, and returns the final
// endpoint of each record: the endpoint its event was given during
// enrichment, resolved as report assembly resolves it
// (Inventory.Resolve), and whether the inventory lists it as a probe.
// Records must be in time order; they are handed to the engine and must
// not be used afterwards.
func Discover(recs []*exchange.Record, specs ...string) (eps []Endpoint, st DiscoverStats, err error) {
	if len(recs) == 0 {
		return nil, st, errors.New("no record")
	}
	last := recs[len(recs)-1].Time
	ecfg := engine.DefaultConfig()
	ecfg.Specs = specs
	eng, err := engine.New(ecfg)
	if err != nil {
		return nil, st, err
	}
	refs := make([]model.EndpointRef, len(recs))
	got := make([]bool, len(recs))
	var idx []int // engine sequence number → record
	eng.OnRelease(func(ev *event.Event) {
		if ev.Seq < uint64(len(idx)) {
			i := idx[ev.Seq]
			refs[i], got[i] = ev.Endpoint, true
		}
	})
	for i, r := range recs {
		if err := r.Validate(); err != nil {
			st.Rejected++
			continue
		}
		idx = append(idx, i)
		eng.Ingest(r)
	}
	eng.Flush()
	inv := eng.Inventory()
	probes := map[model.EndpointRef]bool{}
	for _, p := range inv.Probes() {
		probes[model.EndpointRef{Host: p.Host, Method: p.Method, Path: p.Path}] = true
	}
	listed := map[model.EndpointRef]bool{}
	for _, e := range inv.Endpoints(last) {
		listed[model.EndpointRef{Host: e.Host, Method: e.Method, Path: e.Path}] = true
	}
	resolved := map[model.EndpointRef]model.EndpointRef{}
	eps = make([]Endpoint, len(recs))
	for i := range recs {
		if !got[i] {
			st.NotAnalyzed++
			eps[i] = Endpoint{Template: "(not analyzed)"}
			continue
		}
		r, ok := resolved[refs[i]]
		if !ok {
			r = inv.Resolve(refs[i])
			resolved[refs[i]] = r
		}
		key := model.EndpointRef{Host: r.Host, Method: r.Method, Path: r.Path}
		eps[i] = Endpoint{Host: r.Host, Method: r.Method, Template: r.Path, Probe: probes[key]}
		if !probes[key] && !listed[key] {
			st.Unlisted++
		}
	}
	if st.Rejected+st.NotAnalyzed == len(recs) {
		return eps, st, errors.New("no generated record was analyzed")
	}
	return eps, st, nil
}

// examples picks up to n operations of each error, evenly spaced over the
// (sorted) candidates so that they come from many specs.
func examples(ops []*OpScore, n int) []Example {
	var out []Example
	for _, kind := range []string{"split", "merged", "wrong params"} {
		var cand []*OpScore
		for _, o := range ops {
			if kind == "split" && o.Split > 0 || kind == "merged" && o.Merged() || kind == "wrong params" && o.WrongParams {
				cand = append(cand, o)
			}
		}
		for i := 0; i < n && i < len(cand); i++ {
			out = append(out, Example{Error: kind, OpScore: cand[i*len(cand)/min(n, len(cand))]})
		}
	}
	return out
}

func pct(a, b int) string {
	if b == 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f%%", 100*float64(a)/float64(b))
}

// Print writes the table: one line per row of each part, the headline
// (every operation but the enum row's) in bold terms, exclusions and
// notes by reason.
func (res *Result) Print(w io.Writer) {
	var reqs, ops int
	for _, p := range res.Parts {
		reqs += p.Headline.Requests + p.Rows[len(p.Rows)-1].Requests
		ops += p.Headline.Ops + p.Rows[len(p.Rows)-1].Ops
	}
	fmt.Fprintf(w, "discovery: %d spec files (", res.Files)
	for i, p := range res.Parts {
		if i > 0 {
			fmt.Fprint(w, ", ")
		}
		fmt.Fprintf(w, "%s %d", p.Split, p.Files)
	}
	fmt.Fprintf(w, "), %d scored; %d operations, %d requests (%d per operation, %d values per parameter, seed %d, bodies %s)\n\n",
		res.Scored, ops, reqs, res.Config.Requests, res.Config.Values, res.Config.Seed, res.Config.Bodies)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "part\trow\tops\tendpoints\tendpts/op\texact\texact %\twrong params\tsplit\t(+endpoints)\tmerged\t(requests)\tsplit & merged\t")
	line := func(part string, r Row) {
		ratio := "-"
		if r.Ops > 0 {
			ratio = fmt.Sprintf("%.2f", float64(r.Endpoints)/float64(r.Ops))
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%s\t%d\t%s\t%d\t%d\t(+%d)\t%d\t(%d)\t%d\t\n", part, r.Row, r.Ops, r.Endpoints, ratio,
			r.Exact, pct(r.Exact, r.Ops), r.WrongParams, r.Split, r.ExtraEndpoints, r.Merged, r.MergedRequests, r.SplitMerged)
	}
	for _, p := range res.Parts {
		for _, r := range p.Rows {
			line(p.Split, r)
		}
		line(p.Split, p.Headline)
	}
	tw.Flush()
	fmt.Fprintln(w, "exact: all of the operation's requests on one endpoint that no other operation's reached; wrong params: exact, with a parameter where the spec has a static segment or the reverse (an enum position may be either); split: requests on more than one endpoint; merged: an endpoint shared with another operation. Rows: the weakest kind of the operation's path parameters (free < pattern < example < enum < date < email < uuid < int); headline \"all but enum\".")
	fmt.Fprintf(w, "parts: tune/valid by sha256 of the spec file name (%d %% validation); examples are drawn from the tuning part only.\n", evalsplit.ValidationPercent)
	for _, p := range res.Parts {
		printCounts(w, "excluded specs ("+p.Split+")", p.ExcludedSpecs)
		printCounts(w, "excluded operations ("+p.Split+")", p.ExcludedOps)
		printCounts(w, "parameter notes ("+p.Split+")", p.Notes)
		printCounts(w, "response bodies ("+p.Split+")", p.Bodies)
		if e := p.Errors; e != (DiscoverStats{}) {
			fmt.Fprintf(w, "errors (%s): %d generated records rejected, %d not analyzed, %d on an endpoint the inventory does not list\n", p.Split, e.Rejected, e.NotAnalyzed, e.Unlisted)
		}
		var probes int
		for _, r := range p.Rows {
			probes += r.ProbeEndpoints
		}
		if probes > 0 {
			fmt.Fprintf(w, "probes (%s): %d of the discovered endpoints are listed as probes (only 404s), not endpoints\n", p.Split, probes)
		}
	}
}

func printCounts(w io.Writer, what string, m map[string]int) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(w, "%s: %s: %d\n", what, k, m[k])
	}
}

// PrintExamples lists the examples (tuning part only): the spec's
// template, the discovered templates with their requests and a concrete
// path each, and the operations merged with it.
func (res *Result) PrintExamples(w io.Writer) {
	last := ""
	for _, e := range res.Examples {
		if e.Error != last {
			fmt.Fprintf(w, "\n== %s (tuning part)\n", e.Error)
			last = e.Error
		}
		fmt.Fprintf(w, "%s %s %s  [%s; %d requests]\n", e.Spec, e.Method, e.Template, e.Row, e.Requests)
		for i, ep := range e.Endpoints {
			if i == 6 {
				fmt.Fprintf(w, "    … %d more endpoints\n", len(e.Endpoints)-i)
				break
			}
			extra := ""
			if ep.Ops > 1 {
				extra = fmt.Sprintf(", shared by %d operations", ep.Ops)
			}
			if ep.Probe {
				extra += ", a probe"
			}
			fmt.Fprintf(w, "    → %s  (%d requests%s; e.g. %s)\n", ep.Template, ep.Requests, extra, ep.Example)
		}
		if len(e.MergedWith) > 0 {
			m := e.MergedWith
			more := ""
			if len(m) > 4 {
				m, more = m[:4], fmt.Sprintf(" … and %d more", len(e.MergedWith)-4)
			}
			fmt.Fprintf(w, "    merged with: %s%s\n", strings.Join(m, "; "), more)
		}
	}
}
