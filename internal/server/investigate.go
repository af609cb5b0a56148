package server

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/palisade-sec/palisade/internal/alert"
	"github.com/palisade-sec/palisade/internal/detect"
	"github.com/palisade-sec/palisade/internal/incident"
	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/store"
)

// Investigation routes: subjects (attacker view), incidents, finding
// triage, bulk triage, probes, API changes and the alert catalogue.

// MaxIncidentAlerts bounds the alerts incidents are computed from (the
// newest by last seen); an answer computed from fewer than all says so.
const MaxIncidentAlerts = 5000

// MaxBulk bounds the ids of one bulk triage request.
const MaxBulk = 500

func badParam(w http.ResponseWriter, err error) bool {
	if err == nil {
		return false
	}
	writeError(w, http.StatusBadRequest, err.Error())
	return true
}

// listError answers a store error of a list: a bad cursor or parameter is
// the client's (400), anything else is ours.
func (s *Server) listError(w http.ResponseWriter, err error) {
	msg := err.Error()
	for _, p := range []string{"cursor:", "sort:", "kind:", "status:", "by:"} {
		if strings.HasPrefix(msg, p) {
			writeError(w, http.StatusBadRequest, msg)
			return
		}
	}
	s.storeError(w, err)
}

// ---- subjects ----

func (s *Server) handleSubjects(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := qint(r, "limit")
	if badParam(w, errors.Join(err, oneOf("kind", q.Get("kind"), "client", "identity"))) {
		return
	}
	page, err := s.st.ListSubjects(r.Context(), store.SubjectFilter{Kind: q.Get("kind"), Q: q.Get("q"), Limit: limit, Cursor: q.Get("cursor")})
	if err != nil {
		s.listError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

// handleEndpointSubjects lists the stored client addresses and identities
// that called an endpoint, most requests to it first.
func (s *Server) handleEndpointSubjects(w http.ResponseWriter, r *http.Request) {
	limit, err := qint(r, "limit")
	if badParam(w, err) {
		return
	}
	e, err := s.st.Endpoint(r.Context(), r.PathValue("id"))
	if err != nil {
		s.storeError(w, err)
		return
	}
	items, err := s.st.EndpointSubjects(r.Context(), e.Ref().Key(), limit)
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

// SubjectResponse answers GET /api/v1/subjects/{kind}/{id}.
type SubjectResponse struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
	// Activity is nil when no traffic summary is stored for the subject
	// (it was not among the most active, or it expired); alerts may
	// still name it.
	Activity *store.SubjectDetail `json:"activity"`
	// Alerts about the subject, newest first (at most 100).
	Alerts     []store.StoredAlert `json:"alerts"`
	MoreAlerts bool                `json:"more_alerts"`
}

func subjectID(kind, id string) (string, error) {
	switch kind {
	case "client":
		a, err := netip.ParseAddr(id)
		if err != nil {
			return "", fmt.Errorf("id: not an IP address: %q", id)
		}
		return a.Unmap().String(), nil
	case "identity":
		if id == "" || len(id) > 200 {
			return "", fmt.Errorf("id: an identity id of 1 to 200 characters")
		}
		return id, nil
	}
	return "", fmt.Errorf("kind: %q is not one of client, identity", kind)
}

func (s *Server) handleSubject(w http.ResponseWriter, r *http.Request) {
	kind := r.PathValue("kind")
	id, err := subjectID(kind, r.PathValue("id"))
	if badParam(w, err) {
		return
	}
	res := SubjectResponse{Kind: kind, ID: id}
	d, err := s.st.Subject(r.Context(), kind, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		s.storeError(w, err)
		return
	default:
		res.Activity = d
	}
	f := store.AlertFilter{Limit: 100}
	if kind == "client" {
		f.Address = id
	} else {
		f.IdentityID = id
	}
	page, err := s.st.ListAlerts(r.Context(), f)
	if err != nil {
		s.storeError(w, err)
		return
	}
	res.Alerts, res.MoreAlerts = page.Items, page.NextCursor != ""
	if res.Activity == nil && len(res.Alerts) == 0 {
		writeError(w, http.StatusNotFound, "nothing stored about "+kind+" "+id)
		return
	}
	writeJSON(w, http.StatusOK, res)
}

// ---- incidents ----

// IncidentList answers GET /api/v1/incidents.
type IncidentList struct {
	Items      []incident.Incident `json:"items"`
	NextCursor string              `json:"next_cursor,omitempty"`
	// AlertsConsidered is how many alerts the grouping saw; Truncated
	// says the newest MaxIncidentAlerts were taken, not all.
	AlertsConsidered int  `json:"alerts_considered"`
	Truncated        bool `json:"truncated"`
}

// loadIncidents groups the stored alerts (last seen in [from, to) when
// given; the newest MaxIncidentAlerts).
func (s *Server) loadIncidents(ctx context.Context, from, to time.Time) ([]incident.Incident, int, bool, error) {
	var alerts []model.Alert
	cursor := ""
	truncated := false
	for {
		page, err := s.st.ListAlerts(ctx, store.AlertFilter{From: from, To: to, Limit: 500, Cursor: cursor})
		if err != nil {
			return nil, 0, false, err
		}
		for _, a := range page.Items {
			alerts = append(alerts, a.Alert)
		}
		if page.NextCursor == "" {
			break
		}
		if len(alerts) >= MaxIncidentAlerts {
			truncated = true
			break
		}
		cursor = page.NextCursor
	}
	return incident.Group(alerts, incident.Config{}), len(alerts), truncated, nil
}

func (s *Server) handleIncidents(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := qint(r, "limit")
	minAlerts, err2 := qint(r, "min_alerts")
	from, err3 := qtime(r, "from")
	to, err4 := qtime(r, "to")
	offset, err5 := decodeOffset(q.Get("cursor"))
	statuses := qlist(r, "status")
	var err6 error
	for _, st := range statuses {
		err6 = errors.Join(err6, oneOf("status", st, store.StatusOpen, store.StatusAcknowledged, store.StatusResolved, store.StatusFalsePositive))
	}
	if badParam(w, errors.Join(err, err2, err3, err4, err5, err6)) {
		return
	}
	if minAlerts == 0 {
		minAlerts = 2
	}
	limit = store.ClampLimit(limit)
	incs, n, truncated, err := s.loadIncidents(r.Context(), from, to)
	if err != nil {
		s.storeError(w, err)
		return
	}
	sub := strings.ToLower(q.Get("q"))
	var sel []incident.Incident
	for _, inc := range incs {
		if len(inc.AlertIDs) < minAlerts {
			continue
		}
		if len(statuses) > 0 && !contains(statuses, inc.Status) {
			continue
		}
		if sub != "" && !incidentMatches(&inc, sub) {
			continue
		}
		sel = append(sel, inc)
	}
	res := IncidentList{Items: []incident.Incident{}, AlertsConsidered: n, Truncated: truncated}
	if offset < len(sel) {
		end := min(offset+limit, len(sel))
		res.Items = sel[offset:end]
		if end < len(sel) {
			res.NextCursor = encodeOffset(end)
		}
	}
	writeJSON(w, http.StatusOK, res)
}

func incidentMatches(inc *incident.Incident, q string) bool {
	if strings.Contains(strings.ToLower(inc.Subject.ID+" "+inc.Subject.Name), q) {
		return true
	}
	for _, c := range inc.Clients {
		if strings.Contains(c, q) {
			return true
		}
	}
	for _, i := range inc.Identities {
		if strings.Contains(strings.ToLower(i.ID+" "+i.Name), q) {
			return true
		}
	}
	return false
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func encodeOffset(n int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("o" + strconv.Itoa(n)))
}

func decodeOffset(c string) (int, error) {
	if c == "" {
		return 0, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || len(b) < 2 || b[0] != 'o' {
		return 0, fmt.Errorf("cursor: malformed")
	}
	n, err := strconv.Atoi(string(b[1:]))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("cursor: malformed")
	}
	return n, nil
}

// IncidentDetail answers GET /api/v1/incidents/{id}.
type IncidentDetail struct {
	incident.Incident
	Alerts []store.StoredAlert `json:"alerts"`
}

func (s *Server) findIncident(ctx context.Context, id string) (*incident.Incident, error) {
	incs, _, _, err := s.loadIncidents(ctx, time.Time{}, time.Time{})
	if err != nil {
		return nil, err
	}
	for i := range incs {
		if incs[i].ID == id {
			return &incs[i], nil
		}
	}
	return nil, store.ErrNotFound
}

func (s *Server) incidentDetail(ctx context.Context, inc *incident.Incident) (*IncidentDetail, error) {
	d := &IncidentDetail{Incident: *inc, Alerts: []store.StoredAlert{}}
	for _, id := range inc.AlertIDs {
		a, _, err := s.st.Alert(ctx, id)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		d.Alerts = append(d.Alerts, *a)
	}
	return d, nil
}

func (s *Server) handleIncident(w http.ResponseWriter, r *http.Request) {
	inc, err := s.findIncident(r.Context(), r.PathValue("id"))
	if err != nil {
		s.storeError(w, err)
		return
	}
	d, err := s.incidentDetail(r.Context(), inc)
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func checkTriage(req TriageRequest) error {
	if _, ok := store.TriageActions[req.Action]; !ok {
		return fmt.Errorf("action: unknown %q (acknowledge, resolve, false_positive, reopen)", req.Action)
	}
	if req.Action == "false_positive" && strings.TrimSpace(req.Reason) == "" {
		return errors.New("reason: required for false_positive")
	}
	if len(req.Reason) > 2000 {
		return errors.New("reason: longer than 2000 characters")
	}
	return nil
}

// IncidentTriageResponse answers POST /api/v1/incidents/{id}/triage.
type IncidentTriageResponse struct {
	Triaged  int             `json:"triaged"`
	Incident *IncidentDetail `json:"incident"`
}

func (s *Server) handleIncidentTriage(w http.ResponseWriter, r *http.Request) {
	var req TriageRequest
	if err := decodeBody(r, &req); badParam(w, err) {
		return
	}
	if badParam(w, checkTriage(req)) {
		return
	}
	id := r.PathValue("id")
	inc, err := s.findIncident(r.Context(), id)
	if err != nil {
		s.storeError(w, err)
		return
	}
	actor := principalFrom(r.Context()).actor()
	now := s.now().UTC()
	n := 0
	for _, aid := range inc.AlertIDs {
		if _, err := s.st.Triage(r.Context(), aid, req.Action, actor, req.Reason, now); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				continue // deleted meanwhile (retention, erasure)
			}
			s.storeError(w, err)
			return
		}
		n++
	}
	s.audit(r, "incident.triage", id, map[string]any{"action": req.Action, "reason": req.Reason, "alerts": inc.AlertIDs})
	// The incident as it is now (same alerts, new statuses).
	after, err := s.findIncident(r.Context(), id)
	if err != nil {
		s.storeError(w, err)
		return
	}
	d, err := s.incidentDetail(r.Context(), after)
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, IncidentTriageResponse{Triaged: n, Incident: d})
}

// ---- bulk triage ----

// BulkTriageRequest is the body of POST /api/v1/alerts/triage.
type BulkTriageRequest struct {
	IDs    []string `json:"ids"`
	Action string   `json:"action"`
	Reason string   `json:"reason"`
}

// BulkTriageResponse answers the bulk triage routes.
type BulkTriageResponse struct {
	Triaged  int      `json:"triaged"`
	NotFound []string `json:"not_found"`
}

func checkIDs(ids []string) error {
	if len(ids) == 0 {
		return errors.New("ids: give at least one id")
	}
	if len(ids) > MaxBulk {
		return fmt.Errorf("ids: %d ids, at most %d", len(ids), MaxBulk)
	}
	for _, id := range ids {
		if id == "" || len(id) > 100 {
			return errors.New("ids: every id has 1 to 100 characters")
		}
	}
	return nil
}

func (s *Server) handleAlertsBulkTriage(w http.ResponseWriter, r *http.Request) {
	var req BulkTriageRequest
	if err := decodeBody(r, &req); badParam(w, err) {
		return
	}
	if badParam(w, errors.Join(checkIDs(req.IDs), checkTriage(TriageRequest{Action: req.Action, Reason: req.Reason}))) {
		return
	}
	actor := principalFrom(r.Context()).actor()
	now := s.now().UTC()
	s.bulk(w, r, req.IDs, "alert.triage_bulk", "alerts", map[string]any{"action": req.Action, "reason": req.Reason}, func(id string) error {
		_, err := s.st.Triage(r.Context(), id, req.Action, actor, req.Reason, now)
		return err
	})
}

// bulk triages each id with one function, counts the ids that do not
// exist, writes one audit entry naming the ids triaged and answers.
func (s *Server) bulk(w http.ResponseWriter, r *http.Request, ids []string, action, noun string, detail map[string]any, triage func(id string) error) {
	res := BulkTriageResponse{NotFound: []string{}}
	var done []string
	for _, id := range ids {
		if err := triage(id); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				res.NotFound = append(res.NotFound, id)
				continue
			}
			s.storeError(w, err)
			return
		}
		res.Triaged++
		done = append(done, id)
	}
	detail[noun] = done
	s.audit(r, action, fmt.Sprintf("%d %s", len(done), noun), detail)
	writeJSON(w, http.StatusOK, res)
}

// ---- findings ----

// FindingTriageRequest is the body of POST /api/v1/findings/{id}/triage
// (and, with ids, of the bulk route).
type FindingTriageRequest struct {
	IDs       []string   `json:"ids,omitempty"`
	Action    string     `json:"action"`
	Reason    string     `json:"reason"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
}

// MaxRiskAcceptance bounds how far ahead a risk acceptance may expire.
const MaxRiskAcceptance = 366 * 24 * time.Hour

func (s *Server) checkFindingTriage(req FindingTriageRequest) (time.Time, error) {
	if _, ok := store.FindingActions[req.Action]; !ok {
		return time.Time{}, fmt.Errorf("action: unknown %q (accept_risk, mark_fixed, reopen)", req.Action)
	}
	if len(req.Reason) > 2000 {
		return time.Time{}, errors.New("reason: longer than 2000 characters")
	}
	if req.Action != "accept_risk" {
		if req.ExpiresAt != nil {
			return time.Time{}, errors.New("expires_at: only for accept_risk")
		}
		return time.Time{}, nil
	}
	if strings.TrimSpace(req.Reason) == "" {
		return time.Time{}, errors.New("reason: required for accept_risk")
	}
	if req.ExpiresAt == nil {
		return time.Time{}, errors.New("expires_at: required for accept_risk (RFC 3339)")
	}
	now := s.now()
	if !req.ExpiresAt.After(now) {
		return time.Time{}, errors.New("expires_at: must be in the future")
	}
	if req.ExpiresAt.Sub(now) > MaxRiskAcceptance {
		return time.Time{}, errors.New("expires_at: at most 366 days ahead")
	}
	return req.ExpiresAt.UTC(), nil
}

func (s *Server) handleFinding(w http.ResponseWriter, r *http.Request) {
	f, hist, err := s.st.Finding(r.Context(), r.PathValue("id"))
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		*store.StoredFinding
		History []store.TriageEvent `json:"history"`
	}{f, hist})
}

func (s *Server) handleFindingTriage(w http.ResponseWriter, r *http.Request) {
	var req FindingTriageRequest
	if err := decodeBody(r, &req); badParam(w, err) {
		return
	}
	if len(req.IDs) > 0 {
		badParam(w, errors.New("ids: not allowed here (POST /api/v1/findings/triage triages several)"))
		return
	}
	exp, err := s.checkFindingTriage(req)
	if badParam(w, err) {
		return
	}
	id := r.PathValue("id")
	f, err := s.st.TriageFinding(r.Context(), id, req.Action, principalFrom(r.Context()).actor(), req.Reason, exp, s.now().UTC())
	if err != nil {
		s.storeError(w, err)
		return
	}
	s.audit(r, "finding.triage", id, map[string]any{"action": req.Action, "reason": req.Reason, "expires_at": req.ExpiresAt})
	writeJSON(w, http.StatusOK, f)
}

func (s *Server) handleFindingsBulkTriage(w http.ResponseWriter, r *http.Request) {
	var req FindingTriageRequest
	if err := decodeBody(r, &req); badParam(w, err) {
		return
	}
	exp, err := s.checkFindingTriage(req)
	if badParam(w, errors.Join(checkIDs(req.IDs), err)) {
		return
	}
	actor := principalFrom(r.Context()).actor()
	now := s.now().UTC()
	s.bulk(w, r, req.IDs, "finding.triage_bulk", "findings", map[string]any{"action": req.Action, "reason": req.Reason, "expires_at": req.ExpiresAt}, func(id string) error {
		_, err := s.st.TriageFinding(r.Context(), id, req.Action, actor, req.Reason, exp, now)
		return err
	})
}

func (s *Server) handleFindingGroups(w http.ResponseWriter, r *http.Request) {
	by := r.URL.Query().Get("by")
	if by == "" {
		by = "rule"
	}
	if badParam(w, oneOf("by", by, "rule", "endpoint")) {
		return
	}
	g, err := s.st.FindingGroups(r.Context(), by)
	if err != nil {
		s.listError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"by": by, "items": g})
}

// ---- probes, API changes ----

func (s *Server) handleProbes(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := qint(r, "limit")
	if badParam(w, errors.Join(err, oneOf("reason", q.Get("reason"), "not_found", "denied", "reconnaissance", "metadata"))) {
		return
	}
	page, err := s.st.ListProbes(r.Context(), store.ProbeFilter{Reason: q.Get("reason"), Q: q.Get("q"), Limit: limit, Cursor: q.Get("cursor")})
	if err != nil {
		s.listError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

func (s *Server) handleAPIChanges(w http.ResponseWriter, r *http.Request) {
	limit, err := qint(r, "limit")
	if badParam(w, err) {
		return
	}
	page, err := s.st.ListAPIChanges(r.Context(), limit, r.URL.Query().Get("cursor"))
	if err != nil {
		s.listError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

// ---- catalogue ----

// OWASPNames are the OWASP API Security Top 10 (2023) category names.
var OWASPNames = map[string]string{
	"API1:2023":  "Broken Object Level Authorization",
	"API2:2023":  "Broken Authentication",
	"API3:2023":  "Broken Object Property Level Authorization",
	"API4:2023":  "Unrestricted Resource Consumption",
	"API5:2023":  "Broken Function Level Authorization",
	"API6:2023":  "Unrestricted Access to Sensitive Business Flows",
	"API7:2023":  "Server Side Request Forgery",
	"API8:2023":  "Security Misconfiguration",
	"API9:2023":  "Improper Inventory Management",
	"API10:2023": "Unsafe Consumption of APIs",
}

// CatalogType is one alert type of GET /api/v1/catalog.
type CatalogType struct {
	Type        string          `json:"type"`
	Title       string          `json:"title"`
	Subject     string          `json:"subject"`
	Severity    string          `json:"severity"`
	OWASP       []string        `json:"owasp"`
	MITRE       []model.MITRE   `json:"mitre"`
	Phase       string          `json:"phase"`
	Remediation string          `json:"remediation"`
	Measures    detect.Measures `json:"measures"`
}

// Catalog answers GET /api/v1/catalog.
type Catalog struct {
	AlertTypes []CatalogType     `json:"alert_types"`
	Details    map[string]string `json:"details"`
	OWASP      map[string]string `json:"owasp"`
	Phases     []string          `json:"phases"`
}

func (s *Server) handleCatalog(w http.ResponseWriter, r *http.Request) {
	c := Catalog{Details: detect.AllDetailWords(), OWASP: OWASPNames, Phases: incident.Phases}
	for _, sp := range alert.Catalog() {
		name := sp.Type.String()
		a := model.Alert{Type: name, MITRE: sp.MITRE, OWASP: sp.OWASP}
		c.AlertTypes = append(c.AlertTypes, CatalogType{Type: name, Title: sp.Title, Subject: sp.Subject, Severity: sp.Severity, OWASP: sp.OWASP,
			MITRE: sp.MITRE, Phase: incident.PhaseOf(&a), Remediation: sp.Remediation, Measures: detect.Explain(name)})
	}
	w.Header().Set("Cache-Control", "private, max-age=300")
	writeJSON(w, http.StatusOK, c)
}
