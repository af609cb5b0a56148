package detect

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func jwtOf(t *testing.T, hdr, claims map[string]any, sig string) string {
	t.Helper()
	h, _ := json.Marshal(hdr)
	c, _ := json.Marshal(claims)
	e := base64.RawURLEncoding
	return e.EncodeToString(h) + "." + e.EncodeToString(c) + "." + sig
}

func TestWeakTokenAccepted(t *testing.T) {
	at := sigTime
	tests := []struct {
		name   string
		token  string
		status int
		want   string // reason fragment, "" = no alert
	}{
		{"alg none", jwtOf(t, map[string]any{"alg": "none"}, map[string]any{"sub": "u1"}, ""), 200, `unsigned token (alg "none")`},
		{"empty signature", jwtOf(t, map[string]any{"alg": "HS256"}, map[string]any{"sub": "u1"}, ""), 200, "empty signature"},
		{"expired 2 h, no iat", jwtOf(t, map[string]any{"alg": "RS256"}, map[string]any{"sub": "u1", "exp": at.Add(-2 * time.Hour).Unix()}, "c2ln"), 204, "after its expiry"},
		{"expired 40 min, no iat: posture", jwtOf(t, map[string]any{"alg": "RS256"}, map[string]any{"sub": "u1", "exp": at.Add(-40 * time.Minute).Unix()}, "c2ln"), 200, ""},
		{"15-min token 12 min past exp: posture", jwtOf(t, map[string]any{"alg": "ES256"}, map[string]any{"sub": "u1", "iat": at.Add(-27 * time.Minute).Unix(), "exp": at.Add(-12 * time.Minute).Unix()}, "c2ln"), 200, ""},
		{"15-min token 45 min past exp", jwtOf(t, map[string]any{"alg": "ES256"}, map[string]any{"sub": "u1", "iat": at.Add(-60 * time.Minute).Unix(), "exp": at.Add(-45 * time.Minute).Unix()}, "c2ln"), 200, "after its expiry"},
		{"12-h token 6 h past exp: posture", jwtOf(t, map[string]any{"alg": "RS256"}, map[string]any{"sub": "u1", "iat": at.Add(-18 * time.Hour).Unix(), "exp": at.Add(-6 * time.Hour).Unix()}, "c2ln"), 200, ""},
		{"30-day token 3 days past exp (horizon)", jwtOf(t, map[string]any{"alg": "RS256"}, map[string]any{"sub": "u1", "iat": at.Add(-33 * 24 * time.Hour).Unix(), "exp": at.Add(-72 * time.Hour).Unix()}, "c2ln"), 200, "after its expiry"},
		{"expired within skew", jwtOf(t, map[string]any{"alg": "RS256"}, map[string]any{"sub": "u1", "exp": at.Add(-2 * time.Minute).Unix()}, "c2ln"), 200, ""},
		{"not yet valid", jwtOf(t, map[string]any{"alg": "RS256"}, map[string]any{"sub": "u1", "nbf": at.Add(time.Hour).Unix()}, "c2ln"), 200, "not valid yet"},
		{"malformed payload", "eyJhbGciOiJIUzI1NiJ9.bm90LWpzb24.c2ln", 200, "malformed token"},
		{"valid", jwtOf(t, map[string]any{"alg": "RS256"}, map[string]any{"sub": "u1", "exp": at.Add(time.Hour).Unix()}, "c2ln"), 200, ""},
		{"alg none rejected", jwtOf(t, map[string]any{"alg": "none"}, map[string]any{"sub": "u1"}, ""), 401, ""},
		{"expired redirected", jwtOf(t, map[string]any{"alg": "RS256"}, map[string]any{"sub": "u1", "exp": at.Add(-48 * time.Hour).Unix()}, "c2ln"), 302, ""},
	}
	for _, tc := range tests {
		em := NewEmitter()
		ev := sigEvent(t, "GET", "https://api.example.test/v1/me", map[string]string{"authorization": "Bearer " + tc.token}, "", tc.status)
		NewWeakToken(Config{}).Observe(ev, em)
		as := em.Alerts()
		switch {
		case tc.want == "" && len(as) > 0:
			t.Errorf("%s: unexpected alert %q", tc.name, as[0].Evidence.Reason)
		case tc.want != "" && (len(as) != 1 || !strings.Contains(as[0].Evidence.Reason, tc.want)):
			t.Errorf("%s: alerts %+v, want reason with %q", tc.name, as, tc.want)
		case tc.want != "":
			if as[0].Type != "auth.weak_token_accepted" || as[0].Identity == nil || strings.Contains(as[0].Evidence.Reason, tc.token) {
				t.Errorf("%s: alert %+v", tc.name, as[0])
			}
		}
	}
}

// Benign late refreshes (5–12 min past exp) on many endpoints stay quiet;
// a token replayed three days after it expired alerts once for its client,
// however many endpoints it touches, and is not folded with anyone else.
func TestWeakTokenLateRefreshVersusReplay(t *testing.T) {
	at := sigTime
	em := NewEmitter()
	d := NewWeakToken(Config{})
	for i := 0; i < 200; i++ {
		past := time.Duration(5+i%8) * time.Minute
		tok := jwtOf(t, map[string]any{"alg": "ES256"}, map[string]any{"sub": "u" + string(rune('a'+i%26)), "iat": at.Add(-past - 15*time.Minute).Unix(), "exp": at.Add(-past).Unix()}, "c2ln")
		ev := sigEvent(t, "GET", "https://api.example.test/v1/accounts/"+string(rune('a'+i%20)), map[string]string{"authorization": "Bearer " + tok}, "", 200)
		d.Observe(ev, em)
	}
	if as := em.Alerts(); len(as) != 0 {
		t.Fatalf("late refreshes alerted: %d alerts, first %q", len(as), as[0].Evidence.Reason)
	}
	old := jwtOf(t, map[string]any{"alg": "ES256"}, map[string]any{"sub": "victim", "iat": at.Add(-72*time.Hour - 15*time.Minute).Unix(), "exp": at.Add(-72 * time.Hour).Unix()}, "c2ln")
	for _, p := range []string{"/v1/accounts", "/v1/transfers", "/v1/cards"} {
		d.Observe(sigEvent(t, "GET", "https://api.example.test"+p, map[string]string{"authorization": "Bearer " + old}, "", 200), em)
	}
	as := em.Alerts()
	if len(as) != 1 || as[0].Count != 3 || as[0].Evidence.Details["past_exp_seconds"].(int64) < 72*3600 {
		t.Fatalf("replay: %+v", as)
	}
}
