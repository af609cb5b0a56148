package detect

import (
	"time"

	"github.com/palisade-sec/palisade/internal/config"
	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/model"
)

// Family "spray": recon.endpoint_spray.
//
// Per subject (principal when authenticated, else client IP) and tumbling
// window (default 20 min), the number of distinct operations called:
// endpoint templates for answered requests, and the concrete path for
// requests that match no template and answer 404/405 (scanners probing
// /.env, /admin, /api/v2/…). A subject fires when its count exceeds
//
//	max(abs, peer_factor · p99 of all subjects' windows, own_factor · own max)
//
// once the population baseline has gate closed windows (default 50). Single
// page applications that call thirty endpoints on load set the p99; a
// monitoring client that always walks the whole API sets its own max.
//
// Memory: per subject ≈ 230 bytes (a 128-byte linear counter), LRU-bounded
// by Config.MaxTrackedClients + MaxTrackedIdentities (default 200,000 ≈ 46
// MB at the cap); one global DDSketch.

func init() {
	Register("spray", func(cfg Config) Detector { return newSpray(cfg) })
	RegisterOptions("spray", func() FamilyOptions { return defaultSprayOptions() })
}

// sprayOptions are the spray family's options (detect.options.spray).
type sprayOptions struct {
	Window      config.Duration `yaml:"window" doc:"window of distinct operations per subject"`
	Abs         float64         `yaml:"abs" doc:"absolute floor (distinct operations per window)"`
	PeerFactor  float64         `yaml:"peer_factor" doc:"fires above peer_factor × the p99 of all subjects' windows"`
	OwnFactor   float64         `yaml:"own_factor" doc:"fires above own_factor × the subject's own largest window"`
	Gate        float64         `yaml:"gate" doc:"closed subject windows before the peer bound applies"`
	MaxSubjects int             `yaml:"max_subjects" doc:"subjects tracked (LRU); 0 = max_tracked_clients + max_tracked_identities when those are set, else 200,000"`
}

func defaultSprayOptions() *sprayOptions {
	return &sprayOptions{
		Window:      config.Duration(20 * time.Minute),
		Abs:         30,
		PeerFactor:  3,
		OwnFactor:   1.5,
		Gate:        50,
		MaxSubjects: 0,
	}
}

// Validate implements config.Validator.
func (o *sprayOptions) Validate() error { return checkOptions(o) }

type sprayDetector struct {
	keyed
	win                        time.Duration
	abs, peerFactor, ownFactor float64
	gate                       float64
	subjects                   *lru[spraySubject]
	pop                        quantiles
}

type spraySubject struct {
	w     window
	ops   linCounter
	est   float64
	miss  float64 // requests answered 404/405
	own   float64
	rep   float64
	fire  fireState
	addrs addrTally // client addresses of the window's requests
	byID  bool      // the subject is an authenticated principal
	hit   *Hit
}

func newSpray(cfg Config) *sprayDetector {
	o := optionsFor[*sprayOptions](cfg, "spray")
	d := &sprayDetector{
		win:        o.Window.D(),
		abs:        o.Abs,
		peerFactor: o.PeerFactor,
		ownFactor:  o.OwnFactor,
		gate:       o.Gate,
		pop:        newQuantiles(),
	}
	c := o.MaxSubjects
	if c == 0 {
		c = cfg.MaxTrackedClients + cfg.MaxTrackedIdentities
	}
	d.subjects = newLRU[spraySubject](capOr(c, 200000))
	d.subjects.onEvict = func(_ uint64, s *spraySubject) { d.fold(s) }
	return d
}

func (d *sprayDetector) Name() string { return "spray" }

func (d *sprayDetector) fold(s *spraySubject) {
	if s.w.n == 0 {
		return
	}
	v := s.est
	if s.fire.firedIn(s.w.idx) {
		v = fmin(v, s.fire.thr)
	} else if v > s.own {
		s.own = v
	}
	d.pop.add(v)
}

func (d *sprayDetector) Observe(ev *event.Event, out *Emitter) {
	d.begin(ev)
	sk, _ := d.keys.subject(ev)
	idx := winIndex(ev.Time, d.win)
	s, created := d.subjects.getOrAdd(sk)
	if created {
		s.w.idx = idx
		s.byID = ev.Auth.Identity != nil && ev.Auth.Identity.ID != ""
	}
	if idx > s.w.idx {
		d.close(s, out)
		d.fold(s)
		s.w, s.est, s.miss, s.rep, s.hit = window{idx: idx}, 0, 0, 0, nil
		s.ops.reset()
		s.addrs.reset()
	}
	s.w.n++
	s.addrs.add(ev.ClientIP)
	var oh uint64
	if (ev.Status == 404 || ev.Status == 405) && len(ev.PathParams) == 0 {
		s.miss++
		oh = mix64(hashAdd(hashSep(hashAdd(fnvOffset, ev.Method)), ev.Path) ^ 0x5bd1e995)
	} else {
		if ev.Status == 404 || ev.Status == 405 {
			s.miss++
		}
		oh = d.keys.endpoint(ev)
	}
	if !s.ops.add(oh) {
		return
	}
	s.est = s.ops.estimate()
	if s.est <= d.abs || d.pop.count() < d.gate {
		return
	}
	p99 := d.pop.at(0.99)
	thr := fmax(d.abs, fmax(d.peerFactor*p99, d.ownFactor*s.own))
	if s.est <= thr {
		return
	}
	delta, first := s.fire.cross(s.w.idx, s.est, thr)
	if delta == 0 {
		return
	}
	missShare := s.miss / s.w.n
	conf := confidence(s.est, thr, d.pop.count(), 4*d.gate)
	if missShare > 0.5 {
		conf = fmin(0.99, conf+0.1)
	}
	h := Hit{
		Type: "recon.endpoint_spray", Time: ev.Time, Client: clientIP(ev), Identity: identityRef(ev), Count: int64(s.w.n - s.rep),
		Confidence: conf,
		Evidence: model.Evidence{
			Observed: s.est, Baseline: round2(fmax(p99, s.own)), Threshold: round2(thr), Window: winLabel(d.win),
			Reason:  "one client called an unusually large number of distinct endpoints or paths",
			Details: map[string]any{"peer_p99": round2(p99), "own_max": s.own, "requests": s.w.n, "not_found_share": round2(missShare)},
		},
	}
	if s.byID {
		h.Subject = "identity"
	}
	h.Clients, h.ClientsOther = s.addrs.delta(true)
	s.rep = s.w.n
	s.hit = &h
	if first {
		h.Sample = anomSample(ev, "")
	}
	out.Emit(h)
	s.hit.Sample = nil
}

func (d *sprayDetector) close(s *spraySubject, out *Emitter) {
	if s.hit == nil || !s.fire.firedIn(s.w.idx) || s.w.n <= s.rep {
		return
	}
	h := *s.hit
	h.Count = int64(s.w.n - s.rep)
	h.Clients, h.ClientsOther = s.addrs.delta(!out.Preview())
	h.Evidence.Observed = s.est
	if !out.Preview() {
		s.rep = s.w.n
	}
	out.Emit(h)
}

// Finish reports the remainder of fired windows.
func (d *sprayDetector) Finish(at time.Time, out *Emitter) {
	d.subjects.each(func(_ uint64, s *spraySubject) { d.close(s, out) })
}
