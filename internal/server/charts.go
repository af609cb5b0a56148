package server

import (
	"errors"
	"net/http"
	"sort"
	"time"

	"github.com/palisade-sec/palisade/internal/dashboard/chart"
	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/store"
)

// handleChart renders one of the dashboard's charts as SVG (server-side, no
// script): traffic.svg (requests per hour, the overview's series),
// alerts-by-severity.svg and alerts-by-owasp.svg (open alerts),
// endpoint.svg?id= (an endpoint's requests per hour) and
// subject.svg?kind=&id= (a subject's requests per hour). scheme=dark draws
// with the dark palette.
func (s *Server) handleChart(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if badParam(w, oneOf("scheme", q.Get("scheme"), "light", "dark")) {
		return
	}
	pal := chart.Light
	if q.Get("scheme") == "dark" {
		pal = chart.Dark
	}
	var out []byte
	switch r.PathValue("name") {
	case "traffic.svg", "alerts-by-severity.svg", "alerts-by-owasp.svg":
		o, err := s.st.Overview(r.Context())
		if err != nil {
			s.storeError(w, err)
			return
		}
		switch r.PathValue("name") {
		case "traffic.svg":
			out = chart.TimeSeries(points(o.Traffic), "Requests per hour (event time)", pal)
		case "alerts-by-severity.svg":
			var bars []chart.Bar
			for _, sev := range []string{model.SevCritical, model.SevHigh, model.SevMedium, model.SevLow, model.SevInfo} {
				if sev == model.SevInfo && o.OpenBySeverity[sev] == 0 {
					continue
				}
				bars = append(bars, chart.Bar{Label: sev, Value: o.OpenBySeverity[sev], Class: sev})
			}
			out = chart.Bars(bars, "Open alerts by severity", pal)
		default:
			var bars []chart.Bar
			for k, v := range o.OpenByOWASP {
				bars = append(bars, chart.Bar{Label: k, Value: v})
			}
			sort.Slice(bars, func(i, j int) bool {
				if bars[i].Value != bars[j].Value {
					return bars[i].Value > bars[j].Value
				}
				return bars[i].Label < bars[j].Label
			})
			out = chart.Bars(bars, "Open alerts by OWASP API Top 10 category", pal)
		}
	case "endpoint.svg":
		d, err := s.st.Endpoint(r.Context(), q.Get("id"))
		if err != nil {
			s.storeError(w, err)
			return
		}
		out = chart.TimeSeries(points(d.Traffic), "Requests per hour to "+d.Method+" "+d.Host+d.Path, pal)
	case "subject.svg":
		kind := q.Get("kind")
		id, err := subjectID(kind, q.Get("id"))
		if badParam(w, err) {
			return
		}
		d, err := s.st.Subject(r.Context(), kind, id)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			s.storeError(w, err)
			return
		}
		var pts []chart.Point
		if d != nil {
			for _, h := range d.Hours {
				pts = append(pts, chart.Point{Time: time.Unix(h.Hour, 0).UTC(), Value: h.Requests})
			}
		}
		out = chart.TimeSeries(pts, "Requests per hour from "+kind+" "+id, pal)
	default:
		writeError(w, http.StatusNotFound, "no such chart: "+r.PathValue("name")+" (traffic.svg, alerts-by-severity.svg, alerts-by-owasp.svg, endpoint.svg, subject.svg)")
		return
	}
	h := w.Header()
	h.Set("Content-Type", "image/svg+xml")
	// The document has no script, style or external reference; the policy
	// says so again for a browser that opens it directly.
	h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'")
	w.Write(out)
}

func points(tp []store.TrafficPoint) []chart.Point {
	out := make([]chart.Point, 0, len(tp))
	for _, p := range tp {
		out = append(out, chart.Point{Time: p.Time, Value: p.Requests})
	}
	return out
}
