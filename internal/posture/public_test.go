package posture

import "testing"

func TestPublicRole(t *testing.T) {
	for _, tc := range []struct{ method, path, want string }{
		{"POST", "/v1/auth/login", RoleAuthEntry},
		{"POST", "/oauth/token", RoleAuthEntry},
		{"PUT", "/api/Sessions", RoleAuthEntry},
		{"POST", "/v1/password-reset", RoleAuthEntry},
		{"GET", "/v1/auth/login", ""},         // a page or a probe, not the call that logs in
		{"POST", "/v1/users/{id}/tokens", ""}, // mints a token for a given user
		{"GET", "/healthz", RoleHealth},
		{"HEAD", "/actuator/health", RoleHealth},
		{"GET", "/v1/status", RoleHealth},
		{"GET", "/v1/orders/{id}/status", ""}, // an order's data
		{"POST", "/healthz", ""},
		{"GET", "/robots.txt", RoleCrawlerFile},
		{"GET", "/.well-known/openid-configuration", RoleWellKnown},
		{"GET", "/.well-known/jwks/{kid}", RoleWellKnown},
		{"GET", "/v3/api-docs", RoleAPIDocs},
		{"GET", "/v1/customers", ""},
		{"GET", "/v1/login-history", ""},
	} {
		if got := PublicRole(tc.method, tc.path); got != tc.want {
			t.Errorf("PublicRole(%s %s) = %q, want %q", tc.method, tc.path, got, tc.want)
		}
	}
}
