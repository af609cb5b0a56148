package cluster

import (
	"sort"
	"strings"

	"github.com/palisade-sec/palisade/internal/detect"
	"github.com/palisade-sec/palisade/internal/model"
)

// Readiness in a clustered deployment. Every baseline lives in exactly one
// stage, with the same state it has in `palisade analyze`:
//
//   - the baselines of the population families (authabuse, bfla, spray)
//     come from the population stage, which sees every event;
//   - per-endpoint and per-parameter baselines of the endpoint stage's
//     families (and the inventory's and posture's) are split by host, so
//     each scope is in one partition: scope counts add up, the first
//     ready time is the earliest, and the learning scopes nearest to ready
//     are the nearest of every partition's nearest;
//   - population-scope baselines of the endpoint stage (upstream's known
//     outbound destinations) see their whole input in one partition (all
//     outbound calls share one): the partition furthest along is kept.
//
// Hours to ready are counted from the start of the whole input.

// popFamily reports whether a readiness entry belongs to a population
// family (reported by the population stage only).
func popFamily(r *model.Readiness) bool {
	if r.Analyzer != "detect" {
		return false
	}
	for _, f := range populationFamilies {
		if f == r.Detector {
			return true
		}
	}
	return false
}

// mergeReadiness merges the partials' readiness (stages in the order of
// Merge's sort) into the report r, whose Input is already merged.
func mergeReadiness(r *model.Report, ps []*Partial, canon map[model.EndpointRef]model.EndpointRef) {
	type key struct{ analyzer, detector, baseline string }
	idx := map[key]int{}
	var out []model.Readiness
	for _, p := range ps {
		if p.Report == nil {
			continue
		}
		for _, b := range p.Report.Readiness {
			if popFamily(&b) != (p.Stage == "population") {
				continue
			}
			if p.Stage == "population" {
				b = rekeyScopes(b, canon)
			}
			k := key{b.Analyzer, b.Detector, b.Baseline}
			i, ok := idx[k]
			if !ok {
				idx[k] = len(out)
				b.Learning = append([]model.ScopeReadiness(nil), b.Learning...)
				out = append(out, b)
				continue
			}
			out[i] = combineReadiness(out[i], b)
		}
	}
	// In the engine's order: the inventory, posture, then the detection
	// families in registry order (each family's baselines come from one
	// stage, in its order).
	rank := func(b *model.Readiness) int {
		switch b.Analyzer {
		case "inventory":
			return -2
		case "posture":
			return -1
		}
		for i, f := range detect.Families() {
			if f == b.Detector {
				return i
			}
		}
		return len(detect.Families())
	}
	sort.SliceStable(out, func(i, j int) bool { return rank(&out[i]) < rank(&out[j]) })
	for i := range out {
		b := &out[i]
		b.HoursToReady = nil
		if b.ReadyAt != nil && r.Input.From != nil {
			h := b.ReadyAt.Sub(*r.Input.From).Hours()
			if h < 0 {
				h = 0
			}
			h = float64(int64(h*100+0.5)) / 100
			b.HoursToReady = &h
		}
		if len(b.Learning) == 0 {
			b.Learning = nil
		}
	}
	r.Readiness = out
}

// combineReadiness merges two partitions' entries of one baseline.
func combineReadiness(a, b model.Readiness) model.Readiness {
	if a.Scope == "population" {
		// One partition holds the baseline's input: keep the one furthest
		// along (ready earliest, else nearest to ready).
		switch {
		case a.ReadyAt != nil && b.ReadyAt != nil:
			if b.ReadyAt.Before(*a.ReadyAt) {
				return b
			}
			return a
		case a.ReadyAt != nil:
			return a
		case b.ReadyAt != nil:
			return b
		}
		if progress(b) > progress(a) {
			return b
		}
		return a
	}
	a.ReadyScopes += b.ReadyScopes
	a.LearningScopes += b.LearningScopes
	if b.ReadyAt != nil && (a.ReadyAt == nil || b.ReadyAt.Before(*a.ReadyAt)) {
		t := *b.ReadyAt
		a.ReadyAt = &t
	}
	if a.ReadyScopes > 0 || a.ReadyAt != nil {
		a.State = model.StateReady
	}
	// The nearest learning scopes of each partition, re-ranked as a tally
	// ranks them (progress, then key).
	l := append(a.Learning, b.Learning...)
	sort.SliceStable(l, func(i, j int) bool {
		pi, pj := a.Requires.Progress(l[i].Have), a.Requires.Progress(l[j].Have)
		if pi != pj {
			return pi > pj
		}
		return l[i].Key < l[j].Key
	})
	if len(l) > model.MaxListedScopes {
		l = l[:model.MaxListedScopes]
	}
	a.Learning = l
	return a
}

func progress(r model.Readiness) float64 {
	if r.Have == nil {
		return 0
	}
	return r.Requires.Progress(*r.Have)
}

// rekeyScopes maps the population stage's scope keys ("METHOD host/path[
// suffix]", named by the template an event had when the endpoint stage
// forwarded it) to final templates, as the engine re-keys its own.
func rekeyScopes(b model.Readiness, canon map[model.EndpointRef]model.EndpointRef) model.Readiness {
	if len(b.Learning) == 0 {
		return b
	}
	seen := map[string]bool{}
	var kept []model.ScopeReadiness
	for _, sc := range b.Learning {
		sc.Key = rekey(sc.Key, canon)
		if seen[sc.Key] {
			continue
		}
		seen[sc.Key] = true
		kept = append(kept, sc)
	}
	b.Learning = kept
	return b
}

func rekey(k string, canon map[model.EndpointRef]model.EndpointRef) string {
	method, rest, ok := strings.Cut(k, " ")
	if !ok {
		return k
	}
	hp, suffix, _ := strings.Cut(rest, " ")
	ref := model.EndpointRef{Method: method, Host: hp}
	if i := strings.IndexByte(hp, '/'); i >= 0 {
		ref.Host, ref.Path = hp[:i], hp[i:]
	}
	if c, ok := canon[ref]; ok {
		ref = c
	}
	if suffix != "" {
		return ref.Key() + " " + suffix
	}
	return ref.Key()
}
