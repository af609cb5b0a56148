package bus

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// stalledKV lists keys through a watcher whose initial values stop
// arriving after the given keys (JetStream failing over under it): the
// channel closes only when the context ends, as the library's does.
type stalledKV struct {
	jetstream.KeyValue
	keys []string
}

type stalledLister struct{ ch chan string }

func (l stalledLister) Keys() <-chan string { return l.ch }
func (l stalledLister) Stop() error         { return nil }

func (kv stalledKV) ListKeys(ctx context.Context, _ ...jetstream.WatchOpt) (jetstream.KeyLister, error) {
	ch := make(chan string, len(kv.keys))
	for _, k := range kv.keys {
		ch <- k
	}
	go func() { <-ctx.Done(); close(ch) }()
	return stalledLister{ch}, nil
}

// TestMembersListBounded: a membership listing that stalls fails within
// its bound instead of blocking the worker's loop for ever (a worker
// stalled so never restarted a partition that had failed), and a listing
// cut short is an error, never a partial list (which would move
// partitions to the members seen).
func TestMembersListBounded(t *testing.T) {
	old := opTimeout
	opTimeout = 200 * time.Millisecond
	defer func() { opTimeout = old }()
	m := &Members{kv: stalledKV{keys: []string{"w.a", "w.b"}}, id: "a"}
	done := make(chan error, 1)
	go func() {
		got, err := m.List(context.Background())
		if err == nil {
			t.Errorf("a stalled listing returned %v without an error", got)
		}
		done <- err
	}()
	select {
	case err := <-done:
		t.Logf("stalled listing: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("a stalled membership listing still blocks after 30 s")
	}
}
