package engine

import (
	"fmt"
	"maps"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/palisade-sec/palisade/internal/classify"
	"github.com/palisade-sec/palisade/internal/enrich"
	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/posture"
)

// addOutbound fills the report's outbound[] (the third-party APIs our
// services call, which the inventory keeps out of endpoints[]) and appends
// the posture findings that judge those calls to findings[] (direction
// "outbound"). API changes on those hosts are not our APIs' and are
// dropped. Call it once endpoints, alerts, findings and API changes are
// assembled.
func (e *Engine) addOutbound(r *model.Report) {
	ops := e.inv.Outbound(e.to)
	if len(ops) == 0 {
		return
	}
	idx := make(map[string]int, len(ops))
	hosts := map[string]bool{}
	for i := range ops {
		idx[ops[i].Ref().Key()] = i
		hosts[ops[i].Host] = true
	}
	if e.cls != nil {
		mergeSensitive(ops, idx, e.cls.Results(), e.inv)
	}
	var fs []model.Finding
	if e.pos != nil {
		for _, f := range e.pos.Findings(ops, e.to, e.inv) {
			if posture.AppliesToOutbound(f.Rule) {
				f.Direction = "outbound"
				fs = append(fs, f)
			}
		}
	}
	if len(fs) > 0 {
		r.Findings = append(r.Findings, fs...)
		posture.SortFindings(r.Findings)
	}
	changes := r.APIChange[:0]
	for _, c := range r.APIChange {
		if !hosts[c.Endpoint.Host] {
			changes = append(changes, c)
		}
	}
	r.APIChange = changes
	r.Outbound = outboundAPIs(ops, r.Alerts, fs, func(h string) bool { return enrich.InternalHost(h, e.cfg.Enrich.Internal) })
}

// criticalSent are the data types whose presence in our calls makes a
// third-party API relevant to API10 at low severity (others at info).
var criticalSent = map[string]bool{classify.TypeCard: true, classify.TypeSSN: true, classify.TypeIBAN: true,
	classify.TypeSecret: true, classify.TypePassport: true}

// outboundAPIs groups the operations of third-party hosts (sorted by host)
// into report entries, linking the alerts and the (outbound) findings on
// their operations and judging API10 relevance.
func outboundAPIs(ops []model.Endpoint, alerts []model.Alert, findings []model.Finding, internal func(string) bool) []model.OutboundAPI {
	alertsOf := map[string][]*model.Alert{}
	for i := range alerts {
		if ep := alerts[i].Endpoint; ep != nil {
			alertsOf[ep.Host] = append(alertsOf[ep.Host], &alerts[i])
		}
	}
	findingsOf := map[string][]*model.Finding{}
	for i := range findings {
		if ep := findings[i].Endpoint; ep != nil {
			findingsOf[ep.Host] = append(findingsOf[ep.Host], &findings[i])
		}
	}
	var out []model.OutboundAPI
	for i := 0; i < len(ops); {
		j := i
		for j < len(ops) && ops[j].Host == ops[i].Host {
			j++
		}
		out = append(out, outboundAPI(ops[i:j], alertsOf[ops[i].Host], findingsOf[ops[i].Host], internal))
		i = j
	}
	return out
}

// outboundAPI builds the entry of one host from its operations.
func outboundAPI(ops []model.Endpoint, alerts []*model.Alert, findings []*model.Finding, internal func(string) bool) model.OutboundAPI {
	host := ops[0].Host
	api := model.OutboundAPI{Host: host, Destination: "external", StatusCodes: map[string]int64{},
		AuthSent: []string{}, DataSent: []string{}, DataReceived: []string{}, TLS: model.OutboundTLS{Schemes: []string{}, Ports: []int{}},
		API10: model.API10{Reasons: []string{}, Alerts: []string{}, Findings: []string{}}}
	if internal(host) {
		api.Destination = "internal"
	}
	auth, schemes, sent, recv := map[string]bool{}, map[string]bool{}, map[string]bool{}, map[string]bool{}
	for i := range ops {
		ep := &ops[i]
		op := model.OutboundOperation{Method: ep.Method, Path: ep.Path, FirstSeen: ep.FirstSeen, LastSeen: ep.LastSeen,
			Requests: ep.Requests, StatusCodes: ep.StatusCodes, AuthSent: ep.AuthSchemes, Schemes: ep.Schemes,
			Parameters: ep.Parameters, SensitiveData: ep.SensitiveData, Latency: ep.Latency, Callers: ep.Clients}
		if op.Schemes == nil {
			op.Schemes = []string{}
		}
		api.Operations = append(api.Operations, op)
		api.Requests += ep.Requests
		for c, n := range ep.StatusCodes {
			api.StatusCodes[c] += n
		}
		if ep.FirstSeen != nil && (api.FirstSeen == nil || ep.FirstSeen.Before(*api.FirstSeen)) {
			api.FirstSeen = ep.FirstSeen
		}
		if ep.LastSeen != nil && (api.LastSeen == nil || ep.LastSeen.After(*api.LastSeen)) {
			api.LastSeen = ep.LastSeen
		}
		for _, s := range ep.AuthSchemes {
			auth[s] = true
		}
		plain := false
		for _, s := range ep.Schemes {
			schemes[s] = true
			plain = plain || s == "http" || s == "ws"
		}
		if plain {
			api.TLS.Plaintext = true
			api.TLS.PlaintextOperations = append(api.TLS.PlaintextOperations, ep.Method+" "+ep.Path)
		}
		for _, sd := range ep.SensitiveData {
			if sd.Masked || sd.Type == classify.TypeIP {
				continue
			}
			if strings.HasPrefix(sd.Location, "response.") {
				recv[sd.Type] = true
			} else {
				sent[sd.Type] = true
			}
		}
	}
	api.AuthSent, api.DataSent, api.DataReceived = listOf(auth), listOf(sent), listOf(recv)
	for _, s := range []string{"http", "https", "ws", "wss"} {
		if schemes[s] {
			api.TLS.Schemes = append(api.TLS.Schemes, s)
		}
	}
	if _, port := enrich.SplitHostPort(host); port > 0 {
		api.TLS.Ports = []int{port}
	} else {
		if schemes["http"] || schemes["ws"] {
			api.TLS.Ports = append(api.TLS.Ports, 80)
		}
		if schemes["https"] || schemes["wss"] {
			api.TLS.Ports = append(api.TLS.Ports, 443)
		}
	}
	api.API10 = api10(&api, alerts, findings)
	return api
}

// api10 judges a third-party API's relevance to API10:2023: unsafe
// consumption alerts (consumption.unsafe_upstream) and posture findings on
// its operations, calls in clear text to an external destination, and
// sensitive data our calls send it. Other alerts on its operations are
// linked without making it relevant.
func api10(api *model.OutboundAPI, alerts []*model.Alert, findings []*model.Finding) model.API10 {
	out := model.API10{Reasons: []string{}, Alerts: []string{}, Findings: []string{}}
	sev := ""
	raise := func(s string) {
		if model.SeverityRank(s) > model.SeverityRank(sev) {
			sev = s
		}
	}
	sort.SliceStable(alerts, func(i, j int) bool { return alerts[i].FirstSeen.Before(alerts[j].FirstSeen) })
	issues := map[string]bool{}
	for _, a := range alerts {
		out.Alerts = append(out.Alerts, a.ID)
		if !isAPI10(a.OWASP) {
			continue
		}
		raise(a.Severity)
		issue := a.Type
		if v, ok := a.Evidence.Details["issue"].(string); ok && v != "" {
			issue = v
		}
		if issues[issue] {
			continue
		}
		issues[issue] = true
		out.Reasons = append(out.Reasons, fmt.Sprintf("%s alert (%s): %s (%d events, first %s)", a.Type, a.Severity, a.Evidence.Reason, a.Count, a.FirstSeen.UTC().Format(time.RFC3339)))
	}
	for _, f := range findings {
		out.Findings = append(out.Findings, f.ID)
		raise(f.Severity)
		out.Reasons = append(out.Reasons, fmt.Sprintf("%s %s (%s) on %s %s", f.Rule, f.Title, f.Severity, f.Endpoint.Method, f.Endpoint.Path))
	}
	if api.TLS.Plaintext && api.Destination == "external" && !issues["plaintext"] {
		raise(model.SevMedium)
		out.Reasons = append(out.Reasons, "calls in clear text (http/ws) to an external host: "+strings.Join(api.TLS.PlaintextOperations, ", "))
	}
	if len(api.DataSent) > 0 {
		crit := false
		for _, t := range api.DataSent {
			crit = crit || criticalSent[t]
		}
		if crit {
			raise(model.SevLow)
		} else {
			raise(model.SevInfo)
		}
		out.Reasons = append(out.Reasons, "our calls send "+strings.Join(api.DataSent, ", ")+" to it")
	}
	out.Relevant, out.Severity = len(out.Reasons) > 0, sev
	return out
}

func isAPI10(owasp []string) bool {
	for _, o := range owasp {
		if strings.HasPrefix(o, "API10") {
			return true
		}
	}
	return false
}

// listOf returns the keys of a set, sorted ([] when empty: the report's
// lists are never null).
func listOf(m map[string]bool) []string {
	return append([]string{}, slices.Sorted(maps.Keys(m))...)
}
