package detect

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/event"
)

func TestSensitiveProbe(t *testing.T) {
	for _, c := range []struct {
		path   string
		status int
		authed bool
		want   string
	}{
		{"/.git/config", 404, false, probeVCS},
		{"/.svn/entries", 403, false, probeVCS},
		{"/.env", 404, false, probeEnv},
		{"/api/.env.production", 404, false, probeEnv},
		{"/wp-config.php.bak", 404, false, probeConfig},
		{"/config.php~", 404, false, probeConfig},
		{"/settings.py.swp", 404, false, probeBackup},
		{"/backup.zip", 404, false, probeBackup},
		{"/api.example.com.tar.gz", 404, false, probeBackup},
		{"/www.tgz", 404, false, probeBackup},
		{"/db.sql", 404, false, probeDump},
		{"/.aws/credentials", 404, false, probeCredentials},
		{"/.htpasswd", 403, false, probeCredentials},
		{"/.DS_Store", 404, false, probeDotfile},
		{"/phpmyadmin/", 404, false, probeAdmin},
		{"/admin/", 401, false, probeAdmin},
		{"/v1/admin/orders", 401, true, ""}, // an administrator whose session expired
		{"/v1/admin/orders", 404, true, probeAdmin},
		{"/.well-known/openid-configuration", 404, false, ""},
		{"/v1/products/12345", 404, false, ""}, // a stale product link
		{"/downloads/manual.zip", 404, false, ""},
		{"/.env", 200, false, ""}, // only refused or missing answers count
		{"/backup.zip", 500, false, ""},
		{"/", 404, false, ""},
	} {
		if got := sensitiveProbe("api.example.com", c.path, c.status, c.authed); got != c.want {
			t.Errorf("sensitiveProbe(%q, %d, authed %v) = %q, want %q", c.path, c.status, c.authed, got, c.want)
		}
	}
	if _, err := restrictedFiles(); err != nil {
		t.Fatal(err)
	}
}

// FuzzSensitiveProbe: never panics, and the class does not depend on
// ASCII case (the vocabulary is matched case-insensitively).
func FuzzSensitiveProbe(f *testing.F) {
	for _, s := range []string{"/.git/config", "/backup.zip", "/api.example.com.tar.gz", "/admin/", "/x~", "/.env.local", "", "/", "//..//."} {
		f.Add(s, 404, false)
	}
	f.Fuzz(func(t *testing.T, path string, status int, authed bool) {
		a := sensitiveProbe("Api.Example.com", path, status, authed)
		if b := sensitiveProbe("api.example.com", strings.ToUpper(path), status, authed); a != b && isASCII(path) {
			t.Fatalf("%q: %q, upper case: %q", path, a, b)
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// A scanner's HEAD probes for backups and configuration files, all 404,
// in a deployment of three clients (no population baseline): one
// recon.endpoint_spray with the probed paths as evidence. The clients'
// own stale links and an administrator with an expired session do not
// count.
func TestSprayScannerProbes(t *testing.T) {
	var evs []*event.Event
	for m := 0; m < 60; m++ {
		at := t0.Add(time.Duration(m) * time.Minute)
		for c := 1; c <= 3; c++ {
			st, p := 200, "/api/products/1"
			if m%7 == 0 {
				st, p = 404, fmt.Sprintf("/api/products/9%d", m) // stale links
			}
			evs = append(evs, mkEv(at.Add(time.Duration(c)*time.Second), ip4(c), "GET", "/api/products/{id}", p, st))
		}
		if m%10 == 5 { // expired administrator session on admin functions
			evs = append(evs, mkEv(at.Add(4*time.Second), "10.0.0.9", "GET", fmt.Sprintf("/admin/f%d", m), fmt.Sprintf("/admin/f%d", m), 401, withID("admin1", "admin")))
		}
	}
	probes := []string{"/backup.zip", "/www.tar.gz", "/api.example.com.zip", "/db.sql", "/config.php.bak", "/.env", "/.git/config", "/wp-config.php~"}
	for i, p := range probes {
		evs = append(evs, mkEv(t0.Add(30*time.Minute+time.Duration(i)*time.Second), "203.0.113.66", "HEAD", p, p, 404))
	}
	as := run(newSpray(Config{}), merge(evs))
	if len(as) != 1 {
		t.Fatalf("want one alert, got\n%s", summary(as))
	}
	a := as[0]
	paths, _ := a.Evidence.Details["sensitive_paths"].([]string)
	if a.Client == nil || a.Client.IP != "203.0.113.66" || a.Title != "Sensitive file and admin path probing" || len(paths) < 5 ||
		!strings.HasPrefix(paths[0], "HEAD /backup.zip (404)") || a.Evidence.Details["rule"] != "sensitive_files" {
		t.Fatalf("alert %+v", a)
	}
}
