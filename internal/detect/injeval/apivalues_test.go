package injeval

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

func TestLoadAPIValues(t *testing.T) {
	st := &LoadStats{}
	ps, err := LoadAPIValues("testdata/apivalues", st)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range ps {
		if p.Source != APIValuesSource || p.Class != Benign || p.Split != SplitOf(p.Value) {
			t.Errorf("payload %+v", p)
		}
		got = append(got, p.Set+" "+p.Param+" = "+p.Value)
	}
	sort.Strings(got)
	want := []string{
		`body  = {"name":"desk lamp","tags":["a","b"]}`,
		`body  = {"qty":2,"sku":"SKU-1"}`,
		`cookie session = s=1; path=/`,
		`form note = ring twice`,
		`form token = abc==`,
		`header X-Request-Id = req-7f3a`,
		`json kind = furniture`,
		`json labels = tier!=frontend`,
		`json name = desk lamp`,
		`json sku = SKU-1`,
		`path itemId = projects/p-1/items/i-2`,
		`query $filter = Name eq 'lamp' and Price gt 5`,
		`query ids = 1,2`,
		`query ids = 3`,
		`query mode = exact`,
		`query mode = prefix`,
		`query mode = regexp`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("values:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Counted, not sent: the message's own header, a header value with a
	// line break, the reference to another document.
	for _, k := range []string{
		APIValuesSource + ": header describing the message (content-length)",
		APIValuesSource + ": header value with a line break or NUL",
		APIValuesSource + ": reference outside the document",
	} {
		if st.Skipped[k] != 1 {
			t.Errorf("skipped %q: %d (all: %v)", k, st.Skipped[k], st.Skipped)
		}
	}
	if st.Files != 2 || st.Payloads != len(ps) {
		t.Errorf("files %d payloads %d (%d)", st.Files, st.Payloads, len(ps))
	}

	// Each value goes where its document puts it, under its own name.
	cases := BuildCases(ps, nil, st)
	if len(cases) != len(ps) {
		t.Fatalf("%d cases for %d payloads (skipped %v)", len(cases), len(ps), st.Skipped)
	}
	for _, c := range cases {
		r := c.Rec.Request
		var ok bool
		switch c.Payload.Set {
		case "query":
			ok = r.Method == "GET" && strings.Contains(r.URL, "?") && strings.Contains(r.URL, "=")
		case "path":
			ok = r.Method == "GET" && strings.HasPrefix(r.URL, baseURL+"/api/v1/items/projects/p-1/")
		case "header":
			ok = r.Headers[strings.ToLower(c.Payload.Param)] == c.Payload.Value
		case "cookie":
			ok = r.Headers["cookie"] == "session=s=1%3B%20path=/"
		case "form":
			ok = r.Method == "POST" && r.Headers["content-type"] == "application/x-www-form-urlencoded" && strings.HasPrefix(r.Body, c.Payload.Param+"=")
		case "json":
			ok = r.Method == "POST" && strings.HasPrefix(r.Body, fmt.Sprintf("{%q:", c.Payload.Param))
		case "body":
			ok = r.Method == "POST" && r.Body == c.Payload.Value
		}
		if !ok || c.Placement == "" {
			t.Errorf("%s %s: placed as %s %s %v %q", c.Payload.Set, c.Payload.Param, c.Placement, r.URL, r.Headers, r.Body)
		}
	}
}

// A document that does not parse is an error naming the file; one
// without paths is listed as skipped.
func TestLoadAPIValuesErrors(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "broken.json"), []byte(`{"paths": `), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadAPIValues(dir, &LoadStats{}); err == nil || !strings.Contains(err.Error(), "broken.json") {
		t.Errorf("err %v", err)
	}
	dir = t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "nopaths.yaml"), []byte("openapi: 3.0.0\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	st := &LoadStats{}
	if ps, err := LoadAPIValues(dir, st); err != nil || len(ps) != 0 || len(st.SkippedFiles) != 1 {
		t.Errorf("ps %v err %v skipped %v", ps, err, st.SkippedFiles)
	}
	if err := os.WriteFile(filepath.Join(dir, "list.yaml"), []byte("- a\n- b\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadAPIValues(dir, &LoadStats{}); err == nil || !strings.Contains(err.Error(), "list.yaml") {
		t.Errorf("err %v", err)
	}
}
