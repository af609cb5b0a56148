package specfile

import (
	"encoding/json"
	"testing"
)

func TestJSONable(t *testing.T) {
	in := map[any]any{1: []any{map[any]any{true: "x"}}, "k": map[string]any{"n": map[any]any{2.5: nil}}}
	b, err := json.Marshal(JSONable(in))
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"1":[{"true":"x"}],"k":{"n":{"2.5":null}}}` {
		t.Errorf("got %s", b)
	}
}

func TestLineCol(t *testing.T) {
	data := []byte("ab\ncd\n\nef")
	for _, c := range []struct{ off, line, col int }{{0, 1, 1}, {1, 1, 2}, {3, 2, 1}, {4, 2, 2}, {7, 4, 1}, {100, 4, 3}, {-5, 1, 1}} {
		if l, col := LineCol(data, c.off); l != c.line || col != c.col {
			t.Errorf("LineCol(%d) = %d,%d want %d,%d", c.off, l, col, c.line, c.col)
		}
	}
}
