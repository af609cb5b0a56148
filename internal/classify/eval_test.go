package classify

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"testing"

	"github.com/palisade-sec/palisade/internal/testutil"
)

// prf accumulates precision/recall counts per type.
type prf struct{ tp, fp, fn int }

func (p prf) precision() float64 {
	if p.tp+p.fp == 0 {
		return 1
	}
	return float64(p.tp) / float64(p.tp+p.fp)
}
func (p prf) recall() float64 {
	if p.tp+p.fn == 0 {
		return 1
	}
	return float64(p.tp) / float64(p.tp+p.fn)
}

func report(t *testing.T, name string, m map[string]*prf) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		p := m[k]
		t.Logf("%s %-14s precision %.3f recall %.3f (tp %d fp %d fn %d)", name, k, p.precision(), p.recall(), p.tp, p.fp, p.fn)
	}
}

// noteBody wraps text as a JSON response body {"note": "<text>"}.
func noteBody(t testing.TB, text string) []byte {
	b, err := json.Marshal(map[string]string{"note": text})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type span struct {
	typ        string
	start, end int
}

// classifyNote classifies a note body and returns the spans found in $.note.
func classifyNote(t testing.TB, c *Classifier, text string) []span {
	var out []span
	_, err := c.ClassifyJSON(noteBody(t, text), func(field string, m Match, _ string) {
		if field != "$.note" {
			t.Fatalf("field = %q, want $.note", field)
		}
		if !m.Masked {
			out = append(out, span{m.Type, m.Start, m.End})
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var presidioTypes = map[string]string{
	"CREDIT_CARD": TypeCard, "IBAN_CODE": TypeIBAN, "IP_ADDRESS": TypeIP, "PHONE_NUMBER": TypePhone,
	"US_SSN": TypeSSN, "EMAIL_ADDRESS": TypeEmail, "STREET_ADDRESS": TypeAddress, "PERSON": TypePersonName,
}

func newDefault(t testing.TB) *Classifier {
	c, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestPresidioVectors measures the checksum-validated detectors on the
// presidio test vectors, look-alike negatives included.
func TestPresidioVectors(t *testing.T) {
	dir := testutil.EvalDir(t, "pii", "presidio-test-vectors")
	f, err := os.Open(filepath.Join(dir, "presidio_test_vectors.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rows, err := csv.NewReader(f).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	c := newDefault(t)
	m := map[string]*prf{}
	for i, r := range rows[1:] {
		typ, ok := presidioTypes[r[0]]
		if !ok {
			continue
		}
		want, err := strconv.Atoi(r[2])
		if err != nil {
			t.Fatalf("row %d: expected_count %q", i+2, r[2])
		}
		var spans [][2]int
		if err := json.Unmarshal([]byte(r[3]), &spans); err != nil {
			t.Fatalf("row %d: expected_spans: %v", i+2, err)
		}
		var got []span
		for _, s := range classifyNote(t, c, r[1]) {
			if s.typ == typ {
				got = append(got, s)
			}
		}
		p := m[typ]
		if p == nil {
			p = &prf{}
			m[typ] = p
		}
		if len(spans) == 0 {
			tp := min(len(got), want)
			p.tp += tp
			p.fp += len(got) - tp
			p.fn += want - tp
			if testing.Verbose() && len(got) != want {
				t.Logf("count mismatch %s %q: got %d want %d", typ, r[1], len(got), want)
			}
			continue
		}
		hit := make([]bool, len(spans))
		for _, g := range got {
			ok := false
			for k, s := range spans {
				if g.start < s[1] && s[0] < g.end {
					hit[k] = true
					ok = true
				}
			}
			if !ok {
				p.fp++
				if testing.Verbose() {
					t.Logf("FP %s %q: %q", typ, r[1], r[1][g.start:g.end])
				}
			}
		}
		for k, h := range hit {
			if h {
				p.tp++
			} else {
				p.fn++
				if testing.Verbose() {
					t.Logf("FN %s %q: %v", typ, r[1], spans[k])
				}
			}
		}
	}
	report(t, "presidio-vectors", m)
	floors := map[string][2]float64{ // precision, recall
		TypeCard: {0.95, 0.9}, TypeIBAN: {0.98, 0.95}, TypeIP: {0.9, 0.85}, TypePhone: {0.9, 0.9}, TypeSSN: {0.95, 0.55}, TypeEmail: {0.95, 0.95},
	}
	checkFloors(t, m, floors)
}

func checkFloors(t *testing.T, m map[string]*prf, floors map[string][2]float64) {
	t.Helper()
	for typ, fl := range floors {
		p := m[typ]
		if p == nil {
			t.Errorf("%s: no data", typ)
			continue
		}
		if p.precision() < fl[0] {
			t.Errorf("%s precision %.3f below floor %.2f", typ, p.precision(), fl[0])
		}
		if p.recall() < fl[1] {
			t.Errorf("%s recall %.3f below floor %.2f", typ, p.recall(), fl[1])
		}
	}
}

type synthSample struct {
	FullText string `json:"full_text"`
	Spans    []struct {
		Type  string `json:"entity_type"`
		Start int    `json:"start_position"`
		End   int    `json:"end_position"`
	} `json:"spans"`
}

// TestPresidioSynth measures span detection on presidio-research's
// synthetic sentences, each put in a JSON response body.
func TestPresidioSynth(t *testing.T) {
	dir := testutil.EvalDir(t, "pii", "presidio-research")
	raw, err := os.ReadFile(filepath.Join(dir, "synth_dataset_v2.json"))
	if err != nil {
		t.Fatal(err)
	}
	var samples []synthSample
	if err := json.Unmarshal(raw, &samples); err != nil {
		t.Fatal(err)
	}
	c := newDefault(t)
	m := map[string]*prf{}
	for _, typ := range presidioTypes {
		m[typ] = &prf{}
	}
	for _, s := range samples {
		// offsets in the dataset count code points; classify byte offsets
		// are converted back below.
		got := classifyNote(t, c, s.FullText)
		gold := map[string][][2]int{}
		for _, sp := range s.Spans {
			if typ, ok := presidioTypes[sp.Type]; ok {
				gold[typ] = append(gold[typ], [2]int{sp.Start, sp.End})
			}
		}
		r2b := runeToByte(s.FullText)
		for typ, spans := range gold {
			for _, sp := range spans {
				a, b := r2b[sp[0]], r2b[sp[1]]
				found := false
				for _, g := range got {
					if g.typ == typ && g.start < b && a < g.end {
						found = true
					}
				}
				if found {
					m[typ].tp++
				} else {
					m[typ].fn++
				}
			}
		}
		for _, g := range got {
			p, ok := m[g.typ]
			if !ok {
				continue
			}
			hit := false
			for _, sp := range gold[g.typ] {
				if g.start < r2b[sp[1]] && r2b[sp[0]] < g.end {
					hit = true
				}
			}
			if !hit {
				p.fp++
				if testing.Verbose() {
					t.Logf("FP %s %q in %q", g.typ, s.FullText[g.start:g.end], s.FullText)
				}
			}
		}
	}
	report(t, "presidio-synth", m)
	checkFloors(t, m, map[string][2]float64{
		TypeEmail: {0.95, 0.95}, TypeCard: {0.95, 0.95}, TypeSSN: {0.95, 0.95}, TypeIBAN: {0.95, 0.9},
		TypeIP: {0.9, 0.9}, TypePhone: {0.9, 0.9}, TypeAddress: {0.9, 0.4}, TypePersonName: {0.9, 0.1},
	})
}

func runeToByte(s string) []int {
	var idx []int
	for i := range s {
		idx = append(idx, i)
	}
	idx = append(idx, len(s))
	return idx
}

type credFinding struct {
	Rule  string `json:"rule"`
	Lines []struct {
		Path string `json:"path"`
		Line int    `json:"line_num"`
	} `json:"line_data_list"`
}

// TestCredSweeper measures secret detection on CredSweeper's development
// samples, one line per JSON body. Recall counts expected findings with at
// least one flagged line; precision counts flagged lines that belong to an
// expected finding.
func TestCredSweeper(t *testing.T) {
	dir := testutil.EvalDir(t, "secrets", "credsweeper-dev")
	raw, err := os.ReadFile(filepath.Join(dir, "expected_output_dev.json"))
	if err != nil {
		t.Fatal(err)
	}
	var exp []credFinding
	if err := json.Unmarshal(raw, &exp); err != nil {
		t.Fatal(err)
	}
	notSecret := map[string]bool{"UUID": true, "Firebase Domain": true}
	posLine := map[string]bool{}
	for _, f := range exp {
		for _, l := range f.Lines {
			posLine[fmt.Sprintf("%s:%d", filepath.Base(l.Path), l.Line)] = true
		}
	}
	c := newDefault(t)
	flagged := map[string]bool{}
	var tpLines, fpLines int
	files, err := os.ReadDir(filepath.Join(dir, "samples"))
	if err != nil {
		t.Fatal(err)
	}
	for _, fe := range files {
		data, err := os.ReadFile(filepath.Join(dir, "samples", fe.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for i, line := range bytes.Split(data, []byte("\n")) {
			key := fmt.Sprintf("%s:%d", fe.Name(), i+1)
			hit := false
			for _, s := range classifyNote(t, c, string(line)) {
				if s.typ == TypeSecret || s.typ == TypeJWT {
					hit = true
				}
			}
			if !hit {
				continue
			}
			flagged[key] = true
			if posLine[key] {
				tpLines++
			} else {
				fpLines++
				if testing.Verbose() {
					t.Logf("FP line %s: %.100q", key, line)
				}
			}
		}
	}
	var found, missed int
	byRule := map[string]*prf{}
	for _, f := range exp {
		if notSecret[f.Rule] {
			continue
		}
		ok := false
		for _, l := range f.Lines {
			if flagged[fmt.Sprintf("%s:%d", filepath.Base(l.Path), l.Line)] {
				ok = true
			}
		}
		r := byRule[f.Rule]
		if r == nil {
			r = &prf{}
			byRule[f.Rule] = r
		}
		if ok {
			found++
			r.tp++
		} else {
			missed++
			r.fn++
			if testing.Verbose() && len(f.Lines) > 0 {
				t.Logf("FN %s at %s:%d", f.Rule, filepath.Base(f.Lines[0].Path), f.Lines[0].Line)
			}
		}
	}
	rec := float64(found) / float64(found+missed)
	prec := float64(tpLines) / float64(tpLines+fpLines)
	t.Logf("credsweeper secret: finding recall %.3f (%d/%d), line precision %.3f (%d tp, %d fp)", rec, found, found+missed, prec, tpLines, fpLines)
	if testing.Verbose() {
		report(t, "credsweeper-rule", byRule)
	}
	if rec < 0.8 {
		t.Errorf("secret recall %.3f below floor 0.8", rec)
	}
	if prec < 0.9 {
		t.Errorf("secret precision %.3f below floor 0.9", prec)
	}
}
