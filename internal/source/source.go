package source

import (
	"context"
	"errors"
	"maps"
	"sync"
	"time"

	"github.com/palisade-sec/palisade/internal/config"
	"github.com/palisade-sec/palisade/internal/exchange"
)

// Source is one input of records: a file or stream (NDJSON, gzip, HAR:
// Reader), a followed access log (Tail), an OTLP export request or an
// ingest request body. Every way traffic gets into Palisade is a Source
// run into a Sink; the one-shot kinds (a file, a request body) return at
// the end of their input, the streaming kinds (a followed log) when ctx is
// done. It is CrowdSec's acquisition split in two: the Source reads and
// normalizes, the Sink (the engine, the write-ahead log, a remote server)
// takes records, rejections and drop counts.
type Source interface {
	// Name labels the input in errors, statistics and the report.
	Name() string
	// Run reads the input and hands what it reads to sink, from the
	// calling goroutine. It returns nil at the end of a one-shot input or
	// when ctx is done; an error when the input cannot be read on (an
	// unreadable or truncated file: records before the damage were
	// delivered) or when sink refused a batch (its error, wrapped).
	Run(ctx context.Context, sink Sink) error
	// Stats counts what Run did so far; safe to call concurrently with it.
	Stats() Stats
}

// Sink takes what a source reads. The calls of one Run come from one
// goroutine, in input order (a rejected line is reported after the
// records before it were delivered).
type Sink interface {
	// Records takes a batch of valid records. The sink may keep the
	// records but not the slice. nil means the records are taken (for a
	// sink that makes them durable: durable): a source that keeps a
	// position (a followed log's state file) commits it past them. An
	// error stops the source without committing; its Run returns the
	// error.
	Records(recs []*exchange.Record) error
	// Reject notes one input item that is not a valid record, with its
	// location (file or input name, line, field).
	Reject(e *exchange.RecordError)
	// Drop counts n input items left out on purpose, by reason (for
	// example OTLP spans that are not HTTP exchanges).
	Drop(reason string, n int64)
}

// PoolSink is a Sink that recycles the records it was given once it is
// done with them (the engine): a source that decodes records takes them
// from its pool (exchange.Decoder.UsePool).
type PoolSink interface {
	Sink
	RecordPool() *exchange.RecordPool
}

// Stats count what a source did.
type Stats struct {
	// Bytes read from the input as it arrives (compressed bytes for gzip).
	Bytes    int64            `json:"bytes"`
	Records  int64            `json:"records"`
	Rejected int64            `json:"rejected"`
	Dropped  map[string]int64 `json:"dropped,omitempty"`
}

// Retry is the error a Sink returns when it cannot take records now but
// may later (a full queue, a store that is failing or shutting down). An
// HTTP source answers 429 (Busy) or 503 with a Retry-After header; a
// streaming source waits and reads the same records again.
type Retry struct {
	After time.Duration
	Busy  bool // the sink is overloaded (429); otherwise unavailable (503)
	Msg   string
}

func (e *Retry) Error() string { return e.Msg }

// IsRetry reports whether err is (or wraps) a *Retry.
func IsRetry(err error) (*Retry, bool) {
	var r *Retry
	ok := errors.As(err, &r)
	return r, ok
}

// counter keeps a source's Stats (guarded: Stats may be called while the
// source runs) and passes calls through to the sink.
type counter struct {
	mu sync.Mutex
	st Stats
}

func (c *counter) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.st
	s.Dropped = maps.Clone(c.st.Dropped)
	return s
}

func (c *counter) addBytes(n int64) {
	c.mu.Lock()
	c.st.Bytes += n
	c.mu.Unlock()
}

func (c *counter) records(sink Sink, recs []*exchange.Record) error {
	if len(recs) == 0 {
		return nil
	}
	if err := sink.Records(recs); err != nil {
		return err
	}
	c.mu.Lock()
	c.st.Records += int64(len(recs))
	c.mu.Unlock()
	return nil
}

func (c *counter) reject(sink Sink, e *exchange.RecordError) {
	c.mu.Lock()
	c.st.Rejected++
	c.mu.Unlock()
	sink.Reject(e)
}

func (c *counter) drop(sink Sink, reason string, n int64) {
	if n <= 0 {
		return
	}
	c.mu.Lock()
	if c.st.Dropped == nil {
		c.st.Dropped = map[string]int64{}
	}
	c.st.Dropped[reason] += n
	c.mu.Unlock()
	sink.Drop(reason, n)
}

// Collect is a Sink that keeps everything in memory (tests, small
// conversions).
type Collect struct {
	mu       sync.Mutex
	Recs     []*exchange.Record
	Rejected []*exchange.RecordError
	Dropped  map[string]int64
}

// Records implements Sink.
func (c *Collect) Records(recs []*exchange.Record) error {
	c.mu.Lock()
	c.Recs = append(c.Recs, recs...)
	c.mu.Unlock()
	return nil
}

// Reject implements Sink.
func (c *Collect) Reject(e *exchange.RecordError) {
	c.mu.Lock()
	c.Rejected = append(c.Rejected, e)
	c.mu.Unlock()
}

// Drop implements Sink.
func (c *Collect) Drop(reason string, n int64) {
	c.mu.Lock()
	if c.Dropped == nil {
		c.Dropped = map[string]int64{}
	}
	c.Dropped[reason] += n
	c.mu.Unlock()
}

// Snapshot returns copies of what was collected so far.
func (c *Collect) Snapshot() ([]*exchange.Record, []*exchange.RecordError) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*exchange.Record(nil), c.Recs...), append([]*exchange.RecordError(nil), c.Rejected...)
}

// ---- configured sources ----

// Config is the configuration of one source the server starts itself
// (the "sources" section: docs/configuration.md). Each kind registers a
// constructor of its typed configuration with Register; the section is
// decoded strictly into it, then Validate runs, then New builds the
// source.
type Config interface {
	// Validate checks the configuration; errors name the key.
	Validate() error
	// New builds the source. stateDir is a directory the source may keep
	// its position in (one file per source; created by the caller).
	New(stateDir string) (Source, error)
}

var kinds = config.NewRegistry[Config]("source kind")

// Register adds a kind of configured source: the "sources" section's key
// name holds a list of configurations made by newConfig (a pointer to a
// struct with yaml and doc tags and its defaults filled in). Call it from
// init() (or from a test). doc is a one-line description for the
// documentation.
func Register(name, doc string, newConfig func() Config) { kinds.Register(name, doc, newConfig) }

// Unregister removes a kind (tests that register their own).
func Unregister(name string) { kinds.Unregister(name) }

// Kinds returns the registered kinds, sorted.
func Kinds() []string { return kinds.Names() }

// NewConfig returns a fresh configuration (defaults filled in) of a
// registered kind.
func NewConfig(name string) (Config, bool) { return kinds.New(name) }

// KindDoc is the one-line description of a kind.
func KindDoc(name string) string { return kinds.Doc(name) }
