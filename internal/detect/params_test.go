package detect

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/model"
)

// searches: 100 clients, GET /search?q=<words>&page=<n>&limit=20 and
// POST /users {"name","email","age"} for `hours`.
func searches(hours float64, seed uint64) []*event.Event {
	r := rand.New(rand.NewPCG(seed, 13))
	var evs []*event.Event
	words := []string{"red shoes", "laptop", "o'neil", "a&b", "42", "café", "x"}
	n := int(hours * 60 * 10)
	for i := 0; i < n; i++ {
		at := t0.Add(time.Duration(i) * 6 * time.Second)
		c := r.IntN(100)
		if i%5 == 0 {
			body := fmt.Sprintf(`{"name":"user%d","email":"u%d@example.com","age":%d}`, i, i, 20+r.IntN(50))
			evs = append(evs, mkEv(at, ip4(4000+c), "POST", "/users", "/users", 201, withBody("application/json", body)))
			continue
		}
		q := strings.ReplaceAll(words[r.IntN(len(words))], " ", "+")
		path := fmt.Sprintf("/search?q=%s&page=%d&limit=20", q, 1+r.IntN(9))
		evs = append(evs, mkEv(at, ip4(4000+c), "GET", "/search", path, 200))
	}
	return evs
}

type fakeSpecs map[string]model.SpecOp

func (f fakeSpecs) Operation(ref model.EndpointRef) (model.SpecOp, bool) {
	op, ok := f[ref.Method+" "+ref.Path]
	return op, ok
}

func TestParams(t *testing.T) {
	base := searches(3, 1)
	at := t0.Add(2*time.Hour + 30*time.Minute)
	one := func(path string, opts ...evOpt) []*event.Event {
		return []*event.Event{mkEv(at, "203.0.113.7", "GET", "/search", path, 200, opts...)}
	}
	cases := []struct {
		name    string
		cfg     Config
		evs     []*event.Event
		want    map[string]int
		changes int
		chk     func(t *testing.T, as []model.Alert)
	}{
		{"normal traffic", Config{}, base, map[string]int{}, 0, nil},
		{"one client sends an unknown parameter", Config{}, merge(base, one("/search?q=x&page=1&limit=20&debug=true")),
			map[string]int{"param.unseen": 1}, 0, func(t *testing.T, as []model.Alert) {
				a := as[0]
				if a.Client.IP != "203.0.113.7" || a.Evidence.Observed != "debug" || !a.FirstSeen.Equal(at) {
					t.Errorf("alert %+v", a)
				}
				if len(a.Evidence.Samples) != 1 || !strings.Contains(a.Evidence.Samples[0].URL, "debug=true") {
					t.Errorf("sample %+v", a.Evidence.Samples)
				}
			}},
		{"one client starts paging", Config{}, merge(base, one("/search?q=x&page=2&limit=20&offset=40&cursor=c2")), map[string]int{}, 0, nil},
		{"mass assignment in a JSON body", Config{}, merge(base, []*event.Event{mkEv(at, "203.0.113.7", "POST", "/users", "/users", 201,
			withBody("application/json", `{"name":"m","email":"m@example.com","age":30,"is_admin":true}`))}),
			map[string]int{"param.unseen": 1}, 0, func(t *testing.T, as []model.Alert) {
				if as[0].Evidence.Details["in"] != "body" || as[0].Evidence.Observed != "is_admin" {
					t.Errorf("evidence %+v", as[0].Evidence)
				}
			}},
		{"the population adopts a new parameter after a release", Config{}, func() []*event.Event {
			evs := searches(3, 2)
			for _, ev := range evs {
				if ev.Method == "GET" && ev.Time.After(t0.Add(2*time.Hour)) {
					ev.Query.Set("sort", "relevance")
				}
			}
			return evs
		}(), map[string]int{}, 1, nil},
		{"SQL in an integer parameter", Config{}, merge(base, one("/search?q=x&page=1'%20OR%20'1'='1&limit=20")),
			map[string]int{"param.anomalous_type": 1}, 0, func(t *testing.T, as []model.Alert) {
				if as[0].Evidence.Observed != "text" || as[0].Evidence.Details["parameter"] != "page" {
					t.Errorf("evidence %+v", as[0].Evidence)
				}
				if strings.Contains(as[0].Evidence.Samples[0].URL, "OR") {
					t.Errorf("sample not redacted: %s", as[0].Evidence.Samples[0].URL)
				}
			}},
		{"free text parameter takes anything", Config{}, merge(base, one("/search?q=%3Cb%3Ehello%20world%3C/b%3E&page=2&limit=20")),
			map[string]int{}, 0, nil},
		{"declared type is normal from the first request", Config{Specs: fakeSpecs{"GET /search": {Params: []model.SpecParam{
			{Name: "q", In: "query", Type: "string"}, {Name: "page", In: "query", Type: "integer"}, {Name: "limit", In: "query", Type: "integer"}}}}},
			[]*event.Event{
				mkEv(t0, "203.0.113.7", "GET", "/search", "/search?q=x&page=1&limit=20", 200),
				mkEv(t0.Add(time.Second), "203.0.113.7", "GET", "/search", "/search?q=x&page=abc&limit=20", 200),
			}, map[string]int{"param.anomalous_type": 1}, 0, func(t *testing.T, as []model.Alert) {
				if as[0].Evidence.Baseline != "declared integer" {
					t.Errorf("baseline %v", as[0].Evidence.Baseline)
				}
			}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := newParams(c.cfg)
			as := run(d, c.evs)
			got := map[string]int{}
			for _, a := range as {
				got[a.Type]++
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Fatalf("alerts %v, want %v\n%s", got, c.want, summary(as))
			}
			if ch := d.APIChanges(); len(ch) != c.changes {
				t.Fatalf("api changes %+v, want %d", ch, c.changes)
			} else if c.changes > 0 && (ch[0].Kind != "parameter_added" || !strings.Contains(ch[0].Detail, `"sort"`)) {
				t.Fatalf("api change %+v", ch[0])
			}
			if c.chk != nil {
				c.chk(t, as)
			}
		})
	}
}

func TestValueType(t *testing.T) {
	for v, want := range map[string]int{"": vtEmpty, "true": vtBool, "42": vtInt, "-7": vtInt, "3.14": vtNumber,
		"3f2b8a4e-1c2d-4e5f-8a9b-0c1d2e3f4a5b": vtUUID, "abc_DEF-1": vtToken, "red shoes": vtText, "1' OR '1'='1": vtText, "-": vtToken, ".": vtToken} {
		if got := valueType(v); got != want {
			t.Errorf("valueType(%q) = %s, want %s", v, vtNames[got], vtNames[want])
		}
	}
}

func TestJSONTopLevel(t *testing.T) {
	cases := []struct {
		body, want, err string
	}{
		{`{"a":1,"b":"x\u0041","c":{"d":[1,2]},"e":null,"f":true,"g":[]}`, "a=0:1 b=\":xA c={: e=n: f=t:true g=[:", ""},
		{`[1,2]`, "", "offset 0: not a JSON object"},
		{`{"a":1,`, "a=0:1", "json body: offset"},
		{`{"a":}`, "", "key \"a\""},
		{``, "", "json body: "},
	}
	for _, c := range cases {
		var got []string
		err := jsonTopLevel(c.body, func(k string, kind jsontext.Kind, v string) { got = append(got, fmt.Sprintf("%s=%c:%s", k, kind, v)) })
		if strings.Join(got, " ") != c.want {
			t.Errorf("%s: members %q want %q", c.body, strings.Join(got, " "), c.want)
		}
		if (err == nil) != (c.err == "") || err != nil && !strings.Contains(err.Error(), c.err) {
			t.Errorf("%s: err %v want %q", c.body, err, c.err)
		}
	}
}

func FuzzJSONTopLevel(f *testing.F) {
	for _, s := range []string{`{"a":1}`, `{"user":"x","password":"y"}`, `{"a":{"b":[1,{"c":2}]}}`, `[]`, `{`, `{"a":"\ud800"}`, `{"a":1}{"b":2}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		var keys []string
		err := jsonTopLevel(body, func(k string, _ jsontext.Kind, _ string) { keys = append(keys, k) })
		var m map[string]json.RawMessage
		if json.Unmarshal([]byte(body), &m) == nil && err == nil && len(keys) < len(m) {
			t.Fatalf("%q: %d keys, encoding/json sees %d", body, len(keys), len(m))
		}
	})
}

// TestMassAssignmentWhileLearning: before an endpoint has learned its
// parameters (200 requests, 1 h), an end user's write carrying an
// authorization attribute that the writes of at least five others never
// carried is a candidate as after the learning: reported when kept to
// one subject, an API change when the population adopts it. Other new
// fields, an administrator's write and a young endpoint's are learned.
func TestMassAssignmentWhileLearning(t *testing.T) {
	patch := func(at time.Time, who int, role, body string) *event.Event {
		return mkEv(at, ip4(4100+who), "PATCH", "/users/{id}", fmt.Sprintf("/users/%d", 500+who), 200,
			withBody("application/json", body), withID(fmt.Sprintf("u%d", who), role))
	}
	// Profile updates by customers: one every 6 minutes for 3 hours, by
	// `writers` distinct customers in turn.
	updates := func(writers int) []*event.Event {
		var evs []*event.Event
		for i := 0; i < 30; i++ {
			evs = append(evs, patch(t0.Add(time.Duration(i)*6*time.Minute), i%writers, "customer", `{"phone":"+44 20 7946 0000","address":"1 High St"}`))
		}
		return evs
	}
	attack := func(role, body string) []*event.Event {
		return []*event.Event{patch(t0.Add(50*time.Minute), 77, role, body), patch(t0.Add(51*time.Minute), 77, role, body)}
	}
	const privileged = `{"phone":"+44 20 7946 0001","role":"admin","is_admin":true}`
	adopted := attack("customer", `{"phone":"+44 20 7946 0001","role":"admin"}`)
	for who := 0; who < 6; who++ { // a release: every customer sends a role
		adopted = append(adopted, patch(t0.Add(time.Duration(52+who)*time.Minute), 200+who, "customer", `{"phone":"+44 20 7946 0002","role":"buyer"}`))
	}
	cases := []struct {
		name string
		evs  []*event.Event
		want int
	}{
		{"a customer sets its own role", merge(updates(6), attack("customer", privileged)), 1},
		{"a customer sends a new ordinary field", merge(updates(6), attack("customer", `{"phone":"+44 20 7946 0001","nickname":"x"}`)), 0},
		{"an administrator sets a role", merge(updates(6), attack("admin", privileged)), 0},
		{"fewer than five writers before", merge(updates(4), attack("customer", privileged)), 0},
		{"the population adopts the field", merge(updates(6), adopted), 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d := newParams(Config{})
			as := ofType(run(d, c.evs), "param.unseen")
			if len(as) != c.want {
				t.Fatalf("want %d, got\n%s", c.want, summary(as))
			}
			for _, a := range as {
				det := a.Evidence.Details
				if a.Client == nil || a.Client.IP != ip4(4177) || det["authorization_attribute"] != true || det["writers_before"] != 6.0 ||
					!a.FirstSeen.Equal(t0.Add(50*time.Minute)) || a.Count != 4 { // 2 requests × 2 new fields (role, is_admin)
					t.Fatalf("alert %s %v", summary([]model.Alert{a}), det)
				}
			}
			if strings.HasPrefix(c.name, "the population") && len(d.APIChanges()) == 0 {
				t.Errorf("no API change recorded for the adopted field")
			}
		})
	}
}
