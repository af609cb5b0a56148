// Package model holds the data types of the analysis report contract
// (docs/contracts/report-v1.md and alert-types.md). It is a leaf package:
// every pipeline stage may import it, it imports nothing of the product.
package model

import (
	"sort"
	"time"
)

// Report is the analysis report, version 1.
type Report struct {
	GeneratedAt time.Time  `json:"generated_at"`
	Input       Input      `json:"input"`
	Endpoints   []Endpoint `json:"endpoints"`
	Alerts      []Alert    `json:"alerts"`
	Findings    []Finding  `json:"findings"`
	// Extensions (compatible additions to report-v1).
	Probes    []Probe     `json:"probes,omitempty"`
	APIChange []APIChange `json:"api_changes,omitempty"`
	Intel     []FeedInfo  `json:"intel,omitempty"`
	// AnalysisDropped counts what analyzers dropped or left undecided
	// (budgets, sampling, open windows at end of input), by "stage: reason".
	AnalysisDropped map[string]int64 `json:"analysis_dropped,omitempty"`
	// Hosts summarizes the hosts of endpoints[] (our APIs) with the
	// declared specs that cover each.
	Hosts []APIHost `json:"hosts,omitempty"`
	// Outbound lists the third-party APIs our services call (hosts seen
	// only in outbound exchange records); they are never in Endpoints.
	Outbound []OutboundAPI `json:"outbound,omitempty"`
	// Readiness is the learning state of every learned baseline (detector
	// families, inventory, posture) at the end of the input.
	Readiness []Readiness `json:"readiness,omitempty"`
}

// APIHost is one host of the inventory (report extension `hosts[]`).
type APIHost struct {
	Host string `json:"host"`
	// Specs names the declared specs that apply to the host ([] when none).
	Specs []string `json:"specs"`
	// Documented is true when a spec covers the host, false when specs were
	// loaded but none covers it, null when no spec was loaded at all.
	Documented *bool            `json:"documented"`
	Endpoints  int              `json:"endpoints"`
	Requests   int64            `json:"requests"`
	States     map[string]int64 `json:"states"` // endpoint state -> endpoints
}

// OutboundAPI is one third-party API our services call (report extension
// `outbound[]`): a host whose exchange records are all outbound.
type OutboundAPI struct {
	Host string `json:"host"`
	// Destination is "external" or "internal": where the host is (an
	// address in the internal ranges, or an internal name such as
	// localhost, *.internal, *.local, a single label).
	Destination  string              `json:"destination"`
	FirstSeen    *time.Time          `json:"first_seen"`
	LastSeen     *time.Time          `json:"last_seen"`
	Requests     int64               `json:"requests"`
	StatusCodes  map[string]int64    `json:"status_codes"`
	TLS          OutboundTLS         `json:"tls"`
	AuthSent     []string            `json:"auth_sent"`     // credential schemes our calls carry (never the secret)
	DataSent     []string            `json:"data_sent"`     // sensitive data types sent (path, query, request headers and body)
	DataReceived []string            `json:"data_received"` // sensitive data types received (response headers and body)
	Operations   []OutboundOperation `json:"operations"`
	API10        API10               `json:"api10"`
}

// OutboundTLS says how the calls to a third-party host travel.
type OutboundTLS struct {
	Schemes []string `json:"schemes"` // http, https, ws, wss as seen
	Ports   []int    `json:"ports"`   // the host's explicit port, else the schemes' defaults
	// Plaintext is true when calls went over http:// or ws://;
	// PlaintextOperations lists them ("METHOD /path").
	Plaintext           bool     `json:"plaintext"`
	PlaintextOperations []string `json:"plaintext_operations,omitempty"`
}

// OutboundOperation is one operation of a third-party API as our services
// call it (path templated as in the inventory).
type OutboundOperation struct {
	Method        string           `json:"method"`
	Path          string           `json:"path"`
	FirstSeen     *time.Time       `json:"first_seen"`
	LastSeen      *time.Time       `json:"last_seen"`
	Requests      int64            `json:"requests"`
	StatusCodes   map[string]int64 `json:"status_codes"`
	AuthSent      []string         `json:"auth_sent"`
	Schemes       []string         `json:"schemes"`
	Parameters    []Parameter      `json:"parameters"`     // what the calls send (examples redacted)
	SensitiveData []SensitiveData  `json:"sensitive_data"` // request.* = sent, response.* = received
	Latency       *Distribution    `json:"latency_ms,omitempty"`
	Callers       int64            `json:"callers,omitempty"` // estimated distinct addresses of our services making the call
}

// API10 relates a third-party API to OWASP API10:2023 (unsafe consumption
// of APIs): what makes it relevant, with the alerts and findings on its
// operations.
type API10 struct {
	Relevant bool `json:"relevant"`
	// Severity is the highest severity among the consumption alerts and
	// posture findings linked, or "low"/"info" when only the data sent
	// makes the API relevant; "" when not relevant.
	Severity string   `json:"severity,omitempty"`
	Reasons  []string `json:"reasons"`
	Alerts   []string `json:"alerts"`   // ids of the alerts on its operations
	Findings []string `json:"findings"` // ids of the posture findings on its operations
}

// Input describes what was read.
type Input struct {
	Records  int64            `json:"records"`
	Rejected int64            `json:"rejected"`
	From     *time.Time       `json:"from"`
	To       *time.Time       `json:"to"`
	Bytes    int64            `json:"bytes,omitempty"`
	Files    []string         `json:"files,omitempty"`
	Errors   []InputError     `json:"errors,omitempty"`  // first few rejections, with location
	Dropped  map[string]int64 `json:"dropped,omitempty"` // reason -> count
	Late     int64            `json:"late,omitempty"`    // records older than the reorder window (processed anyway)
	// Decoded counts the request and response bodies recorded with a
	// content coding that were decoded before analysis, by the codings
	// peeled ("gzip", "br", "gzip,br" in the order undone).
	Decoded map[string]int64 `json:"decoded,omitempty"`
}

// InputError locates one rejected record.
type InputError struct {
	File    string `json:"file"`
	Line    int64  `json:"line,omitempty"`  // 1-based line (NDJSON)
	Entry   int64  `json:"entry,omitempty"` // 1-based entry (HAR)
	Field   string `json:"field,omitempty"`
	Message string `json:"message"`
}

// EndpointRef names one API operation; Path is the inventory template.
//
// ID is the inventory's stable id of the reference (see EndpointID); it is
// not part of the wire form. The same host, method and path always carry
// the same ID within one inventory, so comparing the refs of events (==,
// map keys) still compares their strings. A ref made by hand has no ID
// and is not == to an event's: compare Key() there.
type EndpointRef struct {
	Host   string     `json:"host"`
	Method string     `json:"method"`
	Path   string     `json:"path"`
	ID     EndpointID `json:"-"`
}

// EndpointID is the stable id the inventory gives an endpoint reference
// when it templates an event (during enrichment): the operation as it was
// templated then. Templates converge as traffic arrives (/users/alice,
// /users/bob → /users/{userId}); what an early id stands for now is
// answered in one place, the inventory's Resolve (pipeline.EndpointResolver),
// when a report is assembled. 0 means none (no
// inventory, an ignored path, or the id budget reached): Resolve then
// reads the reference's strings.
type EndpointID uint32

// Key is a stable string form "METHOD host path".
func (e EndpointRef) Key() string { return e.Method + " " + e.Host + e.Path }

// Endpoint is one entry of the inventory.
type Endpoint struct {
	Host           string           `json:"host"`
	Method         string           `json:"method"`
	Path           string           `json:"path"`
	FirstSeen      *time.Time       `json:"first_seen"`
	LastSeen       *time.Time       `json:"last_seen"`
	Requests       int64            `json:"requests"`
	StatusCodes    map[string]int64 `json:"status_codes"`
	Parameters     []Parameter      `json:"parameters"`
	Authentication string           `json:"authentication"` // required | none | unknown
	AuthSchemes    []string         `json:"auth_schemes"`
	Exposure       string           `json:"exposure"` // external | internal
	SensitiveData  []SensitiveData  `json:"sensitive_data"`
	Documented     *bool            `json:"documented"`
	Deprecated     bool             `json:"deprecated"`
	State          string           `json:"state"` // active | unused | shadow | zombie | undocumented
	Risk           Risk             `json:"risk"`

	// Extensions.
	Latency        *Distribution `json:"latency_ms,omitempty"`
	RequestSize    *Distribution `json:"request_bytes,omitempty"`
	ResponseSize   *Distribution `json:"response_bytes,omitempty"`
	Clients        int64         `json:"clients,omitempty"`         // estimated distinct client IPs
	Identities     int64         `json:"identities,omitempty"`      // estimated distinct principals
	Schemes        []string      `json:"schemes,omitempty"`         // http, https, ws, wss
	RequestSchema  any           `json:"request_schema,omitempty"`  // JSON Schema inferred from bodies
	ResponseSchema any           `json:"response_schema,omitempty"` // JSON Schema inferred from bodies (2xx)
	SpecSource     string        `json:"spec_source,omitempty"`
	// GraphQL: the operations a GraphQL endpoint served (nil when no
	// request to it carried a GraphQL document).
	GraphQL *GraphQLSummary `json:"graphql,omitempty"`
}

// GraphQLSummary is what the GraphQL requests of one endpoint asked for:
// the operations' root fields, with how they were answered, and the
// largest requests the endpoint answered successfully.
type GraphQLSummary struct {
	// Operations, sorted by type then field; at most the inventory's
	// bound (inventory.MaxGraphQLOps) per endpoint.
	Operations []GraphQLOperation `json:"operations"`
	// Maxima over successful answers (2xx without a top-level "errors"
	// member); 0 (omitted) when no GraphQL request was answered so.
	MaxDepth   int `json:"max_depth,omitempty"`   // deepest field (1: a root field)
	MaxAliases int `json:"max_aliases,omitempty"` // aliased fields in one request
	MaxBatch   int `json:"max_batch,omitempty"`   // documents in one request
	MaxFields  int `json:"max_fields,omitempty"`  // fields selected in one request
	// Dropped counts the (request, operation) pairs not listed because the
	// endpoint's operation table was full.
	Dropped int64 `json:"dropped,omitempty"`
}

// GraphQLOperation is one root field of one operation type ({query user},
// {mutation login}) and how requests asking for it were answered: OK is
// 2xx without a top-level "errors" member, Errors a status of 400 or more
// or a 2xx carrying "errors" (other answers, 1xx and 3xx, are neither).
type GraphQLOperation struct {
	Type      string    `json:"type"` // query | mutation | subscription
	Field     string    `json:"field"`
	Requests  int64     `json:"requests"`
	OK        int64     `json:"ok"`
	Errors    int64     `json:"errors"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
}

// Ref returns the endpoint's reference.
func (e *Endpoint) Ref() EndpointRef {
	return EndpointRef{Host: e.Host, Method: e.Method, Path: e.Path}
}

// Distribution summarizes a quantile sketch.
type Distribution struct {
	P50 float64 `json:"p50"`
	P90 float64 `json:"p90"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// Parameter of an endpoint.
type Parameter struct {
	Name             string     `json:"name"`
	In               string     `json:"in"` // path | query | header | body
	Type             string     `json:"type"`
	Format           string     `json:"format,omitempty"`
	Required         bool       `json:"required"`
	ExamplesRedacted []string   `json:"examples_redacted"`
	Seen             int64      `json:"seen,omitempty"`
	FirstSeen        *time.Time `json:"first_seen,omitempty"`
	Documented       *bool      `json:"documented,omitempty"`
}

// SensitiveData found on an endpoint.
type SensitiveData struct {
	Type       string     `json:"type"`
	Location   string     `json:"location"` // path | query | request.header | request.body | response.header | response.body
	Field      string     `json:"field"`
	Confidence float64    `json:"confidence"`
	Masked     bool       `json:"masked,omitempty"`
	Count      int64      `json:"count,omitempty"`
	FirstSeen  *time.Time `json:"first_seen,omitempty"`
}

// SortSensitiveData orders classifications by location, field, type, with
// unmasked before masked: the order the report uses.
func SortSensitiveData(list []SensitiveData) {
	sort.Slice(list, func(i, j int) bool {
		x, y := list[i], list[j]
		if x.Location != y.Location {
			return x.Location < y.Location
		}
		if x.Field != y.Field {
			return x.Field < y.Field
		}
		if x.Type != y.Type {
			return x.Type < y.Type
		}
		return !x.Masked && y.Masked
	})
}

// Risk score of an endpoint.
type Risk struct {
	Score   int          `json:"score"`
	Factors []RiskFactor `json:"factors"`
}

// RiskFactor is one contribution to a risk score.
type RiskFactor struct {
	Factor string `json:"factor"`
	Points int    `json:"points"`
	Detail string `json:"detail,omitempty"`
}

// Severity levels.
const (
	SevInfo     = "info"
	SevLow      = "low"
	SevMedium   = "medium"
	SevHigh     = "high"
	SevCritical = "critical"
)

// SeverityRank orders severities (info=0 … critical=4; unknown=-1).
func SeverityRank(s string) int {
	switch s {
	case SevInfo:
		return 0
	case SevLow:
		return 1
	case SevMedium:
		return 2
	case SevHigh:
		return 3
	case SevCritical:
		return 4
	}
	return -1
}

// Alert as in alert-types.md, "Shape of an alert".
type Alert struct {
	ID         string     `json:"id"`
	Type       string     `json:"type"`
	Title      string     `json:"title"`
	Severity   string     `json:"severity"`
	Confidence float64    `json:"confidence"`
	OWASP      Strings    `json:"owasp"`
	MITRE      MITREs     `json:"mitre"`
	FirstSeen  time.Time  `json:"first_seen"`
	LastSeen   time.Time  `json:"last_seen"`
	Count      int64      `json:"count"`
	Client     *ClientRef `json:"client,omitempty"`
	// Clients are the client addresses behind the events folded into the
	// alert, with the number of events from each, most events first (at
	// most MaxAlertClients; the events of further addresses are counted in
	// ClientsOther). Extension of alert-types.md.
	Clients      []ClientCount `json:"clients,omitempty"`
	ClientsOther int64         `json:"clients_other,omitempty"`
	// ClientsOtherNew: of the ClientsOther events, those from addresses
	// new to the alert's principal (see ClientCount.New).
	ClientsOtherNew int64        `json:"clients_other_new,omitempty"`
	Identity        *IdentityRef `json:"identity,omitempty"`
	Endpoint        *EndpointRef `json:"endpoint,omitempty"`
	Evidence        Evidence     `json:"evidence"`
	Remediation     string       `json:"remediation"`
	Subject         string       `json:"subject"` // client | identity | endpoint
	// Serve-mode triage (extension).
	Status string `json:"status,omitempty"` // open | acknowledged | resolved | false_positive
}

// MITRE ATT&CK mapping.
type MITRE struct {
	Tactic        string `json:"tactic"`
	TechniqueID   string `json:"technique_id"`
	TechniqueName string `json:"technique"`
}

// ClientRef names a client.
type ClientRef struct {
	IP string `json:"ip"`
}

// ClientCount is one client address of an alert and the number of the
// alert's events that came from it. New is set on an alert that follows a
// principal when the principal had not used the address before the
// evidence window that first credited it, while it had used others: an
// address it moved to, or one its token is used from by someone else.
type ClientCount struct {
	IP    string `json:"ip"`
	Count int64  `json:"count"`
	New   bool   `json:"new,omitempty"`
}

// LeadNewShare is the share of an alert's named events that addresses new
// to its principal must carry for one of them to lead the alert.
const LeadNewShare = 0.2

// LeadClient returns the address an alert that follows a principal names
// as its client, given its clients (most events first), the events of
// addresses it does not name (other) and how many of those came from
// addresses new to the principal (otherNew). When the addresses new to
// the principal carry at least LeadNewShare of the alert's events, the
// lead is the busiest new address — or none ("") when no new address is
// named: the busiest named one is then the principal's usual address,
// and blocking it would block the victim. Otherwise it is the busiest
// address. A principal whose own workstation keeps its usual pace while
// its token walks records from elsewhere is led by the elsewhere.
func LeadClient(cs []ClientCount, other, otherNew int64) string {
	if len(cs) == 0 {
		return ""
	}
	total, fresh := other, otherNew
	lead := -1
	for i, c := range cs {
		total += c.Count
		if c.New {
			fresh += c.Count
			if lead < 0 {
				lead = i
			}
		}
	}
	if fresh > 0 && float64(fresh) >= LeadNewShare*float64(total) {
		if lead < 0 {
			return ""
		}
		return cs[lead].IP
	}
	return cs[0].IP
}

// MaxAlertClients bounds Alert.Clients.
const MaxAlertClients = 32

// IdentityRef names a principal without its secret.
type IdentityRef struct {
	ID   string `json:"id"`
	Kind string `json:"kind"`
	Name string `json:"name,omitempty"`
}

// Evidence explains why an alert fired.
type Evidence struct {
	Observed  any            `json:"observed,omitempty"`
	Baseline  any            `json:"baseline,omitempty"`
	Threshold any            `json:"threshold,omitempty"`
	Window    string         `json:"window,omitempty"`
	Reason    string         `json:"reason,omitempty"`
	Details   map[string]any `json:"details,omitempty"`
	Samples   []Sample       `json:"samples,omitempty"`
}

// Sample is a redacted sample request.
type Sample struct {
	Time   time.Time `json:"time"`
	Method string    `json:"method"`
	URL    string    `json:"url"` // redacted
	Status int       `json:"status"`
	Client string    `json:"client,omitempty"`
	Note   string    `json:"note,omitempty"` // e.g. the matched (redacted) fragment
}

// Finding is a posture finding.
type Finding struct {
	ID          string       `json:"id"`
	Rule        string       `json:"rule"`
	Title       string       `json:"title"`
	Severity    string       `json:"severity"`
	OWASP       []string     `json:"owasp"`
	Endpoint    *EndpointRef `json:"endpoint"`
	Source      string       `json:"source"` // traffic | spec | gateway-config
	Message     string       `json:"message"`
	Remediation string       `json:"remediation"`
	// Extensions.
	Location *Location      `json:"location,omitempty"` // spec file position
	Evidence map[string]any `json:"evidence,omitempty"`
	// Direction is "outbound" for a finding on a third-party API our
	// services call (its endpoint is in the report's outbound[]).
	Direction string `json:"direction,omitempty"`
}

// Location in a source document.
type Location struct {
	File    string `json:"file"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
	Pointer string `json:"pointer,omitempty"` // JSON pointer
}

// Probe is an operation that was called but is not an endpoint of the
// inventory: it only ever answered 404 (reason "not_found") or denials
// ("denied": 401/403/404/405), only reconnaissance sources called it
// ("reconnaissance"), or its host is an instance-metadata service
// ("metadata").
type Probe struct {
	Host     string `json:"host"`
	Method   string `json:"method"`
	Path     string `json:"path"`
	Requests int64  `json:"requests"`
	Reason   string `json:"reason,omitempty"`
}

// APIChange records a population-wide change of an endpoint's contract
// (e.g. a new query parameter adopted by the whole client population).
type APIChange struct {
	Time     time.Time   `json:"time"`
	Endpoint EndpointRef `json:"endpoint"`
	Kind     string      `json:"kind"` // parameter_added, ...
	Detail   string      `json:"detail"`
}

// FeedInfo describes a loaded threat-intel feed. Modified is the source's
// own date (file mtime, HTTP Last-Modified, MMDB build time); Loaded and
// Age describe the running process (when it loaded the feed, and how old
// the source was then) and are left out of offline reports so that the
// same inputs give the same report.
type FeedInfo struct {
	Kind     string     `json:"kind"`
	Source   string     `json:"source"`
	Format   string     `json:"format"`
	Entries  int        `json:"entries"`
	Rejected int        `json:"rejected"`
	Modified *time.Time `json:"modified,omitempty"`
	Loaded   time.Time  `json:"loaded,omitzero"`
	Age      string     `json:"age,omitempty"`
}

// SubjectActivity summarises what one client address or one identity did
// (serve mode's attacker view; not part of the report). Bounded: see
// internal/activity for the caps.
type SubjectActivity struct {
	Kind      string    `json:"kind"` // client | identity
	ID        string    `json:"id"`   // address, or pseudonymous identity id
	Name      string    `json:"name,omitempty"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	// Requests by hour of event time (Unix seconds of the hour).
	Hours []HourCount `json:"hours,omitempty"`
	// Status counts answers by class: "2xx", "3xx", "4xx", "5xx", "other".
	Status map[string]int64 `json:"status,omitempty"`
	// Endpoints touched, most requests first (capped; the requests to the
	// others are counted in EndpointsOther).
	Endpoints      []SubjectEndpoint `json:"endpoints,omitempty"`
	EndpointsOther int64             `json:"endpoints_other,omitempty"`
	// Addresses an identity used (identity subjects), most requests first.
	Addresses      []SubjectPeer `json:"addresses,omitempty"`
	AddressesOther int64         `json:"addresses_other,omitempty"`
	// Identities seen from an address (client subjects).
	Identities      []SubjectPeer `json:"identities,omitempty"`
	IdentitiesOther int64         `json:"identities_other,omitempty"`
	// DataClasses found by classification in the answers this subject got.
	DataClasses []string `json:"data_classes,omitempty"`
}

// HourCount is one hourly bucket of a subject's requests.
type HourCount struct {
	Hour     int64 `json:"hour"` // Unix seconds of the hour
	Requests int64 `json:"requests"`
}

// SubjectEndpoint is one endpoint a subject called.
type SubjectEndpoint struct {
	EndpointRef
	Requests  int64     `json:"requests"`
	Errors    int64     `json:"errors"` // 4xx and 5xx answers
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
}

// SubjectPeer is an address of an identity or an identity of an address.
type SubjectPeer struct {
	ID       string    `json:"id"`
	Name     string    `json:"name,omitempty"`
	Requests int64     `json:"requests"`
	LastSeen time.Time `json:"last_seen"`
}
