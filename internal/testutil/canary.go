package testutil

import (
	"net/url"
	"strings"
)

// Canary is a planted sensitive value of one class and the forms it must
// not appear in anywhere Palisade writes (report, API, logs, sinks, data
// directory).
type Canary struct {
	Class string
	Value string   // as planted
	Forms []string // spellings that count as a leak (the value, compacted, ...)
}

// Canaries has one planted value per sensitive class of the redaction
// promise: card, IBAN, SSN, e-mail, phone, JWT, API keys, password.
var Canaries = []Canary{
	{"card", "4111 1111 1111 1111", []string{"4111 1111 1111 1111", "4111111111111111", "4111-1111-1111-1111"}},
	{"iban", "DE89370400440532013000", []string{"DE89370400440532013000", "DE89 3704 0044 0532 0130 00", "0532013000"}},
	{"ssn", "536-22-1987", []string{"536-22-1987", "536221987"}},
	{"email", "canary.person@example.org", []string{"canary.person@example.org", "canary.person%40example.org"}},
	{"phone", "+44 20 7946 0958", []string{"+44 20 7946 0958", "2079460958", "20 7946 0958"}},
	{"jwt", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjYW5hcnktdXNlciJ9.Q2FuYXJ5U2lnbmF0dXJlMTIzNDU2", []string{"eyJzdWIiOiJjYW5hcnktdXNlciJ9", "Q2FuYXJ5U2lnbmF0dXJlMTIzNDU2"}},
	{"aws_key", "AKIAQCANARY7EXAMPLE1", []string{"AKIAQCANARY7EXAMPLE1", "QCANARY7EXAMPLE1"}},
	{"api_key", "sk_live_51CanaryKeyValue9876543210", []string{"sk_live_51CanaryKeyValue9876543210", "CanaryKeyValue9876543210"}},
	{"password", "Hunter2CanaryPw!", []string{"Hunter2CanaryPw"}},
}

// Leaks returns "class: form" for every canary form found in data (also
// URL-encoded).
func Leaks(data []byte) []string {
	s := string(data)
	var out []string
	for _, c := range Canaries {
		for _, f := range c.Forms {
			if strings.Contains(s, f) || strings.Contains(s, url.QueryEscape(f)) || strings.Contains(s, strings.ReplaceAll(url.QueryEscape(f), "+", "%20")) {
				out = append(out, c.Class+": "+f)
				break
			}
		}
	}
	return out
}

// CanaryAttacks returns request URL suffixes (path and query) and bodies
// that carry every canary inside injection payloads, so that the matched
// fragments of injection alerts contain them.
func CanaryAttacks() (queries []string, bodies []string) {
	for _, c := range Canaries {
		v := c.Value
		queries = append(queries,
			"/v1/search?q="+url.QueryEscape("1' UNION SELECT name FROM users WHERE card='"+v+"'--"),
			"/v1/items?filter="+url.QueryEscape("<script>alert('"+v+"')</script>"),
		)
		bodies = append(bodies,
			`{"comment":"' OR 1=1; DROP TABLE users; -- `+v+`","password":"`+v+`"}`,
		)
	}
	return queries, bodies
}
