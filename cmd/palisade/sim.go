package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/palisade-sec/palisade/internal/sim"
)

func init() {
	cfg := sim.DefaultConfig()
	var hours float64
	var start string
	var noAttacks, noTraps bool
	var out sim.Output
	vflags := &variantFlags{}
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Generate deterministic, labelled API traffic (exchange-v1 NDJSON) for demos, benchmarks and detection tests",
		Long: `sim simulates 48 hours (by default) of traffic to four sample APIs — a shop, a clinic
(EHR), a bank and our services' outbound calls — with labelled attack scenarios for every
alert type and benign look-alikes ("traps"). The same flags give the same bytes.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if hours <= 0 {
				return exitCode(2, fmt.Errorf("--hours must be positive, got %v", hours))
			}
			cfg.Duration = time.Duration(hours * float64(time.Hour))
			if start != "" {
				t, err := time.Parse(time.RFC3339, start)
				if err != nil {
					return exitCode(2, fmt.Errorf("--start: not an RFC 3339 time: %q", start))
				}
				cfg.Start = t
			}
			vs, err := vflags.variants()
			if err != nil {
				return exitCode(2, err)
			}
			cfg.Variant = vs[0]
			if cmd.Flags().Changed("hours") {
				cfg.Variant.Hours = 0 // an explicit --hours wins over the variant's capture length
			}
			cfg.Attacks = !noAttacks
			cfg.Traps = !noTraps
			out.Stdout = cmd.OutOrStdout()
			lab, err := sim.WriteFiles(cfg, out)
			if err != nil {
				return exitCode(1, err)
			}
			if out.Records != "" && out.Records != "-" {
				fmt.Fprintf(cmd.ErrOrStderr(), "wrote %d records (%s … %s), %d scenarios to %s\n",
					lab.Records, lab.Start.Format(time.RFC3339), lab.End.Format(time.RFC3339), len(lab.Scenarios), out.Records)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.Int64Var(&cfg.Seed, "seed", cfg.Seed, "random seed (same seed, same records)")
	f.Float64Var(&hours, "hours", 48, "simulated duration in hours")
	f.StringVar(&start, "start", "", "start time, RFC 3339 (default 2026-11-16T00:00:00Z)")
	f.Float64Var(&cfg.Scale, "scale", 1, "multiplies the benign population and rate (1 ≈ 110k records per 48 h)")
	f.BoolVar(&noAttacks, "no-attacks", false, "leave out the labelled attack scenarios")
	f.BoolVar(&noTraps, "no-traps", false, "leave out the benign look-alike traps")
	f.StringVarP(&out.Records, "out", "o", "-", "output file for the NDJSON records (.gz = gzip); - for stdout")
	f.StringVar(&out.Labels, "labels", "", "write the scenario labels (JSON) to this file")
	vflags.register(f, false)
	f.StringVar(&out.IntelDir, "intel-dir", "", "write tor-exit-nodes.txt and blocklist.txt for the intel scenarios into this directory")
	root.AddCommand(cmd)
}
