// Package engine builds the pipeline from configuration and runs records
// through it: enrich → inventory, classification, detection, traffic
// posture → report. It is used by `palisade analyze`, `palisade demo` and
// `palisade serve`. An Engine is not safe for concurrent use: feed it from
// one goroutine (serve mode serializes ingestion).
package engine

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/palisade-sec/palisade/internal/activity"
	"github.com/palisade-sec/palisade/internal/alert"
	"github.com/palisade-sec/palisade/internal/classify"
	"github.com/palisade-sec/palisade/internal/config"
	"github.com/palisade-sec/palisade/internal/detect"
	"github.com/palisade-sec/palisade/internal/enrich"
	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/intel"
	"github.com/palisade-sec/palisade/internal/inventory"
	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/pipeline"
	"github.com/palisade-sec/palisade/internal/posture"
)

// Config of the engine.
type Config struct {
	Enrich    enrich.Config
	Inventory inventory.Config
	Classify  classify.Config
	Detect    detect.Config
	Posture   posture.TrafficConfig

	Specs []string // declared OpenAPI specs (paths)
	Intel []string // threat-intel feeds, "KIND=SOURCE" (see docs/threat-intel.md)

	// Reorder is how much event-time disorder is tolerated (default 5m);
	// ReorderMax bounds the records held for reordering (default 65536)
	// and ReorderMaxBytes their size (default 64 MiB: records carry
	// client-controlled bodies); past either, the oldest are released.
	Reorder         time.Duration
	ReorderMax      int
	ReorderMaxBytes int64

	// MaxErrors is how many rejected records are kept with their location
	// in the report (default 20). All rejects are counted.
	MaxErrors int

	// NoDetect disables the detection stage (inventory/openapi export only).
	NoDetect bool
	// NoClassify disables sensitive-data classification.
	NoClassify bool
	// NoPosture disables the traffic posture rules (findings).
	NoPosture bool
	// Activity, when set, keeps the bounded per-subject activity summary
	// of serve mode's attacker view (TakeSubjects); analyze leaves it off.
	Activity *activity.Config
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{
		Enrich:     enrich.DefaultConfig(),
		Inventory:  inventory.DefaultConfig(),
		Classify:   classify.DefaultConfig(),
		Posture:    posture.TrafficConfig{UnusedAfter: 30 * 24 * time.Hour, GraphQLMaxDepth: 10, GraphQLMaxAliases: 15, GraphQLMaxBatch: 10},
		Reorder:    5 * time.Minute,
		ReorderMax: 65536, ReorderMaxBytes: 64 << 20,
		MaxErrors: 20,
	}
}

// Engine runs the pipeline.
type Engine struct {
	cfg       Config
	enr       *enrich.Enricher
	inv       *inventory.Inventory
	cls       *classify.Analyzer
	det       *detect.Engine
	pos       *posture.Traffic
	act       *activity.Tracker
	intel     *intel.Set
	analyzers pipeline.Fanout

	buf      reorderBuffer
	bufBytes int64               // MemSize of the buffered records
	pool     exchange.RecordPool // records read by Read, recycled once analyzed
	maxTime  time.Time
	released time.Time
	seq      uint64

	// onRelease, when set, sees each event after the analyzers (see
	// OnRelease in partition.go).
	onRelease func(ev *event.Event)

	input    model.Input
	late     int64
	from     time.Time
	to       time.Time
	redact   *classify.Redactor // every alert and finding leaving the engine (Report)
	Warnings []string
}

// New builds an engine: loads specs and intel feeds (errors name the file).
func New(cfg Config) (*Engine, error) {
	if cfg.Reorder == 0 {
		cfg.Reorder = 5 * time.Minute
	}
	if cfg.ReorderMax <= 0 {
		cfg.ReorderMax = 65536
	}
	if cfg.ReorderMaxBytes <= 0 {
		cfg.ReorderMaxBytes = 64 << 20
	}
	if cfg.MaxErrors <= 0 {
		cfg.MaxErrors = 20
	}
	e := &Engine{cfg: cfg}
	e.inv = inventory.New(cfg.Inventory)
	if err := e.inv.Err(); err != nil {
		return nil, fmt.Errorf("inventory configuration: %w", err)
	}
	for _, p := range cfg.Specs {
		s, err := inventory.LoadSpec(p) // its errors name the file
		if err != nil {
			return nil, err
		}
		if err := e.inv.AddSpec(s); err != nil {
			return nil, err
		}
	}
	var lookup pipeline.IntelLookup
	if len(cfg.Intel) > 0 {
		e.intel = intel.NewSet()
		for _, arg := range cfg.Intel {
			kind, src, opts, err := intel.ParseSpec(arg)
			if err != nil {
				return nil, fmt.Errorf("--intel %s: %w", arg, err)
			}
			if _, err := e.intel.Load(kind, src, opts); err != nil {
				return nil, fmt.Errorf("intel feed %s: %w", arg, err)
			}
		}
		lookup = e.intel
	}
	e.enr = enrich.New(cfg.Enrich, e.inv, lookup)
	e.analyzers = pipeline.Fanout{e.inv}
	// The redaction step at the pipeline's exit uses the configured
	// classifier (custom types included) even when classification is off.
	c, err := classify.New(cfg.Classify)
	if err != nil {
		return nil, fmt.Errorf("classification config: %w", err)
	}
	e.redact = classify.NewRedactor(c)
	if !cfg.NoClassify {
		e.cls = classify.NewAnalyzer(c) // the classification stage (see release)
	}
	if !cfg.NoPosture {
		pcfg := cfg.Posture
		if pcfg.SpecFields == nil {
			pcfg.SpecFields = e.inv
		}
		e.pos = posture.NewTraffic(pcfg)
		e.analyzers = append(e.analyzers, e.pos)
	}
	if !cfg.NoDetect {
		dc := cfg.Detect
		if dc.Specs == nil {
			dc.Specs = e.inv
		}
		if dc.Classifier == nil && e.cls != nil {
			dc.Classifier = e.cls.Classifier() // custom data types, for unclassified events
		}
		if err := (&config.Loader{}).Validate(dc.Options); err != nil {
			return nil, fmt.Errorf("detect.options: %w", err)
		}
		e.det = detect.NewDefault(dc)
		e.analyzers = append(e.analyzers, e.det)
	}
	if cfg.Activity != nil {
		e.act = activity.New(*cfg.Activity, e.inv)
		e.analyzers = append(e.analyzers, e.act)
	}
	return e, nil
}

// TakeSubjects returns the per-subject activity summaries that changed
// (activity.Tracker.Take); nil when Config.Activity is not set.
func (e *Engine) TakeSubjects(n int, pin func(kind, id string) bool) []model.SubjectActivity {
	if e.act == nil {
		return nil
	}
	return e.act.Take(n, pin)
}

// Inventory exposes the inventory (for OpenAPI export).
func (e *Engine) Inventory() *inventory.Inventory { return e.inv }

// ReorderWindow is the event-time disorder the engine waits for before it
// analyzes a record.
func (e *Engine) ReorderWindow() time.Duration { return e.cfg.Reorder }

// Intel exposes the threat-intel set (nil when no feed is loaded).
func (e *Engine) Intel() *intel.Set { return e.intel }

// resolveRef resolves an optional endpoint reference (a copy: the alert's
// own is left as the emitter keeps it).
func resolveRef(r pipeline.EndpointResolver, ep *model.EndpointRef) *model.EndpointRef {
	if ep == nil {
		return nil
	}
	c := r.Resolve(*ep)
	return &c
}

// Reject counts a rejected record and keeps its location (first few).
func (e *Engine) Reject(re *exchange.RecordError) {
	e.input.Rejected++
	if len(e.input.Errors) < e.cfg.MaxErrors {
		e.input.Errors = append(e.input.Errors, model.InputError{File: re.File, Line: re.Line, Entry: re.Entry, Field: re.Field, Message: re.Err})
	}
}

// Drop counts records dropped for a reason (e.g. by a source).
func (e *Engine) Drop(reason string, n int64) {
	if e.input.Dropped == nil {
		e.input.Dropped = map[string]int64{}
	}
	e.input.Dropped[reason] += n
}

// AddBytes accounts input bytes.
func (e *Engine) AddBytes(n int64) { e.input.Bytes += n }

// AddFile records an input name.
func (e *Engine) AddFile(name string) { e.input.Files = append(e.input.Files, name) }

// Ingest takes one validated record.
func (e *Engine) Ingest(rec *exchange.Record) {
	e.input.Records++
	if e.from.IsZero() || rec.Time.Before(e.from) {
		e.from = rec.Time
	}
	if rec.Time.After(e.to) {
		e.to = rec.Time
	}
	if rec.Time.After(e.maxTime) {
		e.maxTime = rec.Time
	}
	it := newItem(rec, e.seq)
	e.buf.push(it)
	e.bufBytes += it.size
	e.seq++
	watermark := e.maxTime.Add(-e.cfg.Reorder)
	wsec, wnsec := watermark.Unix(), int32(watermark.Nanosecond())
	for e.buf.Len() > 0 && (e.buf.Len() > e.cfg.ReorderMax || e.bufBytes > e.cfg.ReorderMaxBytes || e.buf.peek().notAfter(wsec, wnsec)) {
		e.release(e.buf.pop())
	}
}

func (e *Engine) release(it heapItem) {
	e.bufBytes -= it.size
	ev, err := e.enr.Enrich(it.rec, it.seq)
	if err != nil {
		e.input.Records--
		e.Reject(&exchange.RecordError{File: "(enrich)", Err: err.Error()})
		e.pool.Put(it.rec)
		return
	}
	if ev.Time.Before(e.released) {
		e.late++
	} else {
		e.released = ev.Time
	}
	if e.cls != nil {
		// The classification stage: its result travels on the event to
		// every analyzer (Event.Sensitive), so their order does not matter.
		e.cls.Classify(ev)
	}
	e.analyzers.Observe(ev)
	if e.onRelease != nil {
		e.onRelease(ev)
	}
	// Analyzers keep nothing of the event or its record past Observe (they
	// copy what they retain), so their memory can serve the next ones.
	e.enr.Recycle(ev)
	e.pool.Put(it.rec)
}

// Flush releases every buffered record and lets analyzers close their
// windows. Call it at the end of the input.
func (e *Engine) Flush() {
	for e.buf.Len() > 0 {
		e.release(e.buf.pop())
	}
	e.analyzers.Finish(e.to)
}

// Drain releases every buffered record without closing windows (serve-mode
// checkpoints).
func (e *Engine) Drain() {
	for e.buf.Len() > 0 {
		e.release(e.buf.pop())
	}
}

// Report assembles the report as of now (call Flush first at end of input).
func (e *Engine) Report(generatedAt time.Time) *model.Report {
	r := &model.Report{GeneratedAt: generatedAt.UTC()}
	r.Input = e.input
	if e.late > 0 {
		r.Input.Late = e.late
	}
	if !e.from.IsZero() {
		f, t := e.from.UTC(), e.to.UTC()
		r.Input.From, r.Input.To = &f, &t
	}
	eps := e.inv.Endpoints(e.to)
	idx := map[string]int{}
	for i := range eps {
		idx[eps[i].Ref().Key()] = i
	}
	if e.cls != nil {
		mergeSensitive(eps, idx, e.cls.Results(), e.inv)
	}
	var alerts []model.Alert
	if e.det != nil {
		alerts = canonicalAlerts(e.det.Alerts(), e.inv)
	}
	var findings []model.Finding
	if e.pos != nil {
		findings = e.pos.Findings(eps, e.to, e.inv)
	}
	posture.Score(eps, alerts, findings)
	r.Endpoints, r.Alerts, r.Findings = eps, alerts, findings
	e.redact.Report(r)
	r.Probes = e.inv.Probes()
	r.APIChange = e.inv.APIChanges()
	if e.det != nil {
		r.APIChange = mergeChanges(r.APIChange, e.det.APIChanges(), e.inv)
		for k, v := range e.det.Dropped() {
			if v > 0 {
				if r.AnalysisDropped == nil {
					r.AnalysisDropped = map[string]int64{}
				}
				r.AnalysisDropped["detect "+k] += v
			}
		}
	}
	for k, v := range e.enr.Dropped() {
		if r.AnalysisDropped == nil {
			r.AnalysisDropped = map[string]int64{}
		}
		r.AnalysisDropped["enrich "+k] += v
	}
	for k, v := range e.enr.Decoded() {
		if r.Input.Decoded == nil {
			r.Input.Decoded = map[string]int64{}
		}
		r.Input.Decoded[k] += v
	}
	r.Hosts = e.inv.Hosts(eps)
	e.addOutbound(r) // third-party APIs our services call (outbound.go)
	r.Readiness = e.Readiness()
	if e.intel != nil {
		// The report is a function of its inputs: keep the feeds' own
		// dates, not when this process loaded them.
		r.Intel = e.intel.Feeds()
		for i := range r.Intel {
			r.Intel[i].Loaded, r.Intel[i].Age = time.Time{}, ""
		}
	}
	return r
}

// mergeSensitive attaches classification results (recorded per endpoint
// reference as templated at classification time) to the final endpoints
// they resolve to.
func mergeSensitive(eps []model.Endpoint, idx map[string]int, res []classify.EndpointData, r pipeline.EndpointResolver) {
	type fk struct{ t, loc, field string }
	merged := map[int]map[fk]*model.SensitiveData{}
	for _, ed := range res {
		i, ok := idx[r.Resolve(ed.Ref).Key()]
		if !ok {
			continue // a probe path (never an endpoint)
		}
		for _, sd := range ed.Data {
			m := merged[i]
			if m == nil {
				m = map[fk]*model.SensitiveData{}
				merged[i] = m
			}
			key := fk{sd.Type, sd.Location, sd.Field}
			if have, ok := m[key]; ok {
				have.Count += sd.Count
				if sd.Confidence > have.Confidence {
					have.Confidence = sd.Confidence
				}
				have.Masked = have.Masked && sd.Masked
				if sd.FirstSeen != nil && (have.FirstSeen == nil || sd.FirstSeen.Before(*have.FirstSeen)) {
					have.FirstSeen = sd.FirstSeen
				}
				continue
			}
			cp := sd
			m[key] = &cp
		}
	}
	for i, m := range merged {
		list := make([]model.SensitiveData, 0, len(m))
		for _, sd := range m {
			list = append(list, *sd)
		}
		model.SortSensitiveData(list)
		eps[i].SensitiveData = list
	}
}

// mergeChanges appends the detectors' API changes (resolved to final
// templates) to the inventory's, dropping exact duplicates, in time order.
func mergeChanges(inv, det []model.APIChange, r pipeline.EndpointResolver) []model.APIChange {
	seen := map[string]bool{}
	var out []model.APIChange
	for _, list := range [][]model.APIChange{inv, det} {
		for _, ch := range list {
			ch.Endpoint = r.Resolve(ch.Endpoint)
			k := ch.Endpoint.Key() + "|" + ch.Kind + "|" + ch.Detail
			if seen[k] {
				continue
			}
			seen[k] = true
			out = append(out, ch)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

// canonicalAlerts resolves alert endpoints to final templates and folds
// alerts that became duplicates (same type, subject and endpoint).
func canonicalAlerts(in []model.Alert, r pipeline.EndpointResolver) []model.Alert {
	byKey := map[string]int{}
	var out []model.Alert
	for _, a := range in {
		a.Endpoint = resolveRef(r, a.Endpoint)
		k := alert.Key(&a)
		if i, ok := byKey[k]; ok {
			o := &out[i]
			o.Count += a.Count
			if a.FirstSeen.Before(o.FirstSeen) {
				o.FirstSeen = a.FirstSeen
			}
			if a.LastSeen.After(o.LastSeen) {
				o.LastSeen = a.LastSeen
			}
			if a.Confidence > o.Confidence {
				o.Confidence = a.Confidence
			}
			if model.SeverityRank(a.Severity) > model.SeverityRank(o.Severity) {
				o.Severity = a.Severity
			}
			for _, s := range a.Evidence.Samples {
				if len(o.Evidence.Samples) < detect.MaxSamples {
					o.Evidence.Samples = append(o.Evidence.Samples, s)
				}
			}
			continue
		}
		a.ID = alert.ID(k)
		byKey[k] = len(out)
		out = append(out, a)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].FirstSeen.Equal(out[j].FirstSeen) {
			return out[i].FirstSeen.Before(out[j].FirstSeen)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Readiness returns the learning state of every learned baseline as of
// the last event (detector families, API change detection, posture
// rules that need history), endpoint keys re-keyed to final templates,
// with the time to ready from the start of the input.
func (e *Engine) Readiness() []model.Readiness { return e.ReadinessAt(e.to) }

// ReadinessAt is Readiness as of event time at (a partition of a
// clustered deployment reports it at the whole input's clock).
func (e *Engine) ReadinessAt(at time.Time) []model.Readiness {
	var rs []pipeline.ReadinessReporter
	rs = append(rs, e.inv)
	if e.pos != nil {
		rs = append(rs, e.pos)
	}
	if e.det != nil {
		rs = append(rs, e.det)
	}
	var out []model.Readiness
	for _, r := range rs {
		for _, b := range r.Readiness(at) {
			// A per-scope baseline without any scope (no login endpoint
			// with failures, no outbound call…) has nothing to judge yet:
			// left out rather than reported as learning.
			if b.Scope != "population" && b.ReadyScopes+b.LearningScopes == 0 && b.ReadyAt == nil {
				continue
			}
			out = append(out, b)
		}
	}
	for i := range out {
		r := &out[i]
		if r.ReadyAt != nil && !e.from.IsZero() {
			h := r.ReadyAt.Sub(e.from).Hours()
			if h < 0 {
				h = 0
			}
			h = float64(int64(h*100+0.5)) / 100
			r.HoursToReady = &h
		}
		seen := map[string]bool{}
		kept := r.Learning[:0]
		for _, sc := range r.Learning {
			sc.Key = canonicalScopeKey(sc.Key, e.inv)
			if seen[sc.Key] {
				continue
			}
			seen[sc.Key] = true
			kept = append(kept, sc)
		}
		r.Learning = kept
		if len(r.Learning) == 0 {
			r.Learning = nil
		}
	}
	return out
}

// canonicalScopeKey re-keys a scope key "METHOD host/path[ suffix]" to the
// endpoint's current template.
func canonicalScopeKey(k string, r pipeline.EndpointResolver) string {
	method, rest, ok := strings.Cut(k, " ")
	if !ok {
		return k
	}
	hp, suffix, _ := strings.Cut(rest, " ")
	ref := model.EndpointRef{Method: method, Host: hp}
	if i := strings.IndexByte(hp, '/'); i >= 0 {
		ref.Host, ref.Path = hp[:i], hp[i:]
	}
	ref = r.Resolve(ref)
	if suffix != "" {
		return ref.Key() + " " + suffix
	}
	return ref.Key()
}
