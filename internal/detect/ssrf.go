package detect

import (
	"net"
	"net/netip"
	"strconv"
	"strings"

	"golang.org/x/text/unicode/norm"

	"github.com/palisade-sec/palisade/internal/alert"
	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/model"
)

// The SSRF family: ssrf.internal_target when a request carries a URL (or,
// in a parameter named like a URL/host, a bare host) that points at
// loopback, private, link-local, CGNAT or unspecified addresses, cloud
// metadata endpoints, internal-only names, or uses a dangerous scheme
// (file, gopher, dict, ftp, ldap, jar, …). Hosts are judged syntactically —
// no DNS — including decimal/octal/hex/short IPv4 forms, IPv4-mapped IPv6
// and '@'/backslash authority confusion. URLs that point at the API's own
// host are ignored, and so are plainly written private targets sent by
// internal clients (an internal service registering an internal webhook);
// loopback, metadata, encoded addresses and dangerous schemes count from
// anyone. Stateless; cost is bounded like the injection family.
func init() {
	Register("ssrf", func(c Config) Detector { return NewSSRF(c) })
	RegisterOptions("ssrf", func() FamilyOptions { return &ssrfOptions{} })
}

// ssrfOptions are the ssrf family's options.
type ssrfOptions struct {
	Limits partOptions `yaml:",inline"`
}

// Validate implements config.Validator.
func (o *ssrfOptions) Validate() error { return checkOptions(&o.Limits) }

// SSRF is the SSRF detector.
type SSRF struct {
	lim   PartLimits
	Stats PartStats
	keyed
	scanner requestScanner
}

// NewSSRF returns the detector.
func NewSSRF(c Config) *SSRF {
	return &SSRF{lim: optionsFor[*ssrfOptions](c, "ssrf").Limits.limits()}
}

// Name implements Detector.
func (d *SSRF) Name() string { return "ssrf" }

// SSRFMatch is an internal target found in a value.
type SSRFMatch struct {
	Target     string // the host (or scheme) judged
	Reason     string
	Confidence float64
	Metadata   bool
	// Private: a plain private/CGNAT/internal-name target, written plainly
	// (no encoded address, no authority confusion, no dangerous scheme).
	Private bool
}

var dangerousSchemes = map[string]bool{"file": true, "gopher": true, "dict": true, "ftp": true, "tftp": true, "ldap": true, "ldaps": true,
	"jar": true, "netdoc": true, "sftp": true, "smb": true, "phar": true, "expect": true, "php": true, "glob": true, "ogg": true}

var metadataAddrs = map[netip.Addr]string{
	netip.MustParseAddr("169.254.169.254"): "cloud metadata (AWS/GCP/Azure/OpenStack)",
	netip.MustParseAddr("169.254.170.2"):   "ECS task metadata",
	netip.MustParseAddr("100.100.100.200"): "Alibaba Cloud metadata",
	netip.MustParseAddr("192.0.0.192"):     "Oracle Cloud metadata",
	netip.MustParseAddr("fd00:ec2::254"):   "AWS metadata (IPv6)",
	netip.MustParseAddr("169.254.169.123"): "AWS time sync",
}

// IsInstanceMetadataHost reports whether host (a name or an address,
// with or without brackets and port) is a cloud instance-metadata service:
// the addresses above, or a metadata host name of a cloud provider. Such a
// host is never an API of ours (the inventory lists calls to it as probes).
func IsInstanceMetadataHost(host string) bool {
	h := strings.ToLower(host)
	if hp, _, err := net.SplitHostPort(h); err == nil {
		h = hp
	}
	h = strings.Trim(h, "[]")
	if a, err := netip.ParseAddr(h); err == nil {
		_, ok := metadataAddrs[a.Unmap()]
		return ok
	}
	switch h {
	case "metadata.google.internal", "metadata.goog", "metadata.azure.com", "instance-data", "instance-data.ec2.internal", "metadata.tencentyun.com":
		return true
	}
	return false
}

var metadataNames = []string{"metadata.google.internal", "metadata.goog", "metadata", "instance-data", "instance-data.ec2.internal", "metadata.azure.com", "metadata.tencentyun.com", "kubernetes.default", "kubernetes.default.svc"}

var urlParamNames = []string{"url", "uri", "host", "target", "dest", "destination", "callback", "webhook", "endpoint", "server", "proxy", "domain",
	"fetch", "load", "src", "source", "link", "redirect", "next", "return", "feed", "image", "img", "avatar", "site", "address", "remote", "upstream", "hook", "path", "file", "document", "reference", "ref", "location", "continue", "forward", "open", "page", "data", "ip", "hostname"}

var urlParamSet = func() map[string]bool {
	m := map[string]bool{}
	for _, n := range urlParamNames {
		m[n] = true
	}
	return m
}()

// urlishName: a parameter named like a URL or host ("url", "callback_url",
// "webhookUri", "target_host", "redirect").
func urlishName(name string) bool {
	if name == "" || len(name) > 64 {
		return false
	}
	var buf [64]byte
	n := buf[:0]
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		n = append(n, c)
	}
	s := string(n) // short and not escaping: the compiler keeps it off the heap
	if urlParamSet[s] || strings.HasSuffix(s, "url") || strings.HasSuffix(s, "uri") || strings.HasSuffix(s, "host") || strings.HasSuffix(s, "hostname") {
		return true
	}
	if i := strings.LastIndexAny(s, "_-."); i >= 0 && urlParamSet[s[i+1:]] {
		return true
	}
	if i := strings.IndexAny(s, "_-."); i >= 0 && urlParamSet[s[:i]] {
		return true
	}
	return false
}

// ParseIPv4Loose parses IPv4 in the forms inet_aton accepts: 1 to 4 parts,
// each decimal, octal (leading 0) or hex (0x); the last part fills the
// remaining bytes ("127.1", "2130706433", "0x7f.1", "0177.0.0.1").
func ParseIPv4Loose(s string) (netip.Addr, bool) {
	if s == "" || len(s) > 64 {
		return netip.Addr{}, false
	}
	parts := strings.Split(strings.TrimSuffix(s, "."), ".")
	if len(parts) > 4 {
		return netip.Addr{}, false
	}
	vals := make([]uint64, len(parts))
	for i, p := range parts {
		if p == "" {
			return netip.Addr{}, false
		}
		base := 10
		switch {
		case len(p) > 2 && (p[:2] == "0x" || p[:2] == "0X"):
			base, p = 16, p[2:]
		case len(p) > 1 && p[0] == '0':
			base, p = 8, p[1:]
		}
		v, err := strconv.ParseUint(p, base, 64)
		if err != nil {
			return netip.Addr{}, false
		}
		vals[i] = v
	}
	var n uint64
	for i := 0; i < len(vals)-1; i++ {
		if vals[i] > 255 {
			return netip.Addr{}, false
		}
		n = n<<8 | vals[i]
	}
	last := vals[len(vals)-1]
	rem := 4 - (len(vals) - 1)
	if last >= 1<<(8*rem) {
		return netip.Addr{}, false
	}
	n = n<<(8*rem) | last
	return netip.AddrFrom4([4]byte{byte(n >> 24), byte(n >> 16), byte(n >> 8), byte(n)}), true
}

var cgnat = netip.MustParsePrefix("100.64.0.0/10")

// JudgeHost says whether a host (name or literal, without port) is an
// internal target.
func JudgeHost(host string) (SSRFMatch, bool) {
	h := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(host), "."))
	h = strings.Trim(h, "[]")
	if i := strings.IndexByte(h, '%'); i >= 0 { // zone
		h = h[:i]
	}
	if h == "" {
		return SSRFMatch{}, false
	}
	for i := 0; i < len(h); i++ {
		if h[i] >= 0x80 {
			// IDNA maps compatibility characters: "①②⑦.⓪.⓪.①" is 127.0.0.1,
			// "ｌｏｃａｌｈｏｓｔ" is localhost.
			h = strings.ToLower(norm.NFKC.String(h))
			h = strings.NewReplacer("。", ".", "．", ".", "｡", ".").Replace(h)
			break
		}
	}
	var a netip.Addr
	encoded := false
	if x, err := netip.ParseAddr(h); err == nil {
		a = x
	} else if x, ok := ParseIPv4Loose(h); ok {
		a, encoded = x, h != x.String()
	}
	if a.IsValid() {
		if a.Is4In6() {
			a, encoded = a.Unmap(), true
		}
		// IPv4-compatible / NAT64 forms carrying an internal IPv4.
		if a.Is6() {
			b := a.As16()
			if b[0] == 0 && b[1] == 0 && b[2] == 0 && b[3] == 0 && b[4] == 0 && b[5] == 0 && b[6] == 0 && b[7] == 0 && b[8] == 0 && b[9] == 0 && b[10] == 0 && b[11] == 0 && !a.IsLoopback() && !a.IsUnspecified() {
				a, encoded = netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}), true
			} else if strings.HasPrefix(a.String(), "64:ff9b::") {
				a, encoded = netip.AddrFrom4([4]byte{b[12], b[13], b[14], b[15]}), true
			}
		}
		m := SSRFMatch{Target: h, Confidence: 0.85}
		enc := ""
		if encoded {
			enc = " (encoded as " + h + ")"
			m.Confidence = 0.9
		}
		if what, ok := metadataAddrs[a]; ok {
			m.Reason, m.Metadata, m.Confidence = what+enc, true, 0.95
			return m, true
		}
		switch {
		case a.IsLoopback():
			m.Reason = "loopback " + a.String() + enc
		case a.IsUnspecified():
			m.Reason = "unspecified address " + a.String() + enc
		case a.IsPrivate():
			m.Reason = "private address " + a.String() + enc
			m.Private = !encoded
		case a.IsLinkLocalUnicast():
			m.Reason = "link-local address " + a.String() + enc
		case cgnat.Contains(a):
			m.Reason = "shared (CGNAT) address " + a.String() + enc
			m.Private = !encoded
		default:
			return SSRFMatch{}, false
		}
		return m, true
	}
	for _, n := range metadataNames {
		if h == n {
			return SSRFMatch{Target: h, Reason: "cloud metadata host " + h, Confidence: 0.95, Metadata: true}, true
		}
	}
	switch {
	case h == "localhost" || strings.HasSuffix(h, ".localhost") || h == "localhost.localdomain" || h == "ip6-localhost" || h == "ip6-loopback":
		return SSRFMatch{Target: h, Reason: "loopback name " + h, Confidence: 0.85}, true
	case strings.HasSuffix(h, ".internal") || strings.HasSuffix(h, ".svc.cluster.local") || strings.HasSuffix(h, ".cluster.local") || strings.HasSuffix(h, ".local") || strings.HasSuffix(h, ".intranet") || strings.HasSuffix(h, ".corp") || strings.HasSuffix(h, ".lan"):
		return SSRFMatch{Target: h, Reason: "internal name " + h, Confidence: 0.7, Private: true}, true
	case h == "localtest.me" || strings.HasSuffix(h, ".localtest.me") || h == "lvh.me" || strings.HasSuffix(h, ".lvh.me") || strings.HasSuffix(h, ".vcap.me"):
		return SSRFMatch{Target: h, Reason: "public name resolving to loopback " + h, Confidence: 0.85}, true
	}
	// Wildcard DNS services embedding an address: 127.0.0.1.nip.io, 10-0-0-1.sslip.io.
	for _, svc := range []string{".nip.io", ".xip.io", ".sslip.io", ".traefik.me", ".localh.st"} {
		if strings.HasSuffix(h, svc) {
			labels := strings.Split(strings.TrimSuffix(h, svc), ".")
			var cands []string
			if n := len(labels); n >= 4 {
				cands = append(cands, strings.Join(labels[n-4:], "."))
			}
			// dashed form: "10-0-0-7", "api-10-0-0-7"
			if parts := strings.Split(labels[len(labels)-1], "-"); len(parts) >= 4 {
				cands = append(cands, strings.Join(parts[len(parts)-4:], "."))
			}
			for _, cand := range cands {
				if m, ok := JudgeHost(cand); ok {
					m.Target, m.Reason = h, m.Reason+" via wildcard DNS "+svc[1:]
					return m, true
				}
			}
		}
	}
	return SSRFMatch{}, false
}

// authorityHosts returns the host interpretations of a URL-like string:
// the RFC 3986 host, the WHATWG one (backslashes as slashes), and the
// hosts on either side of an '@' (parser-confusion payloads).
func authorityHosts(raw string) (scheme string, hosts []string) {
	s := strings.TrimSpace(raw)
	if i := strings.Index(s, "://"); i > 0 {
		scheme = strings.ToLower(s[:i])
		s = s[i+3:]
	} else if strings.HasPrefix(s, "//") || strings.HasPrefix(s, "\\\\") {
		s = s[2:]
	} else if i := strings.IndexByte(s, ':'); i > 0 && isScheme(s[:i]) {
		return strings.ToLower(s[:i]), nil
	} else {
		return "", nil
	}
	if !isScheme(scheme) && scheme != "" {
		return "", nil
	}
	end := strings.IndexAny(s, "/?#")
	auth := s
	if end >= 0 {
		auth = s[:end]
	}
	add := func(a string) {
		a = strings.TrimSpace(a)
		if a == "" {
			return
		}
		h := a
		if strings.HasPrefix(h, "[") {
			if j := strings.IndexByte(h, ']'); j > 0 {
				h = h[:j+1]
			}
		} else if j := strings.LastIndexByte(h, ':'); j >= 0 && strings.Count(h, ":") == 1 {
			h = h[:j]
		}
		for _, x := range hosts {
			if x == h {
				return
			}
		}
		hosts = append(hosts, h)
	}
	at := strings.LastIndexByte(auth, '@')
	add(auth[at+1:])
	// WHATWG: '\' ends the authority too.
	if k := strings.IndexByte(auth, '\\'); k >= 0 {
		a2 := auth[:k]
		add(a2[strings.LastIndexByte(a2, '@')+1:])
	}
	if at >= 0 {
		// the part before '@' is what a naive validator reads as the host
		add(strings.SplitN(auth[:at], ":", 2)[0])
	}
	// '#@' / '?@' confusion: http://127.0.0.1#@good.com
	if end >= 0 && strings.Contains(s[end:], "@") {
		add(auth)
	}
	return scheme, hosts
}

func isScheme(s string) bool {
	if s == "" || len(s) > 16 || !(s[0] >= 'a' && s[0] <= 'z' || s[0] >= 'A' && s[0] <= 'Z') {
		return false
	}
	for i := 1; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// JudgeURLValue inspects one decoded value. urlish says the value sits in a
// parameter named like a URL or host (then bare hosts count too). own is
// the API's own host, never an SSRF target.
func JudgeURLValue(v string, urlish bool, own string) (SSRFMatch, bool) {
	return judgeURLValue(v, urlish, "", own)
}

// judgeURLValue is JudgeURLValue where, when urlish is false and name is
// not empty, urlish is urlishName(name) (computed only when needed).
func judgeURLValue(v string, urlish bool, name, own string) (SSRFMatch, bool) {
	v = strings.TrimSpace(v)
	if len(v) < 3 {
		return SSRFMatch{}, false
	}
	check := func(s string) (SSRFMatch, bool) {
		scheme, hosts := authorityHosts(s)
		if scheme != "" && dangerousSchemes[scheme] {
			return SSRFMatch{Target: scheme + ":", Reason: "dangerous scheme " + scheme + ":", Confidence: 0.85}, true
		}
		if scheme != "" && scheme != "http" && scheme != "https" && scheme != "ws" && scheme != "wss" && len(hosts) == 0 {
			return SSRFMatch{}, false
		}
		for _, h := range hosts {
			if own != "" && strings.EqualFold(strings.Trim(h, "[]"), own) {
				continue
			}
			if m, ok := JudgeHost(h); ok {
				if len(hosts) > 1 {
					m.Reason += " (authority confusion)"
					m.Confidence = max(m.Confidence, 0.9)
					m.Private = false
				}
				return m, true
			}
		}
		return SSRFMatch{}, false
	}
	// URLs anywhere in the value (e.g. inside a JSON string or a sentence).
	if strings.Contains(v, ":/") || strings.HasPrefix(v, "//") || strings.HasPrefix(v, "\\\\") || strings.Contains(v, ":\\") {
		for start := 0; start < len(v); {
			i := strings.Index(v[start:], ":/")
			if i < 0 {
				break
			}
			i += start
			j := i
			for j > 0 && isSchemeChar(v[j-1]) {
				j--
			}
			k := i
			for k < len(v) && v[k] > ' ' && v[k] != '"' && v[k] != '\'' && v[k] != '<' && v[k] != '>' {
				k++
			}
			if j < i {
				if m, ok := check(v[j:k]); ok {
					return m, true
				}
			}
			start = i + 2
		}
		if strings.HasPrefix(v, "//") || strings.HasPrefix(v, "\\\\") {
			if m, ok := check(v); ok {
				return m, true
			}
		}
	}
	if c := strings.IndexByte(v, ':'); c >= 3 && c <= 6 { // every scheme below is 3–6 letters
		for _, sch := range []string{"file:", "gopher:", "dict:", "jar:", "netdoc:", "ldap:", "expect:", "php:", "phar:"} {
			if len(v) > len(sch) && strings.EqualFold(v[:len(sch)], sch) {
				return SSRFMatch{Target: sch, Reason: "dangerous scheme " + sch, Confidence: 0.85}, true
			}
		}
	}
	if !urlish && name != "" {
		urlish = urlishName(name)
	}
	if urlish && !strings.ContainsAny(v, " /\t") {
		h := v
		if strings.Count(h, ":") == 1 {
			h = h[:strings.IndexByte(h, ':')]
		}
		if own != "" && strings.EqualFold(h, own) {
			return SSRFMatch{}, false
		}
		if m, ok := JudgeHost(h); ok {
			m.Confidence -= 0.1
			return m, true
		}
	}
	return SSRFMatch{}, false
}

func isSchemeChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'
}

// skipSSRFHeaders: headers whose URLs name the client's own context.
var skipSSRFHeaders = map[string]bool{"referer": true, "origin": true, "user-agent": true, "x-forwarded-for": true, "x-real-ip": true, "forwarded": true, "via": true}

// Observe implements Detector.
func (d *SSRF) Observe(ev *event.Event, out *Emitter) {
	d.begin(ev)
	if ev.Outbound || ev.Rec == nil {
		return
	}
	sc := scanShared(d.keys, &d.scanner, ev, d.lim, "", nil, true)
	d.Stats.add(sc.stats)
	best := sc.ssrf
	if best == nil {
		return
	}
	bestLoc, bestFrag, bestLayers := best.Loc, best.Fragment, best.Layers
	ep := ev.Endpoint
	sev := ""
	if best.Metadata {
		sev = model.SevCritical
	}
	layers := "none"
	if len(bestLayers) > 0 {
		layers = strings.Join(bestLayers, ",")
	}
	out.Emit(Hit{Type: alert.SSRFInternalTarget, Time: ev.Time, Severity: sev, Confidence: best.Confidence, Client: sigClient(ev), Identity: sigIdentity(ev), Endpoint: &ep,
		Evidence: model.Evidence{Observed: best.Confidence, Reason: best.Reason + " in " + bestLoc,
			Details: map[string]any{"location": bestLoc, "target": best.Target, "decoding": layers, "fragment": bestFrag}},
		Sample: sigSample(ev, bestLoc+": "+bestFrag),
	})
}
