// Package enrich turns validated exchange records into enriched events:
// URL parsing and host normalization, the effective client address (trusted
// proxies), exposure (internal/external ranges), identity, threat intel and
// the endpoint template.
package enrich

import (
	"fmt"
	"github.com/palisade-sec/palisade/internal/graphql"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"

	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/identity"
	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/pipeline"
)

// Config of the enrichment stage.
type Config struct {
	// Internal address ranges: clients inside are "internal". Default: RFC 1918,
	// RFC 4193 (fc00::/7), loopback, link-local, CGNAT (100.64.0.0/10).
	Internal []netip.Prefix
	// TrustedProxies: when the peer address is in one of these ranges, the
	// client is the right-most untrusted X-Forwarded-For address.
	TrustedProxies []netip.Prefix
	Identity       identity.Config
	// Content bounds the decoding of bodies sent with a Content-Encoding
	// (content.go); MaxBody 0 turns it off.
	Content ContentConfig
}

// DefaultInternal are the default internal ranges.
func DefaultInternal() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8", "169.254.0.0/16", "100.64.0.0/10", "::1/128", "fc00::/7", "fe80::/10"} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{Internal: DefaultInternal(), Identity: identity.DefaultConfig(), Content: DefaultContentConfig()}
}

// ParsePrefixes parses a list of CIDRs or bare addresses.
func ParsePrefixes(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range list {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if p, err := netip.ParsePrefix(s); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("not a CIDR or IP address: %q", s)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// Enricher is the enrichment stage. Not safe for concurrent use (the
// templater it feeds learns from every call).
type Enricher struct {
	cfg       Config
	ids       *identity.Deriver
	templater pipeline.Templater
	intel     pipeline.IntelLookup
	content   contentDecoder
	free      []*event.Event // events given back with Recycle
	freeQ     []url.Values   // their query maps, emptied
	vals      []string       // spare room for query value slices

	// The last URL scheme and host seen and their normalized forms: most
	// records repeat the previous record's host.
	lastScheme, lastHost, normScheme, normHost string
}

// Recycle gives back an event nothing refers to any more (the engine calls
// it once every analyzer has seen the event); Enrich reuses its memory.
func (e *Enricher) Recycle(ev *event.Event) {
	if ev != nil && len(e.free) < 1024 {
		if ev.Query != nil && len(e.freeQ) < 1024 && len(ev.Query) <= 64 {
			clear(ev.Query)
			e.freeQ = append(e.freeQ, ev.Query)
		}
		*ev = event.Event{}
		e.free = append(e.free, ev)
	}
}

// New returns an enricher. templater and intel may be nil.
func New(cfg Config, t pipeline.Templater, intel pipeline.IntelLookup) *Enricher {
	if cfg.Internal == nil {
		cfg.Internal = DefaultInternal()
	}
	return &Enricher{cfg: cfg, ids: identity.New(cfg.Identity), templater: t, intel: intel, content: contentDecoder{cfg: cfg.Content}}
}

// Dropped counts, by reason, the bodies whose content coding was not (or
// not wholly) decoded (the Drop* keys of content.go).
func (e *Enricher) Dropped() map[string]int64 { return e.content.dropped }

// Decoded counts the bodies decoded, by the codings peeled ("gzip",
// "gzip,br" in the order undone).
func (e *Enricher) Decoded() map[string]int64 { return e.content.decoded }

// Identities exposes the identity deriver (for keyed hashing elsewhere).
func (e *Enricher) Identities() *identity.Deriver { return e.ids }

// Enrich builds the event for a validated record.
func (e *Enricher) Enrich(rec *exchange.Record, seq uint64) (*event.Event, error) {
	u, err := rec.ParsedURL()
	if err != nil {
		return nil, &exchange.FieldError{Field: "request.url", Message: err.Error()}
	}
	var ev *event.Event
	if n := len(e.free); n > 0 {
		ev = e.free[n-1]
		e.free = e.free[:n-1]
	} else {
		ev = new(event.Event)
	}
	*ev = event.Event{Seq: seq, Rec: rec, Time: rec.Time, Method: rec.Request.Method, URL: u,
		Status: rec.Response.Status, Outbound: rec.IsOutbound()}
	ev.RequestCoding, ev.ResponseCoding = e.content.decodeBodies(rec)
	if u.Scheme != e.lastScheme || u.Host != e.lastHost {
		e.lastScheme, e.lastHost = u.Scheme, u.Host
		e.normScheme = strings.ToLower(u.Scheme)
		e.normHost = NormalizeHost(u.Host, e.normScheme)
	}
	ev.Scheme, ev.Host = e.normScheme, e.normHost
	ev.Path = u.EscapedPath()
	if ev.Path == "" {
		ev.Path = "/"
	}
	if u.RawQuery != "" {
		var m url.Values
		if n := len(e.freeQ); n > 0 {
			m = e.freeQ[n-1]
			e.freeQ = e.freeQ[:n-1]
		} else {
			m = make(url.Values, 4)
		}
		e.parseQuery(m, u.RawQuery) // keep what parses
		ev.Query = m
	}
	ev.PeerIP, _ = rec.ClientAddr()
	ev.PeerIP = ev.PeerIP.Unmap()
	ev.ClientIP = e.clientIP(ev.PeerIP, rec.Request.Header("x-forwarded-for"))
	ev.External = !e.internal(ev.ClientIP)
	ev.UserAgent = rec.Request.Header("user-agent")
	ev.Auth = e.ids.Derive(&rec.Request, u)
	if e.intel != nil && !ev.Outbound {
		ev.Intel = e.intel.Lookup(ev.ClientIP)
	}
	ev.GraphQL = graphQL(rec, ev.Query)
	if e.templater != nil {
		ev.Endpoint, ev.PathParams = e.templater.Template(ev.Host, ev.Method, ev.Path)
	} else {
		ev.Endpoint = model.EndpointRef{Host: ev.Host, Method: ev.Method, Path: ev.Path}
	}
	return ev, nil
}

// graphQL summarizes the request's GraphQL documents: a JSON body's
// "query" members, an application/graphql body, or a GET's query
// parameter; nil when there is none. The checks before parsing are cheap:
// most requests are not GraphQL.
func graphQL(rec *exchange.Record, q url.Values) *event.GraphQL {
	var query string
	if v := q["query"]; len(v) > 0 && graphql.IsDocument(v[0]) {
		query = v[0]
	}
	body := rec.Request.Body
	if body != "" {
		ct := rec.Request.Header("content-type")
		gql := strings.Contains(ct, "graphql")
		if rec.Request.BodyEncoding != "" {
			if !gql && !strings.Contains(ct, "json") {
				body = "" // bytes under another type: no GraphQL request
			} else {
				body = rec.Request.BodyText()
			}
		}
		if gql && graphql.IsDocument(body) {
			query, body = body, ""
		}
	}
	if query == "" && !strings.Contains(body, `"query"`) {
		return nil
	}
	return graphql.Request(body, query)
}

// maxQueryParams bounds the query parameters kept per request (the limit
// url.ParseQuery applies by default; beyond it, ParseQuery keeps none, this
// keeps the first maxQueryParams).
const maxQueryParams = 10000

// parseQuery adds the parameters of a raw query to m as url.ParseQuery
// does: pairs split on '&', a pair with a ';' or a bad escape is skipped,
// empty pairs are skipped, keys and values are query-unescaped. Value
// slices of one element are carved from a shared block instead of being
// allocated one by one (capped, so that appending reallocates).
func (e *Enricher) parseQuery(m url.Values, query string) {
	for n := 0; query != "" && n < maxQueryParams; n++ {
		var key string
		key, query, _ = strings.Cut(query, "&")
		if key == "" || strings.IndexByte(key, ';') >= 0 {
			continue
		}
		key, value, _ := strings.Cut(key, "=")
		key, err := url.QueryUnescape(key)
		if err != nil {
			continue
		}
		if value, err = url.QueryUnescape(value); err != nil {
			continue
		}
		if vs, ok := m[key]; ok {
			m[key] = append(vs, value)
			continue
		}
		if len(e.vals) == 0 {
			e.vals = make([]string, 256)
		}
		vs := e.vals[:1:1]
		e.vals = e.vals[1:]
		vs[0] = value
		m[key] = vs
	}
}

func (e *Enricher) internal(a netip.Addr) bool {
	for _, p := range e.cfg.Internal {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

func (e *Enricher) trusted(a netip.Addr) bool {
	for _, p := range e.cfg.TrustedProxies {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// clientIP walks X-Forwarded-For from the right while addresses are trusted
// proxies; with no trusted proxies configured the peer address is the client.
func (e *Enricher) clientIP(peer netip.Addr, xff string) netip.Addr {
	if xff == "" || len(e.cfg.TrustedProxies) == 0 || !e.trusted(peer) {
		return peer
	}
	hops := strings.Split(xff, ",")
	client := peer
	for i := len(hops) - 1; i >= 0; i-- {
		h := strings.Trim(strings.TrimSpace(hops[i]), "[]")
		if host, _, err := net.SplitHostPort(h); err == nil {
			h = host
		}
		a, err := netip.ParseAddr(h)
		if err != nil {
			break
		}
		client = a.Unmap()
		if !e.trusted(client) {
			break
		}
	}
	return client
}

// NormalizeHost lower-cases a host and removes the scheme's default port.
func NormalizeHost(host, scheme string) string {
	host = strings.ToLower(host)
	if h, p, err := net.SplitHostPort(host); err == nil {
		if (p == "443" && (scheme == "https" || scheme == "wss")) || (p == "80" && (scheme == "http" || scheme == "ws")) {
			if strings.Contains(h, ":") {
				return "[" + h + "]"
			}
			return h
		}
	}
	return strings.TrimSuffix(host, ".")
}

// SplitHostPort splits a normalized host ("api.example.test",
// "api.example.test:8443", "[2001:db8::1]:8443", "2001:db8::1") into the
// host name or address and its explicit port (0 when none).
func SplitHostPort(host string) (name string, port int) {
	if h, p, err := net.SplitHostPort(host); err == nil {
		if n, err := strconv.Atoi(p); err == nil && n > 0 && n < 65536 {
			return h, n
		}
		return h, 0
	}
	return strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"), 0
}

// InternalHost reports whether a destination host is internal: an address
// in the internal ranges (nil: DefaultInternal) or a loopback, link-local
// or unspecified one, or an internal name (localhost, a single label, or
// a name under .internal, .local, .localdomain, .lan, .home.arpa, .svc or
// .cluster.local). The port, if any, is ignored.
func InternalHost(host string, internal []netip.Prefix) bool {
	name, _ := SplitHostPort(strings.ToLower(host))
	if a, err := netip.ParseAddr(name); err == nil {
		a = a.Unmap()
		if a.IsLoopback() || a.IsLinkLocalUnicast() || a.IsUnspecified() {
			return true
		}
		if internal == nil {
			internal = DefaultInternal()
		}
		for _, p := range internal {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	name = strings.TrimSuffix(name, ".")
	if name == "localhost" || !strings.Contains(name, ".") {
		return true
	}
	for _, suf := range []string{".localhost", ".internal", ".local", ".localdomain", ".lan", ".home.arpa", ".svc", ".cluster.local"} {
		if strings.HasSuffix(name, suf) {
			return true
		}
	}
	return false
}
