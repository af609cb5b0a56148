package detect

import (
	"errors"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/palisade-sec/palisade/internal/event"
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
	RegisterOptions("injection", func() FamilyOptions { return &injectionOptions{MinConfidence: 0.5} })
}

// partOptions bound what a request-inspecting family reads of a request
// (0 = the built-in limit).
type partOptions struct {
	MaxBody  int `yaml:"max_body" doc:"bytes of request body inspected; 0 = 262144"`
	MaxParts int `yaml:"max_parts" doc:"values inspected per request; 0 = 512"`
	MaxValue int `yaml:"max_value" doc:"bytes inspected per value; 0 = 32768"`
}

func (p partOptions) limits() PartLimits {
	return PartLimits(p)
}

// injectionOptions are the injection family's options.
type injectionOptions struct {
	Limits        partOptions `yaml:",inline"`
	MinConfidence float64     `yaml:"min_confidence" doc:"matches below this confidence are not reported"`
	IgnoreFields  []string    `yaml:"ignore_fields" doc:"parameter, field or header names whose values are not judged (e.g. sql on a reporting API that takes SQL)"`
}

// Validate implements config.Validator.
func (o *injectionOptions) Validate() error {
	return atMostOne(errors.Join(checkOptions(&o.Limits), checkOptions(o)), map[string]float64{"min_confidence": o.MinConfidence})
}

// Injection is the injection detector.
type Injection struct {
	lim       PartLimits
	minConf   float64
	ignore    map[string]bool
	ignoreKey string
	Stats     PartStats
	keyed
	scanner requestScanner
}

// NewInjection returns the detector with options from cfg.
func NewInjection(c Config) *Injection {
	o := optionsFor[*injectionOptions](c, "injection")
	d := &Injection{lim: o.Limits.limits(), minConf: o.MinConfidence}
	for _, n := range o.IgnoreFields {
		d.ignore = appendSet(d.ignore, n)
	}
	if len(d.ignore) > 0 {
		names := make([]string, 0, len(d.ignore))
		for n := range d.ignore {
			names = append(names, n)
		}
		sort.Strings(names)
		d.ignoreKey = strings.Join(names, "\x00")
	}
	return d
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
}

// Inspect returns the strongest finding per class in the event's request,
// ordered by class.
func (d *Injection) Inspect(ev *event.Event) []InjFinding {
	d.begin(ev)
	sc := scanShared(d.keys, &d.scanner, ev, d.lim, d.ignoreKey, d.ignore, false)
	d.Stats.add(sc.stats)
	var out []InjFinding
	for _, b := range sc.inj {
		if b != nil && b.Confidence >= d.minConf {
			out = append(out, *b)
		}
	}
	return out
}

// requestScan is one walk over a request's values serving both the
// injection and the SSRF families (the walk and the decoding dominate
// their cost, so they share it).
type requestScan struct {
	inj   [numInjClasses]*InjFinding
	ssrf  *ssrfFinding
	stats PartStats
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

func (m *valueMemo) put(p *Part, dec, dec64 Decoded, isB64 bool) {
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
	m.m[v] = &memoEntry{kind: p.Kind, decoded: p.URLDecoded, dec: dec, dec64: dec64, isB64: isB64}
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
}

// base64Text is DecodeBase64Text(v), skipping values it rejected lately.
func (s *requestScanner) base64Text(v string) (string, bool) {
	if len(v) < 8 {
		return "", false // what DecodeBase64Text answers
	}
	i := hashString(v) & 255
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
	s.res = requestScan{}
	s.ev, s.ignore = ev, ignore
	if ev.Host != s.host { // the host without its port, for the last host seen
		s.host, s.hostOwn = ev.Host, ev.Host
		if i := strings.LastIndexByte(s.hostOwn, ':'); i >= 0 && !strings.HasSuffix(s.hostOwn, "]") {
			s.hostOwn = s.hostOwn[:i]
		}
	}
	s.own = s.hostOwn
	requestPartsTo(ev, lim, &s.res.stats, s, keys)
	s.ev, s.ignore = nil, nil
	return &s.res
}

// part judges one value (the part walker's sink).
func (s *requestScanner) part(p Part) bool {
	res, own, ignore, memo, ev := &s.res, s.own, s.ignore, &s.memo, s.ev
	if p.Kind == PartUserAgent {
		return true // the user-agent family judges it (exploits in UA included)
	}
	var dec, dec64 Decoded
	var isB64 bool
	judge := len(ignore) == 0 || !ignore[strings.ToLower(p.Name)]
	f, x := valueClasses(p.Value)
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
		if judge {
			found := false
			for _, d := range []*Decoded{&dec, &dec64} {
				if d.Text == "" {
					continue
				}
				var ms []InjMatch
				if d == &dec && d.Text == p.Value {
					ms = matchInjection(p.Kind, d.Text, f)
				} else {
					ms = MatchInjection(p.Kind, d.Text)
				}
				for _, m := range ms {
					found = true
					f := InjFinding{InjMatch: m, Name: p.Name, Loc: p.Loc(), Layers: d.Layers, Fragment: Fragment(d.Text, m.Start, m.End)}
					if b := res.inj[f.Class]; b == nil || f.Confidence > b.Confidence {
						res.inj[f.Class] = &f
					}
				}
			}
			if !found && worthMemo {
				memo.put(&p, dec, dec64, isB64)
			}
		}
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
		out.Emit(Hit{
			Type: f.Class.AlertType(), Time: ev.Time, Confidence: f.Confidence, Client: sigClient(ev),
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

// Fragment returns the matched part of a decoded value for evidence: at
// most 80 characters, control characters escaped, credentials masked.
func Fragment(text string, start, end int) string {
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
	frag := text[start:end]
	frag = RedactSecrets(frag)
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

var (
	reJWT        = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*\.?[A-Za-z0-9_-]*`)
	reBearer     = regexp.MustCompile(`(?i)(bearer|basic)\s+[A-Za-z0-9._~+/=-]{6,}`)
	reKV         = regexp.MustCompile(`(?i)((?:pass(?:word|wd)?|pwd|secret|token|api[_-]?key|apikey|auth|session|credential|private[_-]?key)["']?\s*[:=]\s*["']?)([^\s"'&,;}]{3,})`)
	reUserinfo   = regexp.MustCompile(`(?i)([a-z][a-z0-9+.-]*://[^/\s:@]*:)[^@/\s]+@`)
	reLongSecret = regexp.MustCompile(`\b(?:sk|pk|rk|ghp|gho|xox[abpr]|AKIA|AIza)[A-Za-z0-9_-]{12,}`)
)

// RedactSecrets masks credentials in evidence text: JWTs, bearer/basic
// credentials, password/token/key assignments, URL user info passwords and
// well-known key prefixes.
func RedactSecrets(s string) string {
	if len(s) < 8 {
		return s
	}
	s = reJWT.ReplaceAllString(s, "eyJ…[jwt]")
	s = reBearer.ReplaceAllString(s, "$1 ****")
	s = reKV.ReplaceAllString(s, "${1}****")
	s = reUserinfo.ReplaceAllString(s, "${1}****@")
	s = reLongSecret.ReplaceAllStringFunc(s, func(m string) string { return m[:4] + "****" })
	return s
}

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
