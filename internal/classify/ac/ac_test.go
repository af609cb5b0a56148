package ac

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"

	ahocorasick "github.com/petar-dambovaliev/aho-corasick"
)

// The matcher reports what the Aho–Corasick library reports in standard,
// overlapping mode (ASCII case-insensitive or not), in the same order.
func trace(t string, lib *ahocorasick.AhoCorasick, m *Matcher) (got, want string) {
	var g, w strings.Builder
	m.Each(t, func(id, a, e int) { fmt.Fprintf(&g, "%d:%d-%d ", id, a, e) })
	it := lib.IterOverlapping(t)
	for x := it.Next(); x != nil; x = it.Next() {
		fmt.Fprintf(&w, "%d:%d-%d ", x.Pattern(), x.Start(), x.End())
	}
	if (g.Len() > 0) != m.Any(t) {
		g.WriteString("(Any disagrees)")
	}
	return g.String(), w.String()
}

func lib(lits []string, fold bool) *ahocorasick.AhoCorasick {
	b := ahocorasick.NewAhoCorasickBuilder(ahocorasick.Opts{AsciiCaseInsensitive: fold, MatchKind: ahocorasick.StandardMatch, DFA: true})
	a := b.Build(lits)
	return &a
}

var testLits = []string{"he", "she", "his", "hers", "pass", "password", "PW", "Q~", "at org.", "   at System.", ".java:", "ORA-0", "x", "vägen ", "ß", "aaa", "aa"}

func TestMatchesLibrary(t *testing.T) {
	texts := append([]string{"aaaaaa"}, randomTexts(3, 5000, testLits)...)
	for _, fold := range []bool{true, false} {
		l, m := lib(testLits, fold), New(testLits, fold)
		for _, s := range texts {
			if got, want := trace(s, l, m); got != want {
				t.Fatalf("fold=%v %q:\n got %s\nwant %s", fold, s, got, want)
			}
		}
	}
}

func FuzzMatchesLibrary(f *testing.F) {
	f.Add("ushers password", true)
	libs := map[bool]*ahocorasick.AhoCorasick{true: lib(testLits, true), false: lib(testLits, false)}
	ms := map[bool]*Matcher{true: New(testLits, true), false: New(testLits, false)}
	f.Fuzz(func(t *testing.T, s string, fold bool) {
		if got, want := trace(s, libs[fold], ms[fold]); got != want {
			t.Fatalf("fold=%v %q:\n got %s\nwant %s", fold, s, got, want)
		}
	})
}

// Leftmost reports what the library reports in leftmost-longest mode.
func traceLeftmost(t string, lib *ahocorasick.AhoCorasick, m *Matcher) (got, want string) {
	var g, w strings.Builder
	for _, x := range m.Leftmost(t, nil) {
		fmt.Fprintf(&g, "%d:%d-%d ", x.ID, x.Start, x.End)
	}
	for _, x := range lib.FindAll(t) {
		fmt.Fprintf(&w, "%d:%d-%d ", x.Pattern(), x.Start(), x.End())
	}
	return g.String(), w.String()
}

func libLeftmost(lits []string, fold bool) *ahocorasick.AhoCorasick {
	b := ahocorasick.NewAhoCorasickBuilder(ahocorasick.Opts{AsciiCaseInsensitive: fold, MatchKind: ahocorasick.LeftMostLongestMatch, DFA: true})
	a := b.Build(lits)
	return &a
}

// the literals with duplicates under case folding and prefixes of each other
var leftLits = append(append([]string{}, testLits...), "HE", "hers", "ers", "ssw", "a")

func TestLeftmostMatchesLibrary(t *testing.T) {
	texts := append([]string{"aaaaaa", "shershe"}, randomTexts(5, 3000, leftLits)...)
	for _, fold := range []bool{true, false} {
		l, m := libLeftmost(leftLits, fold), New(leftLits, fold)
		for _, s := range texts {
			if got, want := traceLeftmost(s, l, m); got != want {
				t.Fatalf("fold=%v %q:\n got %s\nwant %s", fold, s, got, want)
			}
		}
	}
}

func FuzzLeftmostMatchesLibrary(f *testing.F) {
	f.Add("ushers password", true)
	libs := map[bool]*ahocorasick.AhoCorasick{true: libLeftmost(leftLits, true), false: libLeftmost(leftLits, false)}
	ms := map[bool]*Matcher{true: New(leftLits, true), false: New(leftLits, false)}
	f.Fuzz(func(t *testing.T, s string, fold bool) {
		if got, want := traceLeftmost(s, libs[fold], ms[fold]); got != want {
			t.Fatalf("fold=%v %q:\n got %s\nwant %s", fold, s, got, want)
		}
	})
}

// randomTexts: a few fixed texts, then n texts of random bytes from the
// literals' alphabet and whole literals.
func randomTexts(seed int64, n int, lits []string) []string {
	rng := rand.New(rand.NewSource(seed))
	alpha := "ahesiprwdoQ~PWSx .:-0AJ\xc3\xa4\x9f"
	texts := []string{"", "ushers", "PassWord: x", strings.Join(lits, ""), strings.ToUpper(strings.Join(lits, " "))}
	for i := 0; i < n; i++ {
		var b strings.Builder
		for k := rng.Intn(30); k > 0; k-- {
			if rng.Intn(4) == 0 {
				b.WriteString(lits[rng.Intn(len(lits))])
			} else {
				b.WriteByte(alpha[rng.Intn(len(alpha))])
			}
		}
		texts = append(texts, b.String())
	}
	return texts
}
