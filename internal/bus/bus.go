// Package bus is Palisade's event bus on NATS JetStream: the streams,
// consumers and buckets of a clustered deployment (docs/cluster.md),
// publishing with acknowledgements, partition ownership with JetStream
// priority groups (pinned client) and membership, reading a partition from
// a sequence (replay), and checkpoint objects. It knows nothing of the
// analysis: internal/cluster gives meaning to the messages.
//
// Layout (prefix "palisade", N partitions):
//
//	stream PALISADE_RECORDS   palisade.in.<key> → palisade.b.{{partition(N,1)}}.<key>
//	                          palisade.b.<p>.ctl (ticks and idle markers)
//	consumers b-0 … b-N-1     one per partition, pinned priority group "owner"
//	stream PALISADE_POPULATION palisade.c.<p> (endpoint partitions → population stage)
//	consumer c-0              pinned priority group "owner"
//	KV PALISADE_cluster       installation secret, settings
//	KV PALISADE_members       analysis workers (entries expire: membership)
//	object store PALISADE_state  checkpoints and partial reports of partitions
package bus

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Options connect to the bus.
type Options struct {
	URLs      []string // nats://host:port (several: a cluster's seeds)
	Name      string   // connection name (shown by the server)
	CredsFile string   // NATS credentials (JWT + NKey seed), optional
	CAFile    string   // CA of the servers' TLS certificates, optional
	CertFile  string   // client certificate (mutual TLS), optional
	KeyFile   string
	Prefix    string // subject and stream prefix (default "palisade")
}

// Layout is what Provision creates.
type Layout struct {
	Partitions int           // endpoint partitions, fixed when the stream is created
	Replicas   int           // copies of every stream, consumer and bucket (1, 3 or 5)
	MaxAge     time.Duration // how long records stay on the bus
	MaxBytes   int64         // bound of the record stream (0 = none); publishing beyond it fails
	PinnedTTL  time.Duration // a partition owner that stops pulling for this long loses it
	MemberTTL  time.Duration // a worker that stops announcing itself for this long leaves
}

// Bus is a connection to the bus.
type Bus struct {
	NC     *nats.Conn
	JS     jetstream.JetStream
	prefix string
	parts  int
	// pinnedTTL of the partition consumers (Provision's layout, or read
	// from a consumer by Attach).
	pinnedTTL time.Duration
	// DeliveryGaps counts holes a partition reader saw in its consumer's
	// delivery sequence (messages delivered to no one, or to another
	// client: its caller replays them from the stream); ReplayGaps holes
	// in a replay's delivery, resumed from the message in front of them.
	DeliveryGaps, ReplayGaps atomic.Int64
	// orderedConsumer creates a replay's consumer (nil: JS.OrderedConsumer;
	// tests lose messages on the way).
	orderedConsumer func(ctx context.Context, stream string, cfg jetstream.OrderedConsumerConfig) (replaySource, error)
}

// Connect dials the servers. Reconnection is automatic and unbounded.
func Connect(ctx context.Context, o Options) (*Bus, error) {
	if len(o.URLs) == 0 {
		return nil, errors.New("bus: no server URL")
	}
	if o.Prefix == "" {
		o.Prefix = "palisade"
	}
	if !validToken.MatchString(o.Prefix) {
		return nil, fmt.Errorf("bus: prefix %q: letters, digits, '-' and '_' only", o.Prefix)
	}
	opts := []nats.Option{nats.Name(o.Name), nats.MaxReconnects(-1), nats.ReconnectWait(250 * time.Millisecond),
		nats.RetryOnFailedConnect(false), nats.Timeout(5 * time.Second)}
	if o.CredsFile != "" {
		opts = append(opts, nats.UserCredentials(o.CredsFile))
	}
	if o.CAFile != "" {
		opts = append(opts, nats.RootCAs(o.CAFile))
	}
	if o.CertFile != "" || o.KeyFile != "" {
		opts = append(opts, nats.ClientCert(o.CertFile, o.KeyFile))
	}
	nc, err := nats.Connect(strings.Join(o.URLs, ","), opts...)
	if err != nil {
		return nil, fmt.Errorf("bus: connect %s: %w", strings.Join(o.URLs, ","), err)
	}
	// An acknowledgement lost with a failing server must fail the publish
	// (the caller retries the batch), not leave it waiting for ever: the
	// library has no timeout unless one is given.
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(4096), jetstream.WithPublishAsyncTimeout(publishAckTimeout))
	if err != nil {
		nc.Close()
		return nil, err
	}
	return &Bus{NC: nc, JS: js, prefix: o.Prefix}, nil
}

// publishAckTimeout bounds the wait for JetStream's acknowledgement of one
// publish.
var publishAckTimeout = 15 * time.Second

var validToken = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// Close drains and closes the connection.
func (b *Bus) Close() {
	if b.NC != nil && !b.NC.IsConnected() {
		b.NC.Close() // nothing to drain to: do not wait for servers that are gone
	} else if b.NC != nil {
		_ = b.NC.Drain()
	}
}

// Names of the bus's objects.
func (b *Bus) upper() string        { return strings.ToUpper(strings.ReplaceAll(b.prefix, "-", "_")) }
func (b *Bus) RecordStream() string { return b.upper() + "_RECORDS" }

// PopulationStream is the stream from endpoint partitions to the
// population stage.
func (b *Bus) PopulationStream() string { return b.upper() + "_POPULATION" }
func (b *Bus) stateBucket() string      { return b.upper() + "_state" }

// StateBucket is the object store of checkpoints and partial reports.
func (b *Bus) StateBucket() string { return b.stateBucket() }

// ClusterBucket is the KV bucket of the cluster's settings and secret.
func (b *Bus) ClusterBucket() string { return b.clusterBucket() }

func (b *Bus) clusterBucket() string { return b.upper() + "_cluster" }
func (b *Bus) membersBucket() string { return b.upper() + "_members" }

// RecordSubject is where ingest publishes a record with partition key token
// tok (Token(key)).
func (b *Bus) RecordSubject(tok string) string { return b.prefix + ".in." + tok }

// ControlSubject addresses control messages (ticks, idle markers) to
// endpoint partition p.
func (b *Bus) ControlSubject(p int) string { return b.prefix + ".b." + strconv.Itoa(p) + ".ctl" }

// PartitionFilter is the subject filter of endpoint partition p.
func (b *Bus) PartitionFilter(p int) string { return b.prefix + ".b." + strconv.Itoa(p) + ".>" }

// PopulationSubject is where endpoint partition p publishes for the
// population stage.
func (b *Bus) PopulationSubject(p int) string { return b.prefix + ".c." + strconv.Itoa(p) }

// Partitions is the number of endpoint partitions (known after Provision
// or Attach).
func (b *Bus) Partitions() int { return b.parts }

// PinnedTTL is how long a partition's owner may stop pulling before it
// loses the partition.
func (b *Bus) PinnedTTL() time.Duration { return b.pinnedTTL }

// Consumer names.
func EndpointConsumer(p int) string { return "b-" + strconv.Itoa(p) }

// PopulationConsumer is the population stage's consumer.
const PopulationConsumer = "c-0"

// OwnerGroup is the priority group of partition consumers.
const OwnerGroup = "owner"

// Token turns a partition key into a subject token: the 64-bit FNV-1a of
// the key in hex (hosts hold dots, which subjects cannot).
func Token(key string) string {
	h := uint64(14695981039346656037)
	for i := 0; i < len(key); i++ {
		h ^= uint64(key[i])
		h *= 1099511628211
	}
	return strconv.FormatUint(h, 16)
}

var partitionRE = regexp.MustCompile(`\{\{\s*partition\(\s*(\d+)\s*,`)

// ErrLayout is wrapped by Provision's errors that retrying cannot fix.
var ErrLayout = errors.New("bus layout")

// ProvisionWait is Provision retried while JetStream is not ready yet (a
// cluster electing its leaders as the processes start together), until
// ctx is done; log (may be nil) hears why it waits.
func (b *Bus) ProvisionWait(ctx context.Context, l Layout, log func(err error)) error {
	for {
		// Each attempt is bounded: a request sent before the JetStream
		// leaders exist gets no answer at all.
		actx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := b.Provision(actx, l)
		cancel()
		if err == nil || errors.Is(err, ErrLayout) {
			return err
		}
		if log != nil {
			log(err)
		}
		select {
		case <-ctx.Done():
			return err
		case <-time.After(time.Second):
		}
	}
}

// Provision creates or updates the bus's streams, consumers and buckets
// (idempotent; every process may call it). The partition count of an
// existing record stream cannot change: it is an error to ask for another.
func (b *Bus) Provision(ctx context.Context, l Layout) error {
	if l.Partitions <= 0 || l.Partitions > 1024 {
		return fmt.Errorf("%w: partitions %d: want 1..1024", ErrLayout, l.Partitions)
	}
	if l.Replicas <= 0 {
		l.Replicas = 1
	}
	if l.MaxAge <= 0 {
		l.MaxAge = 72 * time.Hour
	}
	if l.PinnedTTL <= 0 {
		l.PinnedTTL = 5 * time.Second
	}
	if l.MemberTTL <= 0 {
		l.MemberTTL = 5 * time.Second
	}
	if s, err := b.JS.Stream(ctx, b.RecordStream()); err == nil {
		if n := partitionsOf(s.CachedInfo().Config); n != 0 && n != l.Partitions {
			return fmt.Errorf("%w: stream %s has %d partitions, the configuration asks for %d (the partition count is fixed when the stream is created: keep %d, or delete the stream and its state to start over)",
				ErrLayout, b.RecordStream(), n, l.Partitions, n)
		}
	} else if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("bus: %w", err)
	}
	maxBytes := l.MaxBytes
	if maxBytes <= 0 {
		maxBytes = -1
	}
	rec := jetstream.StreamConfig{
		Name:        b.RecordStream(),
		Description: "Palisade exchange records, partitioned by API host",
		Subjects:    []string{b.prefix + ".in.*", b.prefix + ".b.*.ctl"},
		SubjectTransform: &jetstream.SubjectTransformConfig{Source: b.prefix + ".in.*",
			Destination: fmt.Sprintf("%s.b.{{partition(%d,1)}}.{{wildcard(1)}}", b.prefix, l.Partitions)},
		Retention: jetstream.LimitsPolicy, Discard: jetstream.DiscardNew, MaxAge: l.MaxAge, MaxBytes: maxBytes,
		Storage: jetstream.FileStorage, Replicas: l.Replicas, Duplicates: 2 * time.Minute,
	}
	if err := b.ensureStream(ctx, rec); err != nil {
		return err
	}
	pop := jetstream.StreamConfig{
		Name:        b.PopulationStream(),
		Description: "Palisade events released by endpoint partitions, for the population stage",
		Subjects:    []string{b.prefix + ".c.*"},
		Retention:   jetstream.LimitsPolicy, Discard: jetstream.DiscardNew, MaxAge: l.MaxAge, MaxBytes: maxBytes,
		Storage: jetstream.FileStorage, Replicas: l.Replicas,
	}
	if err := b.ensureStream(ctx, pop); err != nil {
		return err
	}
	cons := func(stream, name, filter string) error {
		cfg := jetstream.ConsumerConfig{
			Durable: name, FilterSubject: filter, AckPolicy: jetstream.AckNonePolicy, DeliverPolicy: jetstream.DeliverAllPolicy,
			PriorityPolicy: jetstream.PriorityPolicyPinned, PriorityGroups: []string{OwnerGroup}, PinnedTTL: l.PinnedTTL,
			Replicas: l.Replicas, MaxRequestBatch: 4096,
		}
		if c, err := b.JS.Consumer(ctx, stream, name); err == nil {
			have := c.CachedInfo().Config
			if have.FilterSubject == filter && have.PinnedTTL == l.PinnedTTL && have.Replicas == l.Replicas {
				return nil
			}
		}
		if _, err := b.JS.CreateOrUpdateConsumer(ctx, stream, cfg); err != nil {
			return fmt.Errorf("bus: consumer %s on %s: %w", name, stream, err)
		}
		return nil
	}
	for p := 0; p < l.Partitions; p++ {
		if err := cons(b.RecordStream(), EndpointConsumer(p), b.PartitionFilter(p)); err != nil {
			return err
		}
	}
	if err := cons(b.PopulationStream(), PopulationConsumer, b.prefix+".c.>"); err != nil {
		return err
	}
	if _, err := b.JS.KeyValue(ctx, b.clusterBucket()); err != nil {
		if _, err := b.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: b.clusterBucket(), Replicas: l.Replicas,
			Description: "Palisade cluster settings"}); err != nil {
			return fmt.Errorf("bus: bucket %s: %w", b.clusterBucket(), err)
		}
	}
	if kv, err := b.JS.KeyValue(ctx, b.membersBucket()); err != nil || kv.Bucket() == "" {
		if _, err := b.JS.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{Bucket: b.membersBucket(), Replicas: l.Replicas,
			TTL: l.MemberTTL, Description: "Palisade analysis workers"}); err != nil {
			return fmt.Errorf("bus: bucket %s: %w", b.membersBucket(), err)
		}
	}
	if _, err := b.JS.ObjectStore(ctx, b.stateBucket()); err != nil {
		if _, err := b.JS.CreateOrUpdateObjectStore(ctx, jetstream.ObjectStoreConfig{Bucket: b.stateBucket(), Replicas: l.Replicas,
			Storage: jetstream.FileStorage, Description: "Palisade partition checkpoints and partial reports"}); err != nil {
			return fmt.Errorf("bus: object store %s: %w", b.stateBucket(), err)
		}
	}
	b.parts, b.pinnedTTL = l.Partitions, l.PinnedTTL
	return nil
}

// ensureStream creates the stream, or updates it when the settings
// Provision owns differ (an update is a round of consensus: skipped when
// nothing changes, as every process provisions at start).
func (b *Bus) ensureStream(ctx context.Context, cfg jetstream.StreamConfig) error {
	if s, err := b.JS.Stream(ctx, cfg.Name); err == nil {
		have := s.CachedInfo().Config
		if have.Replicas == cfg.Replicas && have.MaxAge == cfg.MaxAge && have.MaxBytes == cfg.MaxBytes &&
			strings.Join(have.Subjects, ",") == strings.Join(cfg.Subjects, ",") {
			return nil
		}
		if _, err := b.JS.UpdateStream(ctx, cfg); err != nil {
			return fmt.Errorf("bus: stream %s: %w", cfg.Name, err)
		}
		return nil
	} else if !errors.Is(err, jetstream.ErrStreamNotFound) {
		return fmt.Errorf("bus: stream %s: %w", cfg.Name, err)
	}
	if _, err := b.JS.CreateOrUpdateStream(ctx, cfg); err != nil {
		return fmt.Errorf("bus: stream %s: %w", cfg.Name, err)
	}
	return nil
}

// Destroy deletes the deployment's streams, consumers, buckets and
// state: everything on the bus under the prefix (bench runs; starting
// over).
func (b *Bus) Destroy(ctx context.Context) error {
	var errs []error
	for _, s := range []string{b.RecordStream(), b.PopulationStream()} {
		if err := b.JS.DeleteStream(ctx, s); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) {
			errs = append(errs, err)
		}
	}
	for _, kv := range []string{b.clusterBucket(), b.membersBucket()} {
		if err := b.JS.DeleteKeyValue(ctx, kv); err != nil && !errors.Is(err, jetstream.ErrBucketNotFound) {
			errs = append(errs, err)
		}
	}
	if err := b.JS.DeleteObjectStore(ctx, b.stateBucket()); err != nil && !errors.Is(err, jetstream.ErrStreamNotFound) &&
		!errors.Is(err, jetstream.ErrBucketNotFound) {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Attach learns the partition count from an existing record stream (a
// process that does not provision).
func (b *Bus) Attach(ctx context.Context) error {
	s, err := b.JS.Stream(ctx, b.RecordStream())
	if err != nil {
		return fmt.Errorf("bus: stream %s: %w (has an analysis worker provisioned the bus?)", b.RecordStream(), err)
	}
	n := partitionsOf(s.CachedInfo().Config)
	if n == 0 {
		return fmt.Errorf("bus: stream %s has no partition transform", b.RecordStream())
	}
	b.parts = n
	if c, err := b.JS.Consumer(ctx, b.RecordStream(), EndpointConsumer(0)); err == nil {
		b.pinnedTTL = c.CachedInfo().Config.PinnedTTL
	}
	return nil
}

func partitionsOf(c jetstream.StreamConfig) int {
	if c.SubjectTransform == nil {
		return 0
	}
	m := partitionRE.FindStringSubmatch(c.SubjectTransform.Destination)
	if m == nil {
		return 0
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// HasSecret reports whether the bus holds the installation secret.
func (b *Bus) HasSecret(ctx context.Context) (bool, error) {
	kv, err := b.JS.KeyValue(ctx, b.clusterBucket())
	if err != nil {
		return false, fmt.Errorf("bus: bucket %s: %w", b.clusterBucket(), err)
	}
	_, err = kv.Get(ctx, "secret")
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, jetstream.ErrKeyNotFound):
		return false, nil
	}
	return false, fmt.Errorf("bus: secret: %w", err)
}

// Secret returns the installation secret shared by every process (the
// key of pseudonyms, tombstones and the identity hashes), creating it with
// the given random value when there is none yet.
func (b *Bus) Secret(ctx context.Context, fresh []byte) ([]byte, error) {
	kv, err := b.JS.KeyValue(ctx, b.clusterBucket())
	if err != nil {
		return nil, fmt.Errorf("bus: bucket %s: %w", b.clusterBucket(), err)
	}
	if _, err := kv.Create(ctx, "secret", fresh); err == nil {
		return fresh, nil
	} else if !errors.Is(err, jetstream.ErrKeyExists) {
		return nil, fmt.Errorf("bus: secret: %w", err)
	}
	// Another process created it; a replica may not have it yet.
	var e jetstream.KeyValueEntry
	for attempt := 0; ; attempt++ {
		e, err = kv.Get(ctx, "secret")
		if err == nil {
			break
		}
		if !errors.Is(err, jetstream.ErrKeyNotFound) || attempt >= 20 {
			return nil, fmt.Errorf("bus: secret: %w", err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	if len(e.Value()) < 32 {
		return nil, fmt.Errorf("bus: secret in %s is %d bytes, want 32", b.clusterBucket(), len(e.Value()))
	}
	return e.Value(), nil
}
