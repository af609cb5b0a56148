package posture

import (
	"time"

	"github.com/palisade-sec/palisade/internal/model"
)

// Readiness implements pipeline.ReadinessReporter: the security-header
// rule (PAL-T009) judges an endpoint once it answered MinResponses
// successful responses; before, it says nothing about the endpoint.
// (The other traffic rules judge what they see from the first request.)
func (t *Traffic) Readiness(at time.Time) []model.Readiness {
	tl := model.NewScopeTally(model.Readiness{Analyzer: "posture", Detector: "security_headers",
		Baseline: "successful responses per endpoint", Alerts: []string{RuleSecurityHeaders}, Scope: "endpoint",
		Requires: model.Need{Requests: int64(t.cfg.MinResponses)}, WhileLearning: "no security-header finding for the endpoint"})
	for ref, e := range t.eps {
		if e.eligible > 0 { // an endpoint without a successful response is not judged at all
			tl.Add(ref.Key(), model.Need{Requests: e.eligible}, false)
		}
	}
	return []model.Readiness{tl.Readiness(t.headersReady)}
}
