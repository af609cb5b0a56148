package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/palisade-sec/palisade/internal/engine/discoveryeval"
)

// defaultSpecs is the apis-guru development set beside the repository.
const defaultSpecs = "../shared/eval-data/openapi/apis-guru-dev/specs"

func init() {
	var (
		specs    string
		cfg      discoveryeval.Config
		jsonFile string
	)
	cmd := &cobra.Command{
		Use:   "discovery",
		Short: "API discovery (path templating) on traffic synthesized from real-world OpenAPI specs, scored against their operations",
		Long: `Synthesizes traffic from every OpenAPI spec of a directory (by default the 142
specs of the apis-guru development set), runs each spec's traffic through its own
Palisade engine WITHOUT loading the spec, and scores the endpoints the inventory
discovered against the spec's operations (docs/inventory.md, "Measuring
discovery on real-world APIs").

Each operation gets --requests requests over two hours of event time,
interleaved with the others', from about 50 clients, 95 % answered 200 and 5 %
404. With --bodies spec (the default) a 200 answers with JSON generated from
the operation's success response schema (the first of 200, 201, 2XX, default
with a JSON schema), or 204 or 200 without a body when it has none, and a 404
with {"error":"not found"}; --bodies ok answers every request {"ok":true}.
Each path parameter takes its values from a pool of --values distinct
values drawn from its schema: integers, UUIDs, dates, e-mail addresses, the
enum, mutations of the declared example, strings generated from the pattern,
else lower-case word-like tokens. The same --seed gives the same traffic.

An operation is exact when all its requests land on one endpoint that no other
operation's requests reach; split when they land on several; merged when it
shares an endpoint with another operation. Rows group operations by the weakest
kind of their path parameters; enum operations have their own row and are left
out of the headline (a low-cardinality enum is legitimately static).

Each spec is in the tuning or the validation part by sha256 of its file name
(30 % validation). --show prints examples of split, merged and wrong-parameter
operations of the tuning part only; the validation part is only counted.`,
		Example: `  palisade-eval discovery
  palisade-eval discovery --show 5 --json discovery.json
  palisade-eval discovery --bodies ok
  palisade-eval discovery --specs my-specs/ --requests 200 --values 100`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := specs
			if !cmd.Flags().Changed("specs") {
				if v := os.Getenv("PALISADE_EVAL_DATA"); v != "" {
					dir = filepath.Join(v, "openapi", "apis-guru-dev", "specs")
				}
			}
			if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
				return exitCode(2, fmt.Errorf("--specs %s: not a directory of OpenAPI specs (the default is the apis-guru development set, %s from the working directory, or $PALISADE_EVAL_DATA/openapi/apis-guru-dev/specs): pass --specs DIR", dir, defaultSpecs))
			}
			for _, f := range []struct {
				name string
				v    int
			}{{"--requests", cfg.Requests}, {"--values", cfg.Values}, {"--show", cfg.Show}, {"--max-ops", cfg.MaxOps}} {
				if f.v < 0 {
					return exitCode(2, fmt.Errorf("%s: must not be negative, got %d", f.name, f.v))
				}
			}
			if cfg.Bodies != discoveryeval.BodiesSpec && cfg.Bodies != discoveryeval.BodiesOK {
				return exitCode(2, fmt.Errorf("--bodies: want %s or %s, got %q", discoveryeval.BodiesSpec, discoveryeval.BodiesOK, cfg.Bodies))
			}
			var jf *os.File
			if jsonFile != "" {
				var err error
				if jf, err = os.Create(jsonFile); err != nil {
					return exitCode(2, fmt.Errorf("--json: %w", err))
				}
				defer jf.Close()
			}
			res, err := discoveryeval.Run(dir, cfg, cmd.OutOrStdout())
			if err != nil {
				return exitCode(2, err)
			}
			if jf != nil {
				enc := json.NewEncoder(jf)
				enc.SetIndent("", "  ")
				if err := enc.Encode(res); err != nil {
					return exitCode(1, fmt.Errorf("--json: %w", err))
				}
				if err := jf.Close(); err != nil {
					return exitCode(1, fmt.Errorf("--json: %w", err))
				}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&specs, "specs", defaultSpecs, "directory of OpenAPI specs (.json, .yaml, .yml); default: the apis-guru development set beside the repository, or $PALISADE_EVAL_DATA/openapi/apis-guru-dev/specs")
	fl.IntVar(&cfg.Requests, "requests", discoveryeval.DefaultRequests, "requests per operation")
	fl.IntVar(&cfg.Values, "values", discoveryeval.DefaultValues, "distinct values per path parameter")
	fl.Int64Var(&cfg.Seed, "seed", 1, "seed of the generated traffic (the same seed gives the same traffic)")
	fl.IntVar(&cfg.MaxOps, "max-ops", discoveryeval.DefaultMaxOps, "operations per spec (the rest are dropped and counted)")
	fl.StringVar(&cfg.Bodies, "bodies", discoveryeval.BodiesSpec, "response bodies: spec (JSON from each operation's success response schema) or ok (every response {\"ok\":true})")
	fl.BoolVar(&cfg.WithSpec, "with-spec", false, "load each spec for its host first: measures the matching of paths to declared templates instead of discovery")
	fl.IntVar(&cfg.Show, "show", 0, "print this many examples of split, merged and wrong-parameter operations (tuning part only)")
	fl.StringVar(&jsonFile, "json", "", "write the result (tallies per part and row, exclusions, tuning-part examples) as JSON to this file")
	root.AddCommand(cmd)
}
