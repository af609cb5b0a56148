package detect

import (
	"bytes"
	"compress/gzip"
	"encoding/base64"
	"encoding/binary"
	"google.golang.org/protobuf/encoding/protowire"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/enrich"
	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/exchange"
)

// binEvent: a request whose body was recorded as bytes (base64).
func binEvent(t *testing.T, ct string, body []byte) *event.Event {
	t.Helper()
	h := map[string]string{}
	if ct != "" {
		h["content-type"] = ct
	}
	rec := &exchange.Record{Time: sigTime, Client: exchange.Client{IP: "203.0.113.9"},
		Request: exchange.Request{Method: "PUT", URL: "https://api.example.test/v1/files/7", Headers: h,
			Body: base64.StdEncoding.EncodeToString(body), BodyEncoding: "base64"}, Response: exchange.Response{Status: 201}}
	if err := rec.Validate(); err != nil {
		t.Fatal(err)
	}
	ev, err := enrich.New(enrich.DefaultConfig(), nil, nil).Enrich(rec, 0)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// TestBinaryBodies: files uploaded as octet-stream, with no type, as an
// image, or as a form (curl --data-binary) are not read as text — before,
// random bytes tripped CRS and the structural matchers in most uploads —
// while a parameter slipped among a file's bytes, or padded with binary
// bytes after its payload, is still inspected.
func TestBinaryBodies(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		return b
	}
	var gzJSON bytes.Buffer
	zw := gzip.NewWriter(&gzJSON)
	zw.Write([]byte(strings.Repeat(`{"id":1,"q":"shoes"},`, 500)))
	zw.Close()

	d := NewInjection(Config{})
	files := 0
	for i := range 60 {
		for _, ct := range []string{"application/octet-stream", "", "image/png", "application/x-www-form-urlencoded", "application/json", "text/plain"} {
			body := random(200 + i*300)
			if i%3 == 0 {
				body = append([]byte("\x89PNG\r\n\x1a\n"), body...)
			} else if i%3 == 1 {
				body = gzJSON.Bytes()
			}
			files++
			if fs := d.Inspect(binEvent(t, ct, body)); len(fs) != 0 {
				t.Errorf("%s file %d: %d findings, first %s in %q (%s)", ct, i, len(fs), fs[0].Class, fs[0].Loc, fs[0].Reason)
			}
		}
	}
	if d.Stats.Binary != int64(files) {
		t.Errorf("Stats.Binary %d, want the %d files counted", d.Stats.Binary, files)
	}

	// a file with no type as a multipart part
	mp := "--b\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\n<script>alert(1)</script>\r\n" +
		"--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.bin\"\r\n\r\n" + string(random(4000)) + "\r\n--b--\r\n"
	fs := d.Inspect(binEvent(t, "multipart/form-data; boundary=b", []byte(mp)))
	if len(fs) != 1 || fs[0].Class != ClassXSS || fs[0].Loc != "multipart:note" {
		t.Errorf("multipart with an untyped binary file: %+v, want the XSS of the text field alone", fs)
	}

	for _, tc := range []struct {
		name string
		body []byte
	}{
		{"a parameter among a file's bytes", append(append(random(3000), "&q=' UNION SELECT password FROM users--&"...), random(3000)...)},
		{"a payload padded with binary bytes", append([]byte("q=1' UNION SELECT password FROM users-- "), make([]byte, 400)...)},
	} {
		fs := d.Inspect(binEvent(t, "application/x-www-form-urlencoded", tc.body))
		if len(fs) == 0 || fs[0].Class != ClassSQLi || fs[0].Loc != "form:q" {
			t.Errorf("%s: %+v, want the SQL injection in form:q", tc.name, fs)
		}
	}
}

// TestProtobufBodies: protobuf and gRPC bodies are walked without their
// schema; their text fields are values (proto:FIELD.FIELD), their numbers
// and bytes are not, and a body that is no message is a binary body.
func TestProtobufBodies(t *testing.T) {
	str := func(b []byte, num protowire.Number, s string) []byte {
		return protowire.AppendString(protowire.AppendTag(b, num, protowire.BytesType), s)
	}
	msg := func(payload string) []byte {
		var inner []byte
		inner = str(inner, 3, payload)
		inner = protowire.AppendVarint(protowire.AppendTag(inner, 4, protowire.VarintType), 1042)
		var m []byte
		m = str(m, 1, "alice")
		m = protowire.AppendBytes(protowire.AppendTag(m, 2, protowire.BytesType), inner)
		m = protowire.AppendFixed64(protowire.AppendTag(m, 5, protowire.Fixed64Type), 0xfffefdfcfbfaf9f8)
		m = protowire.AppendBytes(protowire.AppendTag(m, 6, protowire.BytesType), []byte{0xff, 0x00, 0x81, 0x7f, 0xfe})
		return m
	}
	frame := func(flag byte, m []byte) []byte {
		return append(binary.BigEndian.AppendUint32([]byte{flag}, uint32(len(m))), m...)
	}
	attack := "' UNION SELECT password FROM users--"
	d := NewInjection(Config{})
	for _, tc := range []struct {
		ct   string
		body []byte
	}{
		{"application/x-protobuf", msg(attack)},
		{"application/grpc", frame(0, msg(attack))},
		{"application/grpc+proto", append(frame(0, msg("shoes")), frame(0, msg(attack))...)},
		{"application/grpc-web-text", []byte(base64.StdEncoding.EncodeToString(append(frame(0, msg(attack)), frame(0x80, []byte("grpc-status:0\r\n"))...)))},
	} {
		fs := d.Inspect(binEvent(t, tc.ct, tc.body))
		if len(fs) != 1 || fs[0].Class != ClassSQLi || fs[0].Loc != "proto:2.3" {
			t.Errorf("%s: %+v, want the SQL injection in proto:2.3", tc.ct, fs)
		}
	}
	// benign messages: words, numbers, bytes, nested
	r := rand.New(rand.NewPCG(3, 5))
	words := []string{"alice", "order-1042", "EUR", "shipped", "Zürich", "2026-12-07", "the quick brown fox", "https://cdn.example.com/a.png", "N/A", "ok"}
	for i := range 300 {
		var m []byte
		for range 1 + r.IntN(30) {
			num := protowire.Number(1 + r.IntN(40))
			switch r.IntN(4) {
			case 0:
				m = str(m, num, words[r.IntN(len(words))])
			case 1:
				m = protowire.AppendVarint(protowire.AppendTag(m, num, protowire.VarintType), r.Uint64())
			case 2:
				m = protowire.AppendFixed32(protowire.AppendTag(m, num, protowire.Fixed32Type), r.Uint32())
			default:
				m = protowire.AppendBytes(protowire.AppendTag(m, num, protowire.BytesType), msg(words[r.IntN(len(words))]))
			}
		}
		ct := "application/x-protobuf"
		if i%2 == 1 {
			ct, m = "application/grpc", frame(0, m)
		}
		if fs := d.Inspect(binEvent(t, ct, m)); len(fs) != 0 {
			t.Errorf("benign message %d: %+v", i, fs)
		}
	}
	before := d.Stats.Binary
	if fs := d.Inspect(binEvent(t, "application/grpc", frame(1, []byte("\x1f\x8b compressed")))); len(fs) != 0 || d.Stats.Binary != before+1 {
		t.Errorf("compressed frame: %+v, binary %d → %d; want it counted, not read", fs, before, d.Stats.Binary)
	}
	before = d.Stats.BodyErrors
	if fs := d.Inspect(binEvent(t, "application/x-protobuf", []byte("q=1' UNION SELECT password FROM users--"))); len(fs) == 0 || d.Stats.BodyErrors != before+1 {
		t.Errorf("text announced as protobuf: %+v; want it judged as a body of no structured type, counted", fs)
	}
}

// TestDocumentBodies: a CSV or TSV import is judged cell by cell, named
// by its column; a text document (plain, Markdown, YAML) as one text,
// never split into name=value pairs that no framework would parse.
func TestDocumentBodies(t *testing.T) {
	d := NewInjection(Config{})
	post := func(ct, body string) []InjFinding {
		return d.Inspect(sigEvent(t, "POST", "https://api.example.test/v1/imports", map[string]string{"content-type": ct}, body, 201))
	}
	csvOK := "id,first_name,city,notes\n1,Ana,\"New York, NY\",\"prefers email, not phone\"\n2,O'Neil,Zürich,\"order #1234 (refund)\"\n3,Zoë,\"Côte d'Ivoire\",n/a\n"
	if fs := post("text/csv", csvOK); len(fs) != 0 {
		t.Errorf("benign CSV: %s in %s (%s)", fs[0].Class, fs[0].Loc, fs[0].Reason)
	}
	if fs := post("text/tab-separated-values", strings.ReplaceAll(strings.ReplaceAll(csvOK, ",", "\t"), "\"", "")); len(fs) != 0 {
		t.Errorf("benign TSV: %s in %s (%s)", fs[0].Class, fs[0].Loc, fs[0].Reason)
	}
	log := "2026-12-07T10:00:00Z INFO GET /v1/orders?id=5&sort=desc -> 200 (13 ms) user=ana\n2026-12-07T10:00:01Z WARN retry=2 backoff=400ms host=db-1\n"
	if fs := post("text/plain", log); len(fs) != 0 {
		t.Errorf("log file: %s in %s (%s)", fs[0].Class, fs[0].Loc, fs[0].Reason)
	}
	fs := post("text/csv", "id,name,notes\n1,Ana,ok\n2,Bob,\"x' UNION SELECT password FROM users--\"\n")
	if len(fs) == 0 || fs[0].Class != ClassSQLi || fs[0].Loc != "csv:notes" {
		t.Errorf("attack in a CSV cell: %+v, want the SQL injection in csv:notes", fs)
	}
	fs = post("text/csv", "1,Ana,ok\n2,Bob,<script>alert(document.cookie)</script>\n")
	if len(fs) == 0 || fs[0].Class != ClassXSS || fs[0].Loc != "csv:col3" {
		t.Errorf("attack in a headerless CSV: %+v, want the XSS in csv:col3", fs)
	}
	fs = post("text/plain", "note=1' UNION SELECT password FROM users--")
	if len(fs) == 0 || fs[0].Class != ClassSQLi || fs[0].Loc != "body" {
		t.Errorf("attack in a text document: %+v, want the SQL injection in the body", fs)
	}
}
