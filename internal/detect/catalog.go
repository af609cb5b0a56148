package detect

import "github.com/palisade-sec/palisade/internal/model"

// Spec describes one alert type of the catalogue (docs/contracts/alert-types.md).
type Spec struct {
	Type        string
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
	inj := func(t, name string, extra model.MITRE) Spec {
		return Spec{t, c, name + " attempt", model.SevHigh, []string{"API8:2023"}, []model.MITRE{mInitialExploit, extra},
			"Validate and encode input server-side with allow-lists and parameterized APIs; block the client if the attempts continue; check the endpoint's logs for successful exploitation."}
	}
	return []Spec{
		{"traffic.endpoint_spike", e, "Traffic spike on endpoint", model.SevMedium, []string{"API4:2023"}, []model.MITRE{mImpactDoS},
			"Check whether the surge is a release, a marketing event or abuse; enforce rate limits and quotas on the endpoint."},
		{"traffic.client_spike", c, "Client traffic spike on endpoint", model.SevMedium, []string{"API4:2023", "API6:2023"}, []model.MITRE{mImpactDoS},
			"Rate-limit the client per endpoint; verify whether the client automates a business flow."},
		{"payload.large_response", c, "Unusually large response to client", model.SevMedium, []string{"API3:2023"}, []model.MITRE{mExfil},
			"Check the response for excessive data exposure; paginate and cap response sizes; filter fields server-side."},
		{"payload.large_request", c, "Unusually large request body from client", model.SevLow, []string{"API4:2023"}, []model.MITRE{mImpactDoS},
			"Enforce maximum request body sizes and schema limits at the gateway."},
		{"latency.spike", c, "Latency spike for client calls", model.SevLow, []string{"API4:2023"}, []model.MITRE{mImpactDoS},
			"Check for expensive queries (ReDoS, unbounded filters, large page sizes) triggered by this client; add timeouts and limits."},
		{"recon.endpoint_spray", c, "Endpoint spray (API reconnaissance)", model.SevMedium, []string{"API9:2023"}, []model.MITRE{mReconActive, mDiscovery},
			"Block or challenge the client; remove undocumented and legacy endpoints from the public surface; make sure backups, configuration, VCS metadata and environment files are never served (the evidence lists the paths probed)."},
		{"bola.param_enumeration", c, "Object identifier enumeration", model.SevHigh, []string{"API1:2023"}, []model.MITRE{mCollection},
			"Enforce object-level authorization on every access by id; use unpredictable identifiers; rate-limit per principal."},
		{"bola.distributed_param_enumeration", e, "Distributed object identifier enumeration", model.SevHigh, []string{"API1:2023"}, []model.MITRE{mCollection},
			"Enforce object-level authorization; look for a botnet or rotating proxies sharing a credential or fingerprint."},
		{"param.anomalous_type", c, "Parameter value of unexpected type", model.SevLow, []string{"API8:2023"}, []model.MITRE{mInitialExploit},
			"Validate parameter types against a schema at the gateway; reject values that do not match."},
		{"param.unseen", c, "Unseen parameter sent to endpoint", model.SevLow, []string{"API3:2023"}, []model.MITRE{mInitialExploit},
			"Reject unknown parameters (mass assignment); declare the parameter in the spec if it is legitimate."},
		{"intel.tor_exit_node", c, "Request from Tor exit node", model.SevLow, []string{"API6:2023"}, []model.MITRE{mProxy},
			"Decide whether anonymous networks should reach this API; require stronger authentication or block Tor exits."},
		{"intel.suspicious_ip", c, "Request from address on threat-intel feed", model.SevMedium, []string{"API6:2023"}, []model.MITRE{mInitialExploit},
			"Review the client's activity; block the address at the edge if it is not a known partner."},
		{"intel.suspicious_user_agent", c, "Attack tool or exploit in User-Agent", model.SevMedium, []string{"API8:2023"}, []model.MITRE{mReconActive},
			"Block the client; check the targeted endpoints for the vulnerability the tool probes."},
		{"traffic.identity_spike", i, "Principal traffic spike on endpoint", model.SevMedium, []string{"API6:2023"}, []model.MITRE{mValidAccounts},
			"Throttle the business flow per principal; check the account for takeover or automation."},
		{"bfla.privileged_access", i, "Principal used a privileged function", model.SevHigh, []string{"API5:2023"}, []model.MITRE{mPrivEsc},
			"Enforce function-level authorization by role on the server; deny by default."},
		{"auth.brute_force", c, "Authentication brute force", model.SevHigh, []string{"API2:2023"}, []model.MITRE{mBruteForce},
			"Lock out or slow down repeated failures; require MFA; block the client."},
		{"auth.credential_stuffing", e, "Credential stuffing on endpoint", model.SevHigh, []string{"API2:2023"}, []model.MITRE{mStuffing},
			"Add bot protection and breached-password checks to the login flow; rate-limit by username and fingerprint."},
		{"auth.token_reuse", i, "Token used from many clients", model.SevHigh, []string{"API2:2023"}, []model.MITRE{mStolenToken},
			"Revoke the token; bind tokens to clients (DPoP, mTLS); shorten lifetimes."},
		{"auth.weak_token_accepted", c, "API accepted a weak or invalid token", model.SevCritical, []string{"API2:2023"}, []model.MITRE{mForgeCreds},
			"Verify token signatures with a fixed algorithm allow-list; reject alg none and expired tokens."},
		inj("injection.sqli", "SQL injection", mCmdInterp),
		inj("injection.xss", "Cross-site scripting", mCmdInterp),
		inj("injection.cmd", "OS command injection", mCmdInterp),
		inj("injection.path_traversal", "Path traversal", mFileDiscovery),
		inj("injection.nosql", "NoSQL injection", mCmdInterp),
		inj("injection.ssti", "Server-side template injection", mCmdInterp),
		inj("injection.xxe", "XML external entity injection", mFileDiscovery),
		inj("injection.ldap", "LDAP injection", mCmdInterp),
		inj("injection.crlf", "CRLF / header injection", mCmdInterp),
		{"ssrf.internal_target", c, "Server-side request forgery attempt", model.SevHigh, []string{"API7:2023"}, []model.MITRE{mCloudMeta, mInitialExploit},
			"Resolve and validate outbound URLs against an allow-list; block private, loopback, link-local and metadata addresses; disable redirects."},
		{"data.sensitive_exposure", e, "Endpoint started returning sensitive data", model.SevHigh, []string{"API3:2023"}, []model.MITRE{mExfil},
			"Check the release that changed the response; filter sensitive fields server-side; declare the data class in the spec if intended."},
		{"consumption.unsafe_upstream", e, "Unsafe consumption of a third-party API", model.SevMedium, []string{"API10:2023"}, []model.MITRE{mSupplyChain},
			"Use TLS for upstream calls, validate upstream responses, do not follow redirects blindly and review what data leaves to new destinations."},
	}
}

var catalog = func() map[string]Spec {
	m := map[string]Spec{}
	for _, s := range specs() {
		m[s.Type] = s
	}
	return m
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

// PerEndpoint reports whether alerts of type t fold per endpoint (true for
// most types) or per subject only.
func PerEndpoint(t string) bool { return !subjectWide[t] }

// Catalog returns the alert types in catalogue order.
func Catalog() []Spec { return specs() }

// Lookup returns the spec of an alert type.
func Lookup(t string) (Spec, bool) { s, ok := catalog[t]; return s, ok }
