package server

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/sink"
	"github.com/palisade-sec/palisade/internal/testutil"
)

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// palisadeBinary builds cmd/palisade once per test run.
func palisadeBinary(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("builds and runs the real binary; skipped with -short")
	}
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "palisade-e2e-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "palisade")
		cmd := exec.Command("go", "build", "-o", binPath, "./cmd/palisade")
		cmd.Dir = testutil.RepoRoot()
		out, err := cmd.CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

type proc struct {
	cmd   *exec.Cmd
	url   string
	token string // bootstrap admin token (first start only)
	lines chan string
}

var (
	listenRe = regexp.MustCompile(`msg=listening url=(\S+)`)
	tokenRe  = regexp.MustCompile(`^\s+(pal_\S+)\s*$`)
)

// startServe starts `palisade serve` on a free port and waits until it
// listens.
func startServe(t *testing.T, bin, dataDir string, extra ...string) *proc {
	t.Helper()
	cfg := filepath.Join(dataDir, "..", "serve.yaml")
	if _, err := os.Stat(cfg); err != nil {
		os.WriteFile(cfg, []byte("ingest:\n  checkpoint_interval: 200ms\n"), 0o600)
	}
	args := append([]string{"serve", "--data", dataDir, "--listen", "127.0.0.1:0", "--config", cfg}, extra...)
	cmd := exec.Command(bin, args...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{cmd: cmd, lines: make(chan string, 1000)}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	found := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		once := sync.Once{}
		for sc.Scan() {
			l := sc.Text()
			if m := tokenRe.FindStringSubmatch(l); m != nil {
				p.token = m[1]
			}
			if m := listenRe.FindStringSubmatch(l); m != nil {
				p.url = m[1]
				once.Do(func() { close(found) })
			}
			select {
			case p.lines <- l:
			default:
			}
		}
	}()
	select {
	case <-found:
	case <-time.After(60 * time.Second):
		t.Fatal("palisade serve did not start listening")
	}
	return p
}

func (p *proc) get(t *testing.T, path, token string, v any) int {
	t.Helper()
	req, _ := http.NewRequest("GET", p.url+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("GET %s: %v: %s", path, err, b)
		}
	}
	return resp.StatusCode
}

func post(url, token, body string) (*IngestResult, int, error) {
	req, _ := http.NewRequest("POST", url+"/api/v1/ingest", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, 0, err
	}
	defer resp.Body.Close()
	var r IngestResult
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, resp.StatusCode, err
	}
	return &r, resp.StatusCode, nil
}

func createToken(t *testing.T, bin, dataDir, role string) string {
	t.Helper()
	out, err := exec.Command(bin, "token", "create", "--data", dataDir, "--role", role, "--name", "e2e").Output()
	if err != nil {
		t.Fatalf("token create: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// captureLines returns benign traffic plus SQL injection attempts from one
// client (event times spread over an hour).
func captureLines(n int, start time.Time) string {
	var b strings.Builder
	for i := range n {
		ts := start.Add(time.Duration(i) * 3 * time.Second).Format(time.RFC3339Nano)
		ip := fmt.Sprintf("198.51.100.%d", i%40+1)
		url := fmt.Sprintf("https://shop.example.com/api/products/%d", i%50+1)
		if i%97 == 0 && i > 0 {
			ip = "203.0.113.66"
			url = "https://shop.example.com/api/products?id=1%27%20UNION%20SELECT%20username,password%20FROM%20users--"
		}
		fmt.Fprintf(&b, `{"time":%q,"client":{"ip":%q},"request":{"method":"GET","url":%q,"headers":{"user-agent":"Mozilla/5.0"}},"response":{"status":200,"headers":{"content-type":"application/json"},"body":"{\"id\":1,\"name\":\"lamp\"}"}}`+"\n", ts, ip, url)
	}
	return b.String()
}

// TestEndToEnd starts the real binary, ingests a capture over HTTP and sees
// the inventory, an injection alert and findings through the API, the alert
// at a signed SIEM webhook, and the dashboard served; it measures the alert
// latency (event posted → alert visible).
func TestEndToEnd(t *testing.T) {
	bin := palisadeBinary(t)
	dir := filepath.Join(t.TempDir(), "data")
	// A SIEM webhook receiver on loopback that checks the signature.
	secret := []byte("e2e-webhook-secret")
	var hookMu sync.Mutex
	var hookTypes []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := sink.VerifyWebhook(secret, r.Header.Get(sink.HeaderTimestamp), r.Header.Get(sink.HeaderSignature), body, time.Now(), time.Minute); err != nil {
			t.Errorf("webhook signature: %v", err)
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var batch struct {
			Alerts []struct {
				Type string `json:"type"`
			} `json:"alerts"`
		}
		if err := json.Unmarshal(body, &batch); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		hookMu.Lock()
		for _, a := range batch.Alerts {
			hookTypes = append(hookTypes, a.Type)
		}
		hookMu.Unlock()
	}))
	defer hook.Close()
	if err := os.WriteFile(filepath.Join(dir, "..", "serve.yaml"), []byte(fmt.Sprintf(
		"reorder_window: 1s\ningest:\n  checkpoint_interval: 200ms\nsinks:\n  - type: webhook\n    url: %s\n    secret: %s\n    types: [\"injection.*\"]\n", hook.URL, secret)), 0o600); err != nil {
		t.Fatal(err)
	}
	p := startServe(t, bin, dir)
	if p.token == "" {
		t.Fatal("no bootstrap admin token printed on first start")
	}
	ingest := createToken(t, bin, dir, "ingest") // while the server runs
	viewer := createToken(t, bin, dir, "viewer")
	var h map[string]any
	if code := p.get(t, "/healthz", "", &h); code != 200 {
		t.Fatalf("healthz %d", code)
	}
	start := time.Date(2026, 11, 16, 9, 0, 0, 0, time.UTC)
	res, code, err := post(p.url, ingest, captureLines(1000, start))
	if err != nil || code != 200 || res.Accepted != 1000 {
		t.Fatalf("ingest: %d %+v %v", code, res, err)
	}
	var eps struct {
		Items []EndpointRowJSON `json:"items"`
	}
	waitFor(t, "endpoints", func() bool {
		p.get(t, "/api/v1/endpoints?host=shop.example.com&sort=requests", viewer, &eps)
		return len(eps.Items) > 0 && eps.Items[0].Requests >= 900
	})
	if eps.Items[0].Path != "/api/products/{id}" && !strings.Contains(eps.Items[0].Path, "{") {
		t.Errorf("path not templated: %s", eps.Items[0].Path)
	}
	// Alert latency: a fresh attack, timed from the POST to its visibility.
	t0 := time.Now()
	attack := fmt.Sprintf(`{"time":%q,"client":{"ip":"203.0.113.99"},"request":{"method":"GET","url":"https://shop.example.com/api/products?q=%%3Cscript%%3Ealert(document.cookie)%%3C/script%%3E"},"response":{"status":200}}`+"\n",
		start.Add(time.Hour).Format(time.RFC3339))
	if res, code, err := post(p.url, ingest, attack); err != nil || code != 200 || res.Accepted != 1 {
		t.Fatalf("attack: %d %+v %v", code, res, err)
	}
	var alerts struct {
		Items []struct {
			Type   string `json:"type"`
			Client *struct {
				IP string `json:"ip"`
			} `json:"client"`
		} `json:"items"`
	}
	waitFor(t, "alert for the new attack", func() bool {
		p.get(t, "/api/v1/alerts?client_ip=203.0.113.99", viewer, &alerts)
		return len(alerts.Items) > 0
	})
	t.Logf("alert latency (POST → visible via API): %v", time.Since(t0).Round(time.Millisecond))
	p.get(t, "/api/v1/alerts?type=injection.sqli", viewer, &alerts)
	if len(alerts.Items) == 0 {
		t.Error("no injection.sqli alert for the UNION SELECT client")
	}
	// The same alert reached the SIEM webhook, signed.
	waitFor(t, "injection alert at the webhook", func() bool {
		hookMu.Lock()
		defer hookMu.Unlock()
		return slices.Contains(hookTypes, "injection.sqli")
	})
	// Posture findings (the capture's endpoints answer without credentials).
	var findings struct {
		Items []struct {
			Rule string `json:"rule"`
		} `json:"items"`
	}
	waitFor(t, "findings", func() bool {
		p.get(t, "/api/v1/findings", viewer, &findings)
		return len(findings.Items) > 0
	})
	// The dashboard is served by the same binary (the browser walk-through
	// is in internal/dashboard).
	resp, err := http.Get(p.url + "/ui/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), "<html") {
		t.Errorf("dashboard: %d %.100s", resp.StatusCode, page)
	}
	var ov map[string]any
	p.get(t, "/api/v1/overview", viewer, &ov)
	if ov["records_processed"].(float64) != 1001 {
		t.Errorf("overview: %v", ov)
	}
	if code := p.get(t, "/api/v1/openapi?host=shop.example.com", viewer, nil); code != 200 {
		t.Errorf("openapi export: %d", code)
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.cmd.Wait(); err != nil {
		t.Fatalf("graceful shutdown: %v", err)
	}
}

// EndpointRowJSON is the part of an endpoint row the end-to-end test reads.
type EndpointRowJSON struct {
	ID       string `json:"id"`
	Path     string `json:"path"`
	Requests int64  `json:"requests"`
}

// TestCrashRecovery SIGKILLs the real server while clients are ingesting,
// restarts it, and checks that every record it acknowledged is processed.
func TestCrashRecovery(t *testing.T) {
	bin := palisadeBinary(t)
	dir := filepath.Join(t.TempDir(), "data")
	p := startServe(t, bin, dir)
	admin := p.token
	ingest := createToken(t, bin, dir, "ingest")
	var acked, sent atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	start := time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC)
	for c := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				body := captureLines(300, start.Add(time.Duration(c*100000+i*300)*3*time.Second))
				sent.Add(300)
				res, code, err := post(p.url, ingest, body)
				if err != nil {
					return // the server died mid-request: not acknowledged
				}
				if code == 200 {
					acked.Add(res.Accepted)
				} else if res != nil {
					acked.Add(res.Accepted)
				}
			}
		}()
	}
	waitFor(t, "some acknowledged records", func() bool { return acked.Load() >= 3000 })
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.cmd.Wait()
	close(stop)
	wg.Wait()
	t.Logf("acknowledged %d of %d sent records before SIGKILL", acked.Load(), sent.Load())

	p2 := startServe(t, bin, dir)
	var ov struct {
		Records int64 `json:"records_processed"`
		Warm    bool  `json:"warm"`
		Queue   int64 `json:"queue_depth"`
	}
	waitFor(t, "replay after restart", func() bool {
		p2.get(t, "/api/v1/overview", admin, &ov)
		return ov.Warm && ov.Records >= acked.Load()
	})
	if ov.Records > sent.Load() {
		t.Fatalf("processed %d records, more than the %d sent", ov.Records, sent.Load())
	}
	t.Logf("after restart: %d records processed (acknowledged %d)", ov.Records, acked.Load())
	// The restarted server keeps accepting.
	if res, code, err := post(p2.url, ingest, captureLines(10, start.Add(-time.Hour))); err != nil || code != 200 || res.Accepted != 10 {
		t.Fatalf("after restart: %d %+v %v", code, res, err)
	}
}
