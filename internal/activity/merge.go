package activity

import (
	"sort"
	"time"

	"github.com/palisade-sec/palisade/internal/model"
)

// Merge combines what the store holds about a subject (old) with a newer
// summary of the same subject (cur) and returns the result, bounded by cfg.
// Summaries are cumulative, and after a restart the engine rebuilds them
// from the retained log only, so counts merge by maximum (per hour, per
// endpoint, per peer): merging the same summary twice changes nothing, and
// a rebuilt summary never lowers what was stored. First seen is the
// earliest, last seen the latest; data classes are the union.
func Merge(old, cur model.SubjectActivity, cfg Config) model.SubjectActivity {
	cfg = cfg.withDefaults()
	out := model.SubjectActivity{Kind: cur.Kind, ID: cur.ID, Name: cur.Name, FirstSeen: minTime(old.FirstSeen, cur.FirstSeen), LastSeen: maxTime(old.LastSeen, cur.LastSeen)}
	if out.Name == "" {
		out.Name = old.Name
	}
	hours := map[int64]int64{}
	for _, h := range old.Hours {
		hours[h.Hour] = max(hours[h.Hour], h.Requests)
	}
	for _, h := range cur.Hours {
		hours[h.Hour] = max(hours[h.Hour], h.Requests)
	}
	for h, n := range hours {
		out.Hours = append(out.Hours, model.HourCount{Hour: h, Requests: n})
	}
	sort.Slice(out.Hours, func(i, j int) bool { return out.Hours[i].Hour < out.Hours[j].Hour })
	if len(out.Hours) > cfg.MaxHours {
		out.Hours = out.Hours[len(out.Hours)-cfg.MaxHours:]
	}
	if len(old.Status)+len(cur.Status) > 0 {
		out.Status = map[string]int64{}
		for k, v := range old.Status {
			out.Status[k] = v
		}
		for k, v := range cur.Status {
			out.Status[k] = max(out.Status[k], v)
		}
	}
	eps := map[model.EndpointRef]model.SubjectEndpoint{}
	for _, e := range append(append([]model.SubjectEndpoint(nil), old.Endpoints...), cur.Endpoints...) {
		m, ok := eps[e.EndpointRef]
		if !ok {
			eps[e.EndpointRef] = e
			continue
		}
		m.Requests, m.Errors = max(m.Requests, e.Requests), max(m.Errors, e.Errors)
		m.FirstSeen, m.LastSeen = minTime(m.FirstSeen, e.FirstSeen), maxTime(m.LastSeen, e.LastSeen)
		eps[e.EndpointRef] = m
	}
	for _, e := range eps {
		out.Endpoints = append(out.Endpoints, e)
	}
	SortEndpoints(out.Endpoints)
	out.EndpointsOther = max(old.EndpointsOther, cur.EndpointsOther)
	for _, e := range cut(&out.Endpoints, cfg.MaxEndpoints) {
		out.EndpointsOther += e.Requests
	}
	out.Addresses, out.AddressesOther = mergePeers(old.Addresses, cur.Addresses, old.AddressesOther, cur.AddressesOther, cfg.MaxPeers)
	out.Identities, out.IdentitiesOther = mergePeers(old.Identities, cur.Identities, old.IdentitiesOther, cur.IdentitiesOther, cfg.MaxPeers)
	for _, c := range append(append([]string(nil), old.DataClasses...), cur.DataClasses...) {
		if !contains(out.DataClasses, c) && len(out.DataClasses) < cfg.MaxClasses {
			out.DataClasses = append(out.DataClasses, c)
		}
	}
	sort.Strings(out.DataClasses)
	return out
}

func mergePeers(a, b []model.SubjectPeer, ao, bo int64, maxN int) ([]model.SubjectPeer, int64) {
	m := map[string]model.SubjectPeer{}
	for _, p := range append(append([]model.SubjectPeer(nil), a...), b...) {
		q, ok := m[p.ID]
		if !ok {
			m[p.ID] = p
			continue
		}
		q.Requests, q.LastSeen = max(q.Requests, p.Requests), maxTime(q.LastSeen, p.LastSeen)
		if p.Name != "" {
			q.Name = p.Name
		}
		m[p.ID] = q
	}
	var out []model.SubjectPeer
	for _, p := range m {
		out = append(out, p)
	}
	SortPeers(out)
	other := max(ao, bo)
	if len(out) > maxN {
		for _, p := range out[maxN:] {
			other += p.Requests
		}
		out = out[:maxN]
	}
	return out, other
}

func cut[T any](xs *[]T, n int) []T {
	if len(*xs) <= n {
		return nil
	}
	rest := append([]T(nil), (*xs)[n:]...)
	*xs = (*xs)[:n]
	return rest
}

// Requests is the total of a summary's hourly buckets.
func Requests(a *model.SubjectActivity) int64 {
	var n int64
	for _, h := range a.Hours {
		n += h.Requests
	}
	return n
}

// DropPeer removes one address (or identity) from a summary, counting its
// requests with the others; it reports whether it was there (erasure).
func DropPeer(a *model.SubjectActivity, id string) bool {
	return dropPeers(a, func(p model.SubjectPeer) bool { return p.ID == id }) > 0
}

// DropPeersBefore removes the peers last seen before t (retention of
// client addresses), counting their requests with the others.
func DropPeersBefore(a *model.SubjectActivity, t time.Time) int {
	return dropPeers(a, func(p model.SubjectPeer) bool { return p.LastSeen.Before(t) })
}

func dropPeers(a *model.SubjectActivity, drop func(model.SubjectPeer) bool) int {
	n := 0
	keep := func(ps []model.SubjectPeer, other *int64) []model.SubjectPeer {
		out := ps[:0]
		for _, p := range ps {
			if drop(p) {
				*other += p.Requests
				n++
				continue
			}
			out = append(out, p)
		}
		return out
	}
	a.Addresses = keep(a.Addresses, &a.AddressesOther)
	a.Identities = keep(a.Identities, &a.IdentitiesOther)
	return n
}

func minTime(a, b time.Time) time.Time {
	if a.IsZero() || !b.IsZero() && b.Before(a) {
		return b
	}
	return a
}

func maxTime(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}
