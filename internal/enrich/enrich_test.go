package enrich

import (
	"net/netip"
	"testing"
)

func TestInternalHost(t *testing.T) {
	custom := []netip.Prefix{netip.MustParsePrefix("203.0.113.0/24")}
	for _, tc := range []struct {
		host     string
		internal []netip.Prefix
		want     bool
		port     int
	}{
		{"api.example.com", nil, false, 0},
		{"api.example.com:8443", nil, false, 8443},
		{"10.1.2.3", nil, true, 0},
		{"10.1.2.3:8080", nil, true, 8080},
		{"169.254.169.254", nil, true, 0},
		{"[fd00::1]:443", nil, true, 443},
		{"2001:db8::1", nil, false, 0},
		{"[::1]", nil, true, 0},
		{"198.51.100.7", nil, false, 0},
		{"203.0.113.9", custom, true, 0},
		{"10.1.2.3", custom, false, 0}, // the configured ranges replace the defaults
		{"127.0.0.1", custom, true, 0}, // loopback whatever the ranges
		{"localhost:5000", nil, true, 5000},
		{"billing", nil, true, 0},
		{"orders.svc", nil, true, 0},
		{"vault.internal", nil, true, 0},
		{"db.prod.cluster.local", nil, true, 0},
		{"printer.local.", nil, true, 0},
		{"internal.example.com", nil, false, 0},
		{"API.EXAMPLE.LOCAL", nil, true, 0},
	} {
		if got := InternalHost(tc.host, tc.internal); got != tc.want {
			t.Errorf("InternalHost(%q) = %v, want %v", tc.host, got, tc.want)
		}
		if _, port := SplitHostPort(tc.host); port != tc.port {
			t.Errorf("SplitHostPort(%q) port %d, want %d", tc.host, port, tc.port)
		}
	}
}
