package inventory

import (
	"sort"
	"time"

	"github.com/palisade-sec/palisade/internal/model"
)

// Readiness implements pipeline.ReadinessReporter: API change detection
// (a new query or header parameter adopted by the population) judges an
// endpoint once it has ChangeMinHistory requests; before, parameters are
// learned as the endpoint's own. Endpoints that only ever answered 404
// are probes, not endpoints, and are not counted.
func (inv *Inventory) Readiness(at time.Time) []model.Readiness {
	inv.mu.Lock()
	defer inv.mu.Unlock()
	need := int64(inv.cfg.ChangeMinHistory)
	r := model.Readiness{Analyzer: "inventory", Detector: "api_changes", Baseline: "requests per endpoint before a new parameter is a change",
		Alerts: []string{"api_changes: parameter_added"}, Scope: "endpoint", Requires: model.Need{Requests: need},
		WhileLearning: "parameters seen are the endpoint's own (no API change is recorded for them)"}
	type lk struct {
		key string
		n   int64
		h   float64
	}
	var learning []lk
	for _, h := range inv.sortedHosts() {
		t := inv.hosts[h]
		walk(t.root, func(n *node) {
			for m, st := range n.eps {
				if st == nil || inv.probeReason(h, st, n.decl[m]) != "" {
					continue
				}
				if st.requests >= need {
					r.ReadyScopes++
					continue
				}
				r.LearningScopes++
				hours := 0.0
				if at.After(st.first) {
					hours = at.Sub(st.first).Hours()
				}
				learning = append(learning, lk{m + " " + h + n.tmpl, st.requests, hours})
			}
		})
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
		have := model.Need{Requests: l.n, Hours: float64(int64(l.h*100+0.5)) / 100}
		r.Learning = append(r.Learning, model.ScopeReadiness{Key: l.key, Have: have, Missing: r.Requires.Minus(have)})
	}
	if !inv.changesReady.IsZero() {
		t := inv.changesReady.UTC()
		r.ReadyAt = &t
	}
	r.State = model.StateLearning
	if r.ReadyScopes > 0 || r.ReadyAt != nil {
		r.State = model.StateReady
	}
	return []model.Readiness{r}
}
