package source

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/exchange"
)

// eventSink records the calls it gets, in order.
type eventSink struct {
	mu     sync.Mutex
	events []string
	recs   int
	refuse error
	got    chan struct{}
}

func (s *eventSink) Records(recs []*exchange.Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.refuse != nil {
		return s.refuse
	}
	for _, r := range recs {
		s.events = append(s.events, "R "+strings.TrimPrefix(r.Request.URL, "https://api.example.test"))
	}
	s.recs += len(recs)
	if s.got != nil {
		s.got <- struct{}{}
	}
	return nil
}

func (s *eventSink) Reject(e *exchange.RecordError) {
	s.mu.Lock()
	s.events = append(s.events, fmt.Sprintf("X %s:%d", e.File, e.Line))
	s.mu.Unlock()
}

func (s *eventSink) Drop(reason string, n int64) {
	s.mu.Lock()
	s.events = append(s.events, fmt.Sprintf("D %s %d", reason, n))
	s.mu.Unlock()
}

func (s *eventSink) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.events, ", ")
}

// Records and rejections reach the sink in input order, located, and the
// counts add up.
func TestReaderOrderAndStats(t *testing.T) {
	in := exLine(1) + "not json\n" + exLine(2) + exLine(3) + "\n" + `{"time":"x"}` + "\n" + exLine(4)
	var progress []int64
	rd := NewReader("in.ndjson", strings.NewReader(in), ReaderOptions{Batch: 2, Progress: func(_, n int64) { progress = append(progress, n) }})
	sink := &eventSink{}
	if err := rd.Run(context.Background(), sink); err != nil {
		t.Fatal(err)
	}
	want := "R /items/1, X in.ndjson:2, R /items/2, R /items/3, X in.ndjson:6, R /items/4"
	if got := sink.String(); got != want {
		t.Fatalf("events\n%s\nwant\n%s", got, want)
	}
	st := rd.Stats()
	if st.Records != 4 || st.Rejected != 2 || st.Bytes != int64(len(in)) {
		t.Fatalf("stats %+v (input %d bytes)", st, len(in))
	}
	if len(progress) == 0 || progress[len(progress)-1] != 4 {
		t.Fatalf("progress %v", progress)
	}
}

// gzip and HAR are sniffed; Bytes counts what was read (compressed).
func TestReaderGzipAndHAR(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(exLine(1) + exLine(2)))
	zw.Close()
	rd := NewReader("in.gz", bytes.NewReader(gz.Bytes()), ReaderOptions{})
	sink := &eventSink{}
	if err := rd.Run(context.Background(), sink); err != nil || sink.String() != "R /items/1, R /items/2" || rd.Stats().Bytes != int64(gz.Len()) {
		t.Fatalf("gzip: %v %q %+v", err, sink, rd.Stats())
	}
	f, err := Open(filepath.Join("..", "exchange", "testdata", "sample.har"), ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if f.Streaming() {
		t.Error("a regular file is not a stream")
	}
	sink = &eventSink{}
	if err := f.Run(context.Background(), sink); err != nil || sink.recs == 0 {
		t.Fatalf("HAR: %v, %d records", err, sink.recs)
	}
}

// A stream (a pipe) delivers each record as it arrives, without waiting
// for a full batch or for the end of the input.
func TestReaderStreamsRecords(t *testing.T) {
	pr, pw := io.Pipe()
	sink := &eventSink{got: make(chan struct{}, 10)}
	rd := NewReader("-", pr, ReaderOptions{Batch: 1000})
	done := make(chan error, 1)
	go func() { done <- rd.Run(context.Background(), sink) }()
	for i := 1; i <= 3; i++ {
		go pw.Write([]byte(exLine(i)))
		select {
		case <-sink.got:
		case <-time.After(5 * time.Second):
			t.Fatalf("record %d not delivered while the stream is open", i)
		}
	}
	pw.Close()
	if err := <-done; err != nil || sink.String() != "R /items/1, R /items/2, R /items/3" {
		t.Fatalf("%v %q", err, sink)
	}
}

// A sink's refusal stops the source with the sink's error; a truncated
// input is an error after the records before the damage.
func TestReaderErrors(t *testing.T) {
	refusal := errors.New("no room")
	sink := &eventSink{refuse: refusal}
	err := NewReader("in", strings.NewReader(exLine(1)+exLine(2)), ReaderOptions{}).Run(context.Background(), sink)
	if !errors.Is(err, refusal) || !strings.HasPrefix(err.Error(), "in: ") {
		t.Fatalf("refusal: %v", err)
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(exLine(1) + exLine(2) + exLine(3)))
	zw.Close()
	cut := gz.Bytes()[:gz.Len()-10]
	sink = &eventSink{}
	err = NewReader("cut.gz", bytes.NewReader(cut), ReaderOptions{}).Run(context.Background(), sink)
	if err == nil || !strings.Contains(err.Error(), "truncated") || sink.recs != 3 {
		t.Fatalf("truncated: %v, %d records", err, sink.recs)
	}
	if _, err := Open(t.TempDir(), ReaderOptions{}); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Fatalf("directory: %v", err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "nope"), ReaderOptions{}); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing: %v", err)
	}
	// A cancelled context ends a source normally.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := NewReader("in", strings.NewReader(exLine(1)), ReaderOptions{}).Run(ctx, &eventSink{}); err != nil {
		t.Fatalf("cancelled: %v", err)
	}
}

// chunkReader hands out its input in the given chunk sizes (a stream that
// arrives piece by piece).
type chunkReader struct {
	data   []byte
	chunks []byte
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	n := len(c.data)
	if len(c.chunks) > 0 {
		n = int(c.chunks[0])%64 + 1
		c.chunks = c.chunks[1:]
	}
	n = min(n, len(p), len(c.data))
	copy(p, c.data[:n])
	c.data = c.data[n:]
	return n, nil
}

// FuzzReader: whatever the input and however it arrives, the Reader never
// panics, delivers only valid records, counts what it delivers and
// rejects, and delivers the same records as a whole-input read.
func FuzzReader(f *testing.F) {
	f.Add([]byte(exLine(1)+"junk\n"+exLine(2)), []byte{3, 1, 40})
	f.Add([]byte(`{"log":{"entries":[]}}`), []byte{1})
	f.Add([]byte("\n\n"+exLine(7)), []byte{})
	f.Fuzz(func(t *testing.T, data, chunks []byte) {
		whole := &Collect{}
		errWhole := NewReader("f", bytes.NewReader(data), ReaderOptions{Batch: 3}).Run(context.Background(), whole)
		pieces := &Collect{}
		rd := NewReader("f", &chunkReader{data: data, chunks: chunks}, ReaderOptions{Batch: 3})
		errPieces := rd.Run(context.Background(), pieces)
		if (errWhole == nil) != (errPieces == nil) {
			t.Fatalf("whole: %v, in pieces: %v", errWhole, errPieces)
		}
		if len(whole.Recs) != len(pieces.Recs) || len(whole.Rejected) != len(pieces.Rejected) {
			t.Fatalf("whole %d/%d, pieces %d/%d", len(whole.Recs), len(whole.Rejected), len(pieces.Recs), len(pieces.Rejected))
		}
		for _, r := range pieces.Recs {
			if err := r.Validate(); err != nil {
				t.Fatalf("invalid record delivered: %v", err)
			}
		}
		if st := rd.Stats(); st.Records != int64(len(pieces.Recs)) || st.Rejected != int64(len(pieces.Rejected)) || st.Bytes > int64(len(data)) {
			t.Fatalf("stats %+v for %d records, %d rejected, %d bytes", st, len(pieces.Recs), len(pieces.Rejected), len(data))
		}
	})
}
