package detect

import (
	"fmt"
	"strconv"
	"time"

	"github.com/palisade-sec/palisade/internal/alert"
	"github.com/palisade-sec/palisade/internal/config"
	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/hashing"
	"github.com/palisade-sec/palisade/internal/model"
)

// Family "spray": recon.endpoint_spray.
//
// Per subject (principal when authenticated, else client IP) and tumbling
// window (default 20 min), the number of distinct operations called:
// endpoint templates for answered requests, and the concrete path for
// requests that match no template and answer 404/405 (scanners probing
// /.env, /admin, /api/v2/…). A subject fires on any of three rules:
//
//   - population baseline (once the baseline has gate closed subject
//     windows, default 50): distinct operations above
//     max(abs, peer_factor · p99 of all subjects' windows, own_factor · own max).
//     Single page applications that call thirty endpoints on load set the
//     p99; a monitoring client that always walks the whole API sets its
//     own max.
//   - not-found paths (population-free, always on): more than
//     max(abs, own_factor · own max) distinct paths answered 404/405 that
//     match no template, making at least miss_share (0.5) of the window's
//     requests — one client touching many non-existent paths, mostly
//     404, is reconnaissance whatever the population size.
//   - sensitive files and admin paths (population-free, always on):
//     sensitive_min (5) distinct paths of the sensitive-file / admin
//     vocabulary (recon.go: CRS restricted files, VCS directories,
//     dotfiles, backup and dump names, admin consoles) answered
//     401/403/404/405/410. The probed paths (method, path, status; at
//     most 20, query dropped, clipped) are the evidence.
//
// All three are recon.endpoint_spray (one alert per scanning subject,
// with the evidence of its strongest window): a scanner that both sprays
// and probes for backups is one reconnaissance, and its response (block
// or investigate the client) is the same.
//
// Windows fold into the population baseline when the subject's next
// window starts, when it is evicted, or when the global window rolls
// (subjects that never return — most scanners, most clients of a small
// deployment — still teach the baseline; at most 1,024 per window, the
// rest fold on their own roll or eviction).
//
// Memory: per subject ≈ 230 bytes (a 128-byte linear counter), plus ≈
// 2 KB while it has probed sensitive paths (at most 20 kept), LRU-bounded
// by Config.MaxTrackedClients + MaxTrackedIdentities (default 200,000 ≈
// 46 MB at the cap); one global DDSketch; 8 KB of active-subject keys.

func init() {
	Register("spray", func(cfg Config) Detector { return newSpray(cfg) })
	RegisterOptions("spray", func() FamilyOptions { return defaultSprayOptions() })
}

// sprayOptions are the spray family's options (detect.options.spray).
type sprayOptions struct {
	Window       config.Duration `yaml:"window" doc:"window of distinct operations per subject"`
	Abs          float64         `yaml:"abs" doc:"absolute floor (distinct operations per window)"`
	PeerFactor   float64         `yaml:"peer_factor" doc:"fires above peer_factor × the p99 of all subjects' windows"`
	OwnFactor    float64         `yaml:"own_factor" doc:"fires above own_factor × the subject's own largest window"`
	Gate         float64         `yaml:"gate" doc:"closed subject windows before the peer bound applies"`
	MaxSubjects  int             `yaml:"max_subjects" doc:"subjects tracked (LRU); 0 = max_tracked_clients + max_tracked_identities when those are set, else 200,000"`
	MissShare    float64         `yaml:"miss_share" doc:"population-free rule: not-found paths that match no template must be at least this share of the window's requests"`
	SensitiveMin float64         `yaml:"sensitive_min" doc:"population-free rule: distinct sensitive-file or admin probe paths in a window that raise recon.endpoint_spray"`
}

func defaultSprayOptions() *sprayOptions {
	return &sprayOptions{
		Window:       config.Duration(20 * time.Minute),
		Abs:          30,
		PeerFactor:   3,
		OwnFactor:    1.5,
		Gate:         50,
		MaxSubjects:  0,
		MissShare:    0.5,
		SensitiveMin: 5,
	}
}

// Validate implements config.Validator.
func (o *sprayOptions) Validate() error {
	return atMostOne(checkOptions(o), map[string]float64{"miss_share": o.MissShare})
}

type sprayDetector struct {
	keyed
	win                        time.Duration
	abs, peerFactor, ownFactor float64
	gate                       float64
	missShare, sensMin         float64
	subjects                   *lru[spraySubject]
	pop                        quantiles
	// gw is the global window; active the subjects that had requests in
	// it (folded when it rolls).
	gw     int64
	active []uint64
	first  time.Time
	ready  readyMark
}

type spraySubject struct {
	w      window
	ops    linCounter
	est    float64
	miss   float64 // requests answered 404/405
	missOp float64 // distinct paths answered 404/405 that match no template
	own    float64
	rep    float64
	fire   fireState
	addrs  addrTally // client addresses of the window's requests
	// known: the principal's addresses of earlier quiet windows; fresh:
	// the window's requests from addresses new to it (see familiar).
	known  familiar
	fresh  freshCount
	byID   bool // the subject is an authenticated principal
	folded bool // the window was folded into the population
	hit    *Hit
	sens   *sprayProbes // sensitive-file / admin probes of the window (nil: none)
}

// sprayProbes are a window's sensitive-file and admin probes.
type sprayProbes struct {
	n       float64
	paths   []string // "METHOD /path (status)", at most maxProbePaths
	classes [10]int32
}

const maxProbePaths = 20

func newSpray(cfg Config) *sprayDetector {
	o := optionsFor[*sprayOptions](cfg, "spray")
	d := &sprayDetector{
		win:        o.Window.D(),
		abs:        o.Abs,
		peerFactor: o.PeerFactor,
		ownFactor:  o.OwnFactor,
		gate:       o.Gate,
		missShare:  o.MissShare,
		sensMin:    o.SensitiveMin,
		pop:        newQuantiles(),
	}
	c := o.MaxSubjects
	if c == 0 {
		c = cfg.MaxTrackedClients + cfg.MaxTrackedIdentities
	}
	d.subjects = newLRU[spraySubject](capOr(c, 200000))
	d.subjects.OnEvict = func(_ uint64, s *spraySubject) { d.fold(s) }
	return d
}

func (d *sprayDetector) Name() string { return "spray" }

func (d *sprayDetector) fold(s *spraySubject) {
	if s.w.n == 0 || s.folded {
		return
	}
	s.folded = true
	v := s.est
	if s.fire.firedIn(s.w.idx) {
		v = fmin(v, s.fire.thr)
	} else if v > s.own {
		s.own = v
	}
	d.pop.add(v)
}

// roll folds the subjects of the global window that just closed.
func (d *sprayDetector) roll(idx int64, out *Emitter) {
	if idx <= d.gw {
		return
	}
	for _, k := range d.active {
		if s, ok := d.subjects.Peek(k); ok && s.w.idx == d.gw {
			d.close(s, out)
			d.fold(s)
		}
	}
	d.active, d.gw = d.active[:0], idx
}

func (d *sprayDetector) Observe(ev *event.Event, out *Emitter) {
	d.begin(ev)
	if d.first.IsZero() {
		d.first = ev.Time
	}
	sk, _ := d.keys.subject(ev)
	idx := winIndex(ev.Time, d.win)
	d.roll(idx, out)
	s, created := d.subjects.GetOrAdd(sk)
	if created {
		s.w.idx = idx
		s.byID = ev.Auth.Identity != nil && ev.Auth.Identity.ID != ""
	}
	if idx > s.w.idx {
		d.close(s, out)
		d.fold(s)
		if s.byID && !s.fire.firedIn(s.w.idx) {
			s.known.learn(&s.addrs, winStart(s.w.idx, d.win))
		}
		s.w, s.est, s.miss, s.missOp, s.rep, s.hit, s.folded, s.sens = window{idx: idx}, 0, 0, 0, 0, nil, false, nil
		s.ops.reset()
		s.addrs.reset()
		s.fresh = freshCount{}
	}
	if s.w.n == 0 && s.w.idx == d.gw && len(d.active) < maxActive {
		d.active = append(d.active, sk)
	}
	s.w.n++
	s.addrs.add(ev.ClientIP)
	s.fresh.add(&s.known, ev.ClientIP, winStart(s.w.idx, d.win))
	var oh uint64
	rawMiss := false
	if (ev.Status == 404 || ev.Status == 405) && len(ev.PathParams) == 0 {
		s.miss++
		rawMiss = true
		oh = hashing.Mix64(hashing.Add(hashing.Sep(hashing.Add(hashing.Offset, ev.Method)), ev.Path) ^ 0x5bd1e995)
	} else {
		if ev.Status == 404 || ev.Status == 405 {
			s.miss++
		}
		oh = d.keys.endpoint(ev)
	}
	if d.pop.count() >= d.gate {
		d.ready.mark(ev.Time)
	}
	if !s.ops.add(oh) {
		return
	}
	s.est = s.ops.estimate()
	if rawMiss {
		s.missOp++
	}
	sensNew := false
	if class := sensitiveProbe(ev.Host, ev.Path, ev.Status, ev.Auth.Credentials); class != "" {
		sensNew = true
		if s.sens == nil {
			s.sens = &sprayProbes{}
		}
		p := s.sens
		p.n++
		p.classes[classRank(class)]++
		if len(p.paths) < maxProbePaths {
			p.paths = append(p.paths, keepMethod(ev.Method)+" "+clipStr(ev.Path, 96)+" ("+strconv.Itoa(ev.Status)+")")
		}
	}
	// The rules, strongest evidence first.
	var thr float64
	var rule, reason string
	var p99 float64
	missShare := s.miss / s.w.n
	popReady := d.pop.count() >= d.gate
	if popReady {
		p99 = d.pop.at(0.99)
	}
	switch {
	case popReady && s.est > fmax(d.abs, fmax(d.peerFactor*p99, d.ownFactor*s.own)):
		thr, rule = fmax(d.abs, fmax(d.peerFactor*p99, d.ownFactor*s.own)), "population"
		reason = "one client called an unusually large number of distinct endpoints or paths"
	case rawMiss && s.missOp > fmax(d.abs, d.ownFactor*s.own) && missShare >= d.missShare:
		thr, rule = fmax(d.abs, d.ownFactor*s.own), "not_found_paths"
		reason = "one client requested many distinct paths that do not exist (mostly 404): reconnaissance, whatever the population"
	case sensNew && s.sens.n >= d.sensMin:
		thr, rule = d.sensMin, "sensitive_files"
		reason = "one client probed for sensitive files or admin consoles (backups, configuration, VCS, environment files) that were refused or missing"
	default:
		return
	}
	observed := s.est
	if rule == "not_found_paths" {
		observed = s.missOp
	} else if rule == "sensitive_files" {
		observed = s.sens.n
	}
	delta, first := s.fire.cross(s.w.idx, s.est, thr)
	if delta == 0 {
		return
	}
	conf := confidence(observed, thr, d.pop.count(), 4*d.gate)
	if rule != "population" {
		conf = confidence(observed, thr, 1, 1) // population-free: no baseline to weigh
	}
	if missShare > 0.5 {
		conf = fmin(0.99, conf+0.1)
	}
	details := map[string]any{"rule": rule, "peer_p99": round2(p99), "own_max": s.own, "requests": s.w.n, "not_found_share": round2(missShare),
		"distinct_operations": s.est, "not_found_paths": s.missOp, "population_windows": d.pop.count(), "population_ready": popReady}
	title := ""
	if p := s.sens; p != nil {
		details["sensitive_paths"] = append([]string(nil), p.paths...)
		details["sensitive_probes"] = p.n
		cl := map[string]any{}
		for i, c := range probeClasses {
			if p.classes[i] > 0 {
				cl[c] = int64(p.classes[i])
			}
		}
		details["sensitive_classes"] = cl
		if rule == "sensitive_files" {
			title = "Sensitive file and admin path probing"
		}
	}
	h := Hit{
		Type: alert.ReconEndpointSpray, Title: title, Time: ev.Time, Client: clientIP(ev), Identity: identityRef(ev), Count: int64(s.w.n - s.rep),
		Confidence: conf,
		Evidence: model.Evidence{
			Observed: observed, Baseline: round2(fmax(p99, s.own)), Threshold: round2(thr), Window: winLabel(d.win),
			Reason: reason, Details: details,
		},
	}
	if s.byID {
		h.Subject = "identity"
	}
	attribute(&h, &s.addrs, &s.known, &s.fresh, winStart(s.w.idx, d.win), true)
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
	attribute(&h, &s.addrs, &s.known, &s.fresh, winStart(s.w.idx, d.win), !out.Preview())
	if !out.Preview() {
		s.rep = s.w.n
	}
	out.Emit(h)
}

// Finish reports the remainder of fired windows.
func (d *sprayDetector) Finish(at time.Time, out *Emitter) {
	d.subjects.Each(func(_ uint64, s *spraySubject) { d.close(s, out) })
}

// Readiness implements pipeline.ReadinessReporter.
func (d *sprayDetector) Readiness(at time.Time) []model.Readiness {
	b := baseline{detector: "spray", name: "client windows (distinct operations per subject)", scope: "population",
		alerts: alertNames(alert.ReconEndpointSpray), requires: model.Need{Windows: int64(d.gate)},
		while: fmt.Sprintf("population-free rules only: > %g distinct paths answered 404/405 making ≥ %g%% of the subject's requests, or ≥ %g distinct sensitive-file/admin probes refused or missing", d.abs, 100*d.missShare, d.sensMin)}
	return []model.Readiness{b.population(model.Need{Windows: int64(d.pop.count()), Hours: hoursSince(d.first, at)}, d.ready)}
}
