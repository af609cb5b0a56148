package bus_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/bus"
	"github.com/palisade-sec/palisade/internal/bus/natstest"
)

func connect(t *testing.T, urls string, l bus.Layout) *bus.Bus {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := bus.Connect(ctx, bus.Options{URLs: strings.Split(urls, ","), Prefix: "bt"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	if err := b.ProvisionWait(ctx, l, nil); err != nil {
		t.Fatal(err)
	}
	return b
}

// TestPartitionsAndOwnership: against a real (embedded) NATS server, the
// stream's partition() transform puts every record of one key on one
// partition and spreads keys over partitions; a partition's pinned
// consumer delivers to one reader at a time and passes to another when the
// owner stops pulling (PinnedTTL); Replay reads what a consumer delivered;
// state objects keep the latest sequence; the partition count is fixed.
func TestPartitionsAndOwnership(t *testing.T) {
	c := natstest.Start(t, 1)
	l := bus.Layout{Partitions: 4, Replicas: 1, PinnedTTL: time.Second, MemberTTL: time.Second, MaxAge: time.Hour}
	b := connect(t, c.URLs(), l)
	ctx := context.Background()

	const keys, per = 40, 5
	var msgs []bus.Out
	for k := 0; k < keys; k++ {
		for i := 0; i < per; i++ {
			msgs = append(msgs, bus.Out{Subject: b.RecordSubject(bus.Token(fmt.Sprintf("host-%d.example.test", k))), Data: []byte(fmt.Sprintf("%d/%d", k, i))})
		}
	}
	if err := b.Publish(ctx, msgs); err != nil {
		t.Fatal(err)
	}
	partOfKey := map[string]int{}
	total := 0
	for p := 0; p < l.Partitions; p++ {
		r, err := b.EndpointReader(ctx, p)
		if err != nil {
			t.Fatal(err)
		}
		var got []bus.Msg
		for {
			m, _, err := r.Fetch(ctx, keys*per, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			if len(m) == 0 {
				break
			}
			got = append(got, m...)
		}
		for _, m := range got {
			if !strings.HasPrefix(m.Subject, fmt.Sprintf("bt.b.%d.", p)) {
				t.Fatalf("partition %d delivered %s", p, m.Subject)
			}
			k, _, _ := strings.Cut(string(m.Data), "/")
			if q, ok := partOfKey[k]; ok && q != p {
				t.Fatalf("key %s on partitions %d and %d", k, q, p)
			}
			partOfKey[k] = p
		}
		if len(got) == 0 || len(got) == keys*per {
			t.Errorf("partition %d got %d of %d records: keys are not spread", p, len(got), keys*per)
		}
		total += len(got)
		// Replay of the partition's messages after the first one.
		if len(got) > 1 {
			n := 0
			if _, err := r.Replay(ctx, got[0].Seq, got[len(got)-1].Seq, func(m bus.Msg) error {
				if m.Seq != got[n+1].Seq {
					t.Fatalf("replay: seq %d, want %d", m.Seq, got[n+1].Seq)
				}
				n++
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if n != len(got)-1 {
				t.Fatalf("replay gave %d of %d", n, len(got)-1)
			}
		}
		r.Close()
	}
	if total != keys*per || len(partOfKey) != keys {
		t.Fatalf("%d records of %d keys read, want %d of %d", total, len(partOfKey), keys*per, keys)
	}

	// Ownership: two readers of partition 0; one gets the messages.
	r1, _ := b.EndpointReader(ctx, 0)
	r2, _ := b.EndpointReader(ctx, 0)
	ctl := func(n int) {
		var out []bus.Out
		for i := 0; i < n; i++ {
			out = append(out, b.ControlMsg(0, bus.KindTick, time.Now()))
		}
		if err := b.Publish(ctx, out); err != nil {
			t.Fatal(err)
		}
	}
	ctl(3)
	m1, _, _ := r1.Fetch(ctx, 10, 2*time.Second)
	m2, _, _ := r2.Fetch(ctx, 10, 300*time.Millisecond)
	if len(m1) != 3 || len(m2) != 0 {
		t.Fatalf("first reader got %d, second %d: want 3 and 0 (one owner)", len(m1), len(m2))
	}
	// The owner stops pulling (as a killed worker): the other takes over
	// after the pinned TTL and sees it was (re)pinned.
	r1.Close()
	ctl(2)
	start := time.Now()
	var taken []bus.Msg
	repinned := false
	// Records keep coming, as on a live partition: both ticks may have
	// gone to the stopped owner's pull request, still open on the server
	// (on a loaded machine its stop can reach the server after them).
	sent, lastSent := 2, time.Now()
	for time.Since(start) < 30*time.Second && len(taken) < 2 {
		got, rp, err := r2.Fetch(ctx, 10, 500*time.Millisecond)
		if err != nil {
			t.Fatal(err)
		}
		taken = append(taken, got...)
		repinned = repinned || rp
		if len(taken) == 0 && time.Since(lastSent) > 2*l.PinnedTTL {
			ctl(1)
			sent, lastSent = sent+1, time.Now()
		}
	}
	if len(taken) == 0 || !repinned {
		t.Fatalf("after the owner stopped: the other reader got %d messages (repinned %v)", len(taken), repinned)
	}
	// Acknowledgements are off: a message the stopped owner's pull request
	// still took on the server (its stop races with the publish) is not
	// delivered again. A worker that takes a partition over replays from
	// the checkpoint's sequence, so the new owner's replay from the last
	// sequence the old owner processed must hold both messages.
	last, err := r2.Delivered(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var replayed []uint64
	if _, err := r2.Replay(ctx, m1[len(m1)-1].Seq, last, func(m bus.Msg) error {
		replayed = append(replayed, m.Seq)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if len(replayed) < 2 || len(replayed) > sent {
		t.Fatalf("replay after the takeover gave %d messages, want 2 to the %d published (the new owner got %d directly)", len(replayed), sent, len(taken))
	}
	for _, m := range taken {
		if !slices.Contains(replayed, m.Seq) {
			t.Fatalf("message %d delivered to the new owner is not in the replay %v", m.Seq, replayed)
		}
	}
	t.Logf("partition passed to the other reader %v after its owner stopped pulling (pinned TTL %v)", time.Since(start).Round(10*time.Millisecond), l.PinnedTTL)
	r2.Close()

	// State objects: a later sequence wins, an older one is not written.
	if ok, err := b.PutState(ctx, "part.x", 10, nil, []byte("ten")); err != nil || !ok {
		t.Fatal(ok, err)
	}
	if ok, err := b.PutState(ctx, "part.x", 9, nil, []byte("nine")); err != nil || ok {
		t.Fatalf("an older state was written: %v %v", ok, err)
	}
	data, info, err := b.GetState(ctx, "part.x")
	if err != nil || string(data) != "ten" || info.Seq != 10 {
		t.Fatalf("state %q seq %d err %v", data, info.Seq, err)
	}

	// The partition count is fixed once the stream exists.
	l2 := l
	l2.Partitions = 8
	if err := b.Provision(ctx, l2); err == nil || !strings.Contains(err.Error(), "4 partitions") {
		t.Fatalf("provisioning 8 partitions over 4: %v", err)
	}
}

// TestOwner: rendezvous owners are stable and a member leaving moves only
// its own partitions.
func TestOwner(t *testing.T) {
	members := []string{"w1", "w2", "w3"}
	before := map[string]string{}
	counts := map[string]int{}
	for p := 0; p < 64; p++ {
		name := fmt.Sprintf("b.%d", p)
		before[name] = bus.Owner(members, name)
		counts[before[name]]++
	}
	for _, m := range members {
		if counts[m] == 0 {
			t.Fatalf("member %s owns nothing: %v", m, counts)
		}
	}
	for name, o := range before {
		after := bus.Owner([]string{"w1", "w3"}, name)
		if o != "w2" && after != o {
			t.Fatalf("%s moved from %s to %s when w2 left", name, o, after)
		}
	}
	if bus.Owner(nil, "b.0") != "" {
		t.Fatal("owner without members")
	}
}
