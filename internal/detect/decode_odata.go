package detect

import "strings"

// OData (OASIS OData v4 URL conventions; v2 and v3 alike): the system
// query options — $filter, $select, $expand, $orderby, $top … — are the
// protocol's own parameters, and the value of $filter, $orderby, $expand,
// $select, $apply and $compute is an expression in OData's query language:
// "Name eq 'Milk' and Price lt 2.55", "startswith(Name,'A')". Its syntax is
// SQL-like by design (libinjection reads "BlobType eq 'x'" as a SQL
// fingerprint) and CRS 942290 reads the name "$filter" as a MongoDB
// operator: every request to an OData API tripped them. Such a name is not
// inspected, and such a value, when it reads as an OData expression, is
// judged by its string literals (the client's data in it); a value that
// does not (a SQL comment, a statement separator outside $expand, a word
// where an operator must be: "1 eq 1 union select …") is a value like any
// other. No maintained OData parser resolves as a Go module here
// (github.com/CiscoM31/godata is refused by the proxy), hence this lexer.

// odataOptions are OData's system query options (v4 §5.1 and v2's
// $inlinecount).
var odataOptions = map[string]bool{
	"$filter": true, "$select": true, "$expand": true, "$orderby": true, "$top": true, "$skip": true,
	"$count": true, "$search": true, "$format": true, "$apply": true, "$compute": true, "$skiptoken": true,
	"$deltatoken": true, "$levels": true, "$schemaversion": true, "$index": true, "$inlinecount": true, "$id": true,
}

// odataOption: name is an OData system query option (case-insensitive, as
// OData 4.01 allows).
func odataOption(name string) bool {
	return len(name) > 1 && name[0] == '$' && odataOptions[strings.ToLower(name)]
}

// odataExprOptions take an expression whose string literals are its data.
var odataExprOptions = map[string]bool{"$filter": true, "$orderby": true, "$expand": true, "$select": true, "$apply": true, "$compute": true}

// odataKeywords are the operators and keywords of OData expressions: the
// words that may stand between two operands.
var odataKeywords = map[string]bool{
	"eq": true, "ne": true, "gt": true, "ge": true, "lt": true, "le": true, "and": true, "or": true, "not": true,
	"has": true, "in": true, "add": true, "sub": true, "mul": true, "div": true, "divby": true, "mod": true,
	"asc": true, "desc": true, "as": true, "with": true, "from": true, // $orderby; $apply aggregate(x with sum as y), from
}

// odataLiterals returns the string literals of an OData expression value
// of option name; ok is false when name takes no expression or the value
// does not read as one.
func odataLiterals(name, v string) (lits []string, ok bool) {
	name = strings.ToLower(name)
	if !odataExprOptions[name] {
		return nil, false
	}
	nested := name == "$expand" // $expand=Orders($filter=Total gt 5;$select=Id)
	prevOperand := false        // the last token was an operand (a word, a number, a literal, ")")
	depth := 0
	for i := 0; i < len(v); {
		c := v[i]
		switch {
		case c == ' ' || c == '\t':
			i++
		case c == '\'':
			// a string literal, '' escaping a quote
			var b strings.Builder
			j := i + 1
			for ; j < len(v); j++ {
				if v[j] == '\'' {
					if j+1 < len(v) && v[j+1] == '\'' {
						b.WriteByte('\'')
						j++
						continue
					}
					break
				}
				b.WriteByte(v[j])
			}
			if j >= len(v) {
				return nil, false // unterminated
			}
			if prevOperand && !typedLiteralPrefix(v[:i]) {
				return nil, false
			}
			lits = append(lits, b.String())
			prevOperand = true
			i = j + 1
		case isODataWordByte(c):
			j := i
			for j < len(v) && (isODataWordByte(v[j]) || v[j] == '.' || v[j] == '-' || v[j] == ':' && j+1 < len(v) && v[j+1] >= '0' && v[j+1] <= '9') {
				j++ // names, numbers, namespaces, GUIDs, dates and times
			}
			w := strings.ToLower(v[i:j])
			if odataKeywords[w] {
				prevOperand = false
			} else {
				if prevOperand {
					return nil, false // two operands with no operator between: not OData
				}
				prevOperand = true
			}
			i = j
		case c == '(':
			depth++
			prevOperand = false
			i++
		case c == ')':
			if depth == 0 {
				return nil, false
			}
			depth--
			prevOperand = true
			i++
		case c == ',' || c == '/' || c == ':' || c == '*':
			prevOperand = c == '*'
			i++
		case c == '-' && !(i+1 < len(v) && v[i+1] == '-'):
			prevOperand = false // a negative number, a NOT in $search
			i++
		case nested && (c == ';' || c == '='):
			prevOperand = false
			i++
		default:
			return nil, false // a byte OData's expressions do not have here
		}
	}
	return lits, depth == 0
}

// isODataWordByte: a byte of a name, a number or a parameter alias.
func isODataWordByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '$' || c == '@' || c >= 0x80
}

// typedLiteralPrefix: the text before a quote ends in a type name glued to
// it, as v2 and v3 write typed literals (datetime'2020-01-01', guid'…',
// X'0FF1', binary'…').
func typedLiteralPrefix(before string) bool {
	j := len(before)
	for j > 0 && isODataWordByte(before[j-1]) {
		j--
	}
	switch strings.ToLower(before[j:]) {
	case "datetime", "datetimeoffset", "time", "guid", "x", "binary", "duration", "geography", "geometry":
		return true
	}
	return false
}
