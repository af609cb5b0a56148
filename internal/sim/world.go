package sim

import (
	"math/rand/v2"
	"strconv"
	"time"

	"github.com/palisade-sec/palisade/internal/exchange"
)

// Hosts of the sample APIs and of the third parties our services call.
const (
	ShopHost    = "api.shop.example.test"
	ClinicHost  = "ehr.clinic.example.test"
	BankHost    = "api.bank.example.test"
	PayProcHost = "api.payproc.example.net"
	SMSHost     = "api.sms-gateway.example.com"
	GeoHost     = "geo.geocoder.example.org"
	FXHost      = "api.fxfeed.example.net"
	CatalogHost = "feeds.partner-catalog.example.net"
	AdHost      = "collect.adpartner.example.net"
)

// Sources (sensors) that produce the records.
const (
	srcShop   = "shop-edge"
	srcClinic = "clinic-gw"
	srcBank   = "bank-apigw"
	srcEgress = "egress-proxy"
)

var browserUAs = []string{
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
	"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
	"Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0",
	"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0",
	"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
	"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.6723.86 Mobile Safari/537.36",
}

var shopAppUAs = []string{
	"ShopApp/5.12.1 (iPhone; iOS 18.1; Scale/3.00)",
	"ShopApp/5.12.0 (Android 14; SM-S911B) okhttp/4.12.0",
	"ShopApp/5.11.4 (iPad; iOS 17.6; Scale/2.00)",
}

var bankAppUAs = []string{
	"BankApp/3.4.2 CFNetwork/1568.100.1 Darwin/24.0.0",
	"BankApp/3.4.1 (Android 13; Galaxy A54) okhttp/4.11.0",
}

var residential = []string{"86.12", "92.40", "37.120", "78.33", "24.48", "73.162", "98.207", "81.140", "109.150", "151.20", "2.24", "90.200", "176.58", "212.59"}

// residentialIP returns a public-looking home address (never one of the
// attacker ranges).
func residentialIP(r *rand.Rand) string {
	if chance(r, 0.12) {
		return "2a02:c7c:" + strconv.FormatInt(int64(0x1000+r.IntN(0xe000)), 16) + ":" + strconv.FormatInt(int64(r.IntN(0xffff)), 16) + "::" + strconv.FormatInt(int64(1+r.IntN(0xfffe)), 16)
	}
	return pick(r, residential) + "." + strconv.Itoa(r.IntN(256)) + "." + strconv.Itoa(1+r.IntN(254))
}

// carrierIP returns one of a mobile carrier's few CGNAT egress addresses,
// shared by thousands of phones.
func carrierIP(r *rand.Rand) string {
	return "172.56." + strconv.Itoa(20+r.IntN(3)) + "." + strconv.Itoa(10+r.IntN(8))
}

// recT is a short name for the record type.
type recT = exchange.Record

// mk starts a record.
func mk(r *rand.Rand, now time.Time, src, ip, ua, method, url string) *exchange.Record {
	h := make(map[string]string, 6)
	if ua != "" {
		h["user-agent"] = ua
	}
	h["accept"] = "application/json"
	h["x-request-id"] = hexStr(r, 16)
	return &exchange.Record{Time: now, Client: exchange.Client{IP: ip, Port: 1024 + r.IntN(64000)},
		Direction: exchange.Inbound, Source: src,
		Request: exchange.Request{Method: method, URL: url, Headers: h}}
}

func bearer(rec *exchange.Record, tok string) { rec.Request.Headers["authorization"] = "Bearer " + tok }

// body sets a request body with its content type.
func body(rec *exchange.Record, ct, b string) {
	rec.Request.Headers["content-type"] = ct
	rec.Request.Body = b
	rec.Request.Size = int64(len(b))
}

// maxCapture is the body capture limit of the simulated sensors: longer
// bodies are kept truncated to their first captureKeep bytes.
const (
	maxCapture  = 64 << 10
	captureKeep = 16 << 10
)

// reply sets the response.
func reply(rec *exchange.Record, status int, ct, b string, ms float64) {
	h := make(map[string]string, 3)
	if ct != "" {
		h["content-type"] = ct
	}
	rec.Response = exchange.Response{Status: status, Headers: h, Body: b, Size: int64(len(b))}
	if len(b) > maxCapture {
		rec.Response.Body = b[:captureKeep]
		rec.Response.Truncated = true
	}
	rec.DurationMs = ms
}

func replyJSON(rec *exchange.Record, status int, b string, ms float64) {
	reply(rec, status, "application/json", b, ms)
}

// replySized records a response whose body was not captured whole: only
// prefix is kept and size is the real size on the wire.
func replySized(rec *exchange.Record, status int, ct, prefix string, size int64, ms float64) {
	reply(rec, status, ct, prefix, ms)
	rec.Response.Size = size
	rec.Response.Truncated = int64(len(prefix)) < size
}

func errJSON(code, msg string) string { return newObj().s("error", code).s("message", msg).String() }

func problem(rec *exchange.Record, status int, r *rand.Rand) {
	switch status {
	case 400:
		replyJSON(rec, 400, errJSON("bad_request", "request validation failed"), latency(r, 8, 0.4))
	case 401:
		replyJSON(rec, 401, errJSON("unauthorized", "invalid credentials"), latency(r, 60, 0.3))
	case 403:
		replyJSON(rec, 403, errJSON("forbidden", "not allowed"), latency(r, 12, 0.4))
	case 404:
		replyJSON(rec, 404, errJSON("not_found", "resource not found"), latency(r, 10, 0.4))
	case 429:
		rec.Response.Headers = map[string]string{"retry-after": "30"}
		replyJSON(rec, 429, errJSON("rate_limited", "too many requests"), latency(r, 3, 0.3))
		rec.Response.Headers["retry-after"] = "30"
	case 502, 503, 504:
		replyJSON(rec, status, errJSON("upstream_unavailable", "try again later"), latency(r, 3000, 0.5))
	default:
		replyJSON(rec, status, errJSON("error", "internal error"), latency(r, 200, 0.6))
	}
}

// retryOf copies a request for a client retry at t (same headers, so the
// same x-request-id); the caller sets the response.
func retryOf(rec *recT, t time.Time) *recT {
	c := *rec
	c.Time = t
	c.Request.Headers = make(map[string]string, len(rec.Request.Headers))
	for k, v := range rec.Request.Headers {
		c.Request.Headers[k] = v
	}
	c.Response = exchange.Response{}
	return &c
}

// serverError returns a 5xx status with a small probability (p), else 0.
func serverError(r *rand.Rand, p float64) int {
	if !chance(r, p) {
		return 0
	}
	return pick(r, []int{500, 502, 503, 504})
}

// spawner starts sessions as a Poisson process whose rate follows the
// diurnal curve (thinning), at perHour sessions per hour at peak.
type spawner struct {
	perHour float64
	floor   float64 // minimum relative load (hospitals never sleep)
	start   func(g *gen, now time.Time)
}

func (s *spawner) rate(t time.Time) float64 { return max(diurnal(t), s.floor) }

func (s *spawner) step(g *gen, now time.Time) (time.Time, bool) {
	s.start(g, now)
	maxRate := s.perHour / 3600 * 1.05 // peak relative load ≤ 1.05
	t := now
	for {
		t = t.Add(time.Duration(g.r.ExpFloat64() / maxRate * float64(time.Second)))
		if !t.Before(g.end) {
			return t, false
		}
		if g.r.Float64()*1.05 < s.rate(t) {
			return t, true
		}
	}
}

// every runs fn periodically from first, with jitter.
type every struct {
	period, jitter time.Duration
	fn             func(g *gen, now time.Time)
	r              *rand.Rand
}

func (e *every) step(g *gen, now time.Time) (time.Time, bool) {
	e.fn(g, now)
	next := now.Add(e.period)
	if e.jitter > 0 {
		next = next.Add(time.Duration(e.r.Int64N(int64(e.jitter))))
	}
	return next, true
}

// setupWorld builds the fixed populations.
func (g *gen) setupWorld() {
	g.lookalikes = g.cfg.Traps
	g.shop = newShopWorld(g)
	g.clinic = newClinicWorld(g)
	g.bank = newBankWorld(g)
	g.out = &outboundWorld{}
}

func scaled(base int, scale float64, floor int) int { return max(int(float64(base)*scale), floor) }

// setupBenign schedules the benign population.
func (g *gen) setupBenign() {
	s, v := g.cfg.Scale, g.cfg.Variant
	g.schedule(g.start, &spawner{perHour: 150 * s * or1(v.ShopRate), floor: 0, start: g.startShopSession})
	g.schedule(g.start, &spawner{perHour: 60 * s * or1(v.ClinicRate), floor: 0.25, start: g.startClinicianSession})
	g.schedule(g.start, &spawner{perHour: 25 * s * or1(v.ClinicRate), floor: 0, start: g.startPortalSession})
	g.schedule(g.start, &spawner{perHour: 90 * s * or1(v.BankRate), floor: 0, start: g.startBankSession})
	g.schedule(g.start.Add(20*time.Minute), &spawner{perHour: 3, floor: 0, start: g.startShopAdminSession})
	g.setupServices()
}
