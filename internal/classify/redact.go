package classify

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Redact returns a form of a matched value that is safe to show in
// evidence and reports: enough to recognise the data class (last digits
// of a card, the domain of an e-mail, a token's public prefix), never the
// value itself.
func Redact(m Match, value string) string {
	if m.Masked {
		return clip(value, 40)
	}
	switch m.Type {
	case TypeCard:
		return keepLastDigits(value, 4)
	case TypeSSN:
		d := digitsOnly(value)
		if len(d) == 9 {
			return "***-**-" + d[5:]
		}
		return keepLastDigits(value, 4)
	case TypePhone:
		return keepLastDigits(value, 2)
	case TypeEmail:
		local, domain, ok := strings.Cut(value, "@")
		if !ok || local == "" {
			return "***"
		}
		r, _ := utf8.DecodeRuneInString(local)
		return string(r) + "***@" + domain
	case TypeIBAN:
		v := strings.ReplaceAll(value, " ", "")
		if len(v) > 8 {
			return v[:2] + strings.Repeat("*", len(v)-6) + v[len(v)-4:]
		}
		return "****"
	case TypeJWT:
		hdr, _, _ := strings.Cut(value, ".")
		return clip(hdr, 60) + ".<payload redacted>.<signature redacted>"
	case TypeSecret:
		for _, r := range prefixRules {
			if r.name == m.Detail {
				for _, p := range r.prefixes {
					if strings.HasPrefix(value, p) {
						return p + fmt.Sprintf("… (%d chars)", len(value))
					}
				}
			}
		}
		return fmt.Sprintf("[redacted %s, %d chars]", orDefault(m.Detail, "secret"), len(value))
	case TypeIP:
		if i := strings.LastIndexAny(value, ".:"); i > 0 {
			return value[:i+1] + "x"
		}
		return "x"
	case TypeDOB:
		return "**/**/****"
	case TypePersonName:
		r, _ := utf8.DecodeRuneInString(value)
		return string(r) + "***"
	}
	return fmt.Sprintf("[redacted %s, %d chars]", m.Type, len(value))
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func keepLastDigits(v string, n int) string {
	total := 0
	for i := 0; i < len(v); i++ {
		if isDigit(v[i]) {
			total++
		}
	}
	b := []byte(v)
	seen := 0
	for i := range b {
		if isDigit(b[i]) {
			seen++
			if seen <= total-n {
				b[i] = '*'
			}
		}
	}
	return string(b)
}

func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
