package server

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	_ "embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/palisade-sec/palisade/internal/dashboard"
	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/identity"
	"github.com/palisade-sec/palisade/internal/inventory"
	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/server/query"
	"github.com/palisade-sec/palisade/internal/store"
	"github.com/palisade-sec/palisade/internal/store/storeopen"
)

//go:embed openapi.json
var openAPIDoc []byte

// OpenAPIDocument returns the OpenAPI 3.1 description of this API.
func OpenAPIDocument() []byte { return openAPIDoc }

// Route is one API route.
type Route struct {
	Method  string
	Pattern string
	perm    perm
	h       http.HandlerFunc
}

// Perm names the permission a route needs (public, any, read, triage,
// admin, ingest).
func (r Route) Perm() string { return r.perm.String() }

// Routes lists every route the server serves.
func (s *Server) Routes() []Route {
	return []Route{
		{"GET", "/healthz", permPublic, s.handleHealth},
		{"GET", "/metrics", permRead, s.handleMetrics},
		{"GET", "/api/v1/openapi.json", permRead, s.handleOpenAPIDoc},
		{"POST", "/api/v1/session", permRead, s.handleLogin},
		{"DELETE", "/api/v1/session", permAny, s.handleLogout},
		{"POST", "/api/v1/ingest", permIngest, s.handleIngest},
		{"POST", "/api/v1/otlp/v1/traces", permIngest, s.handleOTLP},
		{"GET", "/api/v1/endpoints", permRead, s.handleEndpoints},
		{"GET", "/api/v1/endpoints/{id}", permRead, s.handleEndpoint},
		{"GET", "/api/v1/outbound", permRead, s.handleOutboundList},
		{"GET", "/api/v1/outbound/{id}", permRead, s.handleOutbound},
		{"GET", "/api/v1/alerts", permRead, s.handleAlerts},
		{"GET", "/api/v1/alerts/{id}", permRead, s.handleAlert},
		{"POST", "/api/v1/alerts/{id}/triage", permTriage, s.handleTriage},
		{"POST", "/api/v1/alerts/triage", permTriage, s.handleAlertsBulkTriage},
		{"GET", "/api/v1/findings", permRead, s.handleFindings},
		{"GET", "/api/v1/findings/groups", permRead, s.handleFindingGroups},
		{"GET", "/api/v1/findings/{id}", permRead, s.handleFinding},
		{"POST", "/api/v1/findings/{id}/triage", permTriage, s.handleFindingTriage},
		{"POST", "/api/v1/findings/triage", permTriage, s.handleFindingsBulkTriage},
		{"GET", "/api/v1/subjects", permRead, s.handleSubjects},
		{"GET", "/api/v1/endpoints/{id}/subjects", permRead, s.handleEndpointSubjects},
		{"GET", "/api/v1/subjects/{kind}/{id}", permRead, s.handleSubject},
		{"GET", "/api/v1/incidents", permRead, s.handleIncidents},
		{"GET", "/api/v1/incidents/{id}", permRead, s.handleIncident},
		{"POST", "/api/v1/incidents/{id}/triage", permTriage, s.handleIncidentTriage},
		{"GET", "/api/v1/probes", permRead, s.handleProbes},
		{"GET", "/api/v1/api-changes", permRead, s.handleAPIChanges},
		{"GET", "/api/v1/catalog", permRead, s.handleCatalog},
		{"GET", "/api/v1/charts/{name}", permRead, s.handleChart},
		{"GET", "/api/v1/specs", permRead, s.handleSpecs},
		{"POST", "/api/v1/specs", permAdmin, s.handleSpecUpload},
		{"DELETE", "/api/v1/specs/{name}", permAdmin, s.handleSpecDelete},
		{"GET", "/api/v1/gateway-configs", permRead, s.handleGatewayList},
		{"POST", "/api/v1/gateway-configs", permAdmin, s.handleGatewayUpload},
		{"DELETE", "/api/v1/gateway-configs/{id}", permAdmin, s.handleGatewayDelete},
		{"GET", "/api/v1/openapi", permRead, s.handleExport},
		{"GET", "/api/v1/config", permAdmin, s.handleConfigGet},
		{"PUT", "/api/v1/config", permAdmin, s.handleConfigPut},
		{"GET", "/api/v1/overview", permRead, s.handleOverview},
		{"GET", "/api/v1/detectors", permRead, s.handleDetectors},
		{"GET", "/api/v1/audit-log", permAdmin, s.handleAudit},
		{"POST", "/api/v1/erase", permAdmin, s.handleErase},
	}
}

// UIRoutes lists the dashboard routes: static assets only (HTML, CSS,
// JavaScript — no data), public so that the login page can load; every
// piece of data the dashboard shows comes from the authenticated API.
func (s *Server) UIRoutes() []Route {
	ui := http.StripPrefix("/ui", dashboard.Handler())
	return []Route{
		{"GET", "/ui/", permPublic, ui.ServeHTTP},
		{"GET", "/{$}", permPublic, http.RedirectHandler("/ui/", http.StatusFound).ServeHTTP},
	}
}

func (s *Server) routes() *http.ServeMux {
	mux := http.NewServeMux()
	for _, rt := range s.Routes() {
		if s.roleRoute(rt.Pattern) {
			mux.Handle(rt.Method+" "+rt.Pattern, s.wrap(rt))
		}
	}
	if s.opt.Bus == nil || s.opt.Roles.API {
		for _, rt := range s.UIRoutes() {
			mux.Handle(rt.Method+" "+rt.Pattern, s.wrap(rt))
		}
	}
	// Everything else: JSON 404 with the security headers.
	mux.Handle("/", s.wrap(Route{perm: permPublic, h: func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such route: "+r.Method+" "+r.URL.Path)
	}}))
	return mux
}

// securityHeaders sets the headers every answer carries, before the mux
// runs: its own answers (redirects of "//" or ".." paths, 405s) carry them
// too.
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		if r.TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		}
		next.ServeHTTP(w, r)
	})
}

// wrap adds body limits, authentication and deadlines.
func (s *Server) wrap(rt Route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if rt.perm != permIngest && r.Body != nil {
			r.Body = http.MaxBytesReader(w, r.Body, s.config().Server.MaxBody)
		}
		if rt.perm == permPublic {
			rt.h(w, r)
			return
		}
		src := sourceKey(r.RemoteAddr)
		if ok, wait := s.authLimit.allow(src); !ok {
			h.Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
			writeError(w, http.StatusTooManyRequests, "too many failed authentication attempts from this address; retry later")
			return
		}
		p, code, err := s.auth.authenticate(r)
		if err != nil {
			if code == http.StatusUnauthorized {
				h.Set("WWW-Authenticate", `Bearer realm="palisade"`)
				s.authLimit.failed(src, authFailReason(err))
			}
			if code == http.StatusInternalServerError {
				s.log.Error("authentication", "err", err)
				writeError(w, code, "internal error")
				return
			}
			writeError(w, code, err.Error())
			return
		}
		s.authLimit.succeeded(src)
		if !allowed(p.Role, rt.perm) {
			writeError(w, http.StatusForbidden, fmt.Sprintf("role %s may not %s %s (needs %s)", p.Role, r.Method, rt.Pattern, rt.perm))
			return
		}
		if err := query.Check(r.URL.RawQuery); err != nil {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		ctx := context.WithValue(r.Context(), ctxKey{}, p)
		if rt.perm != permIngest {
			// Ingest is bounded by server.read_timeout and its own limits;
			// every other handler and its queries by request_timeout.
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(ctx, s.durations().RequestTimeout)
			defer cancel()
		}
		rt.h(w, r.WithContext(ctx))
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(true)
	_ = enc.Encode(v)
}

// APIError is the body of every error answer.
type APIError struct {
	Error string `json:"error"`
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, APIError{Error: msg})
}

func (s *Server) storeError(w http.ResponseWriter, err error) {
	if errors.Is(err, store.ErrNotFound) {
		writeError(w, http.StatusNotFound, "not found")
		return
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) || strings.Contains(err.Error(), "interrupted") {
		s.m.timeouts.Inc()
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, fmt.Sprintf("query did not finish within server.request_timeout (%s); narrow the filters", s.durations().RequestTimeout))
		return
	}
	s.log.Error("store", "err", err)
	writeError(w, http.StatusInternalServerError, "internal error")
}

func (s *Server) audit(r *http.Request, action, target string, detail map[string]any) {
	if err := s.st.Audit(r.Context(), store.AuditEntry{At: s.now().UTC(), Actor: principalFrom(r.Context()).actor(), Action: action, Target: target, Detail: detail}); err != nil {
		s.log.Error("audit log write failed", "action", action, "err", err)
	}
}

// ---- public, metrics, docs ----

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	status, code := "ok", http.StatusOK
	if err := s.walFailed(); err != nil {
		status, code = "storage failed", http.StatusServiceUnavailable
	}
	writeJSON(w, code, map[string]any{"status": status, "warm": s.Warm()})
}

func (s *Server) handleMetrics(w http.ResponseWriter, r *http.Request) {
	s.m.refreshSinks(s)
	promhttp.HandlerFor(s.m.reg, promhttp.HandlerOpts{}).ServeHTTP(w, r)
}

func (s *Server) handleOpenAPIDoc(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(openAPIDoc)
}

// ---- sessions ----

// SessionResponse answers POST /api/v1/session.
type SessionResponse struct {
	CSRFToken string    `json:"csrf_token"`
	Role      string    `json:"role"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (s *Server) handleLogin(w http.ResponseWriter, r *http.Request) {
	p := principalFrom(r.Context())
	if p.Session != nil {
		writeError(w, http.StatusBadRequest, "already a session: log in with Authorization: Bearer TOKEN")
		return
	}
	if p.Role == store.RoleIngest {
		writeError(w, http.StatusForbidden, "ingest tokens cannot open dashboard sessions")
		return
	}
	sec, err := randomSecret()
	if err != nil {
		s.storeError(w, err)
		return
	}
	csrf, err := randomSecret()
	if err != nil {
		s.storeError(w, err)
		return
	}
	now := s.now().UTC()
	exp := now.Add(s.durations().SessionTTL)
	sh, ch := sha256.Sum256([]byte(sec)), sha256.Sum256([]byte(csrf))
	if err := s.st.CreateSession(r.Context(), store.Session{Hash: sh[:], CSRFHash: ch[:], TokenID: p.TokenID, Role: p.Role, CreatedAt: now, ExpiresAt: exp}); err != nil {
		s.storeError(w, err)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: sec, Path: "/", HttpOnly: true, Secure: r.TLS != nil,
		SameSite: http.SameSiteStrictMode, Expires: exp})
	s.audit(r, "session.create", p.TokenID, nil)
	writeJSON(w, http.StatusCreated, SessionResponse{CSRFToken: csrf, Role: p.Role, ExpiresAt: exp})
}

func (s *Server) handleLogout(w http.ResponseWriter, r *http.Request) {
	p := principalFrom(r.Context())
	if p.Session != nil {
		if err := s.st.DeleteSession(r.Context(), p.Session); err != nil {
			s.storeError(w, err)
			return
		}
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: "", Path: "/", HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode, MaxAge: -1})
	w.WriteHeader(http.StatusNoContent)
}

// ---- OTLP ----

// handleOTLP hands an export request to the OTLP source, which runs into
// the write-ahead log (startSources); a full queue or a failing log is
// answered before the body is read.
func (s *Server) handleOTLP(w http.ResponseWriter, r *http.Request) {
	if s.closing.Load() || s.walFailed() != nil {
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusServiceUnavailable, "not accepting data")
		return
	}
	if s.opt.Bus == nil && s.QueueDepth() >= s.config().Ingest.QueueRecords {
		w.Header().Set("Retry-After", s.retryAfter())
		writeError(w, http.StatusTooManyRequests, "ingest queue full")
		return
	}
	// The body is read here, under the decode budget and capped after
	// decompression (ingest.max_otlp), and handed to the receiver decoded.
	cfg := s.config()
	release, err := s.budget.acquire(r.Context(), otlpReservation(&cfg.Ingest))
	if err != nil {
		w.Header().Set("Retry-After", "5")
		writeError(w, http.StatusTooManyRequests, "ingest.decode_budget in use by other uploads; retry later")
		return
	}
	defer release()
	r.Body = io.NopCloser(s.uploadBody(w, r.Body))
	data, code, err := readOTLPBody(w, r, cfg.Ingest.MaxBody, cfg.Ingest.MaxOTLP)
	if err != nil {
		writeError(w, code, err.Error())
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(data))
	r.Header.Del("Content-Encoding")
	r.ContentLength = int64(len(data))
	s.otlp.ServeHTTP(w, r)
}

// readOTLPBody reads an OTLP export: at most maxBody bytes as sent and
// maxDecoded after the optional gzip Content-Encoding.
func readOTLPBody(w http.ResponseWriter, r *http.Request, maxBody, maxDecoded int64) ([]byte, int, error) {
	body := io.Reader(http.MaxBytesReader(w, r.Body, maxBody))
	switch strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))) {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			return nil, http.StatusBadRequest, fmt.Errorf("body: Content-Encoding gzip but not a gzip stream: %v", err)
		}
		defer zr.Close()
		body = zr
	default:
		return nil, http.StatusUnsupportedMediaType, errors.New("Content-Encoding: want gzip or none")
	}
	data, err := io.ReadAll(io.LimitReader(body, maxDecoded+1))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("body exceeds ingest.max_body (%d bytes)", maxBody)
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, http.StatusRequestTimeout, errors.New("body too slow: not received within server.read_timeout plus 1 s per 64 KiB")
		}
		return nil, http.StatusBadRequest, fmt.Errorf("body unreadable: %v", err)
	}
	if int64(len(data)) > maxDecoded {
		return nil, http.StatusRequestEntityTooLarge, fmt.Errorf("decompressed body exceeds ingest.max_otlp (%d bytes)", maxDecoded)
	}
	return data, 0, nil
}

// ---- inventory ----

func qint(r *http.Request, name string) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%s: not a non-negative integer: %q", name, v)
	}
	return n, nil
}

func qtime(r *http.Request, name string) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return t, fmt.Errorf("%s: not an RFC 3339 time: %q", name, v)
	}
	return t, nil
}

func qlist(r *http.Request, name string) []string {
	var out []string
	for _, v := range r.URL.Query()[name] {
		for _, x := range strings.Split(v, ",") {
			if x = strings.TrimSpace(x); x != "" {
				out = append(out, x)
			}
		}
	}
	return out
}

func oneOf(name, v string, allowed ...string) error {
	if v == "" {
		return nil
	}
	for _, a := range allowed {
		if v == a {
			return nil
		}
	}
	return fmt.Errorf("%s: %q is not one of %s", name, v, strings.Join(allowed, ", "))
}

func (s *Server) handleEndpoints(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := qint(r, "limit")
	if err == nil {
		err = errors.Join(oneOf("state", q.Get("state"), "active", "unused", "shadow", "zombie", "undocumented"),
			oneOf("exposure", q.Get("exposure"), "external", "internal"),
			oneOf("authentication", q.Get("authentication"), "required", "none", "unknown"),
			oneOf("sort", q.Get("sort"), "risk", "requests", "last_seen"))
	}
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	page, err := s.st.ListEndpoints(r.Context(), store.EndpointFilter{Host: q.Get("host"), State: q.Get("state"), Exposure: q.Get("exposure"),
		Authentication: q.Get("authentication"), Sensitive: q.Get("sensitive"), Q: q.Get("q"), Sort: q.Get("sort"), Limit: limit, Cursor: q.Get("cursor")})
	writePage(s, w, page, err)
}

// writePage answers a list request: the page, or 400 for a cursor or sort
// the store refused, or the store's error.
func writePage[T any](s *Server, w http.ResponseWriter, page store.Page[T], err error) {
	if err != nil {
		if strings.HasPrefix(err.Error(), "cursor:") || strings.HasPrefix(err.Error(), "sort:") {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

func (s *Server) handleEndpoint(w http.ResponseWriter, r *http.Request) {
	d, err := s.st.Endpoint(r.Context(), r.PathValue("id"))
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, d)
}

func (s *Server) handleExport(w http.ResponseWriter, r *http.Request) {
	host := r.URL.Query().Get("host")
	if host == "" {
		// One document describes one server: name it.
		hosts, err := s.st.Hosts(r.Context(), 20)
		if err != nil {
			s.storeError(w, err)
			return
		}
		msg := "host: required (the observed API of one host is exported)"
		if len(hosts) > 0 {
			msg += "; observed hosts include: " + strings.Join(hosts, ", ")
		}
		writeError(w, http.StatusBadRequest, msg)
		return
	}
	eps, err := s.st.EndpointsForHost(r.Context(), host)
	if err != nil {
		s.storeError(w, err)
		return
	}
	if len(eps) == 0 {
		writeError(w, http.StatusNotFound, "no endpoints observed for host "+strconv.Quote(host))
		return
	}
	b, err := inventory.ExportOpenAPI(host, eps, "")
	if err != nil {
		writeError(w, http.StatusInternalServerError, "export: "+err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}

func (s *Server) handleOverview(w http.ResponseWriter, r *http.Request) {
	o, err := s.st.Overview(r.Context())
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		*store.Overview
		QueueDepth int64 `json:"queue_depth"`
		Warm       bool  `json:"warm"`
	}{o, s.QueueDepth(), s.Warm()})
}

// ---- alerts ----

func (s *Server) handleAlerts(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := qint(r, "limit")
	from, err2 := qtime(r, "from")
	to, err3 := qtime(r, "to")
	if err = errors.Join(err, err2, err3, oneOf("sort", q.Get("sort"), "last_seen", "severity")); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	for _, sv := range qlist(r, "severity") {
		if model.SeverityRank(sv) < 0 {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("severity: unknown %q", sv))
			return
		}
	}
	f := store.AlertFilter{Types: qlist(r, "type"), Severities: qlist(r, "severity"), Statuses: qlist(r, "status"), From: from, To: to,
		Endpoint: q.Get("endpoint"), ClientIP: q.Get("client_ip"), Address: q.Get("address"), IdentityID: q.Get("identity"), Sort: q.Get("sort"), Limit: limit, Cursor: q.Get("cursor")}
	page, err := s.st.ListAlerts(r.Context(), f)
	if err != nil {
		if strings.HasPrefix(err.Error(), "cursor:") || strings.HasPrefix(err.Error(), "sort:") {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

// AlertDetail answers GET /api/v1/alerts/{id}.
type AlertDetail struct {
	store.StoredAlert
	History []store.TriageEvent `json:"history"`
}

func (s *Server) handleAlert(w http.ResponseWriter, r *http.Request) {
	a, hist, err := s.st.Alert(r.Context(), r.PathValue("id"))
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, AlertDetail{*a, hist})
}

// TriageRequest is the body of POST /api/v1/alerts/{id}/triage.
type TriageRequest struct {
	Action string `json:"action"`
	Reason string `json:"reason"`
}

func decodeBody(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return fmt.Errorf("body: larger than %d bytes", mbe.Limit)
		}
		return fmt.Errorf("body: %v", err)
	}
	return nil
}

func (s *Server) handleTriage(w http.ResponseWriter, r *http.Request) {
	var req TriageRequest
	if err := decodeBody(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if _, ok := store.TriageActions[req.Action]; !ok {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("action: unknown %q (acknowledge, resolve, false_positive, reopen)", req.Action))
		return
	}
	if req.Action == "false_positive" && strings.TrimSpace(req.Reason) == "" {
		writeError(w, http.StatusBadRequest, "reason: required for false_positive")
		return
	}
	if len(req.Reason) > 2000 {
		writeError(w, http.StatusBadRequest, "reason: longer than 2000 characters")
		return
	}
	id := r.PathValue("id")
	a, err := s.st.Triage(r.Context(), id, req.Action, principalFrom(r.Context()).actor(), req.Reason, s.now().UTC())
	if err != nil {
		s.storeError(w, err)
		return
	}
	s.audit(r, "alert.triage", id, map[string]any{"action": req.Action, "reason": req.Reason})
	writeJSON(w, http.StatusOK, a)
}

func (s *Server) handleFindings(w http.ResponseWriter, r *http.Request) {
	limit, err := qint(r, "limit")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	q := r.URL.Query()
	if err := oneOf("status", q.Get("status"), store.FindingOpen, store.FindingAccepted, store.FindingFixed, store.FindingVerified); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	page, err := s.st.ListFindings(r.Context(), store.FindingFilter{Status: q.Get("status"), Rule: q.Get("rule"), Severities: qlist(r, "severity"), Endpoint: q.Get("endpoint"), Limit: limit, Cursor: q.Get("cursor")})
	if err != nil {
		if strings.HasPrefix(err.Error(), "cursor:") || strings.HasPrefix(err.Error(), "status:") {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

// ---- specs ----

func (s *Server) handleSpecs(w http.ResponseWriter, r *http.Request) {
	specs, err := s.st.ListSpecs(r.Context())
	if err != nil {
		s.storeError(w, err)
		return
	}
	for i := range specs {
		specs[i].Problem = s.opt.SpecProblems[specs[i].ID]
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": specs})
}

// checkSpec parses an uploaded spec as the engine's loader will and checks
// that it applies to at least one host (its servers' or given).
func checkSpec(name string, data []byte, hosts []string) error {
	sp, err := inventory.ParseSpec(name, data)
	if err != nil {
		return err
	}
	if len(sp.Hosts) == 0 && len(hosts) == 0 {
		return errors.New("no host to apply it to: its servers give no absolute URL; name one with ?host=api.example.com")
	}
	return nil
}

func (s *Server) handleSpecUpload(w http.ResponseWriter, r *http.Request) {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body: larger than server.max_body (%d bytes)", s.config().Server.MaxBody))
		return
	}
	name := r.URL.Query().Get("name")
	if name == "" {
		name = "spec"
	}
	if len(name) > 200 || strings.ContainsAny(name, "/\\,\x00") || strings.HasPrefix(name, ".") {
		writeError(w, http.StatusBadRequest, "name: at most 200 characters, no path separators or commas, not starting with a dot")
		return
	}
	var hosts []string
	for _, h := range qlist(r, "host") {
		if !validHost(h) {
			writeError(w, http.StatusBadRequest, fmt.Sprintf("host: %q is not a host name or address (host[:port])", h))
			return
		}
		hosts = append(hosts, strings.ToLower(h))
	}
	if err := checkSpec(name, data, hosts); err != nil {
		writeError(w, http.StatusUnprocessableEntity, "spec "+name+": "+err.Error())
		return
	}
	sum := sha256.Sum256(data)
	sp := store.Spec{ID: "sp_" + hex.EncodeToString(sum[:8]), Name: name, SHA256: hex.EncodeToString(sum[:]), Size: len(data), Content: data,
		UploadedAt: s.now().UTC(), UploadedBy: principalFrom(r.Context()).actor(), Hosts: hosts}
	if err := s.st.SaveSpec(r.Context(), sp); err != nil {
		s.storeError(w, err)
		return
	}
	s.audit(r, "spec.upload", sp.ID, map[string]any{"name": name, "sha256": sp.SHA256, "size": len(data), "hosts": hosts})
	sp.Content = nil
	writeJSON(w, http.StatusCreated, map[string]any{"spec": sp, "applies": "at next restart (specs are loaded when the engine starts)"})
}

// validHost accepts host names, IP addresses and [IPv6], with an optional
// port.
func validHost(h string) bool {
	if h == "" || len(h) > 255 {
		return false
	}
	u, err := url.Parse("http://" + h)
	return err == nil && u.Host == h && u.Path == "" && u.User == nil && u.RawQuery == "" && u.Fragment == ""
}

func (s *Server) handleSpecDelete(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	del, err := s.st.DeleteSpecs(r.Context(), name)
	if err != nil {
		s.storeError(w, err)
		return
	}
	ids := make([]string, len(del))
	for i, sp := range del {
		ids[i] = sp.ID
	}
	s.audit(r, "spec.delete", name, map[string]any{"ids": ids})
	writeJSON(w, http.StatusOK, map[string]any{"deleted": del, "applies": "at next restart (specs are loaded when the engine starts)"})
}

// StoredSpecs writes the stored specs to dir for the engine's loader and
// returns their arguments ("FILE[,host=HOST]..."). A stored spec that no
// longer loads (a parser change, a spec stored before uploads were
// validated) is skipped, never fatal: it is returned in problems (spec id →
// reason) to be logged, counted and shown by GET /api/v1/specs.
func StoredSpecs(ctx context.Context, st store.Specs, dir string) (args []string, problems map[string]string, err error) {
	specs, err := st.SpecContents(ctx)
	if err != nil || len(specs) == 0 {
		return nil, nil, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, nil, err
	}
	problems = map[string]string{}
	for _, sp := range specs {
		if err := checkSpec(sp.Name, sp.Content, sp.Hosts); err != nil {
			problems[sp.ID] = err.Error()
			continue
		}
		p := filepath.Join(dir, sp.ID+"-"+filepath.Base(sp.Name))
		if err := os.WriteFile(p, sp.Content, 0o600); err != nil {
			return nil, nil, err
		}
		arg := p
		for _, h := range sp.Hosts {
			arg += ",host=" + h
		}
		args = append(args, arg)
	}
	return args, problems, nil
}

// ---- config ----

func (s *Server) handleConfigGet(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.config().Redacted())
}

// ConfigOverrideKey is the settings key holding the document set by PUT
// /api/v1/config; it is merged over the --config file at start.
const ConfigOverrideKey = "config.override"

func (s *Server) handleConfigPut(w http.ResponseWriter, r *http.Request) {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, "body: too large")
		return
	}
	if bytes.Contains(data, []byte("REDACTED")) {
		writeError(w, http.StatusBadRequest, "document contains REDACTED placeholders: send real values or omit those keys (secrets are better given with secret_env/token_env)")
		return
	}
	cfg, err := LoadConfig(NamedDoc{Name: "request body", Data: data})
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	if cfg.Server.Store != "" && storeopen.Redact(cfg.Server.Store) != storeopen.Redact(s.config().Server.Store) {
		writeError(w, http.StatusBadRequest, "server.store: cannot be changed through the API (the store is opened before the configuration stored in it is read): set it with --store or in the --config file")
		return
	}
	cfg.Server.Store = s.config().Server.Store
	d, _ := cfg.Parse()
	if err := s.st.PutSetting(r.Context(), ConfigOverrideKey, string(data), s.now().UTC()); err != nil {
		s.storeError(w, err)
		return
	}
	old := s.config()
	// Live: retention. Everything else applies at restart.
	live := *old
	live.Retention = cfg.Retention
	od := *s.durations()
	od.Bodies, od.ClientIPs, od.Alerts, od.Audit, od.Retention = d.Bodies, d.ClientIPs, d.Alerts, d.Audit, d.Retention
	s.cfg.Store(&live)
	s.dur.Store(&od)
	restart := !sameJSON(old.Server, cfg.Server) || !sameJSON(old.Ingest, cfg.Ingest) || !sameJSON(old.Sinks, cfg.Sinks) || !sameJSON(old.Pipeline, cfg.Pipeline) || !sameJSON(old.Sources, cfg.Sources)
	s.audit(r, "config.update", "config", map[string]any{"sha256": fmt.Sprintf("%x", sha256.Sum256(data)), "restart_required": restart})
	writeJSON(w, http.StatusOK, map[string]any{"applied_live": []string{"retention"}, "restart_required": restart, "config": cfg.Redacted()})
}

func sameJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

func (s *Server) handleAudit(w http.ResponseWriter, r *http.Request) {
	limit, err := qint(r, "limit")
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	page, err := s.st.ListAudit(r.Context(), limit, r.URL.Query().Get("cursor"))
	if err != nil {
		if strings.HasPrefix(err.Error(), "cursor:") {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, page)
}

// ---- erase ----

// EraseRequest is the body of POST /api/v1/erase (exactly one field).
type EraseRequest struct {
	IP       string `json:"ip,omitempty"`
	Identity string `json:"identity,omitempty"`
}

func (s *Server) handleErase(w http.ResponseWriter, r *http.Request) {
	var req EraseRequest
	if err := decodeBody(r, &req); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	res, err := Erase(r.Context(), s.st, s.walEraser(), s.key, s.opt.Identity, req, s.now().UTC())
	if err != nil {
		var be *badRequest
		if errors.As(err, &be) {
			writeError(w, http.StatusBadRequest, err.Error())
			return
		}
		s.storeError(w, err)
		return
	}
	target := "identity " + req.Identity
	if req.IP != "" {
		target = "ip " + Pseudonym(s.key, req.IP) // never the IP itself in the audit log
	}
	s.audit(r, "erase", target, map[string]any{"alerts_deleted": res.AlertsDeleted, "samples_removed": res.SamplesRemoved, "wal_records_removed": res.WALRecords})
	writeJSON(w, http.StatusOK, res)
}

type badRequest struct{ msg string }

func (e *badRequest) Error() string { return e.msg }

// WALEraser is the part of the log erasure needs (nil when the log is
// owned by a running server: then only the store is erased).
type WALEraser interface {
	Erase(match func(payload []byte) bool) (int64, error)
}

// Erase removes everything stored about one client IP or one identity: its
// alerts, samples naming it, and its raw records in the write-ahead log
// (overwritten in place). A tombstone keeps the running engine's in-memory
// state from writing it back. idCfg must carry the identity key the engine
// uses (for identities).
func Erase(ctx context.Context, st store.Privacy, w WALEraser, key []byte, idCfg identity.Config, req EraseRequest, now time.Time) (store.EraseResult, error) {
	if (req.IP == "") == (req.Identity == "") {
		return store.EraseResult{}, &badRequest{"give exactly one of ip or identity"}
	}
	var res store.EraseResult
	var err error
	var match func([]byte) bool
	if req.IP != "" {
		ip := exchange.CanonicalIP(req.IP)
		if ip == "" || strings.ContainsAny(req.IP, "[]") {
			return res, &badRequest{fmt.Sprintf("ip: not an IP address: %q", req.IP)}
		}
		res, err = st.EraseClientIP(ctx, ip, IPTombstone(key, ip), now)
		match = ipMatcher(ip)
	} else {
		if !strings.HasPrefix(req.Identity, "id_") {
			return res, &badRequest{fmt.Sprintf("identity: expected a pseudonymous id (id_…), got %q", req.Identity)}
		}
		res, err = st.EraseIdentity(ctx, req.Identity, IdentityTombstone(req.Identity), now)
		der := identity.New(idCfg)
		match = func(p []byte) bool {
			rec, err := exchange.DecodeRecord(p)
			if err != nil {
				return false
			}
			u, err := parseURL(rec.Request.URL)
			if err != nil {
				return false
			}
			a := der.Derive(&rec.Request, u)
			return a.Identity != nil && a.Identity.ID == req.Identity
		}
	}
	if err != nil {
		return res, err
	}
	if w != nil {
		n, err := w.Erase(match)
		res.WALRecords = n
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

func parseURL(s string) (*url.URL, error) { return url.Parse(s) }

// ipMatcher matches raw log records that carry the address ip (canonical)
// in any spelling: as client.ip, or in any request header value that lists
// addresses (X-Forwarded-For, Forwarded, X-Real-IP, …) — mapped IPv4,
// non-canonical IPv6, with brackets or a port.
func ipMatcher(ip string) func([]byte) bool {
	addr := netip.MustParseAddr(ip)
	var cheap []byte // every spelling contains it (IPv4 only)
	if addr.Is4() {
		cheap = []byte(ip)
	}
	return func(p []byte) bool {
		if cheap != nil && !bytes.Contains(p, cheap) && !bytes.Contains(bytes.ToLower(p), []byte("ffff:")) {
			return false
		}
		rec, err := exchange.DecodeRecord(p)
		if err != nil {
			return false
		}
		if rec.Client.IP == ip {
			return true
		}
		for _, v := range rec.Request.Headers {
			if headerHasIP(v, ip) {
				return true
			}
		}
		return false
	}
}

// headerHasIP reports whether a header value lists the address ip
// (tokens separated by commas, semicolons, spaces, quotes or "for=").
func headerHasIP(v, ip string) bool {
	for _, tok := range strings.FieldsFunc(v, func(r rune) bool {
		return r == ',' || r == ';' || r == ' ' || r == '"' || r == '\t' || r == '='
	}) {
		if strings.IndexByte(tok, '.') < 0 && strings.IndexByte(tok, ':') < 0 {
			continue
		}
		if exchange.CanonicalIP(tok) == ip {
			return true
		}
	}
	return false
}
