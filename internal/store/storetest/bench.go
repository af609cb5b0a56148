package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/store"
	"github.com/palisade-sec/palisade/internal/store/sqlstore"
)

// Bench runs the store's benchmarks against the database fresh makes:
// checkpoint writes (what the analysis does every checkpoint interval)
// and the API's list queries on a large store.
func Bench(b *testing.B, fresh Fresh) {
	b.Run("Checkpoint", func(b *testing.B) { benchCheckpoint(b, fresh) })
	b.Run("CheckpointReplay", func(b *testing.B) { benchReplay(b, fresh) })
	b.Run("UpsertAlerts", func(b *testing.B) { benchUpsertAlerts(b, fresh) })
	b.Run("Lists", func(b *testing.B) { benchLists(b, fresh) })
	b.Run("Subjects", func(b *testing.B) { benchSubjects(b, fresh) })
}

// benchSubjects: a merge writing 1,000 changed per-subject summaries (the
// attacker view), each with 5 endpoints: what the cluster's merger writes
// every report interval under load. Reports subjects written per second.
func benchSubjects(b *testing.B, fresh Fresh) {
	db := Open(b, fresh)
	const nSub = 1000
	subs := make([]model.SubjectActivity, nSub)
	for i := range subs {
		subs[i] = subj("client", fmt.Sprintf("10.1.%d.%d", i>>8, i&255), t0, 1)
		for j := 1; j < 5; j++ {
			subs[i].Endpoints = append(subs[i].Endpoints, model.SubjectEndpoint{EndpointRef: model.EndpointRef{Host: "h0.example", Method: "GET",
				Path: fmt.Sprintf("/v1/items/%d", j)}, Requests: 1, FirstSeen: t0, LastSeen: t0})
		}
	}
	n := int64(0)
	for b.Loop() {
		n++
		for i := range subs {
			subs[i].Hours[0].Requests = n
			subs[i].Endpoints[0].Requests = n
		}
		if err := db.SaveSnapshot(ctx, store.Snapshot{EventClock: t0, Seq: n, Subjects: subs}, t0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*nSub)/b.Elapsed().Seconds(), "subjects/s")
}

// benchCheckpoint: one checkpoint of a 2,000-endpoint inventory in which
// every endpoint saw traffic since the previous one (the worst case: every
// row is rewritten), with 200 alerts that changed. Reports rows written
// per second (endpoints + alerts).
func benchCheckpoint(b *testing.B, fresh Fresh) {
	db := Open(b, fresh)
	const nEP, nAl = 2000, 200
	eps := make([]model.Endpoint, nEP)
	for i := range eps {
		eps[i] = Endpoint(i, i%100, 1, "email")
	}
	als := make([]model.Alert, nAl)
	for i := range als {
		als[i] = Alert(i, "injection.sqli", "high", fmt.Sprintf("10.0.%d.%d", i>>8, i&255), t0)
	}
	n := int64(0)
	for b.Loop() {
		n++
		for i := range eps {
			eps[i].Requests = n
		}
		for i := range als {
			als[i].Count = n
		}
		if _, err := db.UpsertAlerts(ctx, als, t0); err != nil {
			b.Fatal(err)
		}
		if err := db.SaveSnapshot(ctx, store.Snapshot{Report: &model.Report{Endpoints: eps}, EventClock: t0, Seq: n,
			Traffic: map[int64]int64{store.HourBucket(t0): nEP}}, t0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*(nEP+nAl))/b.Elapsed().Seconds(), "rows/s")
}

// benchReplay: the same checkpoint written again (at-least-once delivery):
// nothing changes, every row is compared.
func benchReplay(b *testing.B, fresh Fresh) {
	db := Open(b, fresh)
	const nEP, nAl = 2000, 200
	eps := make([]model.Endpoint, nEP)
	for i := range eps {
		eps[i] = Endpoint(i, i%100, 1, "email")
	}
	als := make([]model.Alert, nAl)
	for i := range als {
		als[i] = Alert(i, "injection.sqli", "high", fmt.Sprintf("10.0.%d.%d", i>>8, i&255), t0)
	}
	snap := store.Snapshot{Report: &model.Report{Endpoints: eps}, EventClock: t0}
	if _, err := db.UpsertAlerts(ctx, als, t0); err != nil {
		b.Fatal(err)
	}
	if err := db.SaveSnapshot(ctx, snap, t0); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if r, err := db.UpsertAlerts(ctx, als, t0); err != nil || len(r.Created)+len(r.Updated) != 0 {
			b.Fatal(err)
		}
		if err := db.SaveSnapshot(ctx, snap, t0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*(nEP+nAl))/b.Elapsed().Seconds(), "rows/s")
}

// benchUpsertAlerts: batches of 500 new alerts.
func benchUpsertAlerts(b *testing.B, fresh Fresh) {
	db := Open(b, fresh)
	k := 0
	for b.Loop() {
		batch := make([]model.Alert, 500)
		for j := range batch {
			batch[j] = Alert(k, "injection.sqli", "high", fmt.Sprintf("10.%d.%d.%d", k>>16&255, k>>8&255, k&255), t0)
			batch[j].ID = fmt.Sprintf("al_%08d", k)
			k++
		}
		if _, err := db.UpsertAlerts(ctx, batch, t0); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(k)/b.Elapsed().Seconds(), "alerts/s")
}

// benchLists: the API's first and second pages on 10k endpoints and 20k
// alerts, with filters.
func benchLists(b *testing.B, fresh Fresh) {
	db := Open(b, fresh)
	eps := make([]model.Endpoint, 10000)
	for i := range eps {
		var sens []string
		if i%10 == 0 {
			sens = []string{"email"}
		}
		eps[i] = Endpoint(i, i%100, int64(i*7%5000), sens...)
	}
	if err := db.SaveSnapshot(ctx, store.Snapshot{Report: &model.Report{Endpoints: eps}, EventClock: t0}, t0); err != nil {
		b.Fatal(err)
	}
	types := []string{"injection.sqli", "injection.xss", "recon.endpoint_spray", "auth.brute_force", "bola.param_enumeration"}
	sevs := []string{"info", "low", "medium", "high", "critical"}
	for k := 0; k < 20000; k += 5000 {
		batch := make([]model.Alert, 5000)
		for j := range batch {
			i := k + j
			batch[j] = Alert(i, types[i%5], sevs[i/5%5], fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), t0.Add(time.Duration(i)*time.Second))
			batch[j].ID = fmt.Sprintf("al_%08d", i)
		}
		if _, err := db.UpsertAlerts(ctx, batch, t0); err != nil {
			b.Fatal(err)
		}
	}
	for _, f := range []store.EndpointFilter{{Sort: "risk"}, {Sort: "requests", Host: "h1.example"}, {Sensitive: "email"}, {Q: "items/99"}} {
		b.Run(fmt.Sprintf("endpoints/sort=%s,host=%s,sens=%s,q=%s", f.Sort, f.Host, f.Sensitive, f.Q), func(b *testing.B) {
			for b.Loop() {
				twoPages(b, db, f)
			}
		})
	}
	for _, f := range []store.AlertFilter{{}, {Sort: "severity"}, {Statuses: []string{"open"}}, {Types: []string{"injection.sqli"}, From: t0.Add(10000 * time.Second)}} {
		b.Run(fmt.Sprintf("alerts/sort=%s,types=%v,status=%v", f.Sort, f.Types, f.Statuses), func(b *testing.B) {
			for b.Loop() {
				p, err := db.ListAlerts(ctx, f)
				if err != nil || len(p.Items) == 0 {
					b.Fatal(err)
				}
				f2 := f
				f2.Cursor = p.NextCursor
				if _, err := db.ListAlerts(ctx, f2); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
	b.Run("overview", func(b *testing.B) {
		for b.Loop() {
			if _, err := db.Overview(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func twoPages(b *testing.B, db *sqlstore.DB, f store.EndpointFilter) {
	p, err := db.ListEndpoints(ctx, f)
	if err != nil || len(p.Items) == 0 {
		b.Fatal(err)
	}
	f.Cursor = p.NextCursor
	if _, err := db.ListEndpoints(ctx, f); err != nil {
		b.Fatal(err)
	}
}
