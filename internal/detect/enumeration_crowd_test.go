package detect

import (
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/event"
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

// A crowd far above the hour's record but under dist_abs: 70 fresh
// accounts each opening 10 other patients' records in an hour (half the
// pace of the scenario suite's patient scrape: ≈ 270 distinct records per
// window against a record near 35) is caught once the hour of day has its
// history; the same crowd on the first day (no history for the hour) is
// not, nor is a surge of new patients opening their own record, nor a
// crowd that brings the window to about 2.5 × the record.
func TestDistributedCrowdUnderFloor(t *testing.T) {
	at := t0.Add(26*time.Hour + 30*time.Minute)
	own := func(at time.Time, n int) []*event.Event { // n new patients, one own record each
		return burst(at, 20*time.Minute, n, func(i int, at time.Time) *event.Event {
			return mkEv(at, ip4(60000+i), "GET", "/patients/{id}", fmt.Sprintf("/patients/%d", 70000+i), 200, withID(fmt.Sprintf("new%d", i), "patient"))
		})
	}
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
	var evs []*event.Event
	// 400 patients opening their own record over and over (owned objects),
	// all day from the start.
	for m := 0; m < 30*60; m += 20 {
		w := t0.Add(time.Duration(m) * time.Minute)
		for p := 0; p < 400; p++ {
			if r.IntN(6) == 0 {
				evs = append(evs, mkEv(w.Add(time.Duration(r.IntN(1200))*time.Second), ip4(3000+p), "GET", "/patients/{id}",
					fmt.Sprintf("/patients/%d", 1000+p), 200, withID(fmt.Sprintf("patient%d", p), "patient")))
			}
		}
	}
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
