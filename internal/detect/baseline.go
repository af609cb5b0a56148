package detect

import (
	"math"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/hashing"
	"github.com/palisade-sec/palisade/internal/model"
)

// Shared building blocks of the learned (anomaly) families: EWMA
// baselines, tumbling event-time windows, confidence,
// subject keys and redacted samples.

// ewstat is an exponentially weighted mean and variance of per-window
// values (West's incremental form). n counts the observations folded in.
type ewstat struct {
	mean, vr float64
	n        uint32
}

func (s *ewstat) update(x, alpha float64) {
	if s.n == 0 {
		s.mean, s.vr = x, 0
	} else {
		d := x - s.mean
		s.mean += alpha * d
		s.vr = (1 - alpha) * (s.vr + alpha*d*d)
	}
	if s.n < math.MaxUint32 {
		s.n++
	}
}

func (s *ewstat) sd() float64 { return math.Sqrt(s.vr) }

// upper is the learned upper bound mean + k·sd, but at least mean·ratio.
func (s *ewstat) upper(k, ratio float64) float64 {
	return fmax(s.mean+k*s.sd(), s.mean*ratio)
}

// window is a tumbling event-time window (aligned to the Unix epoch, so
// every key shares the same boundaries).
type window struct {
	idx int64 // window index = unix seconds / window seconds
	n   float64
}

func winIndex(t time.Time, size time.Duration) int64 {
	s := int64(size / time.Second)
	if s <= 0 {
		s = 1
	}
	u := t.Unix()
	if u < 0 {
		return u/s - 1
	}
	return u / s
}

// winStart is the start, in unix seconds, of window idx of the given size
// (winIndex's inverse).
func winStart(idx int64, size time.Duration) int64 {
	return idx * max(int64(size/time.Second), 1)
}

// capOr returns n when set, else def.
func capOr(n, def int) int {
	if n > 0 {
		return n
	}
	return def
}

// confidence grows with how far the observation is above the threshold and
// with how much baseline evidence exists (evidence/full, capped at 1).
func confidence(observed, threshold, evidence, full float64) float64 {
	if threshold <= 0 {
		threshold = 1
	}
	r := observed / threshold
	if r < 1 {
		r = 1
	}
	c := 0.55 + 0.35*fmin(1, math.Log2(r)/3)
	e := 1.0
	if full > 0 {
		e = 0.7 + 0.3*fmin(1, evidence/full)
	}
	c *= e
	return math.Round(fmin(0.99, fmax(0.3, c))*100) / 100
}

func round2(f float64) float64 { return math.Round(f*100) / 100 }

// netKey is the client's network: /24 for IPv4, /48 for IPv6.
func netKey(a netip.Addr) uint64 {
	bitsN := 48
	if a.Is4() || a.Is4In6() {
		a = a.Unmap()
		bitsN = 24
	}
	p, err := a.Prefix(bitsN)
	if err != nil {
		return hashing.Addr(a)
	}
	return hashing.Addr(p.Addr())
}

func endpointHash(ev *event.Event) uint64 {
	h := hashing.Add(hashing.Offset, ev.Endpoint.Method)
	h = hashing.Sep(h)
	h = hashing.Add(h, ev.Endpoint.Host)
	h = hashing.Sep(h)
	h = hashing.Add(h, ev.Endpoint.Path)
	return hashing.Mix64(h)
}

// The strings of an event are views into its record's decoded text (see
// docs/ARCHITECTURE.md, "The recycling contract"): what a family keeps
// past Observe — keys, names, refs, pending hits, alerts — is a copy, made
// when it is first stored (a map update goes through the kept key).

// keepMethod returns m as a string that is not a view of the event's text:
// the common methods as constants, others copied.
func keepMethod(m string) string {
	switch m {
	case "GET":
		return "GET"
	case "POST":
		return "POST"
	case "PUT":
		return "PUT"
	case "PATCH":
		return "PATCH"
	case "DELETE":
		return "DELETE"
	case "HEAD":
		return "HEAD"
	case "OPTIONS":
		return "OPTIONS"
	}
	return strings.Clone(m)
}

// keepRef returns a copy of ref (with its id) whose strings are copies.
func keepRef(ref model.EndpointRef) model.EndpointRef {
	return model.EndpointRef{Host: strings.Clone(ref.Host), Method: keepMethod(ref.Method), Path: strings.Clone(ref.Path), ID: ref.ID}
}

// identityRef is the principal of ev, for a hit (hits may be kept: the
// name, which may be a prefix of a credential in the record, is copied; the
// id is a hash and the kind a constant).
func identityRef(ev *event.Event) *model.IdentityRef {
	id := ev.Auth.Identity
	if id == nil {
		return nil
	}
	return &model.IdentityRef{ID: id.ID, Kind: id.Kind, Name: strings.Clone(id.Name)}
}

// endpointRef is the endpoint of ev, for a hit (copied strings: hits may
// be kept).
func endpointRef(ev *event.Event) *model.EndpointRef {
	ep := keepRef(ev.Endpoint)
	return &ep
}

func clientIP(ev *event.Event) string {
	if !ev.ClientIP.IsValid() {
		return ""
	}
	return ev.ClientIP.String()
}

// statusClass groups statuses for per-class baselines.
func statusClass(s int) int {
	switch {
	case s >= 500:
		return 3
	case s == 401 || s == 403:
		return 2 // authn/authz failures have their own baseline
	case s >= 400:
		return 1
	}
	return 0
}

var statusClassNames = [...]string{"2xx/3xx", "4xx", "401/403", "5xx"}

// sensitiveParam reports query parameter names whose values are secrets.
func sensitiveParam(name string) bool {
	n := strings.ToLower(name)
	for _, w := range []string{"token", "key", "secret", "pass", "pwd", "auth", "sig", "session", "code", "credential", "jwt", "otp", "pin", "ssn", "email", "phone", "card"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

// anomSample builds a redacted sample request: path identifiers are kept
// only when they are plain numbers or UUIDs (other templated segments become
// {name}); query values are kept only when short numbers, secrets and
// everything else become "REDACTED"/"*"; the user part and fragment are
// dropped.
func anomSample(ev *event.Event, note string) *model.Sample {
	return &model.Sample{Time: ev.Time, Method: keepMethod(ev.Method), URL: redactedURL(ev), Status: ev.Status, Client: clientIP(ev), Note: note}
}

func redactedURL(ev *event.Event) string {
	var b strings.Builder
	scheme := ev.Scheme
	if scheme == "" {
		scheme = "https"
	}
	b.WriteString(scheme)
	b.WriteString("://")
	b.WriteString(ev.Host)
	path := ev.Path
	if path == "" {
		path = "/"
	}
	if len(ev.PathParams) == 0 {
		b.WriteString(clipStr(path, 256))
	} else {
		segs := strings.Split(path, "/")
		for i, s := range segs {
			if i > 0 {
				b.WriteByte('/')
			}
			for _, p := range ev.PathParams {
				if p.Value == s && s != "" {
					if !looksNumericID(s) && !looksUUID(s) {
						s = "{" + p.Name + "}"
					}
					break
				}
			}
			b.WriteString(clipStr(s, 64))
		}
	}
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
			b.WriteString(clipStr(k, 64))
			b.WriteByte('=')
			v := ""
			if vs := ev.Query[k]; len(vs) > 0 {
				v = vs[0]
			}
			switch {
			case sensitiveParam(k):
				b.WriteString("REDACTED")
			case looksNumericID(v) || v == "" || v == "true" || v == "false":
				b.WriteString(v)
			default:
				b.WriteString("*")
			}
		}
	}
	return b.String()
}

func clipStr(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

func looksNumericID(s string) bool {
	if s == "" || len(s) > 12 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func looksUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < 36; i++ {
		c := s[i]
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !isHex(c) {
				return false
			}
		}
	}
	return true
}

func isHex(c byte) bool { return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F' }

// winLabel renders a window duration for evidence ("20m", "6h").
func winLabel(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// fireState remembers that a subject's current window crossed its
// threshold, so that the window reports once on crossing, again each time
// its count doubles, and its remainder when it closes (alert count = events
// in anomalous windows, evidence = the strongest window).
type fireState struct {
	idx      int64
	reported float64
	on       bool
	thr      float64
}

// cross is called for every event of a window above threshold; it returns
// the count to report now (0 = nothing yet) and whether this is the first
// report of the window.
func (f *fireState) cross(idx int64, n, thr float64) (delta float64, first bool) {
	if !f.on || f.idx != idx {
		f.on, f.idx, f.reported, f.thr = true, idx, n, thr
		return n, true
	}
	if n >= 2*f.reported {
		d := n - f.reported
		f.reported = n
		return d, false
	}
	return 0, false
}

// remainder returns the events of fired window idx not reported yet, and
// counts them as reported unless out is a preview (see Finisher).
func (f *fireState) remainder(idx int64, n float64, out *Emitter) float64 {
	if f.on && f.idx == idx && n > f.reported {
		d := n - f.reported
		if !out.Preview() {
			f.reported = n
		}
		return d
	}
	return 0
}

// firedIn reports whether window idx crossed its threshold.
func (f *fireState) firedIn(idx int64) bool { return f.on && f.idx == idx }

// lin256 is a 256-bit linear counter (32 bytes) for small distinct counts
// (distinct identities behind one address, distinct networks), accurate to
// a few percent up to ~300.
type lin256 [4]uint64

func (c *lin256) add(h uint64) bool { return setBit(c[:], h) }

func (c *lin256) estimate() float64 {
	return lin256Estimates[ones(c[:])]
}

// lin256Estimates holds the estimate for every possible number of ones.
var lin256Estimates = linearEstimates(256)
