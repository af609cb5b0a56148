package inventory

import (
	"time"

	"github.com/palisade-sec/palisade/internal/model"
)

// Readiness implements pipeline.ReadinessReporter: API change detection
// (a new query or header parameter adopted by the population) judges an
// endpoint once it has ChangeMinHistory requests; before, parameters are
// learned as the endpoint's own. Operations that are probes (not_found,
// denied, reconnaissance, metadata) are not endpoints and are not counted.
func (inv *Inventory) Readiness(at time.Time) []model.Readiness {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	t := model.NewScopeTally(model.Readiness{Analyzer: "inventory", Detector: "api_changes",
		Baseline: "requests per endpoint before a new parameter is a change", Alerts: []string{"api_changes: parameter_added"},
		Scope: "endpoint", Requires: model.Need{Requests: int64(inv.cfg.ChangeMinHistory)},
		WhileLearning: "parameters seen are the endpoint's own (no API change is recorded for them)"})
	for _, h := range inv.sortedHosts() {
		walk(inv.hosts[h].root, func(n *node) {
			for m, st := range n.eps {
				if st == nil || inv.probeReason(h, st, n.decl[m]) != "" {
					continue
				}
				hours := 0.0
				if at.After(st.first) {
					hours = at.Sub(st.first).Hours()
				}
				t.Add(m+" "+h+n.tmpl, model.Need{Requests: st.requests, Hours: hours}, false)
			}
		})
	}
	return []model.Readiness{t.Readiness(inv.changesReady)}
}
