package main

import (
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/report"
	"github.com/palisade-sec/palisade/internal/scenario"
	"github.com/palisade-sec/palisade/internal/sim"
)

func init() {
	var (
		seed      int64
		hours     float64
		scale     float64
		noAttacks bool
		reportOut string
		capture   string
	)
	cmd := &cobra.Command{
		Use:   "demo",
		Short: "Simulate traffic for built-in sample APIs, analyze it and show the result",
		Long: `Demo runs the built-in simulator (a shop, a clinic, a bank and outbound calls
to third-party APIs: users, sessions, diurnal load, service accounts, errors and
labelled attack scenarios next to benign look-alikes), feeds the traffic through
the whole pipeline (with threat-intel feeds naming the simulated Tor exits and
blocklisted addresses), prints what Palisade found, and scores the detections
against the labels. Nothing leaves the machine.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg := sim.DefaultConfig()
			cfg.Seed = seed
			cfg.Duration = time.Duration(hours * float64(time.Hour))
			cfg.Scale = scale
			cfg.Attacks = !noAttacks
			var capW io.Writer
			if capture != "" {
				f, err := os.Create(capture)
				if err != nil {
					return exitCode(2, err)
				}
				defer f.Close()
				capW = f
				if strings.HasSuffix(capture, ".gz") {
					zw := gzip.NewWriter(f)
					defer zw.Close()
					capW = zw
				}
			}
			fmt.Fprintf(os.Stderr, "palisade demo: simulating %s of traffic (seed %d)…\n", cfg.Duration, cfg.Seed)
			start := time.Now()
			pr := newProgress(true, 0, true)
			var n int64
			res, err := scenario.Run(scenario.Options{Sim: cfg, OnRecord: func(r *exchange.Record) error {
				n++
				if n&1023 == 0 {
					pr.update(0, n)
				}
				if capW != nil {
					return exchange.Encode(capW, r)
				}
				return nil
			}})
			pr.finish()
			if err != nil {
				return err
			}
			rep := res.Report
			rep.GeneratedAt = time.Now().UTC()
			fmt.Fprintf(os.Stderr, "palisade demo: analyzed %d records in %s\n\n", n, time.Since(start).Round(time.Millisecond))
			if reportOut != "" {
				if err := writeFileAtomic(reportOut, func(w io.Writer) error { return report.WriteJSON(w, rep) }); err != nil {
					return err
				}
			}
			out := cmd.OutOrStdout()
			if err := report.Summary(out, rep); err != nil {
				return err
			}
			if cfg.Attacks {
				fmt.Fprintf(out, "\nDetection against the simulation's labels (%d attacks, %d benign look-alikes)\n", res.Total.Scenarios, res.Traps)
				if err := res.WriteTable(out); err != nil {
					return err
				}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.Int64Var(&seed, "seed", 1, "simulation seed")
	fl.Float64Var(&hours, "hours", 48, "hours of traffic to simulate")
	fl.Float64Var(&scale, "scale", 1, "population/traffic multiplier")
	fl.BoolVar(&noAttacks, "no-attacks", false, "benign traffic only")
	fl.StringVar(&reportOut, "report", "", "also write the JSON report to this file")
	fl.StringVar(&capture, "capture", "", "also write the simulated capture (NDJSON; .gz compresses)")
	root.AddCommand(cmd)
}
