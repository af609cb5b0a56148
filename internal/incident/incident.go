// Package incident groups related alerts into incidents: the alerts of one
// subject (a client address or an identity) that overlap or follow each
// other in time, ordered along the kill chain (reconnaissance →
// exploitation → exfiltration → impact). Group is a pure, deterministic
// function of the alerts it is given; the rules are documented in
// docs/dashboard.md ("Incidents").
package incident

import (
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"strconv"
	"time"

	"github.com/palisade-sec/palisade/internal/alert"
	"github.com/palisade-sec/palisade/internal/model"
)

// Kill-chain phases, in order.
const (
	PhaseRecon        = "reconnaissance"
	PhaseExploitation = "exploitation"
	PhaseExfiltration = "exfiltration"
	PhaseImpact       = "impact"
)

// Phases lists the phases in kill-chain order.
var Phases = []string{PhaseRecon, PhaseExploitation, PhaseExfiltration, PhaseImpact}

func phaseRank(p string) int {
	for i, q := range Phases {
		if q == p {
			return i
		}
	}
	return len(Phases)
}

// tacticPhase maps MITRE ATT&CK tactics to phases.
var tacticPhase = map[string]string{
	"Reconnaissance":       PhaseRecon,
	"Discovery":            PhaseRecon,
	"Initial Access":       PhaseExploitation,
	"Execution":            PhaseExploitation,
	"Credential Access":    PhaseExploitation,
	"Privilege Escalation": PhaseExploitation,
	"Defense Evasion":      PhaseExploitation,
	"Persistence":          PhaseExploitation,
	"Lateral Movement":     PhaseExploitation,
	"Command and Control":  PhaseExploitation,
	"Collection":           PhaseExfiltration,
	"Exfiltration":         PhaseExfiltration,
	"Impact":               PhaseImpact,
}

// owaspPhase is the fallback for alerts without a MITRE mapping.
var owaspPhase = map[string]string{
	"API9:2023": PhaseRecon,
	"API3:2023": PhaseExfiltration,
	"API4:2023": PhaseImpact,
	"API6:2023": PhaseImpact,
}

// PhaseOf returns the kill-chain phase of an alert: the phase of its first
// (primary) MITRE ATT&CK tactic, else of its catalogue entry's, else of its
// first OWASP category (API9 reconnaissance, API3 exfiltration, API4/API6
// impact), else exploitation.
func PhaseOf(a *model.Alert) string {
	mitre := a.MITRE
	owasp := a.OWASP
	if t, ok := alert.Parse(a.Type); ok {
		spec, _ := alert.Lookup(t)
		if len(mitre) == 0 {
			mitre = spec.MITRE
		}
		if len(owasp) == 0 {
			owasp = spec.OWASP
		}
	}
	for _, m := range mitre {
		if p, ok := tacticPhase[m.Tactic]; ok {
			return p
		}
	}
	for _, o := range owasp {
		if p, ok := owaspPhase[o]; ok {
			return p
		}
	}
	return PhaseExploitation
}

// Config of the grouping.
type Config struct {
	// Gap: an alert joins an incident of its subject when it starts at
	// most Gap after the incident's last activity (default 1h).
	Gap time.Duration
}

// DefaultGap is the default Config.Gap.
const DefaultGap = time.Hour

// Subject names who an incident is about.
type Subject struct {
	Kind string `json:"kind"` // client | identity
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// Stage is the part of an incident in one kill-chain phase.
type Stage struct {
	Phase     string    `json:"phase"`
	Alerts    int       `json:"alerts"`
	Types     []string  `json:"types"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
}

// Incident is a group of related alerts.
type Incident struct {
	ID         string              `json:"id"`
	Title      string              `json:"title"`
	Subject    Subject             `json:"subject"`
	Clients    []string            `json:"clients"`
	Identities []model.IdentityRef `json:"identities"`
	FirstSeen  time.Time           `json:"first_seen"`
	LastSeen   time.Time           `json:"last_seen"`
	Severity   string              `json:"severity"`
	Status     string              `json:"status"`
	Events     int64               `json:"events"`
	Stages     []Stage             `json:"stages"`
	// KillChain is true when the incident spans at least two phases and
	// each phase started no earlier than the phases before it.
	KillChain bool                `json:"kill_chain"`
	OWASP     []string            `json:"owasp"`
	Endpoints []model.EndpointRef `json:"endpoints"`
	AlertIDs  []string            `json:"alert_ids"`
	Statuses  map[string]int      `json:"statuses"`
}

// MaxEndpoints bounds Incident.Endpoints.
const MaxEndpoints = 20

type keyT struct{ kind, id string }

func keysOf(a *model.Alert) []keyT {
	var ks []keyT
	if a.Identity != nil && a.Identity.ID != "" {
		ks = append(ks, keyT{"identity", a.Identity.ID})
	}
	if a.Client != nil && a.Client.IP != "" {
		ks = append(ks, keyT{"client", a.Client.IP})
	}
	return ks
}

// Group groups alerts into incidents. Rules:
//
//  1. Only alerts that name a client address or an identity take part
//     (alerts about an endpoint as a whole are not an attacker's).
//  2. Alerts are taken in order of first seen, then id.
//  3. An alert joins every incident that shares its identity id or its
//     client address (alert.client.ip, not the clients[] list) and whose
//     last activity is at most Gap before the alert's first seen; when it
//     joins several, they merge into one. Otherwise it starts an incident.
//  4. An incident's id is derived from the id of its earliest alert.
//
// Incidents come out ordered by severity (highest first), last seen
// (newest first), then id. The result depends only on the alerts given.
func Group(alerts []model.Alert, cfg Config) []Incident {
	if cfg.Gap <= 0 {
		cfg.Gap = DefaultGap
	}
	idx := make([]int, 0, len(alerts))
	for i := range alerts {
		if len(keysOf(&alerts[i])) > 0 {
			idx = append(idx, i)
		}
	}
	sort.Slice(idx, func(x, y int) bool {
		a, b := &alerts[idx[x]], &alerts[idx[y]]
		if !a.FirstSeen.Equal(b.FirstSeen) {
			return a.FirstSeen.Before(b.FirstSeen)
		}
		return a.ID < b.ID
	})
	type group struct {
		members []int
		last    time.Time
	}
	var groups []*group
	parent := []int{}
	find := func(g int) int {
		for parent[g] != g {
			parent[g] = parent[parent[g]]
			g = parent[g]
		}
		return g
	}
	latest := map[keyT]int{} // key → group that last took an alert of it
	for _, i := range idx {
		a := &alerts[i]
		target := -1
		var join []int
		for _, k := range keysOf(a) {
			g, ok := latest[k]
			if !ok {
				continue
			}
			g = find(g)
			if a.FirstSeen.After(groups[g].last.Add(cfg.Gap)) {
				continue
			}
			join = append(join, g)
		}
		sort.Ints(join)
		for _, g := range join {
			if target < 0 {
				target = g
				continue
			}
			if g == target {
				continue
			}
			// Merge g into target (the earlier-created group).
			groups[target].members = append(groups[target].members, groups[g].members...)
			if groups[g].last.After(groups[target].last) {
				groups[target].last = groups[g].last
			}
			groups[g].members = nil
			parent[g] = target
		}
		if target < 0 {
			groups = append(groups, &group{})
			parent = append(parent, len(groups)-1)
			target = len(groups) - 1
		}
		groups[target].members = append(groups[target].members, i)
		if a.LastSeen.After(groups[target].last) {
			groups[target].last = a.LastSeen
		}
		for _, k := range keysOf(a) {
			latest[k] = target
		}
	}
	var out []Incident
	for g, gr := range groups {
		if find(g) != g || len(gr.members) == 0 {
			continue
		}
		out = append(out, build(alerts, gr.members))
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := &out[i], &out[j]
		if ra, rb := model.SeverityRank(a.Severity), model.SeverityRank(b.Severity); ra != rb {
			return ra > rb
		}
		if !a.LastSeen.Equal(b.LastSeen) {
			return a.LastSeen.After(b.LastSeen)
		}
		return a.ID < b.ID
	})
	return out
}

var statusRank = map[string]int{"open": 0, "acknowledged": 1, "resolved": 2, "false_positive": 3}

func build(alerts []model.Alert, members []int) Incident {
	sort.Slice(members, func(x, y int) bool {
		a, b := &alerts[members[x]], &alerts[members[y]]
		if !a.FirstSeen.Equal(b.FirstSeen) {
			return a.FirstSeen.Before(b.FirstSeen)
		}
		return a.ID < b.ID
	})
	first := &alerts[members[0]]
	sum := sha256.Sum256([]byte(first.ID))
	inc := Incident{ID: "inc_" + hex.EncodeToString(sum[:8]), FirstSeen: first.FirstSeen, Severity: model.SevInfo, Statuses: map[string]int{}}
	keyCount := map[keyT]int{}
	names := map[string]string{}
	clients := map[string]bool{}
	idents := map[string]model.IdentityRef{}
	owasp := map[string]bool{}
	eps := map[model.EndpointRef]bool{}
	stages := map[string]*Stage{}
	status := ""
	for _, i := range members {
		a := &alerts[i]
		inc.AlertIDs = append(inc.AlertIDs, a.ID)
		inc.Events += a.Count
		if a.LastSeen.After(inc.LastSeen) {
			inc.LastSeen = a.LastSeen
		}
		if model.SeverityRank(a.Severity) > model.SeverityRank(inc.Severity) {
			inc.Severity = a.Severity
		}
		st := a.Status
		if st == "" {
			st = "open"
		}
		inc.Statuses[st]++
		if status == "" || statusRank[st] < statusRank[status] {
			status = st
		}
		for _, k := range keysOf(a) {
			keyCount[k]++
		}
		if a.Client != nil && a.Client.IP != "" {
			clients[a.Client.IP] = true
		}
		if a.Identity != nil && a.Identity.ID != "" {
			idents[a.Identity.ID] = *a.Identity
			if a.Identity.Name != "" {
				names[a.Identity.ID] = a.Identity.Name
			}
		}
		for _, o := range a.OWASP {
			owasp[o] = true
		}
		if a.Endpoint != nil {
			eps[*a.Endpoint] = true
		}
		p := PhaseOf(a)
		s := stages[p]
		if s == nil {
			s = &Stage{Phase: p, FirstSeen: a.FirstSeen, LastSeen: a.LastSeen}
			stages[p] = s
		}
		s.Alerts++
		if !containsStr(s.Types, a.Type) {
			s.Types = append(s.Types, a.Type)
		}
		if a.FirstSeen.Before(s.FirstSeen) {
			s.FirstSeen = a.FirstSeen
		}
		if a.LastSeen.After(s.LastSeen) {
			s.LastSeen = a.LastSeen
		}
	}
	inc.Status = status
	// The subject: the key most alerts share (identities before addresses
	// on a tie, then the smallest id).
	var best keyT
	bestN := -1
	for k, n := range keyCount {
		if n > bestN || n == bestN && (k.kind == "identity" && best.kind != "identity" || k.kind == best.kind && k.id < best.id) {
			best, bestN = k, n
		}
	}
	inc.Subject = Subject{Kind: best.kind, ID: best.id, Name: names[best.id]}
	for c := range clients {
		inc.Clients = append(inc.Clients, c)
	}
	sort.Strings(inc.Clients)
	for _, r := range idents {
		inc.Identities = append(inc.Identities, r)
	}
	sort.Slice(inc.Identities, func(i, j int) bool { return inc.Identities[i].ID < inc.Identities[j].ID })
	for o := range owasp {
		inc.OWASP = append(inc.OWASP, o)
	}
	sort.Strings(inc.OWASP)
	for e := range eps {
		inc.Endpoints = append(inc.Endpoints, e)
	}
	sort.Slice(inc.Endpoints, func(i, j int) bool { return inc.Endpoints[i].Key() < inc.Endpoints[j].Key() })
	if len(inc.Endpoints) > MaxEndpoints {
		inc.Endpoints = inc.Endpoints[:MaxEndpoints]
	}
	for _, s := range stages {
		sort.Strings(s.Types)
		inc.Stages = append(inc.Stages, *s)
	}
	sort.Slice(inc.Stages, func(i, j int) bool { return phaseRank(inc.Stages[i].Phase) < phaseRank(inc.Stages[j].Phase) })
	inc.KillChain = len(inc.Stages) >= 2
	for i := 1; i < len(inc.Stages); i++ {
		if inc.Stages[i].FirstSeen.Before(inc.Stages[i-1].FirstSeen) {
			inc.KillChain = false
		}
	}
	inc.Title = title(&inc)
	if inc.Clients == nil {
		inc.Clients = []string{}
	}
	if inc.Identities == nil {
		inc.Identities = []model.IdentityRef{}
	}
	return inc
}

func title(inc *Incident) string {
	who := inc.Subject.ID
	if inc.Subject.Name != "" {
		who = inc.Subject.Name
	}
	phases := ""
	for i, s := range inc.Stages {
		if i > 0 {
			phases += " → "
		}
		phases += s.Phase
	}
	n := len(inc.AlertIDs)
	noun := "alerts"
	if n == 1 {
		noun = "alert"
	}
	return inc.Subject.Kind + " " + who + ": " + phases + " (" + strconv.Itoa(n) + " " + noun + ")"
}

func containsStr(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}
