package posture

import (
	"container/list"
	"fmt"
	ahocorasick "github.com/petar-dambovaliev/aho-corasick"
	"math/rand"
	"net/netip"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/classify/ac"
	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/identity"
	"github.com/palisade-sec/palisade/internal/model"
)

// refWindows is the burst-window bookkeeping as it was written with
// container/list and string keys: the reference for the index-linked LRU.
type refWindows struct {
	max     int
	wins    map[string]*list.Element
	lru     *list.List
	evicted int
}

type refWindow struct {
	key   string
	start time.Time
	n     int
	hit   bool
}

func (r *refWindows) observe(key string, at time.Time, window time.Duration) {
	var w *refWindow
	if el, ok := r.wins[key]; ok {
		r.lru.MoveToFront(el)
		w = el.Value.(*refWindow)
	} else {
		if r.lru.Len() >= r.max {
			old := r.lru.Back()
			delete(r.wins, old.Value.(*refWindow).key)
			r.lru.Remove(old)
			r.evicted++
		}
		w = &refWindow{key: key, start: at}
		r.wins[key] = r.lru.PushFront(w)
	}
	if at.Sub(w.start) >= window || at.Before(w.start) {
		w.start, w.n, w.hit = at, 0, false
	}
	w.n++
}

func TestBurstWindowsLRUMatchesReference(t *testing.T) {
	for _, max := range []int{1, 3, 17, 2000} {
		tr := NewTraffic(TrafficConfig{MaxClientWindows: max})
		rw := &refWindows{max: max, wins: map[string]*list.Element{}, lru: list.New()}
		rng := rand.New(rand.NewSource(int64(max)))
		at := pt0
		for i := 0; i < 3000; i++ {
			at = at.Add(time.Duration(rng.Intn(2000)) * time.Millisecond)
			n := rng.Intn(3*max + 2)
			ip := fmt.Sprintf("10.%d.%d.%d", n>>16&255, n>>8&255, n&255)
			path := fmt.Sprintf("/v1/items/%d", rng.Intn(3))
			ev := &event.Event{Rec: &exchange.Record{Time: at}, Time: at, Scheme: "https", Status: 200,
				ClientIP: netip.MustParseAddr(ip), Endpoint: model.EndpointRef{Host: ref.Host, Method: "GET", Path: path}}
			tr.Observe(ev)
			rw.observe(ev.Endpoint.Key()+"|"+ip, at, tr.cfg.BurstWindow)
		}
		if got := tr.Stats().Dropped["client_windows_evicted"]; got != int64(rw.evicted) {
			t.Fatalf("max %d: %d evictions, reference %d", max, got, rw.evicted)
		}
		// same windows, same state (recency order: internal/bounded's tests)
		var got, want []string
		var order []window
		tr.win.Each(func(_ uint64, w *window) { order = append(order, *w) })
		for _, w := range order {
			var epKey string
			for r, e := range tr.eps {
				if e == w.key.ep {
					epKey = r.Key()
				}
			}
			got = append(got, fmt.Sprintf("%s|%s %v %d %v", epKey, w.key.client, w.start, w.n, w.hit))
		}
		for el := rw.lru.Front(); el != nil; el = el.Next() {
			w := el.Value.(*refWindow)
			want = append(want, fmt.Sprintf("%s %v %d %v", w.key, w.start, w.n, w.hit))
		}
		sort.Strings(got)
		sort.Strings(want)
		if strings.Join(got, "\n") != strings.Join(want, "\n") || tr.win.Len() != len(rw.wins) {
			t.Fatalf("max %d: windows\n%s\nwant\n%s", max, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
}

// readRespHeaders gives the same result by iteration (small maps) and by
// lookups (large maps).
func TestReadRespHeadersBothWays(t *testing.T) {
	h := map[string]string{"server": "nginx/1.2", "x-powered-by": "PHP/8", "x-generator": "", "retry-after": "", "access-control-allow-origin": "*",
		"access-control-allow-credentials": "true", "x-content-type-options": "nosniff", "cache-control": "No-Store", "strict-transport-security": "max-age=1",
		"x-aspnet-version": "4.0", "content-type": "application/json", "x-request-id": "1", "etag": "x", "vary": "accept", "date": "today"}
	var iter respHeaders
	for k, v := range h {
		iter.set(k, v)
	}
	if len(h) <= len(respHeaderNames)/2 {
		t.Fatal("the map must be large enough to take the lookup path")
	}
	if got := readRespHeaders(h); got != iter {
		t.Errorf("lookups %+v, iteration %+v", got, iter)
	}
	for _, k := range []string{"x-ratelimit-remaining", "ratelimit"} {
		big := map[string]string{k: "1"}
		for i := 0; i < 20; i++ {
			big[fmt.Sprintf("x-h%d", i)] = "v"
		}
		if !readRespHeaders(big).rate || !readRespHeaders(map[string]string{k: "1"}).rate {
			t.Errorf("%s not seen", k)
		}
	}
}

// verboseRefAC is the Aho–Corasick library the matcher replaced, in the
// leftmost-longest mode verboseError was written for.
var verboseRefAC = func() ahocorasick.AhoCorasick {
	lits := make([]string, len(verbosePatterns))
	for i, p := range verbosePatterns {
		lits[i] = p.lit
	}
	b := ahocorasick.NewAhoCorasickBuilder(ahocorasick.Opts{MatchKind: ahocorasick.LeftMostLongestMatch, DFA: true})
	return b.Build(lits)
}()

// verboseErrorRef is the verbose-error scan without the presence check,
// on the library's automaton.
func verboseErrorRef(body string, status int) (kind, snippet string) {
	if len(body) > verboseScanBytes {
		body = body[:verboseScanBytes]
	}
	for _, m := range verboseRefAC.FindAll(body) {
		p := verbosePatterns[m.Pattern()]
		if !p.strong && status < 400 {
			continue
		}
		if p.verify != nil && !p.verify(body[m.End():]) {
			continue
		}
		a := m.Start() - 20
		if a < 0 {
			a = 0
		}
		for a > 0 && body[a]&0xC0 == 0x80 {
			a--
		}
		return p.kind, strings.Join(strings.Fields(clip(body[a:], 120)), " ")
	}
	return "", ""
}

func TestVerbosePresenceCheckChangesNothing(t *testing.T) {
	tr := NewTraffic(TrafficConfig{})
	rng := rand.New(rand.NewSource(5))
	var texts []string
	for _, p := range verbosePatterns {
		texts = append(texts, p.lit, "x "+p.lit+"42) y", `{"e":"`+p.lit+`12 +0x1f"}`, strings.ToLower(p.lit), p.lit[:len(p.lit)-1])
	}
	for i := 0; i < 2000; i++ {
		var b strings.Builder
		for n := rng.Intn(8); n > 0; n-- {
			if rng.Intn(3) == 0 {
				b.WriteString(verbosePatterns[rng.Intn(len(verbosePatterns))].lit)
			} else {
				b.WriteString([]string{" ", "1", "42", ":", ")", `"`, "{}", "at", "\n\t", "é"}[rng.Intn(10)])
			}
		}
		texts = append(texts, b.String())
	}
	for _, s := range texts {
		for _, st := range []int{200, 500} {
			k, sn := tr.verboseError(s, st)
			rk, rsn := verboseErrorRef(s, st)
			if k != rk || sn != rsn {
				t.Fatalf("%q (%d): %q %q, want %q %q", s, st, k, sn, rk, rsn)
			}
		}
	}
}

// presence.any is exact: it agrees with an automaton over the literals.
func verboseLits() []string {
	lits := make([]string, len(verbosePatterns))
	for i, p := range verbosePatterns {
		lits[i] = p.lit
	}
	return lits
}

func TestPresenceMatchesAutomaton(t *testing.T) {
	lits := verboseLits()
	p, m := newPresence(lits), ac.New(lits, false)
	rng := rand.New(rand.NewSource(9))
	texts := []string{"", "abc", "Exce", ".go:", "x.go:", "ORA-", "ORA-0", "ORA-01756: quoted string not properly terminated"}
	for _, l := range lits {
		texts = append(texts, l, "z"+l, l+"z", l[1:], l[:len(l)-1], "{\"message\":\""+l+"\"}", strings.ToUpper(l))
	}
	pieces := append([]string{" ", "a", "\"", ":", "{", "}", ",", "the ", "SQL", "java", ".", "at ", "\t", "é", "0x"}, lits...)
	for i := 0; i < 20000; i++ {
		var b strings.Builder
		for n := rng.Intn(12); n > 0; n-- {
			w := pieces[rng.Intn(len(pieces))]
			if len(w) > 4 && rng.Intn(2) == 0 {
				a := rng.Intn(len(w))
				w = w[a:]
			}
			b.WriteString(w)
		}
		texts = append(texts, b.String())
	}
	for _, s := range texts {
		if got, want := p.any(s), m.Any(s); got != want {
			t.Fatalf("%q: any %v, automaton %v", s, got, want)
		}
	}
}

func FuzzPresence(f *testing.F) {
	lits := verboseLits()
	p, m := newPresence(lits), ac.New(lits, false)
	f.Add("x You have an error in your SQL syntax")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := p.any(s), m.Any(s); got != want {
			t.Fatalf("%q: any %v, automaton %v", s, got, want)
		}
	})
}

// Runs of one JWT algorithm are counted before they reach the map: the
// counts and the maxKeys bound come out as if counted one by one.
func TestJWTAlgorithmCounts(t *testing.T) {
	tr := NewTraffic(TrafficConfig{})
	var algs []string
	for i := 0; i < 12; i++ {
		algs = append(algs, "RS256", "RS256", fmt.Sprintf("A%d", i), "RS256")
	}
	want := map[string]int64{}
	for _, a := range algs {
		want = addKey(want, a, 1)
	}
	for i, a := range algs {
		ev := &event.Event{Rec: &exchange.Record{Time: pt0}, Time: pt0.Add(time.Duration(i) * time.Second), Scheme: "https", Status: 200, Endpoint: ref}
		ev.Auth.Identity = &identity.Identity{Token: &identity.JWT{Alg: a, Exp: pt0.Add(time.Hour), Iat: pt0}}
		tr.Observe(ev)
	}
	tr.Findings(nil, pt0.Add(time.Hour), nil)
	if got := tr.eps[ref].jwtAlgs; fmt.Sprint(got) != fmt.Sprint(want) || len(got) != maxKeys {
		t.Errorf("algorithms %v, want %v", got, want)
	}
}
