package sim

import (
	"math/rand/v2"
	"net/url"
	"strconv"
	"strings"
	"time"
)

type shopUser struct {
	id     int
	sub    string
	p      person
	home   string
	mobile bool   // uses the mobile app (JWT) rather than the web front-end (cookie)
	sid    string // the web front-end's remember-me session cookie
	ua     string
	orders []int
}

type product struct {
	sku, name, cat string
	price          float64
	html           bool
}

type shopWorld struct {
	users     []*shopUser
	products  []product
	nextOrder int
	admins    []string // admin subs
}

var shopCats = []string{"furniture", "kitchen", "garden", "lighting", "textiles", "toys", "books", "electronics"}
var catCode = map[string]string{"furniture": "FUR", "kitchen": "KIT", "garden": "GRD", "lighting": "LGT", "textiles": "TXT", "toys": "TOY", "books": "BKS", "electronics": "ELC"}
var adjectives = []string{"Oak", "Walnut", "Linen", "Ceramic", "Brass", "Woven", "Nordic", "Vintage", "Compact", "Deluxe"}
var nouns = map[string][]string{
	"furniture": {"Dining Table", "Drop-Leaf Table", "Bookshelf", "Armchair", "Bench"}, "kitchen": {"Chef Knife", "Dutch Oven", "Kettle", "Mug Set"},
	"garden": {"Planter", "Hose Reel", "Lounger"}, "lighting": {"Floor Lamp", "Pendant", "Desk Lamp"}, "textiles": {"Throw", "Cushion", "Rug"},
	"toys": {"Puzzle", "Train Set", "Kite"}, "books": {"Cookbook", "Atlas", "Field Guide"}, "electronics": {"Speaker", "Charger", "Headphones"},
}

func newShopWorld(g *gen) *shopWorld {
	r := g.stream("shop-world")
	w := &shopWorld{nextOrder: 7_300_000}
	for i := 0; i < 420; i++ {
		c := shopCats[i%len(shopCats)]
		w.products = append(w.products, product{
			sku:  catCode[c] + "-" + pad(10000+r.IntN(89999), 5),
			name: pick(r, adjectives) + " " + pick(r, nouns[c]), cat: c,
			price: float64(5+r.IntN(600)) - 0.01, html: chance(r, 0.3)})
	}
	n := scaled(2500, g.cfg.Scale*or1(g.cfg.Variant.ShopUsers), 60)
	if sm := g.cfg.Variant.Small; sm != nil {
		n = sm.Customers // a small deployment: exactly its customers
	}
	for i := 0; i < n; i++ {
		u := &shopUser{id: 100_000 + i*7 + r.IntN(7), p: newPerson(r, i), mobile: chance(r, 0.55)}
		u.sub = "user-" + strconv.Itoa(u.id)
		u.home = residentialIP(r)
		u.sid = alnum(r, 32)
		if u.mobile {
			u.ua = pick(r, shopAppUAs)
		} else {
			u.ua = pick(r, browserUAs)
		}
		w.users = append(w.users, u)
	}
	w.admins = []string{"admin-mhernandez", "admin-tnakamura", "admin-sokafor"}
	g.featuredBody = newObj().raw("items", list(8, func(i int, o *obj) { productInto(o, w.products[i*13], false) })).String()
	return w
}

// pickUser draws users with a skew: a minority of users makes most sessions.
func (w *shopWorld) pickUser(r *rand.Rand) *shopUser {
	n := len(w.users)
	i := int(float64(n) * r.Float64() * r.Float64())
	return w.users[i]
}

func shopURL(path string, q url.Values) string {
	u := "https://" + ShopHost + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

func (g *gen) shopToken(r *rand.Rand, sub string, now time.Time, roles []string, life time.Duration) string {
	return mintJWT(r, "RS256", "shop-2026-10", jwtClaims{Sub: sub, Iss: "https://auth.shop.example.test", Aud: "shop-api",
		Iat: now, Exp: now.Add(life), Roles: roles, Scope: "catalog:read orders:read orders:write profile"})
}

type shopSession struct {
	u       *shopUser
	ip, ua  string
	token   string
	tokExp  time.Time
	cookie  string
	left    int
	cart    []string
	page    int
	cat     string
	loginOK bool
	sc      *scenState // a trap this session belongs to (NAT users)
	linger  bool       // comes back after exp with the same token (Variant.LingeringTokens)
	late    bool       // … and is now back (no refresh)
}

func (g *gen) startShopSession(_ *gen, now time.Time) {
	r := g.r
	u := g.shop.pickUser(r)
	left := 3 + int(r.ExpFloat64()*9)
	var ip string
	switch {
	case u.mobile && chance(r, 0.6):
		ip = carrierIP(r)
	case chance(r, 0.1):
		ip = residentialIP(r) // travelling, a café
	default:
		ip = u.home
	}
	g.openShopSession(u, ip, left, now)
}

// openShopSession starts a session of user u from address ip, of left
// steps.
func (g *gen) openShopSession(u *shopUser, ip string, left int, now time.Time) {
	r := g.r
	s := &shopSession{u: u, ua: u.ua, ip: ip, left: left}
	if u.mobile {
		life := g.cfg.Variant.shopLife()
		s.token = g.shopToken(r, u.sub, now, []string{"customer"}, life)
		s.tokExp = now.Add(life)
		s.loginOK = true
		s.linger = g.lingers()
		// The app refreshes its token when a session starts.
		rec := mk(r, now, srcShop, s.ip, s.ua, "POST", shopURL("/v1/auth/refresh", nil))
		body(rec, "application/json", newObj().s("refresh_token", "rt_"+alnum(r, 32)).String())
		replyJSON(rec, 200, newObj().s("access_token", s.token).s("token_type", "Bearer").i("expires_in", int64(life/time.Second)).String(), latency(r, 45, 0.3))
		g.emit(rec, nil)
		g.schedule(now.Add(thinkTime(r, 2*time.Second)), s)
		return
	}
	g.schedule(now, s)
}

func (s *shopSession) authorize(g *gen, rec *recT) {
	if s.token != "" {
		bearer(rec, s.token)
	} else if s.cookie != "" {
		rec.Request.Headers["cookie"] = "sid=" + s.cookie + "; _ga=GA1.2." + strconv.Itoa(s.u.id) + ".1731715200"
	}
}

func (s *shopSession) step(g *gen, now time.Time) (time.Time, bool) {
	r := g.r
	if s.left <= 0 {
		if s.linger && s.token != "" {
			// The app comes back 5–12 minutes after its token expired and
			// keeps using it; the API answers (it enforces exp late).
			s.linger, s.late, s.left = false, true, 1+r.IntN(3)
			return s.tokExp.Add(5*time.Minute + time.Duration(r.Int64N(int64(7*time.Minute)))), true
		}
		return now, false
	}
	s.left--
	if s.token != "" && !s.late && now.After(s.tokExp.Add(-2*time.Minute)) {
		life := g.cfg.Variant.shopLife()
		s.token = g.shopToken(r, s.u.sub, now, []string{"customer"}, life)
		s.tokExp = now.Add(life)
	}
	w := g.shop
	x := r.IntN(100)
	needLogin := !s.loginOK && x >= 60
	switch {
	case needLogin:
		g.shopLogin(r, s, now)
	case x < 20:
		g.shopList(r, s, now)
	case x < 44:
		g.shopProduct(r, s, now, pick(r, w.products))
	case x < 58:
		g.shopSearch(r, s, now)
	case x < 62:
		rec := mk(r, now, srcShop, s.ip, s.ua, "GET", shopURL("/v1/products/featured", nil))
		s.authorize(g, rec)
		g.featuredReply(r, rec)
		g.emit(rec, s.sc)
	case x < 71:
		g.shopCartAdd(r, s, now)
	case x < 75:
		rec := mk(r, now, srcShop, s.ip, s.ua, "GET", shopURL("/v1/cart", nil))
		s.authorize(g, rec)
		items := make([]string, 0, len(s.cart))
		for _, sku := range s.cart {
			items = append(items, newObj().s("sku", sku).i("quantity", 1).String())
		}
		replyJSON(rec, 200, newObj().s("cart_id", "c_"+strconv.Itoa(s.u.id)).raw("items", arr(items)).String(), latency(r, 25, 0.4))
		g.emit(rec, s.sc)
	case x < 80:
		g.shopOrders(r, s, now)
	case x < 86:
		g.shopProfile(r, s, now)
	case x < 88:
		g.shopProfileUpdate(r, s, now)
	case x < 90:
		g.shopReview(r, s, now)
	case x < 91:
		rec := mk(r, now, srcShop, s.ip, s.ua, "POST", shopURL("/v1/newsletter/subscribe", nil))
		body(rec, "application/json", newObj().s("email", s.u.p.Email).String())
		replyJSON(rec, 202, `{"status":"pending_confirmation"}`, latency(r, 35, 0.3))
		g.emit(rec, s.sc)
	default:
		if len(s.cart) == 0 {
			g.shopCartAdd(r, s, now)
		} else {
			g.shopCheckout(r, s, now)
			s.left = min(s.left, 1)
		}
	}
	return now.Add(thinkTime(r, 7*time.Second)), true
}

func (g *gen) shopLogin(r *rand.Rand, s *shopSession, now time.Time) {
	fail := chance(r, 0.04)
	rec := mk(r, now, srcShop, s.ip, s.ua, "POST", shopURL("/v1/auth/login", nil))
	body(rec, "application/json", newObj().s("email", s.u.p.Email).s("password", alnum(r, 12)).String())
	if fail { // a typo, then the right password a few seconds later
		problem(rec, 401, r)
		g.emit(rec, s.sc)
		now = now.Add(thinkTime(r, 6*time.Second))
		rec = mk(r, now, srcShop, s.ip, s.ua, "POST", shopURL("/v1/auth/login", nil))
		body(rec, "application/json", newObj().s("email", s.u.p.Email).s("password", alnum(r, 12)).String())
	}
	s.cookie = s.u.sid
	replyJSON(rec, 200, newObj().s("user_id", strconv.Itoa(s.u.id)).s("name", s.u.p.First+" "+s.u.p.Last).String(), latency(r, 90, 0.3))
	rec.Response.Headers["set-cookie"] = "sid=" + s.cookie + "; Path=/; Secure; HttpOnly; SameSite=Lax"
	s.loginOK = true
	sc := s.sc
	g.later(rec.Time, func(g *gen, _ time.Time) { g.emit(rec, sc) })
}

func productJSON(p product, detail bool) *obj { return productInto(newObj(), p, detail) }

func productInto(o *obj, p product, detail bool) *obj {
	o.s("sku", p.sku).s("name", p.name).s("category", p.cat).f("price", p.price).s("currency", "USD")
	if detail {
		d := "Solid, durable and made to last. Dimensions on request."
		if p.html {
			d = "<p>Hand-finished <b>" + strings.ToLower(p.name) + "</b> &amp; matching care kit.</p><ul><li>Free returns</li><li>2-year warranty</li></ul>"
		}
		o.s("description", d).i("stock", int64(len(p.sku)*3)).raw("images", strArr([]string{"https://cdn.shop.example.test/img/" + p.sku + "-1.jpg", "https://cdn.shop.example.test/img/" + p.sku + "-2.jpg"}))
	}
	return o
}

func (g *gen) shopList(r *rand.Rand, s *shopSession, now time.Time) {
	if s.cat == "" || chance(r, 0.3) {
		s.cat, s.page = pick(r, shopCats), 1
	} else {
		s.page++ // next page
	}
	q := url.Values{"category": {s.cat}, "page": {strconv.Itoa(s.page)}, "limit": {"24"}}
	sc := s.sc
	if now.After(g.currencyParamAt) && chance(r, 0.85) {
		q.Set("currency", pick(r, []string{"EUR", "USD", "GBP"}))
		if sc == nil {
			sc = g.trapCurrency
		}
	}
	if chance(r, 0.2) {
		q.Set("sort", pick(r, []string{"price_asc", "price_desc", "newest", "rating"}))
	}
	rec := mk(r, now, srcShop, s.ip, s.ua, "GET", shopURL("/v1/products", q))
	s.authorize(g, rec)
	if st := serverError(r, 0.004); st != 0 {
		problem(rec, st, r)
		if chance(r, 0.7) { // the client retries the page
			retry := retryOf(rec, now.Add(time.Duration(800+r.IntN(1500))*time.Millisecond))
			replyJSON(retry, 200, `{"items":[],"page":`+strconv.Itoa(s.page)+`,"total":144}`, latency(r, 55, 0.45))
			g.later(retry.Time, func(g *gen, _ time.Time) { g.emit(retry, sc) })
		}
	} else {
		off := (s.page*24 + len(s.cat)) % len(g.shop.products)
		n := 24
		if s.page > 6 {
			n = 0
		}
		items := list(n, func(i int, o *obj) { productInto(o, g.shop.products[(off+i*8)%len(g.shop.products)], false) })
		replyJSON(rec, 200, newObj().raw("items", items).i("page", int64(s.page)).i("total", 6*24).String(), latency(r, 55, 0.45))
	}
	g.emit(rec, sc)
}

func (g *gen) featuredReply(r *rand.Rand, rec *recT) {
	replyJSON(rec, 200, g.featuredBody, latency(r, 18, 0.3))
}

func (g *gen) shopProduct(r *rand.Rand, s *shopSession, now time.Time, p product) {
	sku := p.sku
	missing := chance(r, 0.02)
	if missing {
		sku = catCode[p.cat] + "-" + pad(10000+r.IntN(89999), 5) // stale link
	}
	rec := mk(r, now, srcShop, s.ip, s.ua, "GET", shopURL("/v1/products/"+sku, nil))
	s.authorize(g, rec)
	if missing {
		problem(rec, 404, r)
	} else {
		replyJSON(rec, 200, productJSON(p, true).String(), latency(r, 35, 0.4))
	}
	g.emit(rec, s.sc)
}

var searchTerms = []string{"oak table", "lamp", "rug", "kettle", "dining chairs", "garden bench", "speaker", "cookbook", "linen throw",
	"desk lamp", "kids puzzle", "train set", "pendant light", "brass", "mug set", "headphones wireless", "planter large"}

// lookalikeSearches are benign searches that resemble injection payloads.
var lookalikeSearches = []string{"select chairs", "drop leaf table", "union jack cushion", "O'Reilly cookbook", "rock & roll poster",
	"table; chairs", "<3 mug", "1=1 puzzle", "script writing kit", "../ sale", "where to buy oak", "delete stains spray",
	"cat /etc cookbook", "{{kids}} party set", "wood & brass | lamp", "ping pong table", "\"dining table\" -round"}

func (g *gen) shopSearch(r *rand.Rand, s *shopSession, now time.Time) {
	term := pick(r, searchTerms)
	var sc *scenState = s.sc
	if g.lookalikes && chance(r, 0.06) {
		term = pick(r, lookalikeSearches)
		if g.trapLookalike != nil && sc == nil {
			sc = g.trapLookalike
		}
	}
	q := url.Values{"q": {term}}
	if now.After(g.currencyParamAt) && chance(r, 0.85) {
		q.Set("currency", pick(r, []string{"EUR", "USD", "GBP"}))
	}
	rec := mk(r, now, srcShop, s.ip, s.ua, "GET", shopURL("/v1/search", q))
	s.authorize(g, rec)
	ms := heavyTail(r)
	if ms >= 1000 && sc == nil {
		sc = g.trapSearch
	}
	if ms > 10000 {
		problem(rec, 504, r)
		rec.DurationMs = ms
	} else {
		items := list(10, func(i int, o *obj) { productInto(o, g.shop.products[(len(term)*31+i*17)%len(g.shop.products)], false) })
		replyJSON(rec, 200, newObj().s("query", term).raw("results", items).String(), ms)
	}
	g.emit(rec, sc)
}

func (g *gen) shopCartAdd(r *rand.Rand, s *shopSession, now time.Time) {
	p := pick(r, g.shop.products)
	rec := mk(r, now, srcShop, s.ip, s.ua, "POST", shopURL("/v1/cart/items", nil))
	s.authorize(g, rec)
	body(rec, "application/json", newObj().s("sku", p.sku).i("quantity", int64(1+r.IntN(3))).String())
	s.cart = append(s.cart, p.sku)
	replyJSON(rec, 201, newObj().s("cart_id", "c_"+strconv.Itoa(s.u.id)).i("items", int64(len(s.cart))).String(), latency(r, 30, 0.4))
	g.emit(rec, s.sc)
}

func (g *gen) shopCheckout(r *rand.Rand, s *shopSession, now time.Time) {
	u := s.u
	rec := mk(r, now, srcShop, s.ip, s.ua, "POST", shopURL("/v1/checkout", nil))
	s.authorize(g, rec)
	addr := newObj().s("name", u.p.First+" "+u.p.Last).s("street", u.p.Street).s("city", u.p.City).s("postcode", u.p.Zip).s("country", u.p.Country).String()
	b := newObj().s("cart_id", "c_"+strconv.Itoa(u.id)).raw("shipping_address", addr)
	raw := !u.mobile && chance(r, 0.5) // the legacy web checkout posts the card
	if raw {
		b.raw("payment", newObj().s("card_number", u.p.Card).s("exp", "0"+strconv.Itoa(1+r.IntN(9))+"/2"+strconv.Itoa(7+r.IntN(3))).s("cvc", digits(r, 3)).s("holder", u.p.First+" "+u.p.Last).String())
	} else {
		b.s("payment_method", "pm_"+alnum(r, 24))
	}
	body(rec, "application/json", b.String())
	total := float64(len(s.cart))*49.5 + float64(r.IntN(100))
	declined := chance(r, 0.03)
	if declined {
		replyJSON(rec, 402, errJSON("card_declined", "the card was declined"), latency(r, 800, 0.3))
	} else {
		g.shop.nextOrder += 1 + r.IntN(4)
		id := g.shop.nextOrder
		u.orders = append(u.orders, id)
		if len(u.orders) > 12 {
			u.orders = u.orders[1:]
		}
		replyJSON(rec, 201, newObj().i("order_id", int64(id)).s("status", "confirmed").f("total", total).s("card", maskCard(u.p.Card)).String(), latency(r, 650, 0.35))
		s.cart = nil
	}
	g.emit(rec, s.sc)
	if g.cfg.Variant.Small != nil {
		return // a small deployment's capture holds the shop's inbound traffic only
	}
	// Our payment service charges the card at the processor, then texts the customer.
	g.later(now.Add(40*time.Millisecond), func(g *gen, t time.Time) { g.payprocCharge(g.r, t, u, total, raw, declined) })
	if !declined {
		g.later(now.Add(900*time.Millisecond), func(g *gen, t time.Time) {
			g.smsSend(g.r, t, u.p.Phone, "Your order is confirmed. Track it in the app.", "10.30.2.7")
		})
	}
}

func orderJSON(r *rand.Rand, id int, u *shopUser) string {
	return newObj().i("order_id", int64(id)).s("status", pick(r, []string{"shipped", "delivered", "processing"})).f("total", float64(20+id%300)+0.99).
		s("email", u.p.Email).raw("shipping_address", newObj().s("name", u.p.First+" "+u.p.Last).s("street", u.p.Street).s("city", u.p.City).s("postcode", u.p.Zip).String()).
		s("card", maskCard(u.p.Card)).String()
}

func (g *gen) shopOrders(r *rand.Rand, s *shopSession, now time.Time) {
	u := s.u
	if len(u.orders) > 0 && chance(r, 0.6) {
		id := pick(r, u.orders)
		rec := mk(r, now, srcShop, s.ip, s.ua, "GET", shopURL("/v1/orders/"+strconv.Itoa(id), nil))
		s.authorize(g, rec)
		replyJSON(rec, 200, orderJSON(r, id, u), latency(r, 40, 0.4))
		g.emit(rec, s.sc)
		return
	}
	rec := mk(r, now, srcShop, s.ip, s.ua, "GET", shopURL("/v1/orders", url.Values{"page": {"1"}, "limit": {"10"}}))
	s.authorize(g, rec)
	items := make([]string, 0, len(u.orders))
	for _, id := range u.orders {
		items = append(items, newObj().i("order_id", int64(id)).s("status", "delivered").String())
	}
	replyJSON(rec, 200, newObj().raw("items", arr(items)).i("page", 1).String(), latency(r, 45, 0.4))
	g.emit(rec, s.sc)
}

// userJSON is the profile. After the "pay-later" release (exposureAt) it
// carries the SSN and the full card number: data.sensitive_exposure.
func (g *gen) userJSON(u *shopUser, now time.Time) string {
	o := newObj().i("id", int64(u.id)).s("email", u.p.Email).s("first_name", u.p.First).s("last_name", u.p.Last).s("phone", u.p.Phone).
		raw("address", newObj().s("street", u.p.Street).s("city", u.p.City).s("postcode", u.p.Zip).s("country", u.p.Country).String()).
		s("default_card", maskCard(u.p.Card)).s("member_since", "2023-0"+strconv.Itoa(1+u.id%9)+"-14")
	if !now.Before(g.exposureAt) {
		o.raw("financing", newObj().s("ssn", u.p.SSN).s("date_of_birth", u.p.DOB).s("card_number", u.p.Card).s("status", "eligible").String())
	}
	return o.String()
}

func (g *gen) shopProfile(r *rand.Rand, s *shopSession, now time.Time) {
	rec := mk(r, now, srcShop, s.ip, s.ua, "GET", shopURL("/v1/users/"+strconv.Itoa(s.u.id), nil))
	s.authorize(g, rec)
	replyJSON(rec, 200, g.userJSON(s.u, now), latency(r, 30, 0.4))
	g.emit(rec, g.exposureScenario(now, s.sc, g.scExposure))
}

func (g *gen) exposureScenario(now time.Time, sc, exp *scenState) *scenState {
	if sc == nil && exp != nil && !now.Before(g.exposureAt) {
		return exp
	}
	return sc
}

func (g *gen) shopProfileUpdate(r *rand.Rand, s *shopSession, now time.Time) {
	u := s.u
	if chance(r, 0.3) { // new avatar from the image CDN
		rec := mk(r, now, srcShop, s.ip, s.ua, "POST", shopURL("/v1/users/"+strconv.Itoa(u.id)+"/avatar", nil))
		s.authorize(g, rec)
		body(rec, "application/json", newObj().s("image_url", "https://images.cdn.example.com/u/"+hexStr(r, 12)+".jpg").String())
		replyJSON(rec, 200, newObj().s("avatar", "https://cdn.shop.example.test/avatars/"+strconv.Itoa(u.id)+".jpg").String(), latency(r, 400, 0.5))
		g.emit(rec, s.sc)
		return
	}
	rec := mk(r, now, srcShop, s.ip, s.ua, "PATCH", shopURL("/v1/users/"+strconv.Itoa(u.id), nil))
	s.authorize(g, rec)
	b := newObj().s("phone", u.p.Phone)
	if chance(r, 0.5) {
		b.raw("address", newObj().s("street", u.p.Street).s("city", u.p.City).s("postcode", u.p.Zip).s("country", u.p.Country).String())
	}
	if chance(r, 0.3) {
		b.s("last_name", u.p.Last)
	}
	body(rec, "application/json", b.String())
	replyJSON(rec, 200, g.userJSON(u, now), latency(r, 60, 0.4))
	g.emit(rec, g.exposureScenario(now, s.sc, g.scExposurePatch))
	if g.cfg.Variant.Small == nil {
		g.later(now.Add(120*time.Millisecond), func(g *gen, t time.Time) { g.geocode(g.r, t, u.p.Street+", "+u.p.City, "10.30.3.9") })
	}
}

var reviewTexts = []string{"Great quality, arrived on time.", "Smaller than expected but nice.", "Five stars, would buy again!",
	"Colour is a bit off compared to the photos.", "Sturdy and easy to assemble."}

// lookalikeReviews are benign texts that contain markup or SQL-ish words.
var lookalikeReviews = []string{"Bought 2 <3 they're great & cheap", "Select this one, not the cheaper one!", "Drop-leaf works; table is solid",
	"The <b>best</b> lamp I've had", "Rated 5/5 -- OR better if it had a dimmer", "Customer since '09; still happy", "Assembly: insert tab A -> slot B, done",
	"Worth it = yes", "Kid said \"script\" on the box is cute"}

func (g *gen) shopReview(r *rand.Rand, s *shopSession, now time.Time) {
	p := pick(r, g.shop.products)
	text := pick(r, reviewTexts)
	sc := s.sc
	if g.lookalikes && chance(r, 0.4) {
		text = pick(r, lookalikeReviews)
		if sc == nil {
			sc = g.trapLookalike
		}
	}
	rec := mk(r, now, srcShop, s.ip, s.ua, "POST", shopURL("/v1/reviews", nil))
	s.authorize(g, rec)
	body(rec, "application/json", newObj().s("sku", p.sku).i("rating", int64(3+r.IntN(3))).s("title", pick(r, []string{"Love it", "OK", "Good value", "Meh"})).s("text", text).s("author", s.u.p.First+" "+s.u.p.Last).String())
	replyJSON(rec, 201, newObj().s("review_id", "rv_"+alnum(r, 10)).s("status", "published").String(), latency(r, 70, 0.4))
	g.emit(rec, sc)
}

// ---- shop administrators (internal network, business hours) ----

type shopAdminSession struct {
	sub, ip, token string
	left           int
}

func (g *gen) startShopAdminSession(_ *gen, now time.Time) {
	r := g.r
	if h := now.Hour(); h < 8 || h >= 19 {
		return
	}
	i := r.IntN(len(g.shop.admins))
	s := &shopAdminSession{sub: g.shop.admins[i], ip: "10.10.4." + strconv.Itoa(21+i), left: 3 + r.IntN(6)}
	s.token = g.shopToken(r, s.sub, now, []string{"admin", "customer"}, 8*time.Hour)
	g.schedule(now, s)
}

func (s *shopAdminSession) step(g *gen, now time.Time) (time.Time, bool) {
	r := g.r
	if s.left <= 0 {
		return now, false
	}
	s.left--
	ua := browserUAs[0]
	var rec *recT
	var sc *scenState
	switch x := r.IntN(100); {
	case x < 35:
		rec = mk(r, now, srcShop, s.ip, ua, "GET", shopURL("/v1/admin/orders", url.Values{"status": {"pending"}, "page": {"1"}}))
		items := make([]string, 0, 20)
		for i := 0; i < 20; i++ {
			u := g.shop.users[(i*37+now.Minute())%len(g.shop.users)]
			items = append(items, newObj().i("order_id", int64(g.shop.nextOrder-i*3)).s("email", u.p.Email).s("status", "pending").String())
		}
		replyJSON(rec, 200, newObj().raw("items", arr(items)).String(), latency(r, 120, 0.4))
	case x < 55:
		rec = mk(r, now, srcShop, s.ip, ua, "POST", shopURL("/v1/admin/refunds", nil))
		body(rec, "application/json", newObj().i("order_id", int64(g.shop.nextOrder-r.IntN(500))).f("amount", float64(10+r.IntN(200))).s("reason", "damaged_in_transit").String())
		replyJSON(rec, 201, newObj().s("refund_id", "rf_"+alnum(r, 12)).s("status", "issued").String(), latency(r, 300, 0.3))
	case x < 80:
		p := pick(r, g.shop.products)
		rec = mk(r, now, srcShop, s.ip, ua, "PUT", shopURL("/v1/admin/products/"+p.sku, nil))
		desc := "Updated stock and dimensions."
		if g.lookalikes {
			desc = "<p>Hand-finished <b>" + strings.ToLower(p.name) + "</b> &amp; care kit.</p><ul><li>Width: 120cm</li><li>Delivery: 3-5 days</li></ul><a href=\"/v1/products/" + p.sku + "\">details</a>"
			sc = g.trapAdminHTML
		}
		body(rec, "application/json", newObj().s("name", p.name).f("price", p.price).s("description", desc).String())
		replyJSON(rec, 200, productJSON(p, true).String(), latency(r, 90, 0.3))
	case x < 92:
		rec = mk(r, now, srcShop, s.ip, ua, "GET", shopURL("/v1/admin/webhooks", nil))
		replyJSON(rec, 200, `{"items":[{"id":"wh_orders","url":"https://hooks.shop.example.test/orders","events":["order.created"]}]}`, latency(r, 25, 0.3))
	case x < 97:
		target := "https://hooks.shop.example.test/orders"
		if g.lookalikes {
			target = pick(r, []string{"http://10.20.4.15:8080/hooks/orders", "http://fulfilment.internal:9000/events", "http://192.168.40.12/erp/webhook"})
			sc = g.trapWebhook
		}
		rec = mk(r, now, srcShop, s.ip, ua, "POST", shopURL("/v1/admin/webhooks", nil))
		body(rec, "application/json", newObj().s("url", target).raw("events", `["order.created","order.refunded"]`).s("secret", "whsec_"+alnum(r, 24)).String())
		replyJSON(rec, 201, newObj().s("id", "wh_"+alnum(r, 8)).s("status", "active").String(), latency(r, 80, 0.3))
	default:
		u := pick(r, g.shop.users)
		rec = mk(r, now, srcShop, s.ip, ua, "DELETE", shopURL("/v1/admin/users/"+strconv.Itoa(u.id), nil))
		replyJSON(rec, 204, "", latency(r, 150, 0.3))
		rec.Response.Headers = map[string]string{}
	}
	bearer(rec, s.token)
	g.emit(rec, sc)
	return now.Add(thinkTime(r, 40*time.Second)), true
}
