package sim

import (
	"fmt"
	"math"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Variant changes the shape of the simulated traffic — the sizes of the
// populations, how the APIs behave, when and how the attacks come — not
// only its random numbers. A variant is data: add an entry to Variants
// (and, for a new kind of change, a field here and where the generator
// reads it). Zero values keep the base shape.
//
// Detectors are tuned on "base"; every other variant is held out: the
// scenario suite reports them side by side (docs/simulator.md).
type Variant struct {
	Name        string `json:"name"`
	Description string `json:"description"`

	// Population sizes, multiplying Config.Scale for one system (0 = 1).
	ShopUsers, Patients, BankCustomers, Clinicians float64
	// Session rates, multiplying the benign arrival rate of one system
	// (0 = 1).
	ShopRate, ClinicRate, BankRate float64

	// API shape: access-token lifetimes the identity providers issue
	// (0 = base: bank 15 min, shop app 1 h).
	BankTokenLife, ShopTokenLife time.Duration
	// LingeringTokens is the share of bank and shop-app sessions that come
	// back 5–12 minutes after their token expired and keep using it; the
	// APIs answer 200 (they enforce exp late). A weakness of the API —
	// a posture finding — not an attack.
	LingeringTokens float64

	// Attack timing: every attack starts AttackShift hours later (wrapping
	// inside the attack period, hours AttackFrom–46 of 48; AttackFrom 0 =
	// 12, the end of the attack-free first half day), and AttackPace
	// multiplies the gaps between an attacker's requests (> 1: slower and
	// longer; 0 = 1). An AttackFrom before 12 lets attacks land while the
	// baselines are still learning (cold start, issue 14).
	AttackShift float64
	AttackFrom  float64
	AttackPace  float64
	// RoamingAttackers: attackers that act as one principal with one
	// address come from a fresh address (198.18.0.0/15) instead, while the
	// principal keeps working from its usual address (the label's original
	// one) before and during the attack — a stolen token used from a
	// second address. Labels name the attacker's addresses only.
	RoamingAttackers bool
	// ReplayBankToken adds an attack: a bank token that expired three days
	// earlier is replayed and answered 200 (detectable among benign late
	// refreshes).
	ReplayBankToken bool

	// APIShape rewrites the APIs' URL layout and identifier formats
	// (shape.go): a comma-separated list of uuid-ids, prefix, staff-area,
	// or all; "" keeps the base shape.
	APIShape string `json:"api_shape,omitempty"`

	// Hours, when > 0, is the capture's length (an explicit --hours
	// overrides it); StartHour, when > 0, moves the start to that hour of
	// the start day (UTC).
	Hours, StartHour float64
	// Small, when set, makes the capture a small deployment (small.go):
	// the shop API alone with a handful of clients, its own attacks and
	// traps, instead of the four systems.
	Small *Small `json:"small,omitempty"`
}

// Variants are the named traffic shapes of `palisade sim --variant` and
// `palisade scenarios --variant`.
var Variants = []Variant{
	{Name: "base", Description: "the demo traffic the detectors are tuned on"},
	{Name: "roaming", Description: "attackers use stolen tokens from fresh addresses while the principals keep working from their usual ones; attacks 3 h later and 25 % slower; a larger shop",
		RoamingAttackers: true, AttackShift: 3, AttackPace: 1.25, ShopUsers: 1.6, ShopRate: 1.3},
	{Name: "lingering", Description: "bank and shop-app clients keep using tokens 5–12 min past exp and the APIs answer 200; shorter bank tokens (10 min); a 3-day-old bank token replayed; attacks 4 h earlier",
		LingeringTokens: 0.25, BankTokenLife: 10 * time.Minute, ReplayBankToken: true, AttackShift: -4, BankRate: 1.2},
	{Name: "hospital", Description: "a larger clinic (1.6× patients, 1.5× clinicians, 1.4× sessions) and a smaller bank and shop; attackers 20 % faster; attacks 9 h earlier, wrapping from hour 6: five land on the first morning while baselines learn",
		Patients: 1.6, Clinicians: 1.5, ClinicRate: 1.4, BankCustomers: 0.6, BankRate: 0.7, ShopUsers: 0.7, ShopRate: 0.8, AttackPace: 0.8, AttackShift: -9, AttackFrom: 6},
	// Small deployments (issue 14): held out like the others.
	{Name: "few-clients", Description: "a small deployment: the shop API with three clients (two customers on their own addresses, one administrator) for 24 h; attacks from hour 4 while every population baseline is still learning",
		Hours: 24, Small: &Small{Customers: 2, Admin: true}},
	{Name: "one-hour", Description: "a one-hour capture (10:00–11:00) of a small shop: three customers, an administrator and an order-sync integration; every attack lands in that hour (cold)",
		Hours: 1, StartHour: 10, Small: &Small{Customers: 3, Admin: true, Integration: 0.5, SessionsPerHour: 6}},
	{Name: "dominant-client", Description: "a small shop for 24 h where one client — an order-sync integration walking the order book by id — makes about 80 % of the requests; three customers and an administrator make the rest",
		Hours: 24, Small: &Small{Customers: 3, Admin: true, Integration: 0.8}},
	{Name: "scanner-log", Description: "a web-scanner log: six hours of a small site with four customers, and one scanner address making ~1,700 HEAD/GET probes for backup, configuration, VCS and admin paths (mostly 404) in its first hour",
		Hours: 6, StartHour: 8, Small: &Small{Customers: 4, Scanner: true}},
}

// VariantByName returns the named variant ("" = base).
func VariantByName(name string) (Variant, error) {
	if name == "" {
		name = "base"
	}
	for _, v := range Variants {
		if v.Name == name {
			return v, nil
		}
	}
	names := make([]string, 0, len(Variants))
	for _, v := range Variants {
		names = append(names, v.Name)
	}
	sort.Strings(names)
	return Variant{}, fmt.Errorf("sim: unknown variant %q (known: %s)", name, strings.Join(names, ", "))
}

func (v Variant) validate() error {
	for name, x := range map[string]float64{"shop users": v.ShopUsers, "patients": v.Patients, "bank customers": v.BankCustomers,
		"clinicians": v.Clinicians, "shop rate": v.ShopRate, "clinic rate": v.ClinicRate, "bank rate": v.BankRate, "attack pace": v.AttackPace} {
		if math.IsNaN(x) || math.IsInf(x, 0) || x < 0 || x > 100 {
			return fmt.Errorf("sim: variant %s: %s must be between 0 and 100, got %v", v.Name, name, x)
		}
	}
	if math.IsNaN(v.LingeringTokens) || v.LingeringTokens < 0 || v.LingeringTokens > 1 {
		return fmt.Errorf("sim: variant %s: lingering token share must be in [0, 1], got %v", v.Name, v.LingeringTokens)
	}
	if math.IsNaN(v.AttackShift) || math.IsInf(v.AttackShift, 0) {
		return fmt.Errorf("sim: variant %s: attack shift must be finite", v.Name)
	}
	if v.BankTokenLife < 0 || v.ShopTokenLife < 0 {
		return fmt.Errorf("sim: variant %s: token lifetimes must be positive", v.Name)
	}
	if math.IsNaN(v.AttackFrom) || v.AttackFrom < 0 || v.AttackFrom >= 46 {
		return fmt.Errorf("sim: variant %s: attack period start must be in [0, 46) hours, got %v", v.Name, v.AttackFrom)
	}
	if _, err := parseAPIShape(v.APIShape); err != nil {
		return fmt.Errorf("sim: variant %s: %w", v.Name, err)
	}
	if math.IsNaN(v.Hours) || v.Hours < 0 || v.Hours > 31*24 {
		return fmt.Errorf("sim: variant %s: hours must be between 0 and 744, got %v", v.Name, v.Hours)
	}
	if math.IsNaN(v.StartHour) || v.StartHour < 0 || v.StartHour >= 24 {
		return fmt.Errorf("sim: variant %s: start hour must be in [0, 24), got %v", v.Name, v.StartHour)
	}
	if s := v.Small; s != nil {
		if s.Customers < 1 || s.Customers > 5 {
			return fmt.Errorf("sim: variant %s: a small deployment has 1–5 customers, got %d", v.Name, s.Customers)
		}
		if math.IsNaN(s.Integration) || s.Integration < 0 || s.Integration >= 1 {
			return fmt.Errorf("sim: variant %s: the integration's share must be in [0, 1), got %v", v.Name, s.Integration)
		}
		if math.IsNaN(s.SessionsPerHour) || s.SessionsPerHour < 0 || s.SessionsPerHour > 100 {
			return fmt.Errorf("sim: variant %s: sessions per hour must be between 0 and 100, got %v", v.Name, s.SessionsPerHour)
		}
	}
	return nil
}

func or1(x float64) float64 {
	if x == 0 {
		return 1
	}
	return x
}

func (v Variant) bankLife() time.Duration {
	if v.BankTokenLife > 0 {
		return v.BankTokenLife
	}
	return 15 * time.Minute
}

func (v Variant) shopLife() time.Duration {
	if v.ShopTokenLife > 0 {
		return v.ShopTokenLife
	}
	return time.Hour
}

// attackHour moves an attack's start (hours of 48) by the variant's shift,
// wrapping inside hours 12–46.
func (v Variant) attackHour(h float64) float64 {
	lo := 12.0
	if v.AttackFrom > 0 {
		lo = v.AttackFrom
	}
	if v.AttackShift == 0 || h < lo {
		return h
	}
	span := 46 - lo
	x := math.Mod(h-lo+v.AttackShift, span)
	if x < 0 {
		x += span
	}
	return lo + x
}

// roamIP is the fresh address of a roaming attacker (one per scenario).
func roamIP(n int) string {
	return "198.18." + strconv.Itoa(1+n/250) + "." + strconv.Itoa(1+n%250)
}

// roam prepares a roaming attack: the scenario's single address becomes
// the principal's usual address (where benign work goes on) and the attack
// comes from a fresh one. It returns the fresh address ("" when the
// scenario does not roam: no principal, several addresses or an endpoint
// subject).
func (g *gen) roam(st *scenState, startHour float64) string {
	sc := &st.Scenario
	if !g.cfg.Variant.RoamingAttackers || sc.Identity == "" || strings.HasPrefix(sc.AlertType, "intel.") || len(sc.ClientIPs) != 1 || sc.Subject == "endpoint" || strings.Contains(sc.Identity, "…") {
		return ""
	}
	usual := sc.ClientIPs[0]
	fresh := roamIP(len(g.scen))
	sc.ClientIPs = []string{fresh}
	sc.Description += " Roaming variant: the attack comes from " + fresh + "; the principal keeps working from its usual address " + usual + "."
	g.schedulePrincipalRoutine(sc.Identity, sc.Host, usual, g.at(startHour).Add(-8*time.Hour))
	return fresh
}

// schedulePrincipalRoutine makes a principal work from its usual address:
// a light request every ~25 minutes for 16 hours from from (benign: its own
// list endpoints).
func (g *gen) schedulePrincipalRoutine(sub, host, ip string, from time.Time) {
	r := g.stream("routine-" + sub)
	n := 0
	var tok string
	var exp time.Time
	g.schedule(from, &every{period: 22 * time.Minute, jitter: 6 * time.Minute, r: r, fn: func(g *gen, now time.Time) {
		if n >= 40 {
			return
		}
		n++
		if tok == "" || now.After(exp.Add(-2*time.Minute)) {
			switch host {
			case BankHost:
				tok, exp = g.bankToken(r, sub, now, g.cfg.Variant.bankLife()), now.Add(g.cfg.Variant.bankLife())
			case ClinicHost:
				tok, exp = mintJWT(r, "RS256", "ehr-idp-1", jwtClaims{Sub: sub, Iss: "https://idp.clinic.example.test", Aud: "ehr-api",
					Iat: now, Exp: now.Add(12 * time.Hour), Roles: []string{"nurse"}, Scope: "patient/*.read patient/*.write"}), now.Add(12*time.Hour)
			default:
				tok, exp = g.shopToken(r, sub, now, []string{"customer"}, g.cfg.Variant.shopLife()), now.Add(g.cfg.Variant.shopLife())
			}
		}
		var rec *recT
		switch host {
		case BankHost:
			rec = mk(r, now, srcBank, ip, bankAppUAs[0], "GET", bankURL("/v1/accounts", nil))
			replyJSON(rec, 200, `{"items":[]}`, latency(r, 70, 0.4))
		case ClinicHost:
			rec = mk(r, now, srcClinic, ip, clinicianUA, "GET", clinicURL("/v1/staff/directory", url.Values{"ward": {"3"}}))
			replyJSON(rec, 200, `{"items":[]}`, latency(r, 40, 0.4))
		default:
			rec = mk(r, now, srcShop, ip, shopAppUAs[0], "GET", shopURL("/v1/products", url.Values{"category": {"books"}, "page": {"1"}, "limit": {"24"}}))
			replyJSON(rec, 200, `{"items":[],"page":1,"total":0}`, latency(r, 50, 0.4))
		}
		bearer(rec, tok)
		g.emit(rec, nil)
	}})
}
