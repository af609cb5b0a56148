// Package alert is the alert catalogue (docs/contracts/alert-types.md)
// and the identity of an alert: its type as a typed constant, the fold key
// that says which hits are repeats of one alert, and the stable alert id
// derived from it. It is a leaf package (it imports only model): the
// detection engine emits alerts of these types, the engine re-keys them at
// report time and the store suppresses repeats with the same keys.
//
// Adding an alert type: add the constant below and its catalogue entry in
// specs (same order), list it in docs/contracts/alert-types.md, and emit it
// with Hit{Type: alert.TheConstant} (docs/ARCHITECTURE.md, "Add an alert
// type"); TestCatalogue checks the three agree.
package alert

import (
	"crypto/sha256"
	"encoding/hex"

	"github.com/palisade-sec/palisade/internal/model"
)

// Type is an alert type of the catalogue. Its values are the constants
// below, so that a detector cannot emit a type that is not catalogued (a
// string literal does not convert to a Type); the wire form, in reports,
// the API, the store and sinks, is its catalogue name (String).
type Type uint8

// The catalogue's alert types, in catalogue order.
const (
	invalid                         Type = iota
	TrafficEndpointSpike                 // traffic.endpoint_spike
	TrafficClientSpike                   // traffic.client_spike
	PayloadLargeResponse                 // payload.large_response
	PayloadLargeRequest                  // payload.large_request
	LatencySpike                         // latency.spike
	ReconEndpointSpray                   // recon.endpoint_spray
	BOLAParamEnumeration                 // bola.param_enumeration
	BOLADistributedParamEnumeration      // bola.distributed_param_enumeration
	ParamAnomalousType                   // param.anomalous_type
	ParamUnseen                          // param.unseen
	IntelTorExitNode                     // intel.tor_exit_node
	IntelSuspiciousIP                    // intel.suspicious_ip
	IntelSuspiciousUserAgent             // intel.suspicious_user_agent
	TrafficIdentitySpike                 // traffic.identity_spike
	BFLAPrivilegedAccess                 // bfla.privileged_access
	AuthBruteForce                       // auth.brute_force
	AuthCredentialStuffing               // auth.credential_stuffing
	AuthTokenReuse                       // auth.token_reuse
	AuthWeakTokenAccepted                // auth.weak_token_accepted
	InjectionSQLi                        // injection.sqli
	InjectionXSS                         // injection.xss
	InjectionCmd                         // injection.cmd
	InjectionPathTraversal               // injection.path_traversal
	InjectionNoSQL                       // injection.nosql
	InjectionSSTI                        // injection.ssti
	InjectionXXE                         // injection.xxe
	InjectionLDAP                        // injection.ldap
	InjectionCRLF                        // injection.crlf
	SSRFInternalTarget                   // ssrf.internal_target
	DataSensitiveExposure                // data.sensitive_exposure
	ConsumptionUnsafeUpstream            // consumption.unsafe_upstream

	numTypes // one past the last type
)

// Spec describes one alert type of the catalogue.
type Spec struct {
	Type        Type
	Name        string // the wire form: "injection.sqli"
	Subject     string // client | identity | endpoint
	Title       string
	Severity    string // default severity
	OWASP       []string
	MITRE       []model.MITRE
	Remediation string
}

var (
	mReconActive    = model.MITRE{Tactic: "Reconnaissance", TechniqueID: "T1595", TechniqueName: "Active Scanning"}
	mDiscovery      = model.MITRE{Tactic: "Discovery", TechniqueID: "T1046", TechniqueName: "Network Service Discovery"}
	mCollection     = model.MITRE{Tactic: "Collection", TechniqueID: "T1530", TechniqueName: "Data from Cloud Storage"}
	mExfil          = model.MITRE{Tactic: "Exfiltration", TechniqueID: "T1567", TechniqueName: "Exfiltration Over Web Service"}
	mImpactDoS      = model.MITRE{Tactic: "Impact", TechniqueID: "T1499", TechniqueName: "Endpoint Denial of Service"}
	mInitialExploit = model.MITRE{Tactic: "Initial Access", TechniqueID: "T1190", TechniqueName: "Exploit Public-Facing Application"}
	mProxy          = model.MITRE{Tactic: "Command and Control", TechniqueID: "T1090.003", TechniqueName: "Proxy: Multi-hop Proxy"}
	mBruteForce     = model.MITRE{Tactic: "Credential Access", TechniqueID: "T1110", TechniqueName: "Brute Force"}
	mStuffing       = model.MITRE{Tactic: "Credential Access", TechniqueID: "T1110.004", TechniqueName: "Brute Force: Credential Stuffing"}
	mValidAccounts  = model.MITRE{Tactic: "Defense Evasion", TechniqueID: "T1078", TechniqueName: "Valid Accounts"}
	mStolenToken    = model.MITRE{Tactic: "Defense Evasion", TechniqueID: "T1550.001", TechniqueName: "Use Alternate Authentication Material: Application Access Token"}
	mForgeCreds     = model.MITRE{Tactic: "Credential Access", TechniqueID: "T1606", TechniqueName: "Forge Web Credentials"}
	mPrivEsc        = model.MITRE{Tactic: "Privilege Escalation", TechniqueID: "T1068", TechniqueName: "Exploitation for Privilege Escalation"}
	mCmdInterp      = model.MITRE{Tactic: "Execution", TechniqueID: "T1059", TechniqueName: "Command and Scripting Interpreter"}
	mFileDiscovery  = model.MITRE{Tactic: "Discovery", TechniqueID: "T1083", TechniqueName: "File and Directory Discovery"}
	mCloudMeta      = model.MITRE{Tactic: "Credential Access", TechniqueID: "T1552.005", TechniqueName: "Unsecured Credentials: Cloud Instance Metadata API"}
	mSupplyChain    = model.MITRE{Tactic: "Initial Access", TechniqueID: "T1195", TechniqueName: "Supply Chain Compromise"}
)

func specs() []Spec {
	const (
		c = "client"
		i = "identity"
		e = "endpoint"
	)
	inj := func(t Type, n, name string, extra model.MITRE) Spec {
		return Spec{t, n, c, name + " attempt", model.SevHigh, []string{"API8:2023"}, []model.MITRE{mInitialExploit, extra},
			"Validate and encode input server-side with allow-lists and parameterized APIs; block the client if the attempts continue; check the endpoint's logs for successful exploitation."}
	}
	return []Spec{
		{TrafficEndpointSpike, "traffic.endpoint_spike", e, "Traffic spike on endpoint", model.SevMedium, []string{"API4:2023"}, []model.MITRE{mImpactDoS},
			"Check whether the surge is a release, a marketing event or abuse; enforce rate limits and quotas on the endpoint."},
		{TrafficClientSpike, "traffic.client_spike", c, "Client traffic spike on endpoint", model.SevMedium, []string{"API4:2023", "API6:2023"}, []model.MITRE{mImpactDoS},
			"Rate-limit the client per endpoint; verify whether the client automates a business flow."},
		{PayloadLargeResponse, "payload.large_response", c, "Unusually large response to client", model.SevMedium, []string{"API3:2023"}, []model.MITRE{mExfil},
			"Check the response for excessive data exposure; paginate and cap response sizes; filter fields server-side."},
		{PayloadLargeRequest, "payload.large_request", c, "Unusually large request body from client", model.SevLow, []string{"API4:2023"}, []model.MITRE{mImpactDoS},
			"Enforce maximum request body sizes and schema limits at the gateway."},
		{LatencySpike, "latency.spike", c, "Latency spike for client calls", model.SevLow, []string{"API4:2023"}, []model.MITRE{mImpactDoS},
			"Check for expensive queries (ReDoS, unbounded filters, large page sizes) triggered by this client; add timeouts and limits."},
		{ReconEndpointSpray, "recon.endpoint_spray", c, "Endpoint spray (API reconnaissance)", model.SevMedium, []string{"API9:2023"}, []model.MITRE{mReconActive, mDiscovery},
			"Block or challenge the client; remove undocumented and legacy endpoints from the public surface; make sure backups, configuration, VCS metadata and environment files are never served (the evidence lists the paths probed)."},
		{BOLAParamEnumeration, "bola.param_enumeration", c, "Object identifier enumeration", model.SevHigh, []string{"API1:2023"}, []model.MITRE{mCollection},
			"Enforce object-level authorization on every access by id; use unpredictable identifiers; rate-limit per principal."},
		{BOLADistributedParamEnumeration, "bola.distributed_param_enumeration", e, "Distributed object identifier enumeration", model.SevHigh, []string{"API1:2023"}, []model.MITRE{mCollection},
			"Enforce object-level authorization; look for a botnet or rotating proxies sharing a credential or fingerprint."},
		{ParamAnomalousType, "param.anomalous_type", c, "Parameter value of unexpected type", model.SevLow, []string{"API8:2023"}, []model.MITRE{mInitialExploit},
			"Validate parameter types against a schema at the gateway; reject values that do not match."},
		{ParamUnseen, "param.unseen", c, "Unseen parameter sent to endpoint", model.SevLow, []string{"API3:2023"}, []model.MITRE{mInitialExploit},
			"Reject unknown parameters (mass assignment); declare the parameter in the spec if it is legitimate."},
		{IntelTorExitNode, "intel.tor_exit_node", c, "Request from Tor exit node", model.SevLow, []string{"API6:2023"}, []model.MITRE{mProxy},
			"Decide whether anonymous networks should reach this API; require stronger authentication or block Tor exits."},
		{IntelSuspiciousIP, "intel.suspicious_ip", c, "Request from address on threat-intel feed", model.SevMedium, []string{"API6:2023"}, []model.MITRE{mInitialExploit},
			"Review the client's activity; block the address at the edge if it is not a known partner."},
		{IntelSuspiciousUserAgent, "intel.suspicious_user_agent", c, "Attack tool or exploit in User-Agent", model.SevMedium, []string{"API8:2023"}, []model.MITRE{mReconActive},
			"Block the client; check the targeted endpoints for the vulnerability the tool probes."},
		{TrafficIdentitySpike, "traffic.identity_spike", i, "Principal traffic spike on endpoint", model.SevMedium, []string{"API6:2023"}, []model.MITRE{mValidAccounts},
			"Throttle the business flow per principal; check the account for takeover or automation."},
		{BFLAPrivilegedAccess, "bfla.privileged_access", i, "Principal used a privileged function", model.SevHigh, []string{"API5:2023"}, []model.MITRE{mPrivEsc},
			"Enforce function-level authorization by role on the server; deny by default."},
		{AuthBruteForce, "auth.brute_force", c, "Authentication brute force", model.SevHigh, []string{"API2:2023"}, []model.MITRE{mBruteForce},
			"Lock out or slow down repeated failures; require MFA; block the client."},
		{AuthCredentialStuffing, "auth.credential_stuffing", e, "Credential stuffing on endpoint", model.SevHigh, []string{"API2:2023"}, []model.MITRE{mStuffing},
			"Add bot protection and breached-password checks to the login flow; rate-limit by username and fingerprint."},
		{AuthTokenReuse, "auth.token_reuse", i, "Token used from many clients", model.SevHigh, []string{"API2:2023"}, []model.MITRE{mStolenToken},
			"Revoke the token; bind tokens to clients (DPoP, mTLS); shorten lifetimes."},
		{AuthWeakTokenAccepted, "auth.weak_token_accepted", c, "API accepted a weak or invalid token", model.SevCritical, []string{"API2:2023"}, []model.MITRE{mForgeCreds},
			"Verify token signatures with a fixed algorithm allow-list; reject alg none and expired tokens."},
		inj(InjectionSQLi, "injection.sqli", "SQL injection", mCmdInterp),
		inj(InjectionXSS, "injection.xss", "Cross-site scripting", mCmdInterp),
		inj(InjectionCmd, "injection.cmd", "OS command injection", mCmdInterp),
		inj(InjectionPathTraversal, "injection.path_traversal", "Path traversal", mFileDiscovery),
		inj(InjectionNoSQL, "injection.nosql", "NoSQL injection", mCmdInterp),
		inj(InjectionSSTI, "injection.ssti", "Server-side template injection", mCmdInterp),
		inj(InjectionXXE, "injection.xxe", "XML external entity injection", mFileDiscovery),
		inj(InjectionLDAP, "injection.ldap", "LDAP injection", mCmdInterp),
		inj(InjectionCRLF, "injection.crlf", "CRLF / header injection", mCmdInterp),
		{SSRFInternalTarget, "ssrf.internal_target", c, "Server-side request forgery attempt", model.SevHigh, []string{"API7:2023"}, []model.MITRE{mCloudMeta, mInitialExploit},
			"Resolve and validate outbound URLs against an allow-list; block private, loopback, link-local and metadata addresses; disable redirects."},
		{DataSensitiveExposure, "data.sensitive_exposure", e, "Endpoint started returning sensitive data", model.SevHigh, []string{"API3:2023"}, []model.MITRE{mExfil},
			"Check the release that changed the response; filter sensitive fields server-side; declare the data class in the spec if intended."},
		{ConsumptionUnsafeUpstream, "consumption.unsafe_upstream", e, "Unsafe consumption of a third-party API", model.SevMedium, []string{"API10:2023"}, []model.MITRE{mSupplyChain},
			"Use TLS for upstream calls, validate upstream responses, do not follow redirects blindly and review what data leaves to new destinations."},
	}
}

// catalogue is indexed by Type; names maps the wire form back.
var catalogue, names = func() ([numTypes]Spec, map[string]Type) {
	var c [numTypes]Spec
	m := make(map[string]Type, numTypes)
	for _, s := range specs() {
		c[s.Type] = s
		m[s.Name] = s.Type
	}
	return c, m
}()

// subjectWide lists the types whose alerts are about the subject as a
// whole, not about one endpoint: repeats on other endpoints fold into the
// same alert (the endpoint field keeps the first one seen).
var subjectWide = map[string]bool{
	"intel.tor_exit_node":         true,
	"intel.suspicious_ip":         true,
	"intel.suspicious_user_agent": true,
	"recon.endpoint_spray":        true,
	"auth.token_reuse":            true,
	"auth.weak_token_accepted":    true,
}

// String returns the type's catalogue name (the wire form), or "" for a
// value that is not a catalogued type.
func (t Type) String() string {
	if t == invalid || t >= numTypes {
		return ""
	}
	return catalogue[t].Name
}

// Valid reports whether t is a catalogued type.
func (t Type) Valid() bool { return t > invalid && t < numTypes && catalogue[t].Type == t }

// Lookup returns the catalogue entry of t; ok is false when t is not a
// catalogued type (the zero Type).
func Lookup(t Type) (Spec, bool) {
	if !t.Valid() {
		return Spec{}, false
	}
	return catalogue[t], true
}

// Parse returns the type of a catalogue name (the wire form).
func Parse(name string) (Type, bool) {
	t, ok := names[name]
	return t, ok
}

// Catalog returns the catalogue in order.
func Catalog() []Spec { return specs() }

// PerEndpoint reports whether alerts of the named type fold per endpoint
// (true for most types, and for names not in the catalogue) or per subject
// only.
func PerEndpoint(name string) bool { return !subjectWide[name] }

// FoldKey is the identity of an alert: type, subject and (for per-endpoint
// types) endpoint, as "type|c:client", "type|i:identity" or "type|" followed
// by "|METHOD host/path". typ is the catalogue name, subject the type's
// subject (client, identity or endpoint); client and identity are the
// alert's client address and principal id.
func FoldKey(typ, subject, client, identity string, ep *model.EndpointRef) string {
	k := typ + "|"
	switch subject {
	case "client":
		k += "c:" + client
	case "identity":
		k += "i:" + identity
	}
	if ep != nil && PerEndpoint(typ) {
		k += "|" + ep.Key()
	}
	return k
}

// Key is the fold key of an existing alert (the same as the FoldKey of the
// hit that created it, when its endpoint is the one the hit named).
func Key(a *model.Alert) string {
	client, id := "", ""
	if a.Client != nil {
		client = a.Client.IP
	}
	if a.Identity != nil {
		id = a.Identity.ID
	}
	return FoldKey(a.Type, a.Subject, client, id, a.Endpoint)
}

// ID derives the stable alert id from a fold key.
func ID(key string) string {
	sum := sha256.Sum256([]byte(key))
	return "al_" + hex.EncodeToString(sum[:8])
}
