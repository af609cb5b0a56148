package sqlstore

import (
	"io/fs"
	"strings"
	"testing"
)

// TestMigrationLists: both dialects have the same migration history (same
// versions, same names), each file with its Up and Down sections; the
// PostgreSQL file says which SQLite file it mirrors. TestSchemaParity (in
// store/postgres) compares the schemas they build.
func TestMigrationLists(t *testing.T) {
	list := func(d *Dialect) []string {
		es, err := fs.ReadDir(migrations, d.dir)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, e := range es {
			out = append(out, e.Name())
			b, _ := fs.ReadFile(migrations, d.dir+"/"+e.Name())
			if !strings.Contains(string(b), "-- +goose Up") || !strings.Contains(string(b), "-- +goose Down") {
				t.Errorf("%s/%s: no Up or Down section", d.dir, e.Name())
			}
			if d == Postgres && !strings.Contains(string(b), "../sqlite/"+e.Name()) {
				t.Errorf("%s/%s does not name its SQLite twin", d.dir, e.Name())
			}
		}
		return out
	}
	lite, pg := list(SQLite), list(Postgres)
	if len(lite) == 0 || strings.Join(lite, " ") != strings.Join(pg, " ") {
		t.Fatalf("migration histories differ:\nsqlite:   %v\npostgres: %v", lite, pg)
	}
}

func TestReplaceWhole(t *testing.T) {
	for _, tc := range []struct{ s, v, want string }{
		{"from 203.0.113.9", "203.0.113.9", "from X"},
		{"from 203.0.113.9.", "203.0.113.9", "from X."},
		{"203.0.113.9, 203.0.113.90 and 1203.0.113.9", "203.0.113.9", "X, 203.0.113.90 and 1203.0.113.9"},
		{"203.0.113.9.1", "203.0.113.9", "203.0.113.9.1"},
		{`{"reason":"203.0.113.9"}`, "203.0.113.9", `{"reason":"X"}`},
		{"2001:db8::9 2001:db8::99 ::ffff:2001:db8::9", "2001:db8::9", "X 2001:db8::99 ::ffff:2001:db8::9"},
		{"id_abc id_abcd xid_abc id_abc_", "id_abc", "X id_abcd xid_abc id_abc_"},
		{"", "a", ""},
		{"aaa", "a", "aaa"},
		{"a a", "a", "X X"},
	} {
		if got := replaceWhole(tc.s, tc.v, "X"); got != tc.want {
			t.Errorf("replaceWhole(%q, %q) = %q, want %q", tc.s, tc.v, got, tc.want)
		}
	}
}

func TestPostgresText(t *testing.T) {
	for in, want := range map[string]string{
		"plain": "plain", "é": "é", "a\x00b": "a\uFFFDb", "\xff\xfe": "\uFFFD", "x\xffy\x00": "x\uFFFDy\uFFFD", "": "",
	} {
		if got := Postgres.Text(in); got != want {
			t.Errorf("Postgres.Text(%q) = %q, want %q", in, got, want)
		}
		if got := SQLite.Text(in); got != in {
			t.Errorf("SQLite.Text changed %q", in)
		}
	}
	args := []any{"a\x00", 3, []byte("\x00"), "ok"}
	got := Postgres.args(args)
	if got[0] != "a\uFFFD" || string(got[2].([]byte)) != "\x00" || got[3] != "ok" || args[0] != "a\x00" {
		t.Fatalf("args %q (input %q)", got, args)
	}
}
