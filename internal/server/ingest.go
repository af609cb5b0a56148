package server

import (
	"bufio"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/source"
)

// IngestResult is the answer to POST /api/v1/ingest.
type IngestResult struct {
	Accepted int64         `json:"accepted"`
	Rejected int64         `json:"rejected"`
	Errors   []IngestError `json:"errors"`
	// RejectedByReason counts rejections that are not malformed records:
	// time_future / time_past (event time outside the horizon around the
	// server's clock, ingest.max_future / ingest.max_past).
	RejectedByReason map[string]int64 `json:"rejected_by_reason,omitempty"`
	// NotAccepted is set when the request was cut short (queue full, body
	// limit, storage failure): records from the ResumeRecord-th on (1-based,
	// counting every non-blank line, accepted or rejected) were not accepted
	// and must be sent again.
	NotAccepted  string `json:"not_accepted,omitempty"`
	ResumeRecord int64  `json:"resume_record,omitempty"`
}

// IngestError locates one rejected record.
type IngestError struct {
	Line    int64  `json:"line,omitempty"`  // 1-based line (NDJSON)
	Entry   int64  `json:"entry,omitempty"` // 1-based entry (HAR document)
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

const maxIngestErrors = 10

// errQueueFull is returned when the queue cannot take a batch.
var errQueueFull = errors.New("queue full")

type limitError struct{ what string }

func (e *limitError) Error() string { return e.what }

// cappedReader fails once more than n bytes were read.
type cappedReader struct {
	r    io.Reader
	n    int64
	what string
}

func (c *cappedReader) Read(p []byte) (int, error) {
	if c.n <= 0 {
		return 0, &limitError{c.what}
	}
	if int64(len(p)) > c.n {
		p = p[:c.n]
	}
	n, err := c.r.Read(p)
	c.n -= int64(n)
	return n, err
}

// handleIngest accepts NDJSON exchange records (gzip by Content-Encoding or
// by magic bytes; a HAR document is accepted too). Accepted records are
// appended to the write-ahead log and fsynced in batches before the answer.
func (s *Server) handleIngest(w http.ResponseWriter, r *http.Request) {
	cfg := s.config()
	res := IngestResult{Errors: []IngestError{}}
	code := http.StatusOK
	defer func() { s.m.requests.WithLabelValues(strconv.Itoa(code)).Inc() }()
	if s.closing.Load() {
		code = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", "5")
		writeError(w, code, "server is shutting down")
		return
	}
	if err := s.walFailed(); err != nil {
		code = http.StatusServiceUnavailable
		w.Header().Set("Retry-After", "30")
		s.log.Error("ingest refused: write-ahead log failed", "err", err)
		writeError(w, code, "storage unavailable")
		return
	}
	// Refuse early when the queue is already full (on the bus, the bus
	// answers for the analysis lag).
	if s.opt.Bus == nil && s.QueueDepth() >= cfg.Ingest.QueueRecords {
		code = http.StatusTooManyRequests
		w.Header().Set("Retry-After", s.retryAfter())
		writeError(w, code, fmt.Sprintf("ingest queue full (%d records waiting); retry later", s.QueueDepth()))
		return
	}
	release, err := s.budget.acquire(r.Context(), ingestReservation(&cfg.Ingest))
	if err != nil {
		code = http.StatusTooManyRequests
		w.Header().Set("Retry-After", "5")
		writeError(w, code, "ingest.decode_budget in use by other uploads; retry later")
		return
	}
	defer release()
	body := io.Reader(http.MaxBytesReader(w, r.Body, cfg.Ingest.MaxBody))
	body = s.uploadBody(w, body)
	switch r.Header.Get("Content-Encoding") {
	case "", "identity":
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			code = http.StatusBadRequest
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				code = http.StatusRequestEntityTooLarge
			}
			writeError(w, code, "body: Content-Encoding gzip but not a gzip stream: "+err.Error())
			return
		}
		body = zr
	default:
		code = http.StatusUnsupportedMediaType
		writeError(w, code, "Content-Encoding: only gzip is supported")
		return
	}
	// The cap applies after the Content-Encoding layer here, and after
	// the gzip layer found by magic bytes in the decoder.
	capped := &cappedReader{r: body, n: cfg.Ingest.MaxDecompressed, what: fmt.Sprintf("decompressed body exceeds ingest.max_decompressed (%d bytes)", cfg.Ingest.MaxDecompressed)}
	// The body is a one-shot source run into a sink that appends to the
	// write-ahead log in batches.
	sink := &ingestSink{s: s, ctx: r.Context(), res: &res, max: cfg.Ingest.BatchRecords, queue: cfg.Ingest.QueueRecords, idem: idempotencyKey(r)}
	err = source.NewReader("body", bufio.NewReaderSize(capped, 64<<10), source.ReaderOptions{
		Limits: exchange.Limits{MaxDecoded: cfg.Ingest.MaxDecompressed, MaxRecord: cfg.Ingest.MaxRecord}}).Run(r.Context(), sink)
	if err == nil && r.Context().Err() != nil {
		// The Reader ends quietly when its context ends (Ctrl-C on a
		// command); here the request's context ended before the body
		// did — a body deadline or a client gone — and what was not read
		// must not be answered as success.
		err = requestEnded(r.Context())
	}
	if err != nil && sink.items == 0 {
		// Nothing read: the body is not a stream of records at all.
		code = s.stopStatus(w, err, &res, 1)
		if code == http.StatusBadRequest {
			writeError(w, code, err.Error())
			return
		}
		writeJSON(w, code, res)
		return
	}
	var stop error
	var resume int64
	if sink.failed != nil {
		stop, resume = sink.failed, sink.failedAt
	} else if ferr := sink.flush(); ferr != nil {
		// End of body, or a read error after valid records: keep what was
		// decoded.
		stop, resume = ferr, sink.failedAt
	} else if err != nil {
		stop, resume = err, sink.items+1
	}
	if stop != nil {
		code = s.stopStatus(w, stop, &res, resume)
	} else if res.Accepted == 0 && res.Rejected > 0 {
		// Nothing usable: a client (or a pipeline checking the status)
		// must not read this as success.
		code = http.StatusUnprocessableEntity
		res.NotAccepted = fmt.Sprintf("every record was rejected (%d); see errors", res.Rejected)
	}
	writeJSON(w, code, res)
}

// ingestSink appends a request's records to the write-ahead log in
// batches (one fsync each) and fills its answer. items counts records and
// rejections in input order (the Reader keeps it), so that a batch that
// could not be appended is named by the position of its first record.
type ingestSink struct {
	s          *Server
	res        *IngestResult
	max        int
	queue      int64
	batch      [][]byte
	batchBytes int
	first      int64 // position of the batch's first record
	items      int64
	failed     error
	failedAt   int64
	// On the bus: the request's context, its Idempotency-Key and the
	// batch's partition keys, duplicate-window ids and newest event time.
	ctx    context.Context
	idem   string
	keys   []string
	ids    []string
	newest int64
}

func (k *ingestSink) Records(recs []*exchange.Record) error {
	for _, rec := range recs {
		k.items++
		if reason, msg := k.s.timeCheck(rec.Time); reason != "" {
			res := k.res
			res.Rejected++
			if res.RejectedByReason == nil {
				res.RejectedByReason = map[string]int64{}
			}
			res.RejectedByReason[reason]++
			k.s.m.records.WithLabelValues("rejected").Inc()
			k.s.m.rejected.WithLabelValues(reason).Inc()
			if len(res.Errors) < maxIngestErrors {
				res.Errors = append(res.Errors, IngestError{Line: k.items, Field: "time", Message: msg})
			}
			continue
		}
		b, err := exchange.MarshalRecord(rec)
		if err != nil {
			k.res.Rejected++
			continue
		}
		if len(k.batch) == 0 {
			k.first = k.items
		}
		k.batch = append(k.batch, b)
		k.batchBytes += len(b)
		if bus := k.s.opt.Bus; bus != nil {
			k.keys = append(k.keys, bus.Key(rec))
			k.newest = max(k.newest, rec.Time.UnixNano())
			if k.idem != "" {
				k.ids = append(k.ids, k.idem+"/"+strconv.FormatInt(k.items, 10))
			}
		}
		if len(k.batch) >= k.max || k.batchBytes >= 8<<20 {
			if err := k.flush(); err != nil {
				k.failed = err
				return err
			}
		}
	}
	return nil
}

func (k *ingestSink) Reject(re *exchange.RecordError) {
	k.items++
	k.res.Rejected++
	k.s.m.records.WithLabelValues("rejected").Inc()
	if len(k.res.Errors) < maxIngestErrors {
		k.res.Errors = append(k.res.Errors, IngestError{Line: re.Line, Entry: re.Entry, Field: re.Field, Message: re.Err})
	}
}

func (k *ingestSink) Drop(string, int64) {}

// flush appends the pending batch; on failure failedAt names its first
// record.
func (k *ingestSink) flush() error {
	if len(k.batch) == 0 {
		return nil
	}
	k.failedAt = k.first
	if k.s.opt.Bus != nil {
		ids := k.ids
		if k.idem == "" {
			ids = nil
		}
		if err := k.s.publish(k.ctx, k.keys, k.batch, k.newest, ids); err != nil {
			return err
		}
		k.res.Accepted += int64(len(k.batch))
		k.batch, k.batchBytes, k.keys, k.ids, k.newest = k.batch[:0], 0, k.keys[:0], k.ids[:0], 0
		return nil
	}
	if k.s.QueueDepth()+int64(len(k.batch)) > k.queue {
		return errQueueFull
	}
	end, err := k.s.wal.Append(k.batch)
	if err != nil {
		return err
	}
	k.s.appended.Add(int64(len(k.batch)))
	k.s.stampAppend(end)
	k.res.Accepted += int64(len(k.batch))
	k.s.m.records.WithLabelValues("accepted").Add(float64(len(k.batch)))
	k.batch, k.batchBytes = k.batch[:0], 0
	return nil
}

// stopStatus maps the reason a request was cut short to a status and
// fills the not-accepted part of the answer.
func (s *Server) stopStatus(w http.ResponseWriter, err error, res *IngestResult, line int64) int {
	res.ResumeRecord = line
	if code := busCode(w, err, res); code != 0 {
		return code
	}
	var mbe *http.MaxBytesError
	var le *limitError
	var xle *exchange.LimitError
	switch {
	case errors.Is(err, errQueueFull):
		w.Header().Set("Retry-After", s.retryAfter())
		res.NotAccepted = "ingest queue full; resend from resume_record after Retry-After seconds"
		return http.StatusTooManyRequests
	case errors.As(err, &mbe):
		res.NotAccepted = fmt.Sprintf("body exceeds ingest.max_body (%d bytes); split the upload", mbe.Limit)
		return http.StatusRequestEntityTooLarge
	case errors.As(err, &le):
		res.NotAccepted = le.what + "; split the upload"
		return http.StatusRequestEntityTooLarge
	case errors.As(err, &xle):
		if xle.What == "record" {
			res.NotAccepted = fmt.Sprintf("a HAR entry exceeds ingest.max_record (%d bytes)", xle.Limit)
		} else {
			res.NotAccepted = fmt.Sprintf("body after the gzip layer exceeds ingest.max_decompressed (%d bytes); split the upload", xle.Limit)
		}
		return http.StatusRequestEntityTooLarge
	case errors.Is(err, errRequestEnded):
		res.NotAccepted = "the request ended before its body was read (body deadline: server.read_timeout plus 1 s per 64 KiB, or the client went away); resend from resume_record"
		return http.StatusRequestTimeout
	case errors.Is(err, os.ErrDeadlineExceeded):
		res.NotAccepted = fmt.Sprintf("body too slow: not received within server.read_timeout (%s) plus 1 s per 64 KiB; resend from resume_record", s.durations().ReadTimeout)
		return http.StatusRequestTimeout
	case s.walFailed() != nil:
		w.Header().Set("Retry-After", "30")
		s.log.Error("ingest: write-ahead log failed", "err", err)
		res.NotAccepted = "storage unavailable"
		return http.StatusServiceUnavailable
	default:
		res.NotAccepted = "body unreadable: " + err.Error()
		return http.StatusBadRequest
	}
}

// errRequestEnded marks an ingest cut short by the end of the request's
// context rather than by the body's own end.
var errRequestEnded = errors.New("request ended before the body was read")

func requestEnded(ctx context.Context) error {
	return fmt.Errorf("%w: %w", errRequestEnded, context.Cause(ctx))
}

// retryAfter estimates when the queue will have room (seconds, 1..60).
func (s *Server) retryAfter() string {
	d := s.QueueDepth()
	secs := d/50000 + 1
	if secs > 60 {
		secs = 60
	}
	return strconv.FormatInt(secs, 10)
}

// ingestRecords appends already-decoded records (OTLP receiver). It is all
// or nothing: errQueueFull or a storage error means none was accepted.
func (s *Server) ingestRecords(recs []*exchange.Record) error {
	if len(recs) == 0 {
		return nil
	}
	if s.opt.Bus == nil && s.QueueDepth()+int64(len(recs)) > s.config().Ingest.QueueRecords {
		return errQueueFull
	}
	batch := make([][]byte, 0, len(recs))
	var keys []string
	var newest int64
	for _, rec := range recs {
		if err := rec.Validate(); err != nil {
			s.m.records.WithLabelValues("rejected").Inc()
			continue
		}
		if reason, _ := s.timeCheck(rec.Time); reason != "" {
			s.m.records.WithLabelValues("rejected").Inc()
			s.m.rejected.WithLabelValues(reason).Inc()
			continue
		}
		b, err := exchange.MarshalRecord(rec)
		if err != nil {
			continue
		}
		batch = append(batch, b)
		if s.opt.Bus != nil {
			keys = append(keys, s.opt.Bus.Key(rec))
			newest = max(newest, rec.Time.UnixNano())
		}
	}
	if s.opt.Bus != nil {
		return s.publish(context.Background(), keys, batch, newest, nil)
	}
	end, err := s.wal.Append(batch)
	if err != nil {
		return err
	}
	s.appended.Add(int64(len(batch)))
	s.stampAppend(end)
	s.m.records.WithLabelValues("accepted").Add(float64(len(batch)))
	return nil
}

// Reasons a well-formed record is rejected.
const (
	reasonTimeFuture = "time_future"
	reasonTimePast   = "time_past"
)

// timeCheck bounds a record's event time against the wall clock: one
// record dated years ahead must not move the event clock (and with it
// retention) or the engine's windows. It returns the reason and a message,
// or "" when the time is within the horizon.
func (s *Server) timeCheck(t time.Time) (reason, msg string) {
	d := s.durations()
	now := s.now()
	if t.After(now.Add(d.MaxFuture)) {
		return reasonTimeFuture, fmt.Sprintf("%s is more than ingest.max_future (%s) ahead of the server clock", t.UTC().Format(time.RFC3339), d.MaxFuture)
	}
	if d.MaxPast > 0 && t.Before(now.Add(-d.MaxPast)) {
		return reasonTimePast, fmt.Sprintf("%s is more than ingest.max_past (%s) behind the server clock", t.UTC().Format(time.RFC3339), d.MaxPast)
	}
	return "", ""
}

// clockCeiling is the highest event time the event clock may take: the
// wall clock plus ingest.max_future (records already in the log from
// before the bound, or from a wrong clock, cannot carry it further).
func (s *Server) clockCeiling() int64 {
	c := s.now().Add(s.durations().MaxFuture)
	if c.Year() >= 2262 { // beyond int64 nanoseconds: no ceiling
		return math.MaxInt64
	}
	return c.UnixNano()
}

// minBodyRate is the slowest an upload body may arrive once its first
// server.read_timeout is over (bytes per second).
const minBodyRate = 64 << 10

// bodyDeadline replaces the connection's read deadline for an upload body
// (ingest, OTLP) by one that moves with progress: the body must arrive
// within server.read_timeout plus one second per 64 KiB received, plus the
// time the server itself spent between reads (decoding, writing the log).
// A body trickling in is cut after about read_timeout; a large upload, or a
// small body that decompresses to a lot, read slowly because the server is
// busy is not. Time spent waiting for the decode budget does not count.
type bodyDeadline struct {
	r     io.Reader
	rc    *http.ResponseController
	start time.Time
	grace time.Duration
	n     int64
	busy  time.Duration // server time between a read's return and the next read
	last  time.Time     // when the last read returned
}

func (s *Server) uploadBody(w http.ResponseWriter, r io.Reader) io.Reader {
	b := &bodyDeadline{r: r, rc: http.NewResponseController(w), start: time.Now(), grace: s.durations().ReadTimeout}
	b.set()
	return b
}

func (b *bodyDeadline) set() {
	_ = b.rc.SetReadDeadline(b.start.Add(b.grace + b.busy + time.Duration(b.n)*time.Second/minBodyRate))
}

func (b *bodyDeadline) Read(p []byte) (int, error) {
	if !b.last.IsZero() {
		if d := time.Since(b.last); d > time.Millisecond {
			b.busy += d
			b.set()
		}
	}
	n, err := b.r.Read(p)
	if n > 0 {
		b.n += int64(n)
		b.set()
	}
	b.last = time.Now()
	return n, err
}

// busCode answers a bus error (0 when err is not one).
func busCode(w http.ResponseWriter, err error, res *IngestResult) int {
	code, msg := busStatus(w, err)
	if code != 0 {
		res.NotAccepted = msg
	}
	return code
}
