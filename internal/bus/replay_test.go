package bus

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// lossyStream is a partition's messages (stream sequences) read through
// ordered consumers that lose messages on the way: lose[i] are the
// positions (0-based, in delivery order) that the i-th consumer created
// never hands over, as when a connection is cut while a fetch delivers
// and the server sends the rest to the reconnected client.
type lossyStream struct {
	seqs     []uint64
	lose     [][]int
	consumer int // consumers created
}

func (s *lossyStream) open(_ context.Context, _ string, cfg jetstream.OrderedConsumerConfig) (replaySource, error) {
	var lose []int
	if s.consumer < len(s.lose) {
		lose = s.lose[s.consumer]
	}
	s.consumer++
	i, _ := slices.BinarySearch(s.seqs, cfg.OptStartSeq)
	return &lossyConsumer{s: s, next: i, lose: lose}, nil
}

type lossyConsumer struct {
	s         *lossyStream
	next      int    // index of the next message to deliver
	delivered int    // deliveries so far (lost ones too)
	cons      uint64 // consumer sequence of the last delivery
	lose      []int
}

func (c *lossyConsumer) Info(context.Context) (*jetstream.ConsumerInfo, error) {
	return &jetstream.ConsumerInfo{NumPending: uint64(len(c.s.seqs) - c.next)}, nil
}

// Fetch delivers up to n messages. Like nats.go's ordered consumer, each
// fetch starts a new server-side consumer after the last message
// received: delivery sequences start at 1.
func (c *lossyConsumer) Fetch(n int, _ ...jetstream.FetchOpt) (jetstream.MessageBatch, error) {
	b := &fakeBatch{ch: make(chan jetstream.Msg, n)}
	c.cons = 0
	resume := c.next
	for k := 0; k < n && c.next < len(c.s.seqs); k++ {
		c.cons++
		lost := slices.Contains(c.lose, c.delivered)
		c.delivered++
		seq := c.s.seqs[c.next]
		c.next++
		if lost {
			continue
		}
		b.ch <- fakeMsg{stream: seq, cons: c.cons, pending: uint64(len(c.s.seqs) - c.next)}
		resume = c.next
	}
	c.next = resume // the next fetch starts after the last message received
	close(b.ch)
	return b, nil
}

type fakeBatch struct{ ch chan jetstream.Msg }

func (b *fakeBatch) Messages() <-chan jetstream.Msg { return b.ch }
func (b *fakeBatch) Error() error                   { return nil }

// TestReplayResumesAfterLostMessages: a replay whose fetch loses messages
// on the way (a hole in the delivery sequence) passes every message of
// the range on once, in order: it stops in front of the hole and resumes
// from the last message it passed on. It used to pass on the messages
// after the hole, and the partition's stage, whose sequence moved past
// the lost ones, never saw them.
func TestReplayResumesAfterLostMessages(t *testing.T) {
	var seqs []uint64
	for s := uint64(3); s < 3000; s += 3 { // the partition's messages among others
		seqs = append(seqs, s)
	}
	for _, tc := range []struct {
		name string
		lose [][]int
		gaps int64
	}{
		{"no loss", nil, 0},
		{"one in the middle of a batch", [][]int{{10}}, 1},
		{"several, and the first of the next consumer", [][]int{{5, 6, 7}, {0}, {300}}, 3},
		{"the first of the first batch", [][]int{{0}}, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := &lossyStream{seqs: seqs, lose: tc.lose}
			b := &Bus{orderedConsumer: src.open}
			r := &Reader{b: b, filter: "p.b.0.>"}
			after, upTo := seqs[1], seqs[len(seqs)-2]
			var got []uint64
			if err := r.replay(t.Context(), after+1, upTo, func(m Msg) error {
				got = append(got, m.Seq)
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			var want []uint64
			for _, s := range seqs {
				if s > after && s <= upTo {
					want = append(want, s)
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("replayed %d messages (first %v), want %d (first %v)", len(got), got[:min(5, len(got))], len(want), want[:5])
			}
			if g := b.ReplayGaps.Load(); g != tc.gaps {
				t.Errorf("ReplayGaps = %d, want %d", g, tc.gaps)
			}
		})
	}
}

// TestReplayGivesUpOnEndlessLoss: a replay that loses the message in
// front of it again and again fails (the partition restarts from its
// checkpoint) instead of skipping it.
func TestReplayGivesUpOnEndlessLoss(t *testing.T) {
	seqs := []uint64{1, 2, 3, 4}
	var lose [][]int
	for i := 0; i <= maxReplayResumes+1; i++ {
		lose = append(lose, []int{0})
	}
	src := &lossyStream{seqs: seqs, lose: lose}
	r := &Reader{b: &Bus{orderedConsumer: src.open}, filter: "p.b.0.>"}
	var got []uint64
	err := r.replay(t.Context(), 1, 4, func(m Msg) error { got = append(got, m.Seq); return nil })
	if err == nil || len(got) != 0 {
		t.Fatalf("err %v, replayed %v: want an error and nothing replayed", err, got)
	}
}

// silentConsumer never answers Info (its answer lost while a server fails
// over).
type silentConsumer struct{ replaySource }

func (silentConsumer) Info(ctx context.Context) (*jetstream.ConsumerInfo, error) {
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestReplayInfoBounded: a replay whose consumer never answers fails
// after opTimeout (its partition restarts from the checkpoint) even when
// the caller's context has no deadline. The library's ordered consumer
// gives Info no deadline of its own: a partition waited there until the
// test gave up, with the population stage 47,449 messages behind.
func TestReplayInfoBounded(t *testing.T) {
	old := opTimeout
	opTimeout = 200 * time.Millisecond
	defer func() { opTimeout = old }()
	open := func(context.Context, string, jetstream.OrderedConsumerConfig) (replaySource, error) {
		return silentConsumer{}, nil
	}
	r := &Reader{b: &Bus{orderedConsumer: open}, filter: "p.c.>"}
	done := make(chan error, 1)
	go func() { done <- r.replay(context.Background(), 1, 10, func(Msg) error { return nil }) }()
	select {
	case err := <-done:
		if err == nil {
			t.Fatal("replay of a consumer that never answers succeeded")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("replay still waits for a consumer that never answers")
	}
}
