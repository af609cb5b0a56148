package detect

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/event"
)

// spa: 300 browser clients each loading 5-25 of 40 API endpoints per visit,
// plus a monitoring probe walking all 60 endpoints every 20 minutes.
func spa(hours int, seed uint64) []*event.Event {
	r := rand.New(rand.NewPCG(seed, 9))
	var evs []*event.Event
	for m := 0; m < hours*60; m += 20 {
		w := t0.Add(time.Duration(m) * time.Minute)
		for c := 0; c < 300; c++ {
			if r.IntN(3) != 0 {
				continue
			}
			n := 5 + r.IntN(21)
			for j := 0; j < n; j++ {
				e := r.IntN(40)
				evs = append(evs, mkEv(w.Add(time.Duration(r.IntN(1200))*time.Second), ip4(3000+c), "GET", fmt.Sprintf("/api/e%d", e), fmt.Sprintf("/api/e%d", e), 200, withUA("Mozilla/5.0")))
			}
		}
		for e := 0; e < 60; e++ {
			evs = append(evs, mkEv(w.Add(time.Duration(e)*time.Second), "10.1.1.1", "GET", fmt.Sprintf("/api/e%d", e), fmt.Sprintf("/api/e%d", e), 200, withUA("curl/8.5.0")))
		}
	}
	return merge(evs)
}

func TestSpray(t *testing.T) {
	base := spa(6, 1)
	at := t0.Add(5*time.Hour + 3*time.Minute)
	cases := []struct {
		name   string
		evs    []*event.Event
		want   int
		client string
	}{
		{"browsers and a monitoring walker stay quiet", base, 0, ""},
		{"scanner probing unknown paths", merge(base, burst(at, 5*time.Minute, 250, func(i int, at time.Time) *event.Event {
			p := fmt.Sprintf("/probe/%d/.env", i)
			return mkEv(at, "203.0.113.50", "GET", p, p, 404, withUA("python-requests/2.31"))
		})), 1, "203.0.113.50"},
		{"authenticated client walking many known endpoints", merge(base, burst(at, 10*time.Minute, 300, func(i int, at time.Time) *event.Event {
			p := fmt.Sprintf("/api/x%d", i)
			return mkEv(at, ip4(99), "GET", p, p, 200, withID("mapper"))
		})), 1, ip4(99)},
		// Population-free evidence: the baseline is still learning (one
		// hour of browsers), the scanner's paths are mostly 404.
		{"scan during the learning period fires on its 404s", merge(spa(1, 2), burst(t0.Add(10*time.Minute), 5*time.Minute, 250, func(i int, at time.Time) *event.Event {
			p := fmt.Sprintf("/probe/%d", i)
			return mkEv(at, "203.0.113.50", "GET", p, p, 404)
		})), 1, "203.0.113.50"},
		{"many known endpoints during the learning period are not judged", merge(spa(1, 2), burst(t0.Add(10*time.Minute), 10*time.Minute, 300, func(i int, at time.Time) *event.Event {
			p := fmt.Sprintf("/api/x%d", i)
			return mkEv(at, ip4(99), "GET", p, p, 200, withID("mapper"))
		})), 0, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			as := run(newSpray(Config{}), c.evs)
			if len(as) != c.want {
				t.Fatalf("want %d alerts, got\n%s", c.want, summary(as))
			}
			for _, a := range as {
				if a.Type != "recon.endpoint_spray" || a.Client == nil || a.Client.IP != c.client {
					t.Fatalf("alert %s", summary(as))
				}
				if obs := a.Evidence.Observed.(float64); obs < 100 || a.Evidence.Window != "20m" {
					t.Fatalf("evidence %+v", a.Evidence)
				}
				if a.Count < 150 {
					t.Fatalf("count %d", a.Count)
				}
			}
		})
	}
}
