// Package wal is the write-ahead log of serve mode: records accepted over
// HTTP are appended to segment files and fsynced before the client is told
// they were accepted; the single engine goroutine consumes them from the log;
// a checkpoint file says how far the store reflects the log, and on restart
// everything is replayed from the log.
//
// Segment files are named %016d.wal. Each frame is
//
//	uint32 length of payload (little endian)
//	uint32 CRC-32C of kind byte + payload
//	uint8  kind (1 = record, 2 = erased)
//	payload
//
// Erasure (privacy) overwrites a frame in place with a zero-filled payload of
// the same size and kind 2, so positions never move. At open, a torn tail of
// the last segment (a frame whose write or fsync never completed, so it was
// never acknowledged) is truncated and counted. A bad frame elsewhere is
// reported by the reader as a *CorruptError; the reader then skips the rest
// of that segment and the caller counts the loss.
package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	headerSize = 9
	kindRecord = 1
	kindErased = 2
	// MaxFrame bounds a payload (a record line is at most 64 MiB).
	MaxFrame = 64<<20 + 1024
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Pos is a position in the log: a segment number and a byte offset in it.
type Pos struct {
	Seg uint64 `json:"seg"`
	Off int64  `json:"off"`
}

// Less orders positions.
func (p Pos) Less(q Pos) bool { return p.Seg < q.Seg || p.Seg == q.Seg && p.Off < q.Off }

func (p Pos) String() string { return fmt.Sprintf("%d:%d", p.Seg, p.Off) }

// Options tune the log.
type Options struct {
	SegmentBytes int64 // roll to a new segment beyond this size (default 64 MiB)
	NoSync       bool  // skip fsync (benchmarks only; breaks the durability guarantee)
}

// OpenInfo reports what Open found.
type OpenInfo struct {
	Segments       int
	TornTailBytes  int64 // bytes of an unacknowledged torn frame truncated from the last segment
	CheckpointSeen bool
}

// WAL is the log. Append is safe for concurrent use; one Reader consumes.
type WAL struct {
	dir  string
	opt  Options
	lock *os.File

	mu      sync.Mutex
	eraseMu sync.RWMutex // readers hold R while copying bytes; Erase holds W
	f       *os.File
	seg     uint64
	off     int64
	end     Pos // committed (fsynced) end
	notify  chan struct{}
	failed  error
	closed  bool
	written int64 // frames appended since open
	// segWritten: frames appended since open per segment (what a reader
	// skipping the rest of a corrupt segment passes over unread)
	segWritten map[uint64]int64
}

// CorruptError is a bad frame in the middle of the log.
type CorruptError struct {
	File   string
	Offset int64
	Reason string
	// Lost is how many frames appended since the log was opened the reader
	// skipped with the rest of the segment (records accepted by this
	// process and never to be read); frames written before Open are not
	// counted, since nothing counts them.
	Lost int64
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("wal: %s at offset %d: %s", e.File, e.Offset, e.Reason)
}

// ErrClosed is returned after Close.
var ErrClosed = errors.New("wal: closed")

func segName(n uint64) string { return fmt.Sprintf("%016d.wal", n) }

// Open opens or creates the log in dir and takes an exclusive lock on it
// (another process using the same directory gets an error).
func Open(dir string, opt Options) (*WAL, OpenInfo, error) {
	var info OpenInfo
	if opt.SegmentBytes <= 0 {
		opt.SegmentBytes = 64 << 20
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, info, fmt.Errorf("wal: %w", err)
	}
	lf, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, info, fmt.Errorf("wal: %w", err)
	}
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lf.Close()
		return nil, info, fmt.Errorf("wal: %s is in use by another process (is palisade serve running on this data directory?)", dir)
	}
	w := &WAL{dir: dir, opt: opt, lock: lf, notify: make(chan struct{}), segWritten: map[uint64]int64{}}
	segs, err := w.Segments()
	if err != nil {
		w.unlock()
		return nil, info, err
	}
	info.Segments = len(segs)
	if len(segs) == 0 {
		segs = []uint64{1}
	}
	w.seg = segs[len(segs)-1]
	f, err := os.OpenFile(filepath.Join(dir, segName(w.seg)), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		w.unlock()
		return nil, info, fmt.Errorf("wal: %w", err)
	}
	valid, err := scanValid(f)
	if err != nil {
		f.Close()
		w.unlock()
		return nil, info, err
	}
	st, _ := f.Stat()
	if st.Size() > valid {
		info.TornTailBytes = st.Size() - valid
		if err := f.Truncate(valid); err != nil {
			f.Close()
			w.unlock()
			return nil, info, fmt.Errorf("wal: truncate torn tail of %s: %w", f.Name(), err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			w.unlock()
			return nil, info, err
		}
	}
	if _, err := f.Seek(valid, io.SeekStart); err != nil {
		f.Close()
		w.unlock()
		return nil, info, err
	}
	w.f, w.off = f, valid
	w.end = Pos{w.seg, valid}
	if err := syncDir(dir); err != nil {
		f.Close()
		w.unlock()
		return nil, info, err
	}
	_, info.CheckpointSeen, _ = w.Checkpoint()
	return w, info, nil
}

func (w *WAL) unlock() {
	syscall.Flock(int(w.lock.Fd()), syscall.LOCK_UN)
	w.lock.Close()
}

// scanValid returns the length of the prefix of f made of valid frames.
func scanValid(f *os.File) (int64, error) {
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	r := &frameReader{r: newBufReader(f)}
	var off int64
	for {
		n, _, _, err := r.next()
		if err != nil {
			return off, nil // EOF, torn or corrupt tail: valid prefix ends here
		}
		off += n
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// Segments lists the segment numbers present, ascending.
func (w *WAL) Segments() ([]uint64, error) { return listSegments(w.dir) }

func listSegments(dir string) ([]uint64, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("wal: %w", err)
	}
	var out []uint64
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, ".wal") {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSuffix(name, ".wal"), 10, 64)
		if err != nil {
			continue
		}
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

// Dir returns the directory of the log.
func (w *WAL) Dir() string { return w.dir }

// Append writes payloads as frames and fsyncs them; when it returns nil the
// payloads are durable. It returns the end position after the batch.
func (w *WAL) Append(payloads [][]byte) (Pos, error) {
	size := 0
	for _, p := range payloads {
		if len(p) > MaxFrame {
			return Pos{}, fmt.Errorf("wal: payload of %d bytes exceeds the %d-byte frame limit", len(p), MaxFrame)
		}
		size += headerSize + len(p)
	}
	buf := make([]byte, 0, size)
	for _, p := range payloads {
		buf = appendFrame(buf, kindRecord, p)
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return Pos{}, ErrClosed
	}
	if w.failed != nil {
		return Pos{}, w.failed
	}
	if w.off > 0 && w.off+int64(len(buf)) > w.opt.SegmentBytes {
		if err := w.rollLocked(); err != nil {
			w.failed = err
			return Pos{}, err
		}
	}
	if _, err := w.f.Write(buf); err != nil {
		// The file may now hold a partial frame: stop accepting (it is
		// truncated at the next open). Never answer "accepted" for it.
		w.failed = fmt.Errorf("wal: write %s: %w", w.f.Name(), err)
		return Pos{}, w.failed
	}
	if !w.opt.NoSync {
		if err := w.f.Sync(); err != nil {
			w.failed = fmt.Errorf("wal: fsync %s: %w", w.f.Name(), err)
			return Pos{}, w.failed
		}
	}
	w.off += int64(len(buf))
	w.written += int64(len(payloads))
	w.segWritten[w.seg] += int64(len(payloads))
	w.end = Pos{w.seg, w.off}
	close(w.notify)
	w.notify = make(chan struct{})
	return w.end, nil
}

func appendFrame(buf []byte, kind byte, p []byte) []byte {
	var h [headerSize]byte
	binary.LittleEndian.PutUint32(h[0:4], uint32(len(p)))
	c := crc32.Update(0, castagnoli, []byte{kind})
	c = crc32.Update(c, castagnoli, p)
	binary.LittleEndian.PutUint32(h[4:8], c)
	h[8] = kind
	buf = append(buf, h[:]...)
	return append(buf, p...)
}

func (w *WAL) rollLocked() error {
	if err := w.f.Close(); err != nil {
		return err
	}
	w.seg++
	f, err := os.OpenFile(filepath.Join(w.dir, segName(w.seg)), os.O_CREATE|os.O_RDWR|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("wal: new segment: %w", err)
	}
	if err := syncDir(w.dir); err != nil {
		f.Close()
		return err
	}
	w.f, w.off = f, 0
	w.end = Pos{w.seg, 0}
	return nil
}

// Rotate starts a new segment (no-op when the current one is empty).
func (w *WAL) Rotate() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.off == 0 {
		return nil
	}
	return w.rollLocked()
}

// writtenIn is the number of frames appended to segment seg since open.
func (w *WAL) writtenIn(seg uint64) int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.segWritten[seg]
}

// End returns the committed end of the log and a channel closed at the next
// append.
func (w *WAL) End() (Pos, <-chan struct{}) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.end, w.notify
}

// Failed returns the sticky write error, if any.
func (w *WAL) Failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.failed
}

// Close closes the log and releases the directory lock.
func (w *WAL) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	close(w.notify)
	w.notify = make(chan struct{})
	err := w.f.Close()
	w.unlock()
	return err
}

// ---- checkpoint ----

const checkpointFile = "CHECKPOINT"

// Checkpoint returns the saved checkpoint (zero Pos and false when none).
func (w *WAL) Checkpoint() (Pos, bool, error) {
	b, err := os.ReadFile(filepath.Join(w.dir, checkpointFile))
	if errors.Is(err, os.ErrNotExist) {
		return Pos{}, false, nil
	}
	if err != nil {
		return Pos{}, false, fmt.Errorf("wal: %w", err)
	}
	var p Pos
	if _, err := fmt.Sscanf(strings.TrimSpace(string(b)), "%d:%d", &p.Seg, &p.Off); err != nil {
		return Pos{}, false, fmt.Errorf("wal: %s: malformed checkpoint %q", checkpointFile, b)
	}
	return p, true, nil
}

// SetCheckpoint atomically records that everything before p is reflected in
// the store.
func (w *WAL) SetCheckpoint(p Pos) error {
	tmp := filepath.Join(w.dir, checkpointFile+".tmp")
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("wal: checkpoint: %w", err)
	}
	if _, err := f.WriteString(p.String() + "\n"); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	f.Close()
	if err := os.Rename(tmp, filepath.Join(w.dir, checkpointFile)); err != nil {
		return err
	}
	return syncDir(w.dir)
}

// RemoveSegments deletes closed segments for which keep returns false. The
// active segment is never removed.
func (w *WAL) RemoveSegments(keep func(seg uint64, modTime time.Time) bool) (int, error) {
	segs, err := w.Segments()
	if err != nil {
		return 0, err
	}
	w.mu.Lock()
	active := w.seg
	w.mu.Unlock()
	n := 0
	for _, s := range segs {
		if s >= active {
			continue
		}
		p := filepath.Join(w.dir, segName(s))
		st, err := os.Stat(p)
		if err != nil {
			continue
		}
		if keep(s, st.ModTime()) {
			continue
		}
		if err := os.Remove(p); err != nil {
			return n, fmt.Errorf("wal: %w", err)
		}
		w.mu.Lock()
		delete(w.segWritten, s)
		w.mu.Unlock()
		n++
	}
	if n > 0 {
		return n, syncDir(w.dir)
	}
	return n, nil
}

// Erase overwrites, in place, every committed record for which match
// returns true with an erased frame of the same size, and fsyncs. It returns
// the number of records erased.
func (w *WAL) Erase(match func(payload []byte) bool) (int64, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return 0, ErrClosed
	}
	w.eraseMu.Lock()
	defer w.eraseMu.Unlock()
	segs, err := w.Segments()
	if err != nil {
		return 0, err
	}
	var total int64
	for _, s := range segs {
		limit := int64(-1)
		if s == w.seg {
			limit = w.off
		}
		n, err := eraseSegment(filepath.Join(w.dir, segName(s)), limit, match)
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func eraseSegment(path string, limit int64, match func([]byte) bool) (int64, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return 0, fmt.Errorf("wal: %w", err)
	}
	defer f.Close()
	r := &frameReader{r: newBufReader(f)}
	var off, n int64
	type hit struct {
		off  int64
		size int
	}
	var hits []hit
	for limit < 0 || off < limit {
		sz, kind, p, err := r.next()
		if err != nil {
			break
		}
		if kind == kindRecord && match(p) {
			hits = append(hits, hit{off, len(p)})
		}
		off += sz
	}
	for _, h := range hits {
		frame := appendFrame(nil, kindErased, make([]byte, h.size))
		if _, err := f.WriteAt(frame, h.off); err != nil {
			return n, fmt.Errorf("wal: erase in %s: %w", path, err)
		}
		n++
	}
	if n > 0 {
		if err := f.Sync(); err != nil {
			return n, err
		}
	}
	return n, nil
}
