package sim

import (
	"encoding/base64"
	"math/rand/v2"
	"net/url"
	"strconv"
	"time"
)

// outboundWorld holds the state of our services' calls to third parties.
type outboundWorld struct{}

func outRec(r *rand.Rand, now time.Time, ip, ua, method, u string) *recT {
	rec := mk(r, now, srcEgress, ip, ua, method, u)
	rec.Direction = "outbound"
	return rec
}

// payprocCharge: the shop's payment service charges the card at the processor.
func (g *gen) payprocCharge(r *rand.Rand, now time.Time, u *shopUser, total float64, raw, declined bool) {
	rec := outRec(r, now, "10.30.1.12", "shop-payments/2.3 Go-http-client/1.1", "POST", "https://"+PayProcHost+"/v1/charges")
	rec.Request.Headers["authorization"] = "Bearer sk_live_51Hx9sTqQ2c8mZs0aVbN3kLp"
	b := newObj().i("amount", int64(total*100)).s("currency", "usd")
	if raw {
		b.raw("card", newObj().s("number", u.p.Card).s("name", u.p.First+" "+u.p.Last).String())
	} else {
		b.s("payment_method", "pm_"+alnum(r, 24))
	}
	b.raw("metadata", newObj().s("customer_email", u.p.Email).String())
	body(rec, "application/json", b.String())
	if declined {
		replyJSON(rec, 402, `{"error":{"code":"card_declined","decline_code":"insufficient_funds"}}`, latency(r, 700, 0.3))
	} else {
		replyJSON(rec, 200, newObj().s("id", "ch_"+alnum(r, 24)).s("status", "succeeded").s("card_last4", u.p.Card[12:]).String(), latency(r, 600, 0.3))
	}
	g.emit(rec, nil)
}

// smsBasic is the SMS gateway account's basic credential (account SID and auth token).
var smsBasic = base64.StdEncoding.EncodeToString([]byte("AC3f9e2d1c0b4a5968778695a4b3c2d1e0:8c1f4e7b2a9d6c3f0e5b8a1d4c7f2e9b"))

// smsSend: a service texts a customer through the SMS gateway.
func (g *gen) smsSend(r *rand.Rand, now time.Time, to, text, ip string) {
	rec := outRec(r, now, ip, "notify-svc/1.9 python-requests/2.32.3", "POST", "https://"+SMSHost+"/v1/messages")
	rec.Request.Headers["authorization"] = "Basic " + smsBasic
	body(rec, "application/json", newObj().s("to", to).s("from", "ExampleCo").s("body", text).String())
	replyJSON(rec, 201, newObj().s("sid", "SM"+hexStr(r, 32)).s("status", "queued").String(), latency(r, 250, 0.3))
	g.emit(rec, nil)
}

// geocode: address lookups. After geoPlainHTTPAt a misconfigured release
// calls the geocoder over plain http (consumption.unsafe_upstream).
func (g *gen) geocode(r *rand.Rand, now time.Time, address, ip string) {
	scheme := "https://"
	var sc *scenState
	if !now.Before(g.geoPlainHTTPAt) {
		scheme, sc = "http://", g.scGeoHTTP
	}
	rec := outRec(r, now, ip, "geo-client/1.4 Go-http-client/1.1", "GET", scheme+GeoHost+"/v1/geocode?"+url.Values{"address": {address}, "key": {"gk_7Qm2Vx9LpR4sT1wZ8bN3"}}.Encode())
	replyJSON(rec, 200, newObj().f("lat", 40+r.Float64()*10).f("lon", -3+r.Float64()*10).s("precision", "rooftop").String(), latency(r, 90, 0.4))
	g.emit(rec, sc)
}

// setupServices schedules the periodic service-to-service traffic.
func (g *gen) setupServices() {
	r := g.stream("services")
	// FX rates feed polled by the bank every 5 minutes.
	g.schedule(g.start.Add(17*time.Second), &every{period: 5 * time.Minute, jitter: 3 * time.Second, r: r, fn: func(g *gen, now time.Time) {
		rec := outRec(g.r, now, "10.30.4.2", "fx-sync/0.9 Go-http-client/2.0", "GET", "https://"+FXHost+"/v1/latest?base=EUR")
		rec.Request.Headers["x-api-key"] = "fxk_2f9c1e77a0b44d2b9b1f"
		replyJSON(rec, 200, `{"base":"EUR","rates":{"USD":1.0842,"GBP":0.8391,"CHF":0.9412,"JPY":163.21}}`, latency(g.r, 120, 0.3))
		g.emit(rec, nil)
	}})
	// Partner catalogue feed polled hourly by the shop's importer.
	g.schedule(g.start.Add(7*time.Minute), &every{period: time.Hour, jitter: 20 * time.Second, r: r, fn: g.catalogFeed})
	// Claims import: the billing service posts HL7/CDA-like XML to the EHR every 15 minutes.
	g.schedule(g.start.Add(3*time.Minute), &every{period: 15 * time.Minute, jitter: 10 * time.Second, r: r, fn: func(g *gen, now time.Time) {
		r := g.r
		p := pick(r, g.clinic.patients)
		rec := mk(r, now, srcClinic, "10.50.200.11", "billing-sync/4.1 (Java/21.0.5) Apache-HttpClient/5.3", "POST", clinicURL("/v1/claims/import", nil))
		rec.Request.Headers["x-api-key"] = "ehr_svc_billing_7d1f0c9a2b3e4d5f"
		xml := `<?xml version="1.0" encoding="UTF-8"?><ClaimBatch xmlns="urn:example:claims:v2"><Claim id="CLM` + digits(r, 8) + `"><Patient mrn="` + p.mrn + `"><Name>` + p.p.First + " " + p.p.Last + `</Name><DOB>` + p.p.DOB + `</DOB></Patient><Code system="ICD-10">I10</Code><Amount currency="USD">` + strconv.Itoa(80+r.IntN(900)) + `.00</Amount></Claim></ClaimBatch>`
		body(rec, "application/xml", xml)
		reply(rec, 202, "application/xml", `<ImportResult status="accepted" claims="1"/>`, latency(r, 400, 0.4))
		g.emit(rec, nil)
	}})
	// Background geocoding of new addresses.
	g.schedule(g.start.Add(90*time.Second), &every{period: 10 * time.Minute, jitter: 4 * time.Minute, r: r, fn: func(g *gen, now time.Time) {
		u := pick(g.r, g.shop.users)
		g.geocode(g.r, now, u.p.Street+", "+u.p.City, "10.30.3.9")
	}})
	// Marketing export to a known analytics destination (hashed emails only).
	g.schedule(g.start.Add(11*time.Minute), &every{period: 30 * time.Minute, jitter: time.Minute, r: r, fn: func(g *gen, now time.Time) {
		r := g.r
		rec := outRec(r, now, "10.30.5.5", "mkt-export/1.2 python-requests/2.32.3", "POST", "https://metrics.analytics.example.com/v1/batch")
		rec.Request.Headers["authorization"] = "Bearer an_4f7c2d9e1b8a6f3c5d0e7b2a9c4f1d6e"
		body(rec, "application/json", newObj().s("event", "daily_active").i("count", int64(1000+r.IntN(500))).s("user_hash", hexStr(r, 64)).String())
		replyJSON(rec, 200, `{"accepted":1}`, latency(r, 150, 0.3))
		g.emit(rec, nil)
	}})
}

// catalogFeed: the shop importer pulls a partner's product feed.
func (g *gen) catalogFeed(_ *gen, now time.Time) {
	r := g.r
	rec := outRec(r, now, "10.30.6.4", "catalog-importer/3.0 Go-http-client/1.1", "GET", "https://"+CatalogHost+"/v1/feed?since=24h")
	rec.Request.Headers["x-api-key"] = "pcat_9d2b7e4f1a6c3e8b5d0f"
	items := make([]string, 0, 30)
	for i := 0; i < 30; i++ {
		p := g.shop.products[(i*11+now.Hour())%len(g.shop.products)]
		items = append(items, productJSON(p, false).String())
	}
	if !now.Before(g.catalogRedirectAt) {
		// The partner's compromised CDN redirects to the cloud metadata
		// service and the importer follows the redirect.
		meta := "http://169.254.169.254/latest/meta-data/iam/security-credentials/"
		reply(rec, 302, "text/html", `<a href="`+meta+`">Found</a>`, latency(r, 80, 0.3))
		rec.Response.Headers["location"] = meta
		g.emit(rec, g.scRedirect)
		follow := outRec(r, now.Add(100*time.Millisecond), "10.30.6.4", "catalog-importer/3.0 Go-http-client/1.1", "GET", meta)
		follow.Request.Headers["referer"] = rec.Request.URL
		reply(follow, 200, "text/plain", "catalog-importer-role", latency(r, 4, 0.3))
		g.later(follow.Time, func(g *gen, _ time.Time) { g.emit(follow, g.scRedirect) })
		return
	}
	replyJSON(rec, 200, newObj().raw("products", arr(items)).String(), latency(r, 450, 0.4))
	g.emit(rec, nil)
}
