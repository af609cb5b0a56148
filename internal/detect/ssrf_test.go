package detect

import (
	"net/url"
	"testing"
)

func TestJudgeURLValue(t *testing.T) {
	tests := []struct {
		v      string
		urlish bool
		hit    bool
		meta   bool
	}{
		{"http://169.254.169.254/latest/meta-data/iam/", false, true, true},
		{"http://metadata.google.internal/computeMetadata/v1/", false, true, true},
		{"http://100.100.100.200/latest/meta-data", false, true, true},
		{"http://[fd00:ec2::254]/latest/", false, true, true},
		{"http://2130706433/", false, true, false},
		{"http://0x7f.1/admin", false, true, false},
		{"http://0177.0.0.1:8080/", false, true, false},
		{"http://127.1/", false, true, false},
		{"http://[::ffff:127.0.0.1]/", false, true, false},
		{"http://[::ffff:a9fe:a9fe]/", false, true, true},
		{"http://[::1]:6379/", false, true, false},
		{"https://trusted.example.com@10.0.0.5/", false, true, false},
		{"http://10.0.0.5\\@trusted.example.com/", false, true, false},
		{"http://127.0.0.1#@trusted.example.com", false, true, false},
		{"gopher://x.example.com:70/_GET", false, true, false},
		{"file:///etc/passwd", false, true, false},
		{"dict://x.example.com:11211/stat", false, true, false},
		{"jar:http://x.example.com/a.jar!/", false, true, false},
		{"http://localhost:2375/containers/json", false, true, false},
		{"http://127.0.0.1.nip.io/", false, true, false},
		{"http://app.localhost.corp.example.10.0.0.7.nip.io/", false, true, false},
		{"http://api-10-0-0-7.sslip.io/", false, true, false},
		{"http://①②⑦.⓪.⓪.①/", false, true, false},
		{"http://ｌｏｃａｌｈｏｓｔ/", false, true, false},
		{"http://8-8-8-8.sslip.io/", false, false, false},
		{"http://redis.default.svc.cluster.local:6379", false, true, false},
		{"see http://192.168.1.1/setup for the router", false, true, false},
		{"192.168.0.10:8080", true, true, false},
		{"192.168.0.10", false, false, false}, // bare address in an ordinary field
		{"https://api.partner.example.com/hooks/1", false, false, false},
		{"https://8.8.8.8/", false, false, false},
		{"http://2130706433.example.com/", false, false, false},
		{"mailto:bob@example.com", false, false, false},
		{"10.5 kg", true, false, false},
		{"https://api.example.test/v1/callback", true, false, false}, // the API's own host
	}
	for _, tc := range tests {
		m, ok := JudgeURLValue(tc.v, tc.urlish, "api.example.test")
		if ok != tc.hit || ok && m.Metadata != tc.meta {
			t.Errorf("JudgeURLValue(%q) = %+v %v, want hit=%v metadata=%v", tc.v, m, ok, tc.hit, tc.meta)
		}
	}
}

func TestParseIPv4Loose(t *testing.T) {
	for in, want := range map[string]string{"2130706433": "127.0.0.1", "0x7f000001": "127.0.0.1", "0x7f.1": "127.0.0.1", "0177.0.0.01": "127.0.0.1",
		"127.1": "127.0.0.1", "10.1.256": "10.1.1.0", "169.254.43518": "169.254.169.254"} {
		a, ok := ParseIPv4Loose(in)
		if !ok || a.String() != want {
			t.Errorf("ParseIPv4Loose(%q) = %v %v, want %s", in, a, ok, want)
		}
	}
	for _, bad := range []string{"", "1.2.3.4.5", "256.1.1.1", "0x", "08.1.1.1", "4294967296", "a.b.c.d", "1..2"} {
		if a, ok := ParseIPv4Loose(bad); ok {
			t.Errorf("ParseIPv4Loose(%q) = %v, want failure", bad, a)
		}
	}
}

func TestSSRFObserve(t *testing.T) {
	d := NewSSRF(Config{})
	em := NewEmitter()
	d.Observe(sigEvent(t, "POST", "https://api.example.test/v1/webhooks", map[string]string{"content-type": "application/json", "referer": "http://10.0.0.8/admin"},
		`{"name":"x","target":{"url":"http://169.254.169.254/latest/meta-data/"}}`, 201), em)
	// Referer pointing inside, own host in a parameter: no alert.
	d.Observe(sigEvent(t, "GET", "https://api.example.test/v1/go?next="+url.QueryEscape("https://api.example.test/home"), map[string]string{"referer": "http://10.0.0.8/"}, "", 302), em)
	as := em.Alerts()
	if len(as) != 1 {
		t.Fatalf("alerts: %+v", as)
	}
	a := as[0]
	if a.Type != "ssrf.internal_target" || a.Severity != "critical" || a.Evidence.Details["location"] != "body:$.target.url" || a.Evidence.Details["target"] != "169.254.169.254" {
		t.Errorf("alert: %+v", a)
	}
}

func FuzzJudgeURLValue(f *testing.F) {
	for _, s := range []string{"http://0x7f.1/", "http://a@b\\@c/", "//[::ffff:1.2.3.4]:80", "gopher://x", "http://[fd00:ec2::254%eth0]/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		m, ok := JudgeURLValue(s, true, "api.example.test")
		if ok && (m.Confidence <= 0 || m.Confidence > 1 || m.Reason == "") {
			t.Fatalf("bad match %+v", m)
		}
	})
}
