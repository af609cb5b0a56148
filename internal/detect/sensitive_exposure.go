package detect

import (
	"fmt"
	"math"
	"slices"
	"sort"
	"time"

	"github.com/palisade-sec/palisade/internal/alert"
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
// Classification is the pipeline's classification stage: the detector
// reads what it attached to the event (event.Sensitive, response
// locations). An event that was not classified (classification turned off,
// or the detector used on its own) is classified here by a
// classify.Analyzer of the detector's own, on response locations, with
// Config.Classifier (custom data types) or the default configuration. Either
// way per-field sampling applies once a field's class is stable (a stable
// field is still classified one value in SampleEvery; a new field always
// is).
//
// Memory: per endpoint ≈100 bytes plus the set of types seen, plus the
// analyzer's per-field state (see classify.Analyzer), bounded by
// max_endpoints and classify's MaxFieldsPerEndpoint.
func init() {
	Register("sensitive_exposure", func(cfg Config) Detector {
		return newSensitiveExposure(cfg, cfg.Classifier) // nil: the default configuration
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
	ref       model.EndpointRef
	first     time.Time
	responses int64
	served    bool            // answered something other than 404/405 (not only a probe path)
	known     map[string]bool // data types seen (unmasked) during learning
	alerted   map[string]bool
}

// SensitiveExposure is the data.sensitive_exposure detector.
type SensitiveExposure struct {
	keyed
	an       *classify.Analyzer // for events the classification stage did not see
	minResp  int64
	learning time.Duration
	minConf  float64
	maxEPs   int
	eps      map[uint64]*exposureEP // by endpoint hash
	seen     []exposureObs          // per-event scratch: strongest finding per type, in order of appearance
	// Dropped counts responses of endpoints beyond max_endpoints.
	Dropped int64
	ready   readyMark
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
	f    event.Sensitive
	conf float64
}

func (d *SensitiveExposure) consider(f event.Sensitive) {
	if f.Masked || f.Confidence < d.minConf || unwatchedTypes[f.Type] {
		return
	}
	for i := range d.seen {
		if d.seen[i].f.Type == f.Type {
			if f.Confidence > d.seen[i].conf {
				d.seen[i] = exposureObs{f, f.Confidence}
			}
			return
		}
	}
	d.seen = append(d.seen, exposureObs{f, f.Confidence})
}

func (d *SensitiveExposure) considerFound(f classify.Found) { d.consider(f.Sensitive()) }

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
		ep = &exposureEP{first: ev.Time, known: map[string]bool{}, ref: keepRef(ev.Endpoint)}
		d.eps[key] = ep
	}
	if ev.Time.Before(ep.first) {
		ep.first = ev.Time
	}
	ep.responses++
	if ep.served && ep.responses > d.minResp && ev.Time.Sub(ep.first) >= d.learning {
		d.ready.mark(ev.Time)
	}
	if ev.Status < 400 || ev.Status >= 500 {
		ep.served = true
	}
	// first (most confident) finding per type in this response
	clear(d.seen)
	d.seen = d.seen[:0]
	if ev.Classified {
		for _, f := range ev.Sensitive {
			if f.Location&event.ResponseLocations != 0 {
				d.consider(f)
			}
		}
	} else {
		d.an.Scan(ev, classify.ResponseLocations, d.considerFound)
	}
	if len(d.seen) == 0 {
		return
	}
	learning := ep.responses <= d.minResp || ev.Time.Sub(ep.first) < d.learning
	for si := range d.seen {
		o := d.seen[si]
		typ := o.f.Type
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
		out.Emit(Hit{Type: alert.DataSensitiveExposure, Time: ev.Time, Severity: sev, Confidence: math.Round(o.conf*100) / 100,
			Title:    fmt.Sprintf("Endpoint started returning %s", typ),
			Endpoint: &ref,
			Evidence: model.Evidence{
				Observed:  typ,
				Baseline:  known,
				Threshold: fmt.Sprintf("learned over ≥%d responses and ≥%s", d.minResp, d.learning),
				Reason:    fmt.Sprintf("%s appeared in %s %s after %d responses without it", typ, o.f.Location, o.f.Field, ep.responses-1),
				Details: map[string]any{
					"data_type": typ, "location": o.f.Location.String(), "field": o.f.Field, "detail": o.f.Detail,
					"first_time": ev.Time, "sample": o.f.Sample, "learned_responses": ep.responses - 1, "learning_since": ep.first,
				},
			},
			Sample: anomSample(ev, note),
		})
		ep.known[typ] = true
	}
}

// Readiness implements pipeline.ReadinessReporter.
func (d *SensitiveExposure) Readiness(at time.Time) []model.Readiness {
	t := baseline{detector: "sensitive_exposure", name: "data types each endpoint returns", scope: "endpoint", alerts: alertNames(alert.DataSensitiveExposure),
		requires: model.Need{Requests: d.minResp + 1, Hours: d.learning.Hours()},
		while:    "the data types the endpoint returns are learned as normal; nothing fires on it"}.tally()
	keys := make([]uint64, 0, len(d.eps))
	for k := range d.eps {
		keys = append(keys, k)
	}
	slices.Sort(keys) // deterministic order (the tally breaks ties by key anyway)
	for _, k := range keys {
		ep := d.eps[k]
		if !ep.served {
			continue // a probe path, not an endpoint
		}
		t.Add(ep.ref.Key(), model.Need{Requests: ep.responses, Hours: hoursSince(ep.first, at)}, false)
	}
	return []model.Readiness{t.Readiness(d.ready.at)}
}
