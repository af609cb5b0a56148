// Package store defines the persistent storage of serve mode: inventory
// snapshots, alerts with triage state and history, findings, uploaded specs,
// API tokens and sessions (hashed), the audit log, settings and erasure
// tombstones, as small interfaces by use (Auth, Checkpoints, Settings,
// InventoryReader, AlertReader, Triager, Specs, GatewayConfigs, AuditLog,
// Privacy; Store is all of them). store/sqlstore implements them once in
// SQL for SQLite (store/sqlite, the default) and PostgreSQL
// (store/postgres).
package store

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/palisade-sec/palisade/internal/model"
)

// ErrNotFound is returned when a row does not exist.
var ErrNotFound = errors.New("not found")

// Roles of API tokens.
const (
	RoleViewer  = "viewer"  // read
	RoleAnalyst = "analyst" // read + triage
	RoleAdmin   = "admin"   // everything
	RoleIngest  = "ingest"  // only ingest
)

// ValidRole reports whether r is a known role.
func ValidRole(r string) bool {
	switch r {
	case RoleViewer, RoleAnalyst, RoleAdmin, RoleIngest:
		return true
	}
	return false
}

// Alert triage statuses.
const (
	StatusOpen          = "open"
	StatusAcknowledged  = "acknowledged"
	StatusResolved      = "resolved"
	StatusFalsePositive = "false_positive"
)

// TriageActions maps a triage action to the status it sets.
var TriageActions = map[string]string{
	"acknowledge":    StatusAcknowledged,
	"resolve":        StatusResolved,
	"false_positive": StatusFalsePositive,
	"reopen":         StatusOpen,
}

// HourBucket returns the traffic bucket (Unix seconds of the hour) of t.
func HourBucket(t time.Time) int64 { return t.Unix() - t.Unix()%3600 }

// Token is an API token. Only the SHA-256 of the secret is stored.
type Token struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Role      string     `json:"role"`
	Hash      []byte     `json:"-"`
	CreatedAt time.Time  `json:"created_at"`
	LastUsed  *time.Time `json:"last_used,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
}

// Session is a dashboard session obtained by exchanging a token. Only hashes
// of the session secret and of the CSRF token are stored.
type Session struct {
	Hash      []byte
	CSRFHash  []byte
	TokenID   string
	Role      string
	CreatedAt time.Time
	ExpiresAt time.Time
}

// EndpointFilter selects endpoints. Empty fields do not filter.
type EndpointFilter struct {
	Host           string
	State          string
	Exposure       string
	Authentication string
	Sensitive      string // one sensitive data type, e.g. "email"
	Q              string // substring of host or path
	Sort           string // risk (default) | requests | last_seen
	Limit          int
	Cursor         string
}

// AlertFilter selects alerts.
type AlertFilter struct {
	Types      []string
	Severities []string
	Statuses   []string
	From, To   time.Time // on last_seen; zero = unbounded
	Endpoint   string    // endpoint key "METHOD host/path"
	ClientIP   string
	Address    string // client_ip or an entry of clients[]
	IdentityID string
	Sort       string // last_seen (default) | severity
	Limit      int
	Cursor     string
}

// FindingFilter selects findings.
type FindingFilter struct {
	Status     string // open | accepted | fixed | verified ("" = every current finding)
	Rule       string
	Severities []string
	Endpoint   string
	Limit      int
	Cursor     string
}

// Page is one page of a list.
type Page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor,omitempty"`
}

// StoredAlert is an alert with its serve-mode state.
type StoredAlert struct {
	model.Alert
	UpdatedAt time.Time `json:"updated_at"`
}

// TriageEvent is one entry of an alert's history.
type TriageEvent struct {
	At     time.Time `json:"at"`
	Actor  string    `json:"actor"`
	Action string    `json:"action"`
	From   string    `json:"from"`
	To     string    `json:"to"`
	Reason string    `json:"reason,omitempty"`
}

// TrafficPoint is one bucket of a traffic series (event time).
type TrafficPoint struct {
	Time     time.Time `json:"time"`
	Requests int64     `json:"requests"`
}

// EndpointDetail is an endpoint with its traffic series.
type EndpointDetail struct {
	ID string `json:"id"`
	model.Endpoint
	Traffic []TrafficPoint `json:"traffic"`
}

// EndpointRow is an endpoint in a list.
type EndpointRow struct {
	ID string `json:"id"`
	model.Endpoint
}

// OutboundFilter selects third-party APIs (the report's outbound[]).
// Empty fields do not filter.
type OutboundFilter struct {
	Q           string // substring of the host
	Destination string // external | internal
	Relevant    bool   // only those relevant to API10:2023
	Sort        string // api10 (default: relevance severity) | requests | last_seen
	Limit       int
	Cursor      string
}

// OutboundRow is a third-party API our services call.
type OutboundRow struct {
	ID string `json:"id"`
	model.OutboundAPI
}

// Spec is an uploaded declared API description.
type Spec struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	SHA256     string    `json:"sha256"`
	Size       int       `json:"size"`
	UploadedAt time.Time `json:"uploaded_at"`
	UploadedBy string    `json:"uploaded_by"`
	// Hosts the spec applies to besides its servers' (upload ?host=).
	Hosts   []string `json:"hosts,omitempty"`
	Content []byte   `json:"-"`
	// Problem is set when the stored spec was not loaded at start (the
	// reason); it is not stored.
	Problem string `json:"problem,omitempty"`
}

// GatewayConfig is an uploaded gateway or infrastructure configuration
// (Kong, NGINX, Envoy, Kubernetes, Azure API Management, AWS API Gateway).
type GatewayConfig struct {
	ID         string    `json:"id"`
	Name       string    `json:"name"`
	Kind       string    `json:"kind"` // as detected or given at upload
	SHA256     string    `json:"sha256"`
	Size       int       `json:"size"`
	UploadedAt time.Time `json:"uploaded_at"`
	UploadedBy string    `json:"uploaded_by"`
	Content    []byte    `json:"-"`
}

// AuditEntry records who did what.
type AuditEntry struct {
	ID     int64          `json:"id"`
	At     time.Time      `json:"at"`
	Actor  string         `json:"actor"`
	Action string         `json:"action"`
	Target string         `json:"target,omitempty"`
	Detail map[string]any `json:"detail,omitempty"`
}

// Overview holds dashboard counts.
type Overview struct {
	APIs                int64            `json:"apis"`
	Endpoints           int64            `json:"endpoints"`
	Unauthenticated     int64            `json:"unauthenticated"`
	External            int64            `json:"external"`
	Sensitive           int64            `json:"sensitive"`
	Shadow              int64            `json:"shadow"`
	Zombie              int64            `json:"zombie"`
	Undocumented        int64            `json:"undocumented"`   // endpoints of hosts no loaded spec covers
	OutboundAPIs        int64            `json:"outbound_apis"`  // third-party APIs our services call
	OutboundRelevant    int64            `json:"outbound_api10"` // … of which relevant to API10:2023
	OpenAlerts          int64            `json:"open_alerts"`
	OpenBySeverity      map[string]int64 `json:"open_alerts_by_severity"`
	OpenByOWASP         map[string]int64 `json:"open_alerts_by_owasp"`
	Findings            int64            `json:"findings"`
	Traffic             []TrafficPoint   `json:"traffic"`
	EventClock          *time.Time       `json:"event_clock,omitempty"`
	RecordsProcessed    int64            `json:"records_processed"`
	LastSnapshotWallUTC *time.Time       `json:"last_snapshot,omitempty"`
}

// RetentionPolicy says how long data is kept. A row expires when it is older
// than the period by the event clock (newest event time seen) OR by the wall
// clock measured on the time it was last written.
type RetentionPolicy struct {
	ClientIPs time.Duration // then pseudonymized
	Alerts    time.Duration // then deleted
	Audit     time.Duration // then deleted (0 = keep)
}

// RetentionResult counts what a retention run changed.
type RetentionResult struct {
	AlertsDeleted      int64 `json:"alerts_deleted"`
	AlertsPseudonymize int64 `json:"alerts_pseudonymized"`
	AuditDeleted       int64 `json:"audit_deleted"`
	TombstonesDeleted  int64 `json:"tombstones_deleted"`
	SubjectsDeleted    int64 `json:"subjects_deleted"`
}

// EraseResult counts what an erasure removed.
type EraseResult struct {
	AlertsDeleted int64 `json:"alerts_deleted"`
	// SubjectsErased counts subject summaries deleted or edited.
	SubjectsErased int64 `json:"subjects_erased"`
	SamplesRemoved int64 `json:"samples_removed"`
	WALRecords     int64 `json:"wal_records_removed"`
}

// Snapshot is what the engine hands to the store at a checkpoint.
type Snapshot struct {
	Report     *model.Report
	EventClock time.Time // newest event time processed
	Records    int64     // records processed since start of the data directory
	// Traffic counts records newly processed since the previous snapshot
	// by hour of event time (Unix seconds of the hour → records); it feeds
	// the overview's traffic series exactly.
	Traffic map[int64]int64
	// Seq is the position of the input this snapshot covers (0: none).
	// A snapshot whose Seq is at or below the last one written is a
	// replay and changes nothing (its Traffic would count twice).
	Seq int64
	// Subjects are the per-subject activity summaries that changed; the
	// store merges each with what it holds (activity.Merge).
	Subjects []model.SubjectActivity
}

// MaxSubjectRows bounds the stored subject summaries (per kind); the least
// recently active beyond it are deleted by the retention run.
const MaxSubjectRows = 100000

// SubjectFilter selects subject summaries.
type SubjectFilter struct {
	Kind   string // client | identity | "" (both)
	Q      string // substring of the id or name
	Limit  int
	Cursor string
}

// SubjectRow is a subject in a list (newest activity first).
type SubjectRow struct {
	Kind      string    `json:"kind"`
	ID        string    `json:"id"`
	Name      string    `json:"name,omitempty"`
	FirstSeen time.Time `json:"first_seen"`
	LastSeen  time.Time `json:"last_seen"`
	Requests  int64     `json:"requests"`
}

// SubjectDetail is the stored activity of one subject.
type SubjectDetail struct {
	model.SubjectActivity
	Requests  int64     `json:"requests"` // total of the hourly buckets
	UpdatedAt time.Time `json:"updated_at"`
	// EndpointData lists the data classes that the endpoints this subject
	// called return in their answers (from the inventory's classification).
	EndpointData []SubjectDataClass `json:"endpoint_data_classes"`
}

// EndpointSubject is a stored subject that called an endpoint.
type EndpointSubject struct {
	Kind     string    `json:"kind"`
	ID       string    `json:"id"`
	Name     string    `json:"name,omitempty"`
	Requests int64     `json:"requests"` // to this endpoint
	Errors   int64     `json:"errors"`
	LastSeen time.Time `json:"last_seen"`
}

// SubjectDataClass is a data class and the subject's endpoints returning it.
type SubjectDataClass struct {
	Type      string   `json:"type"`
	Endpoints []string `json:"endpoints"`
}

// Finding triage statuses.
const (
	FindingOpen     = "open"
	FindingAccepted = "accepted" // risk accepted until expires_at
	FindingFixed    = "fixed"    // marked fixed, awaiting verification
	FindingVerified = "verified" // fixed and not produced by a later analysis
)

// FindingActions maps a finding triage action to the status it sets.
var FindingActions = map[string]string{
	"accept_risk": FindingAccepted,
	"mark_fixed":  FindingFixed,
	"reopen":      FindingOpen,
}

// FindingTriage is the triage state of a finding.
type FindingTriage struct {
	Status     string     `json:"status"`
	Reason     string     `json:"reason,omitempty"`
	Actor      string     `json:"actor,omitempty"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	FixedClock *time.Time `json:"fixed_event_clock,omitempty"`
	UpdatedAt  time.Time  `json:"updated_at"`
}

// StoredFinding is a finding with its triage state.
type StoredFinding struct {
	model.Finding
	Status string         `json:"status"` // open | accepted | fixed | verified
	Triage *FindingTriage `json:"triage,omitempty"`
}

// FindingGroup counts the findings of one rule or one endpoint.
type FindingGroup struct {
	Key      string         `json:"key"` // rule id, or endpoint key ("" = no endpoint)
	Title    string         `json:"title"`
	Severity string         `json:"severity"` // highest
	Count    int64          `json:"count"`
	Statuses map[string]int `json:"statuses"`
}

// ProbeFilter selects probes.
type ProbeFilter struct {
	Reason string
	Q      string // substring of host or path
	Limit  int
	Cursor string
}

// The storage interface is split by use: each part of the server and of a
// clustered deployment depends only on what it uses (the authenticator on
// Auth, the analysis on Checkpoints, the API on the readers, palisade
// token on Auth and AuditLog, erasure on Privacy). store/sqlstore
// implements all of them, on SQLite and on PostgreSQL; the conformance
// suite store/storetest checks every method on both.

// Auth holds API tokens and dashboard sessions (hashes only).
type Auth interface {
	CreateToken(ctx context.Context, t Token) error
	TokenByHash(ctx context.Context, hash []byte) (*Token, error)
	ListTokens(ctx context.Context) ([]Token, error)
	RevokeToken(ctx context.Context, id string, at time.Time) error
	TouchToken(ctx context.Context, id string, at time.Time) error
	CountTokens(ctx context.Context) (int64, error)
	CreateSession(ctx context.Context, s Session) error
	SessionByHash(ctx context.Context, hash []byte, now time.Time) (*Session, error)
	DeleteSession(ctx context.Context, hash []byte) error
}

// Checkpoints is what the analysis writes at a checkpoint. Every write is
// an idempotent upsert keyed by stable ids (endpoint, alert, finding and
// outbound ids), so at-least-once delivery gives exactly-once effects:
// writing the same alerts again changes nothing, a snapshot carrying a Seq
// at or below the last one written is ignored.
type Checkpoints interface {
	// SaveSnapshot upserts the inventory (endpoints, third-party APIs,
	// traffic series), replaces the findings and records the counters,
	// in one transaction.
	SaveSnapshot(ctx context.Context, s Snapshot, wallNow time.Time) error
	// UpsertAlerts writes alerts by id, never lowering a count or a
	// last_seen the store holds, keeping triage state; it reports the
	// alerts it did not know (forwarded to the sinks once).
	UpsertAlerts(ctx context.Context, alerts []model.Alert, wallNow time.Time) (UpsertResult, error)
	// Tombstoned tells which erasure tombstones exist (erased subjects
	// are never written again).
	Tombstoned(ctx context.Context, keys []string) (map[string]bool, error)
}

// Settings is a small key/value table: the stored configuration document,
// progress markers of the writers.
type Settings interface {
	Setting(ctx context.Context, key string) (string, error) // ErrNotFound when unset
	PutSetting(ctx context.Context, key, value string, at time.Time) error
}

// InventoryReader serves the API's inventory views (user-controlled
// filters: on the query pool, bounded, under the caller's deadline).
type InventoryReader interface {
	ListEndpoints(ctx context.Context, f EndpointFilter) (Page[EndpointRow], error)
	Endpoint(ctx context.Context, id string) (*EndpointDetail, error)
	EndpointsForHost(ctx context.Context, host string) ([]model.Endpoint, error)
	// Hosts returns up to limit distinct endpoint hosts, sorted.
	Hosts(ctx context.Context, limit int) ([]string, error)
	// Third-party APIs our services call (outbound[] of the snapshots).
	ListOutbound(ctx context.Context, f OutboundFilter) (Page[OutboundRow], error)
	OutboundAPI(ctx context.Context, id string) (*OutboundRow, error)
	Overview(ctx context.Context) (*Overview, error)
}

// AlertReader serves the API's alert and finding views.
type AlertReader interface {
	ListAlerts(ctx context.Context, f AlertFilter) (Page[StoredAlert], error)
	Alert(ctx context.Context, id string) (*StoredAlert, []TriageEvent, error)
	ListFindings(ctx context.Context, f FindingFilter) (Page[StoredFinding], error)
	Finding(ctx context.Context, id string) (*StoredFinding, []TriageEvent, error)
	FindingGroups(ctx context.Context, by string) ([]FindingGroup, error)
	ListProbes(ctx context.Context, f ProbeFilter) (Page[model.Probe], error)
	ListAPIChanges(ctx context.Context, limit int, cursor string) (Page[model.APIChange], error)
}

// Investigation serves the attacker view: the stored activity of clients
// and identities (subjects).
type Investigation interface {
	ListSubjects(ctx context.Context, f SubjectFilter) (Page[SubjectRow], error)
	Subject(ctx context.Context, kind, id string) (*SubjectDetail, error)
	EndpointSubjects(ctx context.Context, endpointKey string, limit int) ([]EndpointSubject, error)
}

// Triager changes the triage state of alerts.
type Triager interface {
	Triage(ctx context.Context, id, action, actor, reason string, at time.Time) (*StoredAlert, error)
	// TriageFinding changes the triage state of a finding (accept_risk
	// until expires, mark_fixed, reopen).
	TriageFinding(ctx context.Context, id, action, actor, reason string, expires time.Time, at time.Time) (*StoredFinding, error)
}

// Specs holds uploaded API descriptions.
type Specs interface {
	SaveSpec(ctx context.Context, s Spec) error
	ListSpecs(ctx context.Context) ([]Spec, error) // without contents
	SpecContents(ctx context.Context) ([]Spec, error)
	// DeleteSpecs deletes the specs with this name (or this id) and
	// returns the deleted ones (without contents).
	DeleteSpecs(ctx context.Context, nameOrID string) ([]Spec, error)
}

// GatewayConfigs holds uploaded gateway configurations.
type GatewayConfigs interface {
	SaveGatewayConfig(ctx context.Context, g GatewayConfig) error
	ListGatewayConfigs(ctx context.Context) ([]GatewayConfig, error) // without contents
	GatewayConfigContents(ctx context.Context) ([]GatewayConfig, error)
	DeleteGatewayConfig(ctx context.Context, id string) error // ErrNotFound when absent
}

// AuditLog records who did what.
type AuditLog interface {
	Audit(ctx context.Context, e AuditEntry) error
	ListAudit(ctx context.Context, limit int, cursor string) (Page[AuditEntry], error)
}

// Privacy applies retention and erasure; deleted content is scrubbed as
// far as the database allows (docs/store.md).
type Privacy interface {
	ApplyRetention(ctx context.Context, p RetentionPolicy, eventNow, wallNow time.Time, pseudonymize func(ip string) string) (RetentionResult, error)
	EraseClientIP(ctx context.Context, ip string, tombstone string, at time.Time) (EraseResult, error)
	EraseIdentity(ctx context.Context, id string, tombstone string, at time.Time) (EraseResult, error)
	Tombstoned(ctx context.Context, keys []string) (map[string]bool, error)
}

// Store is the whole storage interface of serve mode.
type Store interface {
	Auth
	Checkpoints
	Settings
	InventoryReader
	AlertReader
	Investigation
	Triager
	Specs
	GatewayConfigs
	AuditLog
	Privacy
	Close() error
}

// UpsertResult says what UpsertAlerts did.
type UpsertResult struct {
	Created    []model.Alert // new alerts (forward to sinks)
	Updated    []model.Alert // existing alerts with new activity, not suppressed
	Suppressed int64         // repeats of alerts triaged as false positives
}

// Cursor is the keyset position of a page boundary.
type Cursor struct {
	Sort string `json:"s"`
	Num  int64  `json:"n"`
	ID   string `json:"i"`
}

// EncodeCursor renders a cursor as an opaque string.
func EncodeCursor(c Cursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor parses an opaque cursor produced for sort order sort.
func DecodeCursor(s, sort string) (*Cursor, error) {
	if s == "" {
		return nil, nil
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("cursor: not valid base64url")
	}
	var c Cursor
	if err := json.Unmarshal(b, &c); err != nil {
		return nil, fmt.Errorf("cursor: malformed")
	}
	if c.Sort != sort {
		return nil, fmt.Errorf("cursor: made for sort %q, not %q", c.Sort, sort)
	}
	return &c, nil
}

// ClampLimit bounds a page size: default 50, at most 500.
func ClampLimit(n int) int {
	if n <= 0 {
		return 50
	}
	if n > 500 {
		return 500
	}
	return n
}

// ReadinessSetting is the setting under which a cluster's merger keeps the
// merged report's readiness (JSON: {"as_of": …, "readiness": [...]}), read
// by the API processes for GET /api/v1/detectors (a single node keeps it
// in memory).
const ReadinessSetting = "cluster.readiness"

// StoredReadiness is the value of ReadinessSetting.
type StoredReadiness struct {
	AsOf      *time.Time        `json:"as_of"`
	Readiness []model.Readiness `json:"readiness"`
}
