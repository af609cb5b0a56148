package storeopen_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/palisade-sec/palisade/internal/store/postgres/pgtest"
	"github.com/palisade-sec/palisade/internal/store/storeopen"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in, kind, path, err string
	}{
		{"sqlite:///var/lib/palisade/p.db", "sqlite", "/var/lib/palisade/p.db", ""},
		{"sqlite:///a/../b.db", "sqlite", "/b.db", ""},
		{"/abs/p.db", "sqlite", "/abs/p.db", ""},
		{"rel/p.db", "sqlite", "rel/p.db", ""},
		{"postgres://u@db:5432/p?sslmode=verify-full", "postgres", "", ""},
		{"postgresql://u:pw@db/p", "postgres", "", ""},
		{"", "", "", "empty"},
		{"  ", "", "", "empty"},
		{"sqlite://", "", "", "no database file"},
		{"sqlite:///", "", "", "no database file"},
		{"sqlite://rel/p.db", "", "", "absolute path"},
		{"sqlite:///p.db?_pragma=x", "", "", "no parameters"},
		{"mysql://u:s3cret@db/p", "", "", "unknown kind"},
		{"host=db password=s3cret dbname=p", "", "", "postgres:// URL"},
	} {
		sp, err := storeopen.Parse(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("Parse(%q) = %+v, %v; want error with %q", tc.in, sp, err, tc.err)
			}
			if err != nil && strings.Contains(err.Error(), "s3cret") {
				t.Errorf("Parse(%q): password in the error %q", tc.in, err)
			}
			continue
		}
		if err != nil || sp.Kind != tc.kind || sp.Path != tc.path {
			t.Errorf("Parse(%q) = %+v, %v", tc.in, sp, err)
		}
	}
	if s := storeopen.Redact("postgresql://u:s3cret@db/p"); strings.Contains(s, "s3cret") || !strings.Contains(s, "u:xxxxx@db") {
		t.Errorf("Redact: %s", s)
	}
	if s := storeopen.Redact("host=db password=s3cret"); strings.Contains(s, "s3cret") {
		t.Errorf("Redact of a key=value string: %s", s)
	}
}

// TestOpenExisting: without Create, a store that does not exist is an
// error (and nothing is created); with it, the store is made, and then
// opens without Create.
func TestOpenExisting(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	p := filepath.Join(dir, "sub", "p.db")
	specs := []string{"sqlite://" + p}
	if os.Getenv(pgtest.Env) != "" || os.Getenv("CI") == "true" {
		specs = append(specs, pgtest.Schema(t))
	}
	for _, spec := range specs {
		if _, err := storeopen.Open(ctx, spec, storeopen.Options{}); !errors.Is(err, storeopen.ErrNoStore) {
			t.Fatalf("%s: open of a missing store: %v", storeopen.Redact(spec), err)
		}
		st, err := storeopen.Open(ctx, spec, storeopen.Options{Create: true})
		if err != nil {
			t.Fatal(err)
		}
		st.Close()
		st, err = storeopen.Open(ctx, spec, storeopen.Options{})
		if err != nil {
			t.Fatalf("%s: reopen: %v", storeopen.Redact(spec), err)
		}
		st.Close()
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatal(err)
	}
}
