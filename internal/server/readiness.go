package server

import (
	"net/http"
	"time"

	"github.com/palisade-sec/palisade/internal/model"
)

// Readiness answers GET /api/v1/detectors: the learning state of every
// learned baseline (detector families, API change detection, posture
// rules that need history) as of the last checkpoint, grouped by
// detector. AsOf is the event time of the newest record then processed
// (null before the first checkpoint, when Detectors is empty).
type Readiness struct {
	AsOf      *time.Time                `json:"as_of"`
	Ready     int                       `json:"ready"`
	Partial   int                       `json:"partial"`
	Learning  int                       `json:"learning"`
	Detectors []model.DetectorReadiness `json:"detectors"`
}

// setReadiness keeps the report's readiness for the API and refreshes
// the gauges (engine goroutine, at a checkpoint).
func (s *Server) setReadiness(rep *model.Report) {
	r := &Readiness{Detectors: model.GroupReadiness(rep.Readiness)}
	if r.Detectors == nil {
		r.Detectors = []model.DetectorReadiness{}
	}
	if rep.Input.To != nil {
		t := rep.Input.To.UTC()
		r.AsOf = &t
	}
	s.m.detectorState.Reset()
	s.m.detectorScopes.Reset()
	for _, d := range r.Detectors {
		switch d.State {
		case model.StateReady:
			r.Ready++
		case model.StatePartial:
			r.Partial++
		default:
			r.Learning++
		}
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
	if rd == nil {
		rd = &Readiness{Detectors: []model.DetectorReadiness{}}
	}
	writeJSON(w, http.StatusOK, rd)
}
