// Package ship sends exchange records to a Palisade server's ingestion API
// (POST /api/v1/ingest): the log shipper of `palisade tail --to URL`. A
// Shipper is a source.Sink: each batch a source hands it is sent as one
// NDJSON request (gzip-compressed, split when larger than MaxBatchBytes),
// and Records returns only once the server made the whole batch durable
// (it appends accepted records to its write-ahead log before answering).
// So a followed log commits its offset only past records the server has
// (at-least-once): a batch whose answer was lost, or that was in flight
// when the shipper stopped, is sent again, and nothing else is.
//
// Failures are retried: connection errors and 5xx answers with exponential
// backoff (MinBackoff doubling up to MaxBackoff, with jitter), 429 and 503
// after the server's Retry-After (at least the backoff, at most
// MaxRetryAfter). An answer that accepted a prefix of the batch
// (resume_record) has only the rest sent again; a batch over the server's
// body limit (413) is split in halves. Records the server rejects as
// invalid (named in its answer; 422 when all of them are) are counted and
// logged, not sent again. Answers that retrying cannot fix (401, 403, 404,
// 400, 415) stop the shipper with an error that says why.
package ship

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/palisade-sec/palisade/internal/exchange"
)

// Options configure a Shipper.
type Options struct {
	// URL of the server ("https://palisade.example:8443") or of its ingest
	// endpoint; a URL without a path gets /api/v1/ingest.
	URL string
	// Token is the bearer token (role ingest or admin).
	Token string
	// Client sends the requests [a client with a 60 s timeout].
	Client *http.Client
	// TLS configures https when Client is nil (custom CA, server name).
	TLS *tls.Config
	// NoGzip sends bodies uncompressed.
	NoGzip bool
	// MaxBatchBytes splits a batch into requests of at most this many
	// NDJSON bytes before compression [8 MiB].
	MaxBatchBytes int
	// MinBackoff and MaxBackoff bound the wait between retries [500 ms, 30 s].
	MinBackoff, MaxBackoff time.Duration
	// MaxRetryAfter caps a server's Retry-After [5 min].
	MaxRetryAfter time.Duration
	// Logger reports retries, rejections and refusals [discard].
	Logger *slog.Logger
	// Sleep waits between retries (tests) [a timer that ctx interrupts].
	Sleep func(ctx context.Context, d time.Duration) error
}

// Stats count what a Shipper did.
type Stats struct {
	Requests int64 `json:"requests"` // HTTP requests sent
	Accepted int64 `json:"accepted"` // records the server made durable
	// Rejected counts records the server refused as invalid (it names
	// them in its answer; they are logged and not sent again).
	Rejected   int64  `json:"rejected"`
	Retries    int64  `json:"retries"`     // requests sent again after a failure
	LocalDrops int64  `json:"local_drops"` // input lines the source rejected before sending
	LastError  string `json:"last_error,omitempty"`
}

// Shipper is a source.Sink that sends records to a server.
type Shipper struct {
	ctx    context.Context
	o      Options
	url    string
	client *http.Client
	log    *slog.Logger

	mu sync.Mutex
	st Stats
}

// PermanentError is an answer retrying cannot fix.
type PermanentError struct {
	Status int
	Msg    string
}

func (e *PermanentError) Error() string {
	return fmt.Sprintf("server answered %d: %s", e.Status, e.Msg)
}

// New returns a shipper that sends until ctx is done (a batch not yet
// accepted then is refused with ctx's error, so its source does not
// commit it).
func New(ctx context.Context, o Options) (*Shipper, error) {
	u, err := IngestURL(o.URL)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(o.Token) == "" {
		return nil, errors.New("ship: token: required (a token of role ingest)")
	}
	if o.MaxBatchBytes <= 0 {
		o.MaxBatchBytes = 8 << 20
	}
	if o.MinBackoff <= 0 {
		o.MinBackoff = 500 * time.Millisecond
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = 30 * time.Second
	}
	if o.MaxBackoff < o.MinBackoff {
		o.MaxBackoff = o.MinBackoff
	}
	if o.MaxRetryAfter <= 0 {
		o.MaxRetryAfter = 5 * time.Minute
	}
	if o.Sleep == nil {
		o.Sleep = sleep
	}
	client := o.Client
	if client == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.TLSClientConfig = o.TLS
		client = &http.Client{Timeout: 60 * time.Second, Transport: tr}
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Shipper{ctx: ctx, o: o, url: u, client: client, log: log}, nil
}

// IngestURL makes the ingest endpoint's URL of a server URL.
func IngestURL(s string) (string, error) {
	u, err := url.Parse(strings.TrimSpace(s))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("ship: url: want http(s)://host[:port][/api/v1/ingest], got %q", s)
	}
	if u.Path == "" || u.Path == "/" {
		u.Path = "/api/v1/ingest"
	}
	return u.String(), nil
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// Stats returns a snapshot of the counters.
func (s *Shipper) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.st
}

func (s *Shipper) count(f func(*Stats)) {
	s.mu.Lock()
	f(&s.st)
	s.mu.Unlock()
}

// Reject implements source.Sink: lines the source could not read are
// counted and logged, never sent.
func (s *Shipper) Reject(e *exchange.RecordError) {
	s.count(func(st *Stats) { st.LocalDrops++ })
	s.log.Warn("rejected input line", "err", e.Error())
}

// Drop implements source.Sink.
func (s *Shipper) Drop(reason string, n int64) {
	s.count(func(st *Stats) { st.LocalDrops += n })
}

// Records implements source.Sink: it returns once the server made every
// record of recs durable (or rejected it as invalid), retrying as needed;
// an error means the batch (or its rest) was not accepted.
func (s *Shipper) Records(recs []*exchange.Record) error {
	var lines [][]byte
	size := 0
	flush := func() error {
		if len(lines) == 0 {
			return nil
		}
		err := s.send(lines)
		lines, size = nil, 0
		return err
	}
	for _, r := range recs {
		b, err := exchange.MarshalRecord(r)
		if err != nil {
			s.count(func(st *Stats) { st.LocalDrops++ })
			continue
		}
		if size+len(b)+1 > s.o.MaxBatchBytes && len(lines) > 0 {
			if err := flush(); err != nil {
				return err
			}
		}
		lines = append(lines, b)
		size += len(b) + 1
	}
	return flush()
}

// ingestAnswer is the server's answer (server.IngestResult).
type ingestAnswer struct {
	Accepted     int64  `json:"accepted"`
	Rejected     int64  `json:"rejected"`
	NotAccepted  string `json:"not_accepted"`
	ResumeRecord int64  `json:"resume_record"`
	Error        string `json:"error"`
	Errors       []struct {
		Line    int64  `json:"line"`
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

// send delivers lines (one record each) until the server has them all.
func (s *Shipper) send(lines [][]byte) error {
	backoff := s.o.MinBackoff
	for attempt := 0; len(lines) > 0; attempt++ {
		if err := s.ctx.Err(); err != nil {
			return err
		}
		if attempt > 0 {
			s.count(func(st *Stats) { st.Retries++ })
		}
		code, ans, retryAfter, err := s.post(lines)
		if err != nil {
			// Connection refused, reset, timeout: the server may or may
			// not have the batch; send it again (at-least-once).
			s.fail(err.Error())
			s.log.Warn("ingest request failed; retrying", "err", err, "in", backoff)
			if err := s.o.Sleep(s.ctx, jitter(backoff)); err != nil {
				return err
			}
			backoff = min(2*backoff, s.o.MaxBackoff)
			continue
		}
		// Records before resume_record (1-based, one per line here) were
		// taken (accepted or rejected as invalid), whatever the status; an
		// answer without it took nothing (refused before reading).
		var done int64
		if ans.ResumeRecord > 0 {
			done = min(ans.ResumeRecord-1, int64(len(lines)))
		}
		switch {
		case code == http.StatusOK || code == http.StatusUnprocessableEntity && ans.Rejected > 0:
			// 422: every record of the request was invalid; the server
			// names them. Sending them again would not help.
			s.accept(ans)
			if ans.Rejected > 0 {
				s.log.Warn("server rejected records", "rejected", ans.Rejected, "first", firstError(ans))
			}
			return nil
		case code == http.StatusTooManyRequests || code == http.StatusServiceUnavailable:
			s.accept(ans)
			lines = lines[done:]
			wait := max(retryAfter, backoff)
			s.fail(fmt.Sprintf("%d %s", code, ans.message()))
			s.log.Info("server busy; waiting", "status", code, "retry_after", wait, "pending", len(lines))
			if err := s.o.Sleep(s.ctx, min(wait, s.o.MaxRetryAfter)); err != nil {
				return err
			}
			backoff = min(2*backoff, s.o.MaxBackoff)
		case code == http.StatusRequestEntityTooLarge:
			s.accept(ans)
			lines = lines[done:]
			if len(lines) == 1 {
				// One record over the server's limit: it cannot be sent.
				s.count(func(st *Stats) { st.Rejected++ })
				s.log.Warn("record larger than the server's body limit: not sent", "answer", ans.message())
				return nil
			}
			half := len(lines) / 2
			if err := s.send(lines[:half]); err != nil {
				return err
			}
			lines = lines[half:]
			attempt = -1
		case code >= 500:
			s.accept(ans)
			lines = lines[done:]
			s.fail(fmt.Sprintf("%d %s", code, ans.message()))
			s.log.Warn("server error; retrying", "status", code, "err", ans.message(), "in", backoff)
			if err := s.o.Sleep(s.ctx, jitter(backoff)); err != nil {
				return err
			}
			backoff = min(2*backoff, s.o.MaxBackoff)
		default:
			s.accept(ans)
			e := &PermanentError{Status: code, Msg: ans.message()}
			switch code {
			case http.StatusUnauthorized, http.StatusForbidden:
				e.Msg += " (check the token: it needs role ingest or admin)"
			case http.StatusNotFound:
				e.Msg += " (check the URL: " + s.url + ")"
			}
			s.fail(e.Error())
			return e
		}
	}
	return nil
}

// accept counts what an answer took.
func (s *Shipper) accept(ans ingestAnswer) {
	s.count(func(st *Stats) { st.Accepted += ans.Accepted; st.Rejected += ans.Rejected })
}

func (s *Shipper) fail(msg string) { s.count(func(st *Stats) { st.LastError = msg }) }

func (a ingestAnswer) message() string {
	switch {
	case a.NotAccepted != "":
		return a.NotAccepted
	case a.Error != "":
		return a.Error
	}
	return "no explanation"
}

func firstError(a ingestAnswer) string {
	if len(a.Errors) == 0 {
		return ""
	}
	e := a.Errors[0]
	s := fmt.Sprintf("record %d", e.Line)
	if e.Field != "" {
		s += " field " + e.Field
	}
	return s + ": " + e.Message
}

// post sends one request and reads the answer.
func (s *Shipper) post(lines [][]byte) (int, ingestAnswer, time.Duration, error) {
	var body bytes.Buffer
	var w io.Writer = &body
	var zw *gzip.Writer
	if !s.o.NoGzip {
		zw = gzip.NewWriter(&body)
		w = zw
	}
	for _, l := range lines {
		w.Write(l)
		w.Write([]byte{'\n'})
	}
	if zw != nil {
		zw.Close()
	}
	ctx, cancel := context.WithCancel(s.ctx)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, &body)
	if err != nil {
		return 0, ingestAnswer{}, 0, err
	}
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(s.o.Token))
	req.Header.Set("Content-Type", "application/x-ndjson")
	if zw != nil {
		req.Header.Set("Content-Encoding", "gzip")
	}
	s.count(func(st *Stats) { st.Requests++ })
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, ingestAnswer{}, 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, ingestAnswer{}, 0, fmt.Errorf("reading the answer: %w", err)
	}
	var ans ingestAnswer
	if err := json.Unmarshal(b, &ans); err != nil && resp.StatusCode == http.StatusOK {
		// A 200 that is not the ingest API's answer: a proxy or another
		// service at this URL.
		return 0, ans, 0, fmt.Errorf("answer is not the ingest API's (%q): check the URL %s", clip(b), s.url)
	}
	return resp.StatusCode, ans, parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()), nil
}

// parseRetryAfter reads delay-seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.Atoi(v); err == nil && n >= 0 {
		return time.Duration(n) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// jitter spreads d over [0.8 d, 1.2 d].
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

func clip(b []byte) string {
	if len(b) > 120 {
		b = b[:120]
	}
	return string(b)
}
