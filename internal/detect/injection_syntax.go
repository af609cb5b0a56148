package detect

import "strings"

// Code syntax that natural-language text does not have, found in a
// decoded value: it lifts the prose exemption of the cold policy and lets
// a single paranoia-level-2 CRS rule of the matching class count (see
// crsConfidence). Each signal is a piece of grammar of a query or command
// language, not a word:
//
//   - SQL: the value ends in a SQL comment (a trailing "--" or "#", an
//     unterminated or closed "/* … */"), has an unbalanced quote and
//     starts with a quote or ends with a statement separator (a string
//     literal broken out of: "' notnull --", "'glob 1;", "x' or … 'x';"),
//     leaves a literal open after an operator ("name = '"), or starts
//     with a boolean operator and a comparison ("AND deleted = 0)"),
//     or has clauses of a query in their grammatical order with the
//     operands between them (sqlClauses: "FROM t WHERE a = 1", "GROUP BY
//     x HAVING", ") AS v FROM", "SELECT * FROM t", ")::int");
//   - shell: a variable reference (${…}, $(…), $name where a word
//     starts, %name%, a lone %x loop variable), a command-line option token (" -c", " --list",
//     " /d") next to another command word, a value that starts with a
//     command separator (;, |, &, `, a line break) followed by a word, a
//     Windows FOR … IN (…) DO / IF [NOT] EXIST|DEFINED|ERRORLEVEL
//     statement, a function definition ("f() {"), a brace expansion with
//     an empty first word ("{,id}"), or a word split by what expands to
//     nothing (a special parameter "c$@at", an empty pair of backticks or double quotes after "ping").
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

// sqlCommentOpen: t opens a /* … */ comment — unless every "/*" is a
// pathname wildcard and no comment is closed after it: a word of path
// characters only with two slashes or more, a wildcard followed by an
// extension or another wildcard ("/docs/*.md", "/api/*", "/*/*"), or a
// wildcard closing a named prefix ("my-bucket/*", "reports/*": two
// characters or more, a letter among them). The word may follow a URI
// scheme or an ARN's fields ("s3://bucket/logs/*",
// "arn:aws:s3:::my-bucket/*": storage and IAM APIs take such patterns). A
// comment in a condition ("1/*", "admin'/*", "1/**/or/**/1=1") is not one,
// and "src/**/*.go" holds "/**/", the inline comment that stands for a
// space.
func sqlCommentOpen(t string) bool {
	i := strings.Index(t, "/*")
	if i < 0 {
		return false
	}
	if strings.Contains(t[i+2:], "*/") {
		return true
	}
	for ; i >= 0; i = nextIndex(t, "/*", i+2) {
		s, e := i, i
		for s > 0 && pathGlobByte(t[s-1]) {
			s--
		}
		for e < len(t) && pathGlobByte(t[e]) {
			e++
		}
		tok := t[s:e]
		glob := strings.Count(tok, "/") >= 2 || i+2 < len(t) && (t[i+2] == '*' || t[i+2] == '.') || i+2 == e && namedPrefix(t[s:i])
		if !glob || s > 0 && !globLeft(t[:s]) || e < len(t) && t[e] != ' ' && t[e] != ',' && t[e] != '"' {
			return true
		}
	}
	return false
}

// namedPrefix: the path segment before a closing "/*" names something —
// two characters or more, a letter among them ("1/*" does not).
func namedPrefix(p string) bool {
	if k := strings.LastIndexByte(p, '/'); k >= 0 {
		p = p[k+1:]
	}
	if len(p) < 2 {
		return false
	}
	for i := 0; i < len(p); i++ {
		if isLetterByte(p[i]) {
			return true
		}
	}
	return false
}

// globLeft: what precedes a pathname wildcard's word lets it be one — a
// space, comma or double quote between words (a JSON string), or a URI
// scheme's or an ARN's colon ("s3:", "arn:aws:s3:::").
func globLeft(before string) bool {
	switch before[len(before)-1] {
	case ' ', ',', '"':
		return true
	case ':':
		f := before[:len(before)-1]
		if k := strings.LastIndexAny(f, " ,\""); k >= 0 {
			f = f[k+1:]
		}
		for i := 0; i < len(f); i++ {
			if c := f[i]; !isWordByte(c) && c != ':' && c != '-' && c != '.' {
				return false
			}
		}
		return true
	}
	return false
}

func nextIndex(s, sub string, from int) int {
	if from > len(s) {
		return -1
	}
	if k := strings.Index(s[from:], sub); k >= 0 {
		return from + k
	}
	return -1
}

func pathGlobByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '/' || c == '*' || c == '.' || c == '_' || c == '-' || c == '{' || c == '}' || c == '?' || c == '[' || c == ']'
}

// syntaxOf returns the code syntax signals of a decoded value.
func syntaxOf(s string) codeSyntax {
	var out codeSyntax
	t := strings.TrimRight(s, " \t\r\n")
	// SQL comments closing the value — not the closing "#" of a banner
	// or heading that opens with one ("### managed by Rudder ###")
	if strings.HasSuffix(t, "--") || strings.HasSuffix(t, "#") && len(t) > 1 && t[0] != '#' || sqlCommentOpen(t) {
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
	if brokenLiteral(t) || booleanClause(t) || danglingOperator(t) || stackedStatement(t) || openSubquery(t) || sqlClauses(t) || literalTautology(t) {
		out |= synSQL
	}
	// a name=value pair encoded once more (the pair arrives as a name):
	// the syntax of its value counts too
	if k := wordPrefix(t); k > 0 && k < len(t)-1 && t[k] == '=' && out&synSQL == 0 {
		if v := t[k+1:]; brokenLiteral(v) || booleanClause(v) || danglingOperator(v) || stackedStatement(v) || openSubquery(v) {
			out |= synSQL
		}
	}
	if shellSyntax(t) || batchStatement(t) {
		out |= synShell
	}
	return out
}

// wordPrefix is the length of t's leading run of word bytes.
func wordPrefix(t string) int {
	k := 0
	for k < len(t) && isWordByte(t[k]) {
		k++
	}
	return k
}

// danglingOperator: the value ends with a boolean operator after an operand
// ("/Cm7 OR ", "x' AND") — a condition left open for what the query adds.
func danglingOperator(t string) bool {
	l := strings.ToLower(strings.TrimRight(t, " \t"))
	for _, op := range []string{" or", " and", " xor", "||", "&&"} {
		if strings.HasSuffix(l, op) && len(strings.TrimSpace(l[:len(l)-len(op)])) > 0 {
			// the operand is a single token that is not a word — a
			// number, a quoted or path-like token — not the end of a
			// sentence or search ("salt and")
			rest := strings.TrimSpace(l[:len(l)-len(op)])
			return !strings.ContainsAny(rest, " \t") && strings.Trim(rest, "abcdefghijklmnopqrstuvwxyz") != ""
		}
	}
	return false
}

// stackedStatement: the value starts with a statement separator (or a
// closing comparison) followed by a SQL statement ("; SET @v", ">SET
// @OLD_SQL_NOTES", ";select").
func stackedStatement(t string) bool {
	l := strings.ToLower(strings.TrimLeft(t, " \t"))
	if l == "" || (l[0] != ';' && l[0] != '>') {
		return false
	}
	l = strings.TrimLeft(l[1:], " \t")
	for _, kw := range []string{"select ", "update ", "insert ", "delete ", "drop ", "set @", "declare ", "exec ", "execute ", "create ", "alter ", "truncate ", "shutdown", "waitfor "} {
		if strings.HasPrefix(l, kw) {
			return true
		}
	}
	return false
}

// openSubquery: a parenthesis opened right before SELECT and never closed
// ("name=(select", "(SELECT 1 FROM") — a subquery left open.
func openSubquery(t string) bool {
	l := strings.ToLower(t)
	i := strings.Index(l, "(select")
	if i < 0 {
		i = strings.Index(l, "( select")
	}
	return i >= 0 && !strings.Contains(l[i:], ")")
}

// brokenLiteral: an unbalanced quote opened right after an operator or a
// separator ("= '", "('", ", \"") — a string literal left open for what
// the query adds.
func brokenLiteral(t string) bool {
	for _, q := range []byte{'\'', '"'} {
		if strings.Count(t, string(q))%2 == 0 {
			continue
		}
		i := strings.LastIndexByte(t, q)
		j := i - 1
		for j >= 0 && (t[j] == ' ' || t[j] == '\t') {
			j--
		}
		if j >= 0 && strings.IndexByte("=(,<>!", t[j]) >= 0 {
			return true
		}
	}
	return false
}

// booleanClause: the value starts with a boolean operator and a comparison
// ("AND deleted = 0)", "or 1 like 1", "|| x<>y").
func booleanClause(t string) bool {
	l := strings.ToLower(strings.TrimLeft(t, " \t("))
	var rest string
	for _, op := range []string{"and ", "or ", "xor ", "&&", "||"} {
		if strings.HasPrefix(l, op) {
			rest = strings.TrimLeft(l[len(op):], " \t")
			break
		}
	}
	if rest == "" {
		return false
	}
	// an operand, then a comparison
	i := 0
	for i < len(rest) && (isWordByte(rest[i]) || rest[i] == '.' || rest[i] == '\'' || rest[i] == '"' || rest[i] == '`') {
		i++
	}
	if i == 0 {
		return false
	}
	cmp := strings.TrimLeft(rest[i:], " \t")
	for _, op := range []string{"=", "<", ">", "!=", " like ", "like ", "is ", "in(", "in ("} {
		if strings.HasPrefix(cmp, strings.TrimLeft(op, " ")) {
			return true
		}
	}
	return false
}

// batchStatement: a Windows command-interpreter control statement —
// FOR [/x …] %v IN (…) DO …, IF [/I] [NOT] EXIST|DEFINED|ERRORLEVEL|
// CMDEXTVERSION … or IF a ==|EQU|NEQ|LSS|LEQ|GTR|GEQ b … .
func batchStatement(t string) bool {
	f := strings.Fields(strings.ToLower(t))
	if len(f) < 3 {
		return false
	}
	switch f[0] {
	case "for":
		// a loop variable, IN ( … ), DO
		v, in, do := false, false, false
		for _, w := range f[1:] {
			switch {
			case !v && strings.HasPrefix(w, "%"):
				v = true
			case v && !in && (w == "in" || strings.HasPrefix(w, "in(")):
				in = true
			case in && w == "do":
				do = true
			}
		}
		return v && in && do
	case "if":
		i := 1
		if f[i] == "/i" {
			i++
		}
		if i < len(f) && f[i] == "not" {
			i++
		}
		if i+2 > len(f) {
			return false
		}
		switch f[i] {
		case "exist", "defined", "errorlevel", "cmdextversion":
			return i+2 < len(f) // the condition's operand, then a command
		}
		for j := i; j < len(f) && j < i+3; j++ {
			switch f[j] {
			case "equ", "neq", "lss", "leq", "gtr", "geq":
				return true
			}
			if strings.Contains(f[j], "==") {
				return true
			}
		}
	}
	return false
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
	if dotCommand(t) || assembledVariable(t) {
		return true
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
		case c == '$' && i > 0 && i+2 < len(t) && isLetterByte(t[i-1]) && strings.IndexByte("@*!?#", t[i+1]) >= 0 && isLetterByte(t[i+2]):
			return true // a special parameter splitting a word ("c$@at"): expands to nothing
		case (c == '`' || c == '"') && i > 0 && i+2 < len(t) && t[i+1] == c && isLetterByte(t[i-1]) && (isLetterByte(t[i+2]) || t[i+2] == ' '):
			return true // an empty quote pair splitting a word ("ping``", "w""hoami"; not '': SQL-escaped text)
		case c == '{' && i+1 < len(t) && t[i+1] == ',':
			return true // brace expansion with an empty first word ("{,echo,id}")
		case c == '(' && i+1 < len(t) && t[i+1] == ')' && i > 0 && (isWordByte(t[i-1]) || t[i-1] == ':'):
			// a function definition: name() { … }
			j := i + 2
			for j < len(t) && (t[j] == ' ' || t[j] == '\t') {
				j++
			}
			if j < len(t) && t[j] == '{' {
				return true
			}
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

// clauseTok is a token of sqlClauses' lexer: a lower-cased word (letters,
// digits, _ $ @ and dots inside a name), a quoted identifier or string
// (kind 'q': `name`, "name", 'text'), a number or hex literal (kind 'n')
// or one punctuation or operator (kind 'p': = < > ! <= >= <> != ( ) , ; *
// and "::").
type clauseTok struct {
	kind byte // 'w' word, 'q' quoted, 'n' number, 'p' punctuation
	s    string
}

// clauseLex splits a value into clauseToks (at most 64: the clauses sought
// are short, and a value is judged by its head).
func clauseLex(t string) []clauseTok {
	var out []clauseTok
	for i := 0; i < len(t) && len(out) < 64; {
		c := t[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '`' || c == '"' || c == '\'':
			j := strings.IndexByte(t[i+1:], c)
			if j < 0 {
				out = append(out, clauseTok{'p', string(c)})
				i++
				continue
			}
			out = append(out, clauseTok{'q', strings.ToLower(t[i+1 : i+1+j])})
			i += j + 2
		case c >= '0' && c <= '9':
			j := i
			for j < len(t) && (isWordByte(t[j]) || t[j] == '.') {
				j++
			}
			out = append(out, clauseTok{'n', strings.ToLower(t[i:j])})
			i = j
		case isWordByte(c) || c == '@' || c == '$':
			j := i
			for j < len(t) && (isWordByte(t[j]) || t[j] == '@' || t[j] == '$' || t[j] == '.' && j+1 < len(t) && isWordByte(t[j+1])) {
				j++
			}
			out = append(out, clauseTok{'w', strings.ToLower(t[i:j])})
			i = j
		default:
			if i+1 < len(t) {
				switch two := t[i : i+2]; two {
				case "<=", ">=", "<>", "!=", "::":
					out = append(out, clauseTok{'p', two})
					i += 2
					continue
				}
			}
			out = append(out, clauseTok{'p', string(c)})
			i++
		}
	}
	return out
}

// sqlClauses: clauses of a query in their grammatical order, with the
// operands between them, which prose does not have even when it uses the
// same words ("order by Friday", "select one from the list", "from home
// where it rains"):
//
//   - FROM name WHERE operand comparison ("FROM ack_variable WHERE
//     name="cron_last"");
//   - FROM name GROUP|ORDER BY, FROM name LIMIT number, FROM name JOIN;
//   - GROUP BY name HAVING; ORDER BY name ASC|DESC|LIMIT;
//   - an alias after an expression: ")", a number or a quoted name, then
//     AS name FROM (") AS val FROM", "1234 AS "foobar" FROM");
//   - SELECT with a select list no sentence has (*, a number, a hex
//     literal, a quoted name or a list) then FROM, or the end;
//   - a PostgreSQL cast after an expression (")::int").
func sqlClauses(t string) bool {
	if len(t) < 6 {
		return false
	}
	// cheap gate: one of the clause words, or the cast
	l := asciiLower(t)
	if !strings.Contains(l, "from") && !strings.Contains(l, " by") && !strings.Contains(l, "select") && !strings.Contains(l, ")::") && !strings.Contains(l, "when") && !strings.Contains(l, "having") {
		return false
	}
	ts := clauseLex(t)
	name := func(i int) bool { return i < len(ts) && (ts[i].kind == 'w' || ts[i].kind == 'q' && ts[i].s != "") }
	// after a name, qualified or not (`t`.`id`, t.id): the index that
	// follows it
	after := func(i int) int {
		for i+2 < len(ts) && ts[i+1].kind == 'p' && ts[i+1].s == "." && name(i+2) {
			i += 2
		}
		return i + 1
	}
	word := func(i int, w string) bool { return i < len(ts) && ts[i].kind == 'w' && ts[i].s == w }
	punct := func(i int, p string) bool { return i < len(ts) && ts[i].kind == 'p' && ts[i].s == p }
	cmp := func(i int) bool {
		if i >= len(ts) {
			return false
		}
		switch ts[i].s {
		case "=", "<", ">", "<=", ">=", "<>", "!=", "like", "rlike", "regexp", "between":
			return true
		case "in":
			return punct(i+1, "(")
		case "is":
			return word(i+1, "null") || word(i+1, "not")
		}
		return false
	}
	// what may follow a table name: the end, or a clause
	tail := func(j int) bool {
		if j >= len(ts) {
			return true
		}
		switch ts[j].s {
		case "where", "limit", "group", "order", "union", "join", "having", ";", ")":
			return true
		}
		return false
	}
	for i := range ts {
		switch {
		case word(i, "from") && name(i+1):
			j := after(i + 1)
			switch {
			case word(j, "where") && name(j+1) && cmp(after(j+1)):
				return true
			case (word(j, "group") || word(j, "order")) && word(j+1, "by") && name(j+2):
				return true
			case word(j, "limit") && j+1 < len(ts) && ts[j+1].kind == 'n' && (j+2 == len(ts) || punct(j+2, ",") || punct(j+2, ";") || word(j+2, "offset")):
				return true
			case (word(j, "inner") || word(j, "left") || word(j, "cross")) && word(j+1, "join"):
				return name(j + 2)
			case word(j, "join") && name(j+1) && word(j+2, "on"):
				return true
			}
		case word(i, "group") && word(i+1, "by") && name(i+2) && word(i+3, "having"):
			return true
		case word(i, "order") && word(i+1, "by") && name(i+2) && (word(i+3, "asc") || word(i+3, "desc") || word(i+3, "limit")):
			return true
		case word(i, "as") && i > 0 && (punct(i-1, ")") || ts[i-1].kind == 'n' || ts[i-1].kind == 'q') && name(i+1) && word(i+2, "from"):
			return true
		case word(i, "select") && i+1 < len(ts):
			// a select list no sentence has: *, @@variable, a hex
			// literal, a backquoted name, or a list of names
			j := i + 1
			tk := ts[j]
			hex := tk.kind == 'n' && strings.HasPrefix(tk.s, "0x") && len(tk.s) > 2
			listy := punct(j, "*") || hex || strings.HasPrefix(tk.s, "@@") || tk.kind == 'q' && strings.Contains(t, "`")
			if !listy && name(j) && punct(j+1, ",") && name(j+2) {
				listy = true // "select id, name from"
			}
			if !listy {
				continue
			}
			if j+1 == len(ts) && (hex || strings.HasPrefix(tk.s, "@@")) {
				return true // "select 0x616263", "select @@version"
			}
			for k := j + 1; k < len(ts) && k < j+8; k++ {
				if word(k, "from") {
					return name(k+1) && tail(k+2)
				}
			}
		case punct(i, "::") && i > 0 && punct(i-1, ")") && i+1 < len(ts) && ts[i+1].kind == 'w':
			return true
		case word(i, "when") && i > 0 && (punct(i-1, ")") || word(i-1, "case") && (i == 1 || ts[i-2].kind == 'p' || word(i-2, "select") || word(i-2, "then") || word(i-2, "else"))) && i+2 < len(ts) && (ts[i+1].kind == 'n' || ts[i+1].kind == 'q') && word(i+2, "then"):
			return true // a CASE branch: "case when 1 then", ") when 234 then"
		case word(i, "having") && i+1 < len(ts) && (ts[i+1].kind == 'n' || ts[i+1].kind == 'q' || name(i+1) && punct(i+2, "(")):
			// HAVING on a literal or an aggregate, then a comparison
			for k := i + 2; k < len(ts) && k < i+8; k++ {
				if cmp(k) {
					return true
				}
			}
		}
	}
	return false
}

// dotCommand: a command separator (;, |, a line break) followed by a
// relative program or a client's dot command (";./run", ";\n.databases",
// "1;.\"shell id") — prose puts a space or a word after a semicolon.
func dotCommand(t string) bool {
	for i := 0; i+2 < len(t); i++ {
		if c := t[i]; c != ';' && c != '|' && c != '\n' {
			continue
		}
		j := i + 1
		for j < len(t) && (t[j] == '\n' || t[j] == '\r' || t[j] == ' ' && t[i] != ';') {
			j++
		}
		if j+1 < len(t) && t[j] == '.' && (isLetterByte(t[j+1]) || t[j+1] == '/' || t[j+1] == '"' || t[j+1] == '\'' || t[j+1] == '\\') {
			return true
		}
	}
	return false
}

// assembledVariable: a shell variable assigned and then expanded inside
// a word ("v='u';cu$v\\r\\l", "a=c;b=at;$a$b /etc/passwd") — a command
// name put together at run time. One pass: an assignment is a word at the
// start or after a separator followed by "="; an expansion is "$" and a
// word after its assignment ended (linear in the value: the value is the
// client's, up to max_value bytes).
func assembledVariable(t string) bool {
	var assigned map[string]int // name → end of its first assignment ("name=")
	for i := 0; i < len(t); i++ {
		c := t[i]
		if c == '$' && i > 0 && i+1 < len(t) && isLetterByte(t[i+1]) && len(assigned) > 0 {
			k := i + 1
			for k < len(t) && isWordByte(t[k]) {
				k++
			}
			if end, ok := assigned[t[i+1:k]]; ok && end <= i {
				return true
			}
			i = k - 1
			continue
		}
		if !isWordByte(c) || i > 0 && strings.IndexByte(";&| \t\n", t[i-1]) < 0 {
			continue
		}
		k := i
		for k < len(t) && isWordByte(t[k]) {
			k++
		}
		if k < len(t) && t[k] == '=' {
			if assigned == nil {
				assigned = map[string]int{}
			}
			if _, ok := assigned[t[i:k]]; !ok {
				assigned[t[i:k]] = k + 1
			}
		}
		i = k - 1
	}
	return false
}

// literalTautology: the whole value compares a literal with itself ("1=1",
// "'a'='a'") — a condition that is always true, and nothing else.
func literalTautology(t string) bool {
	t = strings.TrimSpace(t)
	i := strings.IndexByte(t, '=')
	if i <= 0 || i == len(t)-1 || strings.Count(t, "=") != 1 {
		return false
	}
	a, b := strings.TrimSpace(t[:i]), strings.TrimSpace(t[i+1:])
	if a != b || a == "" {
		return false
	}
	if a[0] == '\'' || a[0] == '"' {
		return len(a) >= 2 && a[len(a)-1] == a[0]
	}
	return isNumber(a)
}
