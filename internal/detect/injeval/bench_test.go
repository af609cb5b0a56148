package injeval

import (
	"testing"

	"github.com/palisade-sec/palisade/internal/testutil"
)

// BenchmarkPalisadeDev: Palisade's signature families on an evenly spaced
// sample of the development set's requests (all placements), per request.
func BenchmarkPalisadeDev(b *testing.B) {
	dir := testutil.EvalDir(b, "injection")
	ps, st, err := LoadAll(dir, 400)
	if err != nil {
		b.Fatal(err)
	}
	cases := spread(BuildCases(ps, nil, st), 20000)
	p := NewPalisade()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := p.Detect(&cases[i%len(cases)]); err != nil {
			b.Fatal(err)
		}
	}
}
