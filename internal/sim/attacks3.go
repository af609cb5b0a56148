package sim

import (
	"strconv"
	"time"
)

// attacksBOLAShapes are object-level enumerations shaped to stay under
// per-window volume thresholds: one principal walking slowly, and many
// addresses each opening a handful of records.
func (g *gen) attacksBOLAShapes() {
	// Slow walk: one customer reads other customers' profiles, one every
	// ~2 minutes for 3 hours (≈10 distinct ids per 20 minutes; customers
	// open only their own).
	wu := g.shop.users[len(g.shop.users)/9]
	g.attack(Scenario{Name: "bola-slow-profile-walk", AlertType: "bola.param_enumeration", Subject: "client", ClientIPs: []string{doc(140)},
		Identity: wu.sub, Host: ShopHost, Method: "GET", PathTemplate: "/v1/users/{userId}",
		Also:        []string{"traffic.client_spike", "traffic.identity_spike"},
		Description: "A customer reads other customers' profiles (ids harvested from reviews) at about one request every 2 minutes for 3 hours: ≈10 distinct user ids per 20 minutes where customers open only their own."},
		36, 90, jitter(2*time.Minute, 0.3), func(g *gen, s *script, now time.Time) {
			r := s.r
			v := g.shop.users[(len(g.shop.users)/2+s.i*13)%len(g.shop.users)]
			rec := mk(r, now, srcShop, doc(140), wu.ua, "GET", shopURL("/v1/users/"+strconv.Itoa(v.id), nil))
			bearer(rec, s.shopTok(g, wu.sub, now))
			replyJSON(rec, 200, g.userJSON(v, now), latency(r, 30, 0.4))
			s.emit(g, rec)
		})

	// Distributed scrape: 60 addresses, each signed in to its own
	// patient-portal account (credential stuffing earlier), open ten other
	// patients' records each within 30 minutes in clinic hours — no
	// failures, one principal per address, each far below a clinician's
	// shift start.
	const bots = 60
	addrs := make([]string, bots)
	subs := make([]string, bots)
	for i := range addrs {
		addrs[i] = "81.2." + strconv.Itoa(69+i/40) + "." + strconv.Itoa(20+(i*37)%200)
		subs[i] = "pt-" + g.clinic.patients[(i*41+7)%len(g.clinic.patients)].mrn[3:]
	}
	toks := make([]string, bots)
	first := (len(g.clinic.patients) / 3)
	g.attack(Scenario{Name: "bola-distributed-patient-scrape", AlertType: "bola.distributed_param_enumeration", Subject: "endpoint", ClientIPs: addrs,
		Host: ClinicHost, Method: "GET", PathTemplate: "/v1/patients/{patientId}",
		Also:        []string{"bola.param_enumeration", "traffic.endpoint_spike", "traffic.client_spike", "traffic.identity_spike", "bfla.privileged_access"},
		Description: "60 addresses, each with its own (stuffed) patient-portal account, open 10 other patients' records each within 30 minutes in clinic hours (≈600 distinct records): no failures, one principal per address."},
		34.5, bots*10, jitter(3*time.Second, 0.6), func(g *gen, s *script, now time.Time) {
			r := s.r
			b := s.i % bots
			if toks[b] == "" {
				toks[b] = mintJWT(r, "RS256", "ehr-idp-1", jwtClaims{Sub: subs[b], Iss: "https://idp.clinic.example.test", Aud: "ehr-portal",
					Iat: now, Exp: now.Add(30 * time.Minute), Roles: []string{"patient"}})
			}
			p := g.clinic.patients[(first+s.i*3)%len(g.clinic.patients)]
			rec := mk(r, now, srcClinic, addrs[b], "MyClinic/2.8.0 (Android 14)", "GET", clinicURL("/v1/patients/"+p.mrn, nil))
			bearer(rec, toks[b])
			replyJSON(rec, 200, patientJSON(p), latency(r, 45, 0.4))
			s.emit(g, rec)
		})

	if g.cfg.Variant.ReplayBankToken {
		// A bank token that expired three days earlier, replayed.
		rc := g.bank.customers[len(g.bank.customers)/7]
		g.attack(Scenario{Name: "bank-token-replayed-3-days-later", AlertType: "auth.weak_token_accepted", Subject: "client", ClientIPs: []string{doc(150)},
			Identity: rc.sub, Host: BankHost, Method: "GET", PathTemplate: "/v1/accounts/{accountId}",
			Description: "A bank access token that expired three days earlier (copied from a device backup) is replayed; the bank API answers 200, as it does to its clients' late refreshes."},
			30, 8, jitter(50*time.Second, 0.5), func(g *gen, s *script, now time.Time) {
				r := s.r
				if s.token == "" {
					life := g.cfg.Variant.bankLife()
					s.token = g.bankToken(r, rc.sub, now.Add(-72*time.Hour-life), life)
				}
				a := rc.accounts[s.i%len(rc.accounts)]
				rec := mk(r, now, srcBank, doc(150), "python-requests/2.32.3", "GET", bankURL("/v1/accounts/"+strconv.Itoa(a.id), nil))
				bearer(rec, s.token)
				replyJSON(rec, 200, accountJSON(a, rc), latency(r, 40, 0.4))
				s.emit(g, rec)
			})
	}
}
