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

// stateTimeout bounds writing or reading one state object whose context
// has no deadline.
const stateTimeout = 2 * time.Minute

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
	ctx, cancel := boundedFor(ctx, stateTimeout) // (the library's default, 5 s, is short for a large state)
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
	ctx, cancel := boundedFor(ctx, stateTimeout)
	defer cancel()
	os, err := b.objects(ctx)
	if err != nil {
		return nil, StateInfo{}, err
	}
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
