package testutil

import "unsafe"

// Within reports whether s is a view of the bytes of text (shares its
// memory), as the strings the exchange decoder makes share their line's.
// Tests use it to check that analyzers copy the strings they keep.
func Within(s, text string) bool {
	if s == "" || text == "" {
		return false
	}
	p, b := uintptr(unsafe.Pointer(unsafe.StringData(s))), uintptr(unsafe.Pointer(unsafe.StringData(text)))
	return p >= b && p < b+uintptr(len(text))
}
