package inventory

import (
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// valueType infers a JSON Schema type and format for a textual value (a
// query parameter, a header or a path segment).
func valueType(s string) (typ, format string) {
	switch s {
	case "true", "false":
		return "boolean", ""
	}
	if s == "" {
		return "string", ""
	}
	if allDigits(s) || (s[0] == '-' && allDigits(s[1:])) {
		if _, err := strconv.ParseInt(s, 10, 32); err == nil {
			return "integer", "int32"
		}
		if _, err := strconv.ParseInt(s, 10, 64); err == nil {
			return "integer", "int64"
		}
		return "string", ""
	}
	if c := s[0]; c == '-' || c == '.' || c >= '0' && c <= '9' {
		if _, err := strconv.ParseFloat(s, 64); err == nil && !strings.ContainsAny(s, "xXpP_") && strings.IndexFunc(s, isLetterNotE) < 0 {
			return "number", ""
		}
	}
	return "string", stringFormat(s)
}

func isLetterNotE(r rune) bool {
	return (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') && r != 'e' && r != 'E'
}

// stringFormat names the OpenAPI format of a string value, or "".
func stringFormat(s string) string {
	switch classify(s) {
	case kUUID:
		return "uuid"
	case kEmail:
		if strings.IndexByte(s, '@') > 0 {
			return "email"
		}
	case kDate:
		if len(s) == 10 {
			return "date"
		}
		if _, err := time.Parse(time.RFC3339Nano, s); err == nil {
			return "date-time"
		}
	}
	if strings.HasPrefix(s, "http://") || strings.HasPrefix(s, "https://") {
		return "uri"
	}
	if len(s) >= 7 && len(s) <= 15 && s[0] >= '0' && s[0] <= '9' {
		if a, err := netip.ParseAddr(s); err == nil && a.Is4() {
			return "ipv4"
		}
	}
	return ""
}

// sensitiveName reports parameter/field names whose values are credentials
// or personal secrets: their examples are never shown.
func sensitiveName(name string) bool {
	n := strings.ToLower(name)
	for _, w := range sensitiveWords {
		if strings.Contains(n, w) {
			return true
		}
	}
	return false
}

var sensitiveWords = []string{"pass", "pwd", "secret", "token", "auth", "key", "session", "cookie", "credential", "jwt", "otp", "pin", "ssn", "card", "cvv", "cvc", "sig", "bearer", "private", "salt", "hash", "nonce", "code"}

// redactExample renders a value as a safe example: shapes for typed values
// (<int>, <uuid>, <email>, …), "<redacted>" for credential-like names, and a
// partially masked string otherwise ("js**" for "json").
func redactExample(name, typ, format, v string) string {
	if sensitiveName(name) {
		return "<redacted>"
	}
	switch typ {
	case "integer":
		return "<int>"
	case "number":
		return "<number>"
	case "boolean":
		return v
	case "array":
		return "<array>"
	case "object":
		return "<object>"
	case "null":
		return "null"
	}
	if format != "" {
		return "<" + format + ">"
	}
	switch k := classify(v); {
	case k == kToken || k == kHex || k == kPrefixed || len(v) > 24:
		return "<string>"
	case strings.Count(v, ".") == 2 && strings.HasPrefix(v, "eyJ"):
		return "<redacted>"
	}
	r := []rune(v)
	if len(r) <= 3 {
		return "<string>"
	}
	stars := len(r) - 2
	if stars > 6 {
		stars = 6
	}
	return string(r[:2]) + strings.Repeat("*", stars)
}
