package main

import (
	"bufio"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/store/postgres/pgtest"
)

// startServe runs palisade serve with args until it listens; it returns
// the base URL, the bootstrap token (if printed) and the listening line.
func startServe(t *testing.T, args ...string) (base, token, listening string, stop func()) {
	t.Helper()
	cmd := exec.Command(binPath, append([]string{"serve", "--listen", "127.0.0.1:0"}, args...)...)
	pipe, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cmd.Process.Signal(os.Interrupt)
			go io.Copy(io.Discard, pipe)
			cmd.Wait()
		}
	}
	t.Cleanup(stop)
	sc := bufio.NewScanner(pipe)
	var all []string
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		all = append(all, l)
		if strings.HasPrefix(l, "pal_") {
			token = l
		}
		if strings.Contains(l, "msg=listening") {
			m := regexp.MustCompile(`url=(\S+)`).FindStringSubmatch(l)
			if m == nil {
				t.Fatalf("no url in %q", l)
			}
			go io.Copy(io.Discard, pipe)
			return m[1], token, l, stop
		}
	}
	cmd.Wait()
	t.Fatalf("serve %v did not start:\n%s", args, strings.Join(all, "\n"))
	return
}

func get(t *testing.T, url, token string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestStoreFlag: serve, token and erase with --store work as they do with
// --data alone, on a SQLite file named by sqlite:///PATH and on
// PostgreSQL (skipped without a test database; mandatory under CI=true).
func TestStoreFlag(t *testing.T) {
	for _, kind := range []string{"sqlite", "postgres"} {
		t.Run(kind, func(t *testing.T) {
			work := t.TempDir()
			spec := "sqlite://" + filepath.Join(work, "shared", "palisade.db")
			if kind == "postgres" {
				spec = pgtest.Schema(t)
			}
			missing := "sqlite://" + filepath.Join(work, "nope.db")
			if kind == "postgres" {
				// A schema where no store was ever made.
				missing = pgtest.Schema(t)
			}
			data := filepath.Join(work, "data")
			base, admin, listening, stop := startServe(t, "--data", data, "--store", spec)
			if admin == "" {
				t.Fatal("no bootstrap token on the first start")
			}
			if !strings.Contains(listening, "store=") || strings.Contains(listening, ":palisade_test@") {
				t.Errorf("listening line names no store, or a password: %q", listening)
			}
			if _, err := os.Stat(filepath.Join(data, dbFile)); err == nil {
				t.Errorf("a SQLite database was made in the data directory although --store was given")
			}
			if code := get(t, base+"/api/v1/endpoints", admin); code != 200 {
				t.Fatalf("admin token: %d", code)
			}
			// A token created in the store works on the running server.
			out, stderr, code := run(t, nil, "token", "create", "--store", spec, "--role", "viewer", "--name", "ci")
			tok := strings.TrimSpace(out)
			if code != 0 || !strings.HasPrefix(tok, "pal_") {
				t.Fatalf("token create: %d %q %q", code, out, stderr)
			}
			if strings.Contains(stderr, ":palisade_test@") {
				t.Errorf("password in the message: %q", stderr)
			}
			id := regexp.MustCompile(`created (tk_\S+)`).FindStringSubmatch(stderr)
			if id == nil {
				t.Fatalf("no token id in %q", stderr)
			}
			if code := get(t, base+"/api/v1/alerts", tok); code != 200 {
				t.Errorf("new token: %d", code)
			}
			out, _, code = run(t, nil, "token", "list", "--store", spec)
			if code != 0 || !strings.Contains(out, id[1]) || !strings.Contains(out, "viewer") {
				t.Errorf("token list: %d %q", code, out)
			}
			if _, stderr, code := run(t, nil, "token", "revoke", "--store", spec, id[1]); code != 0 {
				t.Errorf("revoke: %d %q", code, stderr)
			}
			if code := get(t, base+"/api/v1/alerts", tok); code != 401 {
				t.Errorf("revoked token: %d, want 401", code)
			}
			stop()
			// erase: the data directory's key and log, the store's rows.
			out, stderr, code = run(t, nil, "erase", "--data", data, "--store", spec, "--ip", "192.0.2.1")
			if code != 0 || !strings.Contains(out, "alerts_deleted") {
				t.Errorf("erase: %d %q %q", code, out, stderr)
			}
			// A server with another installation key is refused: its
			// pseudonyms and tombstones would match nothing stored.
			_, stderr, code = run(t, nil, "serve", "--data", filepath.Join(work, "other"), "--store", spec, "--listen", "127.0.0.1:0")
			if code != 2 || !strings.Contains(stderr, "another installation key") {
				t.Errorf("second key: exit %d %q", code, stderr)
			}
			// A store that does not exist is never created by token or
			// erase.
			for _, args := range [][]string{
				{"token", "list", "--store", missing},
				{"token", "create", "--store", missing, "--role", "viewer"},
				{"erase", "--data", data, "--store", missing, "--ip", "192.0.2.1"},
			} {
				_, stderr, code := run(t, nil, args...)
				if code != 2 || !strings.Contains(stderr, "no Palisade store") {
					t.Errorf("%v: exit %d %q", args, code, stderr)
				}
			}
			if kind == "sqlite" {
				if _, err := os.Stat(strings.TrimPrefix(missing, "sqlite://")); err == nil {
					t.Error("token/erase created a missing store")
				}
			}
			// server.store in the configuration file; the stored
			// configuration keeps the same store.
			cfg := filepath.Join(work, "palisade.yaml")
			os.WriteFile(cfg, []byte("server:\n  store: \""+spec+"\"\n"), 0o600)
			base, _, listening, stop = startServe(t, "--data", data, "--config", cfg)
			if !strings.Contains(listening, "store=") || strings.Contains(listening, "store="+filepath.Join(data, dbFile)) {
				t.Errorf("server.store of the config file not used: %q", listening)
			}
			if code := get(t, base+"/api/v1/endpoints", admin); code != 200 {
				t.Errorf("admin token after restart from the config file: %d", code)
			}
			stop()
		})
	}
	// Bad specs are usage errors naming the flag.
	for _, spec := range []string{"mysql://db/p", "sqlite://relative.db", "host=db dbname=p"} {
		_, stderr, code := run(t, nil, "token", "list", "--store", spec)
		if code != 2 || !strings.Contains(stderr, "--store") {
			t.Errorf("--store %s: exit %d %q", spec, code, stderr)
		}
	}
}
