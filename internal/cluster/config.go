package cluster

import (
	"errors"
	"fmt"
	"github.com/palisade-sec/palisade/internal/config"
	"strings"
	"time"
)

// Roles of a serve process in a clustered deployment.
const (
	RoleIngest  = "ingest"  // HTTP, OTLP and tailed logs → validate → publish on the bus
	RoleAnalyze = "analyze" // own partitions, run the pipeline, checkpoint, merge
	RoleAPI     = "api"     // REST API and dashboard over the shared store
)

// Config of a clustered deployment (the `cluster` section of the
// configuration file; --bus and --roles on the command line).
type Config struct {
	// Bus lists the NATS servers (nats://host:port); empty: single node.
	Bus []string `yaml:"bus" doc:"NATS servers of the event bus (nats://host:port); empty: a single node with its write-ahead log"`
	// Roles this process plays (default: all three).
	Roles []string `yaml:"roles" doc:"roles of this process: ingest, analyze, api (default all)"`
	// Prefix of subjects, streams and buckets (several deployments may
	// share one NATS system).
	Prefix string `yaml:"prefix" doc:"prefix of the bus's subjects, streams and buckets"`
	// Partitions of the endpoint stage (fixed when the bus is first
	// provisioned): the most analysis workers that can share the load.
	Partitions int `yaml:"partitions" doc:"endpoint partitions (fixed once the stream exists)"`
	// Replicas of every stream, consumer and bucket (3 in a cluster of
	// three NATS servers: one may fail without losing an acknowledged
	// record).
	Replicas int `yaml:"replicas" doc:"copies of streams and buckets on the NATS servers"`
	// MaxAge: how long records stay on the bus. A partition is restored
	// from its last checkpoint and the records after it, so this bounds
	// the outage the analysis can recover from without losing records.
	MaxAge config.Duration `yaml:"max_age" doc:"how long records stay on the bus"`
	// MaxBytes bounds the record stream (0 = no bound); when it is full,
	// ingest answers 503.
	MaxBytes int64 `yaml:"max_bytes" doc:"bound of the record stream in bytes (0: none)"`
	// MaxLag: when a partition has more records than this not yet
	// delivered to its worker, ingest answers 429 with Retry-After.
	MaxLag int64 `yaml:"max_lag" doc:"records waiting for analysis above which ingest answers 429"`
	// PinnedTTL: a worker that stops pulling a partition for this long
	// loses it to another (failover time).
	PinnedTTL config.Duration `yaml:"pinned_ttl" doc:"a worker silent this long loses its partitions"`
	// MemberTTL: a worker that stops announcing itself for this long
	// leaves the membership and its partitions are reassigned.
	MemberTTL config.Duration `yaml:"member_ttl" doc:"a worker that stops announcing itself this long leaves"`
	// Checkpoint: how often a partition's state is written (a worker
	// that takes the partition over replays at most this much).
	Checkpoint config.Duration `yaml:"checkpoint_interval" doc:"how often partition state is checkpointed"`
	// Report: how often partitions write their partial reports and the
	// merger writes the merged state to the store (alert latency).
	Report config.Duration `yaml:"report_interval" doc:"how often partial reports are merged into the store"`
	// Idle: a partition that received nothing this long releases its
	// reorder buffer, as at the end of a file (serve's idle flush).
	Idle config.Duration `yaml:"idle" doc:"a partition idle this long releases what it holds back"`
	// SecretFile keeps a copy of the cluster secret (the key of identity
	// pseudonyms, address pseudonyms and erasure tombstones, held in the
	// bus): written with the bus's secret when the file does not exist,
	// given to an empty bus when it does (restore), and an error when the
	// bus holds another one.
	SecretFile string `yaml:"secret_file" doc:"copy of the cluster secret: written from the bus when missing, restored into an empty bus when present"`
	// Credentials and TLS of the NATS connection.
	CredsFile string `yaml:"creds_file" doc:"NATS credentials file"`
	CAFile    string `yaml:"ca_file" doc:"CA certificate of the NATS servers"`
	CertFile  string `yaml:"cert_file" doc:"client certificate for NATS (mutual TLS)"`
	KeyFile   string `yaml:"key_file" doc:"key of the client certificate"`
}

// DefaultConfig returns the defaults (no bus: single node).
func DefaultConfig() Config {
	return Config{
		Prefix:     "palisade",
		Partitions: 8,
		Replicas:   1,
		MaxAge:     config.Duration(72 * time.Hour),
		MaxLag:     2_000_000,
		PinnedTTL:  config.Duration(5 * time.Second),
		MemberTTL:  config.Duration(5 * time.Second),
		Checkpoint: config.Duration(30 * time.Second),
		Report:     config.Duration(2 * time.Second),
		Idle:       config.Duration(5 * time.Minute),
	}
}

// Enabled reports whether a bus is configured.
func (c Config) Enabled() bool { return len(c.Bus) > 0 }

// Has reports whether the process plays role r.
func (c Config) Has(r string) bool {
	if len(c.Roles) == 0 {
		return true
	}
	for _, x := range c.Roles {
		if x == r {
			return true
		}
	}
	return false
}

// Validate checks the configuration.
func (c Config) Validate() error {
	var errs []error
	for _, u := range c.Bus {
		if !strings.HasPrefix(u, "nats://") && !strings.HasPrefix(u, "tls://") {
			errs = append(errs, fmt.Errorf("bus: %q: want nats://HOST:PORT or tls://HOST:PORT", u))
		}
	}
	for _, r := range c.Roles {
		if r != RoleIngest && r != RoleAnalyze && r != RoleAPI {
			errs = append(errs, fmt.Errorf("roles: %q: want ingest, analyze or api", r))
		}
	}
	if len(c.Roles) > 0 && !c.Enabled() && !(c.Has(RoleIngest) && c.Has(RoleAnalyze) && c.Has(RoleAPI)) {
		errs = append(errs, errors.New("roles: a process without a bus plays every role (set --bus to split them)"))
	}
	if c.Partitions < 1 || c.Partitions > 1024 {
		errs = append(errs, fmt.Errorf("partitions: %d: want 1..1024", c.Partitions))
	}
	if c.Replicas != 1 && c.Replicas != 3 && c.Replicas != 5 {
		errs = append(errs, fmt.Errorf("replicas: %d: want 1, 3 or 5", c.Replicas))
	}
	for name, d := range map[string]config.Duration{"max_age": c.MaxAge, "pinned_ttl": c.PinnedTTL, "member_ttl": c.MemberTTL,
		"checkpoint_interval": c.Checkpoint, "report_interval": c.Report, "idle": c.Idle} {
		if d <= 0 {
			errs = append(errs, fmt.Errorf("%s: must be positive", name))
		}
	}
	if c.PinnedTTL > 0 && c.PinnedTTL.D() < time.Second {
		errs = append(errs, fmt.Errorf("pinned_ttl: %v: at least 1s (a worker busy checkpointing must keep its partitions)", c.PinnedTTL.D()))
	}
	if c.MaxLag < 0 || c.MaxBytes < 0 {
		errs = append(errs, errors.New("max_lag and max_bytes: must not be negative"))
	}
	if c.MaxAge > 0 && c.Checkpoint > 0 && c.MaxAge < 4*c.Checkpoint {
		errs = append(errs, fmt.Errorf("max_age %v: must be at least 4 checkpoint intervals (%v) so that a partition can always be restored", c.MaxAge.D(), 4*c.Checkpoint.D()))
	}
	return errors.Join(errs...)
}
