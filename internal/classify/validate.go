package classify

import (
	"strings"
	"sync"
	"time"

	"github.com/nyaruka/phonenumbers"
)

// Validators: checksum and numbering-plan rules that turn a pattern match
// into a finding. Each takes the candidate with separators already removed
// unless stated otherwise.

// luhn reports whether the digit string passes the Luhn (mod 10) check.
func luhn(d string) bool {
	if len(d) < 2 {
		return false
	}
	sum := 0
	alt := false
	for i := len(d) - 1; i >= 0; i-- {
		c := d[i]
		if c < '0' || c > '9' {
			return false
		}
		n := int(c - '0')
		if alt {
			n *= 2
			if n > 9 {
				n -= 9
			}
		}
		sum += n
		alt = !alt
	}
	return sum%10 == 0
}

func prefixIn(d string, lo, hi int, n int) bool {
	if len(d) < n {
		return false
	}
	v := 0
	for i := 0; i < n; i++ {
		v = v*10 + int(d[i]-'0')
	}
	return v >= lo && v <= hi
}

// cardIssuer returns the card network whose IIN range and length fit the
// digit string, or "" when none does. Ranges follow the public IIN tables
// (ISO/IEC 7812 issuer identification numbers as published by the networks).
func cardIssuer(d string) string {
	n := len(d)
	switch {
	case d[0] == '4' && (n == 13 || n == 16 || n == 19):
		return "visa"
	case (prefixIn(d, 51, 55, 2) || prefixIn(d, 2221, 2720, 4)) && n == 16:
		return "mastercard"
	case (strings.HasPrefix(d, "34") || strings.HasPrefix(d, "37")) && n == 15:
		return "amex"
	case (strings.HasPrefix(d, "6011") || prefixIn(d, 644, 649, 3) || strings.HasPrefix(d, "65") || prefixIn(d, 622126, 622925, 6)) && n >= 16 && n <= 19:
		return "discover"
	case strings.HasPrefix(d, "35") && n >= 16 && n <= 19: // JCB 3528–3589 and the wider 35 block test generators use
		return "jcb"
	case (strings.HasPrefix(d, "1800") || strings.HasPrefix(d, "2131")) && n == 15:
		return "jcb"
	case (prefixIn(d, 300, 305, 3) || strings.HasPrefix(d, "3095") || strings.HasPrefix(d, "36") || strings.HasPrefix(d, "38") || strings.HasPrefix(d, "39")) && n >= 14 && n <= 19:
		return "diners"
	case strings.HasPrefix(d, "62") && n >= 16 && n <= 19:
		return "unionpay"
	case (strings.HasPrefix(d, "50") || prefixIn(d, 56, 58, 2) || strings.HasPrefix(d, "6")) && n >= 12 && n <= 19:
		return "maestro"
	case d[0] == '1' && n == 15:
		return "uatp"
	case prefixIn(d, 2200, 2204, 4) && n == 16:
		return "mir"
	}
	return ""
}

// validCard checks length, issuer range, Luhn and rejects repeated digits.
func validCard(d string) bool {
	if len(d) < 12 || len(d) > 19 || allSame(d) {
		return false
	}
	return cardIssuer(d) != "" && luhn(d)
}

func allSame(s string) bool {
	for i := 1; i < len(s); i++ {
		if s[i] != s[0] {
			return false
		}
	}
	return true
}

// ibanLengths is the total IBAN length per country (SWIFT IBAN registry).
var ibanLengths = map[string]int{
	"AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22, "BI": 27,
	"BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DJ": 27, "DK": 18, "DO": 28,
	"EE": 20, "EG": 29, "ES": 24, "FI": 18, "FK": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
	"GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26, "IT": 27,
	"JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20, "LV": 21, "LY": 25,
	"MC": 27, "MD": 24, "ME": 22, "MK": 19, "MN": 20, "MR": 27, "MT": 31, "MU": 30, "NI": 28, "NL": 18,
	"NO": 15, "OM": 23, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "RU": 33,
	"SA": 24, "SC": 31, "SD": 18, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "SO": 23, "ST": 25, "SV": 28,
	"TL": 23, "TN": 24, "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20, "YE": 30,
}

// ibanNumericBBAN: the countries whose BBAN is digits only in the SWIFT
// IBAN registry (AT 16n, BE 12n, DE 18n, ES 20n, SE 20n …).
var ibanNumericBBAN = map[string]bool{
	"AT": true, "BA": true, "BE": true, "CZ": true, "DE": true, "DK": true, "EE": true, "ES": true, "FI": true, "FO": true,
	"GL": true, "HR": true, "HU": true, "IL": true, "IS": true, "LT": true, "ME": true, "NO": true, "PL": true, "PT": true,
	"RS": true, "SE": true, "SI": true, "SK": true, "TL": true, "TN": true, "XK": true, "AE": true,
}

// validIBAN checks country length, the BBAN's digits where the country's
// BBAN is numeric (ibanNumericBBAN), and the ISO 13616 mod-97 checksum. s
// is upper-case alphanumerics without spaces.
func validIBAN(s string) bool {
	if len(s) < 15 || len(s) > 34 {
		return false
	}
	want, ok := ibanLengths[s[:2]]
	if !ok || want != len(s) {
		return false
	}
	if s[2] < '0' || s[2] > '9' || s[3] < '0' || s[3] > '9' {
		return false
	}
	if s[2:4] == "00" || s[2:4] == "01" || s[2:4] == "99" {
		return false
	}
	if ibanNumericBBAN[s[:2]] {
		// the country's account numbers are digits only (IBAN registry):
		// a token with letters after "SE12" is an identifier, not an IBAN
		for i := 4; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				return false
			}
		}
	}
	rem := 0
	add := func(c byte) bool {
		switch {
		case c >= '0' && c <= '9':
			rem = (rem*10 + int(c-'0')) % 97
		case c >= 'A' && c <= 'Z':
			v := int(c-'A') + 10
			rem = (rem*100 + v) % 97
		default:
			return false
		}
		return true
	}
	for i := 4; i < len(s); i++ {
		if !add(s[i]) {
			return false
		}
	}
	for i := 0; i < 4; i++ {
		if !add(s[i]) {
			return false
		}
	}
	return rem == 1
}

// validSSN applies the SSA rules: area 001–899 except 666, group 01–99,
// serial 0001–9999, and rejects numbers known to be invalid or advertised.
func validSSN(d string) bool {
	if len(d) != 9 || allSame(d) {
		return false
	}
	for i := 0; i < 9; i++ {
		if d[i] < '0' || d[i] > '9' {
			return false
		}
	}
	area, group, serial := d[:3], d[3:5], d[5:]
	if area == "000" || area == "666" || area[0] == '9' || group == "00" || serial == "0000" {
		return false
	}
	switch d {
	case "078051120", "219099999", "123456789", "987654320":
		return false
	}
	return true
}

// validNANP checks a 10-digit North American number: area code and
// exchange start with 2–9, the area code is not an N11 service code.
func validNANP(d string) bool {
	if len(d) != 10 {
		return false
	}
	if d[0] < '2' || d[3] < '2' {
		return false
	}
	if d[1] == '1' && d[2] == '1' {
		return false
	}
	if d[4] == '1' && d[5] == '1' { // N11 exchange
		return false
	}
	return !allSame(d)
}

// validE164 checks an international number given as digits after "+":
// 8–15 digits (E.164 maximum), then libphonenumber's per-country rules
// (country code, national number length and leading digits). NANP numbers
// (+1) also pass the area-code/exchange rules.
func validE164(d string) bool {
	if len(d) < 8 || len(d) > 15 || allSame(d) {
		return false
	}
	if d[0] == '1' && !(len(d) == 11 && validNANP(d[1:])) {
		return false
	}
	if v, ok := e164Memo.get(d); ok {
		return v
	}
	num, err := phonenumbers.Parse("+"+d, "")
	ok := err == nil && phonenumbers.IsValidNumber(num)
	e164Memo.put(d, ok)
	return ok
}

// libphonenumber validation costs ≈10–20 µs, so results are memoized,
// process-wide, in two generations of at most e164MemoGen numbers each
// (≈1 MB in all): a number seen in the current or the previous generation
// is not validated again, and the older generation is dropped when the
// current one is full, so recent numbers stay cached however many
// distinct numbers pass.
const e164MemoGen = 8192

var e164Memo genMemo

type genMemo struct {
	mu        sync.Mutex
	cur, prev map[string]bool
}

func (g *genMemo) get(k string) (v, ok bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if v, ok = g.cur[k]; ok {
		return v, true
	}
	if v, ok = g.prev[k]; ok {
		g.putLocked(k, v)
	}
	return v, ok
}

func (g *genMemo) put(k string, v bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.putLocked(k, v)
}

func (g *genMemo) putLocked(k string, v bool) {
	if g.cur == nil || len(g.cur) >= e164MemoGen {
		g.prev, g.cur = g.cur, make(map[string]bool, e164MemoGen)
	}
	g.cur[strings.Clone(k)] = v
}

// dateLayouts accepted for dates of birth.
var dateLayouts = []string{
	"2006-01-02", "2006/01/02", "01/02/2006", "1/2/2006", "02.01.2006", "2.1.2006", "02-01-2006",
	"January 2, 2006", "Jan 2, 2006", "2 January 2006", "2 Jan 2006", "20060102",
	time.RFC3339, "2006-01-02T15:04:05", "2006-01-02 15:04:05",
}

// parseDate parses a calendar date with a plausible birth year (1900–2099).
func parseDate(s string) (time.Time, bool) {
	s = strings.TrimSpace(s)
	if len(s) < 6 || len(s) > 40 {
		return time.Time{}, false
	}
	for _, l := range dateLayouts {
		if t, err := time.Parse(l, s); err == nil {
			if t.Year() >= 1900 && t.Year() <= 2099 {
				return t, true
			}
			return time.Time{}, false
		}
	}
	// Day-first with slashes (European order) when month-first fails.
	if t, err := time.Parse("02/01/2006", s); err == nil && t.Year() >= 1900 && t.Year() <= 2099 {
		return t, true
	}
	return time.Time{}, false
}
