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
