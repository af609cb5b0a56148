// Package testutil has helpers shared by tests.
package testutil

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

// EvalDir returns the path of ../shared/eval-data/<sub> (relative to the
// repository root). When the directory is absent the test is skipped with a
// message, except under CI=true, where it fails: CI makes the evaluation
// data mandatory.
func EvalDir(t testing.TB, sub ...string) string {
	t.Helper()
	p := filepath.Join(append([]string{RepoRoot(), "..", "shared", "eval-data"}, sub...)...)
	if v := os.Getenv("PALISADE_EVAL_DATA"); v != "" {
		p = filepath.Join(append([]string{v}, sub...)...)
	}
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("evaluation data %s is required under CI=true: %v", p, err)
		}
		t.Skipf("evaluation data not present (%s); skipping (set PALISADE_EVAL_DATA or check out ../shared)", p)
	}
	return p
}

// RepoRoot returns the repository root (the directory holding go.mod).
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Clean(filepath.Join(filepath.Dir(file), "..", ".."))
}
