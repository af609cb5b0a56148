package bus

import (
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// fakeMsg is a delivered message with its stream and consumer sequences.
type fakeMsg struct {
	jetstream.Msg
	stream, cons uint64
	pending      uint64
	pin          string
}

func (m fakeMsg) Metadata() (*jetstream.MsgMetadata, error) {
	return &jetstream.MsgMetadata{Sequence: jetstream.SequencePair{Stream: m.stream, Consumer: m.cons}, NumPending: m.pending}, nil
}
func (m fakeMsg) Data() []byte    { return nil }
func (m fakeMsg) Subject() string { return "x" }
func (m fakeMsg) Headers() nats.Header {
	h := nats.Header{}
	if m.pin != "" {
		h.Set("Nats-Pin-Id", m.pin)
	}
	return h
}

// fakeIter hands out its messages, then times out.
type fakeIter struct{ msgs []fakeMsg }

func (it *fakeIter) Next(...jetstream.NextOpt) (jetstream.Msg, error) {
	if len(it.msgs) == 0 {
		return nil, nats.ErrTimeout
	}
	m := it.msgs[0]
	it.msgs = it.msgs[1:]
	return m, nil
}
func (it *fakeIter) Stop()  {}
func (it *fakeIter) Drain() {}

// TestFetchStopsAtDiscontinuity: a batch ends in front of a message that
// follows a gap in the consumer's deliveries (messages delivered to no
// one, as when a server fails over) or a new pin, and the next batch
// starts with it, flagged, so that the caller replays what is missing in
// front of it — the caller checks only in front of a batch's first
// message.
func TestFetchStopsAtDiscontinuity(t *testing.T) {
	it := &fakeIter{msgs: []fakeMsg{
		{stream: 10, cons: 1, pin: "a"}, {stream: 14, cons: 2, pin: "a"},
		{stream: 30, cons: 5, pin: "a"}, // consumer sequences 3 and 4 never arrived
		{stream: 31, cons: 6, pin: "a"},
		{stream: 40, cons: 7, pin: "b"}, // pinned anew
		{stream: 41, cons: 8, pin: "b"},
	}}
	r := &Reader{b: &Bus{pinnedTTL: time.Second}, it: it}
	type batch struct {
		seqs     []uint64
		repinned bool
	}
	want := []batch{{[]uint64{10, 14}, true}, {[]uint64{30, 31}, true}, {[]uint64{40, 41}, true}, {nil, false}}
	for i, w := range want {
		msgs, repinned, err := r.Fetch(t.Context(), 100, time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		var got []uint64
		for _, m := range msgs {
			got = append(got, m.Seq)
		}
		if len(got) != len(w.seqs) || repinned != w.repinned {
			t.Fatalf("batch %d: got %v repinned %v, want %v repinned %v", i, got, repinned, w.seqs, w.repinned)
		}
		for j := range got {
			if got[j] != w.seqs[j] {
				t.Fatalf("batch %d: got %v, want %v", i, got, w.seqs)
			}
		}
	}
}
