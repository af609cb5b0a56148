package server

import (
	"context"
	"errors"
	"time"

	"github.com/palisade-sec/palisade/internal/activity"
	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/server/wal"
	"github.com/palisade-sec/palisade/internal/store"
)

// pump is the engine goroutine. It first replays the whole retained log
// (warm-up: rebuilds the engine's in-memory state; nothing is written to the
// store until it reaches the end of what was on disk at start), then follows
// new appends, checkpointing every ingest.checkpoint_interval.
//
// Checkpoints never perturb the analysis: records wait in the engine's
// reorder buffer until the event-time watermark passes them, exactly as in
// `palisade analyze`, and the alerts written include what fired windows hold
// but have not reported (the engine's Report does not close them). So the
// result does not depend on when checkpoints happen. Two events stand for
// the end of the input: the log idle for IdleFlush of wall time (the
// buffer is released, as analyze does at the end of a file) and shutdown
// (the engine is flushed like analyze's, then checkpointed).
func (s *Server) pump(ctx context.Context) {
	defer close(s.done)
	r := s.wal.NewReader(wal.Pos{})
	defer r.Close()
	warmEnd := s.replayEnd // not s.wal.End(): requests may have appended since New
	r.Live = warmEnd       // what this process appended: QueueDepth's records
	var erased int64       // r.ErasedLive already counted as consumed
	var last wal.Pos
	dirty := false
	if segs, err := s.wal.Segments(); err == nil && warmEnd.Off == 0 && (len(segs) == 0 || segs[0] >= warmEnd.Seg) {
		s.warm.Store(true) // nothing to replay
	}
	lastCP := s.now()
	startCP := s.checkpoint
	traffic := map[int64]int64{} // event hour → records since the last checkpoint
	var lastRec time.Time        // wall time of the last record read
	held := false                // records may wait in the reorder buffer
	for {
		wait := s.durations().Checkpoint - s.now().Sub(lastCP)
		if held {
			wait = min(wait, s.opt.IdleFlush-s.now().Sub(lastRec))
		}
		if wait < time.Millisecond {
			wait = time.Millisecond
		}
		cctx, cancel := context.WithTimeout(ctx, wait)
		p, pos, err := r.Next(cctx)
		cancel()
		if r.ErasedLive > erased {
			// erased (privacy) before the engine read them: never
			// processed, no longer waiting
			s.consumed.Add(r.ErasedLive - erased)
			erased = r.ErasedLive
		}
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
				lastRec, held = s.now(), true
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
			if (dirty || held) && s.warm.Load() {
				s.eng.Flush()
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
				// the accepted records skipped with the segment are no
				// longer waiting: counted as lost, not left in QueueDepth
				s.consumed.Add(ce.Lost)
				s.m.walLost.Add(float64(ce.Lost))
				s.log.Error("wal: corrupt frame skipped with the rest of its segment", "err", err, "records_lost", ce.Lost)
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
		if s.warm.Load() && held && s.now().Sub(lastRec) >= s.opt.IdleFlush {
			// Nothing arrived for the reorder window: nothing older will.
			s.eng.Drain()
			held, dirty = false, true
			lastCP = time.Time{} // checkpoint now
		}
		if s.warm.Load() && dirty && s.now().Sub(lastCP) >= s.durations().Checkpoint {
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

// doCheckpoint writes the alerts that changed and an inventory snapshot to
// the store, then records the log position, then removes expired log
// segments.
func (s *Server) doCheckpoint(ctx context.Context, pos wal.Pos, traffic map[int64]int64) error {
	start := s.now()
	rep := s.eng.Report(s.now())
	if err := s.flushAlerts(ctx, rep.Alerts); err != nil {
		return err
	}
	rep.Findings = append(rep.Findings, s.gatewayFindings(rep)...)
	s.setReadiness(rep)
	snap := store.Snapshot{Report: rep, EventClock: time.Unix(0, s.eventClock.Load()).UTC(), Records: rep.Input.Records, Traffic: traffic}
	if s.eventClock.Load() == 0 {
		snap.EventClock = time.Time{}
	}
	subs, err := s.takeSubjects(ctx, rep.Alerts)
	if err != nil {
		return err
	}
	snap.Subjects = subs
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

// flushAlerts upserts the report's alerts that changed since they were
// last written (count or last_seen: what the store compares), drops erased
// subjects, and publishes alerts the store did not know (so a replay after
// a restart does not send them to the SIEM again). The report's alerts are
// those of `palisade analyze` for the records consumed so far.
func (s *Server) flushAlerts(ctx context.Context, alerts []model.Alert) error {
	var batch []model.Alert
	for _, a := range alerts {
		if w, ok := s.written[a.ID]; ok && w.count == a.Count && w.last.Equal(a.LastSeen) {
			continue
		}
		batch = append(batch, a)
	}
	if len(batch) == 0 {
		return nil
	}
	keys := make([]string, 0, len(batch))
	for i := range batch {
		keys = append(keys, s.tombstoneKeys(&batch[i])...)
	}
	dead, err := s.st.Tombstoned(ctx, keys)
	if err != nil {
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
			s.written[a.ID] = writtenAlert{a.Count, a.LastSeen}
			continue
		}
		kept = append(kept, a)
	}
	res, err := s.st.UpsertAlerts(ctx, kept, s.now())
	if err != nil {
		return err
	}
	for _, a := range kept {
		s.written[a.ID] = writtenAlert{a.Count, a.LastSeen}
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

// SubjectSource is implemented by engines that keep the per-subject
// activity summary (engine.Engine with Config.Activity).
type SubjectSource interface {
	TakeSubjects(n int, pin func(kind, id string) bool) []model.SubjectActivity
}

// SubjectsPerCheckpoint bounds the subject summaries written by one
// checkpoint (the most active first; the others wait for the next one),
// besides the subjects that alerts name, which are always written.
const SubjectsPerCheckpoint = 2000

// takeSubjects takes the subject summaries that changed from the engine,
// without the erased ones: an erased subject is dropped and an erased
// address or identity is removed from the others' peers.
func (s *Server) takeSubjects(ctx context.Context, alerts []model.Alert) ([]model.SubjectActivity, error) {
	src, ok := s.eng.(SubjectSource)
	if !ok {
		return nil, nil
	}
	named := map[string]bool{}
	for i := range alerts {
		a := &alerts[i]
		if a.Client != nil {
			named["client "+a.Client.IP] = true
		}
		for _, c := range a.Clients {
			named["client "+c.IP] = true
		}
		if a.Identity != nil {
			named["identity "+a.Identity.ID] = true
		}
	}
	subs := src.TakeSubjects(SubjectsPerCheckpoint, func(kind, id string) bool { return named[kind+" "+id] })
	if len(subs) == 0 {
		return nil, nil
	}
	tomb := func(kind, id string) string {
		if kind == "identity" {
			return IdentityTombstone(id)
		}
		return IPTombstone(s.key, id)
	}
	var keys []string
	for i := range subs {
		a := &subs[i]
		keys = append(keys, tomb(a.Kind, a.ID))
		for _, p := range a.Addresses {
			keys = append(keys, tomb("client", p.ID))
		}
		for _, p := range a.Identities {
			keys = append(keys, tomb("identity", p.ID))
		}
	}
	dead, err := s.st.Tombstoned(ctx, keys)
	if err != nil {
		return nil, err
	}
	if len(dead) == 0 {
		return subs, nil
	}
	kept := subs[:0]
	for _, a := range subs {
		if dead[tomb(a.Kind, a.ID)] {
			continue
		}
		var drop []string
		for _, p := range a.Addresses {
			if dead[tomb("client", p.ID)] {
				drop = append(drop, p.ID)
			}
		}
		for _, p := range a.Identities {
			if dead[tomb("identity", p.ID)] {
				drop = append(drop, p.ID)
			}
		}
		for _, id := range drop {
			activity.DropPeer(&a, id)
		}
		kept = append(kept, a)
	}
	return kept, nil
}

// writtenAlert is what the last checkpoint wrote of an alert.
type writtenAlert struct {
	count int64
	last  time.Time
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
