package sim

import (
	"encoding/base64"
	"math"
	"math/big"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// ---- random helpers ----

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// chance reports true with probability p.
func chance(r *rand.Rand, p float64) bool { return r.Float64() < p }

// logNormal draws a log-normal value with the given median and sigma.
func logNormal(r *rand.Rand, median, sigma float64) float64 {
	return median * math.Exp(sigma*r.NormFloat64())
}

// thinkTime is the pause between two requests of a user: log-normal around
// median, clipped to [300ms, 5m].
func thinkTime(r *rand.Rand, median time.Duration) time.Duration {
	d := time.Duration(logNormal(r, float64(median), 0.9))
	return min(max(d, 300*time.Millisecond), 5*time.Minute)
}

// latency draws a response time in milliseconds (log-normal), rounded to 0.1 ms.
func latency(r *rand.Rand, medianMs, sigma float64) float64 {
	return math.Round(logNormal(r, medianMs, sigma)*10) / 10
}

// heavyTail draws a search-like latency: log-normal body with a Pareto tail
// (about 4 % of calls take 1–10 s).
func heavyTail(r *rand.Rand) float64 {
	if chance(r, 0.04) {
		v := 1000 / math.Pow(1-r.Float64()*0.99, 1/1.3)
		return math.Round(math.Min(v, 12000)*10) / 10
	}
	return latency(r, 140, 0.55)
}

func hexStr(r *rand.Rand, n int) string {
	const h = "0123456789abcdef"
	b := make([]byte, n)
	for i := range b {
		b[i] = h[r.IntN(16)]
	}
	return string(b)
}

func alnum(r *rand.Rand, n int) string {
	const a = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, n)
	for i := range b {
		b[i] = a[r.IntN(len(a))]
	}
	return string(b)
}

func digits(r *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('0' + r.IntN(10))
	}
	return string(b)
}

// diurnal is the relative load at a time of day (UTC; the sample APIs serve
// one region): quiet nights (~0.08 at 03:00), a late-morning peak and an
// evening peak (1.0 around 20:00).
func diurnal(t time.Time) float64 {
	h := float64(t.Hour()) + float64(t.Minute())/60
	g := func(mu, sd float64) float64 {
		d := math.Min(math.Abs(h-mu), 24-math.Abs(h-mu))
		return math.Exp(-d * d / (2 * sd * sd))
	}
	return 0.06 + 0.7*g(11, 2.6) + 0.94*g(20, 2.2)
}

// ---- people and PII ----

var firstNames = []string{"Olivia", "Liam", "Emma", "Noah", "Ava", "Elijah", "Sophia", "James", "Isabella", "Lucas",
	"Mia", "Mateo", "Amelia", "Ethan", "Harper", "Aiden", "Aaliyah", "Mohammed", "Priya", "Wei", "Yuki", "Sofía",
	"Chidi", "Fatima", "Lars", "Ingrid", "Hamish", "Siobhan", "Dmitri", "Ana", "Zoë", "José", "Nguyen", "Kofi",
	"Leilani", "Ravi", "Grace", "Henry", "Chloe", "Jack"}

// lastNames include apostrophes and hyphens: O'Brien is a customer, not an injection.
var lastNames = []string{"Smith", "Johnson", "Williams", "Brown", "Garcia", "Miller", "Davis", "Rodriguez", "Martinez",
	"Hernandez", "Lopez", "Wilson", "Anderson", "Thomas", "Taylor", "Moore", "Jackson", "Martin", "Lee", "Thompson",
	"O'Brien", "O'Neil", "D'Angelo", "McAllister", "Smith-Jones", "Nakamura", "Okafor", "Kowalski", "Müller",
	"Lindqvist", "Patel", "Chen", "Kim", "Nguyen", "Haddad", "Fitzgerald", "Van der Berg", "Ó Súilleabháin"}

var emailDomains = []string{"example.com", "example.net", "example.org", "mail.example.com", "inbox.example.net"}

var streets = []string{"Maple Street", "Oak Avenue", "Elm Road", "Harbour View", "King's Road", "Station Lane", "Mill Way",
	"Cedar Court", "Church Street", "Rue de la Paix", "Hauptstraße", "Calle Mayor", "Via Roma"}

var cities = []struct{ city, zip, country string }{
	{"Springfield", "62704", "US"}, {"Portland", "97205", "US"}, {"Austin", "78701", "US"}, {"Boston", "02118", "US"},
	{"London", "SW1A 1AA", "GB"}, {"Manchester", "M1 1AE", "GB"}, {"Berlin", "10115", "DE"}, {"Munich", "80331", "DE"},
	{"Paris", "75001", "FR"}, {"Madrid", "28013", "ES"}, {"Dublin", "D02 X285", "IE"}, {"Toronto", "M5V 2T6", "CA"},
}

type person struct {
	First, Last, Email, Phone  string
	Street, City, Zip, Country string
	DOB, SSN, Card             string
}

func asciiLower(s string) string {
	var b strings.Builder
	for _, c := range strings.ToLower(s) {
		switch {
		case c >= 'a' && c <= 'z':
			b.WriteRune(c)
		case c == 'ü':
			b.WriteString("ue")
		case c == 'é', c == 'ë':
			b.WriteByte('e')
		case c == 'í':
			b.WriteByte('i')
		case c == 'á':
			b.WriteByte('a')
		case c == 'ó':
			b.WriteByte('o')
		}
	}
	if b.Len() == 0 {
		return "user"
	}
	return b.String()
}

func newPerson(r *rand.Rand, n int) person {
	p := person{First: pick(r, firstNames), Last: pick(r, lastNames)}
	p.Email = asciiLower(p.First) + "." + asciiLower(p.Last) + strconv.Itoa(n%997) + "@" + pick(r, emailDomains)
	c := pick(r, cities)
	p.City, p.Zip, p.Country = c.city, c.zip, c.country
	p.Street = strconv.Itoa(1+r.IntN(240)) + " " + pick(r, streets)
	p.Phone = phone(r, c.country)
	p.DOB = time.Date(1940+r.IntN(68), time.Month(1+r.IntN(12)), 1+r.IntN(28), 0, 0, 0, 0, time.UTC).Format("2006-01-02")
	p.SSN = ssn(r)
	p.Card = luhnCard(r)
	return p
}

// phone returns a number from ranges reserved for fiction (555-01xx in
// North America, 07700 900xxx in the UK).
func phone(r *rand.Rand, country string) string {
	switch country {
	case "GB", "IE":
		return "+44 7700 900" + digits(r, 3)
	case "US", "CA":
		return "+1-" + pick(r, []string{"202", "415", "312", "617", "503"}) + "-555-01" + digits(r, 2)
	case "DE":
		return "+49 30 " + digits(r, 8)
	default:
		return "+33 1 " + digits(r, 2) + " " + digits(r, 2) + " " + digits(r, 2) + " " + digits(r, 2)
	}
}

// ssn returns a well-formed US SSN (area 001–899 except 666, group and
// serial non-zero).
func ssn(r *rand.Rand) string {
	area := 1 + r.IntN(899)
	if area == 666 {
		area = 667
	}
	return pad(area, 3) + "-" + pad(1+r.IntN(99), 2) + "-" + pad(1+r.IntN(9999), 4)
}

func pad(n, w int) string {
	s := strconv.Itoa(n)
	for len(s) < w {
		s = "0" + s
	}
	return s
}

// luhnCard returns a 16-digit Luhn-valid card number on a Visa or Mastercard
// test prefix.
func luhnCard(r *rand.Rand) string {
	prefix := pick(r, []string{"411111", "400000", "424242", "555555", "510510", "222300"})
	s := prefix + digits(r, 9)
	return s + string(byte('0'+luhnCheck(s)))
}

// luhnCheck returns the check digit to append to s.
func luhnCheck(s string) int {
	sum := 0
	for i := len(s) - 1; i >= 0; i-- {
		d := int(s[i] - '0')
		if (len(s)-i)%2 == 1 {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return (10 - sum%10) % 10
}

// luhnValid reports whether a digit string passes the Luhn check.
func luhnValid(s string) bool {
	if len(s) < 2 {
		return false
	}
	return luhnCheck(s[:len(s)-1]) == int(s[len(s)-1]-'0')
}

func maskCard(c string) string { return "**** **** **** " + c[len(c)-4:] }

// iban returns a German or British IBAN with valid mod-97 check digits.
func iban(r *rand.Rand) string {
	var cc, bban string
	if chance(r, 0.5) {
		cc, bban = "DE", digits(r, 18)
	} else {
		cc, bban = "GB", pick(r, []string{"NWBK", "BARC", "LOYD", "MIDL"})+digits(r, 14)
	}
	return cc + ibanCheck(cc, bban) + bban
}

func ibanNumeric(s string) string {
	var b strings.Builder
	for _, c := range s {
		if c >= 'A' && c <= 'Z' {
			b.WriteString(strconv.Itoa(int(c-'A') + 10))
		} else {
			b.WriteRune(c)
		}
	}
	return b.String()
}

func ibanCheck(cc, bban string) string {
	n, _ := new(big.Int).SetString(ibanNumeric(bban+cc+"00"), 10)
	m := new(big.Int).Mod(n, big.NewInt(97)).Int64()
	return pad(int(98-m), 2)
}

// ibanValid checks an IBAN's mod-97.
func ibanValid(s string) bool {
	if len(s) < 5 {
		return false
	}
	n, ok := new(big.Int).SetString(ibanNumeric(s[4:]+s[:4]), 10)
	return ok && new(big.Int).Mod(n, big.NewInt(97)).Int64() == 1
}

// ---- tokens ----

var b64u = base64.RawURLEncoding

// jwtClaims of a minted token.
type jwtClaims struct {
	Sub, Iss, Aud string
	Iat, Exp      time.Time
	Roles         []string
	Scope         string
}

// mintJWT builds a compact JWT with a real base64url header and payload and
// a random (fake) signature. alg "none" gives an empty signature part.
func mintJWT(r *rand.Rand, alg, kid string, c jwtClaims) string {
	h := newObj().s("alg", alg).s("typ", "JWT")
	if kid != "" {
		h.s("kid", kid)
	}
	p := newObj().s("iss", c.Iss).s("sub", c.Sub)
	if c.Aud != "" {
		p.s("aud", c.Aud)
	}
	p.i("iat", c.Iat.Unix()).i("exp", c.Exp.Unix())
	if len(c.Roles) > 0 {
		p.raw("roles", strArr(c.Roles))
	}
	if c.Scope != "" {
		p.s("scope", c.Scope)
	}
	p.s("jti", hexStr(r, 16))
	tok := b64u.EncodeToString([]byte(h.String())) + "." + b64u.EncodeToString([]byte(p.String())) + "."
	if alg == "none" {
		return tok
	}
	sig := make([]byte, 64)
	for i := range sig {
		sig[i] = byte(r.IntN(256))
	}
	return tok + b64u.EncodeToString(sig)
}

// ---- JSON writing (ordered keys, allocation-light) ----

type obj struct {
	b []byte
	n int
}

func newObj() *obj { return &obj{b: append(make([]byte, 0, 256), '{')} }

func (o *obj) key(k string) {
	if o.n > 0 {
		o.b = append(o.b, ',')
	}
	o.n++
	o.b = appendJSONString(o.b, k)
	o.b = append(o.b, ':')
}

func (o *obj) s(k, v string) *obj { o.key(k); o.b = appendJSONString(o.b, v); return o }
func (o *obj) i(k string, v int64) *obj {
	o.key(k)
	o.b = strconv.AppendInt(o.b, v, 10)
	return o
}
func (o *obj) f(k string, v float64) *obj {
	o.key(k)
	o.b = strconv.AppendFloat(o.b, v, 'f', 2, 64)
	return o
}
func (o *obj) bl(k string, v bool) *obj { o.key(k); o.b = strconv.AppendBool(o.b, v); return o }

// raw adds a value that is already JSON.
func (o *obj) raw(k, v string) *obj { o.key(k); o.b = append(o.b, v...); return o }

func (o *obj) String() string { return string(append(o.b, '}')) }

// list builds a JSON array of n objects, reusing one scratch buffer: item
// fills the (empty) object for element i.
func list(n int, item func(i int, o *obj)) string {
	o := &obj{b: make([]byte, 0, 512)}
	out := make([]byte, 0, n*160+2)
	out = append(out, '[')
	for i := 0; i < n; i++ {
		if i > 0 {
			out = append(out, ',')
		}
		o.b, o.n = append(o.b[:0], '{'), 0
		item(i, o)
		out = append(append(out, o.b...), '}')
	}
	return string(append(out, ']'))
}

// arr joins JSON values into an array.
func arr(vals []string) string {
	n := 2
	for _, v := range vals {
		n += len(v) + 1
	}
	b := make([]byte, 0, n)
	b = append(b, '[')
	for i, v := range vals {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, v...)
	}
	return string(append(b, ']'))
}

func strArr(vals []string) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = string(appendJSONString(nil, v))
	}
	return arr(q)
}

func jsonString(s string) string { return string(appendJSONString(nil, s)) }

// appendJSONString appends s as a JSON string literal.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', c)
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c == '\t':
			b = append(b, '\\', 't')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&15])
		default:
			b = append(b, c)
		}
	}
	return append(b, '"')
}
