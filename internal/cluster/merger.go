package cluster

import (
	"context"
	"encoding/json"
	"log/slog"
	"slices"
	"sync"
	"time"

	"github.com/palisade-sec/palisade/internal/bus"
	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/store"
)

// Store is what the merger writes: the idempotent upserts of serve mode's
// store, keyed by stable ids (alert ids, endpoint ids, finding ids).
// store/sqlite implements it; a PostgreSQL store must too (docs/cluster.md
// lists the guarantees each method must give).
type Store interface {
	// UpsertAlerts writes alerts by id, never lowering a count or a
	// last_seen the store holds, so that writing the same alerts twice
	// (or an older merge after a newer one) changes nothing; it reports
	// the alerts it did not know (forwarded to the SIEM sinks once).
	UpsertAlerts(ctx context.Context, alerts []model.Alert, wallNow time.Time) (store.UpsertResult, error)
	// SaveSnapshot upserts endpoints by id and replaces the findings.
	SaveSnapshot(ctx context.Context, s store.Snapshot, wallNow time.Time) error
	// Tombstoned tells which erasure tombstones exist (erased subjects
	// are never written again).
	Tombstoned(ctx context.Context, keys []string) (map[string]bool, error)
	// Setting and PutSetting keep the merger's progress (the traffic
	// series it has written).
	Setting(ctx context.Context, key string) (string, error)
	PutSetting(ctx context.Context, key, value string, at time.Time) error
}

// Publisher receives alerts the store did not know (the sink dispatcher).
type Publisher interface {
	Publish(a model.Alert)
}

// Merger merges the partitions' partial reports into the store: the
// report `palisade analyze` would give for the records the partitions
// cover. One worker runs it at a time (the owner of the population
// partition).
type Merger struct {
	b   *bus.Bus
	st  Store
	pub Publisher
	log *slog.Logger
	now func() time.Time
	// TombstoneKeys gives the erasure tombstones of an alert's subjects
	// (server.IPTombstone / IdentityTombstone with the installation key).
	TombstoneKeys func(a *model.Alert) []string
	// SubjectTombstone gives the erasure tombstone of a subject ("client"
	// address or "identity" id): erased subjects' activity summaries are
	// not written, and erased peers are left out of the others'.
	SubjectTombstone func(kind, id string) string
	// Transform, when set, adds to the merged report before it is
	// written (serve adds the findings of uploaded gateway configurations).
	Transform func(*model.Report)

	mu sync.Mutex
	// onSubjects, set by Run, receives the population stage's activity
	// summaries once they are written (the stage then stops repeating
	// them).
	onSubjects func([]model.SubjectActivity)
	parts      map[string]*Partial
	digests    map[string]string
	written    map[string]writtenAlert
	traffic    map[int64]int64 // traffic written to the store, by hour
	loaded     bool
	readiness  string        // the readiness setting last written
	unsaved    bool          // partials read but the merged state not written yet
	Last       *model.Report // last merged report (tests, status)
	Merges     int64
	// stale: partials whose newest copy could not be read, merged from
	// their last copy until their partition writes them again.
	stale map[string]bool
}

type writtenAlert struct {
	count int64
	last  time.Time
}

// NewMerger returns a merger writing to st (pub may be nil).
func NewMerger(b *bus.Bus, st Store, pub Publisher, log *slog.Logger) *Merger {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Merger{b: b, st: st, pub: pub, log: log, now: time.Now, parts: map[string]*Partial{}, digests: map[string]string{},
		written: map[string]writtenAlert{}}
}

const trafficSetting = "cluster.traffic_written"

// Run merges every interval until ctx is done. onSubjects, when not nil,
// receives the population stage's activity summaries once they are
// written (the stage then stops repeating them); it is the caller's
// until Run returns.
func (m *Merger) Run(ctx context.Context, every time.Duration, onSubjects func([]model.SubjectActivity)) {
	m.mu.Lock()
	m.onSubjects = onSubjects
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		m.onSubjects = nil
		m.mu.Unlock()
	}()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if err := m.Once(ctx); err != nil && ctx.Err() == nil {
			m.log.Warn("cluster: merge", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// StalePartials is the number of partial reports merged from their last
// copy because the newest one could not be read (their partitions write
// them again within 10 report intervals).
func (m *Merger) StalePartials() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.stale)
}

// Once reads the partial reports that changed and, when any did, writes
// the merged state.
func (m *Merger) Once(ctx context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.loaded {
		m.traffic = map[int64]int64{}
		if v, err := m.st.Setting(ctx, trafficSetting); err == nil && v != "" {
			_ = json.Unmarshal([]byte(v), &m.traffic)
		}
		m.loaded = true
	}
	infos, err := m.b.ListStates(ctx, "part.")
	if err != nil {
		return err
	}
	changed := false
	for _, in := range infos {
		if m.digests[in.Name] == in.Digest {
			continue
		}
		data, info, err := m.b.GetState(ctx, in.Name)
		if err != nil {
			// Merge the others with the last copy read of this one: an
			// object left unreadable by a cut upload must not stop every
			// merge.
			if ctx.Err() != nil {
				return err
			}
			// Deleted, it is written again by its partition (which
			// checks every refreshEvery report intervals).
			m.log.Warn("cluster: partial report unreadable; merging its last copy and deleting it", "name", in.Name, "err", err)
			if m.stale == nil {
				m.stale = map[string]bool{}
			}
			m.stale[in.Name] = true
			if err := m.b.DeleteState(ctx, in.Name); err != nil {
				m.log.Warn("cluster: partial report", "name", in.Name, "err", err)
			}
			continue
		}
		var p Partial
		if err := decodeJSON(data, &p); err != nil {
			m.log.Error("cluster: unreadable partial report", "name", in.Name, "err", err)
			m.digests[in.Name] = info.Digest
			continue
		}
		m.parts[in.Name] = &p
		m.digests[in.Name] = info.Digest
		delete(m.stale, in.Name)
		changed = true
	}
	if !changed && !m.unsaved {
		return nil
	}
	// Until the merged state is written (the store may be down), every
	// run tries again, changes or not.
	m.unsaved = true
	ps := make([]*Partial, 0, len(m.parts))
	var records int64
	var clock int64
	hours := map[int64]int64{}
	for _, p := range m.parts {
		ps = append(ps, p)
		if p.Stage == "endpoint" && p.Report != nil {
			records += p.Report.Input.Records
		}
		clock = max(clock, p.Clock)
		for h, n := range p.Hours {
			hours[h] += n
		}
	}
	now := m.now()
	rep := Merge(ps, now)
	if m.Transform != nil {
		m.Transform(rep)
	}
	if err := m.flushAlerts(ctx, rep.Alerts, now); err != nil {
		return err
	}
	delta := map[int64]int64{}
	for h, n := range hours {
		if d := n - m.traffic[h]; d > 0 {
			delta[h] = d
		}
	}
	subs, err := m.subjects(ctx, MergeSubjects(ps))
	if err != nil {
		return err
	}
	snap := store.Snapshot{Report: rep, Records: records, Traffic: delta, Subjects: subs}
	if clock > 0 {
		snap.EventClock = time.Unix(0, clock).UTC()
	}
	if err := m.st.SaveSnapshot(ctx, snap, now); err != nil {
		return err
	}
	if m.onSubjects != nil {
		for _, p := range ps {
			if len(p.Subjects) > 0 {
				m.onSubjects(p.Subjects)
			}
		}
	}
	// the merged readiness, for GET /api/v1/detectors on the API processes
	rd := store.StoredReadiness{AsOf: rep.Input.To, Readiness: rep.Readiness}
	if b, err := json.Marshal(rd); err == nil && string(b) != m.readiness {
		if err := m.st.PutSetting(ctx, store.ReadinessSetting, string(b), now); err != nil {
			return err
		}
		m.readiness = string(b)
	}
	for h, d := range delta {
		m.traffic[h] += d
	}
	if len(delta) > 0 {
		b, _ := json.Marshal(m.traffic)
		if err := m.st.PutSetting(ctx, trafficSetting, string(b), now); err != nil {
			return err
		}
	}
	m.unsaved = false
	m.Last = rep
	m.Merges++
	return nil
}

// flushAlerts upserts the alerts that changed since the merger last wrote
// them, leaves out erased subjects and forwards alerts new to the store.
func (m *Merger) flushAlerts(ctx context.Context, alerts []model.Alert, now time.Time) error {
	var batch []model.Alert
	for _, a := range alerts {
		if w, ok := m.written[a.ID]; ok && w.count == a.Count && w.last.Equal(a.LastSeen) {
			continue
		}
		batch = append(batch, a)
	}
	if len(batch) == 0 {
		return nil
	}
	if m.TombstoneKeys != nil {
		var keys []string
		for i := range batch {
			keys = append(keys, m.TombstoneKeys(&batch[i])...)
		}
		dead, err := m.st.Tombstoned(ctx, keys)
		if err != nil {
			return err
		}
		kept := batch[:0]
		for _, a := range batch {
			erased := false
			for _, k := range m.TombstoneKeys(&a) {
				erased = erased || dead[k]
			}
			if erased {
				m.written[a.ID] = writtenAlert{a.Count, a.LastSeen}
				continue
			}
			kept = append(kept, a)
		}
		batch = kept
	}
	res, err := m.st.UpsertAlerts(ctx, batch, now)
	if err != nil {
		return err
	}
	for _, a := range batch {
		m.written[a.ID] = writtenAlert{a.Count, a.LastSeen}
	}
	if m.pub != nil {
		for _, a := range res.Created {
			m.pub.Publish(a)
		}
	}
	return nil
}

// subjects leaves out erased subjects and erased peers (as serve does).
func (m *Merger) subjects(ctx context.Context, subs []model.SubjectActivity) ([]model.SubjectActivity, error) {
	if len(subs) == 0 || m.SubjectTombstone == nil {
		return subs, nil
	}
	var keys []string
	for i := range subs {
		a := &subs[i]
		keys = append(keys, m.SubjectTombstone(a.Kind, a.ID))
		for _, p := range a.Addresses {
			keys = append(keys, m.SubjectTombstone("client", p.ID))
		}
		for _, p := range a.Identities {
			keys = append(keys, m.SubjectTombstone("identity", p.ID))
		}
	}
	dead, err := m.st.Tombstoned(ctx, keys)
	if err != nil || len(dead) == 0 {
		return subs, err
	}
	kept := subs[:0]
	for _, a := range subs {
		if dead[m.SubjectTombstone(a.Kind, a.ID)] {
			continue
		}
		a.Addresses = slices.DeleteFunc(a.Addresses, func(p model.SubjectPeer) bool { return dead[m.SubjectTombstone("client", p.ID)] })
		a.Identities = slices.DeleteFunc(a.Identities, func(p model.SubjectPeer) bool { return dead[m.SubjectTombstone("identity", p.ID)] })
		kept = append(kept, a)
	}
	return kept, nil
}
