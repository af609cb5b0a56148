package main

import (
	"bufio"
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

const (
	plainRec  = `{"time":"2026-11-18T14:03:22Z","client":{"ip":"198.51.100.7"},"request":{"method":"GET","url":"https://api.example.test/v1/items?q=shoes"},"response":{"status":200}}` + "\n"
	attackRec = `{"time":"2026-11-18T14:03:23Z","client":{"ip":"203.0.113.9"},"request":{"method":"GET","url":"https://api.example.test/v1/items?q=1%27%20UNION%20SELECT%20username,password%20FROM%20users--"},"response":{"status":200}}` + "\n"
)

// readLineWithin reads lines from r until one contains want.
func readLineWithin(t *testing.T, lines <-chan string, want string, d time.Duration) string {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("output ended before a line with %q", want)
			}
			if strings.Contains(l, want) {
				return l
			}
		case <-timeout:
			t.Fatalf("no line with %q within %v while the input is open", want, d)
		}
	}
}

func lineChan(r io.Reader) <-chan string {
	c := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 1<<20), 1<<24)
		for sc.Scan() {
			c <- sc.Text()
		}
		close(c)
	}()
	return c
}

// analyze on a stream prints each alert as it is raised, while the input
// is still open; Ctrl-C (SIGINT) ends the stream and the summary of what
// was read is written, exit status 0.
func TestAnalyzeStreamPrintsAlertsAsTheyCome(t *testing.T) {
	cmd := exec.Command(binPath, "analyze", "-")
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = nil
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := lineChan(stdout)
	io.WriteString(stdin, plainRec+attackRec)
	l := readLineWithin(t, lines, "injection.sqli", 15*time.Second)
	if !strings.Contains(l, "203.0.113.9") || !strings.Contains(l, "GET api.example.test/v1/items") {
		t.Errorf("alert line %q", l)
	}
	cmd.Process.Signal(syscall.SIGINT)
	readLineWithin(t, lines, "Alerts (most severe first)", 15*time.Second)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v", err)
	}
	stdin.Close()
}

// With --report - the report owns stdout: alerts go to stderr (here as
// JSON lines), and the end of the input ends the stream.
func TestAnalyzeStreamNDJSONAlertsWithReportOnStdout(t *testing.T) {
	cmd := exec.Command(binPath, "analyze", "--report", "-", "--alerts", "ndjson", "-")
	stdin, _ := cmd.StdinPipe()
	stderr, _ := cmd.StderrPipe()
	var out strings.Builder
	cmd.Stdout = &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	lines := lineChan(stderr)
	io.WriteString(stdin, attackRec)
	l := readLineWithin(t, lines, `"type":"injection.sqli"`, 15*time.Second)
	var a map[string]any
	if err := json.Unmarshal([]byte(l), &a); err != nil || a["client"] == nil {
		t.Fatalf("alert line %q: %v", l, err)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v", err)
	}
	var rep map[string]any
	if err := json.Unmarshal([]byte(out.String()), &rep); err != nil || len(rep["alerts"].([]any)) == 0 {
		t.Fatalf("report on stdout: %v", err)
	}
	// A file is not a stream: no alert lines unless asked for.
	o, e, code := run(t, nil, "analyze", "--alerts", "auto", "--report", "/dev/null", small)
	if code != 0 || strings.Contains(o+e, "reading a stream") || o != "" {
		t.Fatalf("file input: %d %q %q", code, o, e)
	}
	if _, e, code := run(t, nil, "analyze", "--alerts", "loud", small); code != 2 || !strings.Contains(e, "--alerts") {
		t.Fatalf("bad --alerts: %d %s", code, e)
	}
}
