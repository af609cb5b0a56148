package detect

import (
	"fmt"
	"time"

	"github.com/palisade-sec/palisade/internal/alert"
	"github.com/palisade-sec/palisade/internal/config"
	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/hashing"
	"github.com/palisade-sec/palisade/internal/model"
)

// Family "latency": latency.spike.
//
// Per endpoint, a DDSketch of durations (ms). A call is slow when it takes
// longer than max(abs_ms, factor · p99.9) once the endpoint has gate_obs
// observations. Heavy-tailed endpoints (search) have a heavy p99.9, and a
// single tail call never fires: a client fires when, within one window
// (default 10 min), at least min_slow of its calls to the endpoint are slow
// AND they are at least min_share of its calls (a single outlier, however
// slow, is the endpoint's tail, not an attack). When several clients (suppress_clients, default 4) are slow
// on the endpoint in the same window the backend is degraded, not attacked
// by one client, and nothing fires.
//
// Learning (readiness) and cold start: before gate_obs observations, from
// cold_obs (20) on, calls are slow above max(cold_abs_ms (5 s),
// cold_factor (10) × the slowest call so far), with the same per-client
// rules (several slow calls, a share of the client's calls, not when
// several clients are slow at once).
//
// Memory: per endpoint 1 DDSketch + 40 bytes; per (client, endpoint) 72
// bytes + index ≈ 60 bytes; LRU-bounded by max_endpoints and
// Config.MaxTrackedClients (default 200,000). In an engine that also runs
// the traffic family, the (client, endpoint) state lives in the traffic
// family's table (one entry and one lookup for both; that table's budget
// and recency — every request of the pair — apply).

func init() {
	Register("latency", func(cfg Config) Detector { return newLatency(cfg) })
	RegisterOptions("latency", func() FamilyOptions { return defaultLatencyOptions() })
}

// latencyOptions are the latency family's options (detect.options.latency).
type latencyOptions struct {
	Window          config.Duration `yaml:"window" doc:"window in which a client's slow calls are counted"`
	Factor          float64         `yaml:"factor" doc:"a slow call is above factor × the endpoint's quantile"`
	Quantile        float64         `yaml:"quantile" doc:"quantile of the endpoint's durations the factor applies to"`
	GateObs         float64         `yaml:"gate_obs" doc:"observations on the endpoint before it can fire"`
	AbsMs           float64         `yaml:"abs_ms" doc:"absolute floor of a slow call (milliseconds)"`
	MinSlow         float64         `yaml:"min_slow" doc:"slow calls of one client in a window before it fires"`
	MinShare        float64         `yaml:"min_share" doc:"share of a client's calls in a window that must be slow"`
	SuppressClients float64         `yaml:"suppress_clients" doc:"this many clients slow at once means the backend is degraded: nothing fires"`
	MaxEndpoints    int             `yaml:"max_endpoints" doc:"endpoints tracked (LRU)"`
	ColdObs         float64         `yaml:"cold_obs" doc:"before gate_obs observations, observations on the endpoint before the cold-start rule judges calls"`
	ColdAbsMs       float64         `yaml:"cold_abs_ms" doc:"cold start: absolute floor of a slow call (milliseconds)"`
	ColdFactor      float64         `yaml:"cold_factor" doc:"cold start: a slow call is above cold_factor × the slowest call so far"`
}

func defaultLatencyOptions() *latencyOptions {
	return &latencyOptions{
		Window:          config.Duration(10 * time.Minute),
		Factor:          3,
		Quantile:        0.999,
		GateObs:         200,
		AbsMs:           1000,
		MinSlow:         3,
		MinShare:        0.05,
		SuppressClients: 4,
		MaxEndpoints:    20000,
		ColdObs:         20,
		ColdAbsMs:       5000,
		ColdFactor:      10,
	}
}

// Validate implements config.Validator.
func (o *latencyOptions) Validate() error {
	return atMostOne(checkOptions(o), map[string]float64{"quantile": o.Quantile, "min_share": o.MinShare})
}

type latencyDetector struct {
	keyed
	win                         time.Duration
	factor, q, gate, abs        float64
	minSlow, minShare, suppress float64
	coldObs, coldAbs, coldFact  float64
	ready                       readyMark
	eps                         *lru[latencyEndpoint]
	clients                     *lru[latencyClient]
	shared                      *lru[clientEP] // the traffic family's table, in an engine with both
}

type latencyEndpoint struct {
	ref     model.EndpointRef
	served  bool // answered something other than 4xx (not only a probe path)
	d       quantiles
	w       int64  // window of slowIPs
	slowIPs lin256 // distinct clients with slow calls in window w
}

type latencyClient struct {
	w     window
	slow  float64
	maxMs float64
	fire  fireState
}

func newLatency(cfg Config) *latencyDetector {
	o := optionsFor[*latencyOptions](cfg, "latency")
	return &latencyDetector{
		win:      o.Window.D(),
		factor:   o.Factor,
		q:        o.Quantile,
		gate:     o.GateObs,
		abs:      o.AbsMs,
		minSlow:  o.MinSlow,
		minShare: o.MinShare,
		suppress: o.SuppressClients,
		coldObs:  o.ColdObs,
		coldAbs:  o.ColdAbsMs,
		coldFact: o.ColdFactor,
		eps:      newLRU[latencyEndpoint](o.MaxEndpoints),
		clients:  newLRU[latencyClient](capOr(cfg.MaxTrackedClients, 200000)),
	}
}

func (d *latencyDetector) Name() string { return "latency" }

func (d *latencyDetector) Observe(ev *event.Event, out *Emitter) {
	d.begin(ev)
	if ev.Rec == nil || ev.Rec.DurationMs <= 0 {
		return
	}
	ms := ev.Rec.DurationMs
	eh := d.keys.endpoint(ev)
	ep, epNew := d.eps.GetOrAdd(eh)
	if epNew {
		ep.ref = keepRef(ev.Endpoint)
	}
	if ev.Status < 400 || ev.Status >= 500 {
		ep.served = true
	}
	n := ep.d.count()
	if n+1 >= d.gate {
		d.ready.mark(ev.Time) // this call (learned below) completes the baseline
	}
	cold := n < d.gate
	if cold && n < d.coldObs {
		ep.d.add(ms)
		return
	}
	idx := winIndex(ev.Time, d.win)
	ih := d.keys.ip(ev)
	var c *latencyClient
	var created bool
	if d.shared != nil {
		e := d.keys.clientEndpoint(ev, d.shared)
		c, created = &e.lat, !e.latSet
		e.latSet = true
	} else {
		c, created = d.clients.GetOrAdd(hashing.Pair(ih, eh))
	}
	if created {
		c.w.idx = idx
	}
	if idx > c.w.idx {
		c.w, c.slow, c.maxMs = window{idx: idx}, 0, 0
	}
	c.w.n++
	var base, thr float64
	if cold {
		base = ep.d.at(1) // the slowest call so far
		thr = fmax(d.coldAbs, d.coldFact*base)
	} else {
		base = ep.d.at(d.q)
		thr = fmax(d.abs, d.factor*base)
	}
	if ms <= thr {
		ep.d.add(ms)
		return
	}
	ep.d.add(thr) // learn clipped
	if ep.w != idx {
		ep.w, ep.slowIPs = idx, lin256{}
	}
	ep.slowIPs.add(ih)
	c.slow++
	c.maxMs = fmax(c.maxMs, ms)
	if ep.slowIPs.estimate() >= d.suppress {
		return // the endpoint is slow for everyone: backend degradation
	}
	if c.slow < d.minSlow || c.slow < d.minShare*c.w.n {
		return
	}
	delta, first := c.fire.cross(c.w.idx, c.slow, thr)
	if delta == 0 {
		return
	}
	h := Hit{Type: alert.LatencySpike, Time: ev.Time, Client: clientIP(ev), Identity: identityRef(ev), Endpoint: endpointRef(ev),
		Count:      int64(delta),
		Confidence: confidence(c.maxMs, thr, n, 5*d.gate),
		Evidence: model.Evidence{
			Observed: c.maxMs, Baseline: round2(base), Threshold: round2(thr), Window: winLabel(d.win),
			Reason:  "this client's calls take far longer than the endpoint's learned latency (ms; baseline = p99.9)",
			Details: map[string]any{"slow_calls": c.slow, "calls_in_window": c.w.n, "p50_ms": round2(ep.d.at(0.5)), "observations": n, "baseline_learning": cold},
		},
	}
	if first {
		h.Sample = anomSample(ev, "")
	}
	out.Emit(h)
}

// Readiness implements pipeline.ReadinessReporter.
func (d *latencyDetector) Readiness(at time.Time) []model.Readiness {
	t := baseline{detector: "latency", name: "call durations", scope: "endpoint", alerts: alertNames(alert.LatencySpike),
		requires: model.Need{Requests: int64(d.gate)},
		while:    fmt.Sprintf("from %g calls, slow above max(%g ms, %g × the slowest so far); the per-client rules apply", d.coldObs, d.coldAbs, d.coldFact)}.tally()
	d.eps.Each(func(_ uint64, ep *latencyEndpoint) {
		if !ep.served {
			return // a probe path, not an endpoint
		}
		t.Add(ep.ref.Key(), model.Need{Requests: int64(ep.d.count())}, false)
	})
	return []model.Readiness{t.Readiness(d.ready.at)}
}
