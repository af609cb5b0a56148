package detect

import (
	"errors"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/palisade-sec/palisade/internal/classify"
	"github.com/palisade-sec/palisade/internal/config"
	"github.com/palisade-sec/palisade/internal/detect/crs"
	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/hashing"
	"github.com/palisade-sec/palisade/internal/jsonscan"
	"github.com/palisade-sec/palisade/internal/model"
)

// The injection family: injection.{sqli,xss,cmd,path_traversal,nosql,ssti,
// xxe,ldap,crlf}. Every value of an inbound request (path segments, query
// names and values, headers other than protocol/credential headers,
// cookies, JSON leaves and member names, form and multipart fields, XML
// bodies and their text) is decoded layer by layer (DecodeLayers, and
// base64 when a value is base64 of text) and given to per-class structural
// matchers (MatchInjection); SQLi and XSS also use libinjection. One hit per
// class and request, with the strongest match as evidence.
//
// Options: injectionOptions (detect.options.injection).
//
// State: counters, and a memo of values already judged clean (bounded:
// values up to 256 bytes, at most 16,384 of them, ≤ ≈ 10 MB; see
// valueMemo); cost is per request and bounded by the limits.
func init() {
	Register("injection", func(c Config) Detector { return NewInjection(c) })
	RegisterOptions("injection", func() FamilyOptions {
		return &injectionOptions{MinConfidence: 0.5, CRSParanoia: 2, Profile: true, MinSupport: 20, Gate: 100, LearnMinutes: 30,
			FitShare: 0.005, RoutineShare: 0.001, RoutineMin: 3, DepartMin: 3000, MaxParams: 50000}
	})
}

// partOptions bound what a request-inspecting family reads of a request
// (0 = the built-in limit).
type partOptions struct {
	MaxBody  int `yaml:"max_body" doc:"bytes of request body inspected; 0 = 262144"`
	MaxParts int `yaml:"max_parts" doc:"values inspected per request; 0 = 512"`
	MaxValue int `yaml:"max_value" doc:"bytes inspected per value; 0 = 32768"`
}

func (p partOptions) limits() PartLimits { return PartLimits(p) }

// injectionOptions are the injection family's options.
type injectionOptions struct {
	Limits        partOptions `yaml:",inline"`
	MinConfidence float64     `yaml:"min_confidence" doc:"matches below this confidence are not reported"`
	IgnoreFields  []string    `yaml:"ignore_fields" doc:"parameter, field or header names whose values are not judged (e.g. sql on a reporting API that takes SQL)"`
	CRSParanoia   int         `yaml:"crs_paranoia" doc:"OWASP CRS paranoia level of the attack rules used (1-4); 0 = no CRS rules"`
	Profile       bool        `yaml:"profile" doc:"learn each parameter's values (the positive model) and drop CRS-only findings on values that fit it"`
	MinSupport    int         `yaml:"min_support" doc:"values of a parameter before its profile judges"`
	Gate          int         `yaml:"gate" doc:"values of a parameter before its profile is trusted to suppress"`
	LearnMinutes  float64     `yaml:"learn_minutes" doc:"learning period of a parameter's profile, in minutes"`
	FitShare      float64     `yaml:"fit_share" doc:"a value fits its parameter's profile when its shape is at least this share of the values seen"`
	RoutineShare  float64     `yaml:"routine_share" doc:"CRS rules that matched at least this share of a parameter's values are routine there"`
	RoutineMin    int         `yaml:"routine_min" doc:"matches of a rule on a parameter before it can be routine"`
	DepartMin     int         `yaml:"depart_min" doc:"values of a parameter before a byte class or length none of them had makes one CRS paranoia-2 rule count (0 of 3000 puts the class's benign rate under 1 in 1000)"`
	MaxParams     int         `yaml:"max_params" doc:"parameter profiles kept (LRU)"`
}

// Validate implements config.Validator.
func (o *injectionOptions) Validate() error {
	errs := []error{checkOptions(&o.Limits), checkOptions(o)}
	if o.CRSParanoia > 4 {
		errs = append(errs, config.Errorf("crs_paranoia", "want 0 to 4"))
	}
	return atMostOne(errors.Join(errs...), map[string]float64{"min_confidence": o.MinConfidence, "fit_share": o.FitShare, "routine_share": o.RoutineShare})
}

// Injection is the injection detector.
type Injection struct {
	lim       PartLimits
	minConf   float64
	ignore    map[string]bool
	ignoreKey string
	Stats     PartStats
	// Suppressed counts CRS-only findings dropped because the value fits
	// its parameter's learned profile (or the rules are routine there).
	Suppressed int64
	// NotServed counts file names asked for in a plain path (CRS rules
	// only) that the API answered with an error: probes, not injections.
	NotServed int64
	keyed
	scanner requestScanner
	crsPL   int
	crsErr  error
	// the positive model (injection_profile.go)
	prof     profileOpts
	profiles *lru[paramProfile]
	learned  []uint8       // per part of the current request: what to learn
	frozen   bool          // SetLearning(false): judge with the model, learn nothing
	seed     *paramProfile // SeedProfiles: the profile a parameter without one starts from
	// when the first parameter could suppress (min_support) and was trained
	readySup, readySens readyMark
}

// SetLearning turns learning of the positive model on or off (off: the
// learned profiles stay as they are and keep judging; evaluation uses it
// to judge every request against the same model).
func (d *Injection) SetLearning(on bool) { d.frozen = !on }

// SeedFrom takes, as the seed of SeedProfiles, a copy of the profile src
// learned for the query parameter name on ev's endpoint (false: src has
// none). The evaluation's warm mode uses it: a profile learned once from
// a list of benign values, through the same path as traffic, then given
// to every parameter of the requests it judges.
func (d *Injection) SeedFrom(src *Injection, ev *event.Event, name string) bool {
	if src.profiles == nil || d.profiles == nil {
		return false
	}
	o := partObs{key: hashing.AddUint64(profileGroup(PartQuery), hashing.String(name))}
	p, ok := src.profiles.Peek(profileKey(endpointHash(ev), &o))
	if !ok {
		return false
	}
	c := *p
	d.seed = &c
	return true
}

// SeedProfiles gives every argument of ev (query, form and multipart
// fields, JSON members, XML text) that has no profile yet a copy
// of the seed (SeedFrom), as learned before ev (its learning period over):
// judging ev afterwards judges it as if each of its parameters had carried
// the seed's values. Nothing of ev is learned or judged: the walk only
// names its parameters, and counts in Stats like any (an evaluation tool,
// not the serving path).
func (d *Injection) SeedProfiles(ev *event.Event) {
	if d.seed == nil || d.profiles == nil {
		return
	}
	d.begin(ev)
	var stats PartStats
	var sink seedSink
	requestPartsTo(ev, d.lim, &stats, &sink, nil)
	d.Stats.add(stats)
	ep, t := d.keys.endpoint(ev), evUnix(ev)
	for i := range sink.parts {
		if g := sink.parts[i].grp; g != 1 && g != 2 && g != 6 {
			continue // headers, cookies and the path keep their own (none: cold)
		}
		if p, created := d.profiles.GetOrAdd(profileKey(ep, &sink.parts[i])); created || p.n == 0 {
			*p = *d.seed
			p.first = t - d.prof.learnSecs - 3600
		}
	}
}

// seedSink names the parameters of a request as the scanner does
// (requestScanner.part), judging none: SeedProfiles' walk.
type seedSink struct{ parts []partObs }

func (s *seedSink) part(p Part) bool {
	if p.Kind == PartUserAgent || p.Kind == PartHeaderProto || p.Kind == PartPathPlain {
		return true // judged by CRS header rules alone: no profile
	}
	s.parts = append(s.parts, partObs{grp: uint8(profileGroup(p.Kind)), key: partKey(p.Kind, p.Name)})
	return true
}

// partKey is a parameter's key within its endpoint (profileKey adds the endpoint).
func partKey(k PartKind, name string) uint64 {
	return hashing.AddUint64(profileGroup(k), hashing.String(name))
}

// CRSError is the error compiling the CRS rules met (nil when they are in
// use or disabled by crs_paranoia: 0).
func (d *Injection) CRSError() error { return d.crsErr }

// NewInjection returns the detector with options from cfg.
func NewInjection(c Config) *Injection {
	o := optionsFor[*injectionOptions](c, "injection")
	d := &Injection{lim: o.Limits.limits(), minConf: o.MinConfidence}
	for _, n := range o.IgnoreFields {
		d.ignore = appendSet(d.ignore, n)
	}
	names := make([]string, 0, len(d.ignore))
	for n := range d.ignore {
		names = append(names, n)
	}
	sort.Strings(names)
	d.crsPL = o.CRSParanoia
	if d.crsPL > 0 {
		set, err := crs.Default()
		if err != nil {
			d.crsErr, d.crsPL = err, 0
		} else {
			d.scanner.crs, d.scanner.crsPL = set, min(d.crsPL, 4)
		}
	}
	d.prof = profileOpts{
		on:           o.Profile,
		minSupport:   uint32(max(1, o.MinSupport)),
		gate:         uint32(max(1, o.Gate)),
		learnSecs:    int64(o.LearnMinutes * 60),
		fitShare:     o.FitShare,
		routineShare: o.RoutineShare,
		routineMin:   uint32(max(1, o.RoutineMin)),
		departMin:    uint32(max(1, o.DepartMin)),
	}
	if d.prof.on {
		d.profiles = newLRU[paramProfile](max(1, o.MaxParams))
	}
	// the key of the shared request scan: what changes its result
	d.ignoreKey = "crs" + strconv.Itoa(d.scanner.crsPL) + "\x01" + strings.Join(names, "\x00")
	return d
}

func asciiOnly(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

func appendSet(m map[string]bool, k string) map[string]bool {
	if m == nil {
		m = map[string]bool{}
	}
	m[strings.ToLower(k)] = true
	return m
}

// Name implements Detector.
func (d *Injection) Name() string { return "injection" }

// InjFinding is one class found in a request, with its location.
type InjFinding struct {
	InjMatch
	Name     string // parameter, field or header name ("" for the path and whole bodies)
	Loc      string
	Layers   []string
	Fragment string // redacted, at most 80 characters
	CRS      []int  // ids of the CRS rules that matched the value for the class
	part     int    // index of the value in requestScan.parts
	crsOnly  bool   // the evidence is CRS rules alone (no structural match)
	fileOnly bool   // CRS file rules alone on the path: a file name asked for, no traversal
	departed bool   // reported because the value departs from its trained parameter
	prose    bool   // the value is natural-language text (isProse, without code syntax)
	lone     bool   // reported cold on one CRS paranoia-2 rule alone (loneLevel2)
}

// Inspect returns the strongest finding per class in the event's request,
// ordered by class.
func (d *Injection) Inspect(ev *event.Event) []InjFinding {
	d.begin(ev)
	if d.profiles != nil {
		ep, t := d.keys.endpoint(ev), evUnix(ev)
		d.scanner.fits = func(o *partObs, quiet bool) bool {
			p, _ := d.profiles.Peek(profileKey(ep, o))
			return d.profileState(p, t) >= profLearning && p.fits(o, d.prof.fitShare) && (!quiet || p.allNoisy(d.prof.routineShare, d.prof.routineMin))
		}
	}
	sc := scanShared(d.keys, &d.scanner, ev, d.lim, d.ignoreKey, d.ignore, false)
	d.scanner.fits = nil
	d.Stats.add(sc.stats)
	var out []InjFinding
	if d.profiles == nil {
		for _, b := range sc.inj {
			if b != nil && b.Confidence >= d.minConf && !d.notServed(b, ev) {
				out = append(out, *b)
			}
		}
		return out
	}
	ep := d.keys.endpoint(ev)
	t := evUnix(ev)
	prof := func(i int) *paramProfile {
		if i < 0 || i >= len(sc.parts) {
			return nil
		}
		p, _ := d.profiles.Peek(profileKey(ep, &sc.parts[i]))
		return p
	}
	for c, b := range sc.inj {
		if b != nil && d.notServed(b, ev) {
			continue
		}
		if b == nil || b.Confidence < d.minConf {
			if w := sc.weak[c]; w != nil && b == nil {
				// one rule of level 2: reported where the value departs
				// from a trained parameter (departs: a type, byte class or
				// length its benign values never had); natural-language
				// text keeps the cold policy (CRS rules fire on its words)
				p := prof(w.part)
				if !w.prose && d.profileState(p, t) == profTrained {
					if why, ok := p.departs(&sc.parts[w.part], d.prof.departMin); ok {
						f := *w
						f.Confidence, f.departed = 0.6, true
						f.Reason += "; the value departs from this parameter's learned profile (" + why + ")"
						out = append(out, f)
					}
				}
			}
			continue
		}
		if b.lone {
			// one level-2 rule alone reports cold and while the parameter
			// learns; once it is trained on depart_min values, only where
			// the value departs from it (as a weak candidate, below)
			if p := prof(b.part); d.profileState(p, t) == profTrained {
				if why, ok := p.departs(&sc.parts[b.part], d.prof.departMin); ok {
					f := *b
					f.Confidence, f.departed, f.lone = 0.6, true, false
					f.Reason, _, _ = strings.Cut(f.Reason, loneSuffix)
					f.Reason += "; the value departs from this parameter's learned profile (" + why + ")"
					out = append(out, f)
					continue
				}
				if p.n >= d.prof.departMin {
					d.Suppressed++
					continue
				}
			}
		}
		if b.crsOnly {
			p := prof(b.part)
			if d.profileState(p, t) >= profLearning {
				o := &sc.parts[b.part]
				// dropped: a value that fits the parameter, where CRS rules
				// of the class are common on its benign values; rules
				// routine there
				if p.fits(o, d.prof.fitShare) && p.classNoisy(b.Class, d.prof.routineShare, d.prof.routineMin) || p.rulesRoutine(b.CRS, d.prof.routineShare, d.prof.routineMin) {
					d.Suppressed++
					continue
				}
			}
		}
		out = append(out, *b)
	}
	// learn every value that was not reported
	// 0: learn the value (also when reported on CRS rules alone: a benign
	// look-alike that recurs becomes routine); 2: learn nothing (a
	// structural match, or a value reported because it departs from the
	// parameter: one such value must not make it untyped)
	d.learned = d.learned[:0]
	for range sc.parts {
		d.learned = append(d.learned, 0)
	}
	for i := range out {
		if j := out[i].part; j >= 0 && j < len(d.learned) {
			lv := uint8(2)
			if out[i].crsOnly && !out[i].departed {
				lv = 0
			}
			d.learned[j] = max(d.learned[j], lv)
		}
	}
	for i := range sc.parts {
		if d.learned[i] < 2 && !d.frozen {
			p, _ := d.profiles.GetOrAdd(profileKey(ep, &sc.parts[i]))
			p.learn(&sc.parts[i], t)
			d.markReady(p, ev.Time)
		}
	}
	return out
}

// notServed: a file name in the path (CRS rules alone on a plain path, or
// only CRS's restricted and OS file rules, no traversal sequence, on any
// path) that the API answered with an error — a probe for a file it does
// not serve, the recon family's evidence (recon.endpoint_spray judges a
// spray of such probes), not an injection. Counted in NotServed.
func (d *Injection) notServed(b *InjFinding, ev *event.Event) bool {
	if b.fileOnly && ev.Status >= 400 {
		d.NotServed++
		return true
	}
	return false
}

// Explain is Inspect, and what each inspected value gave: for finding
// out why a request was (not) reported. It does not use the memo of
// values already judged clean.
func (d *Injection) Explain(ev *event.Event) ([]InjFinding, []ValueTrace) {
	var vs []ValueTrace
	d.scanner.trace = func(v ValueTrace) { vs = append(vs, v) }
	d.scanner.memo = valueMemo{}
	d.scanner.cleanHdr = [512]cleanHeader{}
	if d.keys != nil {
		d.keys.scan = nil
	}
	defer func() { d.scanner.trace = nil }()
	return d.Inspect(ev), vs
}

// requestScan is one walk over a request's values serving both the
// injection and the SSRF families (the walk and the decoding dominate
// their cost, so they share it).
type requestScan struct {
	inj   [numInjClasses]*InjFinding
	ssrf  *ssrfFinding
	stats PartStats
	// for the positive model: every inspected value, and per class the
	// strongest CRS evidence too weak for the cold policy (one rule of
	// paranoia level 2)
	parts []partObs
	weak  [numInjClasses]*InjFinding
}

type ssrfFinding struct {
	SSRFMatch
	Loc, Fragment string
	Layers        []string
}

// scanShared returns the scan of ev with the given limits and ignored
// field names (ignoreKey identifies the set): the one another family of
// the same engine already made for this event when it asked for the same,
// else a new one by sc (kept in the engine's per-event keys for the next
// family). anyIgnore: the caller only needs the SSRF result, which does
// not depend on ignored fields.
func scanShared(k *evKeys, sc *requestScanner, ev *event.Event, lim PartLimits, ignoreKey string, ignore map[string]bool, anyIgnore bool) *requestScan {
	if k.valid(ev) && k.scan != nil && k.scanLim == lim && (anyIgnore || k.scanIgnore == ignoreKey) {
		return k.scan
	}
	res := sc.scan(ev, lim, ignore, k)
	if k.valid(ev) {
		k.scan, k.scanLim, k.scanIgnore = res, lim, ignoreKey
	}
	return res
}

// valueMemo remembers, per (part kind, value, already URL-decoded), the
// decoded variants of values in which no injection class matched, so that
// the values every request repeats (API keys, enumerations, small numbers,
// field values) are decoded and matched once. An entry is a function of its
// key only, so results never depend on what is cached. Bounded: values up
// to memoMaxValue bytes, at most memoMaxEntries entries (emptied when full;
// ≤ ≈ 10 MB).
type valueMemo struct {
	m map[string]*memoEntry // by value; the entry holds the rest of the key
}

type memoEntry struct {
	kind       PartKind
	decoded    bool
	dec, dec64 Decoded
	isB64      bool
	rules      [4]uint32 // CRS rules that matched without making a finding
	nr         uint8
	cls        uint8 // their classes (partObs.cls)
}

// Values shorter than memoMinValue are cheap to judge (no base64, most
// matchers skip them) and not worth an entry.
const (
	memoMinValue   = 6
	memoMaxValue   = 256
	memoMaxEntries = 16384
)

func (m *valueMemo) get(p *Part) *memoEntry {
	if m == nil || m.m == nil || len(p.Value) > memoMaxValue || len(p.Value) < memoMinValue {
		return nil
	}
	if e := m.m[p.Value]; e != nil && e.kind == p.Kind && e.decoded == p.URLDecoded {
		return e
	}
	return nil
}

func (m *valueMemo) put(p *Part, dec, dec64 Decoded, isB64 bool, o *partObs) {
	if m == nil || len(p.Value) > memoMaxValue || len(p.Value) < memoMinValue {
		return
	}
	if m.m == nil || len(m.m) >= memoMaxEntries {
		m.m = make(map[string]*memoEntry, 1024)
	}
	// Values are substrings of the record: keep copies, not the record.
	v := strings.Clone(p.Value)
	if dec.Text == p.Value {
		dec.Text = v
	} else {
		dec.Text = strings.Clone(dec.Text)
	}
	m.m[v] = &memoEntry{kind: p.Kind, decoded: p.URLDecoded, dec: dec, dec64: dec64, isB64: isB64, rules: o.rules, nr: o.nr, cls: o.cls}
}

// base64Segment: a path segment of at least 16 characters that is base64
// of text.
func base64Segment(path string) (string, bool) {
	for _, seg := range strings.Split(path, "/") {
		if len(seg) >= 16 {
			if t, ok := DecodeBase64Text(seg); ok {
				return t, true
			}
		}
	}
	return "", false
}

func (s *PartStats) add(o PartStats) {
	s.BodiesCut += o.BodiesCut
	s.PartsCut += o.PartsCut
	s.ValuesCut += o.ValuesCut
	s.BodyErrors += o.BodyErrors
	s.Binary += o.Binary
	s.GraphQL += o.GraphQL
}

// Dropped counts what the injection family did not inspect, or inspected
// only in part (engine reports: analysis_dropped "detect injection …").
func (d *Injection) Dropped() map[string]int64 {
	return map[string]int64{
		"injection: bodies longer than max_body (only the first part inspected)":                     d.Stats.BodiesCut,
		"injection: requests with more than max_parts values (the rest not inspected)":               d.Stats.PartsCut,
		"injection: values longer than max_value (only the first part inspected)":                    d.Stats.ValuesCut,
		"injection: binary bodies and multipart values (only their clean name=value text inspected)": d.Stats.Binary,
	}
}

// requestScanner walks a request once: injection findings (except in
// ignored fields) and the strongest SSRF target. Its result is reused from
// request to request (one scanner per detector).
type requestScanner struct {
	res     requestScan
	ev      *event.Event
	own     string
	host    string // last ev.Host and its port-less form (own)
	hostOwn string
	ignore  map[string]bool
	memo    valueMemo
	urlish  map[string]bool // urlishName by parameter name (bounded)
	// notB64 remembers values DecodeBase64Text rejected, direct-mapped by
	// hash: the values requests repeat (API keys, ids, tokens) are base64
	// alphabet but not base64 of text, and are not memoized (plain bytes).
	notB64 [256]string
	// the compiled CRS rules (nil: not used) and the paranoia level
	crs        *crs.Set
	crsPL      int
	crsScratch crs.Scratch
	jtok       jsonscan.Tokenizer // crsMatchJSON's
	lib        crs.LibMemo        // libinjection's verdicts, shared by the structural matchers and the CRS rules
	cleanHdr   [512]cleanHeader   // protocol header and user-agent values no CRS rule matched
	// fits (set by the injection family during its scan): the value fits
	// its parameter's learned profile — and (quiet) the parameter's
	// benign values trip CRS rules of every class, so that its CRS-only
	// evidence would be suppressed
	fits func(o *partObs, quiet bool) bool
	// trace (Explain): called with what each inspected value gave
	trace func(ValueTrace)
}

// ValueTrace is what the injection family made of one inspected value
// (Injection.Explain): where it was, how it was decoded, what matched and
// why the cold policy or the positive model did or did not report it.
type ValueTrace struct {
	Loc    string
	Layers []string
	Text   string // the decoded value (clipped to 200 bytes)
	// Structural: the structural matches ("sqli 0.85 libinjection fingerprint s&1")
	Structural []string
	// CRS: the rules that matched, per class: "sqli: 942100/PL1 942200/PL2"
	CRS []string
	// Verdict per class with CRS evidence: "sqli: reported 0.70", "xss:
	// not reported (one PL2 rule)", "cmd: not reported (prose needs two PL1 rules)"
	Verdict []string
	// Skipped: why the value was not matched ("fits the learned profile",
	// "seen before, nothing matched", "ignored field")
	Skipped string
}

type cleanHeader struct{ name, value string }

// base64Text is DecodeBase64Text(v), skipping values it rejected lately.
func (s *requestScanner) base64Text(v string) (string, bool) {
	if len(v) < 8 {
		return "", false // what DecodeBase64Text answers
	}
	i := hashing.String(v) & 255
	if s.notB64[i] == v {
		return "", false
	}
	t, ok := DecodeBase64Text(v)
	if !ok {
		s.notB64[i] = strings.Clone(v) // not a view of the record
	}
	return t, ok
}

func (s *requestScanner) urlishName(name string) bool {
	if name == "" {
		return false
	}
	u, ok := s.urlish[name]
	if !ok {
		u = urlishName(name)
		if s.urlish == nil || len(s.urlish) >= 4096 {
			s.urlish = make(map[string]bool, 64)
		}
		s.urlish[strings.Clone(name)] = u
	}
	return u
}

func (s *requestScanner) scan(ev *event.Event, lim PartLimits, ignore map[string]bool, keys *evKeys) *requestScan {
	s.res = requestScan{parts: s.res.parts[:0]}
	s.ev, s.ignore = ev, ignore
	if ev.Host != s.host { // the host without its port, for the last host seen
		s.host, s.hostOwn = ev.Host, ev.Host
		if i := strings.LastIndexByte(s.hostOwn, ':'); i >= 0 && !strings.HasSuffix(s.hostOwn, "]") {
			s.hostOwn = s.hostOwn[:i]
		}
	}
	s.own = s.hostOwn
	s.crsScratch.Lib = &s.lib
	requestPartsTo(ev, lim, &s.res.stats, s, keys)
	s.ev, s.ignore = nil, nil
	s.lib.Reset() // it keeps views of the record
	return &s.res
}

// part judges one value (the part walker's sink).
func (s *requestScanner) part(p Part) bool {
	res, own, ignore, memo, ev := &s.res, s.own, s.ignore, &s.memo, s.ev
	if p.Kind == PartUserAgent || p.Kind == PartHeaderProto || p.Kind == PartPathPlain {
		// the user-agent family judges user agents, and protocol headers
		// carry structured values: only the CRS rules on headers run
		s.crsOnlyPart(p)
		return true
	}
	var dec, dec64 Decoded
	var isB64 bool
	judge := len(ignore) == 0 || !ignore[strings.ToLower(p.Name)]
	f, x := valueClasses(p.Value)
	pi := len(res.parts)
	res.parts = append(res.parts, partObs{grp: uint8(profileGroup(p.Kind)), key: partKey(p.Kind, p.Name)})
	ssrfChars := x&vcSSRF != 0
	// A value no matcher looks at is cheaper to judge than to look up.
	var e *memoEntry
	worthMemo := x&vcDecode != 0 || !plainBytes(f, len(p.Value))
	if worthMemo {
		e = memo.get(&p)
	}
	if e != nil {
		// seen before: decoded, and no class matched
		dec, dec64, isB64 = e.dec, e.dec64, e.isB64
		res.parts[pi].rules, res.parts[pi].nr, res.parts[pi].cls = e.rules, e.nr, e.cls
		if s.trace != nil {
			s.trace(ValueTrace{Loc: p.Loc(), Layers: dec.Layers, Text: clipTrace(dec.Text), Skipped: "seen before, nothing matched"})
		}
	} else {
		if x&vcDecode != 0 {
			rounds := 0
			if p.URLDecoded {
				rounds = 1
			}
			dec = decodeLayers(p.Value, rounds)
		} else { // nothing to decode: what decodeLayers returns
			dec.Text = p.Value
			if p.URLDecoded {
				dec.Layers = layersURL
			}
		}
		var b64 string
		if x&vcSpace != 0 || x&vcNotB64 == 0 && len(p.Value) >= 8 {
			b64, isB64 = s.base64Text(strings.TrimSpace(p.Value))
		}
		if !isB64 && p.Kind == PartPath {
			b64, isB64 = base64Segment(p.Value)
		}
		if isB64 {
			dec64 = DecodeLayers(b64)
			dec64.Layers = append([]string{LayerBase64}, dec64.Layers...)
		}
		s.shape(&res.parts[pi], &p, dec.Text, f, x)
		// a value that fits its parameter's learned profile, where CRS
		// rules of every class are common, would have its CRS-only
		// evidence suppressed: the rules are not run (the structural
		// matchers are); such values are not memoized, since the same
		// value may not fit another parameter
		skipCRS := s.fits != nil && s.fits(&res.parts[pi], true)
		if !judge && s.trace != nil {
			s.trace(ValueTrace{Loc: p.Loc(), Layers: dec.Layers, Text: clipTrace(dec.Text), Skipped: "ignored field"})
		}
		if judge {
			found := skipCRS
			for _, d := range []*Decoded{&dec, &dec64} {
				if d.Text == "" {
					continue
				}
				var tr *ValueTrace
				if s.trace != nil {
					tr = &ValueTrace{Loc: p.Loc(), Layers: d.Layers, Text: clipTrace(d.Text)}
					if skipCRS {
						tr.Skipped = "CRS rules not run: the value fits its parameter's learned profile"
					}
					defer func(tr *ValueTrace) { s.trace(*tr) }(tr)
				}
				var ms []InjMatch
				if d == &dec && d.Text == p.Value {
					ms = matchInjectionLib(p.Kind, d.Text, f, &s.lib)
				} else {
					ms = matchInjectionLib(p.Kind, d.Text, scanBytes(d.Text), &s.lib)
				}
				ssti := false // a structural template-injection match in this value
				for _, m := range ms {
					found = true
					ssti = ssti || m.Class == ClassSSTI
					if tr != nil {
						tr.Structural = append(tr.Structural, m.Class.String()+" "+strconv.FormatFloat(m.Confidence, 'f', 2, 64)+" "+m.Reason)
					}
					f := InjFinding{InjMatch: m, Name: p.Name, Loc: p.Loc(), Layers: d.Layers, Fragment: Fragment(d.Text, m.Start, m.End), part: pi, fileOnly: m.FileProbe}
					if b := res.inj[f.Class]; b == nil || f.Confidence > b.Confidence {
						res.inj[f.Class] = &f
					}
				}
				runCRS := s.crs != nil && !skipCRS
				if runCRS {
					if why := crsNotRun(d.Text); why != "" {
						runCRS = false
						if tr != nil {
							tr.Skipped = "CRS rules not run: " + why
						}
					}
				}
				if runCRS {
					var ce [numInjClasses]crsEvidence
					// values whose CRS hits make no finding and no weak
					// candidate are remembered like clean ones (with their rules)
					if !s.crsMatchJSON(p.Kind, p.Name, d.Text, &ce) {
						s.crsMatch(p.Kind, p.Name, d.Text, &ce)
					}
					o := &res.parts[pi]
					prose, markup := -1, 0
					var syn codeSyntax
					for c := range ce {
						e := &ce[c]
						if e.best == nil {
							continue
						}
						if c < 8 {
							o.cls |= 1 << c
						}
						for _, id := range e.ids {
							if int(o.nr) < len(o.rules) {
								o.rules[o.nr] = uint32(id)
								o.nr++
							}
						}
						if prose < 0 {
							// prose, or harmless formatting markup around
							// prose — unless it has code syntax
							prose, markup = b2i(isProse(d.Text)), 0
							if strings.IndexByte(d.Text, '<') >= 0 {
								if t, ok := benignMarkup(d.Text); ok {
									markup = 1
									prose = b2i(isProse(t))
								}
							}
							if syn = syntaxOf(d.Text); syn != 0 {
								prose = 0
							}
						}
						// CRS files AngularJS template expressions (941380)
						// under XSS: where the structural matcher already
						// calls the value template injection, that rule alone
						// is the same evidence, not a second attack
						lone := markup != 1 && loneLevel2(InjClass(c), e.ids, d.Text, e.span(d.Text)) &&
							!(ssti && InjClass(c) == ClassXSS && onlyRules(e.ids, 941380))
						conf := crsConfidence(e, prose == 1, syn&classSyntax(InjClass(c)), lone)
						if markup == 1 && InjClass(c) == ClassXSS {
							conf = 0 // CRS tag rules on harmless formatting markup
						}
						nowhere, placeholders := false, false
						if InjClass(c) == ClassPathTraversal && conf > 0 && traversalNowhere(p.Kind, p.Name, d.Text, e.ids) {
							conf, nowhere = 0, true
						}
						if InjClass(c) == ClassCmd && conf > 0 && !ssti && varPlaceholders(e.ids, d.Text) {
							conf, placeholders = 0, true
						}
						if tr != nil {
							tr.CRS = append(tr.CRS, InjClass(c).String()+": "+crsIDs(s.crs, e.ids))
							v := crsVerdict(e, conf, prose == 1, markup == 1 && InjClass(c) == ClassXSS, syn)
							if nowhere {
								v = "not reported: a traversal sequence leading to no path segment in free text, no file target"
							}
							if placeholders {
								v = "not reported: template placeholders ${name} (a configuration's interpolation), no command"
							}
							tr.Verdict = append(tr.Verdict, InjClass(c).String()+": "+v)
						}
						if conf > 0 || e.pl2 >= 5 {
							found = true
						}
						b := res.inj[c]
						if b != nil {
							b.CRS = append(b.CRS, e.ids...)
						}
						if conf == 0 && e.pl2 >= 5 && b == nil && res.weak[c] == nil {
							w := InjFinding{InjMatch: InjMatch{Class: InjClass(c), Start: e.start, End: e.end, Reason: crsReason(e)}, Name: p.Name, Loc: p.Loc(), Layers: d.Layers, Fragment: Fragment(d.Text, e.start, e.end), CRS: e.ids, part: pi, crsOnly: true, prose: prose == 1}
							res.weak[c] = &w
						}
						if conf == 0 || b != nil && b.Confidence >= conf {
							continue
						}
						reason, alone := crsReason(e), conf == loneConfidence
						if alone {
							reason += loneSuffix + loneWhy(InjClass(c)) + "), no learned profile of the parameter yet"
						}
						f := InjFinding{InjMatch: InjMatch{Class: InjClass(c), Confidence: conf, Start: e.start, End: e.end, Reason: reason}, Name: p.Name, Loc: p.Loc(), Layers: d.Layers, Fragment: Fragment(d.Text, e.start, e.end), CRS: e.ids, part: pi, crsOnly: true, prose: prose == 1, lone: alone,
							fileOnly: p.Kind == PartPath && InjClass(c) == ClassPathTraversal && !anyRule(e.ids, traversalSeqRules)}
						res.inj[c] = &f
					}
				}
			}
			if !found && worthMemo {
				memo.put(&p, dec, dec64, isB64, &res.parts[pi])
			}
		}
	}
	if e != nil {
		s.shape(&res.parts[pi], &p, dec.Text, f, x)
	}
	// SSRF
	if p.Kind == PartXML || !ssrfChars || p.Kind == PartHeader && skipSSRFHeaders[p.Name] {
		return true
	}
	// Without ':', '/' or '\\' (and nothing decoded) a value is no URL and
	// names no scheme: only a bare host in a parameter named like a URL
	// can be a target (what judgeURLValue would conclude).
	if x&(vcURL|vcDecode) == 0 && !isB64 && !s.urlishName(p.Name) {
		return true
	}
	m, ok := judgeURLValue(dec.Text, false, p.Name, own)
	d := &dec
	if !ok && isB64 {
		m, ok = JudgeURLValue(dec64.Text, false, own)
		d = &dec64
	}
	if ok && m.Private && !ev.External {
		// an internal client naming an internal service (webhooks,
		// service registries): ordinary configuration, not SSRF
		ok = false
	}
	if ok && (res.ssrf == nil || m.Confidence > res.ssrf.Confidence) {
		res.ssrf = &ssrfFinding{SSRFMatch: m, Loc: p.Loc(), Layers: d.Layers, Fragment: Fragment(d.Text, 0, len(d.Text))}
	}
	return true
}

// shape records what the positive model sees of a decoded value.
func (s *requestScanner) shape(o *partObs, p *Part, text string, f byteSet, x uint8) {
	o.n = len(text)
	if text == p.Value {
		o.f, o.ascii = f, x&vcSpace == 0 || asciiOnly(p.Value)
	} else {
		o.f, o.ascii = scanBytes(text), asciiOnly(text)
	}
	o.typ = uint8(valueType(text))
}

func clipTrace(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

// crsOnlyPart runs the CRS rules on a user agent or protocol header.
func (s *requestScanner) crsOnlyPart(p Part) {
	if s.crs == nil || len(s.ignore) > 0 && s.ignore[strings.ToLower(p.Name)] {
		return
	}
	f, x := valueClasses(p.Value)
	pi := -1
	if p.Kind == PartPathPlain {
		// a plain path is learned like a parameter (the endpoint's paths),
		// and one that fits what was learned skips the rules (its only
		// rules are CRS's file-name rules, and its shape is the
		// endpoint's): the fit alone decides
		pi = len(s.res.parts)
		s.res.parts = append(s.res.parts, partObs{grp: uint8(profileGroup(p.Kind)), key: hashing.AddUint64(profileGroup(p.Kind), hashing.String(p.Name))})
		s.shape(&s.res.parts[pi], &p, p.Value, f, x)
		if s.fits != nil && s.fits(&s.res.parts[pi], false) {
			if s.trace != nil {
				s.trace(ValueTrace{Loc: p.Loc(), Text: clipTrace(p.Value), Skipped: "CRS rules not run: the value fits its parameter's learned profile"})
			}
			return
		}
	}
	if p.Kind == PartPathPlain {
		if m, ok := pathSystemFile(p.Value, asciiLower(p.Value)); ok {
			// a plain path has no decoding layer; the finding is a file
			// probe like CRS's file rules on the path (FileProbe)
			if s.trace != nil {
				s.trace(ValueTrace{Loc: p.Loc(), Text: clipTrace(p.Value), Structural: []string{m.Class.String() + " " + strconv.FormatFloat(m.Confidence, 'f', 2, 64) + " " + m.Reason}})
			}
			if b := s.res.inj[m.Class]; b == nil || b.Confidence < m.Confidence {
				s.res.inj[m.Class] = &InjFinding{InjMatch: m, Name: p.Name, Loc: p.Loc(), Fragment: Fragment(p.Value, m.Start, m.End), part: pi, fileOnly: m.FileProbe}
			}
			return
		}
	}
	if plainBytes(f, len(p.Value)) && x&vcDecode == 0 {
		return
	}
	// user agents and protocol headers repeat from request to request:
	// values no rule matched are remembered (direct-mapped by hash of the
	// header and value)
	h := hashing.Add(hashing.String(p.Name), p.Value) & 511
	if c := &s.cleanHdr[h]; len(p.Value) <= memoMaxValue && c.value == p.Value && c.name == p.Name {
		return
	}
	dec := DecodeLayers(p.Value)
	var ce [numInjClasses]crsEvidence
	if !s.crsMatch(p.Kind, p.Name, dec.Text, &ce) {
		if s.trace != nil {
			s.trace(ValueTrace{Loc: p.Loc(), Layers: dec.Layers, Text: clipTrace(dec.Text), Skipped: "protocol header or user agent: CRS rules only, none matched"})
		}
		if len(p.Value) <= memoMaxValue {
			// copies, not views of the record
			s.cleanHdr[h] = cleanHeader{name: strings.Clone(p.Name), value: strings.Clone(p.Value)}
		}
		return
	}
	if pi < 0 {
		pi = len(s.res.parts)
		s.res.parts = append(s.res.parts, partObs{grp: uint8(profileGroup(p.Kind)), key: hashing.AddUint64(profileGroup(p.Kind), hashing.String(p.Name)), f: scanBytes(dec.Text), ascii: asciiOnly(dec.Text), n: len(dec.Text), typ: uint8(valueType(dec.Text))})
	}
	syn := syntaxOf(dec.Text)
	prose := syn == 0 && isProse(dec.Text)
	var tr *ValueTrace
	if s.trace != nil {
		tr = &ValueTrace{Loc: p.Loc(), Layers: dec.Layers, Text: clipTrace(dec.Text), Skipped: "protocol header or user agent: CRS rules only"}
		defer func() { s.trace(*tr) }()
	}
	for c := range ce {
		e := &ce[c]
		if e.best == nil {
			continue
		}
		conf := crsConfidence(e, prose, syn&classSyntax(InjClass(c)), false) // headers: a lone PL2 rule is not enough (user agents, signatures)
		if conf == 0 && InjClass(c) == ClassPathTraversal && e.pl2 >= 5 && !prose && s.fileOutsideURLs(p, dec.Text) {
			// CRS 930121, the class's one paranoia-2 rule: a system file
			// named in the Referer or User-Agent, which carry a URL or
			// product tokens — outside any URL of the header (a page
			// called hosts.html is a Referer's business)
			conf = 0.6
		}
		if tr != nil {
			tr.CRS = append(tr.CRS, InjClass(c).String()+": "+crsIDs(s.crs, e.ids))
			tr.Verdict = append(tr.Verdict, InjClass(c).String()+": "+crsVerdict(e, conf, prose, false, syn))
		}
		if b := s.res.inj[c]; conf == 0 || b != nil && b.Confidence >= conf {
			continue
		}
		f := InjFinding{InjMatch: InjMatch{Class: InjClass(c), Confidence: conf, Start: e.start, End: e.end, Reason: crsReason(e)}, Name: p.Name, Loc: p.Loc(), Layers: dec.Layers, Fragment: Fragment(dec.Text, e.start, e.end), CRS: e.ids, part: pi, crsOnly: true, fileOnly: p.Kind == PartPathPlain}
		s.res.inj[c] = &f
	}
}

// fileOutsideURLs: the class's CRS rules still match text once the
// white-space separated tokens holding a URL are taken out of it (the
// phrase rules do not say where they matched).
func (s *requestScanner) fileOutsideURLs(p Part, text string) bool {
	if !strings.Contains(text, "://") {
		return true
	}
	var b strings.Builder
	for _, tok := range strings.Fields(text) {
		if !strings.Contains(tok, "://") {
			b.WriteString(tok)
			b.WriteByte(' ')
		}
	}
	var ce [numInjClasses]crsEvidence
	return s.crsMatch(p.Kind, p.Name, b.String(), &ce) && ce[ClassPathTraversal].pl2 >= 5
}

// inspectPart decodes one value and runs the matchers on each variant.
func inspectPart(p Part, fn func(InjFinding)) {
	rounds := 0
	if p.URLDecoded {
		rounds = 1
	}
	dec := decodeLayers(p.Value, rounds)
	run := func(text string, layers []string) {
		for _, m := range MatchInjection(p.Kind, text) {
			fn(InjFinding{InjMatch: m, Loc: p.Loc(), Layers: layers, Fragment: Fragment(text, m.Start, m.End)})
		}
	}
	run(dec.Text, dec.Layers)
	if b, ok := DecodeBase64Text(strings.TrimSpace(p.Value)); ok {
		d2 := DecodeLayers(b)
		run(d2.Text, append([]string{LayerBase64}, d2.Layers...))
	}
}

// Observe implements Detector.
func (d *Injection) Observe(ev *event.Event, out *Emitter) {
	if ev.Outbound || ev.Rec == nil {
		return
	}
	for _, f := range d.Inspect(ev) {
		ep := ev.Endpoint
		layers := "none"
		if len(f.Layers) > 0 {
			layers = strings.Join(f.Layers, ",")
		}
		if ev.RequestCoding != "" && bodyLoc(f.Loc) {
			// the layers the enricher undid on the body (chunked framing,
			// content codings, a charset) come first
			if layers == "none" {
				layers = ev.RequestCoding
			} else {
				layers = ev.RequestCoding + "," + layers
			}
		}
		// one paranoia-2 rule alone, cold: medium (a later stronger hit of
		// the alert raises it); every other finding: the type's high
		sev := model.SevHigh
		if f.lone {
			sev = model.SevMedium
		}
		out.Emit(Hit{
			Type: injectionTypes[f.Class], Time: ev.Time, Confidence: f.Confidence, Severity: sev, Client: sigClient(ev),
			Identity: sigIdentity(ev), Endpoint: &ep,
			Evidence: model.Evidence{
				Observed: f.Confidence,
				Reason:   f.Reason + " in " + f.Loc,
				Details:  map[string]any{"location": f.Loc, "decoding": layers, "fragment": f.Fragment, "match": f.Reason},
			},
			Sample: sigSample(ev, f.Loc+": "+f.Fragment),
		})
	}
}

// bodyLoc: a finding's location is in the request body (the whole body,
// a JSON member, a form or multipart field, XML text).
func bodyLoc(loc string) bool {
	for _, p := range []string{"body", "form:", "form-name:", "multipart:", "multipart-filename:"} {
		if strings.HasPrefix(loc, p) {
			return true
		}
	}
	return false
}

// Fragment returns the matched part of a decoded value for evidence: at
// most 80 characters, control characters escaped, credentials masked.
func Fragment(text string, start, end int) string {
	frag := fragmentSpan(text, start, end)
	if len(frag) <= 80 && printableASCII(frag) {
		// nothing to escape or clip: a copy (not a view of the record)
		return strings.Clone(frag)
	}
	return escapeFragment(frag)
}

// fragmentSpan is text[start:end], the bounds clamped and the start moved
// back to a rune start, with credentials masked.
func fragmentSpan(text string, start, end int) string {
	if start < 0 {
		start = 0
	}
	if end > len(text) || end <= start {
		end = len(text)
	}
	if start > len(text) {
		start = len(text)
	}
	for start > 0 && start < len(text) && !utf8.RuneStart(text[start]) {
		start--
	}
	return RedactSecrets(text[start:end])
}

// escapeFragment clips frag to 80 characters and escapes control
// characters and invalid bytes.
func escapeFragment(frag string) string {
	var b strings.Builder
	n := 0
	for _, r := range frag {
		if n >= 80 {
			b.WriteString("…")
			break
		}
		switch {
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\t':
			b.WriteString(`\t`)
		case r < 0x20 || r == 0x7f:
			b.WriteString(`\x` + strconv.FormatInt(int64(r), 16))
		case r == utf8.RuneError:
			b.WriteString("?")
		default:
			b.WriteRune(r)
		}
		n++
	}
	return b.String()
}

// printableASCII: s is made of bytes 0x20–0x7e only.
func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// RedactSecrets masks credentials in evidence text (classify.RedactCredentials).
func RedactSecrets(s string) string { return classify.RedactCredentials(s) }

// sigSample builds a redacted sample of the request for signature alerts:
// scheme, host and path (clipped), query names with values masked.
func sigSample(ev *event.Event, note string) *model.Sample {
	var b strings.Builder
	b.WriteString(ev.Scheme)
	b.WriteString("://")
	b.WriteString(ev.Host)
	p := ev.Path
	if len(p) > 200 {
		p = p[:200] + "…"
	}
	b.WriteString(p)
	if len(ev.Query) > 0 {
		names := make([]string, 0, len(ev.Query))
		for k := range ev.Query {
			names = append(names, k)
		}
		sort.Strings(names)
		for i, k := range names {
			if i == 0 {
				b.WriteByte('?')
			} else {
				b.WriteByte('&')
			}
			if len(k) > 40 {
				k = k[:40] + "…"
			}
			b.WriteString(url.QueryEscape(k))
			b.WriteString("=*")
		}
	}
	return &model.Sample{Time: ev.Time, Method: ev.Method, URL: b.String(), Status: ev.Status, Client: sigClient(ev), Note: note}
}

func sigClient(ev *event.Event) string {
	if ev.ClientIP.IsValid() {
		return ev.ClientIP.String()
	}
	if ev.Rec != nil {
		return ev.Rec.Client.IP
	}
	return ""
}

func sigIdentity(ev *event.Event) *model.IdentityRef {
	id := ev.Identity()
	if id == nil {
		return nil
	}
	return &model.IdentityRef{ID: id.ID, Kind: id.Kind, Name: id.Name}
}
