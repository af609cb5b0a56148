package main

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/palisade-sec/palisade/internal/engine"
	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/posture/gateway"
	"github.com/palisade-sec/palisade/internal/posture/specaudit"
	"github.com/palisade-sec/palisade/internal/posture/yamltree"
	"github.com/palisade-sec/palisade/internal/report"
	"github.com/spf13/cobra"
)

func init() {
	var (
		format, out, failOn, kind, traffic string
		rules, disable                     []string
		listRules, noValid                 bool
	)
	cmd := &cobra.Command{
		Use:   "audit [flags] FILE...",
		Short: "Static security audit of OpenAPI documents and gateway configuration (text, JSON or SARIF)",
		Long: `Audit OpenAPI documents (JSON or YAML) and API gateway configuration for
security misconfiguration: Kong decK, NGINX (with includes), Envoy (bootstrap
or /config_dump), Kubernetes Ingress and Gateway API manifests, Azure API
Management ARM/Bicep JSON, AWS API Gateway (OpenAPI with x-amazon-apigateway
extensions, CloudFormation/SAM). The kind is detected from the content;
--kind forces it for every file.

--traffic joins the gateway configuration with traffic: a capture (NDJSON,
plain or gzip, or HAR; the OpenAPI files given are loaded as declared specs)
or a report written by "palisade analyze --report". It adds findings on
routes traffic never uses, traffic no route or spec explains, routes without
authentication returning sensitive data, and routes without rate limit where
volume or enumeration detections fired.

Exit codes: 0 no finding at or above --fail-on (default: never fail on findings),
1 findings at or above --fail-on, 2 usage error or a file that could not be
read or parsed (the other files are still audited).
The rule catalogues are in docs/audit.md and docs/gateway-audit.md (or run
with --list-rules).`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if listRules {
				w := cmd.OutOrStdout()
				for _, r := range specaudit.Rules() {
					fmt.Fprintf(w, "%s  %-8s  %-36s  %s\n", r.ID, r.Severity, r.Name, r.Title)
				}
				for _, r := range gateway.Rules() {
					fmt.Fprintf(w, "%s  %-8s  %-36s  %s\n", r.ID, r.Severity, r.Name, r.Title)
				}
				return nil
			}
			if len(args) == 0 {
				return exitCode(2, fmt.Errorf("audit: no FILE given"))
			}
			if failOn != "" && failOn != "never" && model.SeverityRank(failOn) < 0 {
				return exitCode(2, fmt.Errorf("audit: --fail-on %q: want never, info, low, medium, high or critical", failOn))
			}
			if kind != "" && kind != gateway.KindOpenAPI && !validKind(kind) {
				return exitCode(2, fmt.Errorf("audit: --kind %q: want openapi, %s", kind, strings.Join(gateway.Kinds, ", ")))
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
			sel, err := splitRules(splitList(rules), splitList(disable))
			if err != nil {
				return exitCode(2, fmt.Errorf("audit: %w", err))
			}
			// Sort the files: OpenAPI documents go to the spec audit,
			// the rest to the gateway audit (AWS API Gateway exports are
			// both).
			var specFiles, gwFiles []string
			for _, f := range args {
				k := kind
				if k == "" {
					k = detectFile(f)
				}
				switch k {
				case gateway.KindOpenAPI, "":
					specFiles = append(specFiles, f)
				case gateway.KindAWS:
					if kind == "" && isOpenAPIFile(f) {
						specFiles = append(specFiles, f)
					}
					gwFiles = append(gwFiles, f)
				default:
					gwFiles = append(gwFiles, f)
				}
			}
			res := &specaudit.Result{}
			if len(specFiles) > 0 || len(gwFiles) == 0 {
				r, err := specaudit.AuditFiles(specFiles, specaudit.Options{Only: sel.specOnly, Disable: sel.specDisable, NoValidate: noValid})
				if err != nil {
					return exitCode(2, fmt.Errorf("audit: %w", err))
				}
				res = r
			}
			gwKind := kind
			if gwKind == gateway.KindOpenAPI {
				gwKind = ""
			}
			gopts := gateway.Options{Only: sel.gwOnly, Disable: sel.gwDisable, Kind: gwKind}
			var configs []*gateway.Config
			if len(gwFiles) > 0 {
				g, err := gateway.AuditFiles(gwFiles, gopts)
				if err != nil {
					return exitCode(2, fmt.Errorf("audit: %w", err))
				}
				configs = g.Configs
				for _, r := range g.Rules {
					if traffic != "" || !gateway.IsJoined(r.ID) {
						res.Rules = append(res.Rules, r)
					}
				}
				res.Findings = append(res.Findings, g.Findings...)
				res.Specs = append(res.Specs, g.Summaries...)
				res.Errors = append(res.Errors, g.Errors...)
			}
			if traffic != "" {
				rep, err := loadTraffic(traffic, specFiles)
				if err != nil {
					return exitCode(2, fmt.Errorf("audit: --traffic: %w", err))
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "palisade audit: traffic %s: %d records, %d endpoints, %d alerts\n", traffic, rep.Input.Records, len(rep.Endpoints), len(rep.Alerts))
				if len(configs) == 0 {
					fmt.Fprintln(cmd.ErrOrStderr(), "palisade audit: --traffic: no gateway configuration among the files: nothing to join")
				}
				joined, err := gateway.Join(configs, rep, gateway.JoinOptions{Only: sel.gwOnly, Disable: sel.gwDisable})
				if err != nil {
					res.Errors = append(res.Errors, err)
				}
				res.Findings = append(res.Findings, joined...)
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
				return exitCode(2, fmt.Errorf("audit: %d of %d files could not be audited", len(res.Errors), len(args)))
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
	fl.StringVar(&kind, "kind", "", "kind of every FILE instead of detecting it: openapi, "+strings.Join(gateway.Kinds, ", "))
	fl.StringVar(&traffic, "traffic", "", "join gateway configuration with traffic: a capture (NDJSON/HAR, gzip ok) or a report from analyze --report")
	root.AddCommand(cmd)
}

func validKind(k string) bool {
	for _, x := range gateway.Kinds {
		if x == k {
			return true
		}
	}
	return false
}

// ruleSel splits --rules/--disable between the two catalogues.
type ruleSel struct {
	specOnly, specDisable, gwOnly, gwDisable []string
}

func splitRules(only, disable []string) (ruleSel, error) {
	var s ruleSel
	for _, id := range only {
		switch {
		case specaudit.RuleByID(id) != nil:
			s.specOnly = append(s.specOnly, id)
		case gateway.RuleByID(id) != nil:
			s.gwOnly = append(s.gwOnly, id)
		default:
			return s, fmt.Errorf("--rules: unknown rule %q", id)
		}
	}
	for _, id := range disable {
		switch {
		case specaudit.RuleByID(id) != nil:
			s.specDisable = append(s.specDisable, id)
		case gateway.RuleByID(id) != nil:
			s.gwDisable = append(s.gwDisable, id)
		default:
			return s, fmt.Errorf("--disable: unknown rule %q", id)
		}
	}
	// --rules naming only rules of one catalogue runs none of the other.
	if len(only) > 0 && len(s.specOnly) == 0 {
		for _, r := range specaudit.Rules() {
			s.specDisable = append(s.specDisable, r.ID)
		}
	}
	if len(only) > 0 && len(s.gwOnly) == 0 {
		for _, r := range gateway.Rules() {
			s.gwDisable = append(s.gwDisable, r.ID)
		}
	}
	return s, nil
}

// detectFile names a file's kind from its content ("" when unknown: the
// spec audit then reports why it is not an OpenAPI document).
func detectFile(path string) string {
	data, err := os.ReadFile(path)
	if err != nil || len(data) > gateway.MaxFileBytes {
		return ""
	}
	return gateway.DetectKind(path, data)
}

func isOpenAPIFile(path string) bool {
	data, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	top, err := yamltree.Parse(path, data)
	return err == nil && (yamltree.Get(top, "openapi") != nil || yamltree.Get(top, "swagger") != nil)
}

// loadTraffic reads a report, or runs the engine on a capture.
func loadTraffic(path string, specs []string) (*model.Report, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	br := bufio.NewReader(f)
	head, _ := br.Peek(512)
	if len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b {
		if zr, err := gzip.NewReader(br); err == nil {
			zb := bufio.NewReader(zr)
			head, _ = zb.Peek(512)
			zr.Close()
		}
	}
	f.Close()
	if report.IsReport(head) {
		return report.ReadFile(path)
	}
	cfg := engine.DefaultConfig()
	cfg.Specs = specs
	eng, err := engine.New(cfg)
	if err != nil {
		return nil, err
	}
	if err := eng.ReadFile(path); err != nil {
		return nil, err
	}
	eng.Flush()
	rep := eng.Report(time.Now())
	if rep.Input.Records == 0 {
		return nil, fmt.Errorf("%s: no exchange record read (%d rejected)", path, rep.Input.Rejected)
	}
	return rep, nil
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
