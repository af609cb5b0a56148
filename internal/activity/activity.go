// Package activity keeps a bounded per-subject summary of traffic for serve
// mode's attacker view: for each client address and each identity, requests
// per hour of event time, the endpoints it called, the identities behind an
// address and the addresses of an identity, answers by status class and
// the data classes found in its answers. It is a pipeline analyzer
// (deterministic, event time only); the server takes the subjects that
// changed at each checkpoint and the store merges them (internal/store).
//
// Memory is bounded by Config: at most MaxSubjects subjects (least
// recently active evicted first), and per subject at most MaxHours hourly
// buckets, MaxEndpoints endpoints, MaxPeers addresses or identities and
// MaxClasses data classes (the requests of what does not fit are counted,
// not kept). Endpoint references are shared between subjects. Measured
// (TestMemoryPerSubject): about 1 KB for a typical client (3 endpoints over
// 5 hours), about 8.6 KB with every bound full; so at most about 86 MB for
// the default 10,000 subjects, typically about 10 MB (docs/dashboard.md,
// "Attacker view").
package activity

import (
	"container/list"
	"errors"
	"sort"
	"strings"
	"time"

	"github.com/palisade-sec/palisade/internal/config"
	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/pipeline"
)

// Config bounds the tracker. It is the "activity" section of serve's
// configuration file (docs/configuration.md).
type Config struct {
	MaxSubjects  int `yaml:"max_subjects" doc:"subjects (client addresses and identities) whose activity summary is kept in memory, least recently active evicted first (≈1 KB typical, ≈8.6 KB at every bound)"`
	MaxHours     int `yaml:"max_hours" doc:"hourly buckets per subject (the newest kept)"`
	MaxEndpoints int `yaml:"max_endpoints" doc:"endpoints per subject (the requests of others are counted, not kept)"`
	MaxPeers     int `yaml:"max_peers" doc:"addresses per identity and identities per address"`
	MaxClasses   int `yaml:"max_classes" doc:"data classes per subject"`
}

// Validate implements config.Validator: every bound is positive.
func (c Config) Validate() error {
	var errs []error
	for _, b := range []struct {
		key string
		v   int
	}{{"max_subjects", c.MaxSubjects}, {"max_hours", c.MaxHours}, {"max_endpoints", c.MaxEndpoints},
		{"max_peers", c.MaxPeers}, {"max_classes", c.MaxClasses}} {
		if b.v <= 0 {
			errs = append(errs, config.Errorf(b.key, "must be positive"))
		}
	}
	return errors.Join(errs...)
}

// DefaultConfig returns the default bounds.
func DefaultConfig() Config {
	return Config{MaxSubjects: 10000, MaxHours: 168, MaxEndpoints: 32, MaxPeers: 16, MaxClasses: 16}
}

// withDefaults fills the bounds left at zero.
func (c Config) withDefaults() Config {
	d := DefaultConfig()
	for _, p := range []struct{ v, d *int }{{&c.MaxSubjects, &d.MaxSubjects}, {&c.MaxHours, &d.MaxHours},
		{&c.MaxEndpoints, &d.MaxEndpoints}, {&c.MaxPeers, &d.MaxPeers}, {&c.MaxClasses, &d.MaxClasses}} {
		if *p.v <= 0 {
			*p.v = *p.d
		}
	}
	return c
}

type key struct {
	kind uint8 // 0 client, 1 identity
	id   string
}

func (k key) kindName() string {
	if k.kind == 1 {
		return "identity"
	}
	return "client"
}

type endpointStat struct {
	ref         model.EndpointRef
	n, errs     int64
	first, last time.Time
}

type peerStat struct {
	id, name string
	n        int64
	last     time.Time
}

type subject struct {
	k           key
	name        string
	first, last time.Time
	hours       []model.HourCount // ascending
	status      [5]int64
	eps         []endpointStat
	epsOther    int64
	peers       []peerStat
	peersOther  int64
	classes     []string
	dirty       int64 // requests since last taken
	elem        *list.Element
}

// Tracker is the analyzer.
type Tracker struct {
	cfg   Config
	canon pipeline.EndpointResolver
	subs  map[key]*subject
	lru   *list.List // front = most recently active
	refs  map[model.EndpointRef]model.EndpointRef
	// LostDirty counts subjects evicted with activity not yet taken.
	LostDirty int64
}

// New returns a tracker; canon (the inventory, which resolves endpoint
// references to their current template) may be nil.
func New(cfg Config, canon pipeline.EndpointResolver) *Tracker {
	cfg = cfg.withDefaults()
	return &Tracker{cfg: cfg, canon: canon, subs: map[key]*subject{}, lru: list.New(), refs: map[model.EndpointRef]model.EndpointRef{}}
}

// Len is the number of subjects held.
func (t *Tracker) Len() int { return len(t.subs) }

// Observe implements pipeline.Analyzer.
func (t *Tracker) Observe(ev *event.Event) {
	if ev.Outbound {
		return // our own services calling third parties are not subjects
	}
	// Data classes in the answer, from the classification stage.
	var classes []string
	if ev.Classified && ev.Success() {
		for _, f := range ev.Sensitive {
			if f.Location&event.ResponseLocations != 0 && !f.Masked {
				classes = append(classes, f.Type)
			}
		}
	}
	ip := ""
	if ev.ClientIP.IsValid() {
		ip = ev.ClientIP.String()
		t.observe(key{0, ip}, "", ev, classes)
	}
	if idn := ev.Identity(); idn != nil && idn.ID != "" {
		s := t.observe(key{1, idn.ID}, idn.Name, ev, classes)
		if ip != "" {
			s.peers, s.peersOther = addPeer(s.peers, s.peersOther, ip, "", ev.Time, t.cfg.MaxPeers)
		}
		if ip != "" {
			c := t.subs[key{0, ip}]
			if c != nil {
				c.peers, c.peersOther = addPeer(c.peers, c.peersOther, idn.ID, idn.Name, ev.Time, t.cfg.MaxPeers)
			}
		}
	}
}

func (t *Tracker) observe(k key, name string, ev *event.Event, classes []string) *subject {
	s := t.subs[k]
	if s == nil {
		if len(t.subs) >= t.cfg.MaxSubjects {
			t.evict()
		}
		k.id = strings.Clone(k.id)
		s = &subject{k: k, first: ev.Time}
		s.elem = t.lru.PushFront(s)
		t.subs[k] = s
	} else {
		t.lru.MoveToFront(s.elem)
	}
	if name != "" && s.name != name {
		s.name = strings.Clone(name)
	}
	if ev.Time.Before(s.first) {
		s.first = ev.Time
	}
	if ev.Time.After(s.last) {
		s.last = ev.Time
	}
	s.dirty++
	t.hour(s, hourOf(ev.Time))
	s.status[statusClass(ev.Status)]++
	t.endpoint(s, ev)
	for _, c := range classes {
		if !contains(s.classes, c) && len(s.classes) < t.cfg.MaxClasses {
			s.classes = append(s.classes, strings.Clone(c))
		}
	}
	return s
}

func hourOf(t time.Time) int64 { return t.Unix() - t.Unix()%3600 }

func (t *Tracker) hour(s *subject, h int64) {
	n := len(s.hours)
	if n > 0 && s.hours[n-1].Hour == h {
		s.hours[n-1].Requests++
		return
	}
	i := sort.Search(n, func(i int) bool { return s.hours[i].Hour >= h })
	if i < n && s.hours[i].Hour == h {
		s.hours[i].Requests++
		return
	}
	if n >= t.cfg.MaxHours {
		if i == 0 {
			return // older than every kept hour: not kept
		}
		copy(s.hours, s.hours[1:i])
		s.hours[i-1] = model.HourCount{Hour: h, Requests: 1}
		return
	}
	s.hours = append(s.hours, model.HourCount{})
	copy(s.hours[i+1:], s.hours[i:])
	s.hours[i] = model.HourCount{Hour: h, Requests: 1}
}

func (t *Tracker) endpoint(s *subject, ev *event.Event) {
	bad := ev.Status >= 400
	ref := ev.Endpoint
	ref.ID = 0 // kept references carry no id (internRef)
	for i := range s.eps {
		e := &s.eps[i]
		if e.ref == ref {
			e.n++
			if bad {
				e.errs++
			}
			if ev.Time.After(e.last) {
				e.last = ev.Time
			}
			return
		}
	}
	if len(s.eps) >= t.cfg.MaxEndpoints {
		s.epsOther++
		return
	}
	e := endpointStat{ref: t.internRef(ev.Endpoint), n: 1, first: ev.Time, last: ev.Time}
	if bad {
		e.errs = 1
	}
	s.eps = append(s.eps, e)
}

// maxInterned bounds the endpoint references shared between subjects.
const maxInterned = 50000

// internRef returns one shared copy of an endpoint reference (subjects
// calling the same endpoints share its strings), a private copy once the
// table is full.
func (t *Tracker) internRef(r model.EndpointRef) model.EndpointRef {
	if c, ok := t.refs[r]; ok {
		return c
	}
	c := model.EndpointRef{Host: strings.Clone(r.Host), Method: strings.Clone(r.Method), Path: strings.Clone(r.Path)}
	if len(t.refs) < maxInterned {
		t.refs[c] = c
	}
	return c
}

func addPeer(ps []peerStat, other int64, id, name string, at time.Time, max int) ([]peerStat, int64) {
	for i := range ps {
		if ps[i].id == id {
			ps[i].n++
			if at.After(ps[i].last) {
				ps[i].last = at
			}
			if name != "" && ps[i].name != name {
				ps[i].name = strings.Clone(name)
			}
			return ps, other
		}
	}
	if len(ps) >= max {
		return ps, other + 1
	}
	return append(ps, peerStat{id: strings.Clone(id), name: strings.Clone(name), n: 1, last: at}), other
}

func (t *Tracker) evict() {
	el := t.lru.Back()
	if el == nil {
		return
	}
	s := el.Value.(*subject)
	if s.dirty > 0 {
		t.LostDirty++
	}
	t.lru.Remove(el)
	delete(t.subs, s.k)
}

func statusClass(code int) int {
	switch {
	case code >= 200 && code < 300:
		return 0
	case code >= 300 && code < 400:
		return 1
	case code >= 400 && code < 500:
		return 2
	case code >= 500 && code < 600:
		return 3
	}
	return 4
}

var statusNames = [5]string{"2xx", "3xx", "4xx", "5xx", "other"}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// Take returns the summaries of the subjects with activity not taken yet:
// at most n of them, those with the most new requests first (ties by kind
// and id), plus every subject pin reports true for (the subjects alerts
// name), and marks them taken. The others stay pending for the next call.
// Summaries are cumulative over what the tracker holds (the store merges
// them with what it has by maximum, so taking a subject twice is harmless).
func (t *Tracker) Take(n int, pin func(kind, id string) bool) []model.SubjectActivity {
	var cand []*subject
	for _, s := range t.subs {
		if s.dirty > 0 {
			cand = append(cand, s)
		}
	}
	sort.Slice(cand, func(i, j int) bool {
		a, b := cand[i], cand[j]
		if a.dirty != b.dirty {
			return a.dirty > b.dirty
		}
		if a.k.kind != b.k.kind {
			return a.k.kind < b.k.kind
		}
		return a.k.id < b.k.id
	})
	var out []model.SubjectActivity
	for i, s := range cand {
		if i >= n && (pin == nil || !pin(s.k.kindName(), s.k.id)) {
			continue
		}
		s.dirty = 0
		out = append(out, t.summary(s))
	}
	return out
}

// Pending is the number of subjects with activity not taken yet.
func (t *Tracker) Pending() int {
	n := 0
	for _, s := range t.subs {
		if s.dirty > 0 {
			n++
		}
	}
	return n
}

func (t *Tracker) summary(s *subject) model.SubjectActivity {
	a := model.SubjectActivity{Kind: s.k.kindName(), ID: s.k.id, Name: s.name, FirstSeen: s.first.UTC(), LastSeen: s.last.UTC(),
		Hours: append([]model.HourCount(nil), s.hours...), Status: map[string]int64{}, EndpointsOther: s.epsOther,
		DataClasses: append([]string(nil), s.classes...)}
	for i, n := range s.status {
		if n > 0 {
			a.Status[statusNames[i]] = n
		}
	}
	merged := map[model.EndpointRef]int{}
	for _, e := range s.eps {
		ref := e.ref
		if t.canon != nil {
			ref = t.canon.Resolve(ref)
		}
		if i, ok := merged[ref]; ok {
			m := &a.Endpoints[i]
			m.Requests += e.n
			m.Errors += e.errs
			if e.first.Before(m.FirstSeen) {
				m.FirstSeen = e.first.UTC()
			}
			if e.last.After(m.LastSeen) {
				m.LastSeen = e.last.UTC()
			}
			continue
		}
		merged[ref] = len(a.Endpoints)
		a.Endpoints = append(a.Endpoints, model.SubjectEndpoint{EndpointRef: ref, Requests: e.n, Errors: e.errs, FirstSeen: e.first.UTC(), LastSeen: e.last.UTC()})
	}
	SortEndpoints(a.Endpoints)
	peers := make([]model.SubjectPeer, 0, len(s.peers))
	for _, p := range s.peers {
		peers = append(peers, model.SubjectPeer{ID: p.id, Name: p.name, Requests: p.n, LastSeen: p.last.UTC()})
	}
	SortPeers(peers)
	if s.k.kind == 1 {
		a.Addresses, a.AddressesOther = peers, s.peersOther
	} else {
		a.Identities, a.IdentitiesOther = peers, s.peersOther
	}
	sort.Strings(a.DataClasses)
	return a
}

// SortEndpoints orders endpoints by requests (most first), then key.
func SortEndpoints(eps []model.SubjectEndpoint) {
	sort.Slice(eps, func(i, j int) bool {
		if eps[i].Requests != eps[j].Requests {
			return eps[i].Requests > eps[j].Requests
		}
		return eps[i].Key() < eps[j].Key()
	})
}

// SortPeers orders peers by requests (most first), then id.
func SortPeers(ps []model.SubjectPeer) {
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].Requests != ps[j].Requests {
			return ps[i].Requests > ps[j].Requests
		}
		return ps[i].ID < ps[j].ID
	})
}
