package classify

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

// TestGapCutoff checks the comparison sampled uses against the
// subtraction it replaces, on times around the gap, far apart (where Sub
// saturates), the zero time and times carrying monotonic clock readings.
func TestGapCutoff(t *testing.T) {
	base := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	now := time.Now() // with a monotonic reading
	times := []time.Time{{}, base, now, time.Unix(0, 0), time.Date(1, 1, 1, 0, 0, 30, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), time.Date(1700, 1, 1, 0, 0, 0, 0, time.UTC)}
	for _, d := range []time.Duration{0, 1, time.Second, fieldSampleMaxGap - 1, fieldSampleMaxGap, fieldSampleMaxGap + 1, time.Hour, time.Duration(1<<63 - 1)} {
		times = append(times, base.Add(d), base.Add(-d), now.Add(d), now.Add(-d))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 2000; i++ {
		times = append(times, base.Add(time.Duration(rng.Int64N(int64(4*fieldSampleMaxGap)))-2*fieldSampleMaxGap))
	}
	n := 0
	for _, ev := range times {
		cut := gapCutoff(ev)
		for _, last := range times {
			old := ev.Sub(last) >= fieldSampleMaxGap
			if got := !last.After(cut); got != old {
				t.Fatalf("event %v, last %v: cutoff test %v, Sub test %v", ev, last, got, old)
			}
			if old {
				n++
			}
		}
	}
	if n == 0 || n == len(times)*len(times) {
		t.Fatalf("degenerate test: %d of %d pairs past the gap", n, len(times)*len(times))
	}
}

// TestBinaryType checks binaryType against the plain prefix loop.
func TestBinaryType(t *testing.T) {
	ref := func(ct string) bool {
		for _, b := range binaryTypes {
			if strings.HasPrefix(ct, b) {
				return true
			}
		}
		return false
	}
	cts := []string{"", "a", "application/", "application/json", "application/json; charset=utf-8", "application/problem+json", "application/xml",
		"application/x-www-form-urlencoded", "application/x-protobuf", "application/x-protobu", "application/grpc", "application/grpc+proto", "application/gzip",
		"application/octet-stream", "application/pdf", "application/zip", "application/zipx", "application/vnd.api+json", "text/plain", "text/html",
		"image/png", "image", "audio/ogg", "video/mp4", "font/woff2", "multipart/form-data", "multipart", "imagex/", "fonts/", "m", "v"}
	for _, b := range binaryTypes {
		for i := 0; i <= len(b); i++ {
			cts = append(cts, b[:i], b[:i]+"x", b+"q")
		}
	}
	rng := rand.New(rand.NewPCG(4, 4))
	alpha := "aimvfptx/-+;=ocnlgzrsdue"
	for i := 0; i < 100000; i++ {
		b := []byte(binaryTypes[rng.IntN(len(binaryTypes))])
		b = b[:rng.IntN(len(b)+1)]
		for k := rng.IntN(4); k > 0; k-- {
			if len(b) > 0 && rng.IntN(2) == 0 {
				b[rng.IntN(len(b))] = alpha[rng.IntN(len(alpha))]
			} else {
				b = append(b, alpha[rng.IntN(len(alpha))])
			}
		}
		cts = append(cts, string(b))
	}
	yes := 0
	for _, ct := range cts {
		if got, want := binaryType(ct), ref(ct); got != want {
			t.Fatalf("%q: %v, want %v", ct, got, want)
		}
		if ref(ct) {
			yes++
		}
	}
	if yes < 100 || yes > len(cts)-100 {
		t.Fatalf("degenerate: %d of %d binary", yes, len(cts))
	}
}

// TestToLower checks toLower against strings.ToLower, on every byte at
// every position of a word and on random text.
func TestToLower(t *testing.T) {
	check := func(s string) {
		if got, want := toLower(s), strings.ToLower(s); got != want {
			t.Fatalf("toLower(%q) = %q, want %q", s, got, want)
		}
	}
	for c := 0; c < 256; c++ {
		for n := 1; n <= 17; n++ {
			for pos := 0; pos < n; pos++ {
				b := []byte(strings.Repeat("content-type;=x ", 2)[:n])
				b[pos] = byte(c)
				check(string(b))
			}
		}
	}
	rng := rand.New(rand.NewPCG(6, 7))
	alpha := "abcxyzABCXYZ@[`{-_/;= 0189\x7f\x80\xc3\xa9\xe2\x84\xaa"
	lower := 0
	for i := 0; i < 200000; i++ {
		b := make([]byte, rng.IntN(40))
		for k := range b {
			b[k] = alpha[rng.IntN(len(alpha))]
			if rng.IntN(3) > 0 {
				b[k] = "abcdefghij-xyz"[rng.IntN(14)]
			}
		}
		s := string(b)
		check(s)
		if strings.ToLower(s) == s {
			lower++
		}
	}
	if lower < 1000 || lower > 199000 {
		t.Fatalf("degenerate: %d of 200000 already lower-case", lower)
	}
}
