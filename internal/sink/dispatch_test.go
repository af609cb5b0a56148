package sink

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/model"
)

// funcSink records every Send and answers with fn.
type funcSink struct {
	name string
	mu   sync.Mutex
	fn   func(call int, alerts []model.Alert) error
	got  [][]model.Alert
	at   []time.Time
}

func (f *funcSink) Name() string { return f.name }
func (f *funcSink) Send(ctx context.Context, alerts []model.Alert) error {
	f.mu.Lock()
	call := len(f.got)
	f.got = append(f.got, append([]model.Alert(nil), alerts...))
	f.at = append(f.at, time.Now())
	fn := f.fn
	f.mu.Unlock()
	if fn == nil {
		return nil
	}
	return fn(call, alerts)
}
func (f *funcSink) calls() int { f.mu.Lock(); defer f.mu.Unlock(); return len(f.got) }
func (f *funcSink) delivered() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var ids []string
	for _, b := range f.got {
		for _, a := range b {
			ids = append(ids, a.ID)
		}
	}
	return ids
}

func fastOpts() Options {
	return Options{BaseBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond, MaxAttempts: 4, SendTimeout: time.Second}
}

func closeOK(t *testing.T, d *Dispatcher) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := d.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func TestDispatcherRetriesThenSucceeds(t *testing.T) {
	s := &funcSink{name: "flaky", fn: func(call int, _ []model.Alert) error {
		if call < 2 {
			return errors.New("connection refused")
		}
		return nil
	}}
	d := NewDispatcher([]Configured{{Sink: s}}, fastOpts())
	d.Publish(sampleAlert())
	closeOK(t, d)
	st := d.Stats()[0]
	if st.Sent != 1 || st.Retried != 2 || st.Failed != 0 || st.Dropped != 0 || st.Batches != 1 {
		t.Fatalf("stats = %+v, want sent 1, retried 2", st)
	}
	if s.calls() != 3 {
		t.Fatalf("calls = %d, want 3", s.calls())
	}
	if st.LastError != "connection refused" || st.LastSuccess.IsZero() {
		t.Fatalf("last error %q, last success %v", st.LastError, st.LastSuccess)
	}
}

func TestDispatcherPermanentFailureNotRetried(t *testing.T) {
	var dead []string
	s := &funcSink{name: "bad", fn: func(int, []model.Alert) error { return Permanent(errors.New("HTTP 400")) }}
	o := fastOpts()
	o.OnDeadLetter = func(name string, alerts []model.Alert, err error) {
		dead = append(dead, fmt.Sprintf("%s:%d:%v", name, len(alerts), err))
	}
	d := NewDispatcher([]Configured{{Sink: s}}, o)
	d.Publish(sampleAlert())
	closeOK(t, d)
	st := d.Stats()[0]
	if s.calls() != 1 || st.Failed != 1 || st.Retried != 0 || st.Sent != 0 {
		t.Fatalf("calls %d, stats %+v: want one attempt, failed 1", s.calls(), st)
	}
	if len(dead) != 1 || dead[0] != "bad:1:HTTP 400" {
		t.Fatalf("dead letters = %v", dead)
	}
}

func TestDispatcherGivesUpAfterMaxAttempts(t *testing.T) {
	s := &funcSink{name: "down", fn: func(int, []model.Alert) error { return errors.New("503") }}
	d := NewDispatcher([]Configured{{Sink: s}}, fastOpts())
	d.Publish(sampleAlert())
	d.Publish(sampleAlert())
	closeOK(t, d)
	st := d.Stats()[0]
	// Both alerts are taken in one batch (or two): every batch gets 4 attempts.
	if st.Failed != 2 || st.Sent != 0 {
		t.Fatalf("stats %+v", st)
	}
	calls := int64(s.calls())
	if batches := calls / 4; calls%4 != 0 || batches < 1 || batches > 2 || st.Retried != 3*batches {
		t.Fatalf("calls %d retried %d: every batch must have 4 attempts, 3 of them retries", calls, st.Retried)
	}
}

func TestDispatcherFilter(t *testing.T) {
	inj := &funcSink{name: "inj"}
	high := &funcSink{name: "high"}
	all := &funcSink{name: "all"}
	d := NewDispatcher([]Configured{
		{Sink: inj, Filter: Filter{Types: []string{"injection.*"}}},
		{Sink: high, Filter: Filter{MinSeverity: model.SevHigh}},
		{Sink: all},
	}, fastOpts())
	d.Publish(alertN(1, "injection.xss", model.SevLow))
	d.Publish(alertN(2, "auth.brute_force", model.SevCritical))
	d.Publish(alertN(3, "injectionx.other", model.SevMedium))
	closeOK(t, d)
	st := d.Stats()
	if len(inj.delivered()) != 1 || st[0].Filtered != 2 {
		t.Errorf("injection sink: %v, filtered %d", inj.delivered(), st[0].Filtered)
	}
	if len(high.delivered()) != 1 || st[1].Filtered != 2 {
		t.Errorf("high sink: %v, filtered %d", high.delivered(), st[1].Filtered)
	}
	if len(all.delivered()) != 3 {
		t.Errorf("all sink: %v", all.delivered())
	}
}

func TestDispatcherQueueFullDropsOldest(t *testing.T) {
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	s := &funcSink{name: "slow", fn: func(call int, _ []model.Alert) error {
		if call == 0 {
			started <- struct{}{}
			<-release
		}
		return nil
	}}
	o := fastOpts()
	o.QueueSize = 3
	o.BatchSize = 1
	d := NewDispatcher([]Configured{{Sink: s}}, o)
	d.Publish(alertN(0, "x.y", model.SevLow)) // taken by the worker, blocks in Send
	<-started
	done := make(chan struct{})
	go func() {
		for i := 1; i <= 10; i++ { // never blocks although the sink is stuck
			d.Publish(alertN(i, "x.y", model.SevLow))
		}
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("Publish blocked on a full queue")
	}
	if st := d.Stats()[0]; st.Dropped != 7 || st.Queued != 3 {
		t.Fatalf("stats %+v: want 7 dropped, 3 queued", st)
	}
	close(release)
	closeOK(t, d)
	want := []string{alertN(0, "", "").ID, alertN(8, "", "").ID, alertN(9, "", "").ID, alertN(10, "", "").ID}
	if got := s.delivered(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("delivered %v, want the first and the newest three %v", got, want)
	}
}

func TestDispatcherCloseDrains(t *testing.T) {
	s := &funcSink{name: "ok", fn: func(int, []model.Alert) error { time.Sleep(time.Millisecond); return nil }}
	o := fastOpts()
	o.BatchSize = 7
	d := NewDispatcher([]Configured{{Sink: s}}, o)
	for i := range 100 {
		d.Publish(alertN(i, "x.y", model.SevLow))
	}
	closeOK(t, d)
	if got := len(s.delivered()); got != 100 {
		t.Fatalf("delivered %d of 100 before Close returned", got)
	}
	for _, b := range s.got {
		if len(b) > 7 {
			t.Fatalf("batch of %d > BatchSize 7", len(b))
		}
	}
	d.Publish(sampleAlert())
	if st := d.Stats()[0]; st.Dropped != 1 || st.Sent != 100 {
		t.Fatalf("after close: %+v", st)
	}
}

func TestDispatcherCloseDeadlineCountsAbandoned(t *testing.T) {
	s := &funcSink{name: "hang", fn: func(int, []model.Alert) error { return errors.New("down") }}
	o := fastOpts()
	o.BaseBackoff, o.MaxBackoff, o.MaxAttempts = time.Hour, time.Hour, 100
	o.BatchSize = 2
	d := NewDispatcher([]Configured{{Sink: s}}, o)
	for i := range 5 {
		d.Publish(alertN(i, "x.y", model.SevLow))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := d.Close(ctx)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Close = %v, want deadline exceeded", err)
	}
	st := d.Stats()[0]
	if st.Dropped != 5 || st.Sent != 0 {
		t.Fatalf("stats %+v: all 5 alerts must be counted as dropped", st)
	}
	if f := d.SinkFailures(); f["hang"] != 5 {
		t.Fatalf("SinkFailures %v", f)
	}
	if want := "5 alert(s) not delivered"; !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q lacks %q", err, want)
	}
}

func TestBackoff(t *testing.T) {
	o := Options{BaseBackoff: 100 * time.Millisecond, MaxBackoff: time.Second}
	o.defaults()
	maxJ := func(d time.Duration) time.Duration { return d - 1 }
	zeroJ := func(time.Duration) time.Duration { return 0 }
	tests := []struct {
		attempt int
		err     error
		jitter  func(time.Duration) time.Duration
		want    time.Duration
	}{
		{1, errors.New("x"), zeroJ, 50 * time.Millisecond},
		{1, errors.New("x"), maxJ, 100*time.Millisecond - 1},
		{2, errors.New("x"), maxJ, 200*time.Millisecond - 1},
		{4, errors.New("x"), maxJ, 800*time.Millisecond - 1},
		{9, errors.New("x"), maxJ, time.Second - 1},
		{1, &RetryAfterError{Err: errors.New("429"), After: 300 * time.Millisecond}, maxJ, 300 * time.Millisecond},
		{1, &RetryAfterError{Err: errors.New("429"), After: time.Hour}, maxJ, time.Second},
	}
	for _, tc := range tests {
		o.Jitter = tc.jitter
		if got := backoff(&o, tc.attempt, tc.err); got != tc.want {
			t.Errorf("attempt %d, %v: backoff %v, want %v", tc.attempt, tc.err, got, tc.want)
		}
	}
}

func TestFilter(t *testing.T) {
	tests := []struct {
		f    Filter
		typ  string
		sev  string
		want bool
	}{
		{Filter{}, "a.b", model.SevInfo, true},
		{Filter{Types: []string{"*"}}, "a.b", model.SevInfo, true},
		{Filter{Types: []string{"injection.*"}}, "injection.sqli", model.SevInfo, true},
		{Filter{Types: []string{"injection.*"}}, "injectionx", model.SevInfo, false},
		{Filter{Types: []string{"auth.brute_force"}}, "auth.brute_force", model.SevLow, true},
		{Filter{Types: []string{"auth.brute_force"}}, "auth.brute_force_x", model.SevLow, false},
		{Filter{MinSeverity: model.SevMedium}, "a.b", model.SevLow, false},
		{Filter{MinSeverity: model.SevMedium}, "a.b", model.SevMedium, true},
		{Filter{MinSeverity: model.SevMedium}, "a.b", "bogus", false},
		{Filter{Types: []string{"a.*"}, MinSeverity: model.SevHigh}, "a.b", model.SevCritical, true},
		{Filter{Types: []string{"a.*"}, MinSeverity: model.SevHigh}, "a.b", model.SevMedium, false},
	}
	for _, tc := range tests {
		a := model.Alert{Type: tc.typ, Severity: tc.sev}
		if got := tc.f.Match(&a); got != tc.want {
			t.Errorf("%+v.Match(%s,%s) = %v", tc.f, tc.typ, tc.sev, got)
		}
	}
	for _, bad := range []Filter{{MinSeverity: "urgent"}, {Types: []string{""}}, {Types: []string{"a*.b"}}} {
		if bad.Validate() == nil {
			t.Errorf("%+v: Validate accepted it", bad)
		}
	}
}

func TestDispatcherCloseExpiredContextNothingPending(t *testing.T) {
	s := &funcSink{name: "ok"}
	d := NewDispatcher([]Configured{{Sink: s}}, fastOpts())
	d.Publish(sampleAlert())
	for d.Stats()[0].Sent == 0 {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := d.Close(ctx); err != nil {
		t.Fatalf("Close with nothing pending: %v", err)
	}
	if err := d.Close(context.Background()); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}
