package classify

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"

	ahocorasick "github.com/petar-dambovaliev/aho-corasick"

	"github.com/palisade-sec/palisade/internal/classify/ac"
)

// The keyword automaton must report exactly what the Aho–Corasick library
// it replaced reports (standard, overlapping, ASCII case-insensitive), in
// the same order: the scanners run in that order.
func acTrace(t string, lib *ahocorasick.AhoCorasick, m *ac.Matcher) (got, want string) {
	var g, w strings.Builder
	m.Each(t, func(id, a, e int) { fmt.Fprintf(&g, "%d:%d-%d ", id, a, e) })
	it := lib.IterOverlapping(t)
	for x := it.Next(); x != nil; x = it.Next() {
		fmt.Fprintf(&w, "%d:%d-%d ", x.Pattern(), x.Start(), x.End())
	}
	return g.String(), w.String()
}

func libAC(lits []string) *ahocorasick.AhoCorasick {
	b := ahocorasick.NewAhoCorasickBuilder(ahocorasick.Opts{AsciiCaseInsensitive: true, MatchKind: ahocorasick.StandardMatch, DFA: true})
	ac := b.Build(lits)
	return &ac
}

func TestACMatcherMatchesLibrary(t *testing.T) {
	pats := acPatterns()
	lits := make([]string, len(pats))
	for i, p := range pats {
		lits[i] = p.lit
	}
	lib, m := libAC(lits), ac.New(lits, true)
	texts := []string{"", "password=hunter2 PASSWORD: x pass pw pwd", "Mr. John Smith, 12 Main Street, Apt. 5", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.x",
		"AKIAIOSFODNN7EXAMPLE sk_live_abc ghp_xxx", "https://user:pass@host/ -----BEGIN RSA PRIVATE KEY-----", "Bearer abc Basic xyz born 1/2/1990 DOB",
		"Storgatan 5, Musterstraße 12, Via delle Coste 41", "secret_key=1 api-key: 2 apikey=3 access_key accesskey private_key credential auth token key"}
	// every literal alone, glued to its neighbours and in other cases
	texts = append(texts, strings.Join(lits, ""), strings.Join(lits, " "), strings.ToUpper(strings.Join(lits, "")), strings.ToLower(strings.Join(lits, "|")))
	for _, f := range []string{"order.json", "products.json"} {
		texts = append(texts, string(fixture(t, f)))
	}
	rng := rand.New(rand.NewSource(1))
	alpha := "abcdeiknoprstwyASKPEJ~Q-_:/ .=0123456789\xc3\xa4"
	for i := 0; i < 3000; i++ {
		var b strings.Builder
		for n := rng.Intn(40); n > 0; n-- {
			if rng.Intn(4) == 0 {
				b.WriteString(lits[rng.Intn(len(lits))])
			} else {
				b.WriteByte(alpha[rng.Intn(len(alpha))])
			}
		}
		texts = append(texts, b.String())
	}
	for _, s := range texts {
		if got, want := acTrace(s, lib, m); got != want {
			t.Fatalf("%q:\n got %s\nwant %s", s, got, want)
		}
	}
}

func FuzzACMatcher(f *testing.F) {
	pats := acPatterns()
	lits := make([]string, len(pats))
	for i, p := range pats {
		lits[i] = p.lit
	}
	lib, m := libAC(lits), ac.New(lits, true)
	f.Add("password=x Mr. Smith 12 Main St")
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := acTrace(s, lib, m); got != want {
			t.Fatalf("%q:\n got %s\nwant %s", s, got, want)
		}
	})
}
