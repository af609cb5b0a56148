package server

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/source"
)

// Configured tail sources feed the engine through the write-ahead log,
// keep following the file, and save their offset in the data directory
// (resuming from it is tested in internal/source).
func TestTailSources(t *testing.T) {
	logDir := t.TempDir()
	nginx := filepath.Join(logDir, "access.json.log")
	line := func(i int) string {
		return fmt.Sprintf(`{"time_iso8601":"2026-11-18T10:00:%02d+00:00","remote_addr":"203.0.113.%d","request_method":"GET","scheme":"https","host":"shop.example.test","request_uri":"/v1/items/%d","status":"200","body_bytes_sent":"42","request_time":"0.012","http_user_agent":"curl/8.0"}`+"\n", i, i+1, i)
	}
	var b strings.Builder
	for i := 0; i < 5; i++ {
		b.WriteString(line(i))
	}
	b.WriteString("not json\n")
	if err := os.WriteFile(nginx, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	env := newEnv(t, func(c *Config) {
		c.Sources = source.Configs{"tail": {&source.TailConfig{Path: nginx, Format: "nginx", FromStart: true, Source: "edge-nginx"}}}
	}, nil)
	waitFor(t, "5 tailed records in the engine", func() bool {
		env.eng.mu.Lock()
		defer env.eng.mu.Unlock()
		return env.eng.records == 5
	})
	// Lines appended later are picked up.
	f, err := os.OpenFile(nginx, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(line(5) + line(6))
	f.Close()
	waitFor(t, "7 tailed records", func() bool {
		env.eng.mu.Lock()
		defer env.eng.mu.Unlock()
		return env.eng.records == 7
	})
	env.eng.mu.Lock()
	first := env.eng.seen[0]
	env.eng.mu.Unlock()
	if first != "https://shop.example.test/v1/items/0" {
		t.Errorf("first tailed URL %q", first)
	}
	states, _ := filepath.Glob(filepath.Join(env.dir, "tail", "*.json"))
	if len(states) != 1 {
		t.Errorf("tail state files: %v", states)
	}
}

func TestTailConfigErrors(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Sources = source.Configs{"tail": {&source.TailConfig{Path: "", Format: "nginx"}, &source.TailConfig{Path: "/x", Format: "csv"}}}
	_, err := cfg.Parse()
	if err == nil || !strings.Contains(err.Error(), "sources.tail[0].path: required") || !strings.Contains(err.Error(), "sources.tail[1].format") {
		t.Fatalf("err = %v", err)
	}
}
