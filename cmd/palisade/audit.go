package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/posture/specaudit"
	"github.com/spf13/cobra"
)

func init() {
	var (
		format, out, failOn string
		rules, disable      []string
		listRules, noValid  bool
	)
	cmd := &cobra.Command{
		Use:   "audit [flags] SPEC...",
		Short: "Static security audit of OpenAPI 2.0/3.0/3.1 documents (text, JSON or SARIF)",
		Long: `Audit OpenAPI documents (JSON or YAML) for security misconfiguration.

Exit codes: 0 no finding at or above --fail-on (default: never fail on findings),
1 findings at or above --fail-on, 2 usage error or a document that could not be
read or parsed (the other documents are still audited).
The rule catalogue is in docs/audit.md (or run with --list-rules).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if listRules {
				for _, r := range specaudit.Rules() {
					fmt.Fprintf(cmd.OutOrStdout(), "%s  %-8s  %-32s  %s\n", r.ID, r.Severity, r.Name, r.Title)
				}
				return nil
			}
			if len(args) == 0 {
				return exitCode(2, fmt.Errorf("audit: no SPEC given"))
			}
			if failOn != "" && failOn != "never" && model.SeverityRank(failOn) < 0 {
				return exitCode(2, fmt.Errorf("audit: --fail-on %q: want never, info, low, medium, high or critical", failOn))
			}
			var write func(io.Writer, *specaudit.Result) error
			switch format {
			case "text":
				write = specaudit.WriteText
			case "json":
				write = specaudit.WriteJSON
			case "sarif":
				write = specaudit.WriteSARIF
			default:
				return exitCode(2, fmt.Errorf("audit: --format %q: want text, json or sarif", format))
			}
			res, err := specaudit.AuditFiles(args, specaudit.Options{Only: splitList(rules), Disable: splitList(disable), NoValidate: noValid})
			if err != nil {
				return exitCode(2, fmt.Errorf("audit: %w", err))
			}
			w := cmd.OutOrStdout()
			var f *os.File
			if out != "" && out != "-" {
				f, err = os.Create(out)
				if err != nil {
					return exitCode(2, fmt.Errorf("audit: --out: %w", err))
				}
				w = f
			}
			bw := bufio.NewWriter(w)
			werr := write(bw, res)
			if werr == nil {
				werr = bw.Flush()
			}
			if f != nil {
				if cerr := f.Close(); werr == nil {
					werr = cerr
				}
			}
			if werr != nil {
				return exitCode(2, fmt.Errorf("audit: writing output: %w", werr))
			}
			if format != "text" || f != nil { // text on stdout already lists them
				for _, e := range res.Errors {
					fmt.Fprintln(cmd.ErrOrStderr(), "palisade audit:", e)
				}
			}
			if len(res.Errors) > 0 {
				return exitCode(2, fmt.Errorf("audit: %d of %d documents could not be audited", len(res.Errors), len(args)))
			}
			if failOn != "" && failOn != "never" {
				if n := specaudit.CountAtOrAbove(res.Findings, failOn); n > 0 {
					return exitCode(1, fmt.Errorf("audit: %d findings at or above %s", n, failOn))
				}
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&format, "format", "text", "output format: text, json (report-v1 findings) or sarif (SARIF 2.1.0)")
	fl.StringVar(&out, "out", "", "write the output to FILE instead of standard output")
	fl.StringVar(&failOn, "fail-on", "never", "exit 1 when a finding has at least this severity (info, low, medium, high, critical; never)")
	fl.StringSliceVar(&rules, "rules", nil, "run only these rules (IDs or names, comma-separated)")
	fl.StringSliceVar(&disable, "disable", nil, "skip these rules (IDs or names, comma-separated)")
	fl.BoolVar(&listRules, "list-rules", false, "list the rules and exit")
	fl.BoolVar(&noValid, "no-validate", false, "skip kin-openapi's validation verdict (faster; the findings are the same)")
	root.AddCommand(cmd)
}

func splitList(in []string) []string {
	var out []string
	for _, s := range in {
		for _, p := range strings.Split(s, ",") {
			if p = strings.TrimSpace(p); p != "" {
				out = append(out, p)
			}
		}
	}
	return out
}
