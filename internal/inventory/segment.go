package inventory

import "strings"

// segKind is what a single path segment looks like on its own.
type segKind uint8

const (
	kWord      segKind = iota // plain word or mixed token ("orders", "api1", "index.html"): static until cardinality says otherwise
	kSlug                     // long hyphenated lower-case slug ("how-to-bake-bread"): weak, lower cardinality threshold
	kVersion                  // "v1", "v2.1", "v1beta2", "2023-01": never templatized
	kInt                      // decimal integer
	kUUID                     // 8-4-4-4-12 hex
	kHex                      // long hexadecimal id (object ids, hashes)
	kToken                    // long base64/base62-like opaque id
	kDate                     // 2024-01-31 or a date-time
	kEmail                    // local@domain.tld
	kPrefixed                 // business identifiers sharing a prefix: MRN-004512, SKU-88A1, ORD123456
	kWeakParam                // not a kind of segment: marks a param created by cardinality collapse
)

var kindNames = [...]string{"word", "slug", "version", "int", "uuid", "hex", "token", "date", "email", "prefixed", "value"}

func (k segKind) String() string { return kindNames[k] }

// strong reports kinds that templatize on first sight.
func (k segKind) strong() bool { return k >= kInt && k <= kPrefixed }

// weak reports kinds that need cardinality evidence.
func (k segKind) weak() bool { return k == kWord || k == kSlug }

// classify returns the kind of an (escaped) path segment. It does not
// allocate.
func classify(s string) segKind {
	n := len(s)
	if n == 0 {
		return kWord
	}
	var digits, lower, upper, hex, hyph, under, other, at, dots int
	for i := 0; i < n; i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits++
			hex++
		case c >= 'a' && c <= 'z':
			lower++
			if c <= 'f' {
				hex++
			}
		case c >= 'A' && c <= 'Z':
			upper++
			if c <= 'F' {
				hex++
			}
		case c == '-':
			hyph++
		case c == '_':
			under++
		case c == '@':
			at++
		case c == '.':
			dots++
		default:
			other++
		}
	}
	if isVersion(s) {
		return kVersion
	}
	if digits == n {
		return kInt
	}
	if n == 36 && hyph == 4 && hex == 32 && s[8] == '-' && s[13] == '-' && s[18] == '-' && s[23] == '-' {
		return kUUID
	}
	if isDate(s) {
		return kDate
	}
	if at == 1 || strings.Contains(s, "%40") {
		if isEmail(s) {
			return kEmail
		}
	}
	if digits > 0 && hex == n && (n >= 12 || (n >= 8 && digits < n && digits >= 2)) {
		return kHex
	}
	if isPrefixed(s) {
		return kPrefixed
	}
	// signed or decimal numbers
	if digits > 0 && digits+dots+boolInt(s[0] == '-') == n && dots <= 1 {
		return kInt
	}
	if n >= 16 && digits > 0 && (lower > 0 || upper > 0) && hyph <= 2 && other == 0 && dots == 0 {
		// long opaque tokens: base64url/base62 ids, mixed digits and letters
		if upper > 0 || digits >= 4 {
			return kToken
		}
	}
	if hyph >= 3 && upper == 0 && n >= 16 {
		return kSlug
	}
	return kWord
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// isVersion: v1, V2, v2.1, v1beta1, v1_1, and year-month versions
// "2023-01" (full dates are date parameters, not versions).
func isVersion(s string) bool {
	n := len(s)
	if n >= 2 && (s[0] == 'v' || s[0] == 'V') && s[1] >= '0' && s[1] <= '9' && n <= 12 {
		i := 1
		for i < n && (s[i] >= '0' && s[i] <= '9' || s[i] == '.' || s[i] == '_') {
			i++
		}
		if i == n {
			return true
		}
		rest := s[i:]
		for _, suf := range []string{"alpha", "beta", "rc"} {
			if strings.HasPrefix(rest, suf) {
				for j := len(suf); j < len(rest); j++ {
					if rest[j] < '0' || rest[j] > '9' {
						return false
					}
				}
				return true
			}
		}
		return false
	}
	if n == 7 && s[4] == '-' && allDigits(s[:4]) && allDigits(s[5:]) {
		return s[5] <= '1'
	}
	return false
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return len(s) > 0
}

// isDate: YYYY-MM-DD, optionally followed by T... (date-time).
func isDate(s string) bool {
	if len(s) < 10 || s[4] != '-' || s[7] != '-' || !allDigits(s[:4]) || !allDigits(s[5:7]) || !allDigits(s[8:10]) {
		return false
	}
	return len(s) == 10 || s[10] == 'T' || s[10] == 't' || s[10] == '_' || s[10] == ' '
}

func isEmail(s string) bool {
	s = strings.Replace(s, "%40", "@", 1)
	i := strings.IndexByte(s, '@')
	if i <= 0 || i == len(s)-1 {
		return false
	}
	dom := s[i+1:]
	d := strings.LastIndexByte(dom, '.')
	return d > 0 && d < len(dom)-2
}

// isPrefixed recognizes business identifiers: a short alphabetic prefix, an
// optional separator, then a digit-bearing remainder (MRN-004512, SKU-88A1,
// INV_2024_0042, ORD123456). A lower-case word followed by a few digits
// ("api1", "page2") is not one: it needs cardinality.
func isPrefixed(s string) bool {
	n := len(s)
	i := 0
	upperPrefix := true
	for i < n && (s[i] >= 'a' && s[i] <= 'z' || s[i] >= 'A' && s[i] <= 'Z') {
		if s[i] >= 'a' {
			upperPrefix = false
		}
		i++
	}
	if i == 0 || i > 8 || i == n {
		return false
	}
	sep := false
	if s[i] == '-' || s[i] == '_' || s[i] == ':' {
		sep = true
		i++
	}
	rest := s[i:]
	if len(rest) == 0 {
		return false
	}
	var digits int
	for j := 0; j < len(rest); j++ {
		c := rest[j]
		switch {
		case c >= '0' && c <= '9':
			digits++
		case c >= 'A' && c <= 'Z', c >= 'a' && c <= 'z', c == '-', c == '_':
		default:
			return false
		}
	}
	if rest[0] < '0' || rest[0] > '9' {
		return false
	}
	if sep {
		return digits >= 2 && (upperPrefix || digits >= 4)
	}
	return upperPrefix && i >= 2 && digits == len(rest) && digits >= 3
}

// paramName derives a parameter name from the static segment before it:
// users → userId, line-items → lineItemId, categories → categoryId. Kinds
// with an obvious meaning are named after it (email, date); a missing or
// non-word parent gives "id".
func paramName(parent string, k segKind) string {
	switch k {
	case kEmail:
		return "email"
	case kDate:
		return "date"
	}
	if parent == "" || isVersion(parent) || parent[0] == '{' {
		return "id"
	}
	base := singular(camel(parent))
	if base == "" || base == "api" {
		return "id"
	}
	if k == kSlug {
		return base + "Slug"
	}
	return base + "Id"
}

// camel turns "line-items"/"line_items"/"line.items" into "lineItems"; it
// drops characters that cannot appear in an identifier.
func camel(s string) string {
	var b strings.Builder
	up := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z' || c >= '0' && c <= '9' && b.Len() > 0:
			if up && c >= 'a' {
				c -= 'a' - 'A'
			}
			up = false
			b.WriteByte(c)
		case c >= 'A' && c <= 'Z':
			if b.Len() == 0 {
				c += 'a' - 'A'
			}
			up = false
			b.WriteByte(c)
		default:
			up = b.Len() > 0
		}
	}
	return b.String()
}

func singular(s string) string {
	switch {
	case len(s) > 4 && strings.HasSuffix(s, "ies"):
		return s[:len(s)-3] + "y"
	case len(s) > 4 && (strings.HasSuffix(s, "sses") || strings.HasSuffix(s, "xes") || strings.HasSuffix(s, "ches") || strings.HasSuffix(s, "shes")):
		return s[:len(s)-2]
	case len(s) > 3 && strings.HasSuffix(s, "s") && !strings.HasSuffix(s, "ss") && !strings.HasSuffix(s, "us") && !strings.HasSuffix(s, "is"):
		return s[:len(s)-1]
	}
	return s
}
