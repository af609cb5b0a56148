package server

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/posture/gateway"
	"github.com/palisade-sec/palisade/internal/store"
)

// Gateway configurations uploaded through the API are parsed when stored
// and when the server starts (a configuration that no longer parses is
// listed with its error and skipped: it never stops start-up), audited by
// the static gateway rules, and joined at every checkpoint with the
// engine's report (inventory, alerts, risk). Their findings are stored with
// the traffic findings and served by /api/v1/findings.

// gwEntry is one stored configuration as loaded.
type gwEntry struct {
	meta   store.GatewayConfig // without content
	cfg    *gateway.Config     // nil when it does not parse
	err    string
	static []model.Finding
}

// gatewayView is the API representation of a stored configuration.
type gatewayView struct {
	store.GatewayConfig
	Status   string   `json:"status"` // ok | error
	Error    string   `json:"error,omitempty"`
	Routes   int      `json:"routes"`
	Findings int      `json:"findings"`
	Notes    []string `json:"notes,omitempty"`
}

func (e gwEntry) view() gatewayView {
	v := gatewayView{GatewayConfig: e.meta, Status: "ok", Findings: len(e.static)}
	if e.cfg == nil {
		v.Status, v.Error = "error", e.err
		return v
	}
	v.Routes = len(e.cfg.Routes)
	v.Notes = e.cfg.Notes
	return v
}

// loadGatewayEntry parses and audits one stored configuration.
func loadGatewayEntry(g store.GatewayConfig) gwEntry {
	e := gwEntry{meta: g}
	e.meta.Content = nil
	cfg, err := gateway.Parse(g.Name, g.Content, g.Kind)
	if err != nil {
		e.err = err.Error()
		return e
	}
	fs, err := gateway.Audit(cfg, gateway.Options{})
	if err != nil {
		e.err = err.Error()
	}
	e.cfg, e.static = cfg, fs
	return e
}

// reloadGateways reads every stored configuration; unparsable ones are
// logged and kept in the list with their error.
func (s *Server) reloadGateways(ctx context.Context) error {
	list, err := s.st.GatewayConfigContents(ctx)
	if err != nil {
		return err
	}
	entries := make([]gwEntry, 0, len(list))
	for _, g := range list {
		e := loadGatewayEntry(g)
		if e.cfg == nil {
			s.log.Warn("gateway configuration skipped: it does not parse", "id", g.ID, "name", g.Name, "err", e.err)
		}
		entries = append(entries, e)
	}
	s.gw.Store(&entries)
	return nil
}

func (s *Server) gatewayEntries() []gwEntry {
	if p := s.gw.Load(); p != nil {
		return *p
	}
	return nil
}

// gatewayFindings returns the static findings of the stored
// configurations and the findings joined with the report.
func (s *Server) gatewayFindings(rep *model.Report) []model.Finding {
	var out []model.Finding
	var cfgs []*gateway.Config
	for _, e := range s.gatewayEntries() {
		if e.cfg == nil {
			continue
		}
		out = append(out, e.static...)
		cfgs = append(cfgs, e.cfg)
	}
	if len(cfgs) == 0 || rep == nil {
		return out
	}
	joined, err := gateway.Join(cfgs, rep, gateway.JoinOptions{})
	if err != nil {
		s.log.Error("gateway join", "err", err)
	}
	return append(out, joined...)
}

func (s *Server) handleGatewayList(w http.ResponseWriter, r *http.Request) {
	entries := s.gatewayEntries()
	items := make([]gatewayView, 0, len(entries))
	for _, e := range entries {
		items = append(items, e.view())
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items})
}

func (s *Server) handleGatewayUpload(w http.ResponseWriter, r *http.Request) {
	data, err := io.ReadAll(r.Body)
	if err != nil {
		writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body: larger than server.max_body (%d bytes)", s.config().Server.MaxBody))
		return
	}
	q := r.URL.Query()
	name := q.Get("name")
	if name == "" {
		name = "gateway-config"
	}
	if len(name) > 200 || strings.ContainsAny(name, "/\\\x00") {
		writeError(w, http.StatusBadRequest, "name: at most 200 characters, no path separators")
		return
	}
	kind := q.Get("kind")
	if kind != "" {
		ok := false
		for _, k := range gateway.Kinds {
			ok = ok || k == kind
		}
		if !ok {
			writeError(w, http.StatusBadRequest, "kind: want one of "+strings.Join(gateway.Kinds, ", "))
			return
		}
	} else {
		kind = gateway.DetectKind(name, data)
		if kind == gateway.KindOpenAPI {
			writeError(w, http.StatusUnprocessableEntity, name+": an OpenAPI document: upload it to /api/v1/specs")
			return
		}
	}
	sum := sha256.Sum256(append([]byte(kind+"\x00"), data...))
	g := store.GatewayConfig{ID: "gw_" + hex.EncodeToString(sum[:8]), Name: name, Kind: kind, SHA256: hex.EncodeToString(sum[:]), Size: len(data), Content: data,
		UploadedAt: s.now().UTC(), UploadedBy: principalFrom(r.Context()).actor()}
	// Validate as the loader will.
	e := loadGatewayEntry(g)
	if e.cfg == nil {
		writeError(w, http.StatusUnprocessableEntity, e.err)
		return
	}
	if err := s.st.SaveGatewayConfig(r.Context(), g); err != nil {
		s.storeError(w, err)
		return
	}
	s.gwMu.Lock()
	cur := s.gatewayEntries()
	next := make([]gwEntry, 0, len(cur)+1)
	for _, x := range cur {
		if x.meta.ID != g.ID {
			next = append(next, x)
		}
	}
	next = append(next, e)
	s.gw.Store(&next)
	s.gwMu.Unlock()
	s.audit(r, "gateway.upload", g.ID, map[string]any{"name": name, "kind": kind, "sha256": g.SHA256, "size": len(data), "routes": len(e.cfg.Routes)})
	writeJSON(w, http.StatusCreated, map[string]any{"gateway_config": e.view(), "applies": "at the next checkpoint (its findings join the traffic findings there)"})
}

func (s *Server) handleGatewayDelete(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if err := s.st.DeleteGatewayConfig(r.Context(), id); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			writeError(w, http.StatusNotFound, "no gateway configuration "+id)
			return
		}
		s.storeError(w, err)
		return
	}
	s.gwMu.Lock()
	cur := s.gatewayEntries()
	next := make([]gwEntry, 0, len(cur))
	for _, x := range cur {
		if x.meta.ID != id {
			next = append(next, x)
		}
	}
	s.gw.Store(&next)
	s.gwMu.Unlock()
	s.audit(r, "gateway.delete", id, nil)
	w.WriteHeader(http.StatusNoContent)
}
