// Package scenario scores the detection engine against the simulator's
// labelled scenarios: it runs a simulated capture through the full engine,
// matches every alert to the attack scenarios (type, subject, time window)
// and to the benign traps, and reports per alert type how many scenarios
// were detected, how fast, and how many alerts were false.
package scenario

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/palisade-sec/palisade/internal/engine"
	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/sim"
)

// DefaultTolerance widens every scenario's time window when matching alerts
// (detectors that close windows at a boundary fire a little after the last
// attack record).
const DefaultTolerance = 30 * time.Minute

// Options of a run.
type Options struct {
	Sim       sim.Config
	Engine    *engine.Config // nil = engine.DefaultConfig()
	Tolerance time.Duration  // 0 = DefaultTolerance
	// TempDir holds the intel feed files written for the run ("" = a new
	// temporary directory, removed afterwards).
	TempDir string
	// OnRecord, when set, sees every simulated record before the engine
	// does (the demo writes the capture and draws progress from it).
	OnRecord func(*exchange.Record) error
}

// Result of scoring one run.
type Result struct {
	Variant   string  // the simulator variant ("base" when unnamed)
	Days      float64 // simulated days (false alerts per day divide by it)
	Records   int64
	Report    *model.Report // the full analysis report of the run
	Traps     int           // benign look-alike scenarios in the run
	Alerts    []model.Alert
	Scenarios []ScenarioResult
	Rows      []Row        // one per alert type of the catalogue that has a scenario or an alert
	False     []FalseAlert // alerts matching no attack scenario
	// Mistyped are alerts on an attack's subject during the attack whose
	// type is neither the scenario's type nor one of its expected side
	// effects (Also): not noise on benign traffic, but a misclassification.
	Mistyped []model.Alert
	// Misattributed are alerts on an attack (its type or an expected side
	// effect, matched by principal) whose client names an address the
	// attacker never used: an analyst who blocks it blocks someone else.
	Misattributed []model.Alert
	Total         Row // sums over all types
}

// ScenarioResult is the outcome for one attack scenario.
type ScenarioResult struct {
	Scenario sim.Scenario
	Detected bool
	TTD      time.Duration // first matching alert's first_seen (or the later judged_at of its evidence) − scenario start (≥ 0)
	AlertIDs []string
}

// FalseAlert is an alert that matches no attack scenario; Trap names the
// benign look-alike it fell for, when one matches.
type FalseAlert struct {
	Alert model.Alert
	Trap  string
	// Folded: the alert explains an attack but began more than the
	// tolerance before every attack it explains — hits no attack explains
	// were folded into it (same type and subject), and they count as one
	// false alert.
	Folded bool
}

// Row is the score of one alert type.
type Row struct {
	Type        string
	Scenarios   int
	Detected    int
	MedianTTD   time.Duration
	MaxTTD      time.Duration
	Alerts      int // alerts of this type
	Mistyped    int // alerts of this type on an attacker of another type
	Misattrib   int // alerts of this type on an attacker naming a client the attacker never used
	FalseAlerts int // alerts of this type matching no attack scenario
	TrapFalse   int // … of which match a trap
}

// FalsePerDay is the row's false alerts per simulated day.
func (r *Result) FalsePerDay(row Row) float64 {
	if r.Days <= 0 {
		return 0
	}
	return float64(row.FalseAlerts) / r.Days
}

// Recall is detected/scenarios (1 when there is no scenario).
func (r Row) Recall() float64 {
	if r.Scenarios == 0 {
		return 1
	}
	return float64(r.Detected) / float64(r.Scenarios)
}

// Run simulates, analyzes and scores.
func Run(opts Options) (*Result, error) {
	dir := opts.TempDir
	if dir == "" {
		d, err := os.MkdirTemp("", "palisade-scenarios-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	// The intel scenarios' addresses do not depend on the traffic: a run
	// without benign load gives the same feeds cheaply.
	plan := opts.Sim
	plan.Scale = 0.01
	labels0, err := sim.Generate(plan, func(*exchange.Record) error { return nil })
	if err != nil {
		return nil, err
	}
	if err := labels0.WriteIntelFeeds(dir); err != nil {
		return nil, err
	}
	ecfg := engine.DefaultConfig()
	if opts.Engine != nil {
		ecfg = *opts.Engine
	}
	ecfg.Intel = append([]string(nil), ecfg.Intel...)
	// Feeds only for the intel scenarios the run has (a small deployment
	// has none: an empty feed is an error).
	if tor, block := labels0.IntelFeeds(); len(tor) > 0 || len(block) > 0 {
		ecfg.Intel = append(ecfg.Intel, "tor="+filepath.Join(dir, "tor-exit-nodes.txt"), "blocklist="+filepath.Join(dir, "blocklist.txt"))
	}
	eng, err := engine.New(ecfg)
	if err != nil {
		return nil, err
	}
	labels, err := sim.Generate(opts.Sim, func(r *exchange.Record) error {
		if opts.OnRecord != nil {
			if err := opts.OnRecord(r); err != nil {
				return err
			}
		}
		eng.Ingest(r)
		return nil
	})
	if err != nil {
		return nil, err
	}
	eng.Flush()
	rep := eng.Report(labels.End)
	res := Evaluate(labels, rep.Alerts, opts.Tolerance)
	res.Records = labels.Records
	res.Report = rep
	return res, nil
}

// Evaluate matches alerts to labels. It is pure: the same inputs give the
// same result.
func Evaluate(labels *sim.Labels, alerts []model.Alert, tol time.Duration) *Result {
	if tol <= 0 {
		tol = DefaultTolerance
	}
	res := &Result{Alerts: alerts, Variant: labels.Variant, Days: labels.End.Sub(labels.Start).Hours() / 24}
	if res.Variant == "" {
		res.Variant = "base"
	}
	var attacks, traps []sim.Scenario
	for _, s := range labels.Scenarios {
		if s.Trap {
			traps = append(traps, s)
		} else {
			attacks = append(attacks, s)
		}
	}
	res.Traps = len(traps)
	rows := map[string]*Row{}
	row := func(t string) *Row {
		if rows[t] == nil {
			rows[t] = &Row{Type: t}
		}
		return rows[t]
	}
	for _, s := range attacks {
		sr := ScenarioResult{Scenario: s}
		for _, a := range alerts {
			if a.Type != s.AlertType || !inWindow(a, s, tol) || !matchesSubject(a, s) {
				continue
			}
			ttd := max(reportedAt(a).Sub(s.Start), 0)
			if !sr.Detected || ttd < sr.TTD {
				sr.TTD = ttd
			}
			sr.Detected = true
			sr.AlertIDs = append(sr.AlertIDs, a.ID)
		}
		res.Scenarios = append(res.Scenarios, sr)
		r := row(s.AlertType)
		r.Scenarios++
		if sr.Detected {
			r.Detected++
		}
	}
	for _, a := range alerts {
		r := row(a.Type)
		r.Alerts++
		explained, onAttacker, early := false, false, true
		var by sim.Scenario
		for _, s := range attacks {
			if !inWindow(a, s, tol) || !matchesSubject(a, s) {
				continue
			}
			onAttacker = true
			if a.Type == s.AlertType || slices.Contains(s.Also, a.Type) {
				if !explained {
					by = s
				}
				explained = true
				early = early && a.FirstSeen.Before(s.Start.Add(-tol))
			}
		}
		if explained {
			if misattributed(a, by) {
				r.Misattrib++
				res.Misattributed = append(res.Misattributed, a)
			}
			if early {
				r.FalseAlerts++
				res.False = append(res.False, FalseAlert{Alert: a, Folded: true})
			}
			continue
		}
		if onAttacker {
			r.Mistyped++
			res.Mistyped = append(res.Mistyped, a)
			continue
		}
		fa := FalseAlert{Alert: a}
		for _, tr := range traps {
			if slices.Contains(tr.TrapFor, a.Type) && inWindow(a, tr, tol) && matchesTrap(a, tr) {
				fa.Trap = tr.Name
				break
			}
		}
		r.FalseAlerts++
		if fa.Trap != "" {
			r.TrapFalse++
		}
		res.False = append(res.False, fa)
	}
	// Times to detect per type.
	ttds := map[string][]time.Duration{}
	for _, sr := range res.Scenarios {
		if sr.Detected {
			ttds[sr.Scenario.AlertType] = append(ttds[sr.Scenario.AlertType], sr.TTD)
		}
	}
	for t, r := range rows {
		d := ttds[t]
		if len(d) > 0 {
			slices.Sort(d)
			r.MedianTTD, r.MaxTTD = d[(len(d)-1)/2], d[len(d)-1] // lower median
		}
		res.Rows = append(res.Rows, *r)
		res.Total.Scenarios += r.Scenarios
		res.Total.Detected += r.Detected
		res.Total.Alerts += r.Alerts
		res.Total.Mistyped += r.Mistyped
		res.Total.Misattrib += r.Misattrib
		res.Total.FalseAlerts += r.FalseAlerts
		res.Total.TrapFalse += r.TrapFalse
	}
	res.Total.Type = "total"
	sort.Slice(res.Rows, func(i, j int) bool { return res.Rows[i].Type < res.Rows[j].Type })
	return res
}

// misattributed: the alert names a client address, the scenario lists its
// attacker's addresses, and the named one is not among them.
func misattributed(a model.Alert, s sim.Scenario) bool {
	return a.Client != nil && a.Client.IP != "" && s.Subject != "endpoint" && len(s.ClientIPs) > 0 && !slices.Contains(s.ClientIPs, a.Client.IP)
}

// reportedAt is when the alert could first be reported: its first_seen,
// or the later time its evidence says it was judged at (a window held
// until its baseline could judge it is dated by its requests).
func reportedAt(a model.Alert) time.Time {
	if v, ok := a.Evidence.Details["judged_at"].(string); ok {
		if t, err := time.Parse(time.RFC3339, v); err == nil && t.After(a.FirstSeen) {
			return t
		}
	}
	return a.FirstSeen
}

func inWindow(a model.Alert, s sim.Scenario, tol time.Duration) bool {
	return !a.FirstSeen.After(s.End.Add(tol)) && !a.LastSeen.Before(s.Start.Add(-tol))
}

// matchesSubject: the alert concerns the scenario's attacker (one of its
// addresses, its principal, or — an alert on a principal whose token the
// attacker used from its own addresses — the attacker's addresses behind
// most of the alert's events) or, for endpoint alerts, its endpoint.
func matchesSubject(a model.Alert, s sim.Scenario) bool {
	if a.Client != nil && a.Client.IP != "" && slices.Contains(s.ClientIPs, a.Client.IP) {
		return true
	}
	if attackerShare(a, s.ClientIPs) {
		return true
	}
	if a.Identity != nil && s.Identity != "" && a.Identity.Name == s.Identity {
		return true
	}
	if a.Subject == "endpoint" && a.Endpoint != nil {
		return endpointMatches(*a.Endpoint, s)
	}
	return false
}

// attackerShare: the alert lists its events' addresses, and the
// attacker's hold more than half of those events.
func attackerShare(a model.Alert, ips []string) bool {
	if len(a.Clients) == 0 || len(ips) == 0 {
		return false
	}
	var mine, all int64
	for _, c := range a.Clients {
		all += c.Count
		if slices.Contains(ips, c.IP) {
			mine += c.Count
		}
	}
	all += a.ClientsOther
	return 2*mine > all
}

// matchesTrap: the alert concerns one of the trap's addresses or its
// principal, or (for endpoint traps and endpoint alerts) its endpoint.
func matchesTrap(a model.Alert, tr sim.Scenario) bool {
	if a.Client != nil && slices.Contains(tr.ClientIPs, a.Client.IP) {
		return true
	}
	if tr.Identity != "" && a.Identity != nil && a.Identity.Name == tr.Identity {
		return true
	}
	if a.Endpoint == nil || tr.Host == "" {
		return false
	}
	// Endpoint traps, endpoint alerts, traps without addresses and alerts
	// without a client (identity alerts on a trap of many principals) are
	// matched by endpoint.
	if tr.Subject == "endpoint" || a.Subject == "endpoint" || len(tr.ClientIPs) == 0 || a.Client == nil {
		return endpointMatches(*a.Endpoint, tr)
	}
	return false
}

// endpointMatches compares host, method and template (parameter names
// ignored: {sku} and {id} are the same segment). Empty label fields match
// anything.
func endpointMatches(e model.EndpointRef, s sim.Scenario) bool {
	if s.Host != "" && !strings.EqualFold(e.Host, s.Host) {
		return false
	}
	if s.Method != "" && !strings.EqualFold(e.Method, s.Method) {
		return false
	}
	return s.PathTemplate == "" || normTemplate(e.Path) == normTemplate(s.PathTemplate)
}

func normTemplate(p string) string {
	segs := strings.Split(strings.TrimSuffix(p, "/"), "/")
	for i, s := range segs {
		if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
			segs[i] = "{}"
		}
	}
	return strings.Join(segs, "/")
}

// Floors are the minimum scores a run must reach.
type Floors struct {
	// MinDetected is the minimum number of detected scenarios per alert type
	// (types absent from the map have no floor).
	MinDetected map[string]int
	// MaxFalse bounds alerts matching no attack scenario; MaxTrapFalse the
	// ones among them that fell for a labelled trap.
	MaxFalse     int
	MaxTrapFalse int
	// MaxMisattributed bounds alerts naming a client the attacker never used.
	MaxMisattributed int
}

// Check returns the floors the result misses (empty when it passes).
func (r *Result) Check(f Floors) []string {
	var out []string
	got := map[string]Row{}
	for _, row := range r.Rows {
		got[row.Type] = row
	}
	types := make([]string, 0, len(f.MinDetected))
	for t := range f.MinDetected {
		types = append(types, t)
	}
	sort.Strings(types)
	for _, t := range types {
		if got[t].Detected < f.MinDetected[t] {
			out = append(out, fmt.Sprintf("%s: %d of %d scenarios detected, floor %d", t, got[t].Detected, got[t].Scenarios, f.MinDetected[t]))
		}
	}
	if r.Total.FalseAlerts > f.MaxFalse {
		out = append(out, fmt.Sprintf("%d false alerts, budget %d", r.Total.FalseAlerts, f.MaxFalse))
	}
	if r.Total.Misattrib > f.MaxMisattributed {
		out = append(out, fmt.Sprintf("%d alerts name a client the attacker never used, budget %d", r.Total.Misattrib, f.MaxMisattributed))
	}
	if r.Total.TrapFalse > f.MaxTrapFalse {
		out = append(out, fmt.Sprintf("%d alerts fell for benign traps, budget %d", r.Total.TrapFalse, f.MaxTrapFalse))
	}
	return out
}

func fmtDur(d time.Duration, ok bool) string {
	if !ok {
		return "—"
	}
	switch {
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		return d.Round(time.Second).String()
	}
	return d.Round(time.Minute).String()
}

// WriteTable prints the per-type table, the missed scenarios and the false
// alerts grouped by type and trap.
func (r *Result) WriteTable(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%-36s %9s %8s %10s %10s %7s %8s %6s %5s %7s\n", "TYPE", "SCENARIOS", "DETECTED", "TTD(MED)", "TTD(MAX)", "ALERTS", "MISTYPED", "FALSE", "TRAP", "MISATTR")
	for _, row := range append(append([]Row(nil), r.Rows...), r.Total) {
		if row.Type == "total" {
			b.WriteString(strings.Repeat("-", 117) + "\n")
		}
		has := row.Detected > 0 && row.Type != "total"
		fmt.Fprintf(&b, "%-36s %9d %8d %10s %10s %7d %8d %6d %5d %7d\n", row.Type, row.Scenarios, row.Detected,
			fmtDur(row.MedianTTD, has), fmtDur(row.MaxTTD, has), row.Alerts, row.Mistyped, row.FalseAlerts, row.TrapFalse, row.Misattrib)
	}
	var missed []string
	for _, s := range r.Scenarios {
		if !s.Detected {
			missed = append(missed, fmt.Sprintf("  %-34s %s (%s)", s.Scenario.Name, s.Scenario.AlertType, s.Scenario.Start.Format("01-02 15:04")))
		}
	}
	if len(missed) > 0 {
		fmt.Fprintf(&b, "\nMissed scenarios (%d):\n%s\n", len(missed), strings.Join(missed, "\n"))
	}
	if len(r.False) > 0 {
		type key struct{ typ, trap string }
		counts := map[key]int{}
		for _, f := range r.False {
			t := f.Trap
			if f.Folded {
				t = "\x00folded"
			}
			counts[key{f.Alert.Type, t}]++
		}
		keys := make([]key, 0, len(counts))
		for k := range counts {
			keys = append(keys, k)
		}
		sort.Slice(keys, func(i, j int) bool {
			if keys[i].typ != keys[j].typ {
				return keys[i].typ < keys[j].typ
			}
			return keys[i].trap < keys[j].trap
		})
		fmt.Fprintf(&b, "\nFalse alerts (%d):\n", len(r.False))
		for _, k := range keys {
			trap := "no trap (plain benign traffic)"
			switch {
			case k.trap == "\x00folded":
				trap = "folded into an attack's alert (it began before the attack)"
			case k.trap != "":
				trap = "trap " + k.trap
			}
			fmt.Fprintf(&b, "  %-36s %4d  %s\n", k.typ, counts[k], trap)
		}
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteDetails lists every false and mistyped alert, one line each.
func (r *Result) WriteDetails(w io.Writer) error {
	var b strings.Builder
	line := func(kind string, a model.Alert, trap string) {
		who := ""
		if a.Client != nil {
			who = "client " + a.Client.IP
		}
		if a.Identity != nil && a.Identity.Name != "" {
			who = strings.TrimSpace(who + " identity " + a.Identity.Name)
		}
		where := ""
		if a.Endpoint != nil {
			where = a.Endpoint.Key()
		}
		if trap != "" {
			trap = " (trap " + trap + ")"
		}
		fmt.Fprintf(&b, "%-8s %s %-34s %s %s ×%d%s\n", kind, a.FirstSeen.UTC().Format("01-02T15:04:05"), a.Type, who, where, a.Count, trap)
	}
	for _, f := range r.False {
		kind := "false"
		if f.Folded {
			kind = "folded"
		}
		line(kind, f.Alert, f.Trap)
	}
	for _, a := range r.Mistyped {
		line("mistyped", a, "")
	}
	for _, a := range r.Misattributed {
		line("misattr", a, "")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// jsonResult is the machine-readable form of a result.
type jsonResult struct {
	Variant   string         `json:"variant"`
	Days      float64        `json:"days"`
	Records   int64          `json:"records"`
	Rows      []jsonRow      `json:"types"`
	Total     jsonRow        `json:"total"`
	Scenarios []jsonScenario `json:"scenarios"`
	False     []jsonAlert    `json:"false_alerts"`
	Mistyped  []jsonAlert    `json:"mistyped_alerts"`
	Misattrib []jsonAlert    `json:"misattributed_alerts"`
}

type jsonRow struct {
	Type         string  `json:"type"`
	Scenarios    int     `json:"scenarios"`
	Detected     int     `json:"detected"`
	Recall       float64 `json:"recall"`
	FalsePerDay  float64 `json:"false_alerts_per_day"`
	MedianTTDSec float64 `json:"median_ttd_seconds"`
	MaxTTDSec    float64 `json:"max_ttd_seconds"`
	Alerts       int     `json:"alerts"`
	Mistyped     int     `json:"mistyped"`
	Misattrib    int     `json:"misattributed"`
	False        int     `json:"false_alerts"`
	TrapFalse    int     `json:"trap_false_alerts"`
}

type jsonScenario struct {
	Name     string    `json:"name"`
	Type     string    `json:"alert_type"`
	Start    time.Time `json:"start"`
	Detected bool      `json:"detected"`
	TTDSec   float64   `json:"ttd_seconds,omitempty"`
	AlertIDs []string  `json:"alert_ids,omitempty"`
}

type jsonAlert struct {
	ID        string             `json:"id"`
	Type      string             `json:"type"`
	FirstSeen time.Time          `json:"first_seen"`
	Count     int64              `json:"count"`
	Client    string             `json:"client,omitempty"`
	Identity  string             `json:"identity,omitempty"`
	Endpoint  *model.EndpointRef `json:"endpoint,omitempty"`
	Trap      string             `json:"trap,omitempty"`
}

func (res *Result) toJSONRow(r Row) jsonRow {
	return jsonRow{Type: r.Type, Scenarios: r.Scenarios, Detected: r.Detected, Recall: r.Recall(), FalsePerDay: res.FalsePerDay(r), MedianTTDSec: r.MedianTTD.Seconds(), MaxTTDSec: r.MaxTTD.Seconds(),
		Alerts: r.Alerts, Mistyped: r.Mistyped, Misattrib: r.Misattrib, False: r.FalseAlerts, TrapFalse: r.TrapFalse}
}

func toJSONAlert(a model.Alert, trap string) jsonAlert {
	j := jsonAlert{ID: a.ID, Type: a.Type, FirstSeen: a.FirstSeen.UTC(), Count: a.Count, Endpoint: a.Endpoint, Trap: trap}
	if a.Client != nil {
		j.Client = a.Client.IP
	}
	if a.Identity != nil {
		j.Identity = a.Identity.Name
	}
	return j
}

// WriteJSON writes the scores as JSON (types, totals, every scenario,
// every false and mistyped alert — identities by readable name only).
func (r *Result) WriteJSON(w io.Writer) error {
	b, err := json.MarshalIndent(r.jsonResult(), "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// WriteJSONRuns writes one run as WriteJSON does, several as an array.
func WriteJSONRuns(w io.Writer, runs []*Result) error {
	if len(runs) == 1 {
		return runs[0].WriteJSON(w)
	}
	all := make([]jsonResult, 0, len(runs))
	for _, r := range runs {
		all = append(all, r.jsonResult())
	}
	b, err := json.MarshalIndent(all, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

func (r *Result) jsonResult() jsonResult {
	out := jsonResult{Variant: r.Variant, Days: r.Days, Records: r.Records, Total: r.toJSONRow(r.Total), Rows: []jsonRow{}, Scenarios: []jsonScenario{}, False: []jsonAlert{}, Mistyped: []jsonAlert{}, Misattrib: []jsonAlert{}}
	for _, row := range r.Rows {
		out.Rows = append(out.Rows, r.toJSONRow(row))
	}
	for _, s := range r.Scenarios {
		js := jsonScenario{Name: s.Scenario.Name, Type: s.Scenario.AlertType, Start: s.Scenario.Start.UTC(), Detected: s.Detected, AlertIDs: s.AlertIDs}
		if s.Detected {
			js.TTDSec = s.TTD.Seconds()
		}
		out.Scenarios = append(out.Scenarios, js)
	}
	for _, f := range r.False {
		out.False = append(out.False, toJSONAlert(f.Alert, f.Trap))
	}
	for _, a := range r.Mistyped {
		out.Mistyped = append(out.Mistyped, toJSONAlert(a, ""))
	}
	for _, a := range r.Misattributed {
		out.Misattrib = append(out.Misattrib, toJSONAlert(a, ""))
	}
	return out
}

// WriteVariantTable prints, per alert type, the recall, false alerts per
// day and median time to detect of each run side by side (one column group
// per variant, in the order given). The first run is the tuning one; the
// others are held out.
func WriteVariantTable(w io.Writer, runs []*Result) error {
	var b strings.Builder
	types := map[string]bool{}
	for _, r := range runs {
		for _, row := range r.Rows {
			types[row.Type] = true
		}
	}
	names := make([]string, 0, len(types))
	for t := range types {
		names = append(names, t)
	}
	sort.Strings(names)
	fmt.Fprintf(&b, "%-36s", "TYPE")
	for i, r := range runs {
		tag := r.Variant
		if i == 0 {
			tag += " (tuning)"
		} else {
			tag += " (held out)"
		}
		fmt.Fprintf(&b, " | %-25s", tag)
	}
	b.WriteString("\n")
	fmt.Fprintf(&b, "%-36s", "")
	for range runs {
		fmt.Fprintf(&b, " | %-7s %7s %9s", "recall", "false/d", "TTD(med)")
	}
	b.WriteString("\n")
	cell := func(r *Result, row Row, ok bool) string {
		if !ok {
			return fmt.Sprintf("%-7s %7s %9s", "", "", "")
		}
		rec := "—"
		if row.Scenarios > 0 {
			rec = fmt.Sprintf("%d/%d", row.Detected, row.Scenarios)
		}
		ttd := fmtDur(row.MedianTTD, row.Detected > 0 && row.Type != "total")
		return fmt.Sprintf("%-7s %7.2f %9s", rec, r.FalsePerDay(row), ttd)
	}
	for _, t := range append(names, "total") {
		fmt.Fprintf(&b, "%-36s", t)
		for _, r := range runs {
			row, ok := Row{}, false
			if t == "total" {
				row, ok = r.Total, true
			} else {
				for _, x := range r.Rows {
					if x.Type == t {
						row, ok = x, true
					}
				}
			}
			b.WriteString(" | " + cell(r, row, ok))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "%-36s", "records / mistyped / misattributed")
	for _, r := range runs {
		fmt.Fprintf(&b, " | %-25s", fmt.Sprintf("%d / %d / %d", r.Records, r.Total.Mistyped, r.Total.Misattrib))
	}
	b.WriteString("\n")
	_, err := io.WriteString(w, b.String())
	return err
}
