// Package event defines the enriched event: one exchange record after
// normalization and enrichment (endpoint template, client address and
// exposure, identity, threat intel). Analyzers consume events; they never
// see raw input. The package holds types only.
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

	// Endpoint is the operation as templated when the event was enriched.
	// Templates converge as traffic arrives; the inventory's Canonical
	// method maps an early reference to its final template.
	Endpoint   model.EndpointRef
	PathParams []PathParam

	Auth  identity.Auth
	Intel IntelMatch

	UserAgent string
	Status    int
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
