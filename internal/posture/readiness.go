package posture

import (
	"sort"
	"time"

	"github.com/palisade-sec/palisade/internal/model"
)

// Readiness implements pipeline.ReadinessReporter: the security-header
// rule (PAL-T009) judges an endpoint once it answered MinResponses
// successful responses; before, it says nothing about the endpoint.
// (The other traffic rules judge what they see from the first request.)
func (t *Traffic) Readiness(at time.Time) []model.Readiness {
	need := int64(t.cfg.MinResponses)
	r := model.Readiness{Analyzer: "posture", Detector: "security_headers", Baseline: "successful responses per endpoint",
		Alerts: []string{RuleSecurityHeaders}, Scope: "endpoint", Requires: model.Need{Requests: need},
		WhileLearning: "no security-header finding for the endpoint"}
	type lk struct {
		key string
		n   int64
	}
	var learning []lk
	for ref, e := range t.eps {
		if e.eligible >= need {
			r.ReadyScopes++
			continue
		}
		if e.eligible == 0 {
			continue // no successful response: not judged at all
		}
		r.LearningScopes++
		learning = append(learning, lk{ref.Key(), e.eligible})
	}
	sort.Slice(learning, func(i, j int) bool {
		if learning[i].n != learning[j].n {
			return learning[i].n > learning[j].n
		}
		return learning[i].key < learning[j].key
	})
	for i, l := range learning {
		if i == 5 {
			break
		}
		have := model.Need{Requests: l.n}
		r.Learning = append(r.Learning, model.ScopeReadiness{Key: l.key, Have: have, Missing: r.Requires.Minus(have)})
	}
	if !t.headersReady.IsZero() {
		x := t.headersReady.UTC()
		r.ReadyAt = &x
	}
	r.State = model.StateLearning
	if r.ReadyScopes > 0 || r.ReadyAt != nil {
		r.State = model.StateReady
	}
	return []model.Readiness{r}
}
