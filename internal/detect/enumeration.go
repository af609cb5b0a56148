package detect

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/palisade-sec/palisade/internal/alert"
	"github.com/palisade-sec/palisade/internal/config"
	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/hashing"
	"github.com/palisade-sec/palisade/internal/model"
)

// Family "enumeration": bola.param_enumeration (fast and slow variants)
// and bola.distributed_param_enumeration.
//
// Object identifiers are the values of templated path segments and of query
// parameters named like identifiers (id, *_id, *Id, uuid, guid, …) whose
// values look like identifiers (numbers, UUIDs, hex, short alphanumerics
// with digits). Pagination and search parameters (page, offset, cursor,
// limit, q, sort, …) are never identifiers.
//
// Subjects are principals when the request is authenticated (one identity
// on rotating IPs stays one subject; many users behind one NAT stay apart)
// and client IPs for anonymous traffic. Per (subject, endpoint, parameter),
// distinct values are counted in two tumbling windows: fast (20 min) and
// slow (6 h). A subject fires when its distinct count exceeds
//
//	max(abs_fast|abs_slow, peer_factor · p99 of its peers, own_factor · own max)
//
// where peers are the per-window counts of the other subjects on the same
// endpoint and parameter — the subject's role group (JWT roles/scopes) when
// that group has enough history, else everybody — so clinicians opening many
// records at shift start set the bar for each other; and "own max" is the
// subject's own largest past window, so a service account that has always
// walked every object is normal for itself. Nothing fires before the
// endpoint's peer baseline has peer_gate closed windows (default 30).
//
// Distributed: per (endpoint, parameter) and fast window, HyperLogLog
// counts of distinct values and subjects; fires when distinct values exceed
// max(dist_abs, mean + k·sd, ratio·mean) of the parameter's EWMA, spread
// over at least dist_min_subjects subjects with no single subject holding
// half of them, and swarm-like — ≥ 20 % of the requests answered 4xx
// (probing ids that do not exist), or twice as many client addresses as
// principals (credentials rotated over proxies), or mostly new anonymous
// clients — after dist_gate windows of history. A shift start (known staff
// on their own addresses opening records that exist) is none of these.
// The slow variant, until 10 slow windows of peers closed, uses 4 × the
// fast windows' p99 as its peer baseline. End-user role groups (customer,
// patient, …) are also judged as crowds: a group new to the parameter, or
// one whose objects are owned within it, whose members together open far
// more identifiers, several each, than it does (groupCrowd).
//
// Learning (readiness) and cold start: the fast variant's peers need
// peer_gate (30) closed windows on the endpoint and parameter. Before,
// it fires only on population-free evidence: more than
// max(abs_fast, peer_factor × the largest window of another subject so far,
// own_factor × own max) distinct identifiers with at least cold_errors
// (20 %) of the window's requests refused or not found (a walk through
// identifiers that do not exist or are not the subject's) — a service
// account reading objects that exist stays quiet until its peers are
// known; the slow variant is judged under the same rule (a walk under
// the fast floor on an endpoint too quiet for its peers). The distributed
// variant's EWMA needs dist_gate (6) windows; before, the bar is dist_abs
// and only the failure and address-rotation swarm signs count (every
// subject is new in a young capture, so newness says nothing). The slow
// variant's peers need 10 slow windows (4 × the fast peers' p99 before);
// the hour-of-day bar needs hour_min windows at the hour (a day); the
// ownership hint needs owned_min repeat uses.
//
// Memory: per (subject, endpoint, parameter) ≈ 1,030 bytes (two windows,
// each with a 128-byte linear counter and a 137-byte address tally; 168
// bytes of familiar addresses) — at most Config.MaxTrackedClients +
// Config.MaxTrackedIdentities entries (default 100,000 ≈ 110 MB), LRU; per
// (endpoint, parameter[, role group]) 2–4 DDSketches (+ ≈ 90 bytes of
// the group's crowd state) + 4 HLLs (the
// distributed variant's tumbling and shifted windows; sparse: a few
// hundred bytes, dense: 16 KB) + up to 16 KB of active-subject keys +
// 2 × (512 bytes of recently counted value hashes + 256 bytes of subject
// and address counters) — at most max_params (default 20,000).

func init() {
	Register("enumeration", func(cfg Config) Detector { return newEnumeration(cfg) })
	RegisterOptions("enumeration", func() FamilyOptions { return defaultEnumerationOptions() })
}

// enumerationOptions are the enumeration family's options (detect.options.enumeration).
type enumerationOptions struct {
	FastWindow      config.Duration `yaml:"fast_window" doc:"window of the fast variant (distinct identifiers per subject, endpoint and parameter)"`
	SlowWindow      config.Duration `yaml:"slow_window" doc:"window of the slow variant"`
	AbsFast         float64         `yaml:"abs_fast" doc:"absolute floor of the fast variant (distinct identifiers per window)"`
	AbsSlow         float64         `yaml:"abs_slow" doc:"absolute floor of the slow variant"`
	PeerFactor      float64         `yaml:"peer_factor" doc:"fires above peer_factor × the p99 of peers' windows"`
	OwnFactor       float64         `yaml:"own_factor" doc:"fires above own_factor × the subject's own largest window"`
	PeerGate        float64         `yaml:"peer_gate" doc:"closed peer windows on the endpoint and parameter before the peer bound applies"`
	DistAbs         float64         `yaml:"dist_abs" doc:"absolute floor of the distributed variant (distinct identifiers per endpoint and parameter per fast window)"`
	DistK           float64         `yaml:"dist_k" doc:"the distributed variant is above mean + dist_k·sd"`
	DistRatio       float64         `yaml:"dist_ratio" doc:"the distributed variant is above dist_ratio × the mean"`
	DistGate        int             `yaml:"dist_gate" doc:"windows of history before the distributed variant can fire"`
	DistMinSubjects float64         `yaml:"dist_min_subjects" doc:"subjects the distributed variant must be spread over"`
	MaxParams       int             `yaml:"max_params" doc:"(endpoint, parameter) pairs tracked (LRU)"`
	MaxSubjects     int             `yaml:"max_subjects" doc:"subjects tracked (LRU); 0 = max_tracked_clients + max_tracked_identities when those are set, else 100,000"`
	AbsSlowOwned    float64         `yaml:"abs_slow_owned" doc:"absolute floor of the slow variant on endpoints whose objects are owned (each used by one principal)"`
	OwnedShare      float64         `yaml:"owned_share" doc:"an endpoint's objects are owned when at most this share of repeat uses came from another principal"`
	OwnedMin        float64         `yaml:"owned_min" doc:"repeat uses of an endpoint's objects before ownership is judged"`
	OwnedPeriods    int             `yaml:"owned_periods" doc:"distinct slow windows (periods) the slow peers must come from before abs_slow_owned applies: the first night's windows alone say nothing of the day"`
	MaxValues       int             `yaml:"max_values" doc:"(parameter, value) ownership entries tracked (LRU)"`
	HourFactor      float64         `yaml:"hour_factor" doc:"with a day of history the distributed variant is above hour_factor × this hour's largest window"`
	HourMin         int             `yaml:"hour_min" doc:"windows of history at an hour of the day before the hour's record applies"`
	DistAbsHourly   float64         `yaml:"dist_abs_hourly" doc:"absolute floor of the distributed variant once the hour of day has its history, for a window above hour_factor × the hour's record with a strong swarm sign (≥ 20 % 4xx, or twice as many addresses as principals), or above dist_far × the hour's record"`
	DistFar         float64         `yaml:"dist_far" doc:"with the hour's history, a window this many times the hour's record needs only dist_abs_hourly distinct identifiers"`
	FreshReads      float64         `yaml:"fresh_reads" doc:"with the hour's history, a crowd of at least dist_min_subjects subjects new to the endpoint, each opening at least this many distinct identifiers on average, is judged against the hour's newcomers (see the fresh crowd in docs/detection-anomalies.md)"`
	ColdErrors      float64         `yaml:"cold_errors" doc:"before peer_gate peer windows, a walk is judged only when at least this share of its requests were refused or not found"`
	ForeignMin      float64         `yaml:"foreign_min" doc:"an end user's slow window is judged against abs_slow_owned before the slow peers span owned_periods when at least this many of its requests, and foreign_share of them, opened objects another principal used first (see end users past their own objects)"`
	ForeignShare    float64         `yaml:"foreign_share" doc:"see foreign_min"`
}

func defaultEnumerationOptions() *enumerationOptions {
	return &enumerationOptions{
		FastWindow:      config.Duration(20 * time.Minute),
		SlowWindow:      config.Duration(6 * time.Hour),
		AbsFast:         40,
		AbsSlow:         200,
		PeerFactor:      3,
		OwnFactor:       1.5,
		PeerGate:        30,
		DistAbs:         300,
		DistK:           6,
		DistRatio:       4,
		DistGate:        6,
		DistMinSubjects: 10,
		MaxParams:       20000,
		MaxSubjects:     0,
		AbsSlowOwned:    30,
		OwnedShare:      0.2,
		OwnedMin:        50,
		OwnedPeriods:    2,
		MaxValues:       200000,
		HourFactor:      1.5,
		HourMin:         3,
		DistAbsHourly:   100,
		DistFar:         4,
		ColdErrors:      0.2,
		FreshReads:      3,
		ForeignMin:      3,
		ForeignShare:    0.05,
	}
}

// Validate implements config.Validator.
func (o *enumerationOptions) Validate() error {
	return atMostOne(checkOptions(o), map[string]float64{"owned_share": o.OwnedShare, "cold_errors": o.ColdErrors})
}

type enumDetector struct {
	endUsers endUsers // the end-user role vocabulary (Config.EndUserRoles)
	keyed
	// withheld counts closed windows not learned because they looked like
	// a walk (walkLike)
	withheld                  int64
	fast, slow                time.Duration
	absFast, absSlow          float64
	peerFactor, ownFactor     float64
	peerGate                  float64
	distAbs, distK, distRatio float64
	distGate                  uint32
	distMinSubj               float64
	absSlowOwned              float64 // slow floor on endpoints whose objects are owned
	foreignMin, foreignShare  float64
	ownedShare, ownedMin      float64
	hourFactor                float64
	distAbsHourly, distFar    float64
	ownedPeriods              uint16
	hourMin                   uint16
	coldErrors                float64
	freshReads                float64
	readyFast, readySlow      readyMark
	readyDist, readyHour      readyMark
	readyOwned                readyMark
	now                       time.Time
	subjects                  *lru[enumSubject]
	// owners: per (parameter, value) the first principal that used it and
	// whether another one did since (the ownership hint).
	owners   *lru[valueOwner]
	params   *lru[enumParam]
	groups   *lru[enumGroup]
	scratch  []idParam
	ownQuery []queryParam // query list without an engine
	// names caches, per parameter name, whether it can name an object
	// (bit 0: as a path parameter, bit 1: as a query parameter); names are
	// few, and lower-casing them allocated on every request. Bounded.
	names map[string]uint8
}

const (
	nameChecked = 1 << 2
	namePathID  = 1 << 0
	nameQueryID = 1 << 1
)

// nameKind returns the identifier bits of a parameter name (cached).
func (d *enumDetector) nameKind(name string) uint8 {
	if b, ok := d.names[name]; ok {
		return b
	}
	b := uint8(nameChecked)
	if !notIdentifiers[strings.ToLower(name)] {
		b |= namePathID
	}
	if idLikeName(name) {
		b |= nameQueryID
	}
	if d.names == nil || len(d.names) >= 4096 {
		d.names = make(map[string]uint8, 64)
	}
	d.names[strings.Clone(name)] = b
	return b
}

// groupReuse says whether a request reused an identifier first used in
// its principal's role group, and by whom (the ownership hint within the
// group, counted in subject where the group is at hand).
type groupReuse uint8

const (
	reuseNone  groupReuse = iota
	reuseOwn              // by the identifier's first user
	reuseOther            // by another member of the group
)

// valueOwner is the ownership hint of one object identifier.
type valueOwner struct {
	subj  uint64
	group uint64 // the first principal's role group on the parameter (enumSubject.gk)
	multi bool
}

type idParam struct {
	name, in, value string
}

type enumGroup struct {
	fastDist, slowDist quantiles
	// Contemporaneous peers: subjects active in the current fast window and
	// the distinct identifiers they requested in it, and their requests.
	w              int64
	active, sum, n float64
	// The end-user crowd (groupCrowd): whether every role of the group
	// names an end user, the largest sum of a closed window and the
	// closed windows with members active, and the repeat uses of
	// identifiers by the group's members and those by another member than
	// the identifier's first user in the group (ownership within it).
	endUser         bool
	born            int64 // the fast window the group was first seen in on the parameter
	rec             float64
	wins            float64
	revisits, cross float64
	fire            fireState
	// top: the members' largest closed fast windows (coldPeer,
	// pastOwnObjects).
	top topTwo
}

type enumWin struct {
	idx  int64
	rep  float64 // requests already reported
	vals linCounter
	n    float64 // requests
	errs float64 // 4xx responses
	// foreign: requests for objects that, until then, exactly one other
	// principal had used (another's object: the ownership hint).
	foreign float64
	fire    fireState
	est     float64
	hit     *Hit // last report of a fired window, reused for its remainder
	// addrs are the client addresses of the window's requests (an alert
	// names the addresses of its own evidence, not the subject's first).
	addrs addrTally
	// fresh counts the requests from addresses new to the principal.
	fresh freshCount
	// folded: the window was fed into the peer baselines (by the subject's
	// own roll, by its parameter's roll, or at eviction) — exactly once.
	folded bool
	// ids samples the identifiers the window requested once it reached
	// half its absolute floor (nil before: windows of ordinary use hold
	// nothing), for the evidence.
	ids *idSample
}

// idSample keeps the first maxIDSample distinct identifiers of a window
// from the moment it became suspicious, and the range of the numeric ones.
type idSample struct {
	vals     []string
	min, max int64
	numeric  int
}

const maxIDSample = 8

func (s *idSample) add(v string) {
	if len(s.vals) < maxIDSample {
		s.vals = append(s.vals, strings.Clone(v))
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s.numeric == 0 || n < s.min {
			s.min = n
		}
		if s.numeric == 0 || n > s.max {
			s.max = n
		}
		s.numeric++
	}
}

// evidence adds the sample to an alert's details.
func (s *idSample) evidence(d map[string]any) {
	if s == nil || len(s.vals) == 0 {
		return
	}
	d["ids_sample"] = append([]string(nil), s.vals...)
	if s.numeric >= 2 {
		d["id_range"] = strconv.FormatInt(s.min, 10) + "–" + strconv.FormatInt(s.max, 10)
	}
}

type enumSubject struct {
	pk, gk     uint64 // parameter key and role-group peer key
	fast, slow enumWin
	ownFast    float64 // largest closed fast window
	ownSlow    float64
	fastInSlow int64 // slow window index in which the fast variant fired (+1)
	key        uint64
	born       int64 // fast window index of the subject's first request
	ips        lin256
	byIdentity bool // the subject is an authenticated principal
	// known: the addresses of the subject's earlier quiet fast windows, so
	// that an alert can mark the addresses new to it (principals only).
	known familiar
}

type enumParam struct {
	ref      model.EndpointRef
	name, in string
	first    time.Time
	fastDist quantiles
	slowDist quantiles
	// The largest fast window folded by each of two subjects: before
	// peer_gate, the bar is relative to the largest window of the others —
	// a subject's own first window is not its peer.
	top topTwo
	// The distributed variant's fast window, and the same window shifted
	// by half its length: an attack of 1–1.5 windows that straddles two
	// tumbling windows lies whole, or for at least two thirds, in one of
	// the shifted ones. Baselines learn from cur only.
	cur, half distWin
	// Requests to the parameter counted by the distributed variant (seq),
	// and the last of them an alert of either series counted (repSeq): the
	// two series overlap, and a request reported by one is not counted
	// again by the other.
	seq, repSeq uint64
	// Subjects active in the current fast / slow window, folded into the
	// peer baselines when the parameter's window rolls (most subjects never
	// return, so their own roll would never come). Bounded: at most
	// maxActive keys each; beyond that the window's subjects are sampled.
	activeFast, activeSlow []uint64
	sw                     int64
	base                   ewstat
	// Ownership: repeat uses of a value, and those by another principal
	// than its first user. A low cross share means the endpoint's objects
	// belong to one principal each (orders, profiles, accounts), where one
	// principal walking many is suspect; a high one means shared objects
	// (products, wards' patients).
	revisits, cross float64
	// Hour-of-day baseline: the largest closed fast window and the number
	// of windows seen, per hour of the day (UTC) the window started in.
	hodMax [24]float32
	hodN   [24]uint16
	// and the largest youngObj of a closed fast window per hour of the day
	hodYoung [24]float32
	// The slow peer windows' distinct periods (slow window indexes) and
	// the latest of them: peers of one period (the first night) say
	// nothing of the morning.
	slowLast    int64
	slowPeriods uint16
}

// distWin counts one window of the distributed variant for an (endpoint,
// parameter).
type distWin struct {
	w       int64
	start   uint64 // the parameter's seq before the window's first request
	lastSeq uint64 // the parameter's seq at the window's last request
	vals    distinct
	recent  recentHashes // values added to vals lately (repeats skip the sketch)
	subj    linCounter   // distinct subjects in the window (≤ ~1,500 accurate; saturation only raises the count)
	ips     linCounter   // distinct client IPs in the window
	n       float64
	maxSubj float64
	young   float64 // requests from subjects first seen in this or the previous fast window
	// youngObj: requests from such subjects that opened an identifier new
	// to the subject's own fast window — the objects a crowd of newcomers
	// read, summed per subject; youngSubj: those subjects
	youngObj  float64
	youngSubj linCounter
	anon      float64 // anonymous requests
	errs      float64 // 4xx responses
	nextEval  float64 // request count at which the HLLs are next estimated
	evalN     float64 // request count at the last estimate
	fire      fireState
	last      time.Time
	hit       *Hit
}

// reset starts window idx after request seq; the fire state is kept (it
// names its window).
func (w *distWin) reset(idx int64, seq uint64) {
	w.start, w.lastSeq = seq, seq
	w.w, w.n, w.young, w.anon, w.errs, w.maxSubj, w.hit, w.nextEval, w.evalN = idx, 0, 0, 0, 0, 0, nil, 0, 0
	w.youngObj = 0
	w.youngSubj.reset()
	w.vals.reset()
	w.recent = recentHashes{}
	w.subj.reset()
	w.ips.reset()
}

// topTwo keeps the largest value (v[0], of subject k) and the largest
// of any other subject (v[1]): 24 bytes.
type topTwo struct {
	v [2]float64
	k uint64
}

// add records value v of subject k.
func (t *topTwo) add(k uint64, v float64) {
	switch {
	case k == t.k:
		t.v[0] = fmax(t.v[0], v)
	case v > t.v[0]:
		t.v[1], t.v[0], t.k = t.v[0], v, k
	default:
		t.v[1] = fmax(t.v[1], v)
	}
}

// other is the largest value of a subject other than k.
func (t *topTwo) other(k uint64) float64 {
	if k == t.k {
		return t.v[1]
	}
	return t.v[0]
}

// peerMax is the largest fast window folded by a subject other than k.
func (p *enumParam) peerMax(k uint64) float64 { return p.top.other(k) }

// tumblingFired reports whether a tumbling window under the current
// shifted one fired (the current or the one before): the shifted window
// reports only what the tumbling ones did not.
func (p *enumParam) tumblingFired() bool {
	return p.cur.fire.firedIn(p.cur.w) || p.cur.fire.firedIn(p.cur.w-1)
}

// owned reports whether the parameter's objects look owned (one principal
// each), with enough repeat uses to say.
func (d *enumDetector) owned(par *enumParam) bool {
	return par.revisits >= d.ownedMin && par.cross <= d.ownedShare*par.revisits
}

func newEnumeration(cfg Config) *enumDetector {
	o := optionsFor[*enumerationOptions](cfg, "enumeration")
	d := &enumDetector{
		endUsers:      newEndUsers(cfg),
		fast:          o.FastWindow.D(),
		slow:          o.SlowWindow.D(),
		absFast:       o.AbsFast,
		absSlow:       o.AbsSlow,
		peerFactor:    o.PeerFactor,
		ownFactor:     o.OwnFactor,
		peerGate:      o.PeerGate,
		distAbs:       o.DistAbs,
		distK:         o.DistK,
		distRatio:     o.DistRatio,
		distGate:      uint32(o.DistGate),
		distMinSubj:   o.DistMinSubjects,
		absSlowOwned:  o.AbsSlowOwned,
		ownedShare:    o.OwnedShare,
		ownedMin:      o.OwnedMin,
		hourFactor:    o.HourFactor,
		distAbsHourly: o.DistAbsHourly,
		distFar:       o.DistFar,
		ownedPeriods:  uint16(o.OwnedPeriods),
		hourMin:       uint16(o.HourMin),
		coldErrors:    o.ColdErrors,
		freshReads:    o.FreshReads,
		foreignMin:    o.ForeignMin,
		foreignShare:  o.ForeignShare,
	}
	subjCap := o.MaxSubjects
	if subjCap == 0 {
		subjCap = cfg.MaxTrackedClients + cfg.MaxTrackedIdentities
	}
	d.subjects = newLRU[enumSubject](capOr(subjCap, 100000))
	d.params = newLRU[enumParam](o.MaxParams)
	d.groups = newLRU[enumGroup](o.MaxParams)
	d.owners = newLRU[valueOwner](o.MaxValues)
	d.subjects.OnEvict = func(_ uint64, s *enumSubject) { d.foldFast(s); d.foldSlow(s) }
	return d
}

func (d *enumDetector) Name() string { return "enumeration" }

// maxActive bounds the per-parameter lists of subjects active in the
// current window (8 bytes each).
const maxActive = 1024

// pagingParams are query parameter names that page through or order a
// list (lower case).
var pagingParams = map[string]bool{
	"page": true, "pagenum": true, "page_number": true, "pagenumber": true, "offset": true, "cursor": true, "limit": true,
	"per_page": true, "perpage": true, "pagesize": true, "page_size": true, "size": true, "count": true, "start": true,
	"skip": true, "take": true, "top": true, "after": true, "before": true, "next": true, "prev": true, "previous": true,
	"sort": true, "sort_by": true, "order": true, "orderby": true,
	"continuation": true, "continuationtoken": true, "next_token": true, "nexttoken": true, "page_token": true, "pagetoken": true,
}

// notIdentifiers are the other parameter names that search, filter or
// format rather than name an object (besides pagingParams).
var notIdentifiers = map[string]bool{
	"since": true, "until": true, "from": true, "to": true,
	"q": true, "query": true, "search": true, "filter": true, "fields": true, "lang": true, "locale": true,
	"format": true, "v": true, "version": true, "ts": true, "timestamp": true, "_": true, "cb": true,
}

func idLikeName(name string) bool {
	n := strings.ToLower(name)
	if notIdentifiers[n] || pagingParams[n] {
		return false
	}
	switch {
	case n == "id", strings.HasSuffix(n, "_id"), strings.HasSuffix(n, "-id"), strings.HasSuffix(n, "id") && len(n) > 2 && name[len(name)-2] == 'I',
		strings.HasSuffix(n, "ids"), strings.Contains(n, "uuid"), strings.Contains(n, "guid"):
		return true
	}
	switch n {
	case "user", "account", "customer", "order", "invoice", "patient", "record", "doc", "document", "file", "object", "item", "uid", "pid", "oid":
		return true
	}
	return false
}

// idLikeValue accepts numbers, UUIDs, hex and short alphanumerics that
// contain a digit (order numbers like "INV-2024-0042").
func idLikeValue(v string) bool {
	if v == "" || len(v) > 64 {
		return false
	}
	digit := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c >= '0' && c <= '9':
			digit = true
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '-', c == '_', c == '.', c == ':':
		default:
			return false
		}
	}
	return digit || looksUUID(v)
}

func (d *enumDetector) idParams(ev *event.Event) []idParam {
	ps := d.scratch[:0]
	for _, p := range ev.PathParams {
		if d.nameKind(p.Name)&namePathID != 0 && idLikeValue(p.Value) {
			ps = append(ps, idParam{p.Name, "path", p.Value})
		}
	}
	if len(ev.Query) > 0 {
		for _, q := range d.keys.query(ev, &d.ownQuery) { // sorted by name
			if len(q.vals) > 0 && d.nameKind(q.name)&nameQueryID != 0 && idLikeValue(q.vals[0]) {
				ps = append(ps, idParam{q.name, "query", q.vals[0]})
			}
		}
	}
	d.scratch = ps
	return ps
}

// roleGroup is a principal's peer group: its JWT roles and scopes, or its
// credential kind; anonymous traffic is its own group.
func roleGroup(ev *event.Event) uint64 {
	id := ev.Auth.Identity
	if id == nil {
		return hashing.String("anonymous")
	}
	h := hashing.Add(hashing.Offset, id.Kind)
	if id.Token != nil {
		var buf [8]string // no allocation for the usual few roles and scopes
		rs := append(append(buf[:0], id.Token.Roles...), id.Token.Scopes...)
		slices.Sort(rs)
		for _, r := range rs {
			h = hashing.Sep(h)
			h = hashing.Add(h, r)
		}
	}
	return hashing.Mix64(h)
}

func (d *enumDetector) Observe(ev *event.Event, out *Emitter) {
	d.begin(ev)
	d.now = ev.Time
	ps := d.idParams(ev)
	if len(ps) == 0 {
		return
	}
	eh := d.keys.endpoint(ev)
	sk, _ := d.keys.subject(ev)
	var gh uint64
	gset := false
	for i := range ps {
		p := &ps[i]
		pk := hashing.Mix64(hashing.Add(hashing.Sep(hashing.Add(eh, p.in)), p.name))
		par, created := d.params.GetOrAdd(pk)
		if created {
			par.ref, par.name, par.in, par.first = keepRef(ev.Endpoint), strings.Clone(p.name), p.in, ev.Time
		}
		key := hashing.Mix64(sk ^ pk*0xc2b2ae3d27d4eb4f)
		s, screated := d.subjects.GetOrAdd(key)
		if screated {
			if !gset { // role group: computed once per new subject, not per event
				gh, gset = d.keys.roleGroup(ev), true
			}
			gk := hashing.Pair(pk, gh)
			s.pk, s.gk, s.key = pk, gk, key
			s.byIdentity = ev.Auth.Identity != nil && ev.Auth.Identity.ID != ""
			s.born = winIndex(ev.Time, d.fast)
		}
		vh := hashing.String(p.value)
		var reuse groupReuse
		if sk != 0 && ev.Auth.Identity != nil {
			// Ownership hint (principals only: an address is not an owner).
			ow, fresh := d.owners.GetOrAdd(hashing.Mix64(pk ^ vh*0xff51afd7ed558ccd))
			if !fresh && ow.group == s.gk {
				reuse = reuseOwn
				if ow.subj != sk {
					reuse = reuseOther
				}
			}
			switch {
			case fresh:
				ow.subj, ow.group = sk, s.gk
			case ow.subj != sk:
				par.revisits++
				par.cross++
				if !ow.multi {
					s.fast.foreign++
					s.slow.foreign++
				}
				ow.multi = true
			default:
				par.revisits++
			}
			if par.revisits >= d.ownedMin {
				d.readyOwned.mark(ev.Time)
			}
		}
		newF := d.subject(ev, s, par, p, vh, reuse, out)
		d.distributed(ev, par, sk, vh, s, newF, out)
	}
}

func (d *enumDetector) roll(w *enumWin, idx int64) bool {
	if w.idx == 0 && w.n == 0 {
		w.idx = idx
		return false
	}
	if idx <= w.idx {
		return false
	}
	return true
}

// walkLike: a window that did not fire but looked like a walk — more
// distinct identifiers than the absolute floor, at least cold_errors of
// its requests refused or not found. It was kept under the bar by others'
// windows (a busy integration's, early on) or by the subject's own; it is
// learned neither as the subject's normal nor as a peer's, or a walk that
// straddles a window boundary, or one slow enough to stay under the bar
// window after window, raises its own bar. A heavy user whose reads
// succeed is learned as before.
func (d *enumDetector) walkLike(w *enumWin, v, abs float64) bool {
	return v > abs && w.n > 0 && w.errs >= d.coldErrors*w.n
}

// foldFast feeds a subject's closed fast window into its peers' baselines.
func (d *enumDetector) foldFast(s *enumSubject) {
	if s.fast.n == 0 || s.fast.folded {
		return
	}
	s.fast.folded = true
	v := s.fast.vals.estimate()
	if s.fast.fire.firedIn(s.fast.idx) {
		v = fmin(v, s.fast.fire.thr)
	} else if d.walkLike(&s.fast, v, d.absFast) {
		d.withheld++
		return
	}
	if p, ok := d.params.Peek(s.pk); ok {
		p.fastDist.add(v)
		p.top.add(s.key, v)
		if p.fastDist.count() >= d.peerGate {
			d.readyFast.mark(d.now)
		}
	}
	g, _ := d.groups.GetOrAdd(s.gk)
	g.fastDist.add(v)
	g.top.add(s.key, v)
	if v > s.ownFast && !s.fast.fire.firedIn(s.fast.idx) {
		s.ownFast = v
	}
}

func (d *enumDetector) foldSlow(s *enumSubject) {
	if s.slow.n == 0 || s.slow.folded {
		return
	}
	s.slow.folded = true
	v := s.slow.vals.estimate()
	if s.slow.fire.firedIn(s.slow.idx) {
		v = fmin(v, s.slow.fire.thr)
	} else if d.walkLike(&s.slow, v, d.absSlow) {
		d.withheld++
		return
	}
	if p, ok := d.params.Peek(s.pk); ok {
		p.slowDist.add(v)
		if s.slow.idx > p.slowLast && p.slowPeriods < 65535 {
			p.slowLast = s.slow.idx
			p.slowPeriods++
		}
		if p.slowDist.count() >= d.peerGate/3 {
			d.readySlow.mark(d.now)
		}
	}
	g, _ := d.groups.GetOrAdd(s.gk)
	g.slowDist.add(v)
	if v > s.ownSlow && !s.slow.fire.firedIn(s.slow.idx) {
		s.ownSlow = v
	}
}

// subject counts the request in the subject's windows and judges them; it
// reports whether the identifier was new to the subject's fast window.
func (d *enumDetector) subject(ev *event.Event, s *enumSubject, par *enumParam, p *idParam, vh uint64, reuse groupReuse, out *Emitter) bool {
	fi, si := winIndex(ev.Time, d.fast), winIndex(ev.Time, d.slow)
	if d.roll(&s.fast, fi) {
		d.closeSubject(s, &s.fast, d.fast, out)
		d.foldFast(s)
		if s.byIdentity && !s.fast.fire.firedIn(s.fast.idx) {
			s.known.learn(&s.fast.addrs, winStart(s.fast.idx, d.fast))
		}
		s.fast = enumWin{idx: fi}
		s.ips = lin256{}
	}
	if d.roll(&s.slow, si) {
		d.closeSubject(s, &s.slow, d.slow, out)
		d.foldSlow(s)
		s.slow = enumWin{idx: si}
	}
	if s.fast.n == 0 && len(par.activeFast) < maxActive {
		par.activeFast = append(par.activeFast, s.key)
	}
	if s.slow.n == 0 && len(par.activeSlow) < maxActive {
		par.activeSlow = append(par.activeSlow, s.key)
	}
	s.ips.add(d.keys.ip(ev))
	g, gcreated := d.groups.GetOrAdd(s.gk)
	if gcreated {
		g.endUser, g.born = d.endUsers.token(ev), fi
	} else if reuse != reuseNone {
		g.revisits++
		if reuse == reuseOther {
			g.cross++
		}
	}
	if g.w != fi {
		if g.active > 0 {
			// the closed window teaches the group's record (a window that
			// fired, at most its bar)
			v := g.sum
			if g.fire.firedIn(g.w) {
				v = fmin(v, g.fire.thr)
			}
			g.rec, g.wins = fmax(g.rec, v), g.wins+1
		}
		g.w, g.active, g.sum, g.n = fi, 0, 0, 0
	}
	if s.fast.n == 0 {
		g.active++
	}
	g.n++
	bad := ev.Status >= 400 && ev.Status < 500
	for _, w := range []*enumWin{&s.fast, &s.slow} {
		w.n++
		if bad {
			w.errs++
		}
		w.addrs.add(ev.ClientIP)
	}
	s.fast.fresh.add(&s.known, ev.ClientIP, winStart(s.fast.idx, d.fast))
	s.slow.fresh.add(&s.known, ev.ClientIP, winStart(s.slow.idx, d.slow))
	newF, newS := s.fast.vals.add(vh), s.slow.vals.add(vh)
	if newF {
		s.fast.est = s.fast.vals.estimate()
		g.sum++
		sampleID(&s.fast, d.absFast, p.value)
		if g.endUser {
			d.groupCrowd(ev, par, g, out)
		}
	}
	if newS {
		s.slow.est = s.slow.vals.estimate()
		sampleID(&s.slow, d.absSlow, p.value)
	}
	cold := par.fastDist.count() < d.peerGate
	if cold {
		// Minimum evidence: the endpoint's peers have too little history.
		// Only a walk with many refused or missing answers is judged.
		if newF && s.fast.errs >= d.coldErrors*s.fast.n {
			d.check(ev, s, par, g, p, &s.fast, false, out)
		}
		// The slow variant under the same rule: a walk slow enough to
		// stay under the fast floor, on an endpoint too quiet for its
		// peers to be ready, is judged on its 6 h window.
		if newS && s.fastInSlow != s.slow.idx+1 && s.slow.errs >= d.coldErrors*s.slow.n {
			d.check(ev, s, par, g, p, &s.slow, true, out)
		}
		return newF
	}
	if newF {
		d.check(ev, s, par, g, p, &s.fast, false, out)
	}
	// The slow variant reports only what the fast one did not already see
	// in this slow window.
	if newS && s.fastInSlow != s.slow.idx+1 {
		d.check(ev, s, par, g, p, &s.slow, true, out)
	}
	return newF
}

// coldPeer is the peer window of a subject judged while the fast peers
// learn: the largest fast window of another subject on the parameter —
// or, for a member of an end-user role group in which another member
// closed a window, the largest of another member's. An end user's peers
// are end users: a busy integration reading the same objects (26 orders
// a window) is no measure of what a customer opens, and set a bar of 78
// over a customer walking order ids.
func (d *enumDetector) coldPeer(s *enumSubject, par *enumParam, g *enumGroup) float64 {
	if g.endUser && s.byIdentity {
		if v := g.top.other(s.key); v > 0 {
			return v
		}
	}
	return par.peerMax(s.key)
}

// pastOwnObjects reports whether the slow window w of subject s is an end
// user's reading other users' objects where its role group's objects are
// owned within it: s is a principal of an end-user group (every role
// names an end user) whose objects on the parameter are owned within it
// (ownedWithin), whose members closed at least peer_gate fast windows,
// and at least foreign_min of w's requests, and foreign_share of them,
// opened an object another principal had used first. Then the slow
// variant's floor is abs_slow_owned from the first day, against the
// members' largest window (check): an end user opens its own objects, and
// one opening others' by the dozen is walking them, however slowly. A
// member reading many objects of its own (a patient's forty lab results)
// opens no other's: not judged so.
func (d *enumDetector) pastOwnObjects(s *enumSubject, g *enumGroup, w *enumWin) bool {
	return s.byIdentity && d.ownedWithin(g) && g.fastDist.count() >= d.peerGate &&
		w.foreign >= fmax(d.foreignMin, d.foreignShare*w.n)
}

// ownedWithin reports whether g is an end-user role group whose objects on
// the parameter are owned within it: at least owned_min repeat uses by its
// members, at most owned_share of them by another member than the
// identifier's first user in the group.
func (d *enumDetector) ownedWithin(g *enumGroup) bool {
	return g.endUser && g.revisits >= d.ownedMin && g.cross <= d.ownedShare*g.revisits
}

// groupCrowd judges the current fast window of an end-user role group
// (every role names an end user: customer, patient, …) on the parameter.
// End users each open their own objects: a crowd of them opening several
// objects each, together far more than they do, is sixty stuffed portal
// accounts reading other patients' records — whether or not the
// endpoint's whole population (clinicians opening records at shift start)
// looks unusual, and on the first day, before any hour of the day has its
// history. Over at least dist_min_subjects members, more than
// dist_abs_hourly distinct identifiers (each member's distinct count,
// summed), and:
//
//   - new_end_user_group: the group is new to the parameter (this is its
//     first or second window there), which has dist_gate windows of
//     history before it came, and its members opened at least
//     fresh_reads identifiers each on average (a release that brings
//     patients to their own record opens one each);
//   - end_user_crowd: the group has dist_gate closed windows on the
//     parameter, whose objects are owned within it (≥ owned_min repeat
//     uses by its members, at most owned_share of them by another member
//     than the identifier's first user in the group), and opened more than
//     dist_far × its largest closed window, at least two each on average.
//
// It does not report a window either endpoint-wide series already
// reported, and marks the requests up to now as reported (one alert per
// attack).
func (d *enumDetector) groupCrowd(ev *event.Event, par *enumParam, g *enumGroup, out *Emitter) {
	if g.active < d.distMinSubj || g.sum <= d.distAbsHourly {
		return
	}
	thr, variant := d.distAbsHourly, ""
	switch {
	case g.w <= g.born+1 && g.born >= winIndex(par.first, d.fast)+int64(d.distGate):
		if g.sum >= d.freshReads*g.active {
			variant = "new_end_user_group"
		}
	case g.wins >= float64(d.distGate) && d.ownedWithin(g):
		thr = fmax(thr, d.distFar*g.rec)
		if g.sum > thr && g.sum >= 2*g.active {
			variant = "end_user_crowd"
		}
	}
	if variant == "" || par.cur.fire.firedIn(par.cur.w) || par.half.fire.firedIn(par.half.w) {
		return
	}
	delta, first := g.fire.cross(g.w, g.n, thr)
	if delta == 0 {
		return
	}
	par.repSeq = max(par.repSeq, par.seq)
	h := Hit{Type: alert.BOLADistributedParamEnumeration, Time: ev.Time, Endpoint: endpointRef(ev), Count: int64(delta),
		Confidence: confidence(g.sum, thr, g.wins, float64(4*d.distGate)),
		Evidence: model.Evidence{
			Observed: g.sum, Baseline: round2(g.rec), Threshold: round2(thr), Window: winLabel(d.fast),
			Reason: "members of an end-user role group opened far more distinct objects on this endpoint, several each, than its members do",
			Details: map[string]any{"variant": variant, "parameter": par.name, "in": par.in, "members": g.active,
				"openings_per_member": round2(g.sum / g.active), "group_windows": g.wins, "group_cross_use_share": round2(g.cross / fmax(1, g.revisits))},
		},
	}
	if first {
		h.Sample = anomSample(ev, "")
	}
	out.Emit(h)
}

// sampleID records a new identifier of a window that reached half its
// absolute floor.
func sampleID(w *enumWin, abs float64, v string) {
	if w.ids == nil {
		if w.est < abs/2 {
			return
		}
		w.ids = &idSample{}
	}
	w.ids.add(v)
}

func (d *enumDetector) check(ev *event.Event, s *enumSubject, par *enumParam, g *enumGroup, p *idParam, w *enumWin, slow bool, out *Emitter) {
	abs, own, win := d.absFast, s.ownFast, d.fast
	dist := &par.fastDist
	group := &g.fastDist
	if slow {
		group = &g.slowDist
	}
	owned := d.owned(par)
	peersCold := dist.count() < d.peerGate
	cold, coldSlow := peersCold && !slow, peersCold && slow
	endOwn := false
	if slow {
		abs, own, win, dist = d.absSlow, s.ownSlow, d.slow, &par.slowDist
		if owned && dist.count() >= d.peerGate/3 && par.slowPeriods >= d.ownedPeriods {
			// Objects that belong to one principal each, and peers measured
			// over the same horizon in more than one period: a lower floor
			// over hours. (Peers of the first night alone set a bar of 33
			// for clinicians' mornings at three times the patients.)
			abs = d.absSlowOwned
		} else if d.pastOwnObjects(s, g, w) {
			endOwn, abs = true, d.absSlowOwned
		}
	}
	if w.est <= abs {
		return
	}
	peer := dist.at(0.99)
	if endOwn {
		// Its peers are its role group's members: the largest fast window
		// of another member, scaled to the slow horizon (the population's
		// windows are the staff's and services').
		peer = 4 * g.top.other(s.key)
	} else if cold {
		peer = d.coldPeer(s, par, g) // few peers: the largest window of another subject so far
	} else if coldSlow {
		// The fast peers learn: the largest fast window of another
		// subject, scaled to the slow horizon as below.
		peer = 4 * d.coldPeer(s, par, g)
	} else if slow && dist.count() < d.peerGate/3 {
		// Few peers return across a 6 h boundary: until enough slow
		// windows closed, scale the fast windows' peers.
		peer = 4 * par.fastDist.at(0.99)
	} else if group.count() >= d.peerGate {
		peer = fmax(peer*0.5, group.at(0.99)) // role group baseline, bounded below by half the population's
	}
	thr := fmax(abs, fmax(d.peerFactor*peer, d.ownFactor*own))
	// Peers right now: when the whole role group is opening many records in
	// this window (shift start), the bar is relative to them.
	var now float64
	if !slow && g.active > 5 {
		now = (g.sum - s.fast.est) / (g.active - 1)
		thr = fmax(thr, d.peerFactor*now)
	}
	if w.est <= thr {
		return
	}
	delta, first := w.fire.cross(w.idx, w.est, thr)
	if delta == 0 {
		return
	}
	variant, title := "fast", "Object identifier enumeration"
	if slow {
		variant, title = "slow", "Slow object identifier enumeration"
	}
	h := Hit{
		Type: alert.BOLAParamEnumeration, Title: title, Time: ev.Time, Client: clientIP(ev), Identity: identityRef(ev), Endpoint: endpointRef(ev),
		Confidence: confidence(w.est, thr, dist.count(), 4*d.peerGate),
		Evidence: model.Evidence{
			Observed: w.est, Baseline: round2(fmax(peer, own)), Threshold: round2(thr), Window: winLabel(win),
			Reason: "one subject requested an unusually large number of distinct object identifiers on this endpoint",
			Details: map[string]any{
				"variant": variant, "parameter": p.name, "in": p.in, "peer_p99": round2(peer), "own_max": own,
				"peers_now_mean": round2(now), "requests": w.n, "error_share": round2(w.errs / w.n), "client_ips": s.ips.estimate(),
				"foreign_object_share": round2(w.foreign / w.n), "endpoint_objects_owned": owned, "endpoint_cross_use_share": round2(par.cross / fmax(1, par.revisits)),
				"peers_learning": cold || coldSlow, "peer_windows": dist.count(), "end_user_past_own_objects": endOwn,
			},
		},
	}
	w.ids.evidence(h.Evidence.Details)
	if s.byIdentity {
		h.Subject = "identity"
	}
	h.Count = int64(w.n - w.rep)
	attribute(&h, &w.addrs, &s.known, &w.fresh, winStart(w.idx, win), true)
	w.rep = w.n
	if !slow {
		s.fastInSlow = s.slow.idx + 1
	}
	w.hit = &h
	if first {
		h.Sample = anomSample(ev, "")
		out.Emit(h)
		h.Sample = nil
		return
	}
	if h.Severity == "" && w.errs/w.n < 0.5 && w.est > 2*thr {
		h.Severity = model.SevCritical // mostly successful reads of many objects
	}
	out.Emit(h)
}

func (d *enumDetector) distributed(ev *event.Event, par *enumParam, sk, vh uint64, s *enumSubject, newF bool, out *Emitter) {
	idx := winIndex(ev.Time, d.fast)
	hidx := winIndex(ev.Time.Add(d.fast/2), d.fast) // [hidx·F − F/2, hidx·F + F/2)
	if par.cur.w == 0 && par.cur.n == 0 {
		par.cur.w = idx
	}
	if par.half.w == 0 && par.half.n == 0 {
		par.half.w = hidx
	}
	if si := winIndex(ev.Time, d.slow); si > par.sw {
		for _, k := range par.activeSlow {
			if s, ok := d.subjects.Peek(k); ok && s.slow.idx == par.sw {
				d.foldSlow(s)
			}
		}
		par.activeSlow, par.sw = par.activeSlow[:0], si
	}
	if idx > par.cur.w {
		for _, k := range par.activeFast {
			if s, ok := d.subjects.Peek(k); ok && s.fast.idx == par.cur.w {
				d.foldFast(s)
			}
		}
		par.activeFast = par.activeFast[:0]
		d.judgeDistributed(nil, par, &par.cur, false, out)
		d.closeDistributed(par, &par.cur, out)
		v := par.cur.vals.estimate()
		if par.cur.fire.firedIn(par.cur.w) {
			v = fmin(v, par.cur.fire.thr)
		}
		if f := &par.half.fire; f.on && (f.idx == par.cur.w || f.idx == par.cur.w+1) {
			v = fmin(v, f.thr) // the shifted window over this one fired: the attack is not learned
		}
		h := hourOf(par.cur.w, d.fast)
		if rec := float64(par.hodMax[h]); par.hodN[h] >= d.hourMin && v > d.hourFactor*rec && par.cur.n >= d.distMinSubj {
			// A swarm-like window above the hour's bar that did not fire
			// (the first minutes of a crowd's walk) is not learned either:
			// it would raise the hour's record under the rest of the walk.
			if _, swarm := par.cur.swarm(par.cur.subj.estimate(), par.cur.ips.estimate(), par.base.n < d.distGate, true, true); swarm {
				v = rec
			}
		}
		par.base.update(v, 0.1)
		if yv := par.cur.youngObj; !par.cur.fire.firedIn(par.cur.w) && !(par.half.fire.on && (par.half.fire.idx == par.cur.w || par.half.fire.idx == par.cur.w+1)) {
			// a window whose crowd fired is not learned as the hour's newcomers
			par.hodYoung[h] = float32(fmax(float64(par.hodYoung[h]), yv))
		}
		if par.hodN[h] < 65535 {
			par.hodMax[h] = float32(fmax(float64(par.hodMax[h]), v))
			par.hodN[h]++
			if par.hodN[h] >= d.hourMin {
				d.readyHour.mark(ev.Time)
			}
		}
		if par.base.n >= d.distGate {
			d.readyDist.mark(ev.Time)
		}
		for gap := min(idx-par.cur.w-1, 80); gap > 0; gap-- {
			par.base.update(0, 0.1)
		}
		par.cur.reset(idx, par.seq)
	}
	if hidx > par.half.w {
		if !par.tumblingFired() {
			d.judgeDistributed(nil, par, &par.half, true, out)
		}
		d.closeDistributed(par, &par.half, out)
		par.half.reset(hidx, par.seq)
	}
	par.seq++
	young := s.born >= idx-1
	ip := d.keys.ip(ev)
	for _, w := range [2]*distWin{&par.cur, &par.half} {
		w.n++
		if young {
			w.young++
			w.youngSubj.add(sk)
			if newF {
				w.youngObj++
			}
		}
		if ev.Auth.Identity == nil {
			w.anon++
		}
		if ev.Status >= 400 && ev.Status < 500 {
			w.errs++
		}
		w.ips.add(ip)
		w.last, w.lastSeq = ev.Time, par.seq
		if !w.recent.seen(vh) {
			w.vals.add(vh)
		}
		w.subj.add(sk)
		if s.fast.est > w.maxSubj {
			w.maxSubj = s.fast.est
		}
	}
	d.judgeDistributed(ev, par, &par.cur, false, out)
	if !par.tumblingFired() {
		// the shifted window reports what the tumbling ones did not
		d.judgeDistributed(ev, par, &par.half, true, out)
	}
}

// freshCrowd: with the hour's history, a window in which at least
// dist_min_subjects subjects new to the endpoint opened fresh_reads
// identifiers or more each on average, together more than
// max(dist_abs_hourly, hour_factor × the most such openings by newcomers
// in a window at this hour). A crowd of fresh accounts reading others'
// records hides inside a busy hour's volume (a 60-account scrape adds
// ≈ 200 distinct records per window to an evening's 450) but not among
// the hour's newcomers; a surge of new users each opening their own
// record opens one each, and known staff at shift start are not new.
// It returns the newcomers and their bar.
func (d *enumDetector) freshCrowd(par *enumParam, w *distWin, shifted, hourly bool) (bool, float64, float64) {
	if !hourly || w.youngObj <= d.distAbsHourly {
		return false, 0, 0
	}
	yrec := float64(par.hodYoung[hourOf(w.w, d.fast)])
	if shifted {
		yrec = fmax(yrec, float64(par.hodYoung[hourOf(w.w-1, d.fast)]))
	}
	ys, ybar := w.youngSubj.estimate(), fmax(d.distAbsHourly, d.hourFactor*yrec)
	return ys >= d.distMinSubj && w.youngObj >= d.freshReads*ys && w.youngObj > ybar, ys, ybar
}

// swarm tells a distributed window's swarm signs: strong — probing ids
// that do not exist (≥ 20 % 4xx) or credentials rotated over many more
// addresses than principals; any — a strong sign, or (with the EWMA's
// history) mostly new anonymous clients, or (with the hour's history)
// mostly principals new to the endpoint reading several objects each
// (several: at least two distinct each on average — a surge of new users
// each opening their own record reads one; a window is judged with it,
// and withheld from the hour's record without it, as the first window of
// a slow crowd's walk reads fewer).
func (w *distWin) swarm(subj, ips float64, distCold, hourly, several bool) (strong, any bool) {
	strong = w.errs >= 0.2*w.n || ips >= 2*subj
	any = strong || !distCold && ((w.young >= w.n/2 && w.anon >= w.n/2) || // mostly new anonymous clients
		(hourly && w.young >= w.n/2 && several)) // mostly principals new to the endpoint, beyond this hour's record
	return strong, any
}

// judgeDistributed judges one window of the distributed variant (cur, or
// half: shifted by half a window). ev is the request just counted, or nil
// for the last judgement of a window that ends (when the next window
// starts, or at the end of the input): its time is then the window's
// last request, and the alert carries no sample.
func (d *enumDetector) judgeDistributed(ev *event.Event, par *enumParam, w *distWin, shifted bool, out *Emitter) {
	// HLL estimates cost microseconds: evaluate at geometrically spaced
	// counts (every 32 requests, then every 1/8 of the count), and once
	// more when the window ends with requests not yet estimated.
	if w.n < fmin(d.distAbs, d.distAbsHourly) || (ev != nil && w.n < w.nextEval) || w.n == w.evalN {
		return
	}
	distCold := par.base.n < d.distGate
	w.nextEval, w.evalN = w.n+fmax(32, w.n/8), w.n
	v := w.vals.estimate()
	thr := d.distAbs
	if !distCold {
		thr = fmax(d.distAbs, par.base.upper(d.distK, d.distRatio))
	}
	// With a day of history for this hour, the bar is this hour's: above
	// the largest window seen at this hour of the day (busy clinic hours,
	// shift starts) by hour_factor, and twice the overall mean. A shifted
	// window spans two hours: both need their history, and the larger bar
	// counts.
	hourly := false
	hour, ready := hourOf(w.w, d.fast), true
	if shifted {
		h1 := hourOf(w.w-1, d.fast)
		ready = par.hodN[h1] >= d.hourMin
		if par.hodMax[h1] > par.hodMax[hour] {
			hour = h1
		}
	}
	if ready && par.hodN[hour] >= d.hourMin && par.hodN[hourOf(w.w, d.fast)] >= d.hourMin {
		thr, hourly = fmax(d.distAbs, d.hourFactor*float64(par.hodMax[hour])), true
	}
	subj := w.subj.estimate()
	if v <= fmin(thr, d.distAbsHourly) || subj < d.distMinSubj || w.maxSubj >= v/2 {
		return
	}
	// Spread over many subjects, none holding half of it — and swarm-like:
	// probing ids that do not exist (≥ 20 % 4xx), or credentials rotated
	// over many more addresses than principals, or mostly new anonymous
	// clients. A shift start (known staff, each on its own address, opening
	// records that exist) is none of these.
	ips := w.ips.estimate()
	errShare := w.errs / w.n
	strong, swarm := w.swarm(subj, ips, distCold, hourly, v >= 2*subj)
	fresh, ys, ybar := d.freshCrowd(par, w, shifted, hourly)
	if !swarm && !fresh {
		return
	}
	if swarm && hourly && v <= thr {
		// With the hour's history, a smaller crowd counts where the hour's
		// record says it is far from usual: above hour_factor × the record
		// with a strong swarm sign, or dist_far × the record with any —
		// over dist_abs_hourly rather than dist_abs. (A 60-account patient
		// scrape at half the pace: ≈ 220 distinct records per window
		// against a record of 45 at that hour.)
		// Without a strong sign the crowd must also read several objects
		// each (≥ 2 per subject on average): a surge of new users each
		// opening their own record (a mailing) reads one.
		rec := float64(par.hodMax[hour])
		low := fmax(d.distAbsHourly, d.distFar*rec)
		if strong {
			low = fmax(d.distAbsHourly, d.hourFactor*rec)
		}
		if strong || v >= 2*subj {
			thr = fmin(thr, low)
		}
	}
	if v <= thr {
		if !fresh {
			return
		}
		thr = ybar
	} else {
		fresh = false // the window's own bar is crossed: reported as such
	}
	delta, first := w.fire.cross(w.w, w.n, thr)
	if delta == 0 {
		return
	}
	start := time.Unix(w.w*int64(d.fast/time.Second), 0).UTC().Add(-d.fast / 2)
	at, seq, ep := w.last, w.lastSeq, keepRef(par.ref)
	if ev != nil {
		at, seq, ep = ev.Time, par.seq, keepRef(ev.Endpoint)
	}
	w.hit = &Hit{Type: alert.BOLADistributedParamEnumeration, Time: at, Endpoint: &ep, Count: int64(par.unreported(w, seq, true)),
		Confidence: confidence(v, thr, float64(par.base.n), float64(4*d.distGate)),
		Evidence: model.Evidence{
			Observed: v, Baseline: round2(par.base.mean), Threshold: round2(thr), Window: winLabel(d.fast),
			Reason: "the population requested far more distinct object identifiers on this endpoint than usual, spread over many subjects",
			Details: map[string]any{"parameter": par.name, "in": par.in, "subjects": subj, "max_per_subject": w.maxSubj, "new_subject_share": round2(w.young / w.n),
				"anonymous_share": round2(w.anon / w.n), "error_share": round2(errShare), "client_ips": ips, "baseline_sd": round2(par.base.sd()),
				"hour_of_day_max": round2(float64(par.hodMax[hour])), "hour_of_day_baseline": hourly, "baseline_learning": distCold},
		},
	}
	if fresh {
		w.hit.Evidence.Observed, w.hit.Evidence.Baseline = w.youngObj, round2(ybar/d.hourFactor)
		w.hit.Confidence = confidence(w.youngObj, ybar, float64(par.base.n), float64(4*d.distGate))
		w.hit.Evidence.Reason = "a crowd of subjects new to this endpoint opened far more distinct object identifiers, several each, than newcomers open at this hour"
		w.hit.Evidence.Details["variant"] = "fresh_crowd"
		w.hit.Evidence.Details["new_subjects"] = ys
		w.hit.Evidence.Details["new_subject_openings"] = w.youngObj
		w.hit.Evidence.Details["distinct_values"] = v
	}
	if shifted {
		// a window of the shifted series: say which
		w.hit.Evidence.Details["window_start"] = start.Format(time.RFC3339)
		w.hit.Evidence.Details["window_shifted"] = true
	}
	if first && ev != nil {
		w.hit.Sample = anomSample(ev, "")
	}
	if w.hit.Count > 0 {
		out.Emit(*w.hit)
	}
	w.hit.Sample = nil
}

// unreported is the number of the window's requests up to seq that no
// report of either series counted yet; mark counts them as reported.
func (p *enumParam) unreported(w *distWin, seq uint64, mark bool) float64 {
	from := max(w.start, p.repSeq)
	if seq <= from {
		return 0
	}
	if mark {
		p.repSeq = seq
	}
	return float64(seq - from)
}

func (d *enumDetector) closeDistributed(par *enumParam, w *distWin, out *Emitter) {
	if w.hit == nil {
		return
	}
	if r := w.fire.remainder(w.w, w.n, out); r > 0 {
		c := par.unreported(w, w.lastSeq, !out.Preview())
		if c == 0 {
			return // the other series counted them
		}
		h := *w.hit
		h.Count, h.Time = int64(c), w.last
		h.Evidence.Observed = w.vals.estimate()
		out.Emit(h)
	}
}

// closeSubject reports the requests of a fired subject window made after
// its last report.
func (d *enumDetector) closeSubject(s *enumSubject, w *enumWin, size time.Duration, out *Emitter) {
	if w.hit == nil || !w.fire.firedIn(w.idx) || w.n <= w.rep {
		return
	}
	h := *w.hit
	h.Count = int64(w.n - w.rep)
	attribute(&h, &w.addrs, &s.known, &w.fresh, winStart(w.idx, size), !out.Preview())
	h.Evidence.Observed = w.est
	if !out.Preview() {
		w.rep = w.n
	}
	out.Emit(h)
}

// Finish reports the remainder of open windows that fired.
func (d *enumDetector) Finish(at time.Time, out *Emitter) {
	d.subjects.Each(func(_ uint64, s *enumSubject) {
		d.closeSubject(s, &s.fast, d.fast, out)
		d.closeSubject(s, &s.slow, d.slow, out)
	})
	d.params.Each(func(_ uint64, p *enumParam) {
		if !out.Preview() {
			// the open windows' last judgement (a look must not commit it)
			d.judgeDistributed(nil, p, &p.cur, false, out)
			if !p.tumblingFired() {
				d.judgeDistributed(nil, p, &p.half, true, out)
			}
		}
		d.closeDistributed(p, &p.cur, out)
		d.closeDistributed(p, &p.half, out)
	})
}

// Readiness implements pipeline.ReadinessReporter.
func (d *enumDetector) Readiness(at time.Time) []model.Readiness {
	al := alertNames(alert.BOLAParamEnumeration)
	fast := baseline{detector: "enumeration", name: "fast peer windows (distinct identifiers per subject, " + winLabel(d.fast) + ")", scope: "parameter",
		alerts: al, requires: model.Need{Windows: int64(d.peerGate)},
		while: fmt.Sprintf("fires only on walks above max(%g, %g × the largest window of another subject, own max) with ≥ %g%% of the requests refused or not found", d.absFast, d.peerFactor, 100*d.coldErrors)}.tally()
	slow := baseline{detector: "enumeration", name: "slow peer windows (" + winLabel(d.slow) + ")", scope: "parameter",
		alerts: al, requires: model.Need{Windows: int64(d.peerGate / 3)},
		while: fmt.Sprintf("peer baseline = 4 × the fast peers' p99 (floor %g)", d.absSlow)}.tally()
	owned := baseline{detector: "enumeration", name: "ownership hint (repeat uses of an identifier)", scope: "parameter",
		alerts: al, requires: model.Need{Requests: int64(d.ownedMin)},
		while: fmt.Sprintf("objects are not assumed owned: the slow floor stays %g (not %g)", d.absSlow, d.absSlowOwned)}.tally()
	dist := baseline{detector: "enumeration", name: "endpoint distinct identifiers (EWMA per window)", scope: "parameter",
		alerts: alertNames(alert.BOLADistributedParamEnumeration), requires: model.Need{Windows: int64(d.distGate), Hours: float64(d.distGate) * d.fast.Hours()},
		while: fmt.Sprintf("above %g distinct identifiers over ≥ %g subjects, only with ≥ 20%% failures or twice as many addresses as subjects", d.distAbs, d.distMinSubj)}.tally()
	hour := baseline{detector: "enumeration", name: "hour-of-day record of distinct identifiers (windows at the current hour of day)", scope: "parameter",
		alerts: alertNames(alert.BOLADistributedParamEnumeration), requires: model.Need{Windows: int64(d.hourMin)},
		while: "the all-hours EWMA bar and the stricter swarm rules apply"}.tally()
	hod := hourOf(winIndex(at, d.fast), d.fast)
	d.params.Each(func(_ uint64, p *enumParam) {
		key := p.ref.Key() + " (" + p.in + " " + p.name + ")"
		fast.Add(key, model.Need{Windows: int64(p.fastDist.count())}, false)
		slow.Add(key, model.Need{Windows: int64(p.slowDist.count())}, false)
		if p.revisits > 0 || p.cross > 0 {
			owned.Add(key, model.Need{Requests: int64(p.revisits)}, false)
		}
		dist.Add(key, model.Need{Windows: int64(p.base.n), Hours: hoursSince(p.first, at)}, p.base.n >= d.distGate)
		hour.Add(key, model.Need{Windows: int64(p.hodN[hod]), Hours: hoursSince(p.first, at)}, false)
	})
	return []model.Readiness{fast.Readiness(d.readyFast.at), slow.Readiness(d.readySlow.at), owned.Readiness(d.readyOwned.at),
		dist.Readiness(d.readyDist.at), hour.Readiness(d.readyHour.at)}
}
