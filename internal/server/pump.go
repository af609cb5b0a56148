package server

import (
	"context"
	"errors"
	"time"

	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/server/wal"
	"github.com/palisade-sec/palisade/internal/store"
)

// onAlert is the engine's alert hook (engine goroutine): the latest state of
// each alert waits in a map, bounded by the number of distinct alerts the
// engine itself holds, until the next checkpoint writes it.
func (s *Server) onAlert(a model.Alert, created bool) {
	s.pendingMu.Lock()
	s.pending[a.ID] = a
	s.pendingMu.Unlock()
}

// pump is the engine goroutine. It first replays the whole retained log
// (warm-up: rebuilds the engine's in-memory state; nothing is written to the
// store until it reaches the end of what was on disk at start), then follows
// new appends, checkpointing every ingest.checkpoint_interval.
func (s *Server) pump(ctx context.Context) {
	defer close(s.done)
	r := s.wal.NewReader(wal.Pos{})
	defer r.Close()
	warmEnd, _ := s.wal.End()
	var last wal.Pos
	dirty := false
	if segs, err := s.wal.Segments(); err == nil && warmEnd.Off == 0 && (len(segs) == 0 || segs[0] >= warmEnd.Seg) {
		s.warm.Store(true) // nothing to replay
	}
	lastCP := s.now()
	startCP := s.checkpoint
	traffic := map[int64]int64{} // event hour → records since the last checkpoint
	for {
		wait := s.durations().Checkpoint - s.now().Sub(lastCP)
		if wait < time.Millisecond {
			wait = time.Millisecond
		}
		cctx, cancel := context.WithTimeout(ctx, wait)
		p, pos, err := r.Next(cctx)
		cancel()
		switch {
		case err == nil:
			rec, derr := exchange.DecodeRecord(p)
			if derr != nil {
				// Cannot happen for frames we wrote (validated, CRC-checked);
				// count it rather than stop.
				s.m.walCorrupt.Inc()
				s.log.Error("wal: undecodable record", "pos", pos.String(), "err", derr)
			} else if rec.Time.UnixNano() > s.clockCeiling() {
				// Dated beyond the horizon (logged before the ingest bound
				// existed): quarantined, never fed to the engine or the clock.
				s.m.rejected.WithLabelValues("time_future_replay").Inc()
			} else {
				s.trackSegment(pos.Seg, rec.Time)
				if startCP.Less(pos) { // not yet counted in the store by a previous run
					traffic[store.HourBucket(rec.Time)]++
				}
				s.eng.Ingest(rec)
				if t := rec.Time.UnixNano(); t > s.eventClock.Load() {
					s.eventClock.Store(t)
				}
			}
			last, dirty = pos, true
			if s.warm.Load() {
				s.consumed.Add(1)
				s.observeLatency(pos)
			} else if !pos.Less(warmEnd) {
				s.warm.Store(true)
				s.log.Info("wal: warm-up replay finished", "pos", pos.String())
				lastCP = time.Time{} // checkpoint now
			}
		case ctx.Err() != nil:
			if dirty && s.warm.Load() {
				s.eng.Drain()
				if err := s.doCheckpoint(context.WithoutCancel(ctx), last, traffic); err != nil {
					s.pumpErr = err
				}
			}
			return
		case errors.Is(err, context.DeadlineExceeded):
			if !s.warm.Load() && !r.Pos().Less(warmEnd) {
				s.warm.Store(true)
				lastCP = time.Time{}
			}
		default:
			var ce *wal.CorruptError
			if errors.As(err, &ce) {
				s.m.walCorrupt.Inc()
				s.log.Error("wal: corrupt frame skipped with the rest of its segment", "err", err)
				continue
			}
			if errors.Is(err, wal.ErrClosed) {
				return
			}
			s.log.Error("wal: read", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
		if s.warm.Load() && dirty && s.now().Sub(lastCP) >= s.durations().Checkpoint {
			s.eng.Drain()
			if err := s.doCheckpoint(ctx, last, traffic); err != nil {
				s.log.Error("checkpoint failed (will retry)", "err", err)
				s.m.checkpointFailures.Inc()
			} else {
				dirty = false
				traffic = map[int64]int64{}
			}
			lastCP = s.now()
		}
	}
}

func (s *Server) trackSegment(seg uint64, t time.Time) {
	n := t.UnixNano()
	s.segMu.Lock()
	if n > s.segMax[seg] {
		s.segMax[seg] = n
	}
	s.segMu.Unlock()
}

// doCheckpoint writes pending alerts and an inventory snapshot to the store,
// then records the log position, then removes expired log segments.
func (s *Server) doCheckpoint(ctx context.Context, pos wal.Pos, traffic map[int64]int64) error {
	start := s.now()
	if err := s.flushAlerts(ctx); err != nil {
		return err
	}
	rep := s.eng.Report(s.now())
	snap := store.Snapshot{Report: rep, EventClock: time.Unix(0, s.eventClock.Load()).UTC(), Records: rep.Input.Records, Traffic: traffic}
	if s.eventClock.Load() == 0 {
		snap.EventClock = time.Time{}
	}
	if err := s.st.SaveSnapshot(ctx, snap, s.now()); err != nil {
		return err
	}
	if err := s.wal.SetCheckpoint(pos); err != nil {
		return err
	}
	s.checkpoint = pos
	s.m.checkpointSeconds.Observe(s.now().Sub(start).Seconds())
	s.pruneWAL(pos)
	return nil
}

// flushAlerts upserts pending alerts, drops erased subjects, and publishes
// alerts the store did not know (so a replay after a restart does not send
// them to the SIEM again).
func (s *Server) flushAlerts(ctx context.Context) error {
	s.pendingMu.Lock()
	if len(s.pending) == 0 {
		s.pendingMu.Unlock()
		return nil
	}
	batch := make([]model.Alert, 0, len(s.pending))
	for _, a := range s.pending {
		batch = append(batch, a)
	}
	s.pending = map[string]model.Alert{}
	s.pendingMu.Unlock()
	keys := make([]string, 0, len(batch))
	for i := range batch {
		keys = append(keys, s.tombstoneKeys(&batch[i])...)
	}
	dead, err := s.st.Tombstoned(ctx, keys)
	if err != nil {
		s.requeue(batch)
		return err
	}
	kept := batch[:0]
	for _, a := range batch {
		erased := false
		for _, k := range s.tombstoneKeys(&a) {
			if dead[k] {
				erased = true
			}
		}
		if erased {
			s.m.alertsErased.Inc()
			continue
		}
		kept = append(kept, a)
	}
	res, err := s.st.UpsertAlerts(ctx, kept, s.now())
	if err != nil {
		s.requeue(kept)
		return err
	}
	s.m.alertsSuppressed.Add(float64(res.Suppressed))
	for _, a := range res.Created {
		s.m.alerts.WithLabelValues(a.Type).Inc()
		if s.pub != nil {
			s.pub.Publish(a)
		}
	}
	return nil
}

func (s *Server) requeue(batch []model.Alert) {
	s.pendingMu.Lock()
	for _, a := range batch {
		if _, newer := s.pending[a.ID]; !newer {
			s.pending[a.ID] = a
		}
	}
	s.pendingMu.Unlock()
}

func (s *Server) tombstoneKeys(a *model.Alert) []string {
	var k []string
	if a.Client != nil && a.Client.IP != "" {
		k = append(k, IPTombstone(s.key, a.Client.IP))
	}
	if a.Identity != nil && a.Identity.ID != "" {
		k = append(k, IdentityTombstone(a.Identity.ID))
	}
	return k
}

// pruneWAL removes checkpointed segments whose records are older than the
// body retention period by the wall clock (file modification time) or by
// the event clock (newest record time in the segment).
func (s *Server) pruneWAL(cp wal.Pos) {
	keep := s.durations().Bodies
	wallCut := s.now().Add(-keep)
	evCut := s.eventClock.Load() - int64(keep)
	n, err := s.wal.RemoveSegments(func(seg uint64, mod time.Time) bool {
		if seg >= cp.Seg {
			return true
		}
		s.segMu.Lock()
		mx, known := s.segMax[seg]
		s.segMu.Unlock()
		if mod.Before(wallCut) || known && mx < evCut {
			s.segMu.Lock()
			delete(s.segMax, seg)
			s.segMu.Unlock()
			return false
		}
		return true
	})
	if err != nil {
		s.log.Error("wal: prune", "err", err)
	}
	s.m.walSegmentsRemoved.Add(float64(n))
}

func (s *Server) observeLatency(pos wal.Pos) {
	s.latencyMu.Lock()
	defer s.latencyMu.Unlock()
	now := s.now()
	i := 0
	for ; i < len(s.latencyQ) && !pos.Less(s.latencyQ[i].pos); i++ {
		s.m.latency.Observe(now.Sub(s.latencyQ[i].at).Seconds())
	}
	s.latencyQ = s.latencyQ[i:]
}

func (s *Server) stampAppend(end wal.Pos) {
	s.latencyMu.Lock()
	defer s.latencyMu.Unlock()
	if len(s.latencyQ) < 4096 {
		s.latencyQ = append(s.latencyQ, stamp{end, s.now()})
	}
}

// retentionLoop applies the retention policy at start and every
// retention.interval of wall time.
func (s *Server) retentionLoop(ctx context.Context) {
	for {
		s.RunRetention(ctx)
		select {
		case <-ctx.Done():
			return
		case <-time.After(s.durations().Retention):
		}
	}
}

// RunRetention applies the retention policy once.
func (s *Server) RunRetention(ctx context.Context) (store.RetentionResult, error) {
	d := s.durations()
	var ev time.Time
	if n := min(s.eventClock.Load(), s.clockCeiling()); n > 0 {
		ev = time.Unix(0, n).UTC()
	}
	res, err := s.st.ApplyRetention(ctx, store.RetentionPolicy{ClientIPs: d.ClientIPs, Alerts: d.Alerts, Audit: d.Audit}, ev, s.now(),
		func(ip string) string { return Pseudonym(s.key, ip) })
	if err != nil {
		s.log.Error("retention", "err", err)
		return res, err
	}
	if res != (store.RetentionResult{}) {
		s.log.Info("retention applied", "alerts_deleted", res.AlertsDeleted, "alerts_pseudonymized", res.AlertsPseudonymize, "audit_deleted", res.AuditDeleted)
	}
	return res, nil
}
