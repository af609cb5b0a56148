package testutil

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Update is the one flag of every golden-file test: after checking that a
// change of output is intended,
//
//	go test ./internal/<package> -run <Test> -update
//
// rewrites the package's golden files instead of comparing with them.
// (The flag exists in the test binaries of the packages that import
// testutil; give it per package, not to go test ./... as a whole.)
var Update = flag.Bool("update", false, "rewrite golden files instead of comparing with them")

// Golden compares got with the golden file at path (relative to the
// test's package directory) and reports the first difference; with
// -update it writes got there instead.
func Golden(t testing.TB, path string, got []byte) {
	t.Helper()
	if *Update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run '%s' -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s; if the change is intended, run go test -run '%s' -update and review the diff\n%s", path, t.Name(), FirstDiff(got, want))
	}
}

// FirstDiff describes where got and want first differ: the line number
// and both lines.
func FirstDiff(got, want []byte) string {
	gl, wl := bytes.Split(got, []byte("\n")), bytes.Split(want, []byte("\n"))
	for i := 0; i < len(gl) || i < len(wl); i++ {
		var g, w []byte
		if i < len(gl) {
			g = gl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if !bytes.Equal(g, w) || i >= len(gl) || i >= len(wl) {
			return fmt.Sprintf("first difference on line %d:\n  got:  %s\n  want: %s", i+1, clip(g), clip(w))
		}
	}
	return "no difference"
}

func clip(b []byte) string {
	if len(b) > 300 {
		return string(b[:300]) + "…"
	}
	return string(b)
}
