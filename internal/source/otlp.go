package source

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/go-json-experiment/json"

	"github.com/palisade-sec/palisade/internal/exchange"
)

// Reasons a span is skipped (accepted, but not an HTTP exchange).
const (
	SkipNotHTTP  = "not_http"  // no HTTP method attribute
	SkipSpanKind = "span_kind" // HTTP attributes on an internal/producer/consumer/unspecified span
)

// OTLPOptions configure the OTLP receiver and the span mapping.
type OTLPOptions struct {
	// MaxBodyBytes caps a request body after decompression [16 MiB].
	MaxBodyBytes int64
	// Source names the sensor in records; default "otlp:<service.name>".
	Source string
	// LocalIP is client.ip of outbound (client-span) records when the span
	// names no local address [0.0.0.0, i.e. unknown].
	LocalIP string
	// MaxErrors caps the rejection messages kept in Stats [10].
	MaxErrors int
}

func (o *OTLPOptions) defaults() {
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 16 << 20
	}
	if o.LocalIP == "" {
		o.LocalIP = "0.0.0.0"
	}
	if o.MaxErrors <= 0 {
		o.MaxErrors = 10
	}
}

// OTLPStats describe the mapping of a batch of spans (or, from
// OTLPHandler.OTLPStats, everything received so far).
type OTLPStats struct {
	Spans    int64            `json:"spans"`
	Records  int64            `json:"records"`
	Skipped  map[string]int64 `json:"skipped,omitempty"`  // reason → spans
	Rejected int64            `json:"rejected"`           // HTTP spans that do not make a valid record
	Errors   []string         `json:"errors,omitempty"`   // first rejection messages
	Requests int64            `json:"requests,omitempty"` // handler only: export requests
	BadReqs  int64            `json:"bad_requests,omitempty"`

	rejects []*exchange.RecordError // of one batch, for the sink
}

func (s *OTLPStats) add(o OTLPStats, maxErr int) {
	s.Spans += o.Spans
	s.Records += o.Records
	s.Rejected += o.Rejected
	for k, v := range o.Skipped {
		if s.Skipped == nil {
			s.Skipped = map[string]int64{}
		}
		s.Skipped[k] += v
	}
	for _, e := range o.Errors {
		if len(s.Errors) < maxErr {
			s.Errors = append(s.Errors, e)
		}
	}
}

// SpansToRecords maps the HTTP server spans (inbound) and client spans
// (outbound) of td to exchange records with the default options.
func SpansToRecords(td ptrace.Traces) ([]*exchange.Record, OTLPStats) {
	var o OTLPOptions
	o.defaults()
	return o.spansToRecords(td)
}

func (o *OTLPOptions) spansToRecords(td ptrace.Traces) ([]*exchange.Record, OTLPStats) {
	var st OTLPStats
	var out []*exchange.Record
	rss := td.ResourceSpans()
	for i := 0; i < rss.Len(); i++ {
		rs := rss.At(i)
		res := rs.Resource().Attributes()
		source := o.Source
		if source == "" {
			source = "otlp"
			if v, ok := res.Get("service.name"); ok && v.AsString() != "" {
				source = "otlp:" + v.AsString()
			}
		}
		sss := rs.ScopeSpans()
		for j := 0; j < sss.Len(); j++ {
			spans := sss.At(j).Spans()
			for k := 0; k < spans.Len(); k++ {
				sp := spans.At(k)
				st.Spans++
				rec, skip, err := o.spanToRecord(sp, res, source)
				switch {
				case skip != "":
					if st.Skipped == nil {
						st.Skipped = map[string]int64{}
					}
					st.Skipped[skip]++
				case err != nil:
					st.Rejected++
					msg := fmt.Sprintf("trace %s span %s (%q): %v", sp.TraceID(), sp.SpanID(), clip(sp.Name(), 60), err)
					if len(st.Errors) < o.MaxErrors {
						st.Errors = append(st.Errors, msg)
					}
					st.rejects = append(st.rejects, spanReject(sp, err))
				default:
					st.Records++
					out = append(out, rec)
				}
			}
		}
	}
	return out, st
}

// attrs looks attributes up in stable-then-legacy order.
type attrs struct{ m pcommon.Map }

func (a attrs) str(keys ...string) (string, string) {
	for _, k := range keys {
		if v, ok := a.m.Get(k); ok {
			var s string
			switch v.Type() {
			case pcommon.ValueTypeSlice:
				parts := make([]string, 0, v.Slice().Len())
				for i := 0; i < v.Slice().Len(); i++ {
					parts = append(parts, v.Slice().At(i).AsString())
				}
				s = strings.Join(parts, ", ")
			case pcommon.ValueTypeEmpty:
			default:
				s = v.AsString()
			}
			if s != "" {
				return s, k
			}
		}
	}
	return "", ""
}

func (a attrs) int(keys ...string) (int64, string, error) {
	for _, k := range keys {
		v, ok := a.m.Get(k)
		if !ok {
			continue
		}
		switch v.Type() {
		case pcommon.ValueTypeInt:
			return v.Int(), k, nil
		case pcommon.ValueTypeDouble:
			return int64(v.Double()), k, nil
		case pcommon.ValueTypeStr:
			n, err := strconv.ParseInt(strings.TrimSpace(v.Str()), 10, 64)
			if err != nil {
				return 0, k, fmt.Errorf("%s: not an integer: %q", k, clip(v.Str(), 40))
			}
			return n, k, nil
		default:
			return 0, k, fmt.Errorf("%s: not an integer (%s)", k, v.Type())
		}
	}
	return 0, "", nil
}

// firstIP returns the first attribute that holds an IP address.
func (a attrs) firstIP(keys ...string) (netip.Addr, string) {
	for _, k := range keys {
		s, _ := a.str(k)
		if s == "" {
			continue
		}
		if ip, err := netip.ParseAddr(strings.Trim(s, "[]")); err == nil {
			return ip.Unmap(), k
		}
	}
	return netip.Addr{}, ""
}

func (o *OTLPOptions) spanToRecord(sp ptrace.Span, res pcommon.Map, source string) (*exchange.Record, string, error) {
	a := attrs{sp.Attributes()}
	method, _ := a.str("http.request.method", "http.method")
	if method == "_OTHER" {
		if orig, _ := a.str("http.request.method_original"); orig != "" {
			method = orig
		}
	}
	if method == "" {
		return nil, SkipNotHTTP, nil
	}
	rec := &exchange.Record{Source: source}
	server := false
	switch sp.Kind() {
	case ptrace.SpanKindServer:
		rec.Direction, server = exchange.Inbound, true
	case ptrace.SpanKindClient:
		rec.Direction = exchange.Outbound
	default:
		return nil, SkipSpanKind, nil
	}
	start, end := sp.StartTimestamp(), sp.EndTimestamp()
	if start == 0 {
		return nil, "", errors.New("start_time_unix_nano: missing")
	}
	if end < start {
		return nil, "", fmt.Errorf("end_time_unix_nano: before the start (%d < %d)", end, start)
	}
	rec.Time = start.AsTime().UTC()
	rec.DurationMs = float64(end-start) / 1e6
	rec.Request.Method = method

	u, err := spanURL(a, server)
	if err != nil {
		return nil, "", err
	}
	rec.Request.URL = u

	status, key, err := a.int("http.response.status_code", "http.status_code")
	if err != nil {
		return nil, "", err
	}
	if status < 0 || status > 999 {
		return nil, "", fmt.Errorf("%s: out of range: %d", key, status)
	}
	rec.Response.Status = int(status)
	for _, s := range []struct {
		dst  *int64
		keys []string
	}{
		{&rec.Request.Size, []string{"http.request.body.size", "http.request_content_length"}},
		{&rec.Response.Size, []string{"http.response.body.size", "http.response_content_length"}},
	} {
		n, key, err := a.int(s.keys...)
		if err != nil {
			return nil, "", err
		}
		if n < 0 {
			return nil, "", fmt.Errorf("%s: negative", key)
		}
		*s.dst = n
	}

	rec.Request.Headers, rec.Response.Headers = spanHeaders(a)
	if ua, _ := a.str("user_agent.original", "http.user_agent"); ua != "" {
		if rec.Request.Headers == nil {
			rec.Request.Headers = map[string]string{}
		}
		if _, ok := rec.Request.Headers["user-agent"]; !ok {
			rec.Request.Headers["user-agent"] = ua
		}
	}

	if server {
		// client.ip is the peer the server saw; the original client (which
		// may differ behind proxies) goes to X-Forwarded-For.
		peer, _ := a.firstIP("network.peer.address", "net.sock.peer.addr", "net.peer.ip")
		orig, _ := a.firstIP("client.address", "http.client_ip")
		switch {
		case peer.IsValid():
			rec.Client.IP = peer.String()
			if orig.IsValid() && orig != peer {
				if rec.Request.Headers == nil {
					rec.Request.Headers = map[string]string{}
				}
				if _, ok := rec.Request.Headers["x-forwarded-for"]; !ok {
					rec.Request.Headers["x-forwarded-for"] = orig.String()
				}
			}
		case orig.IsValid():
			rec.Client.IP = orig.String()
		default:
			return nil, "", errors.New("client.ip: no client address (network.peer.address, client.address, net.peer.ip, http.client_ip)")
		}
		port, _, err := a.int("network.peer.port", "net.sock.peer.port", "net.peer.port", "client.port")
		if err == nil && port > 0 && port <= 65535 {
			rec.Client.Port = int(port)
		}
	} else {
		local, _ := a.firstIP("network.local.address", "net.sock.host.addr", "net.host.ip")
		if !local.IsValid() {
			local, _ = attrs{res}.firstIP("host.ip")
		}
		if local.IsValid() {
			rec.Client.IP = local.String()
		} else {
			rec.Client.IP = o.LocalIP
		}
	}
	if err := rec.Validate(); err != nil {
		return nil, "", err
	}
	return rec, "", nil
}

// spanURL assembles the absolute request URL from url.full/http.url or
// from its parts (stable names first, then the pre-1.20 ones).
func spanURL(a attrs, server bool) (string, error) {
	if full, key := a.str("url.full", "http.url"); full != "" {
		u, err := url.Parse(full)
		if err == nil && u.Scheme != "" && u.Host != "" {
			if u.User != nil {
				u.User = nil // never keep credentials embedded in a URL
			}
			return u.String(), nil
		}
		if err != nil {
			return "", fmt.Errorf("%s: does not parse: %v", key, clip(err.Error(), 80))
		}
		// A relative http.url: fall through to the parts.
	}
	scheme, _ := a.str("url.scheme", "http.scheme")
	if scheme == "" {
		scheme = "http"
	}
	scheme = strings.ToLower(scheme)
	var host string
	if server {
		host, _ = a.str("server.address", "http.host", "net.host.name", "http.request.header.host")
	} else {
		host, _ = a.str("server.address", "http.host", "net.peer.name", "http.request.header.host")
	}
	if host == "" {
		return "", errors.New("request.url: no host (url.full, server.address, http.host, net.host.name)")
	}
	portKeys := []string{"server.port", "net.host.port"}
	if !server {
		portKeys = []string{"server.port", "net.peer.port"}
	}
	port, _, err := a.int(portKeys...)
	if err != nil {
		return "", err
	}
	if _, _, err := net.SplitHostPort(host); err != nil && port > 0 && port <= 65535 &&
		!(scheme == "http" && port == 80) && !(scheme == "https" && port == 443) {
		host = net.JoinHostPort(strings.Trim(host, "[]"), strconv.FormatInt(port, 10))
	}
	var target string
	if p, _ := a.str("url.path"); p != "" {
		target = p
		if q, _ := a.str("url.query"); q != "" {
			target += "?" + q
		}
	} else if t, _ := a.str("http.target"); t != "" {
		target = t
	} else if r, _ := a.str("http.route"); r != "" {
		target = r // the template, when nothing better was recorded
	} else {
		target = "/"
	}
	if !strings.HasPrefix(target, "/") {
		target = "/" + target
	}
	return scheme + "://" + host + target, nil
}

// spanHeaders collects http.request.header.<name> and
// http.response.header.<name> attributes.
func spanHeaders(a attrs) (req, resp map[string]string) {
	a.m.Range(func(k string, v pcommon.Value) bool {
		var dst *map[string]string
		var name string
		if n, ok := strings.CutPrefix(k, "http.request.header."); ok {
			dst, name = &req, n
		} else if n, ok := strings.CutPrefix(k, "http.response.header."); ok {
			dst, name = &resp, n
		} else {
			return true
		}
		s, _ := a.str(k)
		if s == "" || name == "" {
			return true
		}
		if *dst == nil {
			*dst = map[string]string{}
		}
		name = strings.ToLower(strings.ReplaceAll(name, "_", "-"))
		if old, ok := (*dst)[name]; ok {
			s = old + ", " + s
		}
		(*dst)[name] = s
		return true
	})
	return req, resp
}

// OTLPHandler is the Source of OpenTelemetry traces received over
// OTLP/HTTP (POST /v1/traces): it decodes each export request and hands
// the records of its HTTP spans to the sink attached by Run (or Attach),
// rejected spans as rejections and skipped ones as drops. It is a
// streaming source: Run serves until ctx is done. Requests arriving while
// no sink is attached are answered 503.
type OTLPHandler struct {
	counter
	o    OTLPOptions
	mu   sync.Mutex
	st   OTLPStats
	dmu  sync.Mutex // one delivery at a time (the Sink contract)
	sink Sink
}

// NewOTLPHandler returns the receiver.
func NewOTLPHandler(opts OTLPOptions) *OTLPHandler {
	opts.defaults()
	return &OTLPHandler{o: opts}
}

// Name implements Source.
func (h *OTLPHandler) Name() string { return "otlp" }

// Run implements Source: export requests go to sink until ctx is done.
func (h *OTLPHandler) Run(ctx context.Context, sink Sink) error {
	detach := h.Attach(sink)
	defer detach()
	<-ctx.Done()
	return nil
}

// Attach makes export requests go to sink until detach is called.
func (h *OTLPHandler) Attach(sink Sink) (detach func()) {
	h.dmu.Lock()
	h.sink = sink
	h.dmu.Unlock()
	return func() {
		h.dmu.Lock()
		if h.sink == sink {
			h.sink = nil
		}
		h.dmu.Unlock()
	}
}

// OTLPStats returns the cumulative counts of requests and spans.
func (h *OTLPHandler) OTLPStats() OTLPStats {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := h.st
	s.Skipped = make(map[string]int64, len(h.st.Skipped))
	for k, v := range h.st.Skipped {
		s.Skipped[k] = v
	}
	s.Errors = append([]string(nil), h.st.Errors...)
	return s
}

// spanReject locates a rejected span: the trace and span ids stand where a
// file has its name and line.
func spanReject(sp ptrace.Span, err error) *exchange.RecordError {
	re := &exchange.RecordError{File: fmt.Sprintf("otlp trace %s span %s (%q)", sp.TraceID(), sp.SpanID(), clip(sp.Name(), 60)), Err: err.Error()}
	var fe *exchange.FieldError
	if errors.As(err, &fe) {
		re.Field, re.Err = fe.Field, fe.Message
	}
	return re
}

// deliver hands one request's records, rejections and drops to the sink.
func (h *OTLPHandler) deliver(recs []*exchange.Record, st OTLPStats) error {
	h.dmu.Lock()
	defer h.dmu.Unlock()
	if h.sink == nil {
		return &Retry{After: 5 * time.Second, Msg: "OTLP receiver not running"}
	}
	if err := h.records(h.sink, recs); err != nil {
		return err
	}
	for _, re := range st.rejects {
		h.reject(h.sink, re)
	}
	reasons := make([]string, 0, len(st.Skipped))
	for k := range st.Skipped {
		reasons = append(reasons, k)
	}
	sort.Strings(reasons)
	for _, k := range reasons {
		h.drop(h.sink, k, st.Skipped[k])
	}
	return nil
}

type otlpEncoding int

const (
	encProto otlpEncoding = iota
	encJSON
)

// ServeHTTP implements the OTLP/HTTP protocol for traces: protobuf or JSON
// bodies, optionally gzip-compressed; the response is an
// ExportTraceServiceResponse in the request's encoding, with partial
// success when spans were rejected (and a warning message when spans were
// skipped as not HTTP).
func (h *OTLPHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.fail(w, encJSON, http.StatusMethodNotAllowed, "only POST is supported")
		return
	}
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	var enc otlpEncoding
	switch ct {
	case "application/x-protobuf":
		enc = encProto
	case "application/json":
		enc = encJSON
	default:
		h.fail(w, encJSON, http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Type %q: want application/x-protobuf or application/json", clip(ct, 60)))
		return
	}
	var body io.Reader = http.MaxBytesReader(w, r.Body, h.o.MaxBodyBytes)
	switch strings.ToLower(strings.TrimSpace(r.Header.Get("Content-Encoding"))) {
	case "", "identity":
	case "gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			h.fail(w, enc, http.StatusBadRequest, "gzip: "+err.Error())
			return
		}
		defer zr.Close()
		body = io.LimitReader(zr, h.o.MaxBodyBytes+1)
	default:
		h.fail(w, enc, http.StatusUnsupportedMediaType, fmt.Sprintf("Content-Encoding %q: want gzip or none", clip(r.Header.Get("Content-Encoding"), 40)))
		return
	}
	data, err := io.ReadAll(body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			h.fail(w, enc, http.StatusRequestEntityTooLarge, fmt.Sprintf("body larger than %d bytes", h.o.MaxBodyBytes))
			return
		}
		h.fail(w, enc, http.StatusBadRequest, "reading body: "+err.Error())
		return
	}
	if int64(len(data)) > h.o.MaxBodyBytes {
		h.fail(w, enc, http.StatusRequestEntityTooLarge, fmt.Sprintf("decompressed body larger than %d bytes", h.o.MaxBodyBytes))
		return
	}
	var td ptrace.Traces
	if enc == encProto {
		td, err = (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(data)
	} else {
		td, err = (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(data)
	}
	if err != nil {
		h.fail(w, enc, http.StatusBadRequest, "decoding ExportTraceServiceRequest: "+clip(err.Error(), 200))
		return
	}
	h.addBytes(int64(len(data)))
	recs, st := h.o.spansToRecords(td)
	if err := h.deliver(recs, st); err != nil {
		// Nothing of this request was taken: the exporter sends it again.
		code, after := http.StatusServiceUnavailable, 5*time.Second
		if r, ok := IsRetry(err); ok {
			if r.Busy {
				code = http.StatusTooManyRequests
			}
			if r.After > 0 {
				after = r.After
			}
		}
		w.Header().Set("Retry-After", strconv.Itoa(int(max(1, (after+time.Second-1)/time.Second))))
		writeStatus(w, enc, code, clip(err.Error(), 200))
		return
	}
	h.mu.Lock()
	h.st.Requests++
	h.st.add(st, h.o.MaxErrors)
	h.mu.Unlock()

	var msg string
	if st.Rejected > 0 {
		msg = fmt.Sprintf("%d HTTP span(s) rejected", st.Rejected)
		if len(st.Errors) > 0 {
			msg += "; first: " + st.Errors[0]
		}
	}
	if len(st.Skipped) > 0 {
		reasons := make([]string, 0, len(st.Skipped))
		for k, v := range st.Skipped {
			reasons = append(reasons, fmt.Sprintf("%s=%d", k, v))
		}
		sort.Strings(reasons)
		if msg != "" {
			msg += "; "
		}
		msg += "skipped non-HTTP spans: " + strings.Join(reasons, ", ")
	}
	writeExportResponse(w, enc, st.Rejected, msg)
}

func (h *OTLPHandler) fail(w http.ResponseWriter, enc otlpEncoding, code int, msg string) {
	h.mu.Lock()
	h.st.BadReqs++
	h.mu.Unlock()
	writeStatus(w, enc, code, msg)
}

// writeStatus answers with a google.rpc.Status in the request's encoding.
func writeStatus(w http.ResponseWriter, enc otlpEncoding, code int, msg string) {
	// google.rpc.Status; gRPC code 3 = INVALID_ARGUMENT.
	if enc == encProto {
		var b []byte
		b = protowire.AppendTag(b, 1, protowire.VarintType)
		b = protowire.AppendVarint(b, 3)
		b = protowire.AppendTag(b, 2, protowire.BytesType)
		b = protowire.AppendString(b, msg)
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(code)
		w.Write(b)
		return
	}
	b, _ := json.Marshal(map[string]any{"code": 3, "message": msg})
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	w.Write(b)
}

// writeExportResponse writes ExportTraceServiceResponse{partial_success}.
func writeExportResponse(w http.ResponseWriter, enc otlpEncoding, rejected int64, msg string) {
	if enc == encProto {
		var b []byte
		if rejected > 0 || msg != "" {
			var ps []byte
			if rejected > 0 {
				ps = protowire.AppendTag(ps, 1, protowire.VarintType)
				ps = protowire.AppendVarint(ps, uint64(rejected))
			}
			if msg != "" {
				ps = protowire.AppendTag(ps, 2, protowire.BytesType)
				ps = protowire.AppendString(ps, msg)
			}
			b = protowire.AppendTag(b, 1, protowire.BytesType)
			b = protowire.AppendBytes(b, ps)
		}
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
		w.Write(b)
		return
	}
	resp := map[string]any{}
	if rejected > 0 || msg != "" {
		ps := map[string]any{}
		if rejected > 0 {
			ps["rejectedSpans"] = strconv.FormatInt(rejected, 10) // int64 as a string (proto3 JSON)
		}
		if msg != "" {
			ps["errorMessage"] = msg
		}
		resp["partialSuccess"] = ps
	}
	b, _ := json.Marshal(resp, json.Deterministic(true))
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}
