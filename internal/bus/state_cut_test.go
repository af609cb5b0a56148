package bus

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/nats-io/nats.go/jetstream"
)

// TestStateCutUpload: an object whose chunks are gone (NATS's object store
// is not atomic: an upload cut by a failing server can leave the
// description without them) fails to read within its bound instead of
// blocking the reader, and can be deleted and written again.
func TestStateCutUpload(t *testing.T) {
	old := stateTimeoutBase
	stateTimeoutBase = 500 * time.Millisecond
	defer func() { stateTimeoutBase = old }()
	b := startBus(t, "sc")
	if err := b.Provision(t.Context(), Layout{Partitions: 1, Replicas: 1, MaxAge: time.Hour, PinnedTTL: time.Second, MemberTTL: time.Second}); err != nil {
		t.Fatal(err)
	}
	data := bytes.Repeat([]byte("partial "), 50_000)
	if _, err := b.PutState(t.Context(), "part.b.0", 7, nil, data); err != nil {
		t.Fatal(err)
	}
	if got, _, err := b.GetState(t.Context(), "part.b.0"); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back: %d bytes, %v", len(got), err)
	}
	// Cut: the chunks go, the description stays.
	os, _ := b.objects(t.Context())
	info, err := os.GetInfo(t.Context(), "part.b.0")
	if err != nil {
		t.Fatal(err)
	}
	st, err := b.JS.Stream(t.Context(), "OBJ_"+b.stateBucket())
	if err != nil {
		t.Fatal(err)
	}
	if err := st.Purge(t.Context(), jetstream.WithPurgeSubject("$O."+b.stateBucket()+".C."+info.NUID)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if _, _, err := b.GetState(t.Context(), "part.b.0"); err == nil || errors.Is(err, ErrNoState) {
		t.Fatalf("reading a cut object: %v", err)
	} else {
		t.Logf("cut object: %v after %v", err, time.Since(start).Round(time.Millisecond))
	}
	if err := b.DeleteState(t.Context(), "part.b.0"); err != nil {
		t.Fatal(err)
	}
	if has, err := b.HasState(t.Context(), "part.b.0"); err != nil || has {
		t.Fatalf("after delete: has %v, %v", has, err)
	}
	if wrote, err := b.PutState(t.Context(), "part.b.0", 7, nil, data); err != nil || !wrote {
		t.Fatalf("written again: %v %v", wrote, err)
	}
	if got, _, err := b.GetState(t.Context(), "part.b.0"); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read again: %d bytes, %v", len(got), err)
	}
}
