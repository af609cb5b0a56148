package detect

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/event"
)

// sized builds n normal requests over `hours` with sizes drawn by size(),
// from 200 clients.
func sized(hours float64, n int, method, tmpl string, seed uint64, opt func(r *rand.Rand) evOpt) []*event.Event {
	r := rand.New(rand.NewPCG(seed, 11))
	var evs []*event.Event
	for i := 0; i < n; i++ {
		at := t0.Add(time.Duration(float64(i) / float64(n) * hours * float64(time.Hour)))
		evs = append(evs, mkEv(at, ip4(r.IntN(200)), method, tmpl, tmpl, 200, opt(r)))
	}
	return evs
}

func lognormal(r *rand.Rand, median, sigma float64) float64 {
	return median * math.Exp(sigma*r.NormFloat64())
}

func TestPayload(t *testing.T) {
	late := t0.Add(5 * time.Hour)
	small := func(r *rand.Rand) evOpt { return withSizes(0, int64(lognormal(r, 2000, 0.5))) }
	big := func(r *rand.Rand) evOpt { return withSizes(0, int64(lognormal(r, 600<<10, 0.3))) }
	bodies := func(r *rand.Rand) evOpt { return withSizes(int64(lognormal(r, 500, 0.3)), 100) }
	cases := []struct {
		name string
		evs  []*event.Event
		want string // expected alert type ("" = none)
	}{
		{"exfiltration-sized response", merge(sized(4, 5000, "GET", "/orders", 1, small),
			[]*event.Event{mkEv(late, "203.0.113.5", "GET", "/orders", "/orders?limit=100000", 200, withSizes(0, 5<<20), withID("eve"))}), "payload.large_response"},
		{"large request body", merge(sized(4, 5000, "POST", "/orders", 2, bodies),
			[]*event.Event{mkEv(late, "203.0.113.5", "POST", "/orders", "/orders", 201, withSizes(200<<10, 100))}), "payload.large_request"},
		{"endpoint whose responses are normally large", merge(sized(4, 5000, "GET", "/export", 3, big),
			[]*event.Event{mkEv(late, "203.0.113.5", "GET", "/export", "/export", 200, withSizes(0, 1200<<10))}), ""},
		{"new endpoint before the gate", []*event.Event{
			mkEv(t0, "203.0.113.5", "GET", "/new", "/new", 200, withSizes(0, 1)),
			mkEv(t0.Add(time.Second), "203.0.113.5", "GET", "/new", "/new", 200, withSizes(0, 50<<20))}, ""},
		{"large error page is not a large response", merge(sized(4, 5000, "GET", "/orders", 4, small),
			[]*event.Event{mkEv(late, "203.0.113.5", "GET", "/orders", "/orders", 500, withSizes(0, 5<<20))}), ""},
		{"normal traffic", sized(4, 5000, "GET", "/orders", 5, small), ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			as := run(newPayload(Config{}), c.evs)
			if c.want == "" {
				if len(as) != 0 {
					t.Fatalf("want quiet, got\n%s", summary(as))
				}
				return
			}
			if len(as) != 1 || as[0].Type != c.want {
				t.Fatalf("want one %s, got\n%s", c.want, summary(as))
			}
			a := as[0]
			if a.Client == nil || a.Client.IP != "203.0.113.5" || a.Endpoint == nil {
				t.Fatalf("subject: %+v %+v", a.Client, a.Endpoint)
			}
			obs, thr := a.Evidence.Observed.(float64), a.Evidence.Threshold.(float64)
			if obs <= thr || a.Evidence.Baseline.(float64) <= 0 {
				t.Fatalf("evidence %+v", a.Evidence)
			}
			if len(a.Evidence.Samples) != 1 || a.Evidence.Samples[0].URL == "" {
				t.Fatalf("samples %+v", a.Evidence.Samples)
			}
		})
	}
}

func TestLatency(t *testing.T) {
	// Search endpoint with a heavy (Pareto, alpha 1.3) tail, 300 clients.
	search := func(hours float64, n int, seed uint64) []*event.Event {
		r := rand.New(rand.NewPCG(seed, 3))
		var evs []*event.Event
		for i := 0; i < n; i++ {
			at := t0.Add(time.Duration(float64(i) / float64(n) * hours * float64(time.Hour)))
			ms := 40 / math.Pow(1-r.Float64(), 1/1.3)
			evs = append(evs, mkEv(at, ip4(r.IntN(300)), "GET", "/search", "/search?q=x", 200, withDur(ms)))
		}
		return evs
	}
	slowBurst := func(at time.Time, ip string, n int, ms float64) []*event.Event {
		return burst(at, 3*time.Minute, n, func(i int, at time.Time) *event.Event {
			return mkEv(at, ip, "GET", "/search", "/search?q=(a%2B)%2B$", 200, withDur(ms))
		})
	}
	late := t0.Add(6 * time.Hour)
	outage := func() []*event.Event {
		var evs []*event.Event
		for i := 0; i < 12; i++ {
			evs = append(evs, slowBurst(late, ip4(i), 3, 60000)...)
		}
		return evs
	}()
	cases := []struct {
		name string
		evs  []*event.Event
		want int
	}{
		{"heavy-tailed search endpoint stays quiet", search(6, 40000, 1), 0},
		{"ReDoS-style slow calls from one client", merge(search(6, 40000, 2), slowBurst(late, "203.0.113.66", 8, 45000)), 1},
		{"one slow tail call", merge(search(6, 40000, 3), slowBurst(late, "203.0.113.66", 1, 8000)), 0},
		{"backend outage: every client slow", merge(search(6, 40000, 4), outage), 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			as := run(newLatency(Config{}), c.evs)
			if len(as) != c.want {
				t.Fatalf("want %d alerts, got\n%s", c.want, summary(as))
			}
			for _, a := range as {
				if a.Client.IP != "203.0.113.66" || a.Evidence.Details["slow_calls"].(float64) < 3 {
					t.Fatalf("alert %+v", a)
				}
				if a.Count < 3 {
					t.Fatalf("count %d", a.Count)
				}
			}
		})
	}
	_ = fmt.Sprint
}

// TestPayloadYoungEndpoint: before cold_obs (5) observations the cold bar
// is raised by cold_obs / n: a 7 MB order list after three of ~400 bytes
// (bar 427 KiB) is reported; 1 MiB after one (bar 1.28 MiB) is not, nor a
// first response, nor a binary body.
func TestPayloadYoungEndpoint(t *testing.T) {
	resp := func(at time.Time, ip string, size int64, ct string) *event.Event {
		return mkEv(at, ip, "GET", "/orders", "/orders", 200, withSizes(0, size), func(ev *event.Event) {
			ev.Rec.Response.Headers = map[string]string{"content-type": ct}
		})
	}
	small := func(n int) []*event.Event {
		var evs []*event.Event
		for i := 0; i < n; i++ {
			evs = append(evs, resp(t0.Add(time.Duration(i)*time.Hour), ip4(10+i), int64(356+40*i), "application/json"))
		}
		return evs
	}
	late := t0.Add(9 * time.Hour)
	for _, c := range []struct {
		name string
		evs  []*event.Event
		want int
	}{
		{"7 MB after three small", append(small(3), resp(late, "203.0.113.153", 7<<20, "application/json")), 1},
		{"1 MiB after one small", append(small(1), resp(late, "203.0.113.153", 1<<20, "application/json")), 0},
		{"2 MiB after one small", append(small(1), resp(late, "203.0.113.153", 2<<20, "application/json")), 1},
		{"a first response", []*event.Event{resp(late, "203.0.113.153", 50<<20, "application/json")}, 0},
		{"a binary body after three small", append(small(3), resp(late, "203.0.113.153", 7<<20, "application/zip")), 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			as := run(newPayload(Config{}), c.evs)
			if len(as) != c.want {
				t.Fatalf("want %d, got\n%s", c.want, summary(as))
			}
			for _, a := range as {
				if a.Client == nil || a.Client.IP != "203.0.113.153" || a.Evidence.Details["baseline_learning"] != true {
					t.Fatalf("alert %+v", a)
				}
			}
		})
	}
}
