// Package pgtest gives tests a PostgreSQL database: the DSN of the test
// database from PALISADE_TEST_POSTGRES_DSN (.ci/run starts PostgreSQL and
// sets it), and a fresh schema per test. Without the variable the test is
// skipped with a message, except under CI=true where it fails.
package pgtest

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"sync/atomic"
	"testing"

	"github.com/palisade-sec/palisade/internal/store/postgres"
)

// Env names the environment variable holding the DSN of the test database.
const Env = "PALISADE_TEST_POSTGRES_DSN"

// DSN returns the DSN of the test database, or skips (fails under CI=true)
// when none is set.
func DSN(t testing.TB) string {
	t.Helper()
	d := os.Getenv(Env)
	if d == "" {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is not set: under CI=true the PostgreSQL tests are mandatory (.ci/run starts PostgreSQL and sets it)", Env)
		}
		t.Skipf("%s is not set: PostgreSQL tests skipped (docs/store.md; e.g. %s=postgres://palisade_test:PASSWORD@127.0.0.1:5432/palisade_test)", Env, Env)
	}
	return d
}

var schemas atomic.Int64

// Schema creates an empty schema in the test database, dropped when the
// test ends, and returns the test DSN with its search_path set to it: a
// store opened on it is new and empty.
func Schema(t testing.TB) string {
	t.Helper()
	base := DSN(t)
	admin, err := postgres.OpenDB(base)
	if err != nil {
		t.Fatal(err)
	}
	schema := fmt.Sprintf("palisade_test_%d_%d", os.Getpid(), schemas.Add(1))
	ctx := context.Background()
	if _, err := admin.ExecContext(ctx, `CREATE SCHEMA `+schema); err != nil {
		admin.Close()
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		if _, err := admin.ExecContext(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
		admin.Close()
	})
	return WithSearchPath(base, schema)
}

// WithSearchPath returns dsn with search_path set to schema.
func WithSearchPath(dsn, schema string) string {
	if postgres.IsDSN(dsn) {
		u, err := url.Parse(dsn)
		if err != nil {
			panic(err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " search_path=" + schema
}
