package jsonscan

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math/bits"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// checkWord compares Special and SpecialOrHigh with a byte-by-byte reading
// of the word: the lowest flag must be the first special byte, and a word
// is flagged exactly when it holds one.
func checkWord(t *testing.T, b [8]byte) {
	t.Helper()
	x := binary.LittleEndian.Uint64(b[:])
	for _, c := range []struct {
		name string
		m    uint64
		is   func(byte) bool
	}{
		{"Special", Special(x), func(c byte) bool { return c == '"' || c == '\\' || c < 0x20 }},
		{"SpecialOrHigh", SpecialOrHigh(x), func(c byte) bool { return !Plain[c] }},
	} {
		first := -1
		for i, v := range b {
			if c.is(v) {
				first = i
				break
			}
		}
		got := -1
		if c.m != 0 {
			got = bits.TrailingZeros64(c.m) >> 3
		}
		if got != first || c.m&^hi != 0 {
			t.Fatalf("%s(%q): first flagged byte %d, want %d (mask %#x)", c.name, b[:], got, first, c.m)
		}
	}
}

func TestSpecial(t *testing.T) {
	interesting := []byte{0, 1, 0x1f, ' ', '!', '"', '#', '[', '\\', ']', 'a', 0x7f, 0x80, 0x9c, 0xa2, 0xdc, 0xff}
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 200000; n++ {
		var b [8]byte
		for i := range b {
			if r.IntN(2) == 0 {
				b[i] = interesting[r.IntN(len(interesting))]
			} else {
				b[i] = byte(r.IntN(256))
			}
		}
		checkWord(t, b)
	}
	// Every byte value at every position in a word of plain bytes, and
	// pairs of neighbouring bytes (borrows run from one to the next).
	for pos := 0; pos < 8; pos++ {
		for v := 0; v < 256; v++ {
			b := [8]byte{'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'}
			b[pos] = byte(v)
			checkWord(t, b)
			b = [8]byte{0x20, 0x21, 0x7f, 0x5d, 0x23, 0x5b, 0x7e, 0x30}
			b[pos] = byte(v)
			checkWord(t, b)
		}
	}
	for c1 := 0; c1 < 256; c1++ {
		for c2 := 0; c2 < 256; c2 += 3 {
			for pos := 0; pos < 7; pos++ {
				b := [8]byte{'a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'}
				b[pos], b[pos+1] = byte(c1), byte(c2)
				checkWord(t, b)
			}
		}
	}
}

func FuzzSpecial(f *testing.F) {
	f.Add(uint64(0x2222222222222222))
	f.Fuzz(func(t *testing.T, x uint64) {
		var b [8]byte
		binary.LittleEndian.PutUint64(b[:], x)
		checkWord(t, b)
	})
}

func TestPlain(t *testing.T) {
	for c := 0; c < 256; c++ {
		want := c >= 0x20 && c < 0x80 && c != '"' && c != '\\'
		if Plain[c] != want {
			t.Fatalf("Plain[%#x] = %v", c, Plain[c])
		}
	}
}

func TestHex4(t *testing.T) {
	for v := 0; v < 0x10000; v += 7 {
		for _, h := range []string{strconv.FormatInt(int64(v)|0x10000, 16)[1:]} {
			got, ok := Hex4(h)
			gotb, okb := Hex4([]byte(h + "zz"))
			if !ok || !okb || got != rune(v) || gotb != rune(v) {
				t.Fatalf("Hex4(%q) = %x %v / %x %v", h, got, ok, gotb, okb)
			}
		}
	}
	if r, ok := Hex4("00aF"); !ok || r != 0xaf {
		t.Fatalf("upper case: %x %v", r, ok)
	}
	for _, bad := range []string{"", "123", "12g4", "-123", " 123", "12 3"} {
		if _, ok := Hex4(bad); ok {
			t.Fatalf("Hex4(%q) accepted", bad)
		}
	}
}

func TestIsSpace(t *testing.T) {
	for c := 0; c < 256; c++ {
		want := c == ' ' || c == '\t' || c == '\n' || c == '\r'
		if IsSpace(byte(c)) != want {
			t.Fatalf("IsSpace(%#x)", c)
		}
	}
}

// TestAppendEscape: the value and length of each escape, as encoding/json
// reads it, and refusal of what is not an escape (also for []byte input).
func TestAppendEscape(t *testing.T) {
	check := func(esc string) {
		t.Helper()
		var want string
		werr := json.Unmarshal([]byte(`"`+esc+`"`), &want)
		got, n, ok := AppendEscape([]byte("p"), esc+"#", 0)
		gotb, nb, okb := AppendEscape([]byte("p"), []byte(esc+"#"), 0)
		if ok != okb || n != nb || string(got) != string(gotb) {
			t.Fatalf("%q: string and []byte input disagree", esc)
		}
		// encoding/json turns unpaired surrogates into U+FFFD; AppendEscape
		// refuses them.
		strict := werr == nil && (!strings.ContainsRune(want, utf8.RuneError) || strings.EqualFold(esc, `\ufffd`))
		if !strict {
			if ok {
				t.Fatalf("%q accepted as %q", esc, got)
			}
			return
		}
		if !ok || n != len(esc) || string(got) != "p"+want {
			t.Fatalf("%q: %q %d %v, want %q %d", esc, got, n, ok, "p"+want, len(esc))
		}
	}
	for _, e := range []string{`\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`, `\t`, `\u0041`, `\u00e9`, `\u20AC`,
		`\ud83d\ude00`, `\uD83D\uDE00`, `\x`, `\`, `\u12`, `\u12g4`, `\ud83d`, `\ud83dx`, `\ud83d\u0041`, `\ude00`, `\ude00\ud83d`, `\U0041`, `\'`} {
		check(e)
	}
	for v := 0; v < 0x10000; v += 13 {
		check(fmt.Sprintf(`\u%04x`, v))
	}
}
