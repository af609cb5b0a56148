package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/sim"
	"github.com/palisade-sec/palisade/internal/store/postgres/pgtest"
	"github.com/palisade-sec/palisade/internal/store/storeopen"
)

// The cluster test runs a clustered deployment as separate processes: three
// NATS servers (built from the pinned nats-server/v2 module), two analysis
// workers, one ingest and one API process of the real binary over a shared
// store. It posts a simulated capture with attacks, kills (SIGKILL) one
// worker and one NATS server in the middle, and checks that no acknowledged
// record is lost, that the survivor takes every partition over within a
// bounded time, and that the alerts and the inventory the API serves equal
// `palisade analyze`'s on the same capture.

// startProc starts a child process for the test (killed at its end).
func startProc(t *testing.T, dir, name, bin string, args ...string) *child {
	t.Helper()
	c, err := startChild(dir, name, bin, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.kill)
	return c
}

func waitURL(t *testing.T, c *child) string {
	t.Helper()
	u, err := c.waitURL(90 * time.Second)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func freePorts(t *testing.T, n int) []int {
	var out []int
	var ls []net.Listener
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		ls = append(ls, l)
		out = append(out, l.Addr().(*net.TCPAddr).Port)
	}
	for _, l := range ls {
		l.Close()
	}
	return out
}

func waitPort(t *testing.T, port int, c *child) {
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		conn, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second)
		if err == nil {
			conn.Close()
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	b, _ := os.ReadFile(c.log)
	t.Fatalf("%s does not listen on %d:\n%s", c.name, port, b)
}

func getJSON(t *testing.T, c apiClient, path string, v any) {
	t.Helper()
	if err := c.getJSON(path, v); err != nil {
		t.Fatal(err)
	}
}

func TestClusterProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a cluster of processes")
	}
	dir := t.TempDir()
	if d := os.Getenv("PALISADE_CLUSTER_DIR"); d != "" {
		dir = d // keep the logs
	}
	natsBin := filepath.Join(dir, "nats-server")
	if out, err := exec.Command("go", "build", "-o", natsBin, "github.com/nats-io/nats-server/v2").CombinedOutput(); err != nil {
		t.Fatalf("building nats-server from the module: %v\n%s", err, out)
	}
	ports := freePorts(t, 6)
	var routes []string
	for i := 0; i < 3; i++ {
		routes = append(routes, fmt.Sprintf("nats://127.0.0.1:%d", ports[3+i]))
	}
	var nats []*child
	var urls []string
	for i := 0; i < 3; i++ {
		conf := filepath.Join(dir, fmt.Sprintf("n%d.conf", i+1))
		os.WriteFile(conf, []byte(fmt.Sprintf(`server_name: n%d
listen: 127.0.0.1:%d
jetstream { store_dir: %q }
cluster { name: palisade-test, listen: 127.0.0.1:%d, routes: [%s] }
`, i+1, ports[i], filepath.Join(dir, fmt.Sprintf("js%d", i+1)), ports[3+i], strings.Join(routes, ", "))), 0o644)
		nats = append(nats, startProc(t, dir, fmt.Sprintf("nats%d", i+1), natsBin, "-c", conf))
		urls = append(urls, fmt.Sprintf("nats://127.0.0.1:%d", ports[i]))
	}
	for i, p := range nats {
		waitPort(t, ports[i], p)
	}

	// The capture and analyze's report on it.
	sc := sim.DefaultConfig()
	sc.Duration, sc.Scale = 12*time.Hour, 0.2
	var lines [][]byte
	if _, err := sim.Generate(sc, func(r *exchange.Record) error {
		b, err := exchange.MarshalRecord(r)
		lines = append(lines, b)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	capture := filepath.Join(dir, "capture.ndjson")
	os.WriteFile(capture, append(bytes.Join(lines, []byte("\n")), '\n'), 0o644)
	// One identity key for analyze and the cluster, so that identity
	// pseudonyms (and the alert ids built on them) compare.
	keyFile, confFile := filepath.Join(dir, "identity.key"), filepath.Join(dir, "palisade.yaml")
	os.WriteFile(keyFile, bytes.Repeat([]byte("k"), 32), 0o600)
	os.WriteFile(confFile, []byte("identity:\n  key_file: "+keyFile+"\n"), 0o644)
	wantFile := filepath.Join(dir, "want.json")
	if _, stderr, code := run(t, nil, "analyze", "--config", confFile, capture, "--report", wantFile); code != 0 {
		t.Fatalf("analyze: %d %s", code, stderr)
	}
	var want model.Report
	b, _ := os.ReadFile(wantFile)
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}

	// The shared store: PostgreSQL under CI=true when the test database
	// is given (.ci/run starts PostgreSQL), else a SQLite file shared by
	// the processes of this machine.
	storeSpec, storeKind := "sqlite://"+filepath.Join(dir, "store", "palisade.db"), "SQLite file"
	if os.Getenv(pgtest.Env) != "" && os.Getenv("CI") == "true" {
		storeSpec, storeKind = pgtest.Schema(t), "PostgreSQL"
	}
	t.Logf("store: %s (%s)", storeKind, storeopen.Redact(storeSpec))
	token := func(role string) string {
		out, stderr, code := run(t, nil, "token", "create", "--store", storeSpec, "--role", role)
		if code != 0 {
			t.Fatalf("token create: %d %s", code, stderr)
		}
		return strings.TrimSpace(out)
	}
	common := []string{"serve", "--config", confFile, "--bus", strings.Join(urls, ","), "--store", storeSpec, "--listen", "127.0.0.1:0",
		"--cluster", "partitions=4", "--cluster", "replicas=3", "--cluster", "pinned_ttl=2s", "--cluster", "member_ttl=2s",
		"--cluster", "checkpoint_interval=1s", "--cluster", "report_interval=300ms", "--cluster", "idle=4s", "--cluster", "max_age=1h"}
	serve := func(name, roles string) *child {
		args := append(append([]string(nil), common...), "--roles", roles, "--data", filepath.Join(dir, name))
		return startProc(t, dir, name, binPath, args...)
	}
	// The API process first: it creates the store (token create needs an
	// existing one) before the others open it.
	api := serve("api", "api")
	apiURL := waitURL(t, api)
	ingestTok, adminTok := token("ingest"), token("admin")
	w1, w2 := serve("worker1", "analyze"), serve("worker2", "analyze")
	ing := serve("ingest", "ingest")
	apiC := apiClient{apiURL, adminTok}
	wc := []apiClient{{waitURL(t, w1), adminTok}, {waitURL(t, w2), adminTok}}
	ingC := apiClient{waitURL(t, ing), ingestTok}

	// Post the capture in batches; a batch that fails is sent again whole
	// with the same Idempotency-Key (the bus drops what it already has).
	const batch = 400
	var accepted int64
	var killAt time.Time
	var victim, survivor int
	for i, n := 0, 0; i < len(lines); i, n = i+batch, n+1 {
		body := append(bytes.Join(lines[i:min(i+batch, len(lines))], []byte("\n")), '\n')
		for attempt := 0; ; attempt++ {
			got, retry, err := ingC.postIngest(body, fmt.Sprintf("batch-%d", n))
			if err == nil {
				accepted += got
				break
			}
			if retry == 0 || attempt > 60 {
				t.Fatalf("batch %d not accepted: %v", n, err)
			}
			time.Sleep(min(retry, time.Second))
		}
		if killAt.IsZero() && i >= len(lines)*2/5 {
			// kill -9 the worker that owns more partitions, and a NATS
			// server.
			o0, o1 := wc[0].metric("palisade_cluster_partitions_owned"), wc[1].metric("palisade_cluster_partitions_owned")
			victim, survivor = 0, 1
			if o1 > o0 {
				victim, survivor = 1, 0
			}
			t.Logf("at record %d: killing worker%d (owns %v partitions; the other %v) and nats2", i, victim+1, max(o0, o1), min(o0, o1))
			[]*child{w1, w2}[victim].kill()
			nats[1].kill()
			killAt = time.Now()
		}
	}
	if accepted != int64(len(lines)) {
		t.Fatalf("accepted %d of %d records", accepted, len(lines))
	}
	// Failover: the survivor owns every partition (4 endpoint + 1
	// population).
	var failover time.Duration
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if wc[survivor].metric("palisade_cluster_partitions_owned") == 5 {
			failover = time.Since(killAt)
			break
		}
	}
	if failover == 0 {
		t.Fatalf("the surviving worker does not own every partition 60 s after the kill")
	}
	t.Logf("failover: the survivor owned all 5 partitions %v after the kill (the ingest of the rest of the capture ran meanwhile)", failover.Round(time.Millisecond))

	// Wait for the merged state to cover every record and settle.
	var ov struct {
		Records int64 `json:"records_processed"`
	}
	// The population stage follows the endpoint partitions (it waits for
	// their watermarks, and replays after the failover): its alerts may
	// come after the endpoint partitions' have settled. Settled: every
	// record counted, as many alerts as analyze's, unchanged for 4 s.
	var alerts []model.Alert
	stable, last := 0, ""
	settleStart := time.Now()
	// 240 s: on a 2-core machine running other test packages beside it,
	// settling has taken up to a minute.
	deadline := settleStart.Add(240 * time.Second)
	for ; time.Now().Before(deadline) && stable < 4; time.Sleep(time.Second) {
		getJSON(t, apiC, "/api/v1/overview", &ov)
		if ov.Records != int64(len(lines)) {
			stable = 0
			continue
		}
		alerts = listAlerts(t, apiC)
		sig := alertSig(alerts)
		if sig == last && len(alerts) == len(want.Alerts) {
			stable++
		} else {
			stable, last = 0, sig
		}
	}
	t.Logf("merged state settled %v after the last record was accepted", time.Since(settleStart).Round(time.Second))
	if ov.Records != int64(len(lines)) {
		t.Errorf("records processed %d, accepted %d: acknowledged records lost or counted twice", ov.Records, len(lines))
		for _, c := range []*child{api, w1, w2, ing} {
			t.Logf("%s's warnings and errors:\n%s", c.name, warnings(c.log, 60))
		}
		// The goroutines of the processes still running, in their logs
		// (SIGQUIT: Go prints every stack and exits).
		for _, c := range []*child{w1, w2, api, ing} {
			c.signal(syscall.SIGQUIT, 10*time.Second)
			t.Logf("%s's goroutines (if it was running) are in %s", c.name, c.log)
		}
		t.FailNow()
	}
	t.Logf("records: %d accepted, %d analyzed (0 lost)", accepted, ov.Records)

	// Alerts: the same identities, first seen and counts as analyze.
	got := map[string]model.Alert{}
	for _, a := range alerts {
		got[a.ID] = a
	}
	for _, w := range want.Alerts {
		g, ok := got[w.ID]
		if !ok {
			t.Errorf("alert missing: %s %s %s", w.Type, w.Subject, w.ID)
			continue
		}
		if g.Type != w.Type || g.Subject != w.Subject || refKey(g.Endpoint) != refKey(w.Endpoint) || !g.FirstSeen.Equal(w.FirstSeen) ||
			g.Count != w.Count || !g.LastSeen.Equal(w.LastSeen) {
			t.Errorf("alert %s differs: got %s %s %s first %v count %d; want %s first %v count %d", w.ID, g.Type, g.Subject, refKey(g.Endpoint),
				g.FirstSeen, g.Count, refKey(w.Endpoint), w.FirstSeen, w.Count)
		}
		delete(got, w.ID)
	}
	for _, a := range got {
		t.Errorf("extra alert: %s %s %s", a.Type, a.Subject, a.ID)
	}
	// Inventory: the same endpoints with the same request counts. The
	// merged inventory follows the partitions' snapshots, which may land
	// after the alerts settled (measured once on a loaded machine: a few
	// requests short on 6 endpoints when first read): it must converge.
	var eps []model.Endpoint
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(time.Second) {
		eps = listAll[model.Endpoint](t, apiC, "/api/v1/endpoints")
		if endpointSig(eps) == endpointSig(want.Endpoints) || time.Now().After(deadline) {
			break
		}
	}
	if a, b := endpointSig(eps), endpointSig(want.Endpoints); a != b {
		t.Errorf("inventory differs 60 s after the alerts settled:\n got %s\nwant %s", a, b)
	}
	t.Logf("%d alerts and %d endpoints equal to analyze's", len(want.Alerts), len(want.Endpoints))

	// Readiness: the API process serves the merged report's (the merger
	// keeps it in the store), the same detectors in the same states as
	// analyze's report.
	var rd struct {
		Ready, Partial, Learning int
		Detectors                []model.DetectorReadiness
	}
	getJSON(t, apiC, "/api/v1/detectors", &rd)
	wantRd := model.GroupReadiness(want.Readiness)
	if len(rd.Detectors) == 0 || len(rd.Detectors) != len(wantRd) {
		t.Errorf("detectors: %d served by the API process, analyze's report has %d", len(rd.Detectors), len(wantRd))
	}
	for i := range min(len(rd.Detectors), len(wantRd)) {
		if g, w := rd.Detectors[i], wantRd[i]; g.Detector != w.Detector || g.State != w.State {
			t.Errorf("detector %d: %s %s, analyze's %s %s", i, g.Detector, g.State, w.Detector, w.State)
		}
	}

	// The attacker view: the population stage's per-subject summaries
	// reached the store; every inbound request with a client address is
	// counted once in its address's summary.
	var wantReq int64
	wantClients := map[string]bool{}
	for _, l := range lines {
		r, err := exchange.DecodeRecord(l)
		if err != nil {
			t.Fatal(err)
		}
		if !r.IsOutbound() && r.Client.IP != "" {
			wantReq++
			wantClients[r.Client.IP] = true
		}
	}
	// The population stage follows the endpoint partitions (watermarks)
	// and its summaries reach the store with the merges after: wait.
	var clients, gotReq int64
	start := time.Now()
	for deadline := start.Add(60 * time.Second); ; time.Sleep(time.Second) {
		clients, gotReq = 0, 0
		for cursor := ""; ; {
			var page struct {
				Items []struct {
					Requests int64 `json:"requests"`
				} `json:"items"`
				Next string `json:"next_cursor"`
			}
			getJSON(t, apiC, "/api/v1/subjects?kind=client&limit=500&cursor="+cursor, &page)
			for _, it := range page.Items {
				clients++
				gotReq += it.Requests
			}
			if cursor = page.Next; cursor == "" {
				break
			}
		}
		if gotReq == wantReq || time.Now().After(deadline) {
			break
		}
	}
	// Every client has its summary, and every request is counted once
	// across the failover (they came out short before the population
	// stage took each partition's messages in order: docs/cluster.md).
	if clients != int64(len(wantClients)) || gotReq != wantReq {
		t.Errorf("client subjects: %d summaries counting %d requests, want %d counting %d", clients, gotReq, len(wantClients), wantReq)
	}
	t.Logf("attacker view: %d client summaries counting %d requests of %d (%v after the alerts settled)", clients, gotReq, wantReq, time.Since(start).Round(time.Second))

	// The store's password never reaches a log (the API process's first
	// start prints how to create tokens with --store).
	if u, err := url.Parse(storeSpec); err == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			for _, c := range []*child{api, w1, w2, ing} {
				if b, _ := os.ReadFile(c.log); bytes.Contains(b, []byte(pw)) {
					t.Errorf("%s's log holds the store's password", c.name)
				}
			}
		}
	}
}

// warnings returns the last n warning and error lines of a process log.
func warnings(log string, n int) string {
	b, _ := os.ReadFile(log)
	var out []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, "level=WARN") || strings.Contains(l, "level=ERROR") || strings.Contains(l, "panic") {
			out = append(out, l)
		}
	}
	return strings.Join(out[max(0, len(out)-n):], "\n")
}

func refKey(r *model.EndpointRef) string {
	if r == nil {
		return ""
	}
	return r.Key()
}

func listAlerts(t *testing.T, c apiClient) []model.Alert {
	return listAll[model.Alert](t, c, "/api/v1/alerts")
}

// listAll reads every page of a list endpoint of the API.
func listAll[T any](t *testing.T, c apiClient, path string) []T {
	var out []T
	for cursor := ""; ; {
		var page struct {
			Items []T    `json:"items"`
			Next  string `json:"next_cursor"`
		}
		getJSON(t, c, path+"?limit=500&cursor="+cursor, &page)
		out = append(out, page.Items...)
		if cursor = page.Next; cursor == "" {
			return out
		}
	}
}

func alertSig(as []model.Alert) string {
	var s []string
	for _, a := range as {
		s = append(s, fmt.Sprintf("%s:%d:%d", a.ID, a.Count, a.LastSeen.UnixNano()))
	}
	sort.Strings(s)
	return strings.Join(s, ",")
}

func endpointSig(eps []model.Endpoint) string {
	var s []string
	for _, e := range eps {
		s = append(s, fmt.Sprintf("%s=%d", e.Ref().Key(), e.Requests))
	}
	sort.Strings(s)
	return strings.Join(s, " ")
}
