package server

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/store"
)

// Readiness answers GET /api/v1/detectors: the learning state of every
// learned baseline (detector families, API change detection, posture
// rules that need history) as of the last checkpoint, grouped by
// detector; in a cluster, the merged report's, which the merger keeps in
// the store (store.ReadinessSetting). AsOf is the event time of the newest record then processed
// (null before the first checkpoint, when Detectors is empty).
type Readiness struct {
	AsOf      *time.Time                `json:"as_of"`
	Ready     int                       `json:"ready"`
	Partial   int                       `json:"partial"`
	Learning  int                       `json:"learning"`
	Detectors []model.DetectorReadiness `json:"detectors"`
}

// readinessOf groups a report's readiness entries as of asOf.
func readinessOf(entries []model.Readiness, asOf *time.Time) *Readiness {
	r := &Readiness{Detectors: model.GroupReadiness(entries)}
	if r.Detectors == nil {
		r.Detectors = []model.DetectorReadiness{}
	}
	if asOf != nil {
		t := asOf.UTC()
		r.AsOf = &t
	}
	for _, d := range r.Detectors {
		switch d.State {
		case model.StateReady:
			r.Ready++
		case model.StatePartial:
			r.Partial++
		default:
			r.Learning++
		}
	}
	return r
}

// setReadiness keeps the report's readiness for the API and refreshes
// the gauges (engine goroutine, at a checkpoint).
func (s *Server) setReadiness(rep *model.Report) {
	r := readinessOf(rep.Readiness, rep.Input.To)
	s.m.detectorState.Reset()
	s.m.detectorScopes.Reset()
	for _, d := range r.Detectors {
		for _, st := range []string{model.StateReady, model.StatePartial, model.StateLearning} {
			v := 0.0
			if d.State == st {
				v = 1
			}
			s.m.detectorState.WithLabelValues(d.Detector, st).Set(v)
		}
		for _, b := range d.Baselines {
			s.m.detectorScopes.WithLabelValues(d.Detector, b.Baseline, model.StateReady).Set(float64(b.ReadyScopes))
			s.m.detectorScopes.WithLabelValues(d.Detector, b.Baseline, model.StateLearning).Set(float64(b.LearningScopes))
		}
	}
	s.readiness.Store(r)
}

func (s *Server) handleDetectors(w http.ResponseWriter, r *http.Request) {
	rd := s.readiness.Load()
	if rd == nil && s.opt.Bus != nil {
		// a cluster: the merger keeps the merged readiness in the store
		v, err := s.st.Setting(r.Context(), store.ReadinessSetting)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			s.storeError(w, err)
			return
		default:
			var sr store.StoredReadiness
			if err := json.Unmarshal([]byte(v), &sr); err != nil {
				s.log.Error("readiness setting unreadable", "err", err)
			} else {
				rd = readinessOf(sr.Readiness, sr.AsOf)
			}
		}
	}
	if rd == nil {
		rd = &Readiness{Detectors: []model.DetectorReadiness{}}
	}
	writeJSON(w, http.StatusOK, rd)
}
