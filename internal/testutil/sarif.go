package testutil

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// SARIFSchema compiles the OASIS SARIF 2.1.0 schema kept in
// internal/posture/specaudit/testdata (offline: no $ref is fetched).
func SARIFSchema(t testing.TB) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open(filepath.Join(RepoRoot(), "internal", "posture", "specaudit", "testdata", "sarif-schema-2.1.0.json"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("sarif-schema-2.1.0.json", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("sarif-schema-2.1.0.json")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// ValidateSARIF fails the test when log is not a valid SARIF 2.1.0 log.
func ValidateSARIF(t testing.TB, log []byte) {
	t.Helper()
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(log))
	if err != nil {
		t.Fatal(err)
	}
	if err := SARIFSchema(t).Validate(inst); err != nil {
		t.Fatalf("SARIF log does not validate: %v", err)
	}
}
