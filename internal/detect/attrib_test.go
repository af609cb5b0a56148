package detect

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
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

// A stolen token used while its owner works: the owner opens records at
// its usual pace from its usual address in the same window as the thief,
// whose requests come from many addresses, none carrying as many events
// as the owner's. The alert lists both, marks the thief's addresses new
// to the principal and names one of them as its client — never the
// owner's. A principal that walks from its usual address (an insider), or
// that adds a single request from a new address, is named by its usual
// address.
func TestAttributionThiefBesideOwner(t *testing.T) {
	const ownerIP = "198.18.7.20"
	thieves := func(i int) string { return fmt.Sprintf("203.0.113.%d", 10+i%6) }
	usual := usualDays(ownerIP, "rn.owner")
	at := t0.Add(26*time.Hour + 25*time.Minute)
	// In the attack window the owner opens 60 of its ward's records, from
	// a few minutes before the thief starts.
	shift := burst(at.Add(-4*time.Minute), 15*time.Minute, 60, func(i int, at time.Time) *event.Event {
		return mkEv(at, ownerIP, "GET", "/patients/{id}", fmt.Sprintf("/patients/%d", 100+i), 200, withID("rn.owner", "clinician"))
	})
	lead := func(t *testing.T, walk []*event.Event) model.Alert {
		t.Helper()
		as := ofType(run(newEnumeration(Config{}), merge(hospital(30, 3), usual, walk)), "bola.param_enumeration")
		var mine []model.Alert
		for _, a := range as {
			if a.Identity != nil && a.Identity.Name == "rn.owner" {
				mine = append(mine, a)
			}
		}
		if len(mine) != 1 {
			t.Fatalf("alerts about rn.owner:\n%s", summary(as))
		}
		return mine[0]
	}
	t.Run("thief from many addresses beside the owner", func(t *testing.T) {
		a := lead(t, merge(shift, enumAttack(at, 240, 15*time.Minute, thieves, withID("rn.owner", "clinician"))))
		if a.Client == nil || a.Client.IP == ownerIP || !strings.HasPrefix(a.Client.IP, "203.0.113.") {
			t.Fatalf("client %+v; clients %+v", a.Client, a.Clients)
		}
		owner := false
		for _, c := range a.Clients {
			if c.IP == ownerIP {
				owner = true
				if c.New {
					t.Errorf("the owner's usual address is marked new: %+v", a.Clients)
				}
			} else if !c.New {
				t.Errorf("thief address %s not marked new: %+v", c.IP, a.Clients)
			}
		}
		if !owner || a.Clients[0].IP != ownerIP {
			// The busiest named address is the owner's: naming the busiest
			// would name the victim.
			t.Errorf("the owner's address carries the most named events and must be listed first: %+v", a.Clients)
		}
	})
	t.Run("insider at the usual address", func(t *testing.T) {
		a := lead(t, enumAttack(at, 240, 15*time.Minute, func(int) string { return ownerIP }, withID("rn.owner", "clinician")))
		if a.Client == nil || a.Client.IP != ownerIP || a.Clients[0].New {
			t.Fatalf("client %+v; clients %+v", a.Client, a.Clients)
		}
	})
	t.Run("insider with one request from a phone", func(t *testing.T) {
		a := lead(t, enumAttack(at, 240, 15*time.Minute, func(i int) string {
			if i == 7 {
				return "192.0.2.77"
			}
			return ownerIP
		}, withID("rn.owner", "clinician")))
		if a.Client == nil || a.Client.IP != ownerIP {
			t.Fatalf("client %+v; clients %+v", a.Client, a.Clients)
		}
		for _, c := range a.Clients {
			if c.New != (c.IP == "192.0.2.77") {
				t.Errorf("new marks %+v", a.Clients)
			}
		}
	})
}

// usualDays: a clinician's usual 26 hours from its own address, a few
// records every 20 minutes.
func usualDays(ip, name string) []*event.Event {
	var evs []*event.Event
	for m := 0; m < 26*60; m += 20 {
		for j := 0; j < 3; j++ {
			evs = append(evs, mkEv(t0.Add(time.Duration(m)*time.Minute+time.Duration(j)*time.Minute), ip, "GET", "/patients/{id}",
				fmt.Sprintf("/patients/%d", 100+j), 200, withID(name, "clinician")))
		}
	}
	return evs
}

// The same for a spray: the owner browses its records at its usual pace
// while its token probes paths from six new addresses in turn.
func TestAttributionSprayBesideOwner(t *testing.T) {
	const ownerIP = "198.18.7.20"
	usual := usualDays(ownerIP, "rn.owner")
	at := t0.Add(26*time.Hour + 25*time.Minute)
	browse := burst(at.Add(-4*time.Minute), 15*time.Minute, 150, func(i int, at time.Time) *event.Event {
		return mkEv(at, ownerIP, "GET", "/patients/{id}", fmt.Sprintf("/patients/%d", 100+i%20), 200, withID("rn.owner", "clinician"))
	})
	paths := []string{"/admin", "/.env", "/actuator", "/debug", "/internal", "/backup", "/config", "/swagger.json", "/graphql", "/metrics"}
	spray := burst(at, 10*time.Minute, 300, func(i int, at time.Time) *event.Event {
		p := fmt.Sprintf("%s/%d", paths[i%len(paths)], i)
		return mkEv(at, fmt.Sprintf("203.0.113.%d", 10+i%6), "GET", p, p, 404, withID("rn.owner", "clinician"))
	})
	var mine []model.Alert
	for _, a := range ofType(run(newSpray(Config{}), merge(hospital(30, 3), usual, browse, spray)), "recon.endpoint_spray") {
		if a.Identity != nil && a.Identity.Name == "rn.owner" {
			mine = append(mine, a)
		}
	}
	if len(mine) != 1 {
		t.Fatalf("spray alerts about rn.owner: %d", len(mine))
	}
	a := mine[0]
	if a.Client == nil || a.Client.IP == ownerIP || a.Clients[0].IP != ownerIP {
		t.Fatalf("client %+v; clients %+v (the owner's address carries the most named events; the lead must be a new one)", a.Client, a.Clients)
	}
}

func TestLeadClient(t *testing.T) {
	for _, tc := range []struct {
		cs              []model.ClientCount
		other, otherNew int64
		want            string
	}{
		{nil, 0, 0, ""},
		{[]model.ClientCount{{IP: "a", Count: 30}, {IP: "b", Count: 5, New: true}, {IP: "c", Count: 4, New: true}}, 0, 0, "b"}, // 9 of 39 new
		{[]model.ClientCount{{IP: "a", Count: 30}, {IP: "b", Count: 3, New: true}, {IP: "c", Count: 2, New: true}}, 0, 0, "a"}, // 5 of 35 new
		{[]model.ClientCount{{IP: "a", Count: 30}, {IP: "b", Count: 3, New: true}}, 20, 20, "b"},                               // 23 of 53 new, most unnamed
		{[]model.ClientCount{{IP: "a", Count: 30}}, 20, 20, ""},                                                                // new ones carry 40 %, none named
		{[]model.ClientCount{{IP: "a", Count: 30}}, 20, 2, "a"},                                                                // the unnamed are mostly usual
		{[]model.ClientCount{{IP: "a", Count: 30, New: true}, {IP: "b", Count: 3}}, 0, 0, "a"},                                 // moved
		{[]model.ClientCount{{IP: "a", Count: 10}, {IP: "b", Count: 10}}, 0, 0, "a"},                                           // no history
	} {
		if got := model.LeadClient(tc.cs, tc.other, tc.otherNew); got != tc.want {
			t.Errorf("LeadClient(%+v, %d, %d) = %q, want %q", tc.cs, tc.other, tc.otherNew, got, tc.want)
		}
	}
}

// A quiet window makes familiar only the addresses that carried a quarter
// of its events: the principal's own, not the proxies a stolen token is
// passed round while its walk is still under the bar.
func TestFamiliarLearnsOwnAddresses(t *testing.T) {
	var tl addrTally
	own, phone := netip.MustParseAddr("198.18.7.20"), netip.MustParseAddr("198.18.9.4")
	for i := 0; i < 12; i++ {
		tl.add(own)
	}
	for i := 0; i < 5; i++ {
		tl.add(phone)
	}
	for i := 0; i < 9; i++ { // proxies, 1–2 events each
		tl.add(netip.MustParseAddr(ip4(7000 + i%6)))
	}
	var f familiar
	f.learn(&tl, 100)
	if f.used != 1 || f.ip[0] != own {
		t.Fatalf("learned %v (%d)", f.ip[:f.used], f.used)
	}
	var two addrTally
	for i := 0; i < 8; i++ {
		two.add(own)
		if i%2 == 0 {
			two.add(phone)
		}
	}
	f.learn(&two, 200)
	if f.used != 2 || f.fresh(phone, 300) || !f.fresh(phone, 150) || f.fresh(own, 150) || !f.fresh(netip.MustParseAddr(ip4(7000)), 300) {
		t.Fatalf("familiar %+v", f)
	}
}
