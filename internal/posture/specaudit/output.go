package specaudit

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"

	"github.com/owenrumney/go-sarif/v3/pkg/report/v210/sarif"
	"github.com/palisade-sec/palisade/internal/model"
)

// ToolVersion is written into SARIF (the CLI may override it).
var ToolVersion = "0.1.0"

// InformationURI points at the rule catalogue.
const InformationURI = "https://github.com/palisade-sec/palisade/blob/main/docs/audit.md"

// WriteJSON writes the findings as a JSON array of report-v1 findings.
func WriteJSON(w io.Writer, res *Result) error {
	fs := res.Findings
	if fs == nil {
		fs = []model.Finding{}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(fs)
}

// WriteText writes a human summary grouped by severity, most severe first.
func WriteText(w io.Writer, res *Result) error {
	bw := &errWriter{w: w}
	groups := map[string][]model.Finding{}
	for _, f := range res.Findings {
		groups[f.Severity] = append(groups[f.Severity], f)
	}
	for _, sev := range []string{model.SevCritical, model.SevHigh, model.SevMedium, model.SevLow, model.SevInfo} {
		fs := groups[sev]
		if len(fs) == 0 {
			continue
		}
		bw.printf("%s (%d)\n", strings.ToUpper(sev), len(fs))
		for _, f := range fs {
			loc := f.Location
			bw.printf("  %s:%d:%d  %s  %s\n", loc.File, loc.Line, loc.Column, f.Rule, f.Message)
		}
		bw.printf("\n")
	}
	counts := map[string]int{}
	for _, f := range res.Findings {
		counts[f.Rule]++
	}
	ids := make([]string, 0, len(counts))
	for id := range counts {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	if len(ids) > 0 {
		bw.printf("by rule:")
		for _, id := range ids {
			bw.printf(" %s=%d", id, counts[id])
		}
		bw.printf("\n")
	}
	for _, s := range res.Specs {
		note := ""
		if strings.HasPrefix(s.Parser, "rejected") {
			note = " (kin-openapi " + truncate(s.Parser, 160) + "; audited from the document tree)"
		}
		if s.Unresolved > 0 {
			note += fmt.Sprintf(" (%d unresolved $ref not followed)", s.Unresolved)
		}
		if s.Kind != "" {
			if s.Parser != "" {
				note = " (" + truncate(s.Parser, 300) + ")"
			}
			bw.printf("%s: %s, %d routes, %d findings%s\n", s.File, s.Kind, s.Routes, s.Findings, note)
			continue
		}
		bw.printf("%s: OpenAPI %s, %d operations, %d findings%s\n", s.File, s.Version, s.Operations, s.Findings, note)
	}
	for _, e := range res.Errors {
		bw.printf("error: %v\n", e)
	}
	bw.printf("%d findings in %d documents (%d could not be read)\n", len(res.Findings), len(res.Specs), len(res.Errors))
	return bw.err
}

type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}

// securitySeverity maps severities to GitHub code scanning's
// security-severity scale (critical >= 9.0, high 7.0-8.9, medium 4.0-6.9,
// low 0.1-3.9).
func securitySeverity(sev string) string {
	switch sev {
	case model.SevCritical:
		return "9.5"
	case model.SevHigh:
		return "8.0"
	case model.SevMedium:
		return "5.5"
	case model.SevLow:
		return "3.0"
	}
	return "1.0"
}

func sarifLevel(sev string) string {
	switch sev {
	case model.SevCritical, model.SevHigh:
		return "error"
	case model.SevMedium:
		return "warning"
	}
	return "note"
}

// artifactURI turns a file path into a SARIF artifact URI: relative paths
// stay relative (resolved against %SRCROOT%), absolute ones become file URIs.
func artifactURI(p string) string {
	s := filepath.ToSlash(p)
	if filepath.IsAbs(p) {
		return "file://" + s
	}
	return strings.TrimPrefix(s, "./")
}

// BuildSARIF builds a SARIF 2.1.0 log: every selected rule with help text
// and security-severity, every finding with a physical location.
func BuildSARIF(res *Result) *sarif.Report {
	rep := sarif.NewReport()
	run := sarif.NewRunWithInformationURI("palisade", InformationURI)
	run.Tool.Driver.WithSemanticVersion(ToolVersion)
	for _, r := range res.Rules {
		props := sarif.NewPropertyBag().Add("security-severity", securitySeverity(r.Severity)).Add("precision", "medium")
		tags := []string{"security"}
		if len(r.Tags) == 0 {
			tags = append(tags, "openapi")
		}
		tags = append(tags, r.Tags...)
		for _, o := range r.OWASP {
			tags = append(tags, "OWASP-"+strings.SplitN(o, " ", 2)[0])
		}
		props.WithTags(tags)
		help := fmt.Sprintf("%s\n\nSeverity: %s. OWASP API Security Top 10 2023: %s.\n\nRemediation: %s", r.Description, r.Severity, strings.Join(r.OWASP, "; "), r.Remediation)
		md := fmt.Sprintf("**%s** (%s)\n\n%s\n\n**Severity:** %s  \n**OWASP API Security Top 10 2023:** %s\n\n**Remediation:** %s", r.Title, r.ID, r.Description, r.Severity, strings.Join(r.OWASP, "; "), r.Remediation)
		rd := run.AddRule(r.ID).
			WithName(toPascal(r.Name)).
			WithDescription(r.Title).
			WithFullDescription(sarif.NewMultiformatMessageString().WithText(r.Description)).
			WithHelpURI(helpURI(r)).
			WithProperties(props)
		rd.Help = sarif.NewMultiformatMessageString().WithText(help).WithMarkdown(md)
		rd.WithDefaultConfiguration(sarif.NewReportingConfiguration().WithLevel(sarifLevel(r.Severity)))
	}
	for _, f := range res.Findings {
		uri := artifactURI(f.Location.File)
		run.AddDistinctArtifact(uri)
		region := sarif.NewRegion().WithStartLine(max(f.Location.Line, 1))
		if f.Location.Column > 0 {
			region.WithStartColumn(f.Location.Column)
		}
		loc := sarif.NewLocationWithPhysicalLocation(
			sarif.NewPhysicalLocation().
				WithArtifactLocation(sarif.NewSimpleArtifactLocation(uri)).
				WithRegion(region))
		if f.Location.Pointer != "" || f.Endpoint != nil {
			ll := sarif.NewLogicalLocation().WithKind("member")
			if f.Location.Pointer != "" {
				ll.WithFullyQualifiedName(f.Location.Pointer)
			}
			if f.Endpoint != nil {
				ll.WithName(f.Endpoint.Method + " " + f.Endpoint.Path)
			}
			loc.WithLogicalLocations([]*sarif.LogicalLocation{ll})
		}
		run.CreateResultForRule(f.Rule).
			WithLevel(sarifLevel(f.Severity)).
			WithMessage(sarif.NewTextMessage(f.Message)).
			AddLocation(loc).
			WithPartialFingerprints(map[string]string{"palisadeFindingId/v1": f.ID})
	}
	rep.AddRun(run)
	return rep
}

// WriteSARIF writes the SARIF 2.1.0 log.
func WriteSARIF(w io.Writer, res *Result) error {
	return BuildSARIF(res).PrettyWrite(w)
}

func helpURI(r *Rule) string {
	if r.HelpURI != "" {
		return r.HelpURI
	}
	return InformationURI + "#" + strings.ToLower(r.ID)
}

func toPascal(s string) string {
	var b strings.Builder
	for _, part := range strings.Split(s, "-") {
		if part == "" {
			continue
		}
		b.WriteString(strings.ToUpper(part[:1]) + part[1:])
	}
	return b.String()
}
