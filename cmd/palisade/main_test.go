package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
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
	return runIn(t, "", nil, stdin, args...)
}

// runIn runs the binary in directory wd ("" = here) with extra environment
// variables.
func runIn(t *testing.T, wd string, env []string, stdin []byte, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Dir = wd
	if env != nil {
		cmd.Env = append(os.Environ(), env...)
	}
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
	// A third-party API our services call is not exported as ours.
	_, stderr, code = run(t, nil, "openapi", "--host", "api.payments.example.net", "../../internal/engine/testdata/outbound.ndjson")
	if code != 2 || !strings.Contains(stderr, "third-party API our services call") {
		t.Errorf("export of an outbound-only host: exit %d %q", code, stderr)
	}
	if out, stderr, code := run(t, nil, "openapi", "--host", "bank.example.test", "../../internal/engine/testdata/outbound.ndjson"); code != 0 || !strings.Contains(out, "/v2/accounts/{accountId}") {
		t.Errorf("export of our host next to outbound calls: exit %d %q", code, stderr)
	}
}

func keysOf(m map[string]any) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// commandPaths lists every command of the CLI ("token create", …).
func commandPaths(c *cobra.Command, prefix string) []string {
	var out []string
	for _, sub := range c.Commands() {
		p := strings.TrimSpace(prefix + " " + sub.Name())
		out = append(out, p)
		out = append(out, commandPaths(sub, p)...)
	}
	return out
}

// TestExitCodes: every command exits 2 on a usage error or an unusable
// input — an unknown flag, a bad flag value, missing or extra arguments —
// never 1 (which audit uses for "findings at or above the threshold").
// Every command must have a case here.
func TestExitCodes(t *testing.T) {
	dir := t.TempDir()
	missing := filepath.Join(dir, "typo")
	clusterConf := filepath.Join(dir, "cluster.yaml") // the cluster section read at start: a bus without a store
	if err := os.WriteFile(clusterConf, []byte("cluster:\n  bus: [nats://127.0.0.1:1]\n  partitions: 4\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	badCluster := filepath.Join(dir, "cluster-bad.yaml")
	if err := os.WriteFile(badCluster, []byte("cluster:\n  partitions: 0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		cmd  string // the command the case is about
		args []string
		want int
	}{
		{"", nil, 2},
		{"", []string{"nope"}, 2},
		{"", []string{"--nope"}, 2},
		{"", []string{"--version"}, 0},
		{"analyze", []string{"analyze"}, 2},
		{"analyze", []string{"analyze", filepath.Join(dir, "none.ndjson")}, 2},
		{"analyze", []string{"analyze", "--reorder", small}, 2},
		{"audit", []string{"audit"}, 2},
		{"audit", []string{"audit", "--fail-on", "loud", spec}, 2},
		{"audit", []string{"audit", "--format", "pdf", spec}, 2},
		{"audit", []string{"audit", "--fail-on", "critical", spec}, 0},
		{"bench", []string{"bench", "nope"}, 2},
		{"bench cluster", []string{"bench", "cluster"}, 2},
		{"bench cluster", []string{"bench", "cluster", "--bus", "nats://127.0.0.1:1", "--workers", "0"}, 2},
		{"bench cluster", []string{"bench", "cluster", "extra"}, 2},
		{"serve", []string{"serve", "--data", filepath.Join(dir, "srvb"), "--bus", "nats://127.0.0.1:1"}, 2},
		{"serve", []string{"serve", "--data", filepath.Join(dir, "srvc"), "--bus", "http://x", "--store", "sqlite://" + filepath.Join(dir, "c.db")}, 2},
		{"serve", []string{"serve", "--data", filepath.Join(dir, "srve"), "--config", clusterConf}, 2},
		{"serve", []string{"serve", "--data", filepath.Join(dir, "srvf"), "--config", badCluster}, 2},
		{"demo", []string{"demo", "extra"}, 2},
		{"demo", []string{"demo", "--hours", "x"}, 2},
		{"erase", []string{"erase", "--data", missing}, 2},
		{"erase", []string{"erase", "--data", missing, "--ip", "192.0.2.1"}, 2},
		{"openapi", []string{"openapi"}, 2},
		{"openapi", []string{"openapi", "--host", "nowhere.test", small}, 2},
		{"scenarios", []string{"scenarios", "extra"}, 2},
		{"scenarios", []string{"scenarios", "--hours", "0"}, 2},
		{"serve", []string{"serve", "extra"}, 2},
		{"serve", []string{"serve", "--data", filepath.Join(dir, "srv"), "--listen", "256.0.0.1:1"}, 2},
		{"sim", []string{"sim", "extra"}, 2},
		{"sim", []string{"sim", "--hours", "-1"}, 2},
		{"tail", []string{"tail"}, 2},
		{"tail", []string{"tail", "--once", filepath.Join(dir, "none.log")}, 2},
		{"token", []string{"token"}, 2},
		{"token", []string{"token", "nope"}, 2},
		{"token create", []string{"token", "create", "--data", missing}, 2},
		{"token create", []string{"token", "create", "--data", missing, "--role", "boss"}, 2},
		{"token list", []string{"token", "list", "extra"}, 2},
		{"token list", []string{"token", "list", "--data", missing}, 2},
		{"token revoke", []string{"token", "revoke", "--data", missing}, 2},
		{"version", []string{"version"}, 0},
		{"version", []string{"version", "extra"}, 2},
	}
	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.cmd] = true
		_, stderr, code := run(t, nil, c.args...)
		if code != c.want {
			t.Errorf("palisade %s: exit %d, want %d (%s)", strings.Join(c.args, " "), code, c.want, strings.TrimSpace(stderr))
		}
		if c.want == 2 && !strings.Contains(stderr, "palisade") {
			t.Errorf("palisade %s: no explanation on stderr: %q", strings.Join(c.args, " "), stderr)
		}
	}
	paths := commandPaths(root, "")
	for c := range covered {
		// a case for a command that does not exist passes on cobra's
		// "unknown command" (exit 2) and tests nothing
		if c != "" && !slices.Contains(paths, c) { // "": palisade itself
			t.Errorf("exit-status case for %q, which is not a command", c)
		}
	}
	for _, p := range paths {
		if !covered[p] {
			t.Errorf("command %q has no exit-status case", p)
		}
		// An unknown flag is a usage error for every command.
		_, stderr, code := run(t, nil, append(strings.Fields(p), "--no-such-flag")...)
		if code != 2 || !strings.Contains(stderr, "unknown flag") {
			t.Errorf("palisade %s --no-such-flag: exit %d, want 2 (%q)", p, code, stderr)
		}
	}
	if _, err := os.Stat(missing); err == nil {
		t.Errorf("a command other than serve created the data directory %s", missing)
	}
}

// TestDataDirectory: only serve creates a data directory. The bootstrap
// admin token is created and printed only once the server listens: a start
// that fails (bad --listen) leaves none, and the next start prints it.
// Other commands refuse a missing or foreign directory; without --data they
// use the same default as serve ($PALISADE_DATA, else ./palisade-data).
func TestDataDirectory(t *testing.T) {
	work := t.TempDir()
	data := filepath.Join(work, "data")
	typo := filepath.Join(work, "dta")
	// A failed start: the directory is created, no token printed or stored.
	_, stderr, code := run(t, nil, "serve", "--data", data, "--listen", "256.0.0.1:1")
	if code != 2 || strings.Contains(stderr, "pal_") {
		t.Fatalf("serve with a bad --listen: exit %d, stderr %q", code, stderr)
	}
	out, stderr, code := run(t, nil, "token", "list", "--data", data)
	if code != 0 || strings.Count(strings.TrimSpace(out), "\n") != 0 {
		t.Fatalf("after a failed start, tokens: exit %d %q %q", code, out, stderr)
	}
	// The next start prints the token, before it says it listens.
	cmd := exec.Command(binPath, "serve", "--data", data, "--listen", "127.0.0.1:0")
	pipe, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	sc := bufio.NewScanner(pipe)
	token := ""
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(l, "pal_") {
			token = l
		}
		if strings.Contains(l, "msg=listening") {
			break
		}
	}
	if token == "" {
		t.Fatal("the first successful start printed no bootstrap token")
	}
	cmd.Process.Signal(os.Interrupt)
	go io.Copy(io.Discard, pipe)
	cmd.Wait()

	for _, args := range [][]string{
		{"token", "list", "--data", typo},
		{"token", "create", "--data", typo, "--role", "viewer"},
		{"token", "revoke", "--data", typo, "tk_x"},
		{"erase", "--data", typo, "--ip", "192.0.2.1"},
	} {
		_, stderr, code := run(t, nil, args...)
		if code != 2 || !strings.Contains(stderr, "no such directory") {
			t.Errorf("%v: exit %d %q", args, code, stderr)
		}
	}
	if _, err := os.Stat(typo); err == nil {
		t.Fatal("a mistyped --data was created")
	}
	foreign := filepath.Join(work, "foreign")
	os.Mkdir(foreign, 0o700)
	if _, stderr, code := run(t, nil, "token", "list", "--data", foreign); code != 2 || !strings.Contains(stderr, "not a Palisade data directory") {
		t.Errorf("foreign directory: exit %d %q", code, stderr)
	}
	if ents, _ := os.ReadDir(foreign); len(ents) != 0 {
		t.Errorf("files written into a foreign directory: %v", ents)
	}
	// Without --data: the default (./palisade-data) does not exist here.
	if _, stderr, code := runIn(t, work, []string{"PALISADE_DATA="}, nil, "token", "create", "--role", "viewer"); code != 2 || !strings.Contains(stderr, "palisade-data") {
		t.Errorf("token create without --data and no ./palisade-data: exit %d %q", code, stderr)
	}
	// $PALISADE_DATA is the default of serve and token alike.
	out, stderr, code = runIn(t, work, []string{"PALISADE_DATA=" + data}, nil, "token", "create", "--role", "viewer")
	if code != 0 || !strings.HasPrefix(out, "pal_") || !strings.Contains(stderr, data) {
		t.Errorf("token create with $PALISADE_DATA: exit %d %q %q", code, out, stderr)
	}
	// Revoking a token that does not exist is an unusable input.
	if _, stderr, code := run(t, nil, "token", "revoke", "--data", data, "tk_nope"); code != 2 {
		t.Errorf("revoke unknown token: exit %d %q", code, stderr)
	}
}

// TestAnalyzeConfigFile: specs: and intel: in --config are used, as the
// same flags would be (serve honours them too).
func TestAnalyzeConfigFile(t *testing.T) {
	dir := t.TempDir()
	feed := filepath.Join(dir, "block.txt")
	// An address of the capture, on a blocklist.
	os.WriteFile(feed, []byte(firstClientIP(t)+"\n"), 0o644)
	abs, _ := filepath.Abs(spec)
	cfg := filepath.Join(dir, "palisade.yaml")
	os.WriteFile(cfg, []byte("specs: ["+abs+"]\nintel: [\"blocklist="+feed+"\"]\n"), 0o644)
	viaFile, stderr, code := run(t, nil, "analyze", "--config", cfg, "--report", "-", small)
	if code != 0 {
		t.Fatalf("exit %d %s", code, stderr)
	}
	viaFlags, _, _ := run(t, nil, "analyze", "--spec", abs, "--intel", "blocklist="+feed, "--report", "-", small)
	if stripGenerated(viaFile) != stripGenerated(viaFlags) {
		t.Errorf("--config with specs/intel gives another report than --spec/--intel")
	}
	for _, want := range []string{`"documented"`, `"intel.suspicious_ip"`} {
		if !strings.Contains(viaFile, want) {
			t.Errorf("report from --config lacks %s", want)
		}
	}
	// A file and a flag add up.
	os.WriteFile(cfg, []byte("specs: ["+abs+"]\n"), 0o644)
	both, _, _ := run(t, nil, "analyze", "--config", cfg, "--intel", "blocklist="+feed, "--report", "-", small)
	if stripGenerated(both) != stripGenerated(viaFlags) {
		t.Errorf("--config specs plus --intel differ from both flags")
	}
}

func firstClientIP(t *testing.T) string {
	b, err := os.ReadFile(small)
	if err != nil {
		t.Fatal(err)
	}
	var rec struct {
		Client struct {
			IP string `json:"ip"`
		} `json:"client"`
	}
	line, _, _ := strings.Cut(string(b), "\n")
	if err := json.Unmarshal([]byte(line), &rec); err != nil || rec.Client.IP == "" {
		t.Fatalf("first record: %v", err)
	}
	return rec.Client.IP
}

func TestVersion(t *testing.T) {
	out, _, code := run(t, nil, "version")
	out2, _, code2 := run(t, nil, "--version")
	if code != 0 || code2 != 0 || out != out2 || !strings.HasPrefix(out, "palisade ") || !strings.Contains(out, "go1.") {
		t.Errorf("version: %d %q; --version: %d %q", code, out, code2, out2)
	}
	bi := &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Path: "github.com/palisade-sec/palisade", Version: "v1.2.3"},
		Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: "0123456789abcdef0123"}, {Key: "vcs.time", Value: "2026-11-01T10:00:00Z"}, {Key: "vcs.modified", Value: "true"}}}
	got := versionLine(bi, true)
	for _, want := range []string{"palisade v1.2.3", "commit 0123456789ab+dirty", "2026-11-01T10:00:00Z", "go1.26.0"} {
		if !strings.Contains(got, want) {
			t.Errorf("versionLine = %q, lacks %q", got, want)
		}
	}
	if got := versionLine(nil, false); !strings.HasPrefix(got, "palisade unknown (") {
		t.Errorf("without build info: %q", got)
	}
}
