package detect

import (
	"sort"
	"time"

	"github.com/palisade-sec/palisade/internal/model"
)

// Learning state (docs/detection-anomalies.md, "Readiness").
//
// Every learned family reports, per baseline, whether it is still
// learning and what it lacks, through one interface
// (pipeline.ReadinessReporter): Readiness(at) []model.Readiness. A
// baseline is population-scoped (one for all traffic: readiness from
// Have against Requires) or per scope (endpoint, parameter, login
// endpoint, subject: each scope learning or ready, counted, the learning
// ones nearest to ready listed by key). readyMark remembers the event
// time a baseline (its first scope) became ready, for the time to ready.
//
// What a family does while a scope is learning is part of its readiness
// (WhileLearning): documented absolute floors, priors from the declared
// spec, population-free evidence — never silence just because the
// deployment is small, never an alert on noise just because it is young.

// readyMark is the event time a baseline first became ready.
type readyMark struct{ at time.Time }

// mark records t as the time the baseline became ready, once.
func (m *readyMark) mark(t time.Time) {
	if m.at.IsZero() {
		m.at = t
	}
}

func (m readyMark) ptr() *time.Time {
	if m.at.IsZero() {
		return nil
	}
	t := m.at.UTC()
	return &t
}

// hoursSince is the event time from first to at in hours (0 when first is
// unset or later).
func hoursSince(first, at time.Time) float64 {
	if first.IsZero() || !at.After(first) {
		return 0
	}
	return at.Sub(first).Hours()
}

// baseline describes one baseline of a family: the fixed parts of its
// Readiness.
type baseline struct {
	detector, name, scope string
	alerts                []string
	requires              model.Need
	while                 string
}

// population returns the readiness of a population-scoped baseline.
func (b baseline) population(have model.Need, m readyMark) model.Readiness {
	r := b.base(m)
	h := roundNeed(have)
	r.Have = &h
	if miss := b.requires.Minus(have); !miss.Zero() && m.at.IsZero() {
		r.State, r.Missing, r.LearningScopes = model.StateLearning, &miss, 1
	} else {
		r.State, r.ReadyScopes = model.StateReady, 1
	}
	return r
}

func (b baseline) base(m readyMark) model.Readiness {
	return model.Readiness{Analyzer: "detect", Detector: b.detector, Baseline: b.name, Alerts: b.alerts, Scope: b.scope,
		Requires: b.requires, ReadyAt: m.ptr(), WhileLearning: b.while}
}

func roundNeed(n model.Need) model.Need {
	n.Hours = float64(int64(n.Hours*100+0.5)) / 100
	return n
}

// maxListed is how many learning scopes a per-scope baseline lists.
const maxListed = 5

// scopeTally counts the scopes of a per-scope baseline by state and keeps
// the learning scopes nearest to ready (ties by key: deterministic).
type scopeTally struct {
	b               baseline
	ready, learning int64
	near            []scoped
}

type scoped struct {
	s        model.ScopeReadiness
	progress float64
}

func (b baseline) tally() *scopeTally { return &scopeTally{b: b} }

// add counts one scope with the evidence have; key names it (empty for
// subject scopes, which are never listed). ready overrides the
// comparison with Requires when the family knows better (a scope that
// became ready keeps its state, a declared endpoint needs no learning).
func (t *scopeTally) add(key string, have model.Need, ready bool) {
	if ready {
		t.ready++
		return
	}
	miss := t.b.requires.Minus(have)
	if miss.Zero() {
		t.ready++
		return
	}
	t.learning++
	if key == "" {
		return
	}
	c := scoped{model.ScopeReadiness{Key: key, Have: roundNeed(have), Missing: miss}, t.b.requires.Progress(have)}
	i := sort.Search(len(t.near), func(i int) bool {
		n := t.near[i]
		return n.progress < c.progress || n.progress == c.progress && n.s.Key > c.s.Key
	})
	if i >= maxListed {
		return
	}
	t.near = append(t.near, scoped{})
	copy(t.near[i+1:], t.near[i:])
	t.near[i] = c
	if len(t.near) > maxListed {
		t.near = t.near[:maxListed]
	}
}

// readiness returns the baseline's state: ready when a scope is ready (or
// was: m), learning otherwise.
func (t *scopeTally) readiness(m readyMark) model.Readiness {
	r := t.b.base(m)
	r.ReadyScopes, r.LearningScopes = t.ready, t.learning
	r.State = model.StateLearning
	if t.ready > 0 || !m.at.IsZero() {
		r.State = model.StateReady
	}
	for _, n := range t.near {
		r.Learning = append(r.Learning, n.s)
	}
	return r
}

// Readiness collects the learning state of every family that reports one
// (pipeline.ReadinessReporter), in family order.
func (g *Engine) Readiness(at time.Time) []model.Readiness {
	var out []model.Readiness
	for _, d := range g.detectors {
		if r, ok := d.(interface {
			Readiness(at time.Time) []model.Readiness
		}); ok {
			out = append(out, r.Readiness(at)...)
		}
	}
	return out
}
