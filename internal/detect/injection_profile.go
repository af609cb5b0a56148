package detect

import (
	"time"

	"github.com/palisade-sec/palisade/internal/alert"
	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/hashing"
	"github.com/palisade-sec/palisade/internal/model"
)

// The positive model of the injection family: per endpoint and parameter
// (location kind — query/form/multipart argument, JSON member, cookie,
// header, path, XML text — and name), what its benign values look like,
// learned from traffic in event time:
//
//   - n, the values learned (all counters are halved when n reaches
//     profileCap, so the model follows drift and old traffic weighs less);
//   - per byte class (quotes, <, >, ;, |, &, $, parentheses, braces,
//     brackets, /, \, "..", =, *, line breaks, space, #, %, :, -, @, NUL,
//     non-ASCII), how many values contained it;
//   - per value type (the params family's types: empty, boolean, integer,
//     number, UUID, token, text), how many values had it;
//   - the longest value;
//   - the CRS rules that matched values judged benign (up to 6, the most
//     frequent kept).
//
// Learning state: a parameter is "learning" until min_support values
// (default 20) were learned, "trained" from gate values (default 100) and
// at least learn_minutes (default 30) of event time after its first value.
// Values that raised an alert are not learned (an attacker cannot teach
// the model), the others are.
//
// What the model changes (injection.go, part judgment):
//
//   - suppression (from min_support): evidence that comes from CRS rules
//     alone (no structural match, confidence below 0.8) is dropped when the
//     value fits the parameter — every byte class it has was seen in at
//     least fit_share (default 2 %) of the learned values, its length is
//     within 1.5× the longest learned value, and its type was seen — or
//     when the rules that matched have matched at least fit_share of the
//     parameter's benign values (a description field that carries HTML);
//   - sensitivity (trained only): a single paranoia-level-2 rule (which the
//     cold policy ignores) is reported when the value departs from the
//     parameter — a byte class seen in under 0.5 % of the learned values,
//     or a type never seen in a parameter whose values all had one type.
//
// Absolute floors: structural matches and CRS evidence at confidence ≥ 0.8
// (two rules of paranoia level 1, libinjection with SQL structure, a
// <script> tag …) are always reported, whatever the model says.
//
// Memory: one profile is ≈ 260 bytes (+ ≈ 40 bytes of table overhead); at
// most max_params (default 50,000) profiles, least recently used evicted:
// ≤ ≈ 15 MB.

const (
	profileCap     = 1 << 16
	profileRuleCap = 6
)

const numProfClasses = 25 // byteSet bits (24) + non-ASCII

type paramProfile struct {
	n       uint32
	classes [numProfClasses]uint32
	types   [vtCount]uint32
	maxLen  uint32
	rules   [profileRuleCap]struct{ id, n uint32 }
	noisy   [numCRSClasses]uint32 // values on which CRS rules of each class matched
	first   int64                 // unix seconds of the first value learned
}

// partObs is what the scan records of every inspected value for the model.
type partObs struct {
	key   uint64 // location kind and name (the endpoint is added per event)
	grp   uint8  // profileGroup of the location
	f     byteSet
	ascii bool // the value has no byte ≥ 0x80
	typ   uint8
	n     int
	rules [4]uint32 // CRS rules that matched the value (any class)
	nr    uint8
	cls   uint8 // bit c: CRS rules of class c matched the value (c < 8)
}

// profileGroup folds part kinds into the location of a parameter.
func profileGroup(k PartKind) uint64 {
	switch k {
	case PartQuery, PartForm, PartMultipart, PartQueryName, PartFormName, PartMultipartFile:
		return 1
	case PartJSON, PartJSONKey:
		return 2
	case PartCookie, PartCookieName:
		return 3
	case PartHeader, PartUserAgent, PartHeaderProto:
		return 4
	case PartPath, PartPathPlain:
		return 5
	case PartXMLText, PartXML:
		return 6
	case PartProto:
		return 8
	case PartGraphQL:
		return 9
	case PartCSV:
		return 10
	}
	return 7
}

// learn adds a value.
func (p *paramProfile) learn(o *partObs, t int64) {
	if p.n == 0 {
		p.first = t
	}
	if p.n >= profileCap {
		p.n /= 2
		for i := range p.classes {
			p.classes[i] /= 2
		}
		for i := range p.types {
			p.types[i] /= 2
		}
		for i := range p.rules {
			p.rules[i].n /= 2
		}
		for i := range p.noisy {
			p.noisy[i] /= 2
		}
	}
	p.n++
	for b := 0; b < 24; b++ {
		if o.f&(1<<b) != 0 {
			p.classes[b]++
		}
	}
	if !o.ascii {
		p.classes[24]++
	}
	p.types[o.typ]++
	if uint32(o.n) > p.maxLen {
		p.maxLen = uint32(o.n)
	}
	for i := 0; i < int(o.nr); i++ {
		p.learnRule(o.rules[i])
	}
	for c := range p.noisy {
		if o.cls&(1<<c) != 0 {
			p.noisy[c]++
		}
	}
}

// numCRSClasses: the classes CRS rules report (InjClass up to ClassSSTI).
const numCRSClasses = int(ClassSSTI) + 1

// classNoisy: CRS rules of class c matched at least share of the learned
// values, and at least min of them — the parameter's benign values trip
// that class's rules, so a value that fits them and trips them too is no
// news.
func (p *paramProfile) classNoisy(c InjClass, share float64, min uint32) bool {
	if int(c) >= numCRSClasses {
		return false
	}
	need := uint32(share*float64(p.n) + 0.5)
	if need < min {
		need = min
	}
	return p.noisy[c] >= need
}

// allNoisy: classNoisy for every class CRS rules report.
func (p *paramProfile) allNoisy(share float64, min uint32) bool {
	for c := 0; c < numCRSClasses; c++ {
		if !p.classNoisy(InjClass(c), share, min) {
			return false
		}
	}
	return true
}

func (p *paramProfile) learnRule(id uint32) {
	low := 0
	for i := range p.rules {
		if p.rules[i].id == id {
			p.rules[i].n++
			return
		}
		if p.rules[i].n < p.rules[low].n {
			low = i
		}
	}
	// space-saving: the least frequent entry gives way
	p.rules[low].id = id
	p.rules[low].n++
}

func (p *paramProfile) ruleCount(id uint32) uint32 {
	for i := range p.rules {
		if p.rules[i].id == id {
			return p.rules[i].n
		}
	}
	return 0
}

// fits: every byte class of the value was seen in at least share of the
// learned values, its length is within 1.5× the longest, its type was seen.
func (p *paramProfile) fits(o *partObs, share float64) bool {
	_, out := p.misfit(o, share)
	return !out
}

// profClassNames names the byte classes of the model (byteSet bits, then
// non-ASCII) for the reason of a departure.
var profClassNames = [numProfClasses]string{"a quote", "a backtick", "'<'", "'>'", "';'", "'|'", "'&'", "'$'",
	"a parenthesis", "a brace", "a bracket", "'/'", "a backslash", "'..'", "'='", "'*'", "a line break", "white space",
	"'#'", "'%'", "':'", "'-'", "'@'", "a NUL byte", "non-ASCII text"}

// misfit says how the value departs from the parameter's learned values:
// a type never seen, a byte class seen in under share of them, or a
// length over 1.5× the longest (out=false: the value fits).
func (p *paramProfile) misfit(o *partObs, share float64) (why string, out bool) {
	if p.types[o.typ] == 0 {
		if why, ok := p.departsTyped(o); ok {
			return why, true
		}
		return "a " + vtNames[o.typ] + " value, a type none of " + u32s(p.n) + " learned values had", true
	}
	need := uint32(share*float64(p.n) + 0.5)
	if need < 1 {
		need = 1
	}
	for b := 0; b < 24; b++ {
		if o.f&(1<<b) != 0 && p.classes[b] < need {
			return profClassNames[b] + " seen in " + u32s(p.classes[b]) + " of " + u32s(p.n) + " learned values", true
		}
	}
	if !o.ascii && p.classes[24] < need {
		return profClassNames[24] + " seen in " + u32s(p.classes[24]) + " of " + u32s(p.n) + " learned values", true
	}
	if uint32(o.n)*2 > p.maxLen*3 {
		return u32s(uint32(o.n)) + " bytes where the longest of " + u32s(p.n) + " learned values had " + u32s(p.maxLen), true
	}
	return "", false
}

// departs says how the value is out of a trained parameter's profile,
// for the sensitivity rule (one paranoia-2 rule): a typed parameter's
// values all had one type and this one another (departsTyped); it has a
// byte class none of the learned values had, or it is over three times
// as long as the longest — both only once at least min values were
// learned (by the rule of three, none in 3,000 values puts a class's
// benign rate under 1 in 1,000: a class the parameter's benign values
// carry rarely, "table; chairs" among searches, is seen by then). Looser
// than misfit, which decides suppression.
func (p *paramProfile) departs(o *partObs, min uint32) (string, bool) {
	if why, ok := p.departsTyped(o); ok {
		return why, true
	}
	if p.n < min {
		return "", false
	}
	for b := 0; b < 24; b++ {
		if o.f&(1<<b) != 0 && p.classes[b] == 0 {
			return profClassNames[b] + " none of " + u32s(p.n) + " learned values had", true
		}
	}
	if !o.ascii && p.classes[24] == 0 {
		return profClassNames[24] + " none of " + u32s(p.n) + " learned values had", true
	}
	if uint32(o.n) > 3*p.maxLen {
		return u32s(uint32(o.n)) + " bytes where the longest of " + u32s(p.n) + " learned values had " + u32s(p.maxLen), true
	}
	return "", false
}

// departsTyped: the parameter is typed — every learned value had one
// type other than text (integers, numbers, UUIDs, tokens, booleans) — and
// the value has another type.
func (p *paramProfile) departsTyped(o *partObs) (string, bool) {
	dominant := 0
	for i := range p.types {
		if p.types[i] > p.types[dominant] {
			dominant = i
		}
	}
	if dominant == vtText || dominant == vtEmpty || p.types[dominant] != p.n || int(o.typ) == dominant {
		return "", false
	}
	return "a " + vtNames[o.typ] + " value where all " + u32s(p.n) + " learned values were " + vtNames[dominant], true
}

// rulesRoutine: each rule of ids matched at least share of the values,
// and at least min values.
func (p *paramProfile) rulesRoutine(ids []int, share float64, min uint32) bool {
	if len(ids) == 0 {
		return false
	}
	need := uint32(share*float64(p.n) + 0.5)
	if need < min {
		need = min
	}
	for _, id := range ids {
		if p.ruleCount(uint32(id)) < need {
			return false
		}
	}
	return true
}

func u32s(n uint32) string {
	if n == 0 {
		return "0"
	}
	var b [10]byte
	i := len(b)
	for n > 0 {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return string(b[i:])
}

// profileKey is the model's key of a part in an event's endpoint.
func profileKey(endpoint uint64, o *partObs) uint64 { return hashing.AddUint64(endpoint, o.key) }

// profileState says what the model knows of a parameter.
type profileState uint8

const (
	profUnknown  profileState = iota // never seen (or learning disabled)
	profLearning                     // < gate values or < learn_minutes
	profTrained
)

type profileOpts struct {
	on                     bool
	minSupport, gate       uint32
	learnSecs              int64
	fitShare, routineShare float64
	routineMin             uint32
	departMin              uint32
}

func (d *Injection) profileState(p *paramProfile, t int64) profileState {
	switch {
	case p == nil || p.n < d.prof.minSupport:
		return profUnknown
	case p.n < d.prof.gate || t-p.first < d.prof.learnSecs:
		return profLearning
	}
	return profTrained
}

func evUnix(ev *event.Event) int64 { return ev.Time.Unix() }

// Readiness implements pipeline.ReadinessReporter: the positive model's
// learning state per parameter — suppression from min_support values,
// sensitivity once trained (gate values and learn_minutes). Parameters are
// counted, not listed: a profile keeps a hash of its endpoint and
// parameter, not their names.
func (d *Injection) Readiness(at time.Time) []model.Readiness {
	if d.profiles == nil {
		return nil
	}
	types := alertNames(alert.InjectionSQLi, alert.InjectionXSS, alert.InjectionCmd, alert.InjectionPathTraversal, alert.InjectionSSTI)
	sup := baseline{detector: "injection", name: "benign values of each parameter (suppression)", scope: "parameter", alerts: types,
		requires: model.Need{Requests: int64(d.prof.minSupport)},
		while:    "the cold policy: structural matches, one CRS paranoia-1 rule (two in natural-language text), one paranoia-2 rule with the syntax of its language; nothing is suppressed"}.tally()
	sens := baseline{detector: "injection", name: "value types of each parameter (sensitivity)", scope: "parameter", alerts: types,
		requires: model.Need{Requests: int64(d.prof.gate), Hours: float64(d.prof.learnSecs) / 3600},
		while:    "a single CRS paranoia-2 rule without the syntax of its language is not reported (in a trained parameter it is when the value departs: a type, or from depart_min values a byte class or length, its benign values never had)"}.tally()
	d.profiles.Each(func(_ uint64, p *paramProfile) {
		hrs := 0.0
		if sec := at.Unix() - p.first; sec > 0 {
			hrs = float64(sec) / 3600
		}
		sup.Add("", model.Need{Requests: int64(p.n)}, false)
		sens.Add("", model.Need{Requests: int64(p.n), Hours: hrs}, false)
	})
	return []model.Readiness{sup.Readiness(d.readySup.at), sens.Readiness(d.readySens.at)}
}

// markReady records when the first parameter reached each learning state.
func (d *Injection) markReady(p *paramProfile, at time.Time) {
	if !d.readySens.at.IsZero() {
		return
	}
	switch d.profileState(p, at.Unix()) {
	case profTrained:
		d.readySens.mark(at)
		d.readySup.mark(at)
	case profLearning:
		d.readySup.mark(at)
	}
}
