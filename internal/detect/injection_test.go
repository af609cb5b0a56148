package detect

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/palisade-sec/palisade/internal/enrich"
	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/textkind"
)

var sigTime = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// sigEvent builds an enriched event from a request.
func sigEvent(t testing.TB, method, rawURL string, headers map[string]string, body string, status int) *event.Event {
	t.Helper()
	h := map[string]string{"user-agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0"}
	for k, v := range headers {
		h[k] = v
	}
	rec := &exchange.Record{Time: sigTime, Client: exchange.Client{IP: "203.0.113.9"},
		Request: exchange.Request{Method: method, URL: rawURL, Headers: h, Body: body}, Response: exchange.Response{Status: status}}
	if err := rec.Validate(); err != nil {
		t.Fatalf("record: %v", err)
	}
	ev, err := enrich.New(enrich.DefaultConfig(), nil, nil).Enrich(rec, 0)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// placeValue puts a value in a request position.
func placeValue(t testing.TB, where, v string) *event.Event {
	switch where {
	case "query":
		return sigEvent(t, "GET", "https://api.example.test/v1/search?q="+url.QueryEscape(v), nil, "", 200)
	case "header":
		return sigEvent(t, "GET", "https://api.example.test/v1/search", map[string]string{"x-note": v}, "", 200)
	case "form":
		return sigEvent(t, "POST", "https://api.example.test/v1/notes", map[string]string{"content-type": "application/x-www-form-urlencoded"}, "q="+url.QueryEscape(v), 200)
	case "xml":
		return sigEvent(t, "POST", "https://api.example.test/v1/notes", map[string]string{"content-type": "application/xml"}, v, 200)
	}
	b, _ := json.Marshal(map[string]any{"note": map[string]string{"text": v}})
	return sigEvent(t, "POST", "https://api.example.test/v1/notes", map[string]string{"content-type": "application/json"}, string(b), 200)
}

func readTSV(t *testing.T, path string) [][2]string {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out [][2]string
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		l := sc.Text()
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		a, b, ok := strings.Cut(l, "\t")
		if !ok {
			t.Fatalf("%s:%d: want two tab-separated columns", path, n)
		}
		out = append(out, [2]string{a, b})
	}
	return out
}

func TestInjectionPositives(t *testing.T) {
	d := NewInjection(Config{})
	for _, tc := range readTSV(t, "testdata/signatures/positives.tsv") {
		class, payload := tc[0], tc[1]
		wheres := []string{"query", "json", "form"}
		if class == "xxe" {
			wheres = []string{"xml", "json"}
		}
		if class == "crlf" {
			wheres = []string{"query"}
			payload, _ = url.QueryUnescape(payload)
		}
		for _, where := range wheres {
			fs := d.Inspect(placeValue(t, where, payload))
			found := false
			for _, f := range fs {
				if f.Class.String() == class {
					found = true
				}
			}
			if !found {
				t.Errorf("%s in %s: %q not detected (got %+v)", class, where, payload, fs)
			}
		}
	}
}

// coldInjection is the detector without its positive model: every value is
// judged on its own, as in a parameter never seen.
func coldInjection() *Injection {
	o, err := ParseOptions("injection: {profile: false}")
	if err != nil {
		panic(err)
	}
	return NewInjection(Config{Options: o})
}

func TestInjectionNegatives(t *testing.T) {
	d := coldInjection()
	for _, tc := range readTSV(t, "testdata/signatures/negatives.tsv") {
		where, v := tc[0], tc[1]
		if fs := d.Inspect(placeValue(t, where, v)); len(fs) > 0 {
			t.Errorf("benign %s value %q flagged: %s %q (%s)", where, v, fs[0].Class, fs[0].Fragment, fs[0].Reason)
		}
	}
}

func TestInjectionEvidence(t *testing.T) {
	// Double URL encoding in a query value, a secret next to it.
	raw := "https://api.example.test/v1/items?id=" + url.QueryEscape(url.QueryEscape("1' UNION SELECT password FROM users-- ")) + "&token=abc"
	ev := sigEvent(t, "GET", raw, nil, "", 200)
	em := NewEmitter()
	NewInjection(Config{}).Observe(ev, em)
	as := em.Alerts()
	if len(as) != 1 || as[0].Type != "injection.sqli" {
		t.Fatalf("alerts: %+v", as)
	}
	d := as[0].Evidence.Details
	if d["location"] != "query:id" || d["decoding"] != "url,url2" {
		t.Errorf("evidence details: %v", d)
	}
	if s := as[0].Evidence.Samples; len(s) != 1 || strings.Contains(s[0].URL, "abc") || !strings.Contains(s[0].URL, "token=*") {
		t.Errorf("sample not redacted: %+v", s)
	}
	// JSON location and base64 layer.
	body := `{"items":[{"name":"ok"},{"name":"` + "PHN2Zy9vbmxvYWQ9YWxlcnQoMSk+" + `"}]}` // base64 of <svg/onload=alert(1)>
	ev = sigEvent(t, "POST", "https://api.example.test/v1/items", map[string]string{"content-type": "application/json"}, body, 201)
	fs := NewInjection(Config{}).Inspect(ev)
	if len(fs) != 1 || fs[0].Loc != "body:$.items[1].name" || len(fs[0].Layers) == 0 || fs[0].Layers[0] != LayerBase64 {
		t.Fatalf("findings: %+v", fs)
	}
}

func TestInjectionIgnoreFields(t *testing.T) {
	body := `{"sql":"SELECT name FROM t WHERE id = 1; DROP TABLE t;--","note":"x' OR '1'='1"}`
	ev := sigEvent(t, "POST", "https://api.example.test/v1/report", map[string]string{"content-type": "application/json"}, body, 200)
	fs := NewInjection(Config{Options: optsYAML(t, "injection: {ignore_fields: [SQL]}")}).Inspect(ev)
	if len(fs) != 1 || fs[0].Loc != "body:$.note" {
		t.Fatalf("findings with sql ignored: %+v", fs)
	}
	fs = NewInjection(Config{}).Inspect(ev)
	if len(fs) != 1 || fs[0].Class != ClassSQLi {
		t.Fatalf("findings: %+v", fs)
	}
}

func TestFragmentRedaction(t *testing.T) {
	for in, want := range map[string]string{
		"x' or 1=1 -- password=hunter22":                "x' or 1=1 -- password=****",
		"Authorization: Bearer abcdef.ghijkl.mnop":      "Authorization: Bearer ****",
		"http://admin:s3cr3t@10.0.0.1/":                 "http://admin:****@10.0.0.1/",
		"a\r\nSet-Cookie: x":                            `a\r\nSet-Cookie: x`,
		"eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0. and more": "eyJ…[jwt] and more",
		strings.Repeat("A", 100):                        strings.Repeat("A", 80) + "…",
	} {
		if got := Fragment(in, 0, len(in)); got != want {
			t.Errorf("Fragment(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRequestPartsLocations(t *testing.T) {
	body := `{"a":{"b":[1,"x<y",{"$ne":null}]},"c":"d"}`
	ev := sigEvent(t, "POST", "https://api.example.test/v1/x/..%2f/y?q=1&u%5B%24ne%5D=2&%27msdasql%27&e=", map[string]string{"content-type": "application/json", "cookie": "sid=abc; theme=dark", "accept": "*/*"}, body, 200)
	var got []string
	st := &PartStats{}
	RequestParts(ev, PartLimits{}, st, func(p Part) bool {
		got = append(got, p.Loc()+"="+p.Value)
		return true
	})
	want := []string{"path=/v1/x/..%2f/y", "query:q=1", "query-name:u[$ne]=u[$ne]", "query:u[$ne]=2", "query='msdasql'", "header:accept=*/*", "header:content-type=application/json", "header:user-agent=Mozilla/5.0 (X11; Linux x86_64) Firefox/128.0",
		"cookie:sid=abc", "cookie:theme=dark", "body:$.a.b[0]=1", "body:$.a.b[1]=x<y", "body:$.a.b[2].$ne(key)=$ne", "body:$.c=d"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("parts:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Limits: parts and value size are counted, head and tail kept.
	long := strings.Repeat("A", 100) + "<script>alert(1)</script>"
	ev = placeValue(t, "json", long)
	st = &PartStats{}
	var vals []string
	RequestParts(ev, PartLimits{MaxValue: 60, MaxParts: 4}, st, func(p Part) bool { vals = append(vals, p.Value); return true }) // the plain path is a part (CRS rules only)
	if st.ValuesCut != 1 || !strings.HasSuffix(vals[len(vals)-1], "</script>") {
		t.Errorf("value cut: stats %+v values %q", st, vals)
	}
}

func FuzzRequestBody(f *testing.F) {
	f.Add("application/json", `{"a":[1,{"b":"c"}],"d":"\u003cx"}`)
	f.Add("multipart/form-data; boundary=zz", "--zz\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\n\r\nhello\r\n--zz--\r\n")
	f.Add("application/xml", `<?xml version="1.0"?><a x="1"><b>t</b></a>`)
	f.Add("application/x-www-form-urlencoded", "a=%ZZ&b=1+2")
	f.Add("application/x-protobuf", "\x0a\x05alice\x12\x07\x1a\x05' or ")
	f.Add("application/grpc", "\x00\x00\x00\x00\x07\x0a\x05alice")
	f.Add("application/grpc-web-text", "AAAAAAcKBWFsaWNl")
	f.Add("application/octet-stream", "\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR&q=1' or 1=1--\x00\x01")
	f.Fuzz(func(t *testing.T, ct, body string) {
		n := 0
		BodyParts(body, ct, PartLimits{MaxParts: 50, MaxValue: 1000}, nil, func(p Part) bool {
			n++
			if len(p.Value) > 1001 {
				t.Fatalf("value longer than the limit: %d", len(p.Value))
			}
			if p.Kind == PartProto && (!utf8.ValidString(p.Value) || textkind.Count(p.Value) > 0) {
				t.Fatalf("protobuf field %s emitted as text: %q", p.Name, p.Value)
			}
			MatchInjection(p.Kind, DecodeLayers(p.Value).Text)
			return true
		})
		if n > 50 {
			t.Fatalf("%d parts beyond the limit", n)
		}
	})
}

func FuzzMatchInjection(f *testing.F) {
	for _, s := range []string{"1' or 1=1--", "<svg onload=x>", "..%c0%af..", "{{7*7}}", "*)(uid=*", "\r\nSet-Cookie: a", "$(id)", "%u002e%u002e/",
		"!!python/object/apply:os.system", "!!javax.script.ScriptEngineManager", "O:8:\"stdClass\":1:{", "rO0ABXNyABdqYXZh", "cos\nsystem\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d := DecodeLayers(s)
		for _, k := range []PartKind{PartQuery, PartJSON, PartJSONKey, PartXML, PartHeader} {
			for _, m := range MatchInjection(k, d.Text) {
				if m.Confidence <= 0 || m.Confidence > 1 || m.Class >= numInjClasses {
					t.Fatalf("bad match %+v", m)
				}
				_ = Fragment(d.Text, m.Start, m.End)
			}
		}
	})
}

// TestInjectionMemoKeepsFindings: a detector that has seen every value
// before (its memo warm) finds exactly what fresh detectors find, for
// payloads and benign look-alikes in every location, repeated.
func TestInjectionMemoKeepsFindings(t *testing.T) {
	values := []string{"1' OR '1'='1", "1 OR 1=1", "José Kim", "2026-11-16T10:00:00Z", "<svg/onload=alert(1)>", "O'Brien-Smith",
		"; cat /etc/passwd", "../../etc/passwd", "{{7*7}}", `{"$ne":1}`, "http://169.254.169.254/latest", "hello world again",
		"c2VsZWN0ICogZnJvbSB1c2Vycw==", "PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==", "a%27%20OR%201%3D1", "plain-value-123"}
	var evs []*event.Event
	for round := 0; round < 3; round++ {
		for _, v := range values {
			for _, w := range []string{"query", "json", "form", "header", "xml"} {
				evs = append(evs, placeValue(t, w, v))
			}
		}
	}
	warm := coldInjection() // the memo, not the positive model, is under test
	for i, ev := range evs {
		got := fmt.Sprint(warm.Inspect(ev))
		if want := fmt.Sprint(coldInjection().Inspect(ev)); got != want {
			t.Fatalf("event %d: warm detector %s, fresh %s", i, got, want)
		}
	}
	if len(warm.scanner.memo.m) == 0 {
		t.Fatal("the memo was never used")
	}
}

// FuzzFragment: Fragment's fast path for short printable text gives what
// escaping it gives.
func FuzzFragment(f *testing.F) {
	for _, s := range []string{"", "1' or '1'='1", "password=hunter22 and more", "a\tb\r\nc\x7f", strings.Repeat("x", 80), strings.Repeat("y", 81), "caf\xc3\xa9 \xff", "Authorization: Bearer abcdefghijklmnop"} {
		f.Add(s, 0, len(s))
		f.Add(s, 2, len(s)-1)
	}
	f.Fuzz(func(t *testing.T, s string, start, end int) {
		// the reference: no fast path for short printable text
		if got, want := Fragment(s, start, end), escapeFragment(fragmentSpan(s, start, end)); got != want {
			t.Fatalf("Fragment(%q, %d, %d) = %q, reference %q", s, start, end, got, want)
		}
	})
}
