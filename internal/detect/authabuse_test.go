package detect

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/identity"
	"github.com/palisade-sec/palisade/internal/model"
)

func login(at time.Time, ip, user string, ok bool) *event.Event {
	st := 401
	if ok {
		st = 200
	}
	return mkEv(at, ip, "POST", "/api/auth/login", "/api/auth/login", st,
		withBody("application/json", fmt.Sprintf(`{"username":%q,"password":"hunter2"}`, user)))
}

// logins: 6 h of logins by 300 users on their own IPs (5 % typos) and 400
// staff behind one NAT address; every user then calls GET /api/orders with
// its token from one (roaming users: up to three) networks.
func logins(hours int, seed uint64) []*event.Event {
	r := rand.New(rand.NewPCG(seed, 17))
	var evs []*event.Event
	for m := 0; m < hours*60; m++ {
		at := t0.Add(time.Duration(m) * time.Minute)
		for j := 0; j < 4; j++ {
			u := r.IntN(300)
			evs = append(evs, login(at.Add(time.Duration(j)*time.Second), ip4(5000+u), fmt.Sprintf("user%d", u), r.IntN(20) != 0))
		}
		for j := 0; j < 40; j++ { // NAT: 400 staff, 40 logins a minute, 6 % failures
			u := r.IntN(400)
			ev := login(at.Add(time.Duration(j)*time.Second+500*time.Millisecond), "198.51.100.7", fmt.Sprintf("staff%d", u), r.IntN(100) >= 6)
			if ev.Status == 200 {
				withID(fmt.Sprintf("staff%d", u))(ev)
			}
			evs = append(evs, ev)
		}
		for j := 0; j < 10; j++ {
			u := r.IntN(300)
			ip := ip4(5000 + u)
			if u%10 == 0 { // roaming phone: Wi-Fi, carrier, office
				ip = ip4(5000 + u + 256*(m/20%3))
			}
			evs = append(evs, mkEv(at.Add(time.Duration(j)*time.Second+700*time.Millisecond), ip, "GET", "/api/orders", "/api/orders", 200, withID(fmt.Sprintf("user%d", u))))
		}
		for j := 0; j < 12; j++ { // a service fleet using one key from 12 networks, always
			evs = append(evs, mkEv(at.Add(time.Duration(j)*time.Second+900*time.Millisecond), ip4(600000+j*256), "GET", "/api/orders", "/api/orders", 200, withKey("fleet-key-0001")))
		}
	}
	return evs
}

func TestAuthAbuse(t *testing.T) {
	base := logins(6, 1)
	at := t0.Add(5*time.Hour + 1*time.Minute)
	cases := []struct {
		name string
		evs  []*event.Event
		want map[string]int
		chk  func(t *testing.T, as []model.Alert)
	}{
		{"normal logins, NAT, roaming, fleet", base, map[string]int{}, nil},
		{"password guessing from one client", merge(base, burst(at, 5*time.Minute, 150, func(i int, at time.Time) *event.Event {
			return login(at, "203.0.113.20", "admin", false)
		})), map[string]int{"auth.brute_force": 1}, func(t *testing.T, as []model.Alert) {
			a := as[0]
			if a.Client.IP != "203.0.113.20" || a.Evidence.Observed.(float64) < 140 || a.Count < 140 {
				t.Errorf("alert %s", summary(as))
			}
		}},
		{"token guessing on an API endpoint", merge(base, burst(at, 5*time.Minute, 200, func(i int, at time.Time) *event.Event {
			return mkEv(at, "203.0.113.21", "GET", "/api/orders", "/api/orders", 401, withKey(fmt.Sprintf("guess-%06d", i)))
		})), map[string]int{"auth.brute_force": 1}, nil},
		{"client retrying with one expired token", merge(base, burst(at, 5*time.Minute, 80, func(i int, at time.Time) *event.Event {
			return mkEv(at, "203.0.113.22", "GET", "/api/orders", "/api/orders", 401, withID("sleepy"))
		})), map[string]int{}, nil},
		{"credential stuffing from a botnet", merge(base, burst(at, 15*time.Minute, 600, func(i int, at time.Time) *event.Event {
			return login(at, ip4(700000+i/2), fmt.Sprintf("victim%d@example.com", i), false)
		})), map[string]int{"auth.credential_stuffing": 1}, func(t *testing.T, as []model.Alert) {
			a := as[0]
			if a.Endpoint == nil || a.Endpoint.Path != "/api/auth/login" || a.Evidence.Details["distinct_usernames"].(float64) < 500 {
				t.Errorf("alert %+v", a)
			}
		}},
		{"stolen token used from many networks", merge(base, burst(at, 30*time.Minute, 120, func(i int, at time.Time) *event.Event {
			ip := ip4(5007)
			if i%2 == 1 {
				ip = ip4(800000 + i*256)
			}
			return mkEv(at, ip, "GET", "/api/orders", "/api/orders", 200, withID("user7"))
		})), map[string]int{"auth.token_reuse": 1}, func(t *testing.T, as []model.Alert) {
			a := as[0]
			if a.Identity == nil || a.Identity.Name != "user7" || a.Evidence.Observed.(float64) < 40 {
				t.Errorf("alert %+v", a)
			}
		}},
		// 4 networks in the last quarter of an hour and 4 in the first of
		// the next, the owner at home between: each hour holds 5 networks,
		// at the bar (the floor of 5; the principals' p99 is 2); the hour
		// across the boundary holds 9.
		{"stolen token across the hour boundary", merge(base, burst(t0.Add(4*time.Hour+45*time.Minute), 30*time.Minute, 40, func(i int, at time.Time) *event.Event {
			ip := ip4(5007)
			if i%5 == 1 {
				ip = ip4(900000 + (i/5)*256)
			}
			return mkEv(at, ip, "GET", "/api/orders", "/api/orders", 200, withID("user7"))
		})), map[string]int{"auth.token_reuse": 1}, func(t *testing.T, as []model.Alert) {
			a := as[0]
			if a.Identity == nil || a.Identity.Name != "user7" || a.Evidence.Details["window_shifted"] != true {
				t.Errorf("alert %s %+v", summary(as), a.Evidence)
			}
			// the addresses of the hour before the boundary are evidence
			// too: the alert names them, not only the owner's home
			// address and this hour's thieves
			before := map[string]bool{}
			for k := 0; k < 4; k++ {
				before[ip4(900000+k*256)] = true
			}
			named := 0
			for _, c := range a.Clients {
				if before[c.IP] {
					named++
				}
			}
			if named == 0 || a.Count < 20 {
				t.Errorf("clients %+v (other %d), count %d: the second half of the hour before is not named", a.Clients, a.ClientsOther, a.Count)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			as := run(newAuthAbuse(Config{}), merge(c.evs))
			got := map[string]int{}
			for _, a := range as {
				got[a.Type]++
			}
			if fmt.Sprint(got) != fmt.Sprint(c.want) {
				t.Fatalf("alerts %v, want %v\n%s", got, c.want, summary(as))
			}
			if c.chk != nil {
				c.chk(t, as)
			}
		})
	}
}

func TestUsernameHashedFromBodies(t *testing.T) {
	j := mkEv(t0, "1.2.3.4", "POST", "/login", "/login", 401, withBody("application/json", `{"Email":"Alice@Example.com","password":"x"}`))
	f := mkEv(t0, "1.2.3.4", "POST", "/login", "/login", 401, withBody("application/x-www-form-urlencoded", "password=x&email=alice%40example.com"))
	b := mkEv(t0, "1.2.3.4", "POST", "/login", "/login", 401)
	b.Auth.Identity = &identity.Identity{ID: "id_b", Kind: identity.KindBasic, Name: "alice@example.com"}
	none := mkEv(t0, "1.2.3.4", "POST", "/login", "/login", 401, withBody("application/json", `{"password":"x"}`))
	if username(j) == 0 || username(j) != username(f) || username(f) != username(b) {
		t.Fatalf("same user, different hashes: %x %x %x", username(j), username(f), username(b))
	}
	if username(none) != 0 {
		t.Fatal("no username field")
	}
}

func TestLoginLike(t *testing.T) {
	for p, want := range map[string]bool{"/api/auth/login": true, "/oauth/token": true, "/v1/sessions": true, "/signin": true,
		"/authors/{id}": false, "/api/orders": false, "/users/{id}/password": true, "/api/Auth": true} {
		if loginLike(p) != want {
			t.Errorf("loginLike(%q) != %v", p, want)
		}
	}
}

// TestGraphQLBatchBruteForce: many logins or one-time-code checks batched
// in one GraphQL request — aliases, or an array of operations — are brute
// force that no failure status shows; a few, or many reads, are not.
func TestGraphQLBatchBruteForce(t *testing.T) {
	aliases := func(n int, field, args string) string {
		var b strings.Builder
		b.WriteString("mutation {")
		for i := range n {
			fmt.Fprintf(&b, " a%d: %s(%s) { token }", i, field, fmt.Sprintf(args, i))
		}
		b.WriteString(" }")
		return b.String()
	}
	gql := func(ip string, body string) *event.Event {
		return mkEv(t0, ip, "POST", "/graphql", "/graphql", 200, withBody("application/json", body))
	}
	jsonDoc := func(doc string) string { b, _ := json.Marshal(map[string]string{"query": doc}); return string(b) }
	var batch []map[string]string
	for i := range 30 {
		batch = append(batch, map[string]string{"query": fmt.Sprintf(`mutation { verifyOtp(code: "%06d") { ok } }`, i)})
	}
	batchBody, _ := json.Marshal(batch)
	cases := []struct {
		name string
		ev   *event.Event
		want int
	}{
		{"200 aliased logins", gql("203.0.113.30", jsonDoc(aliases(200, "login", `email: "admin@example.com", password: "guess%d"`))), 200},
		{"an array of 30 one-time-code checks", gql("203.0.113.31", string(batchBody)), 30},
		{"application/graphql body", mkEv(t0, "203.0.113.32", "POST", "/graphql", "/graphql", 200, withBody("application/graphql", aliases(12, "tokenAuth", `username: "u", password: "p%d"`))), 12},
		{"one login", gql("198.51.100.30", jsonDoc(`mutation { login(email: "ana@example.com", password: "s3cret") { token } }`)), 0},
		{"three aliased logins", gql("198.51.100.31", jsonDoc(aliases(3, "login", `email: "u%d@example.com", password: "x"`))), 0},
		{"50 aliased product reads", gql("198.51.100.32", jsonDoc(strings.ReplaceAll(aliases(50, "product", `id: %d`), "mutation", "query"))), 0},
		{"a login field nested in a read", gql("198.51.100.33", jsonDoc(`{ users(first: 50) { login lastLoginAt passwordChangedAt } }`)), 0},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			as := run(newAuthAbuse(Config{}), []*event.Event{c.ev})
			if c.want == 0 {
				if len(as) != 0 {
					t.Fatalf("alerts %s", summary(as))
				}
				return
			}
			if len(as) != 1 || as[0].Type != "auth.brute_force" || as[0].Evidence.Details["graphql_attempts"] != c.want || as[0].Client == nil || as[0].Client.IP != c.ev.ClientIP.String() {
				t.Fatalf("alerts %s %+v, want one brute force of %d attempts from %s", summary(as), as, c.want, c.ev.ClientIP)
			}
		})
	}
}

// TestStuffingJudgedWhenCrossing: the username and client estimates are
// taken at spaced failure counts (with cs_abs 45 on a young login
// endpoint, bar 180: 46, 54, …, 165, 186). A botnet whose window ends at
// 184 failures is judged at the first failure above the bar; one whose
// spread is only clear after the last scheduled estimate (a single
// client's 150 failures first, then 160 from as many clients: no client
// holds half only from 301; estimates at …, 259, 292, 329) is judged once
// more when its window ends.
func TestStuffingJudgedWhenCrossing(t *testing.T) {
	start := t0.Add(21 * time.Minute)
	bots := func(n, from int) []*event.Event {
		return burst(start.Add(5*time.Minute), 10*time.Minute, n, func(i int, at time.Time) *event.Event {
			return login(at, ip4(700000+from+i), fmt.Sprintf("victim%d@example.com", from+i), false)
		})
	}
	crowd := bots(184, 0)
	one := burst(start, 4*time.Minute, 150, func(i int, at time.Time) *event.Event {
		return login(at, "203.0.113.30", fmt.Sprintf("guess%d@example.com", i), false)
	})
	spread := merge(one, bots(160, 1000))
	next := []*event.Event{login(start.Add(30*time.Minute), ip4(5), "alice", false)}
	for _, c := range []struct {
		name string
		evs  []*event.Event
		at   time.Time
	}{
		{"crossing between estimates", crowd, crowd[180].Time},
		{"spread clear at the window's end, next window starts", merge(spread, next), spread[len(spread)-1].Time},
		{"spread clear at the window's end, input ends", spread, spread[len(spread)-1].Time},
	} {
		t.Run(c.name, func(t *testing.T) {
			as := ofType(run(newAuthAbuse(Config{Options: optsYAML(t, "authabuse: {cs_abs: 45}")}), c.evs), "auth.credential_stuffing")
			if len(as) != 1 || !as[0].FirstSeen.Equal(c.at) {
				t.Fatalf("want one alert at %v:\n%s", c.at, summary(as))
			}
		})
	}
}

// TestTokenReuseEndUserColdBar: before tr_gate principal-hours of peers
// the bar is tr_cold × tr_abs (20) networks an hour — a service fleet on a
// dozen networks is not an attack because the capture is young. A token
// whose every role names an end user is no fleet: it faces the bar of a
// principal without history (10). A customer's token used from 12
// networks in 20 minutes of a one-hour capture fires; the same from a
// role-less key or a service token does not, nor a customer on 9.
func TestTokenReuseEndUserColdBar(t *testing.T) {
	use := func(n int, opt evOpt) []*event.Event {
		evs := burst(t0.Add(30*time.Minute), 20*time.Minute, 4*n, func(i int, at time.Time) *event.Event {
			return mkEv(at, ip4(910000+(i%n)*256), "GET", "/api/orders", "/api/orders", 200, opt)
		})
		for m := 0; m < 60; m += 3 { // the rest of the small shop: five customers at home
			for c := 0; c < 5; c++ {
				evs = append(evs, mkEv(t0.Add(time.Duration(m)*time.Minute+time.Duration(c)*time.Second), ip4(5000+c), "GET", "/api/orders", "/api/orders", 200, withID(fmt.Sprintf("home%d", c), "customer")))
			}
		}
		return merge(evs)
	}
	for _, c := range []struct {
		name string
		evs  []*event.Event
		want int
	}{
		{"customer token from 12 networks", use(12, withID("cust-12", "customer")), 1},
		{"customer token with Keycloak's technical roles", use(12, withID("cust-kc", "offline_access", "ROLE_USER")), 1},
		{"role-less key from 12 networks", use(12, withKey("fleet-key-0002")), 0},
		{"service token from 12 networks", use(12, withID("svc-1", "service")), 0},
		{"customer token from 9 networks", use(9, withID("cust-9", "customer")), 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			as := ofType(run(newAuthAbuse(Config{}), c.evs), "auth.token_reuse")
			if len(as) != c.want {
				t.Fatalf("want %d, got\n%s", c.want, summary(as))
			}
			for _, a := range as {
				if thr, _ := EvidenceNumber(a.Evidence.Threshold); thr != 10 {
					t.Errorf("threshold %v, want 10", a.Evidence.Threshold)
				}
			}
		})
	}
}
