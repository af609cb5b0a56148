package ship

import (
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/config"
	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/server"
	"github.com/palisade-sec/palisade/internal/server/wal"
	"github.com/palisade-sec/palisade/internal/source"
	"github.com/palisade-sec/palisade/internal/store/sqlite"
)

// countEngine is a server.Engine that counts records (and can be held).
type countEngine struct {
	hold atomic.Pointer[chan struct{}]
	n    atomic.Int64
}

func (e *countEngine) Ingest(*exchange.Record) {
	if h := e.hold.Load(); h != nil {
		<-*h
	}
	e.n.Add(1)
}
func (e *countEngine) Drain()                         {}
func (e *countEngine) Flush()                         {}
func (e *countEngine) Report(time.Time) *model.Report { return &model.Report{} }
func (e *countEngine) block() func() {
	c := make(chan struct{})
	e.hold.Store(&c)
	return func() { e.hold.Store(nil); close(c) }
}
func line(i int) string {
	return fmt.Sprintf(`{"time":"2026-11-18T14:%02d:%02d.000Z","client":{"ip":"192.0.2.%d"},"request":{"method":"GET","url":"https://api.example.test/items/%d"},"response":{"status":200}}`+"\n", i/60%60, i%60, i%250+1, i)
}

// testServer is a real palisade serve (API, write-ahead log, engine
// goroutine) on a fixed address, which can be stopped and started again
// on the same data directory.
type testServer struct {
	t     *testing.T
	dir   string
	addr  string
	token string
	mod   func(*server.Config)
	eng   *countEngine
	srv   *server.Server
	hs    *http.Server
	st    *sqlite.DB
}

func startServer(t *testing.T, ts *testServer) {
	t.Helper()
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(ts.dir, "palisade.db"))
	if err != nil {
		t.Fatal(err)
	}
	cfg := server.DefaultConfig()
	cfg.Ingest.CheckpointInterval = config.Duration(20 * time.Millisecond)
	if ts.mod != nil {
		ts.mod(&cfg)
	}
	ts.eng = &countEngine{}
	srv, err := server.New(server.Options{DataDir: ts.dir, Config: cfg, Engine: ts.eng, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatal(err)
	}
	if ts.token == "" {
		sec, tk, err := server.NewToken("ingest", "shipper", time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := st.CreateToken(ctx, tk); err != nil {
			t.Fatal(err)
		}
		ts.token = sec
	}
	addr := ts.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var ln net.Listener
	for i := 0; ; i++ {
		if ln, err = net.Listen("tcp", addr); err == nil || i > 50 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	ts.addr = ln.Addr().String()
	ts.hs = &http.Server{Handler: srv.Handler()}
	go ts.hs.Serve(ln)
	ts.srv, ts.st = srv, st
}

func (ts *testServer) stop(t *testing.T) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ts.hs.Shutdown(ctx)
	if err := ts.srv.Close(ctx); err != nil {
		t.Fatal(err)
	}
	ts.st.Close()
}

// walRecords reads every record the server made durable, by URL.
func walRecords(t *testing.T, dir string) map[string]int {
	t.Helper()
	w, _, err := wal.Open(filepath.Join(dir, "wal"), wal.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	segs, err := w.Segments()
	if err != nil || len(segs) == 0 {
		t.Fatalf("segments %v %v", segs, err)
	}
	r := w.NewReader(wal.Pos{Seg: segs[0]})
	defer r.Close()
	out := map[string]int{}
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		p, _, err := r.Next(ctx)
		cancel()
		if err != nil {
			return out
		}
		rec, err := exchange.DecodeRecord(p)
		if err != nil {
			t.Fatal(err)
		}
		out[rec.Request.URL]++
	}
}

func appendLines(t *testing.T, path string, from, to int) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var b strings.Builder
	for i := from; i < to; i++ {
		b.WriteString(line(i))
	}
	if _, err := f.WriteString(b.String()); err != nil {
		t.Fatal(err)
	}
}

// shipper runs `palisade tail --to` in-process: a Tail with a state file
// into a Shipper, until stopped.
type shipper struct {
	cancel context.CancelFunc
	done   chan error
	sh     *Shipper
	tail   *source.Tail
}

func startShipper(t *testing.T, ts *testServer, logPath, state string) *shipper {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	sh, err := New(ctx, Options{URL: "http://" + ts.addr, Token: ts.token, MinBackoff: 20 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
		MaxRetryAfter: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	tl, err := source.NewTail(source.TailOptions{Path: logPath, FromStart: true, StateFile: state, Poll: 10 * time.Millisecond,
		BatchSize: 50, BatchWait: 30 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s := &shipper{cancel: cancel, done: make(chan error, 1), sh: sh, tail: tl}
	go func() { s.done <- tl.Run(ctx, sh) }()
	return s
}

func (s *shipper) stop(t *testing.T) {
	t.Helper()
	s.cancel()
	if err := <-s.done; err != nil && !errors.Is(err, context.Canceled) {
		t.Fatalf("tail: %v", err)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The shipper against a real server: lines appended while the server is
// restarted, while its queue is full (429), and across a restart of the
// shipper itself all arrive; duplicates are bounded by the batches in
// flight at each interruption.
func TestShipperAgainstServer(t *testing.T) {
	dir, logDir := t.TempDir(), t.TempDir()
	logPath, state := filepath.Join(logDir, "access.log"), filepath.Join(logDir, "tail.state")
	ts := &testServer{t: t, dir: dir, mod: func(c *server.Config) { c.Ingest.QueueRecords = 120 }}
	startServer(t, ts)
	sh := startShipper(t, ts, logPath, state)
	total := 0
	push := func(n int) { appendLines(t, logPath, total, total+n); total += n }
	accepted := func() int64 { return sh.sh.Stats().Accepted }

	// 1. Plain shipping.
	push(100)
	waitFor(t, "100 records accepted", func() bool { return accepted() >= 100 })

	// 2. The server restarts while lines keep coming.
	ts.stop(t)
	push(80)
	waitFor(t, "the shipper retrying against the closed port", func() bool { return sh.sh.Stats().Retries >= 2 })
	startServer(t, ts)
	waitFor(t, "records accepted after the server restart", func() bool { return accepted() >= 180 })

	// 3. The engine stalls: the queue fills and the server answers 429
	// with Retry-After; the shipper waits and sends again.
	release := ts.eng.block()
	push(300)
	waitFor(t, "a 429", func() bool { return sh.sh.Stats().LastError != "" && strings.HasPrefix(sh.sh.Stats().LastError, "429") })
	release()
	waitFor(t, "records accepted after the 429", func() bool { return accepted() >= 480 })

	// 4. The shipper restarts (its offset in the state file) while lines
	// keep coming.
	push(50)
	sh.stop(t)
	push(70)
	sh = startShipper(t, ts, logPath, state)
	waitFor(t, "the new shipper to resume from the state file", func() bool { return sh.tail.TailStats().Resumed })
	waitFor(t, "every line of the log delivered", func() bool {
		st := sh.tail.TailStats()
		fi, _ := os.Stat(logPath)
		return st.Line >= int64(total) && st.Offset == fi.Size()
	})
	sh.stop(t)
	ts.stop(t)

	recs := walRecords(t, dir)
	dups := 0
	for i := 0; i < total; i++ {
		n := recs[fmt.Sprintf("https://api.example.test/items/%d", i)]
		if n == 0 {
			t.Errorf("line %d lost", i)
		}
		dups += n - 1
	}
	// At most one batch (50 records) per interruption: the server restart
	// and the shipper restart.
	if dups > 2*50 {
		t.Errorf("%d duplicates, more than the batches in flight", dups)
	}
	t.Logf("%d lines shipped, %d duplicates, stats %+v", total, dups, sh.sh.Stats())
}

// fakeIngest answers ingest requests from a script of responses and
// records the record lines it received.
type fakeIngest struct {
	mu       sync.Mutex
	script   []func(lines []string) (int, string, string) // status, Retry-After, body
	got      [][]string
	requests int
}

func (f *fakeIngest) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	zr, err := gzip.NewReader(r.Body)
	if err != nil {
		http.Error(w, "not gzip", 400)
		return
	}
	b, _ := io.ReadAll(zr)
	lines := strings.Split(strings.TrimSuffix(string(b), "\n"), "\n")
	f.mu.Lock()
	f.requests++
	f.got = append(f.got, lines)
	step := func(l []string) (int, string, string) {
		return 200, "", fmt.Sprintf(`{"accepted":%d,"rejected":0,"errors":[]}`, len(l))
	}
	if len(f.script) > 0 {
		step, f.script = f.script[0], f.script[1:]
	}
	f.mu.Unlock()
	if r.Header.Get("Authorization") != "Bearer tok" {
		http.Error(w, `{"error":"bad token"}`, http.StatusUnauthorized)
		return
	}
	code, ra, body := step(lines)
	if ra != "" {
		w.Header().Set("Retry-After", ra)
	}
	w.WriteHeader(code)
	io.WriteString(w, body)
}

func recs(t *testing.T, n int) []*exchange.Record {
	var out []*exchange.Record
	for i := 0; i < n; i++ {
		r, err := exchange.DecodeRecord([]byte(line(i)))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func TestShipperAnswers(t *testing.T) {
	var slept []time.Duration
	sleepRec := func(_ context.Context, d time.Duration) error { slept = append(slept, d); return nil }
	newShipper := func(f *fakeIngest, o Options) *Shipper {
		srv := httptest.NewServer(f)
		t.Cleanup(srv.Close)
		o.URL, o.Sleep = srv.URL, sleepRec
		if o.Token == "" {
			o.Token = "tok"
		}
		sh, err := New(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		return sh
	}
	// 429 after accepting the first 3 records: only the rest is sent
	// again, after Retry-After.
	slept = nil
	f := &fakeIngest{script: []func([]string) (int, string, string){
		func([]string) (int, string, string) {
			return 429, "7", `{"accepted":3,"rejected":0,"not_accepted":"queue full","resume_record":4}`
		},
	}}
	sh := newShipper(f, Options{MaxRetryAfter: time.Minute})
	if err := sh.Records(recs(t, 10)); err != nil {
		t.Fatal(err)
	}
	if len(f.got) != 2 || len(f.got[1]) != 7 || !strings.Contains(f.got[1][0], "/items/3\"") || len(slept) != 1 || slept[0] != 7*time.Second {
		t.Fatalf("resend %d requests, second %d lines, slept %v", len(f.got), len(f.got[len(f.got)-1]), slept)
	}
	if st := sh.Stats(); st.Accepted != 10 || st.Retries != 1 {
		t.Fatalf("stats %+v", st)
	}
	// 503 without a body, then a 502: backoff grows; Retry-After as an
	// HTTP date is honoured too.
	slept = nil
	f = &fakeIngest{script: []func([]string) (int, string, string){
		func([]string) (int, string, string) {
			return 503, time.Now().Add(3 * time.Second).UTC().Format(http.TimeFormat), `{"error":"shutting down"}`
		},
		func([]string) (int, string, string) { return 502, "", "bad gateway" },
	}}
	sh = newShipper(f, Options{MinBackoff: 100 * time.Millisecond})
	if err := sh.Records(recs(t, 4)); err != nil {
		t.Fatal(err)
	}
	if len(f.got) != 3 || len(slept) != 2 || slept[0] < 2*time.Second || slept[1] < 160*time.Millisecond {
		t.Fatalf("%d requests, slept %v", len(f.got), slept)
	}
	// 413: the batch is split until the halves fit.
	f = &fakeIngest{script: []func([]string) (int, string, string){
		func([]string) (int, string, string) { return 413, "", `{"not_accepted":"too large","resume_record":1}` },
	}}
	sh = newShipper(f, Options{})
	if err := sh.Records(recs(t, 8)); err != nil {
		t.Fatal(err)
	}
	if len(f.got) != 3 || len(f.got[1]) != 4 || len(f.got[2]) != 4 || sh.Stats().Accepted != 8 {
		t.Fatalf("split: %d requests, stats %+v", len(f.got), sh.Stats())
	}
	// Every record invalid (422): counted, not sent again.
	f = &fakeIngest{script: []func([]string) (int, string, string){
		func(l []string) (int, string, string) {
			return 422, "", fmt.Sprintf(`{"accepted":0,"rejected":%d,"not_accepted":"every record was rejected","errors":[{"line":1,"field":"client.ip","message":"bad"}]}`, len(l))
		},
	}}
	sh = newShipper(f, Options{})
	if err := sh.Records(recs(t, 3)); err != nil || len(f.got) != 1 || sh.Stats().Rejected != 3 {
		t.Fatalf("422: %v, %d requests, stats %+v", err, len(f.got), sh.Stats())
	}
	// A wrong token stops the shipper with an error that says so.
	sh = newShipper(&fakeIngest{}, Options{Token: "wrong"})
	err := sh.Records(recs(t, 1))
	var pe *PermanentError
	if !errors.As(err, &pe) || pe.Status != http.StatusUnauthorized || !strings.Contains(err.Error(), "check the token") {
		t.Fatalf("401: %v", err)
	}
	// MaxBatchBytes splits before sending.
	f = &fakeIngest{}
	sh = newShipper(f, Options{MaxBatchBytes: 400})
	if err := sh.Records(recs(t, 5)); err != nil || len(f.got) < 3 {
		t.Fatalf("%v, %d requests", err, len(f.got))
	}
	// Stopping while waiting refuses the batch (nothing committed).
	ctx, cancel := context.WithCancel(context.Background())
	srv := httptest.NewServer(&fakeIngest{script: []func([]string) (int, string, string){
		func([]string) (int, string, string) { cancel(); return 503, "1", "{}" },
	}})
	defer srv.Close()
	sh, _ = New(ctx, Options{URL: srv.URL, Token: "tok"})
	if err := sh.Records(recs(t, 2)); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}

func TestIngestURLAndRetryAfter(t *testing.T) {
	for in, want := range map[string]string{
		"http://h:8080":                    "http://h:8080/api/v1/ingest",
		"https://h/":                       "https://h/api/v1/ingest",
		"https://h/palisade/api/v1/ingest": "https://h/palisade/api/v1/ingest",
	} {
		if got, err := IngestURL(in); err != nil || got != want {
			t.Errorf("%s: %q %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "h:8080", "ftp://h", "http://"} {
		if _, err := IngestURL(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	now := time.Date(2026, 11, 18, 10, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{"5": 5 * time.Second, "": 0, "x": 0, "-3": 0,
		now.Add(90 * time.Second).Format(http.TimeFormat): 90 * time.Second, now.Add(-time.Hour).Format(http.TimeFormat): 0} {
		if got := parseRetryAfter(v, now); got != want {
			t.Errorf("%q: %v", v, got)
		}
	}
}

// FuzzAnswer: whatever a server (or something else at its URL) answers
// first, the shipper does not panic, and it is done once the server
// accepts (a few requests at most: a 413 splits the two records).
func FuzzAnswer(f *testing.F) {
	f.Add(200, "", `{"accepted":2}`)
	f.Add(429, "1", `{"resume_record":99}`)
	f.Add(413, "", `{"resume_record":-4}`)
	f.Add(500, "soon", "<html>")
	f.Fuzz(func(t *testing.T, code int, ra, body string) {
		if code < 200 || code > 599 {
			return
		}
		calls := 0
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			calls++
			if calls > 1 {
				io.WriteString(w, `{"accepted":0}`)
				return
			}
			w.Header().Set("Retry-After", ra)
			w.WriteHeader(code)
			io.WriteString(w, body)
		}))
		defer srv.Close()
		sh, _ := New(context.Background(), Options{URL: srv.URL, Token: "t", Sleep: func(context.Context, time.Duration) error { return nil }})
		err := sh.Records(recs(t, 2))
		var pe *PermanentError
		if calls > 3 || err != nil && !errors.As(err, &pe) {
			t.Fatalf("%d requests, error %v", calls, err)
		}
	})
}
