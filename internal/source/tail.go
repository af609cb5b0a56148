package source

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/go-json-experiment/json"

	"github.com/palisade-sec/palisade/internal/exchange"
)

// TailOptions configure a Tail.
type TailOptions struct {
	Path   string
	Format Format // ndjson | nginx | envoy
	LineOptions
	// FromStart reads the file from its beginning when there is no saved
	// offset; by default a new tail starts at the end (only new lines).
	FromStart bool
	// StateFile remembers the offset across restarts (JSON, written
	// atomically after every read). Empty disables it.
	StateFile string
	// Poll is how often the file is checked for growth, rotation and
	// truncation [250ms].
	Poll time.Duration
	// RotateGrace is how long a rotated-away file is still read after a
	// new file appeared at Path, for writers that reopen late [5s].
	RotateGrace time.Duration
	// MaxLine is the longest line accepted; longer lines are rejected
	// (counted, with their line number) and skipped [exchange.MaxLine].
	MaxLine int
	// BatchSize caps the records handed to the sink at once [1000].
	BatchSize int
	// BatchWait, when positive, holds records across polls until BatchSize
	// records or BatchBytes of lines are pending, or the oldest pending
	// record waited BatchWait (a shipper sending requests of a useful
	// size). 0 delivers what each poll read.
	BatchWait time.Duration
	// BatchBytes is the line bytes that make a batch full when BatchWait
	// holds records [1 MiB].
	BatchBytes int
	// Once reads the file to its end once (its unterminated last line
	// included; from its start, or from the saved offset) and returns: a
	// one-shot conversion instead of following.
	Once bool
}

// TailStats counts what a Tail did (its position and the files it
// followed; Stats has the Source counts).
type TailStats struct {
	Path        string `json:"path"`
	Offset      int64  `json:"offset"`
	Line        int64  `json:"line"` // lines read from the current file
	Records     int64  `json:"records"`
	Rejected    int64  `json:"rejected"`
	Rotations   int64  `json:"rotations"`
	Truncations int64  `json:"truncations"`
	Resumed     bool   `json:"resumed"` // started from a saved offset
}

// tailState is the content of the state file.
type tailState struct {
	Path string `json:"path"`
	// Fingerprint is the SHA-256 of the file's first FingerprintLen bytes:
	// it recognizes the same file after a restart (a rotated-in file has
	// other first bytes).
	Fingerprint    string `json:"fingerprint"`
	FingerprintLen int64  `json:"fingerprint_len"`
	Offset         int64  `json:"offset"`
	Line           int64  `json:"line"`
}

const fingerprintMax = 1024

// Tail is the Source of one followed file (`tail -F`): it reads lines as they are
// appended, notices when the file is replaced (rotation) or cut
// (truncation: it starts again from offset 0), and waits for a file that
// does not exist yet. After a rotation the new file is read from its start
// while the old one stays open for RotateGrace, so lines the writer still
// appends to it before reopening its log are not lost. A partial last line
// is held until its newline arrives (or, when the old file is let go,
// taken as is). The position is saved in the state file only after the
// sink took every record read up to it, so a restart reads again what a
// sink refused or had not confirmed (at-least-once).
type Tail struct {
	counter
	o      TailOptions
	parser *LineParser

	mu sync.Mutex
	st TailStats

	sink       Sink
	cur        *fileReader // the file at Path
	prev       *fileReader // the rotated-away file, drained until prevPolls reaches 0
	prevPolls  int
	batch      []*exchange.Record
	batchBytes int
	batchSince time.Time // when the oldest pending record was read
	started    bool
	err        error // the sink's refusal: stops the tail
}

// fileReader is the reading position in one open file.
type fileReader struct {
	label   string // file name in errors
	f       *os.File
	fi      os.FileInfo
	offset  int64 // bytes consumed (complete lines, or skipped)
	line    int64
	pending []byte // bytes after the last newline
	skip    bool   // discarding the rest of an over-long line
	fp      string // fingerprint of the first fpLen bytes
	fpLen   int64
}

// NewTail checks the options and prepares a tail; Run starts it.
func NewTail(o TailOptions) (*Tail, error) {
	if o.Path == "" {
		return nil, errors.New("tail: path: required")
	}
	if o.Format == "" {
		o.Format = FormatNDJSON
	}
	lp, err := NewLineParser(o.Format, o.LineOptions)
	if err != nil {
		return nil, fmt.Errorf("tail %s: %w", o.Path, err)
	}
	if o.Once {
		o.FromStart = true // a conversion reads what is there (past a saved offset)
	}
	if o.Poll <= 0 {
		o.Poll = 250 * time.Millisecond
	}
	if o.RotateGrace <= 0 {
		o.RotateGrace = 5 * time.Second
	}
	if o.MaxLine <= 0 {
		o.MaxLine = exchange.MaxLine
	}
	if o.BatchSize <= 0 {
		o.BatchSize = 1000
	}
	if o.BatchBytes <= 0 {
		o.BatchBytes = 1 << 20
	}
	return &Tail{o: o, parser: lp, st: TailStats{Path: o.Path}}, nil
}

// Name implements Source.
func (t *Tail) Name() string { return t.o.Path }

// TailStats returns a snapshot of the position and file counters.
func (t *Tail) TailStats() TailStats {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.st
}

// Run implements Source: it follows the file until ctx ends (or, with
// Once, reads it to its end). It returns nil on cancellation, the sink's
// error when the sink refused records (nothing past the last records it
// took is committed), and an error for problems that polling cannot fix
// (state file).
func (t *Tail) Run(ctx context.Context, sink Sink) error {
	t.sink = sink
	if t.o.Once {
		if _, err := os.Stat(t.o.Path); err != nil {
			return fmt.Errorf("tail: %w", err)
		}
		err := t.Poll(sink)
		if err == nil {
			t.FlushPartial()
			err = t.commit()
		}
		t.Close()
		return errors.Join(err, t.err)
	}
	defer t.Close()
	tick := time.NewTicker(t.o.Poll)
	defer tick.Stop()
	for {
		if err := t.Poll(sink); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			t.deliver(true)
			if t.err == nil {
				_ = t.saveState()
			}
			return nil
		case <-tick.C:
		}
	}
}

// Close releases the open files (Run does it when it returns). A rotated
// file still in its grace period is read one last time first.
func (t *Tail) Close() {
	if t.prev != nil {
		t.dropPrev()
		t.deliver(true)
	}
	if t.cur != nil {
		t.cur.f.Close()
		t.cur = nil
	}
}

// FlushPartial takes the current file's unterminated last line as a
// complete line (for one-shot conversion: read with Poll, then
// FlushPartial, then Close). Following the file afterwards would split
// that line.
func (t *Tail) FlushPartial() {
	if t.cur != nil {
		t.flushPending(t.cur)
		t.deliver(true)
	}
}

// Poll runs one check-and-read cycle into sink. Run calls it every Poll
// interval; callers driving their own loop (and tests) may call it
// directly, but not concurrently with Run. It returns the sink's error
// once the sink refused records.
func (t *Tail) Poll(sink Sink) error {
	t.sink = sink
	if t.err != nil {
		return t.err
	}
	first := !t.started
	t.started = true
	if t.prev != nil {
		if err := t.read(t.prev); err != nil {
			return err
		}
		if t.prevPolls--; t.prevPolls <= 0 {
			t.dropPrev()
		}
	}
	if t.cur == nil {
		if err := t.open(first); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				t.deliver(false)
				return t.err
			}
			return err
		}
	}
	st, err := os.Stat(t.o.Path)
	switch {
	case err != nil:
		// Rotated away and not yet recreated (or unreadable for now): keep
		// reading the open file.
	case !os.SameFile(st, t.cur.fi):
		// Rotation: read the old file to its current end, keep it open for
		// the grace period, and read the new one from its start.
		if err := t.read(t.cur); err != nil {
			return err
		}
		if t.prev != nil {
			t.dropPrev()
		}
		t.prev = t.cur
		t.prev.label = t.o.Path + " (rotated)"
		t.prevPolls = int((t.o.RotateGrace + t.o.Poll - 1) / t.o.Poll)
		t.cur = nil
		t.mu.Lock()
		t.st.Rotations++
		t.mu.Unlock()
		if err := t.openAt(0, 0); err != nil {
			if errors.Is(err, os.ErrNotExist) {
				t.deliver(false)
				return t.err
			}
			return err
		}
	case st.Size() < t.cur.offset || !t.cur.sameStart():
		// Truncation (copytruncate, "> file"): start again at 0.
		r := t.cur
		r.pending, r.skip = nil, false
		r.offset, r.line = 0, 0
		r.fp, r.fpLen = "", 0
		if _, err := r.f.Seek(0, io.SeekStart); err != nil {
			return fmt.Errorf("tail %s: %w", t.o.Path, err)
		}
		t.mu.Lock()
		t.st.Truncations++
		t.mu.Unlock()
	}
	if err := t.read(t.cur); err != nil {
		return err
	}
	t.deliver(false)
	if t.err != nil {
		return t.err
	}
	return t.commit()
}

// commit saves the position when every record read was taken.
func (t *Tail) commit() error {
	if len(t.batch) > 0 || t.err != nil {
		return nil
	}
	return t.saveState()
}

// dropPrev reads the rotated file one last time, takes its unterminated
// last line as is, and closes it.
func (t *Tail) dropPrev() {
	p := t.prev
	t.prev = nil
	_ = t.read(p)
	t.flushPending(p)
	p.f.Close()
}

// open opens the file at start-up: at the saved offset when the state
// file describes this file, else at the start or the end.
func (t *Tail) open(first bool) error {
	if first {
		st, ok, err := t.loadState()
		if err != nil {
			return err
		}
		if ok {
			f, err := os.Open(t.o.Path)
			if err != nil {
				return err
			}
			fp, n, err := fingerprint(f, st.FingerprintLen)
			fi, serr := f.Stat()
			f.Close()
			if err == nil && serr == nil && n == st.FingerprintLen && fp == st.Fingerprint && fi.Size() >= st.Offset {
				if err := t.openAt(st.Offset, st.Line); err != nil {
					return err
				}
				t.mu.Lock()
				t.st.Resumed = true
				t.mu.Unlock()
				return nil
			}
			// A different file (rotated while we were down) or a shorter
			// one: read it from the start.
			return t.openAt(0, 0)
		}
		if !t.o.FromStart {
			fi, err := os.Stat(t.o.Path)
			if err != nil {
				return err
			}
			return t.openAt(fi.Size(), 0)
		}
	}
	return t.openAt(0, 0)
}

func (t *Tail) openAt(off, line int64) error {
	f, err := os.Open(t.o.Path)
	if err != nil {
		return err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	if off > fi.Size() {
		off, line = 0, 0
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		f.Close()
		return err
	}
	t.cur = &fileReader{label: t.o.Path, f: f, fi: fi, offset: off, line: line}
	t.mu.Lock()
	t.st.Offset, t.st.Line = off, line
	t.mu.Unlock()
	return nil
}

// read reads r to its current end and handles every complete line.
func (t *Tail) read(r *fileReader) error {
	buf := make([]byte, 64<<10)
	for {
		n, err := r.f.Read(buf)
		if n > 0 {
			t.consume(r, buf[:n])
		}
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("tail %s: read: %w", r.label, err)
		}
		if len(t.batch) >= t.o.BatchSize {
			t.deliver(true)
		}
	}
}

func (t *Tail) consume(r *fileReader, p []byte) {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if r.skip {
				r.offset += int64(len(p))
			} else if len(r.pending)+len(p) > t.o.MaxLine {
				r.offset += int64(len(r.pending) + len(p))
				r.pending = r.pending[:0]
				r.skip = true
			} else {
				r.pending = append(r.pending, p...)
			}
			return
		}
		chunk := p[:i]
		p = p[i+1:]
		r.line++
		if r.skip {
			r.offset += int64(len(chunk) + 1)
			r.skip = false
			t.rejectLine(&exchange.RecordError{File: r.label, Line: r.line, Err: fmt.Sprintf("line longer than %d bytes", t.o.MaxLine)})
			continue
		}
		var line []byte
		if len(r.pending) > 0 {
			line = append(r.pending, chunk...)
			r.pending = r.pending[:0]
		} else {
			line = chunk
		}
		r.offset += int64(len(line) + 1)
		if len(line) > t.o.MaxLine {
			t.rejectLine(&exchange.RecordError{File: r.label, Line: r.line, Err: fmt.Sprintf("line longer than %d bytes", t.o.MaxLine)})
			continue
		}
		t.handle(r, line)
	}
}

// flushPending handles a last line without newline.
func (t *Tail) flushPending(r *fileReader) {
	if len(r.pending) == 0 || r.skip {
		return
	}
	r.line++
	line := r.pending
	r.pending = nil
	r.offset += int64(len(line))
	t.handle(r, line)
}

func (t *Tail) handle(r *fileReader, line []byte) {
	line = bytes.TrimSpace(line)
	if len(line) == 0 {
		return
	}
	rec, err := t.parser.Parse(line)
	if err != nil {
		re := &exchange.RecordError{File: r.label, Line: r.line, Err: err.Error()}
		var fe *exchange.FieldError
		if errors.As(err, &fe) {
			re.Field, re.Err = fe.Field, fe.Message
		}
		t.rejectLine(re)
		return
	}
	if len(t.batch) == 0 {
		t.batchSince = time.Now()
	}
	t.batch = append(t.batch, rec)
	t.batchBytes += len(line)
	t.mu.Lock()
	t.st.Records++
	t.mu.Unlock()
}

func (t *Tail) rejectLine(e *exchange.RecordError) {
	t.mu.Lock()
	t.st.Rejected++
	t.mu.Unlock()
	if t.sink != nil {
		t.reject(t.sink, e)
	}
}

// deliver hands the pending records to the sink in batches of at most
// BatchSize: always when force is set, else when the batch is due (no
// BatchWait, or full, or old enough). A refusal stops the tail: t.err.
func (t *Tail) deliver(force bool) {
	if len(t.batch) == 0 || t.err != nil {
		return
	}
	if !force && t.o.BatchWait > 0 && len(t.batch) < t.o.BatchSize && t.batchBytes < t.o.BatchBytes && time.Since(t.batchSince) < t.o.BatchWait {
		return
	}
	for len(t.batch) > 0 {
		n := min(len(t.batch), t.o.BatchSize)
		if err := t.records(t.sink, t.batch[:n:n]); err != nil {
			t.err = fmt.Errorf("tail %s: %w", t.o.Path, err)
			t.batch, t.batchBytes = nil, 0
			return
		}
		t.batch = t.batch[n:]
	}
	t.batch, t.batchBytes = nil, 0
	if t.cur != nil {
		t.mu.Lock()
		t.st.Offset, t.st.Line = t.cur.offset, t.cur.line
		t.mu.Unlock()
	}
}

func fingerprint(f *os.File, n int64) (string, int64, error) {
	if n <= 0 {
		return "", 0, errors.New("no fingerprint")
	}
	b := make([]byte, n)
	m, err := io.ReadFull(f, b)
	if err != nil {
		return "", int64(m), err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), int64(m), nil
}

// loadState reads the state file. A missing file means "no saved
// offset"; an unreadable, corrupt or foreign one is an error, so that a
// mistake never silently re-reads or skips a log.
func (t *Tail) loadState() (tailState, bool, error) {
	var st tailState
	if t.o.StateFile == "" {
		return st, false, nil
	}
	b, err := os.ReadFile(t.o.StateFile)
	if errors.Is(err, os.ErrNotExist) {
		return st, false, nil
	}
	if err != nil {
		return st, false, fmt.Errorf("tail %s: state file: %w", t.o.Path, err)
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return st, false, fmt.Errorf("tail %s: state file %s: not valid JSON (%v); delete it to start over", t.o.Path, t.o.StateFile, err)
	}
	switch {
	case st.Path != t.o.Path:
		return st, false, fmt.Errorf("tail %s: state file %s belongs to %q; use one state file per log", t.o.Path, t.o.StateFile, st.Path)
	case st.Offset < 0 || st.Line < 0 || st.FingerprintLen <= 0 || st.FingerprintLen > fingerprintMax || len(st.Fingerprint) != 64:
		return st, false, fmt.Errorf("tail %s: state file %s: field offset, line or fingerprint out of range; delete it to start over", t.o.Path, t.o.StateFile)
	}
	return st, true, nil
}

// updateFingerprint hashes the first bytes of the file (at most
// fingerprintMax, never past what was consumed).
func (r *fileReader) updateFingerprint() {
	n := min(r.offset, fingerprintMax)
	if n <= r.fpLen {
		return
	}
	b := make([]byte, n)
	if m, err := r.f.ReadAt(b, 0); err != nil || int64(m) != n {
		return
	}
	sum := sha256.Sum256(b)
	r.fp, r.fpLen = hex.EncodeToString(sum[:]), n
}

// sameStart reports whether the file still begins with the bytes it began
// with: a file truncated and refilled past our offset between two polls
// is caught here.
func (r *fileReader) sameStart() bool {
	if r.fpLen == 0 {
		return true
	}
	b := make([]byte, r.fpLen)
	if m, err := r.f.ReadAt(b, 0); err != nil || int64(m) != r.fpLen {
		return false
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]) == r.fp
}

// saveState writes the state file atomically (temp file + rename) when the
// offset moved.
func (t *Tail) saveState() error {
	r := t.cur
	if r == nil {
		return nil
	}
	r.updateFingerprint()
	if t.o.StateFile == "" || r.fpLen == 0 {
		return nil
	}
	st := tailState{Path: t.o.Path, Fingerprint: r.fp, FingerprintLen: r.fpLen, Offset: r.offset, Line: r.line}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	if old, err := os.ReadFile(t.o.StateFile); err == nil && bytes.Equal(old, b) {
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(t.o.StateFile), ".tail-state-*")
	if err != nil {
		return fmt.Errorf("tail %s: state file: %w", t.o.Path, err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return fmt.Errorf("tail %s: state file: %w", t.o.Path, err)
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("tail %s: state file: %w", t.o.Path, err)
	}
	if err := os.Rename(tmp.Name(), t.o.StateFile); err != nil {
		os.Remove(tmp.Name())
		return fmt.Errorf("tail %s: state file: %w", t.o.Path, err)
	}
	return nil
}
