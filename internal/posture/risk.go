package posture

import (
	"fmt"
	"sort"
	"strings"

	"github.com/palisade-sec/palisade/internal/classify"
	"github.com/palisade-sec/palisade/internal/model"
)

// Risk weights (points). The score is the capped sum of the factors.
const (
	PointsExternal        = 25 // called from the internet
	PointsNoAuth          = 25 // answers without credentials
	PointsUnknownAuth     = 10 // authentication could not be established
	PointsCriticalData    = 25 // secrets, cards, SSNs, IBANs, passports in responses or requests
	PointsPersonalData    = 15 // e-mail, phone, date of birth, names, addresses, JWTs
	PointsOtherData       = 10 // custom types
	PointsLowData         = 5  // ip_address only
	MaxPointsAlerts       = 25
	MaxPointsFindings     = 15
	pointsPerCritAlert    = 15
	pointsPerHighAlert    = 10
	pointsPerMediumAlert  = 5
	pointsPerLowAlert     = 2
	pointsPerCritFinding  = 10
	pointsPerHighFinding  = 6
	pointsPerMedFinding   = 3
	pointsPerLowFinding   = 1
	personalDataTypesList = "email phone date_of_birth person_name address jwt"
)

var personalData = func() map[string]bool {
	m := map[string]bool{}
	for _, t := range strings.Fields(personalDataTypesList) {
		m[t] = true
	}
	return m
}()

func alertPoints(sev string) int {
	switch sev {
	case model.SevCritical:
		return pointsPerCritAlert
	case model.SevHigh:
		return pointsPerHighAlert
	case model.SevMedium:
		return pointsPerMediumAlert
	case model.SevLow:
		return pointsPerLowAlert
	}
	return 0
}

func findingPoints(sev string) int {
	switch sev {
	case model.SevCritical:
		return pointsPerCritFinding
	case model.SevHigh:
		return pointsPerHighFinding
	case model.SevMedium:
		return pointsPerMedFinding
	case model.SevLow:
		return pointsPerLowFinding
	}
	return 0
}

// open reports alerts still needing attention (no triage status means open).
func open(a *model.Alert) bool {
	return a.Status == "" || a.Status == "open" || a.Status == "acknowledged"
}

// Score sets eps[i].Risk: a 0–100 score and the factors behind it —
// exposure, authentication, data sensitivity (unmasked data only), open
// alerts on the endpoint and posture findings, each by severity with caps.
// Alerts and findings are matched to endpoints by EndpointRef.Key().
func Score(eps []model.Endpoint, alerts []model.Alert, findings []model.Finding) {
	alertsBy := map[string]map[string]int{}
	for i := range alerts {
		a := &alerts[i]
		if a.Endpoint == nil || !open(a) {
			continue
		}
		k := a.Endpoint.Key()
		if alertsBy[k] == nil {
			alertsBy[k] = map[string]int{}
		}
		alertsBy[k][a.Severity]++
	}
	findBy := map[string]map[string]int{}
	for i := range findings {
		f := &findings[i]
		if f.Endpoint == nil {
			continue
		}
		k := f.Endpoint.Key()
		if findBy[k] == nil {
			findBy[k] = map[string]int{}
		}
		findBy[k][f.Severity]++
	}
	for i := range eps {
		ep := &eps[i]
		key := ep.Ref().Key()
		factors := []model.RiskFactor{}
		if ep.Exposure == "external" {
			factors = append(factors, model.RiskFactor{Factor: "exposure", Points: PointsExternal, Detail: "called from the internet"})
		}
		switch role := endpointRole(ep); {
		case role != "" && ep.Authentication != "required":
			factors = append(factors, model.RiskFactor{Factor: "authentication", Points: 0, Detail: "public by role: " + role})
		case ep.Authentication == "none":
			factors = append(factors, model.RiskFactor{Factor: "authentication", Points: PointsNoAuth, Detail: "answers without credentials"})
		case ep.Authentication == "unknown" || ep.Authentication == "":
			factors = append(factors, model.RiskFactor{Factor: "authentication", Points: PointsUnknownAuth, Detail: "authentication not established"})
		}
		if pts, detail := dataPoints(ep); pts > 0 {
			factors = append(factors, model.RiskFactor{Factor: "data_sensitivity", Points: pts, Detail: detail})
		}
		if pts, detail := severityPoints(alertsBy[key], alertPoints, MaxPointsAlerts); pts > 0 {
			factors = append(factors, model.RiskFactor{Factor: "open_alerts", Points: pts, Detail: detail})
		}
		if pts, detail := severityPoints(findBy[key], findingPoints, MaxPointsFindings); pts > 0 {
			factors = append(factors, model.RiskFactor{Factor: "findings", Points: pts, Detail: detail})
		}
		total := 0
		for _, f := range factors {
			total += f.Points
		}
		if total > 100 {
			total = 100
		}
		sort.SliceStable(factors, func(a, b int) bool { return factors[a].Points > factors[b].Points })
		ep.Risk = model.Risk{Score: total, Factors: factors}
	}
}

func dataPoints(ep *model.Endpoint) (int, string) {
	best := 0
	set := map[string]bool{}
	for _, sd := range ep.SensitiveData {
		if sd.Masked {
			continue
		}
		p := PointsOtherData
		switch {
		case criticalData[sd.Type]:
			p = PointsCriticalData
		case personalData[sd.Type]:
			p = PointsPersonalData
		case sd.Type == classify.TypeIP:
			p = PointsLowData
		}
		set[sd.Type] = true
		if p > best {
			best = p
		}
	}
	if best == 0 {
		return 0, ""
	}
	return best, strings.Join(sortedSet(set), ", ")
}

func severityPoints(counts map[string]int, per func(string) int, max int) (int, string) {
	if len(counts) == 0 {
		return 0, ""
	}
	pts := 0
	var parts []string
	for _, sev := range []string{model.SevCritical, model.SevHigh, model.SevMedium, model.SevLow, model.SevInfo} {
		if n := counts[sev]; n > 0 {
			pts += n * per(sev)
			parts = append(parts, fmt.Sprintf("%d %s", n, sev))
		}
	}
	if pts > max {
		pts = max
	}
	return pts, strings.Join(parts, ", ")
}
