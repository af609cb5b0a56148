package gateway

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/posture/specaudit"
)

// Options select rules.
type Options struct {
	Only    []string // rule IDs or names; empty: all
	Disable []string // rule IDs or names
	Kind    string   // force a kind ("" detects by content)
}

func (o Options) selected() ([]*rule, error) {
	return specaudit.Select(catalogue, func(r *rule) *specaudit.Rule { return r.Rule }, o.Only, o.Disable)
}

// Result of auditing gateway configurations.
type Result struct {
	Rules     []*specaudit.Rule
	Findings  []model.Finding
	Summaries []specaudit.SpecSummary
	Configs   []*Config
	Errors    []error
}

// AuditFiles loads and audits every file with the static rules; files
// that cannot be read are in Result.Errors and the others are audited.
func AuditFiles(files []string, opts Options) (*Result, error) {
	rules, err := opts.selected()
	if err != nil {
		return nil, err
	}
	res := &Result{}
	for _, r := range rules {
		res.Rules = append(res.Rules, r.Rule)
	}
	for _, f := range files {
		cfg, err := Load(f, opts.Kind)
		if err != nil {
			res.Errors = append(res.Errors, err)
			continue
		}
		res.Add(cfg, rules)
	}
	return res, nil
}

// Add audits one loaded configuration into the result.
func (res *Result) Add(cfg *Config, rules []*rule) {
	fs, errs := audit(cfg, rules, nil)
	res.Configs = append(res.Configs, cfg)
	res.Findings = append(res.Findings, fs...)
	res.Errors = append(res.Errors, errs...)
	res.Summaries = append(res.Summaries, Summary(cfg, len(fs)))
}

// Summary describes a configuration for the text output.
func Summary(cfg *Config, findings int) specaudit.SpecSummary {
	notes := cfg.Notes
	if n := len(cfg.Files); n > 1 {
		notes = append([]string{fmt.Sprintf("%d files", n)}, notes...)
	}
	note := strings.Join(notes, "; ")
	return specaudit.SpecSummary{File: cfg.File, Kind: cfg.Kind, Routes: len(cfg.Routes), Findings: findings, Parser: note}
}

// Audit runs the selected static rules on one configuration.
func Audit(cfg *Config, opts Options) ([]model.Finding, error) {
	rules, err := opts.selected()
	if err != nil {
		return nil, err
	}
	fs, errs := audit(cfg, rules, nil)
	if len(errs) > 0 {
		return fs, errs[0]
	}
	return fs, nil
}

func audit(cfg *Config, rules []*rule, j *joinCtx) (out []model.Finding, errs []error) {
	a := &auditor{cfg: cfg, seen: map[string]bool{}, j: j}
	for _, r := range rules {
		if r.Joined != (j != nil) {
			continue
		}
		if err := a.run(r); err != nil {
			errs = append(errs, err)
		}
	}
	sortFindings(a.out)
	return a.out, errs
}

// run runs one rule; a bug in a rule must not hide the other rules'
// findings: it becomes an error naming the file and the rule.
func (a *auditor) run(r *rule) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = &Error{File: a.cfg.File, Msg: fmt.Sprintf("internal error in rule %s: %v", r.ID, p)}
		}
	}()
	r.check(a, r)
	return nil
}

func sortFindings(out []model.Finding) {
	sort.SliceStable(out, func(i, j int) bool {
		li, lj := out[i].Location, out[j].Location
		if li.File != lj.File {
			return li.File < lj.File
		}
		if li.Line != lj.Line {
			return li.Line < lj.Line
		}
		if li.Column != lj.Column {
			return li.Column < lj.Column
		}
		return out[i].Rule < out[j].Rule
	})
}

func findingID(file, rule string, p Pos) string {
	h := sha256.Sum256([]byte(fmt.Sprintf("%s\x00%s\x00%s\x00%d:%d\x00%s", file, rule, p.File, p.Line, p.Column, p.Pointer)))
	return "gw-" + hex.EncodeToString(h[:8])
}
