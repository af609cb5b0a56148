// Package dashboard is the embedded web dashboard of serve mode: a static
// single-page application (hand-written HTML, CSS and vanilla JavaScript
// modules, no build step) that reads everything from the REST API under
// /api/v1 with the dashboard session cookie. This package only serves the
// files; it has no data access of its own. Its charts are SVG drawn by the
// server (package chart, served at /api/v1/charts/).
package dashboard

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed assets
var assetsFS embed.FS

// ContentSecurityPolicy is sent with every dashboard response. No inline
// script or style is allowed; data is fetched from the same origin only.
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; font-src 'self'; manifest-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// contentTypes is the explicit table of served types (not the host's
// mime.types, which differs between systems).
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".svg":  "image/svg+xml",
	".json": "application/json",
	".txt":  "text/plain; charset=utf-8",
}

type asset struct {
	name  string // base name, e.g. "app.js"
	ctype string
	data  []byte
	etag  string
}

type handler struct {
	byName  map[string]*asset // base name -> asset (assets are one flat directory)
	index   *asset
	modTime time.Time
}

// Handler serves the dashboard at the path it is mounted on (for example
// "/" or, through http.StripPrefix, "/ui/"). Asset names are resolved by the
// last path segment, so the relative URLs of the index work at any depth;
// any other path without a file extension gets the index (the application
// routes with the URL fragment); unknown files are 404. Directories are
// never listed. Only GET and HEAD are answered.
func Handler() http.Handler {
	h, err := newHandler(assetsFS, "assets")
	if err != nil {
		// The assets are embedded at build time; a failure here is a build
		// defect caught by the package tests.
		panic("dashboard: " + err.Error())
	}
	return h
}

func newHandler(fsys fs.FS, dir string) (*handler, error) {
	ents, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, err
	}
	h := &handler{byName: map[string]*asset{}}
	for _, e := range ents {
		if e.IsDir() {
			return nil, fmt.Errorf("%s/%s: sub-directories are not supported (assets are one flat directory)", dir, e.Name())
		}
		ext := path.Ext(e.Name())
		ct, ok := contentTypes[ext]
		if !ok {
			return nil, fmt.Errorf("%s/%s: no content type for extension %q", dir, e.Name(), ext)
		}
		b, err := fs.ReadFile(fsys, dir+"/"+e.Name())
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(b)
		h.byName[e.Name()] = &asset{name: e.Name(), ctype: ct, data: b, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
	}
	h.index = h.byName["index.html"]
	if h.index == nil {
		return nil, fmt.Errorf("%s/index.html: missing", dir)
	}
	return h, nil
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Content-Security-Policy", ContentSecurityPolicy)
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Cross-Origin-Resource-Policy", "same-origin")
	hd.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), payment=()")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hd.Set("Allow", "GET, HEAD")
		hd.Set("Cache-Control", "no-store")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	a, code := h.resolve(r.URL.Path)
	if a == nil {
		hd.Set("Cache-Control", "no-store")
		http.Error(w, "not found", code)
		return
	}
	hd.Set("Content-Type", a.ctype)
	hd.Set("ETag", a.etag)
	// Revalidate every time: a new binary must never be mixed with modules
	// of the old one in the browser cache, and an unchanged file costs a 304.
	hd.Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, "", h.modTime, bytes.NewReader(a.data))
}

// resolve maps a request path to an asset: a known asset name as the last
// segment serves that asset; a path whose last segment has an extension is
// 404; everything else is the index.
func (h *handler) resolve(p string) (*asset, int) {
	if strings.ContainsRune(p, 0) {
		return nil, http.StatusBadRequest
	}
	base := p
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		base = p[i+1:]
	}
	if base == "" {
		return h.index, 0
	}
	if a, ok := h.byName[base]; ok {
		return a, 0
	}
	if path.Ext(base) != "" {
		return nil, http.StatusNotFound
	}
	return h.index, 0
}
