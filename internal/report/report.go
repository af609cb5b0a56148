// Package report writes the analysis report (report-v1) as JSON and renders
// a human summary of it.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/palisade-sec/palisade/internal/model"
)

// WriteJSON writes the report as indented JSON. Output is deterministic for
// a given report (map keys are sorted by encoding/json).
func WriteJSON(w io.Writer, r *model.Report) error {
	normalize(r)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(r)
}

// graphQLLine summarizes the GraphQL endpoints: how many, and their
// operations by type ("" when there is none).
func graphQLLine(eps []model.Endpoint) string {
	n := 0
	byType := map[string]int64{}
	for _, e := range eps {
		if e.GraphQL == nil {
			continue
		}
		n++
		for _, o := range e.GraphQL.Operations {
			byType[o.Type]++
		}
	}
	if n == 0 {
		return ""
	}
	var parts []string
	for _, t := range sortedKeys(byType) {
		parts = append(parts, fmt.Sprintf("%d %s", byType[t], t))
	}
	ops := "no operation"
	if len(parts) > 0 {
		ops = strings.Join(parts, ", ")
	}
	what := "endpoints serve"
	if n == 1 {
		what = "endpoint serves"
	}
	return fmt.Sprintf("%d %s GraphQL (operations: %s)", n, what, ops)
}

// normalize turns nil slices into empty ones so the JSON has [] not null
// where the contract expects lists.
func normalize(r *model.Report) {
	if r.Endpoints == nil {
		r.Endpoints = []model.Endpoint{}
	}
	if r.Alerts == nil {
		r.Alerts = []model.Alert{}
	}
	if r.Findings == nil {
		r.Findings = []model.Finding{}
	}
	for i := range r.Endpoints {
		e := &r.Endpoints[i]
		if e.StatusCodes == nil {
			e.StatusCodes = map[string]int64{}
		}
		if e.Parameters == nil {
			e.Parameters = []model.Parameter{}
		}
		for j := range e.Parameters {
			if e.Parameters[j].ExamplesRedacted == nil {
				e.Parameters[j].ExamplesRedacted = []string{}
			}
		}
		if e.AuthSchemes == nil {
			e.AuthSchemes = []string{}
		}
		if e.SensitiveData == nil {
			e.SensitiveData = []model.SensitiveData{}
		}
		if e.Risk.Factors == nil {
			e.Risk.Factors = []model.RiskFactor{}
		}
		if e.GraphQL != nil && e.GraphQL.Operations == nil {
			e.GraphQL.Operations = []model.GraphQLOperation{}
		}
	}
	for i := range r.Findings {
		if r.Findings[i].OWASP == nil {
			r.Findings[i].OWASP = []string{}
		}
	}
}

// Summary writes a human-readable summary.
func Summary(w io.Writer, r *model.Report) error {
	bw := &errWriter{w: w}
	p := bw.printf
	in := r.Input
	p("Palisade analysis\n")
	span := ""
	if in.From != nil && in.To != nil {
		span = fmt.Sprintf(", %s → %s (%s)", in.From.UTC().Format(time.RFC3339), in.To.UTC().Format(time.RFC3339), in.To.Sub(*in.From).Round(time.Minute))
	}
	p("  input      %d records, %d rejected%s\n", in.Records, in.Rejected, span)
	for _, e := range in.Errors {
		loc := e.File
		if e.Line > 0 {
			loc += fmt.Sprintf(":%d", e.Line)
		}
		if e.Entry > 0 {
			loc += fmt.Sprintf(" entry %d", e.Entry)
		}
		if e.Field != "" {
			loc += " field " + e.Field
		}
		p("               rejected %s: %s\n", loc, e.Message)
	}
	for _, k := range sortedKeys(in.Dropped) {
		p("  dropped    %d (%s)\n", in.Dropped[k], k)
	}
	hosts := map[string]bool{}
	var unauth, external, sensitive, shadow, zombie, unused, undocumented int
	for _, e := range r.Endpoints {
		hosts[e.Host] = true
		if e.Requests > 0 && e.Authentication == "none" {
			unauth++
		}
		if e.Exposure == "external" {
			external++
		}
		if len(e.SensitiveData) > 0 {
			sensitive++
		}
		switch e.State {
		case "shadow":
			shadow++
		case "zombie":
			zombie++
		case "unused":
			unused++
		case "undocumented":
			undocumented++
		}
	}
	p("  inventory  %d APIs, %d endpoints (%d unauthenticated, %d external, %d with sensitive data", len(hosts), len(r.Endpoints), unauth, external, sensitive)
	if shadow+zombie+unused+undocumented > 0 {
		p("; %d shadow, %d zombie, %d unused, %d undocumented", shadow, zombie, unused, undocumented)
	}
	p(")\n")
	if g := graphQLLine(r.Endpoints); g != "" {
		p("  graphql    %s\n", g)
	}
	if specs := hostSpecs(r.Hosts); specs != "" {
		p("  specs      %s\n", specs)
	}
	if len(r.Outbound) > 0 {
		var calls int64
		relevant := 0
		for _, o := range r.Outbound {
			calls += o.Requests
			if o.API10.Relevant {
				relevant++
			}
		}
		p("  outbound   %d third-party APIs called by our services (%d calls; %d relevant to API10:2023)\n", len(r.Outbound), calls, relevant)
	}
	if len(r.Probes) > 0 {
		p("  probes     %d paths only ever answered 404\n", len(r.Probes))
	}
	bySev := map[string]int{}
	for _, a := range r.Alerts {
		bySev[a.Severity]++
	}
	p("  alerts     %d (%s)\n", len(r.Alerts), sevCounts(bySev))
	fSev := map[string]int{}
	for _, f := range r.Findings {
		fSev[f.Severity]++
	}
	p("  findings   %d (%s)\n", len(r.Findings), sevCounts(fSev))
	groups := model.GroupReadiness(r.Readiness)
	if len(groups) > 0 {
		n := map[string]int{}
		var never, partly []string
		for _, g := range groups {
			n[g.State]++
			switch g.State {
			case model.StateLearning:
				never = append(never, g.Detector)
			case model.StatePartial:
				ready := 0
				for _, b := range g.Baselines {
					if b.State == model.StateReady {
						ready++
					}
				}
				partly = append(partly, fmt.Sprintf("%s (%d of %d baselines)", g.Detector, ready, len(g.Baselines)))
			}
		}
		p("  detectors  %d ready, %d partly ready, %d learning (see Detector readiness)\n", n[model.StateReady], n[model.StatePartial], n[model.StateLearning])
		if len(never) > 0 {
			p("  learning   never ready on this input: %s\n", strings.Join(never, ", "))
		}
		if len(partly) > 0 {
			p("  partly     ready only in part: %s\n", strings.Join(partly, ", "))
		}
	}

	if len(r.Endpoints) > 0 {
		p("\nTop endpoints by risk\n")
		eps := append([]model.Endpoint(nil), r.Endpoints...)
		sort.SliceStable(eps, func(i, j int) bool { return eps[i].Risk.Score > eps[j].Risk.Score })
		tw := tabwriter.NewWriter(bw, 2, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "  RISK\tMETHOD\tENDPOINT\tREQS\tAUTH\tEXPOSURE\tDATA\tSTATE\n")
		for i, e := range eps {
			if i == 15 {
				break
			}
			fmt.Fprintf(tw, "  %d\t%s\t%s%s\t%d\t%s\t%s\t%s\t%s\n", e.Risk.Score, e.Method, e.Host, e.Path, e.Requests, e.Authentication, e.Exposure, dataTypes(e.SensitiveData), e.State)
		}
		tw.Flush()
	}
	if len(r.Outbound) > 0 {
		p("\nThird-party APIs our services call (outbound)\n")
		tw := tabwriter.NewWriter(bw, 2, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "  HOST\tCALLS\tOPS\tTLS\tAUTH SENT\tDATA SENT\tAPI10\n")
		for _, o := range r.Outbound {
			tls := strings.Join(o.TLS.Schemes, "+")
			if o.TLS.Plaintext {
				tls += " (clear text)"
			}
			api10 := "-"
			if o.API10.Relevant {
				api10 = fmt.Sprintf("%s (%d alerts, %d findings)", o.API10.Severity, len(o.API10.Alerts), len(o.API10.Findings))
			}
			fmt.Fprintf(tw, "  %s\t%d\t%d\t%s\t%s\t%s\t%s\n", o.Host, o.Requests, len(o.Operations), tls, orDash(strings.Join(o.AuthSent, ",")), orDash(strings.Join(o.DataSent, ",")), api10)
		}
		tw.Flush()
	}
	if len(r.Alerts) > 0 {
		p("\nAlerts (most severe first)\n")
		as := mostSevereFirst(r.Alerts, func(a model.Alert) string { return a.Severity })
		tw := tabwriter.NewWriter(bw, 2, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "  SEVERITY\tTYPE\tSUBJECT\tENDPOINT\tCOUNT\tFIRST SEEN\n")
		for i, a := range as {
			if i == 25 {
				fmt.Fprintf(tw, "  …\t%d more\t\t\t\t\n", len(as)-25)
				break
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%d\t%s\n", a.Severity, a.Type, subject(a), refString(a.Endpoint), a.Count, a.FirstSeen.UTC().Format(time.RFC3339))
		}
		tw.Flush()
	}
	if len(groups) > 0 {
		p("\nDetector readiness (time to ready: event time from the start of the input to the first scope ready)\n")
		tw := tabwriter.NewWriter(bw, 2, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "  STATE\tDETECTOR\tBASELINE\tSCOPE\tREADY/LEARNING\tTIME TO READY\tSTILL NEEDS\n")
		for _, g := range groups {
			for _, b := range g.Baselines {
				ttr := "—"
				if b.HoursToReady != nil {
					ttr = fmt.Sprintf("%.2f h", *b.HoursToReady)
				}
				needs := ""
				switch {
				case b.Missing != nil:
					needs = NeedString(*b.Missing)
				case len(b.Learning) > 0:
					needs = NeedString(b.Learning[0].Missing) + " (nearest: " + b.Learning[0].Key + ")"
				}
				fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%d/%d\t%s\t%s\n", b.State, g.Detector, b.Baseline, b.Scope, b.ReadyScopes, b.LearningScopes, ttr, needs)
			}
		}
		tw.Flush()
		first := true
		for _, g := range groups {
			for _, b := range g.Baselines {
				if b.State == model.StateReady {
					continue
				}
				if first {
					p("\nWhile learning\n")
					first = false
				}
				p("  %s, %s: %s\n", g.Detector, b.Baseline, b.WhileLearning)
			}
		}
	}
	if len(r.Findings) > 0 {
		p("\nFindings (most severe first)\n")
		fs := mostSevereFirst(r.Findings, func(f model.Finding) string { return f.Severity })
		tw := tabwriter.NewWriter(bw, 2, 4, 2, ' ', 0)
		fmt.Fprintf(tw, "  SEVERITY\tRULE\tTITLE\tENDPOINT\n")
		for i, f := range fs {
			if i == 20 {
				fmt.Fprintf(tw, "  …\t%d more\t\t\n", len(fs)-20)
				break
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", f.Severity, f.Rule, f.Title, refString(f.Endpoint))
		}
		tw.Flush()
	}
	return bw.err
}

// hostSpecs says which hosts of the inventory have declared specs ("" when
// no spec was loaded).
func hostSpecs(hosts []model.APIHost) string {
	var with, without []string
	for _, h := range hosts {
		switch {
		case h.Documented == nil:
			return ""
		case *h.Documented:
			with = append(with, h.Host+" ("+strings.Join(h.Specs, ", ")+")")
		default:
			without = append(without, h.Host)
		}
	}
	s := strings.Join(with, "; ")
	if len(without) > 0 {
		if s != "" {
			s += "; "
		}
		s += "no spec: " + strings.Join(without, ", ")
	}
	return s
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// mostSevereFirst returns a copy of list ordered by severity, most severe
// first (stable otherwise).
func mostSevereFirst[T any](list []T, sev func(T) string) []T {
	out := append([]T(nil), list...)
	sort.SliceStable(out, func(i, j int) bool {
		return model.SeverityRank(sev(out[i])) > model.SeverityRank(sev(out[j]))
	})
	return out
}

// refString renders an endpoint as "METHOD host/path" ("" for none).
func refString(e *model.EndpointRef) string {
	if e == nil {
		return ""
	}
	return e.Method + " " + e.Host + e.Path
}

// subject renders who an alert is about: the principal's name (or the
// client address), "@ address" for the client of an alert that follows a
// principal and "(new)" when that address is new to the principal, then
// the alert's other addresses and how many of them are new: "+39
// addresses, 38 new" after a client, "(2 addresses)" without one. A "+"
// after a number means events came from addresses beyond clients[];
// "new ones unlisted" that only those were new.
func subject(a model.Alert) string {
	var s string
	lead := ""
	if a.Client != nil {
		lead = a.Client.IP
	}
	switch {
	case a.Identity != nil && a.Identity.Name != "":
		s = a.Identity.Name
	case lead != "":
		s = lead
	case a.Identity != nil:
		s = a.Identity.ID
	default:
		return "(endpoint)"
	}
	if a.Identity != nil && lead != "" && s != lead {
		s += " @ " + lead
	}
	others, fresh := 0, 0
	for _, c := range a.Clients {
		if c.IP == lead {
			if c.New {
				s += " (new)"
			}
			continue
		}
		others++
		if c.New {
			fresh++
		}
	}
	if others == 0 && a.ClientsOther == 0 {
		return s
	}
	n := strconv.Itoa(others)
	if a.ClientsOther > 0 {
		n += "+"
	}
	word := " addresses"
	if n == "1" {
		word = " address"
	}
	list := n + word
	switch {
	case fresh > 0 && a.ClientsOtherNew > 0:
		list += ", " + strconv.Itoa(fresh) + "+ new"
	case fresh > 0:
		list += ", " + strconv.Itoa(fresh) + " new"
	case a.ClientsOtherNew > 0:
		list += ", new ones unlisted"
	}
	if lead == "" {
		return s + " (" + list + ")"
	}
	return s + " +" + list
}

func dataTypes(s []model.SensitiveData) string {
	seen := map[string]bool{}
	var out []string
	for _, d := range s {
		if d.Masked || seen[d.Type] {
			continue
		}
		seen[d.Type] = true
		out = append(out, d.Type)
	}
	sort.Strings(out)
	if len(out) == 0 {
		return "-"
	}
	return strings.Join(out, ",")
}

func sevCounts(m map[string]int) string {
	var parts []string
	for _, s := range []string{model.SevCritical, model.SevHigh, model.SevMedium, model.SevLow, model.SevInfo} {
		if m[s] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", m[s], s))
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

func sortedKeys(m map[string]int64) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	n, err := e.w.Write(p)
	e.err = err
	return n, err
}

func (e *errWriter) printf(format string, args ...any) { fmt.Fprintf(e, format, args...) }

// AlertLine writes one alert as a line of text: when it began, severity,
// type, subject, endpoint and title (palisade analyze prints alerts so as
// they are raised on a stream).
func AlertLine(w io.Writer, a model.Alert) error {
	ep := refString(a.Endpoint)
	if ep == "" {
		ep = "-"
	}
	_, err := fmt.Fprintf(w, "%s  %-8s  %s  %s  %s  %s\n", a.FirstSeen.UTC().Format(time.RFC3339), a.Severity, a.Type, subject(a), ep, a.Title)
	return err
}

// AlertJSON writes one alert as a line of JSON (the report's alert
// object).
func AlertJSON(w io.Writer, a model.Alert) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	return enc.Encode(a)
}

// NeedString renders evidence counts: "38 windows, 12 principals, 0.60 h".
func NeedString(n model.Need) string {
	var parts []string
	add := func(v int64, unit string) {
		if v > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", v, unit))
		}
	}
	add(n.Requests, "requests")
	add(n.Windows, "windows")
	add(n.Clients, "clients")
	add(n.Principals, "principals")
	if n.Hours > 0 {
		parts = append(parts, fmt.Sprintf("%.2f h", n.Hours))
	}
	if len(parts) == 0 {
		return "nothing"
	}
	return strings.Join(parts, ", ")
}
