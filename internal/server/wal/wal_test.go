package wal

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func payloads(from, n int) [][]byte {
	var out [][]byte
	for i := from; i < from+n; i++ {
		out = append(out, []byte(fmt.Sprintf(`{"n":%d,"pad":"%s"}`, i, strings.Repeat("x", i%50))))
	}
	return out
}

func readAll(t *testing.T, w *WAL, from Pos) ([]string, Pos) {
	t.Helper()
	r := w.NewReader(from)
	defer r.Close()
	var out []string
	end, _ := w.End()
	for r.Pos().Less(end) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		p, _, err := r.Next(ctx)
		cancel()
		if err != nil {
			t.Fatalf("read at %v: %v", r.Pos(), err)
		}
		out = append(out, string(p))
	}
	return out, r.Pos()
}

func TestAppendReadRollReopen(t *testing.T) {
	dir := t.TempDir()
	w, info, err := Open(dir, Options{SegmentBytes: 512})
	if err != nil {
		t.Fatal(err)
	}
	if info.Segments != 0 || info.CheckpointSeen {
		t.Fatalf("%+v", info)
	}
	for i := 0; i < 100; i += 10 {
		if _, err := w.Append(payloads(i, 10)); err != nil {
			t.Fatal(err)
		}
	}
	segs, _ := w.Segments()
	if len(segs) < 5 {
		t.Fatalf("expected rolling, got %d segments", len(segs))
	}
	got, _ := readAll(t, w, Pos{})
	want := payloads(0, 100)
	if len(got) != len(want) {
		t.Fatalf("read %d of %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != string(want[i]) {
			t.Fatalf("record %d: %q", i, got[i])
		}
	}
	// Checkpoint in the middle and reopen: reading from the checkpoint gives the rest.
	r := w.NewReader(Pos{})
	for range 37 {
		if _, _, err := r.Next(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.SetCheckpoint(r.Pos()); err != nil {
		t.Fatal(err)
	}
	r.Close()
	if _, _, err := Open(dir, Options{}); err == nil {
		t.Fatal("second open of a locked directory succeeded")
	}
	w.Close()
	w, info, err = Open(dir, Options{SegmentBytes: 512})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	cp, ok, err := w.Checkpoint()
	if !ok || err != nil || !info.CheckpointSeen {
		t.Fatal("checkpoint lost", err)
	}
	rest, _ := readAll(t, w, cp)
	if len(rest) != 63 || rest[0] != string(want[37]) {
		t.Fatalf("after checkpoint: %d records, first %q", len(rest), rest[0])
	}
	// Appends continue after reopen.
	w.Append(payloads(100, 1))
	all, _ := readAll(t, w, Pos{})
	if len(all) != 101 {
		t.Fatalf("%d", len(all))
	}
}

func TestTornTailTruncated(t *testing.T) {
	dir := t.TempDir()
	w, _, _ := Open(dir, Options{})
	w.Append(payloads(0, 5))
	w.Close()
	seg := filepath.Join(dir, segName(1))
	f, _ := os.OpenFile(seg, os.O_APPEND|os.O_WRONLY, 0)
	full := appendFrame(nil, kindRecord, []byte(`{"never":"acknowledged"}`))
	f.Write(full[:len(full)-4]) // a crash mid-write
	f.Close()
	w, info, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if info.TornTailBytes != int64(len(full)-4) {
		t.Fatalf("torn tail %d", info.TornTailBytes)
	}
	got, _ := readAll(t, w, Pos{})
	if len(got) != 5 {
		t.Fatalf("%d records", len(got))
	}
}

func TestCorruptMiddleSegmentReported(t *testing.T) {
	dir := t.TempDir()
	w, _, _ := Open(dir, Options{SegmentBytes: 300})
	for i := 0; i < 40; i += 4 {
		w.Append(payloads(i, 4))
	}
	segs, _ := w.Segments()
	// Flip a payload byte in the first segment's second frame.
	p := filepath.Join(dir, segName(segs[0]))
	b, _ := os.ReadFile(p)
	first := headerSize + int(b[0])
	b[first+headerSize+2] ^= 0xff
	os.WriteFile(p, b, 0o600)
	r := w.NewReader(Pos{})
	defer r.Close()
	var n, corrupt int
	var lost int64
	for {
		end, _ := w.End()
		if !r.Pos().Less(end) {
			break
		}
		_, _, err := r.Next(context.Background())
		var ce *CorruptError
		if errors.As(err, &ce) {
			corrupt++
			lost += ce.Lost
			if !strings.Contains(ce.Error(), segName(segs[0])) || ce.Offset != int64(first) {
				t.Fatalf("error does not locate the frame: %v", ce)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		n++
	}
	if corrupt != 1 || n == 0 || n >= 40 {
		t.Fatalf("corrupt=%d read=%d", corrupt, n)
	}
	if n+int(lost) != 40 {
		t.Fatalf("read %d + lost %d, want 40 appended", n, lost)
	}
	w.Close()
}

// TestCorruptActiveSegment: a bad frame in the segment being written is
// skipped too — the writer moves to a new segment, the reader counts the
// frames it passes over and goes on with what is appended next (it used to
// report the same error forever).
func TestCorruptActiveSegment(t *testing.T) {
	dir := t.TempDir()
	w, _, _ := Open(dir, Options{})
	defer w.Close()
	w.Append(payloads(0, 2))
	r := w.NewReader(Pos{})
	defer r.Close()
	if _, _, err := r.Next(context.Background()); err != nil { // frame 0
		t.Fatal(err)
	}
	w.Append(payloads(2, 4))
	segs, _ := w.Segments()
	p := filepath.Join(dir, segName(segs[0]))
	b, _ := os.ReadFile(p)
	// frame 2 (the third; the reader holds the first two in its buffer)
	// is corrupted: frames 2-5 are lost
	off := 0
	for range 2 {
		off += headerSize + int(binary.LittleEndian.Uint32(b[off:]))
	}
	b[off+headerSize+1] ^= 0xff
	os.WriteFile(p, b, 0o600)
	if _, _, err := r.Next(context.Background()); err != nil { // frame 1
		t.Fatal(err)
	}
	_, _, err := r.Next(context.Background())
	var ce *CorruptError
	if !errors.As(err, &ce) || ce.Lost != 4 {
		t.Fatalf("err %v (lost %+v), want a CorruptError losing 4 frames", err, ce)
	}
	w.Append(payloads(6, 2))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for i := 6; i < 8; i++ {
		got, _, err := r.Next(ctx)
		if err != nil {
			t.Fatalf("after the skip: %v", err)
		}
		if want := payloads(i, 1)[0]; string(got) != string(want) {
			t.Fatalf("frame %q, want %q", got, want)
		}
	}
}

// TestErasedLive: erased frames appended since open are counted apart from
// the older ones (serve counts them as no longer waiting).
func TestErasedLive(t *testing.T) {
	dir := t.TempDir()
	w, _, _ := Open(dir, Options{})
	w.Append(payloads(0, 3))
	w.Close()
	w, _, _ = Open(dir, Options{})
	defer w.Close()
	live, _ := w.End()
	w.Append(payloads(3, 3))
	erase := map[string]bool{string(payloads(1, 1)[0]): true, string(payloads(4, 1)[0]): true}
	if n, err := w.Erase(func(p []byte) bool { return erase[string(p)] }); err != nil || n != 2 {
		t.Fatalf("erased %d, %v", n, err)
	}
	r := w.NewReader(Pos{})
	defer r.Close()
	r.Live = live
	for i := 0; i < 4; i++ {
		if _, _, err := r.Next(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if r.Erased != 2 || r.ErasedLive != 1 {
		t.Fatalf("erased %d, live %d; want 2, 1", r.Erased, r.ErasedLive)
	}
}

func TestReaderFollowsAppends(t *testing.T) {
	w, _, _ := Open(t.TempDir(), Options{SegmentBytes: 200})
	defer w.Close()
	r := w.NewReader(Pos{})
	defer r.Close()
	done := make(chan []string)
	go func() {
		var got []string
		for len(got) < 50 {
			p, _, err := r.Next(context.Background())
			if err != nil {
				break
			}
			got = append(got, string(p))
		}
		done <- got
	}()
	for i := range 50 {
		w.Append(payloads(i, 1))
	}
	select {
	case got := <-done:
		if len(got) != 50 || got[49] != string(payloads(49, 1)[0]) {
			t.Fatalf("%d", len(got))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("reader did not follow appends")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	if _, _, err := r.Next(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("want deadline, got %v", err)
	}
}

func TestEraseAndRemove(t *testing.T) {
	dir := t.TempDir()
	w, _, _ := Open(dir, Options{SegmentBytes: 400})
	defer w.Close()
	w.Append(payloads(0, 30))
	for i := 30; i < 60; i += 3 {
		w.Append(payloads(i, 3))
	}
	n, err := w.Erase(func(p []byte) bool { return bytes.Contains(p, []byte(`"n":7`)) })
	if err != nil || n != 1 {
		t.Fatalf("erased %d, %v", n, err)
	}
	r := w.NewReader(Pos{})
	var got int
	end, _ := w.End()
	for r.Pos().Less(end) {
		p, _, err := r.Next(context.Background())
		if err != nil {
			if r.Pos().Less(end) {
				t.Fatal(err)
			}
			break
		}
		if bytes.Contains(p, []byte(`"n":7,`)) {
			t.Fatal("erased record still readable")
		}
		got++
	}
	r.Close()
	if got != 59 || r.Erased != 1 {
		t.Fatalf("read %d, erased %d", got, r.Erased)
	}
	for _, s := range mustSegs(t, w) {
		b, _ := os.ReadFile(filepath.Join(dir, segName(s)))
		if bytes.Contains(b, []byte(`"n":7,`)) {
			t.Fatal("erased bytes still on disk")
		}
	}
	before := len(mustSegs(t, w))
	removed, err := w.RemoveSegments(func(seg uint64, _ time.Time) bool { return seg > 2 })
	if err != nil || removed != 2 || len(mustSegs(t, w)) != before-2 {
		t.Fatalf("removed %d of %d: %v", removed, before, err)
	}
	// A reader starting at a removed segment skips to the next one present.
	all, _ := readAll(t, w, Pos{Seg: 1})
	if len(all) == 0 || len(all) >= 59 {
		t.Fatalf("%d", len(all))
	}
}

func mustSegs(t *testing.T, w *WAL) []uint64 {
	s, err := w.Segments()
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestMalformedCheckpoint(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(dir, 0o700)
	os.WriteFile(filepath.Join(dir, checkpointFile), []byte("garbage"), 0o600)
	w, _, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, _, err := w.Checkpoint(); err == nil || !strings.Contains(err.Error(), "malformed") {
		t.Fatalf("want malformed error, got %v", err)
	}
}

// FuzzSegment feeds arbitrary segment bytes to Open and the reader: no
// panic, and every record returned passes its checksum.
func FuzzSegment(f *testing.F) {
	f.Add(appendFrame(appendFrame(nil, kindRecord, []byte("a")), kindErased, []byte{0, 0}))
	f.Add([]byte{255, 255, 255, 255, 0, 0, 0, 0, 1})
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		dir := t.TempDir()
		os.WriteFile(filepath.Join(dir, segName(1)), data, 0o600)
		os.WriteFile(filepath.Join(dir, segName(2)), data, 0o600)
		w, _, err := Open(dir, Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close()
		r := w.NewReader(Pos{})
		defer r.Close()
		for i := 0; i < 1000; i++ {
			end, _ := w.End()
			if !r.Pos().Less(end) {
				break
			}
			ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
			_, _, err := r.Next(ctx)
			cancel()
			if errors.Is(err, context.DeadlineExceeded) {
				break // only erased frames were left before the end
			}
			var ce *CorruptError
			if err != nil && !errors.As(err, &ce) {
				t.Fatal(err)
			}
			if err != nil && r.Pos().Seg == end.Seg {
				break
			}
		}
	})
}
