package server

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/config"
	"github.com/palisade-sec/palisade/internal/testutil"
)

const (
	docBegin = "<!-- BEGIN KEYS: generated from the code by TestConfigurationDoc; go test ./internal/server -run TestConfigurationDoc -update -->\n"
	docEnd   = "<!-- END KEYS -->\n"
)

// keyTable renders every key of the configuration file, with its type,
// default and meaning, from the types themselves (config.Describe over
// DefaultConfig: engine.FileConfig, the detector families' options, the
// sink keys, the source kinds and the serve sections).
func keyTable(t *testing.T) []byte {
	var b bytes.Buffer
	b.WriteString("| key | type | default | meaning |\n|---|---|---|---|\n")
	for _, k := range config.Describe(DefaultConfig()) {
		if k.Doc == "" {
			t.Errorf("key %s has no doc tag: say what it means", k.Key)
		}
		def := k.Default
		if def != "" {
			def = "`" + def + "`"
		}
		cell := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
		b.WriteString("| `" + cell(k.Key) + "` | " + cell(k.Type) + " | " + cell(def) + " | " + cell(k.Doc) + " |\n")
	}
	return b.Bytes()
}

// TestConfigurationDoc: docs/configuration.md lists every key of the
// configuration file with its type, default and meaning, as the code
// defines them (the table between the markers is generated; -update
// rewrites it).
func TestConfigurationDoc(t *testing.T) {
	path := filepath.Join(testutil.RepoRoot(), "docs", "configuration.md")
	doc, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	i, j := bytes.Index(doc, []byte(docBegin)), bytes.Index(doc, []byte(docEnd))
	if i < 0 || j < i {
		t.Fatalf("%s: markers %q … %q not found", path, docBegin, docEnd)
	}
	table := keyTable(t)
	got := append(append(append([]byte{}, doc[:i+len(docBegin)]...), table...), doc[j:]...)
	testutil.Golden(t, path, got)
}
