package specaudit

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/testutil"
)

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, data string
		line       int
		want       string
	}{
		{"empty", "  \n", 0, "empty document"},
		{"bad yaml", "openapi: 3.0.0\ninfo: {title: x\npaths: {}\n", 3, "syntax error: ',' or '}' must be specified"},
		{"not an object", "- a\n- b\n", 1, "top level is not an object"},
		{"not openapi", "title: hello\n", 1, `neither an "openapi" nor a "swagger" field`},
		{"unsupported openapi", "openapi: 4.0.0\npaths: {}\n", 1, `field openapi: unsupported version "4.0.0"`},
		{"unsupported swagger", "swagger: '1.2'\n", 1, `field swagger: unsupported version "1.2"`},
		{"paths not object", "openapi: 3.0.0\npaths: [1]\n", 2, "field paths: not an object"},
		{"bad json", "{\"openapi\": \"3.0.0\",\n \"paths\": {,}}", 2, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("spec.yaml", []byte(tc.data))
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("err = %v, want *LoadError", err)
			}
			if le.File != "spec.yaml" || le.Line != tc.line || !strings.Contains(le.Msg, tc.want) {
				t.Fatalf("got %q (line %d), want line %d containing %q", err, le.Line, tc.line, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "spec.yaml") {
				t.Fatalf("error %q does not start with the file name", err)
			}
		})
	}
}

func TestParseVersionsAndJSONTabs(t *testing.T) {
	tests := []struct{ name, data, version string }{
		{"3.0 yaml", "openapi: 3.0.3\ninfo: {title: t, version: '1'}\npaths: {}\n", "3.0"},
		{"3.1 json", `{"openapi": "3.1.0", "info": {"title": "t", "version": "1"}, "paths": {}}`, "3.1"},
		{"2.0", "swagger: '2.0'\ninfo: {title: t, version: '1'}\npaths: {/a: {get: {responses: {'200': {description: ok}}}}}\n", "2.0"},
		{"json with tabs", "{\n\t\"openapi\": \"3.0.0\",\n\t\"info\": {\"title\": \"t\", \"version\": \"1\"},\n\t\"paths\": {}\n}", "3.0"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			d, err := Parse("x", []byte(tc.data))
			if err != nil {
				t.Fatal(err)
			}
			if d.Version != tc.version {
				t.Fatalf("version %q, want %q", d.Version, tc.version)
			}
			if d.Parser != "valid" {
				t.Fatalf("kin-openapi verdict %q, want valid", d.Parser)
			}
		})
	}
}

// A document kin-openapi rejects is still audited from the tree.
func TestKinRejectionStillAudited(t *testing.T) {
	data := "openapi: 3.0.0\ninfo: {title: t}\nservers: [{url: 'http://api.shop.io'}]\npaths:\n  /a:\n    get:\n      responses: {'200': {description: ok}}\n"
	d, err := Parse("x.yaml", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(d.Parser, "rejected: ") {
		t.Fatalf("verdict %q, want a rejection (info.version missing)", d.Parser)
	}
	fs, err := Audit(d, Options{Only: []string{"PAL-S020"}})
	if err != nil || len(fs) != 1 || fs[0].Location.Line != 3 {
		t.Fatalf("findings %+v err %v, want one PAL-S020 on line 3", fs, err)
	}
}

// References: cycles, external and dangling refs must not loop or crash;
// unresolved ones are counted.
func TestRefResolution(t *testing.T) {
	data := `openapi: 3.0.0
info: {title: t, version: '1'}
components:
  schemas:
    A: {$ref: '#/components/schemas/B'}
    B: {$ref: '#/components/schemas/A'}
    Node:
      type: object
      properties:
        next: {$ref: '#/components/schemas/Node'}
        name: {type: string}
paths:
  /a:
    post:
      requestBody:
        content:
          application/json: {schema: {$ref: '#/components/schemas/A'}}
          application/xml: {schema: {$ref: 'other.yaml#/X'}}
          text/plain: {schema: {$ref: '#/components/schemas/Missing'}}
          application/x-node: {schema: {$ref: '#/components/schemas/Node'}}
      responses: {'200': {description: ok}}
`
	d, err := Parse("refs.yaml", []byte(data))
	if err != nil {
		t.Fatal(err)
	}
	fs, err := Audit(d, Options{Only: []string{"PAL-S030"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(fs) != 1 || fs[0].Location.Pointer != "/components/schemas/Node/properties/name" {
		t.Fatalf("findings %+v, want PAL-S030 once on Node.name", fs)
	}
	if d.Unresolved != 3 { // the A<->B cycle, other.yaml, Missing
		t.Fatalf("unresolved = %d, want 3", d.Unresolved)
	}
}

// The rules give the same findings with and without kin-openapi.
func TestNoValidateSameFindings(t *testing.T) {
	files := []string{"testdata/golden/shop.yaml", "testdata/golden/petstore-v2.json"}
	a, err := AuditFiles(files, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := AuditFiles(files, Options{NoValidate: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Findings) == 0 || len(a.Findings) != len(b.Findings) {
		t.Fatalf("%d findings with validation, %d without", len(a.Findings), len(b.Findings))
	}
	for i := range a.Findings {
		if a.Findings[i].ID != b.Findings[i].ID {
			t.Fatalf("finding %d differs: %s vs %s", i, a.Findings[i].ID, b.Findings[i].ID)
		}
	}
	if b.Specs[0].Parser != "not run" || a.Specs[0].Parser != "valid" {
		t.Fatalf("verdicts %q / %q", a.Specs[0].Parser, b.Specs[0].Parser)
	}
}

func TestAuditFilesKeepsGoingAfterBadFile(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("openapi: 3.0.0\npaths:\n  /a: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := AuditFiles([]string{bad, "testdata/rules/PAL-S020/pos.yaml", filepath.Join(dir, "missing.yaml")}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Errors) != 2 || len(res.Specs) != 1 || CountAtOrAbove(res.Findings, "high") == 0 {
		t.Fatalf("errors %v specs %d findings %d", res.Errors, len(res.Specs), len(res.Findings))
	}
	var le *LoadError
	if !errors.As(res.Errors[0], &le) || le.File != bad || le.Line == 0 {
		t.Fatalf("first error %v: want file and line", res.Errors[0])
	}
}

func evalSpecs(tb testing.TB) []string {
	dir := testutil.EvalDir(tb, "openapi")
	files, _ := filepath.Glob(filepath.Join(dir, "apis-guru-dev", "specs", "*"))
	files = append(files, filepath.Join(dir, "crapi", "crapi-openapi-spec.json"), filepath.Join(dir, "vampi", "openapi3.yml"))
	return files
}

// TestEvalSpecsRobust audits the 142 real-world specs plus crAPI and
// VAmPI: none may fail to load or crash a rule, and the known
// vulnerabilities of the two vulnerable apps that a static audit can see
// must be reported.
func TestEvalSpecsRobust(t *testing.T) {
	files := evalSpecs(t)
	if len(files) != 144 {
		t.Fatalf("expected 142 apis-guru specs + crAPI + VAmPI, found %d files", len(files))
	}
	res, err := AuditFiles(files, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range res.Errors {
		t.Errorf("could not audit: %v", e)
	}
	if len(res.Specs) != len(files) {
		t.Fatalf("audited %d of %d specs", len(res.Specs), len(files))
	}
	byFile := map[string]map[string]int{}
	for _, f := range res.Findings {
		b := filepath.Base(f.Location.File)
		if byFile[b] == nil {
			byFile[b] = map[string]int{}
		}
		byFile[b][f.Rule]++
		if f.Location.Line <= 0 {
			t.Errorf("%s %s: no line", f.Location.File, f.Rule)
		}
	}
	// VAmPI: unauthenticated debug endpoint dumping users with their
	// passwords, bearer auth without a global requirement. (Its
	// mass-assignable "admin" flag is not in the document: invisible to a
	// static audit.) crAPI: integer object ids (BOLA), open request
	// bodies, an admin operation open to any user's token (BFLA).
	for _, want := range []struct{ file, rule string }{
		{"openapi3.yml", "PAL-S040"}, {"openapi3.yml", "PAL-S005"}, {"openapi3.yml", "PAL-S002"},
		{"crapi-openapi-spec.json", "PAL-S050"}, {"crapi-openapi-spec.json", "PAL-S034"},
		{"crapi-openapi-spec.json", "PAL-S007"}, // BFLA: DELETE /identity/api/v2/admin/videos/{video_id}
	} {
		if byFile[want.file][want.rule] == 0 {
			t.Errorf("%s: expected %s", want.file, want.rule)
		}
	}
}

func BenchmarkAuditEvalSpecs(b *testing.B) {
	files := evalSpecs(b)
	var bytes int64
	for _, f := range files {
		if st, err := os.Stat(f); err == nil {
			bytes += st.Size()
		}
	}
	for _, bc := range []struct {
		name string
		opts Options
	}{{"with-kin-openapi", Options{}}, {"tree-only", Options{NoValidate: true}}} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(bytes)
			for i := 0; i < b.N; i++ {
				if _, err := AuditFiles(files, bc.opts); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(len(files)*b.N)/b.Elapsed().Seconds(), "specs/s")
		})
	}
}

// BenchmarkAuditLargestSpec bounds the per-spec cost on the largest
// real-world document of the set.
func BenchmarkAuditLargestSpec(b *testing.B) {
	dir := testutil.EvalDir(b, "openapi", "apis-guru-dev", "specs")
	path := filepath.Join(dir, "amazonaws.com__opensearch.json")
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for i := 0; i < b.N; i++ {
		d, err := Parse(path, data)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Audit(d, Options{}); err != nil {
			b.Fatal(err)
		}
	}
}

func FuzzParseAndAudit(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/rules/*/*.yaml")
	seeds = append(seeds, "testdata/golden/shop.yaml", "testdata/golden/petstore-v2.json")
	for _, s := range seeds {
		if data, err := os.ReadFile(s); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("openapi: 3.0.0\npaths: {/a: {get: {parameters: [*x]}}}\n"))
	f.Add([]byte("a: &a [*a]\nopenapi: 3.1.0\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := Parse("fuzz.yaml", data)
		if err != nil {
			var le *LoadError
			if !errors.As(err, &le) {
				t.Fatalf("error is not a *LoadError: %v", err)
			}
			return
		}
		fs, err := Audit(d, Options{})
		if err != nil {
			t.Fatalf("rule failure: %v", err)
		}
		for _, f := range fs {
			if f.Location == nil || f.Rule == "" {
				t.Fatalf("finding without location or rule: %+v", f)
			}
		}
	})
}
