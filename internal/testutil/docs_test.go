package testutil

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestContractCopies: the contracts the code implements (exchange record,
// report, alert catalogue) are part of the repository, in docs/contracts,
// and are the same as the project's shared contracts when ../shared is
// checked out next to the repository.
func TestContractCopies(t *testing.T) {
	root := RepoRoot()
	local, err := filepath.Glob(filepath.Join(root, "docs", "contracts", "*.md"))
	if err != nil || len(local) < 3 {
		t.Fatalf("docs/contracts: %v %v", local, err)
	}
	shared := filepath.Join(root, "..", "shared", "contracts")
	if _, err := os.Stat(shared); err != nil {
		t.Skipf("%s not present; the copies cannot be compared", shared)
	}
	theirs, _ := filepath.Glob(filepath.Join(shared, "*.md"))
	for _, p := range theirs {
		want, _ := os.ReadFile(p)
		got, err := os.ReadFile(filepath.Join(root, "docs", "contracts", filepath.Base(p)))
		if err != nil {
			t.Errorf("docs/contracts lacks %s (copy it from %s)", filepath.Base(p), p)
			continue
		}
		if !bytes.Equal(got, want) {
			t.Errorf("docs/contracts/%s differs from %s: copy the shared contract", filepath.Base(p), p)
		}
	}
}

var mdLink = regexp.MustCompile(`\]\(([^)#\s]+)(#[^)]*)?\)`)

// TestDocLinks: every relative link of the README and docs/ names a file of
// the repository (the documentation must not cite files a user of the
// repository does not have).
func TestDocLinks(t *testing.T) {
	root := RepoRoot()
	files := []string{filepath.Join(root, "README.md")}
	err := filepath.WalkDir(filepath.Join(root, "docs"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".md") {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, f)
		if strings.Contains(string(b), "shared/contracts") {
			t.Errorf("%s cites shared/contracts, outside the repository (use docs/contracts)", rel)
		}
		for _, m := range mdLink.FindAllStringSubmatch(string(b), -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			p := filepath.Clean(filepath.Join(filepath.Dir(f), target))
			if r, err := filepath.Rel(root, p); err != nil || strings.HasPrefix(r, "..") {
				t.Errorf("%s links to %s, outside the repository", rel, target)
				continue
			}
			if _, err := os.Stat(p); err != nil {
				t.Errorf("%s links to %s, which does not exist", rel, target)
			}
		}
	}
}
