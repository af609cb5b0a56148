package main

import (
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/testutil"
)

// TestDependencies lists the modules the shipped binary links (go list
// -deps) and compares them with deps.txt, the reviewed list: a new module
// is a reviewed change (run with -update, the one golden-file flag, and
// commit the diff). The
// evaluation tooling (Coraza, its rule-set regression suite, gjson, mage)
// lives in cmd/palisade-eval and must never appear here.
func TestDependencies(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{with .Module}}{{.Path}}{{end}}", ".").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	var mods []string
	for _, l := range strings.Split(string(out), "\n") {
		if l != "" && l != "github.com/palisade-sec/palisade" && !slices.Contains(mods, l) {
			mods = append(mods, l)
		}
	}
	slices.Sort(mods)
	for _, m := range mods {
		for _, banned := range []string{"github.com/corazawaf/coraza/", "github.com/tidwall/", "github.com/magefile/"} {
			if strings.HasPrefix(m+"/", banned) {
				t.Errorf("the shipped binary links %s (evaluation tooling belongs in cmd/palisade-eval)", m)
			}
		}
	}
	got := strings.Join(mods, "\n") + "\n"
	if *testutil.Update {
		testutil.Golden(t, "deps.txt", []byte(got))
		return
	}
	want, err := os.ReadFile("deps.txt")
	if err != nil {
		t.Fatalf("%v (run go test ./cmd/palisade -run TestDependencies -update)", err)
	}
	if got != string(want) {
		w := strings.Split(strings.TrimSpace(string(want)), "\n")
		for _, m := range mods {
			if !slices.Contains(w, m) {
				t.Errorf("new module in the binary: %s (review it, then go test ./cmd/palisade -run TestDependencies -update)", m)
			}
		}
		for _, m := range w {
			if !slices.Contains(mods, m) {
				t.Errorf("module no longer in the binary: %s (update deps.txt with -update)", m)
			}
		}
	}
}
