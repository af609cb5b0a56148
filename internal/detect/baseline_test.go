package detect

import (
	"fmt"
	"math"
	"math/rand/v2"
	"net/netip"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/config"
	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/hashing"
	"github.com/palisade-sec/palisade/internal/identity"
	"github.com/palisade-sec/palisade/internal/model"
)

// Test helpers shared by the anomaly families' tests: synthetic events
// built directly (no enrichment), a runner, and alert filters.

var t0 = time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC)

type evOpt func(*event.Event)

// mkEv builds an event for "METHOD host template" with a concrete path.
func mkEv(at time.Time, ip, method, tmpl, path string, status int, opts ...evOpt) *event.Event {
	u, _ := url.Parse("https://api.example.com" + path)
	ev := &event.Event{
		Time: at, Method: method, Scheme: "https", Host: "api.example.com", Path: u.Path, URL: u, Query: u.Query(),
		ClientIP: netip.MustParseAddr(ip), PeerIP: netip.MustParseAddr(ip), External: true,
		Endpoint: model.EndpointRef{Host: "api.example.com", Method: method, Path: tmpl},
		Status:   status,
		Rec: &exchange.Record{Time: at, Client: exchange.Client{IP: ip},
			Request: exchange.Request{Method: method, URL: u.String(), Headers: map[string]string{}}, Response: exchange.Response{Status: status}},
	}
	if len(ev.Query) == 0 {
		ev.Query = nil
	}
	// Path params: segments of the template written {name}.
	ts, ps := strings.Split(tmpl, "/"), strings.Split(u.Path, "/")
	if len(ts) == len(ps) {
		for i, s := range ts {
			if strings.HasPrefix(s, "{") && strings.HasSuffix(s, "}") {
				ev.PathParams = append(ev.PathParams, event.PathParam{Name: s[1 : len(s)-1], Value: ps[i], Index: i})
			}
		}
	}
	for _, o := range opts {
		o(ev)
	}
	return ev
}

func withID(name string, roles ...string) evOpt {
	return func(ev *event.Event) {
		id := &identity.Identity{ID: "id_" + name, Kind: identity.KindJWT, Name: name, TokenID: "tok_" + name,
			Token: &identity.JWT{Sub: name, Roles: roles}}
		ev.Auth = identity.Auth{Identity: id, Schemes: []string{"bearer-jwt"}, Credentials: true}
	}
}

func withKey(name string) evOpt {
	return func(ev *event.Event) {
		id := &identity.Identity{ID: "id_" + name, Kind: identity.KindAPIKey, Name: name[:2] + "…", TokenID: "tok_" + name}
		ev.Auth = identity.Auth{Identity: id, Schemes: []string{"api-key:x-api-key"}, Credentials: true}
	}
}

func withSizes(req, resp int64) evOpt {
	return func(ev *event.Event) { ev.Rec.Request.Size, ev.Rec.Response.Size = req, resp }
}

func withDur(ms float64) evOpt { return func(ev *event.Event) { ev.Rec.DurationMs = ms } }

func withBody(ct, body string) evOpt {
	return func(ev *event.Event) {
		ev.Rec.Request.Body = body
		ev.Rec.Request.Size = int64(len(body))
		ev.Rec.Request.Headers["content-type"] = ct
	}
}

func withUA(ua string) evOpt { return func(ev *event.Event) { ev.UserAgent = ua } }

// run feeds events in order through one detector and finishes.
func run(d Detector, evs []*event.Event) []model.Alert {
	out := NewEmitter()
	var last time.Time
	for _, ev := range evs {
		d.Observe(ev, out)
		last = ev.Time
	}
	if f, ok := d.(Finisher); ok {
		f.Finish(last, out)
	}
	return out.Alerts()
}

func ofType(as []model.Alert, typ string) []model.Alert {
	var out []model.Alert
	for _, a := range as {
		if a.Type == typ {
			out = append(out, a)
		}
	}
	return out
}

func summary(as []model.Alert) string {
	var b strings.Builder
	for _, a := range as {
		fmt.Fprintf(&b, "%s client=%v id=%v ep=%v count=%d obs=%v thr=%v base=%v\n", a.Type, a.Client, a.Identity, a.Endpoint, a.Count, a.Evidence.Observed, a.Evidence.Threshold, a.Evidence.Baseline)
	}
	return b.String()
}

// ip4 returns a distinct public IPv4 address per n.
func ip4(n int) string { return fmt.Sprintf("%d.%d.%d.%d", 20+n>>24&63, n>>16&255, n>>8&255, n&255) }

func TestLRUEvictsLeastRecentlyUsed(t *testing.T) {
	l := newLRU[int](3)
	var evicted []uint64
	l.OnEvict = func(k uint64, v *int) { evicted = append(evicted, k) }
	for i := uint64(1); i <= 3; i++ {
		v, created := l.GetOrAdd(i)
		if !created {
			t.Fatalf("key %d: want created", i)
		}
		*v = int(i) * 10
	}
	if v, ok := l.Get(1); !ok || *v != 10 { // 1 becomes most recent
		t.Fatalf("get(1) = %v, %v", v, ok)
	}
	v, _ := l.GetOrAdd(4) // evicts 2
	if *v != 0 {
		t.Fatalf("reused value not reset: %d", *v)
	}
	if _, ok := l.Peek(2); ok || len(evicted) != 1 || evicted[0] != 2 {
		t.Fatalf("want 2 evicted, got %v", evicted)
	}
	if l.Len() != 3 || l.Evicted() != 1 {
		t.Fatalf("len=%d evicted=%d", l.Len(), l.Evicted())
	}
	var keys []uint64
	l.Each(func(k uint64, _ *int) { keys = append(keys, k) })
	if fmt.Sprint(keys) != "[1 4 3]" {
		t.Fatalf("slot order %v", keys)
	}
}

func TestLinCounterEstimates(t *testing.T) {
	for _, n := range []int{0, 1, 10, 100, 500, 1000, 1500} {
		var c linCounter
		for i := 0; i < n; i++ {
			c.add(hashing.String(fmt.Sprint("v", i)))
			c.add(hashing.String(fmt.Sprint("v", i))) // duplicates do not count
		}
		got := c.estimate()
		if math.Abs(got-float64(n)) > 0.06*float64(n)+1 {
			t.Errorf("n=%d: estimate %v", n, got)
		}
	}
	var s lin256
	for i := 0; i < 50; i++ {
		s.add(hashing.String(fmt.Sprint(i)))
	}
	if e := s.estimate(); math.Abs(e-50) > 5 {
		t.Errorf("lin256 estimate %v for 50", e)
	}
}

func TestEWStat(t *testing.T) {
	var s ewstat
	for i := 0; i < 200; i++ {
		s.update(float64(10+i%3), 0.1) // 10, 11, 12
	}
	if math.Abs(s.mean-11) > 0.5 || s.sd() < 0.5 || s.sd() > 1.2 {
		t.Fatalf("mean %v sd %v", s.mean, s.sd())
	}
	if u := s.upper(6, 4); u != s.mean*4 {
		t.Fatalf("upper should be ratio-bound: %v", u)
	}
}

func TestQuantilesAndDistinct(t *testing.T) {
	var q quantiles
	if q.at(0.99) != 0 || q.count() != 0 {
		t.Fatal("empty sketch")
	}
	for i := 1; i <= 1000; i++ {
		q.add(float64(i))
	}
	q.add(-1) // ignored
	q.add(math.NaN())
	if p := q.at(0.99); math.Abs(p-990) > 15 {
		t.Fatalf("p99 = %v", p)
	}
	var d distinct
	for i := 0; i < 5000; i++ {
		d.add(hashing.String(fmt.Sprint(i % 2500)))
	}
	if e := d.estimate(); math.Abs(e-2500) > 60 {
		t.Fatalf("hll estimate %v", e)
	}
}

func TestRedactedURL(t *testing.T) {
	cases := []struct{ tmpl, path, want string }{
		{"/users/{id}", "/users/12345?token=abcd&page=2&q=alice", "https://api.example.com/users/12345?page=2&q=*&token=REDACTED"},
		{"/users/{email}/orders", "/users/alice@example.com/orders", "https://api.example.com/users/{email}/orders"},
		{"/doc/{id}", "/doc/3f2b8a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b?api_key=s3cr3t", "https://api.example.com/doc/3f2b8a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b?api_key=REDACTED"},
	}
	for _, c := range cases {
		got := redactedURL(mkEv(t0, "1.2.3.4", "GET", c.tmpl, c.path, 200))
		if got != c.want {
			t.Errorf("%s: got %s want %s", c.path, got, c.want)
		}
	}
}

// optsYAML decodes a detect.options section the way the configuration
// file is read.
func optsYAML(t testing.TB, doc string) Options {
	t.Helper()
	var o Options
	l := &config.Loader{}
	if err := l.Decode(config.Doc{Name: "options.yaml", Data: []byte(doc)}, &o); err != nil {
		t.Fatal(err)
	}
	if err := l.Validate(o); err != nil {
		t.Fatal(err)
	}
	return o
}

// Family options are typed: decoded strictly (unknown family or key, wrong
// type: errors with the line), validated (negative numbers, durations that
// are not positive, fractions above 1), defaults kept for keys not given.
func TestOptionErrors(t *testing.T) {
	for doc, want := range map[string]string{
		"traffic:\n  bogus: 1\n":             `options.yaml:2:3: traffic.bogus: unknown key "bogus"`,
		"traffic:\n  k: x\n":                 "options.yaml:2:6: traffic.k: wrong type: got a string, want a number",
		"trafic:\n  k: 1\n":                  `options.yaml:1:1: trafic: no detector family "trafic" has options`,
		"traffic:\n  window: 10x\n":          `options.yaml:2:11: traffic.window: bad duration "10x"`,
		"injection:\n  ignore_fields: sql\n": "options.yaml:2:18: injection.ignore_fields: string was used where sequence is expected",
	} {
		var o Options
		err := (&config.Loader{}).Decode(config.Doc{Name: "options.yaml", Data: []byte(doc)}, &o)
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Errorf("%q: %v, want %q", doc, err, want)
		}
	}
	var o Options
	l := &config.Loader{}
	if err := l.Decode(config.Doc{Name: "o.yaml", Data: []byte("traffic:\n  alpha: -1\n  window: 0s\n  group_now: 1\nlatency:\n  quantile: 1.5\nauthabuse:\n  graphql_batch: 1\n")}, &o); err != nil {
		t.Fatal(err)
	}
	got := fmt.Sprint(l.Validate(o))
	for _, want := range []string{"o.yaml:2:3: traffic.alpha: must not be negative", "o.yaml:3:3: traffic.window: must be positive", "o.yaml:4:3: traffic.group_now: must be at least 2", "o.yaml:6:3: latency.quantile: must be at most 1", "o.yaml:8:3: authabuse.graphql_batch: must be at least 2"} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %q in:\n%s", want, got)
		}
	}
	cfg := Config{Options: optsYAML(t, "traffic:\n  window: 10m\n  k: '7'\n")}
	if d := newTraffic(cfg); d.win != 10*time.Minute || d.k != 7 || d.ratio != 4 {
		t.Errorf("options not applied with defaults kept: win=%v k=%v ratio=%v", d.win, d.k, d.ratio)
	}
	// Every family's options: defaults valid, every key documented.
	for _, f := range OptionFamilies() {
		d, _ := DefaultOptions(f)
		if err := (&config.Loader{}).Validate(d); err != nil {
			t.Errorf("%s: defaults invalid: %v", f, err)
		}
	}
	for _, k := range (Options{}).DescribeKeys() {
		if k.Doc == "" || k.Type == "" {
			t.Errorf("option %s: no meaning or type documented", k.Key)
		}
	}
}

func TestWinLabel(t *testing.T) {
	for d, want := range map[time.Duration]string{20 * time.Minute: "20m", 6 * time.Hour: "6h", 90 * time.Minute: "1h30m", 30 * time.Second: "30s"} {
		if got := winLabel(d); got != want {
			t.Errorf("%v: %q", d, got)
		}
	}
}

func FuzzRedactedURL(f *testing.F) {
	f.Add("/users/{id}", "/users/42", "token", "s3cr3t-value")
	f.Add("/a/{x}/b", "/a/%zz/b", "q", "hello world")
	f.Add("/", "/", "", "")
	f.Fuzz(func(t *testing.T, tmpl, path, key, val string) {
		u, err := url.Parse("https://api.example.com" + path)
		if err != nil || len(key) == 0 {
			return
		}
		ev := mkEv(t0, "1.2.3.4", "GET", tmpl, "/", 200)
		ev.Path = u.Path
		ev.Query = url.Values{key: {val}}
		for i, s := range strings.Split(u.Path, "/") {
			ev.PathParams = append(ev.PathParams, event.PathParam{Name: "p", Value: s, Index: i})
		}
		got := redactedURL(ev)
		if sensitiveParam(key) && len(val) > 3 && strings.Contains(got, "="+val) {
			t.Fatalf("secret query value kept: %s", got)
		}
		if !strings.HasPrefix(got, "https://api.example.com") {
			t.Fatalf("bad URL %q", got)
		}
	})
}

// TestRecentHashesKeepSketch: skipping repeats with recentHashes gives the
// estimates of a sketch fed every value, at every step, through the
// sparse-to-dense transition.
func TestRecentHashesKeepSketch(t *testing.T) {
	r := rand.New(rand.NewPCG(2, 3))
	var all, filtered distinct
	var rec recentHashes
	for i := 0; i < 120000; i++ {
		v := r.IntN(1 + i/4) // many repeats, a population growing past the sparse limit
		h := hashing.String(fmt.Sprint("id", v))
		all.add(h)
		if !rec.seen(h) {
			filtered.add(h)
		}
		if i%499 == 0 || i > 119950 {
			if a, f := all.estimate(), filtered.estimate(); a != f {
				t.Fatalf("step %d: estimate %v with every value, %v with repeats skipped", i, a, f)
			}
		}
	}
}
