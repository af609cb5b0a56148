package server

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// SinkStatser is implemented by the sink dispatcher (failure counts).
type SinkStatser interface {
	SinkFailures() map[string]int64
}

type metrics struct {
	reg                *prometheus.Registry
	records            *prometheus.CounterVec // result=accepted|rejected
	dropped            *prometheus.CounterVec // reason
	requests           *prometheus.CounterVec // code
	latency            prometheus.Histogram
	alerts             *prometheus.CounterVec
	alertsSuppressed   prometheus.Counter
	alertsErased       prometheus.Counter
	walCorrupt         prometheus.Counter
	walLost            prometheus.Counter
	walSegmentsRemoved prometheus.Counter
	checkpointSeconds  prometheus.Histogram
	checkpointFailures prometheus.Counter
	sinkFailures       *prometheus.GaugeVec
	detectorState      *prometheus.GaugeVec // detector, state: 1 for the current state
	detectorScopes     *prometheus.GaugeVec // detector, baseline, state: scopes in that state
	timeouts           prometheus.Counter
	rejected           *prometheus.CounterVec
	authFailures       *prometheus.CounterVec
	authBlocked        prometheus.Counter
}

func newMetrics(s *Server) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.records = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "palisade_ingest_records_total", Help: "Records received over HTTP, by result (accepted = durable in the write-ahead log)."}, []string{"result"})
	m.dropped = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "palisade_ingest_dropped_total", Help: "Input items left out on purpose by a source, by reason (e.g. OTLP spans that are not HTTP exchanges)."}, []string{"reason"})
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "palisade_ingest_requests_total", Help: "Ingest requests by HTTP status code."}, []string{"code"})
	m.latency = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "palisade_processing_latency_seconds", Help: "Wall time from durable append to the engine consuming the record.",
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16)})
	m.alerts = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "palisade_alerts_total", Help: "New alerts stored, by type."}, []string{"type"})
	m.alertsSuppressed = prometheus.NewCounter(prometheus.CounterOpts{Name: "palisade_alerts_suppressed_total", Help: "Alert updates suppressed by a false-positive triage."})
	m.alertsErased = prometheus.NewCounter(prometheus.CounterOpts{Name: "palisade_alerts_erased_total", Help: "Alert updates dropped because their subject was erased."})
	m.walCorrupt = prometheus.NewCounter(prometheus.CounterOpts{Name: "palisade_wal_corrupt_frames_total", Help: "Corrupt write-ahead-log frames skipped."})
	m.walLost = prometheus.NewCounter(prometheus.CounterOpts{Name: "palisade_wal_records_lost_total", Help: "Accepted records never analysed: skipped with the rest of a write-ahead-log segment after a corrupt frame (records accepted before the last start are not counted)."})
	m.walSegmentsRemoved = prometheus.NewCounter(prometheus.CounterOpts{Name: "palisade_wal_segments_removed_total", Help: "Write-ahead-log segments removed by body retention."})
	m.checkpointSeconds = prometheus.NewHistogram(prometheus.HistogramOpts{Name: "palisade_checkpoint_seconds", Help: "Duration of checkpoints (alerts, snapshot, log position)."})
	m.checkpointFailures = prometheus.NewCounter(prometheus.CounterOpts{Name: "palisade_checkpoint_failures_total", Help: "Failed checkpoints (retried)."})
	m.sinkFailures = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "palisade_sink_failures", Help: "Alerts a sink failed to deliver (dead-lettered or dropped), cumulative."}, []string{"sink"})
	m.timeouts = prometheus.NewCounter(prometheus.CounterOpts{Name: "palisade_request_timeouts_total", Help: "API requests whose queries ran past server.request_timeout (answered 503)."})
	m.authFailures = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "palisade_auth_failures_total", Help: "Failed authentications, by reason (the credential is never logged)."}, []string{"reason"})
	m.authBlocked = prometheus.NewCounter(prometheus.CounterOpts{Name: "palisade_auth_blocked_total", Help: "Requests refused (429) because their source address failed authentication too often."})
	budgetInUse := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "palisade_decode_budget_bytes_in_use", Help: "Bytes of ingest.decode_budget reserved by uploads being decoded."}, func() float64 { return float64(s.budget.inUse.Load()) })
	budgetFull := prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "palisade_decode_budget_exhausted_total", Help: "Uploads refused (429) after waiting for ingest.decode_budget."}, func() float64 { return float64(s.budget.full.Load()) })
	specsSkipped := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "palisade_specs_skipped", Help: "Stored specs not loaded at start because they no longer load (see GET /api/v1/specs)."}, func() float64 { return float64(len(s.opt.SpecProblems)) })
	m.rejected = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "palisade_records_rejected_total", Help: "Well-formed records rejected or skipped, by reason (time_future, time_past: outside the ingest time horizon; time_future_replay: skipped when read back from the log)."}, []string{"reason"})
	m.detectorState = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "palisade_detector_state", Help: "Learning state of each detector family at the last checkpoint: 1 for its state (ready, partial, learning), 0 otherwise."}, []string{"detector", "state"})
	m.detectorScopes = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "palisade_detector_scopes", Help: "Scopes (population, endpoints, parameters, login endpoints) of each learned baseline in each state at the last checkpoint."}, []string{"detector", "baseline", "state"})
	queue := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "palisade_queue_depth", Help: "Accepted records not yet processed by the engine."}, func() float64 { return float64(s.QueueDepth()) })
	m.reg.MustRegister(m.records, m.dropped, m.requests, m.latency, m.alerts, m.alertsSuppressed, m.alertsErased, m.walCorrupt, m.walLost, m.walSegmentsRemoved,
		m.checkpointSeconds, m.checkpointFailures, m.sinkFailures, m.timeouts, m.rejected, m.authFailures, m.authBlocked, budgetInUse, budgetFull, specsSkipped, m.detectorState, m.detectorScopes, queue,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	m.reg.MustRegister(s.opt.Metrics...)
	return m
}

func (m *metrics) refreshSinks(s *Server) {
	ss, ok := s.pub.(SinkStatser)
	if !ok {
		return
	}
	for name, n := range ss.SinkFailures() {
		m.sinkFailures.WithLabelValues(name).Set(float64(n))
	}
}
