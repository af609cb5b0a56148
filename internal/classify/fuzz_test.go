package classify

import (
	"testing"
)

func FuzzClassifyText(f *testing.F) {
	for _, s := range []string{"", "a@b.co", "4111 1111 1111 1111", "+44 20 7123 4567", "::ffff:1.2.3.4", "password: x",
		"-----BEGIN PRIVATE KEY-----", "eyJhbGciOiJub25lIn0.e30.", "**** **** **** 1234", "born 1/2/1990", "12 Main Street", "x\u2022\u2022\u2022"} {
		f.Add("note", s)
	}
	c, err := New(DefaultConfig())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, field, s string) {
		for _, m := range c.ClassifyValue(field, s) {
			if m.Start < 0 || m.End > len(s) || m.Start >= m.End {
				t.Fatalf("span %d..%d out of %d", m.Start, m.End, len(s))
			}
			if m.Confidence <= 0 || m.Confidence > 1 {
				t.Fatalf("confidence %v", m.Confidence)
			}
			_ = Redact(m, s[m.Start:m.End])
		}
	})
}

func FuzzWalkJSON(f *testing.F) {
	for _, s := range []string{`{}`, `[]`, `{"a":[1,{"b":"c"}]}`, `{"a":`, `[[[[`, `{"a":"\u00e9"}`, `"x"`, `1 2`} {
		f.Add([]byte(s))
	}
	c, err := New(DefaultConfig())
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		_, _ = c.ClassifyJSON(b, func(field string, m Match, v string) {
			if len(field) == 0 || field[0] != '$' {
				t.Fatalf("field %q", field)
			}
			if m.End > len(v) {
				t.Fatalf("span beyond value")
			}
		})
	})
}

// redactCredentialsRef is RedactCredentials without its literal prechecks.
func redactCredentialsRef(s string) string {
	if len(s) < 8 {
		return s
	}
	s = reJWT.ReplaceAllString(s, "eyJ…[jwt]")
	s = reBearer.ReplaceAllString(s, "$1 ****")
	s = reKV.ReplaceAllString(s, "${1}****")
	s = reUserinfo.ReplaceAllString(s, "${1}****@")
	s = reLongSecret.ReplaceAllStringFunc(s, func(m string) string { return m[:4] + "****" })
	return s
}

func FuzzRedactCredentials(f *testing.F) {
	for _, s := range []string{"Authorization: Bearer abc.def.ghi", "password=hunter22&x=1", "https://u:p4ss@h/x", "key sk_live_abcdefghijklmnop",
		"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig", "API_KEY: 'abc123'", "BASIC dXNlcjpwYXNz", "AIzaSyA-1234567890abcdef"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := RedactCredentials(s), redactCredentialsRef(s); got != want {
			t.Fatalf("RedactCredentials(%q) = %q, reference %q", s, got, want)
		}
	})
}
