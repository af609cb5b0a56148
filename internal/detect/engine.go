// Package detect is the streaming detection engine. Each alert family lives
// in its own file and implements Detector; the engine runs every event
// through all detectors in event time and folds repeats into one alert per
// (type, subject, endpoint).
package detect

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/palisade-sec/palisade/internal/alert"
	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/hashing"
	"github.com/palisade-sec/palisade/internal/model"
)

// Detector is one alert family.
type Detector interface {
	Name() string
	Observe(ev *event.Event, out *Emitter)
}

// Finisher is implemented by detectors that hold open windows: Finish
// reports what their fired windows hold and have not reported yet (the
// remainder a window reports when it closes), at the end of the input.
//
// When out.Preview() is true the call is a look, not an end: the detector
// emits the same hits but changes none of its own state, so that reporting
// at a checkpoint (serve mode) does not perturb the windows and the result
// does not depend on when checkpoints happen. The engine's Alerts uses it.
type Finisher interface {
	Finish(at time.Time, out *Emitter)
}

// Hit is what a detector reports. The emitter fills the catalogue fields
// (title, OWASP, MITRE, remediation, default severity) and folds repeats.
type Hit struct {
	Type       alert.Type
	Time       time.Time
	Severity   string  // optional override of the catalogue default
	Confidence float64 // 0–1
	Title      string  // optional override
	Client     string  // client IP of the event reported (for client subjects, the subject)
	// Clients, when set, are the client addresses behind the Count events
	// this hit stands for (ClientsOther: events of addresses not named);
	// when nil, all of them came from Client. See attrib.go.
	Clients      []model.ClientCount
	ClientsOther int64
	// ClientsOtherNew: of the ClientsOther events, those from addresses
	// new to the hit's principal (model.Alert.ClientsOtherNew).
	ClientsOtherNew int64
	// Subject overrides the catalogue's subject: "identity" when a family
	// of a client type followed an authenticated principal (the alert then
	// folds on the principal, and client names the address that carried
	// most of the alert's events).
	Subject  string
	Identity *model.IdentityRef
	Endpoint *model.EndpointRef
	Evidence model.Evidence
	Sample   *model.Sample // a redacted sample request to keep (at most a few per alert)
	Count    int64         // events this hit stands for (default 1)
}

// MaxSamples kept per alert.
const MaxSamples = 5

// Emitter folds hits into alerts: one alert per (type, subject, endpoint),
// or per (type, subject) for the subject-wide types (see alert.PerEndpoint).
type Emitter struct {
	alerts map[string]*model.Alert
	order  []string
	// OnAlert, when set, is called after a hit creates or updates an alert
	// (serve mode streams alerts to sinks from here).
	OnAlert func(a *model.Alert, created bool)
	preview bool
}

// Preview reports whether the emitter is a look at the pending state (see
// Finisher): detectors emit into it but must not commit what they emit.
func (e *Emitter) Preview() bool { return e.preview }

// previewCopy returns an emitter holding copies of e's alerts, in preview
// mode: hits folded into it leave e untouched.
func (e *Emitter) previewCopy() *Emitter {
	c := &Emitter{alerts: make(map[string]*model.Alert, len(e.alerts)), order: e.order[:len(e.order):len(e.order)], preview: true}
	for k, a := range e.alerts {
		cp := *a
		cp.Evidence.Samples = cp.Evidence.Samples[:len(cp.Evidence.Samples):len(cp.Evidence.Samples)]
		cp.Clients = slices.Clone(a.Clients) // counted in place by addClients
		c.alerts[k] = &cp
	}
	return c
}

// NewEmitter returns an empty emitter.
func NewEmitter() *Emitter { return &Emitter{alerts: map[string]*model.Alert{}} }

// FoldKey is the identity of the alert h folds into (alert.FoldKey);
// subject is the subject of h's type.
func FoldKey(h *Hit, subject string) string {
	id := ""
	if h.Identity != nil {
		id = h.Identity.ID
	}
	return alert.FoldKey(h.Type.String(), subject, h.Client, id, h.Endpoint)
}

// Emit records a hit.
func (e *Emitter) Emit(h Hit) {
	spec, ok := alert.Lookup(h.Type)
	if !ok { // only the zero Type: every constant is catalogued (alert.TestCatalogue)
		panic(fmt.Sprintf("detect: hit without a catalogued alert type (%d)", h.Type))
	}
	if h.Count <= 0 {
		h.Count = 1
	}
	subject := spec.Subject
	if h.Subject != "" && h.Subject != subject {
		if h.Subject != "identity" || spec.Subject != "client" || h.Identity == nil || h.Identity.ID == "" {
			panic(fmt.Sprintf("detect: %s hit with subject %q (only a client type may follow an identity, and the hit must name it)", spec.Name, h.Subject))
		}
		subject = h.Subject
	}
	key := FoldKey(&h, subject)
	a, exists := e.alerts[key]
	if !exists {
		a = &model.Alert{
			ID: alert.ID(key), Type: spec.Name, Title: spec.Title, Severity: spec.Severity,
			OWASP: spec.OWASP, MITRE: spec.MITRE, Remediation: spec.Remediation, Subject: subject,
			FirstSeen: h.Time, LastSeen: h.Time, Status: "open",
		}
		if h.Client != "" && subject == "client" {
			a.Client = &model.ClientRef{IP: strings.Clone(h.Client)}
		}
		e.alerts[key] = a
		e.order = append(e.order, key)
	}
	addClients(a, &h)
	if subject != spec.Subject && len(a.Clients) > 0 {
		// A client type following a principal: client is one of clients[],
		// the busiest, or the busiest address new to the principal when the
		// new ones carry a fair share (model.LeadClient).
		switch lead := model.LeadClient(a.Clients, a.ClientsOther, a.ClientsOtherNew); {
		case lead == "":
			a.Client = nil
		case a.Client == nil || a.Client.IP != lead:
			a.Client = &model.ClientRef{IP: lead}
		}
	}
	if h.Title != "" {
		a.Title = h.Title
	}
	if h.Severity != "" && model.SeverityRank(h.Severity) > model.SeverityRank(a.Severity) || (!exists && h.Severity != "") {
		a.Severity = h.Severity
	}
	if h.Confidence > a.Confidence {
		a.Confidence = h.Confidence
	}
	if h.Identity != nil && a.Identity == nil {
		id := *h.Identity
		id.ID, id.Kind, id.Name = strings.Clone(id.ID), strings.Clone(id.Kind), strings.Clone(id.Name)
		a.Identity = &id
	}
	if h.Endpoint != nil && a.Endpoint == nil {
		ep := keepRef(*h.Endpoint)
		a.Endpoint = &ep
	}
	if h.Time.Before(a.FirstSeen) {
		a.FirstSeen = h.Time
	}
	if h.Time.After(a.LastSeen) {
		a.LastSeen = h.Time
	}
	a.Count += h.Count
	// Keep the evidence of the strongest observation (first one by default,
	// replaced when a later hit carries a higher observed value).
	if !exists || StrongerEvidence(h.Evidence, a.Evidence) {
		samples := a.Evidence.Samples
		a.Evidence = keepEvidence(h.Evidence)
		a.Evidence.Samples = samples
	}
	if h.Sample != nil && len(a.Evidence.Samples) < MaxSamples {
		a.Evidence.Samples = append(a.Evidence.Samples, keepSample(*h.Sample))
	}
	if e.OnAlert != nil {
		e.OnAlert(a, !exists)
	}
}

// The alert keeps what it is given: its strings are copied when stored,
// so that none is a view of an event's text (the families build evidence
// from parameter names, header values, hosts and methods of the event).

// keepEvidence returns ev with its string values (and those of its
// details, in place) copied.
func keepEvidence(ev model.Evidence) model.Evidence {
	ev.Observed, ev.Baseline, ev.Threshold = keepAny(ev.Observed), keepAny(ev.Baseline), keepAny(ev.Threshold)
	ev.Window, ev.Reason = strings.Clone(ev.Window), strings.Clone(ev.Reason)
	for k, v := range ev.Details {
		switch v.(type) {
		case string, []string:
			ev.Details[k] = keepAny(v)
		}
	}
	return ev
}

func keepAny(v any) any {
	switch x := v.(type) {
	case string:
		return strings.Clone(x)
	case []string:
		c := make([]string, len(x))
		for i, s := range x {
			c[i] = strings.Clone(s)
		}
		return c
	}
	return v
}

// keepSample returns s with its strings copied.
func keepSample(s model.Sample) model.Sample {
	s.Method, s.URL, s.Client, s.Note = keepMethod(s.Method), strings.Clone(s.URL), strings.Clone(s.Client), strings.Clone(s.Note)
	return s
}

// StrongerEvidence reports whether n's observed value is a number above
// o's (the emitter keeps the strongest observation of a repeated alert).
func StrongerEvidence(n, o model.Evidence) bool {
	nv, ok1 := EvidenceNumber(n.Observed)
	ov, ok2 := EvidenceNumber(o.Observed)
	return ok1 && ok2 && nv > ov
}

// EvidenceNumber is an observed value as a number, when it is one.
func EvidenceNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	}
	return 0, false
}

// Alerts returns the folded alerts, ordered by first_seen then id.
func (e *Emitter) Alerts() []model.Alert {
	out := make([]model.Alert, 0, len(e.alerts))
	for _, k := range e.order {
		out = append(out, *e.alerts[k])
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].FirstSeen.Equal(out[j].FirstSeen) {
			return out[i].FirstSeen.Before(out[j].FirstSeen)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Engine runs detectors.
type Engine struct {
	detectors []Detector
	out       *Emitter
	last      time.Time
	keys      evKeys
}

// NewEngine returns an engine running the given detectors in order.
//
// Families of one engine share the per-event keys (endpoint, client and
// principal hashes are computed once per event), and the traffic and
// latency families share one (client, endpoint) table: both key on the
// pair and look it up on every event, so one lookup and one entry serve
// both (one budget, Config.MaxTrackedClients).
func NewEngine(ds ...Detector) *Engine {
	g := &Engine{detectors: ds, out: NewEmitter()}
	var tr *trafficDetector
	var lat *latencyDetector
	for _, d := range ds {
		if k, ok := d.(interface{ attachKeys(*evKeys) }); ok {
			k.attachKeys(&g.keys)
		}
		switch x := d.(type) {
		case *trafficDetector:
			tr = x
		case *latencyDetector:
			lat = x
		}
	}
	if lat != nil {
		lat.shared = nil // its own table, unless the traffic family runs too
		if tr != nil {
			lat.shared = tr.clients
		}
	}
	return g
}

// evKeys are the keys of the event being observed, computed at most once
// per event by whichever family asks first. The engine resets them for
// every event; a family observing on its own (no engine) has none and
// computes its keys itself (all methods accept a nil receiver).
type evKeys struct {
	ev    *event.Event
	have  uint8
	eh    uint64 // endpointHash
	ih    uint64 // ipHash of the client address
	idh   uint64 // hashing.String of the principal id (0 when anonymous)
	role  uint64 // roleGroup
	ce    *clientEP
	ceTab *lru[clientEP]
	bufs  *evBufs // per-event lists (evlists.go); kept from event to event
	// the request scan of the injection and SSRF families (see scanShared)
	scan       *requestScan
	scanLim    PartLimits
	scanIgnore string
}

const (
	haveEndpoint = 1 << iota
	haveIP
	haveIdentity
)

// keyed is embedded by families that use the shared per-event keys. A
// family observing on its own (no engine) keeps private keys, reset at
// every call (begin), so it computes each key once per event too.
type keyed struct {
	keys *evKeys
	own  bool
}

func (k *keyed) attachKeys(x *evKeys) { k.keys, k.own = x, false }

// begin prepares the keys for ev (call it first in Observe).
func (k *keyed) begin(ev *event.Event) {
	if k.keys == nil {
		k.keys, k.own = &evKeys{}, true
	}
	if k.own {
		*k.keys = evKeys{ev: ev, bufs: k.keys.bufs}
	}
}

func (k *evKeys) valid(ev *event.Event) bool { return k != nil && k.ev == ev }

func (k *evKeys) endpoint(ev *event.Event) uint64 {
	if !k.valid(ev) {
		return endpointHash(ev)
	}
	if k.have&haveEndpoint == 0 {
		k.eh, k.have = endpointHash(ev), k.have|haveEndpoint
	}
	return k.eh
}

func (k *evKeys) ip(ev *event.Event) uint64 {
	if !k.valid(ev) {
		return hashing.Addr(ev.ClientIP)
	}
	if k.have&haveIP == 0 {
		k.ih, k.have = hashing.Addr(ev.ClientIP), k.have|haveIP
	}
	return k.ih
}

// identity is hashing.String of the principal id (0 when anonymous).
func (k *evKeys) identity(ev *event.Event) uint64 {
	id := ev.Auth.Identity
	if id == nil {
		return 0
	}
	if !k.valid(ev) {
		return hashing.String(id.ID)
	}
	if k.have&haveIdentity == 0 {
		k.idh, k.have = hashing.String(id.ID), k.have|haveIdentity
	}
	return k.idh
}

// subject is subjectKey: the principal when there is one, else the client
// address.
func (k *evKeys) subject(ev *event.Event) (uint64, bool) {
	if id := ev.Auth.Identity; id != nil && id.ID != "" {
		return k.identity(ev), true
	}
	return k.ip(ev), false
}

// clientEndpoint returns the (client, endpoint) entry of tab for ev,
// creating it; one lookup per event and table.
func (k *evKeys) clientEndpoint(ev *event.Event, tab *lru[clientEP]) *clientEP {
	if k.valid(ev) && k.ce != nil && k.ceTab == tab {
		return k.ce
	}
	e, _ := tab.GetOrAdd(hashing.Pair(k.ip(ev), k.endpoint(ev)))
	if k.valid(ev) {
		k.ce, k.ceTab = e, tab
	}
	return e
}

// Emitter returns the engine's emitter.
func (g *Engine) Emitter() *Emitter { return g.out }

// Observe implements pipeline.Analyzer.
func (g *Engine) Observe(ev *event.Event) {
	if ev.Time.After(g.last) {
		g.last = ev.Time
	}
	g.keys = evKeys{ev: ev, bufs: g.keys.bufs}
	for _, d := range g.detectors {
		d.Observe(ev, g.out)
	}
}

// Finish implements pipeline.Finisher.
func (g *Engine) Finish(at time.Time) {
	for _, d := range g.detectors {
		if f, ok := d.(Finisher); ok {
			f.Finish(at, g.out)
		}
	}
}

// Alerts implements pipeline.AlertSource: the alerts as of the last event,
// including what fired windows hold and have not reported yet (what Finish
// would add now), without closing any window. After Finish the two agree;
// before it (serve-mode checkpoints) the windows stay as they are, so the
// final answer does not depend on when this was called.
func (g *Engine) Alerts() []model.Alert {
	tmp := g.out.previewCopy()
	for _, d := range g.detectors {
		if f, ok := d.(Finisher); ok {
			f.Finish(g.last, tmp)
		}
	}
	return tmp.Alerts()
}

// APIChanges collects the contract changes detectors recorded (e.g. a new
// parameter the whole population adopted), in time order.
func (g *Engine) APIChanges() []model.APIChange {
	var out []model.APIChange
	for _, d := range g.detectors {
		if c, ok := d.(interface{ APIChanges() []model.APIChange }); ok {
			out = append(out, c.APIChanges()...)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	return out
}

// Dropped sums what detectors dropped or left undecided, by reason.
func (g *Engine) Dropped() map[string]int64 {
	out := map[string]int64{}
	for _, d := range g.detectors {
		if c, ok := d.(interface{ Dropped() map[string]int64 }); ok {
			for k, v := range c.Dropped() {
				out[k] += v
			}
		}
	}
	return out
}
