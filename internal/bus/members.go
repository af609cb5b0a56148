package bus

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"sort"
	"strings"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// Members is an analysis worker's membership: an entry in the members
// bucket, which expires MemberTTL after the worker's last Beat.
type Members struct {
	kv jetstream.KeyValue
	id string
}

// Join announces worker id.
func (b *Bus) Join(ctx context.Context, id string) (*Members, error) {
	kv, err := b.JS.KeyValue(ctx, b.membersBucket())
	if err != nil {
		return nil, fmt.Errorf("bus: bucket %s: %w", b.membersBucket(), err)
	}
	m := &Members{kv: kv, id: id}
	return m, m.Beat(ctx)
}

// Beat renews the worker's entry (call it well within MemberTTL).
func (m *Members) Beat(ctx context.Context) error {
	_, err := m.kv.PutString(ctx, "w."+m.id, "1")
	return err
}

// Leave removes the worker's entry at once (a clean shutdown).
func (m *Members) Leave(ctx context.Context) error { return m.kv.Delete(ctx, "w."+m.id) }

// List returns the live workers' ids, sorted. It fails rather than wait
// without bound (a listing watches the bucket: while JetStream fails over
// its initial values may never arrive) or return a partial list.
func (m *Members) List(ctx context.Context) ([]string, error) {
	ctx, cancel := bounded(ctx)
	defer cancel()
	keys, err := m.kv.ListKeys(ctx)
	if err != nil {
		if errors.Is(err, jetstream.ErrNoKeysFound) {
			return nil, nil
		}
		return nil, err
	}
	defer func() { _ = keys.Stop() }()
	var out []string
	for {
		select {
		case k, ok := <-keys.Keys():
			if !ok {
				if err := ctx.Err(); err != nil {
					return nil, fmt.Errorf("bus: members: %w", err) // cut short: not the whole list
				}
				sort.Strings(out)
				return out, nil
			}
			if id, ok := strings.CutPrefix(k, "w."); ok {
				out = append(out, id)
			}
		case <-ctx.Done():
			return nil, fmt.Errorf("bus: members: %w", ctx.Err())
		}
	}
}

// opTimeout bounds a bus operation whose context has no deadline.
var opTimeout = 10 * time.Second

// bounded gives ctx a deadline of opTimeout unless it has one.
func bounded(ctx context.Context) (context.Context, context.CancelFunc) {
	return boundedFor(ctx, opTimeout)
}

// boundedFor gives ctx a deadline of d unless it has one.
func boundedFor(ctx context.Context, d time.Duration) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithTimeout(ctx, d)
}

// Owner returns the worker that should own partition (rendezvous hashing:
// the member with the highest hash of member and partition), "" when
// there are none. Every worker computes the same answer from the same
// list, and a member leaving moves only its own partitions.
func Owner(members []string, partition string) string {
	best, bestH := "", uint64(0)
	for _, m := range members {
		h := fnv.New64a()
		h.Write([]byte(m))
		h.Write([]byte{0})
		h.Write([]byte(partition))
		v := mix(h.Sum64())
		if best == "" || v > bestH || v == bestH && m < best {
			best, bestH = m, v
		}
	}
	return best
}

func mix(z uint64) uint64 {
	z ^= z >> 30
	z *= 0xbf58476d1ce4e5b9
	z ^= z >> 27
	z *= 0x94d049bb133111eb
	return z ^ z>>31
}
