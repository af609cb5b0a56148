package enrich

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"encoding/base64"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/klauspost/compress/zstd"

	"github.com/palisade-sec/palisade/internal/exchange"
)

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func zl(b []byte) []byte {
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func rawDeflate(b []byte) []byte {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.DefaultCompression)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func br(b []byte) []byte {
	var buf bytes.Buffer
	w := brotli.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
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
