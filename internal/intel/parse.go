package intel

import (
	"bufio"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
)

// Entry is one listed address or network with its list count (1 when the
// feed carries no count).
type Entry struct {
	Prefix netip.Prefix
	Count  int
}

// LineError locates one rejected line of a feed.
type LineError struct {
	Source string
	Line   int
	Reason string
}

func (e LineError) Error() string { return fmt.Sprintf("%s:%d: %s", e.Source, e.Line, e.Reason) }

// MaxLineErrors is how many rejected lines a parse keeps with their location
// (all of them are counted).
const MaxLineErrors = 10

// maxLine bounds one feed line; longer lines are rejected, not truncated.
const maxLine = 4096

// Parsed is the result of parsing one feed.
type Parsed struct {
	Entries  []Entry
	Format   string // plain | netset | ipsum | csv (a mix is reported as e.g. "netset+ipsum")
	Rejected int    // lines that could not be read as an entry
	Filtered int    // entries below the minimum list count (ipsum-style)
	Errors   []LineError
}

// Parse reads a feed. Formats are detected per line and may mix:
//
//   - plain: one IP address per line ("1.2.3.4", "2001:db8::1");
//   - netset: CIDR networks ("10.0.0.0/8"), FireHOL style;
//   - ipsum: "IP<whitespace>count" where count is the number of lists naming
//     the address; entries with count < minCount are filtered (not rejected);
//   - csv: comma-separated lines with an IP column (e.g. the Tor
//     "fingerprint, ipaddr, port" exit list); a header line without any
//     address is skipped once, at the top.
//
// Comments start with '#' or ';' (whole line, or after whitespace at the end
// of a line). Blank lines are ignored. Anything else that does not parse is
// rejected and counted, and the first MaxLineErrors are kept with their line
// number. A feed without a single valid entry is an error.
func Parse(r io.Reader, source string, minCount int) (*Parsed, error) {
	if minCount < 1 {
		minCount = 1
	}
	p := &Parsed{}
	formats := map[string]bool{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	n := 0
	sawData := false
	for sc.Scan() {
		n++
		raw := sc.Text()
		if len(raw) > maxLine {
			p.reject(source, n, fmt.Sprintf("line too long (%d bytes)", len(raw)))
			continue
		}
		line := stripComment(raw)
		if n == 1 {
			line = strings.TrimPrefix(line, "\ufeff")
		}
		if line == "" {
			continue
		}
		if strings.Contains(line, ",") {
			e, ok, reason := parseCSV(line)
			if !ok {
				if !sawData && reason == "no address column" && hasLetter(line) {
					sawData = true // header line
					continue
				}
				p.reject(source, n, reason)
				continue
			}
			sawData = true
			formats["csv"] = true
			p.Entries = append(p.Entries, e)
			continue
		}
		sawData = true
		fields := strings.Fields(line)
		switch len(fields) {
		case 1:
			pfx, isNet, err := parsePrefix(fields[0])
			if err != nil {
				p.reject(source, n, err.Error())
				continue
			}
			if isNet {
				formats["netset"] = true
			} else {
				formats["plain"] = true
			}
			p.Entries = append(p.Entries, Entry{pfx, 1})
		case 2:
			pfx, _, err := parsePrefix(fields[0])
			if err != nil {
				p.reject(source, n, err.Error())
				continue
			}
			c, err := strconv.Atoi(fields[1])
			if err != nil || c < 0 {
				p.reject(source, n, fmt.Sprintf("second column %q is not a list count", clip(fields[1], 32)))
				continue
			}
			formats["ipsum"] = true
			if c < minCount {
				p.Filtered++
				continue
			}
			p.Entries = append(p.Entries, Entry{pfx, c})
		default:
			p.reject(source, n, fmt.Sprintf("expected an address, a CIDR or \"address count\", got %d fields", len(fields)))
		}
	}
	if err := sc.Err(); err != nil {
		return p, fmt.Errorf("%s:%d: %w", source, n+1, err)
	}
	p.Format = formatName(formats)
	if len(p.Entries) == 0 {
		switch {
		case p.Filtered > 0:
			return p, fmt.Errorf("%s: no entry reaches the minimum list count %d (%d below it)", source, minCount, p.Filtered)
		case p.Rejected > 0:
			return p, fmt.Errorf("%s: no valid entries (%d lines rejected; first: %s)", source, p.Rejected, p.Errors[0].Error())
		default:
			return p, fmt.Errorf("%s: feed is empty", source)
		}
	}
	return p, nil
}

func (p *Parsed) reject(source string, line int, reason string) {
	p.Rejected++
	if len(p.Errors) < MaxLineErrors {
		p.Errors = append(p.Errors, LineError{source, line, reason})
	}
}

func formatName(f map[string]bool) string {
	var parts []string
	for _, k := range []string{"plain", "netset", "ipsum", "csv"} {
		if f[k] {
			parts = append(parts, k)
		}
	}
	return strings.Join(parts, "+")
}

func stripComment(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || s[0] == '#' || s[0] == ';' {
		return ""
	}
	for i := 1; i < len(s); i++ {
		if (s[i] == '#' || s[i] == ';') && (s[i-1] == ' ' || s[i-1] == '\t') {
			return strings.TrimSpace(s[:i])
		}
	}
	return s
}

func hasLetter(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if c >= 'g' && c <= 'z' { // beyond hex digits: not an address
			return true
		}
	}
	return false
}

// parseCSV takes the first column that is an address or a network.
func parseCSV(line string) (Entry, bool, string) {
	for _, f := range strings.Split(line, ",") {
		f = strings.Trim(strings.TrimSpace(f), `"`)
		if f == "" {
			continue
		}
		if pfx, _, err := parsePrefix(f); err == nil {
			return Entry{pfx, 1}, true, ""
		}
	}
	return Entry{}, false, "no address column"
}

// parsePrefix reads an address (as a host prefix) or a CIDR network. IPv4
// addresses mapped into IPv6 are unmapped so that they match IPv4 clients.
func parsePrefix(s string) (netip.Prefix, bool, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, false, fmt.Errorf("not a CIDR network: %q", clip(s, 64))
		}
		a := p.Addr()
		bits := p.Bits()
		if a.Is4In6() {
			if bits < 96 {
				return netip.Prefix{}, false, fmt.Errorf("IPv4-mapped network %q is shorter than /96", clip(s, 64))
			}
			a, bits = a.Unmap(), bits-96
		}
		if a.Zone() != "" {
			return netip.Prefix{}, false, fmt.Errorf("zoned address %q", clip(s, 64))
		}
		return netip.PrefixFrom(a, bits).Masked(), true, nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, false, fmt.Errorf("not an IP address: %q", clip(s, 64))
	}
	if a.Zone() != "" {
		return netip.Prefix{}, false, fmt.Errorf("zoned address %q", clip(s, 64))
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), false, nil
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
