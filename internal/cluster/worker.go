package cluster

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/palisade-sec/palisade/internal/bus"
	"github.com/palisade-sec/palisade/internal/engine"
	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/statecodec"
)

// Worker is an analysis worker (the analyze role): it announces itself in
// the membership, owns the partitions rendezvous hashing assigns it among
// the live workers, runs their stages, checkpoints them, and — while it
// owns the population partition — merges every partition's partial report
// into the store.
type Worker struct {
	b      *bus.Bus
	cfg    Config
	eng    engine.Config
	codecs *stateCodecs
	id     string
	log    *slog.Logger
	merger *Merger // nil: no store (tests of the analysis alone)
	now    func() time.Time

	mu      sync.Mutex
	runners map[string]*runner
	// stopping: runners handed over and still writing their final
	// checkpoint; the partition is not started again in this worker
	// until its runner there has stopped (two runners of one partition
	// would share its merger and consumer).
	stopping map[string]*runner
	Stats    WorkerStats
}

// WorkerStats count what a worker did (metrics).
type WorkerStats struct {
	Taken       atomic.Int64 // partitions taken over
	Released    atomic.Int64 // partitions given up
	Lost        atomic.Int64 // partitions lost to another worker
	Replayed    atomic.Int64 // messages replayed from the stream after a restore
	Processed   atomic.Int64 // messages processed
	Checkpoints atomic.Int64
	Restored    atomic.Int64 // partitions restored from a checkpoint
	// TailGaps: times a quiet partition found that its consumer had
	// delivered messages it never received, and replayed them.
	TailGaps atomic.Int64
	// The population stage's, while this worker runs it (PopulationStats).
	Population atomic.Pointer[PopulationStats]
}

// NewWorker prepares a worker on a provisioned bus. merger may be nil.
func NewWorker(b *bus.Bus, cfg Config, eng engine.Config, merger *Merger, log *slog.Logger) (*Worker, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	codecs, err := newStateCodecs(eng, b.Partitions())
	if err != nil {
		return nil, fmt.Errorf("cluster: state codec: %w", err)
	}
	var id [6]byte
	_, _ = rand.Read(id[:])
	return &Worker{b: b, cfg: cfg, eng: eng, codecs: codecs, id: hex.EncodeToString(id[:]), log: log, merger: merger,
		now: time.Now, runners: map[string]*runner{}, stopping: map[string]*runner{}}, nil
}

// ID is the worker's member id.
func (w *Worker) ID() string { return w.id }

// partitionNames are the partitions of the deployment: "b.0" … and "c.0".
func (w *Worker) partitionNames() []string {
	out := make([]string, 0, w.b.Partitions()+1)
	for p := 0; p < w.b.Partitions(); p++ {
		out = append(out, "b."+strconv.Itoa(p))
	}
	return append(out, "c.0")
}

// Owned lists the partitions the worker runs now.
func (w *Worker) Owned() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, n := range w.partitionNames() {
		if w.runners[n] != nil {
			out = append(out, n)
		}
	}
	return out
}

// Describe tells, for each partition the worker runs, the input sequence
// its stage has taken, the sequence of its last partial report stored,
// and what the bus holds for it: the consumer's last delivered sequence,
// the messages it has not delivered, and the partition's last message on
// the stream (diagnostics: a stage behind its stream's end while nothing
// is pending has missed messages).
func (w *Worker) Describe(ctx context.Context) []string {
	w.mu.Lock()
	rs := make([]*runner, 0, len(w.runners))
	for _, n := range w.partitionNames() {
		if r := w.runners[n]; r != nil {
			rs = append(rs, r)
		}
	}
	w.mu.Unlock()
	var out []string
	for _, r := range rs {
		line := fmt.Sprintf("%s: taken %d, reported %d", r.name, r.progress.Load(), r.reported.Load())
		var rd *bus.Reader
		var err error
		if r.pop {
			rd, err = w.b.PopulationReader(ctx)
		} else {
			rd, err = w.b.EndpointReader(ctx, r.part)
		}
		if err == nil {
			d, derr := rd.Delivered(ctx)
			n, nerr := rd.Pending(ctx)
			last, lerr := rd.LastSeq(ctx)
			line += fmt.Sprintf("; consumer delivered %d (%v), pending %d (%v); last on stream %d (%v)", d, derr, n, nerr, last, lerr)
		} else {
			line += fmt.Sprintf("; consumer: %v", err)
		}
		out = append(out, line)
	}
	return out
}

// Run works until ctx is done, then checkpoints and releases its
// partitions and leaves the membership.
func (w *Worker) Run(ctx context.Context) error {
	m, err := w.b.Join(ctx, w.id)
	if err != nil {
		return fmt.Errorf("cluster: join: %w", err)
	}
	w.log.Info("cluster worker joined", "id", w.id, "partitions", w.b.Partitions())
	beat := w.cfg.MemberTTL.D() / 4
	if beat < 100*time.Millisecond {
		beat = 100 * time.Millisecond
	}
	t := time.NewTicker(beat)
	defer t.Stop()
	// A membership call that takes longer than the membership's TTL is
	// stale anyway (while JetStream fails over): try again at once.
	callTTL := max(w.cfg.MemberTTL.D(), time.Second)
	for {
		mctx, cancel := context.WithTimeout(ctx, callTTL)
		if err := m.Beat(mctx); err != nil && ctx.Err() == nil {
			w.log.Warn("cluster: membership", "err", err)
		}
		cancel()
		mctx, cancel = context.WithTimeout(ctx, callTTL)
		members, err := m.List(mctx)
		cancel()
		if err == nil {
			w.assign(ctx, members)
		} else if ctx.Err() == nil {
			w.log.Warn("cluster: membership list", "err", err)
		}
		select {
		case <-ctx.Done():
			w.stopAll()
			if w.b.NC.IsConnected() { // else its entry expires (member_ttl)
				lctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				_ = m.Leave(lctx)
				cancel()
			}
			return nil
		case <-t.C:
		}
	}
}

// assign starts runners for the partitions the worker should own and
// stops those it should not.
func (w *Worker) assign(ctx context.Context, members []string) {
	self := false
	for _, m := range members {
		self = self || m == w.id
	}
	if !self {
		members = append(members, w.id) // its own entry may not be visible yet
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for name, r := range w.runners {
		select {
		case <-r.done:
			delete(w.runners, name) // stopped on its own (lost, failed)
		default:
		}
	}
	for name, r := range w.stopping {
		select {
		case <-r.done:
			delete(w.stopping, name)
		default:
		}
	}
	for _, name := range w.partitionNames() {
		mine := bus.Owner(members, name) == w.id
		r := w.runners[name]
		switch {
		case mine && r == nil && w.stopping[name] == nil:
			w.runners[name] = w.start(ctx, name)
		case !mine && r != nil:
			go r.stop(true)
			delete(w.runners, name)
			w.stopping[name] = r
		}
	}
}

func (w *Worker) stopAll() {
	w.mu.Lock()
	rs := make([]*runner, 0, len(w.runners))
	for _, r := range w.runners {
		rs = append(rs, r)
	}
	for _, r := range w.stopping {
		rs = append(rs, r) // stop waits for its done channel
	}
	w.runners = map[string]*runner{}
	w.stopping = map[string]*runner{}
	w.mu.Unlock()
	var wg sync.WaitGroup
	for _, r := range rs {
		wg.Add(1)
		go func() { defer wg.Done(); r.stop(true) }()
	}
	wg.Wait()
}

// maxCheckpointReads: failed reads of a checkpoint in a row after which
// the partition is rebuilt from the stream.
const maxCheckpointReads = 3

// refreshEvery: every refreshEvery report intervals a partition checks
// that its partial report is still stored (the merger deletes one it
// cannot read) and writes it again if not.
const refreshEvery = 10

// errStalled: the partition's consumer holds messages but delivers none.
var errStalled = errors.New("partition stalled")

// runner runs one partition while the worker owns it.
type runner struct {
	w      *Worker
	name   string
	part   int
	pop    bool
	cancel context.CancelFunc
	done   chan struct{}
	handed atomic.Bool // stop with a final checkpoint and release

	rd       *bus.Reader
	ep       *EndpointStage
	ps       *PopulationStage
	out      []bus.Out // population-stream messages of the current batch
	lastMsg  time.Time
	lastCP   time.Time
	lastRep  time.Time
	cpSeq    uint64 // sequence of the last checkpoint written
	repSeq   uint64
	repRetry atomic.Bool // the last partial report was not written
	idleSent bool
	getFails int       // checkpoint reads failed in a row
	refresh  time.Time // last check that the partial report is stored
	// acked are the activity summaries the merger wrote since the last
	// partial (population stage).
	ackMu  sync.Mutex
	acked  [][]model.SubjectActivity
	check  bool          // pinned anew: check the next messages follow the state
	upload chan struct{} // one checkpoint upload at a time
	partUp chan struct{} // one partial-report upload at a time
	// progress is the input sequence the stage has taken, reported the
	// sequence of the last partial report stored (read by Describe while
	// the runner works).
	progress, reported atomic.Uint64
}

func (w *Worker) start(parent context.Context, name string) *runner {
	ctx, cancel := context.WithCancel(parent)
	r := &runner{w: w, name: name, cancel: cancel, done: make(chan struct{}), upload: make(chan struct{}, 1), partUp: make(chan struct{}, 1)}
	if name == "c.0" {
		r.pop = true
	} else {
		r.part, _ = strconv.Atoi(name[2:])
	}
	w.Stats.Taken.Add(1)
	go func() {
		defer close(r.done)
		err := r.run(ctx)
		switch {
		case errors.Is(err, bus.ErrLost):
			w.Stats.Lost.Add(1)
			w.log.Warn("cluster: partition taken by another worker", "partition", name)
		case err != nil && ctx.Err() == nil:
			w.log.Error("cluster: partition stopped", "partition", name, "err", err)
		}
	}()
	return r
}

// stop ends the runner; handover: write a checkpoint and release the
// partition so that its next owner starts from here at once.
func (r *runner) stop(handover bool) {
	r.handed.Store(handover)
	r.cancel()
	<-r.done
}

func (r *runner) run(ctx context.Context) error {
	var err error
	if r.pop {
		r.rd, err = r.w.b.PopulationReader(ctx)
	} else {
		r.rd, err = r.w.b.EndpointReader(ctx, r.part)
	}
	if err != nil {
		return err
	}
	defer func() { r.rd.Close() }()
	var mergeDone chan struct{}
	if r.pop && r.w.merger != nil {
		mctx, cancel := context.WithCancel(ctx)
		onSubjects := func(subs []model.SubjectActivity) {
			r.ackMu.Lock()
			r.acked = append(r.acked, subs)
			r.ackMu.Unlock()
		}
		mergeDone = make(chan struct{})
		go func() { defer close(mergeDone); r.w.merger.Run(mctx, r.w.cfg.Report.D(), onSubjects) }()
		defer func() { cancel(); <-mergeDone }()
	}
	for ctx.Err() == nil {
		err = r.serve(ctx)
		if ctx.Err() != nil || errors.Is(err, bus.ErrLost) {
			break
		}
		// The bus failed under the stage (a publish not acknowledged, a
		// replay cut short): start over from the last checkpoint, which
		// the stage's deterministic replay catches up with.
		r.w.log.Warn("cluster: partition restarting from its checkpoint", "partition", r.name, "err", err)
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
		if errors.Is(err, errStalled) {
			// A fresh consumer handle and pull.
			var rd *bus.Reader
			var rerr error
			if r.pop {
				rd, rerr = r.w.b.PopulationReader(ctx)
			} else {
				rd, rerr = r.w.b.EndpointReader(ctx, r.part)
			}
			if rerr == nil {
				r.rd.Close()
				r.rd = rd
			}
		}
	}
	if r.handed.Load() && r.stage() != nil && !errors.Is(err, bus.ErrLost) && !r.w.b.NC.IsConnected() {
		// Nothing can be written: the next owner replays from the last
		// checkpoint, as after a crash (a shutdown must not wait for
		// servers that are gone).
		r.w.log.Warn("cluster: bus unreachable; partition left without a final checkpoint (its next owner replays from the last one)", "partition", r.name)
	} else if r.handed.Load() && r.stage() != nil && !errors.Is(err, bus.ErrLost) {
		fctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := r.flush(fctx); err == nil {
			if err := r.checkpoint(fctx, true); err != nil {
				r.w.log.Warn("cluster: final checkpoint", "partition", r.name, "err", err)
			}
			r.partial(fctx, true)
		}
		if err := r.rd.Release(fctx); err != nil {
			r.w.log.Warn("cluster: release", "partition", r.name, "err", err)
		}
		r.w.Stats.Released.Add(1)
	}
	return err
}

func (r *runner) stage() any {
	if r.pop {
		if r.ps == nil {
			return nil
		}
		return r.ps
	}
	if r.ep == nil {
		return nil
	}
	return r.ep
}

func (r *runner) seq() uint64 {
	if r.pop {
		return r.ps.InSeq
	}
	return r.ep.InSeq
}

// serve restores the partition and processes it until ctx is done or the
// bus fails.
func (r *runner) serve(ctx context.Context) error {
	if err := r.restore(ctx); err != nil {
		return err
	}
	r.progress.Store(r.seq())
	d, err := r.rd.Delivered(ctx)
	if err != nil {
		return err
	}
	if _, err := r.replay(ctx, d); err != nil {
		return err
	}
	r.lastMsg, r.lastCP, r.lastRep = r.w.now(), r.w.now(), time.Time{}
	// Restarted: the reader's pull may hold messages fetched before the
	// restart, and the consumer's delivered sequence (read above) may lag
	// them after a leader change: check that the first message follows
	// the state, as after a new pin.
	r.check = true
	lastFetched, lastStallCheck, lastTailCheck := r.w.now(), r.w.now(), time.Time{}
	for ctx.Err() == nil {
		msgs, repinned, err := r.rd.Fetch(ctx, 512, 500*time.Millisecond)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if repinned {
			r.check = true
		}
		if now := r.w.now(); len(msgs) > 0 {
			lastFetched = now
		} else if stall := 2 * r.w.b.PinnedTTL(); (now.Sub(lastFetched) > stall && now.Sub(lastStallCheck) > stall) ||
			(r.check && now.Sub(lastTailCheck) >= time.Second) {
			// Nothing delivered for a while, or nothing since a new pull.
			lastStallCheck, lastTailCheck = now, now
			if err := r.tail(ctx, now.Sub(lastFetched)); err != nil {
				return err
			}
		}
		if len(msgs) > 0 {
			if r.check && msgs[0].Seq > r.seq()+1 {
				// Pinned anew: messages of the partition may have been
				// delivered to another worker meanwhile.
				if _, err := r.replay(ctx, msgs[0].Seq-1); err != nil {
					return err
				}
			}
			r.check = false
			for _, m := range msgs {
				if err := r.take(m); err != nil {
					return err
				}
			}
			r.w.Stats.Processed.Add(int64(len(msgs)))
			if r.pop {
				st := r.ps.Stats()
				r.w.Stats.Population.Store(&st)
			}
			r.lastMsg = r.w.now()
			r.progress.Store(r.seq())
			if err := r.flush(ctx); err != nil {
				return err
			}
		}
		if err := r.periodic(ctx); err != nil {
			return err
		}
	}
	return nil
}

// tail is called when the partition's pull brought nothing: the consumer
// may have delivered the partition's last messages to no one (a pull
// buffer that overflowed while a server failed over, a connection cut),
// and no later message shows the hole while the partition is quiet. When
// the stream holds messages of the partition after the stage's sequence
// that the consumer has passed, the stage replays them from the stream
// (counted in TailGaps) and the reader starts a new pull. (The consumer's
// delivered sequence alone says little: it moves past other partitions'
// messages too.) A consumer that holds messages but delivered none for
// two pinned_ttl (pinned to a client gone while JetStream failed over)
// stalls the partition: it starts over with a fresh pull.
func (r *runner) tail(ctx context.Context, quiet time.Duration) error {
	st, err := r.rd.State(ctx)
	if err != nil {
		return nil // the next check asks again
	}
	if st.Pending > 0 && quiet > 2*r.w.b.PinnedTTL() {
		return fmt.Errorf("%w: %d messages pending, none delivered for %v", errStalled, st.Pending, quiet.Round(time.Second))
	}
	if from := r.seq(); st.Delivered > from {
		last, err := r.rd.LastSeq(ctx)
		if err != nil {
			return nil
		}
		if last > from {
			n, err := r.replay(ctx, min(st.Delivered, last))
			if err != nil {
				return err
			}
			switch {
			case n > 0 && st.PinnedElsewhere:
				// Another worker holds the partition for now (membership
				// changing): it took them.
				r.w.log.Info("cluster: partition caught up from the stream with messages delivered to the worker pinned to it",
					"partition", r.name, "after", from, "up_to", r.seq(), "messages", n)
			case n > 0:
				r.w.Stats.TailGaps.Add(1)
				r.w.log.Warn("cluster: messages the consumer had delivered (to no one, or to a worker that let the partition go) had not reached the partition; replayed them from the stream",
					"partition", r.name, "after", from, "up_to", r.seq(), "messages", n)
				// The pull that missed them may be broken for good (its
				// buffer's accounting thrown off by what it lost): the
				// next fetch starts a new one.
				r.rd.Close()
			}
		}
	}
	// The state covers what the consumer delivered: a later delivery
	// shows a hole by its delivery sequence.
	r.check = false
	return nil
}

// restore loads the last checkpoint into a fresh stage (or starts fresh).
func (r *runner) restore(ctx context.Context) error {
	var err error
	if r.pop {
		r.ps, err = NewPopulationStage(r.w.b.Partitions(), r.w.eng, 0)
	} else {
		r.ep, err = NewEndpointStage(r.part, r.w.eng, r.emit)
	}
	if err != nil {
		return err
	}
	data, info, err := r.w.b.GetState(ctx, "state."+r.name)
	if errors.Is(err, bus.ErrNoState) {
		r.cpSeq = 0
		return nil
	}
	if err != nil {
		// NATS's object store is not atomic: an upload cut by a failing
		// server can leave a description whose chunks are gone, and
		// every read of it times out. After a few failures in a row the
		// partition is rebuilt from the stream rather than retried for
		// ever (its next checkpoint replaces the object).
		r.getFails++
		if r.getFails < maxCheckpointReads || ctx.Err() != nil {
			return err
		}
		r.w.log.Error("cluster: checkpoint unreadable after repeated attempts; rebuilding the partition from the stream",
			"partition", r.name, "attempts", r.getFails, "err", err)
		r.getFails = 0
		r.cpSeq = 0
		return nil
	}
	r.getFails = 0
	if info.Header.Get("Pal-Config") != r.w.codecs.config {
		r.w.log.Warn("cluster: checkpoint made with another analysis configuration or version; rebuilding the partition from the stream",
			"partition", r.name)
		return nil
	}
	raw, err := decompress(data)
	if err == nil {
		if r.pop {
			err = r.w.codecs.population.Decode(raw, r.ps)
		} else {
			err = r.w.codecs.endpoint.Decode(raw, r.ep)
			r.ep.SetEmit(r.emit)
		}
	}
	if err != nil {
		r.w.log.Error("cluster: checkpoint unreadable; rebuilding the partition from the stream", "partition", r.name, "err", err)
		if r.pop {
			r.ps, err = NewPopulationStage(r.w.b.Partitions(), r.w.eng, 0)
		} else {
			r.ep, err = NewEndpointStage(r.part, r.w.eng, r.emit)
		}
		return err
	}
	r.cpSeq = info.Seq
	r.w.Stats.Restored.Add(1)
	return nil
}

// replay brings the stage up to stream sequence upTo from the stream; it
// reports how many messages it read.
func (r *runner) replay(ctx context.Context, upTo uint64) (int, error) {
	from := r.seq()
	if upTo <= from {
		return 0, nil
	}
	n := 0
	first, err := r.rd.Replay(ctx, from, upTo, func(m bus.Msg) error {
		n++
		if err := r.take(m); err != nil {
			return err
		}
		if len(r.out) >= 1024 {
			return r.flush(ctx)
		}
		return nil
	})
	if first != 0 {
		r.w.log.Error("cluster: records expired from the bus before this partition's checkpoint covered them (max_age too short for the outage)",
			"partition", r.name, "after", from, "first_on_bus", first)
	}
	r.w.Stats.Replayed.Add(int64(n))
	if err != nil {
		return n, err
	}
	r.progress.Store(r.seq())
	return n, r.flush(ctx)
}

// take hands one message to the stage.
func (r *runner) take(m bus.Msg) error {
	if r.pop {
		f, mk, err := decodePopulation(m)
		if err != nil {
			r.w.log.Error("cluster: undecodable population message skipped", "seq", m.Seq, "err", err)
			r.ps.InSeq = max(r.ps.InSeq, m.Seq)
			return nil
		}
		return r.ps.Take(m.Seq, f, mk)
	}
	switch m.Header.Get(bus.HeaderKind) {
	case bus.KindTick:
		t, _ := strconv.ParseInt(m.Header.Get(bus.HeaderTime), 10, 64)
		r.ep.Tick(m.Seq, time.Unix(0, t).UTC())
	case bus.KindIdle:
		r.ep.Idle(m.Seq)
		r.idleSent = false
	case "":
		rec, err := exchange.DecodeRecord(m.Data)
		if err != nil {
			// Ingest validated it: this is not our record.
			r.w.log.Error("cluster: undecodable record skipped", "partition", r.name, "seq", m.Seq, "err", err)
			r.ep.InSeq = max(r.ep.InSeq, m.Seq)
			return nil
		}
		r.ep.Record(m.Seq, rec)
		r.idleSent = false
	default:
		r.ep.InSeq = max(r.ep.InSeq, m.Seq) // a kind of a later version: ignored
	}
	return nil
}

// emit queues what the endpoint stage hands to the population stage.
func (r *runner) emit(f *Forward, m *Mark) {
	h := nats.Header{}
	var body []byte
	if f != nil {
		h.Set(bus.HeaderKind, "fwd")
		meta := *f
		meta.Record = nil
		b, _ := json.Marshal(&meta)
		body = append(append(b, '\n'), f.Record...)
	} else {
		h.Set(bus.HeaderKind, "mark")
		body, _ = json.Marshal(m)
	}
	r.out = append(r.out, bus.Out{Subject: r.w.b.PopulationSubject(r.part), Header: h, Data: body})
}

func decodePopulation(m bus.Msg) (*Forward, *Mark, error) {
	switch m.Header.Get(bus.HeaderKind) {
	case "fwd":
		meta, rec, ok := bytes.Cut(m.Data, []byte{'\n'})
		if !ok {
			return nil, nil, errors.New("forward without a record")
		}
		var f Forward
		if err := json.Unmarshal(meta, &f); err != nil {
			return nil, nil, err
		}
		f.Record = rec
		return &f, nil, nil
	case "mark":
		var mk Mark
		if err := json.Unmarshal(m.Data, &mk); err != nil {
			return nil, nil, err
		}
		return nil, &mk, nil
	}
	return nil, nil, fmt.Errorf("unknown kind %q", m.Header.Get(bus.HeaderKind))
}

// flush publishes the queued population messages and waits for their
// acknowledgement (a checkpoint must never cover events the population
// stage could miss).
func (r *runner) flush(ctx context.Context) error {
	if len(r.out) == 0 {
		return nil
	}
	err := r.w.b.Publish(ctx, r.out)
	clear(r.out)
	r.out = r.out[:0]
	return err
}

// periodic writes partial reports and checkpoints, and marks a quiet
// partition idle.
func (r *runner) periodic(ctx context.Context) error {
	now := r.w.now()
	force := false
	if now.Sub(r.refresh) >= refreshEvery*r.w.cfg.Report.D() && r.repSeq != 0 {
		// The merger deletes a partial report it cannot read (NATS's
		// object store is not atomic when an upload is cut): write it
		// again, even unchanged. So too when the stored one is older
		// than the last this runner wrote: an upload of an older one
		// (a previous owner's, cut off and finished late) replaced it,
		// and a quiet partition would not write again.
		r.refresh = now
		// (Compared with the last upload that succeeded: one still
		// running is not late.)
		if seq, has, err := r.w.b.StateSeq(ctx, "part."+r.name); err == nil && (!has || seq < r.reported.Load()) {
			if has {
				r.w.log.Warn("cluster: partial report older than the one last written; writing it again",
					"partition", r.name, "stored", seq, "written", r.reported.Load())
			}
			force = true
		}
	}
	if force || now.Sub(r.lastRep) >= r.w.cfg.Report.D() && (r.seq() != r.repSeq || r.repRetry.Load()) {
		r.partial(ctx, false)
		r.lastRep = now
	}
	if now.Sub(r.lastCP) >= r.w.cfg.Checkpoint.D() && r.seq() != r.cpSeq {
		if err := r.checkpoint(ctx, false); err != nil {
			r.w.log.Warn("cluster: checkpoint", "partition", r.name, "err", err)
		}
		r.lastCP = now
	}
	if !r.pop && !r.idleSent && !r.ep.Drained() && r.ep.InSeq > 0 && now.Sub(r.lastMsg) >= r.w.cfg.Idle.D() {
		// The partition's end of input for now, written to the stream so
		// that a replay drains at the same point.
		if err := r.w.b.Publish(ctx, []bus.Out{r.w.b.ControlMsg(r.part, bus.KindIdle, now)}); err != nil {
			return err
		}
		r.idleSent = true
	}
	return nil
}

// partial writes the partition's partial report (assembled now, encoded
// and uploaded in the background unless wait).
func (r *runner) partial(ctx context.Context, wait bool) {
	var p *Partial
	if r.pop {
		r.ackMu.Lock()
		acked := r.acked
		r.acked = nil
		r.ackMu.Unlock()
		for _, subs := range acked {
			r.ps.AckSubjects(subs)
		}
		p = r.ps.Partial(r.w.now())
	} else {
		p = r.ep.Partial(r.w.now())
	}
	put := func(ctx context.Context) {
		data, err := encodeJSON(p)
		if err != nil {
			r.w.log.Error("cluster: partial report", "partition", r.name, "err", err)
			return
		}
		if _, err := r.w.b.PutState(ctx, "part."+r.name, p.Seq, nil, data); err == nil {
			r.reported.Store(p.Seq)
		} else {
			// The bus failed (a NATS server lost): write it again at the
			// next report interval, even if the partition has no new
			// message (else the merged state would stay behind it).
			r.repRetry.Store(true)
			r.w.log.Warn("cluster: partial report", "partition", r.name, "err", err)
		}
	}
	if wait {
		r.partUp <- struct{}{}
		defer func() { <-r.partUp }()
		r.repRetry.Store(false)
		put(ctx)
		r.repSeq = p.Seq
		return
	}
	select {
	case r.partUp <- struct{}{}:
	default:
		return // the previous upload is still running: next time
	}
	r.repRetry.Store(false)
	r.repSeq = p.Seq
	go func() {
		defer func() { <-r.partUp }()
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		put(uctx)
	}()
}

// checkpoint encodes the stage now and uploads it (in the background
// unless wait: a large state must not keep the partition from pulling).
func (r *runner) checkpoint(ctx context.Context, wait bool) error {
	var raw []byte
	var err error
	if r.pop {
		raw, err = r.w.codecs.population.Encode(nil, r.ps)
	} else {
		raw, err = r.w.codecs.endpoint.Encode(nil, r.ep)
	}
	if err != nil {
		return err
	}
	seq := r.seq()
	data := compress(raw)
	h := nats.Header{}
	h.Set("Pal-Config", r.w.codecs.config)
	put := func(ctx context.Context) error {
		_, err := r.w.b.PutState(ctx, "state."+r.name, seq, h, data)
		if err == nil {
			r.w.Stats.Checkpoints.Add(1)
		}
		return err
	}
	if wait {
		r.upload <- struct{}{}
		defer func() { <-r.upload }()
		if err := put(ctx); err != nil {
			return err
		}
		r.cpSeq = seq
		return nil
	}
	select {
	case r.upload <- struct{}{}:
	default:
		return nil // the previous upload is still running
	}
	r.cpSeq = seq
	go func() {
		defer func() { <-r.upload }()
		uctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if err := put(uctx); err != nil {
			r.w.log.Warn("cluster: checkpoint upload", "partition", r.name, "err", err)
		}
	}()
	return nil
}

var _ = statecodec.ErrSchema
