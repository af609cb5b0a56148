package sink

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/palisade-sec/palisade/internal/model"
)

// CEFSeverity maps an alert severity to the CEF 0–10 scale.
func CEFSeverity(s string) int {
	switch s {
	case model.SevInfo:
		return 1
	case model.SevLow:
		return 3
	case model.SevMedium:
		return 5
	case model.SevHigh:
		return 8
	case model.SevCritical:
		return 10
	}
	return 0
}

// cefHeader escapes a header field: backslash and pipe; line breaks become
// spaces (CEF headers cannot hold them).
func cefHeader(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '\\':
			b.WriteString(`\\`)
		case '|':
			b.WriteString(`\|`)
		case '\n', '\r':
			b.WriteByte(' ')
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// cefValue escapes an extension value: backslash, equals sign, and line
// breaks as \n and \r. Values are clipped to max runes.
func cefValue(s string, max int) string {
	var b strings.Builder
	writeCEFValue(&b, s, max)
	return b.String()
}

func writeCEFValue(b *strings.Builder, s string, max int) {
	n := 0
	for _, r := range s {
		if n == max {
			b.WriteString("…")
			break
		}
		n++
		switch r {
		case '\\':
			b.WriteString(`\\`)
		case '=':
			b.WriteString(`\=`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		default:
			b.WriteRune(r)
		}
	}
}

// FormatCEF renders an alert as an ArcSight CEF:0 line:
//
//	CEF:0|Palisade|Palisade|<version>|<type>|<title>|<severity>|<extension>
//
// Extension keys (standard CEF dictionary): externalId, rt (last seen, ms),
// start, end, cnt, cat (alert family), msg (evidence reason), src / c6a2
// (client IPv4 / IPv6), suser (readable principal, never a secret), suid
// (pseudonymous identity id), dhost, requestMethod, request (redacted sample
// URL or host+template), cs1 OWASP, cs2 MITRE technique ids, cs3 endpoint
// template, cs4 identity kind, cs5 subject, cs6 remediation, cfp1 confidence,
// and the alert's clients[]: cn1 the number of client addresses listed,
// flexString1 the addresses with their event counts
// ("198.51.100.23:12,[2001:db8::7]:3", most events first, IPv6 in brackets; from the first entry that
// would pass the 1023-character limit on, addresses are left out and
// counted with the rest),
// cn2 the events from addresses not listed (clients_other plus those left
// out); on an alert that follows a principal, flexString2 the listed
// addresses new to the principal with their counts (same format) and cn3
// the alert's events from addresses new to it (listed or not).
func FormatCEF(a *model.Alert, version string) string {
	var b strings.Builder
	b.Grow(1024)
	fmt.Fprintf(&b, "CEF:0|Palisade|Palisade|%s|%s|%s|%d|",
		cefHeader(version), cefHeader(a.Type), cefHeader(a.Title), CEFSeverity(a.Severity))
	first := true
	kv := func(k, v string, max int) {
		if v == "" {
			return
		}
		if !first {
			b.WriteByte(' ')
		}
		first = false
		b.WriteString(k)
		b.WriteByte('=')
		writeCEFValue(&b, v, max)
	}
	kv("externalId", a.ID, 255)
	if !a.LastSeen.IsZero() {
		kv("rt", strconv.FormatInt(a.LastSeen.UnixMilli(), 10), 32)
		kv("end", strconv.FormatInt(a.LastSeen.UnixMilli(), 10), 32)
	}
	if !a.FirstSeen.IsZero() {
		kv("start", strconv.FormatInt(a.FirstSeen.UnixMilli(), 10), 32)
	}
	if a.Count > 0 {
		kv("cnt", strconv.FormatInt(a.Count, 10), 32)
	}
	if fam, _, ok := strings.Cut(a.Type, "."); ok {
		kv("cat", fam, 1023)
	}
	kv("msg", a.Evidence.Reason, 1023)
	if a.Client != nil && a.Client.IP != "" {
		if ip, err := netip.ParseAddr(a.Client.IP); err == nil && ip.Unmap().Is6() {
			kv("c6a2", ip.String(), 64)
			kv("c6a2Label", "Source IPv6 Address", 1023)
		} else {
			kv("src", a.Client.IP, 64)
		}
	}
	if len(a.Clients) > 0 {
		list, listed, other := cefClients(a.Clients, a.ClientsOther)
		kv("cn1", strconv.Itoa(listed), 32)
		kv("cn1Label", "Client Addresses", 1023)
		kv("flexString1", list, 1023)
		kv("flexString1Label", "Clients (address:events)", 1023)
		if other > 0 {
			kv("cn2", strconv.FormatInt(other, 10), 32)
			kv("cn2Label", "Events From Other Addresses", 1023)
		}
		if fresh, events := cefNewClients(a.Clients, a.ClientsOtherNew); events > 0 {
			if fresh != "" { // none listed when only unnamed addresses are new
				kv("flexString2", fresh, 1023)
				kv("flexString2Label", "Clients New To Principal (address:events)", 1023)
			}
			kv("cn3", strconv.FormatInt(events, 10), 32)
			kv("cn3Label", "Events From Addresses New To Principal", 1023)
		}
	}
	if a.Identity != nil {
		name := a.Identity.Name
		if name == "" {
			name = a.Identity.ID
		}
		kv("suser", name, 1023)
		kv("suid", a.Identity.ID, 1023)
		kv("cs4", a.Identity.Kind, 1023)
		if a.Identity.Kind != "" {
			kv("cs4Label", "Identity Kind", 1023)
		}
	}
	if a.Endpoint != nil {
		kv("dhost", a.Endpoint.Host, 1023)
		kv("requestMethod", a.Endpoint.Method, 32)
		kv("cs3", a.Endpoint.Path, 4000)
		if a.Endpoint.Path != "" {
			kv("cs3Label", "Endpoint", 1023)
		}
	}
	req := ""
	if len(a.Evidence.Samples) > 0 {
		req = a.Evidence.Samples[0].URL
		if a.Endpoint == nil {
			kv("requestMethod", a.Evidence.Samples[0].Method, 32)
		}
	} else if a.Endpoint != nil && a.Endpoint.Host != "" {
		req = a.Endpoint.Host + a.Endpoint.Path
	}
	kv("request", req, 1023)
	if len(a.OWASP) > 0 {
		kv("cs1", strings.Join(a.OWASP, ","), 4000)
		kv("cs1Label", "OWASP API Top 10", 1023)
	}
	if len(a.MITRE) > 0 {
		ids := make([]string, 0, len(a.MITRE))
		for _, m := range a.MITRE {
			ids = append(ids, m.TechniqueID)
		}
		kv("cs2", strings.Join(ids, ","), 4000)
		kv("cs2Label", "MITRE ATT&CK", 1023)
	}
	kv("cs5", a.Subject, 1023)
	if a.Subject != "" {
		kv("cs5Label", "Subject", 1023)
	}
	kv("cs6", a.Remediation, 4000)
	if a.Remediation != "" {
		kv("cs6Label", "Remediation", 1023)
	}
	kv("cfp1", strconv.FormatFloat(a.Confidence, 'f', 2, 64), 32)
	kv("cfp1Label", "Confidence", 1023)
	return b.String()
}

// cefNewClients renders the clients new to the alert's principal as
// cefClients does, and returns with them the alert's events from addresses
// new to it: those of every new address in cs (listed or not) and otherNew.
func cefNewClients(cs []model.ClientCount, otherNew int64) (string, int64) {
	var fresh []model.ClientCount
	for _, c := range cs {
		if c.New {
			fresh = append(fresh, c)
		}
	}
	list, _, _ := cefClients(fresh, 0)
	events := otherNew
	for _, c := range fresh {
		events += c.Count
	}
	return list, events
}

// cefClients renders clients as "ip:count" entries joined by "," (IPv6
// addresses in brackets) within the 1023 characters of a flexString; it
// returns the list, how many addresses it holds, and the events of the
// addresses it does not hold (other plus those that did not fit).
func cefClients(cs []model.ClientCount, other int64) (string, int, int64) {
	var b strings.Builder
	listed := 0
	for i, c := range cs {
		ip := c.IP
		if strings.IndexByte(ip, ':') >= 0 {
			ip = "[" + ip + "]" // IPv6: the port-like suffix stays unambiguous
		}
		e := ip + ":" + strconv.FormatInt(c.Count, 10)
		if b.Len() > 0 {
			e = "," + e
		}
		if b.Len()+len(e) > 1023 {
			for _, r := range cs[i:] {
				other += r.Count
			}
			break
		}
		b.WriteString(e)
		listed++
	}
	return b.String(), listed, other
}

// ParseCEF splits a CEF line into its seven header fields and its
// extension map, undoing the escaping of FormatCEF. It exists to check the
// output (tests, and operators debugging a SIEM parser).
func ParseCEF(line string) (header []string, ext map[string]string, err error) {
	if !strings.HasPrefix(line, "CEF:") {
		return nil, nil, fmt.Errorf("cef: missing \"CEF:\" prefix")
	}
	rest := line[4:]
	var cur strings.Builder
	i := 0
	for len(header) < 7 {
		if i >= len(rest) {
			return nil, nil, fmt.Errorf("cef: %d header fields, want 7", len(header)+1)
		}
		c := rest[i]
		switch {
		case c == '\\' && i+1 < len(rest) && (rest[i+1] == '\\' || rest[i+1] == '|'):
			cur.WriteByte(rest[i+1])
			i += 2
		case c == '|':
			header = append(header, cur.String())
			cur.Reset()
			i++
		default:
			cur.WriteByte(c)
			i++
		}
	}
	ext = map[string]string{}
	s := rest[i:]
	// Keys are [A-Za-z0-9_]+ followed by '='; a value runs to the next
	// unescaped " key=".
	type kvp struct{ k, v string }
	var pairs []kvp
	for len(s) > 0 {
		eq := strings.IndexByte(s, '=')
		if eq <= 0 {
			return nil, nil, fmt.Errorf("cef: extension: expected key=value at %q", clip(s, 40))
		}
		key := s[:eq]
		if !cefKey(key) {
			return nil, nil, fmt.Errorf("cef: extension: bad key %q", clip(key, 40))
		}
		s = s[eq+1:]
		var v strings.Builder
		j := 0
		for j < len(s) {
			c := s[j]
			if c == '\\' && j+1 < len(s) {
				switch s[j+1] {
				case '\\', '=':
					v.WriteByte(s[j+1])
				case 'n':
					v.WriteByte('\n')
				case 'r':
					v.WriteByte('\r')
				default:
					v.WriteByte('\\')
					v.WriteByte(s[j+1])
				}
				j += 2
				continue
			}
			if c == '=' {
				return nil, nil, fmt.Errorf("cef: extension %s: unescaped '='", key)
			}
			if c == ' ' && nextIsKey(s[j+1:]) {
				break
			}
			v.WriteByte(c)
			j++
		}
		pairs = append(pairs, kvp{key, v.String()})
		if j < len(s) {
			j++ // the separating space
		}
		s = s[j:]
	}
	for _, p := range pairs {
		ext[p.k] = p.v
	}
	return header, ext, nil
}

func cefKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

func nextIsKey(s string) bool {
	eq := strings.IndexByte(s, '=')
	if eq <= 0 {
		return false
	}
	return cefKey(s[:eq]) && (eq == 0 || s[eq-1] != '\\')
}
