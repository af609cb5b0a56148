package cluster

import (
	"slices"

	"github.com/prometheus/client_golang/prometheus"
)

// Collectors are the worker's metrics (served at /metrics).
func (w *Worker) Collectors() []prometheus.Collector {
	counter := func(name, help string, f func() int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(f()) })
	}
	return []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "palisade_cluster_partitions_owned", Help: "Partitions (endpoint and population) this worker runs now."},
			func() float64 { return float64(len(w.Owned())) }),
		counter("palisade_cluster_partitions_taken_total", "Partitions this worker took over (at start, after a failover, after a rebalance).", w.Stats.Taken.Load),
		counter("palisade_cluster_partitions_released_total", "Partitions handed over to another worker (checkpointed and released).", w.Stats.Released.Load),
		counter("palisade_cluster_partitions_restored_total", "Partitions restored from a checkpoint.", w.Stats.Restored.Load),
		counter("palisade_cluster_messages_processed_total", "Bus messages (records, ticks, forwarded events) processed.", w.Stats.Processed.Load),
		counter("palisade_cluster_messages_replayed_total", "Messages replayed from the stream after a restore.", w.Stats.Replayed.Load),
		counter("palisade_cluster_checkpoints_total", "Partition checkpoints written.", w.Stats.Checkpoints.Load),
		counter("palisade_cluster_delivery_gaps_total", "Holes in a partition consumer's delivery sequence (messages delivered to no one: a pull buffer overflowed, a connection cut, or delivered to another worker); the partition replays them from the stream.", w.b.DeliveryGaps.Load),
		counter("palisade_cluster_replay_gaps_total", "Holes in a replay's delivery (messages lost on the way while a connection was cut); the replay resumes in front of them.", w.b.ReplayGaps.Load),
		counter("palisade_cluster_tail_gaps_total", "Times a quiet partition found messages its consumer had delivered (to no one, or to a worker that let the partition go) but it never received, and replayed them from the stream.", w.Stats.TailGaps.Load),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "palisade_cluster_population_late_events",
			Help: "Events the population stage observed after later ones (out of event-time order: a partition idle-drained, or late records), since it was restored or started on this worker."},
			func() float64 { return w.population(func(s PopulationStats) float64 { return float64(s.Late) }) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "palisade_cluster_population_pending_events", Help: "Events the population stage holds until every partition's watermark passes them."},
			func() float64 { return w.population(func(s PopulationStats) float64 { return float64(s.Pending) }) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "palisade_cluster_population_held_messages", Help: "Forwarded messages waiting for a hole in their partition's numbering (a batch stored with a gap while a NATS server failed)."},
			func() float64 { return w.population(func(s PopulationStats) float64 { return float64(s.Held) }) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "palisade_cluster_population_missing_messages", Help: "Forwarded message numbers given up after waiting (analysis_dropped \"cluster forwards missing\")."},
			func() float64 { return w.population(func(s PopulationStats) float64 { return float64(s.Missing) }) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "palisade_cluster_merged_stale_partials", Help: "Partial reports the merged report holds in their last copy, the newest being unreadable (their partitions write them again)."},
			func() float64 {
				if w.merger == nil {
					return 0
				}
				return float64(w.merger.StalePartials())
			}),
	}
}

// population reads a population-stage counter (0 while this worker does
// not run the population stage).
func (w *Worker) population(f func(PopulationStats) float64) float64 {
	if !slices.Contains(w.Owned(), "c.0") {
		return 0
	}
	if st := w.Stats.Population.Load(); st != nil {
		return f(*st)
	}
	return 0
}

// Collectors are the ingest publisher's metrics.
func (in *Ingest) Collectors() []prometheus.Collector {
	return []prometheus.Collector{
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "palisade_cluster_records_published_total", Help: "Records published to the bus and acknowledged."},
			func() float64 { return float64(in.Published.Load()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "palisade_cluster_lag_records", Help: "Records the slowest partition's worker has not received yet (ingest answers 429 above cluster.max_lag)."},
			func() float64 { return float64(in.Lag()) }),
	}
}
