package injeval

import (
	"fmt"
	"net/url"
	"time"

	"github.com/palisade-sec/palisade/internal/detect"
	"github.com/palisade-sec/palisade/internal/enrich"
	"github.com/palisade-sec/palisade/internal/event"
)

// Warm mode. The Palisade column judges every request cold: no parameter
// has a learned profile, as on the first requests an API sends. Deployed,
// the injection family's positive model learns each parameter's benign
// values (injection_profile.go) and judges with them: CRS-only evidence on
// a value that fits is dropped, a single paranoia-2 rule on a value that
// departs is reported. A warm engine measures that: every parameter of
// every request it judges has the profile learned from a pool of benign
// values — the same profile for all, learned once through the product's
// own path (one query parameter of one endpoint, the values spread over
// the learning period), then frozen (nothing of the judged requests is
// learned, attacks included).
//
// Which values a parameter carries decides what departs from it, and the
// evaluation cannot know what the parameters of a suite's requests carry;
// so there are two pools, each a tuning part of a benign source (never an
// attack, never a validation item):
//
//   - "values": HttpParams norm values — the short field values of web
//     forms (names, addresses, numbers, codes);
//   - "text": presidio prose — free text with names, addresses, e-mails.
//
// Both judge every request, attacks and benign sets alike; each benign set
// is meaningful under the pool of its own kind (HttpParams norm under
// values, prose under text), the other cells show what a value of the
// wrong kind meets.

// WarmPools are the pools of the warm engines: pool name → (source of the
// tuning-part benign payloads).
var WarmPools = []struct{ Name, Source string }{{"values", "httpparams"}, {"text", "presidio"}}

// warmPoolSize is the most pool values learned (evenly spaced among the
// source's distinct tuning-part benign payloads): above the model's
// depart_min (3,000) where the source has them (HttpParams norm: yes;
// presidio prose: 1,115 distinct tuning values, so in the text pool only
// type departures count); warmPoolMin the fewest (the model's gate is 100).
const (
	warmPoolSize = 4000
	warmPoolMin  = 500
)

// Warm is Palisade with the positive model on, every parameter starting
// from the profile learned from a pool of benign values.
type Warm struct {
	// Pool is the number of benign values the profile was learned from.
	Pool int
	name string
	enr  *enrich.Enricher
	inj  *detect.Injection
	ds   []detect.Detector
}

// NewWarm learns the pool's profile from the tuning-part benign payloads
// of source among cases and returns the engine (an error when the source
// has fewer values than the model needs to be trained).
func NewWarm(pool, source string, cases []Case) (*Warm, error) {
	seen := map[string]bool{}
	var vals []string
	for i := range cases {
		p := cases[i].Payload
		if p.Source == source && p.Class == Benign && p.Split == SplitTune && !seen[p.Value] {
			seen[p.Value] = true
			vals = append(vals, p.Value)
		}
	}
	idx := make([]int, len(vals))
	for i := range idx {
		idx[i] = i
	}
	idx = spread(idx, warmPoolSize)
	if len(idx) < warmPoolMin {
		return nil, fmt.Errorf("warm pool %q: %d tuning-part benign values of %s, want ≥ %d (is the development set loaded?)", pool, len(idx), source, warmPoolMin)
	}
	cfg := detect.Config{}
	enr := enrich.New(enrich.DefaultConfig(), nil, nil)
	trainer := detect.NewInjection(cfg)
	// spread over 40 minutes (learn_minutes is 30), ending an hour before
	// the cases' time
	t0 := evalTime.Add(-100 * time.Minute)
	step := 40 * time.Minute / time.Duration(len(idx))
	var last *event.Event
	for k, i := range idx {
		rec := newRecord("GET", "http://pool.example.test/v1/pool?v="+url.QueryEscape(vals[i]), nil, "")
		rec.Time = t0.Add(time.Duration(k) * step)
		ev, err := enr.Enrich(rec, 0)
		if err != nil {
			return nil, fmt.Errorf("warm pool %q: value %d: %w", pool, i, err)
		}
		trainer.Inspect(ev)
		last = ev
	}
	inj := detect.NewInjection(cfg)
	if !inj.SeedFrom(trainer, last, "v") {
		return nil, fmt.Errorf("warm pool %q: no profile learned", pool)
	}
	inj.SetLearning(false)
	return &Warm{Pool: len(idx), name: "palisade-warm-" + pool, enr: enr, inj: inj,
		ds: []detect.Detector{inj, detect.NewSSRF(cfg), detect.NewUserAgent(cfg)}}, nil
}

// Name implements Engine.
func (w *Warm) Name() string { return w.name }

// Detect implements Engine: the request's parameters get the pool's
// profile, then the request is judged (the cost includes that seeding
// pass: warm engines' CPU time is not the product's).
func (w *Warm) Detect(c *Case) ([]string, error) {
	ev, err := w.enr.Enrich(c.Rec, 0)
	if err != nil {
		return nil, err
	}
	w.inj.SeedProfiles(ev)
	types, _ := alertTypes(w.ds, ev, false)
	return types, nil
}

// DetectVerdict implements Verdicter.
func (w *Warm) DetectVerdict(c *Case) ([]string, string, error) {
	ev, err := w.enr.Enrich(c.Rec, 0)
	if err != nil {
		return nil, "", err
	}
	w.inj.SeedProfiles(ev)
	types, v := alertTypes(w.ds, ev, true)
	return types, v, nil
}

// Explain says what the warm engine made of each value of a case.
func (w *Warm) Explain(c *Case) string {
	ev, err := w.enr.Enrich(c.Rec, 0)
	if err != nil {
		return "  (request: " + err.Error() + ")\n"
	}
	w.inj.SeedProfiles(ev)
	return explainValues(w.inj, ev)
}
