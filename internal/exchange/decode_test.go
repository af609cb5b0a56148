package exchange

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
)

func readAll(t *testing.T, name string, r io.Reader) ([]*Record, []*RecordError, error) {
	t.Helper()
	d, err := NewDecoder(name, r)
	if err != nil {
		return nil, nil, err
	}
	return drain(d)
}

func TestDecodeGood(t *testing.T) {
	f, err := os.Open("testdata/good.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, rejs, err := readAll(t, "good.ndjson", f)
	if err != nil || len(rejs) != 0 {
		t.Fatalf("err=%v rejects=%v", err, rejs)
	}
	if len(recs) != 2 {
		t.Fatalf("got %d records, want 2", len(recs))
	}
	r := recs[0]
	if r.DurationMs != 41.7 || r.Client.Port != 53211 || r.Source != "edge-gw" || r.Response.Status != 200 {
		t.Errorf("record 0 fields: %+v", r)
	}
	r = recs[1]
	if r.Request.Method != "POST" {
		t.Errorf("method not upper-cased: %q", r.Request.Method)
	}
	if r.Request.Headers["content-type"] != "application/json" {
		t.Errorf("header names not lower-cased: %v", r.Request.Headers)
	}
	if r.Request.BodyText() != `{"a":1}` || r.Request.Size != 7 {
		t.Errorf("base64 body: %q size %d", r.Request.BodyText(), r.Request.Size)
	}
	if r.Response.Status != 0 {
		t.Errorf("status 0 must be accepted")
	}
}

func TestDecodeRejects(t *testing.T) {
	f, err := os.Open("testdata/bad.ndjson")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	recs, rejs, err := readAll(t, "bad.ndjson", f)
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 {
		t.Errorf("accepted %d, want 2 (lines 1 and 10)", len(recs))
	}
	want := []struct {
		line  int64
		field string
		msg   string
	}{
		{2, "response.status", "got JSON string, want number"},
		{3, "", "malformed JSON"},
		{4, "time", "RFC 3339"},
		{5, "client.ip", "not an IP"},
		{6, "request.url", "absolute"},
		{7, "response", "missing"},
		{8, "request.method", "missing"},
		{9, "request.headers.x", "wrong type"},
	}
	if len(rejs) != len(want) {
		for _, r := range rejs {
			t.Log(r)
		}
		t.Fatalf("got %d rejects, want %d", len(rejs), len(want))
	}
	for i, w := range want {
		r := rejs[i]
		if r.Line != w.line || r.Field != w.field || !strings.Contains(r.Err, w.msg) || r.File != "bad.ndjson" {
			t.Errorf("reject %d = %q (line %d field %q), want line %d field %q containing %q", i, r.Error(), r.Line, r.Field, w.line, w.field, w.msg)
		}
	}
}

func gz(t *testing.T, data []byte) []byte {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write(data)
	w.Close()
	return b.Bytes()
}

func TestDecodeGzipAndTruncation(t *testing.T) {
	data, _ := os.ReadFile("testdata/good.ndjson")
	z := gz(t, data)
	recs, _, err := readAll(t, "good.ndjson.gz", bytes.NewReader(z))
	if err != nil || len(recs) != 2 {
		t.Fatalf("gzip: %d records, err %v", len(recs), err)
	}
	// Truncated gzip: a fatal error that says so, after the records that decoded.
	_, _, err = readAll(t, "cut.gz", bytes.NewReader(z[:len(z)-10]))
	if err == nil || !strings.Contains(err.Error(), "truncated") || !strings.Contains(err.Error(), "cut.gz") {
		t.Fatalf("truncated gzip error = %v", err)
	}
}

func TestDecodeLongLine(t *testing.T) {
	// A line above MaxLine is rejected and the next one still decodes.
	var b bytes.Buffer
	b.WriteString(`{"pad":"`)
	b.Write(bytes.Repeat([]byte("x"), MaxLine+10))
	b.WriteString("\"}\n")
	b.WriteString(`{"time":"2026-11-18T14:03:22Z","client":{"ip":"192.0.2.1"},"request":{"method":"GET","url":"https://a.test/"},"response":{"status":200}}` + "\n")
	recs, rejs, err := readAll(t, "long", &b)
	if err != nil || len(recs) != 1 || len(rejs) != 1 || rejs[0].Line != 1 {
		t.Fatalf("recs=%d rejs=%v err=%v", len(recs), rejs, err)
	}
}

func TestDecodeHAR(t *testing.T) {
	f, err := os.Open("testdata/sample.har")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d, err := NewDecoder("sample.har", f)
	if err != nil {
		t.Fatal(err)
	}
	if d.Format() != FormatHAR {
		t.Fatalf("format %s", d.Format())
	}
	recs, rejs, err := readAll(t, "sample.har", mustOpen(t, "testdata/sample.har"))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || len(rejs) != 2 {
		t.Fatalf("recs %d rejs %v", len(recs), rejs)
	}
	if recs[0].Client.IP != "198.51.100.7" {
		t.Errorf("XFF client = %s", recs[0].Client.IP)
	}
	if recs[0].DurationMs != 12.5 || recs[0].Response.Body != `{"items":[1,2]}` || recs[0].Time.UTC().Hour() != 9 {
		t.Errorf("entry 0: %+v", recs[0])
	}
	if _, ok := recs[0].Request.Headers[":authority"]; ok {
		t.Errorf("pseudo-header kept")
	}
	if recs[1].Client.IP != "192.0.2.44" || recs[1].Request.Body != `{"sku":"SKU-1"}` || recs[1].Request.Headers["content-type"] != "application/json" {
		t.Errorf("entry 1: %+v", recs[1])
	}
	// A HAR entry is located by its number, not as a line.
	if rejs[0].Field != "log.entries[2].startedDateTime" || rejs[0].Entry != 3 || rejs[0].Line != 0 ||
		!strings.HasPrefix(rejs[0].Error(), "sample.har: entry 3: field log.entries[2].startedDateTime: ") {
		t.Errorf("reject 0: %v", rejs[0])
	}
	if rejs[1].Field != "log.entries[3].serverIPAddress" {
		t.Errorf("reject 1: %v", rejs[1])
	}
}

func TestDecodeHARBroken(t *testing.T) {
	_, err := NewDecoder("broken.har", strings.NewReader("{\n \"log\": {\n \"entries\": [ {,] }}"))
	if err == nil || !strings.Contains(err.Error(), "broken.har:3") {
		t.Fatalf("err = %v", err)
	}
}

func mustOpen(t *testing.T, p string) io.Reader {
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestRoundTrip(t *testing.T) {
	recs, _, _ := readAll(t, "good", mustOpen(t, "testdata/good.ndjson"))
	var b bytes.Buffer
	for _, r := range recs {
		if err := Encode(&b, r); err != nil {
			t.Fatal(err)
		}
	}
	back, rejs, err := readAll(t, "rt", &b)
	if err != nil || len(rejs) > 0 || len(back) != len(recs) {
		t.Fatalf("round trip: %v %v", err, rejs)
	}
	for i := range recs {
		a, _ := MarshalRecord(recs[i])
		c, _ := MarshalRecord(back[i])
		if !bytes.Equal(a, c) {
			t.Errorf("record %d differs:\n%s\n%s", i, a, c)
		}
	}
}

func FuzzDecodeNDJSON(f *testing.F) {
	for _, p := range []string{"testdata/good.ndjson", "testdata/bad.ndjson"} {
		data, _ := os.ReadFile(p)
		for _, line := range bytes.Split(data, []byte("\n")) {
			f.Add(line)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := NewDecoder("fuzz", bytes.NewReader(data))
		if err != nil {
			return
		}
		for i := 0; i < 1000; i++ {
			rec, err := d.Next()
			if err == io.EOF {
				return
			}
			var re *RecordError
			if err != nil && !errors.As(err, &re) {
				return
			}
			if err == nil {
				if rec.Request.Method == "" || rec.Client.IP == "" || rec.Time.IsZero() {
					t.Fatalf("accepted record without required fields: %+v", rec)
				}
				if _, err := MarshalRecord(rec); err != nil {
					t.Fatalf("accepted record does not marshal: %v", err)
				}
			}
		}
	})
}

func FuzzDecodeHAR(f *testing.F) {
	data, _ := os.ReadFile("testdata/sample.har")
	f.Add(data)
	f.Add([]byte(`{"log":{"entries":[{}]}}`))
	f.Add([]byte(`{"log":{"entries":[{"startedDateTime":"2026-11-18T10:00:00Z","serverIPAddress":"::1","request":{"method":"GET","url":"http://x/"},"response":{"status":1}}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := NewDecoder("fuzz.har", bytes.NewReader(data))
		if err != nil {
			return
		}
		for i := 0; i < 1000; i++ {
			rec, err := d.Next()
			if err == io.EOF {
				return
			}
			if err == nil && (rec.Request.Method == "" || rec.Client.IP == "") {
				t.Fatalf("accepted HAR entry without required fields: %+v", rec)
			}
		}
	})
}

func TestLazyResponseBody(t *testing.T) {
	line := `{"time":"2026-11-18T14:03:22Z","client":{"ip":"192.0.2.1"},"request":{"method":"GET","url":"https://a.test/"},"response":{"status":200,"body":"{\"name\":\"Zo\u00eb \\\"Z\\\"\",\"n\":\"line\nbreak\"}"}}`
	rec, err := DecodeRecord([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	if !rec.Response.HasBody() || rec.Response.Size == 0 {
		t.Fatalf("body not seen: %+v", rec.Response)
	}
	want := "{\"name\":\"Zoë \\\"Z\\\"\",\"n\":\"line\nbreak\"}"
	if got := rec.Response.BodyText(); got != want {
		t.Errorf("BodyText = %q, want %q", got, want)
	}
	if rec.Response.Size != int64(len(want)) {
		t.Errorf("size %d, want %d", rec.Response.Size, len(want))
	}
	// Marshal materializes a body that was never read.
	rec2, _ := DecodeRecord([]byte(line))
	b, err := MarshalRecord(rec2)
	if err != nil || !strings.Contains(string(b), `Zoë`) {
		t.Errorf("marshal of an unread lazy body: %s %v", b, err)
	}
	for _, bad := range []string{`123`, `{"x":1}`, `[1]`, `true`} {
		l := strings.Replace(line, line[strings.Index(line, `"body":`)+7:len(line)-2], bad, 1)
		if _, err := DecodeRecord([]byte(l)); err == nil || !strings.Contains(err.Error(), "response.body") {
			t.Errorf("body %s: err = %v", bad, err)
		}
	}
	if rec, err := DecodeRecord([]byte(strings.Replace(line, line[strings.Index(line, `"body":`)+7:len(line)-2], `null`, 1))); err != nil || rec.Response.HasBody() {
		t.Errorf("null body: %v %+v", err, rec)
	}
}

func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

// A HAR document is streamed: members of log before and after entries are
// skipped, syntax after the entries is still checked, and the limits of
// untrusted input hold (one entry, the decoded size, one gzip layer).
func TestDecodeHARStreaming(t *testing.T) {
	entry := `{"startedDateTime":"2026-05-01T10:00:00Z","_clientIP":"192.0.2.1","request":{"method":"GET","url":"https://a.example/x"},"response":{"status":200}}`
	doc := `{"log":{"version":"1.2","pages":[{"id":"p"}],"entries":[` + entry + `,` + entry + `],"comment":"after"},"extra":1}`
	recs, rejs, err := readAll(t, "ok.har", strings.NewReader(doc))
	if err != nil || len(recs) != 2 || len(rejs) != 0 {
		t.Fatalf("recs=%d rejs=%v err=%v", len(recs), rejs, err)
	}
	for _, bad := range []string{
		`{"log":{"entries":[` + entry + `]}} trailing`,
		`{"log":{"entries":[` + entry + `,{"x":}]}}`,
		`{"log":{"entries":[` + entry + `]`,
	} {
		_, _, err := readAll(t, "bad.har", strings.NewReader(bad))
		if err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	if _, err := NewDecoder("nolog.har", strings.NewReader(`{"log":[]}`)); err == nil || !strings.Contains(err.Error(), "missing log object") {
		t.Errorf("log not an object: %v", err)
	}
	// One entry above MaxRecord.
	huge := strings.Replace(entry, `"GET"`, `"GET","comment":"`+strings.Repeat("x", 1<<20)+`"`, 1)
	d, err := NewDecoderLimits("huge.har", strings.NewReader(`{"log":{"entries":[`+entry+`,`+huge+`]}}`), Limits{MaxRecord: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.Next(); err != nil {
		t.Fatal(err)
	}
	var le *LimitError
	if _, err := d.Next(); !errors.As(err, &le) || le.What != "record" {
		t.Fatalf("entry above MaxRecord: %v", err)
	}
	// The decoded size after the magic-byte gzip layer.
	nd := strings.Repeat(`{"time":"2026-05-01T10:00:00Z","client":{"ip":"192.0.2.1"},"request":{"method":"GET","url":"https://a.example/x"},"response":{"status":200}}`+"\n", 1000)
	_, _, err = readAllLimits(t, bytes.NewReader(gzipBytes([]byte(nd))), Limits{MaxDecoded: 10 << 10})
	if !errors.As(err, &le) || le.What != "decoded" {
		t.Fatalf("decoded cap: %v", err)
	}
	if _, err := NewDecoderLimits("gz2", bytes.NewReader(gzipBytes(gzipBytes([]byte(nd)))), Limits{}); err == nil || !strings.Contains(err.Error(), "gzip inside gzip") {
		t.Fatalf("gzip in gzip: %v", err)
	}
	// Exactly at the cap is allowed.
	if recs, _, err := readAllLimits(t, strings.NewReader(nd), Limits{MaxDecoded: int64(len(nd))}); err != nil || len(recs) != 1000 {
		t.Fatalf("at the cap: %d %v", len(recs), err)
	}
}

func readAllLimits(t *testing.T, r io.Reader, lim Limits) ([]*Record, []*RecordError, error) {
	t.Helper()
	d, err := NewDecoderLimits("lim", r, lim)
	if err != nil {
		return nil, nil, err
	}
	return drain(d)
}

// drain reads a decoder to its end: records, rejected records, fatal error.
func drain(d *Decoder) ([]*Record, []*RecordError, error) {
	var recs []*Record
	var rejs []*RecordError
	for {
		rec, err := d.Next()
		if err == io.EOF {
			return recs, rejs, nil
		}
		var re *RecordError
		if errors.As(err, &re) {
			rejs = append(rejs, re)
			continue
		}
		if err != nil {
			return recs, rejs, err
		}
		recs = append(recs, rec)
	}
}

// FuzzDecodeLimits: the server's decoder (bounded, gzip by magic bytes,
// NDJSON or streamed HAR) on arbitrary bytes, raw and gzipped (seeds): never
// a panic, never a record above the caps, every record valid.
func FuzzDecodeLimits(f *testing.F) {
	har, _ := os.ReadFile("testdata/sample.har")
	nd := []byte(`{"time":"2026-05-01T10:00:00Z","client":{"ip":"::ffff:192.0.2.1"},"request":{"method":"GET","url":"https://a/b"},"response":{"status":200}}` + "\n")
	for _, seed := range [][]byte{har, nd, []byte(`{"log":{"entries":[{"startedDateTime":"2026-05-01T10:00:00Z"},`)} {
		f.Add(seed)
		f.Add(gzipBytes(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		const maxDecoded, maxRecord = 32 << 10, 4 << 10
		d, err := NewDecoderLimits("fuzz", bytes.NewReader(data), Limits{MaxDecoded: maxDecoded, MaxRecord: maxRecord})
		if err != nil {
			return
		}
		for range 10000 {
			rec, err := d.Next()
			if err == io.EOF {
				return
			}
			var re *RecordError
			if errors.As(err, &re) {
				continue
			}
			if err != nil {
				return
			}
			if err := rec.Validate(); err != nil {
				t.Fatalf("invalid record accepted: %v", err)
			}
			if len(rec.Request.Body) > maxRecord {
				t.Fatalf("record body %d bytes above MaxRecord", len(rec.Request.Body))
			}
		}
	})
}
