// Package exchange defines the exchange record (docs/contracts/exchange-v1.md),
// the product's native input, and the decoders that turn files and streams
// (NDJSON, gzip, HAR 1.2) into records. It is the first stage of the pipeline
// and imports nothing else of the product.
package exchange

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"net/netip"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/go-json-experiment/json/jsontext"

	"github.com/palisade-sec/palisade/internal/jsonscan"
)

// Record is one HTTP exchange: a request and its response.
type Record struct {
	Time       time.Time `json:"time"`
	DurationMs float64   `json:"duration_ms,omitzero"`
	Client     Client    `json:"client"`
	Direction  string    `json:"direction,omitempty"`
	Source     string    `json:"source,omitempty"`
	Request    Request   `json:"request"`
	Response   Response  `json:"response"`

	url    *url.URL // request.url as parsed by Validate
	urlRaw string   // the string it was parsed from
	ip     netip.Addr
	ipRaw  string

	headersLower bool // the decoder produced lower-case, unique header names
	pooled       bool // taken from a RecordPool: may go back to it
}

// ClientAddr returns client.ip parsed (cached by Validate).
func (r *Record) ClientAddr() (netip.Addr, error) {
	if r.ip.IsValid() && r.ipRaw == r.Client.IP {
		return r.ip, nil
	}
	return netip.ParseAddr(r.Client.IP)
}

// ParsedURL returns request.url parsed (cached by Validate while the URL
// is unchanged). Callers must not modify the result.
func (r *Record) ParsedURL() (*url.URL, error) {
	if r.url != nil && r.urlRaw == r.Request.URL {
		return r.url, nil
	}
	return url.Parse(r.Request.URL)
}

// Client is the peer the gateway saw.
type Client struct {
	IP   string `json:"ip"`
	Port int    `json:"port,omitzero"`
}

// Request half of an exchange.
type Request struct {
	Method       string            `json:"method"`
	URL          string            `json:"url"`
	Headers      map[string]string `json:"headers,omitempty"`
	Body         string            `json:"body,omitempty"`
	BodyEncoding string            `json:"body_encoding,omitempty"`
	Size         int64             `json:"size,omitzero"`
	Truncated    bool              `json:"truncated,omitzero"`
	// HeadersCaptured, when present, lists the only request headers the
	// sensor records (an access log with a few fields): a header missing
	// from Headers but listed was not sent; one not listed may have been.
	// Absent (the default), Headers holds every request header.
	HeadersCaptured []string `json:"headers_captured,omitzero"` // [] = none
}

// Response half of an exchange.
//
// Response bodies are the bulk of most captures: the general decoder keeps a
// response body in its JSON-quoted form and unquotes it on first use (the
// fast decoder unescapes it while scanning the line). Read it with BodyText
// (or HasBody), not the Body field, on decoded records.
type Response struct {
	Status       int               `json:"status"`
	Headers      map[string]string `json:"headers,omitempty"`
	Body         string            `json:"body,omitempty"`
	BodyEncoding string            `json:"body_encoding,omitempty"`
	Size         int64             `json:"size,omitzero"`
	Truncated    bool              `json:"truncated,omitzero"`

	rawBody []byte // JSON string token of the body, not yet unquoted
}

// Directions.
const (
	Inbound  = "inbound"
	Outbound = "outbound"
)

// IsOutbound reports whether the record is our service calling a third party.
func (r *Record) IsOutbound() bool { return r.Direction == Outbound }

// BodyText returns the request body as text: base64 bodies are decoded
// (invalid base64 yields the raw string).
func (r *Request) BodyText() string { return bodyText(r.Body, r.BodyEncoding) }

// BodyText returns the response body as text (unquoting it on first use;
// base64 bodies are decoded). Not safe for concurrent use on one record.
func (r *Response) BodyText() string {
	r.materialize()
	return bodyText(r.Body, r.BodyEncoding)
}

// HasBody reports whether the response carries a body, without decoding it.
func (r *Response) HasBody() bool { return r.Body != "" || len(r.rawBody) > 2 }

// MemSize approximates the bytes a record holds (strings, headers, bodies),
// for budgets of buffered records.
func (r *Record) MemSize() int64 {
	n := 256 + len(r.Request.URL) + len(r.Request.Body) + len(r.Response.Body) + len(r.Response.rawBody) + len(r.Client.IP)
	for k, v := range r.Request.Headers {
		n += len(k) + len(v) + 32
	}
	for k, v := range r.Response.Headers {
		n += len(k) + len(v) + 32
	}
	return int64(n)
}

// materialize unquotes a lazily kept body into Body.
func (r *Response) materialize() {
	if r.rawBody == nil {
		return
	}
	raw := r.rawBody
	r.rawBody = nil
	if raw[0] == '"' && raw[len(raw)-1] == '"' {
		if b, ok := jsonscan.AppendUnescape(make([]byte, 0, len(raw)-2), raw[1:len(raw)-1], false); ok && utf8.Valid(b) {
			r.Body = string(b)
			return
		}
	}
	if b, err := jsontext.AppendUnquote(nil, raw); err == nil {
		r.Body = string(b)
	} else {
		// Invalid UTF-8 is kept as is (the decoder allows it); any other
		// problem was rejected when the record was decoded.
		b, _ = jsontext.AppendUnquote(nil, bytes.ToValidUTF8(raw, []byte("\ufffd")))
		r.Body = string(b)
	}
}

func bodyText(b, enc string) string {
	if enc != "base64" || b == "" {
		return b
	}
	d, err := base64.StdEncoding.DecodeString(b)
	if err != nil {
		return b
	}
	return string(d)
}

// Header returns a request header. name must be lower-case: header names
// are lower-case in the contract and Validate lower-cases them on input.
func (r *Request) Header(name string) string { return r.Headers[name] }

// Header returns a response header (name in lower case).
func (r *Response) Header(name string) string { return r.Headers[name] }

// FieldError says which field of a record is missing or wrong.
type FieldError struct {
	Field   string
	Message string
}

func (e *FieldError) Error() string { return e.Field + ": " + e.Message }

// Validate checks the required fields and their forms. It normalizes the
// method to upper case, lower-cases header names and puts client.ip in its
// canonical form (CanonicalIP).
func (r *Record) Validate() error {
	if r.Time.IsZero() {
		return &FieldError{"time", "missing"}
	}
	if r.Client.IP == "" {
		return &FieldError{"client.ip", "missing"}
	}
	ip, err := netip.ParseAddr(r.Client.IP)
	if err != nil {
		return &FieldError{"client.ip", fmt.Sprintf("not an IP address: %q", clip(r.Client.IP, 64))}
	}
	if !ip.Is4() {
		// One spelling per address, everywhere downstream (alerts, store,
		// erasure): IPv4-mapped IPv6 as IPv4, IPv6 in RFC 5952 form, no zone.
		// IPv4 text that parses is already canonical.
		ip = ip.Unmap().WithZone("")
		if c := ip.String(); c != r.Client.IP {
			r.Client.IP = c
		}
	}
	r.ip, r.ipRaw = ip, r.Client.IP
	if r.Request.Method == "" {
		return &FieldError{"request.method", "missing"}
	}
	for i := 0; i < len(r.Request.Method); i++ {
		c := r.Request.Method[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c == '-' || c == '_') {
			return &FieldError{"request.method", fmt.Sprintf("not an HTTP method: %q", clip(r.Request.Method, 32))}
		}
	}
	r.Request.Method = strings.ToUpper(r.Request.Method)
	if r.Request.URL == "" {
		return &FieldError{"request.url", "missing"}
	}
	u, err := parseURL(r.Request.URL)
	if err != nil {
		return &FieldError{"request.url", "does not parse: " + clip(err.Error(), 120)}
	}
	if u.Scheme == "" || u.Host == "" {
		return &FieldError{"request.url", fmt.Sprintf("not an absolute URL: %q", clip(r.Request.URL, 120))}
	}
	r.url, r.urlRaw = u, r.Request.URL
	if r.Response.Status < 0 || r.Response.Status > 999 {
		return &FieldError{"response.status", fmt.Sprintf("out of range: %d", r.Response.Status)}
	}
	if r.Direction != "" && r.Direction != Inbound && r.Direction != Outbound {
		return &FieldError{"direction", fmt.Sprintf("must be inbound or outbound, got %q", clip(r.Direction, 32))}
	}
	if r.DurationMs < 0 {
		return &FieldError{"duration_ms", "negative"}
	}
	for _, enc := range []struct{ f, v string }{{"request.body_encoding", r.Request.BodyEncoding}, {"response.body_encoding", r.Response.BodyEncoding}} {
		if enc.v != "" && enc.v != "base64" && enc.v != "utf-8" && enc.v != "text" {
			return &FieldError{enc.f, fmt.Sprintf("unknown encoding %q", clip(enc.v, 32))}
		}
	}
	if !r.headersLower {
		lowerKeys(r.Request.Headers)
		lowerKeys(r.Response.Headers)
	}
	for i, h := range r.Request.HeadersCaptured {
		if l := strings.ToLower(h); l != h {
			r.Request.HeadersCaptured[i] = l
		}
	}
	if r.Request.Size == 0 && r.Request.Body != "" {
		r.Request.Size = int64(len(r.Request.BodyText()))
	}
	if r.Response.Size == 0 && r.Response.HasBody() {
		r.Response.Size = int64(len(r.Response.BodyText()))
	}
	return nil
}

func lowerKeys(h map[string]string) {
	for k, v := range h {
		lk := strings.ToLower(k)
		if lk != k {
			delete(h, k)
			if old, ok := h[lk]; ok {
				v = old + ", " + v
			}
			h[lk] = v
		}
	}
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// CanonicalIP returns the one spelling of an address used throughout
// Palisade: IPv4-mapped IPv6 as IPv4, IPv6 in RFC 5952 form, no zone; ""
// when s is not an address. Brackets and a port ("[::1]:443", "1.2.3.4:80")
// are accepted, as forwarding headers carry them.
func CanonicalIP(s string) string {
	s = strings.TrimSpace(s)
	if a, err := netip.ParseAddr(s); err == nil {
		return a.Unmap().WithZone("").String()
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().Unmap().WithZone("").String()
	}
	if a, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
		return a.Unmap().WithZone("").String()
	}
	return ""
}
