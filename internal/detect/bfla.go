package detect

import (
	"fmt"
	"math/bits"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/palisade-sec/palisade/internal/alert"
	"github.com/palisade-sec/palisade/internal/config"
	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/hashing"
	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/pipeline"
)

// Family "bfla": bfla.privileged_access.
//
// Learns, per endpoint, which peer groups and which principals use it
// successfully (2xx). A peer group is the principal's JWT roles and scopes
// (sorted), or — for credentials without roles — the credential kind, in
// which case the endpoint's set of principals is what defines the group
// ("clusters of identities").
//
// A principal fires when it successfully uses an endpoint that
//   - its own peer group has never used successfully, and that other groups
//     (or a small set of principals) use — at least min_uses successes;
//   - looks privileged: a path segment names admin/internal/manage/debug/
//     sudo/roles/permissions/…, the method is DELETE (PUT/PATCH too with role
//     groups), the spec declares scopes the token does not carry, or only a
//     small distinct set of principals (≤ small_abs, default 5) has ever
//     used it. For credentials without roles the
//     small-set condition is always required. The small set counts as a
//     restriction (PUT/PATCH and "only a few use it") only with minimum
//     evidence: ≥ small_pop (50) principals of the endpoint's API (host)
//     seen since its first use, users ≤ small_share (10 %) of them, and fewer than
//     small_abs outsiders fired on it (fired uses are not learned).
//
// During the learning period (learn, default 2 h of event time from the
// first request, and min_principals, default 20, principals seen) only a
// prior from the path and the tokens judges: a principal with roles that
// succeeds on an administrative path (or one whose declared scopes its
// token lacks) that only groups holding every one of its roles and more
// used (≥ min_uses successes) — a customer token on the admin API that
// administrators, who are customers too, use. The min_uses successes may
// be those of the endpoint's administrative area (the functions under a
// privileged segment with segments below it: /v1/admin/orders and
// /v1/admin/webhooks are area /v1/admin), pooled, when the endpoint
// itself was used and every group that used the area holds the
// principal's roles and more: a small shop's administrator uses each admin
// function a few times an hour, the admin API many times. A path word
// naming a role (roleNamed) that every such group holds and the token
// lacks needs one use only, in the learning period and after it. Everything else
// waits for the learning period — except a resource area (the path through
// its first resource segment, /api/v2/staff) with area_funcs functions used,
// min_uses uses in all, all by groups holding the principal's roles and
// more: a privileged function family needs no privileged word in its path
// (a reason after the learning period too). PUT/PATCH used only by other
// groups counts only when those groups carry roles: web cookie sessions are
// the same customers on another client.
// Uses that fired are not learned, so repeated abuse
// keeps folding into the alert; the first use of a brand-new endpoint is
// never an alert (nobody used it before).
//
// Memory: per endpoint ≈ 150 bytes + up to 512 bytes of principal hashes
// (exact up to 64, counted beyond); per principal ≈ 70 bytes (its group
// and API); at most 64 distinct peer groups are told apart (further ones
// share one "other" group); per administrative or resource area ≈ 100
// bytes (one LRU, max_endpoints); per API (host) a HyperLogLog of its
// principals (a few hundred bytes sparse, 16 KB dense; at most 4,096 APIs,
// LRU).
// LRU-bounded by max_endpoints (20,000) and
// Config.MaxTrackedIdentities (200,000).

func init() {
	Register("bfla", func(cfg Config) Detector { return newBFLA(cfg) })
	RegisterOptions("bfla", func() FamilyOptions { return defaultBflaOptions() })
}

// bflaOptions are the bfla family's options (detect.options.bfla).
type bflaOptions struct {
	Learn         config.Duration `yaml:"learn" doc:"learning period from the first request"`
	MinPrincipals float64         `yaml:"min_principals" doc:"principals seen before anything can fire"`
	MinUses       float64         `yaml:"min_uses" doc:"successful uses of an endpoint by others before a principal can fire on it"`
	AreaFuncs     float64         `yaml:"area_funcs" doc:"learning period: functions of one resource area (the path through its first resource segment) that must have been used, all by groups holding a principal's roles and more, before the area counts as privileged without a privileged word in its path"`
	SmallAbs      float64         `yaml:"small_abs" doc:"outsiders fired on an endpoint after which the small-set reasons stop holding for it"`
	SmallShare    float64         `yaml:"small_share" doc:"the small-set reasons need the endpoint's users to be at most this share of the principals seen"`
	SmallPop      float64         `yaml:"small_pop" doc:"principals of the endpoint's API (host) seen since its first use before the small-set reasons hold"`
	MaxEndpoints  int             `yaml:"max_endpoints" doc:"endpoints tracked (LRU)"`
}

func defaultBflaOptions() *bflaOptions {
	return &bflaOptions{
		Learn:         config.Duration(2 * time.Hour),
		MinPrincipals: 20,
		MinUses:       5,
		AreaFuncs:     2,
		SmallAbs:      5,
		SmallShare:    0.1,
		SmallPop:      50,
		MaxEndpoints:  20000,
	}
}

// Validate implements config.Validator.
func (o *bflaOptions) Validate() error {
	return atMostOne(checkOptions(o), map[string]float64{"small_share": o.SmallShare})
}

type bflaDetector struct {
	endUsers endUsers // the end-user role vocabulary (Config.EndUserRoles)
	keyed
	learn                time.Duration
	minPrincipals        float64
	minUses              float64
	areaFuncs            float64
	smallAbs, smallShare float64
	smallPop             float64
	start                time.Time
	eps                  *lru[bflaEndpoint]
	areas                *lru[bflaArea]
	ids                  *lru[bflaIdentity]
	hosts                *lru[bflaHost]
	groupIdx             map[uint64]uint8
	byRole               map[uint64]uint8 // group by roleGroup hash (memo of groupOf)
	groupNames           []string
	groupRoleless        []bool
	groupRoles           [][]string // sorted roles and scopes of each group
	groupRoleNames       [][]string // each group's role claims (not scopes), normalized by roleName (≤ 16)
	learned              bool       // learning period over
	specs                pipeline.SpecLookup
	readyEP, readySmall  readyMark
	learnedAt            readyMark
	now                  time.Time
}

type bflaEndpoint struct {
	first      time.Time
	groups     uint64 // bit i: group i used it successfully
	users      smallSet
	usersBloom [8]uint64 // a bit per stored user (top 9 bits of the hash): most non-users skip the scan of users
	n          float64
	host       uint64  // its API's key (hosts)
	hostAt     float64 // principals of its API at its first successful use
	smallFired float64 // principals that fired here only because few principals use it
	priv       int8    // 0 unknown, 1 privileged-looking path/method, 2 not
	scopes     []string
	scopesDone bool
	flagged    smallSet // principals that fired here (their uses are not learned)
	firstFired float64  // end-user principals that fired here as its first users (firstByEndUser)
	admin      bool     // the template names an administrative function (adminPath)
	area       uint64   // key of the administrative area the endpoint lies in (0: none; set with priv)
	zone       uint64   // key of the endpoint's resource area (resourceArea; 0: none; set with priv)
}

// bflaArea is an administrative area: the functions under a privileged
// path segment (host/…/admin/…), pooled: its learned successful uses and
// the groups that made them.
type bflaArea struct {
	n      float64
	groups uint64
	funcs  float64 // functions with a learned use (resource areas only)
	users  lin256  // distinct principals with a learned use (resource areas only)
}

type bflaIdentity struct {
	group uint8
	set   bool
	host  uint64 // the API (host) it was last counted on (bflaHost)
}

// bflaHost counts the principals that used an API (host) successfully:
// the population a function of that API is restricted within. Principals
// of another API (a hospital's clinicians beside a shop) are not users a
// shop function could have had.
type bflaHost struct {
	pop distinct
	// firstAt is the estimate when the API's first endpoint was first used
	// (-1 before): readiness marks the small-set evidence once an API has
	// small_pop principals past it
	firstAt float64
	// est is pop's estimate, taken again once the principals added since
	// (pending) reach 1/64 of it: an estimate costs microseconds and the
	// small-set reasons ask for it at every first use of a function.
	est, pending float64
}

const bflaOther = 63

// maxBFLAHosts bounds the APIs whose principals are counted (LRU).
const maxBFLAHosts = 4096

// hostPop is the number of principals that used the API of key hk
// successfully (HyperLogLog estimate, at most 1/64 behind).
func (d *bflaDetector) hostPop(hk uint64) float64 {
	h, ok := d.hosts.Peek(hk)
	if !ok {
		return 0
	}
	if h.pending > 0 && h.pending >= fmax(1, h.est/64) {
		h.est, h.pending = h.pop.estimate(), 0
	}
	return h.est
}

func newBFLA(cfg Config) *bflaDetector {
	o := optionsFor[*bflaOptions](cfg, "bfla")
	return &bflaDetector{
		endUsers:      newEndUsers(cfg),
		learn:         o.Learn.D(),
		minPrincipals: o.MinPrincipals,
		minUses:       o.MinUses,
		areaFuncs:     o.AreaFuncs,
		smallAbs:      o.SmallAbs,
		smallShare:    o.SmallShare,
		smallPop:      o.SmallPop,
		eps:           newLRU[bflaEndpoint](o.MaxEndpoints),
		areas:         newLRU[bflaArea](o.MaxEndpoints),
		ids:           newLRU[bflaIdentity](capOr(cfg.MaxTrackedIdentities, 200000)),
		hosts:         newLRU[bflaHost](maxBFLAHosts),
		groupIdx:      map[uint64]uint8{},
		byRole:        map[uint64]uint8{},
		specs:         cfg.Specs,
	}
}

func (d *bflaDetector) Name() string { return "bfla" }

var privilegedWords = []string{"admin", "internal", "manage", "debug", "sudo", "superuser", "root", "console", "actuator",
	"config", "settings", "roles", "permission", "privilege", "impersonat", "backoffice", "moderat", "system",
	"ops", "tenant", "grant", "elevat"}

// privilegedPath reports whether a template has a segment naming a
// privileged function (template parameters are ignored).
func privilegedPath(path string) bool {
	ok, _ := privilegedSegment(path)
	return ok
}

// privilegedSegment reports whether a template has a segment naming a
// privileged function and, when that segment has further segments below
// it (an administrative area: /v1/admin/orders), the area's prefix
// (/v1/admin; "" when the privileged segment is the last one).
func privilegedSegment(path string) (bool, string) {
	lower := strings.ToLower(path) // may differ from path in length (Ⱥ → ⱥ)
	p := lower
	for p != "" {
		var seg string
		var more bool
		seg, p, more = strings.Cut(strings.TrimPrefix(p, "/"), "/")
		if strings.HasPrefix(seg, "{") {
			continue
		}
		for _, w := range privilegedWords {
			if strings.Contains(seg, w) {
				if !more || p == "" {
					return true, ""
				}
				return true, lower[:len(lower)-len(p)-1]
			}
		}
	}
	return false, ""
}

// group returns the role group of principal ih, counting it among the
// principals of API hk.
func (d *bflaDetector) group(ev *event.Event, ih, hk uint64) uint8 {
	st, created := d.ids.GetOrAdd(ih)
	if st.host != hk {
		h, hc := d.hosts.GetOrAdd(hk)
		if hc {
			h.firstAt = -1
		}
		h.pop.add(ih)
		h.pending++
		st.host = hk
		if h.firstAt >= 0 && d.readySmall.at.IsZero() && d.hostPop(hk)-h.firstAt >= d.smallPop {
			d.readySmall.mark(d.now) // the API's oldest endpoint has its small-set evidence
		}
	}
	if !created && st.set {
		return st.group
	}
	// The group of a role set never changes once assigned (groupIdx keeps
	// it), so it is memoized by the role set's hash (the per-event
	// roleGroup: kind, roles and scopes), skipping the name built below.
	rh := d.keys.roleGroup(ev)
	if g, ok := d.byRole[rh]; ok {
		st.group, st.set = g, true
		return g
	}
	g := d.groupOf(ev)
	if len(d.byRole) >= 4096 {
		clear(d.byRole) // bounded memo
	}
	d.byRole[rh] = g
	st.group, st.set = g, true
	return g
}

// groupOf names the role group of ev's principal and returns its index.
func (d *bflaDetector) groupOf(ev *event.Event) uint8 {
	id := ev.Auth.Identity
	var rs []string
	if id.Token != nil {
		rs = append(append(rs, id.Token.Roles...), id.Token.Scopes...)
	}
	sort.Strings(rs)
	name := id.Kind
	if len(rs) > 0 {
		name += " " + strings.Join(rs, ",")
	}
	gh := hashing.String(name)
	g, ok := d.groupIdx[gh]
	if !ok {
		if len(d.groupNames) < bflaOther {
			g = uint8(len(d.groupNames))
			d.groupNames = append(d.groupNames, name)
			d.groupRoleless = append(d.groupRoleless, len(rs) == 0)
			d.groupRoles = append(d.groupRoles, slices.Clone(rs))
			var names []string
			if id.Token != nil {
				for _, r := range id.Token.Roles {
					if n := roleName(r); n != "" && !slices.Contains(names, n) && len(names) < 16 {
						names = append(names, n)
					}
				}
			}
			d.groupRoleNames = append(d.groupRoleNames, names)
		} else {
			g = bflaOther
		}
		d.groupIdx[gh] = g
	}
	return g
}

func (d *bflaDetector) groupName(g uint8) string {
	if int(g) < len(d.groupNames) {
		return d.groupNames[g]
	}
	return "other"
}

func (d *bflaDetector) roleless(g uint8) bool {
	return int(g) < len(d.groupRoleless) && d.groupRoleless[g]
}

// allWithRoles reports whether every group of the set carries roles and,
// when ok is given, satisfies ok (with the group's sorted roles).
func (d *bflaDetector) allWithRoles(groups uint64, ok func(roles []string) bool) bool {
	for j := 0; j < 64; j++ {
		if groups&(1<<uint(j)) == 0 {
			continue
		}
		if j >= len(d.groupRoles) || d.roleless(uint8(j)) || ok != nil && !ok(d.groupRoles[j]) {
			return false
		}
	}
	return true
}

func (d *bflaDetector) Observe(ev *event.Event, out *Emitter) {
	d.begin(ev)
	if d.start.IsZero() {
		d.start = ev.Time
	}
	d.now = ev.Time
	id := ev.Auth.Identity
	if id == nil || ev.Status < 200 || ev.Status >= 300 {
		return
	}
	ih := d.keys.identity(ev)
	hk := hashing.String(ev.Endpoint.Host)
	g := d.group(ev, ih, hk)
	e, created := d.eps.GetOrAdd(d.keys.endpoint(ev))
	if created {
		e.first = ev.Time
		e.host = hk
		e.hostAt = d.hostPop(e.host)
		d.classify(ev, e)
		if h, ok := d.hosts.Peek(hk); ok && h.firstAt < 0 {
			h.firstAt = e.hostAt
		}
	}
	bit := uint64(1) << g
	if e.flagged.has(ih) {
		d.emit(ev, e, g, "", out) // repeated abuse folds into the alert
		return
	}
	isUser := e.hasUser(ih)
	known := isUser || (!d.roleless(g) && e.groups&bit != 0)
	if !d.learned && ev.Time.Sub(d.start) >= d.learn && float64(d.ids.Len()) >= d.minPrincipals {
		d.learned = true // principals = tracked principals (bounded by the identity budget)
		d.learnedAt.mark(ev.Time)
	}
	learning := !d.learned
	if !known && e.n == 0 && e.admin && ev.Time.Sub(d.start) >= d.learn {
		if why := d.firstByEndUser(e, g); why != "" {
			e.flagged.add(ih)
			e.firstFired++
			d.emit(ev, e, g, why, out)
			return
		}
	}
	if !known && e.n > 0 && (learning || e.n < d.minUses) {
		why := ""
		if learning && (e.n >= d.minUses || d.areaEvidence(e) || d.exclusive(e)) {
			why = d.coldPrivileged(ev, e, g)
		}
		if why == "" {
			why = d.roleNamed(ev, e, g)
		}
		if why != "" {
			e.flagged.add(ih)
			d.emit(ev, e, g, why, out)
			return
		}
	}
	if known || learning || e.n < d.minUses || (e.groups == 0 && e.users.len() == 0) {
		d.learnUse(e, ih, bit, isUser)
		return
	}
	why := d.privileged(ev, e, g)
	if why == "" {
		why = d.areaReason(e, g)
	}
	if why == "" {
		d.learnUse(e, ih, bit, isUser)
		return
	}
	e.flagged.add(ih)
	if why == whySmallSet {
		e.smallFired++
	}
	d.emit(ev, e, g, why, out)
}

// learnUse records a successful use; isUser is e.hasUser(ih).
func (d *bflaDetector) learnUse(e *bflaEndpoint, ih, bit uint64, isUser bool) {
	d.creditArea(e.area, bit)
	if a := d.creditArea(e.zone, bit); a != nil {
		if e.n == 0 {
			a.funcs++ // the endpoint's first learned use
		}
		a.users.add(ih)
	}
	e.groups |= bit
	if !isUser && e.users.addNew(ih) {
		b := ih >> 55
		e.usersBloom[b>>6] |= 1 << (b & 63)
	}
	e.n++
	if e.n >= d.minUses {
		d.readyEP.mark(d.now)
	}
}

// creditArea counts a learned use by group bit in area k (nil when the
// endpoint has no such area or it was evicted).
func (d *bflaDetector) creditArea(k, bit uint64) *bflaArea {
	if k == 0 {
		return nil
	}
	a, ok := d.areas.Get(k)
	if !ok {
		return nil
	}
	a.n++
	a.groups |= bit
	return a
}

// areaEvidence reports whether the endpoint lies in an administrative
// area whose functions were used successfully at least min_uses times,
// all by groups that hold the principal's roles and more (checked by
// coldPrivileged with the area's groups): a customer token on one admin
// function the administrators used only twice so far, when they used the
// admin API twenty times.
func (d *bflaDetector) areaEvidence(e *bflaEndpoint) bool {
	if e.area == 0 {
		return false
	}
	a, ok := d.areas.Get(e.area)
	return ok && a.n >= d.minUses
}

// exclusive is exclusiveArea's verdict.
func (d *bflaDetector) exclusive(e *bflaEndpoint) bool {
	_, ok := d.exclusiveArea(e)
	return ok
}

// classify sets a new endpoint's privileged-path mark and areas (Observe,
// when the endpoint is created).
func (d *bflaDetector) classify(ev *event.Event, e *bflaEndpoint) {
	e.priv = 2
	ok, area := privilegedSegment(ev.Endpoint.Path)
	if ok {
		e.priv = 1
	}
	e.admin = adminPath(ev.Endpoint.Path)
	if area != "" {
		e.area = hashing.String(strings.ToLower(ev.Endpoint.Host) + area)
		d.areas.GetOrAdd(e.area)
	}
	if z := resourceArea(ev.Endpoint.Path); z != "" {
		// "\x00r" keeps resource areas apart from administrative ones of
		// the same prefix
		e.zone = hashing.String(strings.ToLower(ev.Endpoint.Host) + z + "\x00r")
		d.areas.GetOrAdd(e.zone)
	}
}

// resourceArea returns a template's resource area: the path through its
// first resource segment, skipping API and version segments (/api, /v2,
// /rest) — /api/v2/staff/orders and /api/v2/staff/refunds are area
// /api/v2/staff, /v1/users/{id}/avatar is /v1/users. "" when the template
// names no resource.
func resourceArea(path string) string {
	lower := strings.ToLower(path)
	p := lower
	for p != "" {
		var seg string
		seg, p, _ = strings.Cut(strings.TrimPrefix(p, "/"), "/")
		if seg == "" || strings.HasPrefix(seg, "{") || seg == "api" || seg == "rest" || versionSegment(seg) {
			continue
		}
		if p == "" {
			return lower
		}
		return lower[:len(lower)-len(p)-1]
	}
	return ""
}

// versionSegment: v1, v2beta, 2024-01-01 — a version, not a resource.
func versionSegment(seg string) bool {
	if len(seg) >= 2 && seg[0] == 'v' && seg[1] >= '0' && seg[1] <= '9' {
		return true
	}
	return len(seg) == 10 && seg[4] == '-' && seg[7] == '-' && allDigitsExcept(seg, '-')
}

func allDigitsExcept(s string, sep byte) bool {
	for i := 0; i < len(s); i++ {
		if (s[i] < '0' || s[i] > '9') && s[i] != sep {
			return false
		}
	}
	return true
}

// exclusiveArea reports whether the endpoint's resource area has
// area_funcs functions or more with learned uses, min_uses uses in all:
// coldPrivileged then requires every group that used the area to hold the
// principal's roles and more. A function family only privileged roles
// use is privileged, whatever its path calls it (/staff/, /backoffice/,
// /ops/); a resource area customers use too (/v1/orders with its
// /export) is not exclusive, nor one the population uses: its users must
// be few, at most max(small_abs, small_share × the principals seen) — a
// token with fewer scopes than every customer's is not thereby outside
// the customers' statements (a forged bank token, seen at seed 6).
func (d *bflaDetector) exclusiveArea(e *bflaEndpoint) (*bflaArea, bool) {
	if e.zone == 0 {
		return nil, false
	}
	a, ok := d.areas.Peek(e.zone)
	return a, ok && a.funcs >= d.areaFuncs && a.n >= d.minUses && a.users.estimate() <= fmax(d.smallAbs, d.smallShare*d.hostPop(e.host))
}

// hasUser is e.users.has(ih), skipping the scan when the user's bloom bit
// is clear.
func (e *bflaEndpoint) hasUser(ih uint64) bool {
	b := ih >> 55
	if e.usersBloom[b>>6]&(1<<(b&63)) == 0 {
		return false
	}
	return e.users.has(ih)
}

// privileged returns why the endpoint counts as privileged for group g, or
// "" when it does not.
func (d *bflaDetector) privileged(ev *event.Event, e *bflaEndpoint, g uint8) string {
	if !e.scopesDone {
		e.scopesDone = true
		if d.specs != nil {
			if op, ok := d.specs.Operation(ev.Endpoint); ok {
				e.scopes = op.Scopes
			}
		}
	}
	if len(e.scopes) > 0 && !hasAnyScope(ev, e.scopes) {
		return "the spec requires scopes " + strings.Join(e.scopes, ", ") + " that the token does not carry"
	}
	users := float64(e.users.len() + e.users.overflow)
	small := users <= d.smallAbs
	// "Only a small set of principals uses it" needs evidence that the set
	// is small because the function is restricted, not because few
	// principals were around: enough principals of its API seen since the
	// endpoint's first use (small_pop) of which the set is a small share
	// (small_share); and it no longer holds once as many outsiders as the
	// set may hold (small_abs) used the function successfully (their uses
	// are not learned, so the set would otherwise stay small for ever).
	pop := d.hostPop(e.host) - e.hostAt
	restricted := small && pop >= d.smallPop && users <= d.smallShare*pop && e.smallFired < d.smallAbs
	if d.roleless(g) && !small {
		// Without roles the group is the set of principals that use the
		// endpoint: one used by many is not privileged in practice.
		return ""
	}
	switch {
	case e.priv == 1:
		return "administrative path"
	case ev.Method == "DELETE":
		return "destructive method"
	case !d.roleless(g) && (ev.Method == "PUT" || ev.Method == "PATCH") && restricted && d.allWithRoles(e.groups, nil):
		// Only groups with roles say who may change state: a credential
		// kind without roles (web cookie sessions) is the same customers
		// on another client, not a more privileged group.
		return "state-changing method used only by other role groups"
	case restricted && e.n >= 4*d.minUses:
		return whySmallSet
	}
	return ""
}

const whySmallSet = "function used only by a small distinct group of principals"

// coldPrivileged is the judgement of the learning period: the
// administrative-path and spec-scope reasons only, for a principal with
// roles whose role set is a strict subset of the role set of every group
// that used the endpoint (they hold all its roles and more).
func (d *bflaDetector) coldPrivileged(ev *event.Event, e *bflaEndpoint, g uint8) string {
	if d.roleless(g) || int(g) >= len(d.groupRoles) || e.groups == 0 {
		return ""
	}
	if d.above(d.evidenceGroups(e), g) {
		why := d.privileged(ev, e, g)
		if why == "administrative path" || strings.HasPrefix(why, "the spec requires scopes") {
			return why + "; learning period: every group using it holds this principal's roles and more"
		}
	}
	if why := d.areaReason(e, g); why != "" {
		return why + "; learning period"
	}
	return ""
}

// evidenceGroups are the groups that used the endpoint and, below
// min_uses uses, its administrative area (areaEvidence): the cold reasons
// need every one of them to hold the principal's roles and more.
func (d *bflaDetector) evidenceGroups(e *bflaEndpoint) uint64 {
	groups := e.groups
	if e.n < d.minUses {
		if a, ok := d.areas.Peek(e.area); ok {
			groups |= a.groups
		}
	}
	return groups
}

// roleNamed is the reason that needs no count of uses: the path names a
// role (a segment, or a word of one, equal to a role name of the token's
// roles claim, singular or plural: /v1/admin/orders and role admin,
// /staff-tools/ and ROLE_STAFF) that every group which used the endpoint
// (and, below min_uses uses, its administrative area) holds, as all the
// principal's roles and more, and the principal's token lacks. The token
// says who the function is for; one use by that role suffices (the first
// use of an endpoint is still never an alert). "" when it does not hold.
func (d *bflaDetector) roleNamed(ev *event.Event, e *bflaEndpoint, g uint8) string {
	if d.roleless(g) || int(g) >= len(d.groupRoleNames) || e.groups == 0 {
		return ""
	}
	groups := d.evidenceGroups(e)
	if !d.above(groups, g) {
		return ""
	}
	mine := d.groupRoleNames[g]
	first := bits.TrailingZeros64(groups)
	if first >= len(d.groupRoleNames) {
		return "" // (state restored from a version without role names)
	}
	role := ""
	forEachPathWord(ev.Endpoint.Path, func(w string) bool {
		for _, r := range d.groupRoleNames[first] {
			if !sameWord(w, r) || slices.Contains(mine, r) {
				continue
			}
			held := true
			for j := 0; j < 64 && held; j++ {
				if groups&(1<<uint(j)) != 0 {
					held = j < len(d.groupRoleNames) && slices.Contains(d.groupRoleNames[j], r)
				}
			}
			if held {
				role = r
				return false
			}
		}
		return true
	})
	if role == "" {
		return ""
	}
	return "the path names role " + strconv.Quote(role) + ", which every group using it holds and this token lacks"
}

// firstByEndUser is the reason for the first successful use of an
// administrative function (adminPath) when nobody used it or its
// administrative area before: no group's use says who it is for, but the
// token does when every role it claims names an end user of the service
// (endUserRole: customer, patient, member, …; technical roles ignored).
// Only after the learning time (learn, 2 h) of observed traffic: in the
// first minutes of a capture, the first user of a function is an accident
// of when the capture started. An administrator is not the first user of
// the admin API everywhere: an attacker can be, before the staff's
// working day (a customer listing pending orders on /v1/admin/orders at
// 06:00, --attack-shift 17). Once small_abs such principals fired here,
// end users using the function is how the API works: it is learned. ""
// when it does not hold.
func (d *bflaDetector) firstByEndUser(e *bflaEndpoint, g uint8) string {
	if d.roleless(g) || int(g) >= len(d.groupRoleNames) || e.firstFired >= d.smallAbs {
		return ""
	}
	if a, ok := d.areas.Peek(e.area); e.area != 0 && ok && a.n > 0 {
		return "" // the area's functions have users: the other reasons judge
	}
	end := d.endUsers.of(d.groupRoleNames[g])
	if end == "" {
		return ""
	}
	return "administrative function first used by end-user role " + strconv.Quote(end) + ": nobody used it or its administrative area before"
}

// adminWords name administrative functions unambiguously (a word of a
// literal segment that is one of them, or starts with admin:
// administration, adminpanel). privilegedWords is broader (settings,
// config, roles: customers have settings).
var adminWords = []string{"internal", "backoffice", "sudo", "superuser", "superusers"}

// adminPath reports whether a template names an administrative function.
func adminPath(path string) bool {
	found := false
	forEachPathWord(path, func(w string) bool {
		found = strings.HasPrefix(w, "admin") || strings.HasPrefix(w, "impersonat") || slices.Contains(adminWords, w)
		return !found
	})
	return found
}

// roleName normalizes a role claim for matching path words: lower case,
// the last component of a namespaced name (shop:admin, roles/admin,
// https://example.com/roles/admin), without a role_ prefix (ROLE_ADMIN).
func roleName(r string) string {
	r = strings.ToLower(strings.TrimSpace(r))
	if i := strings.LastIndexAny(r, ":/#."); i >= 0 {
		r = r[i+1:]
	}
	for _, p := range []string{"role_", "role-"} {
		r = strings.TrimPrefix(r, p)
	}
	return r
}

// forEachPathWord calls fn with the lower-cased words of a template's
// literal segments (split at - _ .), until fn returns false.
func forEachPathWord(path string, fn func(w string) bool) {
	for _, seg := range strings.Split(strings.ToLower(path), "/") {
		if seg == "" || strings.HasPrefix(seg, "{") {
			continue
		}
		for _, w := range strings.FieldsFunc(seg, func(r rune) bool { return r == '-' || r == '_' || r == '.' }) {
			if !fn(w) {
				return
			}
		}
	}
}

// sameWord: w and r are the same word, singular or plural (admin, admins).
func sameWord(w, r string) bool {
	if len(r) < 3 {
		return false // "a", "qa": too short to name a function area
	}
	return w == r || w == r+"s" || w+"s" == r
}

// above reports whether every group of the set holds all of group g's
// roles and more (g has roles).
func (d *bflaDetector) above(groups uint64, g uint8) bool {
	if d.roleless(g) || int(g) >= len(d.groupRoles) {
		return false
	}
	mine := d.groupRoles[g]
	return d.allWithRoles(groups, func(roles []string) bool { return strictSuperset(roles, mine) })
}

// areaReason is the resource-area reason, in the learning period and
// after it: without a privileged word or scope, a function of a resource
// area whose functions only groups above the principal's have used
// (exclusiveArea).
func (d *bflaDetector) areaReason(e *bflaEndpoint, g uint8) string {
	if a, ok := d.exclusiveArea(e); ok && d.above(e.groups|a.groups, g) {
		return fmt.Sprintf("resource area used only by groups holding this principal's roles and more (%.0f functions, %.0f uses)", a.funcs, a.n)
	}
	return ""
}

// strictSuperset reports whether sorted set a holds every element of
// sorted set b and more.
func strictSuperset(a, b []string) bool {
	if len(a) <= len(b) {
		return false
	}
	for _, x := range b {
		if _, ok := slices.BinarySearch(a, x); !ok {
			return false
		}
	}
	return true
}

func hasAnyScope(ev *event.Event, scopes []string) bool {
	t := ev.Auth.Identity.Token
	if t == nil {
		return false
	}
	for _, s := range scopes {
		for _, have := range t.Scopes {
			if s == have {
				return true
			}
		}
		for _, have := range t.Roles {
			if s == have {
				return true
			}
		}
	}
	return false
}

func (d *bflaDetector) emit(ev *event.Event, e *bflaEndpoint, g uint8, why string, out *Emitter) {
	var using []string
	for i := 0; i < 64; i++ {
		if e.groups&(1<<uint(i)) != 0 {
			using = append(using, d.groupName(uint8(i)))
		}
	}
	users := float64(e.users.len() + e.users.overflow)
	h := Hit{Type: alert.BFLAPrivilegedAccess, Time: ev.Time, Client: clientIP(ev), Identity: identityRef(ev), Endpoint: endpointRef(ev)}
	if why != "" {
		conf := 0.6
		if e.priv == 1 || len(e.scopes) > 0 {
			conf = 0.8
		}
		if users <= d.smallAbs {
			conf += 0.1
		}
		if len(e.scopes) > 0 || (e.priv == 1 && ev.Method != "GET" && ev.Method != "HEAD") {
			h.Severity = model.SevCritical
		}
		h.Confidence = conf
		h.Evidence = model.Evidence{
			Observed: "peer group " + d.groupName(g) + " never used this function", Baseline: strings.Join(using, "; "),
			Threshold: "successful use by a principal outside the groups that use it",
			Reason:    "a principal successfully used a privileged function that it and its peer group never use (" + why + ")",
			Details:   map[string]any{"principals_using": users, "successful_uses": e.n, "method": ev.Method, "status": ev.Status},
		}
		h.Sample = anomSample(ev, why)
	}
	out.Emit(h)
}

// Readiness implements pipeline.ReadinessReporter.
func (d *bflaDetector) Readiness(at time.Time) []model.Readiness {
	al := alertNames(alert.BFLAPrivilegedAccess)
	period := baseline{detector: "bfla", name: "role groups and their functions (learning period)", scope: "population", alerts: al,
		requires: model.Need{Hours: d.learn.Hours(), Principals: int64(d.minPrincipals)},
		while:    "every successful use is learned as normal for its role group; nothing fires"}
	uses := baseline{detector: "bfla", name: "successful uses of each endpoint", scope: "endpoint", alerts: al,
		requires: model.Need{Requests: int64(d.minUses)},
		while:    "the endpoint's users are learned; nothing fires on it"}.tally()
	small := baseline{detector: "bfla", name: "principals seen on its API since the endpoint's first use (small-set reasons)", scope: "endpoint", alerts: al,
		requires: model.Need{Principals: int64(d.smallPop)},
		while:    "only the administrative-path, DELETE and spec-scope reasons apply (PUT/PATCH used only by other groups and \"only a few principals use it\" wait)"}.tally()
	d.eps.Each(func(_ uint64, e *bflaEndpoint) {
		// Endpoints are keyed by hash only (no name kept): counted, not listed.
		uses.Add("", model.Need{Requests: int64(e.n)}, false)
		small.Add("", model.Need{Principals: int64(d.hostPop(e.host) - e.hostAt)}, false)
	})
	have := model.Need{Hours: hoursSince(d.start, at), Principals: int64(d.ids.Len())}
	return []model.Readiness{period.population(have, d.learnedAt), uses.Readiness(d.readyEP.at), small.Readiness(d.readySmall.at)}
}
