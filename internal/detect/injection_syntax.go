package detect

import "strings"

// Code syntax that natural-language text does not have, found in a
// decoded value: it lifts the prose exemption of the cold policy and lets
// a single paranoia-level-2 CRS rule of the matching class count (see
// crsConfidence). Each signal is a piece of grammar of a query or command
// language, not a word:
//
//   - SQL: the value ends in a SQL comment (a trailing "--" or "#", an
//     unterminated or closed "/* … */"), or has an unbalanced quote and
//     starts with a quote or ends with a statement separator (a string
//     literal broken out of: "' notnull --", "'glob 1;", "x' or … 'x';");
//   - shell: a variable reference (${…}, $(…), $name where a word
//     starts, %name%, a lone %x loop variable), a command-line option token (" -c", " --list",
//     " /d") next to another command word, or a value that starts with a
//     command separator (;, |, &, `, a line break) followed by a word.
type codeSyntax uint8

const (
	synSQL codeSyntax = 1 << iota
	synShell
)

func (c codeSyntax) String() string {
	switch c {
	case synSQL:
		return "SQL syntax"
	case synShell:
		return "shell syntax"
	case synSQL | synShell:
		return "SQL and shell syntax"
	}
	return ""
}

// syntaxOf returns the code syntax signals of a decoded value.
func syntaxOf(s string) codeSyntax {
	var out codeSyntax
	t := strings.TrimRight(s, " \t\r\n")
	// SQL comments closing the value
	if strings.HasSuffix(t, "--") || strings.HasSuffix(t, "#") && len(t) > 1 || strings.Contains(t, "/*") {
		out |= synSQL
	}
	// a string literal broken out of
	if q := strings.Count(t, "'"); q%2 == 1 {
		lead := strings.TrimLeft(t, " \t")
		if strings.HasPrefix(lead, "'") || strings.HasSuffix(t, ";") {
			out |= synSQL
		}
	}
	if q := strings.Count(t, "\""); q%2 == 1 {
		lead := strings.TrimLeft(t, " \t")
		if strings.HasPrefix(lead, "\"") || strings.HasSuffix(t, ";") {
			out |= synSQL
		}
	}
	if shellSyntax(t) {
		out |= synShell
	}
	return out
}

func isWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

func isLetterByte(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

func shellSyntax(t string) bool {
	// a leading command separator followed by a word
	lead := strings.TrimLeft(t, " \t")
	if lead != "" && strings.IndexByte(";|&`\n", lead[0]) >= 0 {
		rest := strings.TrimLeft(lead, ";|&`\n \t")
		if rest != "" && isLetterByte(rest[0]) {
			return true
		}
	}
	options := 0
	words := 0
	for i := 0; i < len(t); i++ {
		c := t[i]
		startTok := i == 0 || t[i-1] == ' ' || t[i-1] == '\t'
		switch {
		case c == '$' && i+1 < len(t) && (t[i+1] == '{' || t[i+1] == '('):
			return true // ${…}, $(…)
		case c == '$' && i+1 < len(t) && (isLetterByte(t[i+1]) || t[i+1] == '_') && (i == 0 || !isWordByte(t[i-1])):
			return true // $name where a word starts (not inside a token such as a password)
		case c == '%' && startTok:
			// %name% (Windows variables) or a lone %x / %%x (loop variables)
			j := i + 1
			if j < len(t) && t[j] == '%' {
				j++
			}
			k := j
			for k < len(t) && isWordByte(t[k]) {
				k++
			}
			if k > j && isLetterByte(t[j]) && (k < len(t) && t[k] == '%' || k-j == 1 && (k == len(t) || t[k] == ' ')) {
				return true
			}
		case (c == '-' || c == '/') && startTok:
			// an option: -x, --long, /x followed by a space or the end
			j := i + 1
			if c == '-' && j < len(t) && t[j] == '-' {
				j++
			}
			k := j
			for k < len(t) && (isLetterByte(t[k]) || t[k] == '-' && k > j) {
				k++
			}
			if k > j && (k == len(t) || t[k] == ' ' || t[k] == '\t' || t[k] == '\n' || t[k] == ':') && (c == '-' || k-j == 1) {
				options++
			}
		case startTok && isLetterByte(c):
			words++
		}
	}
	// an option next to a command word ("sh -c id", "FOR /D %a", "ls -la")
	return options > 0 && words > 0
}
