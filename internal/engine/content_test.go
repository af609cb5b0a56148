package engine

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"golang.org/x/text/encoding/charmap"

	"github.com/palisade-sec/palisade/internal/enrich"
	"github.com/palisade-sec/palisade/internal/exchange"
)

// packed compresses s with the writer newW makes.
func packed(s string, newW func(io.Writer) io.WriteCloser) []byte {
	var b bytes.Buffer
	w := newW(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

func gzipBytes(s string) []byte {
	return packed(s, func(w io.Writer) io.WriteCloser { return gzip.NewWriter(w) })
}

func brotliBytes(s string) []byte {
	return packed(s, func(w io.Writer) io.WriteCloser { return brotli.NewWriter(w) })
}

// TestCompressedBodiesAnalyzed: a capture of the wire records bodies sent
// with a Content-Encoding as their compressed bytes. An injection sent in a
// gzip request body is found (its evidence names the layer), the personal
// data of a br response body is classified, the report counts the bodies
// decoded, and a body that is not the stream its header names is analyzed
// as sent and counted.
func TestCompressedBodiesAnalyzed(t *testing.T) {
	e, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	base := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	b64 := base64.StdEncoding.EncodeToString
	recs := []*exchange.Record{
		{Time: base, Client: exchange.Client{IP: "203.0.113.9"},
			Request: exchange.Request{Method: "POST", URL: "https://shop.test/v1/search",
				Headers: map[string]string{"content-type": "application/x-www-form-urlencoded", "content-encoding": "gzip"},
				Body:    b64(gzipBytes("q=shoes&sort=price' UNION SELECT username, password FROM users--")), BodyEncoding: "base64"},
			Response: exchange.Response{Status: 200}},
		{Time: base.Add(time.Second), Client: exchange.Client{IP: "198.51.100.20"},
			Request: exchange.Request{Method: "GET", URL: "https://shop.test/v1/customers/1042"},
			Response: exchange.Response{Status: 200, Headers: map[string]string{"content-type": "application/json", "content-encoding": "br"},
				Body: b64(brotliBytes(`{"id":1042,"email":"ana.silva@example.org","phone":"+1 415 555 0132"}`)), BodyEncoding: "base64"}},
		{Time: base.Add(2 * time.Second), Client: exchange.Client{IP: "198.51.100.21"},
			Request: exchange.Request{Method: "GET", URL: "https://shop.test/v1/customers/1043"},
			Response: exchange.Response{Status: 200, Headers: map[string]string{"content-type": "application/json", "content-encoding": "gzip"},
				Body: b64([]byte("\x00\x01\x02 this is no gzip stream \xff\xfe")), BodyEncoding: "base64"}},
	}
	for _, r := range recs {
		if err := r.Validate(); err != nil {
			t.Fatal(err)
		}
		e.Ingest(r)
	}
	e.Flush()
	rep := e.Report(fixedTime)

	var sqli []string
	for _, a := range rep.Alerts {
		if a.Type == "injection.sqli" {
			sqli = append(sqli, fmt.Sprint(a.Evidence.Details["location"], " ", a.Evidence.Details["decoding"]))
		}
	}
	if len(sqli) != 1 || !strings.Contains(sqli[0], "form:sort") || !strings.HasPrefix(strings.Fields(sqli[0])[1], "gzip") {
		t.Errorf("injection.sqli alerts (location, decoding): %q; want one in form:sort decoded from gzip first", sqli)
	}
	var types []string
	for _, ep := range rep.Endpoints {
		if strings.HasPrefix(ep.Path, "/v1/customers") {
			for _, s := range ep.SensitiveData {
				if s.Location == "response.body" {
					types = append(types, s.Type+" "+s.Field)
				}
			}
		}
	}
	if j := strings.Join(types, ","); !strings.Contains(j, "email") || !strings.Contains(j, "phone") {
		t.Errorf("response body classification %q: want the email and phone of the br body", j)
	}
	if fmt.Sprint(rep.Input.Decoded) != "map[br:1 gzip:1]" {
		t.Errorf("input.decoded %v, want br 1 and gzip 1", rep.Input.Decoded)
	}
	if n := rep.AnalysisDropped["enrich "+enrich.DropInvalid]; n != 1 {
		t.Errorf("analysis_dropped %v: want the one body that is no gzip stream", rep.AnalysisDropped)
	}
}

// TestContentDecodingConfig: the content_decoding keys reach the enricher.
func TestContentDecodingConfig(t *testing.T) {
	for _, tc := range []struct {
		file ContentDecodingFile
		want enrich.ContentConfig
	}{
		{ContentDecodingFile{}, enrich.DefaultContentConfig()},
		{ContentDecodingFile{MaxBody: 1 << 20, MaxRatio: 20}, enrich.ContentConfig{MaxBody: 1 << 20, MaxRatio: 20}},
		{ContentDecodingFile{Disabled: true, MaxBody: 1 << 20}, enrich.ContentConfig{MaxBody: 0, MaxRatio: 100}},
	} {
		fc := DefaultFileConfig()
		fc.ContentDecoding = tc.file
		cfg, err := fc.Apply()
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Enrich.Content != tc.want {
			t.Errorf("%+v: enricher gets %+v, want %+v", tc.file, cfg.Enrich.Content, tc.want)
		}
	}
	fc := DefaultFileConfig()
	fc.ContentDecoding.MaxBody = 1 << 30
	if err := fc.Validate(); err == nil || !strings.Contains(err.Error(), "content_decoding.max_body") {
		t.Errorf("max_body of 1 GiB: error %v, want one naming content_decoding.max_body", err)
	}
}

// TestCharsetEvasion: a form sent in EBCDIC (charset=ibm037, which some
// application servers decode) and a JSON body in UTF-16 carry their
// injections past a reader of bytes; Palisade decodes them first.
func TestCharsetEvasion(t *testing.T) {
	e, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	ebcdic, err := charmap.CodePage037.NewEncoder().Bytes([]byte("q=shoes&sort=price' UNION SELECT username, password FROM users--"))
	if err != nil {
		t.Fatal(err)
	}
	u16 := []byte{0xff, 0xfe}
	for _, r := range `{"comment":"<script>alert(document.cookie)</script>"}` {
		u16 = append(u16, byte(r), 0)
	}
	var xml16 []byte // UTF-16LE with no byte order mark: XML 1.0 Appendix F
	for _, r := range `<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>` {
		xml16 = append(xml16, byte(r), 0)
	}
	base := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	b64 := base64.StdEncoding.EncodeToString
	for i, r := range []*exchange.Record{
		{Time: base.Add(2 * time.Second), Client: exchange.Client{IP: "203.0.113.11"},
			Request: exchange.Request{Method: "POST", URL: "https://shop.test/v1/import",
				Headers: map[string]string{"content-type": "application/xml"}, Body: b64(xml16), BodyEncoding: "base64"},
			Response: exchange.Response{Status: 200}},
		{Time: base, Client: exchange.Client{IP: "203.0.113.9"},
			Request: exchange.Request{Method: "POST", URL: "https://shop.test/v1/search",
				Headers: map[string]string{"content-type": "application/x-www-form-urlencoded; charset=ibm037"},
				Body:    b64(ebcdic), BodyEncoding: "base64"},
			Response: exchange.Response{Status: 200}},
		{Time: base.Add(time.Second), Client: exchange.Client{IP: "203.0.113.10"},
			Request: exchange.Request{Method: "POST", URL: "https://shop.test/v1/comments",
				Headers: map[string]string{"content-type": "application/json"}, Body: b64(u16), BodyEncoding: "base64"},
			Response: exchange.Response{Status: 201}},
	} {
		if err := r.Validate(); err != nil {
			t.Fatal(i, err)
		}
		e.Ingest(r)
	}
	e.Flush()
	got := map[string]string{}
	for _, a := range e.Report(fixedTime).Alerts {
		got[a.Type] = fmt.Sprint(a.Evidence.Details["location"], " ", a.Evidence.Details["decoding"])
	}
	if !strings.HasPrefix(got["injection.sqli"], "form:sort charset:ibm037") || !strings.HasPrefix(got["injection.xss"], "body:$.comment charset:utf-16le") ||
		!strings.HasPrefix(got["injection.xxe"], "body charset:utf-16le") {
		t.Errorf("alerts (location decoding) %v; want the SQL injection of the EBCDIC form, the XSS of the UTF-16 JSON and the XXE of the UTF-16 XML", got)
	}
}
