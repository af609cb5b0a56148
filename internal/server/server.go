// Package server is serve mode: the REST API (/api/v1), authentication
// (hashed bearer tokens with roles, dashboard sessions with CSRF tokens),
// durable ingestion through a write-ahead log consumed by one engine
// goroutine, checkpoints into the store, retention and erasure, and
// Prometheus metrics.
package server

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/identity"
	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/server/wal"
	"github.com/palisade-sec/palisade/internal/source"
	"github.com/palisade-sec/palisade/internal/store"
)

// Engine is what the server runs (implemented by internal/engine). It is
// used from one goroutine only.
type Engine interface {
	Ingest(rec *exchange.Record)
	Drain() // release the reorder buffer without closing windows (log idle)
	Flush() // release and close windows (shutdown)
	// Report assembles the state as of the records released so far; its
	// alerts include what open windows hold, without closing them.
	Report(generatedAt time.Time) *model.Report
}

// Publisher receives new alerts (the SIEM sink dispatcher).
type Publisher interface {
	Publish(a model.Alert)
}

// Options of a server.
type Options struct {
	DataDir   string
	Config    Config
	Engine    Engine
	Store     store.Store
	Publisher Publisher // optional
	Logger    *slog.Logger
	// Identity is the engine's identity configuration (its key), used to
	// find an identity's raw records when erasing.
	Identity identity.Config
	// SpecProblems are the stored specs StoredSpecs skipped (id → reason).
	SpecProblems map[string]string
	// IdleFlush: when no record has arrived for this long (wall time), the
	// engine's reorder buffer is released, as at the end of an analyzed
	// file; set it to the engine's reorder window (default 5m).
	IdleFlush time.Duration
	Now       func() time.Time // wall clock (tests)

	// Bus, when set, makes this a process of a clustered deployment:
	// accepted records are published to it (no write-ahead log, no
	// engine here), Roles say which routes it serves, and Key is the
	// installation secret shared by the cluster (docs/cluster.md).
	Bus   Bus
	Roles Roles
	Key   []byte
	// Metrics are collectors of the process's other parts (the cluster
	// worker), served at /metrics with the server's.
	Metrics []prometheus.Collector
}

// Server is a running serve-mode instance.
type Server struct {
	opt       Options
	cfg       atomic.Pointer[Config]
	dur       atomic.Pointer[Durations]
	st        store.Store
	eng       Engine
	wal       *wal.WAL
	auth      *authenticator
	log       *slog.Logger
	key       []byte // installation secret: pseudonyms and tombstones
	m         *metrics
	mux       *http.ServeMux
	now       func() time.Time
	pub       Publisher
	start     time.Time
	budget    *decodeBudget
	authLimit *authLimiter
	otlp      *source.OTLPHandler // mounted at POST /api/v1/otlp/v1/traces

	appended atomic.Int64 // records appended since start
	consumed atomic.Int64 // records handed to the engine since start (past warm-up)
	closing  atomic.Bool
	warm     atomic.Bool // warm-up replay finished
	// replayEnd: the end of the log when it was opened, before any request
	// could append — what the warm-up replays. Read at the pump's start
	// instead, it took the records of requests answered in between for
	// replay: never counted as consumed, they stayed in QueueDepth for
	// good (a queue that never drained, ingestion refused).
	replayEnd  wal.Pos
	latencyMu  sync.Mutex
	latencyQ   []stamp // append positions and wall times, for processing latency
	cancel     context.CancelFunc
	done       chan struct{}
	pumpErr    error
	eventClock atomic.Int64 // newest event time processed (ns)

	// engine goroutine state
	written    map[string]writtenAlert // alert id → what the store was given
	checkpoint wal.Pos
	segMax     map[uint64]int64 // newest event time per WAL segment
	segMu      sync.Mutex

	// uploaded gateway configurations (gateway.go); gwMu serializes
	// uploads and deletions, readers load the pointer.
	gw   atomic.Pointer[[]gwEntry]
	gwMu sync.Mutex

	// readiness: the detectors' learning state at the last checkpoint
	// (readiness.go).
	readiness atomic.Pointer[Readiness]
}

type stamp struct {
	pos wal.Pos
	at  time.Time
}

// New opens the WAL in DataDir/wal, loads or creates the installation key
// and prepares the API. Call Start to run the engine goroutine.
func New(opt Options) (*Server, error) {
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.IdleFlush <= 0 {
		opt.IdleFlush = 5 * time.Minute
	}
	d, err := opt.Config.Parse()
	if err != nil {
		return nil, err
	}
	key := opt.Key
	if key == nil {
		if key, err = LoadKey(opt.DataDir); err != nil {
			return nil, err
		}
	}
	var w *wal.WAL
	if opt.Bus == nil {
		var info wal.OpenInfo
		w, info, err = wal.Open(filepath.Join(opt.DataDir, "wal"), wal.Options{SegmentBytes: opt.Config.Ingest.SegmentBytes})
		if err != nil {
			return nil, err
		}
		if info.TornTailBytes > 0 {
			opt.Logger.Warn("wal: truncated an unacknowledged torn frame at the end of the log", "bytes", info.TornTailBytes)
		}
	}
	s := &Server{opt: opt, st: opt.Store, eng: opt.Engine, wal: w, log: opt.Logger, key: key, now: opt.Now, pub: opt.Publisher,
		auth:    &authenticator{st: opt.Store, touched: map[string]time.Time{}, now: opt.Now},
		written: map[string]writtenAlert{}, segMax: map[uint64]int64{}, done: make(chan struct{}), start: opt.Now(),
		budget: newDecodeBudget(opt.Config.Ingest.DecodeBudget)}
	if w != nil {
		s.replayEnd, _ = w.End()
	}
	cfg := opt.Config
	s.cfg.Store(&cfg)
	s.dur.Store(&d)
	s.otlp = source.NewOTLPHandler(source.OTLPOptions{MaxBodyBytes: opt.Config.Ingest.MaxOTLP})
	s.m = newMetrics(s)
	s.authLimit = newAuthLimiter(opt.Now, opt.Logger)
	s.authLimit.failures = func(reason string) { s.m.authFailures.WithLabelValues(reason).Inc() }
	s.authLimit.blocked = s.m.authBlocked.Inc
	s.mux = s.routes()
	if err := s.reloadGateways(context.Background()); err != nil {
		// The server still starts; the list is empty until an upload.
		opt.Logger.Error("gateway configurations not loaded", "err", err)
	}
	return s, nil
}

// LoadKey returns the installation secret (DataDir/secret.key, created with
// 32 random bytes on first use, mode 0600).
func LoadKey(dataDir string) ([]byte, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	p := filepath.Join(dataDir, "secret.key")
	b, err := os.ReadFile(p)
	if err == nil {
		if len(b) < 32 {
			return nil, fmt.Errorf("%s: too short (%d bytes); delete it to generate a new one (pseudonyms will change)", p, len(b))
		}
		return b, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	b = make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	if err := os.WriteFile(p, b, 0o600); err != nil {
		return nil, err
	}
	return b, nil
}

// Pseudonym is the keyed pseudonym of a client IP ("anon-…").
func Pseudonym(key []byte, ip string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("ip\x00" + ip))
	return "anon-" + hex.EncodeToString(m.Sum(nil)[:8])
}

// IPTombstone is the erasure tombstone key of a client IP.
func IPTombstone(key []byte, ip string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("erase-ip\x00" + ip))
	return "ip:" + hex.EncodeToString(m.Sum(nil)[:16])
}

// IdentityTombstone is the erasure tombstone key of an identity id.
func IdentityTombstone(id string) string { return "id:" + id }

// Handler returns the HTTP handler (API, health, metrics).
func (s *Server) Handler() http.Handler { return securityHeaders(s.mux) }

// HTTPServer returns the http.Server to serve Handler with: headers must
// arrive within 10 s and a whole request within server.read_timeout (slow
// bodies are cut), idle connections close after 2 minutes, request headers
// are limited to 64 KiB.
func (s *Server) HTTPServer(errorLog *log.Logger) *http.Server {
	return &http.Server{Handler: s.Handler(), ReadHeaderTimeout: 10 * time.Second, ReadTimeout: s.durations().ReadTimeout,
		IdleTimeout: 2 * time.Minute, MaxHeaderBytes: 64 << 10, ErrorLog: errorLog}
}

// Start runs the engine goroutine: it replays the retained log (warm-up),
// then follows it. Stop with Close.
func (s *Server) Start(ctx context.Context) error {
	ctx, s.cancel = context.WithCancel(ctx)
	if s.wal != nil {
		cp, _, err := s.wal.Checkpoint()
		if err != nil {
			s.cancel()
			return err
		}
		s.checkpoint = cp
		go s.pump(ctx)
	} else {
		// On the bus the analysis runs in the analysis workers.
		s.warm.Store(true)
		close(s.done)
	}
	if s.opt.Bus == nil || s.opt.Roles.API {
		go s.retentionLoop(ctx)
	}
	if s.opt.Bus != nil && !s.opt.Roles.Ingest {
		return nil
	}
	if err := s.startSources(ctx); err != nil {
		s.cancel()
		return err
	}
	return nil
}

// Close stops accepting, lets the engine goroutine checkpoint what it has
// consumed, and closes the log. The store is closed by its owner.
func (s *Server) Close(ctx context.Context) error {
	s.closing.Store(true)
	if s.cancel != nil {
		s.cancel()
		select {
		case <-s.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if s.wal == nil {
		return nil
	}
	return errors.Join(s.pumpErr, s.wal.Close())
}

// Warm reports whether the warm-up replay has finished.
func (s *Server) Warm() bool { return s.warm.Load() }

// QueueDepth is the number of accepted records not yet processed.
func (s *Server) QueueDepth() int64 {
	if s.opt.Bus != nil {
		return s.opt.Bus.Lag()
	}
	return s.appended.Load() - s.consumed.Load()
}

func (s *Server) config() *Config       { c := s.cfg.Load(); return c }
func (s *Server) durations() *Durations { return s.dur.Load() }

// IdentityKey derives the key of identity pseudonyms from the installation
// secret (used when the configuration names no identity.key_file), so that
// pseudonyms are stable across restarts and not guessable offline.
func IdentityKey(installKey []byte) []byte {
	m := hmac.New(sha256.New, installKey)
	m.Write([]byte("identity-pseudonyms"))
	return m.Sum(nil)
}
