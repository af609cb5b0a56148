package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The end-to-end tests build and run the real binary.
var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "palisade-e2e-")
	if err != nil {
		panic(err)
	}
	binPath = filepath.Join(dir, "palisade")
	out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
	if err != nil {
		os.Stderr.Write(out)
		panic("go build: " + err.Error())
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func run(t *testing.T, stdin []byte, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	err := cmd.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return o.String(), e.String(), code
}

const small = "../../internal/engine/testdata/small.ndjson"
const spec = "../../internal/engine/testdata/spec.yaml"

func TestAnalyzeReport(t *testing.T) {
	out, stderr, code := run(t, nil, "analyze", "--spec", spec, "--report", "-", small)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var rep map[string]any
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("report is not JSON: %v", err)
	}
	if rep["input"].(map[string]any)["records"].(float64) != 286 {
		t.Errorf("input: %v", rep["input"])
	}
	if stderr != "" {
		t.Errorf("stderr not silent when not a terminal: %q", stderr)
	}
	// Same report from stdin and from a gzip file (sniffed by magic bytes).
	data, _ := os.ReadFile(small)
	out2, _, code := run(t, data, "analyze", "--spec", spec, "--report", "-", "-")
	if code != 0 || stripGenerated(out2) != stripGenerated(out) {
		t.Errorf("stdin report differs (exit %d)", code)
	}
	gz := filepath.Join(t.TempDir(), "cap.bin")
	writeGzip(t, gz, data)
	out3, _, code := run(t, nil, "analyze", "--spec", spec, "--report", "-", gz)
	if code != 0 || stripGenerated(out3) != stripGenerated(out) {
		t.Errorf("gzip report differs (exit %d)", code)
	}
}

// stripGenerated removes what legitimately differs between runs of the
// same records from different inputs: generated_at and the input's names,
// byte counts and the file names inside rejected-record locations.
func stripGenerated(s string) string {
	var doc map[string]any
	if err := json.Unmarshal([]byte(s), &doc); err != nil {
		return "unparsable: " + err.Error()
	}
	delete(doc, "generated_at")
	if in, ok := doc["input"].(map[string]any); ok {
		delete(in, "bytes")
		delete(in, "files")
		delete(in, "errors")
	}
	b, _ := json.Marshal(doc)
	return string(b)
}

func writeGzip(t *testing.T, path string, data []byte) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	zw := gzip.NewWriter(f)
	zw.Write(data)
	zw.Close()
	f.Close()
}

func TestAnalyzeSummary(t *testing.T) {
	out, _, code := run(t, nil, "analyze", small)
	if code != 0 || !strings.Contains(out, "inventory") || !strings.Contains(out, "shop.example.test") {
		t.Fatalf("exit %d, summary:\n%s", code, out)
	}
}

func TestAnalyzeExitCodes(t *testing.T) {
	dir := t.TempDir()
	// Missing file: exit 2 before any work.
	_, stderr, code := run(t, nil, "analyze", filepath.Join(dir, "nope.ndjson"))
	if code != 2 || !strings.Contains(stderr, "nope.ndjson") {
		t.Errorf("missing file: exit %d %q", code, stderr)
	}
	// Every record rejected: exit 2 naming the first bad line and field.
	bad := filepath.Join(dir, "bad.ndjson")
	os.WriteFile(bad, []byte(`{"time":"x","client":{"ip":"1.2.3.4"},"request":{"method":"GET","url":"https://a/"},"response":{"status":200}}`+"\n"), 0o644)
	_, stderr, code = run(t, nil, "analyze", bad)
	if code != 2 || !strings.Contains(stderr, "bad.ndjson:1 field time") {
		t.Errorf("all rejected: exit %d %q", code, stderr)
	}
	// Truncated gzip: report written from what decoded, exit 3.
	data, _ := os.ReadFile(small)
	gz := filepath.Join(dir, "cut.ndjson.gz")
	writeGzip(t, gz, data)
	z, _ := os.ReadFile(gz)
	os.WriteFile(gz, z[:len(z)*2/3], 0o644)
	rep := filepath.Join(dir, "rep.json")
	_, stderr, code = run(t, nil, "analyze", "--report", rep, gz)
	if code != 3 || !strings.Contains(stderr, "truncated") {
		t.Errorf("truncated gzip: exit %d %q", code, stderr)
	}
	if _, err := os.Stat(rep); err != nil {
		t.Errorf("report not written for a partly readable input: %v", err)
	}
	// Unparsable spec: exit 2 naming the file.
	badSpec := filepath.Join(dir, "broken.yaml")
	os.WriteFile(badSpec, []byte("openapi: 3.0.0\npaths: [\n"), 0o644)
	_, stderr, code = run(t, nil, "analyze", "--spec", badSpec, small)
	if code != 2 || !strings.Contains(stderr, "broken.yaml") {
		t.Errorf("broken spec: exit %d %q", code, stderr)
	}
	// Bad intel feed: exit 2.
	_, stderr, code = run(t, nil, "analyze", "--intel", "weird="+small, small)
	if code != 2 {
		t.Errorf("bad intel kind: exit %d %q", code, stderr)
	}
}

func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("demo simulates hours of traffic")
	}
	out, stderr, code := run(t, nil, "demo", "--hours", "6")
	if code != 0 {
		t.Fatalf("demo exit %d: %s", code, stderr)
	}
	for _, want := range []string{"inventory", "alerts", "findings", "shop.example.test"} {
		if !strings.Contains(out, want) {
			t.Errorf("demo output lacks %q:\n%s", want, out)
		}
	}
}

func TestAuditExitCodes(t *testing.T) {
	dir := t.TempDir()
	weak := filepath.Join(dir, "weak.yaml")
	os.WriteFile(weak, []byte(`openapi: 3.0.3
info: {title: weak, version: "1"}
servers: [{url: "http://api.example.test"}]
paths:
  /users/{id}:
    delete:
      parameters: [{name: id, in: path, required: true, schema: {type: integer}}]
      responses: {"204": {description: gone}}
`), 0o644)
	// Default: report, never fail.
	out, stderr, code := run(t, nil, "audit", weak)
	if code != 0 || !strings.Contains(out, "PAL-S") {
		t.Fatalf("audit: exit %d\n%s\n%s", code, out, stderr)
	}
	// CI gate.
	_, _, code = run(t, nil, "audit", "--fail-on", "high", weak)
	if code != 1 {
		t.Errorf("--fail-on high on an unauthenticated DELETE over HTTP: exit %d, want 1", code)
	}
	// SARIF on stdout.
	out, _, code = run(t, nil, "audit", "--format", "sarif", weak)
	var sarif map[string]any
	if code != 0 || json.Unmarshal([]byte(out), &sarif) != nil || sarif["version"] != "2.1.0" {
		t.Errorf("sarif: exit %d, %.200s", code, out)
	}
	// A broken spec next to a good one: located error, exit 2.
	broken := filepath.Join(dir, "broken.yaml")
	os.WriteFile(broken, []byte("openapi: 3.0.0\npaths: [\n"), 0o644)
	out, _, code = run(t, nil, "audit", weak, broken)
	if code != 2 || !strings.Contains(out, "broken.yaml:2:") || !strings.Contains(out, "PAL-S") {
		t.Errorf("broken spec next to a good one: exit %d %q", code, out)
	}
	_, stderr, code = run(t, nil, "audit", "--format", "json", "--out", filepath.Join(dir, "a.json"), weak, broken)
	if code != 2 || !strings.Contains(stderr, "broken.yaml:2:") {
		t.Errorf("broken spec, json to file: exit %d %q", code, stderr)
	}
}

func TestOpenAPIExport(t *testing.T) {
	out, stderr, code := run(t, nil, "openapi", "--host", "shop.example.test", small)
	if code != 0 {
		t.Fatalf("openapi: exit %d %s", code, stderr)
	}
	var doc map[string]any
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if !strings.HasPrefix(doc["openapi"].(string), "3.1") {
		t.Errorf("openapi version %v", doc["openapi"])
	}
	paths, _ := doc["paths"].(map[string]any)
	if _, ok := paths["/v1/users/{userId}/orders"]; !ok {
		t.Errorf("paths = %v", keysOf(paths))
	}
	for _, secret := range []string{"sk_live_51HxAbCdEfGhIjKlMnOp", "4111111111111111"} {
		if strings.Contains(out, secret) {
			t.Errorf("export leaks %s", secret)
		}
	}
	_, _, code = run(t, nil, "openapi", "--host", "nowhere.test", small)
	if code == 0 {
		t.Errorf("export of an unseen host should fail")
	}
}

func keysOf(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
