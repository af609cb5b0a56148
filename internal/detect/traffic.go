package detect

import (
	"errors"
	"fmt"
	"time"

	"github.com/palisade-sec/palisade/internal/alert"
	"github.com/palisade-sec/palisade/internal/config"
	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/hashing"
	"github.com/palisade-sec/palisade/internal/model"
)

// Family "traffic": traffic.endpoint_spike, traffic.client_spike,
// traffic.identity_spike.
//
// All three count requests in tumbling event-time windows.
//   - endpoint_spike (5 min windows): per endpoint AND per status class
//     (2xx/3xx, 4xx, 401/403, 5xx — a spike of 401s is not a spike of 200s)
//     an EWMA of the per-window counts (empty windows count as zero). Fires
//     when a window exceeds max(abs_endpoint (300), mean + k·sd, ratio·mean,
//     peak_factor (1.5) × the largest past window, decaying with a ≈ 58 h
//     half-life), after gate_windows (12) windows of history; from the
//     second day on, also above daily_factor (1.5) × the largest window seen
//     at the same hour on previous days (time-of-day awareness: a daily
//     shift-start peak is learned).
//   - client_spike (5 min): per (client IP, endpoint) window count, against
//     the endpoint's population of per-client window counts (DDSketch):
//     max(abs_client (150), peer_factor · p99). The threshold is multiplied
//     by the number of distinct principals seen from that IP in the window,
//     so a NAT or carrier gateway carrying many users stays quiet; and it is
//     at least the client's own EWMA bound of its active windows (mean +
//     k·sd, ratio·mean), so a periodic job that always bursts is normal for
//     itself after its first burst.
//   - identity_spike (identity_window, 15 min — business flows are slower):
//     per (principal, endpoint) count across however many IPs, above
//     max(abs_identity (20), peer_factor · p99 of the endpoint's
//     per-principal windows, the principal's own EWMA bound, peer_factor ×
//     the mean of the other principals of its role group active on the
//     endpoint in the same window — when a whole ward opens records at
//     shift start, the bar is relative to them), and only when the
//     endpoint takes at least min_share (0.3) of the principal's requests
//     (all endpoints) in the window: a flow being abused dominates the
//     principal's traffic (a scalper's cart and checkout: half each),
//     while a person several times busier than usual on everything —
//     visits back to back at its evening peak — spreads over a dozen
//     functions (measured: one web customer, 99 requests in 15 min, 24 of
//     them product pages, share 0.24). An abuser padding its flow with
//     other requests must send 1/min_share times as many.
//
// Anomalous windows are learned winsorized (at the threshold), so an attack
// does not teach the baseline that it is normal.
//
// Learning (readiness): an endpoint's rate is judged after gate_windows
// windows (1 h) of its own history; nothing fires before (a population
// rate needs its history, whatever the deployment size). Client and
// identity windows fold into the endpoint's peer baselines when the
// subject's next window starts, when it is evicted, or when the
// endpoint's window rolls (at most 64 subjects per endpoint window; the
// rest fold on their own roll), so a deployment of a few clients builds
// peers too. Before peer_gate (50) closed peer windows, with cold_gate
// (5) peer windows, a subject with at least cold_own (3) of its own
// closed windows on the endpoint is judged against max(abs, peer_factor
// × the largest peer window so far, its own EWMA bound) — a client that
// ramps far above itself and everyone seen. A subject with less history
// is judged so only when the peers' windows come from subjects that keep
// coming back: at least cold_return (2) peer windows per distinct peer
// subject (linear counting) — a small deployment seen whole, where a
// newcomer far above every client seen is a scraper, not one more of the
// population (measured: 2.3–24 windows per client on the small shop's
// endpoints, 1.0–1.5 in a large deployment's first hours). At the start
// of a large deployment every peer window is a new client, and a
// newcomer's first run of a batch job (a nightly export, an aggregator's
// poll) looks exactly like a scraper's first minutes: not judged then. An
// external client's window above abs_client is held out of the peers
// until they can judge a newcomer (at most cold_defer), then judged as it
// would have been live (judgeDeferred).
//
// Memory: per endpoint ≈ 0.5 KB + 2 DDSketches (≤ 4.3 KB each, typically
// < 1 KB); per (client, endpoint) 200 bytes (the entry also holds the
// latency family's 64 bytes: one entry for both, see NewEngine) + LRU
// overhead (index, recency log, key: 40–60 bytes) ≈ 260 B; per
// (principal, endpoint) ≈ 190 B; per principal ≈ 70 B (its request count
// in the identity window, for min_share); per endpoint 64 B more for the
// distinct peer counts. Tables are LRU-bounded (max_endpoints,
// Config.MaxTrackedClients, Config.MaxTrackedIdentities; default 200k):
// at the budget the least recently seen subject is evicted (its window is
// folded into the population baseline first).

func init() {
	Register("traffic", func(cfg Config) Detector { return newTraffic(cfg) })
	RegisterOptions("traffic", func() FamilyOptions { return defaultTrafficOptions() })
}

// trafficOptions are the traffic family's options (detect.options.traffic).
type trafficOptions struct {
	Window         config.Duration `yaml:"window" doc:"window of the endpoint and client spikes"`
	Alpha          float64         `yaml:"alpha" doc:"EWMA weight of the newest window in an endpoint's baseline"`
	K              float64         `yaml:"k" doc:"an endpoint spike is above mean + k·sd of its baseline"`
	Ratio          float64         `yaml:"ratio" doc:"an endpoint spike is above ratio × its baseline mean"`
	GateWindows    int             `yaml:"gate_windows" doc:"windows of endpoint history before an endpoint spike can fire"`
	AbsEndpoint    float64         `yaml:"abs_endpoint" doc:"absolute floor of an endpoint spike (requests per window)"`
	AbsClient      float64         `yaml:"abs_client" doc:"absolute floor of a client spike (requests per window and endpoint, × principals behind the address)"`
	AbsIdentity    float64         `yaml:"abs_identity" doc:"absolute floor of an identity spike (requests per identity window and endpoint)"`
	PeerFactor     float64         `yaml:"peer_factor" doc:"a client or identity spike is above peer_factor × the p99 of its peers' windows"`
	PeerGate       float64         `yaml:"peer_gate" doc:"closed peer windows on the endpoint before client and identity spikes can fire"`
	MaxEndpoints   int             `yaml:"max_endpoints" doc:"endpoints tracked (LRU)"`
	DailyFactor    float64         `yaml:"daily_factor" doc:"an endpoint spike is above daily_factor × the largest window at the same hour on previous days"`
	PeakFactor     float64         `yaml:"peak_factor" doc:"an endpoint spike is above peak_factor × the largest past window (decaying)"`
	IdentityWindow config.Duration `yaml:"identity_window" doc:"window of the identity spike"`
	ColdGate       float64         `yaml:"cold_gate" doc:"before peer_gate: peer windows on the endpoint before a client with its own history can be judged"`
	ColdOwn        float64         `yaml:"cold_own" doc:"before peer_gate: the client's own closed windows on the endpoint before it can be judged against the peers seen so far"`
	MinShare       float64         `yaml:"min_share" doc:"an identity spike needs the endpoint to take at least this share of the principal's requests (all endpoints) in the window"`
	ColdReturn     float64         `yaml:"cold_return" doc:"before peer_gate: a client with fewer than cold_own own windows is judged once the endpoint's peer windows are at least cold_return per distinct peer (a small population seen whole)"`
	GroupNow       int             `yaml:"group_now" doc:"members of a principal's role group active on the endpoint in its window (the principal included) from which its identity-spike bar also rises with them: peer_factor × their mean now and 2 × the busiest of them (a shift starting)"`
	ColdDefer      config.Duration `yaml:"cold_defer" doc:"how long an external client's window above abs_client that the young peers could not judge waits for them: judged (as a newcomer) once they can, folded into them unjudged after this"`
}

func defaultTrafficOptions() *trafficOptions {
	return &trafficOptions{
		Window:         config.Duration(5 * time.Minute),
		Alpha:          0.1,
		K:              6,
		Ratio:          4,
		GateWindows:    12,
		AbsEndpoint:    300,
		AbsClient:      150,
		AbsIdentity:    20,
		PeerFactor:     3,
		PeerGate:       50,
		MaxEndpoints:   20000,
		DailyFactor:    1.5,
		PeakFactor:     1.5,
		IdentityWindow: config.Duration(15 * time.Minute),
		ColdGate:       5,
		ColdOwn:        3,
		ColdReturn:     2,
		MinShare:       0.3,
		GroupNow:       4,
		ColdDefer:      config.Duration(time.Hour),
	}
}

// Validate implements config.Validator.
func (o *trafficOptions) Validate() error {
	err := atMostOne(checkOptions(o), map[string]float64{"alpha": o.Alpha, "min_share": o.MinShare})
	if o.GroupNow < 2 {
		err = errors.Join(err, config.Errorf("group_now", "must be at least 2 (the principal and one peer)"))
	}
	return err
}

type trafficDetector struct {
	keyed
	win                           time.Duration
	alpha, k, ratio               float64
	gate                          uint32
	absEndpoint, absClient, absID float64
	peerFactor, peerGate          float64
	coldGate, coldOwn, coldReturn float64
	minShare                      float64
	groupNow                      float64
	dailyFactor, peakFactor       float64
	idWin                         time.Duration
	coldDefer                     time.Duration
	readyEP, readyCl, readyID     readyMark
	// Windows held for the peers and never judged (Dropped): folded
	// unjudged after cold_defer, or pushed out of a full endpoint list.
	deferredExpired, deferredEvicted int64

	eps     *lru[trafficEndpoint]
	clients *lru[clientEP] // shared with the latency family in an engine
	idents  *lru[trafficSubject]
	groups  *lru[trafficGroup]
	princ   *lru[trafficPrincipal]
}

type trafficClass struct {
	w    window
	base ewstat
	fire fireState
	last time.Time
	// daily holds, per hour of the day (UTC), the largest (winsorized)
	// window seen at that hour on previous days, decaying 2 % per update:
	// a daily peak (shift start, morning rush) is normal from the second
	// day on.
	daily [24]float32
	// peak is the largest (winsorized) window so far, decaying 0.1 % per
	// closed window (half-life ≈ 58 h at 5 min): an endpoint that bursts
	// periodically (an aggregator polling every 4 h) is normal for itself.
	peak float32
}

type trafficEndpoint struct {
	ref        model.EndpointRef
	first      int64 // window index of the endpoint's first event
	firstT     time.Time
	cls        [4]trafficClass
	clientDist quantiles // closed per-client window counts
	identDist  quantiles // closed per-principal window counts
	// Distinct clients and principals whose windows fed clientDist and
	// identDist (linear counting, exact enough below a few dozen): a
	// population whose windows come from a few subjects that keep coming
	// back is a small deployment already seen whole.
	clientsSeen, identsSeen lin256
	// Subjects active in the endpoint's current client (aw) and identity
	// (iw) windows, folded into the peer baselines when those roll.
	aw, iw           int64
	activeC, activeI []uint64
	// deferred: external clients' closed windows above abs_client that
	// the peers could not judge yet (at most maxDeferred; nil on almost
	// every endpoint), kept out of the peers until judged.
	deferred []deferredSpike
}

// maxDeferred bounds an endpoint's deferred windows (one entry per client).
const maxDeferred = 4

// deferredSpike is a client's unjudged window(s) above abs_client, waiting
// for the endpoint's peers: the report prepared at the window's first
// request above the floor, the largest window, the requests of all its
// deferred windows, and when they were.
type deferredSpike struct {
	key         uint64
	n, total    float64
	users       float64
	wins        int
	first, last time.Time
	hit         Hit
}

// maxActiveEP bounds the per-endpoint lists of active subjects.
const maxActiveEP = 64

type trafficSubject struct {
	ep   uint64
	w    window
	ids  lin256 // distinct principals (client subjects) or IPs (identity subjects) in the window
	own  ewstat // identity subjects: own active-window counts
	fire fireState
	hit  *Hit   // last report of a fired window, reused for its remainder
	gk   uint64 // identity subjects: (endpoint, role group) key
	// folded: the window was fed into the endpoint's peers (once).
	folded bool
	// identity subjects: the client addresses of the window's requests
	// (nil for client subjects, whose address is their key).
	addrs *addrTally
	// held: an identity subject new to the endpoint (no own windows) above
	// its bar — judged when the window closes, against its role group over
	// the whole window.
	held *heldSpike
	// pend: a client window above abs_client the young peers could not
	// judge (moved to the endpoint's deferred list when it closes).
	pend *pendingWin
}

// pendingWin is the open window of a client deferred for its peers.
type pendingWin struct {
	idx         int64
	users       float64
	first, last time.Time
	hit         Hit
}

// heldSpike is an identity spike judged at the close of its window: the
// report prepared at the first request above the bar, the bar without the
// role group, and the time of the principal's last request of the window.
type heldSpike struct {
	idx   int64
	hit   Hit
	thr   float64
	peers float64 // the endpoint's closed peer windows then (confidence)
	last  time.Time
}

// clientEP is the (client, endpoint) state of the traffic and latency
// families: in one engine they share one table (see NewEngine), each
// initializing its half on its first use.
type clientEP struct {
	tr            trafficSubject
	lat           latencyClient
	trSet, latSet bool
}

// trafficGroup counts a role group's activity on an endpoint in the
// current identity window (contemporaneous peers).
// trafficPrincipal counts a principal's requests (all endpoints) in the
// current identity window.
type trafficPrincipal struct {
	w int64
	n float32
}

type trafficGroup struct {
	w           int64
	active, sum float64
	// The two busiest members in the window (count, key): a principal
	// within twice the busiest other member of its role group right now
	// is doing what its peers do (a whole ward opening records at shift
	// start, some faster than others).
	top1, top2 float64
	who1       uint64
}

// note records a member's count; others returns the busiest other
// member's count.
func (g *trafficGroup) note(who uint64, n float64) {
	switch {
	case who == g.who1:
		g.top1 = n
	case n > g.top1:
		g.top2, g.top1, g.who1 = g.top1, n, who
	case n > g.top2:
		g.top2 = n
	}
}

func (g *trafficGroup) others(who uint64) float64 {
	if who == g.who1 {
		return g.top2
	}
	return g.top1
}

func newTraffic(cfg Config) *trafficDetector {
	o := optionsFor[*trafficOptions](cfg, "traffic")
	d := &trafficDetector{
		win:         o.Window.D(),
		alpha:       o.Alpha,
		k:           o.K,
		ratio:       o.Ratio,
		gate:        uint32(o.GateWindows),
		absEndpoint: o.AbsEndpoint,
		absClient:   o.AbsClient,
		absID:       o.AbsIdentity,
		peerFactor:  o.PeerFactor,
		peerGate:    o.PeerGate,
		coldGate:    o.ColdGate,
		coldOwn:     o.ColdOwn,
		coldReturn:  o.ColdReturn,
		minShare:    o.MinShare,
		groupNow:    float64(o.GroupNow),
		dailyFactor: o.DailyFactor,
		peakFactor:  o.PeakFactor,
		idWin:       o.IdentityWindow.D(),
		coldDefer:   o.ColdDefer.D(),
	}
	d.eps = newLRU[trafficEndpoint](o.MaxEndpoints)
	d.clients = newLRU[clientEP](capOr(cfg.MaxTrackedClients, 200000))
	d.idents = newLRU[trafficSubject](capOr(cfg.MaxTrackedIdentities, 200000))
	d.groups = newLRU[trafficGroup](o.MaxEndpoints)
	d.princ = newLRU[trafficPrincipal](capOr(cfg.MaxTrackedIdentities, 200000))
	d.clients.OnEvict = func(k uint64, e *clientEP) {
		if e.trSet {
			d.foldSubject(&e.tr, k, false)
		}
	}
	d.idents.OnEvict = func(k uint64, s *trafficSubject) { d.foldSubject(s, k, true) }
	return d
}

func (d *trafficDetector) Name() string { return "traffic" }

// hourOf returns the UTC hour of the day of window idx.
func hourOf(idx int64, win time.Duration) int {
	sec := idx * int64(win/time.Second)
	h := (sec / 3600) % 24
	if h < 0 {
		h += 24
	}
	return int(h)
}

// foldSubject feeds a subject's (key's) last window into its endpoint's
// population.
func (d *trafficDetector) foldSubject(s *trafficSubject, key uint64, ident bool) {
	if s.w.n == 0 || s.folded {
		return
	}
	s.folded = true
	ep, ok := d.eps.Peek(s.ep)
	if !ok {
		return
	}
	if p := s.pend; !ident && p != nil {
		s.pend = nil
		if p.idx == s.w.idx {
			d.deferWindow(ep, key, s.w.n, p)
			return
		}
	}
	v := s.w.n
	if s.fire.firedIn(s.w.idx) {
		v = fmin(v, s.fire.thr)
	}
	if ident {
		ep.identDist.add(v)
		ep.identsSeen.add(key)
	} else {
		ep.clientDist.add(v)
		ep.clientsSeen.add(key)
	}
}

func (d *trafficDetector) Observe(ev *event.Event, out *Emitter) {
	d.begin(ev)
	idx := winIndex(ev.Time, d.win)
	eh := d.keys.endpoint(ev)
	ep, created := d.eps.GetOrAdd(eh)
	if created {
		ep.ref, ep.first, ep.firstT = keepRef(ev.Endpoint), idx, ev.Time
		ep.aw, ep.iw = idx, winIndex(ev.Time, d.idWin)
	}
	d.endpoint(ev, ep, idx, out)
	ih := d.keys.identity(ev) // principal hash (0 when anonymous)
	d.client(ev, eh, ih, ep, idx, out)
	if ev.Auth.Identity != nil {
		d.identity(ev, eh, ih, ep, winIndex(ev.Time, d.idWin), out)
	}
}

func (d *trafficDetector) endpoint(ev *event.Event, ep *trafficEndpoint, idx int64, out *Emitter) {
	ci := statusClass(ev.Status)
	c := &ep.cls[ci]
	if c.w.idx == 0 && c.base.n == 0 && c.w.n == 0 {
		// First event of this status class: the endpoint's history so far
		// had zero such requests per window.
		c.w.idx = idx
		for gap := min(idx-ep.first, int64(8/d.alpha)); gap > 0; gap-- {
			c.base.update(0, d.alpha)
		}
	}
	if idx > c.w.idx {
		d.closeEndpoint(ep, ci, out)
		v := c.w.n
		if c.fire.firedIn(c.w.idx) {
			v = fmin(v, c.fire.thr)
		}
		c.base.update(v, d.alpha)
		hr := hourOf(c.w.idx, d.win)
		c.daily[hr] = float32(fmax(float64(c.daily[hr])*0.98, v))
		c.peak = float32(fmax(float64(c.peak)*0.999, v))
		// Empty windows in between count as zeros (bounded: after ~8/alpha
		// zeros the mean has decayed to nothing anyway).
		gap := idx - c.w.idx - 1
		if lim := int64(8 / d.alpha); gap > lim {
			gap = lim
		}
		for ; gap > 0; gap-- {
			c.base.update(0, d.alpha)
		}
		c.w = window{idx: idx}
	}
	c.w.n++
	c.last = ev.Time
	if c.base.n < d.gate {
		return
	}
	d.readyEP.mark(ev.Time)
	thr := fmax(d.absEndpoint, fmax(c.base.upper(d.k, d.ratio), d.peakFactor*float64(c.peak)))
	if day := int64(24 * time.Hour / d.win); idx-ep.first >= day {
		thr = fmax(thr, d.dailyFactor*float64(c.daily[hourOf(idx, d.win)]))
	}
	if c.w.n <= thr {
		return
	}
	delta, first := c.fire.cross(c.w.idx, c.w.n, thr)
	if delta == 0 {
		return
	}
	h := Hit{Type: alert.TrafficEndpointSpike, Time: ev.Time, Endpoint: endpointRef(ev), Count: int64(delta),
		Confidence: confidence(c.w.n, thr, float64(c.base.n), float64(4*d.gate)),
		Evidence: model.Evidence{
			Observed: c.w.n, Baseline: round2(c.base.mean), Threshold: round2(thr), Window: winLabel(d.win),
			Reason:  "requests per window to this endpoint far above its learned rate",
			Details: map[string]any{"status_class": statusClassNames[ci], "baseline_sd": round2(c.base.sd()), "baseline_windows": c.base.n},
		},
	}
	if first {
		h.Sample = anomSample(ev, "")
	}
	out.Emit(h)
}

// closeEndpoint reports the remainder of a fired endpoint window.
func (d *trafficDetector) closeEndpoint(ep *trafficEndpoint, ci int, out *Emitter) {
	c := &ep.cls[ci]
	if r := c.fire.remainder(c.w.idx, c.w.n, out); r > 0 {
		ref := ep.ref
		out.Emit(Hit{Type: alert.TrafficEndpointSpike, Time: c.last, Endpoint: &ref, Count: int64(r),
			Confidence: confidence(c.w.n, c.fire.thr, float64(c.base.n), float64(4*d.gate)),
			Evidence: model.Evidence{Observed: c.w.n, Baseline: round2(c.base.mean), Threshold: round2(c.fire.thr), Window: winLabel(d.win),
				Reason:  "requests per window to this endpoint far above its learned rate",
				Details: map[string]any{"status_class": statusClassNames[ci], "baseline_sd": round2(c.base.sd()), "baseline_windows": c.base.n}}})
	}
}

func (d *trafficDetector) client(ev *event.Event, eh, ih uint64, ep *trafficEndpoint, idx int64, out *Emitter) {
	e := d.keys.clientEndpoint(ev, d.clients) // key hashing.Mix64(ipHash ^ eh·φ)
	s := &e.tr
	if !e.trSet {
		e.trSet = true
		s.ep, s.w.idx = eh, idx
	}
	if idx > ep.aw {
		d.rollPeers(ep, &ep.aw, &ep.activeC, idx, false, out)
	}
	if idx > s.w.idx {
		d.closeSubject(s, out)
		d.foldSubject(s, hashing.Pair(d.keys.ip(ev), eh), false)
		v := s.w.n
		if s.fire.firedIn(s.w.idx) {
			v = fmin(v, s.fire.thr)
		}
		s.own.update(v, d.alpha)
		s.w = window{idx: idx}
		s.ids = lin256{}
		s.folded = false
	}
	if s.w.n == 0 && s.w.idx == ep.aw && len(ep.activeC) < maxActiveEP {
		ep.activeC = append(ep.activeC, hashing.Pair(d.keys.ip(ev), eh))
	}
	s.w.n++
	if ih != 0 {
		s.ids.add(ih)
	}
	if ep.deferred != nil {
		d.judgeDeferred(ep, ev.Time, out)
	}
	p99, cold, ok := d.peerBar(&ep.clientDist, &ep.clientsSeen, s, &d.readyCl, ev.Time, ev.External)
	if !ok {
		d.pendWindow(ev, s)
		return
	}
	// Judged live from here (the peers became ready within the window):
	// the window is no longer held.
	s.pend = nil
	users := fmax(1, s.ids.estimate())
	thr := fmax(d.absClient, d.peerFactor*p99) * users
	if s.own.n >= 1 {
		// A client whose own active windows always look like this (a
		// periodic job walking the endpoint) is normal for itself.
		thr = fmax(thr, s.own.upper(d.k, d.ratio))
	}
	if s.w.n <= thr {
		return
	}
	delta, first := s.fire.cross(s.w.idx, s.w.n, thr)
	if delta == 0 {
		return
	}
	s.hit = &Hit{Type: alert.TrafficClientSpike, Time: ev.Time, Client: clientIP(ev), Identity: identityRef(ev), Endpoint: endpointRef(ev),
		Count:      int64(delta),
		Confidence: confidence(s.w.n, thr, ep.clientDist.count(), 4*d.peerGate),
		Evidence: model.Evidence{
			Observed: s.w.n, Baseline: round2(p99), Threshold: round2(thr), Window: winLabel(d.win),
			Reason:  "one client's requests to this endpoint far above what clients of the endpoint normally send (baseline = p99 of per-client windows)",
			Details: map[string]any{"principals_from_ip": users, "population_windows": ep.clientDist.count(), "own_mean": round2(s.own.mean), "own_windows": s.own.n, "peers_learning": cold},
		},
	}
	if first {
		s.hit.Sample = anomSample(ev, "")
	}
	out.Emit(*s.hit)
	s.hit.Sample = nil
}

// groupBar is the bar of a principal with n requests in the window from
// its role group on the endpoint in that window, once group_now members
// used it: peer_factor × the others' mean and twice the busiest of them
// (0 below group_now).
func (d *trafficDetector) groupBar(g *trafficGroup, n float64, key uint64) (now, busiest, bar float64) {
	if g.active < d.groupNow {
		return 0, 0, 0
	}
	now = (g.sum - n) / (g.active - 1)
	busiest = g.others(key)
	return now, busiest, fmax(d.peerFactor*now, 2*busiest)
}

// identityHit is an identity spike's report before its count, bar and
// role-group figures: the subjects and the principal's own and its peers'
// baselines (p99: the peers' bar; cold: the peers still learning). Both
// the spike judged at the request and the one held to its window's end
// start from it.
func (d *trafficDetector) identityHit(ev *event.Event, s *trafficSubject, p99 float64, cold bool) Hit {
	return Hit{Type: alert.TrafficIdentitySpike, Client: clientIP(ev), Identity: identityRef(ev), Endpoint: endpointRef(ev),
		Evidence: model.Evidence{Baseline: round2(fmax(p99, s.own.mean)), Window: winLabel(d.idWin),
			Reason:  "one principal's use of this endpoint far above its own and its peers' baseline",
			Details: map[string]any{"peer_p99": round2(p99), "own_mean": round2(s.own.mean), "own_windows": s.own.n, "peers_learning": cold}},
	}
}

// groupNowDetails adds to an identity spike's details its role group on
// the endpoint in the window and the principal's client addresses.
func groupNowDetails(details map[string]any, now, busiest float64, s *trafficSubject) {
	details["peers_now_mean"], details["busiest_peer_now"], details["client_ips"] = round2(now), busiest, s.ids.estimate()
}

// closeIdentity judges a held identity spike against its role group over
// the whole window, then reports the remainder of a fired window. A held
// spike is undecided until its window closes: a preview (serve's pending
// alerts) does not show it, or serve would store evidence — or an alert —
// that analyze never gives.
func (d *trafficDetector) closeIdentity(s *trafficSubject, key uint64, out *Emitter) {
	if h := s.held; h != nil && h.idx == s.w.idx && !s.fire.firedIn(s.w.idx) && !out.Preview() {
		thr := h.thr
		var now, busiest, bar float64
		if g, ok := d.groups.Peek(s.gk); ok && g.w == s.w.idx {
			now, busiest, bar = d.groupBar(g, s.w.n, key)
			thr = fmax(thr, bar)
		}
		if s.w.n > thr {
			hit := h.hit
			hit.Time, hit.Count = h.last, int64(s.w.n)
			hit.Confidence = confidence(s.w.n, thr, h.peers, 4*d.peerGate)
			hit.Evidence.Observed, hit.Evidence.Threshold = s.w.n, round2(thr)
			groupNowDetails(hit.Evidence.Details, now, busiest, s) // the held report is used once: its map is filled in place
			hit.Clients, hit.ClientsOther = s.addrs.delta(true)
			out.Emit(hit)
			s.fire = fireState{on: true, idx: s.w.idx, reported: s.w.n, thr: thr}
		}
		s.held = nil
	}
	d.closeSubject(s, out)
}

// closeSubject reports the remainder of a subject's fired window.
func (d *trafficDetector) closeSubject(s *trafficSubject, out *Emitter) {
	if r := s.fire.remainder(s.w.idx, s.w.n, out); r > 0 && s.hit != nil {
		h := *s.hit
		h.Count = int64(r)
		if s.addrs != nil {
			h.Clients, h.ClientsOther = s.addrs.delta(!out.Preview())
		}
		h.Evidence.Observed = s.w.n
		out.Emit(h)
	}
}

func (d *trafficDetector) identity(ev *event.Event, eh, ih uint64, ep *trafficEndpoint, idx int64, out *Emitter) {
	key := hashing.Pair(ih, eh)
	if idx > ep.iw {
		d.rollPeers(ep, &ep.iw, &ep.activeI, idx, true, out)
	}
	s, created := d.idents.GetOrAdd(key)
	if created {
		s.ep, s.w.idx = eh, idx
		s.gk = hashing.Mix64(eh ^ d.keys.roleGroup(ev)*0xc2b2ae3d27d4eb4f)
		s.addrs = &addrTally{}
	}
	if idx > s.w.idx {
		d.closeIdentity(s, key, out)
		d.foldSubject(s, key, true)
		v := s.w.n
		if s.fire.firedIn(s.w.idx) {
			v = fmin(v, s.fire.thr)
		}
		s.own.update(v, d.alpha)
		s.w = window{idx: idx}
		s.ids = lin256{}
		s.addrs.reset()
		s.folded = false
	}
	if s.w.n == 0 && s.w.idx == ep.iw && len(ep.activeI) < maxActiveEP {
		ep.activeI = append(ep.activeI, key)
	}
	s.addrs.add(ev.ClientIP)
	g, _ := d.groups.GetOrAdd(s.gk)
	if g.w != idx {
		*g = trafficGroup{w: idx}
	}
	if s.w.n == 0 {
		g.active++
	}
	g.sum++
	s.w.n++
	g.note(key, s.w.n)
	p, _ := d.princ.GetOrAdd(ih)
	if p.w != idx {
		*p = trafficPrincipal{w: idx}
	}
	p.n++
	s.ids.add(d.keys.ip(ev))
	p99, cold, ok := d.peerBar(&ep.identDist, &ep.identsSeen, s, &d.readyID, ev.Time, true)
	if !ok {
		return
	}
	thr := fmax(d.absID, d.peerFactor*p99)
	if s.own.n >= 1 {
		thr = fmax(thr, s.own.upper(d.k, d.ratio))
	}
	// Peers right now: when the principal's whole role group is busy on
	// this endpoint in this window (shift start), the bar is relative to
	// them.
	alone := thr
	now, busiest, bar := d.groupBar(g, s.w.n, key)
	thr = fmax(thr, bar)
	// A principal busy on many functions at once — several visits back
	// to back, this endpoint a small part of them — is a busy person, not
	// a flow being abused: a spike is a flow taking at least min_share of
	// the principal's requests in the window (a scalper's cart and
	// checkout, a walk over records).
	if s.w.n > thr && s.w.n < d.minShare*float64(p.n) {
		return
	}
	if s.w.n <= thr {
		if s.held != nil && s.held.idx == s.w.idx {
			s.held.last = ev.Time
		}
		return
	}
	if s.own.n == 0 && !s.fire.firedIn(s.w.idx) {
		// New to the endpoint: the first window of a principal's shift and
		// a stolen token's first use look alike until the window's end
		// shows what the role group did in it (colleagues starting too).
		if s.held == nil || s.held.idx != s.w.idx {
			hit := d.identityHit(ev, s, p99, cold)
			hit.Evidence.Details["judged_at_window_end"] = true
			hit.Sample = anomSample(ev, "")
			s.held = &heldSpike{idx: s.w.idx, thr: alone, peers: ep.identDist.count(), hit: hit}
		}
		s.held.last = ev.Time
		return
	}
	s.held = nil
	delta, first := s.fire.cross(s.w.idx, s.w.n, thr)
	if delta == 0 {
		return
	}
	hit := d.identityHit(ev, s, p99, cold)
	hit.Time, hit.Count = ev.Time, int64(delta)
	hit.Confidence = confidence(s.w.n, thr, ep.identDist.count(), 4*d.peerGate)
	hit.Evidence.Observed, hit.Evidence.Threshold = s.w.n, round2(thr)
	groupNowDetails(hit.Evidence.Details, now, busiest, s)
	s.hit = &hit
	s.hit.Clients, s.hit.ClientsOther = s.addrs.delta(true)
	if first {
		s.hit.Sample = anomSample(ev, "")
	}
	out.Emit(*s.hit)
	s.hit.Sample = nil
}

// Finish reports the remainder of windows still open and fired.
func (d *trafficDetector) Finish(at time.Time, out *Emitter) {
	d.eps.Each(func(_ uint64, ep *trafficEndpoint) {
		for ci := range ep.cls {
			d.closeEndpoint(ep, ci, out)
		}
		if ep.deferred != nil {
			// Peers changed by an eviction since the endpoint's last
			// request may judge now; what they cannot stays held (counted
			// in Dropped).
			d.judgeDeferred(ep, at, out)
		}
	})
	d.clients.Each(func(_ uint64, e *clientEP) {
		if e.trSet {
			d.closeSubject(&e.tr, out)
		}
	})
	d.idents.Each(func(k uint64, s *trafficSubject) { d.closeIdentity(s, k, out) })
}

// peerBar is the peer baseline a subject is judged against: the p99 of
// the endpoint's closed peer windows once there are peer_gate of them
// (marking the baseline ready), else — for a subject with cold_own own
// windows and cold_gate peer windows — the largest peer window so far
// (cold). ok is false when the subject is not judged. A newcomer judged
// because the deployment looks seen whole must come from outside
// (external; principals pass true): one on the internal network is
// infrastructure starting its run (a billing service's nightly walk 15
// minutes into the capture, when three night-time clients already make
// the deployment look seen whole).
func (d *trafficDetector) peerBar(dist *quantiles, seen *lin256, s *trafficSubject, mark *readyMark, t time.Time, external bool) (p99 float64, cold, ok bool) {
	peers := dist.count()
	if peers >= d.peerGate {
		mark.mark(t)
		return dist.at(0.99), false, true
	}
	if peers < d.coldGate {
		return 0, true, false
	}
	if float64(s.own.n) < d.coldOwn && (peers < d.coldReturn*seen.estimate() || !external) {
		// A newcomer while the population is still arriving (each peer
		// seen fewer than cold_own times on average, as at the start of
		// a large deployment): its first run looks like anyone's. And
		// one on the internal network in any case (above).
		return 0, true, false
	}
	return dist.at(1), true, true
}

// rollPeers folds the subjects of the endpoint's closed client (ident
// false) or identity window into its peer baselines.
func (d *trafficDetector) rollPeers(ep *trafficEndpoint, w *int64, active *[]uint64, idx int64, ident bool, out *Emitter) {
	for _, k := range *active {
		var s *trafficSubject
		if ident {
			if x, ok := d.idents.Peek(k); ok {
				s = x
			}
		} else if e, ok := d.clients.Peek(k); ok && e.trSet {
			s = &e.tr
		}
		if s != nil && s.w.idx == *w {
			if ident {
				d.closeIdentity(s, k, out)
			} else {
				d.closeSubject(s, out)
			}
			d.foldSubject(s, k, ident)
		}
	}
	*active, *w = (*active)[:0], idx
}

// Readiness implements pipeline.ReadinessReporter.
func (d *trafficDetector) Readiness(at time.Time) []model.Readiness {
	winH := d.win.Hours()
	rate := baseline{detector: "traffic", name: "endpoint rate (requests per window, per status class)", scope: "endpoint",
		alerts: alertNames(alert.TrafficEndpointSpike), requires: model.Need{Windows: int64(d.gate), Hours: float64(d.gate) * winH},
		while: "nothing fires on the endpoint: a population rate needs the endpoint's own history"}.tally()
	cl := baseline{detector: "traffic", name: "client windows per endpoint", scope: "endpoint",
		alerts: alertNames(alert.TrafficClientSpike), requires: model.Need{Windows: int64(d.peerGate)},
		while: fmt.Sprintf("only clients with ≥ %g own windows on the endpoint, or any external client once the peers' windows are ≥ %g per distinct client (a small deployment seen whole), above max(%g, %g × the largest peer window so far, their own bound); other newcomers, and newcomers on the internal network, are not judged", d.coldOwn, d.coldReturn, d.absClient, d.peerFactor)}.tally()
	id := baseline{detector: "traffic", name: "principal windows per endpoint", scope: "endpoint",
		alerts: alertNames(alert.TrafficIdentitySpike), requires: model.Need{Windows: int64(d.peerGate)},
		while: fmt.Sprintf("only principals with ≥ %g own windows on the endpoint, or any principal once the peers' windows are ≥ %g per distinct principal, above max(%g, %g × the largest peer window so far, their own bound, their role group now); other newcomers are not judged", d.coldOwn, d.coldReturn, d.absID, d.peerFactor)}.tally()
	d.eps.Each(func(_ uint64, ep *trafficEndpoint) {
		if ep.cls[0].base.n == 0 && ep.cls[0].w.n == 0 && ep.cls[3].base.n == 0 && ep.cls[3].w.n == 0 {
			return // only 4xx answers: a probe path (or a function never served), not judged here
		}
		key := ep.ref.Key()
		var wins uint32
		for i := range ep.cls {
			wins = max(wins, ep.cls[i].base.n)
		}
		h := hoursSince(ep.firstT, at)
		rate.Add(key, model.Need{Windows: int64(wins), Hours: h}, wins >= d.gate)
		cl.Add(key, model.Need{Windows: int64(ep.clientDist.count())}, false)
		if ep.identDist.count() > 0 || ep.activeI != nil {
			id.Add(key, model.Need{Windows: int64(ep.identDist.count())}, false)
		}
	})
	return []model.Readiness{rate.Readiness(d.readyEP.at), cl.Readiness(d.readyCl.at), id.Readiness(d.readyID.at)}
}

// pendWindow notes a client window above abs_client that the young peers
// cannot judge yet (peerBar refused it): an external client's, whose
// window is then held out of the peers when it closes and judged once
// they can (deferWindow, judgeDeferred). A client on the internal network
// is infrastructure starting its run (see peerBar): not held.
func (d *trafficDetector) pendWindow(ev *event.Event, s *trafficSubject) {
	if !ev.External || s.w.n <= d.absClient {
		return
	}
	users := fmax(1, s.ids.estimate())
	if s.w.n <= d.absClient*users {
		return
	}
	if s.pend == nil || s.pend.idx != s.w.idx {
		s.pend = &pendingWin{idx: s.w.idx, first: ev.Time, hit: Hit{Type: alert.TrafficClientSpike, Client: clientIP(ev), Identity: identityRef(ev),
			Endpoint: endpointRef(ev), Sample: anomSample(ev, "")}}
	}
	s.pend.last, s.pend.users = ev.Time, fmax(s.pend.users, users)
}

// deferWindow adds a client's closed window of n requests, noted by
// pendWindow, to the endpoint's deferred list (one entry per client: a
// scraper's windows merge). A full list sends its smallest window to the
// peers unjudged.
func (d *trafficDetector) deferWindow(ep *trafficEndpoint, key uint64, n float64, p *pendingWin) {
	for i := range ep.deferred {
		if e := &ep.deferred[i]; e.key == key {
			e.n, e.total, e.wins, e.last, e.users = fmax(e.n, n), e.total+n, e.wins+1, p.last, fmax(e.users, p.users)
			return
		}
	}
	e := deferredSpike{key: key, n: n, total: n, users: p.users, wins: 1, first: p.first, last: p.last, hit: p.hit}
	if len(ep.deferred) < maxDeferred {
		ep.deferred = append(ep.deferred, e)
		return
	}
	low := 0
	for i := range ep.deferred {
		if ep.deferred[i].n < ep.deferred[low].n {
			low = i
		}
	}
	d.deferredEvicted++
	if ep.deferred[low].n >= n {
		d.foldDeferred(ep, &e, n)
		return
	}
	d.foldDeferred(ep, &ep.deferred[low], ep.deferred[low].n)
	ep.deferred[low] = e
}

// foldDeferred feeds a deferred entry's windows into the endpoint's
// peers, each at most top (the bar, for a window that fired).
func (d *trafficDetector) foldDeferred(ep *trafficEndpoint, e *deferredSpike, top float64) {
	ep.clientDist.add(fmin(e.n, top))
	if e.wins > 1 {
		rest := fmin((e.total-e.n)/float64(e.wins-1), top)
		for range e.wins - 1 {
			ep.clientDist.add(rest)
		}
	}
	ep.clientsSeen.add(e.key)
}

// judgeDeferred judges the endpoint's deferred windows once its peers
// can judge a newcomer — peer_gate closed windows (their p99), or
// cold_gate windows from clients that keep coming back (the largest so
// far) — as peerBar would have judged them live: above max(abs_client,
// peer_factor × that baseline) × the principals behind the address. The
// report is dated at the window's first request above abs_client and its
// last; it says when it was judged. Windows the peers cannot judge within
// cold_defer of their last request are folded into them unjudged (as
// before the deferral existed), counted in Dropped. A preview (serve's
// pending view) reports what would fire and changes nothing.
func (d *trafficDetector) judgeDeferred(ep *trafficEndpoint, now time.Time, out *Emitter) {
	// The bar a newcomer faces now (a subject without windows of its own);
	// readiness is marked by the live judgement of the same request.
	var newcomer trafficSubject
	var look readyMark
	bar, _, ready := d.peerBar(&ep.clientDist, &ep.clientsSeen, &newcomer, &look, now, true)
	peers := ep.clientDist.count()
	commit := !out.Preview() // a look reports what would fire and changes nothing
	kept := ep.deferred[:0]
	for i := range ep.deferred {
		e := &ep.deferred[i]
		switch {
		case ready:
			thr := fmax(d.absClient, d.peerFactor*bar) * e.users
			if e.n > thr {
				d.reportDeferred(e, bar, thr, peers, now, out)
			}
			if commit {
				d.foldDeferred(ep, e, thr)
			}
		case !commit:
		case now.Sub(e.last) > d.coldDefer:
			d.foldDeferred(ep, e, e.n)
			d.deferredExpired++
		default:
			kept = append(kept, *e)
		}
	}
	if !commit {
		return
	}
	if len(kept) == 0 {
		kept = nil
	}
	ep.deferred = kept
}

// reportDeferred emits a deferred window's client spike: the requests
// of its deferred windows, from the first above abs_client to the last.
func (d *trafficDetector) reportDeferred(e *deferredSpike, bar, thr, peers float64, now time.Time, out *Emitter) {
	h := e.hit
	h.Time, h.Count = e.first, int64(e.total)
	h.Confidence = confidence(e.n, thr, peers, 4*d.peerGate)
	h.Evidence = model.Evidence{
		Observed: e.n, Baseline: round2(bar), Threshold: round2(thr), Window: winLabel(d.win),
		Reason: "one client's requests to this endpoint far above what clients of the endpoint normally send (baseline = p99 of per-client windows, the largest while they learn; judged once the endpoint's peers could judge a newcomer)",
		Details: map[string]any{"principals_from_ip": e.users, "population_windows": peers, "peers_learning": peers < d.peerGate,
			"deferred_windows": e.wins, "deferred_requests": e.total, "judged_at": now.UTC().Format(time.RFC3339)},
	}
	if !e.last.After(e.first) {
		out.Emit(h)
		return
	}
	h.Count--
	out.Emit(h)
	h.Time, h.Count, h.Sample = e.last, 1, nil
	out.Emit(h)
}

// Dropped counts client windows the family did not judge: held for young
// peers that could not judge them within cold_defer or have not yet (at
// the end of the input: never), or pushed out of an endpoint's full list
// of held windows. The windows still held are counted where they are, so
// that a look at a checkpoint (a cluster's partial report) and the end of
// the input count the same.
func (d *trafficDetector) Dropped() map[string]int64 {
	out := map[string]int64{}
	n := d.deferredExpired
	d.eps.Each(func(_ uint64, ep *trafficEndpoint) { n += int64(len(ep.deferred)) })
	if n > 0 {
		out["traffic: client windows above abs_client not judged (held for the endpoint's peers, not ready within cold_defer or by the end)"] = n
	}
	if d.deferredEvicted > 0 {
		out["traffic: client windows above abs_client not judged (more than 4 held on one endpoint)"] = d.deferredEvicted
	}
	return out
}
