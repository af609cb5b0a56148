package bus

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// HeaderSeq is the stream sequence a state object covers.
const HeaderSeq = "Pal-Seq"

// stateTimeout bounds writing or reading a state object of n bytes: 10 s
// plus 2 MB/s. A transfer that stalls (chunks dropped from a slow
// consumer's buffer while the machine is overloaded, a server failing)
// never resumes: it must fail soon, and its caller try again (the merger
// at its next interval, a partition from its checkpoint).
func stateTimeout(n int64) time.Duration {
	return stateTimeoutBase + time.Duration(n)*time.Second/(2<<20)
}

var stateTimeoutBase = 10 * time.Second

// ErrNoState is returned by GetState when there is no such object.
var ErrNoState = errors.New("bus: no state object")

// StateInfo describes a state object.
type StateInfo struct {
	Name   string
	Seq    uint64
	Digest string
	Header nats.Header
}

func (b *Bus) objects(ctx context.Context) (jetstream.ObjectStore, error) {
	os, err := b.JS.ObjectStore(ctx, b.stateBucket())
	if err != nil {
		return nil, fmt.Errorf("bus: object store %s: %w", b.stateBucket(), err)
	}
	return os, nil
}

// PutState stores a state object covering stream sequence seq, unless the
// stored one already covers seq or later (two owners of one partition for
// a moment write states of the same deterministic analysis: the later
// sequence wins). It reports whether it wrote.
func (b *Bus) PutState(ctx context.Context, name string, seq uint64, h nats.Header, data []byte) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, stateTimeout(int64(len(data))))
	defer cancel()
	os, err := b.objects(ctx)
	if err != nil {
		return false, err
	}
	if info, err := os.GetInfo(ctx, name); err == nil {
		if have := seqOf(info.Headers); have >= seq && seq != 0 {
			return false, nil
		}
	}
	if h == nil {
		h = nats.Header{}
	}
	h.Set(HeaderSeq, strconv.FormatUint(seq, 10))
	if _, err := os.Put(ctx, jetstream.ObjectMeta{Name: name, Headers: h}, bytes.NewReader(data)); err != nil {
		return false, fmt.Errorf("bus: put %s: %w", name, err)
	}
	return true, nil
}

// GetState returns a state object's data and description.
func (b *Bus) GetState(ctx context.Context, name string) ([]byte, StateInfo, error) {
	ictx, cancel := bounded(ctx)
	defer cancel()
	os, err := b.objects(ictx)
	if err != nil {
		return nil, StateInfo{}, err
	}
	oi, err := os.GetInfo(ictx, name)
	if err != nil {
		if errors.Is(err, jetstream.ErrObjectNotFound) {
			return nil, StateInfo{}, ErrNoState
		}
		return nil, StateInfo{}, fmt.Errorf("bus: get %s: %w", name, err)
	}
	ctx, cancel2 := context.WithTimeout(ctx, stateTimeout(int64(oi.Size)))
	defer cancel2()
	r, err := os.Get(ctx, name)
	if err != nil {
		if errors.Is(err, jetstream.ErrObjectNotFound) {
			return nil, StateInfo{}, ErrNoState
		}
		return nil, StateInfo{}, fmt.Errorf("bus: get %s: %w", name, err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, StateInfo{}, fmt.Errorf("bus: get %s: %w", name, err)
	}
	info, err := r.Info()
	if err != nil {
		return nil, StateInfo{}, err
	}
	return data, StateInfo{Name: name, Seq: seqOf(info.Headers), Digest: info.Digest, Header: info.Headers}, nil
}

// DeleteState removes a state object (one left unreadable).
func (b *Bus) DeleteState(ctx context.Context, name string) error {
	ctx, cancel := bounded(ctx)
	defer cancel()
	os, err := b.objects(ctx)
	if err != nil {
		return err
	}
	if err := os.Delete(ctx, name); err != nil && !errors.Is(err, jetstream.ErrObjectNotFound) {
		return fmt.Errorf("bus: delete %s: %w", name, err)
	}
	return nil
}

// HasState reports whether a state object exists.
func (b *Bus) HasState(ctx context.Context, name string) (bool, error) {
	_, has, err := b.StateSeq(ctx, name)
	return has, err
}

// StateSeq is the stream sequence the stored state object covers, and
// whether there is one.
func (b *Bus) StateSeq(ctx context.Context, name string) (seq uint64, has bool, err error) {
	ctx, cancel := bounded(ctx)
	defer cancel()
	os, err := b.objects(ctx)
	if err != nil {
		return 0, false, err
	}
	info, err := os.GetInfo(ctx, name)
	switch {
	case err == nil:
		return seqOf(info.Headers), true, nil
	case errors.Is(err, jetstream.ErrObjectNotFound):
		return 0, false, nil
	}
	return 0, false, fmt.Errorf("bus: info %s: %w", name, err)
}

// ListStates describes the state objects whose names start with prefix.
func (b *Bus) ListStates(ctx context.Context, prefix string) ([]StateInfo, error) {
	ctx, cancel := bounded(ctx) // a listing watches the bucket: never without bound
	defer cancel()
	os, err := b.objects(ctx)
	if err != nil {
		return nil, err
	}
	list, err := os.List(ctx)
	if err != nil {
		if errors.Is(err, jetstream.ErrNoObjectsFound) {
			return nil, nil
		}
		return nil, err
	}
	var out []StateInfo
	for _, o := range list {
		if o.Deleted || !strings.HasPrefix(o.Name, prefix) {
			continue
		}
		out = append(out, StateInfo{Name: o.Name, Seq: seqOf(o.Headers), Digest: o.Digest, Header: o.Headers})
	}
	return out, nil
}

func seqOf(h nats.Header) uint64 {
	n, _ := strconv.ParseUint(h.Get(HeaderSeq), 10, 64)
	return n
}
