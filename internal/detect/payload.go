package detect

import (
	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/model"
)

// Family "payload": payload.large_response and payload.large_request.
//
// Per endpoint, a DDSketch of successful (2xx) response sizes and one of
// non-empty request body sizes. A request fires when its size exceeds
//
//	max(abs_response | abs_request, factor · p99.9 of the endpoint)
//
// once the endpoint has gate_obs observations (default 200). Endpoints
// whose normal responses are large simply have a large p99.9. Sizes that
// fire are learned clipped at the threshold, so repeated exfiltration does
// not teach the baseline. Alerts fold per (client, endpoint) in the
// emitter; no per-client state is kept.
//
// Memory: per endpoint 2 DDSketches (≤ 4.3 KB each, typically < 1 KB) +
// ~100 bytes; at most max_endpoints (default 20,000) endpoints, LRU.

func init() {
	Register("payload", func(cfg Config) Detector { return newPayload(cfg) })
	RegisterOptions("payload", func() FamilyOptions { return defaultPayloadOptions() })
}

// payloadOptions are the payload family's options (detect.options.payload).
type payloadOptions struct {
	Factor       float64 `yaml:"factor" doc:"a large payload is above factor × the endpoint's quantile"`
	Quantile     float64 `yaml:"quantile" doc:"quantile of the endpoint's sizes the factor applies to"`
	GateObs      float64 `yaml:"gate_obs" doc:"observations on the endpoint before it can fire"`
	AbsResponse  float64 `yaml:"abs_response" doc:"absolute floor of a large response (bytes)"`
	AbsRequest   float64 `yaml:"abs_request" doc:"absolute floor of a large request body (bytes)"`
	MaxEndpoints int     `yaml:"max_endpoints" doc:"endpoints tracked (LRU)"`
}

func defaultPayloadOptions() *payloadOptions {
	return &payloadOptions{
		Factor:       4,
		Quantile:     0.999,
		GateObs:      200,
		AbsResponse:  64 << 10,
		AbsRequest:   16 << 10,
		MaxEndpoints: 20000,
	}
}

// Validate implements config.Validator.
func (o *payloadOptions) Validate() error {
	return atMostOne(checkOptions(o), map[string]float64{"quantile": o.Quantile})
}

type payloadDetector struct {
	keyed
	factor, q, gate float64
	absResp, absReq float64
	eps             *lru[payloadEndpoint]
}

type payloadEndpoint struct {
	resp, req quantiles
}

func newPayload(cfg Config) *payloadDetector {
	o := optionsFor[*payloadOptions](cfg, "payload")
	return &payloadDetector{
		factor:  o.Factor,
		q:       o.Quantile,
		gate:    o.GateObs,
		absResp: o.AbsResponse,
		absReq:  o.AbsRequest,
		eps:     newLRU[payloadEndpoint](o.MaxEndpoints),
	}
}

func (d *payloadDetector) Name() string { return "payload" }

func (d *payloadDetector) Observe(ev *event.Event, out *Emitter) {
	d.begin(ev)
	if ev.Rec == nil {
		return
	}
	ep, _ := d.eps.getOrAdd(d.keys.endpoint(ev))
	if ev.Status >= 200 && ev.Status < 300 {
		if sz := float64(ev.Rec.Response.Size); sz > 0 {
			d.check(ev, &ep.resp, sz, d.absResp, "payload.large_response", "response", out)
		}
	}
	if sz := float64(ev.Rec.Request.Size); sz > 0 {
		d.check(ev, &ep.req, sz, d.absReq, "payload.large_request", "request body", out)
	}
}

func (d *payloadDetector) check(ev *event.Event, q *quantiles, sz, abs float64, typ, what string, out *Emitter) {
	n := q.count()
	if n < d.gate {
		q.add(sz)
		return
	}
	base := q.at(d.q)
	thr := fmax(abs, d.factor*base)
	if sz <= thr {
		q.add(sz)
		return
	}
	q.add(thr) // learn clipped
	out.Emit(Hit{
		Type: typ, Time: ev.Time, Client: clientIP(ev), Identity: identityRef(ev), Endpoint: endpointRef(ev),
		Confidence: confidence(sz, thr, n, 5*d.gate),
		Evidence: model.Evidence{
			Observed: sz, Baseline: round2(base), Threshold: round2(thr),
			Reason:  what + " size (bytes) far above this endpoint's learned distribution (baseline = p99.9)",
			Details: map[string]any{"p50": round2(q.at(0.5)), "observations": n},
		},
		Sample: anomSample(ev, ""),
	})
}
