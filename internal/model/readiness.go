package model

import (
	"sort"
	"time"
)

// Learning states of a baseline scope (report extension "readiness").
const (
	StateLearning = "learning" // the baseline has too little history to judge against
	StateReady    = "ready"    // the documented needs are met
	StatePartial  = "partial"  // detector summary: some baselines or scopes ready, some learning
)

// Need counts the evidence a baseline needs before it is ready (Requires),
// has so far (Have) or still lacks (Missing). A zero field needs nothing
// of that kind.
type Need struct {
	Requests   int64   `json:"requests,omitempty"`   // requests (or observations) in the scope
	Windows    int64   `json:"windows,omitempty"`    // closed windows folded into the baseline
	Clients    int64   `json:"clients,omitempty"`    // distinct client addresses
	Principals int64   `json:"principals,omitempty"` // distinct authenticated principals
	Hours      float64 `json:"hours,omitempty"`      // hours of event time since the scope's first event
}

// Zero reports whether n needs nothing.
func (n Need) Zero() bool { return n == Need{} }

// Minus returns what of n is not covered by have (never negative).
func (n Need) Minus(have Need) Need {
	sub := func(a, b int64) int64 {
		if a > b {
			return a - b
		}
		return 0
	}
	m := Need{Requests: sub(n.Requests, have.Requests), Windows: sub(n.Windows, have.Windows), Clients: sub(n.Clients, have.Clients),
		Principals: sub(n.Principals, have.Principals)}
	if n.Hours > have.Hours {
		m.Hours = roundHours(n.Hours - have.Hours)
	}
	return m
}

// Progress is how far have is towards n: the smallest ratio over the
// kinds n requires, in [0, 1] (1 when n requires nothing).
func (n Need) Progress(have Need) float64 {
	p := 1.0
	ratio := func(need, got float64) {
		if need > 0 {
			if r := got / need; r < p {
				p = r
			}
		}
	}
	ratio(float64(n.Requests), float64(have.Requests))
	ratio(float64(n.Windows), float64(have.Windows))
	ratio(float64(n.Clients), float64(have.Clients))
	ratio(float64(n.Principals), float64(have.Principals))
	ratio(n.Hours, have.Hours)
	if p < 0 {
		p = 0
	}
	return p
}

func roundHours(h float64) float64 {
	if h <= 0 {
		return 0
	}
	x := float64(int64(h*100+0.5)) / 100
	if x == 0 {
		return 0.01
	}
	return x
}

// Readiness is the learning state of one baseline of one analyzer or
// detector family. A baseline has a scope: "population" (one baseline for
// all traffic), "endpoint", "parameter", "login endpoint" (one per such
// scope) or "subject" (one per client or principal). Population baselines
// report Have and Missing; per-scope baselines count their scopes in each
// state and list the learning scopes nearest to ready (never subjects:
// addresses and principals are not listed).
type Readiness struct {
	Analyzer string   `json:"analyzer"`              // detect | inventory | posture
	Detector string   `json:"detector"`              // family (configuration name), e.g. "spray"
	Baseline string   `json:"baseline"`              // what is learned, e.g. "client windows"
	Alerts   []string `json:"alert_types,omitempty"` // alert types (or rules) the baseline gates
	Scope    string   `json:"scope"`
	State    string   `json:"state"` // ready | learning (ready when at least one scope is ready)
	Requires Need     `json:"requires"`
	Have     *Need    `json:"have,omitempty"`    // population scope
	Missing  *Need    `json:"missing,omitempty"` // population scope while learning
	// ReadyScopes and LearningScopes count the scopes of a per-scope
	// baseline in each state (a population baseline counts itself).
	ReadyScopes    int64            `json:"ready_scopes"`
	LearningScopes int64            `json:"learning_scopes"`
	Learning       []ScopeReadiness `json:"learning,omitempty"` // learning scopes nearest to ready (at most 5)
	// ReadyAt is the event time the first scope became ready;
	// HoursToReady the event time from the start of the input to it.
	ReadyAt      *time.Time `json:"ready_at,omitempty"`
	HoursToReady *float64   `json:"hours_to_ready,omitempty"`
	// WhileLearning says what the family does for scopes still learning
	// (documented floors, spec priors, population-free evidence, or
	// nothing).
	WhileLearning string `json:"while_learning"`
}

// ScopeReadiness is one learning scope: its key (an endpoint "METHOD
// host/path", with the parameter for parameter scopes) and its evidence.
type ScopeReadiness struct {
	Key     string `json:"key"`
	Have    Need   `json:"have"`
	Missing Need   `json:"missing"`
}

// DetectorReadiness groups the baselines of one family with a summary
// state: ready when every baseline is ready, learning when none is,
// partial otherwise.
type DetectorReadiness struct {
	Analyzer  string      `json:"analyzer"`
	Detector  string      `json:"detector"`
	State     string      `json:"state"`
	Baselines []Readiness `json:"baselines"`
}

// GroupReadiness groups baselines by (analyzer, detector), in that order.
func GroupReadiness(list []Readiness) []DetectorReadiness {
	idx := map[string]int{}
	var out []DetectorReadiness
	for _, r := range list {
		k := r.Analyzer + "\x00" + r.Detector
		i, ok := idx[k]
		if !ok {
			i = len(out)
			idx[k] = i
			out = append(out, DetectorReadiness{Analyzer: r.Analyzer, Detector: r.Detector})
		}
		out[i].Baselines = append(out[i].Baselines, r)
	}
	for i := range out {
		ready, learning := 0, 0
		for _, b := range out[i].Baselines {
			if b.State == StateReady {
				ready++
			} else {
				learning++
			}
		}
		switch {
		case learning == 0:
			out[i].State = StateReady
		case ready == 0:
			out[i].State = StateLearning
		default:
			out[i].State = StatePartial
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Analyzer != out[j].Analyzer {
			return out[i].Analyzer < out[j].Analyzer
		}
		return out[i].Detector < out[j].Detector
	})
	return out
}

// MaxListedScopes is how many learning scopes a per-scope baseline lists.
const MaxListedScopes = 5

// ScopeTally builds the Readiness of a per-scope baseline: it counts the
// scopes by state and keeps the learning ones nearest to ready (ties by
// key, so the result does not depend on the order scopes are added).
type ScopeTally struct {
	r    Readiness
	near []scopeNear
}

type scopeNear struct {
	s        ScopeReadiness
	progress float64
}

// NewScopeTally starts a tally for the baseline described by r (its
// Requires decides readiness).
func NewScopeTally(r Readiness) *ScopeTally {
	r.ReadyScopes, r.LearningScopes, r.Learning = 0, 0, nil
	return &ScopeTally{r: r}
}

// Add counts one scope with the evidence have; key names it (empty for
// scopes that are never listed, such as subjects). ready overrides the
// comparison with Requires when the analyzer knows better (a declared
// endpoint needs no learning).
func (t *ScopeTally) Add(key string, have Need, ready bool) {
	if ready {
		t.r.ReadyScopes++
		return
	}
	miss := t.r.Requires.Minus(have)
	if miss.Zero() {
		t.r.ReadyScopes++
		return
	}
	t.r.LearningScopes++
	if key == "" {
		return
	}
	have.Hours = float64(int64(have.Hours*100+0.5)) / 100
	c := scopeNear{ScopeReadiness{Key: key, Have: have, Missing: miss}, t.r.Requires.Progress(have)}
	i := sort.Search(len(t.near), func(i int) bool {
		n := t.near[i]
		return n.progress < c.progress || n.progress == c.progress && n.s.Key > c.s.Key
	})
	if i >= MaxListedScopes {
		return
	}
	t.near = append(t.near, scopeNear{})
	copy(t.near[i+1:], t.near[i:])
	t.near[i] = c
	if len(t.near) > MaxListedScopes {
		t.near = t.near[:MaxListedScopes]
	}
}

// Readiness returns the baseline's state: ready when a scope is ready or
// one was at readyAt (non-zero), learning otherwise.
func (t *ScopeTally) Readiness(readyAt time.Time) Readiness {
	r := t.r
	if !readyAt.IsZero() {
		x := readyAt.UTC()
		r.ReadyAt = &x
	}
	r.State = StateLearning
	if r.ReadyScopes > 0 || r.ReadyAt != nil {
		r.State = StateReady
	}
	for _, n := range t.near {
		r.Learning = append(r.Learning, n.s)
	}
	return r
}
