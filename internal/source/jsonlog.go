// Package source holds the ways traffic gets in besides files and stdin:
// following access logs like `tail -F` (exchange NDJSON, NGINX and Envoy
// JSON access logs) and receiving OpenTelemetry traces over OTLP/HTTP.
// Every source produces validated *exchange.Record values and reports
// rejected input as *exchange.RecordError (file, line, field, message).
package source

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"github.com/palisade-sec/palisade/internal/exchange"
)

// Targets of a field map: what a log key means. A field map maps the keys
// of one access-log JSON object to these targets; Envoy command operators
// (%START_TIME%, %REQ(USER-AGENT)%, …) are accepted as targets too, so an
// Envoy json_format can be pasted as the field map.
const (
	TTimeRFC3339  = "time"             // RFC 3339 / ISO 8601 time of arrival ($time_iso8601, %START_TIME%)
	TTimeEpoch    = "time_epoch"       // epoch seconds with fraction at log time ($msec); arrival = it − duration
	TTimeLocal    = "time_local"       // NGINX $time_local "18/Nov/2026:14:03:22 +0000" (log time)
	TTimeEnd      = "time_end"         // RFC 3339 time the log line was written ($time_iso8601); arrival = it − duration
	TMethod       = "method"           // HTTP method
	TRequestLine  = "request_line"     // "GET /path?q HTTP/1.1" ($request)
	TScheme       = "scheme"           // http | https
	THTTPS        = "https"            // NGINX $https: "on" means https
	THost         = "host"             // host[:port] (Host header / :authority)
	TServerPort   = "server_port"      // port the server listened on
	TURI          = "uri"              // path and query as requested ($request_uri)
	TOriginalURI  = "original_uri"     // preferred over uri when present (x-envoy-original-path)
	TURL          = "url"              // absolute URL
	TStatus       = "status"           // response status
	TReqSize      = "request_size"     // request body bytes ($content_length, %BYTES_RECEIVED%)
	TReqLength    = "request_length"   // whole request bytes incl. headers ($request_length): size fallback
	TRespSize     = "response_size"    // response body bytes ($body_bytes_sent, %BYTES_SENT%)
	TDurationS    = "duration_s"       // seconds with fraction ($request_time)
	TDurationMs   = "duration_ms"      // milliseconds (%DURATION%)
	TClient       = "client"           // ip or ip:port of the peer ($remote_addr, %DOWNSTREAM_REMOTE_ADDRESS%)
	TClientPort   = "client_port"      // $remote_port
	TReqBody      = "request_body"     // request body text ($request_body)
	TSource       = "source"           // sensor name
	TIgnore       = "ignore"           // known key without a use here
	prefixReqHdr  = "request.header."  // request.header.<name>
	prefixRespHdr = "response.header." // response.header.<name>
)

// lineParser turns one JSON access-log line into a record.
type lineParser struct {
	fields        map[string]string // log key → target
	defaultScheme string
	source        string
	autoHeaders   bool     // NGINX: http_<name> and sent_http_<name> keys are headers
	captured      []string // request headers the field map records (sorted)
}

// parseTarget normalizes a target given in a field map: a target name
// from the list above, "request.header.<name>", "response.header.<name>",
// or an Envoy command operator.
func parseTarget(t string) (string, error) {
	switch t {
	case TTimeRFC3339, TTimeEpoch, TTimeLocal, TTimeEnd, TMethod, TRequestLine, TScheme, THTTPS, THost, TServerPort, TURI,
		TOriginalURI, TURL, TStatus, TReqSize, TReqLength, TRespSize, TDurationS, TDurationMs, TClient, TClientPort,
		TReqBody, TSource, TIgnore:
		return t, nil
	}
	if h, ok := strings.CutPrefix(t, prefixReqHdr); ok && validHeaderName(h) {
		return prefixReqHdr + strings.ToLower(h), nil
	}
	if h, ok := strings.CutPrefix(t, prefixRespHdr); ok && validHeaderName(h) {
		return prefixRespHdr + strings.ToLower(h), nil
	}
	if strings.HasPrefix(t, "%") && strings.HasSuffix(t, "%") && len(t) > 2 {
		return envoyCommand(t[1 : len(t)-1])
	}
	return "", fmt.Errorf("unknown target %q", t)
}

// envoyCommand maps an Envoy access-log command operator to a target.
func envoyCommand(c string) (string, error) {
	if i := strings.IndexByte(c, ')'); i >= 0 && i+1 < len(c) && c[i+1] == ':' {
		c = c[:i+1] // drop the max-length suffix: %REQ(X):10%
	}
	switch {
	case c == "START_TIME" || strings.HasPrefix(c, "START_TIME("):
		if c != "START_TIME" {
			return "", fmt.Errorf("%%%s%%: only the default START_TIME format is understood (RFC 3339)", c)
		}
		return TTimeRFC3339, nil
	case c == "RESPONSE_CODE":
		return TStatus, nil
	case c == "BYTES_RECEIVED":
		return TReqSize, nil
	case c == "BYTES_SENT":
		return TRespSize, nil
	case c == "DURATION":
		return TDurationMs, nil
	case c == "DOWNSTREAM_REMOTE_ADDRESS", c == "DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT",
		c == "DOWNSTREAM_DIRECT_REMOTE_ADDRESS", c == "DOWNSTREAM_DIRECT_REMOTE_ADDRESS_WITHOUT_PORT":
		return TClient, nil
	case c == "PROTOCOL", c == "RESPONSE_FLAGS", c == "UPSTREAM_HOST", c == "UPSTREAM_CLUSTER", c == "RESPONSE_CODE_DETAILS",
		c == "CONNECTION_TERMINATION_DETAILS", c == "UPSTREAM_TRANSPORT_FAILURE_REASON", c == "ROUTE_NAME",
		c == "UPSTREAM_LOCAL_ADDRESS", c == "DOWNSTREAM_LOCAL_ADDRESS", c == "REQUESTED_SERVER_NAME":
		return TIgnore, nil
	}
	if arg, ok := strings.CutPrefix(c, "REQ("); ok && strings.HasSuffix(arg, ")") {
		arg = strings.ToLower(strings.TrimSuffix(arg, ")"))
		switch arg {
		case ":method":
			return TMethod, nil
		case ":path":
			return TURI, nil
		case "x-envoy-original-path?:path", "x-envoy-original-path":
			return TOriginalURI, nil
		case ":authority", "host":
			return THost, nil
		case ":scheme", "x-forwarded-proto":
			return TScheme, nil
		}
		if validHeaderName(arg) {
			return prefixReqHdr + arg, nil
		}
		return "", fmt.Errorf("%%REQ(%s)%%: not a header name", arg)
	}
	if arg, ok := strings.CutPrefix(c, "RESP("); ok && strings.HasSuffix(arg, ")") {
		arg = strings.ToLower(strings.TrimSuffix(arg, ")"))
		if validHeaderName(arg) {
			return prefixRespHdr + arg, nil
		}
		return "", fmt.Errorf("%%RESP(%s)%%: not a header name", arg)
	}
	return "", fmt.Errorf("unsupported Envoy command %%%s%%", c)
}

func validHeaderName(h string) bool {
	if h == "" {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return false
		}
	}
	return true
}

func newLineParser(defaults map[string]string, custom map[string]string, defaultScheme, source string, autoHeaders bool) (*lineParser, error) {
	p := &lineParser{fields: map[string]string{}, defaultScheme: defaultScheme, source: source, autoHeaders: autoHeaders}
	for k, v := range defaults {
		p.fields[k] = v
	}
	for k, v := range custom {
		t, err := parseTarget(v)
		if err != nil {
			return nil, fmt.Errorf("field map: key %q: %w", k, err)
		}
		p.fields[k] = t
	}
	for _, t := range p.fields {
		if h, ok := strings.CutPrefix(t, prefixReqHdr); ok && !slices.Contains(p.captured, strings.ToLower(h)) {
			p.captured = append(p.captured, strings.ToLower(h))
		}
	}
	slices.Sort(p.captured)
	if p.defaultScheme == "" {
		p.defaultScheme = "http"
	}
	if p.defaultScheme != "http" && p.defaultScheme != "https" {
		return nil, fmt.Errorf("default scheme: want http or https, got %q", defaultScheme)
	}
	return p, nil
}

// fieldErr is returned for a bad value: it names the log key and the target.
func fieldErr(key, msg string) error {
	return &exchange.FieldError{Field: key, Message: msg}
}

var decoders = sync.Pool{New: func() any { return new(jsontext.Decoder) }}

var decOpts = json.JoinOptions(jsontext.AllowDuplicateNames(true), jsontext.AllowInvalidUTF8(true))

type partial struct {
	timeRFC, timeEnd, timeEpoch, timeLocal string
	method, reqLine, scheme, https, host   string
	serverPort, uri, origURI, url, status  string
	reqSize, reqLength, respSize           string
	durS, durMs, client, clientPort, body  string
	source                                 string
	keys                                   map[string]string // target → log key (for errors)
	reqH, respH                            map[string]string
	autoCaptured                           []string // NGINX http_<name> keys of the line, even "-" or empty
}

// parse decodes one line into a validated record. It streams the JSON
// tokens (no intermediate map): only mapped keys are kept.
func (p *lineParser) parse(line []byte) (*exchange.Record, error) {
	var f partial
	if err := p.scan(line, &f); err != nil {
		return nil, err
	}
	return p.build(&f)
}

func (p *lineParser) scan(line []byte, f *partial) error {
	dec := decoders.Get().(*jsontext.Decoder)
	defer decoders.Put(dec)
	dec.Reset(bytes.NewReader(line), decOpts)
	notObject := func(err error) error { return fmt.Errorf("not a JSON object: %s", clip(err.Error(), 160)) }
	tok, err := dec.ReadToken()
	if err != nil {
		return notObject(err)
	}
	if tok.Kind() != '{' {
		return fmt.Errorf("not a JSON object: starts with %s", kindName(tok.Kind()))
	}
	for dec.PeekKind() != '}' {
		name, err := dec.ReadToken()
		if err != nil {
			return notObject(err)
		}
		k := name.String()
		t, ok := p.fields[k]
		if !ok && p.autoHeaders {
			if h, ok2 := strings.CutPrefix(k, "sent_http_"); ok2 {
				t, ok = prefixRespHdr+strings.ReplaceAll(h, "_", "-"), true
			} else if h, ok2 := strings.CutPrefix(k, "http_"); ok2 {
				t, ok = prefixReqHdr+strings.ReplaceAll(h, "_", "-"), true
				f.autoCaptured = append(f.autoCaptured, strings.ToLower(t[len(prefixReqHdr):]))
			}
		}
		if kind := dec.PeekKind(); kind == '{' || kind == '[' {
			if ok && t != TIgnore {
				return fieldErr(k, "expected a string or number, got "+kindName(kind))
			}
			if err := dec.SkipValue(); err != nil {
				return notObject(err)
			}
			continue
		}
		val, err := dec.ReadToken()
		if err != nil {
			return notObject(err)
		}
		if !ok || t == TIgnore {
			continue
		}
		var v string
		switch val.Kind() {
		case '"', '0':
			v = val.String()
		case 't':
			v = "true"
		case 'f':
			v = "false"
		}
		if v == "" || v == "-" {
			continue
		}
		f.set(t, k, v)
	}
	if _, err := dec.ReadToken(); err != nil {
		return notObject(err)
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return errors.New("not a JSON object: data after the closing brace")
	}
	return nil
}

func (f *partial) set(t, k, v string) {
	if f.keys == nil {
		f.keys = make(map[string]string, 16)
	}
	f.keys[t] = k
	switch {
	case strings.HasPrefix(t, prefixReqHdr):
		if f.reqH == nil {
			f.reqH = map[string]string{}
		}
		addHeader(f.reqH, t[len(prefixReqHdr):], v)
	case strings.HasPrefix(t, prefixRespHdr):
		if f.respH == nil {
			f.respH = map[string]string{}
		}
		addHeader(f.respH, t[len(prefixRespHdr):], v)
	default:
		if dst := f.slot(t); dst != nil {
			*dst = v
		}
	}
}

func (f *partial) slot(t string) *string {
	switch t {
	case TTimeRFC3339:
		return &f.timeRFC
	case TTimeEnd:
		return &f.timeEnd
	case TTimeEpoch:
		return &f.timeEpoch
	case TTimeLocal:
		return &f.timeLocal
	case TMethod:
		return &f.method
	case TRequestLine:
		return &f.reqLine
	case TScheme:
		return &f.scheme
	case THTTPS:
		return &f.https
	case THost:
		return &f.host
	case TServerPort:
		return &f.serverPort
	case TURI:
		return &f.uri
	case TOriginalURI:
		return &f.origURI
	case TURL:
		return &f.url
	case TStatus:
		return &f.status
	case TReqSize:
		return &f.reqSize
	case TReqLength:
		return &f.reqLength
	case TRespSize:
		return &f.respSize
	case TDurationS:
		return &f.durS
	case TDurationMs:
		return &f.durMs
	case TClient:
		return &f.client
	case TClientPort:
		return &f.clientPort
	case TReqBody:
		return &f.body
	case TSource:
		return &f.source
	}
	return nil
}

func kindName(k jsontext.Kind) string {
	switch k {
	case '{':
		return "an object"
	case '[':
		return "an array"
	}
	return "a " + k.String()
}

func addHeader(h map[string]string, name, v string) {
	name = strings.ToLower(name)
	if old, ok := h[name]; ok {
		v = old + ", " + v
	}
	h[name] = v
}

func (p *lineParser) key(f *partial, target string) string {
	if k, ok := f.keys[target]; ok {
		return k
	}
	return target
}

func (p *lineParser) build(f *partial) (*exchange.Record, error) {
	rec := &exchange.Record{Source: p.source, Direction: exchange.Inbound}
	if f.source != "" {
		rec.Source = f.source
	}
	// Duration first: log-time stamps are converted to arrival time with it.
	var dur time.Duration
	switch {
	case f.durMs != "":
		ms, err := parseNonNeg(f.durMs)
		if err != nil {
			return nil, fieldErr(p.key(f, TDurationMs), err.Error())
		}
		rec.DurationMs = ms
	case f.durS != "":
		s, err := parseNonNeg(f.durS)
		if err != nil {
			return nil, fieldErr(p.key(f, TDurationS), err.Error())
		}
		rec.DurationMs = s * 1000
	}
	dur = time.Duration(rec.DurationMs * float64(time.Millisecond))
	switch {
	case f.timeRFC != "":
		t, err := time.Parse(time.RFC3339Nano, f.timeRFC)
		if err != nil {
			return nil, fieldErr(p.key(f, TTimeRFC3339), fmt.Sprintf("not an RFC 3339 time: %q", clip(f.timeRFC, 40)))
		}
		rec.Time = t
	case f.timeEpoch != "":
		s, err := parseNonNeg(f.timeEpoch)
		if err != nil || s > 1e11 {
			return nil, fieldErr(p.key(f, TTimeEpoch), fmt.Sprintf("not epoch seconds: %q", clip(f.timeEpoch, 40)))
		}
		sec, frac := math.Modf(s)
		rec.Time = time.Unix(int64(sec), int64(math.Round(frac*1e3))*int64(time.Millisecond)).UTC().Add(-dur)
	case f.timeEnd != "":
		t, err := time.Parse(time.RFC3339Nano, f.timeEnd)
		if err != nil {
			return nil, fieldErr(p.key(f, TTimeEnd), fmt.Sprintf("not an RFC 3339 time: %q", clip(f.timeEnd, 40)))
		}
		rec.Time = t.Add(-dur)
	case f.timeLocal != "":
		t, err := time.Parse("02/Jan/2006:15:04:05 -0700", f.timeLocal)
		if err != nil {
			return nil, fieldErr(p.key(f, TTimeLocal), fmt.Sprintf("not an NGINX $time_local: %q", clip(f.timeLocal, 40)))
		}
		rec.Time = t.Add(-dur)
	default:
		return nil, fieldErr("time", "missing: no time key found in the line")
	}

	method, uri := f.method, f.uri
	if f.reqLine != "" {
		parts := strings.Fields(f.reqLine)
		if len(parts) < 2 {
			return nil, fieldErr(p.key(f, TRequestLine), fmt.Sprintf("not a request line: %q", clip(f.reqLine, 80)))
		}
		if method == "" {
			method = parts[0]
		}
		if uri == "" {
			uri = parts[1]
		}
	}
	if f.origURI != "" {
		uri = f.origURI
	}
	rec.Request.Method = method

	if f.url != "" {
		rec.Request.URL = f.url
	} else {
		scheme := strings.ToLower(f.scheme)
		if scheme == "" && f.https != "" {
			if f.https == "on" {
				scheme = "https"
			} else {
				scheme = "http"
			}
		}
		if scheme == "" {
			scheme = p.defaultScheme
		}
		host := f.host
		if host == "" {
			host = headerValue(f.reqH, "host")
		}
		if host == "" {
			return nil, fieldErr("host", "missing: no host key (Host header, :authority) in the line")
		}
		if f.serverPort != "" && !strings.Contains(strings.TrimPrefix(host, "["), ":") && !strings.HasSuffix(host, "]") &&
			!(scheme == "http" && f.serverPort == "80") && !(scheme == "https" && f.serverPort == "443") {
			host = net.JoinHostPort(host, f.serverPort)
		}
		if uri == "" {
			return nil, fieldErr(p.key(f, TURI), "missing: no request path in the line")
		}
		if !strings.HasPrefix(uri, "/") {
			if strings.HasPrefix(uri, "http://") || strings.HasPrefix(uri, "https://") {
				rec.Request.URL = uri // absolute-form request target
			} else if uri == "*" {
				uri = "/"
			} else {
				return nil, fieldErr(p.key(f, TURI), fmt.Sprintf("request target does not start with '/': %q", clip(uri, 80)))
			}
		}
		if rec.Request.URL == "" {
			rec.Request.URL = scheme + "://" + host + uri
		}
	}

	if f.status != "" {
		st, err := strconv.Atoi(f.status)
		if err != nil {
			return nil, fieldErr(p.key(f, TStatus), fmt.Sprintf("not a status code: %q", clip(f.status, 20)))
		}
		rec.Response.Status = st
	}
	ip, port, err := splitClient(f.client)
	if err != nil {
		return nil, fieldErr(p.key(f, TClient), err.Error())
	}
	rec.Client.IP, rec.Client.Port = ip, port
	if f.clientPort != "" {
		n, err := strconv.Atoi(f.clientPort)
		if err != nil || n < 0 || n > 65535 {
			return nil, fieldErr(p.key(f, TClientPort), fmt.Sprintf("not a port: %q", clip(f.clientPort, 20)))
		}
		rec.Client.Port = n
	}
	for _, s := range []struct {
		v, target string
		dst       *int64
	}{{f.reqSize, TReqSize, &rec.Request.Size}, {f.respSize, TRespSize, &rec.Response.Size}} {
		if s.v == "" {
			continue
		}
		n, err := strconv.ParseInt(s.v, 10, 64)
		if err != nil || n < 0 {
			return nil, fieldErr(p.key(f, s.target), fmt.Sprintf("not a byte count: %q", clip(s.v, 20)))
		}
		*s.dst = n
	}
	if rec.Request.Size == 0 && f.reqLength != "" {
		// $request_length counts the request line and headers too: it is an
		// upper bound of the body size, used only when nothing better exists.
		n, err := strconv.ParseInt(f.reqLength, 10, 64)
		if err != nil || n < 0 {
			return nil, fieldErr(p.key(f, TReqLength), fmt.Sprintf("not a byte count: %q", clip(f.reqLength, 20)))
		}
		rec.Request.Size = n
	}
	rec.Request.Headers = f.reqH
	rec.Response.Headers = f.respH
	// An access log records only the headers its format names: say which,
	// so that a missing Authorization header is not read as "no
	// credentials" (identity.Auth.Unseen).
	rec.Request.HeadersCaptured = p.captured
	if len(f.autoCaptured) > 0 {
		c := append(slices.Clone(p.captured), f.autoCaptured...)
		slices.Sort(c)
		rec.Request.HeadersCaptured = slices.Compact(c)
	}
	if rec.Request.HeadersCaptured == nil {
		rec.Request.HeadersCaptured = []string{}
	}
	if f.body != "" {
		rec.Request.Body = f.body
	}
	if err := rec.Validate(); err != nil {
		var fe *exchange.FieldError
		if errors.As(err, &fe) {
			return nil, fieldErr(p.sourceKey(f, fe.Field), fe.Message)
		}
		return nil, err
	}
	return rec, nil
}

// sourceKey names the log key behind a record field in validation errors.
func (p *lineParser) sourceKey(f *partial, field string) string {
	var targets []string
	switch field {
	case "client.ip":
		targets = []string{TClient}
	case "request.method":
		targets = []string{TMethod, TRequestLine}
	case "request.url":
		targets = []string{TURL, TOriginalURI, TURI, TRequestLine, THost}
	case "response.status":
		targets = []string{TStatus}
	}
	for _, t := range targets {
		if k, ok := f.keys[t]; ok {
			return k + " (" + field + ")"
		}
	}
	return field
}

func headerValue(h map[string]string, name string) string {
	if h == nil {
		return ""
	}
	return h[name]
}

func parseNonNeg(s string) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v < 0 || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, fmt.Errorf("not a non-negative number: %q", clip(s, 40))
	}
	return v, nil
}

// splitClient accepts "ip", "ip:port", "[v6]:port" and NGINX's
// "unix:" peers (rejected: no IP).
func splitClient(s string) (string, int, error) {
	if s == "" {
		return "", 0, errors.New("missing: no client address in the line")
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return a.String(), 0, nil
	}
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return ap.Addr().String(), int(ap.Port()), nil
	}
	return "", 0, fmt.Errorf("not an IP address or IP:port: %q", clip(s, 64))
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
