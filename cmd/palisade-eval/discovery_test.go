package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/engine/discoveryeval"
)

// TestDiscovery: the subcommand prints the table and writes the result as
// JSON; a missing spec directory is exit status 2 with a clear message.
func TestDiscovery(t *testing.T) {
	dir := t.TempDir()
	js := filepath.Join(dir, "d.json")
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs([]string{"discovery", "--specs", filepath.Join("..", "..", "internal", "engine", "discoveryeval", "testdata", "shop"),
		"--requests", "40", "--values", "30", "--seed", "3", "--json", js})
	if err := root.Execute(); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "discovery: 1 spec files") || !strings.Contains(out.String(), "all but enum") {
		t.Errorf("output:\n%s", out.String())
	}
	b, err := os.ReadFile(js)
	if err != nil {
		t.Fatal(err)
	}
	var res discoveryeval.Result
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatal(err)
	}
	if res.Scored != 1 || res.Config.Requests != 40 || res.Config.Values != 30 || res.Config.Seed != 3 || res.Config.Bodies != discoveryeval.BodiesSpec || len(res.Parts) != 2 {
		t.Errorf("result: scored %d config %+v parts %d", res.Scored, res.Config, len(res.Parts))
	}

	root.SetArgs([]string{"discovery", "--specs", filepath.Join(dir, "no-such-dir"), "--json", ""})
	err = root.Execute()
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(err.Error(), "no-such-dir") || !strings.Contains(err.Error(), "--specs") {
		t.Errorf("missing directory: %v", err)
	}

	root.SetArgs([]string{"discovery", "--specs", filepath.Join("..", "..", "internal", "engine", "discoveryeval", "testdata", "shop"), "--bodies", "xml"})
	err = root.Execute()
	if !errors.As(err, &ee) || ee.code != 2 || !strings.Contains(err.Error(), "--bodies") {
		t.Errorf("--bodies xml: %v", err)
	}
	root.SetArgs([]string{"discovery", "--specs", filepath.Join("..", "..", "internal", "engine", "discoveryeval", "testdata", "shop"), "--bodies", "ok"})
	out.Reset()
	if err := root.Execute(); err != nil || !strings.Contains(out.String(), "bodies ok") {
		t.Errorf("--bodies ok: %v\n%s", err, out.String())
	}
}
