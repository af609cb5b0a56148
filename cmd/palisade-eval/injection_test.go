package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestInjectionFiles: --verdicts writes one line per request (the CRS
// suite embedded in the binary), --cpuprofile and --memprofile write
// profiles, and a file that cannot be created is a clear error.
func TestInjectionFiles(t *testing.T) {
	dir := t.TempDir()
	v, cpu, mem := filepath.Join(dir, "v.txt"), filepath.Join(dir, "cpu.pb"), filepath.Join(dir, "mem.pb")
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"injection", "--sources", "crs", "--verdicts", v, "--cpuprofile", cpu, "--memprofile", mem})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(\d+) requests\n`).FindStringSubmatch(out.String())
	if m == nil {
		t.Fatalf("no request count in:\n%s", out.String())
	}
	n, _ := strconv.Atoi(m[1])
	b, err := os.ReadFile(v)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	if len(lines) != n || n == 0 {
		t.Fatalf("%d verdict lines for %d requests", len(lines), n)
	}
	if !strings.Contains(lines[0], "\tpalisade\tcrs-regression|") {
		t.Errorf("first line %q", lines[0])
	}
	for _, f := range []string{cpu, mem} {
		if fi, err := os.Stat(f); err != nil || fi.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	root.SetArgs([]string{"injection", "--sources", "crs", "--verdicts", filepath.Join(dir, "no", "such", "dir", "v.txt")})
	if err := root.Execute(); err == nil || !strings.Contains(err.Error(), "--verdicts") {
		t.Errorf("uncreatable --verdicts file: %v", err)
	}
}
