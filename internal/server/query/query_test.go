package query

import (
	"net/url"
	"strings"
	"testing"
)

// FuzzCheck: any query string is either refused with a message or
// within every bound the handlers and the store rely on.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{"type=a,b&q=x", "q=%zz", "limit=1&cursor=abc", "x=" + strings.Repeat("a,", 150), "%ff=1", "a=1&a=2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if err := Check(raw); err != nil {
			if !strings.HasPrefix(err.Error(), "query ") {
				t.Fatalf("message does not name the query: %v", err)
			}
			return
		}
		vals, _ := url.ParseQuery(raw)
		if len(raw) > MaxQueryBytes || len(vals) > MaxQueryKeys {
			t.Fatalf("accepted %d bytes, %d keys", len(raw), len(vals))
		}
		for k, vs := range vals {
			n := 0
			for _, v := range vs {
				n += strings.Count(v, ",") + 1
				if len(v) > MaxParamBytes || k == "q" && len(v) > MaxSearchBytes {
					t.Fatalf("accepted %s of %d bytes", k, len(v))
				}
			}
			if n > MaxListValues {
				t.Fatalf("accepted %d values of %s", n, k)
			}
		}
	})
}
