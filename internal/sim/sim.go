// Package sim is a deterministic traffic simulator. It produces exchange
// records (docs/contracts/exchange-v1.md) for four built-in sample APIs —
// a shop, a clinic (EHR), a bank, and the outbound calls our services make
// to third-party APIs — with diurnal load, sessions, credentials, PII in
// bodies and errors, plus labelled attack scenarios (one or more for every
// alert type in docs/contracts/alert-types.md) and labelled benign traps
// (hard normal traffic that must stay quiet).
//
// The simulation is a discrete-event loop: every actor (a session, a service
// account, an attacker) sits in a min-heap keyed by the time of its next
// request; popping the heap yields records in time order. Memory grows with
// the number of concurrently active actors and the fixed populations
// (users, patients, accounts: a few thousand times Scale), never with the
// number of records.
//
// Ordering: records are emitted in non-decreasing time order, with one
// deliberate, labelled exception (trap "late-batch-sidecar"): the clinic's
// batch sidecar uploads the exchanges it captured every two minutes, so its
// records arrive up to two minutes behind the others (source
// "clinic-batch-sidecar"). Disable it with Traps=false.
package sim

import (
	"container/heap"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/hashing"
)

// Config of a simulation run.
type Config struct {
	Seed     int64
	Start    time.Time     // default 2026-11-16T00:00:00Z
	Duration time.Duration // default 48h
	Scale    float64       // multiplies the benign population and rate (1 = demo size, about 1,900 records per hour on average)
	Attacks  bool          // include the labelled attack scenarios
	Traps    bool          // include benign look-alikes (DefaultConfig turns them on)
	// Variant changes the shape of the traffic (variant.go); the zero
	// value is the base shape.
	Variant Variant
}

// DefaultStart is the default start of the simulated window.
var DefaultStart = time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC)

// MaxDisorder is the largest lag of a record behind the records emitted
// before it (the late-batch-sidecar trap).
const MaxDisorder = 2 * time.Minute

// BatchSource is the source name of the records that arrive late.
const BatchSource = "clinic-batch-sidecar"

// DefaultConfig returns the demo configuration: seed 1, 48 h from
// 2026-11-16, scale 1, attacks and traps on.
func DefaultConfig() Config {
	return Config{Seed: 1, Start: DefaultStart, Duration: 48 * time.Hour, Scale: 1, Attacks: true, Traps: true}
}

// Labels describe the scenarios a run contains.
type Labels struct {
	Seed      int64      `json:"seed"`
	Variant   string     `json:"variant,omitempty"`
	Start     time.Time  `json:"start"`
	End       time.Time  `json:"end"`
	Records   int64      `json:"records"`
	Scenarios []Scenario `json:"scenarios"`
	Intel     IntelLists `json:"intel"`
}

// IntelLists are the threat-intel feeds matching the run: the addresses the
// intel scenarios used plus listed addresses that never appear.
type IntelLists struct {
	Tor       []string `json:"tor,omitempty"`
	Blocklist []string `json:"blocklist,omitempty"`
}

// Scenario is one labelled attack or benign trap.
type Scenario struct {
	Name      string   `json:"name"`
	AlertType string   `json:"alert_type,omitempty"` // the alert type this attack must trigger; "" for a trap
	Trap      bool     `json:"trap,omitempty"`       // benign look-alike that must NOT trigger TrapFor types
	TrapFor   []string `json:"trap_for,omitempty"`   // alert types a trap resembles
	// Also lists other alert types the attack may legitimately trigger on
	// the same subject (a scanner's spray also 404s, a JNDI user agent is
	// also an injection): alerts of these types on this scenario's subject
	// are not false alerts.
	Also         []string  `json:"also,omitempty"`
	Subject      string    `json:"subject"` // client | identity | endpoint
	ClientIPs    []string  `json:"client_ips,omitempty"`
	Identity     string    `json:"identity,omitempty"` // JWT sub / principal name
	Host         string    `json:"host,omitempty"`
	Method       string    `json:"method,omitempty"`
	PathTemplate string    `json:"path_template,omitempty"`
	Start        time.Time `json:"start"`
	End          time.Time `json:"end"`
	Records      int64     `json:"records"` // records the scenario produced
	Description  string    `json:"description"`
}

// IntelFeeds returns the addresses the intel scenarios used, as a Tor exit
// list and a blocklist, plus a few listed addresses that never appear in
// the traffic (feeds are always larger than what one sees). Sorted.
func (l *Labels) IntelFeeds() (tor, blocklist []string) {
	tor = append([]string(nil), l.Intel.Tor...)
	blocklist = append([]string(nil), l.Intel.Blocklist...)
	sort.Strings(tor)
	sort.Strings(blocklist)
	return tor, blocklist
}

// AttackTypes returns the distinct alert types of the attack scenarios, sorted.
func (l *Labels) AttackTypes() []string {
	seen := map[string]bool{}
	var out []string
	for _, s := range l.Scenarios {
		if s.AlertType != "" && !seen[s.AlertType] {
			seen[s.AlertType] = true
			out = append(out, s.AlertType)
		}
	}
	sort.Strings(out)
	return out
}

func (c Config) normalized() (Config, error) {
	if c.Start.IsZero() {
		c.Start = DefaultStart
	}
	c.Start = c.Start.UTC()
	if c.Duration == 0 {
		c.Duration = 48 * time.Hour
	}
	if c.Duration < 0 {
		return c, fmt.Errorf("sim: duration must be positive, got %s", c.Duration)
	}
	if c.Duration > 31*24*time.Hour {
		return c, fmt.Errorf("sim: duration %s is longer than the 31 days supported", c.Duration)
	}
	if math.IsNaN(c.Scale) || math.IsInf(c.Scale, 0) || c.Scale < 0 {
		return c, fmt.Errorf("sim: scale must be a finite number ≥ 0, got %v", c.Scale)
	}
	if c.Scale == 0 {
		c.Scale = 1
	}
	if c.Scale > 1000 {
		return c, fmt.Errorf("sim: scale %v is above the supported maximum of 1000", c.Scale)
	}
	if err := c.Variant.validate(); err != nil {
		return c, err
	}
	if h := c.Variant.Hours; h > 0 {
		c.Duration = time.Duration(h * float64(time.Hour))
	}
	if h := c.Variant.StartHour; h > 0 {
		c.Start = time.Date(c.Start.Year(), c.Start.Month(), c.Start.Day(), 0, 0, 0, 0, time.UTC).Add(time.Duration(h * float64(time.Hour)))
	}
	return c, nil
}

// Generate runs the simulation and calls emit for every record, in time
// order (see the package comment for the one labelled exception). The
// record passed to emit is freshly allocated and may be retained. An error
// from emit stops the run and is returned.
func Generate(cfg Config, emit func(*exchange.Record) error) (*Labels, error) {
	if emit == nil {
		return nil, errors.New("sim: emit callback is nil")
	}
	return generate(cfg, func(r *exchange.Record, _ string) error { return emit(r) })
}

// generate is Generate with the name of the scenario each record belongs
// to ("" for plain benign traffic).
func generate(cfg Config, emit func(*exchange.Record, string) error) (*Labels, error) {
	cfg, err := cfg.normalized()
	if err != nil {
		return nil, err
	}
	g := newGen(cfg, emit)
	if cfg.Variant.Small != nil {
		g.setupSmall()
	} else {
		g.setupWorld()
		g.setupBenign()
		if cfg.Traps {
			g.setupTraps()
		}
		if cfg.Attacks {
			g.setupAttacks()
		}
	}
	g.run()
	lab := g.labels()
	if g.err != nil {
		return lab, g.err
	}
	return lab, nil
}

// actor is anything that makes requests. step is called at the time the
// actor was scheduled for; it emits zero or more records and returns the
// time of its next step, or false when it is done.
type actor interface {
	step(g *gen, now time.Time) (time.Time, bool)
}

type item struct {
	at  int64
	seq uint64
	a   actor
}

type actorHeap []item

func (h actorHeap) Len() int { return len(h) }
func (h actorHeap) Less(i, j int) bool {
	if h[i].at != h[j].at {
		return h[i].at < h[j].at
	}
	return h[i].seq < h[j].seq
}
func (h actorHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *actorHeap) Push(x any)   { *h = append(*h, x.(item)) }
func (h *actorHeap) Pop() any {
	old := *h
	n := len(old)
	it := old[n-1]
	old[n-1] = item{}
	*h = old[:n-1]
	return it
}

// gen is the state of one run.
type gen struct {
	cfg    Config
	start  time.Time
	end    time.Time
	emitFn func(*exchange.Record, string) error
	err    error
	h      actorHeap
	seq    uint64
	r      *rand.Rand // benign stream
	n      int64

	scen  []*scenState
	intel IntelLists

	shop   *shopWorld
	clinic *clinicWorld
	bank   *bankWorld
	out    *outboundWorld

	// Switches flipped by "release" scenarios.
	exposureAt      time.Time // shop user profile starts returning SSN and full card
	currencyParamAt time.Time // population adopts ?currency= on product lists (trap)
	geoPlainHTTPAt  time.Time // geocoder calls switch to plain http
	newDestAt       time.Time // analytics export to a new destination
	lookalikes      bool      // benign injection look-alikes in search/reviews/names

	// Trap and release scenarios fed by benign actors (nil when off).
	trapLookalike, trapAdminHTML, trapWebhook *scenState
	trapShiftStart, trapNAT, trapCurrency     *scenState
	trapBatch, trapStatements, trapSearch     *scenState
	trapCarrier                               *scenState
	scExposurePatch, scRedirect               *scenState
	catalogRedirectAt                         time.Time
	scExposure, scGeoHTTP, scNewDest          *scenState
	batch                                     *batchSidecar
	featuredBody                              string // the featured list does not change
	lingerR                                   *rand.Rand
	shape                                     apiShape        // Variant.APIShape
	outHosts                                  map[string]bool // hosts of outbound calls (their shape is kept)
}

// lingers draws whether a session keeps its token past exp
// (Variant.LingeringTokens; never draws when the share is 0, so the base
// traffic does not move).
func (g *gen) lingers() bool {
	p := g.cfg.Variant.LingeringTokens
	if p <= 0 {
		return false
	}
	if g.lingerR == nil {
		g.lingerR = g.stream("lingering-tokens")
	}
	return chance(g.lingerR, p)
}

func newGen(cfg Config, emit func(*exchange.Record, string) error) *gen {
	g := &gen{cfg: cfg, start: cfg.Start, end: cfg.Start.Add(cfg.Duration), emitFn: emit,
		r: rand.New(rand.NewPCG(uint64(cfg.Seed), 0x5eed_0000_0001))}
	g.shape, _ = parseAPIShape(cfg.Variant.APIShape) // validated by normalized
	far := g.end.Add(time.Hour)
	g.exposureAt, g.currencyParamAt, g.geoPlainHTTPAt, g.newDestAt, g.catalogRedirectAt = far, far, far, far, far
	return g
}

// stream returns an independent deterministic random stream for a named
// component, so that adding one scenario does not shift the others.
func (g *gen) stream(name string) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(g.cfg.Seed)^0x9e3779b97f4a7c15, hashing.FNV1a(hashing.Offset, name)))
}

// schedule puts an actor on the heap; times after the end are dropped.
func (g *gen) schedule(at time.Time, a actor) {
	if at.Before(g.start) {
		at = g.start
	}
	if !at.Before(g.end) {
		return
	}
	g.seq++
	heap.Push(&g.h, item{at: at.UnixNano(), seq: g.seq, a: a})
}

// oneShot runs fn once at its time.
type oneShot func(g *gen, now time.Time)

func (f oneShot) step(g *gen, now time.Time) (time.Time, bool) { f(g, now); return now, false }

// later schedules fn at t.
func (g *gen) later(t time.Time, fn func(g *gen, now time.Time)) { g.schedule(t, oneShot(fn)) }

func (g *gen) run() {
	for g.h.Len() > 0 && g.err == nil {
		it := heap.Pop(&g.h).(item)
		now := time.Unix(0, it.at).UTC()
		next, more := it.a.step(g, now)
		if more {
			if !next.After(now) {
				next = now.Add(time.Millisecond)
			}
			g.schedule(next, it.a)
		}
	}
	if g.err == nil && g.batch != nil {
		g.batch.flush(g)
	}
}

// emit hands a record to the callback, unless it belongs to the batch
// sidecar (which holds it back).
func (g *gen) emit(rec *exchange.Record, sc *scenState) {
	if g.err != nil {
		return
	}
	if sc != nil {
		sc.observe(rec)
		if sc != g.scExposure && sc != g.scExposurePatch && g.scExposure != nil && !rec.Time.Before(g.exposureAt) &&
			strings.Contains(rec.Response.Body, `"financing":{`) {
			// an attack's request answered with the release's block
			exp := g.scExposure
			if rec.Request.Method == "PATCH" {
				exp = g.scExposurePatch
			}
			exp.seen(rec.Time)
		}
	}
	if g.trapCarrier != nil && sc != g.trapCarrier && isCarrier(rec.Client.IP) {
		g.trapCarrier.observe(rec)
	}
	name := ""
	if sc != nil {
		name = sc.Name
	}
	if g.batch != nil && rec.Source == BatchSource {
		g.batch.hold(rec, name)
		return
	}
	g.send(rec, name)
}

func (g *gen) send(rec *exchange.Record, scenario string) {
	if g.err != nil {
		return
	}
	g.n++
	if g.shape.any() && rec.IsOutbound() {
		if g.outHosts == nil {
			g.outHosts = map[string]bool{}
		}
		if u, err := url.Parse(rec.Request.URL); err == nil {
			g.outHosts[u.Hostname()] = true
		}
	}
	g.shape.record(rec)
	g.err = g.emitFn(rec, scenario)
}

// hoursFrac scales an offset designed for 48 h to the configured duration.
func (g *gen) at(hours float64) time.Time {
	return g.start.Add(time.Duration(hours / 48 * float64(g.cfg.Duration)))
}

// scenState tracks one labelled scenario while the run goes.
type scenState struct {
	Scenario
	ips     map[string]bool
	fixedIP bool // ClientIPs set up front (endpoint scenarios leave them empty)
	// onset, when set, is the first record that shows the scenario
	// whichever scenario it is labelled with (seen): a release exposes
	// data in every response after it, including responses to another
	// scenario's requests (a profile walk reading profiles at 06:31 while
	// the first labelled profile read is at 07:04).
	onset time.Time
}

func (g *gen) scenario(s Scenario) *scenState {
	st := &scenState{Scenario: s, ips: map[string]bool{}, fixedIP: len(s.ClientIPs) > 0}
	g.scen = append(g.scen, st)
	return st
}

// seen records that a record labelled with another scenario shows this
// one (its start is then no later).
func (s *scenState) seen(t time.Time) {
	if s.onset.IsZero() || t.Before(s.onset) {
		s.onset = t
	}
	if s.Records > 0 && t.Before(s.Start) {
		s.Start = t
	}
}

func (s *scenState) observe(rec *exchange.Record) {
	if s.Records == 0 || rec.Time.Before(s.Start) {
		s.Start = rec.Time
		if !s.onset.IsZero() && s.onset.Before(s.Start) {
			s.Start = s.onset
		}
	}
	if s.Records == 0 || rec.Time.After(s.End) {
		s.End = rec.Time
	}
	s.Records++
	if !s.fixedIP && s.Subject != "endpoint" && !s.ips[rec.Client.IP] {
		s.ips[rec.Client.IP] = true
		s.ClientIPs = append(s.ClientIPs, rec.Client.IP)
	}
}

func (g *gen) labels() *Labels {
	l := &Labels{Seed: g.cfg.Seed, Variant: g.cfg.Variant.Name, Start: g.start, End: g.end, Records: g.n, Intel: g.intel}
	sort.Strings(l.Intel.Tor)
	sort.Strings(l.Intel.Blocklist)
	for _, s := range g.scen {
		sc := s.Scenario
		if sc.Records == 0 {
			continue // clipped away by a short duration
		}
		sort.Strings(sc.ClientIPs)
		sc.ClientIPs = dedupe(sc.ClientIPs)
		if !g.outHosts[sc.Host] {
			sc.PathTemplate = g.shape.template(sc.PathTemplate)
		}
		l.Scenarios = append(l.Scenarios, sc)
	}
	sort.SliceStable(l.Scenarios, func(i, j int) bool {
		if !l.Scenarios[i].Start.Equal(l.Scenarios[j].Start) {
			return l.Scenarios[i].Start.Before(l.Scenarios[j].Start)
		}
		return l.Scenarios[i].Name < l.Scenarios[j].Name
	})
	return l
}

func dedupe(s []string) []string {
	out := s[:0]
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// batchSidecar holds records of BatchSource and releases them every two
// minutes of simulated time, so they arrive late (at most MaxDisorder).
type batchSidecar struct {
	held []heldRec
}

type heldRec struct {
	rec  *exchange.Record
	name string
}

func (b *batchSidecar) hold(rec *exchange.Record, name string) {
	b.held = append(b.held, heldRec{rec, name})
}

func (b *batchSidecar) flush(g *gen) {
	for _, h := range b.held {
		g.send(h.rec, h.name)
	}
	b.held = b.held[:0]
}

// step flushes every MaxDisorder.
func (b *batchSidecar) step(g *gen, now time.Time) (time.Time, bool) {
	b.flush(g)
	return now.Add(MaxDisorder), true
}
