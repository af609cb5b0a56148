package main

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strings"

	crstests "github.com/corazawaf/coraza-coreruleset/v4/tests"
	"github.com/spf13/cobra"

	"github.com/palisade-sec/palisade/internal/detect/injeval"
)

func init() {
	var (
		dataDir  string
		sources  []string
		coraza   []int
		sample   int
		perFile  int
		examples int
		explain  bool
		warm     bool
		verdicts string
		cpuprof  string
		memprof  string
	)
	inj := &cobra.Command{
		Use:   "injection",
		Short: "Injection recall per class and false-positive rates, tuning / validation / held-out, side by side with Coraza + OWASP CRS",
		Long: `Turns labelled corpora into HTTP requests, runs Palisade's signature detectors on
each and prints recall per class and false-positive rates on the benign sets.

Sources (--sources):
  dev  the development set (the folder holding gotestwaf/, httpparams/ and
       payloadsallthethings/; presidio prose from ../pii when present): GoTestWAF
       test cases with their encoders and placeholders; list payloads alone in a
       query parameter, JSON member, form body, header and path segment, and among
       benign parameters of a query string or form body, mid-path, in a cookie, in
       XML element text, and appended to a benign value. Each payload is in the
       tuning or the validation part by sha256 of the payload (30 % validation).
       Also api-values (from ../openapi/apis-guru-dev when present): every string
       example, default and enumeration value that 142 real-world API descriptions
       give a request parameter or body member, and their whole request body
       examples, each sent where its document puts it under its own name: benign.
  api  api-values alone.
  crs  the OWASP CRS regression suite shipped in the coraza-coreruleset module
       (attack stages of the LFI, RCE, XSS and SQLi rule files), held out whole.

--coraza 1,2 adds Coraza with the OWASP CRS at those paranoia levels on a
deterministic sample (--sample per source, class and split) of the same requests;
the cost line gives each engine's CPU time per request in the same run.
Examples (--examples) are drawn from the tuning part only.

--warm adds two columns: Palisade with the positive model on, every
argument (query, form, multipart, JSON, XML text) of every request starting
from the profile learned from up to 4,000 distinct benign values — HttpParams norm values
(palisade-warm-values) or presidio prose (palisade-warm-text), tuning parts
only — and frozen (nothing judged is learned). The palisade column stays
cold (no profile). Warm CPU time includes giving each request's arguments
their profile: it is not the product's cost.

--verdicts FILE writes every engine's verdict on every request, one line each
(case index, engine, source|class|split, placement/encoder, sha256 of the
payload, and Palisade's alerts, every field, evidence included, as JSON): diff two builds'
files to see every verdict that changed. --cpuprofile FILE writes a Go CPU
profile of the evaluation (go tool pprof FILE), --memprofile FILE a heap
profile with every allocation made during it (go tool pprof -sample_index
alloc_space FILE). They cost time: the cost line
of such a run is not the engines'.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			out := cmd.OutOrStdout()
			var cases []injeval.Case
			st := &injeval.LoadStats{}
			for _, s := range sources {
				switch s {
				case "dev":
					dir, err := findEvalData(dataDir, cmd.Flags().Changed("data"))
					if err != nil {
						return exitCode(2, err)
					}
					ps, st2, err := injeval.LoadAll(dir, perFile)
					if err != nil {
						return exitCode(2, err)
					}
					mergeStats(st, st2)
					cases = append(cases, injeval.BuildCases(ps, nil, st)...)
				case "api":
					dir, err := findEvalData(dataDir, cmd.Flags().Changed("data"))
					if err != nil {
						return exitCode(2, err)
					}
					ps, err := injeval.LoadAPIValues(filepath.Join(dir, "..", "openapi", "apis-guru-dev", "specs"), st)
					if err != nil {
						return exitCode(2, err)
					}
					cases = append(cases, injeval.BuildCases(ps, nil, st)...)
				case "crs":
					cs, err := injeval.LoadCRSRegression(crstests.FS, st)
					if err != nil {
						return exitCode(2, err)
					}
					cases = append(cases, cs...)
				default:
					return exitCode(2, fmt.Errorf("--sources: unknown source %q (want dev, api, crs)", s))
				}
			}
			engines := []injeval.Engine{injeval.NewPalisade()}
			var warmNote []string
			if warm {
				for _, wp := range injeval.WarmPools {
					w, err := injeval.NewWarm(wp.Name, wp.Source, cases)
					if err != nil {
						return exitCode(2, fmt.Errorf("--warm: %w", err))
					}
					engines = append(engines, w)
					warmNote = append(warmNote, fmt.Sprintf("%s: %d %s tuning-part values", w.Name(), w.Pool, wp.Source))
				}
			}
			for _, pl := range coraza {
				c, err := injeval.NewCoraza(pl)
				if err != nil {
					return exitCode(2, err)
				}
				engines = append(engines, c)
			}
			fmt.Fprintf(out, "corpora: %d files, %d payloads, %d requests", st.Files, st.Payloads, len(cases))
			if len(st.EscapeFixed) > 0 {
				fmt.Fprintf(out, "; YAML \\' escape fixed in %v", st.EscapeFixed)
			}
			fmt.Fprintln(out)
			if len(warmNote) > 0 {
				fmt.Fprintf(out, "warm profiles learned from: %s\n", strings.Join(warmNote, "; "))
			}
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
			opt := injeval.Options{Sample: sample, Examples: examples, Explain: explain}
			if verdicts != "" {
				f, err := os.Create(verdicts)
				if err != nil {
					return exitCode(2, fmt.Errorf("--verdicts: %w", err))
				}
				bw := bufio.NewWriterSize(f, 1<<20)
				opt.Verdicts = bw
				defer func() {
					if err := bw.Flush(); err != nil {
						fmt.Fprintln(os.Stderr, "palisade-eval: --verdicts:", err)
					}
					if err := f.Close(); err != nil {
						fmt.Fprintln(os.Stderr, "palisade-eval: --verdicts:", err)
					}
				}()
			}
			if cpuprof != "" {
				f, err := os.Create(cpuprof)
				if err != nil {
					return exitCode(2, fmt.Errorf("--cpuprofile: %w", err))
				}
				if err := pprof.StartCPUProfile(f); err != nil {
					f.Close()
					return exitCode(2, fmt.Errorf("--cpuprofile: %w", err))
				}
				defer func() {
					pprof.StopCPUProfile()
					if err := f.Close(); err != nil {
						fmt.Fprintln(os.Stderr, "palisade-eval: --cpuprofile:", err)
					}
				}()
			}
			if memprof != "" {
				runtime.MemProfileRate = 4096
				defer func() {
					f, err := os.Create(memprof)
					if err == nil {
						err = pprof.Lookup("allocs").WriteTo(f, 0)
						if cerr := f.Close(); err == nil {
							err = cerr
						}
					}
					if err != nil {
						fmt.Fprintln(os.Stderr, "palisade-eval: --memprofile:", err)
					}
				}()
			}
			res := injeval.Run(cases, engines, opt)
			fmt.Fprintln(out)
			res.Print(out)
			if examples > 0 {
				fmt.Fprintln(out)
				res.PrintExamples(out)
			}
			return nil
		},
	}
	inj.Flags().StringVar(&dataDir, "data", "", "the development set's injection folder (gotestwaf/, httpparams/, payloadsallthethings/); default: $PALISADE_EVAL_DATA/injection, else shared/eval-data/injection beside the working directory or one of its parents")
	inj.Flags().StringSliceVar(&sources, "sources", []string{"dev", "crs"}, "sources to evaluate: dev (the development set, api-values included), api (api-values alone: the values of the development set's real-world API descriptions), crs (the CRS regression suite, embedded)")
	inj.Flags().IntSliceVar(&coraza, "coraza", nil, "also run Coraza + OWASP CRS at these paranoia levels (e.g. 1,2)")
	inj.Flags().IntVar(&sample, "sample", 1000, "requests per (source, class, split) row given to Coraza (evenly spaced, deterministic; 0 = all)")
	inj.Flags().IntVar(&perFile, "per-file", 400, "payloads kept per PayloadsAllTheThings list (evenly spaced; 0 = all)")
	inj.Flags().IntVar(&examples, "examples", 0, "print this many missed / false-positive payloads per row (tuning part only)")
	inj.Flags().BoolVar(&warm, "warm", false, "also judge every request warm: each argument with the positive model learned from benign values (palisade-warm-values: HttpParams norm values; palisade-warm-text: presidio prose; tuning parts only; needs the dev source)")
	inj.Flags().StringVar(&verdicts, "verdicts", "", "write every engine's verdict on every request to this file, one line each (alerts with evidence as JSON; diff two builds' files)")
	inj.Flags().StringVar(&cpuprof, "cpuprofile", "", "write a Go CPU profile of the evaluation to this file (go tool pprof)")
	inj.Flags().StringVar(&memprof, "memprofile", "", "write a Go heap profile of the evaluation's allocations to this file (go tool pprof -sample_index alloc_space)")
	inj.Flags().BoolVar(&explain, "explain", false, "with --examples: what Palisade made of every value of each example request (decoding, structural and CRS matches, the policy's verdict)")
	root.AddCommand(inj)
}

func mergeStats(dst, src *injeval.LoadStats) {
	dst.Files += src.Files
	dst.Payloads += src.Payloads
	dst.EscapeFixed = append(dst.EscapeFixed, src.EscapeFixed...)
	dst.SkippedFiles = append(dst.SkippedFiles, src.SkippedFiles...)
	for k, v := range src.Skipped {
		if dst.Skipped == nil {
			dst.Skipped = map[string]int{}
		}
		dst.Skipped[k] += v
	}
}

// findEvalData resolves the development set's injection folder: the flag,
// else $PALISADE_EVAL_DATA/injection, else shared/eval-data/injection in
// the working directory or one of its parents (a checkout keeps shared/
// beside the repository).
func findEvalData(flag string, set bool) (string, error) {
	check := func(dir, from string) (string, error) {
		if fi, err := os.Stat(filepath.Join(dir, "gotestwaf")); err != nil || !fi.IsDir() {
			return "", fmt.Errorf("%s %s: not the injection folder of the development set (no gotestwaf/ in it)", from, dir)
		}
		return dir, nil
	}
	if set {
		return check(flag, "--data")
	}
	if v := os.Getenv("PALISADE_EVAL_DATA"); v != "" {
		return check(filepath.Join(v, "injection"), "$PALISADE_EVAL_DATA:")
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	var tried []string
	for d := wd; ; d = filepath.Dir(d) {
		for _, c := range []string{filepath.Join(d, "shared", "eval-data", "injection"), filepath.Join(d, "..", "shared", "eval-data", "injection")} {
			if fi, err := os.Stat(filepath.Join(c, "gotestwaf")); err == nil && fi.IsDir() {
				return filepath.Clean(c), nil
			}
		}
		tried = append(tried, filepath.Join(d, "shared", "eval-data", "injection"))
		if filepath.Dir(d) == d || len(tried) > 8 {
			break
		}
	}
	return "", errors.New("development set not found (looked for shared/eval-data/injection from " + wd + " upwards: " + strings.Join(tried[:min(3, len(tried))], ", ") + ", …): pass --data DIR (the folder holding gotestwaf/, httpparams/, payloadsallthethings/), set PALISADE_EVAL_DATA to the eval-data folder, or use --sources crs for the suite embedded in this binary")
}
