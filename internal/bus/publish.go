package bus

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Out is one message to publish.
type Out struct {
	Subject string
	Header  nats.Header
	Data    []byte
}

// Control message kinds (header Pal-Kind) and their time (Pal-Time, Unix
// nanoseconds).
const (
	HeaderKind = "Pal-Kind"
	HeaderTime = "Pal-Time"
	KindTick   = "tick"
	KindIdle   = "idle"
)

// publishWindow bounds the publishes awaiting their acknowledgement.
const publishWindow = 1024

// Publish publishes msgs and returns when JetStream has acknowledged every
// one of them (stored on the stream's replicas), or the first error. On an
// error some messages may be stored: the caller retries the whole batch
// (at-least-once).
func (b *Bus) Publish(ctx context.Context, msgs []Out) error {
	var futs []jetstream.PubAckFuture
	wait := func() error {
		for _, f := range futs {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				return fmt.Errorf("bus: publish %s: %w", f.Msg().Subject, err)
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		futs = futs[:0]
		return nil
	}
	for i := range msgs {
		m := &nats.Msg{Subject: msgs[i].Subject, Header: msgs[i].Header, Data: msgs[i].Data}
		f, err := b.JS.PublishMsgAsync(m)
		if err != nil {
			_ = wait()
			return fmt.Errorf("bus: publish %s: %w", m.Subject, err)
		}
		futs = append(futs, f)
		if len(futs) >= publishWindow {
			if err := wait(); err != nil {
				return err
			}
		}
	}
	return wait()
}

// ControlMsg is a control message for endpoint partition p.
func (b *Bus) ControlMsg(p int, kind string, t time.Time) Out {
	h := nats.Header{}
	h.Set(HeaderKind, kind)
	h.Set(HeaderTime, strconv.FormatInt(t.UnixNano(), 10))
	return Out{Subject: b.ControlSubject(p), Header: h}
}

// Lag is how far analysis is behind: the largest number of messages a
// partition consumer (endpoint or population) has not delivered yet.
func (b *Bus) Lag(ctx context.Context) (int64, error) {
	var worst int64
	check := func(stream, name string) error {
		c, err := b.JS.Consumer(ctx, stream, name)
		if err != nil {
			return err
		}
		info := c.CachedInfo()
		if n := int64(info.NumPending); n > worst {
			worst = n
		}
		return nil
	}
	for p := 0; p < b.parts; p++ {
		if err := check(b.RecordStream(), EndpointConsumer(p)); err != nil {
			return 0, fmt.Errorf("bus: consumer %s: %w", EndpointConsumer(p), err)
		}
	}
	if err := check(b.PopulationStream(), PopulationConsumer); err != nil {
		return 0, fmt.Errorf("bus: consumer %s: %w", PopulationConsumer, err)
	}
	return worst, nil
}
