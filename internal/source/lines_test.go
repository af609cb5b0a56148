package source

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/testutil"
)

// goldenLines parses every line of testdata/<in> and compares the records
// (or errors) with testdata/<in>.golden.
func goldenLines(t *testing.T, in string, lp *LineParser) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", in))
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	sc := bufio.NewScanner(bytes.NewReader(data))
	n := 0
	for sc.Scan() {
		n++
		rec, err := lp.Parse(sc.Bytes())
		if err != nil {
			fmt.Fprintf(&out, "%d ERROR %v\n", n, err)
			continue
		}
		b, _ := exchange.MarshalRecord(rec)
		fmt.Fprintf(&out, "%d %s\n", n, b)
	}
	testutil.Golden(t, filepath.Join("testdata", in+".golden"), out.Bytes())
}

func TestNGINXGolden(t *testing.T) {
	lp, err := NewLineParser(FormatNGINX, LineOptions{Source: "edge-nginx"})
	if err != nil {
		t.Fatal(err)
	}
	goldenLines(t, "nginx.log", lp)
}

func TestEnvoyGolden(t *testing.T) {
	lp, err := NewLineParser(FormatEnvoy, LineOptions{Source: "envoy", DefaultScheme: "https"})
	if err != nil {
		t.Fatal(err)
	}
	goldenLines(t, "envoy.log", lp)
}

func TestEnvoyCustomFieldMap(t *testing.T) {
	// The operator's json_format, pasted as the field map.
	fm := map[string]string{
		"ts": "%START_TIME%", "verb": "%REQ(:METHOD)%", "p": "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%", "code": "%RESPONSE_CODE%",
		"rx": "%BYTES_RECEIVED%", "tx": "%BYTES_SENT%", "ms": "%DURATION%", "peer": "%DOWNSTREAM_REMOTE_ADDRESS%",
		"host": "%REQ(:AUTHORITY)%", "api_key": "%REQ(X-API-KEY)%", "ua": "%REQ(USER-AGENT):64%", "ct": "request.header.content-type",
		"ret_ct": "%RESP(CONTENT-TYPE)%",
	}
	lp, err := NewLineParser(FormatEnvoy, LineOptions{FieldMap: fm, DefaultScheme: "https"})
	if err != nil {
		t.Fatal(err)
	}
	goldenLines(t, "envoy_custom.log", lp)
}

func TestLineFieldMapping(t *testing.T) {
	nginx, _ := NewLineParser(FormatNGINX, LineOptions{})
	envoy, _ := NewLineParser(FormatEnvoy, LineOptions{})
	tests := []struct {
		name  string
		lp    *LineParser
		line  string
		check func(r *exchange.Record) string
	}{
		{"msec minus request_time is arrival", nginx,
			`{"msec":"1795010602.512","request_time":"0.500","remote_addr":"192.0.2.1","request_method":"GET","host":"h","request_uri":"/","status":"200"}`,
			func(r *exchange.Record) string {
				want := time.Date(2026, 11, 18, 14, 3, 22, 12_000_000, time.UTC)
				if !r.Time.Equal(want) || r.DurationMs != 500 {
					return fmt.Sprintf("time %v duration %v, want %v and 500", r.Time, r.DurationMs, want)
				}
				return ""
			}},
		{"https on, default port dropped", nginx,
			`{"time_iso8601":"2026-11-18T14:03:22+00:00","https":"on","server_port":"443","remote_addr":"192.0.2.1","request_method":"GET","host":"h","request_uri":"/a?b=1","status":"200"}`,
			func(r *exchange.Record) string { return want(r.Request.URL, "https://h/a?b=1") }},
		{"non-default port kept", nginx,
			`{"time_iso8601":"2026-11-18T14:03:22+00:00","scheme":"http","server_port":"8080","remote_addr":"192.0.2.1","request_method":"GET","host":"h","request_uri":"/","status":"200"}`,
			func(r *exchange.Record) string { return want(r.Request.URL, "http://h:8080/") }},
		{"http_ and sent_http_ become headers", nginx,
			`{"time_iso8601":"2026-11-18T14:03:22+00:00","remote_addr":"192.0.2.1","request_method":"GET","host":"h","request_uri":"/","status":"200","http_x_api_key":"k1","sent_http_x_ratelimit_remaining":"9"}`,
			func(r *exchange.Record) string {
				return want(r.Request.Headers["x-api-key"]+"|"+r.Response.Headers["x-ratelimit-remaining"], "k1|9")
			}},
		{"original path wins, ipv6 peer with port", envoy,
			`{"start_time":"2026-11-18T14:03:22Z","method":"GET","path":"/rewritten","x-envoy-original-path":"/orig","authority":"h","downstream_remote_address":"[2001:db8::1]:443","response_code":200}`,
			func(r *exchange.Record) string {
				return want(fmt.Sprint(r.Request.URL, " ", r.Client.IP, " ", r.Client.Port), "http://h/orig 2001:db8::1 443")
			}},
		{"no response is status 0", envoy,
			`{"start_time":"2026-11-18T14:03:22Z","method":"GET","path":"/","authority":"h","downstream_remote_address":"192.0.2.1:1","response_code":0}`,
			func(r *exchange.Record) string { return want(fmt.Sprint(r.Response.Status), "0") }},
	}
	for _, tc := range tests {
		rec, err := tc.lp.Parse([]byte(tc.line))
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if msg := tc.check(rec); msg != "" {
			t.Errorf("%s: %s", tc.name, msg)
		}
	}
}

func want(got, w string) string {
	if got != w {
		return fmt.Sprintf("got %q, want %q", got, w)
	}
	return ""
}

func TestLineErrorsNameTheKey(t *testing.T) {
	envoy, _ := NewLineParser(FormatEnvoy, LineOptions{})
	tests := []struct{ line, field string }{
		{`{"start_time":"2026-11-18T14:03:22Z","method":"GET","path":"/","authority":"h","downstream_remote_address":"x","response_code":200}`, "downstream_remote_address"},
		{`{"start_time":"2026-11-18T14:03:22Z","method":"GET","path":"/","authority":"h","downstream_remote_address":"192.0.2.1","response_code":1000}`, "response_code (response.status)"},
		{`{"start_time":"nope","method":"GET","path":"/","authority":"h","downstream_remote_address":"192.0.2.1"}`, "start_time"},
		{`{"method":"GET","path":"/","authority":"h","downstream_remote_address":"192.0.2.1"}`, "time"},
		{`{"start_time":"2026-11-18T14:03:22Z","method":"GET","path":"/","downstream_remote_address":"192.0.2.1"}`, "host"},
		{`{"start_time":"2026-11-18T14:03:22Z","method":"GET","path":"/","authority":"h","downstream_remote_address":"192.0.2.1","bytes_sent":[1]}`, "bytes_sent"},
	}
	for _, tc := range tests {
		_, err := envoy.Parse([]byte(tc.line))
		var fe *exchange.FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field {
			t.Errorf("%s: error %v, want field %q", tc.line, err, tc.field)
		}
	}
}

func TestFieldMapErrors(t *testing.T) {
	for _, fm := range []map[string]string{
		{"x": "%START_TIME(%s)%"}, {"x": "%REQ(a b)%"}, {"x": "%NOPE%"}, {"x": "bogus"}, {"x": "request.header."},
	} {
		if _, err := NewLineParser(FormatEnvoy, LineOptions{FieldMap: fm}); err == nil {
			t.Errorf("%v accepted", fm)
		}
	}
	if _, err := NewLineParser(FormatNGINX, LineOptions{DefaultScheme: "ftp"}); err == nil {
		t.Error("scheme ftp accepted")
	}
	if _, err := NewLineParser("apache", LineOptions{}); err == nil {
		t.Error("format apache accepted")
	}
}

func fuzzLines(f *testing.F, file string, lp *LineParser) {
	data, _ := os.ReadFile(filepath.Join("testdata", file))
	for _, l := range bytes.Split(data, []byte("\n")) {
		f.Add(l)
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		rec, err := lp.Parse(line)
		if err != nil {
			if rec != nil {
				t.Fatal("record and error")
			}
			return
		}
		if rec.Validate() != nil || rec.Time.IsZero() || rec.Client.IP == "" {
			t.Fatalf("invalid record accepted from %q: %+v", line, rec)
		}
	})
}

func FuzzNGINXLine(f *testing.F) {
	lp, _ := NewLineParser(FormatNGINX, LineOptions{})
	fuzzLines(f, "nginx.log", lp)
}

func FuzzEnvoyLine(f *testing.F) {
	lp, _ := NewLineParser(FormatEnvoy, LineOptions{})
	fuzzLines(f, "envoy.log", lp)
}

func FuzzFieldMapTarget(f *testing.F) {
	for _, s := range []string{"%START_TIME%", "%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%", "%REQ(USER-AGENT):64%", "%RESP(CONTENT-TYPE)%",
		"request.header.x-api-key", "time", "%", "%%", "%REQ()%", "%REQ(a)b)%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, target string) {
		got, err := parseTarget(target)
		if err != nil {
			return
		}
		// Whatever is accepted must be a target the line parser knows.
		if _, err := parseTarget(got); err != nil {
			t.Fatalf("%q → %q, which is not itself a valid target: %v", target, got, err)
		}
	})
}
