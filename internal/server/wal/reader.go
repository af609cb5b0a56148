package wal

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
)

func newBufReader(f *os.File) *bufio.Reader { return bufio.NewReaderSize(f, 1<<20) }

// frameReader parses frames sequentially (used at open and by Erase, when no
// writer runs concurrently on the same bytes).
type frameReader struct {
	r   *bufio.Reader
	hdr [headerSize]byte
	buf []byte
}

var errTorn = errors.New("torn frame")

// next returns the frame size on disk, its kind and payload (valid until the
// next call).
func (fr *frameReader) next() (int64, byte, []byte, error) {
	if _, err := io.ReadFull(fr.r, fr.hdr[:]); err != nil {
		if err == io.EOF {
			return 0, 0, nil, io.EOF
		}
		return 0, 0, nil, errTorn
	}
	n := binary.LittleEndian.Uint32(fr.hdr[0:4])
	if n > MaxFrame {
		return 0, 0, nil, fmt.Errorf("frame length %d exceeds limit", n)
	}
	if cap(fr.buf) < int(n) {
		fr.buf = make([]byte, n)
	}
	p := fr.buf[:n]
	if _, err := io.ReadFull(fr.r, p); err != nil {
		return 0, 0, nil, errTorn
	}
	kind := fr.hdr[8]
	if err := checkFrame(fr.hdr[:], p); err != nil {
		return 0, 0, nil, err
	}
	return int64(headerSize) + int64(n), kind, p, nil
}

func checkFrame(hdr, p []byte) error {
	kind := hdr[8]
	if kind != kindRecord && kind != kindErased {
		return fmt.Errorf("unknown frame kind %d", kind)
	}
	c := crc32.Update(0, castagnoli, []byte{kind})
	c = crc32.Update(c, castagnoli, p)
	if c != binary.LittleEndian.Uint32(hdr[4:8]) {
		return errors.New("checksum mismatch")
	}
	return nil
}

// Reader follows the log from a position, reading only committed bytes.
type Reader struct {
	w    *WAL
	pos  Pos
	f    *os.File
	buf  []byte // bytes read from f starting at bufOff
	bOff int64
	// Erased counts erased frames skipped.
	Erased int64
	// Live is the end of the log when it was opened: frames at or after it
	// were appended by this process. ErasedLive counts the erased frames
	// skipped among them; liveSeen the live frames of the current segment
	// read or skipped (CorruptError.Lost is the rest).
	Live       Pos
	ErasedLive int64
	liveSeen   int64
}

// NewReader returns a reader starting at from (use Pos{} for the oldest
// segment present).
func (w *WAL) NewReader(from Pos) *Reader { return &Reader{w: w, pos: from} }

// Pos returns the position of the next frame.
func (r *Reader) Pos() Pos { return r.pos }

// Close releases the open segment.
func (r *Reader) Close() {
	if r.f != nil {
		r.f.Close()
		r.f = nil
	}
}

// Next returns the next record payload (valid until the next call) and the
// position just after it. It blocks until a record is committed, ctx ends
// (ctx.Err()) or the log is closed (ErrClosed). A *CorruptError reports a bad
// frame; the reader has then moved to the next segment.
func (r *Reader) Next(ctx context.Context) ([]byte, Pos, error) {
	for {
		end, ch := r.w.End()
		if !r.pos.Less(end) {
			if r.w.isClosed() {
				return nil, r.pos, ErrClosed
			}
			select {
			case <-ctx.Done():
				return nil, r.pos, ctx.Err()
			case <-ch:
				continue
			}
		}
		if r.f == nil {
			if err := r.open(end); err != nil {
				return nil, r.pos, err
			}
			continue
		}
		limit := int64(-1) // closed segment: read to its end
		if r.pos.Seg == end.Seg {
			limit = end.Off
		}
		start := r.pos
		p, kind, err := r.frame(limit)
		switch {
		case err == io.EOF:
			if r.pos.Seg == end.Seg {
				continue // wait for more
			}
			r.advanceSegment()
			continue
		case err != nil:
			ce := &CorruptError{File: filepath.Join(r.w.dir, segName(r.pos.Seg)), Offset: r.pos.Off, Reason: err.Error()}
			if r.pos.Seg == end.Seg {
				// The active segment: the writer moves to a new one first,
				// so that nothing more is appended behind the bad frame
				// and the reader can go on past it.
				if rerr := r.w.Rotate(); rerr != nil {
					return nil, r.pos, fmt.Errorf("%v; cannot skip it, new segment: %w", ce, rerr)
				}
			}
			ce.Lost = max(0, r.w.writtenIn(r.pos.Seg)-r.liveSeen)
			r.advanceSegment()
			return nil, r.pos, ce
		}
		if !start.Less(r.Live) {
			r.liveSeen++
		}
		if kind == kindErased {
			r.Erased++
			if !start.Less(r.Live) {
				r.ErasedLive++
			}
			continue
		}
		return p, r.pos, nil
	}
}

func (w *WAL) isClosed() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.closed
}

func (r *Reader) advanceSegment() {
	r.Close()
	r.liveSeen = 0
	r.pos = Pos{Seg: r.pos.Seg + 1}
	r.buf, r.bOff = r.buf[:0], 0
}

// open opens the segment at r.pos, skipping segments that were removed.
func (r *Reader) open(end Pos) error {
	for {
		f, err := os.Open(filepath.Join(r.w.dir, segName(r.pos.Seg)))
		if err == nil {
			r.f = f
			r.buf, r.bOff = r.buf[:0], r.pos.Off
			return nil
		}
		if !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("wal: %w", err)
		}
		if r.pos.Seg >= end.Seg {
			return fmt.Errorf("wal: active segment %s missing", segName(r.pos.Seg))
		}
		segs, err := r.w.Segments()
		if err != nil {
			return err
		}
		next := end.Seg
		for _, s := range segs {
			if s > r.pos.Seg {
				next = s
				break
			}
		}
		r.pos = Pos{Seg: next}
	}
}

// frame reads the frame at r.pos, not reading at or beyond limit (when >= 0).
func (r *Reader) frame(limit int64) ([]byte, byte, error) {
	hdr, err := r.bytes(r.pos.Off, headerSize, limit)
	if err != nil {
		return nil, 0, err
	}
	n := int64(binary.LittleEndian.Uint32(hdr[0:4]))
	if n > MaxFrame {
		return nil, 0, fmt.Errorf("frame length %d exceeds limit", n)
	}
	var h [headerSize]byte
	copy(h[:], hdr)
	p, err := r.bytes(r.pos.Off+headerSize, n, limit)
	if err == io.EOF {
		if limit < 0 {
			return nil, 0, errors.New("truncated frame at end of closed segment")
		}
		return nil, 0, errors.New("frame crosses the committed end")
	}
	if err != nil {
		return nil, 0, err
	}
	if err := checkFrame(h[:], p); err != nil {
		return nil, 0, err
	}
	r.pos.Off += headerSize + n
	return p, h[8], nil
}

// bytes returns n bytes at off from the buffered window, refilling it with
// ReadAt (under the erase read-lock) as needed. io.EOF when the bytes are not
// (yet) there.
func (r *Reader) bytes(off, n, limit int64) ([]byte, error) {
	if limit >= 0 && off+n > limit {
		return nil, io.EOF
	}
	if off >= r.bOff && off+n <= r.bOff+int64(len(r.buf)) {
		return r.buf[off-r.bOff : off-r.bOff+n], nil
	}
	want := max(n, 1<<20)
	if limit >= 0 && off+want > limit {
		want = limit - off
	}
	if int64(cap(r.buf)) < want {
		r.buf = make([]byte, want)
	}
	r.buf = r.buf[:want]
	r.w.eraseMu.RLock()
	got, err := r.f.ReadAt(r.buf, off)
	r.w.eraseMu.RUnlock()
	r.buf, r.bOff = r.buf[:got], off
	if int64(got) < n {
		if err == nil || err == io.EOF {
			return nil, io.EOF
		}
		return nil, err
	}
	return r.buf[:n], nil
}
