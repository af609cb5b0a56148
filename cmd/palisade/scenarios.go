package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/palisade-sec/palisade/internal/scenario"
	"github.com/palisade-sec/palisade/internal/sim"
)

func init() {
	cfg := sim.DefaultConfig()
	var hours float64
	var verbose bool
	var jsonOut string
	var tol time.Duration
	var maxFalse, maxTrapFalse int
	vflags := &variantFlags{}
	cmd := &cobra.Command{
		Use:   "scenarios",
		Short: "Score the detectors against the simulator's labelled attacks and benign traps",
		Long: `scenarios simulates 48 hours of traffic (palisade sim), runs it through the whole
pipeline and matches every alert to the labelled attack scenarios (type, subject, time
window) and benign traps. It prints per alert type: scenarios, detected, time to detect,
alerts, mistyped alerts (another type on an attacker), false alerts and how many of those
fell for a trap. It exits with status 3 when a floor is missed.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if hours <= 0 {
				return exitCode(2, fmt.Errorf("--hours must be positive, got %v", hours))
			}
			cfg.Duration = time.Duration(hours * float64(time.Hour))
			vs, err := vflags.variants()
			if err != nil {
				return exitCode(2, err)
			}
			if cmd.Flags().Changed("hours") {
				for i := range vs {
					vs[i].Hours = 0 // an explicit --hours wins over the variant's capture length
				}
			}
			out := cmd.OutOrStdout()
			var runs []*scenario.Result
			var below []string
			for _, v := range vs {
				c := cfg
				c.Variant = v
				res, err := scenario.Run(scenario.Options{Sim: c, Tolerance: tol})
				if err != nil {
					return exitCode(1, err)
				}
				res.Variant = v.Name
				runs = append(runs, res)
				span, from := cfg.Duration, cfg.Start
				if in := res.Report.Input; in.From != nil {
					span, from = time.Duration(res.Days*24*float64(time.Hour)).Round(time.Minute), *in.From
				}
				fmt.Fprintf(out, "variant %s: %d records, seed %d, %s from %s\n\n", v.Name, res.Records, cfg.Seed, span, from.UTC().Format(time.RFC3339))
				if err := res.WriteTable(out); err != nil {
					return err
				}
				if verbose {
					fmt.Fprintln(out)
					if err := res.WriteDetails(out); err != nil {
						return err
					}
				}
				fmt.Fprintln(out)
				floors := scenario.FloorsFor(v)
				if cmd.Flags().Changed("max-false") {
					floors.MaxFalse = maxFalse
				}
				if cmd.Flags().Changed("max-trap-false") {
					floors.MaxTrapFalse = maxTrapFalse
				}
				for _, m := range res.Check(floors) {
					below = append(below, v.Name+": "+m)
				}
			}
			if len(runs) > 1 {
				fmt.Fprintln(out, "Per variant (recall = detected/scenarios; false alerts per simulated day; median time to detect):")
				if err := scenario.WriteVariantTable(out, runs); err != nil {
					return err
				}
			}
			if jsonOut != "" {
				f, err := os.Create(jsonOut)
				if err != nil {
					return exitCode(1, err)
				}
				if err := scenario.WriteJSONRuns(f, runs); err != nil {
					f.Close()
					return exitCode(1, err)
				}
				if err := f.Close(); err != nil {
					return exitCode(1, err)
				}
			}
			if len(below) > 0 {
				return exitCode(3, fmt.Errorf("below the floors:\n  %s", strings.Join(below, "\n  ")))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.Int64Var(&cfg.Seed, "seed", cfg.Seed, "simulation seed")
	f.Float64Var(&hours, "hours", 48, "simulated hours (the floors are set for 48)")
	f.Float64Var(&cfg.Scale, "scale", 1, "benign population multiplier")
	f.DurationVar(&tol, "tolerance", scenario.DefaultTolerance, "how far outside a scenario's window an alert may start and still match")
	f.IntVar(&maxFalse, "max-false", scenario.DefaultFloors().MaxFalse, "false-alert budget (default: the variant's floors)")
	f.IntVar(&maxTrapFalse, "max-trap-false", scenario.DefaultFloors().MaxTrapFalse, "budget for alerts that fall for benign traps (default: the variant's floors)")
	f.BoolVarP(&verbose, "verbose", "v", false, "list every false and mistyped alert")
	f.StringVar(&jsonOut, "json", "", "also write the scores as JSON to this file (an array of runs with --variant all)")
	vflags.register(f, true)
	root.AddCommand(cmd)
}
