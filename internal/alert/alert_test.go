package alert

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/testutil"
)

// initialisms written in capitals in the constants' names.
var initialisms = map[string]string{"bola": "BOLA", "bfla": "BFLA", "ip": "IP", "sqli": "SQLi", "xss": "XSS", "nosql": "NoSQL",
	"ssti": "SSTI", "xxe": "XXE", "ldap": "LDAP", "crlf": "CRLF", "ssrf": "SSRF"}

// constName is the Go name of the constant of a catalogue name:
// "bola.param_enumeration" → BOLAParamEnumeration.
func constName(name string) string {
	var b strings.Builder
	for _, w := range strings.FieldsFunc(name, func(r rune) bool { return r == '.' || r == '_' }) {
		if s, ok := initialisms[w]; ok {
			b.WriteString(s)
		} else {
			b.WriteString(strings.ToUpper(w[:1]) + w[1:])
		}
	}
	return b.String()
}

// TestCatalogue: every exported Type constant has a catalogue entry named
// after it, and every entry a constant (read from this package's source,
// so that a constant without an entry or an entry without a constant
// fails); entries are complete and names unique.
func TestCatalogue(t *testing.T) {
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "alert.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	consts := map[string]bool{}
	for _, d := range f.Decls {
		g, ok := d.(*ast.GenDecl)
		if !ok || g.Tok != token.CONST {
			continue
		}
		for _, s := range g.Specs {
			for _, n := range s.(*ast.ValueSpec).Names {
				if n.IsExported() {
					consts[n.Name] = true
				}
			}
		}
	}
	seen := map[string]bool{}
	for i, s := range Catalog() {
		if s.Type != Type(i+1) {
			t.Errorf("entry %d (%s): Type %d, want %d (entries follow the constants' order)", i, s.Name, s.Type, i+1)
		}
		if seen[s.Name] {
			t.Errorf("%s listed twice", s.Name)
		}
		seen[s.Name] = true
		if !consts[constName(s.Name)] {
			t.Errorf("%s: no constant %s", s.Name, constName(s.Name))
		}
		delete(consts, constName(s.Name))
		if s.Type.String() != s.Name {
			t.Errorf("%s: String() = %q", s.Name, s.Type.String())
		}
		if p, ok := Parse(s.Name); !ok || p != s.Type {
			t.Errorf("Parse(%q) = %v, %v", s.Name, p, ok)
		}
		if s.Subject != "client" && s.Subject != "identity" && s.Subject != "endpoint" {
			t.Errorf("%s: subject %q", s.Name, s.Subject)
		}
		if s.Title == "" || s.Remediation == "" || len(s.OWASP) == 0 || len(s.MITRE) == 0 || model.SeverityRank(s.Severity) == 0 {
			t.Errorf("%s: incomplete entry %+v", s.Name, s)
		}
	}
	if len(seen) != int(numTypes)-1 {
		t.Errorf("catalogue has %d entries, %d constants", len(seen), int(numTypes)-1)
	}
	for c := range consts {
		t.Errorf("constant %s has no catalogue entry", c)
	}
	if invalid.Valid() || numTypes.Valid() || invalid.String() != "" {
		t.Error("the zero Type must not be a catalogued type")
	}
	if _, ok := Lookup(invalid); ok {
		t.Error("Lookup(0) succeeded")
	}
}

var rowRe = regexp.MustCompile("^\\| (`[a-z_.]+`(?:, `[a-z_.]+`)*) \\| ([a-z]+) \\| .* \\| ([A-Z0-9, ]+) \\|$")

// tableTypes reads the alert-type tables of a markdown document: name →
// "subject owasp".
func tableTypes(t *testing.T, path string) map[string]string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, line := range strings.Split(string(b), "\n") {
		m := rowRe.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		for _, n := range strings.Split(m[1], ", ") {
			out[strings.Trim(n, "`")] = m[2] + " " + m[3]
		}
	}
	return out
}

func wantRows() map[string]string {
	want := map[string]string{}
	for _, s := range Catalog() {
		var ow []string
		for _, o := range s.OWASP {
			ow = append(ow, strings.TrimSuffix(o, ":2023"))
		}
		want[s.Name] = s.Subject + " " + strings.Join(ow, ", ")
	}
	return want
}

func compareRows(t *testing.T, doc string, got, want map[string]string) {
	t.Helper()
	for n, w := range want {
		if g, ok := got[n]; !ok {
			t.Errorf("%s: %s is not listed", doc, n)
		} else if g != w {
			t.Errorf("%s: %s is %q there, %q in the catalogue (subject, OWASP)", doc, n, g, w)
		}
	}
	for n := range got {
		if _, ok := want[n]; !ok {
			t.Errorf("%s lists %s, which is not in the catalogue", doc, n)
		}
	}
}

// TestContract: the catalogue is the contract's list (names, subjects,
// OWASP categories: docs/contracts/alert-types.md, kept equal to
// ../shared/contracts by testutil), and docs/report.md repeats it.
func TestContract(t *testing.T) {
	want := wantRows()
	root := testutil.RepoRoot()
	compareRows(t, "docs/report.md", tableTypes(t, filepath.Join(root, "docs", "report.md")), want)
	compareRows(t, "docs/contracts/alert-types.md", tableTypes(t, filepath.Join(root, "docs", "contracts", "alert-types.md")), want)
}

// TestFoldKey pins the key format: alert ids in stores and reports derive
// from it.
func TestFoldKey(t *testing.T) {
	ep := &model.EndpointRef{Host: "api.test", Method: "GET", Path: "/v1/items/{id}"}
	for _, c := range []struct {
		typ, subject, client, id string
		ep                       *model.EndpointRef
		want                     string
	}{
		{"injection.sqli", "client", "192.0.2.1", "u1", ep, "injection.sqli|c:192.0.2.1|GET api.test/v1/items/{id}"},
		{"auth.token_reuse", "identity", "192.0.2.1", "u1", ep, "auth.token_reuse|i:u1"}, // subject-wide
		{"traffic.endpoint_spike", "endpoint", "", "", ep, "traffic.endpoint_spike||GET api.test/v1/items/{id}"},
		{"traffic.endpoint_spike", "endpoint", "", "", nil, "traffic.endpoint_spike|"},
	} {
		if got := FoldKey(c.typ, c.subject, c.client, c.id, c.ep); got != c.want {
			t.Errorf("FoldKey(%s) = %q, want %q", c.typ, got, c.want)
		}
	}
	a := &model.Alert{Type: "injection.sqli", Subject: "client", Client: &model.ClientRef{IP: "192.0.2.1"}, Endpoint: ep}
	if Key(a) != "injection.sqli|c:192.0.2.1|GET api.test/v1/items/{id}" {
		t.Errorf("Key = %q", Key(a))
	}
	if id := ID(Key(a)); !strings.HasPrefix(id, "al_") || len(id) != 19 {
		t.Errorf("ID = %q", id)
	}
}
