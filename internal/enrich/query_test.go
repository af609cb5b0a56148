package enrich

import (
	"time"

	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/exchange"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

var queryCases = []string{
	"", "a=1", "a=1&b=2", "a=1&a=2&a=3", "a", "a=", "=1", "&&a=1&&", "a=1;b=2", "a;b", "a=%zz&b=2",
	"%41=%42", "a+b=c+d", "a=1&b=%", "x=%E2%9C%93&y=%F0%9F%98%80", "a=1&A=2", "k=v=w", "a=1&b",
	"q=" + strings.Repeat("x", 300), "%=1", "a%20b=c",
}

func checkQuery(t *testing.T, e *Enricher, q string) {
	t.Helper()
	want, _ := url.ParseQuery(q)
	got := url.Values{}
	e.parseQuery(got, q)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("parseQuery(%q) = %v, url.ParseQuery gives %v", q, got, want)
	}
}

// TestParseQueryAgrees: parseQuery gives what url.ParseQuery gives.
func TestParseQueryAgrees(t *testing.T) {
	e := &Enricher{}
	for _, q := range queryCases {
		checkQuery(t, e, q)
	}
}

// TestParseQueryLimit: beyond url.ParseQuery's limit, the first
// maxQueryParams pairs are kept (url.ParseQuery would keep none).
func TestParseQueryLimit(t *testing.T) {
	e := &Enricher{}
	q := strings.Repeat("a=1&", maxQueryParams) + "b=2"
	m := url.Values{}
	e.parseQuery(m, q)
	if len(m["a"]) != maxQueryParams || m["b"] != nil {
		t.Fatalf("kept %d a, b=%v", len(m["a"]), m["b"])
	}
}

// TestRecycledQueryMaps: an event given back lends its query map to a later
// event, emptied; values appended to a carved slice do not overwrite others.
func TestRecycledQueryMaps(t *testing.T) {
	e := New(DefaultConfig(), nil, nil)
	ev := enrichURL(t, e, "https://api.example.com/x?a=1&b=2")
	m := ev.Query
	e.Recycle(ev)
	ev2 := enrichURL(t, e, "https://api.example.com/x?c=3&c=4&d=5")
	if reflect.ValueOf(ev2.Query).UnsafePointer() != reflect.ValueOf(m).UnsafePointer() {
		t.Fatal("query map not reused")
	}
	want := url.Values{"c": {"3", "4"}, "d": {"5"}}
	if !reflect.DeepEqual(ev2.Query, want) {
		t.Fatalf("got %v, want %v", ev2.Query, want)
	}
}

func FuzzParseQueryAgrees(f *testing.F) {
	for _, q := range queryCases {
		f.Add(q)
	}
	e := &Enricher{}
	f.Fuzz(func(t *testing.T, q string) {
		if strings.Count(q, "&")+1 > maxQueryParams {
			return
		}
		checkQuery(t, e, q)
	})
}

func enrichURL(t *testing.T, e *Enricher, u string) *event.Event {
	t.Helper()
	rec := &exchange.Record{Time: time.Unix(1e9, 0), Client: exchange.Client{IP: "203.0.113.9"},
		Request: exchange.Request{Method: "GET", URL: u}, Response: exchange.Response{Status: 200}}
	if err := rec.Validate(); err != nil {
		t.Fatal(err)
	}
	ev, err := e.Enrich(rec, 1)
	if err != nil {
		t.Fatal(err)
	}
	return ev
}

// TestHostNormalizedPerRecord: the cached normalization of the previous
// record's host is used only for the same scheme and host.
func TestHostNormalizedPerRecord(t *testing.T) {
	e := New(DefaultConfig(), nil, nil)
	for _, c := range []struct{ url, scheme, host string }{
		{"https://API.example.com:443/x", "https", "api.example.com"},
		{"https://API.example.com:443/y", "https", "api.example.com"},
		{"http://API.example.com:443/y", "http", "api.example.com:443"},
		{"HTTP://api.example.com:80/y", "http", "api.example.com"},
		{"https://[::1]:443/", "https", "[::1]"},
		{"https://other.example./", "https", "other.example"},
	} {
		ev := enrichURL(t, e, c.url)
		if ev.Scheme != c.scheme || ev.Host != c.host {
			t.Errorf("%s: scheme %q host %q, want %q %q", c.url, ev.Scheme, ev.Host, c.scheme, c.host)
		}
	}
}
