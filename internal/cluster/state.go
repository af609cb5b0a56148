package cluster

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"

	"github.com/DataDog/sketches-go/ddsketch/mapping"
	"github.com/DataDog/sketches-go/ddsketch/store"
	"github.com/axiomhq/hyperloglog"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/klauspost/compress/zstd"

	"github.com/palisade-sec/palisade/internal/classify"
	"github.com/palisade-sec/palisade/internal/detect/crs"
	"github.com/palisade-sec/palisade/internal/engine"
	"github.com/palisade-sec/palisade/internal/intel"
	"github.com/palisade-sec/palisade/internal/statecodec"
)

// codecOptions say what of a stage is not state: configuration compiled by
// the constructors (the classifier's patterns, loaded intel feeds) and
// per-event scratch (the detectors' shared event keys, JSON decoders), and
// which sketch types the DDSketches hold behind interfaces.
var codecOptions = []statecodec.Option{
	statecodec.SkipType((*classify.Classifier)(nil)),
	statecodec.SkipType((*intel.Set)(nil)),
	statecodec.SkipType((*crs.Set)(nil)),
	// Identities derived from credentials, memoized: a function of the
	// request, rebuilt as requests arrive.
	statecodec.SkipTypeNamed("github.com/palisade-sec/palisade/internal/identity.genCache"),
	statecodec.SkipType(jsontext.Decoder{}),
	// HyperLogLog's own encoding normalizes its sparse form: copied field
	// by field, a restored sketch is the same sketch.
	statecodec.Structural(hyperloglog.Sketch{}),
	statecodec.SkipTypeNamed("github.com/palisade-sec/palisade/internal/detect.evKeys"),
	// the content decoders' readers and buffers (the counts are state)
	statecodec.SkipTypeNamed("github.com/palisade-sec/palisade/internal/enrich.contentScratch"),
	statecodec.Register(&mapping.LogarithmicMapping{}, &mapping.CubicallyInterpolatedMapping{}, &mapping.LinearlyInterpolatedMapping{},
		&store.DenseStore{}, &store.CollapsingLowestDenseStore{}, &store.CollapsingHighestDenseStore{},
		&store.BufferedPaginatedStore{}, &store.SparseStore{}),
}

// stateCodecs encode and restore the stages of one configuration.
type stateCodecs struct {
	endpoint, population *statecodec.Codec
	// config identifies the analysis configuration: a checkpoint made
	// under another one is not restored (its thresholds and learned
	// state were made for other options) and the partition is rebuilt by
	// replaying the stream instead.
	config string
}

func newStateCodecs(cfg engine.Config, parts int) (*stateCodecs, error) {
	ep, err := NewEndpointStage(0, cfg, nil)
	if err != nil {
		return nil, err
	}
	pop, err := NewPopulationStage(parts, cfg, 0)
	if err != nil {
		return nil, err
	}
	c := &stateCodecs{}
	if c.endpoint, err = statecodec.New(ep, codecOptions...); err != nil {
		return nil, err
	}
	if c.population, err = statecodec.New(pop, codecOptions...); err != nil {
		return nil, err
	}
	h := sha256.New()
	b, err := json.Marshal(cfg)
	if err != nil {
		b = []byte(fmt.Sprintf("%#v", cfg))
	}
	h.Write(b)
	fmt.Fprintf(h, "|%d", parts)
	fe, fp := c.endpoint.Fingerprint(), c.population.Fingerprint()
	h.Write(fe[:])
	h.Write(fp[:])
	c.config = hex.EncodeToString(h.Sum(nil)[:16])
	return c, nil
}

var (
	zenc, _ = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	zdec, _ = zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(4<<30))
)

func compress(b []byte) []byte { return zenc.EncodeAll(b, make([]byte, 0, len(b)/4)) }

func decompress(b []byte) ([]byte, error) { return zdec.DecodeAll(b, nil) }

func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	w, _ := zstd.NewWriter(&buf, zstd.WithEncoderLevel(zstd.SpeedFastest), zstd.WithEncoderConcurrency(1))
	if err := json.NewEncoder(w).Encode(v); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func decodeJSON(b []byte, v any) error {
	r, err := zstd.NewReader(bytes.NewReader(b), zstd.WithDecoderConcurrency(1))
	if err != nil {
		return err
	}
	defer r.Close()
	return json.NewDecoder(io.Reader(r)).Decode(v)
}
