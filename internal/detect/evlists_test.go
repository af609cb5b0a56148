package detect

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/DataDog/sketches-go/ddsketch"

	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/identity"
)

// FuzzLowerASCII: lowerASCII is strings.ToLower.
func FuzzLowerASCII(f *testing.F) {
	for _, s := range []string{"", "x-api-key", "Content-Type", "X-REQUEST-ID", "user-agent", "ÄÖü-header", "abcdefgZ", "abcdefghijklmnoZ", "@[`{", "\x80abcdefg", "abcdefgh\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := lowerASCII(s), strings.ToLower(s); got != want {
			t.Fatalf("lowerASCII(%q) = %q, want %q", s, got, want)
		}
	})
}

func TestLowerASCIIBytes(t *testing.T) {
	// every byte value at every position of an 8-byte word and of the tail
	for c := 0; c < 256; c++ {
		for pos := 0; pos < 11; pos++ {
			b := []byte("abcdefghijk")
			b[pos] = byte(c)
			s := string(b)
			if got, want := lowerASCII(s), strings.ToLower(s); got != want {
				t.Fatalf("lowerASCII(%q) = %q, want %q", s, got, want)
			}
		}
	}
}

// refHeaderParts is the header walk the part walker made before the
// shared header list: names sorted, lower-cased, skipped headers left out,
// the value looked up by the original name.
func refHeaderParts(h map[string]string) []Part {
	var names []string
	for k := range h {
		names = append(names, k)
	}
	sort.Strings(names)
	var out []Part
	for _, k := range names {
		lk := strings.ToLower(k)
		if skipHeader(lk) || h[k] == "" {
			continue
		}
		kind := PartHeader
		if lk == "user-agent" {
			kind = PartUserAgent
		}
		out = append(out, Part{Kind: kind, Name: lk, Value: h[k]})
	}
	return out
}

var headerNames = []string{"accept", "user-agent", "User-Agent", "x-request-id", "x-api-key", "X-Api-Key", "authorization",
	"content-type", "Content-Type", "cookie", "x-custom", "X-Custom-Thing", "sec-fetch-mode", "referer", "origin", "x-b3-traceid",
	"x-datadog-trace-id", "host", "dnt", "x-forwarded-for", "Ünïcode-Header", "x-a", "x-b", "x-c", "x-d", "x-e", "x-f", "x-g",
	"x-h", "x-i", "x-j", "x-k", "x-l", "x-m", "x-n", "x-o", "x-p", "x-q"}

func randomHeaders(r *rand.Rand) map[string]string {
	h := map[string]string{}
	n := r.IntN(len(headerNames))
	for i := 0; i < n; i++ {
		k := headerNames[r.IntN(len(headerNames))]
		h[k] = []string{"v", "", "text/plain", "a=1; b=2", "' or 1=1--", "http://169.254.169.254/"}[r.IntN(6)]
	}
	return h
}

// The header parts of a request walk (with the engine's shared list and
// without) are those of the reference walk, as are the cookie and the
// content type it reads.
func TestHeaderPartsMatchReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 3000; i++ {
		h := randomHeaders(r)
		ev := &event.Event{Path: "/a", Rec: &exchange.Record{Request: exchange.Request{Headers: h, Body: "q=1&x=y"}}}
		want := refHeaderParts(h)
		if c := h["cookie"]; c != "" {
			for rest := c; rest != ""; {
				var kv string
				kv, rest, _ = strings.Cut(rest, ";")
				k, v, _ := strings.Cut(strings.TrimSpace(kv), "=")
				if v != "" {
					want = append(want, Part{Kind: PartCookie, Name: k, Value: v})
				}
			}
		}
		for _, engine := range []bool{false, true} {
			var got []Part
			collect := sinkFunc(func(p Part) bool {
				if p.Kind == PartHeader || p.Kind == PartUserAgent || p.Kind == PartCookie {
					got = append(got, Part{Kind: p.Kind, Name: p.Name, Value: p.Value})
				}
				if p.Kind == PartForm || p.Kind == PartBody {
					got = append(got, Part{Kind: p.Kind, Name: p.Name, Value: p.Value})
				}
				return true
			})
			var keys *evKeys
			if engine {
				keys = &evKeys{ev: ev}
			}
			requestPartsTo(ev, PartLimits{}, nil, collect, keys)
			w := slices.Clone(want)
			// the body is read with the request's content type
			ct := h["content-type"]
			switch {
			case strings.Contains(strings.ToLower(ct), "x-www-form-urlencoded"):
				w = append(w, Part{Kind: PartForm, Name: "q", Value: "1"}, Part{Kind: PartForm, Name: "x", Value: "y"})
			case strings.Contains(strings.ToLower(ct), "json"), strings.Contains(strings.ToLower(ct), "xml"), strings.HasPrefix(strings.ToLower(ct), "multipart/"):
				got = slices.DeleteFunc(got, func(p Part) bool { return p.Kind == PartForm || p.Kind == PartBody })
			case documentMedia(strings.ToLower(ct)) == 'd':
				// a text document: the text, no pairs
				w = append(w, Part{Kind: PartBody, Value: "q=1&x=y"})
			default:
				// a body of no structured type: the text, and its pairs
				w = append(w, Part{Kind: PartBody, Value: "q=1&x=y"}, Part{Kind: PartForm, Name: "q", Value: "1"}, Part{Kind: PartForm, Name: "x", Value: "y"})
			}
			if !slices.Equal(got, w) {
				t.Fatalf("engine=%v headers %v:\n got %v\nwant %v", engine, h, got, w)
			}
		}
	}
}

type sinkFunc func(Part) bool

func (f sinkFunc) part(p Part) bool { return f(p) }

// The shared lists are the maps' entries sorted by name, built once per
// event, and rebuilt for the next event.
func TestEventLists(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	keys := &evKeys{}
	for i := 0; i < 2000; i++ {
		h := randomHeaders(r)
		q := url.Values{}
		for j := r.IntN(20); j > 0; j-- {
			q.Add(headerNames[r.IntN(len(headerNames))], "v")
		}
		ev := &event.Event{Query: q, Rec: &exchange.Record{Request: exchange.Request{Headers: h}}}
		*keys = evKeys{ev: ev, bufs: keys.bufs}
		var names []string
		for k := range h {
			names = append(names, k)
		}
		sort.Strings(names)
		var own []reqHeader
		for _, k := range []*evKeys{keys, keys, nil} {
			got := k.headers(ev, &own)
			if len(got) != len(names) {
				t.Fatalf("%d headers, want %d", len(got), len(names))
			}
			for j, hh := range got {
				if hh.name != names[j] || hh.value != h[names[j]] || hh.lower != strings.ToLower(names[j]) {
					t.Fatalf("header %d = %+v, want %q", j, hh, names[j])
				}
			}
		}
		var qnames []string
		for k := range q {
			qnames = append(qnames, k)
		}
		sort.Strings(qnames)
		var ownQ []queryParam
		for _, k := range []*evKeys{keys, keys, nil} {
			got := k.query(ev, &ownQ)
			if len(got) != len(qnames) {
				t.Fatalf("%d query parameters, want %d", len(got), len(qnames))
			}
			for j, p := range got {
				if p.name != qnames[j] || !slices.Equal(p.vals, q[qnames[j]]) {
					t.Fatalf("query %d = %+v, want %q", j, p, qnames[j])
				}
			}
		}
	}
}

// hasUser (bloom filter in front of the set) answers as users.has, also
// once the set is full.
func FuzzBFLAHasUser(f *testing.F) {
	f.Add(uint64(1), 10, 200)
	f.Add(uint64(7), 100, 1000)
	f.Fuzz(func(t *testing.T, seed uint64, n, probes int) {
		if n < 0 || n > 500 || probes < 0 || probes > 2000 {
			return
		}
		r := rand.New(rand.NewPCG(seed, 9))
		var e bflaEndpoint
		var added []uint64
		for i := 0; i < n; i++ {
			h := r.Uint64()
			if r.IntN(3) == 0 && len(added) > 0 {
				h = added[r.IntN(len(added))]
			}
			var ref smallSet = e.users
			ref.vals = slices.Clone(e.users.vals)
			isUser := e.hasUser(h)
			if isUser != ref.has(h) {
				t.Fatalf("hasUser(%x) = %v, has = %v", h, isUser, !isUser)
			}
			d := &bflaDetector{}
			d.learnUse(&e, h, 1, isUser)
			ref.add(h)
			if !slices.Equal(ref.inl[:ref.ninl], e.users.inl[:e.users.ninl]) || !slices.Equal(ref.vals, e.users.vals) || ref.overflow != e.users.overflow {
				t.Fatalf("learnUse differs from add")
			}
			added = append(added, h)
		}
		for i := 0; i < probes; i++ {
			h := r.Uint64()
			if i%2 == 0 && len(added) > 0 {
				h = added[r.IntN(len(added))]
			}
			if e.hasUser(h) != e.users.has(h) {
				t.Fatalf("hasUser(%x) != has", h)
			}
		}
	})
}

// fmax and fmin are math.Max and math.Min, bit for bit.
func FuzzFMaxFMin(f *testing.F) {
	specials := []float64{0, math.Copysign(0, -1), 1, -1, math.Inf(1), math.Inf(-1), math.NaN(), math.MaxFloat64, math.SmallestNonzeroFloat64}
	for _, x := range specials {
		for _, y := range specials {
			f.Add(x, y)
		}
	}
	f.Fuzz(func(t *testing.T, x, y float64) {
		if a, b := fmax(x, y), math.Max(x, y); math.Float64bits(a) != math.Float64bits(b) && !(math.IsNaN(a) && math.IsNaN(b)) {
			t.Fatalf("fmax(%v, %v) = %v, math.Max = %v", x, y, a, b)
		}
		if a, b := fmin(x, y), math.Min(x, y); math.Float64bits(a) != math.Float64bits(b) && !(math.IsNaN(a) && math.IsNaN(b)) {
			t.Fatalf("fmin(%v, %v) = %v, math.Min = %v", x, y, a, b)
		}
	})
}

// bfla: the group memoized by role-set hash is the group groupOf names
// (first-seen order of the group names), for role sets whose names
// collide ("a,b" vs "a", "b") too, and across the memo's reset.
func TestBFLAGroupMemo(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	roles := []string{"admin", "user", "a,b", "a", "b", "nurse", "doctor", "read", "write", "x"}
	kinds := []string{"jwt", "api_key", "basic", "session"}
	for _, limit := range []int{0, 3} {
		memo := newBFLA(Config{})
		ref := newBFLA(Config{})
		for i := 0; i < 20000; i++ {
			tok := &identity.JWT{}
			for j := r.IntN(4); j > 0; j-- {
				tok.Roles = append(tok.Roles, roles[r.IntN(len(roles))])
			}
			for j := r.IntN(3); j > 0; j-- {
				tok.Scopes = append(tok.Scopes, roles[r.IntN(len(roles))])
			}
			id := &identity.Identity{ID: fmt.Sprint("p", i), Kind: kinds[r.IntN(len(kinds))], Token: tok}
			if r.IntN(5) == 0 {
				id.Token = nil
			}
			ev := &event.Event{Auth: identity.Auth{Identity: id}}
			memo.begin(ev)
			got := memo.group(ev, uint64(i+1), 1)
			if want := ref.groupOf(ev); got != want {
				t.Fatalf("event %d: group %d, want %d", i, got, want)
			}
			if limit > 0 && len(memo.byRole) > limit {
				clear(memo.byRole)
			}
		}
	}
}

// needsInspectionNoSlash (byte table) is needsInspection of the path with
// its slashes removed.
func FuzzNeedsInspectionNoSlash(f *testing.F) {
	for _, s := range []string{"/v1/users/42", "/a/../b", "/a/./b", "/a./.b", "/a.b", "/%2e%2e/", "/x y", "/é", "/a_b-c/", "", "/", "..", "./"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := needsInspectionNoSlash(s), needsInspection(strings.ReplaceAll(s, "/", "")); got != want {
			t.Fatalf("needsInspectionNoSlash(%q) = %v, want %v", s, got, want)
		}
	})
}

// headerLess (prefix first) orders names as string comparison does.
func FuzzHeaderLess(f *testing.F) {
	for _, p := range [][2]string{{"accept", "accept-encoding"}, {"a\x00", "a"}, {"x-request-id", "x-request-ie"}, {"", "\x00"}, {"abcdefgh", "abcdefg"}, {"abcdefgh1", "abcdefgh0"}} {
		f.Add(p[0], p[1])
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		x, y := reqHeader{name: a, pfx: namePrefix(a)}, reqHeader{name: b, pfx: namePrefix(b)}
		if got, want := headerLess(&x, &y), a < b; got != want {
			t.Fatalf("headerLess(%q, %q) = %v, want %v", a, b, got, want)
		}
	})
}

// base64Text (with its cache of rejected values) answers as
// DecodeBase64Text, for repeated values and hash-slot collisions alike.
func FuzzBase64TextCache(f *testing.F) {
	f.Add("c2VsZWN0ICogZnJvbSB1c2Vycw==", "sk_live_4eC39HqLyjWDarjtT1zdp7dc", uint8(5))
	f.Add("dGVzdCB0ZXh0IGhlcmU=", "0123456789abcdef", uint8(9))
	f.Fuzz(func(t *testing.T, a, b string, n uint8) {
		var s requestScanner
		r := rand.New(rand.NewPCG(uint64(n), 1))
		vals := []string{a, b, a + "=", b[:len(b)/2], "YWRtaW4nLS0gLQ==", "00000000-0000-4000-8000-000000000000"}
		for i := 0; i < 200+int(n); i++ {
			v := vals[r.IntN(len(vals))]
			if r.IntN(4) == 0 {
				v = fmt.Sprint(v, r.IntN(1000)) // fill other slots
			}
			gt, gok := s.base64Text(v)
			wt, wok := DecodeBase64Text(v)
			if gt != wt || gok != wok {
				t.Fatalf("base64Text(%q) = %q, %v; DecodeBase64Text = %q, %v", v, gt, gok, wt, wok)
			}
		}
	})
}

// quantiles (shared mapping, values added to the positive store directly)
// holds the sketch ddsketch.LogCollapsingLowestDenseDDSketch(0.01, …) with
// Add holds: same bins, counts and quantiles, through bin collapsing too.
func FuzzQuantilesMatchDDSketch(f *testing.F) {
	f.Add(uint64(1), uint16(300), 3.0)
	f.Add(uint64(2), uint16(3000), 12.0) // values spread past 512 bins: collapsing
	f.Fuzz(func(t *testing.T, seed uint64, n uint16, spread float64) {
		if math.IsNaN(spread) || spread < 0 || spread > 40 {
			return
		}
		r := rand.New(rand.NewPCG(seed, 7))
		ref, err := ddsketch.LogCollapsingLowestDenseDDSketch(0.01, quantileBins)
		if err != nil {
			t.Fatal(err)
		}
		var refN float64
		var q quantiles
		specials := []float64{0, 1e-300, math.SmallestNonzeroFloat64, 5e-324, 1e300, math.MaxFloat64, 1, qMinIndexable, qMaxIndexable}
		for i := 0; i < int(n); i++ {
			v := math.Exp(r.NormFloat64() * spread)
			switch r.IntN(20) {
			case 0:
				v = specials[r.IntN(len(specials))]
			case 1:
				v = math.Round(v) // repeats, zeros
			}
			q.add(v)
			if ref.Add(v) == nil {
				refN++
			}
			if i%97 == 0 || i == int(n)-1 {
				compareSketch(t, &q, ref, refN)
			}
		}
	})
}

func compareSketch(t *testing.T, q *quantiles, ref *ddsketch.DDSketch, refN float64) {
	t.Helper()
	if q.count() != refN || q.sk.GetCount() != ref.GetCount() || q.sk.GetZeroCount() != ref.GetZeroCount() {
		t.Fatalf("counts %v/%v/%v, want %v/%v/%v", q.count(), q.sk.GetCount(), q.sk.GetZeroCount(), refN, ref.GetCount(), ref.GetZeroCount())
	}
	type bin struct {
		i int
		c float64
	}
	var a, b []bin
	q.sk.GetPositiveValueStore().ForEach(func(i int, c float64) bool { a = append(a, bin{i, c}); return false })
	ref.GetPositiveValueStore().ForEach(func(i int, c float64) bool { b = append(b, bin{i, c}); return false })
	if !slices.Equal(a, b) {
		t.Fatalf("bins differ:\n%v\n%v", a, b)
	}
	if ref.GetCount() == 0 {
		return
	}
	for _, p := range []float64{0, 0.1, 0.5, 0.9, 0.99, 0.999, 1} {
		x, err1 := q.sk.GetValueAtQuantile(p)
		y, err2 := ref.GetValueAtQuantile(p)
		if x != y || (err1 == nil) != (err2 == nil) {
			t.Fatalf("p%v: %v, want %v", p, x, y)
		}
	}
}
