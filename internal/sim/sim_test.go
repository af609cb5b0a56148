package sim

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/alert"
	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/identity"
)

// alertTypes is the catalogue (internal/alert, which checks it against
// docs/contracts/alert-types.md): the simulator has a scenario for each.
var alertTypes = func() []string {
	var out []string
	for _, s := range alert.Catalog() {
		out = append(out, s.Name)
	}
	return out
}()

// fullRun is one pass over a 48 h run with every per-record check.
type fullRun struct {
	labels      *Labels
	hash        string
	records     int64
	hourly      [24]int // unlabelled shop-edge records per hour of day
	bySource    map[string]int
	byScenario  map[string]int
	orderErrs   []string
	tripErrs    []string
	tokenErrs   []string
	maxLag      time.Duration
	lateRecords int
	pii         map[string]int
	matchPath   map[string]bool // scenario → some record matched its host/method/template
	ipsOf       map[string]map[string]bool
	benignIPs   map[string]bool
	internalRef map[string]int // scenario ("" = unlabelled) → records naming an internal target in the request
}

var reInternalTarget = regexp.MustCompile(`https?://(10\.|127\.|169\.254\.|192\.168\.|localhost|\[::1\]|0x7f|2130706433)`)

var (
	fullOnce sync.Once
	full     *fullRun
	fullErr  error
)

var (
	reCard  = regexp.MustCompile(`\b[2-5][0-9]{15}\b`)
	reIBAN  = regexp.MustCompile(`\b(DE|GB)[0-9]{2}[A-Z0-9]{14,18}\b`)
	reSSN   = regexp.MustCompile(`"ssn":"[0-9]{3}-[0-9]{2}-[0-9]{4}"`)
	reEmail = regexp.MustCompile(`[a-z]+\.[a-z]+[0-9]*@[a-z.]+example\.(com|net|org)`)
)

func templateRe(host, method, tmpl string) *regexp.Regexp {
	p := regexp.QuoteMeta(tmpl)
	p = regexp.MustCompile(`\\\{[A-Za-z]+\\\}`).ReplaceAllString(p, `[^/]+`)
	return regexp.MustCompile(`^` + method + ` https?://` + regexp.QuoteMeta(host) + p + `(\?|$)`)
}

func runFull(t *testing.T) *fullRun {
	t.Helper()
	fullOnce.Do(func() {
		f := &fullRun{bySource: map[string]int{}, byScenario: map[string]int{}, pii: map[string]int{}, matchPath: map[string]bool{},
			ipsOf: map[string]map[string]bool{}, benignIPs: map[string]bool{}, internalRef: map[string]int{}}
		h := sha256.New()
		var maxT time.Time
		var recs []struct {
			line, method, url string
			scen              string
		}
		// The default run at half the population: every scenario, a third
		// less time than the demo size.
		cfg := DefaultConfig()
		cfg.Scale = 0.5
		lab, err := generate(cfg, func(r *exchange.Record, scen string) error {
			b, err := exchange.MarshalRecord(r)
			if err != nil {
				return err
			}
			h.Write(b)
			h.Write([]byte{'\n'})
			f.records++
			f.bySource[r.Source]++
			if scen == "" {
				f.benignIPs[r.Client.IP] = true
			} else {
				if f.ipsOf[scen] == nil {
					f.ipsOf[scen] = map[string]bool{}
				}
				f.ipsOf[scen][r.Client.IP] = true
			}
			if !r.IsOutbound() && reInternalTarget.MatchString(r.Request.URL[8:]+" "+r.Request.Body) {
				f.internalRef[scen]++
			}
			if scen != "" {
				f.byScenario[scen]++
				recs = append(recs, struct{ line, method, url, scen string }{"", r.Request.Method, r.Request.URL, scen})
			}
			if r.Source == srcShop && scen == "" {
				f.hourly[r.Time.Hour()]++
			}
			if r.Time.Before(maxT) {
				lag := maxT.Sub(r.Time)
				f.lateRecords++
				f.maxLag = max(f.maxLag, lag)
				if r.Source != BatchSource && len(f.orderErrs) < 5 {
					f.orderErrs = append(f.orderErrs, r.Time.String()+" from "+r.Source+" after "+maxT.String())
				}
			} else if r.Source != BatchSource {
				maxT = r.Time
			}
			// Round trip through the contract's decoder.
			d, err := exchange.DecodeRecord(b)
			if err != nil {
				if len(f.tripErrs) < 5 {
					f.tripErrs = append(f.tripErrs, err.Error()+": "+string(b[:min(len(b), 300)]))
				}
			} else if b2, _ := exchange.MarshalRecord(d); !bytes.Equal(b, b2) && len(f.tripErrs) < 5 {
				f.tripErrs = append(f.tripErrs, "re-encoding differs: "+string(b[:min(len(b), 300)]))
			}
			// Tokens: unsigned or expired tokens are answered with success
			// only in the weak-token scenarios.
			if a := r.Request.Headers["authorization"]; strings.HasPrefix(a, "Bearer eyJ") {
				if tok, ok := identity.ParseJWT(strings.TrimPrefix(a, "Bearer ")); ok {
					weak := tok.Unsigned || tok.Expired(r.Time) || tok.Malformed != ""
					if weak && r.Response.Status < 400 && scen != "alg-none-token-accepted" && scen != "expired-token-accepted" && len(f.tokenErrs) < 5 {
						f.tokenErrs = append(f.tokenErrs, scen+": weak token accepted at "+r.Time.String()+" "+r.Request.URL)
					}
					if tok.Sub == "" || tok.Iss == "" || tok.Exp.IsZero() || len(tok.Roles) == 0 {
						f.tokenErrs = append(f.tokenErrs, "token without sub/iss/exp/roles: "+r.Request.URL)
					}
				}
			}
			if f.records%8 != 0 {
				return nil // PII scanning on a sample keeps the test fast
			}
			body := r.Request.BodyText() + r.Response.BodyText()
			for _, m := range reCard.FindAllString(body, -1) {
				if luhnValid(m) {
					f.pii["card"]++
				}
			}
			for _, m := range reIBAN.FindAllString(body, -1) {
				if ibanValid(m) {
					f.pii["iban"]++
				}
			}
			f.pii["ssn"] += len(reSSN.FindAllString(body, -1))
			f.pii["email"] += len(reEmail.FindAllString(body, -1))
			if strings.Contains(body, "**** **** **** ") {
				f.pii["masked_card"]++
			}
			return nil
		})
		if err != nil {
			fullErr = err
			return
		}
		f.labels = lab
		f.hash = hex.EncodeToString(h.Sum(nil))
		for _, s := range lab.Scenarios {
			if s.Host == "" || s.Method == "" || s.PathTemplate == "" {
				continue
			}
			re := templateRe(s.Host, s.Method, s.PathTemplate)
			for _, r := range recs {
				if r.scen == s.Name && re.MatchString(r.method+" "+r.url) {
					f.matchPath[s.Name] = true
					break
				}
			}
		}
		full = f
	})
	if fullErr != nil {
		t.Fatal(fullErr)
	}
	return full
}

func TestDefaultRunRecordsAreValidAndOrdered(t *testing.T) {
	f := runFull(t)
	if f.records < 40_000 || f.records > 100_000 {
		t.Errorf("48 h at scale 0.5: %d records, want 40k–100k (demo size is twice that)", f.records)
	}
	if f.records != f.labels.Records {
		t.Errorf("labels say %d records, emitted %d", f.labels.Records, f.records)
	}
	for _, e := range f.orderErrs {
		t.Errorf("out of order: %s", e)
	}
	for _, e := range f.tripErrs {
		t.Errorf("round trip: %s", e)
	}
	if f.lateRecords == 0 {
		t.Errorf("the late-batch-sidecar trap produced no late records")
	}
	if f.maxLag > MaxDisorder {
		t.Errorf("records lag up to %s, documented maximum %s", f.maxLag, MaxDisorder)
	}
	for _, src := range []string{srcShop, srcClinic, srcBank, srcEgress, BatchSource} {
		if f.bySource[src] == 0 {
			t.Errorf("no records from source %s", src)
		}
	}
	t.Logf("%d records, %d late (max lag %s), by source %v", f.records, f.lateRecords, f.maxLag, f.bySource)
}

func TestTokensAreWellFormedAndWeakOnlyInScenarios(t *testing.T) {
	f := runFull(t)
	for _, e := range f.tokenErrs {
		t.Error(e)
	}
}

func TestBodiesCarryValidPII(t *testing.T) {
	f := runFull(t)
	for _, k := range []string{"card", "iban", "ssn", "email", "masked_card"} {
		if f.pii[k] < 20 {
			t.Errorf("only %d %s values in a 1/8 sample of bodies, want ≥ 20 (classification needs material)", f.pii[k], k)
		}
	}
	t.Logf("PII in bodies: %v", f.pii)
}

func TestDiurnalCurve(t *testing.T) {
	f := runFull(t)
	mean := func(from, to int) float64 {
		s := 0
		for h := from; h < to; h++ {
			s += f.hourly[h]
		}
		return float64(s) / float64(to-from)
	}
	night, day, evening := mean(2, 5), mean(10, 13), mean(19, 22)
	t.Logf("shop records per hour of day: %v (night %.0f, late morning %.0f, evening %.0f)", f.hourly, night, day, evening)
	if night*4 > day || night*4 > evening {
		t.Errorf("no diurnal curve: night %.0f/h vs day %.0f/h and evening %.0f/h (want nights < a quarter)", night, day, evening)
	}
	if evening < day {
		t.Errorf("evening peak (%.0f/h) should exceed the late-morning peak (%.0f/h)", evening, day)
	}
}

func TestEveryAlertTypeHasAnAttackScenario(t *testing.T) {
	f := runFull(t)
	have := map[string][]string{}
	for _, s := range f.labels.Scenarios {
		if s.AlertType != "" {
			have[s.AlertType] = append(have[s.AlertType], s.Name)
		}
	}
	for _, typ := range alertTypes {
		if len(have[typ]) == 0 {
			t.Errorf("alert type %s has no attack scenario", typ)
		}
	}
	if n := len(have["bola.param_enumeration"]); n < 2 {
		t.Errorf("bola.param_enumeration needs a slow and a fast variant, have %d", n)
	}
	if got := f.labels.AttackTypes(); len(got) != len(alertTypes) {
		t.Errorf("AttackTypes() = %d types, want %d", len(got), len(alertTypes))
	}
}

func TestScenarioLabelsMatchTheirRecords(t *testing.T) {
	f := runFull(t)
	learn := f.labels.Start.Add(12 * time.Hour)
	known := map[string]bool{}
	for _, typ := range alertTypes {
		known[typ] = true
	}
	for _, s := range f.labels.Scenarios {
		// Carrier records also belong to other scenarios: counted apart.
		if s.Records == 0 || (int64(f.byScenario[s.Name]) != s.Records && s.Name != "mobile-carrier-cgnat") {
			t.Errorf("%s: label says %d records, %d attributed", s.Name, s.Records, f.byScenario[s.Name])
		}
		if !subjects[s.Subject] {
			t.Errorf("%s: subject %q", s.Name, s.Subject)
		}
		if s.Description == "" {
			t.Errorf("%s: no description", s.Name)
		}
		for _, typ := range append(append([]string{}, s.TrapFor...), s.Also...) {
			if !known[typ] {
				t.Errorf("%s: unknown alert type %q in trap_for/also", s.Name, typ)
			}
		}
		if s.Trap {
			if len(s.TrapFor) == 0 {
				t.Errorf("trap %s resembles nothing (empty trap_for)", s.Name)
			}
			continue
		}
		if !known[s.AlertType] {
			t.Errorf("%s: unknown alert type %q", s.Name, s.AlertType)
		}
		if s.Start.Before(learn) {
			t.Errorf("attack %s starts at %s, inside the 12 h learning period", s.Name, s.Start)
		}
		if s.Subject == "client" && len(s.ClientIPs) == 0 {
			t.Errorf("%s: client subject without client IPs", s.Name)
		}
		if s.Subject == "identity" && s.Identity == "" {
			t.Errorf("%s: identity subject without identity", s.Name)
		}
		if s.PathTemplate != "" && !f.matchPath[s.Name] {
			t.Errorf("%s: no record matches %s %s%s", s.Name, s.Method, s.Host, s.PathTemplate)
		}
	}
}

func TestAddressesAndTargetsStayInTheirScenarios(t *testing.T) {
	f := runFull(t)
	for _, s := range f.labels.Scenarios {
		if s.Trap || len(s.ClientIPs) == 0 {
			continue
		}
		for ip := range f.ipsOf[s.Name] {
			if !slicesContains(s.ClientIPs, ip) {
				t.Errorf("%s: record from %s, which its label does not list", s.Name, ip)
			}
		}
		if s.Name == "customer-calls-admin-api" {
			continue // a real customer, from home, where their ordinary traffic also comes from
		}
		for _, ip := range s.ClientIPs {
			if f.benignIPs[ip] {
				t.Errorf("attacker address %s of %s also sends unlabelled traffic", ip, s.Name)
			}
		}
	}
	// Internal targets in inbound requests: only in the SSRF and XXE
	// attacks and the admins' webhook trap.
	for scen, n := range f.internalRef {
		switch scen {
		case "ssrf-avatar-url", "xxe-claims-import", "admin-internal-webhooks":
		default:
			t.Errorf("%d records of %q name an internal target", n, scen)
		}
	}
	if f.internalRef["ssrf-avatar-url"] == 0 || f.internalRef["admin-internal-webhooks"] == 0 {
		t.Errorf("internal targets missing where expected: %v", f.internalRef)
	}
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

func TestTrapsPresent(t *testing.T) {
	f := runFull(t)
	want := []string{"injection-lookalikes", "admin-html-product-descriptions", "admin-internal-webhooks", "large-statement-pdfs",
		"search-latency-tail", "release-currency-param", "mobile-carrier-cgnat", "corporate-nat", "clinician-shift-start",
		"ehr-billing-walk", "open-banking-aggregator", "partner-scripts", "nightly-erp-order-export", "late-batch-sidecar"}
	have := map[string]Scenario{}
	for _, s := range f.labels.Scenarios {
		have[s.Name] = s
	}
	for _, n := range want {
		s, ok := have[n]
		if !ok || !s.Trap || s.Records == 0 {
			t.Errorf("trap %s missing or empty (%+v)", n, s)
		}
	}
}

func TestIntelFeedsCoverIntelScenarios(t *testing.T) {
	f := runFull(t)
	tor, block := f.labels.IntelFeeds()
	in := func(list []string, ip string) bool {
		for _, x := range list {
			if x == ip {
				return true
			}
		}
		return false
	}
	for _, s := range f.labels.Scenarios {
		var list []string
		switch s.AlertType {
		case "intel.tor_exit_node":
			list = tor
		case "intel.suspicious_ip":
			list = block
		default:
			continue
		}
		for _, ip := range s.ClientIPs {
			if !in(list, ip) {
				t.Errorf("%s: %s is not in its feed", s.Name, ip)
			}
		}
	}
	// No benign traffic may come from a listed address.
	for _, s := range f.labels.Scenarios {
		if s.AlertType == "intel.tor_exit_node" || s.AlertType == "intel.suspicious_ip" || s.Name == "jndi-user-agent" {
			continue
		}
		for _, ip := range s.ClientIPs {
			if in(tor, ip) || in(block, ip) {
				t.Errorf("scenario %s uses listed address %s", s.Name, ip)
			}
		}
	}
}

func hashRun(t *testing.T, cfg Config) (string, *Labels, int) {
	t.Helper()
	h := sha256.New()
	n := 0
	lab, err := Generate(cfg, func(r *exchange.Record) error {
		n++
		return exchange.Encode(h, r)
	})
	if err != nil {
		t.Fatal(err)
	}
	var lb bytes.Buffer
	if err := lab.WriteJSON(&lb); err != nil {
		t.Fatal(err)
	}
	h.Write(lb.Bytes())
	return hex.EncodeToString(h.Sum(nil)), lab, n
}

func TestDeterministic(t *testing.T) {
	// 48 h with every scenario at a small scale: two runs byte-identical
	// (records and labels), another seed different.
	cfg := Config{Seed: 7, Duration: 48 * time.Hour, Scale: 0.12, Attacks: true, Traps: true}
	a, _, n := hashRun(t, cfg)
	b, _, _ := hashRun(t, cfg)
	if a != b {
		t.Fatalf("same config, different output")
	}
	cfg.Seed = 8
	if c, _, _ := hashRun(t, cfg); c == a {
		t.Fatalf("different seeds, same output")
	}
	t.Logf("%d records, sha256 %s", n, a)
}

func TestSwitches(t *testing.T) {
	base := Config{Seed: 3, Duration: 24 * time.Hour, Scale: 0.1}
	cases := []struct {
		name           string
		attacks, traps bool
	}{{"benign only", false, false}, {"traps only", false, true}, {"attacks only", true, false}, {"both", true, true}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := base
			cfg.Attacks, cfg.Traps = c.attacks, c.traps
			lab, err := generate(cfg, func(r *exchange.Record, scen string) error {
				if scen != "" && !c.attacks && !c.traps {
					return errors.New("record attributed to " + scen + " with attacks and traps off")
				}
				if !c.traps && r.Source == BatchSource {
					return errors.New("batch sidecar record with traps off")
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			var attacks, traps int
			for _, s := range lab.Scenarios {
				if s.Trap {
					traps++
				} else {
					attacks++
				}
			}
			if (attacks > 0) != c.attacks || (traps > 0) != c.traps {
				t.Errorf("attacks=%d traps=%d for %+v", attacks, traps, c)
			}
			tor, block := lab.IntelFeeds()
			if (len(tor) > 0 && len(block) > 0) != c.attacks {
				t.Errorf("intel feeds %d/%d with attacks=%v", len(tor), len(block), c.attacks)
			}
		})
	}
}

func TestScaleMultipliesBenignVolume(t *testing.T) {
	count := func(scale float64) int {
		_, _, n := hashRun(t, Config{Seed: 5, Duration: 12 * time.Hour, Scale: scale})
		return n
	}
	a, b := count(0.25), count(0.5)
	ratio := float64(b) / float64(a)
	t.Logf("scale 0.25: %d records, scale 0.5: %d (ratio %.2f)", a, b, ratio)
	if ratio < 1.6 || ratio > 2.4 {
		t.Errorf("doubling the scale multiplied volume by %.2f, want ≈2", ratio)
	}
}

func TestShortRunsKeepOnlyScenariosWithRecords(t *testing.T) {
	for _, d := range []time.Duration{10 * time.Minute, time.Hour, 6 * time.Hour} {
		lab, err := Generate(Config{Seed: 1, Duration: d, Scale: 0.1, Attacks: true, Traps: true}, func(r *exchange.Record) error { return r.Validate() })
		if err != nil {
			t.Fatalf("%s: %v", d, err)
		}
		for _, s := range lab.Scenarios {
			if s.Records == 0 || s.Start.Before(lab.Start) || s.End.After(lab.End) {
				t.Errorf("%s: scenario %s: %d records %s–%s outside %s–%s", d, s.Name, s.Records, s.Start, s.End, lab.Start, lab.End)
			}
		}
	}
}

func TestConfigErrors(t *testing.T) {
	noop := func(*exchange.Record) error { return nil }
	cases := []struct {
		name string
		cfg  Config
		want string
	}{
		{"negative duration", Config{Duration: -time.Hour}, "duration must be positive"},
		{"too long", Config{Duration: 40 * 24 * time.Hour}, "31 days"},
		{"NaN scale", Config{Scale: math.NaN()}, "scale"},
		{"negative scale", Config{Scale: -1}, "scale"},
		{"huge scale", Config{Scale: 1e6}, "maximum"},
		{"unknown API shape", Config{Variant: Variant{Name: "x", APIShape: "uuid-ids,graphql"}}, `unknown API shape "graphql"`},
	}
	for _, c := range cases {
		if _, err := Generate(c.cfg, noop); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
	if _, err := Generate(DefaultConfig(), nil); err == nil {
		t.Errorf("nil emit accepted")
	}
}

func TestEmitErrorStopsTheRun(t *testing.T) {
	stop := errors.New("disk full")
	n := 0
	_, err := Generate(Config{Seed: 1, Duration: 6 * time.Hour, Scale: 0.2, Traps: true}, func(*exchange.Record) error {
		n++
		if n == 100 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || n != 100 {
		t.Fatalf("err=%v after %d records, want the emit error after exactly 100", err, n)
	}
}

func TestDataGenerators(t *testing.T) {
	r := DefaultConfig()
	g := newGen(r, nil)
	for i := 0; i < 2000; i++ {
		c := luhnCard(g.r)
		if len(c) != 16 || !luhnValid(c) {
			t.Fatalf("card %s is not Luhn-valid", c)
		}
		if ib := iban(g.r); !ibanValid(ib) {
			t.Fatalf("IBAN %s fails mod-97", ib)
		}
		s := ssn(g.r)
		if !regexp.MustCompile(`^[0-8][0-9]{2}-[0-9]{2}-[0-9]{4}$`).MatchString(s) || strings.HasPrefix(s, "000") || strings.HasPrefix(s, "666") || strings.Contains(s, "-00-") || strings.HasSuffix(s, "-0000") {
			t.Fatalf("SSN %s is not well-formed", s)
		}
	}
	// Known vectors.
	for _, c := range []struct {
		s  string
		ok bool
	}{{"4111111111111111", true}, {"4111111111111112", false}, {"5555555555554444", true}} {
		if luhnValid(c.s) != c.ok {
			t.Errorf("luhnValid(%s) = %v", c.s, !c.ok)
		}
	}
	for _, c := range []struct {
		s  string
		ok bool
	}{{"GB82WEST12345698765432", true}, {"DE89370400440532013000", true}, {"DE89370400440532013001", false}} {
		if ibanValid(c.s) != c.ok {
			t.Errorf("ibanValid(%s) = %v", c.s, !c.ok)
		}
	}
	tok := mintJWT(g.r, "RS256", "k1", jwtClaims{Sub: "user-1", Iss: "https://iss.example.test", Iat: DefaultStart, Exp: DefaultStart.Add(time.Hour), Roles: []string{"customer"}})
	j, ok := identity.ParseJWT(tok)
	if !ok || j.Sub != "user-1" || j.Alg != "RS256" || j.Unsigned || !j.Exp.Equal(DefaultStart.Add(time.Hour)) || j.Malformed != "" {
		t.Errorf("minted token decodes as %+v", j)
	}
	none := mintJWT(g.r, "none", "", jwtClaims{Sub: "x", Iss: "y", Iat: DefaultStart, Exp: DefaultStart})
	if j, _ := identity.ParseJWT(none); j == nil || !j.Unsigned {
		t.Errorf("alg none token not unsigned: %+v", j)
	}
	if got := jsonString("a\"b\\c\r\n\x01<>"); got != `"a\"b\\c\r\n\u0001<>"` {
		t.Errorf("jsonString = %s", got)
	}
}

// TestAPIShape: --api-shape all rewrites every inbound URL (/api/v2/
// prefix, /staff/ for /admin/, ids as UUIDs, the same id the same UUID)
// and the inbound scenarios' templates; outbound calls, record counts and
// times are those of the base shape.
func TestAPIShape(t *testing.T) {
	cfg := Config{Seed: 5, Duration: 48 * time.Hour, Scale: 0.1, Attacks: true, Traps: true}
	collect := func(c Config) ([]exchange.Record, *Labels) {
		var recs []exchange.Record
		lab, err := Generate(c, func(r *exchange.Record) error { recs = append(recs, *r); return nil })
		if err != nil {
			t.Fatal(err)
		}
		return recs, lab
	}
	base, baseLab := collect(cfg)
	cfg.Variant = Variant{Name: "shaped", APIShape: "all"}
	shaped, lab := collect(cfg)
	if len(base) != len(shaped) || len(baseLab.Scenarios) != len(lab.Scenarios) {
		t.Fatalf("%d records and %d scenarios, base %d and %d", len(shaped), len(lab.Scenarios), len(base), len(baseLab.Scenarios))
	}
	digits := regexp.MustCompile(`/(MRN)?[0-9]{4,}(/|$)`)
	ids := map[string]string{}
	admin, uuids := 0, 0
	outHosts := map[string]bool{}
	for i := range base {
		b, s := base[i], shaped[i]
		if !b.Time.Equal(s.Time) || b.Client.IP != s.Client.IP {
			t.Fatalf("record %d moved", i)
		}
		bu, _ := url.Parse(b.Request.URL)
		su, _ := url.Parse(s.Request.URL)
		if b.IsOutbound() {
			outHosts[bu.Hostname()] = true
			if b.Request.URL != s.Request.URL {
				t.Fatalf("outbound call rewritten: %s -> %s", b.Request.URL, s.Request.URL)
			}
			continue
		}
		if strings.HasPrefix(bu.EscapedPath(), "/v1/") && !strings.HasPrefix(su.EscapedPath(), "/api/v2/") {
			t.Fatalf("no prefix: %s", s.Request.URL)
		}
		if strings.Contains(bu.EscapedPath(), "/admin/") {
			admin++
			if strings.Contains(su.EscapedPath(), "/admin/") || !strings.Contains(su.EscapedPath(), "/staff/") {
				t.Fatalf("admin area kept: %s", s.Request.URL)
			}
		}
		if digits.MatchString(su.EscapedPath()) {
			t.Fatalf("numeric id left: %s", s.Request.URL)
		}
		bs, ss := strings.Split(bu.EscapedPath(), "/"), strings.Split(su.EscapedPath(), "/")
		for j, seg := range bs {
			if idSegment(seg) {
				uuids++
				got := ss[j+1] // one more segment: /api/v2 for /v1
				if want, ok := ids[seg]; ok && want != got {
					t.Fatalf("id %s became %s and %s", seg, want, got)
				}
				ids[seg] = got
			}
		}
	}
	if admin == 0 || uuids == 0 {
		t.Fatalf("nothing to check: %d admin records, %d ids", admin, uuids)
	}
	rewritten := 0
	for i, sc := range lab.Scenarios {
		bt := baseLab.Scenarios[i].PathTemplate
		if outHosts[sc.Host] {
			if bt != sc.PathTemplate {
				t.Errorf("%s: a third-party API's template rewritten: %s -> %s", sc.Name, bt, sc.PathTemplate)
			}
			continue
		}
		if bt != sc.PathTemplate {
			rewritten++
		}
		if strings.HasPrefix(bt, "/v1/") && sc.PathTemplate != "/api/v2/"+strings.TrimPrefix(strings.ReplaceAll(bt, "/admin/", "/staff/"), "/v1/") {
			t.Errorf("%s: template %s -> %s", sc.Name, bt, sc.PathTemplate)
		}
	}
	if rewritten == 0 {
		t.Fatal("no label template rewritten")
	}
}

// TestReleaseOnsetWhoeverSeesIt: the pay-later release exposes the
// financing block in every profile answered after it, including answers
// to an attack's requests. At --variant hospital --seed 97 --attack-pace
// 1.3 the slow profile walk reads a profile at 06:31, before the first
// benign profile read; the exposure scenario starts with the first answer
// carrying the block, whichever scenario it is labelled with (its alert,
// raised then, was scored as missed before).
func TestReleaseOnsetWhoeverSeesIt(t *testing.T) {
	v, err := VariantByName("hospital")
	if err != nil {
		t.Fatal(err)
	}
	v.AttackPace = 1.3
	cfg := DefaultConfig()
	cfg.Seed, cfg.Scale, cfg.Variant = 97, 0.2, v
	first := map[string]time.Time{}
	labelled := map[string]string{}
	lab, err := generate(cfg, func(r *exchange.Record, scen string) error {
		if m := r.Request.Method; strings.Contains(r.Response.Body, `"financing":{`) && first[m].IsZero() {
			first[m], labelled[m] = r.Time, scen
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if labelled["GET"] == "pay-later-release-exposes-ssn" {
		t.Fatalf("the first answer with the block is the scenario's own: the case this test is about is gone")
	}
	for _, s := range lab.Scenarios {
		want := map[string]string{"pay-later-release-exposes-ssn": "GET", "pay-later-release-exposes-ssn-patch": "PATCH"}[s.Name]
		if want != "" && !s.Start.Equal(first[want]) {
			t.Errorf("%s starts %s, the first %s answer with the block is at %s (%s)", s.Name, s.Start, want, first[want], labelled[want])
		}
	}
}
