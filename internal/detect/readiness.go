package detect

import (
	"time"

	"github.com/palisade-sec/palisade/internal/alert"
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

func (b baseline) tally() *model.ScopeTally { return model.NewScopeTally(b.base(readyMark{})) }

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

// alertNames is the wire names of alert types, for a baseline's alert_types.
func alertNames(ts ...alert.Type) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.String()
	}
	return out
}
