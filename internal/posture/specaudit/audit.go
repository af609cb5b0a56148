package specaudit

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/posture/yamltree"
)

// Options select rules.
type Options struct {
	Only    []string // rule IDs or names; empty: all
	Disable []string // rule IDs or names
	// NoValidate skips kin-openapi's load and validation (about 70 % of
	// the CPU time on real-world specs); the rules do not depend on it.
	NoValidate bool
}

// Selected returns the enabled rules, or an error naming an unknown rule.
func (o Options) Selected() ([]*Rule, error) {
	return Select(catalogue, func(r *Rule) *Rule { return r }, o.Only, o.Disable)
}

// Select applies --rules (only) and --disable to a catalogue ordered by ID
// (rules are named by ID or name, case-insensitively): the result is
// ordered by ID, an unknown name is an error. meta gives a rule's metadata;
// other audits (gateway configuration) select their own rule types with it.
func Select[T any](all []T, meta func(T) *Rule, only, disable []string) ([]T, error) {
	find := func(id string) (T, bool) {
		id = strings.TrimSpace(id)
		for _, r := range all {
			if m := meta(r); strings.EqualFold(m.ID, id) || strings.EqualFold(m.Name, id) {
				return r, true
			}
		}
		var zero T
		return zero, false
	}
	off := map[string]bool{}
	for _, id := range disable {
		r, ok := find(id)
		if !ok {
			return nil, fmt.Errorf("--disable: unknown rule %q", id)
		}
		off[meta(r).ID] = true
	}
	var out []T
	if len(only) > 0 {
		seen := map[string]bool{}
		for _, id := range only {
			r, ok := find(id)
			if !ok {
				return nil, fmt.Errorf("--rules: unknown rule %q", id)
			}
			if m := meta(r); !off[m.ID] && !seen[m.ID] {
				seen[m.ID] = true
				out = append(out, r)
			}
		}
		sort.Slice(out, func(i, j int) bool { return meta(out[i]).ID < meta(out[j]).ID })
		return out, nil
	}
	for _, r := range all {
		if !off[meta(r).ID] {
			out = append(out, r)
		}
	}
	return out, nil
}

// SpecSummary describes one audited document.
type SpecSummary struct {
	File       string `json:"file"`
	Version    string `json:"version"`
	Operations int    `json:"operations"`
	Findings   int    `json:"findings"`
	Parser     string `json:"parser"`                    // kin-openapi verdict
	Unresolved int    `json:"unresolved_refs,omitempty"` // $refs not followed
	// Kind and Routes describe a gateway configuration (Kind "" for an
	// OpenAPI document); Parser then holds notes on what was not read.
	Kind   string `json:"kind,omitempty"`
	Routes int    `json:"routes,omitempty"`
}

// Result of auditing one or more documents.
type Result struct {
	Rules    []*Rule
	Findings []model.Finding
	Specs    []SpecSummary
	Errors   []error // documents that could not be audited (*LoadError)
}

// AuditFiles loads and audits every file; unreadable or unparsable files
// are reported in Result.Errors and the others are still audited.
func AuditFiles(files []string, opts Options) (*Result, error) {
	rules, err := opts.Selected()
	if err != nil {
		return nil, err
	}
	res := &Result{Rules: rules}
	for _, f := range files {
		d, err := loadFile(f, !opts.NoValidate)
		if err != nil {
			res.Errors = append(res.Errors, err)
			continue
		}
		fs, sum, errs := auditDoc(d, rules)
		res.Findings = append(res.Findings, fs...)
		res.Errors = append(res.Errors, errs...)
		res.Specs = append(res.Specs, sum)
	}
	return res, nil
}

// Audit runs the selected rules on one parsed document.
func Audit(d *Doc, opts Options) ([]model.Finding, error) {
	rules, err := opts.Selected()
	if err != nil {
		return nil, err
	}
	fs, _, errs := auditDoc(d, rules)
	return fs, errors.Join(errs...)
}

func auditDoc(d *Doc, rules []*Rule) (out []model.Finding, sum SpecSummary, errs []error) {
	a := newAuditCtx(d)
	byID := map[string]*Rule{}
	for _, r := range catalogue {
		byID[r.ID] = r
	}
	seen := map[string]bool{}
	a.emit = func(id string, n *yamltree.Node, op *operation, msg string, ev map[string]any) {
		r := byID[id]
		if n == nil {
			n = d.Root
		}
		ptr, ok := a.ptr[n]
		if !ok {
			ptr = ""
		}
		key := id + "\x00" + ptr
		if seen[key] {
			return
		}
		seen[key] = true
		h := sha256.Sum256([]byte(d.File + "\x00" + id + "\x00" + ptr))
		out = append(out, model.Finding{
			ID:          "spec-" + hex.EncodeToString(h[:8]),
			Rule:        id,
			Title:       r.Title,
			Severity:    r.Severity,
			OWASP:       append([]string(nil), r.OWASP...),
			Endpoint:    endpointOf(op),
			Source:      "spec",
			Message:     msg,
			Remediation: r.Remediation,
			Location:    &model.Location{File: d.File, Line: n.Line, Column: n.Column, Pointer: ptr},
			Evidence:    ev,
		})
	}
	for _, r := range rules {
		func() {
			defer func() {
				// A rule bug must not hide the other rules' findings
				// nor the other documents: record it as an error
				// (the CLI then exits 2).
				if p := recover(); p != nil {
					errs = append(errs, &LoadError{File: d.File, Msg: fmt.Sprintf("internal error in rule %s: %v", r.ID, p)})
				}
			}()
			r.check(a, r)
		}()
	}
	sort.SliceStable(out, func(i, j int) bool {
		li, lj := out[i].Location, out[j].Location
		if li.Line != lj.Line {
			return li.Line < lj.Line
		}
		if li.Column != lj.Column {
			return li.Column < lj.Column
		}
		return out[i].Rule < out[j].Rule
	})
	d.Unresolved = a.res.unresolved
	return out, SpecSummary{File: d.File, Version: d.Version, Operations: len(a.ops), Findings: len(out), Parser: d.Parser, Unresolved: a.res.unresolved}, errs
}

// CountAtOrAbove counts findings whose severity is at least sev.
func CountAtOrAbove(fs []model.Finding, sev string) int {
	min := model.SeverityRank(sev)
	n := 0
	for _, f := range fs {
		if model.SeverityRank(f.Severity) >= min {
			n++
		}
	}
	return n
}
