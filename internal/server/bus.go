package server

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/palisade-sec/palisade/internal/exchange"
)

// Bus is the event bus of a clustered deployment (internal/cluster's
// Ingest): with one, accepted records are published to it instead of
// the write-ahead log, and the analysis runs in the analysis workers
// (docs/cluster.md).
type Bus interface {
	// Key is the partition key of a record.
	Key(rec *exchange.Record) string
	// PublishEncoded publishes encoded records with their keys and
	// returns once the bus acknowledged every one; newest is the newest
	// event time among them (Unix ns). ids, when not nil, identify each
	// record for the bus's duplicate window (a client's Idempotency-Key
	// and the record's position: a resent request stores nothing twice).
	// Errors that say to retry later implement RetryLater.
	PublishEncoded(ctx context.Context, keys []string, data [][]byte, newest int64, ids []string) error
	// Lag is how many records wait for analysis (the slowest partition).
	Lag() int64
}

// RetryLater is implemented by bus errors that ask the client to come
// back: Overloaded (429: analysis lags) or not (503: bus unavailable).
type RetryLater interface {
	error
	RetryAfter() time.Duration
	Overloaded() bool
}

// Roles say what a serve process does in a clustered deployment.
type Roles struct {
	Ingest bool // /api/v1/ingest, OTLP, tailed logs
	API    bool // the REST API and the dashboard
}

// ingestRoutes are the routes of the ingest role.
var ingestRoutes = map[string]bool{"/api/v1/ingest": true, "/api/v1/otlp/v1/traces": true}

// roleRoute reports whether the process serves the route (the health,
// metrics and session routes are everyone's).
func (s *Server) roleRoute(pattern string) bool {
	if s.opt.Bus == nil {
		return true
	}
	switch pattern {
	case "/healthz", "/metrics":
		return true
	}
	if ingestRoutes[pattern] {
		return s.opt.Roles.Ingest
	}
	return s.opt.Roles.API
}

// walFailed is the write-ahead log's failure (nil without one).
func (s *Server) walFailed() error {
	if s.wal == nil {
		return nil
	}
	return s.wal.Failed()
}

// walEraser is the log erasure reaches (nil on the bus: records there
// expire with the stream's max_age).
func (s *Server) walEraser() WALEraser {
	if s.wal == nil {
		return nil
	}
	return s.wal
}

// publish sends a batch of accepted records to the bus.
func (s *Server) publish(ctx context.Context, keys []string, batch [][]byte, newest int64, ids []string) error {
	if err := s.opt.Bus.PublishEncoded(ctx, keys, batch, newest, ids); err != nil {
		return err
	}
	s.appended.Add(int64(len(batch)))
	s.m.records.WithLabelValues("accepted").Add(float64(len(batch)))
	return nil
}

// busStatus maps a bus error to an answer (0 when err is not one).
func busStatus(w http.ResponseWriter, err error) (int, string) {
	var rl RetryLater
	if !errors.As(err, &rl) {
		return 0, ""
	}
	secs := int(rl.RetryAfter().Round(time.Second) / time.Second)
	w.Header().Set("Retry-After", strconv.Itoa(max(1, secs)))
	if rl.Overloaded() {
		return http.StatusTooManyRequests, "analysis is behind (cluster.max_lag); resend from resume_record after Retry-After seconds"
	}
	return http.StatusServiceUnavailable, "event bus unavailable; resend from resume_record after Retry-After seconds"
}

// idempotencyKey returns the request's Idempotency-Key ("" when absent or
// not a short token: it is then ignored).
func idempotencyKey(r *http.Request) string {
	k := r.Header.Get("Idempotency-Key")
	if len(k) == 0 || len(k) > 128 {
		return ""
	}
	for i := 0; i < len(k); i++ {
		if c := k[i]; c <= ' ' || c >= 0x7f {
			return ""
		}
	}
	return k
}
