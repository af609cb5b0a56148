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
		{"expired", jwtOf(t, map[string]any{"alg": "RS256"}, map[string]any{"sub": "u1", "exp": at.Add(-2 * time.Hour).Unix()}, "c2ln"), 204, "expired token"},
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
