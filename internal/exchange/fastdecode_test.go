package exchange

import (
	"bytes"
	"maps"
	"os"
	"reflect"
	"strings"
	"testing"
)

// decodeBoth decodes line with the fast decoder (when it accepts it) and with
// the general one, and fails if they disagree.
func decodeBoth(t *testing.T, line []byte, it *fastScanner) (fastOK bool) {
	t.Helper()
	var fast Record
	if !fastDecode(line, &fast, it) {
		return false
	}
	fastErr := fast.Validate()
	var slow Record
	slowErr := slowDecodeRecord(line, &slow)
	if (fastErr == nil) != (slowErr == nil) {
		t.Fatalf("fast decoder accepted %q (validation: %v) but the general decoder says %v", line, fastErr, slowErr)
	}
	if slowErr != nil {
		if fastErr.Error() != slowErr.Error() {
			t.Fatalf("errors differ for %q: fast %v, general %v", line, fastErr, slowErr)
		}
		return true
	}
	fast.Response.BodyText()
	slow.Response.BodyText()
	fast.url, slow.url = nil, nil
	fast.headersLower = false
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("records differ for %q:\nfast    %+v\ngeneral %+v", line, fast, slow)
	}
	return true
}

func TestFastDecodeAgrees(t *testing.T) {
	var lines [][]byte
	for _, p := range []string{"testdata/good.ndjson", "testdata/bad.ndjson"} {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		lines = append(lines, bytes.Split(data, []byte("\n"))...)
	}
	lines = append(lines, bytes.Split(synthCapture(200), []byte("\n"))...)
	lines = append(lines,
		[]byte(`{"time":"2026-11-18T10:00:00.5+01:00","client":{"ip":"::1"},"request":{"method":"get","url":"http://h/x?a=\u00e9\ud83d\ude00","headers":{"X-Up":"a\"b\\c\/\n"}},"response":{"status":200,"body":"\ud83d\ude00 \u0041\t"}}`),
		[]byte(` {"time" : "2026-11-18T10:00:00Z" , "duration_ms" : 1.5e2 , "client" : { "port" : 7 , "ip" : "10.0.0.1" } , "request" : { "url" : "https://a/" , "method" : "POST" , "body":"e30=","body_encoding":"base64","size":2,"truncated":true } , "response" : { "status" : 0 , "truncated": false , "size": 9 } } `),
	)
	fastN := 0
	it := &fastScanner{intern: &internTable{}}
	for _, l := range lines {
		if len(bytes.TrimSpace(l)) == 0 {
			continue
		}
		if decodeBoth(t, bytes.TrimSpace(l), it) {
			fastN++
		}
	}
	// The common shape must take the fast path.
	if fastN < 200 {
		t.Fatalf("fast decoder accepted only %d lines", fastN)
	}
	// request.headers_captured: both decoders, the same record ([] stays
	// an empty list: "no request header recorded", not "absent").
	for _, l := range []string{
		`{"time":"2026-11-18T10:00:00Z","client":{"ip":"::1"},"request":{"method":"GET","url":"http://h/","headers_captured":[]},"response":{"status":200}}`,
		`{"time":"2026-11-18T10:00:00Z","client":{"ip":"::1"},"request":{"method":"GET","url":"http://h/","headers_captured":[ "User-Agent" , "authorization"]},"response":{"status":200}}`,
	} {
		if !decodeBoth(t, []byte(l), it) {
			t.Errorf("fast decoder refused %s", l)
		}
	}
	for _, l := range []string{
		`{"time":"2026-11-18T10:00:00Z","client":{"ip":"::1"},"request":{"method":"GET","url":"http://h/","headers_captured":null},"response":{"status":200}}`,
		`{"time":"2026-11-18T10:00:00Z","client":{"ip":"::1"},"request":{"method":"GET","url":"http://h/","headers_captured":[1]},"response":{"status":200}}`,
		`{"time":"2026-11-18T10:00:00Z","client":{"ip":"::1"},"request":{"method":"GET","url":"http://h/","headers_captured":["a",]},"response":{"status":200}}`,
	} {
		decodeBoth(t, []byte(l), it)
	}
	var hc Record
	if err := decodeRecord([]byte(`{"time":"2026-11-18T10:00:00Z","client":{"ip":"::1"},"request":{"method":"GET","url":"http://h/","headers_captured":[]},"response":{"status":200}}`), &hc); err != nil ||
		hc.Request.HeadersCaptured == nil {
		t.Errorf("headers_captured [] decoded as %#v (%v)", hc.Request.HeadersCaptured, err)
	}
	if b, _ := MarshalRecord(&hc); !bytes.Contains(b, []byte(`"headers_captured":[]`)) {
		t.Errorf("[] not written back: %s", b)
	}
	// Shapes the fast decoder leaves to the general one.
	for _, l := range []string{
		`{"time":"2026-11-18T10:00:00Z","client":{"ip":"::1"},"request":{"method":"GET","url":"http://h/"},"response":{"status":200},"extra":1}`,
		`{"time":"2026-11-18T10:00:00Z","client":{"ip":"::1"},"request":{"method":"GET","url":"http://h/"},"response":{"status":200.0}}`,
		`{"time":"2026-11-18T10:00:00Z","client":{"ip":"::1"},"request":{"method":"GET","url":"http://h/","body":null},"response":{"status":200}}`,
		`{"time":"2026-11-18T10:00:00Z","client":{"ip":"::1"},"client":{"ip":"::2"},"request":{"method":"GET","url":"http://h/"},"response":{"status":200}}`,
		`{"time":"2026-11-18T10:00:00Z","client":{"ip":"::1"},"request":{"method":"GET","url":"http://h/","headers":{"a":"1","a":"2"}},"response":{"status":200}}`,
		`{"time":"2026-11-18T10:00:00Z","client":{"ip":"::1"},"request":{"method":"GET","url":"http://h/\ud800"},"response":{"status":200}}`,
		"{\"time\":\"2026-11-18T10:00:00Z\",\"client\":{\"ip\":\"::1\"},\"request\":{\"method\":\"GET\",\"url\":\"http://h/\xff\"},\"response\":{\"status\":200}}",
		`{"time":"2026-11-18T10:00:00Z","client":{"ip":"::1"},"request":{"method":"GET","url":"http://h/"},"response":{"status":200,"body":"\x"}}`,
		`{"time":"2026-11-18T10:00:00Z","client":{"ip":"::1"},"request":{"method":"GET","url":"http://h/"},"response":{"status":200}}x`,
	} {
		var r Record
		if fastDecode([]byte(l), &r, nil) {
			t.Errorf("fast decoder accepted %s", l)
		}
	}
}

// FuzzFastDecodeAgrees: whatever the fast decoder accepts, the general
// decoder decodes to the same record (or rejects with the same error).
func FuzzFastDecodeAgrees(f *testing.F) {
	for _, p := range []string{"testdata/good.ndjson", "testdata/bad.ndjson"} {
		data, _ := os.ReadFile(p)
		for _, line := range bytes.Split(data, []byte("\n")) {
			f.Add(line)
		}
	}
	for _, line := range bytes.Split(synthCapture(3), []byte("\n")) {
		f.Add(line)
	}
	f.Add([]byte(`{"time":"2026-11-18T10:00:00Z","client":{"ip":"::1"},"request":{"method":"GET","url":"http://h/","headers_captured":["user-agent","X-Api-Key"]},"response":{"status":200}}`))
	f.Fuzz(func(t *testing.T, line []byte) {
		decodeBoth(t, line, nil)
	})
}

// TestArenaStringsStay: the strings of a decoded record share an arena;
// decoding later records with the same scanner must not change them.
func TestArenaStringsStay(t *testing.T) {
	lines := bytes.Split(synthCapture(300), []byte("\n"))
	it := &fastScanner{intern: &internTable{}}
	var kept []*Record
	var kept2 []Record
	for _, l := range lines {
		if len(l) == 0 {
			continue
		}
		r := new(Record)
		if !fastDecode(l, r, it) {
			t.Fatalf("fast decoder refused %s", l)
		}
		kept = append(kept, r)
		var fresh Record
		fastDecode(l, &fresh, nil)
		// A deep copy made with fresh strings.
		c := fresh
		c.Request.URL = strings.Clone(fresh.Request.URL)
		c.Request.Body = strings.Clone(fresh.Request.Body)
		c.Response.Body = strings.Clone(fresh.Response.Body)
		c.Request.Headers = maps.Clone(fresh.Request.Headers)
		c.Response.Headers = maps.Clone(fresh.Response.Headers)
		kept2 = append(kept2, c)
	}
	for i := range kept {
		if !reflect.DeepEqual(*kept[i], kept2[i]) {
			t.Fatalf("record %d changed after later records were decoded:\n%+v\n%+v", i, *kept[i], kept2[i])
		}
	}
}
