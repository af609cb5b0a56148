package inventory

import (
	"io"
	"testing"
)

// TestNoAllocPromises checks the comments that promise no allocation: the
// sketch hashes (stats.go) and reading JSON tokens of a text without
// escapes (jsontok.go), once the tokenizer's stacks have grown.
func TestNoAllocPromises(t *testing.T) {
	b := []byte("customer-42@example.test")
	var sum uint64
	if n := testing.AllocsPerRun(100, func() { sum += hash64(b) ^ hash64s("customer-42") }); n != 0 {
		t.Errorf("hash64: %v allocations", n)
	}
	if sum == 0 {
		t.Error("hash64: no hash computed")
	}
	body := `{"id": 42, "items": [{"sku": "A-1", "qty": 2, "price": 9.5}, {"sku": "B-2", "qty": 1, "price": null}], "paid": true}`
	var tok jsonTok
	read := func() {
		tok.reset(body)
		for {
			if _, _, err := tok.ReadToken(); err == io.EOF {
				return
			} else if err != nil {
				t.Fatal(err)
			}
		}
	}
	read()
	if n := testing.AllocsPerRun(100, read); n != 0 {
		t.Errorf("reading tokens: %v allocations", n)
	}
}
