package server

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/store"
	"github.com/palisade-sec/palisade/internal/store/sqlite"
)

// TestServeAgreesWithAnalyze ingests a simulated capture with attacks into
// the real server — in batches of random sizes, with checkpoints every few
// milliseconds (so they fall at arbitrary records) and a restart in the
// middle — and checks that the alerts stored at the end are those of
// `palisade analyze` on the same capture: same ids, types, subjects,
// endpoints, counts, times and evidence. Windowed detectors (spray, volume
// spikes, brute force, enumeration) used to lose the rest of a fired window
// in serve mode.
func TestServeAgreesWithAnalyze(t *testing.T) {
	bin := palisadeBinary(t)
	work := t.TempDir()
	capture := filepath.Join(work, "cap.ndjson.gz")
	intelDir := filepath.Join(work, "intel")
	if out, err := exec.Command(bin, "sim", "--hours", "24", "--scale", "0.3", "-o", capture, "--intel-dir", intelDir).CombinedOutput(); err != nil {
		t.Fatalf("sim: %v\n%s", err, out)
	}
	tor, block := filepath.Join(intelDir, "tor-exit-nodes.txt"), filepath.Join(intelDir, "blocklist.txt")
	// One identity key for both (serve otherwise derives its own from the
	// installation secret, and identity ids differ by design).
	keyFile := filepath.Join(work, "identity.key")
	if err := os.WriteFile(keyFile, []byte("parity-test-identity-key-0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	repPath := filepath.Join(work, "report.json")
	if out, err := exec.Command(bin, "analyze", "--report", repPath, "--identity-key-file", keyFile,
		"--intel", "tor="+tor, "--intel", "blocklist="+block, capture).CombinedOutput(); err != nil {
		t.Fatalf("analyze: %v\n%s", err, out)
	}
	var rep model.Report
	b, err := os.ReadFile(repPath)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	lines := readLines(t, capture)

	dir := filepath.Join(work, "data")
	if err := os.WriteFile(filepath.Join(work, "serve.yaml"), []byte(fmt.Sprintf(
		"ingest:\n  checkpoint_interval: 15ms\nidentity:\n  key_file: %s\nintel:\n  - tor=%s\n  - blocklist=%s\n", keyFile, tor, block)), 0o600); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 15))
	split := len(lines)/3 + rng.IntN(len(lines)/3)
	p := startServe(t, bin, dir)
	admin := p.token
	ingest := createToken(t, bin, dir, "ingest")
	send := func(p *proc, part []string) {
		for len(part) > 0 {
			n := min(len(part), 200+rng.IntN(3000))
			res, code, err := post(p.url, ingest, strings.Join(part[:n], "\n")+"\n")
			if err != nil || code != 200 || res.Accepted != int64(n) {
				t.Fatalf("ingest: %d %+v %v", code, res, err)
			}
			part = part[n:]
		}
	}
	processed := func(p *proc, n int) {
		var ov struct {
			Records int64 `json:"records_processed"`
			Warm    bool  `json:"warm"`
		}
		deadline := time.Now().Add(3 * time.Minute)
		for time.Now().Before(deadline) {
			p.get(t, "/api/v1/overview", admin, &ov)
			if ov.Warm && ov.Records >= int64(n) {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("the server processed %d of %d records", ov.Records, n)
	}
	stop := func(p *proc) {
		if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := p.cmd.Wait(); err != nil {
			t.Fatalf("shutdown: %v", err)
		}
	}
	send(p, lines[:split])
	processed(p, split)
	stop(p)
	p = startServe(t, bin, dir)
	send(p, lines[split:])
	processed(p, len(lines))
	stop(p)

	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "palisade.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	var stored []model.Alert
	cursor := ""
	for {
		page, err := st.ListAlerts(context.Background(), store.AlertFilter{Limit: 500, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		for _, a := range page.Items {
			stored = append(stored, a.Alert)
		}
		if cursor = page.NextCursor; cursor == "" {
			break
		}
	}
	want, got := alertTable(rep.Alerts), alertTable(stored)
	windowed := 0
	for _, a := range rep.Alerts {
		switch a.Type {
		case "recon.endpoint_spray", "traffic.client_spike", "auth.brute_force":
			windowed++
		}
	}
	if windowed < 3 {
		t.Fatalf("the capture should hold windowed alerts (spray, client spike, brute force): %d", windowed)
	}
	for id, w := range want {
		if g, ok := got[id]; !ok {
			t.Errorf("analyze has %s, serve does not", w)
		} else if g != w {
			t.Errorf("alert differs:\nanalyze: %s\nserve:   %s", w, g)
		}
	}
	for id, g := range got {
		if _, ok := want[id]; !ok {
			t.Errorf("serve has %s, analyze does not", g)
		}
	}
	t.Logf("%d records (restart after %d), %d alerts in both", len(lines), split, len(want))
}

// alertTable renders each alert without its serve-mode state (status) as
// JSON, by id.
func alertTable(list []model.Alert) map[string]string {
	out := map[string]string{}
	for _, a := range list {
		a.Status = ""
		sort.SliceStable(a.Evidence.Samples, func(i, j int) bool { return a.Evidence.Samples[i].Time.Before(a.Evidence.Samples[j].Time) })
		b, _ := json.Marshal(a)
		out[a.ID] = string(b)
	}
	return out
}

func readLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 8<<20)
	for sc.Scan() {
		if l := bytes.TrimSpace(sc.Bytes()); len(l) > 0 {
			out = append(out, string(l))
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}
