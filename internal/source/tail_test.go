package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/exchange"
)

func exLine(i int) string {
	return fmt.Sprintf(`{"time":"2026-11-18T14:03:%02d.000Z","client":{"ip":"192.0.2.%d"},"request":{"method":"GET","url":"https://api.example.test/items/%d"},"response":{"status":200}}`+"\n", i%60, i%250+1, i)
}

type collector struct {
	mu      sync.Mutex
	urls    []string
	rejects []*exchange.RecordError
}

func (c *collector) Records(rs []*exchange.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, r := range rs {
		c.urls = append(c.urls, strings.TrimPrefix(r.Request.URL, "https://api.example.test"))
	}
	return nil
}
func (c *collector) Reject(e *exchange.RecordError) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rejects = append(c.rejects, e)
}
func (c *collector) Drop(string, int64) {}
func (c *collector) got() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := strings.Join(c.urls, " ")
	c.urls = nil
	return s
}

func appendFile(t *testing.T, path, s string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.WriteString(s); err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func newTail(t *testing.T, o TailOptions, c *collector) *Tail {
	t.Helper()
	tl, err := NewTail(o)
	if err != nil {
		t.Fatal(err)
	}
	tl.sink = c
	return tl
}

func poll(t *testing.T, tl *Tail) {
	t.Helper()
	if err := tl.Poll(tl.sink); err != nil {
		t.Fatal(err)
	}
}

func expect(t *testing.T, c *collector, want string) {
	t.Helper()
	if got := c.got(); got != want {
		t.Fatalf("records %q, want %q", got, want)
	}
}

func TestTailStartsAtEndOrStart(t *testing.T) {
	for _, fromStart := range []bool{false, true} {
		dir := t.TempDir()
		path := filepath.Join(dir, "access.log")
		appendFile(t, path, exLine(1)+exLine(2))
		c := &collector{}
		tl := newTail(t, TailOptions{Path: path, FromStart: fromStart}, c)
		poll(t, tl)
		if fromStart {
			expect(t, c, "/items/1 /items/2")
		} else {
			expect(t, c, "")
		}
		appendFile(t, path, exLine(3))
		poll(t, tl)
		expect(t, c, "/items/3")
	}
}

func TestTailPartialLineAndMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "later.log")
	c := &collector{}
	tl := newTail(t, TailOptions{Path: path}, c)
	poll(t, tl) // the file does not exist yet: wait
	line := exLine(4)
	appendFile(t, path, line[:30])
	poll(t, tl) // a file that appears later is read from its start
	expect(t, c, "")
	appendFile(t, path, line[30:])
	poll(t, tl)
	expect(t, c, "/items/4")
	appendFile(t, path, strings.TrimSuffix(exLine(5), "\n"))
	poll(t, tl)
	expect(t, c, "")
	tl.FlushPartial() // one-shot conversion: the unterminated line counts
	expect(t, c, "/items/5")
	line += exLine(5)[:len(exLine(5))-1]
	if st := tl.TailStats(); st.Offset != int64(len(line)) || st.Line != 2 {
		t.Fatalf("stats %+v", st)
	}
}

func TestTailRotation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	old := path + ".1"
	appendFile(t, path, exLine(1))
	c := &collector{}
	// Grace of 3 polls.
	tl := newTail(t, TailOptions{Path: path, FromStart: true, Poll: time.Second, RotateGrace: 3 * time.Second}, c)
	poll(t, tl)
	expect(t, c, "/items/1")
	// logrotate "create": rename; the writer keeps appending to the old
	// file until it reopens its log.
	if err := os.Rename(path, old); err != nil {
		t.Fatal(err)
	}
	line3 := exLine(3)
	appendFile(t, old, exLine(2)+line3[:20])
	poll(t, tl) // no new file yet: keep reading the old one
	expect(t, c, "/items/2")
	appendFile(t, path, exLine(10)+exLine(11))
	poll(t, tl) // rotation noticed; grace poll 1 of 3 starts next time
	expect(t, c, "/items/10 /items/11")
	appendFile(t, old, line3[20:]+exLine(4)) // late writes to the old file
	appendFile(t, path, exLine(12))
	poll(t, tl)
	expect(t, c, "/items/3 /items/4 /items/12")
	appendFile(t, old, strings.TrimSuffix(exLine(5), "\n")) // unterminated last line
	poll(t, tl)
	expect(t, c, "")
	poll(t, tl) // grace over: the last line is taken as is, the file closed
	expect(t, c, "/items/5")
	appendFile(t, old, exLine(6))
	poll(t, tl)
	expect(t, c, "")
	if st := tl.TailStats(); st.Rotations != 1 || st.Line != 3 || st.Records != 8 {
		t.Fatalf("stats %+v", st)
	}
	tl.Close()
}

// Close during the grace period still reads what the old file got.
func TestTailCloseDrainsRotated(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	appendFile(t, path, exLine(1))
	c := &collector{}
	tl := newTail(t, TailOptions{Path: path, FromStart: true}, c)
	poll(t, tl)
	os.Rename(path, path+".1")
	appendFile(t, path, exLine(2))
	poll(t, tl)
	expect(t, c, "/items/1 /items/2")
	appendFile(t, path+".1", exLine(3))
	tl.Close()
	expect(t, c, "/items/3")
}

func TestTailTruncation(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	appendFile(t, path, exLine(1)+exLine(2)+exLine(3))
	c := &collector{}
	tl := newTail(t, TailOptions{Path: path, FromStart: true}, c)
	poll(t, tl)
	expect(t, c, "/items/1 /items/2 /items/3")
	// copytruncate: the file shrinks to 0, then gets new lines.
	if err := os.Truncate(path, 0); err != nil {
		t.Fatal(err)
	}
	appendFile(t, path, exLine(20))
	poll(t, tl)
	expect(t, c, "/items/20")
	// Truncated and refilled past the old offset between two polls: caught
	// by the fingerprint of the first bytes.
	if err := os.WriteFile(path, []byte(exLine(30)+exLine(31)+exLine(32)+exLine(33)), 0o644); err != nil {
		t.Fatal(err)
	}
	poll(t, tl)
	expect(t, c, "/items/30 /items/31 /items/32 /items/33")
	if st := tl.TailStats(); st.Truncations != 2 || st.Rotations != 0 {
		t.Fatalf("stats %+v", st)
	}
}

func TestTailStateFileResumes(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	state := filepath.Join(dir, "tail.state")
	appendFile(t, path, exLine(1)+exLine(2))
	c := &collector{}
	tl := newTail(t, TailOptions{Path: path, FromStart: true, StateFile: state}, c)
	poll(t, tl)
	expect(t, c, "/items/1 /items/2")
	// Restart: lines written while down are read, old ones are not.
	appendFile(t, path, exLine(3))
	tl2 := newTail(t, TailOptions{Path: path, FromStart: true, StateFile: state}, c)
	poll(t, tl2)
	expect(t, c, "/items/3")
	if st := tl2.TailStats(); !st.Resumed || st.Line != 3 {
		t.Fatalf("stats %+v", st)
	}
	// Restart after a rotation while down: the state describes another
	// file, so the new file is read from its start.
	os.Rename(path, path+".1")
	appendFile(t, path, exLine(40))
	tl3 := newTail(t, TailOptions{Path: path, StateFile: state}, c)
	poll(t, tl3)
	expect(t, c, "/items/40")
	if st := tl3.TailStats(); st.Resumed {
		t.Fatalf("resumed on a different file: %+v", st)
	}
}

func TestTailRejectsWithLineNumbers(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	long := `{"pad":"` + strings.Repeat("x", 300) + `"}` + "\n"
	appendFile(t, path, exLine(1)+"\n"+`{"time":"2026-11-18T14:03:22Z","client":{"ip":"999.1.1.1"},"request":{"method":"GET","url":"https://h/"},"response":{"status":200}}`+"\n"+long+"garbage\n"+exLine(2))
	c := &collector{}
	tl := newTail(t, TailOptions{Path: path, FromStart: true, MaxLine: 200}, c)
	poll(t, tl)
	expect(t, c, "/items/1 /items/2")
	var got []string
	for _, e := range c.rejects {
		got = append(got, fmt.Sprintf("%d:%s", e.Line, e.Field))
	}
	if strings.Join(got, " ") != "3:client.ip 4: 5:" {
		t.Fatalf("rejects %q (%v)", got, c.rejects)
	}
	if !strings.Contains(c.rejects[1].Error(), "longer than 200 bytes") || !strings.Contains(c.rejects[0].Error(), path+":3: field client.ip") {
		t.Fatalf("messages: %v / %v", c.rejects[0], c.rejects[1])
	}
	if st := tl.TailStats(); st.Rejected != 3 || st.Records != 2 || st.Line != 6 {
		t.Fatalf("stats %+v", st)
	}
}

func TestTailRunNGINX(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nginx.log")
	appendFile(t, path, "")
	c := &collector{}
	tl := newTail(t, TailOptions{Path: path, Format: FormatNGINX, Poll: 5 * time.Millisecond}, c)
	poll(t, tl) // positioned at the (empty) end before Run starts
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- tl.Run(ctx, c) }()
	data, _ := os.ReadFile(filepath.Join("testdata", "nginx.log"))
	appendFile(t, path, string(data))
	deadline := time.Now().Add(5 * time.Second)
	for tl.TailStats().Line < 12 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st := tl.TailStats(); st.Records != 4 || st.Rejected != 8 {
		t.Fatalf("stats %+v: want the 4 valid and 8 rejected lines of testdata/nginx.log", st)
	}
}

func TestNewTailErrors(t *testing.T) {
	for _, o := range []TailOptions{{}, {Path: "x", Format: "csv"}} {
		if _, err := NewTail(o); err == nil {
			t.Errorf("%+v accepted", o)
		}
	}
}

func TestTailStateFileErrors(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	appendFile(t, path, exLine(1))
	state := filepath.Join(dir, "state")
	for content, want := range map[string]string{
		"{oops": "not valid JSON",
		`{"path":"/var/log/other.log","fingerprint":"` + strings.Repeat("a", 64) + `","fingerprint_len":10,"offset":5,"line":1}`: `belongs to "/var/log/other.log"`,
		`{"path":"` + path + `","fingerprint":"x","fingerprint_len":10,"offset":-5,"line":1}`:                                    "out of range",
	} {
		os.WriteFile(state, []byte(content), 0o644)
		c := &collector{}
		tl := newTail(t, TailOptions{Path: path, StateFile: state}, c)
		err := tl.Poll(c)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("state %q: error %v, want %q", content, err, want)
		}
		if got := c.got(); got != "" {
			t.Errorf("state %q: read %q despite the bad state file", content, got)
		}
	}
}

// The offset is committed only once the sink took the records: a sink
// that refuses stops the tail, and a restart reads those lines again.
func TestTailCommitsOnlyWhatTheSinkTook(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	state := filepath.Join(dir, "state.json")
	appendFile(t, path, exLine(1)+exLine(2))
	c := &collector{}
	tl := newTail(t, TailOptions{Path: path, FromStart: true, StateFile: state}, c)
	poll(t, tl)
	expect(t, c, "/items/1 /items/2")
	appendFile(t, path, exLine(3)+exLine(4))
	refusing := &eventSink{refuse: errors.New("server unreachable")}
	if err := tl.Poll(refusing); err == nil || !strings.Contains(err.Error(), "server unreachable") {
		t.Fatalf("refusal: %v", err)
	}
	if err := tl.Poll(c); err == nil {
		t.Fatal("a tail whose sink refused goes on")
	}
	tl.Close()
	c2 := &collector{}
	tl2 := newTail(t, TailOptions{Path: path, StateFile: state}, c2)
	poll(t, tl2)
	expect(t, c2, "/items/3 /items/4")
	if st := tl2.TailStats(); !st.Resumed {
		t.Fatalf("stats %+v", st)
	}
}

// With BatchWait, records wait across polls until the batch is full or
// old enough; the offset is committed when they are delivered.
func TestTailBatchWait(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	state := filepath.Join(dir, "state.json")
	appendFile(t, path, "")
	c := &collector{}
	tl := newTail(t, TailOptions{Path: path, StateFile: state, BatchWait: time.Hour, BatchSize: 3}, c)
	poll(t, tl)
	appendFile(t, path, exLine(1)+exLine(2))
	poll(t, tl)
	expect(t, c, "")
	if b, _ := os.ReadFile(state); strings.Contains(string(b), `"line":2`) {
		t.Fatalf("offset committed past records not delivered: %s", b)
	}
	appendFile(t, path, exLine(3))
	poll(t, tl)
	expect(t, c, "/items/1 /items/2 /items/3")
	if b, _ := os.ReadFile(state); !strings.Contains(string(b), `"line":3`) {
		t.Fatalf("offset not committed after delivery: %s", b)
	}
	// Old enough: delivered although the batch is not full.
	tl.o.BatchWait = time.Millisecond
	appendFile(t, path, exLine(4))
	poll(t, tl)
	time.Sleep(5 * time.Millisecond)
	poll(t, tl)
	expect(t, c, "/items/4")
}

// Once reads the whole file, its unterminated last line included, and
// returns.
func TestTailOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	appendFile(t, path, exLine(1)+"junk\n"+strings.TrimSuffix(exLine(2), "\n"))
	tl, err := NewTail(TailOptions{Path: path, Once: true})
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{}
	if err := tl.Run(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	expect(t, c, "/items/1 /items/2")
	if st := tl.Stats(); st.Records != 2 || st.Rejected != 1 || len(c.rejects) != 1 || c.rejects[0].Line != 2 {
		t.Fatalf("stats %+v rejects %v", st, c.rejects)
	}
	tl, _ = NewTail(TailOptions{Path: path + ".missing", Once: true})
	if err := tl.Run(context.Background(), c); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing file: %v", err)
	}
}

// FuzzTail: lines arriving in arbitrary pieces between polls are read as
// the same records and rejections as the whole file read once.
func FuzzTail(f *testing.F) {
	f.Add([]byte(exLine(1)+"junk\n"+exLine(2)), []byte{5, 80, 1}, uint8(0))
	f.Add([]byte(`{"remote_addr":"192.0.2.1","request":"GET / HTTP/1.1","status":"200","time_iso8601":"2026-11-18T10:00:00+00:00","host":"a"}`+"\n"), []byte{7}, uint8(1))
	f.Add([]byte(`{"start_time":"2026-11-18T10:00:00Z","method":"GET","path":"/x","authority":"a","response_code":200,"downstream_remote_address":"192.0.2.9:1"}`+"\n\n"), []byte{}, uint8(2))
	f.Fuzz(func(t *testing.T, data, chunks []byte, format uint8) {
		fm := []Format{FormatNDJSON, FormatNGINX, FormatEnvoy}[int(format)%3]
		dir := t.TempDir()
		whole := filepath.Join(dir, "whole.log")
		os.WriteFile(whole, data, 0o644)
		wt, err := NewTail(TailOptions{Path: whole, Format: fm, Once: true, MaxLine: 200})
		if err != nil {
			t.Fatal(err)
		}
		want := &Collect{}
		if err := wt.Run(context.Background(), want); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, "growing.log")
		os.WriteFile(path, nil, 0o644)
		tl, err := NewTail(TailOptions{Path: path, Format: fm, FromStart: true, MaxLine: 200})
		if err != nil {
			t.Fatal(err)
		}
		got := &Collect{}
		rest := data
		for len(rest) > 0 {
			n := len(rest)
			if len(chunks) > 0 {
				n = min(n, int(chunks[0])+1)
				chunks = chunks[1:]
			}
			fh, _ := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
			fh.Write(rest[:n])
			fh.Close()
			rest = rest[n:]
			if err := tl.Poll(got); err != nil {
				t.Fatal(err)
			}
		}
		tl.FlushPartial()
		tl.Close()
		if len(got.Recs) != len(want.Recs) || len(got.Rejected) != len(want.Rejected) {
			t.Fatalf("in pieces %d records %d rejected; whole %d and %d", len(got.Recs), len(got.Rejected), len(want.Recs), len(want.Rejected))
		}
		for i := range got.Recs {
			a, _ := exchange.MarshalRecord(got.Recs[i])
			b, _ := exchange.MarshalRecord(want.Recs[i])
			if !bytes.Equal(a, b) {
				t.Fatalf("record %d differs:\n%s\n%s", i, a, b)
			}
		}
		for i, r := range got.Rejected {
			if r.Line != want.Rejected[i].Line {
				t.Fatalf("rejection %d on line %d, whole file says %d", i, r.Line, want.Rejected[i].Line)
			}
		}
	})
}
