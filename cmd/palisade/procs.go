package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// child is a process bench cluster (and the cluster test) runs: a serve
// process of this binary or a NATS server; its output goes to a log file.
type child struct {
	name string
	cmd  *exec.Cmd
	log  string
	url  chan string // a serve process's listening URL
	done chan struct{}
}

var listeningRE = regexp.MustCompile(`msg=listening url=(\S+)`)

func startChild(dir, name, bin string, args ...string) (*child, error) {
	c := &child{name: name, log: filepath.Join(dir, name+".log"), url: make(chan string, 1), done: make(chan struct{})}
	f, err := os.Create(c.log)
	if err != nil {
		return nil, err
	}
	c.cmd = exec.Command(bin, args...)
	c.cmd.Stdout = f
	pipe, err := c.cmd.StderrPipe()
	if err != nil {
		f.Close()
		return nil, err
	}
	if err := c.cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	copied := make(chan struct{})
	go func() {
		defer close(copied)
		sc := bufio.NewScanner(pipe)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			fmt.Fprintln(f, sc.Text())
			if m := listeningRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case c.url <- m[1]:
				default:
				}
			}
		}
	}()
	go func() { <-copied; c.cmd.Wait(); f.Close(); close(c.done) }()
	return c, nil
}

// kill sends SIGKILL: the process gets no chance to clean up.
func (c *child) kill() {
	select {
	case <-c.done:
		return
	default:
	}
	c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.done
}

// stop asks the process to shut down (SIGTERM), killing it after 30 s.
func (c *child) stop() {
	if !c.signal(syscall.SIGTERM, 30*time.Second) {
		c.kill()
	}
}

// signal sends sig to the process if it still runs and waits up to limit
// for it to end; it reports whether the process has ended.
func (c *child) signal(sig syscall.Signal, limit time.Duration) bool {
	select {
	case <-c.done:
		return true
	default:
	}
	c.cmd.Process.Signal(sig)
	select {
	case <-c.done:
		return true
	case <-time.After(limit):
		return false
	}
}

// waitURL returns the serve process's listening URL.
func (c *child) waitURL(limit time.Duration) (string, error) {
	select {
	case u := <-c.url:
		return u, nil
	case <-c.done:
		b, _ := os.ReadFile(c.log)
		return "", fmt.Errorf("%s exited before listening:\n%s", c.name, b)
	case <-time.After(limit):
		b, _ := os.ReadFile(c.log)
		return "", fmt.Errorf("%s does not listen after %v:\n%s", c.name, limit, b)
	}
}

// apiClient reads a serve process's API with a token.
type apiClient struct {
	base, token string
}

func (c apiClient) do(method, path string, body io.Reader, hdr map[string]string) (*http.Response, error) {
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	return http.DefaultClient.Do(req)
}

func (c apiClient) getJSON(path string, v any) error {
	resp, err := c.do("GET", path, nil, nil)
	if err != nil {
		return fmt.Errorf("GET %s: %w", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("GET %s: %d %s", path, resp.StatusCode, b)
	}
	if v == nil {
		return nil
	}
	return json.Unmarshal(b, v)
}

// metric reads one unlabelled value of the process's /metrics (-1 when
// absent or unreachable).
func (c apiClient) metric(name string) float64 {
	resp, err := c.do("GET", "/metrics", nil, nil)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == name {
			v, _ := strconv.ParseFloat(f[1], 64)
			return v
		}
	}
	return -1
}

// postIngest posts an NDJSON body with an idempotency key; it returns the
// records accepted, or the Retry-After to wait for a 429/503.
func (c apiClient) postIngest(body []byte, key string) (accepted int64, retry time.Duration, err error) {
	resp, err := c.do("POST", "/api/v1/ingest", strings.NewReader(string(body)), map[string]string{"Idempotency-Key": key})
	if err != nil {
		return 0, time.Second, err
	}
	defer resp.Body.Close()
	var res struct {
		Accepted    int64  `json:"accepted"`
		NotAccepted string `json:"not_accepted"`
		Error       string `json:"error"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&res)
	switch resp.StatusCode {
	case http.StatusOK:
		return res.Accepted, 0, nil
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		secs, _ := strconv.Atoi(resp.Header.Get("Retry-After"))
		return 0, time.Duration(max(secs, 1)) * time.Second, fmt.Errorf("%d: %s%s", resp.StatusCode, res.NotAccepted, res.Error)
	}
	return 0, 0, errors.New(resp.Status + ": " + res.NotAccepted + res.Error)
}
