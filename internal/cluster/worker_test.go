package cluster

import (
	"context"
	"strconv"
	"testing"

	"github.com/palisade-sec/palisade/internal/bus"
	"github.com/palisade-sec/palisade/internal/bus/natstest"
	"github.com/palisade-sec/palisade/internal/engine"
)

// TestReassignWaitsForStoppingRunner: a partition handed over and given
// back to the same worker before its runner there has stopped is not
// started a second time until that runner is done. Two runners of the
// population partition in one worker shared its merger: the CI run of
// cef3337 failed under -race on the merger's callback, written by the
// new runner while the old one's merge loop read it.
func TestReassignWaitsForStoppingRunner(t *testing.T) {
	nc := natstest.Start(t, 1)
	cfg := testConfig(nc.URLs())
	cfg.Partitions, cfg.Replicas = 1, 1
	b := connect(t, cfg, "w")
	w, err := NewWorker(b, cfg, engine.DefaultConfig(), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer func() { cancel(); w.stopAll() }()

	// The population partition's last runner is still stopping.
	old := &runner{w: w, name: "c.0", pop: true, cancel: func() {}, done: make(chan struct{})}
	w.stopping["c.0"] = old
	w.assign(ctx, []string{w.ID()})
	if got := w.Owned(); len(got) != 1 || got[0] != "b.0" {
		t.Fatalf("with c.0's runner still stopping the worker runs %v, want [b.0]", got)
	}
	w.assign(ctx, []string{w.ID()})
	if w.runners["c.0"] != nil {
		t.Fatal("c.0 started again while its runner was stopping")
	}
	close(old.done)
	w.assign(ctx, []string{w.ID()})
	if got := w.Owned(); len(got) != 2 {
		t.Fatalf("after the old runner stopped the worker runs %v, want [b.0 c.0]", got)
	}
	if len(w.stopping) != 0 {
		t.Fatalf("stopping still holds %d runners", len(w.stopping))
	}

	// Handing a partition over puts its runner among the stopping ones
	// until it is done.
	var members []string
	var gone string
	for i := 0; i < 100 && gone == ""; i++ {
		// A second member that takes exactly one of the two partitions
		// (if it took both, the other one would still be stopping when
		// the test gives them back).
		members = []string{w.ID(), "other-" + strconv.Itoa(i)}
		var moved []string
		for _, name := range []string{"b.0", "c.0"} {
			if bus.Owner(members, name) != w.ID() {
				moved = append(moved, name)
			}
		}
		if len(moved) == 1 {
			gone = moved[0]
		}
	}
	if gone == "" {
		t.Fatal("no second member takes a partition")
	}
	w.mu.Lock()
	handed := w.runners[gone]
	w.mu.Unlock()
	w.assign(ctx, members)
	w.mu.Lock()
	inRunners, inStopping := w.runners[gone] != nil, w.stopping[gone] == handed
	w.mu.Unlock()
	if inRunners || !inStopping {
		t.Fatalf("%s handed over: among the runners %v, among the stopping ones %v", gone, inRunners, inStopping)
	}
	<-handed.done
	w.assign(ctx, []string{w.ID()})
	if got := w.Owned(); len(got) != 2 {
		t.Fatalf("%s given back: the worker runs %v, want both partitions", gone, got)
	}
}
