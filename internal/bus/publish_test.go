package bus

import (
	"context"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/palisade-sec/palisade/internal/bus/natstest"
)

// TestPublishAckLost: a publish whose acknowledgement never comes (the
// message reached a server that failed before answering; here a
// subscriber that never replies) fails after the acknowledgement timeout
// instead of holding the caller — a worker flushing a batch — for ever
// (the library waits without bound unless given a timeout).
func TestPublishAckLost(t *testing.T) {
	old := publishAckTimeout
	publishAckTimeout = 300 * time.Millisecond
	defer func() { publishAckTimeout = old }()
	b := startBus(t, "pt")
	sub, err := b.NC.Subscribe("swallow.>", func(*nats.Msg) {}) // receives, never acknowledges
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Unsubscribe()
	b.NC.Flush()
	done := make(chan error, 1)
	go func() { done <- b.Publish(context.Background(), []Out{{Subject: "swallow.x", Data: []byte("r")}}) }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("a publish never acknowledged succeeded")
		}
		t.Logf("unacknowledged publish: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("a publish never acknowledged still waits after 30 s")
	}
}

// startBus connects to a fresh embedded NATS server with JetStream.
func startBus(t *testing.T, prefix string) *Bus {
	t.Helper()
	c := natstest.Start(t, 1)
	b, err := Connect(t.Context(), Options{URLs: []string{c.URLs()}, Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	return b
}
