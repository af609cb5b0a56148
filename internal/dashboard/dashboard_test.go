package dashboard

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

func serve(t *testing.T, h http.Handler, method, path string, hdr map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func body(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestHandlerRoutes(t *testing.T) {
	h := Handler()
	index, err := fs.ReadFile(assetsFS, "assets/index.html")
	if err != nil {
		t.Fatal(err)
	}
	appJS, _ := fs.ReadFile(assetsFS, "assets/app.js")
	tests := []struct {
		name, method, path string
		code               int
		ctype              string
		want               string // exact body, when set
	}{
		{"root is the index", "GET", "/", 200, "text/html; charset=utf-8", string(index)},
		{"index by name", "GET", "/index.html", 200, "text/html; charset=utf-8", string(index)},
		{"script", "GET", "/app.js", 200, "text/javascript; charset=utf-8", string(appJS)},
		{"module", "GET", "/views.js", 200, "text/javascript; charset=utf-8", ""},
		{"stylesheet", "GET", "/app.css", 200, "text/css; charset=utf-8", ""},
		{"icon", "GET", "/favicon.svg", 200, "image/svg+xml", ""},
		{"asset below a deep path (relative URL)", "GET", "/alerts/x/app.css", 200, "text/css; charset=utf-8", ""},
		{"fallback to the index for app paths", "GET", "/alerts/al_123", 200, "text/html; charset=utf-8", string(index)},
		{"no directory listing of the asset dir", "GET", "/assets/", 200, "text/html; charset=utf-8", string(index)},
		{"unknown file is 404", "GET", "/missing.js", 404, "text/plain; charset=utf-8", ""},
		{"no traversal", "GET", "/../dashboard.go", 404, "text/plain; charset=utf-8", ""},
		{"Go sources are not served", "GET", "/dashboard.go", 404, "text/plain; charset=utf-8", ""},
		{"head", "HEAD", "/app.js", 200, "text/javascript; charset=utf-8", ""},
		{"post refused", "POST", "/", 405, "text/plain; charset=utf-8", ""},
		{"delete refused", "DELETE", "/app.js", 405, "text/plain; charset=utf-8", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := serve(t, h, tc.method, tc.path, nil)
			if r.StatusCode != tc.code {
				t.Fatalf("status %d, want %d", r.StatusCode, tc.code)
			}
			if got := r.Header.Get("Content-Type"); got != tc.ctype {
				t.Errorf("Content-Type %q, want %q", got, tc.ctype)
			}
			for k, want := range map[string]string{
				"X-Content-Type-Options":  "nosniff",
				"X-Frame-Options":         "DENY",
				"Content-Security-Policy": ContentSecurityPolicy,
				"Referrer-Policy":         "no-referrer",
			} {
				if got := r.Header.Get(k); got != want {
					t.Errorf("%s = %q, want %q", k, got, want)
				}
			}
			b := body(t, r)
			if tc.want != "" && b != tc.want {
				t.Errorf("body differs from the embedded file (%d bytes, want %d)", len(b), len(tc.want))
			}
			if tc.code == 200 {
				if got := r.Header.Get("Cache-Control"); got != "no-cache" {
					t.Errorf("Cache-Control %q, want no-cache", got)
				}
				if !regexp.MustCompile(`^"[0-9a-f]{24}"$`).MatchString(r.Header.Get("ETag")) {
					t.Errorf("ETag %q", r.Header.Get("ETag"))
				}
				if tc.method == "HEAD" && b != "" {
					t.Errorf("HEAD returned a body")
				}
			} else if got := r.Header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("error Cache-Control %q, want no-store", got)
			}
			if tc.code == 405 && r.Header.Get("Allow") != "GET, HEAD" {
				t.Errorf("Allow %q", r.Header.Get("Allow"))
			}
		})
	}
}

func TestConditionalRequests(t *testing.T) {
	h := Handler()
	first := serve(t, h, "GET", "/app.css", nil)
	etag := first.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	r := serve(t, h, "GET", "/app.css", map[string]string{"If-None-Match": etag})
	if r.StatusCode != http.StatusNotModified {
		t.Fatalf("If-None-Match with the current ETag: %d, want 304", r.StatusCode)
	}
	if b := body(t, r); b != "" {
		t.Errorf("304 with a body of %d bytes", len(b))
	}
	r = serve(t, h, "GET", "/app.css", map[string]string{"If-None-Match": `"stale"`})
	if r.StatusCode != http.StatusOK {
		t.Fatalf("stale ETag: %d, want 200", r.StatusCode)
	}
	// Different files have different ETags.
	if other := serve(t, h, "GET", "/app.js", nil).Header.Get("ETag"); other == etag {
		t.Errorf("app.js and app.css share ETag %s", etag)
	}
}

// TestStripPrefixMount checks the documented mount under /ui/.
func TestStripPrefixMount(t *testing.T) {
	mux := http.NewServeMux()
	mux.Handle("GET /ui/", http.StripPrefix("/ui", Handler()))
	for path, ctype := range map[string]string{"/ui/": "text/html; charset=utf-8", "/ui/app.js": "text/javascript; charset=utf-8", "/ui/endpoints": "text/html; charset=utf-8"} {
		r := serve(t, mux, "GET", path, nil)
		if r.StatusCode != 200 || r.Header.Get("Content-Type") != ctype {
			t.Errorf("%s: %d %q", path, r.StatusCode, r.Header.Get("Content-Type"))
		}
	}
}

// TestAssetsAreCSPClean enforces the no-inline rule and the no-innerHTML rule
// on the embedded sources themselves.
func TestAssetsAreCSPClean(t *testing.T) {
	ents, err := fs.ReadDir(assetsFS, "assets")
	if err != nil {
		t.Fatal(err)
	}
	inlineScript := regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`)
	for _, e := range ents {
		b, _ := fs.ReadFile(assetsFS, "assets/"+e.Name())
		s := string(b)
		switch {
		case strings.HasSuffix(e.Name(), ".html"):
			if inlineScript.MatchString(s) {
				t.Errorf("%s: inline script", e.Name())
			}
			for _, bad := range []string{"<style", " style=", " onclick=", " onload=", " onerror=", "javascript:"} {
				if strings.Contains(s, bad) {
					t.Errorf("%s: contains %q (blocked by the CSP or unsafe)", e.Name(), bad)
				}
			}
			for _, m := range regexp.MustCompile(`(?:src|href)="([^"#]+)"`).FindAllStringSubmatch(s, -1) {
				if strings.Contains(m[1], "/") || strings.Contains(m[1], ":") {
					t.Errorf("%s: %q is not a relative asset name (breaks mounting under a prefix, or loads from elsewhere)", e.Name(), m[1])
				}
			}
		case strings.HasSuffix(e.Name(), ".js"):
			for _, bad := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "setAttribute('style'", ".style."} {
				if strings.Contains(s, bad) {
					t.Errorf("%s: uses %s", e.Name(), bad)
				}
			}
			for _, m := range regexp.MustCompile(`from '([^']+)'`).FindAllStringSubmatch(s, -1) {
				if _, err := fs.Stat(assetsFS, "assets/"+strings.TrimPrefix(m[1], "./")); err != nil {
					t.Errorf("%s: imports %s, which is not embedded", e.Name(), m[1])
				}
			}
		}
	}
}

func TestNewHandlerErrors(t *testing.T) {
	tests := []struct {
		name string
		fs   fstest.MapFS
		want string
	}{
		{"no index", fstest.MapFS{"a/app.js": {Data: []byte("x")}}, "a/index.html: missing"},
		{"unknown extension", fstest.MapFS{"a/index.html": {}, "a/x.exe": {}}, `a/x.exe: no content type for extension ".exe"`},
		{"sub-directory", fstest.MapFS{"a/index.html": {}, "a/sub/x.js": {}}, "a/sub: sub-directories are not supported"},
		{"no directory", fstest.MapFS{}, "open a: file does not exist"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := newHandler(tc.fs, "a")
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// FuzzResolve: any path resolves to an embedded asset, the index, or an
// error status — never a panic, never anything that is not embedded.
func FuzzResolve(f *testing.F) {
	for _, s := range []string{"/", "/app.js", "/a/b/c", "/x.png", "/..", "/\x00", "//app.css", "/%2e%2e/secret.key", ""} {
		f.Add(s)
	}
	h, err := newHandler(assetsFS, "assets")
	if err != nil {
		f.Fatal(err)
	}
	known := map[*asset]bool{}
	for _, a := range h.byName {
		known[a] = true
	}
	f.Fuzz(func(t *testing.T, p string) {
		a, code := h.resolve(p)
		if a == nil {
			if code != http.StatusNotFound && code != http.StatusBadRequest {
				t.Fatalf("%q: no asset and code %d", p, code)
			}
			return
		}
		if !known[a] {
			t.Fatalf("%q: resolved to an unknown asset", p)
		}
	})
}
