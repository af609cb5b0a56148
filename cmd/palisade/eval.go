package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/spf13/cobra"

	"github.com/palisade-sec/palisade/internal/detect/injeval"
)

func init() {
	evalCmd := &cobra.Command{
		Use:   "eval",
		Short: "Evaluate detectors on labelled corpora",
	}
	var (
		dataDir  string
		coraza   []int
		sample   int
		perFile  int
		examples int
	)
	inj := &cobra.Command{
		Use:   "injection",
		Short: "Injection detection rates (TPR per class, FPR on benign sets), optionally side by side with Coraza + OWASP CRS",
		Long: `Turns GoTestWAF test cases, the HttpParams dataset and the PayloadsAllTheThings
Intruder lists into HTTP requests (each list payload in the query, a JSON body,
a form body, a header and a path segment; GoTestWAF payloads with their own
encoders and placeholders), runs Palisade's signature detectors on each, and
prints detection rates per class and false-positive rates on the benign sets.
--coraza 1,2 adds Coraza with the OWASP CRS at those paranoia levels on a
deterministic sample (--sample) of the same requests.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ps, st, err := injeval.LoadAll(dataDir, perFile)
			if err != nil {
				return exitCode(2, err)
			}
			cases := injeval.BuildCases(ps, nil, st)
			engines := []injeval.Engine{injeval.NewPalisade()}
			for _, pl := range coraza {
				c, err := injeval.NewCoraza(pl)
				if err != nil {
					return exitCode(2, err)
				}
				engines = append(engines, c)
			}
			out := cmd.OutOrStdout()
			fmt.Fprintf(out, "corpora: %d files, %d payloads, %d requests", st.Files, st.Payloads, len(cases))
			if len(st.EscapeFixed) > 0 {
				fmt.Fprintf(out, "; YAML \\' escape fixed in %v", st.EscapeFixed)
			}
			fmt.Fprintln(out)
			keys := make([]string, 0, len(st.Skipped))
			for k := range st.Skipped {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				fmt.Fprintf(out, "skipped: %s: %d\n", k, st.Skipped[k])
			}
			for _, f := range st.SkippedFiles {
				fmt.Fprintf(out, "skipped folder: %s\n", f)
			}
			res := injeval.Run(cases, engines, injeval.Options{Sample: sample, Examples: examples})
			fmt.Fprintln(out)
			res.Print(out)
			if examples > 0 {
				fmt.Fprintln(out)
				res.PrintExamples(out)
			}
			return nil
		},
	}
	def := filepath.Join("..", "shared", "eval-data", "injection")
	if v := os.Getenv("PALISADE_EVAL_DATA"); v != "" {
		def = filepath.Join(v, "injection")
	}
	inj.Flags().StringVar(&dataDir, "data", def, "the eval-data injection folder (gotestwaf/, httpparams/, payloadsallthethings/)")
	inj.Flags().IntSliceVar(&coraza, "coraza", nil, "also run Coraza + OWASP CRS at these paranoia levels (e.g. 1,2)")
	inj.Flags().IntVar(&sample, "sample", 1000, "requests per (source, class) row given to Coraza (evenly spaced, deterministic; 0 = all)")
	inj.Flags().IntVar(&perFile, "per-file", 400, "payloads kept per PayloadsAllTheThings list (evenly spaced; 0 = all)")
	inj.Flags().IntVar(&examples, "examples", 0, "print this many missed / false-positive payloads per row")
	evalCmd.AddCommand(inj)
	root.AddCommand(evalCmd)
}
