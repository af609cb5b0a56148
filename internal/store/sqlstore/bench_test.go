package sqlstore

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/store"
)

var (
	benchOnce sync.Once
	benchDB   *DB
)

// benchStore holds 10k endpoints and 100k alerts (built once per run).
func benchStore(b *testing.B) *DB {
	benchOnce.Do(func() {
		db, err := Open(context.Background(), b.TempDir()+"/bench.db")
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		eps := make([]model.Endpoint, 10000)
		for i := range eps {
			var sens []string
			if i%10 == 0 {
				sens = []string{"email"}
			}
			eps[i] = endpoint(i, i%100, int64(i*7%5000), sens...)
		}
		if err := db.SaveSnapshot(ctx, store.Snapshot{Report: &model.Report{Endpoints: eps}, EventClock: t0}, t0); err != nil {
			b.Fatal(err)
		}
		types := []string{"injection.sqli", "injection.xss", "recon.endpoint_spray", "auth.brute_force", "bola.param_enumeration"}
		sevs := []string{"info", "low", "medium", "high", "critical"}
		for k := 0; k < 100000; k += 5000 {
			batch := make([]model.Alert, 5000)
			for j := range batch {
				i := k + j
				batch[j] = testAlert(i, types[i%5], sevs[i/5%5], fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), t0.Add(time.Duration(i)*time.Second))
				batch[j].ID = fmt.Sprintf("al_%08d", i)
			}
			if _, err := db.UpsertAlerts(ctx, batch, t0); err != nil {
				b.Fatal(err)
			}
		}
		benchDB = db
	})
	return benchDB
}

func BenchmarkListEndpoints10k(b *testing.B) {
	db := benchStore(b)
	ctx := context.Background()
	for _, f := range []store.EndpointFilter{{Sort: "risk"}, {Sort: "requests", Host: "h1.example"}, {Sensitive: "email"}, {Q: "items/99"}} {
		b.Run(fmt.Sprintf("sort=%s,host=%s,sens=%s,q=%s", f.Sort, f.Host, f.Sensitive, f.Q), func(b *testing.B) {
			for b.Loop() {
				p, err := db.ListEndpoints(ctx, f)
				if err != nil || len(p.Items) == 0 {
					b.Fatal(err)
				}
				// Second page through the cursor.
				f2 := f
				f2.Cursor = p.NextCursor
				if _, err := db.ListEndpoints(ctx, f2); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkListAlerts100k(b *testing.B) {
	db := benchStore(b)
	ctx := context.Background()
	for _, f := range []store.AlertFilter{{}, {Sort: "severity"}, {Statuses: []string{"open"}}, {Types: []string{"injection.sqli"}, From: t0.Add(50000 * time.Second)}} {
		b.Run(fmt.Sprintf("sort=%s,types=%v,status=%v", f.Sort, f.Types, f.Statuses), func(b *testing.B) {
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
