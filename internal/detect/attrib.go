package detect

import (
	"net/netip"
	"sort"
	"strings"

	"github.com/palisade-sec/palisade/internal/model"
)

// Attribution: an alert names only the subjects seen in its own evidence.
//
// A family that follows an authenticated principal (the principal is the
// subject of its state, whatever address it comes from) must not name an
// address it stored when the state was created: the principal may have
// moved, or its token may be used by someone else from another address.
// Such families keep an addrTally per evidence window and hand the emitter
// the addresses behind the events each hit stands for (Hit.Clients); a
// family that reports one event per hit names that event's address
// (Hit.Client) and the emitter credits it with the hit's count.

// tallySlots is the number of addresses an addrTally names.
const tallySlots = 4

// addrTally counts the client addresses of one evidence window: up to
// tallySlots addresses with their event counts and what of them was
// already reported; events of further addresses are counted in other.
// When the slots are full, a new address takes the slot with the fewest
// events (whose unreported events move to other), so an address that
// carries many events keeps its slot and one seen once does not hold it
// (Space-Saving without the overestimate: counts stay exact, what is lost
// is the name). 4×(24+4+4)+9 = 137 bytes, no allocation (addresses are
// netip.Addr).
type addrTally struct {
	ip       [tallySlots]netip.Addr
	n, rep   [tallySlots]uint32
	other    uint32
	otherRep uint32
	used     uint8 // slots in use
}

// add counts one event from ip (an invalid address is counted in other).
func (t *addrTally) add(ip netip.Addr) {
	if ip.IsValid() {
		for i := 0; i < int(t.used); i++ {
			if t.ip[i] == ip {
				t.n[i]++
				return
			}
		}
		if int(t.used) < tallySlots {
			t.ip[t.used], t.n[t.used] = ip, 1
			t.used++
			return
		}
		m := 0
		for i := 1; i < tallySlots; i++ {
			if t.n[i] < t.n[m] {
				m = i
			}
		}
		t.other += t.n[m] - t.rep[m]
		t.ip[m], t.n[m], t.rep[m] = ip, 1, 0
		return
	}
	t.other++
}

// reset empties the tally for a new window.
func (t *addrTally) reset() { *t = addrTally{} }

// delta returns the addresses of the events counted since the last call
// (most events first) and the number of those events from addresses the
// tally does not name, and, when commit, marks them reported (a preview, see Finisher, does not).
func (t *addrTally) delta(commit bool) (out []model.ClientCount, other int64) {
	for i := 0; i < int(t.used); i++ {
		if d := t.n[i] - t.rep[i]; d > 0 {
			out = append(out, model.ClientCount{IP: t.ip[i].String(), Count: int64(d)})
			if commit {
				t.rep[i] = t.n[i]
			}
		}
	}
	other = int64(t.other - t.otherRep)
	if commit {
		t.otherRep = t.other
	}
	sortClients(out)
	return out, other
}

// top returns the address with the most events in the window ("" when
// none).
func (t *addrTally) top() string {
	best := -1
	for i := 0; i < int(t.used); i++ {
		if best < 0 || t.n[i] > t.n[best] {
			best = i
		}
	}
	if best < 0 {
		return ""
	}
	return t.ip[best].String()
}

func sortClients(cs []model.ClientCount) {
	sort.SliceStable(cs, func(i, j int) bool {
		if cs[i].Count != cs[j].Count {
			return cs[i].Count > cs[j].Count
		}
		return cs[i].IP < cs[j].IP
	})
}

// addClients credits the alert with the addresses behind a hit: h.Clients
// when the family named them, else h.Client with the hit's count. An
// address new to the principal when a hit first credited it stays marked
// new (model.ClientCount.New).
func addClients(a *model.Alert, h *Hit) {
	add := func(ip string, n int64, fresh bool) {
		if n <= 0 {
			return
		}
		if ip == "" {
			a.ClientsOther += n
			return
		}
		for i := range a.Clients {
			if a.Clients[i].IP == ip {
				a.Clients[i].Count += n
				a.Clients[i].New = a.Clients[i].New || fresh
				return
			}
		}
		if len(a.Clients) >= model.MaxAlertClients {
			a.ClientsOther += n
			if fresh {
				a.ClientsOtherNew += n
			}
			return
		}
		a.Clients = append(a.Clients, model.ClientCount{IP: strings.Clone(ip), Count: n, New: fresh})
	}
	if len(h.Clients) > 0 || h.ClientsOther > 0 {
		for _, c := range h.Clients {
			add(c.IP, c.Count, c.New)
		}
		a.ClientsOther += h.ClientsOther
		a.ClientsOtherNew += h.ClientsOtherNew
	} else if h.Client != "" {
		add(h.Client, h.Count, false)
	}
	sortClients(a.Clients)
}

// familiarSlots is the number of addresses a familiar set remembers.
const familiarSlots = 4

// familiar remembers the client addresses a principal used in its earlier
// quiet windows (windows that raised nothing), each with the start of the
// window it was first learned from, so that an alert can tell which of
// its addresses are new to the principal (model.ClientCount.New). When
// the slots are full, the address used longest ago gives way. 4×(24+16)+1
// = 161 bytes, no allocation.
type familiar struct {
	ip          [familiarSlots]netip.Addr
	since, last [familiarSlots]int64 // window starts, unix seconds
	used        uint8
}

// learn adds the addresses that carried at least a quarter of a closed
// quiet window's events (its tally) as used in the window that started at
// start (unix seconds). A principal's own addresses carry its windows; an
// address among many that each carry a few events (a token passed round a
// proxy pool while its walk is still under the bar) is not made familiar.
func (f *familiar) learn(t *addrTally, start int64) {
	total := t.other
	for i := 0; i < int(t.used); i++ {
		total += t.n[i]
	}
	for i := 0; i < int(t.used); i++ {
		if 4*t.n[i] >= total {
			f.add(t.ip[i], start)
		}
	}
}

func (f *familiar) add(ip netip.Addr, at int64) {
	for i := 0; i < int(f.used); i++ {
		if f.ip[i] == ip {
			f.last[i] = max(f.last[i], at)
			return
		}
	}
	if int(f.used) < familiarSlots {
		f.ip[f.used], f.since[f.used], f.last[f.used] = ip, at, at
		f.used++
		return
	}
	m := 0
	for i := 1; i < familiarSlots; i++ {
		if f.last[i] < f.last[m] {
			m = i
		}
	}
	f.ip[m], f.since[m], f.last[m] = ip, at, at
}

// fresh reports whether ip is new to the principal in a window that
// started at start (unix seconds): it has addresses learned before start
// and ip is not one of them. A principal with no such address has no
// history to be new to.
func (f *familiar) fresh(ip netip.Addr, start int64) bool {
	history, known := false, false
	for i := 0; i < int(f.used); i++ {
		if f.since[i] < start {
			history = true
			known = known || f.ip[i] == ip
		}
	}
	return history && !known
}

// mark flags the clients new to the principal in a window that started at
// start and returns the events they carry.
func (f *familiar) mark(cs []model.ClientCount, start int64) (n int64) {
	for i := range cs {
		ip, err := netip.ParseAddr(cs[i].IP)
		if cs[i].New = err == nil && f.fresh(ip, start); cs[i].New {
			n += cs[i].Count
		}
	}
	return n
}

// freshCount counts a window's requests from addresses new to the
// principal (familiar.fresh) and those of them already reported.
type freshCount struct{ n, rep uint32 }

// add counts a request from ip in a window that started at start.
func (c *freshCount) add(f *familiar, ip netip.Addr, start int64) {
	if f.used > 0 && f.fresh(ip, start) {
		c.n++
	}
}

// attribute sets the addresses behind a hit of a principal's window that
// started at start: the tally's delta, the new addresses marked, and the
// events of unnamed new addresses; when commit, they are marked reported
// (a preview, see Finisher, does not).
func attribute(h *Hit, t *addrTally, f *familiar, c *freshCount, start int64, commit bool) {
	h.Clients, h.ClientsOther = t.delta(commit)
	named := f.mark(h.Clients, start)
	h.ClientsOtherNew = max(int64(c.n-c.rep)-named, 0)
	if commit {
		c.rep = c.n
	}
}
