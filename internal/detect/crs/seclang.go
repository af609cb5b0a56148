// Package crs compiles the attack rules of the OWASP Core Rule Set (the
// SecLang .conf and .data files embedded in the coraza-coreruleset module)
// into Palisade's matcher: the phrase lists of @pm / @pmFromFile rules and
// the literals every match of an @rx rule must contain go into
// Aho–Corasick automata (internal/classify/ac), one per transformation
// chain; a value runs a rule's RE2 regular expression (go-re2) only when
// the prefilter found one of the rule's literals in it. The rules keep
// their CRS id, paranoia level, severity and attack class; the caller
// (detect's injection family) decides what a hit means.
//
// Only the rule content is used: no Coraza, no transaction model, no
// anomaly-score variables. What is not compiled (rules on variables that
// have no counterpart in a single located value, chains on other
// variables, operators outside the list in compileOp) is counted in
// Stats.Skipped with the reason.
package crs

import (
	"fmt"
	"strings"
)

// directive is one SecRule (or SecAction/SecMarker, kept only to be
// ignored) with its source position.
type directive struct {
	file    string
	line    int
	name    string   // SecRule, SecAction, SecMarker, …
	args    []string // unquoted arguments
	chained *directive
}

// parseConf splits a SecLang file into directives: line continuations
// ("\" at the end of a line), comments, double-quoted arguments with \"
// escapes. Chained rules (action "chain") are attached to their parent.
func parseConf(file, src string) ([]*directive, error) {
	var out []*directive
	lines := strings.Split(src, "\n")
	var cur strings.Builder
	start := 0
	var prev *directive // last SecRule with "chain" pending
	for i := 0; i < len(lines); i++ {
		l := strings.TrimRight(lines[i], " \t\r")
		if cur.Len() == 0 {
			t := strings.TrimSpace(l)
			if t == "" || strings.HasPrefix(t, "#") {
				continue
			}
			start = i + 1
		}
		if strings.HasSuffix(l, "\\") {
			cur.WriteString(strings.TrimSuffix(l, "\\"))
			continue
		}
		cur.WriteString(l)
		text := strings.TrimSpace(cur.String())
		cur.Reset()
		args, err := splitArgs(text)
		if err != nil {
			return nil, fmt.Errorf("%s:%d: %w", file, start, err)
		}
		if len(args) == 0 {
			continue
		}
		if args[0] == "" {
			return nil, fmt.Errorf("%s:%d: directive without a name", file, start)
		}
		d := &directive{file: file, line: start, name: args[0], args: args[1:]}
		if prev != nil {
			prev.chained = d
			prev = nil
			if d.name == "SecRule" && hasChain(d) {
				prev = d
			}
			continue
		}
		out = append(out, d)
		if d.name == "SecRule" && hasChain(d) {
			prev = d
		}
	}
	if cur.Len() > 0 {
		return nil, fmt.Errorf("%s:%d: unterminated directive (line continuation at end of file)", file, start)
	}
	return out, nil
}

func hasChain(d *directive) bool {
	if len(d.args) < 3 {
		return false
	}
	for _, a := range splitActions(d.args[2]) {
		if a.name == "chain" {
			return true
		}
	}
	return false
}

// splitArgs splits a directive into words and double-quoted strings
// (backslash escapes a quote inside; other backslashes are kept).
func splitArgs(s string) ([]string, error) {
	var out []string
	i := 0
	for i < len(s) {
		for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
			i++
		}
		if i >= len(s) {
			break
		}
		if s[i] == '"' {
			var b strings.Builder
			j := i + 1
			for ; j < len(s); j++ {
				if s[j] == '\\' && j+1 < len(s) && s[j+1] == '"' {
					b.WriteByte('"')
					j++
					continue
				}
				if s[j] == '"' {
					break
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, fmt.Errorf("unterminated quoted argument")
			}
			out = append(out, b.String())
			i = j + 1
			continue
		}
		j := i
		for j < len(s) && s[j] != ' ' && s[j] != '\t' {
			j++
		}
		out = append(out, s[i:j])
		i = j
	}
	return out, nil
}

type action struct{ name, value string }

// splitActions splits "id:1,phase:2,t:none,msg:'a, b'" on commas outside
// single quotes; values lose their quotes.
func splitActions(s string) []action {
	var out []action
	var b strings.Builder
	inQ := false
	flush := func() {
		t := strings.TrimSpace(b.String())
		b.Reset()
		if t == "" {
			return
		}
		n, v, _ := strings.Cut(t, ":")
		v = strings.TrimSpace(v)
		if len(v) >= 2 && v[0] == '\'' && v[len(v)-1] == '\'' {
			v = v[1 : len(v)-1]
		}
		out = append(out, action{strings.TrimSpace(n), v})
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s) && s[i+1] == '\'':
			b.WriteString("\\'")
			i++
		case c == '\'':
			inQ = !inQ
			b.WriteByte(c)
		case c == ',' && !inQ:
			flush()
		default:
			b.WriteByte(c)
		}
	}
	flush()
	return out
}
