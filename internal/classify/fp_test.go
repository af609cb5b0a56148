package classify

import (
	"encoding/csv"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/palisade-sec/palisade/internal/testutil"
)

// TestBenignParameterValues classifies the benign ("norm") parameter values
// of the HttpParams set — names, towns, addresses, e-mails, numbers as typed
// into web forms — and bounds how many are reported as secrets, SSNs, IBANs
// or JWTs (false alarms). The set's 12–19 digit values are random numbers
// typed into card-number fields: without a field name, those that pass the
// Luhn check and an issuer range are reported as cards (≈3% of random
// numbers, the rate Luhn × IIN ranges allow).
func TestBenignParameterValues(t *testing.T) {
	dir := testutil.EvalDir(t, "injection", "httpparams")
	f, err := os.Open(filepath.Join(dir, "payload_train.csv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	c := newDefault(t)
	counts := map[string]int{}
	total, numbers := 0, 0
	examples := map[string][]string{}
	for _, row := range rows[1:] {
		if len(row) < 3 || row[2] != "norm" {
			continue
		}
		total++
		if v := row[0]; len(v) >= 12 && len(v) <= 19 && len(digitsOnly(v)) == len(v) {
			numbers++
		}
		for _, m := range c.ClassifyValue("q", row[0]) {
			counts[m.Type]++
			if len(examples[m.Type]) < 3 {
				examples[m.Type] = append(examples[m.Type], row[0])
			}
		}
	}
	var types []string
	for k := range counts {
		types = append(types, k)
	}
	sort.Strings(types)
	for _, k := range types {
		t.Logf("benign values classified as %s: %d of %d (e.g. %q)", k, counts[k], total, examples[k])
	}
	high := counts[TypeSecret] + counts[TypeSSN] + counts[TypeIBAN] + counts[TypeJWT]
	if rate := float64(high) / float64(total); rate > 0.001 {
		t.Errorf("secret/SSN/IBAN/JWT false classifications %d of %d (%.4f) above 0.1%%", high, total, rate)
	}
	if rate := float64(counts[TypeCard]) / float64(numbers); rate > 0.04 {
		t.Errorf("random 12–19 digit numbers classified as cards: %d of %d (%.3f) above 4%%", counts[TypeCard], numbers, rate)
	}
}
