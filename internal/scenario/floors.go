package scenario

import (
	"strings"

	"github.com/palisade-sec/palisade/internal/sim"
)

// DefaultFloors hold on every four-system traffic variant at demo size
// (sim.Variants; TestScenarioSuite). Measured with the readiness and
// cold-start rules (issue 14; hospital's attacks wrap from hour 6): base
// 39/39, roaming 39/39, lingering 40/40, hospital 38/39 (the distributed
// patient scrape at 01:30 missed), false alerts 0 and misattributed 0
// everywhere. The 37 older scenarios:
// DefaultFloors are the scores the detectors reached on the default
// simulation (seed 1, 48 h, scale 1 — what `palisade scenarios` runs) when
// the suite was written, so that a regression fails: 37 of 37 scenarios
// detected, 0 false alerts, 10 mistyped. (Earlier the same day, with older
// detectors: 34 of 37 and 190 false alerts, 182 of them
// bfla.privileged_access on customers' ordinary functions.) The budgets
// leave a little room for alerts on traps.
func DefaultFloors() Floors {
	return Floors{
		MinDetected: map[string]int{
			"auth.brute_force": 1, "auth.credential_stuffing": 1, "auth.token_reuse": 1, "auth.weak_token_accepted": 2,
			"bfla.privileged_access": 1, "bola.distributed_param_enumeration": 1, "bola.param_enumeration": 3,
			"consumption.unsafe_upstream": 3, "data.sensitive_exposure": 2, "injection.cmd": 1, "injection.crlf": 1,
			"injection.ldap": 1, "injection.nosql": 1, "injection.path_traversal": 1, "injection.sqli": 1, "injection.ssti": 1,
			"injection.xss": 1, "injection.xxe": 1, "intel.suspicious_ip": 1, "intel.suspicious_user_agent": 2,
			"intel.tor_exit_node": 1, "latency.spike": 1, "param.anomalous_type": 1, "param.unseen": 1,
			"payload.large_request": 1, "payload.large_response": 1, "recon.endpoint_spray": 1, "ssrf.internal_target": 1,
			"traffic.client_spike": 1, "traffic.endpoint_spike": 1, "traffic.identity_spike": 1,
		},
		MaxFalse:     10,
		MaxTrapFalse: 5,
	}
}

// SmallFloors are the floors for the quick test run (scale 0.3, ≈50k
// records): with a third of the population, low-volume endpoints have not
// passed the detectors' observation gates when some attacks come (both BOLA
// enumerations, the oversized reviews), so those three scenarios are not
// required (the demo-size run detects them).
//
// False alerts: measured 1 (bfla.privileged_access: a web session opening
// an order, a function few sessions had used among the ≥ 50 principals
// seen since — the small-set rule with its minimum evidence met), none on
// traps. The budget allows 2 more for small changes elsewhere, not a
// family firing on ordinary traffic (bfla used to fire on every new
// customer listing orders, 208 alerts, before the small-set rule needed a
// population and stopped after small_abs outsiders).
func SmallFloors() Floors {
	f := DefaultFloors()
	delete(f.MinDetected, "bola.param_enumeration")
	delete(f.MinDetected, "bola.distributed_param_enumeration")
	delete(f.MinDetected, "payload.large_request")
	f.MaxFalse = 3
	return f
}

// smallExpected are the alerts a reviewer expects on each small
// deployment (sim.Variants with Small set): per alert type, how many of
// the variant's scenarios must be detected. Every scenario of every small
// variant is required: measured 8 of 8 in each at seeds 1–7. Raised for
// one-hour (bfla.privileged_access, traffic.client_spike) and scanner-log
// (traffic.client_spike) when the scraper — a newcomer while the peers
// learn — became judged once the peers' windows come from clients that
// keep coming back (traffic cold_return), and the customer on the admin
// API — an admin function used fewer than min_uses times by the
// administrator — became judged on the admin area's uses (bfla); before,
// one-hour missed the scraper at seeds 1–7 and the admin API use at seeds
// 1 and 4, scanner-log the scraper at seeds 1, 3, 4, 6, 7.
var smallExpected = map[string]map[string]int{
	"few-clients": {"recon.endpoint_spray": 1, "auth.brute_force": 1, "bola.param_enumeration": 1, "auth.token_reuse": 1,
		"injection.sqli": 1, "payload.large_response": 1, "bfla.privileged_access": 1, "traffic.client_spike": 1},
	"one-hour": {"recon.endpoint_spray": 1, "auth.brute_force": 1, "bola.param_enumeration": 1, "auth.token_reuse": 1,
		"injection.sqli": 1, "payload.large_response": 1, "bfla.privileged_access": 1, "traffic.client_spike": 1},
	"dominant-client": {"recon.endpoint_spray": 1, "auth.brute_force": 1, "bola.param_enumeration": 1, "auth.token_reuse": 1,
		"injection.sqli": 1, "payload.large_response": 1, "bfla.privileged_access": 1, "traffic.client_spike": 1},
	"scanner-log": {"recon.endpoint_spray": 2, "auth.brute_force": 1, "bola.param_enumeration": 1, "auth.token_reuse": 1,
		"injection.sqli": 1, "payload.large_response": 1, "traffic.client_spike": 1},
}

// FloorsFor returns the floors of a traffic variant: DefaultFloors for the
// four-system variants, the expected alerts of a small deployment (at
// most one false alert, on a trap or not) for the others. A small variant
// without an entry gets no detection floor, only the budgets. Measured:
// no false alert in any variant (the one of few-clients and the three of
// base, injection.path_traversal on the customers' "../ sale" search
// look-alike, went when a traversal sequence leading to no path segment
// in free text stopped counting as traversal).
func FloorsFor(v sim.Variant) Floors {
	if v.Small == nil {
		return DefaultFloors()
	}
	f := Floors{MinDetected: map[string]int{}, MaxFalse: 1, MaxTrapFalse: 1}
	for k, n := range smallExpected[strings.TrimSuffix(v.Name, "+")] {
		f.MinDetected[k] = n
	}
	return f
}
