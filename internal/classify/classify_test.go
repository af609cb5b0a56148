package classify

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/event"
	"github.com/palisade-sec/palisade/internal/exchange"
	"github.com/palisade-sec/palisade/internal/model"
)

type want struct {
	typ    string
	masked bool
	text   string // the matched span
}

func types(ms []Match, v string) []want {
	var out []want
	for _, m := range ms {
		out = append(out, want{m.Type, m.Masked, v[m.Start:m.End]})
	}
	return out
}

func sameWants(a, b []want) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestClassifyValue(t *testing.T) {
	c := newDefault(t)
	cases := []struct {
		name, field, value string
		want               []want
	}{
		{"email", "email", "ann@example.com", []want{{TypeEmail, false, "ann@example.com"}}},
		{"email in text", "note", "write to ann.b+x@mail.example.co.uk today", []want{{TypeEmail, false, "ann.b+x@mail.example.co.uk"}}},
		{"masked email", "email", "a***@example.com", []want{{TypeEmail, true, "a***@example.com"}}},
		{"not an email", "note", "info@presidio. nope", nil},
		{"card visa spaced", "", "4111 1111 1111 1111", []want{{TypeCard, false, "4111 1111 1111 1111"}}},
		{"card amex", "pan", "371449635398431", []want{{TypeCard, false, "371449635398431"}}},
		{"card fails luhn", "", "4111 1111 1111 1112", nil},
		{"card bad issuer", "", "9111111111111111", nil},
		{"masked card", "", "**** **** **** 1234", []want{{TypeCard, true, "**** **** **** 1234"}}},
		{"masked card field", "card_number", "XXXX-XXXX-XXXX-4242", []want{{TypeCard, true, "XXXX-XXXX-XXXX-4242"}}},
		{"ssn dashed", "", "078-05-1123", []want{{TypeSSN, false, "078-05-1123"}}},
		{"ssn bare in field", "ssn", "078051123", []want{{TypeSSN, false, "078051123"}}},
		{"ssn bare no context", "", "078051123", nil},
		{"ssn invalid area", "", "666-05-1123", nil},
		{"ssn woolworth", "ssn", "078-05-1120", nil},
		{"masked ssn", "", "***-**-6789", []want{{TypeSSN, true, "***-**-6789"}}},
		{"iban", "", "DE89 3704 0044 0532 0130 00", []want{{TypeIBAN, false, "DE89 3704 0044 0532 0130 00"}}},
		{"iban bad checksum", "", "DE89 3704 0044 0532 0130 01", nil},
		{"iban wrong length", "", "DE89370400440532013", nil},
		{"dob field", "dateOfBirth", "1975-03-12", []want{{TypeDOB, false, "1975-03-12"}}},
		{"dob us format", "birth_date", "03/12/1975", []want{{TypeDOB, false, "03/12/1975"}}},
		{"bare date is not dob", "created_at", "1975-03-12", nil},
		{"dob in text", "note", "she was born on 7/5/1981 in Oslo", []want{{TypeDOB, false, "7/5/1981"}}},
		{"phone e164", "", "+44 20 7123 4567", []want{{TypePhone, false, "+44 20 7123 4567"}}},
		{"phone nanp", "", "(415) 555-0132", []want{{TypePhone, false, "(415) 555-0132"}}},
		{"phone field national", "mobile", "0496 46 46 70", []want{{TypePhone, false, "0496 46 46 70"}}},
		{"phone bad nanp", "", "(115) 555-0132", nil},
		{"order number is not phone", "", "order 2270-66-1551", nil},
		{"ipv4", "", "from 192.168.1.10 at noon", []want{{TypeIP, false, "192.168.1.10"}}},
		{"ipv6", "", "src 2001:db8::1", []want{{TypeIP, false, "2001:db8::1"}}},
		{"version not ip", "", "Version 1.2.3", nil},
		{"mac not ip", "", "aa:bb:cc:dd:ee:ff", nil},
		{"jwt", "", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", []want{{TypeJWT, false, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U"}}},
		{"aws key", "", "key AKIAIOSFODNN7ZQ4XYZ2 here", []want{{TypeSecret, false, "AKIAIOSFODNN7ZQ4XYZ2"}}},
		{"github token", "", "ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z5A", []want{{TypeSecret, false, "ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3z5A"}}},
		{"slack token", "", "xoxb-2215519087-7730492618354-Kq8ZtR3mWn5YpL2vBx7cHd4J", []want{{TypeSecret, false, "xoxb-2215519087-7730492618354-Kq8ZtR3mWn5YpL2vBx7cHd4J"}}},
		{"stripe key", "", "sk_live_51HxQe2LkT9vYb3Nq8RmZpW4c", []want{{TypeSecret, false, "sk_live_51HxQe2LkT9vYb3Nq8RmZpW4c"}}},
		{"gcp key", "", "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY", []want{{TypeSecret, false, "AIzaSyD-9tSrke72PouQMnMX-a7eZSW0jkFMBWY"}}},
		{"fake token sequence", "", "ghp_abcdefghijklmnopqrstuvwxyz0123456789", nil},
		{"private key", "", "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----", []want{{TypeSecret, false, "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----"}}},
		{"password field", "password", "hunter2!", []want{{TypeSecret, false, "hunter2!"}}},
		{"password placeholder", "password", "${DB_PASSWORD}", nil},
		{"password policy is not a password", "password_policy", "min 12 chars", nil},
		{"token type is not a token", "token_type", "Bearer", nil},
		{"masked password", "password", "********", []want{{TypeSecret, true, "********"}}},
		{"password pair in text", "note", "db password: Sne3sd8AZjq ok", []want{{TypeSecret, false, "Sne3sd8AZjq"}}},
		{"password word in text", "note", "password: required", nil},
		{"url credentials", "", "postgres://app:s3cr3tP4ss@db.internal:5432/app", []want{{TypeSecret, false, "s3cr3tP4ss"}}},
		{"bearer token", "", "Authorization: Bearer 8f14e45fceea167a5a36dedd4bea2543", []want{{TypeSecret, false, "8f14e45fceea167a5a36dedd4bea2543"}}},
		{"person name field", "first_name", "Åsa", []want{{TypePersonName, false, "Åsa"}}},
		{"name with digits is not a name", "last_name", "R2D2", nil},
		{"address field", "street_address", "24 Clarke Avenue", []want{{TypeAddress, false, "24 Clarke Avenue"}}},
		{"email address is not postal", "email_address", "not-an-email", nil},
		{"address in text", "note", "Jacob lives on 90 Whitchurch Road now", []want{{TypeAddress, false, "90 Whitchurch Road"}}},
		{"street prefix form", "note", "ship to Via delle Coste 41, Roma", []want{{TypeAddress, false, "Via delle Coste 41"}}},
		{"apartment and name", "note", "Dr. Cindy Holinka Apt. 117", []want{{TypePersonName, false, "Cindy Holinka"}, {TypeAddress, false, "Apt. 117"}}},
		{"name cue", "note", "Hello, my name is Åsa Laine.", []want{{TypePersonName, false, "Åsa Laine"}}},
		{"name cue without a name", "note", "name: required", nil},
		{"no house number", "note", "Avenue Q is a musical", nil},
		{"passport field", "passport_number", "X1234567", []want{{TypePassport, false, "X1234567"}}},
		{"ip field with port", "client_ip", "203.0.113.7:443", []want{{TypeIP, false, "203.0.113.7:443"}}},
		{"plain words", "title", "Stainless steel bottle 12", nil},
		{"luhn-valid order id is not a card", "order_id", "4111111111111111", nil},
		{"card in a note is", "note", "4111111111111111", []want{{TypeCard, false, "4111111111111111"}}},
		{"uuid is nothing", "id", "1ace4d19-fa7e-b4e2-c3f0-9129474bcd81", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := types(c.ClassifyValue(tc.field, tc.value), tc.value)
			if !sameWants(got, tc.want) {
				t.Errorf("ClassifyValue(%q, %q) = %+v, want %+v", tc.field, tc.value, got, tc.want)
			}
		})
	}
}

func TestClassifyTextSpans(t *testing.T) {
	c := newDefault(t)
	text := "Call +1 415 555 0132 or mail bob@example.com; card 4012-8888-8888-1881, SSN 078-05-1123."
	got := types(c.ClassifyText(text), text)
	exp := []want{
		{TypePhone, false, "+1 415 555 0132"},
		{TypeEmail, false, "bob@example.com"},
		{TypeCard, false, "4012-8888-8888-1881"},
		{TypeSSN, false, "078-05-1123"},
	}
	if !sameWants(got, exp) {
		t.Fatalf("got %+v\nwant %+v", got, exp)
	}
}

func TestCustomTypes(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Custom = []CustomType{
		{Name: "employee_id", Pattern: `\bEMP-[0-9]{6}\b`},
		{Name: "project_code", Keywords: []string{"Project Falcon", "Project Osprey"}},
		{Name: "loyalty_card", Pattern: `[0-9]{12,19}`, Validator: "luhn", FieldNames: []string{"loyaltyNumber"}},
		{Name: "member_no", FieldNames: []string{"member_no"}},
		{Name: "tax_ref", Pattern: `[0-9]{8}`, Keywords: []string{"tax"}},
	}
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		field, value string
		want         []want
	}{
		{"", "assigned to EMP-004211 today", []want{{"employee_id", false, "EMP-004211"}}},
		{"", "EMP-12 is too short", nil},
		{"", "status of project falcon?", []want{{"project_code", false, "project falcon"}}},
		{"loyalty_number", "6035123412341234", nil}, // fails Luhn
		{"loyalty_number", "6035123412341238", []want{{"loyalty_card", false, "6035123412341238"}}},
		{"$.member.member_no", "A-77", []want{{"member_no", false, "A-77"}}},
		{"note", "ref 12345678", nil},
		{"note", "tax ref 12345678", []want{{"tax_ref", false, "12345678"}}},
		{"tax_id", "12345678", []want{{"tax_ref", false, "12345678"}}},
	}
	for _, tc := range cases {
		got := types(c.ClassifyValue(tc.field, tc.value), tc.value)
		var filtered []want
		for _, g := range got {
			if !strings.Contains("email phone credit_card us_ssn", g.typ) {
				filtered = append(filtered, g)
			}
		}
		if !sameWants(filtered, tc.want) {
			t.Errorf("ClassifyValue(%q, %q) = %+v, want %+v", tc.field, tc.value, got, tc.want)
		}
	}
}

func TestCustomTypeErrors(t *testing.T) {
	cases := []struct {
		ct   CustomType
		want string
	}{
		{CustomType{Pattern: "x"}, "classification.custom[0]: field name: must not be empty"},
		{CustomType{Name: "Bad Name", Pattern: "x"}, `classification.custom[0] ("Bad Name"): field name: use lower-case`},
		{CustomType{Name: "email", Pattern: "x"}, `field name: type "email" is already defined`},
		{CustomType{Name: "t1"}, "needs at least one of pattern, keywords or field_names"},
		{CustomType{Name: "t2", Pattern: "(unclosed"}, `classification.custom[0] ("t2"): field pattern:`},
		{CustomType{Name: "t3", Pattern: "x", Validator: "crc"}, `field validator: unknown validator "crc" (known: e164, luhn, mod97, nanp, ssn)`},
		{CustomType{Name: "t4", Keywords: []string{"a", " "}}, "field keywords[1]: must not be empty"},
		{CustomType{Name: "t5", FieldNames: []string{"--"}}, "field field_names[0]: must contain letters or digits"},
		{CustomType{Name: "t6", Pattern: "x", Confidence: 2}, "field confidence: must be within 0–1"},
	}
	for _, tc := range cases {
		cfg := DefaultConfig()
		cfg.Custom = []CustomType{tc.ct}
		_, err := New(cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("New(%+v) error = %v, want containing %q", tc.ct, err, tc.want)
		}
	}
}

func TestRedact(t *testing.T) {
	cases := []struct {
		m     Match
		value string
		want  string
	}{
		{Match{Type: TypeCard}, "4111 1111 1111 1111", "**** **** **** 1111"},
		{Match{Type: TypeSSN}, "078-05-1123", "***-**-1123"},
		{Match{Type: TypeEmail}, "maria@example.org", "m***@example.org"},
		{Match{Type: TypeIBAN}, "DE89370400440532013000", "DE****************3000"},
		{Match{Type: TypeSecret, Detail: "stripe_key"}, "sk_live_51HxQe2LkT9vYb3Nq8RmZpW4c", "sk_live_… (33 chars)"},
		{Match{Type: TypeSecret, Detail: "password"}, "hunter2!", "[redacted password, 8 chars]"},
		{Match{Type: TypePhone}, "+1 415 555 0132", "+* *** *** **32"},
		{Match{Type: TypeIP}, "203.0.113.7", "203.0.113.x"},
		{Match{Type: TypeCard, Masked: true}, "**** 1111", "**** 1111"},
	}
	for _, tc := range cases {
		if got := Redact(tc.m, tc.value); got != tc.want {
			t.Errorf("Redact(%s, %q) = %q, want %q", tc.m.Type, tc.value, got, tc.want)
		}
	}
}

// withIBANCheck returns country + the ISO 13616 check digits + bban.
func withIBANCheck(country, bban string) string {
	rem := 0
	for _, c := range bban + country + "00" {
		if c >= 'A' && c <= 'Z' {
			rem = (rem*100 + int(c-'A') + 10) % 97
		} else {
			rem = (rem*10 + int(c-'0')) % 97
		}
	}
	return fmt.Sprintf("%s%02d%s", country, 98-rem, bban)
}

func TestValidators(t *testing.T) {
	if !validIBAN("GB82WEST12345698765432") || validIBAN("GB82WEST12345698765433") || validIBAN("XX82WEST12345698765432") {
		t.Error("IBAN validation")
	}
	// Sweden's account numbers are digits: a token of the right length
	// and checksum with letters in it is not a Swedish IBAN; Britain's
	// hold a bank code in letters.
	if se := withIBANCheck("SE", "45000000058398257466"); !validIBAN(se) {
		t.Errorf("%s not valid", se)
	}
	if se := withIBANCheck("SE", "4500000005839825YD1Q"); validIBAN(se) {
		t.Errorf("%s valid: SE's BBAN is digits", se)
	}
	// A random identifier in mixed case is not read as one ("Se…yD1q").
	tok := withIBANCheck("SE", "45000000058398257466")
	mixed := "Se" + tok[2:]
	c, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	if ms := c.ClassifyText("ids " + mixed + " and " + tok); len(ms) != 1 || ms[0].Type != TypeIBAN {
		t.Errorf("found %+v, want the one IBAN in upper case", ms)
	}
	for d, want := range map[string]bool{
		"442071234567":     true,  // UK London
		"4930123456":       true,  // Berlin
		"14155550132":      true,  // NANP
		"5511984565666":    true,  // São Paulo mobile
		"9991234567":       false, // no country 999
		"1115550132":       false, // NANP area code 115 and too short
		"442071":           false, // too short
		"4420712345678901": false, // too long
		"44207123":         false, // UK number too short for its area
	} {
		if validE164(d) != want {
			t.Errorf("validE164(%s) = %v, want %v", d, !want, want)
		}
	}
	if !luhn("79927398713") || luhn("79927398710") {
		t.Error("Luhn")
	}
	for _, d := range []string{"000123456", "123004567", "123450000", "900123456", "111111111"} {
		if validSSN(d) {
			t.Errorf("validSSN(%s) = true", d)
		}
	}
}

func fixture(t testing.TB, name string) []byte {
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mkEvent(at time.Time, path, respBody string) *event.Event {
	rec := &exchange.Record{
		Time:     at,
		Client:   exchange.Client{IP: "198.51.100.4"},
		Request:  exchange.Request{Method: "GET", URL: "https://api.example.com" + path},
		Response: exchange.Response{Status: 200, Headers: map[string]string{"content-type": "application/json"}, Body: respBody},
	}
	return &event.Event{Rec: rec, Time: at, Method: "GET", Host: "api.example.com", Path: path, Status: 200,
		Endpoint: model.EndpointRef{Host: "api.example.com", Method: "GET", Path: path}}
}

func TestAnalyzerResults(t *testing.T) {
	c := newDefault(t)
	a := NewAnalyzer(c)
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	ev := mkEvent(t0, "/orders/1", string(fixture(t, "order.json")))
	ev.Rec.Request.URL += "?email=ann@example.com"
	ev.Query = map[string][]string{"email": {"ann@example.com"}}
	a.Observe(ev)
	a.Observe(mkEvent(t0.Add(time.Minute), "/orders/1", string(fixture(t, "order.json"))))
	res := resultsFor(a, "GET api.example.com/orders/1")
	got := map[string]bool{}
	for _, sd := range res {
		got[sd.Location+" "+sd.Field+" "+sd.Type+map[bool]string{true: " masked"}[sd.Masked]] = true
		if sd.Location == "response.body" && sd.Field == "$.customer.email" && (sd.Count != 2 || !sd.FirstSeen.Equal(t0)) {
			t.Errorf("email count %d first %v, want 2 and %v", sd.Count, sd.FirstSeen, t0)
		}
	}
	for _, k := range []string{
		"query email email",
		"response.body $.customer.email email",
		"response.body $.customer.first_name person_name",
		"response.body $.customer.phone phone",
		"response.body $.customer.dob date_of_birth",
		"response.body $.customer.ssn us_ssn",
		"response.body $.customer.address.street address",
		"response.body $.payment.card_number credit_card",
		"response.body $.payment.masked_pan credit_card masked",
		"response.body $.payment.iban iban",
		"response.body $.notes phone",
		"response.body $.client_ip ip_address",
		"response.body $.debug.api_key secret",
		"response.body $.debug.session_token jwt",
	} {
		if !got[k] {
			t.Errorf("missing %q", k)
		}
	}
	for k := range got {
		if strings.Contains(k, "$.items") || strings.Contains(k, "created_at") {
			t.Errorf("unexpected %q", k)
		}
	}
}

func TestAnalyzerSampling(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SampleAfter, cfg.SampleEvery = 5, 4
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a := NewAnalyzer(c)
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for i := 0; i < 46; i++ {
		a.Observe(mkEvent(t0.Add(time.Duration(i)*time.Second), "/u", `{"email":"a@example.com"}`))
	}
	st := a.Stats()
	// 6 values make the class stable (1 + 5 identical); bodies 7–11 are
	// sampled per field (1 in 4: one value classified, 4 skipped); after 5
	// quiet bodies, 1 body in 4 is walked and fully classified: 8 of the
	// remaining 35 bodies, 27 skipped whole.
	if st.Values != 15 || st.Sampled != 4 || st.SampledBodies != 27 {
		t.Errorf("values %d sampled %d sampled bodies %d, want 15, 4 and 27", st.Values, st.Sampled, st.SampledBodies)
	}
	// A change of class in a sampled value resets stability.
	a.Observe(mkEvent(t0.Add(time.Hour), "/u", `{"email":"078-05-1123"}`))
	a.Observe(mkEvent(t0.Add(time.Hour), "/u", `{"email":"078-05-1123"}`))
	a.Observe(mkEvent(t0.Add(time.Hour), "/u", `{"email":"078-05-1123"}`))
	a.Observe(mkEvent(t0.Add(time.Hour), "/u", `{"email":"078-05-1123"}`))
	found := false
	for _, sd := range resultsFor(a, "GET api.example.com/u") {
		if sd.Type == TypeSSN {
			found = true
		}
	}
	if !found {
		t.Error("SSN in a sampled field was never classified")
	}
}

func TestAnalyzerBudgetsAndBadInput(t *testing.T) {
	cfg := DefaultConfig()
	cfg.MaxEndpoints, cfg.MaxFieldsPerEndpoint = 1, 2
	c, _ := New(cfg)
	a := NewAnalyzer(c)
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	a.Observe(mkEvent(t0, "/a", `{"x":"a@example.com","y":"b@example.com","z":"c@example.com"}`))
	a.Observe(mkEvent(t0, "/b", `{"x":"a@example.com"}`))
	a.Observe(mkEvent(t0, "/a", `{"x": "a@example.com", broken`))
	a.Observe(mkEvent(t0, "/a", `not json but mentions d@example.com`))
	st := a.Stats()
	if st.Dropped["fields_budget"] == 0 || st.Dropped["endpoints_budget"] != 1 || st.InvalidJSON != 2 {
		t.Errorf("stats = %+v", st)
	}
	if len(a.Results()) != 1 {
		t.Errorf("results for %d endpoints, want 1", len(a.Results()))
	}
}

func TestWalkJSONPaths(t *testing.T) {
	var paths []string
	_, err := walkJSON((`{"a":{"b":[{"c":"x"},{"c":"y"}],"d e":1},"f":[["g"]],"h":null,"i":true,"users":{"ann@example.com":{"n":1},"40211":{"n":2},"3f2b8c1e-9a7d-4e2b-8f1a-6c5d4e3b2a10":{"n":3}}}`), 100, func(p []byte, _ *jsonLeaf) bool {
		paths = append(paths, string(p))
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "$.a.b[*].c $.a.b[*].c $.a['d e'] $.f[*][*] $.i $.users.*.n $.users.*.n $.users.*.n"
	if strings.Join(paths, " ") != want {
		t.Errorf("paths = %v, want %s", paths, want)
	}
	if _, err := walkJSON(`{"a":[1,2}`, 100, func([]byte, *jsonLeaf) bool { return true }); err == nil || !strings.Contains(err.Error(), "invalid JSON at byte") {
		t.Errorf("error = %v", err)
	}
}

// Body sampling never leaves a gap of more than a minute of event time: a
// new data type on a quiet endpoint is seen at once.
func TestBodySamplingMaxGap(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SampleAfter, cfg.SampleEvery = 5, 1000
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a := NewAnalyzer(c)
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for i := 0; i < 40; i++ {
		a.Observe(mkEvent(t0.Add(time.Duration(i)*time.Second), "/u", `{"email":"a@example.com"}`))
	}
	if a.Stats().SampledBodies == 0 {
		t.Fatalf("no body sampling on a busy, stable endpoint")
	}
	// Two minutes later an SSN appears in one response: it is walked.
	a.Observe(mkEvent(t0.Add(3*time.Minute), "/u", `{"email":"a@example.com","ssn":"078-05-1123"}`))
	found := false
	for _, sd := range resultsFor(a, "GET api.example.com/u") {
		found = found || sd.Type == TypeSSN
	}
	if !found {
		t.Errorf("a body after a gap of more than a minute was skipped")
	}
}

func hasType(a *Analyzer, path, field, typ string) bool {
	for _, sd := range resultsFor(a, "GET api.example.com"+path) {
		if sd.Field == field && sd.Type == typ {
			return true
		}
	}
	return false
}

// Per-field sampling never leaves a field unclassified for more than a
// minute of event time, also on an endpoint that body sampling never
// quietens (here a free-text field keeps changing class).
func TestFieldSamplingMaxGap(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SampleAfter, cfg.SampleEvery = 5, 1000
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a := NewAnalyzer(c)
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	notes := []string{"call me", "write to bo@example.org"}
	for i := 0; i < 40; i++ {
		a.Observe(mkEvent(t0.Add(time.Duration(i)*time.Second), "/u", `{"email":"a@example.com","note":"`+notes[i%2]+`"}`))
	}
	st := a.Stats()
	if st.Sampled == 0 || st.SampledBodies != 0 {
		t.Fatalf("sampled %d values and %d bodies, want values sampled per field and no body sampled", st.Sampled, st.SampledBodies)
	}
	a.Observe(mkEvent(t0.Add(50*time.Second), "/u", `{"email":"078-05-1123","note":"x"}`))
	if hasType(a, "/u", "$.email", TypeSSN) {
		t.Fatal("a value within the minute was not sampled") // the test would not show the bound
	}
	a.Observe(mkEvent(t0.Add(3*time.Minute), "/u", `{"email":"078-05-1123","note":"x"}`))
	if !hasType(a, "/u", "$.email", TypeSSN) {
		t.Error("a field value after a gap of more than a minute was skipped")
	}
}

// In a body walked in full by body sampling, every field has its first
// value classified; further values of the same field (array elements) are
// sampled per field.
func TestFullBodyFirstValuePerField(t *testing.T) {
	cfg := DefaultConfig()
	cfg.SampleAfter, cfg.SampleEvery = 5, 1000
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a := NewAnalyzer(c)
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	items := func(first string) string {
		b := `{"items":[{"e":"` + first + `"}`
		for i := 1; i < 30; i++ {
			b += `,{"e":"a@example.com"}`
		}
		return b + `]}`
	}
	for i := 0; i < 40; i++ {
		a.Observe(mkEvent(t0.Add(time.Duration(i)*time.Second), "/l", items("a@example.com")))
	}
	if a.Stats().SampledBodies == 0 {
		t.Fatal("no body sampling on a busy, stable endpoint")
	}
	// a body walked after a gap: one value of the 30 is classified
	before := a.Stats().Values
	a.Observe(mkEvent(t0.Add(2*time.Minute), "/l", items("a@example.com")))
	if n := a.Stats().Values - before; n != 1 {
		t.Errorf("%d values of one stable array field classified in one body, want the first one", n)
	}
	// a new type in the first element is seen
	a.Observe(mkEvent(t0.Add(4*time.Minute), "/l", items("078-05-1123")))
	if !hasType(a, "/l", "$.items[*].e", TypeSSN) {
		t.Error("the first value of a field in a fully walked body was not classified")
	}
}

// resultsFor returns the results of the endpoint whose key is key.
func resultsFor(a *Analyzer, key string) []model.SensitiveData {
	for _, r := range a.Results() {
		if r.Ref.Key() == key {
			return r.Data
		}
	}
	return nil
}

// TestBinaryContent: a body of binary bytes under a type that is not
// binary (none, a form: curl --data-binary) is classified by its runs of
// text only — random bytes no longer make IP addresses and keyword
// secrets — while the strings a container holds are still found.
func TestBinaryContent(t *testing.T) {
	c, _ := New(DefaultConfig())
	a := NewAnalyzer(c)
	r := rand.New(rand.NewPCG(9, 9))
	t0 := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	for i := range 400 {
		b := make([]byte, 20000)
		for j := range b {
			b[j] = byte(r.Uint32())
		}
		// what random bytes tripped: an address and a keyword secret
		copy(b[100:], "\x00 10.1.2.3 \x00 key=")
		ev := mkEvent(t0.Add(time.Duration(i)*time.Second), "/upload", string(b))
		ev.Rec.Response.Headers = map[string]string{"content-type": "application/x-www-form-urlencoded"}
		a.Observe(ev)
	}
	for _, ep := range a.Results() {
		if len(ep.Data) != 0 {
			t.Errorf("random bodies classified: %+v", ep.Data)
		}
	}
	// a tar-like container: NUL-padded headers, then a text file
	tar := strings.Repeat("\x00", 300) + "customers.csv\x00\x00\x000000644\x00" + strings.Repeat("\x00", 200) +
		"id,email\n1,ana.silva@example.org\n2,bob.jones@example.com\n" + strings.Repeat("\x00", 400)
	a.Observe(mkEvent(t0, "/tar", tar))
	found := false
	for _, ep := range a.Results() {
		for _, d := range ep.Data {
			found = found || ep.Ref.Path == "/tar" && d.Type == "email"
		}
	}
	if !found || a.Stats().Skipped["binary_content"] == 0 {
		t.Errorf("container's emails not found (results %+v, stats %+v)", a.Results(), a.Stats())
	}
}
