package gateway

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestRealWorld reads every third-party configuration of
// testdata/realworld: no crash, expected errors located, every finding
// inside its file.
func TestRealWorld(t *testing.T) {
	root := filepath.Join("testdata", "realworld")
	expectErr := map[string]bool{
		"nginx-gonginx/issues/31.conf":                    true,
		"nginx-gonginx/full-example/nginx-structure.conf": true,
	}
	skip := func(p string) bool {
		b := filepath.Base(p)
		return b == "README.md" || b == "LICENSE" || b == "mime.types" || strings.HasSuffix(b, "_params") ||
			strings.HasPrefix(b, "koi-") || b == "win-utf" || strings.Contains(p, "/snippets/") || strings.Contains(p, "/conf.d/") ||
			strings.Contains(p, "sites-enabled/") || strings.HasSuffix(b, "fastcgi.conf") || strings.HasSuffix(b, "proxy.conf") ||
			strings.HasSuffix(b, "http.conf") || strings.HasSuffix(b, "events.conf")
	}
	files, routes, findings := 0, 0, 0
	err := filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() || skip(p) {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		kind := ""
		if strings.HasPrefix(rel, "nginx-") {
			kind = KindNGINX
		}
		cfg, err := Load(p, kind)
		if expectErr[rel] {
			if err == nil {
				t.Errorf("%s: expected a syntax error", rel)
			} else if e, ok := err.(*Error); !ok || e.Line == 0 {
				t.Errorf("%s: error not located: %v", rel, err)
			}
			return nil
		}
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			return nil
		}
		if kind == "" && DetectKind(p, mustRead(t, p)) == "" {
			t.Errorf("%s: kind not detected", rel)
		}
		fs, err := Audit(cfg, Options{})
		if err != nil {
			t.Errorf("%s: %v", rel, err)
		}
		files++
		routes += len(cfg.Routes)
		findings += len(fs)
		for _, f := range fs {
			checkLocated(t, f.Location.File, f.Location.Line, f.Location.Column)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 100 {
		t.Errorf("only %d files audited", files)
	}
	t.Logf("%d real-world files, %d routes, %d findings", files, routes, findings)
}

func mustRead(t *testing.T, p string) []byte {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// checkLocated asserts that a position is inside its file.
func checkLocated(t *testing.T, file string, line, col int) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Errorf("finding in unreadable file %q: %v", file, err)
		return
	}
	lines := bytes.Split(b, []byte("\n"))
	if line < 1 || line > len(lines) {
		t.Errorf("%s:%d: line outside the file (%d lines)", file, line, len(lines))
		return
	}
	if col < 1 || col > len(lines[line-1])+1 {
		t.Errorf("%s:%d:%d: column outside the line (%d bytes)", file, line, col, len(lines[line-1]))
	}
}
