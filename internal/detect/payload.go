package detect

import (
	"fmt"
	"strings"
	"time"

	"github.com/palisade-sec/palisade/internal/alert"
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
// Learning (readiness) and cold start: before gate_obs observations, a
// body is judged only when its content is structured (JSON, XML, form) —
// a prior on what such a body can be — against max(cold_abs × abs,
// cold_factor × the largest size so far) (defaults 4 × 64 KiB | 16 KiB
// and 25 ×), raised by cold_obs / n below cold_obs (5) observations (n):
// a 2 MB review against 300-byte reviews is not noise, whatever the
// endpoint's age, and a 7 MB order list after three of 400 bytes is not
// either (bar 427 KiB; 1.28 MiB after one). Binary bodies (PDFs, images,
// archives, uploads) wait for the baseline.
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
	ColdObs      float64 `yaml:"cold_obs" doc:"before gate_obs observations, observations on the endpoint below which the cold-start bar is raised by cold_obs / observations"`
	ColdAbs      float64 `yaml:"cold_abs" doc:"cold start: a body is above cold_abs × abs_response (or abs_request)"`
	ColdFactor   float64 `yaml:"cold_factor" doc:"cold start: a body is above cold_factor × the largest size so far"`
}

func defaultPayloadOptions() *payloadOptions {
	return &payloadOptions{
		Factor:       4,
		Quantile:     0.999,
		GateObs:      200,
		AbsResponse:  64 << 10,
		AbsRequest:   16 << 10,
		MaxEndpoints: 20000,
		ColdObs:      5,
		ColdAbs:      4,
		ColdFactor:   25,
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
	coldObs         float64
	coldAbs         float64
	coldFactor      float64
	eps             *lru[payloadEndpoint]
	readyResp       readyMark
	readyReq        readyMark
}

type payloadEndpoint struct {
	ref       model.EndpointRef
	resp, req quantiles
}

func newPayload(cfg Config) *payloadDetector {
	o := optionsFor[*payloadOptions](cfg, "payload")
	return &payloadDetector{
		factor:     o.Factor,
		q:          o.Quantile,
		gate:       o.GateObs,
		absResp:    o.AbsResponse,
		absReq:     o.AbsRequest,
		coldObs:    o.ColdObs,
		coldAbs:    o.ColdAbs,
		coldFactor: o.ColdFactor,
		eps:        newLRU[payloadEndpoint](o.MaxEndpoints),
	}
}

func (d *payloadDetector) Name() string { return "payload" }

func (d *payloadDetector) Observe(ev *event.Event, out *Emitter) {
	d.begin(ev)
	if ev.Rec == nil {
		return
	}
	ep, created := d.eps.GetOrAdd(d.keys.endpoint(ev))
	if created {
		ep.ref = keepRef(ev.Endpoint)
	}
	if ev.Status >= 200 && ev.Status < 300 {
		if sz := float64(ev.Rec.Response.Size); sz > 0 {
			d.check(ev, &ep.resp, sz, d.absResp, alert.PayloadLargeResponse, "response", false, &d.readyResp, out)
		}
	}
	if sz := float64(ev.Rec.Request.Size); sz > 0 {
		d.check(ev, &ep.req, sz, d.absReq, alert.PayloadLargeRequest, "request body", true, &d.readyReq, out)
	}
}

// structuredBody reports whether a content type is structured text
// (JSON, XML, form): a prior on how large such a body can plausibly be.
func structuredBody(ct string) bool {
	ct = strings.ToLower(ct)
	return strings.Contains(ct, "json") || strings.Contains(ct, "xml") || strings.Contains(ct, "x-www-form-urlencoded")
}

func (d *payloadDetector) check(ev *event.Event, q *quantiles, sz, abs float64, typ alert.Type, what string, req bool, mark *readyMark, out *Emitter) {
	n := q.count()
	if n+1 >= d.gate {
		mark.mark(ev.Time) // this observation (learned below) completes the baseline
	}
	var base, thr float64
	cold := n < d.gate
	if cold {
		ct := ev.Rec.Response.Header("content-type")
		if req {
			ct = ev.Rec.Request.Header("content-type")
		}
		if n < 1 || !structuredBody(ct) {
			q.add(sz)
			return
		}
		// Fewer observations than cold_obs: the bar is raised in
		// proportion (cold_obs / n), as the largest so far says less.
		base = q.at(1) // the largest so far
		thr = fmax(1, d.coldObs/n) * fmax(d.coldAbs*abs, d.coldFactor*base)
	} else {
		base = q.at(d.q)
		thr = fmax(abs, d.factor*base)
	}
	if sz <= thr {
		q.add(sz)
		return
	}
	q.add(thr) // learn clipped
	reason := what + " size (bytes) far above this endpoint's learned distribution (baseline = p99.9)"
	if cold {
		reason = what + " size (bytes) far above anything this young endpoint returned (baseline = the largest so far; structured content)"
	}
	out.Emit(Hit{
		Type: typ, Time: ev.Time, Client: clientIP(ev), Identity: identityRef(ev), Endpoint: endpointRef(ev),
		Confidence: confidence(sz, thr, n, 5*d.gate),
		Evidence: model.Evidence{
			Observed: sz, Baseline: round2(base), Threshold: round2(thr),
			Reason:  reason,
			Details: map[string]any{"p50": round2(q.at(0.5)), "observations": n, "baseline_learning": cold},
		},
		Sample: anomSample(ev, ""),
	})
}

// Readiness implements pipeline.ReadinessReporter.
func (d *payloadDetector) Readiness(at time.Time) []model.Readiness {
	while := func(abs float64) string {
		return fmt.Sprintf("structured (JSON/XML/form) bodies above max(%g, %g × the largest so far), × %g / n below %g observations (n); binary bodies are not judged", d.coldAbs*abs, d.coldFactor, d.coldObs, d.coldObs)
	}
	resp := baseline{detector: "payload", name: "response sizes (2xx)", scope: "endpoint", alerts: alertNames(alert.PayloadLargeResponse),
		requires: model.Need{Requests: int64(d.gate)}, while: while(d.absResp)}.tally()
	req := baseline{detector: "payload", name: "request body sizes", scope: "endpoint", alerts: alertNames(alert.PayloadLargeRequest),
		requires: model.Need{Requests: int64(d.gate)}, while: while(d.absReq)}.tally()
	d.eps.Each(func(_ uint64, ep *payloadEndpoint) {
		k := ep.ref.Key()
		if ep.resp.count() > 0 {
			resp.Add(k, model.Need{Requests: int64(ep.resp.count())}, false)
		}
		if ep.req.count() > 0 {
			req.Add(k, model.Need{Requests: int64(ep.req.count())}, false)
		}
	})
	return []model.Readiness{resp.Readiness(d.readyResp.at), req.Readiness(d.readyReq.at)}
}
