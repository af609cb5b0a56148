package injeval

import (
	"fmt"
	"io/fs"
	"net/url"
	"path"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/palisade-sec/palisade/internal/detect/crs"
)

// The OWASP CRS regression suite (go-ftw test files) ships in the
// coraza-coreruleset module (package tests, an embedded FS). It is an
// extra, held-out source: Palisade is never tuned on it, the evaluation
// prints only its rates, never its items.
//
// A test stage is an attack of a class when its expected rule ids
// (output.log.expect_ids) include a rule of one of the class files below;
// stages that only list rules that must not fire (no_expect_ids) are per-rule
// negative tests, not benign requests, and are skipped (counted), as are
// raw encoded requests and the tests CRS documents as its rule's known
// false positives (knownFalsePositive: the rule is expected to fire on a
// benign input, "Known false positive with `Wall` at start of string").
var crsClassFiles = map[string]string{
	"930": "path_traversal", // REQUEST-930-APPLICATION-ATTACK-LFI
	"932": "cmd",            // REQUEST-932-APPLICATION-ATTACK-RCE
	"941": "xss",            // REQUEST-941-APPLICATION-ATTACK-XSS
	"942": "sqli",           // REQUEST-942-APPLICATION-ATTACK-SQLI
}

// CRSRegressionSource is the source name of the CRS regression cases.
const CRSRegressionSource = "crs-regression"

type ftwFile struct {
	RuleID int       `yaml:"rule_id"`
	Tests  []ftwTest `yaml:"tests"`
}

type ftwTest struct {
	TestID int        `yaml:"test_id"`
	Desc   string     `yaml:"desc"`
	Stages []ftwStage `yaml:"stages"`
}

type ftwStage struct {
	Input struct {
		Method         string            `yaml:"method"`
		URI            string            `yaml:"uri"`
		Headers        map[string]string `yaml:"headers"`
		Data           string            `yaml:"data"`
		EncodedRequest string            `yaml:"encoded_request"`
	} `yaml:"input"`
	Output struct {
		Log struct {
			ExpectIDs   []int `yaml:"expect_ids"`
			NoExpectIDs []int `yaml:"no_expect_ids"`
		} `yaml:"log"`
	} `yaml:"output"`
}

// LoadCRSRegression reads the go-ftw test files of fsys (the module's
// tests.FS) for the rule files of crsClassFiles and returns one case per
// attack stage, split "held-out".
func LoadCRSRegression(fsys fs.FS, st *LoadStats) ([]Case, error) {
	rules, err := crs.Default()
	if err != nil {
		return nil, fmt.Errorf("crs regression: %w", err)
	}
	var files []string
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".yaml") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("crs regression: %w", err)
	}
	sort.Strings(files)
	var out []Case
	for _, f := range files {
		dir := path.Dir(f)
		if !strings.HasPrefix(dir, "REQUEST-") || len(dir) < 11 {
			continue
		}
		class, ok := crsClassFiles[dir[8:11]]
		if !ok {
			continue
		}
		raw, err := fs.ReadFile(fsys, f)
		if err != nil {
			return nil, fmt.Errorf("crs regression: %w", err)
		}
		var ff ftwFile
		if err := yaml.Unmarshal(raw, &ff); err != nil {
			return nil, fmt.Errorf("crs regression: %s: %w", f, err)
		}
		st.Files++
		for _, t := range ff.Tests {
			for si, s := range t.Stages {
				if !expects(s.Output.Log.ExpectIDs, dir[8:11]) {
					st.skip(CRSRegressionSource+": per-rule negative test (no expected rule of the class)", 1)
					continue
				}
				if knownFalsePositive.MatchString(t.Desc) {
					st.skip(CRSRegressionSource+": documented false positive of the rule (benign input it is known to match)", 1)
					continue
				}
				if s.Input.EncodedRequest != "" {
					st.skip(CRSRegressionSource+": raw encoded request", 1)
					continue
				}
				c, err := crsCase(s, class, fmt.Sprintf("%s#%d.%d", path.Base(f), t.TestID, si+1))
				if err != nil {
					st.skip(CRSRegressionSource+": "+err.Error(), 1)
					continue
				}
				c.Payload.Stratum = stratum(rules, s.Output.Log.ExpectIDs, dir[8:11])
				st.Payloads++
				out = append(out, c)
			}
		}
	}
	return out, nil
}

// knownFalsePositive matches a test description that calls the test a
// false positive ("Known false positive …", "Expected (rare) false
// positive: …", "False-positive: …", "… (expected failure)").
var knownFalsePositive = regexp.MustCompile(`(?i)false[- ]positive|\bFP\b|expected failure`)

func expects(ids []int, prefix string) bool {
	for _, id := range ids {
		if ofFile(id, prefix) {
			return true
		}
	}
	return false
}

// ofFile: rule id belongs to the CRS rule file whose number is prefix
// ("942": REQUEST-942-APPLICATION-ATTACK-SQLI).
func ofFile(id int, prefix string) bool { return strings.HasPrefix(fmt.Sprint(id), prefix) }

// stratum names the lowest paranoia level among the expected rules of the
// class: a test of a PL3 rule is one CRS itself blocks only from paranoia
// level 3 on, and the per-source table shows such tests on rows of their own.
func stratum(rules *crs.Set, ids []int, prefix string) string {
	low := 0
	for _, id := range ids {
		if pl := rules.Level(id); pl > 0 && ofFile(id, prefix) && (low == 0 || pl < low) {
			low = pl
		}
	}
	if low == 0 {
		return "PL?"
	}
	return fmt.Sprintf("PL%d", low)
}

func crsCase(s ftwStage, class, name string) (Case, error) {
	in := s.Input
	m := in.Method
	if m == "" {
		m = "GET"
	}
	uri := in.URI
	if uri == "" {
		uri = "/"
	}
	if !strings.HasPrefix(uri, "/") {
		return Case{}, fmt.Errorf("request target not a path")
	}
	h := map[string]string{}
	host := "localhost"
	for k, v := range in.Headers {
		if strings.EqualFold(k, "host") {
			if v != "" {
				host = v
			}
			continue
		}
		h[k] = v
	}
	raw := "http://" + host + uri
	if _, err := url.Parse(raw); err != nil {
		return Case{}, fmt.Errorf("request URL does not parse")
	}
	rec := newRecord(m, raw, nil, in.Data)
	// the test's own headers, exactly (no default user agent or accept)
	rec.Request.Headers = map[string]string{}
	for k, v := range h {
		rec.Request.Headers[strings.ToLower(k)] = v
	}
	if err := rec.Validate(); err != nil {
		return Case{}, fmt.Errorf("invalid request")
	}
	v := uri + "\n" + in.Data
	p := &Payload{Source: CRSRegressionSource, Set: name, Class: class, Value: v, Split: SplitOf(v)}
	return Case{Payload: p, Placement: "crs-test", Rec: rec}, nil
}
