package detect

import (
	"fmt"
	"github.com/palisade-sec/palisade/internal/model"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/event"
)

// profileEvent puts v in the query parameter name of GET /v1/items at t.
func profileEvent(t *testing.T, name, v string, at time.Time) *event.Event {
	ev := sigEvent(t, "GET", "https://api.example.test/v1/items?"+name+"="+url.QueryEscape(v), nil, "", 200)
	ev.Time = at
	return ev
}

func classes(fs []InjFinding) string {
	var s []string
	for _, f := range fs {
		s = append(s, f.Class.String())
	}
	return strings.Join(s, ",")
}

// TestInjectionProfile: values CRS rules alone flag are reported cold and
// suppressed once the parameter's learned profile shows they fit; typed
// parameters make a single paranoia-level-2 rule count; structural matches
// (the floor) are reported whatever was learned; reported values are not
// learned as normal.
func TestInjectionProfile(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name, param string
		learn       []string
		value       string
		cold, warm  string // classes reported cold / after learning
	}{
		{"car model names", "model", []string{"rx 350 lexus", "a4 avant audi", "gs 300 lexus", "x5 40i bmw", "es 250 lexus", "c 200 mercedes", "is 300 lexus", "golf 8 gti vw"}, "ls 300 lexus", "cmd", ""},
		{"price templates", "tpl", []string{"Total: ${total} for ${count}", "Hello ${name}", "Due ${date} (${days} left)", "Ref ${ref}", "${qty} × ${item}"}, "Price: ${price} per ${unit}", "", ""}, // placeholders alone: not a command cold either (varPlaceholders)
		{"structural floor", "model", []string{"rx 350 lexus", "a4 avant audi", "gs 300 lexus"}, "x; cat /etc/passwd", "cmd,path_traversal", "cmd,path_traversal"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := classes(coldInjection().Inspect(profileEvent(t, tc.param, tc.value, t0))); got != tc.cold {
				t.Errorf("cold: %q reported %q, want %q", tc.value, got, tc.cold)
			}
			d := NewInjection(Config{})
			for i := 0; i < 60; i++ { // 60 values over an hour: learning then trained
				v := tc.learn[i%len(tc.learn)]
				// values CRS flags are reported until min_support values were learned
				if fs := d.Inspect(profileEvent(t, tc.param, v, t0.Add(time.Duration(i)*time.Minute))); len(fs) > 0 && i >= 20 {
					t.Fatalf("value %d %q reported after learning: %+v", i, v, fs)
				}
			}
			if got := classes(d.Inspect(profileEvent(t, tc.param, tc.value, t0.Add(2*time.Hour)))); got != tc.warm {
				t.Errorf("after learning: %q reported %q, want %q", tc.value, got, tc.warm)
			}
		})
	}
	// A typed parameter: one level-2 rule is enough in a value of another
	// type; the same value in free text is not reported.
	d := NewInjection(Config{})
	for i := 0; i < 150; i++ {
		at := t0.Add(time.Duration(i) * time.Minute)
		d.Inspect(profileEvent(t, "id", fmt.Sprint(1000+i*7), at))
		d.Inspect(profileEvent(t, "note", fmt.Sprintf("order %d arrived, thanks a lot", i), at))
	}
	if d.Suppressed != 0 {
		t.Fatalf("suppressed %d findings while learning benign values", d.Suppressed)
	}
	late := t0.Add(4 * time.Hour)
	fragment := "1042 rlike 1"
	cold := classes(coldInjection().Inspect(profileEvent(t, "id", fragment, late)))
	fs := d.Inspect(profileEvent(t, "id", fragment, late))
	if classes(fs) != "sqli" || !strings.Contains(fs[0].Reason, "learned values were integer") {
		t.Errorf("fragment %q in a trained integer parameter: %+v (cold: %q)", fragment, fs, cold)
	}
	// Cold, one level-2 rule on SQL vocabulary ("rlike") reports with the
	// lone confidence; so it does in a free-text parameter of fewer than
	// depart_min values (TestInjectionSensitivity: dropped where it fits a
	// parameter trained on more).
	if cf := coldInjection().Inspect(profileEvent(t, "note", fragment, late)); classes(cf) != "sqli" || cf[0].Confidence != loneConfidence {
		t.Errorf("fragment %q cold: %+v, want sqli at %.2f", fragment, cf, loneConfidence)
	}
	if got := classes(d.Inspect(profileEvent(t, "note", fragment, late))); got != cold {
		t.Errorf("fragment %q in a free-text parameter: %q, want the cold verdict %q", fragment, got, cold)
	}
	// Reported values are not learned: the fragment keeps being reported.
	for i := 0; i < 5; i++ {
		if got := classes(d.Inspect(profileEvent(t, "id", fragment, late.Add(time.Duration(i)*time.Second)))); got != "sqli" {
			t.Fatalf("repeat %d of %q: %q", i, fragment, got)
		}
	}
}

func TestParamProfileRules(t *testing.T) {
	var p paramProfile
	o := partObs{f: bSpace, ascii: true, typ: vtText, n: 10, rules: [4]uint32{942200}, nr: 1}
	for i := 0; i < 100; i++ {
		p.learn(&o, 0)
	}
	if !p.rulesRoutine([]int{942200}, 0.001, 3) || p.rulesRoutine([]int{942200, 941100}, 0.001, 3) {
		t.Error("rulesRoutine")
	}
	// space-saving keeps the frequent rule when many rare ones pass
	for i := 0; i < 50; i++ {
		p.learnRule(uint32(900000 + i))
	}
	if p.ruleCount(942200) != 100 {
		t.Errorf("frequent rule lost: %d", p.ruleCount(942200))
	}
	// halving at the cap keeps proportions
	p.n = profileCap
	p.learn(&o, 0)
	if p.n != profileCap/2+1 || p.classes[17] == 0 {
		t.Errorf("after the cap: n %d", p.n)
	}
}

func TestBenignMarkup(t *testing.T) {
	for in, want := range map[string]bool{
		`<p>Hand-finished <b>oak</b> &amp; care.</p><ul><li>Width</li></ul>`: true,
		`see <a href="https://docs.example.com/x" class="l">docs</a>`:        true,
		`I <3 this, a < b`:                               false, // no tag at all
		`<img src=x onerror=alert(1)>`:                   false,
		`<a href="javascript:alert(1)">x</a>`:            false,
		`<a href="x" onclick="go()">x</a>`:               false,
		`<p style="background:url(javascript:x)">`:       false,
		`<script>alert(1)</script>`:                      false,
		`<b>unterminated`:                                true,
		`<b`:                                             false,
		`<svg/onload=alert(1)>`:                          false,
		`<a href='/x'>x</a><iframe src=//evil></iframe>`: false,
	} {
		if _, got := benignMarkup(in); got != want {
			t.Errorf("benignMarkup(%q) = %v, want %v", in, got, want)
		}
	}
}

func FuzzBenignMarkup(f *testing.F) {
	f.Add(`<p>a <b class="x">b</b></p>`)
	f.Add(`<a href="javascript:x">`)
	f.Fuzz(func(t *testing.T, s string) {
		stripped, ok := benignMarkup(s)
		if !ok {
			return
		}
		// harmless markup never hides what the XSS matcher calls dangerous
		if m, found := matchXSS(s, asciiLower(s), scanBytes(s), nil); found && m.Confidence >= 0.85 {
			t.Fatalf("benign markup %q but XSS %+v", s, m)
		}
		if strings.Count(stripped, "<") > strings.Count(s, "<") {
			t.Fatalf("stripping added tags: %q", stripped)
		}
		_ = isProse(stripped)
	})
}

// TestInjectionSensitivity: one CRS paranoia-2 rule is reported where the
// value departs from a trained parameter — a byte class or length none of
// at least depart_min learned values had — and not where the parameter's
// benign values carry the class, however rarely, nor in natural-language
// text; a fitting value with a file-target rule is reported where the
// parameter's benign values never trip path rules.
func TestInjectionSensitivity(t *testing.T) {
	o, err := ParseOptions("injection: {depart_min: 300}")
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	searches := []string{"oak table", "desk lamp", "kids puzzle", "brass hooks", "mug set", "train set", "planter large", "pendant light"}
	addrs := []string{"c/ caridad s/n", "av. de la paz 12, 3/b", "calle mayor 7/2", "plaza sol s/n", "ronda norte 14/1a"}
	train := func(n int) *Injection {
		d := NewInjection(Config{Options: o})
		for i := 0; i < n; i++ {
			at := t0.Add(time.Duration(i) * 10 * time.Second)
			d.Inspect(profileEvent(t, "code", fmt.Sprintf("ab.%03d,x", i%977), at)) // text values without white space
			s := searches[i%len(searches)]
			if i%97 == 13 {
				s = "table; chairs" // a rare benign class (≈ 1 %)
			}
			d.Inspect(profileEvent(t, "q", s, at))
			d.Inspect(profileEvent(t, "addr", addrs[i%len(addrs)], at))
			d.Inspect(profileEvent(t, "doc", fmt.Sprintf("reports/%d/q%d_summary.pdf", 2000+i%25, i%4), at))
		}
		return d
	}
	late := t0.Add(3 * time.Hour)
	if fs := coldInjection().Inspect(profileEvent(t, "q", "ORder by", late)); classes(fs) != "sqli" || fs[0].Confidence != loneConfidence {
		t.Fatalf("cold: %q reported %+v, want sqli at the lone confidence", "ORder by", fs)
	}
	trained := train(400)
	for _, tc := range []struct {
		param, value, want, reason string
	}{
		{"code", "ORder by", "sqli", "white space none of 400 learned values had"},
		{"code", "ab.123,x", "", ""},
		{"code", "union was a great select", "", ""}, // prose keeps the cold policy
		{"q", "table; chairs", "", ""},               // the class is rare, not new
		{"q", "ORder by", "", ""},                    // fits a search parameter (cold: sqli, one level-2 rule on SQL vocabulary)
		{"addr", "/var/root/.bash_history", "path_traversal", "CRS 930120"},
		// fits the parameter (a token with '/'), whose values never trip
		// path rules: still reported
		{"doc", "/var/root/.bash_history", "path_traversal", "CRS 930120"},
	} {
		fs := trained.Inspect(profileEvent(t, tc.param, tc.value, late))
		if got := classes(fs); got != tc.want {
			t.Errorf("%s=%q: reported %q, want %q (%+v)", tc.param, tc.value, got, tc.want, fs)
			continue
		}
		if tc.reason != "" && !strings.Contains(fs[0].Reason, tc.reason) {
			t.Errorf("%s=%q: reason %q, want it to say %q", tc.param, tc.value, fs[0].Reason, tc.reason)
		}
	}
	// below depart_min the parameter is not trained: the cold policy (one
	// level-2 rule on SQL vocabulary reports at the lone confidence)
	if fs := train(150).Inspect(profileEvent(t, "code", "ORder by", late)); classes(fs) != "sqli" || fs[0].departed || fs[0].Confidence != loneConfidence {
		t.Errorf("150 learned values: %q reported %+v, want the cold verdict", "ORder by", fs)
	}
}

func TestParamProfileDeparts(t *testing.T) {
	obs := func(v string) *partObs {
		return &partObs{f: scanBytes(v), ascii: asciiOnly(v), typ: uint8(valueType(v)), n: len(v)}
	}
	var p paramProfile
	for i := 0; i < 1000; i++ {
		v := fmt.Sprintf("item-%d", i)
		if i%200 == 0 {
			v = "item; " + v // 0.5 %: a rare class
		}
		p.learn(obs(v), 0)
	}
	for _, tc := range []struct {
		v    string
		min  uint32
		want bool
	}{
		{"item-42", 300, false},
		{"item; 7", 300, false},                  // seen, rarely
		{"item|7", 300, true},                    // '|' never seen
		{"item|7", 5000, false},                  // not enough values to say
		{strings.Repeat("item-", 10), 300, true}, // over 3× the longest
		{"it\u00e9m-1", 300, true},               // non-ASCII never seen
	} {
		if why, got := p.departs(obs(tc.v), tc.min); got != tc.want {
			t.Errorf("departs(%q, min %d) = %v (%s), want %v", tc.v, tc.min, got, why, tc.want)
		}
	}
	// misfit (suppression) is stricter than departs: a class in under
	// fit_share of the values does not fit
	if _, out := p.misfit(obs("item; 7"), 0.01); !out {
		t.Error("a class in 0.5 % of values fits at fit_share 1 %")
	}
	if _, out := p.misfit(obs("item-7"), 0.01); out {
		t.Error("a plain value does not fit")
	}
}

// TestSeedProfiles: a profile learned once is given to the arguments of
// another request (not its headers), which is then judged warm and
// teaches the model nothing.
func TestSeedProfiles(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	src := NewInjection(Config{})
	var last *event.Event
	for i := 0; i < 150; i++ {
		last = profileEvent(t, "v", fmt.Sprint(1000+i*7), t0.Add(time.Duration(i)*time.Minute))
		src.Inspect(last)
	}
	d := NewInjection(Config{})
	if d.SeedFrom(src, last, "nope") {
		t.Fatal("seeded from a parameter never learned")
	}
	if !d.SeedFrom(src, last, "v") {
		t.Fatal("no seed")
	}
	d.SetLearning(false)
	ev := profileEvent(t, "id", "1042 rlike 1", t0.Add(5*time.Hour))
	if fs := d.Inspect(ev); classes(fs) != "sqli" || fs[0].departed || fs[0].Confidence != loneConfidence {
		t.Fatalf("before seeding: %+v, want the cold verdict (sqli on one level-2 rule alone)", fs)
	}
	d.SeedProfiles(ev)
	for i := 0; i < 3; i++ { // judged warm, and learned nothing: same verdict
		if fs := d.Inspect(ev); classes(fs) != "sqli" || !fs[0].departed {
			t.Fatalf("seeded, try %d: %+v, want sqli as a departure (a text value in an integer parameter)", i, fs)
		}
	}
	n := 0
	d.profiles.Each(func(_ uint64, p *paramProfile) {
		n++
		if p.n != 150 {
			t.Errorf("a seeded profile has %d values, want the seed's 150", p.n)
		}
	})
	if n != 1 {
		t.Errorf("%d profiles seeded, want 1 (query:id; headers and the path keep none)", n)
	}
}

// TestLoneSeverity: a finding on one paranoia-2 rule alone is a medium
// alert that says so; a stronger finding of the same alert raises it to
// the type's high; a trained parameter's departure drops the "alone" text.
func TestLoneSeverity(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	as := run(coldInjection(), []*event.Event{profileEvent(t, "q", "ORder by", t0)})
	if len(as) != 1 || as[0].Severity != model.SevMedium || !strings.Contains(as[0].Evidence.Reason, "one paranoia-2 rule alone (its match holds SQL vocabulary)") {
		t.Fatalf("lone finding: %+v", as)
	}
	as = run(coldInjection(), []*event.Event{profileEvent(t, "q", "ORder by", t0), profileEvent(t, "q", "1' UNION SELECT password FROM users--", t0.Add(time.Second))})
	if len(as) != 1 || as[0].Severity != model.SevHigh || as[0].Count != 2 {
		t.Fatalf("lone then strong: %+v", as)
	}
	d := NewInjection(Config{})
	for i := 0; i < 150; i++ {
		d.Inspect(profileEvent(t, "id", fmt.Sprint(1000+i*7), t0.Add(time.Duration(i)*time.Minute)))
	}
	fs := d.Inspect(profileEvent(t, "id", "1042 rlike 1", t0.Add(5*time.Hour)))
	if len(fs) != 1 || !fs[0].departed || strings.Contains(fs[0].Reason, "alone") {
		t.Fatalf("departure: %+v", fs)
	}
}

// TestTemplateOneClass: a template expression the structural matcher calls
// template injection is one finding, not also XSS on CRS's AngularJS rule
// alone; where no structural match explains it, that rule reports XSS.
func TestTemplateOneClass(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	if got := classes(coldInjection().Inspect(profileEvent(t, "title", "{{7*7}}", t0))); got != "ssti" {
		t.Errorf("{{7*7}}: %q, want ssti only", got)
	}
	if got := classes(coldInjection().Inspect(profileEvent(t, "title", "{{ a | b(1) }}", t0))); !strings.Contains(got, "xss") && !strings.Contains(got, "ssti") {
		t.Errorf("{{ a | b(1) }}: %q, want a template finding", got)
	}
}
