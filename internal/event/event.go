// Package event defines the enriched event: one exchange record after
// normalization and enrichment (endpoint template and id, client address
// and exposure, identity, threat intel) and classification (the sensitive
// values in it). Analyzers consume events; they never see raw input. The
// package holds types only.
package event

import (
	"net/netip"
	"net/url"
	"time"

	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/identity"
	"github.com/palisade-sec/palisade/internal/model"
)

// Event is one enriched exchange.
type Event struct {
	Seq  uint64 // position in the input (0-based), for deterministic ordering
	Rec  *exchange.Record
	Time time.Time // event time (Rec.Time); the only clock analyzers use

	Method string
	Scheme string // http, https, ws, wss
	Host   string // lower-case, default port removed
	Path   string // escaped path as requested, no query ("/" when empty)
	URL    *url.URL
	Query  url.Values

	PeerIP   netip.Addr // the address the gateway saw (client.ip)
	ClientIP netip.Addr // the effective client (X-Forwarded-For when the peer is a trusted proxy)
	External bool       // ClientIP is not in the configured internal ranges
	Outbound bool       // our service calling a third-party API

	// Endpoint is the operation as templated when the event was enriched,
	// with the reference's stable id (Endpoint.ID, model.EndpointID).
	// Templates converge as traffic arrives; the inventory's Resolve
	// (pipeline.EndpointResolver) maps an early reference to its final
	// template, once, at report time.
	Endpoint   model.EndpointRef
	PathParams []PathParam

	Auth  identity.Auth
	Intel IntelMatch

	UserAgent string
	Status    int

	// RequestCoding and ResponseCoding name the content codings the
	// enricher peeled off the recorded bodies ("gzip"; "gzip,br" in the
	// order undone; "" when the body was recorded decoded or has none):
	// Rec's bodies are then the decoded ones.
	RequestCoding, ResponseCoding string

	// Classified is set by the classification stage, which runs once per
	// event after enrichment and before the analyzers (pipeline.Classifier);
	// Sensitive is then every sensitive value it found, in every location
	// (empty when none). An event that was not classified (classification
	// off) has Classified false. Like Query, the slice is reused for the
	// next event: an analyzer copies what it keeps (the strings in it may
	// be kept).
	Classified bool
	Sensitive  []Sensitive

	// GraphQL is what the request's GraphQL documents ask for (nil when it
	// carries none), summarized once by enrichment for the analyzers.
	GraphQL *GraphQL
}

// MaxGraphQLOps bounds the operations kept of one request.
const MaxGraphQLOps = 64

// GraphQL summarizes a request's GraphQL documents.
type GraphQL struct {
	Documents int         // documents that parse (a batch holds several)
	Ops       []GraphQLOp // distinct root fields by operation type, at most MaxGraphQLOps
	Depth     int         // deepest field (1: a root field), fragments followed
	Aliases   int         // fields given an alias other than their name
	Fields    int         // fields selected in all
}

// GraphQLOp is one root field of an operation: {Type: "query", Field:
// "user"}, {Type: "mutation", Field: "login"}.
type GraphQLOp struct{ Type, Field string }

// Location is a set of places in an exchange.
type Location uint8

// Locations (report-v1 names in String).
const (
	LocPath Location = 1 << iota
	LocQuery
	LocRequestHeader
	LocRequestBody
	LocResponseHeader
	LocResponseBody

	AllLocations      = LocPath | LocQuery | LocRequestHeader | LocRequestBody | LocResponseHeader | LocResponseBody
	ResponseLocations = LocResponseHeader | LocResponseBody
)

// String returns the report-v1 location name.
func (l Location) String() string {
	switch l {
	case LocPath:
		return "path"
	case LocQuery:
		return "query"
	case LocRequestHeader:
		return "request.header"
	case LocRequestBody:
		return "request.body"
	case LocResponseHeader:
		return "response.header"
	case LocResponseBody:
		return "response.body"
	}
	return "unknown"
}

// Sensitive is one sensitive value the classification stage found in the
// event. Sample is redacted; the value itself is never kept.
type Sensitive struct {
	Location   Location
	Field      string // field path ("$.user.email"), parameter or header name
	Type       string // data type (email, credit_card, … or a custom type)
	Confidence float64
	Masked     bool   // shown masked (**** 1234): not an exposure of the value
	Detail     string // sub-kind when known (card network, secret kind), never the value
	Sample     string
}

// PathParam is a templated path segment and its concrete value.
type PathParam struct {
	Name  string
	Value string
	Index int // segment index
}

// IntelMatch is what threat intel says about the client address.
type IntelMatch struct {
	Tor   bool
	Feeds []string // names of blocklist feeds listing the address or its network
	Score int      // highest list count (ipsum-style), when the feed carries one
}

// Hit reports whether any feed matched.
func (m IntelMatch) Hit() bool { return m.Tor || len(m.Feeds) > 0 }

// Identity returns the principal, or nil for anonymous requests.
func (e *Event) Identity() *identity.Identity { return e.Auth.Identity }

// Success reports a 2xx/3xx response.
func (e *Event) Success() bool { return e.Status >= 200 && e.Status < 400 }
