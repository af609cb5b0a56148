// Package specfile has the small helpers shared by the code that reads
// OpenAPI documents (the inventory's spec loader and the static audit):
// YAML-to-JSON value conversion and byte-offset positions.
package specfile

import (
	"bytes"
	"fmt"
)

// JSONable converts YAML-decoded values (maps with non-string keys) into
// map[string]any trees that encoding/json accepts. Maps and slices are
// converted in place where possible.
func JSONable(v any) any {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			t[k] = JSONable(x)
		}
		return t
	case map[any]any:
		m := make(map[string]any, len(t))
		for k, x := range t {
			m[fmt.Sprint(k)] = JSONable(x)
		}
		return m
	case []any:
		for i, x := range t {
			t[i] = JSONable(x)
		}
		return t
	}
	return v
}

// LineCol converts a byte offset into a 1-based line and column (offsets
// out of range are clamped).
func LineCol(data []byte, off int) (line, col int) {
	if off > len(data) {
		off = len(data)
	}
	if off < 0 {
		off = 0
	}
	line = 1 + bytes.Count(data[:off], []byte{'\n'})
	col = off - bytes.LastIndexByte(data[:off], '\n')
	return line, col
}
