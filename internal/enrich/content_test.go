package enrich

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"
	"golang.org/x/text/encoding/charmap"

	"github.com/palisade-sec/palisade/internal/exchange"
)

// packWith compresses b with the writer newW makes.
func packWith(b []byte, newW func(io.Writer) io.WriteCloser) []byte {
	var buf bytes.Buffer
	w := newW(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func gz(b []byte) []byte {
	return packWith(b, func(w io.Writer) io.WriteCloser { return gzip.NewWriter(w) })
}

func zl(b []byte) []byte {
	return packWith(b, func(w io.Writer) io.WriteCloser { return zlib.NewWriter(w) })
}

func rawDeflate(b []byte) []byte {
	return packWith(b, func(w io.Writer) io.WriteCloser { fw, _ := flate.NewWriter(w, flate.DefaultCompression); return fw })
}

func br(b []byte) []byte {
	return packWith(b, func(w io.Writer) io.WriteCloser { return brotli.NewWriter(w) })
}

func zs(b []byte) []byte {
	w, _ := zstd.NewWriter(nil)
	defer w.Close()
	return w.EncodeAll(b, nil)
}

// encRecord: a record whose request body was recorded as the bytes of the
// wire (base64) with a Content-Encoding.
func encRecord(t *testing.T, coding string, wire []byte) *exchange.Record {
	t.Helper()
	rec := &exchange.Record{Time: time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC), Client: exchange.Client{IP: "198.51.100.7"},
		Request: exchange.Request{Method: "POST", URL: "https://api.test/v1/search",
			Headers: map[string]string{"content-encoding": coding, "content-type": "application/json"},
			Body:    base64.StdEncoding.EncodeToString(wire), BodyEncoding: "base64"},
		Response: exchange.Response{Status: 200}}
	if err := rec.Validate(); err != nil {
		t.Fatal(err)
	}
	return rec
}

func TestContentDecoding(t *testing.T) {
	plain := []byte(`{"q":"shoes' OR 1=1 --","email":"ana@example.org"}`)
	for _, tc := range []struct {
		coding string
		wire   []byte
		peeled string
	}{
		{"gzip", gz(plain), "gzip"},
		{"x-gzip", gz(plain), "gzip"},
		{"GZIP ", gz(plain), "gzip"},
		{"deflate", zl(plain), "deflate"},
		{"deflate", rawDeflate(plain), "deflate"}, // raw deflate, as some servers send it
		{"br", br(plain), "br"},
		{"zstd", zs(plain), "zstd"},
		{"gzip, br", br(gz(plain)), "br,gzip"}, // applied gzip then br: undone br then gzip
		{"identity, zstd", zs(plain), "zstd"},  // identity is no coding
		{"deflate,gzip,zstd", zs(gz(zl(plain))), "zstd,gzip,deflate"},
	} {
		t.Run(tc.coding+"/"+tc.peeled, func(t *testing.T) {
			e := New(DefaultConfig(), nil, nil)
			rec := encRecord(t, tc.coding, tc.wire)
			size := rec.Request.Size
			ev, err := e.Enrich(rec, 0)
			if err != nil {
				t.Fatal(err)
			}
			if rec.Request.Body != string(plain) || rec.Request.BodyEncoding != "" || rec.Request.Truncated {
				t.Errorf("body %q (encoding %q, truncated %v), want the decoded JSON", rec.Request.Body, rec.Request.BodyEncoding, rec.Request.Truncated)
			}
			if ev.RequestCoding != tc.peeled || ev.ResponseCoding != "" {
				t.Errorf("codings %q / %q, want %q / \"\"", ev.RequestCoding, ev.ResponseCoding, tc.peeled)
			}
			if rec.Request.Size != size {
				t.Errorf("size %d, want the wire size %d kept", rec.Request.Size, size)
			}
			if len(e.Dropped()) != 0 || e.Decoded()[tc.peeled] != 1 {
				t.Errorf("dropped %v decoded %v", e.Dropped(), e.Decoded())
			}
		})
	}
}

func TestContentDecodingLeavesAsSent(t *testing.T) {
	plain := []byte(`{"a":1}`)
	for _, tc := range []struct {
		name   string
		rec    func(t *testing.T) *exchange.Record
		reason string // counted; "" when nothing is to count
	}{
		{"text body: its sensor decoded it (HAR)", func(t *testing.T) *exchange.Record {
			r := encRecord(t, "gzip", nil)
			r.Request.Body, r.Request.BodyEncoding = string(plain), ""
			return r
		}, ""},
		{"no content-encoding", func(t *testing.T) *exchange.Record {
			r := encRecord(t, "gzip", gz(plain))
			delete(r.Request.Headers, "content-encoding")
			return r
		}, ""},
		{"unsupported coding", func(t *testing.T) *exchange.Record { return encRecord(t, "compress", gz(plain)) }, DropUnsupported},
		{"unsupported among known", func(t *testing.T) *exchange.Record { return encRecord(t, "gzip, aes128gcm", gz(plain)) }, DropUnsupported},
		{"too many codings", func(t *testing.T) *exchange.Record {
			return encRecord(t, "gzip, gzip, gzip, gzip", gz(gz(gz(gz(plain)))))
		}, DropTooMany},
		{"not a gzip stream", func(t *testing.T) *exchange.Record {
			return encRecord(t, "gzip", []byte("\x00\x01binary that is no gzip\xff"))
		}, DropInvalid},
		{"not a zstd stream", func(t *testing.T) *exchange.Record { return encRecord(t, "zstd", gz(plain)) }, DropInvalid},
		{"not a deflate stream", func(t *testing.T) *exchange.Record { return encRecord(t, "deflate", []byte{0xff, 0xff, 0xff, 0xfe}) }, DropInvalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := New(DefaultConfig(), nil, nil)
			rec := tc.rec(t)
			body, enc := rec.Request.Body, rec.Request.BodyEncoding
			ev, err := e.Enrich(rec, 0)
			if err != nil {
				t.Fatal(err)
			}
			if rec.Request.Body != body || rec.Request.BodyEncoding != enc || ev.RequestCoding != "" {
				t.Errorf("body changed to %q (%q, coding %q), want it as sent", rec.Request.Body, rec.Request.BodyEncoding, ev.RequestCoding)
			}
			want := map[string]int64{}
			if tc.reason != "" {
				want[tc.reason] = 1
			}
			if fmt.Sprint(e.Dropped()) != fmt.Sprint(want) && !(len(want) == 0 && len(e.Dropped()) == 0) {
				t.Errorf("dropped %v, want %v", e.Dropped(), want)
			}
		})
	}
}

// TestContentDecodingBounds: a decompression bomb is cut at max_ratio times
// its encoded size (at least ratioFloor) and at max_body; a cut or damaged
// stream keeps what decoded before the cut.
func TestContentDecodingBounds(t *testing.T) {
	bomb := gz(make([]byte, 32<<20)) // 32 MiB of zeros: a ≈32 KB gzip
	t.Run("ratio", func(t *testing.T) {
		small := gz(make([]byte, 2<<20)) // ≈2 KB: 100 × 2 KB is under max_body
		e := New(DefaultConfig(), nil, nil)
		rec := encRecord(t, "gzip", small)
		if _, err := e.Enrich(rec, 0); err != nil {
			t.Fatal(err)
		}
		want := max(ratioFloor, 100*len(small))
		if want >= 256<<10 {
			t.Fatalf("the test's bomb is %d bytes: the ratio bound would not bite", len(small))
		}
		if len(rec.Request.Body) != want || !rec.Request.Truncated {
			t.Errorf("decoded %d bytes (truncated %v), want %d, truncated", len(rec.Request.Body), rec.Request.Truncated, want)
		}
		if e.Dropped()[DropRatio] != 1 {
			t.Errorf("dropped %v, want the ratio bound counted", e.Dropped())
		}
	})
	t.Run("max_body", func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.Content = ContentConfig{MaxBody: 100 << 10, MaxRatio: 1 << 20}
		e := New(cfg, nil, nil)
		rec := encRecord(t, "gzip, br", br(bomb)) // the cap applies after each layer
		if _, err := e.Enrich(rec, 0); err != nil {
			t.Fatal(err)
		}
		if len(rec.Request.Body) != 100<<10 || !rec.Request.Truncated {
			t.Errorf("decoded %d bytes (truncated %v), want %d, truncated", len(rec.Request.Body), rec.Request.Truncated, 100<<10)
		}
		if e.Dropped()[DropCapped] != 1 {
			t.Errorf("dropped %v, want the cap counted", e.Dropped())
		}
	})
	t.Run("off", func(t *testing.T) {
		cfg := DefaultConfig()
		cfg.Content.MaxBody = 0
		e := New(cfg, nil, nil)
		rec := encRecord(t, "gzip", gz([]byte("x")))
		body := rec.Request.Body
		if ev, _ := e.Enrich(rec, 0); rec.Request.Body != body || ev.RequestCoding != "" {
			t.Errorf("decoded with max_body 0")
		}
	})
	text := []byte(strings.Repeat(`{"id":1,"name":"ana"},`, 4000))
	wire := gz(text)
	t.Run("recorded body cut by its sensor", func(t *testing.T) {
		e := New(DefaultConfig(), nil, nil)
		rec := encRecord(t, "gzip", wire[:len(wire)/2])
		rec.Request.Truncated = true
		if _, err := e.Enrich(rec, 0); err != nil {
			t.Fatal(err)
		}
		if len(rec.Request.Body) == 0 || !bytes.HasPrefix(text, []byte(rec.Request.Body)) || !rec.Request.Truncated {
			t.Errorf("decoded %d bytes (a prefix: %v), truncated %v; want a prefix of the text, truncated", len(rec.Request.Body), bytes.HasPrefix(text, []byte(rec.Request.Body)), rec.Request.Truncated)
		}
		if len(e.Dropped()) != 0 {
			t.Errorf("dropped %v: a body its sensor cut is no loss of ours", e.Dropped())
		}
	})
	t.Run("damaged part way", func(t *testing.T) {
		e := New(DefaultConfig(), nil, nil)
		rec := encRecord(t, "gzip", wire[:len(wire)/2]) // not marked truncated
		if _, err := e.Enrich(rec, 0); err != nil {
			t.Fatal(err)
		}
		if len(rec.Request.Body) == 0 || !bytes.HasPrefix(text, []byte(rec.Request.Body)) || !rec.Request.Truncated {
			t.Errorf("decoded %d bytes, truncated %v; want the part before the damage, truncated", len(rec.Request.Body), rec.Request.Truncated)
		}
		if e.Dropped()[DropCorrupt] != 1 {
			t.Errorf("dropped %v, want the damage counted", e.Dropped())
		}
	})
}

// TestContentDecodingResponse: a response body read lazily from an NDJSON
// line (exchange keeps it quoted until first use) is decoded too.
func TestContentDecodingResponse(t *testing.T) {
	plain := `[{"email":"ana@example.org","card":"4111 1111 1111 1111"}]`
	line := fmt.Sprintf(`{"time":"2026-12-07T10:00:00Z","client":{"ip":"198.51.100.7"},"request":{"method":"GET","url":"https://api.test/v1/users"},`+
		`"response":{"status":200,"headers":{"content-encoding":"br","content-type":"application/json"},"body":%q,"body_encoding":"base64"}}`,
		base64.StdEncoding.EncodeToString(br([]byte(plain))))
	rec, err := exchange.DecodeRecord([]byte(line))
	if err != nil {
		t.Fatal(err)
	}
	e := New(DefaultConfig(), nil, nil)
	ev, err := e.Enrich(rec, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := rec.Response.BodyText(); got != plain || ev.ResponseCoding != "br" {
		t.Errorf("response body %q (coding %q), want the decoded JSON", got, ev.ResponseCoding)
	}
}

// FuzzContentDecode: any bytes under any coding decode within the bounds,
// never panic, and leave the body as sent when they are not the stream.
func FuzzContentDecode(f *testing.F) {
	f.Add("gzip", gz([]byte(`{"a":1}`)), false)
	f.Add("br", br([]byte("hello")), false)
	f.Add("zstd", zs([]byte("hello")), true)
	f.Add("deflate", zl([]byte("hello")), false)
	f.Add("gzip, br", br(gz([]byte("x"))), false)
	f.Add("gzip", []byte{0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff}, true)
	f.Fuzz(func(t *testing.T, coding string, wire []byte, truncated bool) {
		d := contentDecoder{cfg: ContentConfig{MaxBody: 8 << 10, MaxRatio: 10}}
		out, peeled, cut, ok := d.decode(wire, coding, truncated)
		if !ok {
			if out != nil || peeled != "" {
				t.Fatalf("not decoded but returned %d bytes, %q", len(out), peeled)
			}
			return
		}
		if len(out) > 8<<10 {
			t.Fatalf("decoded %d bytes, over max_body", len(out))
		}
		if truncated && !cut {
			t.Fatal("a cut record's body came out whole")
		}
		if peeled == "" {
			t.Fatal("decoded without a coding")
		}
	})
}

// BenchmarkContentDecode: the cost of decoding an ordinary compressed JSON
// response and of a decompression bomb (32 MiB of zeros, ≈32 KB sent),
// which the bounds cut at max_body.
func BenchmarkContentDecode(b *testing.B) {
	json := []byte(strings.Repeat(`{"id":1042,"name":"Ana Silva","email":"ana@example.org","tags":["a","b"]},`, 300))
	for _, bc := range []struct {
		name string
		wire []byte
	}{
		{"json-22KB/gzip", gz(json)},
		{"json-22KB/br", br(json)},
		{"json-22KB/zstd", zs(json)},
		{"bomb-32MiB/gzip", gz(make([]byte, 32<<20))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			d := contentDecoder{cfg: DefaultContentConfig()}
			coding, _, _ := strings.Cut(bc.name[strings.IndexByte(bc.name, '/')+1:], "/")
			b.SetBytes(int64(len(bc.wire)))
			b.ReportAllocs()
			for b.Loop() {
				if _, _, _, ok := d.decode(bc.wire, coding, false); !ok {
					b.Fatal("not decoded")
				}
			}
		})
	}
}

func chunk(parts ...string) string {
	var b strings.Builder
	for _, p := range parts {
		fmt.Fprintf(&b, "%x\r\n%s\r\n", len(p), p)
	}
	b.WriteString("0\r\n\r\n")
	return b.String()
}

// TestBodyLayers: chunked framing left in a recorded body, content codings
// and a charset other than UTF-8 are undone in that order; a body that
// only looks framed, or is UTF-8 text already, is left as recorded.
func TestBodyLayers(t *testing.T) {
	utf16le := func(s string) []byte {
		out := []byte{0xff, 0xfe}
		for _, r := range s {
			out = append(out, byte(r), byte(r>>8))
		}
		return out
	}
	ebcdic := func(s string) []byte {
		b, err := charmap.CodePage037.NewEncoder().Bytes([]byte(s))
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	form := "q=shoes&sort=price' UNION SELECT password FROM users--"
	for _, tc := range []struct {
		name    string
		headers map[string]string
		body    string
		base64  bool
		cut     bool
		want    string // the body after; "" = as recorded
		layers  string
	}{
		{"chunked text", map[string]string{"transfer-encoding": "chunked"}, chunk(`{"a":`, `"b"}`), false, false, `{"a":"b"}`, "chunked"},
		{"chunked with extensions", map[string]string{"transfer-encoding": "chunked"}, "4;name=v\r\nab=c\r\n0\r\n\r\n", false, false, "ab=c", "chunked"},
		{"chunked gzip", map[string]string{"transfer-encoding": "chunked", "content-encoding": "gzip"}, chunk(string(gz([]byte(form)))), true, false, form, "chunked,gzip"},
		{"chunked, cut by its sensor", map[string]string{"transfer-encoding": "chunked"}, chunk("hello ", "world")[:14], false, true, "hello ", "chunked"}, // the chunks received whole
		{"framing removed by its sensor", map[string]string{"transfer-encoding": "chunked"}, `{"a":"b"}`, false, false, "", ""},
		{"looks framed, is not", map[string]string{"transfer-encoding": "chunked"}, "ab\r\ncd\r\nef", false, false, "", ""},
		{"UTF-16 with a byte order mark", map[string]string{"content-type": "application/json"}, string(utf16le(`{"q":"' OR 1=1--"}`)), true, false, `{"q":"' OR 1=1--"}`, "charset:utf-16le"},
		{"EBCDIC form", map[string]string{"content-type": "application/x-www-form-urlencoded; charset=ibm037"}, string(ebcdic(form)), true, false, form, "charset:ibm037"},
		{"Latin-1 bytes", map[string]string{"content-type": "text/plain; charset=ISO-8859-1"}, "caf\xe9 cr\xe8me", true, false, "café crème", "charset:iso-8859-1"},
		{"gzip of UTF-16", map[string]string{"content-encoding": "gzip", "content-type": "application/json; charset=utf-16"}, string(gz(utf16le(`{"a":1}`))), true, false, `{"a":1}`, "gzip,charset:utf-16le"}, // its byte order mark says which
		{"a WHATWG label", map[string]string{"content-type": "text/plain; charset=cp1252"}, "caf\xe9 \x80 5", true, false, "café € 5", "charset:cp1252"},
		{"UTF-16 XML without a byte order mark", map[string]string{"content-type": "application/xml"}, string(utf16le(`<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>`)[2:]), true, false, `<?xml version="1.0"?><!DOCTYPE a [<!ENTITY x SYSTEM "file:///etc/passwd">]><a>&x;</a>`, "charset:utf-16le"},
		{"EBCDIC XML", map[string]string{"content-type": "text/xml"}, string(ebcdic(`<?xml version="1.0" encoding="IBM037"?><a>&x;</a>`)), true, false, `<?xml version="1.0" encoding="IBM037"?><a>&x;</a>`, "charset:ibm037"},
		{"Latin-1 XML by its declaration", map[string]string{"content-type": "application/xml"}, "<?xml version='1.0' encoding='ISO-8859-1'?><a>caf\xe9</a>", true, false, "<?xml version='1.0' encoding='ISO-8859-1'?><a>café</a>", "charset:iso-8859-1"},
		{"XML declaring UTF-8", map[string]string{"content-type": "application/xml"}, `<?xml version="1.0" encoding="UTF-8"?><a>é</a>`, true, false, "", ""},
		{"the HTTP charset wins over the declaration", map[string]string{"content-type": "application/xml; charset=utf-8"}, "<?xml version='1.0' encoding='ISO-8859-1'?><a>caf\xc3\xa9</a>", true, false, "", ""},
		{"Latin-1 declared, recorded as UTF-8 text", map[string]string{"content-type": "text/plain; charset=iso-8859-1"}, "café crème", false, false, "", ""},
		{"UTF-8 declared", map[string]string{"content-type": "application/json; charset=utf-8"}, `{"a":"é"}`, true, false, "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := encRecord(t, "", nil)
			rec.Request.Headers = tc.headers
			rec.Request.Body, rec.Request.BodyEncoding, rec.Request.Truncated = tc.body, "", tc.cut
			if tc.base64 {
				rec.Request.Body, rec.Request.BodyEncoding = base64.StdEncoding.EncodeToString([]byte(tc.body)), "base64"
			}
			recorded := rec.Request.BodyText()
			e := New(DefaultConfig(), nil, nil)
			ev, err := e.Enrich(rec, 0)
			if err != nil {
				t.Fatal(err)
			}
			want := tc.want
			if want == "" {
				want = recorded
			}
			if got := rec.Request.BodyText(); got != want || ev.RequestCoding != tc.layers {
				t.Errorf("body %q, layers %q; want %q, %q", got, ev.RequestCoding, want, tc.layers)
			}
			if tc.cut != rec.Request.Truncated {
				t.Errorf("truncated %v, want %v", rec.Request.Truncated, tc.cut)
			}
			if tc.layers != "" && e.Decoded()[tc.layers] != 1 {
				t.Errorf("decoded %v, want %q counted", e.Decoded(), tc.layers)
			}
		})
	}
	// an unknown charset on a binary body is counted and left as sent
	e := New(DefaultConfig(), nil, nil)
	rec := encRecord(t, "", nil)
	rec.Request.Headers = map[string]string{"content-type": "text/plain; charset=x-no-such-charset"}
	rec.Request.Body, rec.Request.BodyEncoding = base64.StdEncoding.EncodeToString([]byte("\x80\x81abc")), "base64"
	if ev, _ := e.Enrich(rec, 0); ev.RequestCoding != "" || e.Dropped()[DropCharset] != 1 {
		t.Errorf("unknown charset: layers %q, dropped %v", ev.RequestCoding, e.Dropped())
	}
}

// FuzzBodyLayers: any recorded body under any framing, coding and charset
// headers is undone within the bounds, or left as recorded.
func FuzzBodyLayers(f *testing.F) {
	f.Add("chunked", "gzip", "text/plain; charset=utf-16", string(gz([]byte("hi"))), true)
	f.Add("chunked", "", "", "5\r\nhello\r\n0\r\n\r\n", false)
	f.Add("", "", "application/x-www-form-urlencoded; charset=ibm037", "\x98\x7e\x81", true)
	f.Add("", "br", "application/json", string(br([]byte(`{"a":1}`))), false)
	f.Add("", "", "application/xml", "<\x00?\x00x\x00m\x00l\x00", true)
	f.Add("", "", "text/xml", "<?xml version='1.0' encoding='ISO-8859-1'?><a>\xe9</a>", true)
	f.Add("", "", "application/xml", "\x4c\x6f\xa7\x94\x93@\xa5\x85", true)
	f.Fuzz(func(t *testing.T, te, ce, ct, body string, b64 bool) {
		rec := &exchange.Record{Request: exchange.Request{Headers: map[string]string{"transfer-encoding": te, "content-encoding": ce, "content-type": ct}, Body: body}}
		if b64 {
			rec.Request.Body, rec.Request.BodyEncoding = base64.StdEncoding.EncodeToString([]byte(body)), "base64"
		}
		d := contentDecoder{cfg: ContentConfig{MaxBody: 4 << 10, MaxRatio: 10}}
		req, _ := d.decodeBodies(rec)
		if req == "" {
			if rec.Request.BodyText() != body {
				t.Fatal("body changed with no layer undone")
			}
			return
		}
		if len(rec.Request.Body) > 4<<10 {
			t.Fatalf("%d bytes after %s, over max_body", len(rec.Request.Body), req)
		}
	})
}
