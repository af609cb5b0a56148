package detect

import (
	"fmt"
	"math"
	"sort"
	"time"

	"github.com/palisade-sec/palisade/internal/classify"
	"github.com/palisade-sec/palisade/internal/config"
	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/model"
)

// data.sensitive_exposure: an endpoint starts returning a sensitive data
// type it did not return during its learning period.
//
// Learning: an endpoint learns which data types its responses (headers and
// body) carry until it has returned at least min_responses responses AND
// at least `learning` of event time has passed since its first response.
// After that, the first response carrying a type that was never seen on the
// endpoint raises one alert per (endpoint, type). Masked values
// (**** **** **** 1234, ***-**-6789) never count: they are not exposures of
// the value. ip_address is not watched (addresses in responses are common
// and low-sensitivity); matches below min_confidence are ignored.
//
// Options: sensitiveExposureOptions (detect.options.sensitive_exposure):
// min_responses, learning, min_confidence, max_endpoints (endpoints
// tracked; more are counted in Dropped).
//
// Classification uses its own classify.Analyzer on response locations, so
// per-field sampling applies once a field's class is stable (a stable field
// is still classified one value in SampleEvery; a new field always is).
//
// Memory: per endpoint ≈100 bytes plus the set of types seen, plus the
// analyzer's per-field state (see classify.Analyzer), bounded by
// max_endpoints and classify's MaxFieldsPerEndpoint.
func init() {
	Register("sensitive_exposure", func(cfg Config) Detector {
		if cfg.Classify != nil {
			d := newSensitiveExposure(cfg, cfg.Classify.Classifier())
			d.shared = cfg.Classify
			return d
		}
		return newSensitiveExposure(cfg, nil)
	})
	RegisterOptions("sensitive_exposure", func() FamilyOptions { return defaultSensitiveExposureOptions() })
}

// sensitiveExposureOptions are the sensitive_exposure family's options (detect.options.sensitive_exposure).
type sensitiveExposureOptions struct {
	MinResponses  int             `yaml:"min_responses" doc:"responses of an endpoint before a new data type in its responses can fire"`
	Learning      config.Duration `yaml:"learning" doc:"learning period of an endpoint from its first response"`
	MinConfidence float64         `yaml:"min_confidence" doc:"findings below this confidence are ignored"`
	MaxEndpoints  int             `yaml:"max_endpoints" doc:"endpoints tracked"`
}

func defaultSensitiveExposureOptions() *sensitiveExposureOptions {
	return &sensitiveExposureOptions{
		MinResponses:  SensitiveMinResponses,
		Learning:      config.Duration(SensitiveLearning),
		MinConfidence: 0.7,
		MaxEndpoints:  20000,
	}
}

// Validate implements config.Validator.
func (o *sensitiveExposureOptions) Validate() error {
	return atMostOne(checkOptions(o), map[string]float64{"min_confidence": o.MinConfidence})
}

// Defaults for data.sensitive_exposure.
const (
	SensitiveMinResponses = 50
	SensitiveLearning     = time.Hour
)

// critical data types raise the alert to critical.
var criticalTypes = map[string]bool{classify.TypeSecret: true, classify.TypeCard: true, classify.TypeSSN: true, classify.TypeIBAN: true, classify.TypePassport: true}

var unwatchedTypes = map[string]bool{classify.TypeIP: true}

type exposureEP struct {
	first     time.Time
	responses int64
	known     map[string]bool // data types seen (unmasked) during learning
	alerted   map[string]bool
}

// SensitiveExposure is the data.sensitive_exposure detector.
type SensitiveExposure struct {
	keyed
	an       *classify.Analyzer
	shared   *classify.Analyzer // the engine's analyzer: its per-event results are reused
	minResp  int64
	learning time.Duration
	minConf  float64
	maxEPs   int
	eps      map[uint64]*exposureEP // by endpoint hash
	seen     []exposureObs          // per-event scratch: strongest finding per type, in order of appearance
	// Dropped counts responses of endpoints beyond max_endpoints.
	Dropped int64
}

// NewSensitiveExposure builds the detector with an explicit classifier
// (nil = default configuration), e.g. to share custom data types.
func NewSensitiveExposure(cfg Config, c *classify.Classifier) *SensitiveExposure {
	return newSensitiveExposure(cfg, c)
}

func newSensitiveExposure(cfg Config, c *classify.Classifier) *SensitiveExposure {
	if c == nil {
		var err error
		c, err = classify.New(classify.DefaultConfig())
		if err != nil { // the default configuration has no custom types: cannot fail
			panic(fmt.Sprintf("sensitive_exposure: default classifier: %v", err))
		}
	}
	o := optionsFor[*sensitiveExposureOptions](cfg, "sensitive_exposure")
	return &SensitiveExposure{
		an:       classify.NewAnalyzer(c),
		minResp:  int64(o.MinResponses),
		learning: o.Learning.D(),
		minConf:  o.MinConfidence,
		maxEPs:   o.MaxEndpoints,
		eps:      map[uint64]*exposureEP{},
	}
}

// Name implements Detector.
func (d *SensitiveExposure) Name() string { return "sensitive_exposure" }

type exposureObs struct {
	f    classify.Found
	conf float64
}

func (d *SensitiveExposure) consider(f classify.Found) {
	m := f.Match
	if m.Masked || m.Confidence < d.minConf || unwatchedTypes[m.Type] {
		return
	}
	for i := range d.seen {
		if d.seen[i].f.Match.Type == m.Type {
			if m.Confidence > d.seen[i].conf {
				d.seen[i] = exposureObs{f, m.Confidence}
			}
			return
		}
	}
	d.seen = append(d.seen, exposureObs{f, m.Confidence})
}

// Observe implements Detector.
func (d *SensitiveExposure) Observe(ev *event.Event, out *Emitter) {
	d.begin(ev)
	if ev.Rec == nil || ev.Status == 0 {
		return
	}
	key := d.keys.endpoint(ev)
	ep := d.eps[key]
	if ep == nil {
		if len(d.eps) >= d.maxEPs {
			d.Dropped++
			return
		}
		ep = &exposureEP{first: ev.Time, known: map[string]bool{}}
		d.eps[key] = ep
	}
	if ev.Time.Before(ep.first) {
		ep.first = ev.Time
	}
	ep.responses++
	// first (most confident) finding per type in this response
	clear(d.seen)
	d.seen = d.seen[:0]
	if found, ok := d.shared.Found(ev); ok { // nil-safe
		for _, f := range found {
			if f.Location&classify.ResponseLocations != 0 {
				d.consider(f)
			}
		}
	} else {
		d.an.Scan(ev, classify.ResponseLocations, d.consider)
	}
	if len(d.seen) == 0 {
		return
	}
	learning := ep.responses <= d.minResp || ev.Time.Sub(ep.first) < d.learning
	for si := range d.seen {
		o := d.seen[si]
		typ := o.f.Match.Type
		if learning || ep.known[typ] {
			ep.known[typ] = true
			continue
		}
		if ep.alerted[typ] {
			continue
		}
		if ep.alerted == nil {
			ep.alerted = map[string]bool{}
		}
		ep.alerted[typ] = true
		sev := ""
		if criticalTypes[typ] {
			sev = model.SevCritical
		}
		known := make([]string, 0, len(ep.known))
		for k := range ep.known {
			known = append(known, k)
		}
		sort.Strings(known)
		ref := ev.Endpoint
		note := fmt.Sprintf("%s in %s %s: %s", typ, o.f.Location, o.f.Field, o.f.Sample)
		out.Emit(Hit{
			Type: "data.sensitive_exposure", Time: ev.Time, Severity: sev, Confidence: math.Round(o.conf*100) / 100,
			Title:    fmt.Sprintf("Endpoint started returning %s", typ),
			Endpoint: &ref,
			Evidence: model.Evidence{
				Observed:  typ,
				Baseline:  known,
				Threshold: fmt.Sprintf("learned over ≥%d responses and ≥%s", d.minResp, d.learning),
				Reason:    fmt.Sprintf("%s appeared in %s %s after %d responses without it", typ, o.f.Location, o.f.Field, ep.responses-1),
				Details: map[string]any{
					"data_type": typ, "location": o.f.Location.String(), "field": o.f.Field, "detail": o.f.Match.Detail,
					"first_time": ev.Time, "sample": o.f.Sample, "learned_responses": ep.responses - 1, "learning_since": ep.first,
				},
			},
			Sample: anomSample(ev, note),
		})
		ep.known[typ] = true
	}
}
