package cluster

import (
	"sort"
	"time"

	"github.com/palisade-sec/palisade/internal/activity"
	"github.com/palisade-sec/palisade/internal/alert"
	"github.com/palisade-sec/palisade/internal/detect"
	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/posture"
)

// Merge assembles the report of the whole deployment from the partitions'
// partials: the report `palisade analyze` gives for the records they
// cover. It is a pure function of the partials (their order does not
// matter), so merging again after a replay changes nothing.
//
//   - endpoints, probes and findings come from the endpoint partitions,
//     which own disjoint hosts: they are put side by side (hosts in order);
//   - alerts of one identity (type, subject, endpoint) raised in several
//     partitions (a client-wide type such as intel.tor_exit_node, for a
//     client calling hosts of several partitions) are folded as the
//     detection emitter folds repeats; the population stage's alerts name
//     the endpoint template of their first event, which is resolved to
//     its final template through the endpoint partitions' maps;
//   - risk scores are computed over the merged endpoints, alerts and
//     findings.
//
// mergedFields (merge_test.go) lists the report fields handled here: a
// field added to model.Report fails that test until Merge handles it.
func Merge(parts []*Partial, generatedAt time.Time) *model.Report {
	ps := append([]*Partial(nil), parts...)
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].Stage != ps[j].Stage {
			return ps[i].Stage < ps[j].Stage // endpoint before population
		}
		return ps[i].Part < ps[j].Part
	})
	r := &model.Report{GeneratedAt: generatedAt.UTC()}
	canon := map[model.EndpointRef]model.EndpointRef{}
	byHost := map[string][]model.Endpoint{}
	var hosts []string
	var alerts []model.Alert
	for _, p := range ps {
		if p.Report == nil {
			continue
		}
		for _, c := range p.Canonical {
			canon[c.From] = c.To
		}
	}
	for _, p := range ps {
		rep := p.Report
		if rep == nil {
			continue
		}
		mergeInput(&r.Input, &rep.Input)
		for _, e := range rep.Endpoints {
			if _, ok := byHost[e.Host]; !ok {
				hosts = append(hosts, e.Host)
			}
			byHost[e.Host] = append(byHost[e.Host], e)
		}
		for _, a := range rep.Alerts {
			if p.Stage == "population" && a.Endpoint != nil {
				if c, ok := canon[*a.Endpoint]; ok {
					ep := c
					a.Endpoint = &ep
				}
			}
			alerts = append(alerts, a)
		}
		r.Findings = append(r.Findings, rep.Findings...)
		r.Probes = append(r.Probes, rep.Probes...)
		r.Hosts = append(r.Hosts, rep.Hosts...)
		r.Outbound = append(r.Outbound, rep.Outbound...)
		r.APIChange = append(r.APIChange, rep.APIChange...)
		if len(r.Intel) == 0 {
			r.Intel = rep.Intel
		}
		for k, v := range rep.AnalysisDropped {
			if r.AnalysisDropped == nil {
				r.AnalysisDropped = map[string]int64{}
			}
			r.AnalysisDropped[k] += v
		}
	}
	sort.Strings(hosts)
	for _, h := range hosts {
		r.Endpoints = append(r.Endpoints, byHost[h]...)
	}
	r.Alerts = foldAlerts(alerts)
	posture.SortFindings(r.Findings)
	sort.SliceStable(r.Hosts, func(i, j int) bool { return r.Hosts[i].Host < r.Hosts[j].Host })
	sort.SliceStable(r.Outbound, func(i, j int) bool { return r.Outbound[i].Host < r.Outbound[j].Host })
	sort.SliceStable(r.Probes, func(i, j int) bool {
		a, b := r.Probes[i], r.Probes[j]
		if a.Host != b.Host {
			return a.Host < b.Host
		}
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Method < b.Method
	})
	sort.SliceStable(r.APIChange, func(i, j int) bool { return r.APIChange[i].Time.Before(r.APIChange[j].Time) })
	posture.Score(r.Endpoints, r.Alerts, r.Findings)
	mergeReadiness(r, ps, canon)
	return r
}

func mergeInput(dst, src *model.Input) {
	dst.Records += src.Records
	dst.Rejected += src.Rejected
	dst.Bytes += src.Bytes
	dst.Late += src.Late
	if src.From != nil && (dst.From == nil || src.From.Before(*dst.From)) {
		f := *src.From
		dst.From = &f
	}
	if src.To != nil && (dst.To == nil || src.To.After(*dst.To)) {
		t := *src.To
		dst.To = &t
	}
	dst.Files = append(dst.Files, src.Files...)
	for _, e := range src.Errors {
		if len(dst.Errors) < 20 {
			dst.Errors = append(dst.Errors, e)
		}
	}
	for k, v := range src.Dropped {
		if dst.Dropped == nil {
			dst.Dropped = map[string]int64{}
		}
		dst.Dropped[k] += v
	}
	for k, v := range src.Decoded {
		if dst.Decoded == nil {
			dst.Decoded = map[string]int64{}
		}
		dst.Decoded[k] += v
	}
}

// foldAlerts folds alerts of one identity as the detection emitter folds
// repeats of one alert (engine.canonicalAlerts): counts add up, first and
// last seen widen, the highest confidence and severity win, the evidence
// of the strongest observation (the earliest on a tie) is kept, samples
// are the earliest MaxSamples, client addresses add up.
func foldAlerts(in []model.Alert) []model.Alert {
	byKey := map[string]int{}
	var out []model.Alert
	for _, a := range in {
		k := alert.Key(&a)
		i, ok := byKey[k]
		if !ok {
			a.ID = alert.ID(k)
			byKey[k] = len(out)
			out = append(out, a)
			continue
		}
		o := &out[i]
		first := a.FirstSeen.Before(o.FirstSeen)
		strongerNew := detect.StrongerEvidence(a.Evidence, o.Evidence) || !detect.StrongerEvidence(o.Evidence, a.Evidence) && first && comparable(a.Evidence, o.Evidence)
		if strongerNew || first && !comparable(a.Evidence, o.Evidence) {
			samples := o.Evidence.Samples
			o.Evidence = a.Evidence
			o.Evidence.Samples = samples
		}
		if first {
			if a.Identity != nil {
				o.Identity = a.Identity
			}
			if a.Title != "" && o.LastSeen.Before(a.LastSeen) {
				o.Title = a.Title
			}
		} else if a.LastSeen.After(o.LastSeen) && a.Title != "" {
			o.Title = a.Title
		}
		o.Count += a.Count
		if first {
			o.FirstSeen = a.FirstSeen
		}
		if a.LastSeen.After(o.LastSeen) {
			o.LastSeen = a.LastSeen
		}
		if a.Confidence > o.Confidence {
			o.Confidence = a.Confidence
		}
		if model.SeverityRank(a.Severity) > model.SeverityRank(o.Severity) {
			o.Severity = a.Severity
		}
		s := append(append([]model.Sample(nil), o.Evidence.Samples...), a.Evidence.Samples...)
		sort.SliceStable(s, func(i, j int) bool { return s[i].Time.Before(s[j].Time) })
		if len(s) > detect.MaxSamples {
			s = s[:detect.MaxSamples]
		}
		o.Evidence.Samples = s
		mergeClients(o, &a)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].FirstSeen.Equal(out[j].FirstSeen) {
			return out[i].FirstSeen.Before(out[j].FirstSeen)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

func comparable(a, b model.Evidence) bool {
	_, ok1 := detect.EvidenceNumber(a.Observed)
	_, ok2 := detect.EvidenceNumber(b.Observed)
	return ok1 && ok2
}

// catalogueSubject is the subject the alert catalogue gives a type name
// ("" for a name it does not know).
func catalogueSubject(typ string) string {
	if t, ok := alert.Parse(typ); ok {
		if spec, ok := alert.Lookup(t); ok {
			return spec.Subject
		}
	}
	return ""
}

// mergeClients adds a's client addresses to o's (most events first, at
// most model.MaxAlertClients named).
func mergeClients(o, a *model.Alert) {
	if len(a.Clients) == 0 && a.ClientsOther == 0 {
		return
	}
	counts := map[string]int64{}
	fresh := map[string]bool{}
	var order []string
	for _, list := range [][]model.ClientCount{o.Clients, a.Clients} {
		for _, c := range list {
			if _, ok := counts[c.IP]; !ok {
				order = append(order, c.IP)
			}
			counts[c.IP] += c.Count
			fresh[c.IP] = fresh[c.IP] || c.New
		}
	}
	o.ClientsOther += a.ClientsOther
	o.ClientsOtherNew += a.ClientsOtherNew
	o.Clients = o.Clients[:0:0]
	for _, ip := range order {
		o.Clients = append(o.Clients, model.ClientCount{IP: ip, Count: counts[ip], New: fresh[ip]})
	}
	sort.SliceStable(o.Clients, func(i, j int) bool {
		if o.Clients[i].Count != o.Clients[j].Count {
			return o.Clients[i].Count > o.Clients[j].Count
		}
		return o.Clients[i].IP < o.Clients[j].IP
	})
	if len(o.Clients) > model.MaxAlertClients {
		for _, c := range o.Clients[model.MaxAlertClients:] {
			o.ClientsOther += c.Count
			if c.New {
				o.ClientsOtherNew += c.Count
			}
		}
		o.Clients = o.Clients[:model.MaxAlertClients]
	}
	if o.Subject == "identity" && len(o.Clients) > 0 && catalogueSubject(o.Type) == "client" {
		// a client type that followed a principal (detect.Emitter.Emit);
		// an alert about the identity itself names no client
		o.Client = nil
		if lead := model.LeadClient(o.Clients, o.ClientsOther, o.ClientsOtherNew); lead != "" {
			o.Client = &model.ClientRef{IP: lead}
		}
	}
}

// MergeSubjects returns the activity summaries of the partials (the
// population stage's), their endpoint references resolved to final
// templates through the endpoint partitions' maps (references that became
// one template are added up, as the tracker adds them up in analyze).
func MergeSubjects(parts []*Partial) []model.SubjectActivity {
	canon := map[model.EndpointRef]model.EndpointRef{}
	for _, p := range parts {
		for _, c := range p.Canonical {
			canon[c.From] = c.To
		}
	}
	var out []model.SubjectActivity
	for _, p := range parts {
		for _, a := range p.Subjects {
			idx := map[model.EndpointRef]int{}
			var eps []model.SubjectEndpoint
			for _, e := range a.Endpoints {
				if c, ok := canon[e.EndpointRef]; ok {
					e.EndpointRef = c
				}
				if i, ok := idx[e.EndpointRef]; ok {
					m := &eps[i]
					m.Requests += e.Requests
					m.Errors += e.Errors
					if e.FirstSeen.Before(m.FirstSeen) {
						m.FirstSeen = e.FirstSeen
					}
					if e.LastSeen.After(m.LastSeen) {
						m.LastSeen = e.LastSeen
					}
					continue
				}
				idx[e.EndpointRef] = len(eps)
				eps = append(eps, e)
			}
			activity.SortEndpoints(eps)
			a.Endpoints = eps
			out = append(out, a)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].Kind != out[j].Kind {
			return out[i].Kind < out[j].Kind
		}
		return out[i].ID < out[j].ID
	})
	return out
}
