package detect

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/model"
)

// hospital is 30 h of hard normal traffic on GET /patients/{id}:
// 60 clinicians (role clinician, each on its own IP) opening a few records
// per 20 minutes and 30-45 records each at shift start (08:00 and 20:00);
// a sync service account walking 800 records every hour; a reporting client
// paging through a list with ?page=N&limit=50; 40 staff behind one NAT IP.
func hospital(hours int, seed uint64) []*event.Event {
	r := rand.New(rand.NewPCG(seed, 5))
	var evs []*event.Event
	pat := func(at time.Time, ip string, id int, opts ...evOpt) {
		evs = append(evs, mkEv(at, ip, "GET", "/patients/{id}", fmt.Sprintf("/patients/%d", id), 200, opts...))
	}
	for m := 0; m < hours*60; m += 20 {
		w := t0.Add(time.Duration(m) * time.Minute)
		shift := m%(12*60) >= 8*60 && m%(12*60) < 8*60+20
		for c := 0; c < 60; c++ {
			n := 1 + r.IntN(6)
			if shift {
				n = 30 + r.IntN(16)
			}
			for j := 0; j < n; j++ {
				pat(w.Add(time.Duration(r.IntN(1200))*time.Second), ip4(2000+c), r.IntN(20000), withID(fmt.Sprintf("nurse%d", c), "clinician"))
			}
		}
		for c := 0; c < 40; c++ { // NAT: staff share one address
			for j := 0; j < 1+r.IntN(4); j++ {
				pat(w.Add(time.Duration(r.IntN(1200))*time.Second), "198.51.100.7", r.IntN(20000), withID(fmt.Sprintf("staff%d", c), "clinician"))
			}
		}
		if m%60 == 0 { // hourly sync walk of 800 ids in 15 minutes
			for j := 0; j < 800; j++ {
				pat(w.Add(time.Duration(j)*900*time.Millisecond), "10.0.0.5", j, withKey("sync-service-key"))
			}
		}
		for j := 0; j < 30; j++ { // pagination
			at := w.Add(time.Duration(j*30) * time.Second)
			evs = append(evs, mkEv(at, "203.0.113.200", "GET", "/patients", fmt.Sprintf("/patients?page=%d&limit=50", m/20*30+j), 200, withID("reporter", "analyst")))
		}
	}
	return merge(evs)
}

func enumAttack(at time.Time, n int, spread time.Duration, ip func(i int) string, opts ...evOpt) []*event.Event {
	return burst(at, spread, n, func(i int, at time.Time) *event.Event {
		st := 200
		if i%3 == 0 {
			st = 404
		}
		return mkEv(at, ip(i), "GET", "/patients/{id}", fmt.Sprintf("/patients/%d", 50000+i*7), st, opts...)
	})
}

func TestEnumeration(t *testing.T) {
	base := hospital(30, 1)
	at := t0.Add(26*time.Hour + 25*time.Minute)
	one := func(string) func(int) string { return func(int) string { return "203.0.113.9" } }("")
	cases := []struct {
		name string
		evs  []*event.Event
		want map[string]int
		chk  func(t *testing.T, as []model.Alert)
	}{
		{"hard normal traffic stays quiet", base, map[string]int{}, nil},
		{"fast enumeration by a clinician account", merge(base, enumAttack(at, 400, 15*time.Minute, one, withID("nurse7", "clinician"))),
			map[string]int{"bola.param_enumeration": 1}, func(t *testing.T, as []model.Alert) {
				a := as[0]
				// Identity-keyed: the alert is about the principal and names
				// the address its evidence came from (the attacker's, not the
				// one the nurse was first seen on), with every address of the
				// evidence in clients[].
				if a.Subject != "identity" || a.Client.IP != "203.0.113.9" || a.Identity == nil || a.Identity.Name != "nurse7" || a.Endpoint.Path != "/patients/{id}" {
					t.Errorf("subject %s %+v %+v %+v", a.Subject, a.Client, a.Identity, a.Endpoint)
				}
				if len(a.Clients) == 0 || a.Clients[0].IP != "203.0.113.9" || a.Clients[0].Count < 400 {
					t.Errorf("clients %+v", a.Clients)
				}
				var sum int64
				for _, c := range a.Clients {
					sum += c.Count
					if c.IP != "203.0.113.9" && c.IP != ip4(2007) {
						t.Errorf("clients name %s, never used by nurse7", c.IP)
					}
				}
				if sum+a.ClientsOther != a.Count {
					t.Errorf("clients %+v + %d other do not add up to count %d", a.Clients, a.ClientsOther, a.Count)
				}
				if a.Evidence.Details["variant"] != "fast" || a.Evidence.Details["parameter"] != "id" || a.Evidence.Window != "20m" {
					t.Errorf("evidence %+v", a.Evidence)
				}
				if a.Count < 400 || a.Count > 420 { // the attack plus the nurse's own requests in that window
					t.Errorf("count %d", a.Count)
				}
			}},
		{"one identity on rotating IPs", merge(base, enumAttack(at, 400, 15*time.Minute, func(i int) string { return ip4(70000 + i) }, withID("thief"))),
			map[string]int{"bola.param_enumeration": 1}, func(t *testing.T, as []model.Alert) {
				if ips := as[0].Evidence.Details["client_ips"].(float64); ips < 100 {
					t.Errorf("client_ips %v", ips)
				}
				// A few addresses named, the rest counted.
				a := as[0]
				if len(a.Clients) < tallySlots || a.ClientsOther == 0 || a.Client == nil || a.Client.IP != a.Clients[0].IP {
					t.Errorf("clients %+v other %d client %+v", a.Clients, a.ClientsOther, a.Client)
				}
				sum := a.ClientsOther
				for _, c := range a.Clients {
					sum += c.Count
				}
				if sum != a.Count {
					t.Errorf("clients add up to %d, count %d", sum, a.Count)
				}
			}},
		{"anonymous enumeration from one IP", merge(base, enumAttack(at, 300, 10*time.Minute, one)),
			map[string]int{"bola.param_enumeration": 1}, nil},
		{"slow enumeration under the fast threshold", merge(base, func() []*event.Event {
			var evs []*event.Event
			for k := 0; k < 18; k++ { // 38 per 20 min for 6 h
				evs = append(evs, burst(t0.Add(24*time.Hour+time.Duration(k)*20*time.Minute), 19*time.Minute, 38, func(i int, at time.Time) *event.Event {
					return mkEv(at, "203.0.113.77", "GET", "/patients/{id}", fmt.Sprintf("/patients/%d", 90000+k*100+i), 200, withID("slowpoke", "clinician"))
				})...)
			}
			return evs
		}()), map[string]int{"bola.param_enumeration": 1}, func(t *testing.T, as []model.Alert) {
			if as[0].Evidence.Details["variant"] != "slow" || as[0].Evidence.Window != "6h" || as[0].Title != "Slow object identifier enumeration" {
				t.Errorf("evidence %+v", as[0].Evidence)
			}
		}},
		{"distributed enumeration by a botnet", merge(base, enumAttack(at, 6000, 18*time.Minute, func(i int) string { return ip4(80000 + i%300) })),
			map[string]int{"bola.distributed_param_enumeration": 1}, func(t *testing.T, as []model.Alert) {
				if as[0].Endpoint == nil || as[0].Client != nil || as[0].Evidence.Details["subjects"].(float64) < 250 {
					t.Errorf("alert %+v", as[0])
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			as := run(newEnumeration(Config{}), c.evs)
			got := map[string]int{}
			for _, a := range as {
				got[a.Type]++
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Fatalf("alerts %v, want %v\n%s", got, c.want, summary(as))
			}
			if c.chk != nil {
				c.chk(t, as)
			}
		})
	}
}

func TestEnumerationBeforeGate(t *testing.T) {
	// An attack in the first hour: the peers are still learning. A walk
	// through existing objects (all 200) is not judged; one where a third
	// of the identifiers do not exist is (population-free evidence).
	ok := burst(t0.Add(10*time.Minute), 10*time.Minute, 400, func(i int, at time.Time) *event.Event {
		return mkEv(at, "203.0.113.9", "GET", "/patients/{id}", fmt.Sprintf("/patients/%d", 50000+i*7), 200)
	})
	if as := run(newEnumeration(Config{}), merge(hospital(1, 2), ok)); len(as) != 0 {
		t.Fatalf("fired before the gate on a walk through existing objects:\n%s", summary(as))
	}
	evs := merge(hospital(1, 2), enumAttack(t0.Add(10*time.Minute), 400, 10*time.Minute, func(int) string { return "203.0.113.9" }))
	as := run(newEnumeration(Config{}), evs)
	if len(as) != 1 || as[0].Client == nil || as[0].Client.IP != "203.0.113.9" || as[0].Evidence.Details["peers_learning"] != true {
		t.Fatalf("want one alert on the failing walk while the peers learn:\n%s", summary(as))
	}
}

func TestIDLike(t *testing.T) {
	for _, c := range []struct {
		name string
		want bool
	}{{"id", true}, {"user_id", true}, {"orderId", true}, {"uuid", true}, {"page", false}, {"offset", false}, {"cursor", false}, {"paid", false}, {"valid", false}, {"q", false}} {
		if got := idLikeName(c.name); got != c.want {
			t.Errorf("idLikeName(%q) = %v", c.name, got)
		}
	}
	for _, c := range []struct {
		v    string
		want bool
	}{{"123", true}, {"INV-2024-0042", true}, {"3f2b8a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b", true}, {"alice", false}, {"", false}, {"a b", false}, {"1' OR '1'='1", false}} {
		if got := idLikeValue(c.v); got != c.want {
			t.Errorf("idLikeValue(%q) = %v", c.v, got)
		}
	}
}

// TestDistributedNoDoubleCount: an attack that both the tumbling and the
// shifted windows report counts each request once in the alert.
func TestDistributedNoDoubleCount(t *testing.T) {
	base := hospital(30, 1)
	// a walk that crosses the bar only in the shifted window 26:30–26:50
	// (half in each tumbling one), then speeds up in 26:40–27:00: both
	// series report, over 26:40–26:50 alike
	bot := func(i int) string { return ip4(80000 + i%300) }
	attack := merge(enumAttack(t0.Add(26*time.Hour+30*time.Minute), 2600, 20*time.Minute, bot),
		shiftIDs(enumAttack(t0.Add(26*time.Hour+50*time.Minute), 6000, 10*time.Minute, bot), 100000))
	as := run(newEnumeration(Config{}), merge(base, attack))
	var a *model.Alert
	for i := range as {
		if as[i].Type == "bola.distributed_param_enumeration" {
			if a != nil {
				t.Fatalf("two distributed alerts:\n%s", summary(as))
			}
			a = &as[i]
		}
	}
	if a == nil {
		t.Fatalf("no distributed alert:\n%s", summary(as))
	}
	// every request on the endpoint from the first window the alert could
	// cover to its last report
	from, to := a.FirstSeen.Add(-20*time.Minute), a.LastSeen
	n := int64(0)
	for _, ev := range merge(base, attack) {
		if ev.Endpoint.Path == "/patients/{id}" && !ev.Time.Before(from) && !ev.Time.After(to) {
			n++
		}
	}
	if a.Count > n || a.Count < 6000 {
		t.Errorf("count %d: the endpoint had %d requests from %s to %s (attack 8,600)", a.Count, n, from.Format("15:04"), to.Format("15:04"))
	}
}

// shiftIDs moves the attack's object ids by d (a second walk over new ids).
func shiftIDs(evs []*event.Event, d int) []*event.Event {
	for _, ev := range evs {
		var id int
		fmt.Sscanf(ev.Path, "/patients/%d", &id)
		ev.Path = fmt.Sprintf("/patients/%d", id+d)
	}
	return evs
}

// TestSlowWalkBeforeGate: on a quiet endpoint (two customers reading
// their own order once an hour: its fast peers need most of a day), a
// customer token walking order ids at one every 45 s for four hours, a
// third of them missing, stays under the fast floor (≈ 27 per 20 min) and
// is judged on its 6 h window while the peers learn; the same walk
// through orders that all exist (a service reading them) is not.
func TestSlowWalkBeforeGate(t *testing.T) {
	var quiet []*event.Event
	for h := 0; h < 8; h++ {
		for c := 0; c < 2; c++ {
			at := t0.Add(time.Duration(h)*time.Hour + time.Duration(c*17)*time.Minute)
			quiet = append(quiet, mkEv(at, ip4(100+c), "GET", "/orders/{id}", fmt.Sprintf("/orders/%d", 9000+c), 200, withID(fmt.Sprintf("cust%d", c), "customer")))
		}
	}
	walk := func(fails bool) []*event.Event {
		return burst(t0.Add(30*time.Minute), 4*time.Hour, 320, func(i int, at time.Time) *event.Event {
			st := 200
			if fails && i%3 == 0 {
				st = 404
			}
			return mkEv(at, "203.0.113.14", "GET", "/orders/{id}", fmt.Sprintf("/orders/%d", 7300050+i), st, withID("walker", "customer"))
		})
	}
	if as := run(newEnumeration(Config{}), merge(quiet, walk(false))); len(as) != 0 {
		t.Fatalf("a slow read of existing objects while the peers learn fired:\n%s", summary(as))
	}
	as := ofType(run(newEnumeration(Config{}), merge(quiet, walk(true))), "bola.param_enumeration")
	if len(as) != 1 || as[0].Client == nil || as[0].Client.IP != "203.0.113.14" || as[0].Evidence.Details["variant"] != "slow" ||
		as[0].Evidence.Details["peers_learning"] != true {
		t.Fatalf("want one slow alert on the failing walk while the peers learn:\n%s", summary(as))
	}
	if thr, _ := EvidenceNumber(as[0].Evidence.Threshold); thr != 200 {
		t.Errorf("threshold %v, want the slow floor 200", as[0].Evidence.Threshold)
	}
}

// TestDistributedJudgedAtWindowEnd: the distinct-identifier estimate is
// taken at spaced request counts (100, 132, …, 292, 328); a crowd probing
// 318 ids (a third missing) in one window crosses dist_abs (300) after the
// last of them. The window is judged once more when it ends — when the
// next window's first request arrives, or at the end of the input — and
// the alert is dated at its last request.
func TestDistributedJudgedAtWindowEnd(t *testing.T) {
	start := t0.Add(20 * time.Minute)
	crowd := burst(start, 15*time.Minute, 318, func(i int, at time.Time) *event.Event {
		st := 200
		if i%3 == 0 {
			st = 404
		}
		return mkEv(at, ip4(70000+i%40), "GET", "/accounts/{id}", fmt.Sprintf("/accounts/%d", 20481000+2*i), st, withID(fmt.Sprintf("stolen%d", i%20), "customer"))
	})
	last := crowd[len(crowd)-1].Time
	next := []*event.Event{mkEv(start.Add(25*time.Minute), ip4(9), "GET", "/accounts/{id}", "/accounts/5", 200, withID("owner", "customer"))}
	for _, c := range []struct {
		name string
		evs  []*event.Event
	}{
		{"next window starts", merge(crowd, next)},
		{"input ends", crowd},
	} {
		t.Run(c.name, func(t *testing.T) {
			as := ofType(run(newEnumeration(Config{}), c.evs), "bola.distributed_param_enumeration")
			if len(as) != 1 || !as[0].FirstSeen.Equal(last) || as[0].Count != 318 {
				t.Fatalf("want one alert at the window's last request %v counting its 318 requests:\n%s", last, summary(as))
			}
			if v, _ := EvidenceNumber(as[0].Evidence.Observed); v <= 300 {
				t.Fatalf("observed %v", as[0].Evidence.Observed)
			}
		})
	}
}

// TestColdPeerEndUsers: while the fast peers learn, a customer walking
// order ids (a third missing) is judged against the largest window of
// another customer, not against a busy integration's reads of the same
// orders; a principal of another role faces the integration's window.
func TestColdPeerEndUsers(t *testing.T) {
	var base []*event.Event
	for w := 0; w < 3; w++ {
		at := t0.Add(time.Duration(w) * 20 * time.Minute)
		for j := 0; j < 26; j++ { // the integration: 26 orders a window
			base = append(base, mkEv(at.Add(time.Duration(j)*40*time.Second), "198.51.100.80", "GET", "/orders/{id}", fmt.Sprintf("/orders/%d", 7000+w*26+j), 200, withKey("order-sync")))
		}
		for c := 0; c < 3; c++ { // customers: their own orders
			for j := 0; j < 2; j++ {
				base = append(base, mkEv(at.Add(time.Duration(c*5+j)*time.Minute), ip4(100+c), "GET", "/orders/{id}", fmt.Sprintf("/orders/%d", 9000+c*10+j), 200, withID(fmt.Sprintf("cust%d", c), "customer")))
			}
		}
	}
	walk := func(role string) []*event.Event {
		return burst(t0.Add(time.Hour+2*time.Minute), 15*time.Minute, 60, func(i int, at time.Time) *event.Event {
			st := 200
			if i%3 == 0 {
				st = 404
			}
			return mkEv(at, "203.0.113.61", "GET", "/orders/{id}", fmt.Sprintf("/orders/%d", 7100-i), st, withID("walker", role))
		})
	}
	as := ofType(run(newEnumeration(Config{}), merge(base, walk("customer"))), "bola.param_enumeration")
	if len(as) != 1 || as[0].Client == nil || as[0].Client.IP != "203.0.113.61" || as[0].Evidence.Details["peers_learning"] != true {
		t.Fatalf("want one alert on the customer's walk:\n%s", summary(as))
	}
	if thr, _ := EvidenceNumber(as[0].Evidence.Threshold); thr != 40 {
		t.Errorf("threshold %v, want the fast floor 40 (3 × a customer's 2)", as[0].Evidence.Threshold)
	}
	if as := ofType(run(newEnumeration(Config{}), merge(base, walk("staff"))), "bola.param_enumeration"); len(as) != 0 {
		t.Fatalf("a staff member's 60 reads faced the integration's window (bar 78), got:\n%s", summary(as))
	}
}
