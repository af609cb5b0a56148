package specaudit

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/palisade-sec/palisade/internal/testutil"
)

func goldenResult(t *testing.T) *Result {
	t.Helper()
	files := []string{"testdata/golden/shop.yaml", "testdata/golden/petstore-v2.json"}
	res, err := AuditFiles(files, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Errors) > 0 {
		t.Fatalf("errors: %v", res.Errors)
	}
	return res
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	testutil.Golden(t, filepath.Join("testdata", "golden", name), got)
}

func TestGoldenOutputs(t *testing.T) {
	res := goldenResult(t)
	for _, tc := range []struct {
		name  string
		write func(*bytes.Buffer, *Result) error
	}{
		{"audit.json", func(b *bytes.Buffer, r *Result) error { return WriteJSON(b, r) }},
		{"audit.txt", func(b *bytes.Buffer, r *Result) error { return WriteText(b, r) }},
		{"audit.sarif", func(b *bytes.Buffer, r *Result) error { return WriteSARIF(b, r) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := tc.write(&b, res); err != nil {
				t.Fatal(err)
			}
			checkGolden(t, tc.name, b.Bytes())
		})
	}
}

// TestGoldenExpectations pins, independently of the golden files, what a
// security reviewer expects from the shop fixture.
func TestGoldenExpectations(t *testing.T) {
	res := goldenResult(t)
	type key struct{ rule, file string }
	got := map[key]int{}
	for _, f := range res.Findings {
		got[key{f.Rule, filepath.Base(f.Location.File)}]++
	}
	for _, want := range []struct {
		rule, file string
		n          int
	}{
		{"PAL-S002", "shop.yaml", 1},        // no global security
		{"PAL-S003", "shop.yaml", 2},        // POST /users, DELETE /users/{userId}
		{"PAL-S005", "shop.yaml", 1},        // GET /admin/export
		{"PAL-S010", "shop.yaml", 1},        // api key in query
		{"PAL-S012", "shop.yaml", 1},        // basic
		{"PAL-S020", "shop.yaml", 1},        // http server
		{"PAL-S022", "shop.yaml", 1},        // {region} without enum
		{"PAL-S034", "shop.yaml", 1},        // User open on POST
		{"PAL-S035", "shop.yaml", 1},        // role writable
		{"PAL-S037", "shop.yaml", 1},        // (\w+\s?)*
		{"PAL-S040", "shop.yaml", 1},        // password in response (once, at the component)
		{"PAL-S041", "shop.yaml", 1},        // password not writeOnly
		{"PAL-S042", "shop.yaml", 1},        // email without format
		{"PAL-S050", "shop.yaml", 1},        // integer {userId} declared once at path level
		{"PAL-S070", "shop.yaml", 1},        // deprecated DELETE
		{"PAL-S013", "petstore-v2.json", 1}, // implicit flow
		{"PAL-S016", "petstore-v2.json", 1}, // http authorizationUrl
		{"PAL-S020", "petstore-v2.json", 1}, // schemes: http
		{"PAL-S003", "petstore-v2.json", 1}, // POST with security: []
		{"PAL-S004", "petstore-v2.json", 1},
		{"PAL-S038", "petstore-v2.json", 1}, // formData file
		{"PAL-S050", "petstore-v2.json", 2}, // two operations declare {petId}
	} {
		if g := got[key{want.rule, want.file}]; g != want.n {
			t.Errorf("%s in %s: %d findings, want %d", want.rule, want.file, g, want.n)
		}
	}
	// Locations point at the right lines.
	for _, f := range res.Findings {
		if f.Rule == "PAL-S010" && (f.Location.Line != 15 || f.Location.Pointer != "/components/securitySchemes/key/in") {
			t.Errorf("PAL-S010 location = %+v, want line 15 /components/securitySchemes/key/in", f.Location)
		}
		if f.Rule == "PAL-S040" && f.Location.Pointer != "/components/schemas/User/properties/password" {
			t.Errorf("PAL-S040 pointer = %q", f.Location.Pointer)
		}
	}
}

func compileSARIFSchema(t *testing.T) *jsonschema.Schema { return testutil.SARIFSchema(t) }

// TestSARIFValidatesAgainstSchema validates the output against the OASIS
// SARIF 2.1.0 schema, and checks that the validator does reject a broken
// log (so the test can fail).
func TestSARIFValidatesAgainstSchema(t *testing.T) {
	schema := compileSARIFSchema(t)
	res := goldenResult(t)
	var b bytes.Buffer
	if err := WriteSARIF(&b, res); err != nil {
		t.Fatal(err)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if err := schema.Validate(inst); err != nil {
		t.Fatalf("SARIF output does not validate: %v", err)
	}
	// GitHub code scanning needs these.
	var log struct {
		Runs []struct {
			Tool struct {
				Driver struct {
					Rules []struct {
						ID         string         `json:"id"`
						Help       map[string]any `json:"help"`
						Properties map[string]any `json:"properties"`
					} `json:"rules"`
				} `json:"driver"`
			} `json:"tool"`
			Results []struct {
				RuleID    string `json:"ruleId"`
				RuleIndex int    `json:"ruleIndex"`
				Locations []struct {
					PhysicalLocation struct {
						Region struct {
							StartLine int `json:"startLine"`
						} `json:"region"`
					} `json:"physicalLocation"`
				} `json:"locations"`
			} `json:"results"`
		} `json:"runs"`
	}
	if err := json.Unmarshal(b.Bytes(), &log); err != nil {
		t.Fatal(err)
	}
	if len(log.Runs) != 1 || len(log.Runs[0].Tool.Driver.Rules) != len(Rules()) || len(log.Runs[0].Results) != len(res.Findings) {
		t.Fatalf("unexpected SARIF shape: %d runs", len(log.Runs))
	}
	for _, r := range log.Runs[0].Tool.Driver.Rules {
		if r.Help["text"] == nil || r.Properties["security-severity"] == nil {
			t.Errorf("rule %s lacks help or security-severity", r.ID)
		}
	}
	for _, r := range log.Runs[0].Results {
		if log.Runs[0].Tool.Driver.Rules[r.RuleIndex].ID != r.RuleID || len(r.Locations) != 1 || r.Locations[0].PhysicalLocation.Region.StartLine < 1 {
			t.Errorf("result %s: bad rule index or location", r.RuleID)
		}
	}

	broken := strings.Replace(b.String(), `"version": "2.1.0"`, `"version": "2.0.0"`, 1)
	inst, err = jsonschema.UnmarshalJSON(strings.NewReader(broken))
	if err != nil {
		t.Fatal(err)
	}
	if schema.Validate(inst) == nil {
		t.Fatal("the schema accepted a log with version 2.0.0: the validation test would not catch errors")
	}
}

func TestRedaction(t *testing.T) {
	res, err := AuditFiles([]string{"testdata/rules/PAL-S024/pos.yaml", "testdata/rules/PAL-S045/pos.yaml"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	for _, w := range []func(*bytes.Buffer) error{
		func(b *bytes.Buffer) error { return WriteJSON(b, res) },
		func(b *bytes.Buffer) error { return WriteText(b, res) },
		func(b *bytes.Buffer) error { return WriteSARIF(b, res) },
	} {
		b.Reset()
		if err := w(&b); err != nil {
			t.Fatal(err)
		}
		for _, secret := range []string{"hunter2", "eyJzdWIiOiJhbGljZUBzaG9wLmlvIn0", "c2lnbmF0dXJl"} {
			if strings.Contains(b.String(), secret) {
				t.Errorf("output leaks %q", secret)
			}
		}
	}
	if !strings.Contains(b.String(), "****@api.shop.io") {
		t.Errorf("redacted server URL missing from output")
	}
}
