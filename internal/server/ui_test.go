package server

import (
	"net/http"
	"strings"
	"testing"
)

// The dashboard's static shell is public (the login page must load) and
// carries no data; the routes are listed so that adding one is a decision.
func TestUIRoutesArePublicStaticAssets(t *testing.T) {
	env := newEnv(t, nil, nil)
	want := map[string]bool{"GET /ui/": true, "GET /{$}": true}
	for _, rt := range env.srv.UIRoutes() {
		k := rt.Method + " " + rt.Pattern
		if !want[k] {
			t.Errorf("unexpected UI route %s: UI routes are public, decide whether it belongs here", k)
		}
		if rt.Perm() != "public" {
			t.Errorf("UI route %s: permission %s", k, rt.Perm())
		}
		delete(want, k)
	}
	for k := range want {
		t.Errorf("UI route %s missing", k)
	}
	resp, body := env.do(t, "GET", "/ui/", "", nil)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /ui/: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("Content-Security-Policy") == "" {
		t.Errorf("security headers missing on the dashboard")
	}
	if strings.Contains(string(body), "example.test") {
		t.Errorf("the static shell must not carry data")
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	r2, err := c.Get(env.http.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != http.StatusFound || r2.Header.Get("Location") != "/ui/" {
		t.Errorf("GET /: %d %s", r2.StatusCode, r2.Header.Get("Location"))
	}
	// Anything else outside the API stays a JSON 404, and data stays behind auth.
	if resp, _ := env.do(t, "GET", "/nope", "", nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /nope: %d", resp.StatusCode)
	}
	if resp, _ := env.do(t, "GET", "/api/v1/endpoints", "", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("data without a token: %d", resp.StatusCode)
	}
}
