package sink

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/model"
)

// receiver is a local HTTP endpoint that fails the first `fail` requests
// with `status` and records every body it accepts.
type receiver struct {
	mu       sync.Mutex
	fail     int
	status   int
	header   http.Header
	requests int
	bodies   [][]byte
	headers  []http.Header
	check    func(r *http.Request, body []byte) string // non-empty = reject with 400
}

func (rv *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rv.mu.Lock()
	defer rv.mu.Unlock()
	rv.requests++
	if rv.requests <= rv.fail {
		for k, v := range rv.header {
			w.Header()[k] = v
		}
		w.WriteHeader(rv.status)
		io.WriteString(w, "try later")
		return
	}
	if rv.check != nil {
		if msg := rv.check(r, body); msg != "" {
			http.Error(w, msg, http.StatusBadRequest)
			return
		}
	}
	rv.bodies = append(rv.bodies, body)
	rv.headers = append(rv.headers, r.Header.Clone())
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, `{"text":"Success","code":0}`)
}

func TestWebhookSignedAndRetried(t *testing.T) {
	secret := []byte("s3cret")
	rv := &receiver{fail: 2, status: http.StatusServiceUnavailable}
	rv.check = func(r *http.Request, body []byte) string {
		if err := VerifyWebhook(secret, r.Header.Get(HeaderTimestamp), r.Header.Get(HeaderSignature), body, time.Now(), 5*time.Minute); err != nil {
			return err.Error()
		}
		if r.Header.Get("Content-Type") != "application/json" {
			return "content type"
		}
		return ""
	}
	srv := httptest.NewServer(rv)
	defer srv.Close()
	wh := NewWebhook("wh", srv.URL+"/hook", secret, http.Header{"X-Tenant": {"t1"}}, srv.Client())
	d := NewDispatcher([]Configured{{Sink: wh}}, fastOpts())
	d.Publish(sampleAlert())
	closeOK(t, d)
	st := d.Stats()[0]
	if st.Sent != 1 || st.Retried != 2 || rv.requests != 3 {
		t.Fatalf("stats %+v, requests %d: want 2 failures then success", st, rv.requests)
	}
	if !strings.Contains(st.LastError, "HTTP 503") {
		t.Errorf("last error %q", st.LastError)
	}
	var p WebhookPayload
	if err := json.Unmarshal(rv.bodies[0], &p); err != nil {
		t.Fatal(err)
	}
	if p.Source != "palisade" || len(p.Alerts) != 1 || p.Alerts[0].ID != "al_7f3a9c" || p.Alerts[0].Identity.ID != "id_K2QX7" {
		t.Fatalf("payload %+v", p)
	}
	if got := fmt.Sprint(p.Alerts[0].Clients, p.Alerts[0].ClientsOther); got != "[{198.51.100.23 2 false} {2001:db8::7 1 false}] 4" {
		t.Errorf("webhook clients %s", got)
	}
	if rv.headers[0].Get("X-Tenant") != "t1" || rv.headers[0].Get(HeaderDelivery) == "" {
		t.Errorf("headers %v", rv.headers[0])
	}
}

func TestWebhookPermanent4xx(t *testing.T) {
	rv := &receiver{fail: 100, status: http.StatusUnauthorized}
	srv := httptest.NewServer(rv)
	defer srv.Close()
	d := NewDispatcher([]Configured{{Sink: NewWebhook("wh", srv.URL, []byte("k"), nil, srv.Client())}}, fastOpts())
	d.Publish(sampleAlert())
	closeOK(t, d)
	if st := d.Stats()[0]; st.Failed != 1 || st.Retried != 0 || rv.requests != 1 || !strings.Contains(st.LastError, "HTTP 401") {
		t.Fatalf("stats %+v, requests %d: 401 must not be retried", st, rv.requests)
	}
}

func TestPostHTTPClassification(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	tests := []struct {
		status     int
		retryAfter string
		permanent  bool
		after      time.Duration
	}{
		{200, "", false, 0},
		{204, "", false, 0},
		{400, "", true, 0},
		{403, "", true, 0},
		{404, "", true, 0},
		{408, "", false, 0},
		{429, "7", false, 7 * time.Second},
		{429, now.Add(20 * time.Second).Format(http.TimeFormat), false, 20 * time.Second},
		{500, "", false, 0},
		{503, "garbage", false, 0},
	}
	for _, tc := range tests {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if tc.retryAfter != "" {
				w.Header().Set("Retry-After", tc.retryAfter)
			}
			w.WriteHeader(tc.status)
		}))
		err := postHTTP(context.Background(), srv.Client(), srv.URL, []byte("{}"), nil, now)
		srv.Close()
		if tc.status < 300 {
			if err != nil {
				t.Errorf("%d: %v", tc.status, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%d: no error", tc.status)
			continue
		}
		if IsPermanent(err) != tc.permanent {
			t.Errorf("%d: permanent = %v, want %v", tc.status, IsPermanent(err), tc.permanent)
		}
		var ra *RetryAfterError
		got := time.Duration(0)
		if asRA(err, &ra) {
			got = ra.After
		}
		if got != tc.after {
			t.Errorf("%d Retry-After %q: delay %v, want %v", tc.status, tc.retryAfter, got, tc.after)
		}
	}
	// Network errors are transient.
	err := postHTTP(context.Background(), http.DefaultClient, "http://127.0.0.1:1/x?token=abc", nil, nil, now)
	if err == nil || IsPermanent(err) || strings.Contains(err.Error(), "abc") {
		t.Fatalf("network error: %v (must be transient and must not leak the query)", err)
	}
}

func asRA(err error, ra **RetryAfterError) bool {
	r, ok := err.(*RetryAfterError)
	*ra = r
	return ok
}

func TestVerifyWebhook(t *testing.T) {
	secret := []byte("k")
	body := []byte(`{"a":1}`)
	now := time.Unix(1_800_000_000, 0)
	ts := "1800000000"
	sig := SignWebhook(secret, ts, body)
	tests := []struct {
		name, ts, sig string
		body          []byte
		ok            bool
	}{
		{"valid", ts, sig, body, true},
		{"tampered body", ts, sig, []byte(`{"a":2}`), false},
		{"replayed timestamp", "1799999000", SignWebhook(secret, "1799999000", body), body, false},
		{"timestamp swapped", "1800000001", sig, body, false},
		{"no prefix", ts, strings.TrimPrefix(sig, "sha256="), body, false},
		{"bad timestamp", "yesterday", sig, body, false},
	}
	for _, tc := range tests {
		err := VerifyWebhook(secret, tc.ts, tc.sig, tc.body, now, 5*time.Minute)
		if (err == nil) != tc.ok {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

func TestSplunkHEC(t *testing.T) {
	rv := &receiver{fail: 1, status: http.StatusServiceUnavailable}
	rv.check = func(r *http.Request, body []byte) string {
		if r.URL.Path != "/services/collector/event" {
			return "path " + r.URL.Path
		}
		if r.Header.Get("Authorization") != "Splunk tok-123" {
			return "auth"
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		for dec.More() {
			var ev struct {
				Time       *float64        `json:"time"`
				Sourcetype string          `json:"sourcetype"`
				Index      string          `json:"index"`
				Event      json.RawMessage `json:"event"`
			}
			if err := dec.Decode(&ev); err != nil {
				return "decode: " + err.Error()
			}
			if ev.Time == nil || ev.Sourcetype != SplunkSourcetype || ev.Index != "sec" || len(ev.Event) == 0 {
				return "event fields"
			}
		}
		return ""
	}
	srv := httptest.NewServer(rv)
	defer srv.Close()
	hec := NewSplunkHEC("splunk", srv.URL+"/", "tok-123", "sec", "", "", srv.Client())
	o := fastOpts()
	d := NewDispatcher([]Configured{{Sink: hec}}, o)
	for i := range 3 {
		d.Publish(alertN(i, "auth.brute_force", model.SevHigh))
	}
	closeOK(t, d)
	st := d.Stats()[0]
	if st.Sent != 3 || st.Failed != 0 {
		t.Fatalf("stats %+v", st)
	}
	n := 0
	for _, b := range rv.bodies {
		dec := json.NewDecoder(bytes.NewReader(b))
		for dec.More() {
			var ev map[string]any
			if err := dec.Decode(&ev); err != nil {
				t.Fatal(err)
			}
			if ev["time"].(float64) != float64(t0.Add(90*time.Second).UnixMilli())/1000 {
				t.Errorf("time %v", ev["time"])
			}
			event := ev["event"].(map[string]any)
			if event["type"] != "auth.brute_force" {
				t.Errorf("event %v", ev["event"])
			}
			// clients[] in the event (address and count), and the
			// addresses as the multi-value indexed field src.
			if got := fmt.Sprint(event["clients"]); got != "[map[count:2 ip:198.51.100.23] map[count:1 ip:2001:db8::7]]" || event["clients_other"] != 4.0 {
				t.Errorf("event clients %s, other %v", got, event["clients_other"])
			}
			if got := fmt.Sprint(ev["fields"]); got != "map[src:[198.51.100.23 2001:db8::7]]" {
				t.Errorf("indexed fields %s", got)
			}
			n++
		}
	}
	if n != 3 {
		t.Fatalf("%d events received, want 3", n)
	}
}

func TestWebhookHonoursRetryAfter(t *testing.T) {
	var mu sync.Mutex
	var at []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		at = append(at, time.Now())
		n := len(at)
		mu.Unlock()
		if n == 1 {
			w.Header().Set("Retry-After", "1")
			w.WriteHeader(http.StatusTooManyRequests)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer srv.Close()
	o := fastOpts()
	o.MaxBackoff = 5 * time.Second // the computed backoff would be ~1ms
	d := NewDispatcher([]Configured{{Sink: NewWebhook("wh", srv.URL, []byte("k"), nil, srv.Client())}}, o)
	d.Publish(sampleAlert())
	closeOK(t, d)
	if len(at) != 2 {
		t.Fatalf("%d requests", len(at))
	}
	if gap := at[1].Sub(at[0]); gap < 900*time.Millisecond {
		t.Fatalf("retried after %v, receiver asked for 1s", gap)
	}
	if st := d.Stats()[0]; st.Sent != 1 || st.Retried != 1 {
		t.Fatalf("stats %+v", st)
	}
}

func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"https://hooks.example.test/p?token=abc": "https://hooks.example.test/p?…",
		"https://user:pw@hooks.example.test/p":   "https://…@hooks.example.test/p",
		"https://hooks.example.test/a@b":         "https://hooks.example.test/a@b",
		"http://u@h:8080":                        "http://…@h:8080",
	} {
		if got := redactURL(in); got != want {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParseRetryAfter(f *testing.F) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, s := range []string{"0", "120", "-1", "Wed, 21 Oct 2026 07:28:00 GMT", "soon", " 5 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		d, ok := parseRetryAfter(v, now)
		if ok && d < 0 {
			t.Fatalf("%q: negative delay %v", v, d)
		}
		if !ok && d != 0 {
			t.Fatalf("%q: rejected but delay %v", v, d)
		}
	})
}

// TestHECSrcNew: the indexed field src_new lists the addresses new to the
// alert's principal, and is absent when there are none.
func TestHECSrcNew(t *testing.T) {
	a := sampleAlert()
	a.Clients[1].New = true
	b, err := model.EncodeJSON(hecEvent{Sourcetype: SplunkSourcetype, Event: &a, Fields: hecSrc(&a)})
	if err != nil {
		t.Fatal(err)
	}
	var ev map[string]any
	if err := json.Unmarshal(b, &ev); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(ev["fields"]); got != "map[src:[198.51.100.23 2001:db8::7] src_new:[2001:db8::7]]" {
		t.Errorf("indexed fields %s", got)
	}
	a.Clients[1].New = false
	if b, _ = model.EncodeJSON(hecSrc(&a)); strings.Contains(string(b), "src_new") {
		t.Errorf("src_new without new addresses: %s", b)
	}
}
