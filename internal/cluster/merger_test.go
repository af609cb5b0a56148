package cluster

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
	"github.com/palisade-sec/palisade/internal/bus"
	"github.com/palisade-sec/palisade/internal/bus/natstest"
	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/store"
)

// flakyStore fails its first writes (the store is down), then records.
type flakyStore struct {
	failures int
	snaps    []store.Snapshot
	alerts   int
}

var errDown = errors.New("store down")

func (s *flakyStore) UpsertAlerts(_ context.Context, a []model.Alert, _ time.Time) (store.UpsertResult, error) {
	if s.failures > 0 {
		s.failures--
		return store.UpsertResult{}, errDown
	}
	s.alerts += len(a)
	return store.UpsertResult{}, nil
}
func (s *flakyStore) SaveSnapshot(_ context.Context, sn store.Snapshot, _ time.Time) error {
	s.snaps = append(s.snaps, sn)
	return nil
}
func (s *flakyStore) Tombstoned(context.Context, []string) (map[string]bool, error) { return nil, nil }
func (s *flakyStore) Setting(context.Context, string) (string, error)               { return "", nil }
func (s *flakyStore) PutSetting(context.Context, string, string, time.Time) error   { return nil }

// mergerBus starts one NATS server and connects a provisioned bus to it.
func mergerBus(t *testing.T) *bus.Bus {
	t.Helper()
	c := natstest.Start(t, 1)
	cfg := testConfig(c.URLs())
	cfg.Replicas = 1
	return connect(t, cfg, "merger")
}

// TestMergerStoreDown: partials read while the store is down are written
// once it is back, though no partial changed since; then nothing is
// written again until one does.
func TestMergerStoreDown(t *testing.T) {
	b := mergerBus(t)
	ctx := context.Background()
	first := time.Date(2026, 11, 16, 1, 0, 0, 0, time.UTC)
	p := &Partial{Stage: "endpoint", Part: 0, Seq: 5, Report: &model.Report{
		Input:  model.Input{Records: 3},
		Alerts: []model.Alert{{Type: "recon.endpoint_spray", Subject: "client", Client: &model.ClientRef{IP: "203.0.113.7"}, Count: 1, FirstSeen: first, LastSeen: first}},
	}}
	data, err := encodeJSON(p)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.PutState(ctx, "part.b.0", p.Seq, nil, data); err != nil {
		t.Fatal(err)
	}
	st := &flakyStore{failures: 2}
	m := NewMerger(b, st, nil, nil)
	for i := 0; i < 2; i++ {
		if err := m.Once(ctx); !errors.Is(err, errDown) {
			t.Fatalf("merge %d while the store is down: %v", i, err)
		}
	}
	if err := m.Once(ctx); err != nil {
		t.Fatal(err)
	}
	if len(st.snaps) != 1 || st.alerts != 1 || st.snaps[0].Records != 3 {
		t.Fatalf("after the store came back: %d snapshots, %d alerts", len(st.snaps), st.alerts)
	}
	if err := m.Once(ctx); err != nil {
		t.Fatal(err)
	}
	if len(st.snaps) != 1 {
		t.Fatalf("nothing changed, yet the merger wrote again (%d snapshots)", len(st.snaps))
	}
}

// TestMergerStalePartial: a partial whose newest copy cannot be read (an
// upload cut by a failing server: the description without its chunks) is
// merged from its last copy, deleted, and counted stale until its
// partition writes it again.
func TestMergerStalePartial(t *testing.T) {
	b := mergerBus(t)
	ctx := context.Background()
	put := func(records int64) {
		t.Helper()
		p := &Partial{Stage: "endpoint", Part: 0, Seq: uint64(records), Report: &model.Report{Input: model.Input{Records: records}}}
		data, err := encodeJSON(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := b.PutState(ctx, "part.b.0", p.Seq, nil, data); err != nil {
			t.Fatal(err)
		}
	}
	st := &flakyStore{}
	m := NewMerger(b, st, nil, nil)
	merged := func() int64 {
		t.Helper()
		if err := m.Once(ctx); err != nil {
			t.Fatal(err)
		}
		return m.Last.Input.Records
	}
	put(3)
	if n := merged(); n != 3 || m.StalePartials() != 0 {
		t.Fatalf("first merge: %d records, %d stale", n, m.StalePartials())
	}
	put(5)
	// cut: the chunks of the newest copy go, its description stays
	os, err := b.JS.ObjectStore(ctx, b.StateBucket())
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.GetInfo(ctx, "part.b.0")
	if err != nil {
		t.Fatal(err)
	}
	str, err := b.JS.Stream(ctx, "OBJ_"+b.StateBucket())
	if err != nil {
		t.Fatal(err)
	}
	if err := str.Purge(ctx, jetstream.WithPurgeSubject("$O."+b.StateBucket()+".C."+info.NUID)); err != nil {
		t.Fatal(err)
	}
	if n := merged(); n != 3 || m.StalePartials() != 1 {
		t.Fatalf("after the cut upload: %d records merged (want the last copy's 3), %d stale (want 1)", n, m.StalePartials())
	}
	if has, err := b.HasState(ctx, "part.b.0"); err != nil || has {
		t.Fatalf("the unreadable partial was not deleted: %v %v", has, err)
	}
	put(7)
	if n := merged(); n != 7 || m.StalePartials() != 0 {
		t.Fatalf("after the partition wrote it again: %d records, %d stale", n, m.StalePartials())
	}
}
