package store

import "testing"

// FuzzDecodeCursor: an API cursor (client bytes) decodes only for its own
// sort, and what decodes encodes again.
func FuzzDecodeCursor(f *testing.F) {
	f.Add(EncodeCursor(Cursor{Sort: "risk", Num: 5, ID: "ep_1"}), "risk")
	f.Add("!!", "risk")
	f.Fuzz(func(t *testing.T, s, sort string) {
		c, err := DecodeCursor(s, sort)
		if err == nil && c != nil && c.Sort != sort {
			t.Fatal("cursor of another sort accepted")
		}
		if err == nil && c != nil && EncodeCursor(*c) == "" {
			t.Fatal("no round trip")
		}
	})
}
