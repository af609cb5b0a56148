package detect

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"sort"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/event"
)

// population builds `hours` of normal traffic: n principals (each on its own
// IP unless nat is set, then all behind one IP) calling GET /items/{id}
// about perMin times a minute in total, plus optional extra events.
type population struct {
	hours   float64
	n       int
	perMin  int
	nat     bool
	growth  float64 // multiplicative growth of perMin per hour (diurnal ramp)
	anonPct int     // share of anonymous requests (per IP)
	seed    uint64
}

func (p population) events() []*event.Event {
	r := rand.New(rand.NewPCG(p.seed, 7))
	var evs []*event.Event
	rate := float64(p.perMin)
	for m := 0; m < int(p.hours*60); m++ {
		k := int(rate)
		for j := 0; j < k; j++ {
			u := r.IntN(p.n)
			ip := ip4(1000 + u)
			if p.nat {
				ip = "198.51.100.7"
			}
			at := t0.Add(time.Duration(m)*time.Minute + time.Duration(j)*time.Minute/time.Duration(k+1))
			var opts []evOpt
			if r.IntN(100) >= p.anonPct {
				opts = append(opts, withID(fmt.Sprintf("user%d", u)))
			}
			evs = append(evs, mkEv(at, ip, "GET", "/items/{id}", fmt.Sprintf("/items/%d", r.IntN(50)), 200, opts...))
		}
		if p.growth > 0 {
			rate *= 1 + (p.growth-1)/60
		}
	}
	return evs
}

// burst returns n requests spread over d starting at `at`.
func burst(at time.Time, d time.Duration, n int, mk func(i int, at time.Time) *event.Event) []*event.Event {
	var out []*event.Event
	for i := 0; i < n; i++ {
		out = append(out, mk(i, at.Add(d*time.Duration(i)/time.Duration(n))))
	}
	return out
}

func merge(parts ...[]*event.Event) []*event.Event {
	var all []*event.Event
	for _, p := range parts {
		all = append(all, p...)
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Time.Before(all[j].Time) })
	for i, ev := range all {
		ev.Seq = uint64(i)
	}
	return all
}

func TestTrafficSpikes(t *testing.T) {
	attackAt := t0.Add(4*time.Hour + 2*time.Minute)
	base := population{hours: 5, n: 100, perMin: 40, seed: 1}
	cases := []struct {
		name  string
		evs   []*event.Event
		want  map[string]int // alert type -> expected alerts
		check func(t *testing.T, d *trafficDetector, evs []*event.Event)
	}{
		{
			name: "quiet baseline",
			evs:  base.events(),
			want: map[string]int{},
		},
		{
			name: "one authenticated client floods the endpoint",
			evs: merge(base.events(), burst(attackAt, 3*time.Minute, 1500, func(i int, at time.Time) *event.Event {
				return mkEv(at, "203.0.113.9", "GET", "/items/{id}", fmt.Sprintf("/items/%d", i%50), 200, withID("mallory"))
			})),
			want: map[string]int{"traffic.endpoint_spike": 1, "traffic.client_spike": 1, "traffic.identity_spike": 1},
		},
		{
			name: "one principal across rotating IPs: identity spike only",
			evs: merge(base.events(), burst(attackAt, 4*time.Minute, 400, func(i int, at time.Time) *event.Event {
				return mkEv(at, ip4(90000+i), "GET", "/items/{id}", fmt.Sprintf("/items/%d", i%50), 200, withID("scalper"))
			})),
			want: map[string]int{"traffic.identity_spike": 1},
		},
		{
			name: "401 storm is its own status class",
			evs: merge(base.events(), burst(attackAt, 4*time.Minute, 600, func(i int, at time.Time) *event.Event {
				return mkEv(at, ip4(50000+i), "GET", "/items/{id}", fmt.Sprintf("/items/%d", i%50), 401)
			})),
			want: map[string]int{"traffic.endpoint_spike": 1},
			check: func(t *testing.T, d *trafficDetector, evs []*event.Event) {
				a := ofType(run(newTraffic(Config{}), evs), "traffic.endpoint_spike")[0]
				if a.Evidence.Details["status_class"] != "401/403" {
					t.Errorf("status class %v", a.Evidence.Details["status_class"])
				}
			},
		},
		{
			name: "many users behind one NAT address stay quiet",
			evs:  population{hours: 5, n: 150, perMin: 60, nat: true, seed: 2}.events(),
			want: map[string]int{},
		},
		{
			name: "gradual morning ramp (x3 per hour) stays quiet",
			evs:  population{hours: 3, n: 200, perMin: 20, growth: 3, seed: 3}.events(),
			want: map[string]int{},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := newTraffic(Config{})
			as := run(d, c.evs)
			got := map[string]int{}
			for _, a := range as {
				got[a.Type]++
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Fatalf("alerts %v, want %v\n%s", got, c.want, summary(as))
			}
			for _, a := range as {
				win := "5m"
				if a.Type == "traffic.identity_spike" {
					win = "15m"
				}
				if a.Evidence.Threshold == nil || a.Evidence.Observed == nil || a.Evidence.Window != win {
					t.Errorf("%s: incomplete evidence %+v", a.Type, a.Evidence)
				}
				if a.Confidence < 0.3 || a.Confidence > 0.99 {
					t.Errorf("%s: confidence %v", a.Type, a.Confidence)
				}
				if len(a.Evidence.Samples) == 0 {
					t.Errorf("%s: no sample", a.Type)
				}
				if a.Type == "traffic.client_spike" && (a.Client == nil || a.Client.IP != "203.0.113.9") {
					t.Errorf("client subject %v", a.Client)
				}
				if a.Type == "traffic.identity_spike" && a.Identity == nil {
					t.Errorf("identity missing")
				}
			}
			if c.check != nil {
				c.check(t, d, c.evs)
			}
		})
	}
}

func TestTrafficAlertCountCoversWindow(t *testing.T) {
	base := population{hours: 4, n: 100, perMin: 40, seed: 4}
	at := t0.Add(3*time.Hour + 30*time.Second)
	evs := merge(base.events(), burst(at, 4*time.Minute, 2000, func(i int, at time.Time) *event.Event {
		return mkEv(at, "203.0.113.9", "GET", "/items/{id}", "/items/1", 200)
	}))
	a := ofType(run(newTraffic(Config{}), evs), "traffic.client_spike")
	if len(a) != 1 {
		t.Fatalf("want one client spike, got %d", len(a))
	}
	// Every request of the anomalous window is folded into the alert.
	if a[0].Count != 2000 || a[0].Evidence.Observed.(float64) != 2000 {
		t.Fatalf("count %d observed %v", a[0].Count, a[0].Evidence.Observed)
	}
}

func TestTrafficDailyPeakLearned(t *testing.T) {
	// Two days: 20 requests a minute from 100 staff, 200 a minute during a
	// 20-minute shift start at 08:00. Day one's peak may alert (nothing to
	// compare with); day two's must not.
	r := rand.New(rand.NewPCG(5, 5))
	var evs []*event.Event
	for m := 0; m < 48*60; m++ {
		rate := 20
		if m%(24*60) >= 8*60 && m%(24*60) < 8*60+20 {
			rate = 200
		}
		for j := 0; j < rate; j++ {
			u := r.IntN(100)
			at := t0.Add(time.Duration(m)*time.Minute + time.Duration(j)*time.Minute/time.Duration(rate))
			evs = append(evs, mkEv(at, ip4(7000+u), "GET", "/charts/{id}", fmt.Sprintf("/charts/%d", r.IntN(900)), 200, withID(fmt.Sprintf("staff%d", u))))
		}
	}
	as := ofType(run(newTraffic(Config{}), evs), "traffic.endpoint_spike")
	for _, a := range as {
		if a.LastSeen.Sub(t0) >= 24*time.Hour {
			t.Fatalf("day-two peak alerted:\n%s", summary(as))
		}
	}
	if len(as) != 1 {
		t.Fatalf("want the day-one peak only, got\n%s", summary(as))
	}
}

// TestTrafficSmallDeploymentNewcomer: a client far above every client of a
// small deployment is judged while the endpoint's peer baseline is still
// short of peer_gate windows, once the peers' windows come from clients
// that keep coming back (cold_return); at the start of a large deployment,
// where every peer window is a new client, a newcomer's first run (a
// batch job) is not.
func TestTrafficSmallDeploymentNewcomer(t *testing.T) {
	scraper := func(at time.Time) []*event.Event {
		return burst(at, 4*time.Minute, 1200, func(i int, at time.Time) *event.Event {
			return mkEv(at, "203.0.113.154", "GET", "/products", fmt.Sprintf("/products?page=%d", i%6), 200)
		})
	}
	// Three customers, each on its own address, browse the catalogue in
	// every third 5-minute window for 4 h: ≈ 48 peer windows, 16 each.
	var small []*event.Event
	for w := 0; w < 48; w++ {
		u := w % 3
		at := t0.Add(time.Duration(w)*5*time.Minute + time.Minute)
		for j := 0; j < 3+w%4; j++ {
			small = append(small, mkEv(at.Add(time.Duration(j)*20*time.Second), ip4(100+u), "GET", "/products", "/products?page=1", 200))
		}
	}
	// A large deployment's first 40 minutes: every window brings new
	// clients (one visit each).
	var large []*event.Event
	for c := 0; c < 40; c++ {
		at := t0.Add(time.Duration(c) * time.Minute)
		for j := 0; j < 4; j++ {
			large = append(large, mkEv(at.Add(time.Duration(j)*5*time.Second), ip4(2000+c), "GET", "/products", "/products?page=1", 200))
		}
	}
	// A billing service on the internal network starts its nightly walk
	// after those 4 h: the same volume from an internal newcomer.
	batch := scraper(t0.Add(4*time.Hour + 30*time.Second))
	for _, ev := range batch {
		ev.ClientIP = netip.MustParseAddr("10.50.200.12")
		ev.PeerIP, ev.External = ev.ClientIP, false
	}
	cases := []struct {
		name string
		evs  []*event.Event
		want int
	}{
		{"small deployment: a newcomer scrapes the catalogue", merge(small, scraper(t0.Add(4*time.Hour+30*time.Second))), 1},
		{"small deployment: an internal newcomer's batch run is not judged while the peers learn", merge(small, batch), 0},
		{"small deployment: quiet", merge(small), 0},
		{"large deployment's first hour: a newcomer's first burst is held, not judged while the peers learn (TestTrafficDeferredNewcomer)", merge(large, scraper(t0.Add(41*time.Minute))), 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			as := ofType(run(newTraffic(Config{}), c.evs), "traffic.client_spike")
			if len(as) != c.want {
				t.Fatalf("want %d client spikes, got\n%s", c.want, summary(as))
			}
			for _, a := range as {
				if a.Client == nil || a.Client.IP != "203.0.113.154" || a.Count != 1200 {
					t.Fatalf("alert %+v", a)
				}
				if a.Evidence.Details["peers_learning"] != true {
					t.Errorf("judged against a ready baseline: %v", a.Evidence.Details)
				}
			}
		})
	}
}

// TestTrafficIdentityBusyVisit: a principal several times busier than
// usual on everything — visits back to back, the endpoint a small share
// of its requests — is a busy person, not a flow being abused; the same
// principal hammering one flow (most of its requests) is an identity
// spike.
func TestTrafficIdentityBusyVisit(t *testing.T) {
	visit := func(at time.Time, who string, times int) []*event.Event {
		var evs []*event.Event
		steps := []struct{ method, tmpl, path string }{
			{"GET", "/products", "/products?page=1"}, {"GET", "/products/{id}", "/products/SKU-1"}, {"GET", "/search", "/search?q=lamp"},
			{"GET", "/products/{id}", "/products/SKU-2"}, {"POST", "/cart/items", "/cart/items"}, {"GET", "/cart", "/cart"},
			{"GET", "/users/{id}", "/users/7"}, {"GET", "/orders", "/orders"},
		}
		for k := 0; k < times; k++ {
			for j, s := range steps {
				evs = append(evs, mkEv(at.Add(time.Duration(k*len(steps)+j)*8*time.Second), ip4(300+len(who)), s.method, s.tmpl, s.path, 200, withID(who, "customer")))
			}
		}
		return evs
	}
	// Three customers, one visit each per 15-minute window for 8 h.
	var base []*event.Event
	for w := 0; w < 32; w++ {
		for i, who := range []string{"alice", "bob", "carol"} {
			base = append(base, visit(t0.Add(time.Duration(w)*15*time.Minute+time.Duration(i)*time.Minute), who, 1)...)
		}
	}
	at := t0.Add(8*time.Hour + time.Minute)
	flow := burst(at, 10*time.Minute, 60, func(i int, at time.Time) *event.Event {
		if i%2 == 0 {
			return mkEv(at, ip4(300+len("bob")), "GET", "/products/{id}", "/products/SKU-9", 200, withID("bob", "customer"))
		}
		return mkEv(at, ip4(300+len("bob")), "POST", "/cart/items", "/cart/items", 200, withID("bob", "customer"))
	})
	cases := []struct {
		name string
		evs  []*event.Event
		want int
	}{
		{"twelve visits back to back: a busy customer", merge(base, visit(at, "alice", 12)), 0},
		{"a customer hammers product pages and the cart", merge(base, visit(at, "bob", 1), flow), 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			as := ofType(run(newTraffic(Config{}), c.evs), "traffic.identity_spike")
			if len(as) != c.want {
				t.Fatalf("want %d identity spikes, got\n%s", c.want, summary(as))
			}
		})
	}
}

// TestTrafficIdentityGroupNow: a ward's nurses read a few records each per
// 15 minutes for eight hours; at shift start, nurses new to the endpoint
// open 24–30 records each in the same window. With group_now (4) of the
// role group active there, the bar rises with them: no alert — also for
// the first of them, past the bar before the others start (a principal
// new to the endpoint is judged at the window's end while its group is
// not busy on it). A nurse
// doing the same with only one colleague active, or one reading 300
// records amid the shift start, is a spike. group_now 6 (the rule before
// stop 25) alerts on the shift start of four.
func TestTrafficIdentityGroupNow(t *testing.T) {
	var base []*event.Event
	for w := 0; w < 32; w++ {
		for i := 0; i < 8; i++ {
			who := fmt.Sprintf("rn%d", i)
			for k := 0; k < 1+(w+i)%3; k++ {
				at := t0.Add(time.Duration(w)*15*time.Minute + time.Duration(i*90+k*200)*time.Second)
				base = append(base, mkEv(at, ip4(400+i), "GET", "/patients/{id}", fmt.Sprintf("/patients/%d", 100*i+k+w), 200, withID(who, "nurse")))
			}
		}
	}
	shift := t0.Add(8*time.Hour + 15*time.Minute)
	readerIn := func(who string, off, d time.Duration, n int) []*event.Event {
		return burst(shift.Add(off), d, n, func(i int, at time.Time) *event.Event {
			return mkEv(at, ip4(500+len(who)), "GET", "/patients/{id}", fmt.Sprintf("/patients/%d", 5000+i), 200, withID(who, "nurse"))
		})
	}
	reader := func(who string, off time.Duration, n int) []*event.Event {
		return readerIn(who, off, 12*time.Minute, n)
	}
	// The first nurse of the shift is past the bar (20 reads) before her
	// colleagues start: judged when the window closes.
	early := merge(readerIn("nurse-a", 0, 4*time.Minute, 30), readerIn("nurse-bb", 6*time.Minute, 6*time.Minute, 26),
		readerIn("nurse-ccc", 7*time.Minute, 6*time.Minute, 24), readerIn("nurse-dddd", 8*time.Minute, 6*time.Minute, 25))
	ward := merge(reader("nurse-a", 0, 30), reader("nurse-bb", time.Minute, 26), reader("nurse-ccc", 2*time.Minute, 24), reader("nurse-dddd", 2*time.Minute, 25))
	cases := []struct {
		name     string
		groupNow int
		evs      []*event.Event
		want     []string
	}{
		{"four nurses start their shift", 4, merge(base, ward), nil},
		{"the same with group_now 6", 6, merge(base, ward), []string{"nurse-a", "nurse-bb", "nurse-dddd", "nurse-ccc"}},
		{"one nurse reads 30 records, one colleague active", 4, merge(base, reader("nurse-a", 0, 30), reader("nurse-bb", time.Minute, 5)), []string{"nurse-a"}},
		{"a nurse reads 300 records amid the shift start", 4, merge(base, ward, reader("nurse-eeeee", 0, 300)), []string{"nurse-eeeee"}},
		{"the first nurse of the shift, past the bar before her colleagues start", 4, merge(base, early), nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			o := defaultTrafficOptions()
			o.GroupNow = c.groupNow
			as := ofType(run(newTraffic(Config{Options: Options{"traffic": o}}), c.evs), "traffic.identity_spike")
			var got []string
			for _, a := range as {
				if a.Identity == nil {
					t.Fatalf("identity spike without an identity: %+v", a)
				}
				got = append(got, a.Identity.Name)
			}
			sort.Strings(got)
			want := append([]string(nil), c.want...)
			sort.Strings(want)
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Fatalf("identity spikes on %v, want %v\n%s", got, want, summary(as))
			}
		})
	}
	// A held spike is reported when its window closes, dated at the
	// principal's last request of the window (its time to detect is not
	// hidden), with the whole window's count.
	evs := merge(base, reader("nurse-a", 0, 30), reader("nurse-bb", time.Minute, 5))
	as := ofType(run(newTraffic(Config{}), evs), "traffic.identity_spike")
	if len(as) != 1 {
		t.Fatalf("want one spike, got\n%s", summary(as))
	}
	// A look at the pending alerts (serve's checkpoints) in the middle of
	// the held window shows nothing: the spike is undecided until the
	// window closes.
	d := newTraffic(Config{})
	out := NewEmitter()
	cut := shift.Add(10 * time.Minute)
	for _, ev := range evs {
		if !ev.Time.Before(cut) {
			break
		}
		d.Observe(ev, out)
	}
	pv := out.previewCopy()
	d.Finish(cut, pv)
	if got := ofType(pv.Alerts(), "traffic.identity_spike"); len(got) != 0 {
		t.Fatalf("preview of a held window shows\n%s", summary(got))
	}
	last := shift.Add(12 * time.Minute * 29 / 30)
	if a := as[0]; !a.FirstSeen.Equal(last) || a.Count != 30 || a.Evidence.Details["judged_at_window_end"] != true {
		t.Fatalf("held spike first seen %v (want %v), count %d, details %v", a.FirstSeen, last, a.Count, a.Evidence.Details)
	}
}

// TestTrafficDeferredNewcomer: an external newcomer flooding an endpoint
// before its peers can judge a newcomer is held out of the peers and
// judged once they can, dated by its own requests and saying when it was
// judged; an internal newcomer is not held, and a window the peers never
// become able to judge is counted, not reported.
func TestTrafficDeferredNewcomer(t *testing.T) {
	// A scraper's 1,200 requests in 8 minutes from 00:03, before the small
	// deployment is seen whole (at 00:10: six peer windows from three
	// clients).
	scraper := func(ip string, external bool) []*event.Event {
		return burst(t0.Add(3*time.Minute), 8*time.Minute, 1200, func(i int, at time.Time) *event.Event {
			ev := mkEv(at, ip, "GET", "/products", fmt.Sprintf("/products?page=%d", i%6), 200)
			ev.External = external
			return ev
		})
	}
	// Three customers, each on its own address, browse the catalogue in
	// every 5-minute window (a few requests each) for `mins` minutes.
	customers := func(mins int) []*event.Event {
		var evs []*event.Event
		for w := 0; w < mins/5; w++ {
			for u := 0; u < 3; u++ {
				at := t0.Add(time.Duration(w)*5*time.Minute + time.Duration(u+1)*time.Minute)
				for j := 0; j < 2+(w+u)%3; j++ {
					evs = append(evs, mkEv(at.Add(time.Duration(j)*15*time.Second), ip4(100+u), "GET", "/products", "/products?page=1", 200))
				}
			}
		}
		return evs
	}
	// A large deployment: a new client every minute, one visit each.
	large := func(mins int) []*event.Event {
		var evs []*event.Event
		for c := 0; c < mins; c++ {
			at := t0.Add(time.Duration(c) * time.Minute)
			for j := 0; j < 4; j++ {
				evs = append(evs, mkEv(at.Add(time.Duration(j)*5*time.Second), ip4(2000+c), "GET", "/products", "/products?page=1", 200))
			}
		}
		return evs
	}
	cases := []struct {
		name    string
		evs     []*event.Event
		want    int
		learn   bool // judged before peer_gate
		dropped int64
	}{
		{"small deployment: the scraper is judged once the deployment is seen whole", merge(customers(60), scraper("203.0.113.154", true)), 1, true, 0},
		{"small deployment: an internal newcomer is not held", merge(customers(60), scraper("10.50.200.12", false)), 0, false, 0},
		{"small deployment that stops: never judged, counted", merge(customers(5), scraper("203.0.113.154", true)), 0, false, 1},
		{"large deployment: judged against the p99 once peer_gate windows closed", merge(large(70), scraper("203.0.113.154", true)), 1, false, 0},
		{"large deployment cut before peer_gate: never judged, counted", merge(large(40), scraper("203.0.113.154", true)), 0, false, 1},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := newTraffic(Config{})
			as := ofType(run(d, c.evs), "traffic.client_spike")
			if len(as) != c.want {
				t.Fatalf("want %d client spikes, got\n%s", c.want, summary(as))
			}
			var dropped int64
			for _, v := range d.Dropped() {
				dropped += v
			}
			if dropped != c.dropped {
				t.Errorf("dropped %v, want %d", d.Dropped(), c.dropped)
			}
			for _, a := range as {
				det := a.Evidence.Details
				judged, err := time.Parse(time.RFC3339, fmt.Sprint(det["judged_at"]))
				// The windows above abs_client: 00:03–00:05 and 00:05–00:10
				// (the last minute's 150 requests are under it).
				if a.Client == nil || a.Client.IP != "203.0.113.154" || a.Count != 1050 || det["deferred_requests"] != 1050.0 || err != nil {
					t.Fatalf("alert %+v", a)
				}
				if det["peers_learning"] != c.learn || det["deferred_windows"] != 2 {
					t.Errorf("details %v", det)
				}
				// Dated by the scraper's requests (the first above
				// abs_client, the last); judged after them.
				if !a.FirstSeen.After(t0.Add(3*time.Minute)) || a.FirstSeen.After(t0.Add(5*time.Minute)) ||
					!a.LastSeen.After(t0.Add(9*time.Minute)) || !judged.After(a.LastSeen) {
					t.Errorf("first %v last %v judged %v", a.FirstSeen, a.LastSeen, judged)
				}
			}
		})
	}
	// A look at the pending alerts (serve's checkpoints) while the window
	// waits shows nothing and changes nothing.
	evs := merge(customers(60), scraper("203.0.113.154", true))
	d := newTraffic(Config{})
	out := NewEmitter()
	for _, ev := range evs {
		d.Observe(ev, out)
		if ev.Time.Sub(t0)%(3*time.Minute) == 0 {
			pv := out.previewCopy()
			d.Finish(ev.Time, pv)
		}
	}
	d.Finish(evs[len(evs)-1].Time, out)
	if got := ofType(out.Alerts(), "traffic.client_spike"); len(got) != 1 || got[0].Count != 1050 {
		t.Fatalf("with previews:\n%s", summary(got))
	}
}
