package exchange

import (
	"bufio"
	"bytes"
	"io"
	"math/rand/v2"
	"testing"
	"time"
)

const streamLine = `{"time":"2026-11-18T14:03:22Z","client":{"ip":"192.0.2.1"},"request":{"method":"GET","url":"https://api.example.test/a"},"response":{"status":200}}` + "\n"

// A stream's first record is decoded as soon as its line arrives: sniffing
// the format (HAR or NDJSON) must not wait for 4 KiB of input.
func TestDecoderDoesNotWaitOnAStream(t *testing.T) {
	for _, first := range []string{streamLine, "\n  " + streamLine} {
		pr, pw := io.Pipe()
		go pw.Write([]byte(first))
		got := make(chan error, 1)
		go func() {
			d, err := NewDecoder("stream", pr)
			if err == nil {
				_, err = d.Next()
			}
			got <- err
		}()
		select {
		case err := <-got:
			if err != nil {
				t.Fatalf("%q: %v", first, err)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("%q: the first record waited for more input", first)
		}
		pw.Close()
	}
}

// oldIsHAR is the sniffer before it stopped waiting for 4 KiB: the
// reference the incremental one must agree with on complete inputs.
func oldIsHAR(data []byte) bool {
	p := data[:min(len(data), 4096)]
	p = bytes.TrimLeft(p, " \t\r\n\ufeff")
	p = bytes.TrimPrefix(p, []byte("\xef\xbb\xbf"))
	p = bytes.TrimLeft(p, " \t\r\n")
	if len(p) == 0 || p[0] != '{' {
		return false
	}
	p = bytes.TrimLeft(p[1:], " \t\r\n")
	return bytes.HasPrefix(p, []byte(`"log"`))
}

// oneByteReader delivers its input one byte per Read, as a slow stream.
type oneByteReader struct{ b []byte }

func (r *oneByteReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	p[0] = r.b[0]
	r.b = r.b[1:]
	return 1, nil
}

func checkSniff(t *testing.T, data []byte) {
	want := oldIsHAR(data)
	if got := isHAR(bufio.NewReaderSize(bytes.NewReader(data), 256<<10)); got != want {
		t.Fatalf("%q: isHAR %v, want %v", data, got, want)
	}
	if got := isHAR(bufio.NewReaderSize(&oneByteReader{data}, 256<<10)); got != want {
		t.Fatalf("%q byte by byte: isHAR %v, want %v", data, got, want)
	}
}

func TestIsHARAgrees(t *testing.T) {
	pieces := []string{"", " ", "\n", "\t", "\r", "\xef", "\xbb", "\xbf", "\xef\xbb\xbf", "{", "}", `"`, `"log"`, `"lo`, `"l`, `"time"`, "[", "x", ":"}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		var b []byte
		for range rng.IntN(6) {
			b = append(b, pieces[rng.IntN(len(pieces))]...)
		}
		checkSniff(t, b)
	}
}

func FuzzIsHAR(f *testing.F) {
	for _, s := range []string{"", `{"log":{}}`, " {\n \"log\"", "\xef\xbb\xbf{\"log\"", `{"time":1}`, "{ \"lo"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) { checkSniff(t, data) })
}
