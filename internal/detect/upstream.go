package detect

import (
	"net/netip"
	"strings"
	"time"

	"github.com/palisade-sec/palisade/internal/alert"
	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/model"
)

// The upstream family (API10:2023, unsafe consumption of APIs):
// consumption.unsafe_upstream on outbound records (our service calling a
// third-party API) when
//
//   - the call is unencrypted (http://) to a host outside internal ranges;
//   - sensitive data (payment card numbers passing Luhn, US SSNs, IBANs
//     passing mod-97) goes to a destination host first seen after the
//     learning period (learn_minutes and at least learn_calls outbound
//     calls, whichever ends later);
//   - the upstream answers a redirect (3xx Location) to an internal target
//     (loopback, private, link-local, metadata, dangerous scheme);
//   - the upstream response carries an injection payload (strong matches
//     of the injection matchers in its JSON leaves or text).
//
// Options: upstreamOptions (detect.options.upstream).
//
// Memory: one map entry per destination host (≈100 bytes), at most
// max_hosts; when full, further new hosts are not remembered and counted in
// HostsDropped (such hosts cannot be called "new" and raise no new-destination hit).
func init() {
	Register("upstream", func(c Config) Detector { return NewUpstream(c) })
	RegisterOptions("upstream", func() FamilyOptions { return &upstreamOptions{LearnMinutes: 60, LearnCalls: 200, MaxHosts: 10000} })
}

// upstreamOptions are the upstream family's options.
type upstreamOptions struct {
	LearnMinutes int `yaml:"learn_minutes" doc:"learning period from the first outbound event, in minutes"`
	LearnCalls   int `yaml:"learn_calls" doc:"outbound calls the learning period also needs: it ends once both learn_minutes and learn_calls are reached"`
	MaxHosts     int `yaml:"max_hosts" doc:"destination hosts remembered"`
}

// Validate implements config.Validator.
func (o *upstreamOptions) Validate() error { return checkOptions(o) }

// Upstream is the detector.
type Upstream struct {
	learn        time.Duration
	learnCalls   int64
	calls        int64     // outbound calls seen
	learnedAt    time.Time // when the learning period ended (zero: learning)
	maxHosts     int
	start        time.Time
	hosts        map[string]time.Time // host → first seen (event time)
	HostsDropped int64
	lim          PartLimits
	stats        PartStats
	ready        readyMark
}

// NewUpstream returns the detector.
func NewUpstream(c Config) *Upstream {
	o := optionsFor[*upstreamOptions](c, "upstream")
	return &Upstream{
		learn:      time.Duration(o.LearnMinutes) * time.Minute,
		learnCalls: int64(o.LearnCalls),
		maxHosts:   o.MaxHosts,
		hosts:      map[string]time.Time{},
		lim:        PartLimits{MaxBody: 128 << 10, MaxParts: 256, MaxValue: 8 << 10},
	}
}

// Name implements Detector.
func (d *Upstream) Name() string { return "upstream" }

func internalHost(h string) bool {
	h = strings.Trim(h, "[]")
	if a, err := netip.ParseAddr(h); err == nil {
		a = a.Unmap()
		return a.IsLoopback() || a.IsPrivate() || a.IsLinkLocalUnicast() || cgnat.Contains(a)
	}
	return h == "localhost" || strings.HasSuffix(h, ".internal") || strings.HasSuffix(h, ".local") || strings.HasSuffix(h, ".cluster.local") || !strings.Contains(h, ".")
}

func stripPort(h string) string {
	if strings.HasPrefix(h, "[") {
		if i := strings.IndexByte(h, ']'); i > 0 {
			return h[:i+1]
		}
	}
	if i := strings.LastIndexByte(h, ':'); i >= 0 && strings.Count(h, ":") == 1 {
		return h[:i]
	}
	return h
}

// Observe implements Detector.
func (d *Upstream) Observe(ev *event.Event, out *Emitter) {
	if !ev.Outbound || ev.Rec == nil {
		return
	}
	if d.start.IsZero() || ev.Time.Before(d.start) {
		d.start = ev.Time
	}
	// Learning ends once both its time and its calls are reached: a quiet
	// night may make one call an hour, and a destination the service uses
	// every day (the payment processor) may not have come up yet.
	if d.learnedAt.IsZero() && ev.Time.Sub(d.start) >= d.learn && d.calls >= d.learnCalls {
		d.learnedAt = ev.Time
	}
	d.calls++
	host := stripPort(ev.Host)
	first, known := d.hosts[host]
	if !known {
		if len(d.hosts) < d.maxHosts {
			d.hosts[strings.Clone(host)] = ev.Time // not a view of the record
			first, known = ev.Time, true
		} else {
			d.HostsDropped++
		}
	}
	emit := func(reason string, conf float64, details map[string]any, note string) {
		ep := ev.Endpoint
		details["destination"] = host
		out.Emit(Hit{Type: alert.ConsumptionUnsafeUpstream, Time: ev.Time, Confidence: conf, Client: sigClient(ev), Endpoint: &ep,
			Evidence: model.Evidence{Reason: reason, Details: details}, Sample: sigSample(ev, note)})
	}
	if ev.Scheme == "http" && !internalHost(host) {
		emit("unencrypted call to third-party API "+host, 0.9, map[string]any{"issue": "plaintext"}, "http:// upstream")
	}
	// Sensitive data to a new destination.
	if !d.learnedAt.IsZero() {
		d.ready.mark(ev.Time)
	}
	if known && !d.learnedAt.IsZero() && !first.Before(d.learnedAt) {
		if kind, loc, frag := d.sensitiveOut(ev); kind != "" {
			emit(kind+" sent to "+host+", a destination first seen "+first.UTC().Format(time.RFC3339)+" (after the learning period)", 0.8,
				map[string]any{"issue": "sensitive_to_new_destination", "data": kind, "location": loc, "fragment": frag}, loc+": "+frag)
		}
	}
	// Redirect to an internal target.
	if ev.Status >= 300 && ev.Status < 400 {
		if loc := ev.Rec.Response.Header("location"); loc != "" {
			if m, ok := JudgeURLValue(DecodeLayers(loc).Text, true, ""); ok {
				emit("upstream "+host+" redirects to an internal target: "+m.Reason, m.Confidence,
					map[string]any{"issue": "redirect_internal", "location": Fragment(loc, 0, len(loc)), "target": m.Target}, "Location: "+Fragment(loc, 0, len(loc)))
			}
		}
	}
	// Injection payloads in the upstream response.
	if body := ev.Rec.Response.BodyText(); body != "" {
		ct := strings.ToLower(ev.Rec.Response.Header("content-type"))
		if strings.Contains(ct, "html") {
			return // HTML documents legitimately carry markup and scripts
		}
		var best *InjFinding
		BodyParts(body, ct, d.lim, &d.stats, func(p Part) bool {
			if p.Kind == PartXML {
				return true
			}
			inspectPart(p, func(f InjFinding) {
				if f.Confidence < 0.85 || f.Class == ClassPathTraversal {
					return
				}
				if best == nil || f.Confidence > best.Confidence {
					ff := f
					best = &ff
				}
			})
			return best == nil || best.Confidence < 0.95
		})
		if best != nil {
			emit("upstream "+host+" returned a "+best.Class.String()+" payload in "+best.Loc, best.Confidence,
				map[string]any{"issue": "injection_in_response", "class": best.Class.String(), "location": best.Loc, "fragment": best.Fragment, "match": best.Reason}, best.Loc+": "+best.Fragment)
		}
	}
}

// sensitiveOut finds sensitive data in the outbound request (query values
// and body leaves): a Luhn-valid card number, a US SSN or an IBAN.
func (d *Upstream) sensitiveOut(ev *event.Event) (kind, loc, frag string) {
	RequestParts(ev, d.lim, &d.stats, func(p Part) bool {
		if p.Kind == PartHeader || p.Kind == PartHeaderProto || p.Kind == PartCookieName || p.Kind == PartPath || p.Kind == PartPathPlain {
			return true
		}
		if k, masked := SensitiveValue(p.Value); k != "" {
			kind, loc, frag = k, p.Loc(), masked
			return false
		}
		return true
	})
	return
}

// SensitiveValue finds a payment card number (13–19 digits, separators
// allowed, Luhn-valid), a US SSN (AAA-GG-SSSS, valid ranges) or an IBAN
// (mod-97) in a value. It returns the kind and a masked form.
func SensitiveValue(v string) (kind, masked string) {
	if len(v) < 9 || len(v) > 4096 {
		return "", ""
	}
	// digit runs with spaces/dashes
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' || i > 0 && v[i-1] >= '0' && v[i-1] <= '9' {
			continue
		}
		var digits []byte
		j := i
		for j < len(v) && len(digits) <= 19 {
			c := v[j]
			if c >= '0' && c <= '9' {
				digits = append(digits, c)
			} else if (c == ' ' || c == '-') && j+1 < len(v) && v[j+1] >= '0' && v[j+1] <= '9' {
			} else {
				break
			}
			j++
		}
		run := v[i:j]
		if len(digits) >= 13 && len(digits) <= 19 && luhn(digits) && (j >= len(v) || v[j] < '0' || v[j] > '9') {
			return "payment card number", string(digits[:min(6, len(digits))]) + "…" + string(digits[len(digits)-4:])
		}
		if len(run) == 11 && run[3] == '-' && run[6] == '-' && len(digits) == 9 {
			a, g, s := string(digits[:3]), string(digits[3:5]), string(digits[5:])
			if a != "000" && a != "666" && a[0] != '9' && g != "00" && s != "0000" {
				return "US social security number", "***-**-" + s
			}
		}
		i = j
	}
	if ib, ok := findIBAN(v); ok {
		return "IBAN", ib[:4] + "…" + ib[len(ib)-4:]
	}
	return "", ""
}

func luhn(d []byte) bool {
	sum := 0
	alt := false
	for i := len(d) - 1; i >= 0; i-- {
		n := int(d[i] - '0')
		if alt {
			n *= 2
			if n > 9 {
				n -= 9
			}
		}
		sum += n
		alt = !alt
	}
	allSame := true
	for _, c := range d {
		if c != d[0] {
			allSame = false
		}
	}
	return sum%10 == 0 && !allSame
}

// findIBAN looks for a compact or space-grouped IBAN with a valid check.
func findIBAN(v string) (string, bool) {
	for i := 0; i+15 <= len(v); i++ {
		if !(v[i] >= 'A' && v[i] <= 'Z' && v[i+1] >= 'A' && v[i+1] <= 'Z' && v[i+2] >= '0' && v[i+2] <= '9' && v[i+3] >= '0' && v[i+3] <= '9') {
			continue
		}
		if i > 0 && (v[i-1] >= 'A' && v[i-1] <= 'Z' || v[i-1] >= '0' && v[i-1] <= '9') {
			continue
		}
		var b []byte
		j := i
		for j < len(v) && len(b) < 34 {
			c := v[j]
			if c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' {
				b = append(b, c)
			} else if c != ' ' {
				break
			}
			j++
		}
		if len(b) >= 15 && ibanValid(b) {
			return string(b), true
		}
	}
	return "", false
}

func ibanValid(b []byte) bool {
	r := append(append([]byte(nil), b[4:]...), b[:4]...)
	rem := 0
	for _, c := range r {
		if c >= 'A' && c <= 'Z' {
			n := int(c-'A') + 10
			rem = (rem*100 + n) % 97
		} else {
			rem = (rem*10 + int(c-'0')) % 97
		}
	}
	return rem == 1
}

// Readiness implements pipeline.ReadinessReporter (nothing to report
// before the first outbound call).
func (d *Upstream) Readiness(at time.Time) []model.Readiness {
	if d.start.IsZero() {
		return nil
	}
	b := baseline{detector: "upstream", name: "known outbound destinations", scope: "population", alerts: alertNames(alert.ConsumptionUnsafeUpstream),
		requires: model.Need{Hours: d.learn.Hours(), Requests: d.learnCalls},
		while:    "destinations are learned (sensitive data to a new destination is not judged); plain http, redirects to internal targets and injection in responses are checked from the first call"}
	return []model.Readiness{b.population(model.Need{Hours: hoursSince(d.start, at), Requests: d.calls}, d.ready)}
}
