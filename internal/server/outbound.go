package server

import (
	"errors"
	"net/http"

	"github.com/palisade-sec/palisade/internal/store"
)

// handleOutboundList answers GET /api/v1/outbound: the third-party APIs our
// services call, paginated like the inventory.
func (s *Server) handleOutboundList(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := qint(r, "limit")
	relevant := false
	switch v := q.Get("api10"); v {
	case "", "any":
	case "relevant":
		relevant = true
	default:
		err = errors.Join(err, errors.New(`api10: "`+v+`" is not one of relevant, any`))
	}
	if err = errors.Join(err, oneOf("destination", q.Get("destination"), "external", "internal"),
		oneOf("sort", q.Get("sort"), "api10", "requests", "last_seen")); err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	page, err := s.st.ListOutbound(r.Context(), store.OutboundFilter{Q: q.Get("q"), Destination: q.Get("destination"), Relevant: relevant,
		Sort: q.Get("sort"), Limit: limit, Cursor: q.Get("cursor")})
	writePage(s, w, page, err)
}

// handleOutbound answers GET /api/v1/outbound/{id}: one third-party API
// with its operations and API10 links.
func (s *Server) handleOutbound(w http.ResponseWriter, r *http.Request) {
	o, err := s.st.OutboundAPI(r.Context(), r.PathValue("id"))
	if err != nil {
		s.storeError(w, err)
		return
	}
	writeJSON(w, http.StatusOK, o)
}
