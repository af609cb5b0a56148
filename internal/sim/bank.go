package sim

import (
	"math/rand/v2"
	"net/url"
	"strconv"
	"time"
)

type bankAccount struct {
	id   int
	iban string
	kind string
}

type bankCustomer struct {
	sub      string
	p        person
	accounts []bankAccount
	home, ua string
	cardLast []string
}

type bankWorld struct {
	customers []*bankCustomer
	accounts  []int // every account id, ascending (for the aggregator walk)
	payees    []string
}

func newBankWorld(g *gen) *bankWorld {
	r := g.stream("bank-world")
	w := &bankWorld{}
	n := scaled(1500, g.cfg.Scale*or1(g.cfg.Variant.BankCustomers), 60)
	id := 20_481_000
	for i := 0; i < n; i++ {
		c := &bankCustomer{sub: "cust-" + strconv.Itoa(880_000+i*3), p: newPerson(r, i+11), home: residentialIP(r), ua: pick(r, bankAppUAs)}
		for k := 0; k < 1+r.IntN(3); k++ {
			id += 1 + r.IntN(40) // sparse account numbers
			c.accounts = append(c.accounts, bankAccount{id: id, iban: iban(r), kind: pick(r, []string{"current", "savings", "joint"})})
			w.accounts = append(w.accounts, id)
		}
		c.cardLast = []string{c.p.Card}
		w.customers = append(w.customers, c)
	}
	for i := 0; i < 40; i++ {
		w.payees = append(w.payees, iban(r))
	}
	return w
}

func bankURL(path string, q url.Values) string {
	u := "https://" + BankHost + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

func (g *gen) bankToken(r *rand.Rand, sub string, now time.Time, life time.Duration) string {
	return mintJWT(r, "ES256", "bank-2026-q4", jwtClaims{Sub: sub, Iss: "https://login.bank.example.test", Aud: "bank-api",
		Iat: now, Exp: now.Add(life), Roles: []string{"customer"}, Scope: "accounts:read payments:write"})
}

func accountJSON(a bankAccount, c *bankCustomer) string {
	return newObj().i("id", int64(a.id)).s("iban", a.iban).s("type", a.kind).s("holder", c.p.First+" "+c.p.Last).
		f("balance", float64(a.id%100000)/7).s("currency", "EUR").String()
}

var counterparties = []string{"Grocer GmbH", "City Transit", "Streamflix", "Landlord Ltd", "Coffee Corner"}

var bookedDates = func() []string {
	var d []string
	for i := 1; i <= 15; i++ {
		d = append(d, "2026-11-"+pad(i, 2))
	}
	return d
}()

func transactionsJSON(r *rand.Rand, a bankAccount, payees []string, n int) string {
	items := list(n, func(i int, o *obj) {
		o.s("id", "tx_"+alnum(r, 14)).s("booked", bookedDates[i%15]).f("amount", -float64(r.IntN(30000))/100).
			s("counterparty", counterparties[r.IntN(len(counterparties))]).
			s("counterparty_iban", payees[(i+a.id)%len(payees)]).s("reference", "Ref "+digits(r, 8))
	})
	return newObj().i("account_id", int64(a.id)).raw("transactions", items).s("next_cursor", alnum(r, 20)).String()
}

type bankSession struct {
	c      *bankCustomer
	ip, ua string
	token  string
	exp    time.Time
	left   int
	linger bool // comes back after exp with the same token (Variant.LingeringTokens)
}

func (g *gen) startBankSession(_ *gen, now time.Time) {
	r := g.r
	c := g.bank.customers[int(float64(len(g.bank.customers))*r.Float64()*r.Float64())]
	s := &bankSession{c: c, ua: c.ua, left: 3 + r.IntN(6)}
	if chance(r, 0.5) {
		s.ip = carrierIP(r)
	} else {
		s.ip = c.home
	}
	if chance(r, 0.15) {
		s.ua = pick(r, browserUAs) // online banking in the browser
	}
	fail := chance(r, 0.05)
	rec := mk(r, now, srcBank, s.ip, s.ua, "POST", bankURL("/v1/auth/login", nil))
	body(rec, "application/json", newObj().s("username", c.p.Email).s("password", alnum(r, 14)).String())
	if fail {
		problem(rec, 401, r)
		g.emit(rec, nil)
		now = now.Add(thinkTime(r, 8*time.Second))
		rec = mk(r, now, srcBank, s.ip, s.ua, "POST", bankURL("/v1/auth/login", nil))
		body(rec, "application/json", newObj().s("username", c.p.Email).s("password", alnum(r, 14)).String())
	}
	life := g.cfg.Variant.bankLife()
	s.token, s.exp = g.bankToken(r, c.sub, now, life), now.Add(life)
	s.linger = g.lingers()
	replyJSON(rec, 200, newObj().s("access_token", s.token).i("expires_in", int64(life/time.Second)).bl("mfa_required", false).String(), latency(r, 180, 0.3))
	g.later(now, func(g *gen, _ time.Time) { g.emit(rec, nil) })
	if chance(r, 0.2) {
		phone := c.p.Phone
		g.later(now.Add(300*time.Millisecond), func(g *gen, t time.Time) {
			g.smsSend(g.r, t, phone, "Your BankApp sign-in code is "+digits(g.r, 6), "10.30.4.7")
		})
	}
	g.schedule(now.Add(thinkTime(r, 3*time.Second)), s)
}

func (s *bankSession) step(g *gen, now time.Time) (time.Time, bool) {
	r := g.r
	if s.left <= 0 {
		if s.linger {
			// The app comes back 5–12 minutes after the token expired and
			// keeps using it; the API answers (it enforces exp late).
			s.linger, s.left = false, 1+r.IntN(3)
			return s.exp.Add(5*time.Minute + time.Duration(r.Int64N(int64(7*time.Minute)))), true
		}
		return now, false
	}
	s.left--
	c := s.c
	a := pick(r, c.accounts)
	var rec *recT
	switch x := r.IntN(100); {
	case x < 22:
		rec = mk(r, now, srcBank, s.ip, s.ua, "GET", bankURL("/v1/accounts", nil))
		items := make([]string, 0, len(c.accounts))
		for _, a := range c.accounts {
			items = append(items, accountJSON(a, c))
		}
		replyJSON(rec, 200, newObj().raw("items", arr(items)).String(), latency(r, 70, 0.4))
	case x < 37:
		rec = mk(r, now, srcBank, s.ip, s.ua, "GET", bankURL("/v1/accounts/"+strconv.Itoa(a.id), nil))
		replyJSON(rec, 200, accountJSON(a, c), latency(r, 40, 0.4))
	case x < 65:
		q := url.Values{"limit": {"50"}}
		if chance(r, 0.3) {
			q.Set("cursor", alnum(r, 20))
		}
		rec = mk(r, now, srcBank, s.ip, s.ua, "GET", bankURL("/v1/accounts/"+strconv.Itoa(a.id)+"/transactions", q))
		if st := serverError(r, 0.005); st != 0 {
			problem(rec, st, r)
			// The app retries once after a back-off, with the same request id.
			retry := retryOf(rec, now.Add(time.Duration(1500+r.IntN(2000))*time.Millisecond))
			replyJSON(retry, 200, transactionsJSON(r, a, g.bank.payees, 50), latency(r, 160, 0.45))
			g.later(retry.Time, func(g *gen, _ time.Time) { g.emit(retry, nil) })
		} else {
			replyJSON(rec, 200, transactionsJSON(r, a, g.bank.payees, 50), latency(r, 160, 0.45))
		}
	case x < 73:
		rec = mk(r, now, srcBank, s.ip, s.ua, "GET", bankURL("/v1/cards", nil))
		replyJSON(rec, 200, newObj().raw("items", arr([]string{newObj().s("card_id", "card_"+strconv.Itoa(a.id)).s("number", maskCard(c.p.Card)).s("status", "active").String()})).String(), latency(r, 35, 0.4))
	case x < 81:
		rec = mk(r, now, srcBank, s.ip, s.ua, "POST", bankURL("/v1/transfers", nil))
		to := pick(r, g.bank.payees)
		body(rec, "application/json", newObj().i("from_account", int64(a.id)).s("to_iban", to).s("to_name", pick(r, lastNames)+" Ltd").
			f("amount", float64(1000+r.IntN(90000))/100).s("currency", "EUR").s("reference", "Invoice "+digits(r, 6)).String())
		if chance(r, 0.04) {
			replyJSON(rec, 422, errJSON("insufficient_funds", "balance too low"), latency(r, 90, 0.3))
		} else {
			replyJSON(rec, 201, newObj().s("transfer_id", "tr_"+alnum(r, 16)).s("status", "pending").String(), latency(r, 260, 0.35))
		}
	case x < 87:
		rec = mk(r, now, srcBank, s.ip, s.ua, "GET", bankURL("/v1/statements", url.Values{"account_id": {strconv.Itoa(a.id)}}))
		replyJSON(rec, 200, `{"items":[{"id":"st_2026_10","period":"2026-10"},{"id":"st_2026_09","period":"2026-09"}]}`, latency(r, 50, 0.4))
	case x < 92:
		// Statement PDFs are large for everyone (a trap for payload.large_response).
		rec = mk(r, now, srcBank, s.ip, s.ua, "GET", bankURL("/v1/statements/st_2026_"+pad(1+r.IntN(10), 2)+"/pdf", url.Values{"account_id": {strconv.Itoa(a.id)}}))
		replySized(rec, 200, "application/pdf", "", int64(1_200_000+r.IntN(3_800_000)), latency(r, 900, 0.4))
		rec.Request.Headers["accept"] = "application/pdf"
		bearer(rec, s.token)
		g.emit(rec, g.trapStatements)
		return now.Add(thinkTime(r, 12*time.Second)), true
	default:
		rec = mk(r, now, srcBank, s.ip, s.ua, "GET", bankURL("/v1/fx/rates", url.Values{"base": {"EUR"}}))
		replyJSON(rec, 200, `{"base":"EUR","rates":{"USD":1.0842,"GBP":0.8391,"CHF":0.9412,"JPY":163.21}}`, latency(r, 15, 0.3))
	}
	bearer(rec, s.token)
	g.emit(rec, nil)
	return now.Add(thinkTime(r, 12*time.Second)), true
}
