package detect

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/alert"
	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/identity"
	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/testutil"
)

// anomalyFamilies are the learned families of this package (the signature
// families are tested by their owners).
var anomalyFamilies = []string{"authabuse", "bfla", "enumeration", "latency", "params", "payload", "spray", "traffic"}

func anomalyEngine(cfg Config) (*Engine, []Detector) {
	ds := []Detector{newAuthAbuse(cfg), newBFLA(cfg), newEnumeration(cfg), newLatency(cfg), newParams(cfg), newPayload(cfg), newSpray(cfg), newTraffic(cfg)}
	return NewEngine(ds...), ds
}

func TestAnomalyFamiliesRegistered(t *testing.T) {
	have := map[string]bool{}
	for _, f := range Families() {
		have[f] = true
	}
	for _, f := range anomalyFamilies {
		if !have[f] {
			t.Errorf("family %q not registered", f)
		}
	}
	// Every type the anomaly families emit is in the catalogue.
	for _, typ := range []string{"traffic.endpoint_spike", "traffic.client_spike", "traffic.identity_spike", "payload.large_response",
		"payload.large_request", "latency.spike", "recon.endpoint_spray", "bola.param_enumeration", "bola.distributed_param_enumeration",
		"param.anomalous_type", "param.unseen", "bfla.privileged_access", "auth.brute_force", "auth.credential_stuffing", "auth.token_reuse"} {
		if _, ok := alert.Parse(typ); !ok {
			t.Errorf("type %q not in the catalogue", typ)
		}
	}
}

// mixedStream is normal traffic of several kinds plus one attack per
// family, in event time order.
func mixedStream() []*event.Event {
	at := t0.Add(9*time.Hour + 25*time.Minute)
	return merge(
		hospital(10, 7),
		logins(6, 7),
		enumAttack(at, 400, 15*time.Minute, func(int) string { return "203.0.113.9" }, withID("nurse7", "clinician")),
		burst(t0.Add(5*time.Hour), 5*time.Minute, 150, func(i int, at time.Time) *event.Event { return login(at, "203.0.113.20", "admin", false) }),
		[]*event.Event{mkEv(t0.Add(9*time.Hour), "203.0.113.5", "GET", "/patients/{id}", "/patients/1?export=all", 200, withID("nurse3", "clinician"))},
	)
}

func runEngine(evs []*event.Event) ([]model.Alert, []model.APIChange) {
	g, ds := anomalyEngine(Config{})
	for _, ev := range evs {
		g.Observe(ev)
	}
	g.Finish(evs[len(evs)-1].Time)
	return g.Alerts(), ds[4].(*paramsDetector).APIChanges()
}

func TestAnomalyDeterministicReplay(t *testing.T) {
	a1, c1 := runEngine(mixedStream())
	a2, c2 := runEngine(mixedStream()) // fresh events, fresh state
	j1, _ := json.Marshal(struct {
		A []model.Alert
		C []model.APIChange
	}{a1, c1})
	j2, _ := json.Marshal(struct {
		A []model.Alert
		C []model.APIChange
	}{a2, c2})
	if string(j1) != string(j2) {
		t.Fatalf("replay differs:\n%s\n%s", j1, j2)
	}
	// Golden file: the alerts and API changes of the mixed stream, as a
	// reviewable document (regenerate with -update after a
	// deliberate tuning change).
	doc, _ := json.MarshalIndent(struct {
		Alerts     []model.Alert     `json:"alerts"`
		APIChanges []model.APIChange `json:"api_changes"`
	}{a1, c1}, "", "  ")
	testutil.Golden(t, filepath.Join("testdata", "anomaly", "mixed.golden.json"), append(doc, '\n'))
	types := map[string]int{}
	for _, a := range a1 {
		types[a.Type]++
	}
	for _, want := range []string{"bola.param_enumeration", "auth.brute_force", "param.unseen"} {
		if types[want] == 0 {
			t.Errorf("mixed stream: no %s (got %v)", want, types)
		}
	}
	// No secret material in any alert.
	for _, s := range []string{"hunter2", "password"} {
		if bytesContains(j1, s) {
			t.Errorf("alert output contains %q", s)
		}
	}
}

func bytesContains(b []byte, s string) bool { return strings.Contains(string(b), s) }

// flood sends n requests from n distinct clients (half of them with n/2
// distinct principals) through every anomaly family, reusing one event.
func flood(g *Engine, n int) {
	ev := mkEv(t0, "1.2.3.4", "POST", "/api/auth/login", "/api/auth/login", 401, withBody("application/json", `{"username":"x","password":"y"}`))
	obj := mkEv(t0, "1.2.3.4", "GET", "/items/{id}", "/items/1?page=2&ref=abc", 200, withSizes(10, 2000), withDur(30))
	for i := 0; i < n; i++ {
		e := obj
		if i%4 == 0 {
			e = ev
		}
		e.Time = t0.Add(time.Duration(i) * time.Millisecond)
		e.Seq = uint64(i)
		var b [4]byte
		b[0], b[1], b[2], b[3] = byte(20+i>>24), byte(i>>16), byte(i>>8), byte(i)
		e.ClientIP = netip.AddrFrom4(b)
		e.Auth = identity.Auth{}
		if i%2 == 1 {
			e.Auth = identity.Auth{Credentials: true, Identity: &identity.Identity{ID: fmt.Sprintf("id_%d", i), Kind: identity.KindAPIKey, Name: "k…", TokenID: fmt.Sprintf("t%d", i)}}
		}
		if e == obj {
			e.PathParams[0].Value = fmt.Sprint(i % 100000)
		}
		g.Observe(e)
	}
}

func TestAnomalyMemoryBudget(t *testing.T) {
	// One million distinct clients (100× the budget; ≈ 5 s of CPU), 100k
	// with -short.
	n := 1_000_000
	if testing.Short() {
		n = 100_000
	}
	const clients, idents = 10_000, 10_000
	cfg := Config{MaxTrackedClients: clients, MaxTrackedIdentities: idents}
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	g, ds := anomalyEngine(cfg)
	flood(g, n)
	runtime.GC()
	runtime.ReadMemStats(&after)
	grown := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	check := func(name string, l interface{ Len() int }, capacity int) {
		if l.Len() > capacity {
			t.Errorf("%s: %d entries, budget %d", name, l.Len(), capacity)
		}
	}
	a := ds[0].(*authDetector)
	check("authabuse clients", a.clients, clients)
	check("authabuse identities", a.ids, idents)
	check("bfla identities", ds[1].(*bflaDetector).ids, idents)
	check("enumeration subjects", ds[2].(*enumDetector).subjects, clients+idents)
	check("latency clients", ds[3].(*latencyDetector).clients, clients)
	check("spray subjects", ds[6].(*sprayDetector).subjects, clients+idents)
	tr := ds[7].(*trafficDetector)
	check("traffic clients", tr.clients, clients)
	check("traffic identities", tr.idents, idents)
	if tr.clients.Evicted() == 0 {
		t.Errorf("the flood did not reach the budget")
	}
	// 20k subjects × 8 families × < 1 KB, plus per-endpoint sketches.
	if grown > 96<<20 {
		t.Errorf("heap grew by %d MB for %d distinct clients", grown>>20, n)
	}
	t.Logf("%d distinct clients: heap +%.1f MB, traffic evictions %d", n, float64(grown)/(1<<20), tr.clients.Evicted())
	runtime.KeepAlive(g)
}

// benchStream is a realistic mix: authenticated object reads with ids,
// searches with query parameters, JSON POSTs, logins, anonymous browsing.
func benchStream(n int) []*event.Event {
	r := rand.New(rand.NewPCG(1, 1))
	evs := make([]*event.Event, 0, n)
	for i := 0; i < n; i++ {
		at := t0.Add(time.Duration(i) * 20 * time.Millisecond)
		u := r.IntN(5000)
		ip := ip4(10000 + u)
		var ev *event.Event
		switch k := r.IntN(10); {
		case k < 4:
			ev = mkEv(at, ip, "GET", "/patients/{id}", fmt.Sprintf("/patients/%d", r.IntN(100000)), 200, withID(fmt.Sprintf("u%d", u), "clinician"))
		case k < 6:
			ev = mkEv(at, ip, "GET", "/search", fmt.Sprintf("/search?q=term%d&page=%d&limit=20", r.IntN(50), r.IntN(9)), 200, withID(fmt.Sprintf("u%d", u), "clinician"))
		case k < 7:
			ev = mkEv(at, ip, "POST", "/orders", "/orders", 201, withID(fmt.Sprintf("u%d", u), "clinician"),
				withBody("application/json", fmt.Sprintf(`{"item":%d,"qty":%d,"note":"x"}`, r.IntN(99), 1+r.IntN(3))))
		case k < 8:
			ev = login(at, ip, fmt.Sprintf("u%d", u), r.IntN(20) != 0)
		default:
			ev = mkEv(at, ip, "GET", "/catalog", "/catalog", 200)
		}
		ev.Rec.Response.Size = int64(500 + r.IntN(5000))
		ev.Rec.DurationMs = 5 + 50*r.Float64()
		ev.Seq = uint64(i)
		evs = append(evs, ev)
	}
	return evs
}

// cpuTime is the process's user+system CPU time: on a shared machine the
// wall-clock ns/op mostly measures waiting for a core, CPU time does not.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkAnomalyDetectors reports the cost per event of all anomaly
// families together and of each alone: ns/op is wall-clock per event,
// cpu-ns/event the process CPU time per event (includes GC).
func BenchmarkAnomalyDetectors(b *testing.B) {
	evs := benchStream(200_000)
	b.Run("all", func(b *testing.B) {
		g, _ := anomalyEngine(Config{})
		b.ReportAllocs()
		runtime.GC()
		c0 := cpuTime()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			g.Observe(evs[i%len(evs)])
		}
		b.StopTimer()
		b.ReportMetric(float64(cpuTime()-c0)/float64(b.N), "cpu-ns/event")
	})
	_, ds := anomalyEngine(Config{})
	for k, name := range anomalyFamilies {
		_ = ds[k]
		b.Run(name, func(b *testing.B) {
			_, ds := anomalyEngine(Config{})
			d := ds[k]
			out := NewEmitter()
			b.ReportAllocs()
			runtime.GC()
			c0 := cpuTime()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				d.Observe(evs[i%len(evs)], out)
			}
			b.StopTimer()
			b.ReportMetric(float64(cpuTime()-c0)/float64(b.N), "cpu-ns/event")
		})
	}
}
