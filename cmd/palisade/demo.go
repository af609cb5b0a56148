package main

import (
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/palisade-sec/palisade/internal/engine"
	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/report"
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
the whole pipeline and prints what Palisade found. Nothing leaves the machine.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg := sim.DefaultConfig()
			cfg.Seed = seed
			cfg.Duration = time.Duration(hours * float64(time.Hour))
			cfg.Scale = scale
			cfg.Attacks = !noAttacks
			cfg.Traps = true
			dir, err := os.MkdirTemp("", "palisade-demo-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(dir)
			// The simulator knows which addresses its intel scenarios use; a
			// first, cheap pass writes them as feeds like a user would load them.
			labels, err := sim.Generate(cfg, func(*exchange.Record) error { return nil })
			if err != nil {
				return err
			}
			tor, block := labels.IntelFeeds()
			torFile, blockFile := filepath.Join(dir, "tor-exits.txt"), filepath.Join(dir, "blocklist.txt")
			if err := os.WriteFile(torFile, []byte("# demo Tor exit list\n"+strings.Join(tor, "\n")+"\n"), 0o600); err != nil {
				return err
			}
			if err := os.WriteFile(blockFile, []byte("# demo blocklist\n"+strings.Join(block, "\n")+"\n"), 0o600); err != nil {
				return err
			}
			ecfg := engine.DefaultConfig()
			ecfg.Intel = []string{"tor=" + torFile, "blocklist=" + blockFile}
			eng, err := engine.New(ecfg)
			if err != nil {
				return err
			}
			var capW io.Writer
			if capture != "" {
				f, err := os.Create(capture)
				if err != nil {
					return err
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
			_, err = sim.Generate(cfg, func(r *exchange.Record) error {
				if capW != nil {
					if err := exchange.Encode(capW, r); err != nil {
						return err
					}
				}
				eng.Ingest(r)
				n++
				if n&1023 == 0 {
					pr.update(0, n)
				}
				return nil
			})
			if err != nil {
				return err
			}
			eng.Flush()
			pr.finish()
			rep := eng.Report(time.Now())
			fmt.Fprintf(os.Stderr, "palisade demo: analyzed %d records in %s\n\n", n, time.Since(start).Round(time.Millisecond))
			if reportOut != "" {
				if err := writeFileAtomic(reportOut, func(w io.Writer) error { return report.WriteJSON(w, rep) }); err != nil {
					return err
				}
			}
			if err := report.Summary(cmd.OutOrStdout(), rep); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "\nThe simulation contained %d labelled attack scenarios and %d benign look-alikes;\n`palisade scenarios` scores the detections against them.\n", countAttacks(labels), len(labels.Scenarios)-countAttacks(labels))
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

func countAttacks(l *sim.Labels) int {
	n := 0
	for _, s := range l.Scenarios {
		if s.AlertType != "" {
			n++
		}
	}
	return n
}
