package inventory

import (
	"io"
	"testing"

	"github.com/palisade-sec/palisade/internal/jsonscan"
)

// TestNoAllocPromises checks the comments that promise no allocation: the
// sketch hashes (stats.go) and reading JSON tokens of a text without
// escapes (jsontok.go), once the tokenizer's stacks have grown.
func TestNoAllocPromises(t *testing.T) {
	body := `{"id": 42, "items": [{"sku": "A-1", "qty": 2, "price": 9.5}, {"sku": "B-2", "qty": 1, "price": null}], "paid": true}`
	var tok jsonscan.Tokenizer
	read := func() {
		tok.Reset(body, jsonscan.Options{})
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
