package sim

import (
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// script is an attacker: do is called n times, gap apart.
type script struct {
	sc   *scenState
	r    *rand.Rand
	i, n int
	gap  func(r *rand.Rand) time.Duration
	do   func(g *gen, s *script, now time.Time)
	// per-attack state
	token  string
	tokExp time.Time
	roamTo string // the fresh address of a roaming attacker (Variant.RoamingAttackers)
}

func (s *script) step(g *gen, now time.Time) (time.Time, bool) {
	s.do(g, s, now)
	s.i++
	if s.i >= s.n {
		return now, false
	}
	return now.Add(s.gap(s.r)), true
}

func (s *script) emit(g *gen, rec *recT) {
	if s.roamTo != "" {
		rec.Client.IP = s.roamTo
	}
	g.emit(rec, s.sc)
}

// jitter returns a gap generator around d (±frac).
func jitter(d time.Duration, frac float64) func(r *rand.Rand) time.Duration {
	return func(r *rand.Rand) time.Duration {
		return time.Duration(float64(d) * (1 - frac + 2*frac*r.Float64()))
	}
}

// attack registers a scenario and its actor starting at hour h (of 48).
func (g *gen) attack(sc Scenario, h float64, n int, gap func(*rand.Rand) time.Duration, do func(g *gen, s *script, now time.Time)) *script {
	v := g.cfg.Variant
	h = v.attackHour(h)
	if pace := or1(v.AttackPace); pace != 1 {
		base := gap
		gap = func(r *rand.Rand) time.Duration { return time.Duration(float64(base(r)) * pace) }
	}
	st := g.scenario(sc)
	st.fixedIP = len(sc.ClientIPs) > 0
	s := &script{sc: st, r: g.stream(sc.Name), n: n, gap: gap, do: do}
	s.roamTo = g.roam(st, h)
	g.schedule(g.at(h), s)
	return s
}

func doc(n int) string { return "203.0.113." + strconv.Itoa(n) }

// shopTok keeps a valid shop token for an attacker account.
func (s *script) shopTok(g *gen, sub string, now time.Time) string {
	if s.token == "" || now.After(s.tokExp.Add(-time.Minute)) {
		s.token = g.shopToken(s.r, sub, now, []string{"customer"}, time.Hour)
		s.tokExp = now.Add(time.Hour)
	}
	return s.token
}

func (s *script) bankTok(g *gen, sub string, now time.Time) string {
	if s.token == "" || now.After(s.tokExp.Add(-time.Minute)) {
		s.token = g.bankToken(s.r, sub, now, 15*time.Minute)
		s.tokExp = now.Add(15 * time.Minute)
	}
	return s.token
}

// setupAttacks registers every attack scenario. Hours are for a 48 h run
// (scaled to other durations); the first 12 hours are attack-free so that
// baselines can be learned.
func (g *gen) setupAttacks() {
	g.attacksAccess()
	g.attacksVolume()
	g.attacksAuth()
	g.attacksInjection()
	g.attacksIntel()
	g.attacksData()
	g.attacksBOLAShapes()
}

// ---- object level / function level access ----

func (g *gen) attacksAccess() {
	// Slow BOLA: one customer walks other customers' orders, one every ~45 s for 7.5 h.
	const slowSub = "user-990417"
	g.attack(Scenario{Name: "bola-slow-order-walk", AlertType: "bola.param_enumeration", Subject: "client", ClientIPs: []string{doc(14)},
		Identity: slowSub, Host: ShopHost, Method: "GET", PathTemplate: "/v1/orders/{orderId}",
		Also:        []string{"traffic.client_spike", "traffic.identity_spike"},
		Description: "A customer account walks order ids sequentially (about one every 45 s for 7.5 h, low and slow) and reads other customers' orders (200): BOLA."},
		12.5, 600, jitter(45*time.Second, 0.5), func(g *gen, s *script, now time.Time) {
			r := s.r
			id := 7_300_050 + s.i
			rec := mk(r, now, srcShop, doc(14), shopAppUAs[0], "GET", shopURL("/v1/orders/"+strconv.Itoa(id), nil))
			bearer(rec, s.shopTok(g, slowSub, now))
			if chance(r, 0.3) {
				problem(rec, 404, r)
			} else {
				replyJSON(rec, 200, orderJSON(r, id, g.shop.users[id%len(g.shop.users)]), latency(r, 40, 0.4))
			}
			s.emit(g, rec)
		})

	// Fast BOLA: an insider opens 700 patient records across all wards in 12 minutes.
	insider := "rn.kvoss77"
	g.attack(Scenario{Name: "bola-fast-patient-scrape", AlertType: "bola.param_enumeration", Subject: "client", ClientIPs: []string{"10.50.3.99"},
		Identity: insider, Host: ClinicHost, Method: "GET", PathTemplate: "/v1/patients/{patientId}",
		Also:        []string{"traffic.client_spike", "traffic.identity_spike", "traffic.endpoint_spike"},
		Description: "A nurse account opens ~700 patients' records by sequential MRN within 12 minutes, across every ward."},
		26, 700, jitter(time.Second, 0.5), func(g *gen, s *script, now time.Time) {
			r := s.r
			if s.token == "" {
				s.token = mintJWT(r, "RS256", "ehr-idp-1", jwtClaims{Sub: insider, Iss: "https://idp.clinic.example.test", Aud: "ehr-api",
					Iat: now, Exp: now.Add(12 * time.Hour), Roles: []string{"nurse"}, Scope: "patient/*.read patient/*.write"})
			}
			mrn := 412100 + s.i
			rec := mk(r, now, srcClinic, "10.50.3.99", clinicianUA, "GET", clinicURL("/v1/patients/MRN"+pad(mrn, 7), nil))
			bearer(rec, s.token)
			if p := g.clinic.find("MRN" + pad(mrn, 7)); p != nil {
				replyJSON(rec, 200, patientJSON(p), latency(r, 45, 0.4))
			} else {
				problem(rec, 404, r)
			}
			s.emit(g, rec)
		})

	// Distributed BOLA on bank accounts: 150 proxies, stolen tokens, sequential ids.
	bots := make([]string, 0, 150)
	for i := 0; i < 150; i++ {
		if i < 90 {
			bots = append(bots, "194.26.192."+strconv.Itoa(10+i))
		} else {
			bots = append(bots, "91.240.118."+strconv.Itoa(20+i))
		}
	}
	victims := g.bank.customers[len(g.bank.customers)-20:]
	g.attack(Scenario{Name: "bola-distributed-account-scan", AlertType: "bola.distributed_param_enumeration", Subject: "endpoint",
		Host: BankHost, Method: "GET", PathTemplate: "/v1/accounts/{accountId}", ClientIPs: bots,
		Also:        []string{"auth.token_reuse", "bola.param_enumeration"},
		Description: "150 residential-proxy addresses, each sending 10–20 requests with one of 20 stolen customer tokens, scan account ids sequentially over 2 hours."},
		33, 2400, jitter(3*time.Second, 0.9), func(g *gen, s *script, now time.Time) {
			r := s.r
			id := 20_481_000 + s.i*2
			c := victims[s.i%len(victims)]
			rec := mk(r, now, srcBank, bots[(s.i*7)%len(bots)], pick(r, bankAppUAs), "GET", bankURL("/v1/accounts/"+strconv.Itoa(id), nil))
			bearer(rec, g.bankToken(r, c.sub, now.Add(-time.Duration(r.IntN(600))*time.Second), 15*time.Minute))
			if a, owner := g.bank.find(id); owner != nil {
				replyJSON(rec, 200, accountJSON(a, owner), latency(r, 40, 0.4))
			} else {
				problem(rec, 404, r)
			}
			s.emit(g, rec)
		})

	// BFLA: a customer uses the admin API successfully.
	u := g.shop.users[len(g.shop.users)/3]
	g.attack(Scenario{Name: "customer-calls-admin-api", AlertType: "bfla.privileged_access", Subject: "identity", ClientIPs: []string{u.home},
		Identity: u.sub, Host: ShopHost, Method: "POST", PathTemplate: "/v1/admin/refunds",
		Description: "A customer discovers the admin API and successfully lists pending orders, issues refunds to their orders and deletes a user (function-level authorization missing)."},
		29, 9, jitter(40*time.Second, 0.5), func(g *gen, s *script, now time.Time) {
			r := s.r
			var rec *recT
			switch s.i % 3 {
			case 0:
				rec = mk(r, now, srcShop, u.home, u.ua, "GET", shopURL("/v1/admin/orders", url.Values{"status": {"pending"}, "page": {"1"}}))
				replyJSON(rec, 200, `{"items":[{"order_id":7300100,"status":"pending"}]}`, latency(r, 120, 0.4))
			case 1:
				rec = mk(r, now, srcShop, u.home, u.ua, "POST", shopURL("/v1/admin/refunds", nil))
				body(rec, "application/json", newObj().i("order_id", int64(7_300_000+s.i)).f("amount", 499.99).s("reason", "damaged_in_transit").String())
				replyJSON(rec, 201, newObj().s("refund_id", "rf_"+alnum(r, 12)).s("status", "issued").String(), latency(r, 300, 0.3))
			default:
				rec = mk(r, now, srcShop, u.home, u.ua, "DELETE", shopURL("/v1/admin/users/"+strconv.Itoa(g.shop.users[s.i].id), nil))
				reply(rec, 204, "", "", latency(r, 150, 0.3))
			}
			bearer(rec, s.shopTok(g, u.sub, now))
			s.emit(g, rec)
		})

	// Mass assignment: unseen body fields and a debug flag.
	mu := g.shop.users[len(g.shop.users)/5]
	g.attack(Scenario{Name: "mass-assignment-profile", AlertType: "param.unseen", Subject: "client", ClientIPs: []string{doc(77)},
		Identity: mu.sub, Host: ShopHost, Method: "PATCH", PathTemplate: "/v1/users/{userId}",
		Also:        []string{"param.anomalous_type"},
		Description: "A customer adds fields the profile update never carries (role, is_admin, credit_limit, email_verified) and probes ?debug=true: mass assignment."},
		27, 12, jitter(50*time.Second, 0.5), func(g *gen, s *script, now time.Time) {
			r := s.r
			var rec *recT
			if s.i%4 == 3 {
				rec = mk(r, now, srcShop, doc(77), mu.ua, "GET", shopURL("/v1/users/"+strconv.Itoa(mu.id), url.Values{"debug": {"true"}, "include_internal": {"1"}}))
			} else {
				rec = mk(r, now, srcShop, doc(77), mu.ua, "PATCH", shopURL("/v1/users/"+strconv.Itoa(mu.id), nil))
				b := newObj().s("phone", mu.p.Phone)
				switch s.i % 3 {
				case 0:
					b.s("role", "admin").bl("is_admin", true)
				case 1:
					b.i("credit_limit", 50000).bl("email_verified", true)
				default:
					b.s("account_tier", "staff").f("discount_rate", 0.9)
				}
				body(rec, "application/json", b.String())
			}
			bearer(rec, s.shopTok(g, mu.sub, now))
			replyJSON(rec, 200, g.userJSON(mu, now), latency(r, 60, 0.4))
			s.emit(g, rec)
		})

	// Parameter type tampering.
	tu := g.shop.users[len(g.shop.users)/7]
	g.attack(Scenario{Name: "param-type-tampering", AlertType: "param.anomalous_type", Subject: "client", ClientIPs: []string{doc(71)},
		Identity: tu.sub, Host: ShopHost, Method: "POST", PathTemplate: "/v1/cart/items",
		Also:        []string{"param.unseen"},
		Description: "A client sends quantity as a string, an array, an object, a huge float and a boolean, and page=abc on the product list, probing for type confusion."},
		24, 30, jitter(30*time.Second, 0.5), func(g *gen, s *script, now time.Time) {
			r := s.r
			var rec *recT
			if s.i%5 == 4 {
				rec = mk(r, now, srcShop, doc(71), tu.ua, "GET", shopURL("/v1/products", url.Values{"category": {"toys"}, "page": {pick(r, []string{"abc", "true", "1.5e9", "-", "[]"})}, "limit": {"24"}}))
				problem(rec, 400, r)
			} else {
				rec = mk(r, now, srcShop, doc(71), tu.ua, "POST", shopURL("/v1/cart/items", nil))
				q := []string{`"2"`, `[1,2,3]`, `{"value":2}`, `1e308`, `true`, `"two"`, `null`, `-99999999999`}[s.i%8]
				body(rec, "application/json", newObj().s("sku", g.shop.products[s.i].sku).raw("quantity", q).String())
				problem(rec, 400, r)
			}
			bearer(rec, s.shopTok(g, tu.sub, now))
			s.emit(g, rec)
		})
}

// ---- volume, size, latency, recon ----

func (g *gen) attacksVolume() {
	// Endpoint spike: a signup flood from 300 addresses.
	flood := make([]string, 0, 300)
	for i := 0; i < 300; i++ {
		flood = append(flood, "45.83."+strconv.Itoa(64+i/200)+"."+strconv.Itoa(10+i%200))
	}
	g.attack(Scenario{Name: "newsletter-signup-flood", AlertType: "traffic.endpoint_spike", Subject: "endpoint", ClientIPs: flood,
		Host: ShopHost, Method: "POST", PathTemplate: "/v1/newsletter/subscribe",
		Description: "A bot net subscribes 3,000 throw-away addresses from 300 IPs within 30 minutes at dawn (list bombing)."},
		30, 3000, jitter(600*time.Millisecond, 0.9), func(g *gen, s *script, now time.Time) {
			r := s.r
			rec := mk(r, now, srcShop, flood[r.IntN(len(flood))], pick(r, browserUAs), "POST", shopURL("/v1/newsletter/subscribe", nil))
			body(rec, "application/json", newObj().s("email", alnum(r, 10)+"@"+pick(r, emailDomains)).String())
			replyJSON(rec, 202, `{"status":"pending_confirmation"}`, latency(r, 35, 0.3))
			s.emit(g, rec)
		})

	// Client spike: one scraper hammers the featured list.
	g.attack(Scenario{Name: "featured-scraper-burst", AlertType: "traffic.client_spike", Subject: "client", ClientIPs: []string{doc(21)},
		Host: ShopHost, Method: "GET", PathTemplate: "/v1/products/featured",
		Also:        []string{"traffic.endpoint_spike"},
		Description: "One address polls the featured products 12 times a second for 10 minutes (price scraping)."},
		14, 7200, jitter(83*time.Millisecond, 0.5), func(g *gen, s *script, now time.Time) {
			rec := mk(s.r, now, srcShop, doc(21), browserUAs[0], "GET", shopURL("/v1/products/featured", nil))
			g.featuredReply(s.r, rec)
			s.emit(g, rec)
		})

	// Large responses: an account takeover exports the whole transaction history.
	lc := g.bank.customers[len(g.bank.customers)/2]
	g.attack(Scenario{Name: "transactions-bulk-export", AlertType: "payload.large_response", Subject: "client", ClientIPs: []string{doc(33)},
		Identity: lc.sub, Host: BankHost, Method: "GET", PathTemplate: "/v1/accounts/{accountId}/transactions",
		Description: "A taken-over customer session asks for limit=100000 and receives 9–14 MB transaction dumps (normal: 50 transactions, ~12 KB)."},
		16, 6, jitter(90*time.Second, 0.5), func(g *gen, s *script, now time.Time) {
			r := s.r
			a := lc.accounts[0]
			rec := mk(r, now, srcBank, doc(33), lc.ua, "GET", bankURL("/v1/accounts/"+strconv.Itoa(a.id)+"/transactions", url.Values{"limit": {"100000"}}))
			bearer(rec, s.bankTok(g, lc.sub, now))
			replySized(rec, 200, "application/json", transactionsJSON(r, a, g.bank.payees, 60), int64(9_000_000+r.IntN(5_000_000)), latency(r, 2500, 0.3))
			s.emit(g, rec)
		})

	// Large requests: multi-megabyte review bodies.
	lu := g.shop.users[len(g.shop.users)/4]
	g.attack(Scenario{Name: "oversized-review-post", AlertType: "payload.large_request", Subject: "client", ClientIPs: []string{doc(41)},
		Identity: lu.sub, Host: ShopHost, Method: "POST", PathTemplate: "/v1/reviews",
		Description: "A client posts reviews of 1.5–3 MB (normal: ~250 bytes) to exhaust storage and moderation. Late in the run: the reviews endpoint is low-volume (≈300 posts a day) and needs time to build a baseline."},
		42.5, 8, jitter(40*time.Second, 0.5), func(g *gen, s *script, now time.Time) {
			r := s.r
			size := 1_500_000 + r.IntN(1_500_000)
			rec := mk(r, now, srcShop, doc(41), lu.ua, "POST", shopURL("/v1/reviews", nil))
			bearer(rec, s.shopTok(g, lu.sub, now))
			prefix := `{"sku":"` + g.shop.products[0].sku + `","rating":5,"title":"spam","text":"` + strings.Repeat("buy cheap watches ", captureKeep/18)
			body(rec, "application/json", prefix)
			rec.Request.Size = int64(size)
			rec.Request.Truncated = true
			replyJSON(rec, 201, newObj().s("review_id", "rv_"+alnum(r, 10)).s("status", "published").String(), latency(r, 1800, 0.3))
			s.emit(g, rec)
		})

	// Latency spike: crafted cursors make the transaction query crawl.
	yc := g.bank.customers[len(g.bank.customers)/3]
	g.attack(Scenario{Name: "crafted-cursor-slow-queries", AlertType: "latency.spike", Subject: "client", ClientIPs: []string{doc(52)},
		Identity: yc.sub, Host: BankHost, Method: "GET", PathTemplate: "/v1/accounts/{accountId}/transactions",
		Description: "A client sends crafted pagination cursors that defeat the index: 25 calls take 15–45 s (normal median ~160 ms), some time out."},
		20, 25, jitter(45*time.Second, 0.5), func(g *gen, s *script, now time.Time) {
			r := s.r
			a := yc.accounts[0]
			rec := mk(r, now, srcBank, doc(52), yc.ua, "GET", bankURL("/v1/accounts/"+strconv.Itoa(a.id)+"/transactions", url.Values{"limit": {"50"}, "cursor": {alnum(r, 40)}}))
			bearer(rec, s.bankTok(g, yc.sub, now))
			ms := 15000 + r.Float64()*30000
			if ms > 40000 {
				problem(rec, 504, r)
			} else {
				replyJSON(rec, 200, transactionsJSON(r, a, g.bank.payees, 50), 0)
			}
			rec.DurationMs = float64(int(ms*10)) / 10
			s.emit(g, rec)
		})

	// Recon: endpoint spray with a browser user agent.
	prefixes := []string{"/v1/", "/v2/", "/api/", "/api/v1/", "/internal/", "/v1/admin/", "/"}
	var spray []string
	for _, p := range prefixes {
		for _, w := range sprayWords {
			spray = append(spray, p+w)
		}
	}
	spray = append(spray, "/.git/config", "/.env", "/server-status", "/wp-login.php", "/.well-known/openid-configuration", "/robots.txt", "/sitemap.xml")
	g.attack(Scenario{Name: "api-recon-spray", AlertType: "recon.endpoint_spray", Subject: "client", ClientIPs: []string{doc(60)},
		Host:        ShopHost,
		Also:        []string{"traffic.client_spike", "param.unseen"},
		Description: "One address requests ~350 distinct guessed paths (/v1/admin/…, /api/…, /actuator, /swagger.json, /.env) in 15 minutes; almost all 404."},
		22, len(spray), jitter(2500*time.Millisecond, 0.6), func(g *gen, s *script, now time.Time) {
			r := s.r
			path := spray[(s.i*37)%len(spray)]
			rec := mk(r, now, srcShop, doc(60), browserUAs[2], "GET", shopURL(path, nil))
			switch {
			case strings.HasPrefix(path, "/v1/admin/"):
				problem(rec, 401, r)
			case path == "/robots.txt" || path == "/v1/health":
				reply(rec, 200, "text/plain", "ok", latency(r, 3, 0.3))
			default:
				problem(rec, 404, r)
			}
			s.emit(g, rec)
		})

	// Identity spike: a scalper account checks out 180 times in an hour from 30 proxies.
	su := g.shop.users[11]
	proxies := make([]string, 0, 30)
	for i := 0; i < 30; i++ {
		proxies = append(proxies, "154.16."+strconv.Itoa(40+i%4)+"."+strconv.Itoa(100+i))
	}
	g.attack(Scenario{Name: "checkout-scalper", AlertType: "traffic.identity_spike", Subject: "identity", ClientIPs: proxies,
		Identity: su.sub, Host: ShopHost, Method: "POST", PathTemplate: "/v1/checkout",
		Also:        []string{"auth.token_reuse", "traffic.client_spike"},
		Description: "One customer account (normally 0–2 orders a day) runs a scalping bot through 30 proxies: ~180 checkouts of the limited edition SKU in one hour."},
		28, 360, jitter(10*time.Second, 0.5), func(g *gen, s *script, now time.Time) {
			r := s.r
			ip := proxies[(s.i/2)%len(proxies)]
			if s.i%2 == 0 {
				rec := mk(r, now, srcShop, ip, su.ua, "POST", shopURL("/v1/cart/items", nil))
				bearer(rec, s.shopTok(g, su.sub, now))
				body(rec, "application/json", newObj().s("sku", g.shop.products[7].sku).i("quantity", 2).String())
				replyJSON(rec, 201, `{"items":1}`, latency(r, 30, 0.4))
				s.emit(g, rec)
				return
			}
			rec := mk(r, now, srcShop, ip, su.ua, "POST", shopURL("/v1/checkout", nil))
			bearer(rec, s.shopTok(g, su.sub, now))
			body(rec, "application/json", newObj().s("cart_id", "c_"+strconv.Itoa(su.id)).s("payment_method", "pm_"+alnum(r, 24)).String())
			g.shop.nextOrder++
			replyJSON(rec, 201, newObj().i("order_id", int64(g.shop.nextOrder)).s("status", "confirmed").f("total", 398).String(), latency(r, 650, 0.35))
			s.emit(g, rec)
		})
}

func (w *clinicWorld) find(mrn string) *patient {
	lo, hi := 0, len(w.patients)
	for lo < hi {
		m := (lo + hi) / 2
		if w.patients[m].mrn < mrn {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(w.patients) && w.patients[lo].mrn == mrn {
		return w.patients[lo]
	}
	return nil
}

func (w *bankWorld) find(id int) (bankAccount, *bankCustomer) {
	lo, hi := 0, len(w.customers)
	for lo < hi {
		m := (lo + hi) / 2
		c := w.customers[m]
		if c.accounts[len(c.accounts)-1].id < id {
			lo = m + 1
		} else {
			hi = m
		}
	}
	if lo < len(w.customers) {
		for _, a := range w.customers[lo].accounts {
			if a.id == id {
				return a, w.customers[lo]
			}
		}
	}
	return bankAccount{}, nil
}

// sprayWords are the guessed path words of the endpoint sprays.
var sprayWords = []string{"admin", "users", "accounts", "config", "debug", "internal", "metrics", "health", "status", "graphql", "swagger.json",
	"openapi.json", "api-docs", "actuator", "env", "backup", "export", "import", "tokens", "keys", "secrets", "billing", "invoices", "reports",
	"logs", "test", "dev", "staging", "v0", "beta", "console", "jobs", "queue", "cache", "search/all", "orders/all", "users/all", "payments",
	"coupons", "giftcards", "vouchers", "sessions", "auth/admin", "oauth/token", "login/sso", "upload", "files", "media", "webhooks/test", "system"}
