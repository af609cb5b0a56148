package sim

import (
	"net/url"
	"strconv"
	"strings"
	"time"
)

var injectionTypes = []string{"injection.sqli", "injection.xss", "injection.cmd", "injection.path_traversal", "injection.nosql",
	"injection.ssti", "injection.xxe", "injection.ldap", "injection.crlf"}

// carrierPrefix is the mobile carrier's CGNAT egress range (see carrierIP).
const carrierPrefix = "172.56.2"

// natIP is the corporate proxy many shop users share.
const natIP = "198.51.100.77"

// setupTraps registers the benign look-alikes. Traps that are properties
// of the benign traffic (look-alike texts, internal webhooks, large PDFs,
// search latency) are switched on here and produced by the benign actors;
// the others get their own actors.
func (g *gen) setupTraps() {
	trap := g.trap
	g.shopTraps()
	g.trapStatements = trap("large-statement-pdfs", "endpoint", BankHost, "GET", "/v1/statements/{statementId}/pdf",
		"Statement PDFs of 1–5 MB are the normal response of this endpoint for every customer.", "payload.large_response")
	g.trapCurrency = trap("release-currency-param", "endpoint", ShopHost, "GET", "/v1/products",
		"A mobile-app release makes the whole population send a new query parameter currency= on product lists and search (hour 24 of 48). An API change to record in the inventory, not param.unseen.", "param.unseen")
	g.currencyParamAt = g.at(24)
	g.trapRest()
}

// trap registers a benign look-alike scenario.
func (g *gen) trap(name, subject, host, method, path, desc string, trapFor ...string) *scenState {
	return g.scenario(Scenario{Name: name, Trap: true, TrapFor: trapFor, Subject: subject, Host: host, Method: method, PathTemplate: path, Description: desc})
}

// shopTraps are the shop's look-alikes produced by its benign actors
// (customers' searches and reviews, administrators' HTML and internal
// webhooks, the search latency tail): the four-system world and the small
// deployments both have them.
func (g *gen) shopTraps() {
	trap := g.trap
	g.trapLookalike = trap("injection-lookalikes", "client", ShopHost, "", "",
		"Customers search for and review things in words that look like attacks: O'Reilly, 'select chairs', 'drop leaf table', '<3', 'table; chairs', '../ sale'. ClientIPs are the customers who did.",
		injectionTypes...)
	g.trapAdminHTML = trap("admin-html-product-descriptions", "client", ShopHost, "PUT", "/v1/admin/products/{sku}",
		"Merchandising admins (internal 10.10.4.0/24) save product descriptions as HTML (<p>, <b>, <a href>).", "injection.xss")
	g.trapWebhook = trap("admin-internal-webhooks", "client", ShopHost, "POST", "/v1/admin/webhooks",
		"Admins register webhooks pointing at internal services (http://10.20.4.15:8080/…, http://fulfilment.internal:9000/…) from the internal admin network. Decision: legitimate configuration by an administrator, not SSRF.",
		"ssrf.internal_target")
	g.trapSearch = trap("search-latency-tail", "endpoint", ShopHost, "GET", "/v1/search",
		"Search latency is heavy-tailed for everyone: about 4 % of searches take 1–12 s (some time out with 504). Records labelled are the slow ones.", "latency.spike")
}

// trapRest registers the look-alikes of the four-system world that have
// their own actors.
func (g *gen) trapRest() {
	trap := g.trap
	g.trapCarrier = g.scenario(Scenario{Name: "mobile-carrier-cgnat", Trap: true, Subject: "client",
		TrapFor:     []string{"traffic.client_spike", "auth.brute_force", "recon.endpoint_spray", "bola.param_enumeration", "payload.large_response"},
		Description: "Thousands of phones share a mobile carrier's 24 CGNAT egress addresses (172.56.20–22.10–17)."})
	for a := 20; a < 23; a++ {
		for b := 10; b < 18; b++ {
			g.trapCarrier.ClientIPs = append(g.trapCarrier.ClientIPs, "172.56."+strconv.Itoa(a)+"."+strconv.Itoa(b))
		}
	}
	g.trapCarrier.fixedIP = true

	// Corporate NAT: an office of shop customers behind one address during office hours.
	g.trapNAT = g.scenario(Scenario{Name: "corporate-nat", Trap: true, Subject: "client", ClientIPs: []string{natIP},
		TrapFor:     []string{"traffic.client_spike", "recon.endpoint_spray", "bola.param_enumeration", "auth.brute_force", "auth.token_reuse"},
		Description: "About 60 employees of one company shop during office hours (09–17, weekdays) behind the corporate proxy " + natIP + "."})
	g.trapNAT.fixedIP = true
	g.schedule(g.start, &spawner{perHour: 40 * max(g.cfg.Scale, 0.5), start: func(g *gen, now time.Time) {
		if h := now.Hour(); h < 9 || h >= 17 || now.Weekday() == time.Saturday || now.Weekday() == time.Sunday {
			return
		}
		r := g.r
		u := g.shop.users[r.IntN(min(60, len(g.shop.users)))*len(g.shop.users)/min(60, len(g.shop.users))]
		s := &shopSession{u: u, ip: natIP, ua: pick(r, browserUAs[:4]), left: 3 + r.IntN(10), sc: g.trapNAT}
		g.schedule(now, s)
	}})

	// Clinicians open their ward's records at shift start (07:00 and 19:00).
	g.trapShiftStart = trap("clinician-shift-start", "client", ClinicHost, "GET", "",
		"At 07:00 and 19:00 every incoming clinician opens the records of 25–40 patients of their ward within half an hour (GET /v1/patients/{patientId} and …/records).",
		"bola.param_enumeration", "bola.distributed_param_enumeration", "traffic.client_spike", "traffic.identity_spike", "traffic.endpoint_spike")
	first := time.Date(g.start.Year(), g.start.Month(), g.start.Day(), 7, 0, 0, 0, time.UTC)
	for first.Before(g.start) {
		first = first.Add(12 * time.Hour)
	}
	g.schedule(first, &every{period: 12 * time.Hour, fn: g.shiftStart})

	// Service account walking every patient (billing reconciliation) every 6 hours.
	walk := trap("ehr-billing-walk", "client", ClinicHost, "GET", "/v1/patients/{patientId}",
		"The billing service account (API key, 10.50.200.12) walks every patient record every 8 hours at ~15 requests/s.",
		"bola.param_enumeration", "bola.distributed_param_enumeration", "traffic.client_spike", "traffic.endpoint_spike", "traffic.identity_spike", "recon.endpoint_spray")
	walk.ClientIPs, walk.fixedIP, walk.Identity = []string{"10.50.200.12"}, true, "ehr_…"
	g.schedule(g.start.Add(15*time.Minute), &every{period: 8 * time.Hour, fn: func(g *gen, now time.Time) {
		g.schedule(now, &walker{n: len(g.clinic.patients), gap: 65 * time.Millisecond, fn: func(g *gen, i int, now time.Time) {
			r := g.r
			p := g.clinic.patients[i]
			rec := mk(r, now, srcClinic, "10.50.200.12", "billing-sync/4.1 (Java/21.0.5) Apache-HttpClient/5.3", "GET", clinicURL("/v1/patients/"+p.mrn, url.Values{"fields": {"billing"}}))
			rec.Request.Headers["x-api-key"] = "ehr_svc_billing_7d1f0c9a2b3e4d5f"
			replyJSON(rec, 200, newObj().s("mrn", p.mrn).s("insurance_id", "INS-"+p.mrn[3:]).s("name", p.p.First+" "+p.p.Last).String(), latency(r, 25, 0.3))
			g.emit(rec, walk)
		}})
	}})

	// Open-banking aggregator polls the consented accounts every 4 hours.
	agg := trap("open-banking-aggregator", "client", BankHost, "GET", "/v1/accounts/{accountId}/transactions",
		"A licensed aggregator (API key, python-requests, 198.51.100.200–201) polls the transactions of ~300 consenting accounts every 4 hours.",
		"bola.param_enumeration", "bola.distributed_param_enumeration", "traffic.client_spike", "traffic.endpoint_spike", "traffic.identity_spike", "intel.suspicious_user_agent", "payload.large_response")
	agg.ClientIPs, agg.fixedIP, agg.Identity = []string{"198.51.100.200", "198.51.100.201"}, true, "obk_…"
	consented := g.bank.customers[:min(300, len(g.bank.customers))]
	g.schedule(g.start.Add(40*time.Minute), &every{period: 4 * time.Hour, fn: func(g *gen, now time.Time) {
		g.schedule(now, &walker{n: len(consented), gap: 220 * time.Millisecond, fn: func(g *gen, i int, now time.Time) {
			r := g.r
			c := consented[i]
			a := c.accounts[0]
			rec := mk(r, now, srcBank, agg.ClientIPs[i%2], "python-requests/2.31.0", "GET", bankURL("/v1/accounts/"+strconv.Itoa(a.id)+"/transactions", url.Values{"limit": {"50"}}))
			rec.Request.Headers["x-api-key"] = "obk_live_4c1d9e0f7a2b"
			replyJSON(rec, 200, transactionsJSON(r, a, g.bank.payees, 50), latency(r, 160, 0.45))
			g.emit(rec, agg)
		}})
	}})

	// Partner scripts and monitors with tool-like user agents.
	scripts := trap("partner-scripts", "client", "", "", "",
		"Legitimate integrations with tool user agents: a price checker with curl, an inventory sync with python-requests, an uptime monitor with Go-http-client.",
		"intel.suspicious_user_agent", "traffic.client_spike", "recon.endpoint_spray")
	scripts.ClientIPs, scripts.fixedIP = []string{"192.0.2.10", "192.0.2.11", "192.0.2.12"}, true
	type poller struct {
		ip, ua, method, url string
		period              time.Duration
		resp                func(g *gen, rec *recT)
	}
	for _, p := range []poller{
		{"192.0.2.10", "curl/8.5.0", "GET", shopURL("/v1/products", url.Values{"category": {"furniture"}, "page": {"1"}, "limit": {"24"}}), 15 * time.Minute, func(g *gen, rec *recT) {
			replyJSON(rec, 200, `{"items":[],"page":1,"total":144}`, latency(g.r, 50, 0.4))
		}},
		{"192.0.2.11", "python-requests/2.32.3", "GET", shopURL("/v1/products/"+g.shop.products[3].sku, nil), 5 * time.Minute, func(g *gen, rec *recT) {
			replyJSON(rec, 200, productJSON(g.shop.products[3], true).String(), latency(g.r, 35, 0.4))
		}},
		{"192.0.2.12", "Go-http-client/2.0", "GET", shopURL("/v1/products/featured", nil), time.Minute, func(g *gen, rec *recT) { g.featuredReply(g.r, rec) }},
	} {
		p := p
		g.schedule(g.start.Add(time.Duration(len(p.ua))*time.Second), &every{period: p.period, fn: func(g *gen, now time.Time) {
			rec := mk(g.r, now, srcShop, p.ip, p.ua, p.method, p.url)
			rec.Request.Headers["accept"] = "*/*"
			p.resp(g, rec)
			g.emit(rec, scripts)
		}})
	}

	// Nightly ERP export pages through all orders with an API key.
	erp := trap("nightly-erp-order-export", "client", ShopHost, "GET", "/v1/orders",
		"At 02:00 the ERP pages through the orders list (page=1…120) with an API key from 192.0.2.50.",
		"bola.param_enumeration", "traffic.client_spike", "traffic.endpoint_spike", "traffic.identity_spike")
	erp.ClientIPs, erp.fixedIP, erp.Identity = []string{"192.0.2.50"}, true, "shop…"
	firstNight := time.Date(g.start.Year(), g.start.Month(), g.start.Day(), 2, 0, 0, 0, time.UTC)
	g.schedule(firstNight, &every{period: 24 * time.Hour, fn: func(g *gen, now time.Time) {
		g.schedule(now, &walker{n: 120, gap: 700 * time.Millisecond, fn: func(g *gen, i int, now time.Time) {
			r := g.r
			rec := mk(r, now, srcShop, "192.0.2.50", "erp-connector/7.2 (Java/17.0.9) okhttp/4.12.0", "GET", shopURL("/v1/orders", url.Values{"page": {strconv.Itoa(i + 1)}, "limit": {"100"}, "updated_since": {now.Add(-24 * time.Hour).Format("2006-01-02")}}))
			rec.Request.Headers["x-api-key"] = "shop_erp_9a8b7c6d5e4f"
			items := make([]string, 0, 20)
			for k := 0; k < 20; k++ {
				u := g.shop.users[(i*20+k)%len(g.shop.users)]
				items = append(items, newObj().i("order_id", int64(7_300_000+i*100+k)).s("email", u.p.Email).f("total", 42.5).String())
			}
			replyJSON(rec, 200, newObj().raw("items", arr(items)).i("page", int64(i+1)).String(), latency(r, 220, 0.4))
			g.emit(rec, erp)
		}})
	}})

	// Late batch sidecar (the only out-of-order records).
	g.trapBatch = g.scenario(Scenario{Name: "late-batch-sidecar", Trap: true, Subject: "endpoint", Host: ClinicHost,
		TrapFor: []string{"traffic.endpoint_spike"},
		Description: "Radiology's sidecar (source " + BatchSource + ") uploads what it captured every " + MaxDisorder.String() +
			": its records arrive up to " + MaxDisorder.String() + " behind the others. Tests the reorder buffer; nothing should fire because of the bursts."})
	g.batch = &batchSidecar{}
	g.schedule(g.start.Add(MaxDisorder), g.batch)
}

// walker calls fn for i = 0..n-1, gap apart.
type walker struct {
	i, n int
	gap  time.Duration
	fn   func(g *gen, i int, now time.Time)
}

func (w *walker) step(g *gen, now time.Time) (time.Time, bool) {
	if w.i >= w.n {
		return now, false
	}
	w.fn(g, w.i, now)
	w.i++
	return now.Add(w.gap), w.i < w.n
}

func isCarrier(ip string) bool { return strings.HasPrefix(ip, carrierPrefix) }
