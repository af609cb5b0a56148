package detect

import (
	"fmt"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/alert"
	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/model"
)

func TestAddrTally(t *testing.T) {
	var tl addrTally
	heavy := netip.MustParseAddr("203.0.113.66")
	// A heavy address among many addresses seen once keeps its slot.
	for i := 0; i < 200; i++ {
		tl.add(netip.MustParseAddr(ip4(5000 + i)))
		if i%2 == 0 {
			tl.add(heavy)
		}
	}
	tl.add(netip.Addr{}) // no address: counted, unnamed
	if got := tl.top(); got != heavy.String() {
		t.Fatalf("top %q", got)
	}
	cs, other := tl.delta(true)
	var sum int64
	for _, c := range cs {
		sum += c.Count
	}
	if cs[0].IP != heavy.String() || cs[0].Count != 100 || sum+other != 301 {
		t.Fatalf("delta %+v other %d", cs, other)
	}
	// Reported once: the next delta has only what came since.
	tl.add(heavy)
	cs, other = tl.delta(true)
	if len(cs) != 1 || cs[0].Count != 1 || other != 0 {
		t.Fatalf("second delta %+v other %d", cs, other)
	}
	if cs, other = tl.delta(true); len(cs) != 0 || other != 0 {
		t.Fatalf("empty delta %+v other %d", cs, other)
	}
}

// A stolen token: the victim works from its own address for a day; the
// thief then uses the victim's token from another address to walk the
// records and to spray the API. Every alert about the principal names the
// thief's address, never the victim's (which is not in the evidence).
func TestAttributionStolenTokenSecondAddress(t *testing.T) {
	const victimIP, thiefIP = "198.18.7.20", "203.0.113.99"
	var evs []*event.Event
	// The victim's own day, hours before: a few records every 20 minutes.
	for m := 0; m < 20*60; m += 20 {
		for j := 0; j < 3; j++ {
			evs = append(evs, mkEv(t0.Add(time.Duration(m)*time.Minute+time.Duration(j)*time.Minute), victimIP, "GET", "/patients/{id}",
				fmt.Sprintf("/patients/%d", 100+j), 200, withID("dr.victim", "clinician")))
		}
	}
	at := t0.Add(26*time.Hour + 25*time.Minute)
	thief := enumAttack(at, 400, 15*time.Minute, func(int) string { return thiefIP }, withID("dr.victim", "clinician"))
	paths := []string{"/admin", "/.env", "/actuator", "/debug", "/internal", "/backup", "/config", "/swagger.json", "/graphql", "/metrics"}
	spray := burst(at.Add(40*time.Minute), 10*time.Minute, 300, func(i int, at time.Time) *event.Event {
		p := fmt.Sprintf("%s/%d", paths[i%len(paths)], i)
		return mkEv(at, thiefIP, "GET", p, p, 404, withID("dr.victim", "clinician"))
	})
	evs = merge(hospital(30, 3), evs, thief, spray)
	g, _ := anomalyEngine(Config{})
	for _, ev := range evs {
		g.Observe(ev)
	}
	g.Finish(evs[len(evs)-1].Time)
	seen := map[string]bool{}
	for _, a := range g.Alerts() {
		if a.Identity == nil || a.Identity.Name != "dr.victim" {
			continue
		}
		seen[a.Type] = true
		if a.Client != nil && a.Client.IP != thiefIP {
			t.Errorf("%s names client %s; the evidence came from %s", a.Type, a.Client.IP, thiefIP)
		}
		for _, c := range a.Clients {
			if c.IP == victimIP {
				t.Errorf("%s lists the victim's address %s in clients %+v", a.Type, victimIP, a.Clients)
			}
		}
		if len(a.Clients) == 0 || a.Clients[0].IP != thiefIP {
			t.Errorf("%s clients %+v", a.Type, a.Clients)
		}
	}
	for _, typ := range []string{"bola.param_enumeration", "recon.endpoint_spray"} {
		if !seen[typ] {
			t.Errorf("no %s alert about the stolen principal", typ)
		}
	}
}

// An identity that moves between addresses in one window lists them with
// their counts, most events first, and the counts add up to the alert's.
func TestAttributionIdentityMoves(t *testing.T) {
	at := t0.Add(26*time.Hour + 25*time.Minute)
	ips := []string{"203.0.113.10", "203.0.113.11", "203.0.113.12"}
	walk := enumAttack(at, 400, 15*time.Minute, func(i int) string {
		if i%4 == 0 {
			return ips[1]
		}
		if i%10 == 1 {
			return ips[2]
		}
		return ips[0]
	}, withID("mover", "clinician"))
	as := run(newEnumeration(Config{}), merge(hospital(30, 4), walk))
	as = ofType(as, "bola.param_enumeration")
	if len(as) != 1 {
		t.Fatalf("alerts:\n%s", summary(as))
	}
	a := as[0]
	var sum int64
	var names []string
	for _, c := range a.Clients {
		sum += c.Count
		names = append(names, c.IP)
	}
	if a.Subject != "identity" || a.Client == nil || a.Client.IP != ips[0] || !slices.Equal(names, ips) || sum+a.ClientsOther != a.Count {
		t.Fatalf("subject %s client %+v clients %+v other %d count %d", a.Subject, a.Client, a.Clients, a.ClientsOther, a.Count)
	}
	if !(a.Clients[0].Count > a.Clients[1].Count && a.Clients[1].Count > a.Clients[2].Count) {
		t.Errorf("clients not ordered by count: %+v", a.Clients)
	}
}

// The emitter refuses a subject override a type cannot have.
func TestEmitSubjectOverride(t *testing.T) {
	e := NewEmitter()
	id := &model.IdentityRef{ID: "id_1", Kind: "jwt", Name: "u"}
	e.Emit(Hit{Type: alert.BOLAParamEnumeration, Time: t0, Client: "203.0.113.1", Identity: id, Subject: "identity", Count: 3})
	e.Emit(Hit{Type: alert.BOLAParamEnumeration, Time: t0.Add(time.Minute), Client: "203.0.113.2", Identity: id, Subject: "identity", Count: 5})
	as := e.Alerts()
	if len(as) != 1 || as[0].Client.IP != "203.0.113.2" || len(as[0].Clients) != 2 || as[0].Count != 8 {
		t.Fatalf("alerts %+v", as)
	}
	defer func() {
		if recover() == nil {
			t.Fatal("an endpoint type following an identity did not panic")
		}
	}()
	e.Emit(Hit{Type: alert.TrafficEndpointSpike, Time: t0, Identity: id, Subject: "identity"})
}
