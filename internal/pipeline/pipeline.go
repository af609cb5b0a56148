// Package pipeline defines the small interfaces between stages and runs
// events through them: sources → normalize (exchange) → enrich → analyzers →
// alerts/findings → report, sinks and store. Data flows one way.
package pipeline

import (
	"net/netip"
	"time"

	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/model"
)

// Analyzer consumes enriched events in event-time order. Implementations are
// deterministic: the same events give the same state. They must not keep the
// event, its record or the record's header maps past Observe (the engine
// recycles records); strings may be kept.
type Analyzer interface {
	Observe(ev *event.Event)
}

// Classifier is the classification stage. It runs once per event, after
// enrichment and before the analyzers fan out, and attaches its result to
// the event (Event.Classified, Event.Sensitive), so that every analyzer
// reads the same classification whatever their order. Implemented by
// classify.Analyzer.
type Classifier interface {
	Classify(ev *event.Event)
}

// Finisher is implemented by analyzers that flush state at the end of the
// input (or at a checkpoint in serve mode); at is the last event time.
type Finisher interface {
	Finish(at time.Time)
}

// Templater assigns the endpoint of a request during enrichment.
// Implemented by the inventory.
type Templater interface {
	// Template returns the endpoint of a request to a concrete escaped
	// path: host, method and template, with the reference's stable id
	// (model.EndpointID) when it has one; and the values of the templated
	// segments.
	Template(host, method, path string) (model.EndpointRef, []event.PathParam)
}

// EndpointResolver says what an endpoint reference recorded earlier (by
// its id, or its strings when it has none) stands for now: the endpoint's
// current template. Everything keyed on an endpoint (alerts, findings,
// classification, API changes) is resolved through it, once, when a report
// is assembled. Implemented by the inventory.
type EndpointResolver interface {
	Resolve(ref model.EndpointRef) model.EndpointRef
}

// SpecLookup answers what the declared OpenAPI specs say about an endpoint.
// Implemented by the inventory; used by the detectors.
type SpecLookup interface {
	Operation(ref model.EndpointRef) (model.SpecOp, bool)
}

// IntelLookup answers threat-intel questions about an address. Implemented
// by the intel package.
type IntelLookup interface {
	Lookup(ip netip.Addr) event.IntelMatch
}

// AlertSource is implemented by the detection engine.
type AlertSource interface {
	Alerts() []model.Alert
}

// Fanout runs an event through several analyzers in order.
type Fanout []Analyzer

// Observe implements Analyzer.
func (f Fanout) Observe(ev *event.Event) {
	for _, a := range f {
		a.Observe(ev)
	}
}

// Finish implements Finisher.
func (f Fanout) Finish(at time.Time) {
	for _, a := range f {
		if fin, ok := a.(Finisher); ok {
			fin.Finish(at)
		}
	}
}

// ReadinessReporter is implemented by analyzers (and detector families)
// whose judgements need learned history: Readiness returns the learning
// state of each of their baselines as of event time at (the last event).
type ReadinessReporter interface {
	Readiness(at time.Time) []model.Readiness
}
