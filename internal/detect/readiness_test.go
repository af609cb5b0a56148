package detect

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/model"
)

// Readiness, per detector: each family is driven from an empty state on a
// small capture (three clients unless the need is a population of
// principals) and its learning state is read after every event. The
// baseline must be learning until the documented needs are met — counted
// here from the events, independently of the detector — and ready from
// then on, with ready_at at the event that met them.

// smallSteady: clients 1..n each call the endpoint built by mk once a
// minute from t0 for the given duration (client i at second 10·i).
func smallSteady(n int, d time.Duration, mk func(c int, k int, at time.Time) *event.Event) []*event.Event {
	var evs []*event.Event
	for m := 0; m < int(d/time.Minute); m++ {
		for c := 1; c <= n; c++ {
			evs = append(evs, mk(c, m, t0.Add(time.Duration(m)*time.Minute+time.Duration(10*c)*time.Second)))
		}
	}
	return merge(evs)
}

type readinessCase struct {
	name     string
	make     func() Detector
	baseline string // prefix of the baseline name
	evs      []*event.Event
	// met reports whether the documented needs are met after evs[:i+1],
	// counted from the events.
	met func(evs []*event.Event, i int) bool
}

// windowsClosed counts, after evs[i], the subject windows of size w
// closed by the global (or endpoint/parameter) window roll: every window
// index before the current one holds the subjects active in it.
func windowsClosed(evs []*event.Event, i int, w time.Duration, subject func(*event.Event) string) int {
	cur := winIndex(evs[i].Time, w)
	seen := map[string]bool{}
	for _, ev := range evs[:i+1] {
		if idx := winIndex(ev.Time, w); idx < cur {
			seen[fmt.Sprint(idx)+"|"+subject(ev)] = true
		}
	}
	return len(seen)
}

func byIP(ev *event.Event) string { return ev.ClientIP.String() }

func byPrincipal(ev *event.Event) string {
	if ev.Auth.Identity != nil {
		return ev.Auth.Identity.ID
	}
	return byIP(ev)
}

func TestReadinessPerDetector(t *testing.T) {
	get := func(c, k int, at time.Time) *event.Event {
		return mkEv(at, ip4(c), "GET", "/api/a", "/api/a", 200, withID(fmt.Sprintf("u%d", c), "customer"))
	}
	item := func(c, k int, at time.Time) *event.Event {
		id := fmt.Sprintf("%d", 1000*c+k%5) // each customer re-opens its own five items
		return mkEv(at, ip4(c), "GET", "/api/items/{id}", "/api/items/"+id, 200, withID(fmt.Sprintf("u%d", c), "customer"))
	}
	sized := func(c, k int, at time.Time) *event.Event {
		ev := mkEv(at, ip4(c), "POST", "/api/notes", "/api/notes?tag=x", 200, withID(fmt.Sprintf("u%d", c), "customer"),
			withBody("application/json", `{"note":"hello","n":1}`), withDur(40))
		ev.Rec.Response.Size = 300
		return ev
	}
	first := func(evs []*event.Event) time.Time { return evs[0].Time }
	cases := []readinessCase{
		{"spray: 50 closed subject windows", func() Detector { return newSpray(Config{}) }, "client windows",
			smallSteady(3, 7*time.Hour, get), func(evs []*event.Event, i int) bool {
				return windowsClosed(evs, i, 20*time.Minute, byPrincipal) >= 50
			}},
		{"traffic: 12 windows of the endpoint's history", func() Detector { return newTraffic(Config{}) }, "endpoint rate",
			smallSteady(3, 2*time.Hour, get), func(evs []*event.Event, i int) bool {
				return winIndex(evs[i].Time, 5*time.Minute)-winIndex(first(evs), 5*time.Minute) >= 12
			}},
		{"traffic: 50 closed client windows on the endpoint", func() Detector { return newTraffic(Config{}) }, "client windows",
			smallSteady(3, 2*time.Hour, get), func(evs []*event.Event, i int) bool {
				return windowsClosed(evs, i, 5*time.Minute, byIP) >= 50
			}},
		{"traffic: 50 closed principal windows on the endpoint", func() Detector { return newTraffic(Config{}) }, "principal windows",
			smallSteady(3, 6*time.Hour, get), func(evs []*event.Event, i int) bool {
				return windowsClosed(evs, i, 15*time.Minute, byPrincipal) >= 50
			}},
		{"enumeration: 30 closed fast peer windows", func() Detector { return newEnumeration(Config{}) }, "fast peer",
			smallSteady(3, 5*time.Hour, item), func(evs []*event.Event, i int) bool {
				return windowsClosed(evs, i, 20*time.Minute, byPrincipal) >= 30
			}},
		{"enumeration: 10 closed slow peer windows", func() Detector { return newEnumeration(Config{}) }, "slow peer",
			smallSteady(3, 26*time.Hour, item), func(evs []*event.Event, i int) bool {
				return windowsClosed(evs, i, 6*time.Hour, byPrincipal) >= 10
			}},
		{"enumeration: 50 repeat uses of identifiers", func() Detector { return newEnumeration(Config{}) }, "ownership",
			smallSteady(3, time.Hour, item), func(evs []*event.Event, i int) bool {
				seen := map[string]bool{}
				rep := 0
				for _, ev := range evs[:i+1] {
					if seen[ev.Path] {
						rep++
					}
					seen[ev.Path] = true
				}
				return rep >= 50
			}},
		{"enumeration: 6 windows of the parameter's distinct identifiers", func() Detector { return newEnumeration(Config{}) }, "endpoint distinct",
			smallSteady(3, 3*time.Hour, item), func(evs []*event.Event, i int) bool {
				return winIndex(evs[i].Time, 20*time.Minute)-winIndex(first(evs), 20*time.Minute) >= 6
			}},
		{"enumeration: 3 windows at an hour of day", func() Detector { return newEnumeration(Config{}) }, "hour-of-day",
			smallSteady(3, 2*time.Hour, item), func(evs []*event.Event, i int) bool {
				return winIndex(evs[i].Time, 20*time.Minute)-winIndex(first(evs), 20*time.Minute) >= 3
			}},
		{"payload: 200 response sizes", func() Detector { return newPayload(Config{}) }, "response sizes",
			smallSteady(3, 2*time.Hour, sized), func(evs []*event.Event, i int) bool { return i+1 >= 200 }},
		{"payload: 200 request body sizes", func() Detector { return newPayload(Config{}) }, "request body",
			smallSteady(3, 2*time.Hour, sized), func(evs []*event.Event, i int) bool { return i+1 >= 200 }},
		{"latency: 200 durations", func() Detector { return newLatency(Config{}) }, "call durations",
			smallSteady(3, 2*time.Hour, sized), func(evs []*event.Event, i int) bool { return i+1 >= 200 }},
		{"params: 200 requests and 1 h per endpoint", func() Detector { return newParams(Config{}) }, "parameters of each endpoint",
			smallSteady(3, 2*time.Hour, sized), func(evs []*event.Event, i int) bool {
				return i+1 >= 200 && evs[i].Time.Sub(first(evs)) >= time.Hour
			}},
		{"params: 100 values of a parameter", func() Detector { return newParams(Config{}) }, "value types",
			smallSteady(3, time.Hour, sized), func(evs []*event.Event, i int) bool { return i+1 >= 100 }},
		{"injection: 20 values of a parameter", func() Detector { return NewInjection(Config{}) }, "benign values of each parameter",
			smallSteady(3, time.Hour, sized), func(evs []*event.Event, i int) bool { return i+1 >= 20 }},
		{"injection: 100 values and 30 min of a parameter", func() Detector { return NewInjection(Config{}) }, "value types of each parameter",
			smallSteady(3, time.Hour, sized), func(evs []*event.Event, i int) bool {
				return i+1 >= 100 && evs[i].Time.Sub(first(evs)) >= 30*time.Minute
			}},
		{"bfla: 5 successful uses of an endpoint", func() Detector { return newBFLA(Config{}) }, "successful uses",
			smallSteady(3, 10*time.Minute, get), func(evs []*event.Event, i int) bool { return i+1 >= 5 }},
		{"sensitive exposure: 51 responses and 1 h per endpoint", func() Detector { return newSensitiveExposure(Config{}, nil) }, "data types",
			smallSteady(3, 2*time.Hour, get), func(evs []*event.Event, i int) bool {
				return i+1 >= 51 && evs[i].Time.Sub(first(evs)) >= time.Hour
			}},
	}
	// bfla's learning period: 2 h and 20 principals (a population of
	// principals, not three clients); the small-set evidence: 50
	// principals seen on its API since the endpoint's first use.
	var many []*event.Event
	for m := 0; m < 180; m++ {
		for c := 1; c <= 60 && c <= 1+m/2; c++ { // one more principal every two minutes
			if (m+c)%20 == 0 {
				many = append(many, mkEv(t0.Add(time.Duration(m)*time.Minute+time.Duration(c)*time.Second), ip4(c), "GET", "/api/a", "/api/a", 200, withID(fmt.Sprintf("p%d", c), "customer")))
			}
		}
	}
	many = merge(many)
	distinct := func(evs []*event.Event, i int) int {
		s := map[string]bool{}
		for _, ev := range evs[:i+1] {
			s[byPrincipal(ev)] = true
		}
		return len(s)
	}
	cases = append(cases,
		readinessCase{"bfla: 2 h and 20 principals", func() Detector { return newBFLA(Config{}) }, "role groups",
			many, func(evs []*event.Event, i int) bool {
				return evs[i].Time.Sub(first(evs)) >= 2*time.Hour && distinct(evs, i) >= 20
			}},
		readinessCase{"bfla: 50 principals since the endpoint's first use", func() Detector { return newBFLA(Config{}) }, "principals seen",
			many, func(evs []*event.Event, i int) bool { return distinct(evs, i)-1 >= 50 }},
	)
	// authabuse: one failed login per client and 10 min window (brute-force
	// peers), five login endpoints' failure windows (stuffing), and
	// principals' hours (token reuse).
	fail := func(c, k int, at time.Time) *event.Event {
		if k%10 != 0 {
			return mkEv(at, ip4(c), "GET", "/api/a", "/api/a", 200, withID(fmt.Sprintf("u%d", c), "customer"))
		}
		return mkEv(at, ip4(c), "POST", "/api/login", "/api/login", 401, withBody("application/json", `{"username":"u","password":"x"}`))
	}
	cases = append(cases,
		readinessCase{"authabuse: 50 closed failure windows of clients", func() Detector { return newAuthAbuse(Config{}) }, "failure windows",
			smallSteady(3, 4*time.Hour, fail), func(evs []*event.Event, i int) bool {
				return windowsClosed(evs, i, 10*time.Minute, func(ev *event.Event) string {
					if ev.Status == 401 {
						return byIP(ev)
					}
					return "ok" // windows without failures do not count
				})-countOkOnly(evs, i, 10*time.Minute) >= 50
			}},
		readinessCase{"authabuse: 6 windows of a login endpoint", func() Detector { return newAuthAbuse(Config{}) }, "failures per login",
			smallSteady(3, 3*time.Hour, fail), func(evs []*event.Event, i int) bool {
				return winIndex(evs[i].Time, 20*time.Minute)-winIndex(first(evs), 20*time.Minute) >= 6
			}},
		readinessCase{"authabuse: 30 closed principal-hours", func() Detector { return newAuthAbuse(Config{}) }, "networks per principal",
			smallSteady(3, 12*time.Hour, get), func(evs []*event.Event, i int) bool {
				return windowsClosed(evs, i, time.Hour, byPrincipal) >= 30
			}},
	)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := c.make()
			out := NewEmitter()
			rr, ok := d.(interface {
				Readiness(time.Time) []model.Readiness
			})
			if !ok {
				t.Fatalf("%T reports no readiness", d)
			}
			was := ""
			for i, ev := range c.evs {
				d.Observe(ev, out)
				var b *model.Readiness
				for _, x := range rr.Readiness(ev.Time) {
					if strings.HasPrefix(x.Baseline, c.baseline) {
						x := x
						b = &x
					}
				}
				if b == nil {
					t.Fatalf("event %d: no baseline %q", i, c.baseline)
				}
				want := model.StateLearning
				if c.met(c.evs, i) {
					want = model.StateReady
				}
				if b.State != want {
					t.Fatalf("event %d at +%s: state %s, want %s (%+v)", i, ev.Time.Sub(c.evs[0].Time), b.State, want, *b)
				}
				if b.Scope == "population" && b.State == model.StateLearning && (b.Missing == nil || b.Missing.Zero()) {
					t.Fatalf("event %d: learning without saying what is missing: %+v", i, *b)
				}
				if b.State == model.StateReady && was != model.StateReady {
					if b.ReadyAt == nil || !b.ReadyAt.Equal(ev.Time) {
						t.Fatalf("event %d became ready; ready_at %v, want %v", i, b.ReadyAt, ev.Time)
					}
					t.Logf("ready after %s (event %d)", ev.Time.Sub(c.evs[0].Time), i)
				}
				if b.State == model.StateLearning && b.WhileLearning == "" {
					t.Fatalf("learning without saying what the family does meanwhile")
				}
				was = b.State
			}
			if was != model.StateReady {
				t.Fatalf("never ready on the capture")
			}
		})
	}
}

// countOkOnly counts closed brute-force windows in which the "ok" subject
// (successful requests, no failure) was active: windowsClosed counts them
// once per window index.
func countOkOnly(evs []*event.Event, i int, w time.Duration) int {
	cur := winIndex(evs[i].Time, w)
	seen := map[int64]bool{}
	for _, ev := range evs[:i+1] {
		if idx := winIndex(ev.Time, w); idx < cur && ev.Status != 401 {
			seen[idx] = true
		}
	}
	return len(seen)
}

// The upstream family: one hour from the first outbound call, and
// learn_calls calls.
func TestReadinessUpstream(t *testing.T) {
	d := NewUpstream(Config{Options: optsYAML(t, "upstream: {learn_calls: 10}")})
	out := NewEmitter()
	if r := d.Readiness(t0); r != nil {
		t.Fatalf("readiness before any outbound call: %+v", r)
	}
	for m := 0; m <= 70; m += 5 {
		ev := mkEv(t0.Add(time.Duration(m)*time.Minute), "10.0.0.5", "GET", "/v1/rates", "/v1/rates", 200)
		ev.Outbound = true
		d.Observe(ev, out)
		r := d.Readiness(ev.Time)
		want := model.StateLearning
		if m >= 60 {
			want = model.StateReady
		}
		if len(r) != 1 || r[0].State != want {
			t.Fatalf("+%d min: %+v, want %s", m, r, want)
		}
	}
}

// The readiness a family reports is a function of the events it saw:
// replaying gives the same states and times.
func TestReadinessDeterministic(t *testing.T) {
	evs := mixedStream()
	var got [2]string
	for k := range got {
		g, _ := anomalyEngine(Config{})
		for _, ev := range evs {
			g.Observe(ev)
		}
		b, err := json.Marshal(g.Readiness(evs[len(evs)-1].Time))
		if err != nil {
			t.Fatal(err)
		}
		got[k] = string(b)
	}
	if got[0] != got[1] {
		t.Fatalf("readiness differs between replays:\n%s\n%s", got[0], got[1])
	}
}
