// Package injeval turns third-party injection corpora (GoTestWAF test
// cases, the HttpParams dataset, PayloadsAllTheThings Intruder lists) into
// exchange records, runs them through Palisade's signature detectors and,
// optionally, through Coraza with the OWASP CRS, and reports detection
// rates per class and false-positive rates on the benign sets.
package injeval

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Class names used in reports: Palisade's injection classes, plus
// "useragent" (scanner user agents) and "api" (GoTestWAF's mixed API sets).
// Negatives have the class "benign".
const Benign = "benign"

// Payload is one labelled value from a corpus, before placement.
type Payload struct {
	Source string // gotestwaf | httpparams | patt
	Set    string // file or sub-set name
	Class  string // expected class, or Benign
	Value  string
	// Split is SplitTune, SplitValid (by SplitOf) or SplitHeldOut.
	Split string
	// Stratum, when set, is a subgroup of the source with rows of its own
	// in the per-source table (crs-regression: the paranoia level of the
	// rule the test was written for, "PL2").
	Stratum string
	// Param names the value's parameter or body member where the source
	// says which it is (api-values; Set is then its position).
	Param string
	// GoTestWAF: encoders and placeholders to apply (nil = the default positions).
	Encoders     []string
	Placeholders []Placeholder
}

// Placeholder is where a payload goes (GoTestWAF vocabulary).
type Placeholder struct {
	Name    string // URLParam, URLPath, Header, UserAgent, JSONRequest, HTMLForm, HTMLMultipartForm, XMLBody, SOAPBody, GraphQL, RawRequest, gRPC
	Method  string
	Path    string
	Headers map[string]string
	Body    string
}

// LoadStats counts what the loaders read and skipped.
type LoadStats struct {
	Files        int
	Payloads     int
	EscapeFixed  []string       // YAML files that needed the \' escape fix
	Skipped      map[string]int // reason → count
	SkippedFiles []string
}

func (s *LoadStats) skip(reason string, n int) {
	if s.Skipped == nil {
		s.Skipped = map[string]int{}
	}
	s.Skipped[reason] += n
}

// gotestwafClass maps GoTestWAF's "type" (and folder) to a class.
func gotestwafClass(typ, file string) string {
	t := strings.ToLower(typ)
	switch {
	case file == "texts.yml" || strings.Contains(file, "false-pos"):
		return Benign
	case strings.Contains(t, "nosql"):
		return "nosql"
	case strings.Contains(t, "sql"):
		return "sqli"
	case strings.Contains(t, "xss"):
		return "xss"
	case strings.Contains(t, "rce") || t == "shell" || strings.Contains(t, "rawrequest"):
		return "cmd"
	case t == "ss injection": // server-side includes: command execution
		return "cmd"
	case strings.Contains(t, "sst"):
		return "ssti"
	case strings.Contains(t, "path traversal") || strings.Contains(t, "lfi"):
		return "path_traversal"
	case strings.Contains(t, "ldap"):
		return "ldap"
	case strings.Contains(t, "nosql"):
		return "nosql"
	case strings.Contains(t, "xxe"):
		return "xxe"
	case strings.Contains(t, "crlf") || strings.Contains(t, "mail"):
		return "crlf"
	case strings.Contains(t, "useragent"):
		return "useragent"
	}
	return "api" // REST, SOAP, GraphQL, gRPC, non-CRUD: mixed payloads
}

type gtwFile struct {
	Payload     []string    `yaml:"payload"`
	Encoder     []string    `yaml:"encoder"`
	Placeholder []yaml.Node `yaml:"placeholder"`
	Type        string      `yaml:"type"`
}

// ParseGoTestWAF parses one GoTestWAF test case file. Strict YAML rejects
// the `\'` escape that some upstream files use inside double-quoted
// strings; the parser retries with `\'` read as `'` and reports fixed=true.
func ParseGoTestWAF(data []byte, name string) (ps []Payload, fixed bool, err error) {
	var f gtwFile
	if err := yaml.Unmarshal(data, &f); err != nil {
		fixedData := bytes.ReplaceAll(data, []byte(`\'`), []byte(`'`))
		if err2 := yaml.Unmarshal(fixedData, &f); err2 != nil {
			return nil, false, fmt.Errorf("%s: %v", name, err)
		}
		fixed = true
	}
	if len(f.Payload) == 0 {
		return nil, fixed, fmt.Errorf("%s: no payload list", name)
	}
	if len(f.Encoder) == 0 {
		return nil, fixed, fmt.Errorf("%s: no encoder list", name)
	}
	var phs []Placeholder
	for i, n := range f.Placeholder {
		switch n.Kind {
		case yaml.ScalarNode:
			phs = append(phs, Placeholder{Name: n.Value})
		case yaml.MappingNode:
			if len(n.Content) < 2 {
				return nil, fixed, fmt.Errorf("%s: placeholder %d: empty mapping", name, i+1)
			}
			p := Placeholder{Name: n.Content[0].Value}
			var spec struct {
				Method  string            `yaml:"method"`
				Path    string            `yaml:"path"`
				Headers map[string]string `yaml:"headers"`
				Body    string            `yaml:"body"`
			}
			if err := n.Content[1].Decode(&spec); err != nil {
				return nil, fixed, fmt.Errorf("%s: placeholder %s (line %d): %v", name, p.Name, n.Line, err)
			}
			p.Method, p.Path, p.Headers, p.Body = spec.Method, spec.Path, spec.Headers, spec.Body
			phs = append(phs, p)
		default:
			return nil, fixed, fmt.Errorf("%s: placeholder %d (line %d): want a name or a mapping", name, i+1, n.Line)
		}
	}
	if len(phs) == 0 {
		return nil, fixed, fmt.Errorf("%s: no placeholder list", name)
	}
	class := gotestwafClass(f.Type, filepath.Base(name))
	for _, v := range f.Payload {
		ps = append(ps, Payload{Source: "gotestwaf", Set: strings.TrimSuffix(filepath.Base(name), ".yml"), Class: class, Value: v, Split: SplitOf(v), Encoders: f.Encoder, Placeholders: phs})
	}
	return ps, fixed, nil
}

// LoadGoTestWAF reads every *.yml under dir (testcases/).
func LoadGoTestWAF(dir string, st *LoadStats) ([]Payload, error) {
	var files []string
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(p, ".yml") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var out []Payload
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		rel, _ := filepath.Rel(dir, f)
		ps, fixed, err := ParseGoTestWAF(data, rel)
		if err != nil {
			return nil, err
		}
		st.Files++
		if fixed {
			st.EscapeFixed = append(st.EscapeFixed, rel)
		}
		st.Payloads += len(ps)
		out = append(out, ps...)
	}
	return out, nil
}

// httpParamsClass maps the dataset's attack_type.
func httpParamsClass(t string) (string, bool) {
	switch t {
	case "norm":
		return Benign, true
	case "sqli":
		return "sqli", true
	case "xss":
		return "xss", true
	case "cmdi":
		return "cmd", true
	case "path-traversal":
		return "path_traversal", true
	}
	return "", false
}

// LoadHTTPParams reads payload_train.csv ("payload","length","attack_type","label").
func LoadHTTPParams(path string, st *LoadStats) ([]Payload, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	r.LazyQuotes = true
	hdr, err := r.Read()
	if err != nil {
		return nil, fmt.Errorf("%s: header: %w", path, err)
	}
	pi, ti := -1, -1
	for i, h := range hdr {
		switch strings.TrimSpace(h) {
		case "payload":
			pi = i
		case "attack_type":
			ti = i
		}
	}
	if pi < 0 || ti < 0 {
		return nil, fmt.Errorf("%s: header lacks payload/attack_type columns: %v", path, hdr)
	}
	st.Files++
	var out []Payload
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			line, _ := r.FieldPos(0)
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		if len(rec) <= pi || len(rec) <= ti {
			st.skip("httpparams: short row", 1)
			continue
		}
		c, ok := httpParamsClass(rec[ti])
		if !ok {
			st.skip("httpparams: unknown attack_type "+rec[ti], 1)
			continue
		}
		out = append(out, Payload{Source: "httpparams", Set: "payload_train", Class: c, Value: rec[pi], Split: SplitOf(rec[pi])})
	}
	st.Payloads += len(out)
	return out, nil
}

// pattClass maps a PayloadsAllTheThings folder to a class.
func pattClass(folder string) (string, bool) {
	switch folder {
	case "SQL Injection":
		return "sqli", true
	case "XSS Injection":
		return "xss", true
	case "Command Injection":
		return "cmd", true
	case "Directory Traversal", "File Inclusion":
		return "path_traversal", true
	case "NoSQL Injection":
		return "nosql", true
	case "LDAP Injection":
		return "ldap", true
	case "Server Side Template Injection":
		return "ssti", true
	case "XXE Injection":
		return "xxe", true
	}
	return "", false // Open Redirect, Web Cache Deception, Insecure Management Interface: no injection class
}

// LoadPATT reads the Intruder lists under dir. perFile caps the lines kept
// per file (evenly spaced, deterministic; 0 = all).
func LoadPATT(dir string, perFile int, st *LoadStats) ([]Payload, error) {
	tops, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []Payload
	for _, top := range tops {
		if !top.IsDir() {
			continue
		}
		class, ok := pattClass(top.Name())
		var files []string
		filepath.WalkDir(filepath.Join(dir, top.Name()), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.Contains(p, "Intruder") {
				files = append(files, p)
			}
			return nil
		})
		sort.Strings(files)
		if !ok {
			st.SkippedFiles = append(st.SkippedFiles, top.Name()+" (no injection class)")
			continue
		}
		for _, f := range files {
			lines, err := readLines(f)
			if err != nil {
				return nil, err
			}
			st.Files++
			kept := spread(lines, perFile)
			if len(kept) < len(lines) {
				st.skip("patt: sampled out (per-file cap)", len(lines)-len(kept))
			}
			for _, l := range kept {
				out = append(out, Payload{Source: "patt", Set: filepath.Base(f), Class: class, Value: l, Split: SplitOf(l)})
			}
		}
	}
	st.Payloads += len(out)
	return out, nil
}

func readLines(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	for sc.Scan() {
		l := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(l) == "" {
			continue
		}
		out = append(out, l)
	}
	return out, sc.Err()
}

// spread keeps n evenly spaced elements (all when n <= 0 or len <= n).
func spread[T any](xs []T, n int) []T {
	if n <= 0 || len(xs) <= n {
		return xs
	}
	out := make([]T, 0, n)
	for i := 0; i < n; i++ {
		out = append(out, xs[i*len(xs)/n])
	}
	return out
}

// LoadAll reads every corpus under injDir (the eval-data "injection"
// folder): gotestwaf/testcases, httpparams/payload_train.csv and
// payloadsallthethings (capped at perFile lines per list).
func LoadAll(injDir string, perFile int) ([]Payload, *LoadStats, error) {
	st := &LoadStats{}
	g, err := LoadGoTestWAF(filepath.Join(injDir, "gotestwaf", "testcases"), st)
	if err != nil {
		return nil, st, err
	}
	h, err := LoadHTTPParams(filepath.Join(injDir, "httpparams", "payload_train.csv"), st)
	if err != nil {
		return nil, st, err
	}
	p, err := LoadPATT(filepath.Join(injDir, "payloadsallthethings"), perFile, st)
	if err != nil {
		return nil, st, err
	}
	out := append(append(g, h...), p...)

	// Optional benign sources next to the injection folder, when present:
	// prose with names, addresses, e-mails and URLs (the PII corpus), and
	// the values real-world API descriptions give their requests, each
	// where its document puts it (api-values).
	for _, o := range []struct {
		path, absent string
		load         func(string, *LoadStats) ([]Payload, error)
	}{
		{filepath.Join(injDir, "..", "pii", "presidio-research", "synth_dataset_v2.json"), "no prose negatives", LoadPresidioText},
		{filepath.Join(injDir, "..", "openapi", "apis-guru-dev", "specs"), "no API value negatives", LoadAPIValues},
	} {
		if _, err := os.Stat(o.path); err != nil {
			st.SkippedFiles = append(st.SkippedFiles, o.path+" (absent: "+o.absent+")")
			continue
		}
		b, err := o.load(o.path, st)
		if err != nil {
			return nil, st, err
		}
		out = append(out, b...)
	}
	return out, st, nil
}

// LoadPresidioText reads the texts of presidio-research's synthetic PII
// dataset ("full_text", and "masked" with its {{ENTITY}} placeholders) as
// benign values.
func LoadPresidioText(path string, st *LoadStats) ([]Payload, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var rows []struct {
		FullText string `json:"full_text"`
		Masked   string `json:"masked"`
	}
	if err := json.Unmarshal(raw, &rows); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	st.Files++
	var out []Payload
	for _, r := range rows {
		if r.FullText != "" {
			out = append(out, Payload{Source: "presidio", Set: "full_text", Class: Benign, Value: r.FullText, Split: SplitOf(r.FullText)})
		}
		if r.Masked != "" && r.Masked != r.FullText {
			out = append(out, Payload{Source: "presidio", Set: "masked", Class: Benign, Value: r.Masked, Split: SplitOf(r.Masked)})
		}
	}
	st.Payloads += len(out)
	return out, nil
}
