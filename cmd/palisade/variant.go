package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/palisade-sec/palisade/internal/sim"
)

// variantFlags are the traffic-shape flags of sim and scenarios: a named
// variant (sim.Variants) and overrides of its fields.
type variantFlags struct {
	name string
	v    sim.Variant // holds the override values
	fs   *pflag.FlagSet
}

// register binds the flags on f.
func (vf *variantFlags) register(f *pflag.FlagSet, allowAll bool) {
	vf.fs = f
	names := make([]string, 0, len(sim.Variants))
	for _, v := range sim.Variants {
		names = append(names, v.Name)
	}
	help := "traffic shape: " + strings.Join(names, ", ")
	if allowAll {
		help += ", or all"
	}
	f.StringVar(&vf.name, "variant", "base", help)
	f.Float64Var(&vf.v.ShopUsers, "shop-users", 0, "multiplies the shop's customer population (overrides the variant)")
	f.Float64Var(&vf.v.Patients, "patients", 0, "multiplies the clinic's patients")
	f.Float64Var(&vf.v.BankCustomers, "bank-customers", 0, "multiplies the bank's customers")
	f.Float64Var(&vf.v.Clinicians, "clinicians", 0, "multiplies the clinic's clinicians")
	f.Float64Var(&vf.v.ShopRate, "shop-rate", 0, "multiplies the shop's session rate")
	f.Float64Var(&vf.v.ClinicRate, "clinic-rate", 0, "multiplies the clinic's session rates")
	f.Float64Var(&vf.v.BankRate, "bank-rate", 0, "multiplies the bank's session rate")
	f.DurationVar(&vf.v.BankTokenLife, "bank-token-life", 0, "lifetime of the bank's access tokens (base 15m)")
	f.DurationVar(&vf.v.ShopTokenLife, "shop-token-life", 0, "lifetime of the shop app's access tokens (base 1h)")
	f.Float64Var(&vf.v.LingeringTokens, "lingering-tokens", 0, "share of bank and shop-app sessions that keep using their token 5–12 min past exp (answered 200)")
	f.Float64Var(&vf.v.AttackShift, "attack-shift", 0, "hours every attack starts later (wrapping in hours 12–46 of 48, or from --attack-from)")
	f.Float64Var(&vf.v.AttackFrom, "attack-from", 0, "first hour of the attack period the shift wraps in (0 = 12; earlier: attacks may land while baselines learn)")
	f.Float64Var(&vf.v.AttackPace, "attack-pace", 0, "multiplies the gaps between an attacker's requests (>1 slower)")
	f.BoolVar(&vf.v.RoamingAttackers, "roaming-attackers", false, "attackers use principals' tokens from fresh addresses")
	f.BoolVar(&vf.v.ReplayBankToken, "replay-bank-token", false, "add a 3-day-old bank token replay")
	f.StringVar(&vf.v.APIShape, "api-shape", "", "rewrite the APIs' URLs: uuid-ids (ids as UUIDs), prefix (/v1/ as /api/v2/), staff-area (/admin/ as /staff/), comma-separated, or all")
}

// variants returns the selected variants with the overrides applied.
func (vf *variantFlags) variants() ([]sim.Variant, error) {
	var out []sim.Variant
	if vf.name == "all" {
		out = append(out, sim.Variants...)
	} else {
		v, err := sim.VariantByName(vf.name)
		if err != nil {
			return nil, fmt.Errorf("--variant: %w", err)
		}
		out = append(out, v)
	}
	for i := range out {
		v := &out[i]
		set := func(flag string, apply func()) {
			if vf.fs.Changed(flag) {
				apply()
				if !strings.HasSuffix(v.Name, "+") {
					v.Name += "+"
				}
			}
		}
		o := vf.v
		set("shop-users", func() { v.ShopUsers = o.ShopUsers })
		set("patients", func() { v.Patients = o.Patients })
		set("bank-customers", func() { v.BankCustomers = o.BankCustomers })
		set("clinicians", func() { v.Clinicians = o.Clinicians })
		set("shop-rate", func() { v.ShopRate = o.ShopRate })
		set("clinic-rate", func() { v.ClinicRate = o.ClinicRate })
		set("bank-rate", func() { v.BankRate = o.BankRate })
		set("bank-token-life", func() { v.BankTokenLife = o.BankTokenLife })
		set("shop-token-life", func() { v.ShopTokenLife = o.ShopTokenLife })
		set("lingering-tokens", func() { v.LingeringTokens = o.LingeringTokens })
		set("attack-shift", func() { v.AttackShift = o.AttackShift })
		set("attack-from", func() { v.AttackFrom = o.AttackFrom })
		set("attack-pace", func() { v.AttackPace = o.AttackPace })
		set("roaming-attackers", func() { v.RoamingAttackers = o.RoamingAttackers })
		set("replay-bank-token", func() { v.ReplayBankToken = o.ReplayBankToken })
		set("api-shape", func() { v.APIShape = o.APIShape })
		if v.BankTokenLife < 0 || v.ShopTokenLife < 0 || (v.BankTokenLife > 0 && v.BankTokenLife < time.Minute) {
			return nil, fmt.Errorf("--bank-token-life/--shop-token-life: must be at least 1m, got %s / %s", v.BankTokenLife, v.ShopTokenLife)
		}
	}
	return out, nil
}
