package sim

import (
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Small is a small deployment (issue 14): the shop API alone with a
// handful of clients, each on its own address, instead of the four
// systems. Its attacks are those such a shop sees (a scanner, a spray,
// password guessing, a customer walking other customers' orders, a stolen
// token, an export, an injection, a customer on the admin API, a
// scraper), timed in hours of 48 like the big world's and scaled to the
// capture's length — most land while every population baseline is still
// learning. Its traps are the shop's look-alikes (searches and reviews
// that look like injection, administrators' HTML and internal webhooks,
// the search latency tail) and, with an integration, an order-sync client
// that walks the order book by id and makes most of the traffic.
type Small struct {
	Customers       int     `json:"customers"`                   // customers, each on its own residential address (1–5)
	Admin           bool    `json:"admin,omitempty"`             // one administrator on the internal network (business hours)
	Integration     float64 `json:"integration,omitempty"`       // an order-sync integration making about this share of the requests (0: none)
	Scanner         bool    `json:"scanner,omitempty"`           // a web scanner probing for sensitive files (one address, mostly 404)
	SessionsPerHour float64 `json:"sessions_per_hour,omitempty"` // per customer at the daily peak (0 = 4)
}

// Addresses of the small deployment's fixed clients.
const (
	smallAdminIP   = "10.10.4.21"
	smallSyncIP    = "192.0.2.60"
	smallScannerIP = "45.148.10.77"
)

// setupSmall builds the small deployment: world, benign clients, traps
// and attacks (Config.Traps and Config.Attacks apply).
func (g *gen) setupSmall() {
	sm := g.cfg.Variant.Small
	g.lookalikes = g.cfg.Traps
	g.shop = newShopWorld(g)
	g.shop.admins = g.shop.admins[:1]
	for i, u := range g.shop.users {
		u.mobile = i%2 == 0
		if u.mobile {
			u.ua = shopAppUAs[i%len(shopAppUAs)]
		} else {
			u.ua = browserUAs[i%len(browserUAs)]
		}
		// Past orders, so that the order book exists from the start.
		for k := 0; k < 8; k++ {
			g.shop.nextOrder += 1 + k%3
			u.orders = append(u.orders, g.shop.nextOrder)
		}
	}
	if g.cfg.Traps {
		g.shopTraps()
	}
	rate := sm.SessionsPerHour
	if rate == 0 {
		rate = 4
	}
	for _, u := range g.shop.users {
		u := u
		g.schedule(g.start, &spawner{perHour: rate * g.cfg.Scale, floor: 0.15, start: func(g *gen, now time.Time) {
			g.openShopSession(u, u.home, 3+int(g.r.ExpFloat64()*9), now)
		}})
	}
	if sm.Admin {
		g.schedule(g.start.Add(5*time.Minute), &spawner{perHour: 4, floor: 0, start: g.startShopAdminSession})
	}
	if sm.Integration > 0 {
		g.smallIntegration(sm.Integration, rate*g.cfg.Scale)
	}
	if g.cfg.Attacks {
		g.smallAttacks()
	}
}

// smallIntegration is the order-sync integration: every two minutes it
// lists the orders updated lately and reads a slice of the order book by
// id (the whole book about every hour), with an API key from a partner
// address. share is its target share of the requests; customerRate the
// customers' session rate at peak.
func (g *gen) smallIntegration(share, customerRate float64) {
	// Customers make ≈ 12 requests per session at a mean relative load of
	// ≈ 0.5 of the peak; the administrator ≈ 6 per session, 4 sessions an
	// hour during business hours.
	others := float64(len(g.shop.users))*customerRate*12*0.5 + 4*6*0.45
	perRun := int(share/(1-share)*others/30 + 0.5) // 30 runs an hour
	if perRun < 2 {
		perRun = 2
	}
	var sc *scenState
	if g.cfg.Traps {
		sc = g.trap("order-sync-integration", "client", ShopHost, "GET", "/v1/orders/{orderId}",
			"An order-sync integration (API key, "+smallSyncIP+") lists the orders updated lately and reads the order book by id every two minutes — the whole book about every hour; it makes most of the deployment's requests.",
			"bola.param_enumeration", "traffic.client_spike", "traffic.identity_spike", "traffic.endpoint_spike", "recon.endpoint_spray", "payload.large_response")
		sc.ClientIPs, sc.fixedIP, sc.Identity = []string{smallSyncIP}, true, "shop…"
	}
	r := g.stream("small-integration")
	next := 0
	const ua = "order-sync/2.4 (Java/21.0.5) okhttp/4.12.0"
	g.schedule(g.start.Add(45*time.Second), &every{period: 2 * time.Minute, jitter: 5 * time.Second, r: r, fn: func(g *gen, now time.Time) {
		var book []int
		var owner []*shopUser
		for _, u := range g.shop.users {
			for _, id := range u.orders {
				book, owner = append(book, id), append(owner, u)
			}
		}
		rec := mk(r, now, srcShop, smallSyncIP, ua, "GET", shopURL("/v1/orders", url.Values{"updated_since": {now.Add(-2 * time.Minute).Format(time.RFC3339)}, "limit": {"100"}}))
		rec.Request.Headers["x-api-key"] = "shop_sync_3c9e71d2a4b8"
		replyJSON(rec, 200, `{"items":[],"page":1}`, latency(r, 60, 0.4))
		g.emit(rec, sc)
		for k := 0; k < perRun && len(book) > 0; k++ {
			i := next % len(book)
			next++
			at := now.Add(time.Duration(k+1) * 300 * time.Millisecond)
			rec := mk(r, at, srcShop, smallSyncIP, ua, "GET", shopURL("/v1/orders/"+strconv.Itoa(book[i]), nil))
			rec.Request.Headers["x-api-key"] = "shop_sync_3c9e71d2a4b8"
			replyJSON(rec, 200, orderJSON(r, book[i], owner[i]), latency(r, 40, 0.4))
			g.later(at, func(g *gen, _ time.Time) { g.emit(rec, sc) })
		}
	}})
}

// smallAttacks registers the small deployment's attacks. Hours are of
// 48, scaled to the capture (a 24 h capture: half; one hour: minutes ×
// 1.25).
func (g *gen) smallAttacks() {
	us := g.shop.users
	walker, victim, exporter := us[0], us[len(us)-1], us[len(us)/2]

	// A scanner probing for backups, configuration, VCS and admin paths.
	if g.cfg.Variant.Small.Scanner {
		probes := scannerProbes(ShopHost)
		g.attack(Scenario{Name: "scanner-sensitive-files", AlertType: "recon.endpoint_spray", Subject: "client", ClientIPs: []string{smallScannerIP},
			Host: ShopHost, Also: []string{"traffic.client_spike", "traffic.endpoint_spike"},
			Description: "A web scanner (browser user agent) makes " + strconv.Itoa(len(probes)) + " probes: first HEAD for backup archives, dumps, editor copies and configuration files named after the site, then GET for .env, .git, .svn and admin consoles; almost all 404, dotfiles 403."},
			4, len(probes), jitter(900*time.Millisecond, 0.5), func(g *gen, s *script, now time.Time) {
				p := probes[s.i]
				rec := mk(s.r, now, srcShop, smallScannerIP, browserUAs[0], p.method, shopURL(p.path, nil))
				rec.Request.Headers["accept"] = "*/*"
				st := 404
				if strings.Contains(p.path, "/.") && !strings.Contains(p.path, "/.well-known") {
					st = 403
				}
				reply(rec, st, "text/html", "", latency(s.r, 6, 0.3))
				if p.method == "GET" {
					reply(rec, st, "text/html", "<html><body><h1>Not Found</h1></body></html>", latency(s.r, 6, 0.3))
				}
				s.emit(g, rec)
			})
	}

	// SQL injection in the search.
	g.attack(Scenario{Name: "small-sqli-search", AlertType: "injection.sqli", Subject: "client", ClientIPs: []string{doc(150)},
		Host: ShopHost, Method: "GET", PathTemplate: "/v1/search",
		Description: "A visitor tries SQL injection in the search term: 10 payloads."},
		8, 10, jitter(20*time.Second, 0.5), func(g *gen, s *script, now time.Time) {
			ps := []string{"' OR '1'='1", "lamp' UNION SELECT username,password_hash,NULL FROM users--", "1; DROP TABLE orders;--",
				"furniture' AND SLEEP(5)--", "') OR ('a'='a", "1' ORDER BY 9--", "x' AND extractvalue(1,concat(0x7e,(SELECT @@version)))-- ",
				"' OR 1=1 LIMIT 1 OFFSET 2 -- -", "kitchen'/**/UnIoN/**/SeLeCt/**/1,2,3#", "\" OR \"\"=\""}
			rec := mk(s.r, now, srcShop, doc(150), browserUAs[2], "GET", shopURL("/v1/search", url.Values{"q": {ps[s.i%len(ps)]}}))
			replyJSON(rec, 200, `{"query":"","results":[]}`, latency(s.r, 60, 0.4))
			s.emit(g, rec)
		})

	// An API spray: guessed paths, almost all 404.
	var spray []string
	for _, p := range []string{"/v1/", "/api/", "/internal/"} {
		for _, w := range sprayWords[:40] {
			spray = append(spray, p+w)
		}
	}
	g.attack(Scenario{Name: "small-api-spray", AlertType: "recon.endpoint_spray", Subject: "client", ClientIPs: []string{doc(152)},
		Host: ShopHost, Also: []string{"param.unseen"},
		Description: "One address requests " + strconv.Itoa(len(spray)) + " guessed API paths in about six minutes; almost all 404."},
		12, len(spray), jitter(3*time.Second, 0.5), func(g *gen, s *script, now time.Time) {
			rec := mk(s.r, now, srcShop, doc(152), browserUAs[2], "GET", shopURL(spray[(s.i*37)%len(spray)], nil))
			problem(rec, 404, s.r)
			s.emit(g, rec)
		})

	// Password guessing on one customer's account.
	g.attack(Scenario{Name: "small-login-brute-force", AlertType: "auth.brute_force", Subject: "client", ClientIPs: []string{doc(151)},
		Host: ShopHost, Method: "POST", PathTemplate: "/v1/auth/login",
		Description: "120 failed logins on one customer's account from one address in six minutes."},
		16, 120, jitter(3*time.Second, 0.5), func(g *gen, s *script, now time.Time) {
			rec := mk(s.r, now, srcShop, doc(151), browserUAs[3], "POST", shopURL("/v1/auth/login", nil))
			body(rec, "application/json", newObj().s("email", victim.p.Email).s("password", alnum(s.r, 10)).String())
			problem(rec, 401, s.r)
			s.emit(g, rec)
		})

	// A customer walks other customers' orders by id (most ids do not
	// exist: the book is sparse).
	g.attack(Scenario{Name: "small-order-walk", AlertType: "bola.param_enumeration", Subject: "client", ClientIPs: []string{walker.home},
		Identity: walker.sub, Host: ShopHost, Method: "GET", PathTemplate: "/v1/orders/{orderId}",
		Also:        []string{"traffic.client_spike", "traffic.identity_spike"},
		Description: "A customer, with its own token from its home address, walks order ids downwards from the newest: 150 requests in about 12 minutes; most ids do not exist (404), the others are other customers' orders answered 200."},
		20, 150, jitter(5*time.Second, 0.4), func(g *gen, s *script, now time.Time) {
			id := g.shop.nextOrder - s.i
			rec := mk(s.r, now, srcShop, walker.home, walker.ua, "GET", shopURL("/v1/orders/"+strconv.Itoa(id), nil))
			bearer(rec, s.shopTok(g, walker.sub, now))
			if u := g.shop.orderOwner(id); u != nil {
				replyJSON(rec, 200, orderJSON(s.r, id, u), latency(s.r, 40, 0.4))
			} else {
				problem(rec, 404, s.r)
			}
			s.emit(g, rec)
		})

	// A customer's token stolen and used from many networks.
	thieves := make([]string, 0, 30)
	for i := 0; i < 30; i++ {
		thieves = append(thieves, "45.155."+strconv.Itoa(10+i)+"."+strconv.Itoa(20+i*3))
	}
	g.attack(Scenario{Name: "small-stolen-token", AlertType: "auth.token_reuse", Subject: "identity", ClientIPs: thieves,
		Identity: victim.sub, Host: ShopHost, Also: []string{"bola.param_enumeration", "traffic.identity_spike"},
		Description: "A customer's token is used from 30 addresses in 30 networks within half an hour (its owner keeps using it from home)."},
		24, 60, jitter(30*time.Second, 0.4), func(g *gen, s *script, now time.Time) {
			ip := thieves[(s.i/2)%len(thieves)]
			var rec *recT
			if s.i%2 == 0 {
				rec = mk(s.r, now, srcShop, ip, victim.ua, "GET", shopURL("/v1/orders", url.Values{"page": {"1"}, "limit": {"10"}}))
				replyJSON(rec, 200, `{"items":[],"page":1}`, latency(s.r, 45, 0.4))
			} else {
				rec = mk(s.r, now, srcShop, ip, victim.ua, "GET", shopURL("/v1/users/"+strconv.Itoa(victim.id), nil))
				replyJSON(rec, 200, g.userJSON(victim, now), latency(s.r, 30, 0.4))
			}
			bearer(rec, s.shopTok(g, victim.sub, now))
			s.emit(g, rec)
		})

	// A taken-over session exports the whole order history.
	g.attack(Scenario{Name: "small-orders-bulk-export", AlertType: "payload.large_response", Subject: "client", ClientIPs: []string{doc(153)},
		Identity: exporter.sub, Host: ShopHost, Method: "GET", PathTemplate: "/v1/orders",
		Description: "A taken-over customer session asks for limit=100000 and receives 6–9 MB JSON order dumps (normal: a page of 10, under 1 KB)."},
		36, 5, jitter(60*time.Second, 0.4), func(g *gen, s *script, now time.Time) {
			rec := mk(s.r, now, srcShop, doc(153), exporter.ua, "GET", shopURL("/v1/orders", url.Values{"page": {"1"}, "limit": {"100000"}}))
			bearer(rec, s.shopTok(g, exporter.sub, now))
			replySized(rec, 200, "application/json", `{"items":[`+orderJSON(s.r, exporter.orders[0], exporter), int64(6_000_000+s.r.IntN(3_000_000)), latency(s.r, 2200, 0.3))
			s.emit(g, rec)
		})

	// A customer on the admin API (it answers: broken function-level
	// authorization).
	if g.cfg.Variant.Small.Admin {
		cu := us[0]
		g.attack(Scenario{Name: "small-customer-on-admin-api", AlertType: "bfla.privileged_access", Subject: "identity", ClientIPs: []string{cu.home},
			Identity: cu.sub, Host: ShopHost, Also: []string{"param.unseen"},
			Description: "A customer's app token lists pending orders and refunds on the admin API, which answers 200 (function-level authorization missing)."},
			30, 8, jitter(40*time.Second, 0.4), func(g *gen, s *script, now time.Time) {
				var rec *recT
				if s.i%2 == 0 {
					rec = mk(s.r, now, srcShop, cu.home, cu.ua, "GET", shopURL("/v1/admin/orders", url.Values{"status": {"pending"}, "page": {"1"}}))
					replyJSON(rec, 200, `{"items":[]}`, latency(s.r, 120, 0.4))
				} else {
					rec = mk(s.r, now, srcShop, cu.home, cu.ua, "GET", shopURL("/v1/admin/webhooks", nil))
					replyJSON(rec, 200, `{"items":[]}`, latency(s.r, 25, 0.3))
				}
				bearer(rec, s.shopTok(g, cu.sub, now))
				s.emit(g, rec)
			})
	}

	// A scraper hammering the product list.
	g.attack(Scenario{Name: "small-product-scraper", AlertType: "traffic.client_spike", Subject: "client", ClientIPs: []string{doc(154)},
		Host: ShopHost, Method: "GET", PathTemplate: "/v1/products", Also: []string{"traffic.endpoint_spike"},
		Description: "One address pages through the product lists five times a second for eight minutes (catalogue scraping)."},
		40, 2400, jitter(200*time.Millisecond, 0.5), func(g *gen, s *script, now time.Time) {
			rec := mk(s.r, now, srcShop, doc(154), browserUAs[1], "GET", shopURL("/v1/products", url.Values{"category": {shopCats[s.i%len(shopCats)]}, "page": {strconv.Itoa(1 + s.i/len(shopCats)%6)}, "limit": {"24"}}))
			replyJSON(rec, 200, `{"items":[],"page":1,"total":144}`, latency(s.r, 55, 0.45))
			s.emit(g, rec)
		})
}

// orderOwner returns the customer whose order id is, or nil.
func (w *shopWorld) orderOwner(id int) *shopUser {
	for _, u := range w.users {
		for _, o := range u.orders {
			if o == id {
				return u
			}
		}
	}
	return nil
}

type probe struct{ method, path string }

// scannerProbes is a scanner's word list against a site: archives and
// dumps named after the site and common backup names, editor and backup
// copies of configuration files, environment files, VCS metadata and
// admin consoles, under a few directories.
func scannerProbes(host string) []probe {
	first, _, _ := strings.Cut(host, ".")
	names := []string{host, first, "www", "site", "backup", "backups", "db", "database", "data", "dump", "old", "web", "html", "public", "api", "app", "shop", "src", "full", "latest"}
	exts := []string{".zip", ".tar.gz", ".tgz", ".rar", ".7z", ".sql", ".sql.gz", ".bak", ".tar", ".gz"}
	dirs := []string{"/", "/backup/", "/backups/", "/old/", "/v1/", "/api/", "/admin/", "/data/"}
	var out []probe
	for _, d := range dirs {
		for _, n := range names {
			for _, e := range exts {
				out = append(out, probe{"HEAD", d + n + e})
			}
		}
	}
	configs := []string{"config.php", "wp-config.php", "config.json", "settings.py", "database.yml", "web.config", "application.properties", "appsettings.json", "config.yml", ".htaccess"}
	for _, c := range configs {
		for _, suf := range []string{".bak", ".old", ".orig", "~", ".save", ".swp"} {
			out = append(out, probe{"HEAD", "/" + c + suf})
		}
	}
	for _, p := range []string{"/.env", "/.env.bak", "/.env.local", "/.env.production", "/api/.env", "/v1/.env", "/.git/config", "/.git/HEAD", "/.git/index",
		"/.svn/entries", "/.hg/hgrc", "/.DS_Store", "/.htpasswd", "/.aws/credentials", "/.ssh/id_rsa", "/config/database.yml", "/app/etc/env.php",
		"/admin/", "/administrator/", "/wp-admin/", "/wp-login.php", "/phpmyadmin/", "/adminer.php", "/manager/html", "/actuator/env",
		"/server-status", "/console/", "/_profiler/", "/debug.log", "/error.log", "/phpinfo.php"} {
		out = append(out, probe{"GET", p})
	}
	return out
}
