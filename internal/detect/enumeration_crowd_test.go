package detect

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/model"
)

// portal: a patient portal over hours: 150 patients (role patient, each
// on its own address) opening their own record about once every three
// hours, and 8 clinicians opening 2–3 records each per 20 minutes — about
// 40 distinct records per window, 30 subjects.
func portal(hours int, seed uint64) []*event.Event {
	r := rand.New(rand.NewPCG(seed, 9))
	var evs []*event.Event
	for m := 0; m < hours*60; m += 20 {
		w := t0.Add(time.Duration(m) * time.Minute)
		for p := 0; p < 150; p++ {
			if r.IntN(9) == 0 {
				evs = append(evs, mkEv(w.Add(time.Duration(r.IntN(1200))*time.Second), ip4(3000+p), "GET", "/patients/{id}",
					fmt.Sprintf("/patients/%d", 1000+p), 200, withID(fmt.Sprintf("patient%d", p), "patient")))
			}
		}
		for c := 0; c < 8; c++ {
			for j := 0; j < 2+r.IntN(2); j++ {
				evs = append(evs, mkEv(w.Add(time.Duration(r.IntN(1200))*time.Second), ip4(2500+c), "GET", "/patients/{id}",
					fmt.Sprintf("/patients/%d", 1000+r.IntN(150)), 200, withID(fmt.Sprintf("clin%d", c), "clinician")))
			}
		}
	}
	return merge(evs)
}

// crowd: n new principals (role patient, one address each) opening per
// records each, at an even pace over spread from at: ids from base up.
func crowd(at time.Time, spread time.Duration, n, per, base int, ip func(i int) string) []*event.Event {
	return burst(at, spread, n*per, func(i int, at time.Time) *event.Event {
		s := i % n
		return mkEv(at, ip(s), "GET", "/patients/{id}", fmt.Sprintf("/patients/%d", base+i), 200, withID(fmt.Sprintf("crowd%d", s), "patient"))
	})
}

// ownRecords: n new patients (role patient, addresses from ip), each
// opening their own record (ids from id), at an even pace over spread.
func ownRecords(at time.Time, spread time.Duration, n, ip, id int) []*event.Event {
	return burst(at, spread, n, func(i int, at time.Time) *event.Event {
		return mkEv(at, ip4(ip+i), "GET", "/patients/{id}", fmt.Sprintf("/patients/%d", id+i), 200, withID(fmt.Sprintf("new%d", i), "patient"))
	})
}

// A crowd far above the hour's record but under dist_abs: 70 fresh
// accounts each opening 10 other patients' records in an hour (half the
// pace of the scenario suite's patient scrape: ≈ 270 distinct records per
// window against a record near 35) is caught once the hour of day has its
// history; the same crowd at 02:30 on the first day is not (no history for
// the hour, and the patients' ownership of their records within their
// role group is not learned yet: fewer than owned_min repeat uses), nor is
// a surge of new patients opening their own record, nor a crowd that
// brings the window to about 2.5 × the record.
func TestDistributedCrowdUnderFloor(t *testing.T) {
	at := t0.Add(26*time.Hour + 30*time.Minute)
	own := func(at time.Time, n int) []*event.Event { return ownRecords(at, 20*time.Minute, n, 60000, 70000) }
	for _, tc := range []struct {
		name string
		evs  []*event.Event
		want int
	}{
		{"quiet portal", portal(40, 1), 0},
		{"crowd of 70 accounts, 10 records each, in an hour", merge(portal(40, 1), crowd(at, time.Hour, 70, 10, 50000, func(i int) string { return ip4(40000 + i) })), 1},
		{"the same crowd on the first day", merge(portal(40, 1), crowd(t0.Add(2*time.Hour+30*time.Minute), time.Hour, 70, 10, 50000, func(i int) string { return ip4(40000 + i) })), 0},
		{"270 new patients, each their own record", merge(portal(40, 1), own(at, 270)), 0},
		{"crowd at 2.5 × the hour's record", merge(portal(40, 1), crowd(at, time.Hour, 15, 10, 50000, func(i int) string { return ip4(40000 + i) })), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			as := ofType(run(newEnumeration(Config{}), tc.evs), "bola.distributed_param_enumeration")
			if len(as) != tc.want {
				t.Fatalf("%d distributed alerts, want %d:\n%s", len(as), tc.want, summary(as))
			}
			for _, a := range as {
				v, _ := EvidenceNumber(a.Evidence.Observed)
				thr, _ := EvidenceNumber(a.Evidence.Threshold)
				if v >= 300 || thr >= 300 {
					t.Errorf("observed %v threshold %v: not the crowd under dist_abs", a.Evidence.Observed, a.Evidence.Threshold)
				}
			}
		})
	}
}

// The lower slow floor on owned objects needs slow peers from more than
// one period: on the first morning, peers are the first night's windows
// (a few records each), and a clinician's ordinary morning (shift start
// and rounds: about 40 records in 6 h) is not a slow walk.
func TestOwnedFloorNeedsTwoPeriods(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 3))
	// 400 patients opening their own record over and over (owned objects),
	// all day from the start.
	evs := members(r, 30, 400, 6, "/patients/{id}", func(_ *rand.Rand, p int) string { return fmt.Sprintf("/patients/%d", 1000+p) }, "patient")
	// From 07:00 on the first day, 6 clinicians each open 7 of their 60
	// patients' records per hour, each once.
	for c := 0; c < 6; c++ {
		for h := 7; h < 13; h++ {
			for j := 0; j < 7; j++ {
				evs = append(evs, mkEv(t0.Add(time.Duration(h)*time.Hour+time.Duration(r.IntN(3600))*time.Second), ip4(2500+c), "GET", "/patients/{id}",
					fmt.Sprintf("/patients/%d", 1000+c*60+(h-7)*7+j), 200, withID(fmt.Sprintf("clin%d", c), "clinician")))
			}
		}
	}
	as := ofType(run(newEnumeration(Config{}), merge(evs)), "bola.param_enumeration")
	if len(as) != 0 {
		t.Fatalf("alerts on the first morning:\n%s", summary(as))
	}
}

// busyPortal is the portal with a busy evening: from 19:00 to 19:40 every
// day, 40 clinicians (known from the first hour on) open 20–28 records
// each per 20 minutes — about 950 distinct records per window, the
// hour's record, against 60 at other hours.
func busyPortal(hours int, seed uint64) []*event.Event {
	r := rand.New(rand.NewPCG(seed, 11))
	evs := portal(hours, seed)
	for m := 0; m < hours*60; m += 20 {
		w := t0.Add(time.Duration(m) * time.Minute)
		busy := m%(24*60) >= 19*60 && m%(24*60) < 19*60+40
		for c := 0; c < 40; c++ {
			n := 1
			if busy {
				n = 20 + r.IntN(9)
			} else if r.IntN(3) != 0 {
				continue
			}
			for j := 0; j < n; j++ {
				evs = append(evs, mkEv(w.Add(time.Duration(r.IntN(1200))*time.Second), ip4(2600+c), "GET", "/patients/{id}",
					fmt.Sprintf("/patients/%d", 1000+r.IntN(20000)), 200, withID(fmt.Sprintf("eve%d", c), "clinician")))
			}
		}
	}
	return merge(evs)
}

// A fresh crowd inside a busy hour: 60 fresh accounts each opening 10
// other patients' records in 30 minutes add ≈ 400 distinct records per
// window to an evening whose record is ≈ 950, so the window's distinct
// count stays under the hour's bar; the crowd is told by its newcomers —
// most of the window's requests, several records each, far beyond what
// newcomers opened at that hour. The same crowd on the first day (no
// record for the hour yet) is told by its role: patients, who each open
// their own record (owned within the group), opening ten each
// (end_user_crowd). Quiet: 200 new patients each opening their own record
// in the busy hour, and the evening alone.
func TestDistributedFreshCrowd(t *testing.T) {
	at := t0.Add(43*time.Hour + 20*time.Minute) // 19:20 on the second day
	ips := func(i int) string { return ip4(41000 + i) }
	own := func(at time.Time, n int) []*event.Event { return ownRecords(at, 30*time.Minute, n, 61000, 80000) }
	for _, tc := range []struct {
		name string
		evs  []*event.Event
		want int
	}{
		{"busy evenings", busyPortal(46, 1), 0},
		{"fresh crowd in the busy hour", merge(busyPortal(46, 1), crowd(at, 30*time.Minute, 60, 10, 50000, ips)), 1},
		{"the same crowd on the first day", merge(busyPortal(46, 1), crowd(at.Add(-24*time.Hour), 30*time.Minute, 60, 10, 50000, ips)), 1},
		{"200 new patients, each their own record", merge(busyPortal(46, 1), own(at, 200)), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newEnumeration(Config{})
			as := ofType(run(d, tc.evs), "bola.distributed_param_enumeration")
			if len(as) != tc.want {
				t.Fatalf("%d distributed alerts, want %d:\n%s", len(as), tc.want, summary(as))
			}
			for _, a := range as {
				det := a.Evidence.Details
				if tc.name == "the same crowd on the first day" {
					if det["variant"] != "end_user_crowd" || det["members"].(float64) < 40 || det["openings_per_member"].(float64) < 2 || det["group_cross_use_share"].(float64) > 0.2 {
						t.Errorf("alert %+v", a)
					}
					continue
				}
				if det["variant"] != "fresh_crowd" || det["new_subjects"].(float64) < 40 || a.Client != nil || a.Endpoint == nil {
					t.Errorf("alert %+v", a)
				}
				v, _ := EvidenceNumber(a.Evidence.Observed)
				thr, _ := EvidenceNumber(a.Evidence.Threshold)
				if dv := det["distinct_values"].(float64); v <= thr || dv >= 1400 {
					t.Errorf("newcomers' openings %v threshold %v, window's distinct values %v: want the openings over their bar, the window under the hour's", v, thr, dv)
				}
			}
		})
	}
}

// A walk that did not fire is not learned: early on, a busy integration's
// window (26 records) sets the cold bar at 78; a customer's walk through
// order ids (a third of them missing) straddles a window boundary — 48
// in the first window, under that bar, then 100 in the next. The first
// window must teach neither the customer's own bar nor its peers', or the
// second one's bar rises to 144 and the walk goes unseen.
func TestWalkNotLearned(t *testing.T) {
	var evs []*event.Event
	ord := func(at time.Time, ip string, id, st int, who string) {
		evs = append(evs, mkEv(at, ip, "GET", "/orders/{id}", fmt.Sprintf("/orders/%d", id), st, withID(who, "customer")))
	}
	for j := 0; j < 26; j++ { // the integration, 10:00–10:20
		ord(t0.Add(10*time.Hour+time.Duration(j*40)*time.Second), "192.0.2.60", 5000+j, 200, "sync")
	}
	for c := 0; c < 4; c++ { // a few customers, a few own orders each
		for j := 0; j < 3; j++ {
			ord(t0.Add(10*time.Hour+time.Duration(c*300+j*60)*time.Second), ip4(3100+c), 6000+c*10+j, 200, fmt.Sprintf("cust%d", c))
		}
	}
	walk := burst(t0.Add(10*time.Hour+36*time.Minute), 12*time.Minute, 150, func(i int, at time.Time) *event.Event {
		st := 200
		if i%3 == 0 {
			st = 404
		}
		return mkEv(at, "212.59.229.107", "GET", "/orders/{id}", fmt.Sprintf("/orders/%d", 9000-i), st, withID("walker", "customer"))
	})
	d := newEnumeration(Config{})
	as := ofType(run(d, merge(evs, walk)), "bola.param_enumeration")
	if len(as) != 1 || as[0].Identity == nil || as[0].Identity.Name != "walker" || as[0].Client == nil || as[0].Client.IP != "212.59.229.107" {
		t.Fatalf("want one alert on the walker:\n%s", summary(as))
	}
	if d.withheld == 0 {
		t.Error("the walk's first window was learned")
	}
}

// Before peer_gate the bar is 3 × the largest window of another subject:
// a walker's own first window (25 orders of its own, a partial window) is
// not its peer. A slow walk of ≈ 50 order ids per window, a third of them
// missing, is then reported in its first full window; with its own window
// as the largest "peer" the bar was 75 and the walk was caught only by
// the slow variant once its own windows had filled the peer gate.
func TestColdBarExcludesOwnWindow(t *testing.T) {
	var evs []*event.Event
	for c := 0; c < 6; c++ { // customers reading an order or two of their own
		for j := 0; j < 2; j++ {
			evs = append(evs, mkEv(t0.Add(12*time.Hour+time.Duration(c*400+j*90)*time.Second), ip4(3200+c), "GET", "/orders/{id}",
				fmt.Sprintf("/orders/%d", 7000+c*10+j), 200, withID(fmt.Sprintf("c%d", c), "customer")))
		}
	}
	own := burst(t0.Add(12*time.Hour+10*time.Minute), 9*time.Minute, 25, func(i int, at time.Time) *event.Event {
		return mkEv(at, "203.0.113.14", "GET", "/orders/{id}", fmt.Sprintf("/orders/%d", 8000+i), 200, withID("slow", "customer"))
	})
	walk := burst(t0.Add(12*time.Hour+20*time.Minute), 60*time.Minute, 150, func(i int, at time.Time) *event.Event {
		st := 200
		if i%3 == 0 {
			st = 404
		}
		return mkEv(at, "203.0.113.14", "GET", "/orders/{id}", fmt.Sprintf("/orders/%d", 9000-i), st, withID("slow", "customer"))
	})
	as := ofType(run(newEnumeration(Config{}), merge(evs, own, walk)), "bola.param_enumeration")
	if len(as) == 0 || as[0].Identity == nil || as[0].Identity.Name != "slow" || as[0].FirstSeen.After(t0.Add(12*time.Hour+40*time.Minute)) {
		t.Fatalf("want the walk reported in its first full window:\n%s", summary(as))
	}
}

// TestNewEndUserGroup: on an endpoint only clinicians used (the hospital:
// shift starts of 30–45 records each, a sync service, a NAT), sixty
// patient-portal accounts — a role group new to the endpoint — each
// opening six patients' records in 20 minutes are reported (the
// endpoint's population is not unusual at that volume). Not: 150 new
// patients each opening one record (a release bringing them to their
// own), the same crowd in the first two hours of the endpoint (every
// group is new then), a new group of agency staff (not an end-user role),
// or nine accounts.
func TestNewEndUserGroup(t *testing.T) {
	at := t0.Add(10*time.Hour + 21*time.Minute)
	group := func(at time.Time, n, per int, role string) []*event.Event {
		return burst(at, 18*time.Minute, n*per, func(i int, at time.Time) *event.Event {
			s := i % n
			return mkEv(at, ip4(90000+s), "GET", "/patients/{id}", fmt.Sprintf("/patients/%d", 60000+i), 200, withID(fmt.Sprintf("acct%d", s), role))
		})
	}
	for _, tc := range []struct {
		name string
		evs  []*event.Event
		want int
	}{
		{"hospital alone", hospital(14, 4), 0},
		{"sixty portal accounts, six records each", merge(hospital(14, 4), group(at, 60, 6, "patient")), 1},
		{"150 new patients, one record each", merge(hospital(14, 4), group(at, 150, 1, "patient")), 0},
		{"in the endpoint's first two hours", merge(hospital(14, 4), group(t0.Add(81*time.Minute), 60, 6, "patient")), 0},
		{"sixty agency staff (a new group, not end users)", merge(hospital(14, 4), group(at, 60, 6, "agency-nurse")), 0},
		{"nine accounts", merge(hospital(14, 4), group(at, 9, 40, "patient")), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			as := ofType(run(newEnumeration(Config{}), tc.evs), "bola.distributed_param_enumeration")
			if len(as) != tc.want {
				t.Fatalf("%d distributed alerts, want %d:\n%s", len(as), tc.want, summary(as))
			}
			for _, a := range as {
				det := a.Evidence.Details
				if det["variant"] != "new_end_user_group" || det["members"].(float64) < 50 || det["group_windows"].(float64) != 0 || a.Client != nil {
					t.Errorf("alert %+v", a)
				}
			}
		})
	}
}

// TestEndUserCrowdNeedsOwnership: customers browsing a catalogue share its
// objects (any product is viewed by many): a campaign bringing sixty
// customers who each view six products in 20 minutes is not a crowd
// reading others' objects, however far above the group's record.
func TestEndUserCrowdNeedsOwnership(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 5))
	evs := members(r, 12, 150, 8, "/products/{id}", func(r *rand.Rand, _ int) string { return fmt.Sprintf("/products/%d", r.IntN(300)) }, "customer")
	campaign := burst(t0.Add(10*time.Hour+21*time.Minute), 18*time.Minute, 360, func(i int, at time.Time) *event.Event {
		return mkEv(at, ip4(95000+i%60), "GET", "/products/{id}", fmt.Sprintf("/products/%d", r.IntN(300)), 200, withID(fmt.Sprintf("new%d", i%60), "customer"))
	})
	if as := ofType(run(newEnumeration(Config{}), merge(evs, campaign)), "bola.distributed_param_enumeration"); len(as) != 0 {
		t.Fatalf("a campaign on a catalogue fired:\n%s", summary(as))
	}
}

// members: hours of n principals of a role (named role0, role1, …, each
// on its own address), each requesting tmpl in about one in oneIn 20
// minute windows, at the path path(r, i) gives principal i.
func members(r *rand.Rand, hours, n, oneIn int, tmpl string, path func(r *rand.Rand, i int) string, role string) []*event.Event {
	var evs []*event.Event
	for m := 0; m < hours*60; m += 20 {
		w := t0.Add(time.Duration(m) * time.Minute)
		for i := 0; i < n; i++ {
			if r.IntN(oneIn) == 0 {
				evs = append(evs, mkEv(w.Add(time.Duration(r.IntN(1200))*time.Second), ip4(3000+i), "GET", tmpl, path(r, i), 200, withID(fmt.Sprintf("%s%d", role, i), role)))
			}
		}
	}
	return evs
}

// TestEndUserPastOwnObjects: on the first day — before the slow peers span
// two periods — a customer reading other customers' profiles, one every
// two minutes, where customers open their own, is reported by the slow
// variant against abs_slow_owned; the same read of objects nobody used
// before (its own new orders), by a role that is no end user, or on a
// parameter whose objects are not owned is not.
func TestEndUserPastOwnObjects(t *testing.T) {
	own := func(tmpl string) func(r *rand.Rand, i int) string {
		return func(_ *rand.Rand, i int) string { return strings.Replace(tmpl, "{id}", strconv.Itoa(5000+i), 1) }
	}
	walk := func(path func(i int) string, role string) []*event.Event {
		return burst(t0.Add(3*time.Hour), 150*time.Minute, 75, func(i int, at time.Time) *event.Event {
			return mkEv(at, "203.0.113.40", "GET", "/users/{id}", path(i), 200, withID("walker", role))
		})
	}
	others := func(i int) string { return fmt.Sprintf("/users/%d", 5000+(i*7)%150) }
	fresh := func(i int) string { return fmt.Sprintf("/users/%d", 880000+i) }
	profiles := members(rand.New(rand.NewPCG(7, 7)), 6, 150, 3, "/users/{id}", own("/users/{id}"), "customer")
	// Objects not owned: customers open any of 1,500 profiles (repeat
	// uses are another's), most used by one customer so far.
	shared := members(rand.New(rand.NewPCG(7, 7)), 6, 150, 3, "/users/{id}", func(r *rand.Rand, _ int) string { return fmt.Sprintf("/users/%d", 5000+r.IntN(1500)) }, "customer")
	// Support agents, each reopening the three customers it is assigned
	// (their objects owned within their group), beside the customers.
	agents := members(rand.New(rand.NewPCG(8, 8)), 6, 20, 1, "/users/{id}", func(r *rand.Rand, i int) string { return fmt.Sprintf("/users/%d", 7000+3*i+r.IntN(3)) }, "support")
	cases := []struct {
		name string
		evs  []*event.Event
		want int
	}{
		{"a customer reads others' profiles", merge(profiles, walk(others, "customer")), 1},
		{"a customer reads objects nobody used before", merge(profiles, walk(fresh, "customer")), 0},
		{"a support agent reads customers' profiles", merge(profiles, agents, walk(others, "support")), 0},
		{"objects not owned: every customer reads any profile", merge(shared, walk(others, "customer")), 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			as := ofType(run(newEnumeration(Config{}), c.evs), "bola.param_enumeration")
			if len(as) != c.want {
				t.Fatalf("want %d alerts, got\n%s", c.want, summary(as))
			}
			for _, a := range as {
				det := a.Evidence.Details
				if a.Identity == nil || a.Identity.ID != "id_walker" || a.Client == nil || a.Client.IP != "203.0.113.40" ||
					det["variant"] != "slow" || det["end_user_past_own_objects"] != true {
					t.Fatalf("alert %s %v", summary([]model.Alert{a}), det)
				}
				if thr, _ := EvidenceNumber(a.Evidence.Threshold); thr != 30 {
					t.Errorf("threshold %v, want abs_slow_owned (30)", a.Evidence.Threshold)
				}
			}
		})
	}
}
