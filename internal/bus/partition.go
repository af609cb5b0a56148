package bus

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Msg is one message of a partition.
type Msg struct {
	Seq     uint64 // stream sequence
	Subject string
	Header  nats.Header
	Data    []byte
}

// ErrLost is returned when the partition is owned by another worker.
var ErrLost = errors.New("bus: partition owned by another worker")

// Reader reads one partition as its owner. The consumer's priority group
// pins one client at a time: a reader that fetches while no other client
// is pinned becomes the owner, and stays it while it keeps fetching
// (PinnedTTL). A client pinned before it, gone without a word (killed),
// loses the pin when its TTL runs out.
type Reader struct {
	b        *Bus
	stream   string
	name     string
	filter   string
	cons     jetstream.Consumer
	pin      string
	lastCons uint64
	it       jetstream.MessagesContext
	// held is a message that arrived after a discontinuity (a new pin,
	// a consumer sequence that skipped): Fetch returns what came before
	// it and starts its next batch with it, repinned, so that the
	// caller's replay fills the gap in front of it.
	held *Msg
}

// EndpointReader returns a reader of endpoint partition p.
func (b *Bus) EndpointReader(ctx context.Context, p int) (*Reader, error) {
	return b.reader(ctx, b.RecordStream(), EndpointConsumer(p), b.PartitionFilter(p))
}

// PopulationReader returns a reader of the population stream.
func (b *Bus) PopulationReader(ctx context.Context) (*Reader, error) {
	return b.reader(ctx, b.PopulationStream(), PopulationConsumer, b.prefix+".c.>")
}

func (b *Bus) reader(ctx context.Context, stream, name, filter string) (*Reader, error) {
	c, err := b.JS.Consumer(ctx, stream, name)
	if err != nil {
		return nil, fmt.Errorf("bus: consumer %s: %w", name, err)
	}
	return &Reader{b: b, stream: stream, name: name, filter: filter, cons: c}, nil
}

// Fetch returns up to n messages, waiting at most wait for the first.
// repinned reports that this reader was (re)pinned by the first message
// or that messages of the partition were delivered elsewhere since the
// last fetch: the caller makes sure its state covers the stream up to the
// first message (Replay) before using them.
//
// Messages come from a continuous pull (the client keeps pull requests
// outstanding and buffers what arrives), so a quiet partition stays
// pinned and a busy one is read in batches without a round trip each.
func (r *Reader) Fetch(ctx context.Context, n int, wait time.Duration) (msgs []Msg, repinned bool, err error) {
	if r.it == nil {
		expiry := max(time.Second, r.b.pinnedTTL/2)
		r.it, err = r.cons.Messages(jetstream.PullPriorityGroup(OwnerGroup), jetstream.PullMaxMessagesWithBytesLimit(2048, 8<<20),
			jetstream.PullExpiry(expiry))
		if err != nil {
			r.it = nil
			return nil, false, err
		}
		repinned = true // a new pull: check what was delivered meanwhile
	}
	if r.held != nil {
		msgs = append(msgs, *r.held)
		r.held, repinned = nil, true
	}
	for len(msgs) < n {
		w := time.Millisecond
		if len(msgs) == 0 {
			w = wait
		}
		m, err := r.it.Next(jetstream.NextMaxWait(w))
		if err != nil {
			if errors.Is(err, nats.ErrTimeout) {
				break
			}
			// The iterator failed (closed, heartbeats missed while a
			// server failed over): the next call starts a new pull.
			r.it.Stop()
			r.it = nil
			if ctx.Err() != nil {
				return msgs, repinned, ctx.Err()
			}
			return msgs, true, nil
		}
		md, err := m.Metadata()
		if err != nil {
			continue
		}
		gap := false
		if pin := m.Headers().Get("Nats-Pin-Id"); pin != "" && pin != r.pin {
			r.pin, gap = pin, true
		}
		if r.lastCons != 0 && md.Sequence.Consumer != r.lastCons+1 {
			gap = true
			r.b.DeliveryGaps.Add(1)
		}
		r.lastCons = md.Sequence.Consumer
		msg := Msg{Seq: md.Sequence.Stream, Subject: m.Subject(), Header: m.Headers(), Data: m.Data()}
		if gap && len(msgs) > 0 {
			// Messages may be missing in front of this one: the caller
			// checks only in front of a batch's first message.
			r.held = &msg
			break
		}
		repinned = repinned || gap
		msgs = append(msgs, msg)
	}
	return msgs, repinned, nil
}

// Close stops the reader's pull.
func (r *Reader) Close() {
	if r.it != nil {
		r.it.Stop()
		r.it = nil
	}
}

// Delivered is the stream sequence of the last message the consumer
// delivered (to any client).
func (r *Reader) Delivered(ctx context.Context) (uint64, error) {
	info, err := r.info(ctx)
	if err != nil {
		return 0, err
	}
	return info.Delivered.Stream, nil
}

// info reads the consumer's info in one bounded request.
func (r *Reader) info(ctx context.Context) (*jetstream.ConsumerInfo, error) {
	ctx, cancel := bounded(ctx)
	defer cancel()
	return r.cons.Info(ctx)
}

// LastSeq is the stream sequence of the partition's last message on the
// stream (0: none).
func (r *Reader) LastSeq(ctx context.Context) (uint64, error) {
	ctx, cancel := bounded(ctx)
	defer cancel()
	s, err := r.b.JS.Stream(ctx, r.stream)
	if err != nil {
		return 0, err
	}
	m, err := s.GetLastMsgForSubject(ctx, r.filter)
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return m.Sequence, nil
}

// ConsumerState is what a partition's consumer has done.
type ConsumerState struct {
	// Delivered is the consumer's stream position: the sequence of the
	// last message it delivered, or past it (a filtered consumer moves
	// over other partitions' messages too).
	Delivered uint64
	Pending   uint64 // the partition's messages not delivered yet
	// PinnedElsewhere: the consumer is pinned to another client than the
	// one this reader's messages last came to.
	PinnedElsewhere bool
}

// State reads the consumer's state in one request.
func (r *Reader) State(ctx context.Context) (ConsumerState, error) {
	info, err := r.info(ctx)
	if err != nil {
		return ConsumerState{}, err
	}
	st := ConsumerState{Delivered: info.Delivered.Stream, Pending: info.NumPending}
	for _, g := range info.PriorityGroups {
		if g.Group == OwnerGroup && g.PinnedClientID != "" && g.PinnedClientID != r.pin {
			st.PinnedElsewhere = true
		}
	}
	return st, nil
}

// Pending is the number of the partition's messages the consumer has not
// delivered to any client yet.
func (r *Reader) Pending(ctx context.Context) (uint64, error) {
	info, err := r.info(ctx)
	if err != nil {
		return 0, err
	}
	return info.NumPending, nil
}

// Waiting is the number of pull requests the partition's consumer holds
// from its clients (a reader waiting for messages; diagnostics and tests).
func (r *Reader) Waiting(ctx context.Context) (int, error) {
	info, err := r.info(ctx)
	if err != nil {
		return 0, err
	}
	return info.NumWaiting, nil
}

// Release gives the partition up: the next client that fetches is pinned.
func (r *Reader) Release(ctx context.Context) error {
	ctx, cancel := bounded(ctx)
	defer cancel()
	s, err := r.b.JS.Stream(ctx, r.stream)
	if err != nil {
		return err
	}
	r.Close()
	r.pin, r.lastCons, r.held = "", 0, nil
	return s.UnpinConsumer(ctx, r.name, OwnerGroup)
}

// Replay calls fn for the partition's messages with sequences in
// (after, upTo], in order, each once, reading the stream directly (not
// through the partition consumer). It returns the sequence of the first
// message still on the stream when messages after `after` have expired
// (first > after+1 and a message was skipped), else 0.
//
// A message lost on its way (a connection cut while a fetch was
// delivering: the consumer's server sends on, the client sees the rest)
// shows as a hole in the replay consumer's delivery sequence. The replay
// stops in front of it and resumes with a new consumer from the last
// message it passed on (counted in the bus's ReplayGaps); it used to pass
// the messages after the hole on as if nothing were missing, and the
// stage's sequence moved past the lost ones for good.
func (r *Reader) Replay(ctx context.Context, after, upTo uint64, fn func(Msg) error) (first uint64, err error) {
	if upTo <= after {
		return 0, nil
	}
	sctx, cancel := bounded(ctx)
	s, err := r.b.JS.Stream(sctx, r.stream)
	cancel()
	if err != nil {
		return 0, err
	}
	st := s.CachedInfo().State
	if st.LastSeq <= after {
		return 0, nil
	}
	if st.FirstSeq > after+1 {
		first = st.FirstSeq
	}
	return first, r.replay(ctx, after+1, upTo, fn)
}

// replay is Replay from stream sequence next, resuming after holes.
func (r *Reader) replay(ctx context.Context, next, upTo uint64, fn func(Msg) error) error {
	for stuck := 0; ; stuck++ {
		done, last, gap, err := r.replayFrom(ctx, next, upTo, fn)
		if last != 0 {
			next, stuck = last+1, 0
		}
		if done || err != nil {
			return err
		}
		if !gap {
			if err := ctx.Err(); err != nil {
				return err
			}
			return fmt.Errorf("bus: replay of %s stalled after sequence %d (wanted up to %d)", r.filter, next-1, upTo)
		}
		r.b.ReplayGaps.Add(1)
		if stuck >= maxReplayResumes {
			return fmt.Errorf("bus: replay of %s: messages lost on the way %d times in a row after sequence %d (wanted up to %d)",
				r.filter, stuck+1, next-1, upTo)
		}
	}
}

// replaySource is what a replay reads: an ordered consumer (a fake in
// tests, Bus.orderedConsumer).
type replaySource interface {
	Info(ctx context.Context) (*jetstream.ConsumerInfo, error)
	Fetch(batch int, opts ...jetstream.FetchOpt) (jetstream.MessageBatch, error)
}

// maxReplayResumes bounds how often in a row a replay resumes after
// messages lost on the way without passing one on; then it fails and the
// partition restarts from its checkpoint.
const maxReplayResumes = 8

// replayFrom replays from stream sequence next with one ordered consumer
// until upTo, an error, a stall (a fetch that brings nothing), or a hole
// in the consumer's delivery sequence (gap). last is the sequence of the
// last message passed to fn (0: none).
func (r *Reader) replayFrom(ctx context.Context, next, upTo uint64, fn func(Msg) error) (done bool, last uint64, gap bool, err error) {
	// MaxResetAttempts: the library recreates an ordered consumer without
	// end by default, and a fetch waits through it whatever its context
	// (a replay held a partition for minutes while JetStream failed
	// over); a few attempts, then the replay fails and the partition
	// restarts from its checkpoint.
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: []string{r.filter}, DeliverPolicy: jetstream.DeliverByStartSequencePolicy,
		OptStartSeq: next, MaxResetAttempts: 3}
	newOC := r.b.orderedConsumer
	if newOC == nil {
		newOC = func(ctx context.Context, stream string, cfg jetstream.OrderedConsumerConfig) (replaySource, error) {
			return r.b.JS.OrderedConsumer(ctx, stream, cfg)
		}
	}
	// Bounded: a request whose answer is lost while a server fails over
	// would wait for ever (the library's ordered consumer adds no
	// deadline of its own to Info); a partition's replay once waited
	// there for minutes with the population stage behind it.
	octx, cancel := bounded(ctx)
	oc, err := newOC(octx, r.stream, cfg)
	if err != nil {
		cancel()
		return false, 0, false, err
	}
	info, err := oc.Info(octx)
	cancel()
	if err != nil {
		return false, 0, false, err
	}
	if info.NumPending == 0 {
		return true, 0, false, nil
	}
	for {
		got := 0
		wctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		b, err := oc.Fetch(1024, jetstream.FetchContext(wctx))
		if err != nil {
			cancel()
			return false, last, false, err
		}
		// Each Fetch of an ordered consumer starts a new server-side
		// consumer (nats.go resets it per fetch) after the last message
		// received: its delivery sequence starts at 1 and has no hole.
		var cons uint64
		for m := range b.Messages() {
			got++
			md, err := m.Metadata()
			if err != nil {
				cancel()
				return false, last, false, fmt.Errorf("bus: replay of %s: message after sequence %d: %w", r.filter, last, err)
			}
			if md.Sequence.Consumer != cons+1 {
				cancel()
				return false, last, true, nil
			}
			cons = md.Sequence.Consumer
			if md.Sequence.Stream > upTo {
				cancel()
				return true, last, false, nil
			}
			if err := fn(Msg{Seq: md.Sequence.Stream, Subject: m.Subject(), Header: m.Headers(), Data: m.Data()}); err != nil {
				cancel()
				return false, last, false, err
			}
			last = md.Sequence.Stream
			if md.Sequence.Stream == upTo || md.NumPending == 0 {
				cancel()
				return true, last, false, nil
			}
		}
		err = b.Error()
		cancel()
		if err != nil && !errors.Is(err, nats.ErrTimeout) && !errors.Is(err, context.DeadlineExceeded) {
			return false, last, false, err
		}
		if got == 0 {
			return false, last, false, nil // stalled
		}
	}
}
