package detect

import (
	"net/url"
	"strings"
	"testing"
)

func TestODataLiterals(t *testing.T) {
	for _, tc := range []struct {
		name, v string
		lits    string // joined by |; "NO" when not an expression
	}{
		{"$filter", "Name eq 'Milk' and Price lt 2.55", "Milk"},
		{"$filter", "startswith(displayName,'J') and accountEnabled eq true", "J"},
		{"$filter", "BlobType eq 'BlockBlob'", "BlockBlob"},
		{"$filter", "createdDateTime ge 2026-01-01T00:00:00Z and id ne 01234567-89ab-cdef-0123-456789abcdef", ""},
		{"$filter", "Orders/any(o:o/Total gt 100) and not endswith(Email,'@example.org')", "@example.org"},
		{"$filter", "Name in ('O''Neil','Smith')", "O'Neil|Smith"},
		{"$filter", "ModifiedDate gt datetime'2020-01-01T00:00:00' and Id eq guid'01234567-89ab-cdef-0123-456789abcdef'", "2020-01-01T00:00:00|01234567-89ab-cdef-0123-456789abcdef"},
		{"$filter", "Price sub 5 gt -3", ""},
		{"$orderby", "Name desc, Price asc", ""},
		{"$select", "Name,Price,Address/City", ""},
		{"$select", "*", ""},
		{"$expand", "Orders($filter=Total gt 5;$select=Id,Total;$orderby=Total desc)", ""},
		{"$apply", "groupby((Country), aggregate(Amount with sum as Total))", ""},
		{"$FILTER", "Name eq 'x'", "x"},
		{"$filter", "Name eq 'x' or 1 eq 1", "x"}, // OData's own grammar: a filter the client may write
		{"$filter", "1 eq 1 union select password from users", "NO"},
		{"$filter", "Name eq 'x';DROP TABLE users", "NO"},
		{"$filter", "Name eq 'x'--", "NO"},
		{"$filter", "Name eq 'x", "NO"},
		{"$filter", "Name eq 'x')", "NO"},
		{"$filter", "Name eq 'a' 'b'", "NO"},
		{"$orderby", "Name;WAITFOR DELAY '0:0:5'", "NO"},
		{"$filter", "Name eq \"x\"", "NO"},
		{"$top", "10", "NO"}, // no expression: the value is a value
		{"$search", "blue OR green", "NO"},
		{"filter", "Name eq 'x'", "NO"},
	} {
		lits, ok := odataLiterals(tc.name, tc.v)
		got := strings.Join(lits, "|")
		if !ok {
			got = "NO"
		}
		if got != tc.lits {
			t.Errorf("odataLiterals(%s, %q) = %q, want %q", tc.name, tc.v, got, tc.lits)
		}
	}
}

// TestODataRequests: an OData API's requests raise nothing; an injection
// in one of its expressions, or a value that is no OData expression, is
// found.
func TestODataRequests(t *testing.T) {
	d := NewInjection(Config{})
	get := func(q string) []InjFinding {
		return d.Inspect(sigEvent(t, "GET", "https://graph.example.test/v1.0/users?"+q, nil, "", 200))
	}
	for _, q := range []string{
		"$filter=" + url.QueryEscape("startswith(displayName,'Adele') or mail eq 'adele@contoso.com'") + "&$select=id,displayName,mail&$top=25&$count=true",
		"$filter=" + url.QueryEscape("BlobType eq 'BlockBlob' and Size gt 1024") + "&$orderby=" + url.QueryEscape("Name desc"),
		"$expand=" + url.QueryEscape("manager($select=id,displayName)") + "&$skiptoken=X%274453707402000100000017%27",
		"$apply=" + url.QueryEscape("filter(Amount gt 100)/groupby((Country),aggregate(Amount with sum as Total))"),
		"$search=" + url.QueryEscape(`"displayName:Adele"`) + "&$format=json&$inlinecount=allpages",
	} {
		if fs := get(q); len(fs) != 0 {
			t.Errorf("%s: %s in %s (%s)", q, fs[0].Class, fs[0].Loc, fs[0].Reason)
		}
	}
	for _, q := range []string{
		"$filter=" + url.QueryEscape("Name eq 'x'' UNION SELECT password FROM users--'"),
		"$filter=" + url.QueryEscape("1 eq 1 union select password from users--"),
		"$orderby=" + url.QueryEscape("Name;WAITFOR DELAY '0:0:5'--"),
	} {
		fs := get(q)
		if len(fs) == 0 || fs[0].Class != ClassSQLi || !strings.HasPrefix(fs[0].Loc, "query:$") {
			t.Errorf("%s: %+v, want a SQL injection in the option", q, fs)
		}
	}
}

func FuzzODataLiterals(f *testing.F) {
	f.Add("$filter", "Name eq 'O''Neil' and Price lt 2.55")
	f.Add("$expand", "Orders($filter=Total gt 5;$select=Id)")
	f.Add("$filter", "ModifiedDate gt datetime'2020-01-01T00:00:00'")
	f.Fuzz(func(t *testing.T, name, v string) {
		lits, ok := odataLiterals(name, v)
		if !ok {
			return
		}
		n := 0
		for _, l := range lits {
			n += len(l)
		}
		if n > len(v) {
			t.Fatalf("literals longer (%d) than the value (%d)", n, len(v))
		}
	})
}
