// Package cluster is Palisade's clustered analysis: records published on a
// NATS JetStream stream, partitioned by host, analyzed by workers that own
// partitions, and merged into one store (docs/cluster.md).
//
// The analysis is split in two stages so that every piece of detector
// state sees all the events it is keyed on, in event-time order, as in
// `palisade analyze`:
//
//   - the endpoint stage, partitioned by API host: enrichment, the
//     inventory (path templates are learned per host), classification, the
//     traffic posture rules and every detector family whose state is keyed
//     by endpoint or (subject, endpoint), or holds none;
//   - the population stage, one partition fed by all endpoint partitions
//     in merged event-time order: the families that follow one subject
//     across every endpoint and judge it against all subjects (spray, brute
//     force, token reuse).
//
// This file holds the two stages as pure, deterministic state machines
// (no I/O): worker.go moves messages between them and the bus.
package cluster

import (
	"container/heap"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/palisade-sec/palisade/internal/activity"
	"github.com/palisade-sec/palisade/internal/config"
	"github.com/palisade-sec/palisade/internal/detect"
	"github.com/palisade-sec/palisade/internal/engine"
	"github.com/palisade-sec/palisade/internal/enrich"
	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/inventory"
	"github.com/palisade-sec/palisade/internal/model"
)

// Alert ownership. The population stage runs the families whose state
// follows a subject (client address or principal) across endpoints and
// compares it with every subject, or that count the whole population:
// recon.endpoint_spray counts a subject's distinct operations over all
// hosts against the p99 of all subjects; auth.brute_force counts a
// client's failures over all login endpoints against all clients;
// auth.token_reuse counts a principal's networks against all principals;
// bfla.privileged_access keys its peer groups by endpoint but judges them
// against the principals seen anywhere (min_principals, small_pop) since
// the first request (its learning period). The authabuse family also
// judges auth.credential_stuffing, which is keyed by login endpoint: that
// type is kept from the endpoint stage, which runs authabuse too.
var (
	populationFamilies = []string{"authabuse", "bfla", "spray"}
	populationTypes    = map[string]bool{
		"auth.brute_force":       true,
		"auth.token_reuse":       true,
		"recon.endpoint_spray":   true,
		"bfla.privileged_access": true,
	}
	// endpointOff are the population families the endpoint stage leaves
	// out (authabuse stays for credential stuffing).
	endpointOff = []string{"bfla", "spray"}
)

// PopulationType reports whether alerts of type t come from the population
// stage (and are ignored when the endpoint stage raises them).
func PopulationType(t string) bool { return populationTypes[t] }

// Key is the partition key of a record: its API host as enrichment
// normalizes it (so every spelling of a host lands in one partition), or
// "outbound" for our own calls to third parties, which share one
// partition: the upstream family's learning period starts at the first
// outbound call of the whole input.
func Key(rec *exchange.Record) string {
	if rec.IsOutbound() {
		return "~outbound"
	}
	u, err := rec.ParsedURL()
	if err != nil {
		return ""
	}
	return enrich.NormalizeHost(u.Host, strings.ToLower(u.Scheme))
}

// Forward is an event the endpoint stage hands to the population stage,
// in the order the endpoint partition released it.
type Forward struct {
	Part  int    `json:"p"`
	Out   uint64 `json:"o"` // per-partition message number (events and watermarks), from 1
	InSeq uint64 `json:"s"` // input stream sequence of the record (ties in time)
	Time  int64  `json:"t"` // event time, Unix ns
	// Endpoint is the template the endpoint stage's inventory assigned
	// when it enriched the event; PathParams its templated segments.
	Endpoint   model.EndpointRef `json:"ep"`
	PathParams []event.PathParam `json:"pp,omitempty"`
	// Classes are the data classes the classification stage found
	// unmasked in a successful answer (the activity summary's; the
	// response body does not travel).
	Classes []string `json:"dc,omitempty"`
	Record  []byte   `json:"r"` // the record without its response body
}

// Mark is a watermark of an endpoint partition for the population stage:
// the partition will release no more events older than Time except late
// ones (Idle: none at all until its next event).
type Mark struct {
	Part int    `json:"p"`
	Out  uint64 `json:"o"`
	Time int64  `json:"t"`
	Idle bool   `json:"idle,omitempty"`
}

// EndpointStage is one partition of the endpoint stage. All its fields
// are state (statecodec): checkpointed with the input sequence they cover.
type EndpointStage struct {
	Part  int
	Eng   *engine.Engine
	InSeq uint64 // last input sequence taken
	Out   uint64 // messages handed to the population stage

	local   uint64            // engine-local position of the next record
	pending map[uint64]uint64 // engine-local position → input sequence, for buffered records
	mark    int64             // last watermark handed on (ns)
	idle    bool
	// fwd holds the endpoint references handed to the population stage
	// (its alerts carry them), resolved to final templates at report
	// time; at most maxForwardRefs.
	fwd     map[model.EndpointRef]struct{}
	fwdLost int64
	Hours   map[int64]int64 // records per hour of event time (Unix s of the hour)
	Clock   int64           // newest event time taken (ns)

	// emit receives what the population stage must see (wiring, set by
	// the worker; not state).
	emit func(f *Forward, m *Mark)
}

const maxForwardRefs = 1 << 16

// NewEndpointStage builds partition part's stage from the engine
// configuration. emit receives forwards and marks in order (one of the two
// non-nil); it may be nil when no population stage runs.
func NewEndpointStage(part int, cfg engine.Config, emit func(*Forward, *Mark)) (*EndpointStage, error) {
	cfg.Detect.Disabled = append(append([]string(nil), cfg.Detect.Disabled...), endpointOff...)
	cfg.Activity = nil // per subject, across hosts: the population stage's
	eng, err := engine.New(cfg)
	if err != nil {
		return nil, err
	}
	s := &EndpointStage{Part: part, Eng: eng, pending: map[uint64]uint64{}, fwd: map[model.EndpointRef]struct{}{},
		Hours: map[int64]int64{}, mark: math.MinInt64, emit: emit}
	eng.OnRelease(s.released)
	return s, nil
}

// SetEmit replaces the stage's output (after a restore).
func (s *EndpointStage) SetEmit(emit func(*Forward, *Mark)) { s.emit = emit }

// Record takes the record at input sequence seq (already validated).
// Sequences at or below the last one taken are replays and are ignored;
// it reports whether the record was taken.
func (s *EndpointStage) Record(seq uint64, rec *exchange.Record) bool {
	if seq <= s.InSeq {
		return false
	}
	s.InSeq = seq
	s.pending[s.local] = seq
	s.local++
	s.Hours[rec.Time.Unix()-rec.Time.Unix()%3600]++
	if t := rec.Time.UnixNano(); t > s.Clock {
		s.Clock = t
	}
	s.idle = false
	s.Eng.Ingest(rec)
	s.markOut()
	return true
}

// Tick advances the partition's clock to t, the newest event time an
// ingest process has published (the clock of the whole input).
func (s *EndpointStage) Tick(seq uint64, t time.Time) bool {
	if seq <= s.InSeq {
		return false
	}
	s.InSeq = seq
	s.Eng.Advance(t)
	s.markOut()
	return true
}

// Idle is the end of the input for now (the partition saw nothing for the
// idle period): every buffered record is released, as at the end of a
// file, and the population stage is told to wait for nothing from here.
func (s *EndpointStage) Idle(seq uint64) bool {
	if seq <= s.InSeq {
		return false
	}
	s.InSeq = seq
	s.Eng.Drain()
	if !s.idle {
		s.idle = true
		if s.emit != nil {
			s.Out++
			s.emit(nil, &Mark{Part: s.Part, Out: s.Out, Time: s.Eng.Watermark().UnixNano(), Idle: true})
		}
	}
	return true
}

// Idle reports whether the stage holds nothing back (drained and no
// record since).
func (s *EndpointStage) Drained() bool { return s.idle }

func (s *EndpointStage) markOut() {
	w := s.Eng.Watermark().UnixNano()
	if w > s.mark {
		s.mark = w
		if s.emit != nil {
			s.Out++
			s.emit(nil, &Mark{Part: s.Part, Out: s.Out, Time: w})
		}
	}
}

// released forwards a released event to the population stage.
func (s *EndpointStage) released(ev *event.Event) {
	in, ok := s.pending[ev.Seq]
	if ok {
		delete(s.pending, ev.Seq)
	}
	if s.emit == nil {
		return
	}
	ref := ev.Endpoint
	ref.ID = 0 // references travel without ids (json:"-")
	if _, ok := s.fwd[ref]; !ok {
		if len(s.fwd) < maxForwardRefs {
			s.fwd[keepRef(ref)] = struct{}{}
		} else {
			s.fwdLost++
		}
	}
	r := *ev.Rec
	// The population families read the request, the status and the
	// response headers; the response body is the bulk of a record.
	r.Response.Body, r.Response.BodyEncoding = "", ""
	b, err := exchange.MarshalRecord(&r)
	if err != nil {
		return // cannot happen for a validated record
	}
	s.Out++
	f := &Forward{Part: s.Part, Out: s.Out, InSeq: in, Time: ev.Time.UnixNano(), Endpoint: ev.Endpoint, Record: b}
	if len(ev.PathParams) > 0 {
		f.PathParams = append([]event.PathParam(nil), ev.PathParams...)
	}
	if ev.Classified && ev.Success() {
		for _, x := range ev.Sensitive {
			if x.Location&event.ResponseLocations != 0 && !x.Masked && !slices.Contains(f.Classes, x.Type) {
				f.Classes = append(f.Classes, strings.Clone(x.Type))
			}
		}
	}
	s.emit(f, nil)
}

func keepRef(r model.EndpointRef) model.EndpointRef {
	return model.EndpointRef{Method: strings.Clone(r.Method), Host: strings.Clone(r.Host), Path: strings.Clone(r.Path)}
}

// Partial is what one partition contributes to the merged state: its
// report as of the input sequence Seq. Partials are replaced, never
// added up: writing the same partial twice changes nothing.
type Partial struct {
	Stage string `json:"stage"` // "endpoint" | "population"
	Part  int    `json:"part"`
	Seq   uint64 `json:"seq"`
	// Report is the partition's report (its hosts' endpoints, its alerts
	// and findings); risk scores are recomputed after merging.
	Report *model.Report `json:"report"`
	// Canonical maps the endpoint references handed to the population
	// stage to their final templates (only those that changed).
	Canonical []RefPair       `json:"canonical,omitempty"`
	Hours     map[int64]int64 `json:"hours,omitempty"`
	Clock     int64           `json:"clock,omitempty"`
	// Subjects are the population stage's per-subject activity summaries
	// that changed lately (endpoint references as forwarded; MergeSubjects
	// resolves them).
	Subjects []model.SubjectActivity `json:"subjects,omitempty"`
}

// SubjectsPerPartial bounds the activity summaries a partial takes (as
// serve's SubjectsPerCheckpoint); maxUnwritten bounds those a partial
// carries until the merger has written them.
const (
	SubjectsPerPartial = 2000
	maxUnwritten       = 20000
)

// RefPair maps an early endpoint reference to its final template.
type RefPair struct {
	From model.EndpointRef `json:"from"`
	To   model.EndpointRef `json:"to"`
}

// Partial returns the stage's contribution as of now. It changes no
// analysis state (fired windows are previewed, not closed).
func (s *EndpointStage) Partial(now time.Time) *Partial {
	rep := s.Eng.Report(now)
	kept := rep.Alerts[:0]
	for _, a := range rep.Alerts {
		if !populationTypes[a.Type] {
			kept = append(kept, a)
		}
	}
	rep.Alerts = kept
	// Baselines that count hours since a scope's first event are judged
	// at the whole input's clock (ticks), as analyze judges them at its
	// last record.
	if at := s.Eng.Clock(); !at.IsZero() && rep.Input.To != nil && at.After(*rep.Input.To) {
		rep.Readiness = s.Eng.ReadinessAt(at)
	}
	p := &Partial{Stage: "endpoint", Part: s.Part, Seq: s.InSeq, Report: rep, Clock: s.Clock, Hours: map[int64]int64{}}
	for h, n := range s.Hours {
		p.Hours[h] = n
	}
	inv := s.Eng.Inventory()
	for r := range s.fwd {
		c := inv.Resolve(r)
		c.ID = 0
		if c != r {
			p.Canonical = append(p.Canonical, RefPair{From: r, To: c})
		}
	}
	if s.fwdLost > 0 {
		if rep.AnalysisDropped == nil {
			rep.AnalysisDropped = map[string]int64{}
		}
		rep.AnalysisDropped["cluster forwarded endpoint references"] += s.fwdLost
	}
	return p
}

// ---- population stage ----

// PopulationStage is the population stage: it merges the endpoint
// partitions' released events into one event-time order (each partition's
// watermark says how far it has come) and runs the population families on
// them. All its fields are state (statecodec).
type PopulationStage struct {
	Parts int
	InSeq uint64 // last population-stream sequence taken

	enr *enrich.Enricher
	det *detect.Engine
	tmp *fwdTemplater
	// act is the per-subject activity summary (serve's attacker view),
	// when configured; unwritten the summaries taken and not yet
	// acknowledged as written by the merger (see Partial), at most
	// maxUnwritten; subjectsLost counts those dropped beyond it.
	act          *activity.Tracker
	unwritten    map[string]model.SubjectActivity
	subjectsLost int64

	last []uint64 // per partition: last message number taken
	held []map[uint64]heldMsg
	// missing counts message numbers given up (never published again).
	missing int64
	wm      []int64 // per partition: watermark (ns); MinInt64 = none yet
	idle    []bool
	q       fwdHeap

	released int64 // newest event time released (ns)
	late     int64
	records  int64
	rejected int64
	seq      uint64
	maxQ     int
	overflow int64
	clock    int64
}

// fwdTemplater hands the enricher the template the endpoint stage
// assigned (the population stage has no inventory).
type fwdTemplater struct {
	ref    model.EndpointRef
	params []event.PathParam
}

func (t *fwdTemplater) Template(host, method, path string) (model.EndpointRef, []event.PathParam) {
	return t.ref, t.params
}

// DefaultMaxPending bounds the events the population stage holds while it
// waits for a slow partition's watermark; beyond it the oldest are
// released (counted in analysis_dropped "cluster reorder overflow").
const DefaultMaxPending = 1 << 18

// NewPopulationStage builds the population stage for parts endpoint
// partitions from the engine configuration (its enrichment and detection
// options).
func NewPopulationStage(parts int, cfg engine.Config, maxPending int) (*PopulationStage, error) {
	if maxPending <= 0 {
		maxPending = DefaultMaxPending
	}
	dc := cfg.Detect
	dc.Disabled = nil
	for _, f := range detect.Families() {
		keep := false
		for _, p := range populationFamilies {
			keep = keep || p == f
		}
		for _, d := range cfg.Detect.Disabled {
			keep = keep && d != f
		}
		if !keep {
			dc.Disabled = append(dc.Disabled, f)
		}
	}
	if err := (&config.Loader{}).Validate(dc.Options); err != nil {
		return nil, fmt.Errorf("detect.options: %w", err)
	}
	if len(cfg.Specs) > 0 && dc.Specs == nil {
		// bfla asks the declared specs for an operation's scopes: an
		// inventory that holds only the specs answers.
		inv := inventory.New(cfg.Inventory)
		for _, p := range cfg.Specs {
			s, err := inventory.LoadSpec(p)
			if err != nil {
				return nil, err
			}
			if err := inv.AddSpec(s); err != nil {
				return nil, err
			}
		}
		dc.Specs = inv
	}
	c := &PopulationStage{Parts: parts, tmp: &fwdTemplater{}, last: make([]uint64, parts), held: make([]map[uint64]heldMsg, parts), wm: make([]int64, parts),
		idle: make([]bool, parts), maxQ: maxPending, released: math.MinInt64}
	for i := range c.wm {
		c.wm[i] = math.MinInt64
	}
	c.enr = enrich.New(cfg.Enrich, c.tmp, nil)
	c.det = detect.NewDefault(dc)
	if cfg.Activity != nil {
		c.act = activity.New(*cfg.Activity, nil) // references resolved in Merge
		c.unwritten = map[string]model.SubjectActivity{}
	}
	return c, nil
}

type fwdItem struct {
	t  int64
	in uint64
	f  *Forward
}

type fwdHeap []fwdItem

func (h fwdHeap) Len() int { return len(h) }
func (h fwdHeap) Less(i, j int) bool {
	if h[i].t != h[j].t {
		return h[i].t < h[j].t
	}
	return h[i].in < h[j].in
}
func (h fwdHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *fwdHeap) Push(x any)   { *h = append(*h, x.(fwdItem)) }
func (h *fwdHeap) Pop() any {
	old := *h
	it := old[len(old)-1]
	old[len(old)-1] = fwdItem{}
	*h = old[:len(old)-1]
	return it
}

// Take handles one message of the population stream at sequence seq: a
// forward or a mark. Replays (sequence or per-partition number already
// taken) are ignored.
//
// A partition's messages are taken in the order of their numbers (Out),
// whatever order the stream holds them in: a batch the endpoint stage
// published while a NATS server failed may be stored with holes (each
// message is acknowledged on its own), and the partition, restarted from
// its checkpoint, publishes the missing ones again after the others.
// Messages beyond a hole wait for it (at most maxHeld per partition;
// beyond that the hole is given up, counted in analysis_dropped "cluster
// forwards missing").
func (c *PopulationStage) Take(seq uint64, f *Forward, m *Mark) error {
	if seq != 0 && seq <= c.InSeq {
		return nil
	}
	if seq != 0 {
		c.InSeq = seq
	}
	var part int
	var out uint64
	switch {
	case f != nil:
		part, out = f.Part, f.Out
	case m != nil:
		part, out = m.Part, m.Out
	default:
		return nil
	}
	if part < 0 || part >= c.Parts {
		return fmt.Errorf("population stage: partition %d outside 0..%d (the partition count changed?)", part, c.Parts-1)
	}
	if out <= c.last[part] {
		return nil
	}
	if out > c.last[part]+1 {
		if c.held[part] == nil {
			c.held[part] = map[uint64]heldMsg{}
		}
		c.held[part][out] = heldMsg{F: f, M: m}
		if len(c.held[part]) <= maxHeld {
			return nil
		}
		// The hole is not filled: take what waits from its lowest number.
		lo := uint64(math.MaxUint64)
		for o := range c.held[part] {
			lo = min(lo, o)
		}
		c.missing += int64(lo - c.last[part] - 1)
		c.last[part] = lo - 1
	} else {
		c.last[part] = out
		c.take(part, f, m)
	}
	for len(c.held[part]) > 0 {
		h, ok := c.held[part][c.last[part]+1]
		if !ok {
			break
		}
		delete(c.held[part], c.last[part]+1)
		c.last[part]++
		c.take(part, h.F, h.M)
	}
	c.release()
	return nil
}

// heldMsg is a partition's message waiting for a hole in front of it.
type heldMsg struct {
	F *Forward
	M *Mark
}

// maxHeld bounds the messages of one partition waiting for a hole (a
// failed batch is at most a fetch's worth of forwards and marks).
const maxHeld = 1 << 14

// take applies a partition's next message.
func (c *PopulationStage) take(part int, f *Forward, m *Mark) {
	if f != nil {
		c.idle[part] = false
		if f.Time < c.released {
			c.observe(f) // late: after what was released already, as analyze does
		} else {
			heap.Push(&c.q, fwdItem{t: f.Time, in: f.InSeq, f: f})
		}
	} else if m.Idle {
		c.idle[part] = true
		if m.Time > c.wm[part] {
			c.wm[part] = m.Time // the partition's clock (readiness), not a wait
		}
	} else {
		c.idle[part] = false
		if m.Time > c.wm[part] {
			c.wm[part] = m.Time
		}
	}
}

// release hands the merged events the watermarks pass to the detectors.
func (c *PopulationStage) release() {
	front := int64(math.MaxInt64)
	for i := range c.wm {
		if !c.idle[i] && c.wm[i] < front {
			front = c.wm[i]
		}
	}
	for c.q.Len() > 0 && (c.q[0].f.Time <= front || c.q.Len() > c.maxQ) {
		if c.q[0].f.Time > front {
			c.overflow++
		}
		it := heap.Pop(&c.q).(fwdItem)
		c.observe(it.f)
	}
}

func (c *PopulationStage) observe(f *Forward) {
	rec, err := exchange.DecodeRecord(f.Record)
	if err != nil {
		c.rejected++
		return
	}
	c.tmp.ref, c.tmp.params = f.Endpoint, f.PathParams
	ev, err := c.enr.Enrich(rec, c.seq)
	c.seq++
	if err != nil {
		c.rejected++
		return
	}
	if f.Time < c.released {
		c.late++
	} else {
		c.released = f.Time
	}
	if f.Time > c.clock {
		c.clock = f.Time
	}
	c.records++
	c.det.Observe(ev)
	if c.act != nil {
		ev.Classified = true
		ev.Sensitive = ev.Sensitive[:0]
		for _, dc := range f.Classes {
			ev.Sensitive = append(ev.Sensitive, event.Sensitive{Location: event.LocResponseBody, Type: dc})
		}
		c.act.Observe(ev)
	}
	c.enr.Recycle(ev)
}

// AckSubjects drops the summaries the merger has written (those still
// as written: a subject active since stays until its newer summary is).
func (c *PopulationStage) AckSubjects(written []model.SubjectActivity) {
	for _, w := range written {
		k := w.Kind + " " + w.ID
		if u, ok := c.unwritten[k]; ok && sameSummary(&u, &w) {
			delete(c.unwritten, k)
		}
	}
}

// sameSummary compares two summaries of one subject by what only grows
// (answers counted by status class, last seen).
func sameSummary(a, b *model.SubjectActivity) bool {
	n := func(s *model.SubjectActivity) (t int64) {
		for _, v := range s.Status {
			t += v
		}
		return t
	}
	return n(a) == n(b) && a.LastSeen.Equal(b.LastSeen)
}

// Pending is the number of events waiting for watermarks.
func (c *PopulationStage) Pending() int { return c.q.Len() }

// PopulationStats are the population stage's counters (metrics).
type PopulationStats struct {
	Events   int64 // events observed
	Late     int64 // events observed after later ones (out of event-time order, as late records are)
	Pending  int   // events waiting for the partitions' watermarks
	Held     int   // messages waiting for a hole in their partition's numbering
	Missing  int64 // message numbers given up (analysis_dropped "cluster forwards missing")
	Overflow int64 // events released before their watermark (analysis_dropped "cluster reorder overflow")
}

// Stats returns the stage's counters.
func (c *PopulationStage) Stats() PopulationStats {
	st := PopulationStats{Events: c.records, Late: c.late, Pending: c.q.Len(), Missing: c.missing, Overflow: c.overflow}
	for _, h := range c.held {
		st.Held += len(h)
	}
	return st
}

// Partial returns the population stage's contribution (its alerts).
func (c *PopulationStage) Partial(now time.Time) *Partial {
	rep := &model.Report{GeneratedAt: now.UTC()}
	for _, a := range c.det.Alerts() {
		if populationTypes[a.Type] {
			rep.Alerts = append(rep.Alerts, a)
		}
	}
	for k, v := range c.det.Dropped() {
		if v > 0 {
			if rep.AnalysisDropped == nil {
				rep.AnalysisDropped = map[string]int64{}
			}
			rep.AnalysisDropped["detect "+k] += v
		}
	}
	if c.overflow > 0 || c.rejected > 0 || c.missing > 0 {
		if rep.AnalysisDropped == nil {
			rep.AnalysisDropped = map[string]int64{}
		}
		if c.overflow > 0 {
			rep.AnalysisDropped["cluster reorder overflow"] = c.overflow
		}
		if c.rejected > 0 {
			rep.AnalysisDropped["cluster undecodable forwards"] = c.rejected
		}
		if c.missing > 0 {
			rep.AnalysisDropped["cluster forwards missing"] = c.missing
		}
	}
	if c.clock != 0 {
		// As the engine reports it: per-scope baselines without any scope
		// left out (engine.Readiness), at the whole input's clock (the
		// partitions' watermarks reach it once they drained); scope keys
		// and hours to ready are settled in Merge.
		at := c.clock
		for _, w := range c.wm {
			at = max(at, w)
		}
		for _, b := range c.det.Readiness(time.Unix(0, at).UTC()) {
			if b.Scope != "population" && b.ReadyScopes+b.LearningScopes == 0 && b.ReadyAt == nil {
				continue
			}
			rep.Readiness = append(rep.Readiness, b)
		}
	}
	p := &Partial{Stage: "population", Seq: c.InSeq, Report: rep, Clock: c.clock}
	if c.act != nil {
		// The summaries that changed (at most SubjectsPerPartial, the most
		// active first, plus the subjects this stage's alerts name) join
		// those not yet written: partials replace one another and the
		// merger reads the latest at its own pace, so a summary stays in
		// every partial until the merger acknowledges it (AckSubjects).
		// Summaries are cumulative and the store merges them by maximum:
		// writing one again changes nothing.
		named := map[string]bool{}
		for i := range rep.Alerts {
			a := &rep.Alerts[i]
			if a.Client != nil {
				named["client "+a.Client.IP] = true
			}
			for _, cl := range a.Clients {
				named["client "+cl.IP] = true
			}
			if a.Identity != nil {
				named["identity "+a.Identity.ID] = true
			}
		}
		for _, a := range c.act.Take(SubjectsPerPartial, func(kind, id string) bool { return named[kind+" "+id] }) {
			c.unwritten[a.Kind+" "+a.ID] = a
		}
		keys := make([]string, 0, len(c.unwritten))
		for k := range c.unwritten {
			keys = append(keys, k)
		}
		if len(keys) > maxUnwritten {
			// The merger has not written for a long time: the least
			// recently active wait no longer (counted).
			sort.Slice(keys, func(i, j int) bool {
				a, b := c.unwritten[keys[i]], c.unwritten[keys[j]]
				if !a.LastSeen.Equal(b.LastSeen) {
					return a.LastSeen.After(b.LastSeen)
				}
				return keys[i] < keys[j]
			})
			for _, k := range keys[maxUnwritten:] {
				delete(c.unwritten, k)
				c.subjectsLost++
			}
			keys = keys[:maxUnwritten]
		}
		sort.Strings(keys)
		for _, k := range keys {
			p.Subjects = append(p.Subjects, c.unwritten[k])
		}
		if c.subjectsLost > 0 {
			if rep.AnalysisDropped == nil {
				rep.AnalysisDropped = map[string]int64{}
			}
			rep.AnalysisDropped["cluster subject summaries not written"] = c.subjectsLost
		}
	}
	return p
}
