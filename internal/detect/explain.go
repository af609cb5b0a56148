package detect

// Explanations of alert evidence, in words, for the dashboard and the API
// (GET /api/v1/catalog): what the measured values of each alert type mean
// and what each details key says. Written from the detectors' code and
// docs/detection-anomalies.md and docs/detection-signatures.md; a test
// checks that every details key a detector can write is explained.

// Measures explains an alert type's observed, baseline, threshold and
// window values (empty when the type does not use one).
type Measures struct {
	Observed  string `json:"observed,omitempty"`
	Baseline  string `json:"baseline,omitempty"`
	Threshold string `json:"threshold,omitempty"`
	Window    string `json:"window,omitempty"`
}

const (
	winTumbling = "length of the tumbling event-time window the count was taken in"
	sigScore    = "confidence of the signature match (0–1)"
)

var measures = map[string]Measures{
	"traffic.endpoint_spike": {"requests to the endpoint in the window (of the status class in details)", "mean requests per window learned for this endpoint",
		"requests above which the window is a spike (baseline + k standard deviations, with an absolute floor)", winTumbling},
	"traffic.client_spike": {"requests from this client to the endpoint in the window", "99th percentile of the other clients' windows on the endpoint",
		"requests above which the client stands out (a multiple of the baseline, with an absolute floor)", winTumbling},
	"traffic.identity_spike": {"requests by this principal to the endpoint in the window", "the larger of the peers' 99th percentile and this principal's own mean",
		"requests above which the principal stands out", winTumbling},
	"payload.large_response": {"size of the answer in bytes", "typical (median-based) answer size of the endpoint", "size above which an answer is unusual", ""},
	"payload.large_request":  {"size of the request body in bytes", "typical (median-based) request size of the endpoint", "size above which a request is unusual", ""},
	"latency.spike":          {"slowest call of the client in the window, in milliseconds", "latency usual for the endpoint (ms)", "latency above which a call is slow (ms)", winTumbling},
	"recon.endpoint_spray": {"estimated distinct endpoints (operations) the client called in the window", "the larger of the peers' 99th percentile and the client's own maximum",
		"distinct endpoints above which the client is spraying", winTumbling},
	"bola.param_enumeration": {"estimated distinct object identifiers the subject requested in the window", "the larger of the peers' 99th percentile and the subject's own maximum",
		"distinct identifiers above which it is enumeration", winTumbling},
	"bola.distributed_param_enumeration": {"distinct object identifiers requested by the whole population in the window", "mean of the population's windows",
		"distinct identifiers above which the population is enumerating together", winTumbling},
	"param.anomalous_type":        {"type of the value received", "type the parameter almost always has", "how rare the type must be to alert", ""},
	"param.unseen":                {"name of the parameter never seen before", "how many parameters were learned on the endpoint", "", ""},
	"intel.tor_exit_node":         {"", "", "", ""},
	"intel.suspicious_ip":         {"highest list count of the address in the feeds (how many lists carry it)", "", "", ""},
	"intel.suspicious_user_agent": {sigScore, "", "", ""},
	"bfla.privileged_access":      {"the peer group of the principal, which never used this function", "the peer groups that do use it, with their uses", "", ""},
	"auth.brute_force":            {"failed logins from the client in the window", "99th percentile of the other clients' failures", "failures above which it is brute force", winTumbling},
	"auth.credential_stuffing": {"failed logins on the endpoint in the window (many usernames, many clients)", "mean failures per window learned for the endpoint",
		"failures above which it is stuffing", winTumbling},
	"auth.token_reuse": {"distinct networks the token was used from in the window", "the larger of the token's own usual count and the peers' 99th percentile",
		"networks above which the token is shared or stolen", winTumbling},
	"auth.weak_token_accepted":    {"", "", "", ""},
	"ssrf.internal_target":        {sigScore, "", "", ""},
	"data.sensitive_exposure":     {"data class that appeared in the answers", "data classes the endpoint returned while it was learned", "how long and over how many answers it was learned", ""},
	"consumption.unsafe_upstream": {"", "", "", ""},
}

func init() {
	for _, t := range []string{"injection.sqli", "injection.xss", "injection.cmd", "injection.path_traversal", "injection.nosql",
		"injection.ssti", "injection.xxe", "injection.ldap", "injection.crlf"} {
		measures[t] = Measures{Observed: sigScore}
	}
}

// detailWords explains details keys (the same key means the same thing in
// every alert type that writes it).
var detailWords = map[string]string{
	"anonymous_share":           "share of the requests made without credentials",
	"baseline_sd":               "standard deviation of the learned per-window counts",
	"baseline_windows":          "number of windows the baseline was learned from",
	"calls_in_window":           "calls the client made to the endpoint in the window",
	"client_ips":                "estimated distinct client addresses behind the subject's requests",
	"data_type":                 "data class found in the answer",
	"decoding":                  "decoding layers applied before the match (URL, base64, …)",
	"detail":                    "sub-kind of the data class (card network, secret kind), never the value",
	"distinct_clients":          "distinct client addresses that failed to log in",
	"distinct_credentials":      "distinct credentials (usernames) the client tried",
	"distinct_usernames":        "distinct usernames that failed on the endpoint",
	"endpoint_cross_use_share":  "share of the endpoint's repeat uses of an object by a principal other than its first user (low: objects are owned)",
	"authorization_attribute":   "the parameter names an authorization attribute (role, is_admin, permissions …) and came in an end user's write while the endpoint's parameters were learned",
	"writers_before":            "distinct subjects that had written to the endpoint before, none with this parameter",
	"endpoint_objects_owned":    "whether the endpoint's objects are each used by one principal (lowers the bar for enumeration)",
	"end_user_past_own_objects": "an end user opening objects other principals used first, where its role group's objects are each its member's own: the slow floor is abs_slow_owned from the first day, against the group's members",
	"error_share":               "share of the subject's requests answered with an error",
	"group_cross_use_share":     "share of the role group's repeat uses of an object by a member other than its first user in the group (low: each member's objects are its own)",
	"group_windows":             "closed windows of the role group's history on the endpoint (0: the group is new to it)",
	"members":                   "members of the role group active on the endpoint in the window",
	"openings_per_member":       "distinct objects opened per active member of the role group in the window, on average",
	"feed":                      "the feed that lists the address",
	"feeds":                     "the threat-intel feeds that list the address or its network",
	"field":                     "field of the answer the value was found in",
	"first_time":                "when the data class first appeared",
	"foreign_object_share":      "share of the identifiers requested that another principal used first",
	"fragment":                  "the matched part of the request, redacted",
	"ids_sample":                "the first distinct identifiers the subject requested after its window reached half the absolute floor (up to 8)",
	"id_range":                  "lowest–highest numeric identifier of that sample's window (sequential walks show a dense range)",
	"baseline_learning":         "true while the baseline is still learning (the cold-start rules judged the window, see the detector's readiness)",
	"busiest_peer_now":          "the largest count of any other subject in the same window",
	"distinct_operations":       "estimated distinct operations (method and path) the client called in the window",
	"not_found_paths":           "distinct paths the client called that were answered 404",
	"peer_windows":              "windows of the other subjects the peer baseline was learned from",
	"peers_learning":            "true while the peers' baseline is still learning (cold start)",
	"population_ready":          "whether the population baseline had enough windows to be used",
	"rule":                      "which rule fired: population (compared with the other clients), not_found_paths or sensitive_files (population-free rules)",
	"sensitive_classes":         "classes of the sensitive files or admin paths probed (from the CRS restricted-files vocabulary)",
	"sensitive_paths":           "the sensitive file or admin paths probed (first few)",
	"sensitive_probes":          "how many requests probed sensitive files or admin paths",
	"hour_of_day_baseline":      "the largest count seen at this hour of the day (UTC) on earlier days",
	"hour_of_day_max":           "the bar from the hour-of-day baseline (a multiple of it)",
	"in":                        "where the parameter is (path, query, body, header)",
	"learned_responses":         "answers learned before the data class appeared",
	"learning_since":            "start of the learning of the endpoint's answers",
	"list_count":                "how many lists carry the address (ipsum-style score)",
	"location":                  "where the match was found (query, body, header, …)",
	"login_failures":            "failed logins from the client in the window",
	"match":                     "what the signature recognised",
	"max_failures_one_client":   "most failures from one client address (low: spread over many addresses)",
	"max_per_subject":           "most identifiers requested by one subject (low: spread over many subjects)",
	"judged_at_window_end":      "the principal was new to the endpoint: judged when its window closed, against its role group over the whole window",
	"judged_at":                 "when the alert was decided: a window the endpoint's young peers could not judge was held until they could (its requests are earlier)",
	"deferred_windows":          "the client's windows held for the peers and judged together",
	"deferred_requests":         "requests in those windows",
	"graphql_attempts":          "authentication attempts (root fields that check a secret: login, OTP, password …) in one GraphQL request, aliases and batched operations included",
	"graphql_fields":            "the GraphQL fields those attempts called",
	"graphql_operations":        "GraphQL documents in the request (more than one: a batch)",
	"method":                    "HTTP method of the privileged function",
	"network_switches":          "times the token moved to another network in the window",
	"new_subject_share":         "share of the requests by principals new to the endpoint",
	"not_found_share":           "share of the client's requests answered 404",
	"observations":              "observations the baseline was learned from",
	"own_max":                   "the subject's own largest earlier window",
	"own_mean":                  "the subject's own mean per window",
	"own_windows":               "windows the subject's own mean was learned from",
	"p50":                       "median size on the endpoint (bytes)",
	"p50_ms":                    "median latency on the endpoint (ms)",
	"parameter":                 "name of the parameter carrying the identifiers or the value",
	"peer_p99":                  "99th percentile of the other subjects' windows",
	"peers_now_mean":            "mean of the other subjects in the same window (a surge of everyone raises the bar)",
	"population_windows":        "windows of the population distribution learned",
	"principals_from_ip":        "principals seen from the client address",
	"principals_ok_from_ip":     "principals that logged in successfully from the client address",
	"principals_using":          "principals that used the function",
	"requests":                  "requests of the subject in the window",
	"requests_by_others":        "requests with the parameter by other subjects",
	"sample":                    "the value found, redacted",
	"slow_calls":                "slow calls of the client in the window",
	"status":                    "HTTP status of the answer",
	"status_class":              "status class counted (2xx, 4xx, 5xx, all)",
	"subjects":                  "subjects that requested identifiers (or sent the parameter)",
	"successful_uses":           "successful calls of the function by the principal",
	"target":                    "the internal or metadata address the request points to",
	"value_length":              "length of the value received",
	"variant":                   "fast (minutes) or slow (hours) enumeration window",
	"alg":                       "signing algorithm in the token header",
	"exp":                       "expiry of the token",
	"iss":                       "issuer of the token",
	"schemes":                   "authentication schemes the request carried",
	"past_exp_seconds":          "seconds the token was used past its expiry",
	"limit_seconds":             "seconds past expiry tolerated before alerting (the token's own lifetime, clamped)",
	"lifetime_seconds":          "the token's lifetime (exp − iat)",
	"issue":                     "what is unsafe: plaintext, sensitive data to a new destination, redirect to an internal address, injection in the answer",
	"destination":               "the third-party host called",
	"data":                      "data class sent to the destination",
	"class":                     "class of the injection found in the third party's answer",
}

// Explain returns the explanation of an alert type's evidence: its
// measures and the words for every details key (shared by all types).
func Explain(typ string) Measures { return measures[typ] }

// DetailWords returns the explanation of a details key ("" when unknown).
func DetailWords(key string) string { return detailWords[key] }

// AllDetailWords returns every explained details key.
func AllDetailWords() map[string]string {
	out := make(map[string]string, len(detailWords))
	for k, v := range detailWords {
		out[k] = v
	}
	return out
}
