package source

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"google.golang.org/protobuf/encoding/protowire"

	"github.com/palisade-sec/palisade/internal/exchange"
)

var spanStart = time.Date(2026, 11, 18, 14, 3, 22, 512_000_000, time.UTC)

type spanSpec struct {
	name  string
	kind  ptrace.SpanKind
	attrs map[string]any
	dur   time.Duration
}

func buildTraces(service string, specs ...spanSpec) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	if service != "" {
		rs.Resource().Attributes().PutStr("service.name", service)
	}
	ss := rs.ScopeSpans().AppendEmpty()
	for i, s := range specs {
		sp := ss.Spans().AppendEmpty()
		sp.SetName(s.name)
		sp.SetKind(s.kind)
		sp.SetTraceID(pcommon.TraceID([16]byte{1, 2, 3, byte(i)}))
		sp.SetSpanID(pcommon.SpanID([8]byte{9, byte(i)}))
		sp.SetStartTimestamp(pcommon.NewTimestampFromTime(spanStart))
		dur := s.dur
		if dur == 0 {
			dur = 42 * time.Millisecond
		}
		sp.SetEndTimestamp(pcommon.NewTimestampFromTime(spanStart.Add(dur)))
		for k, v := range s.attrs {
			switch v := v.(type) {
			case string:
				sp.Attributes().PutStr(k, v)
			case int:
				sp.Attributes().PutInt(k, int64(v))
			case []string:
				sl := sp.Attributes().PutEmptySlice(k)
				for _, x := range v {
					sl.AppendEmpty().SetStr(x)
				}
			}
		}
	}
	return td
}

var stableServer = spanSpec{name: "GET /v2/orders/{id}", kind: ptrace.SpanKindServer, attrs: map[string]any{
	"http.request.method": "GET", "url.scheme": "https", "server.address": "api.example.test", "server.port": 443,
	"url.path": "/v2/orders/1234", "url.query": "expand=items", "http.route": "/v2/orders/{id}",
	"http.response.status_code": 200, "network.peer.address": "10.0.0.7", "network.peer.port": 51000,
	"client.address": "198.51.100.23", "user_agent.original": "Mozilla/5.0", "http.response.body.size": 532,
	"http.request.header.authorization": []string{"Bearer eyJ.x.y"}, "http.response.header.content-type": []string{"application/json"},
}}

func TestSpansToRecords(t *testing.T) {
	tests := []struct {
		spec spanSpec
		want string // record JSON, or "skip:<reason>" or "reject:<substring>"
	}{
		{stableServer, `{"time":"2026-11-18T14:03:22.512Z","duration_ms":42,"client":{"ip":"10.0.0.7","port":51000},"direction":"inbound","source":"otlp:orders","request":{"method":"GET","url":"https://api.example.test/v2/orders/1234?expand=items","headers":{"authorization":"Bearer eyJ.x.y","user-agent":"Mozilla/5.0","x-forwarded-for":"198.51.100.23"}},"response":{"status":200,"headers":{"content-type":"application/json"},"size":532}}`},
		{spanSpec{name: "legacy", kind: ptrace.SpanKindServer, attrs: map[string]any{
			"http.method": "POST", "http.scheme": "http", "http.host": "api.example.test:8080", "http.target": "/login?next=%2F",
			"http.status_code": "401", "net.peer.ip": "192.0.2.4", "http.user_agent": "curl/8", "http.request_content_length": 58,
		}}, `{"time":"2026-11-18T14:03:22.512Z","duration_ms":42,"client":{"ip":"192.0.2.4"},"direction":"inbound","source":"otlp:orders","request":{"method":"POST","url":"http://api.example.test:8080/login?next=%2F","headers":{"user-agent":"curl/8"},"size":58},"response":{"status":401}}`},
		{spanSpec{name: "outbound", kind: ptrace.SpanKindClient, dur: 1500 * time.Microsecond, attrs: map[string]any{
			"http.request.method": "GET", "url.full": "https://user:pw@payments.example.net/v1/charges?limit=1", "http.response.status_code": 200,
			"network.local.address": "10.0.0.5",
		}}, `{"time":"2026-11-18T14:03:22.512Z","duration_ms":1.5,"client":{"ip":"10.0.0.5"},"direction":"outbound","source":"otlp:orders","request":{"method":"GET","url":"https://payments.example.net/v1/charges?limit=1"},"response":{"status":200}}`},
		{spanSpec{name: "outbound-no-local", kind: ptrace.SpanKindClient, attrs: map[string]any{
			"http.method": "PURGE", "http.url": "http://cache.internal/x", "http.status_code": 204,
		}}, `{"time":"2026-11-18T14:03:22.512Z","duration_ms":42,"client":{"ip":"0.0.0.0"},"direction":"outbound","source":"otlp:orders","request":{"method":"PURGE","url":"http://cache.internal/x"},"response":{"status":204}}`},
		{spanSpec{name: "other-method", kind: ptrace.SpanKindServer, attrs: map[string]any{
			"http.request.method": "_OTHER", "http.request.method_original": "PROPFIND", "server.address": "dav.example.test",
			"url.path": "/a", "client.address": "192.0.2.9",
		}}, `{"time":"2026-11-18T14:03:22.512Z","duration_ms":42,"client":{"ip":"192.0.2.9"},"direction":"inbound","source":"otlp:orders","request":{"method":"PROPFIND","url":"http://dav.example.test/a"},"response":{"status":0}}`},
		{spanSpec{name: "db query", kind: ptrace.SpanKindClient, attrs: map[string]any{"db.system": "postgresql"}}, "skip:not_http"},
		{spanSpec{name: "internal", kind: ptrace.SpanKindInternal, attrs: map[string]any{"http.request.method": "GET"}}, "skip:span_kind"},
		{spanSpec{name: "no host", kind: ptrace.SpanKindServer, attrs: map[string]any{"http.request.method": "GET", "url.path": "/x", "client.address": "192.0.2.1"}}, "reject:no host"},
		{spanSpec{name: "no client", kind: ptrace.SpanKindServer, attrs: map[string]any{"http.request.method": "GET", "server.address": "h", "client.address": "a-hostname"}}, "reject:no client address"},
		{spanSpec{name: "bad status", kind: ptrace.SpanKindServer, attrs: map[string]any{"http.request.method": "GET", "server.address": "h", "client.address": "192.0.2.1", "http.response.status_code": "OK"}}, "reject:http.response.status_code: not an integer"},
	}
	for _, tc := range tests {
		recs, st := SpansToRecords(buildTraces("orders", tc.spec))
		if st.Spans != 1 {
			t.Fatalf("%s: spans %d", tc.spec.name, st.Spans)
		}
		switch {
		case strings.HasPrefix(tc.want, "skip:"):
			if len(recs) != 0 || st.Skipped[strings.TrimPrefix(tc.want, "skip:")] != 1 {
				t.Errorf("%s: stats %+v, want %s", tc.spec.name, st, tc.want)
			}
		case strings.HasPrefix(tc.want, "reject:"):
			if len(recs) != 0 || st.Rejected != 1 || len(st.Errors) != 1 || !strings.Contains(st.Errors[0], strings.TrimPrefix(tc.want, "reject:")) {
				t.Errorf("%s: stats %+v, want %s", tc.spec.name, st, tc.want)
			}
		default:
			if len(recs) != 1 {
				t.Errorf("%s: %d records, stats %+v", tc.spec.name, len(recs), st)
				continue
			}
			b, _ := exchange.MarshalRecord(recs[0])
			if string(b) != tc.want {
				t.Errorf("%s:\n got %s\nwant %s", tc.spec.name, b, tc.want)
			}
		}
	}
}

// otlpServer runs an OTLP receiver into a Collect sink.
func otlpServer(t *testing.T, o OTLPOptions) (*OTLPHandler, *Collect, *httptest.Server) {
	t.Helper()
	h := NewOTLPHandler(o)
	sink := &Collect{}
	detach := h.Attach(sink)
	srv := httptest.NewServer(h)
	t.Cleanup(func() { srv.Close(); detach() })
	return h, sink, srv
}

func post(t *testing.T, url, ct, ce string, body []byte) (*http.Response, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	req.Header.Set("Content-Type", ct)
	if ce != "" {
		req.Header.Set("Content-Encoding", ce)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

// decodePartialSuccess reads ExportTraceServiceResponse.partial_success.
func decodePartialSuccess(t *testing.T, b []byte) (rejected int64, msg string) {
	t.Helper()
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 || num != 1 || typ != protowire.BytesType {
			t.Fatalf("unexpected field %d/%d in response", num, typ)
		}
		b = b[n:]
		ps, n := protowire.ConsumeBytes(b)
		b = b[n:]
		for len(ps) > 0 {
			num, typ, n := protowire.ConsumeTag(ps)
			ps = ps[n:]
			switch {
			case num == 1 && typ == protowire.VarintType:
				v, n := protowire.ConsumeVarint(ps)
				rejected, ps = int64(v), ps[n:]
			case num == 2 && typ == protowire.BytesType:
				v, n := protowire.ConsumeString(ps)
				msg, ps = v, ps[n:]
			default:
				t.Fatalf("unexpected partial_success field %d", num)
			}
		}
	}
	return rejected, msg
}

func TestOTLPHandler(t *testing.T) {
	h, sink, srv := otlpServer(t, OTLPOptions{MaxBodyBytes: 1 << 20})
	td := buildTraces("orders", stableServer,
		spanSpec{name: "db", kind: ptrace.SpanKindClient, attrs: map[string]any{"db.system": "redis"}},
		spanSpec{name: "no host", kind: ptrace.SpanKindServer, attrs: map[string]any{"http.request.method": "GET", "client.address": "192.0.2.1"}})
	pb, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	if err != nil {
		t.Fatal(err)
	}
	js, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
	if err != nil {
		t.Fatal(err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(pb)
	zw.Close()

	// Protobuf, plain and gzip.
	for _, c := range []struct {
		ce   string
		body []byte
	}{{"", pb}, {"gzip", gz.Bytes()}} {
		resp, b := post(t, srv.URL+"/v1/traces", "application/x-protobuf", c.ce, c.body)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-protobuf" {
			t.Fatalf("protobuf %q: %d %s", c.ce, resp.StatusCode, b)
		}
		rej, msg := decodePartialSuccess(t, b)
		if rej != 1 || !strings.Contains(msg, "1 HTTP span(s) rejected") || !strings.Contains(msg, "not_http=1") {
			t.Fatalf("partial success %d %q", rej, msg)
		}
	}
	// JSON.
	resp, b := post(t, srv.URL+"/v1/traces", "application/json", "", js)
	if resp.StatusCode != 200 {
		t.Fatalf("json: %d %s", resp.StatusCode, b)
	}
	var jr struct {
		PartialSuccess struct {
			RejectedSpans string `json:"rejectedSpans"`
			ErrorMessage  string `json:"errorMessage"`
		} `json:"partialSuccess"`
	}
	if err := json.Unmarshal(b, &jr); err != nil || jr.PartialSuccess.RejectedSpans != "1" {
		t.Fatalf("json response %s (%v)", b, err)
	}
	if len(sink.Recs) != 3 {
		t.Fatalf("%d records delivered, want 3 (one per request)", len(sink.Recs))
	}
	if len(sink.Rejected) != 3 || sink.Dropped[SkipNotHTTP] != 3 || sink.Rejected[0].Field == "" && !strings.Contains(sink.Rejected[0].Err, "host") {
		t.Fatalf("rejected %v dropped %v", sink.Rejected, sink.Dropped)
	}
	if !strings.HasPrefix(sink.Rejected[0].File, "otlp trace ") {
		t.Fatalf("rejection not located: %v", sink.Rejected[0])
	}
	if ss := h.Stats(); ss.Records != 3 || ss.Rejected != 3 || ss.Dropped[SkipNotHTTP] != 3 || ss.Bytes == 0 {
		t.Fatalf("source stats %+v", ss)
	}
	for _, r := range sink.Recs {
		if r.Request.URL != "https://api.example.test/v2/orders/1234?expand=items" {
			t.Errorf("record %+v", r)
		}
	}
	st := h.OTLPStats()
	if st.Requests != 3 || st.Spans != 9 || st.Records != 3 || st.Rejected != 3 || st.Skipped[SkipNotHTTP] != 3 {
		t.Fatalf("stats %+v", st)
	}
	// All-good request: empty response, no partial success.
	ok, _ := (&ptrace.ProtoMarshaler{}).MarshalTraces(buildTraces("orders", stableServer))
	resp, b = post(t, srv.URL+"/v1/traces", "application/x-protobuf", "", ok)
	if resp.StatusCode != 200 || len(b) != 0 {
		t.Fatalf("clean export: %d %x", resp.StatusCode, b)
	}
}

func TestOTLPHandlerErrors(t *testing.T) {
	h, sink, srv := otlpServer(t, OTLPOptions{MaxBodyBytes: 1024})
	defer func() {
		if len(sink.Recs) > 0 {
			t.Error("sink called")
		}
	}()
	big := bytes.Repeat([]byte{'a'}, 4096)
	var gzBig bytes.Buffer
	zw := gzip.NewWriter(&gzBig)
	zw.Write(bytes.Repeat([]byte{' '}, 8192)) // small compressed, large decompressed
	zw.Close()
	tests := []struct {
		method, ct, ce string
		body           []byte
		code           int
	}{
		{"GET", "application/json", "", nil, 405},
		{"POST", "text/plain", "", []byte("x"), 415},
		{"POST", "application/json", "br", []byte("x"), 415},
		{"POST", "application/json", "", []byte("{not json"), 400},
		{"POST", "application/x-protobuf", "", []byte{0xff, 0xff, 0xff}, 400},
		{"POST", "application/x-protobuf", "gzip", []byte("not gzip"), 400},
		{"POST", "application/json", "", big, 413},
		{"POST", "application/json", "gzip", gzBig.Bytes(), 413},
	}
	for _, tc := range tests {
		req, _ := http.NewRequest(tc.method, srv.URL+"/v1/traces", bytes.NewReader(tc.body))
		req.Header.Set("Content-Type", tc.ct)
		if tc.ce != "" {
			req.Header.Set("Content-Encoding", tc.ce)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code {
			t.Errorf("%s %s %s: %d %s, want %d", tc.method, tc.ct, tc.ce, resp.StatusCode, b, tc.code)
		}
	}
	if st := h.OTLPStats(); st.BadReqs != int64(len(tests)) {
		t.Errorf("bad requests %d", st.BadReqs)
	}
}

func FuzzSpansToRecords(f *testing.F) {
	pb, _ := (&ptrace.ProtoMarshaler{}).MarshalTraces(buildTraces("svc", stableServer))
	f.Add(pb)
	f.Fuzz(func(t *testing.T, data []byte) {
		td, err := (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(data)
		if err != nil {
			return
		}
		checkSpanMapping(t, td)
	})
}

// A hand-written OTLP/JSON export as the specification shows it (hex ids,
// int64 as strings, enum kinds as numbers), through the HTTP handler.
func TestOTLPJSONFixture(t *testing.T) {
	body, err := os.ReadFile(filepath.Join("testdata", "otlp_traces.json"))
	if err != nil {
		t.Fatal(err)
	}
	_, sink, srv := otlpServer(t, OTLPOptions{})
	resp, b := post(t, srv.URL, "application/json", "", body)
	if resp.StatusCode != 200 || !strings.Contains(string(b), `"errorMessage":"skipped non-HTTP spans: not_http=1"`) || strings.Contains(string(b), "rejectedSpans") {
		t.Fatalf("%d %s", resp.StatusCode, b)
	}
	var got []string
	for _, r := range sink.Recs {
		line, _ := exchange.MarshalRecord(r)
		got = append(got, string(line))
	}
	want := []string{
		`{"time":"2026-11-18T14:03:22.512Z","duration_ms":42,"client":{"ip":"10.0.0.9"},"direction":"inbound","source":"otlp:checkout","request":{"method":"POST","url":"https://shop.example.test/v1/cart/8812/checkout","headers":{"user-agent":"ShopApp/3.1 (iOS 18)","x-forwarded-for":"198.51.100.77"},"size":184},"response":{"status":201}}`,
		`{"time":"2026-11-18T14:03:22.52Z","duration_ms":28,"client":{"ip":"10.1.2.3"},"direction":"outbound","source":"otlp:checkout","request":{"method":"POST","url":"https://api.payments.example.net/v2/charges"},"response":{"status":200}}`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A sink that cannot take records now makes the receiver answer 429 or
// 503 with Retry-After, having taken nothing; without a sink it is 503.
func TestOTLPHandlerSinkRefusal(t *testing.T) {
	ok, _ := (&ptrace.ProtoMarshaler{}).MarshalTraces(buildTraces("orders", stableServer))
	h := NewOTLPHandler(OTLPOptions{})
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, _ := post(t, srv.URL, "application/x-protobuf", "", ok)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("no sink: %d", resp.StatusCode)
	}
	for _, tc := range []struct {
		err   error
		code  int
		after string
	}{
		{&Retry{Busy: true, After: 3 * time.Second, Msg: "queue full"}, 429, "3"},
		{&Retry{After: 1500 * time.Millisecond, Msg: "log failing"}, 503, "2"},
		{errors.New("broken"), 503, "5"},
	} {
		sink := &eventSink{refuse: tc.err}
		detach := h.Attach(sink)
		resp, b := post(t, srv.URL, "application/x-protobuf", "", ok)
		detach()
		if resp.StatusCode != tc.code || resp.Header.Get("Retry-After") != tc.after || sink.String() != "" {
			t.Errorf("%v: %d Retry-After %q %s, sink got %q", tc.err, resp.StatusCode, resp.Header.Get("Retry-After"), b, sink)
		}
	}
}

// FuzzOTLPHandler: any body, in either encoding, compressed or not, is
// answered with a status of the protocol and never panics; what reaches
// the sink is valid.
func FuzzOTLPHandler(f *testing.F) {
	pb, _ := (&ptrace.ProtoMarshaler{}).MarshalTraces(buildTraces("orders", stableServer))
	js, _ := (&ptrace.JSONMarshaler{}).MarshalTraces(buildTraces("orders", stableServer))
	f.Add(pb, false, false)
	f.Add(js, true, false)
	f.Add([]byte("{}"), true, true)
	h := NewOTLPHandler(OTLPOptions{MaxBodyBytes: 1 << 16})
	f.Fuzz(func(t *testing.T, body []byte, asJSON, gz bool) {
		sink := &Collect{}
		detach := h.Attach(sink)
		defer detach()
		if gz {
			var b bytes.Buffer
			zw := gzip.NewWriter(&b)
			zw.Write(body)
			zw.Close()
			body = b.Bytes()
		}
		req := httptest.NewRequest("POST", "/v1/traces", bytes.NewReader(body))
		req.Header.Set("Content-Type", map[bool]string{true: "application/json", false: "application/x-protobuf"}[asJSON])
		if gz {
			req.Header.Set("Content-Encoding", "gzip")
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		switch rec.Code {
		case 200, 400, 413:
		default:
			t.Fatalf("status %d", rec.Code)
		}
		for _, r := range sink.Recs {
			if err := r.Validate(); err != nil {
				t.Fatalf("invalid record: %v", err)
			}
		}
	})
}

// FuzzOTLPJSON: OTLP/HTTP JSON bodies (client bytes) through the decoder
// and the span mapping: every span accounted for, every record valid.
func FuzzOTLPJSON(f *testing.F) {
	js, _ := (&ptrace.JSONMarshaler{}).MarshalTraces(buildTraces("svc", stableServer))
	f.Add(js)
	f.Add([]byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"kind":2,"attributes":[{"key":"http.request.method","value":{"stringValue":"GET"}},{"key":"url.full","value":{"stringValue":"http://a/b"}}]}]}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		td, err := (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(data)
		if err != nil {
			return
		}
		checkSpanMapping(t, td)
	})
}

// checkSpanMapping: every span is accounted for and every record is valid.
func checkSpanMapping(t *testing.T, td ptrace.Traces) {
	t.Helper()
	recs, st := SpansToRecords(td)
	var skipped int64
	for _, v := range st.Skipped {
		skipped += v
	}
	if st.Records+st.Rejected+skipped != st.Spans || int64(len(recs)) != st.Records {
		t.Fatalf("spans not accounted for: %+v", st)
	}
	for _, r := range recs {
		if err := r.Validate(); err != nil {
			t.Fatalf("invalid record: %v", err)
		}
	}
}
