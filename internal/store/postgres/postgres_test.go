package postgres_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/store/postgres"
	"github.com/palisade-sec/palisade/internal/store/postgres/pgtest"
	"github.com/palisade-sec/palisade/internal/store/sqlite"
	"github.com/palisade-sec/palisade/internal/store/sqlstore"
	"github.com/palisade-sec/palisade/internal/store/storetest"
)

var ctx = context.Background()

// fresh makes a new schema in the test database: every test gets an empty
// store, dropped at its end.
func fresh(t testing.TB) (*sql.DB, func() (*sqlstore.DB, error)) {
	t.Helper()
	dsn := pgtest.Schema(t)
	raw, err := postgres.OpenDB(dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return raw, func() (*sqlstore.DB, error) { return postgres.Open(ctx, dsn, postgres.Options{}) }
}

func testDSN(t testing.TB) string { return pgtest.DSN(t) }

// TestConformance runs the store's conformance suite on PostgreSQL.
func TestConformance(t *testing.T) { storetest.Run(t, fresh) }

func TestRedact(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"postgres://u:s3cr%40t@db:5432/p?sslmode=require", "postgres://u:xxxxx@db:5432/p?sslmode=require"},
		{"postgresql://u@db/p?password=s3cret", "postgresql://u@db/p?password=xxxxx"},
		{"host=db user=u password=s3cret dbname=p", "host=db user=u password=xxxxx dbname=p"},
		{"host=db password='s3 cret' dbname=p", "host=db password=xxxxx dbname=p"},
		{"postgres://db/p", "postgres://db/p"},
	} {
		if got := postgres.Redact(tc.in); got != tc.want {
			t.Errorf("postgres.Redact(%q) = %q, want %q", tc.in, got, tc.want)
		}
		if strings.Contains(postgres.Redact(tc.in), "s3c") {
			t.Errorf("password left in %q", postgres.Redact(tc.in))
		}
	}
}

// BenchmarkStore runs the store's benchmarks on PostgreSQL.
func BenchmarkStore(b *testing.B) { storetest.Bench(b, fresh) }

// TestSchemaParity: the two migration histories build the same schema —
// tables, columns in order with corresponding types, nullability, primary
// keys, defaults and indexes with their columns.
func TestSchemaParity(t *testing.T) {
	raw, open := fresh(t)
	db, err := open()
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	pg := describePG(t, raw)
	lite := describeSQLite(t, filepath.Join(t.TempDir(), "p.db"))
	if testing.Verbose() {
		for tb, d := range pg {
			t.Logf("%s: %s", tb, d)
		}
	}
	if len(pg) == 0 || len(pg) != len(lite) {
		t.Fatalf("tables: postgres %d, sqlite %d", len(pg), len(lite))
	}
	for tb, want := range lite {
		if got := pg[tb]; got != want {
			t.Errorf("table %s differs:\nsqlite:   %s\npostgres: %s", tb, want, got)
		}
	}
}

// describeSQLite renders each table of a migrated SQLite database.
func describeSQLite(t *testing.T, path string) map[string]string {
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	db, _ := st.Pools()
	out := map[string]string{}
	for _, tb := range names(t, db, `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'goose_db_version' ORDER BY name`) {
		rows, err := db.QueryContext(ctx, `SELECT name, type, "notnull", dflt_value, pk FROM pragma_table_info($1) ORDER BY cid`, tb)
		if err != nil {
			t.Fatal(err)
		}
		var cols []string
		for rows.Next() {
			var name, typ string
			var notnull, pk int
			var dflt sql.NullString
			if err := rows.Scan(&name, &typ, &notnull, &dflt, &pk); err != nil {
				t.Fatal(err)
			}
			typ = map[string]string{"TEXT": "text", "BIGINT": "bigint", "BLOB": "bytea", "INTEGER": "bigint"}[typ]
			cols = append(cols, column(name, typ, notnull == 1 || pk > 0, pk > 0, strings.Trim(dflt.String, "'")))
		}
		rows.Close()
		idx := names(t, db, `SELECT name || ' ' || substr(sql, instr(sql, '(')) FROM sqlite_master WHERE type = 'index' AND tbl_name = $1 AND sql IS NOT NULL ORDER BY name`, tb)
		uniq := names(t, db, `SELECT 'unique ' || ii.name FROM pragma_index_list($1) il JOIN pragma_index_info(il.name) ii WHERE il.origin = 'u' ORDER BY ii.name`, tb)
		out[tb] = strings.Join(cols, ", ") + " | " + normIdx(idx) + " | " + strings.Join(uniq, ", ")
	}
	return out
}

// describePG renders each table of the test schema.
func describePG(t *testing.T, db *sql.DB) map[string]string {
	out := map[string]string{}
	for _, tb := range names(t, db, `SELECT tablename FROM pg_tables WHERE schemaname = current_schema() AND tablename <> 'goose_db_version' ORDER BY tablename`) {
		rows, err := db.QueryContext(ctx, `SELECT c.column_name, c.data_type, c.is_nullable = 'NO', COALESCE(c.column_default, ''), c.collation_name,
				EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
					WHERE i.indrelid = to_regclass($1) AND i.indisprimary AND a.attname = c.column_name)
			FROM information_schema.columns c WHERE c.table_schema = current_schema() AND c.table_name = $1 ORDER BY c.ordinal_position`, tb)
		if err != nil {
			t.Fatal(err)
		}
		var cols []string
		for rows.Next() {
			var name, typ, dflt string
			var coll sql.NullString
			var notnull, pk bool
			if err := rows.Scan(&name, &typ, &notnull, &dflt, &coll, &pk); err != nil {
				t.Fatal(err)
			}
			if typ == "text" && coll.String != "C" {
				t.Errorf("%s.%s: collation %q, want \"C\" (byte order, as SQLite)", tb, name, coll.String)
			}
			if strings.Contains(dflt, "nextval") || pk && typ == "bigint" && dflt == "" {
				dflt = ""
			}
			dflt = strings.TrimSuffix(strings.Trim(strings.TrimSuffix(strings.TrimSuffix(dflt, "::text"), `::text COLLATE "C"`), "'"), "'")
			cols = append(cols, column(name, typ, notnull, pk, dflt))
		}
		rows.Close()
		idx := names(t, db, `SELECT indexname || ' ' || substr(indexdef, strpos(indexdef, '(')) FROM pg_indexes
			WHERE schemaname = current_schema() AND tablename = $1 AND indexname NOT LIKE '%_pkey' AND indexname NOT LIKE '%_key' ORDER BY indexname`, tb)
		uniq := names(t, db, `SELECT 'unique ' || a.attname FROM pg_constraint c JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = ANY(c.conkey)
			WHERE c.conrelid = to_regclass($1) AND c.contype = 'u' ORDER BY a.attname`, tb)
		out[tb] = strings.Join(cols, ", ") + " | " + normIdx(idx) + " | " + strings.Join(uniq, ", ")
	}
	return out
}

func column(name, typ string, notnull, pk bool, dflt string) string {
	s := name + " " + typ
	if pk {
		s += " pk"
	} else if notnull {
		s += " not null"
	}
	if dflt != "" {
		s += " default " + dflt
	}
	return s
}

func normIdx(idx []string) string {
	for i, s := range idx {
		s = strings.ReplaceAll(s, " ASC", "")
		idx[i] = strings.Join(strings.Fields(strings.ReplaceAll(strings.ReplaceAll(s, "(", " ( "), ")", " ) ")), " ")
	}
	return strings.Join(idx, "; ")
}

func names(t *testing.T, db *sql.DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.QueryContext(ctx, q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// TestConcurrentOpen: processes starting at once migrate one at a time
// (advisory lock) and all open the store.
func TestConcurrentOpen(t *testing.T) {
	raw, open := fresh(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			db, err := open()
			if err == nil {
				err = db.PutSetting(ctx, "k", "v", storetest.T0)
				db.Close()
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	var n int
	if err := raw.QueryRowContext(ctx, `SELECT COUNT(*) FROM goose_db_version WHERE version_id > 0`).Scan(&n); err != nil || n != len(migrationFiles(t)) {
		t.Fatalf("versions applied: %d (%v), want %d once each", n, err, len(migrationFiles(t)))
	}
}

func migrationFiles(t *testing.T) []string {
	m, err := filepath.Glob("../sqlstore/migrations/postgres/*.sql")
	if err != nil || len(m) == 0 {
		t.Fatal("no migrations", err)
	}
	return m
}

// TestQueryPoolTimeouts: the query pool has a server-side statement
// timeout, and a caller's deadline cancels a running statement at once.
func TestQueryPoolTimeouts(t *testing.T) {
	db := storetest.Open(t, fresh)
	sys, q := db.Pools()
	var v string
	if err := q.QueryRowContext(ctx, `SHOW statement_timeout`).Scan(&v); err != nil || v != "1min" {
		t.Fatalf("query pool statement_timeout %q %v", v, err)
	}
	if err := sys.QueryRowContext(ctx, `SHOW statement_timeout`).Scan(&v); err != nil || v != "0" {
		t.Fatalf("system pool statement_timeout %q %v", v, err)
	}
	if err := sys.QueryRowContext(ctx, `SHOW idle_in_transaction_session_timeout`).Scan(&v); err != nil || v != "5min" {
		t.Fatalf("system pool idle_in_transaction_session_timeout %q %v", v, err)
	}
	if err := q.QueryRowContext(ctx, `SHOW application_name`).Scan(&v); err != nil || v != "palisade-query" {
		t.Fatalf("application_name %q %v", v, err)
	}
	dctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := q.ExecContext(dctx, `SELECT pg_sleep(30)`)
	if err == nil || time.Since(start) > 10*time.Second {
		t.Fatalf("deadline: %v after %v", err, time.Since(start))
	}
	// The connection is usable again (the server cancelled the statement).
	if err := q.QueryRowContext(ctx, `SELECT 'ok'`).Scan(&v); err != nil || v != "ok" {
		t.Fatalf("after cancel: %v", err)
	}
}

// TestSecretsNotInErrors: a connection error never shows the password.
func TestSecretsNotInErrors(t *testing.T) {
	base := testDSN(t)
	u, err := url.Parse(base)
	if err != nil || !postgres.IsDSN(base) {
		t.Skip("needs a postgres:// URL DSN")
	}
	const pw = "Wr0ng-Pa55w0rd-xyzzy"
	u.User = url.UserPassword("palisade_nobody", pw)
	dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	_, err = postgres.Open(dctx, u.String(), postgres.Options{})
	if err == nil {
		t.Fatal("wrong password accepted")
	}
	if strings.Contains(err.Error(), pw) || !strings.Contains(err.Error(), "xxxxx") {
		t.Fatalf("error %q", err)
	}
	_, err = postgres.Open(ctx, "postgres://u:"+pw+"@[bad", postgres.Options{})
	if err == nil || strings.Contains(err.Error(), pw) {
		t.Fatalf("unparsable: %v", err)
	}
	_, err = postgres.Open(ctx, "host=127.0.0.1 port=1 user=u password="+pw+" connect_timeout=2", postgres.Options{})
	if err == nil || strings.Contains(err.Error(), pw) {
		t.Fatalf("key=value: %v", err)
	}
}

// TestErasureRewritesFiles: after an erasure the tables that held the
// erased rows are rewritten (VACUUM FULL: new files), and no data file of
// the store — tables, TOAST, indexes — holds the erased address, while a
// DELETE alone leaves a deleted address in the files (the control: this is
// what PostgreSQL does without the rewrite). Reading data files needs the
// roles pg_read_server_files and pg_checkpoint and the right to execute
// pg_read_binary_file (.ci/run grants them to the test role); without them only the rewrite is checked, except under
// CI=true where the test fails.
func TestErasureRewritesFiles(t *testing.T) {
	db := storetest.Open(t, fresh)
	sys, _ := db.Pools()
	erased, deleted, kept := "203.0.113.77", "192.0.2.55", "198.51.100.66"
	var als []model.Alert
	for i := range 300 {
		ip := []string{erased, deleted, kept}[i%3]
		a := storetest.Alert(i, "injection.sqli", "high", ip, storetest.T0)
		if i%10 == 0 { // large documents live in the TOAST table
			for j := range 60 {
				a.Evidence.Samples = append(a.Evidence.Samples, model.Sample{URL: fmt.Sprintf("https://h/%d/%x", j, sha256.Sum256([]byte(fmt.Sprint(i, j)))), Client: ip})
			}
		}
		als = append(als, a)
	}
	if _, err := db.UpsertAlerts(ctx, als, storetest.T0); err != nil {
		t.Fatal(err)
	}
	storetest.StoreSubjectsNaming(t, db, erased, kept)
	filenode := func() int64 {
		var n int64
		if err := sys.QueryRowContext(ctx, `SELECT pg_relation_filenode('alerts')`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := filenode()
	var canRead bool
	if err := sys.QueryRowContext(ctx, `SELECT pg_has_role(current_user, 'pg_read_server_files', 'MEMBER') AND pg_has_role(current_user, 'pg_checkpoint', 'MEMBER')
		AND has_function_privilege('pg_read_binary_file(text)', 'EXECUTE')`).Scan(&canRead); err != nil {
		t.Fatal(err)
	}
	files := func() []byte {
		if _, err := sys.ExecContext(ctx, `CHECKPOINT`); err != nil {
			t.Fatal(err)
		}
		paths := names(t, sys, `SELECT pg_relation_filepath(c.oid) FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind IN ('r', 'i', 't')
			UNION SELECT pg_relation_filepath(c.reltoastrelid) FROM pg_class c WHERE c.relnamespace = current_schema()::regnamespace AND c.reltoastrelid <> 0
			UNION SELECT pg_relation_filepath(i.indexrelid) FROM pg_class c JOIN pg_index i ON i.indrelid = c.reltoastrelid WHERE c.relnamespace = current_schema()::regnamespace`)
		var all []byte
		for _, p := range paths {
			var b []byte
			if err := sys.QueryRowContext(ctx, `SELECT pg_read_binary_file($1)`, p).Scan(&b); err != nil {
				t.Fatalf("read %s: %v", p, err)
			}
			all = append(all, b...)
		}
		return all
	}
	if canRead {
		if b := files(); !bytes.Contains(b, []byte(erased)) || !bytes.Contains(b, []byte(deleted)) {
			t.Fatal("control: the addresses are not in the data files before erasure")
		}
	} else if os.Getenv("CI") == "true" {
		t.Fatal("the test role cannot read data files (grant pg_read_server_files, pg_checkpoint and EXECUTE on pg_read_binary_file(text), as .ci/run does)")
	}
	if _, err := sys.ExecContext(ctx, `DELETE FROM alerts WHERE client_ip = $1`, deleted); err != nil {
		t.Fatal(err)
	}
	if canRead {
		if b := files(); !bytes.Contains(b, []byte(deleted)) {
			t.Fatal("control: a DELETE alone removed the bytes (the rewrite would be unnecessary)")
		}
	}
	if _, err := db.EraseClientIP(ctx, erased, "ip:x", storetest.T0); err != nil {
		t.Fatal(err)
	}
	if after := filenode(); after == before {
		t.Fatal("alerts not rewritten")
	}
	if !canRead {
		t.Skip("data files not checked: the test role lacks pg_read_server_files and pg_checkpoint")
	}
	b := files()
	if i := bytes.Index(b, []byte(erased)); i >= 0 {
		t.Fatalf("erased address in the data files: %q", b[max(0, i-40):min(len(b), i+40)])
	}
	if bytes.Contains(b, []byte(deleted)) {
		t.Fatal("rows deleted earlier still in the files after the rewrite")
	}
	if !bytes.Contains(b, []byte(kept)) {
		t.Fatal("kept address gone")
	}
}

// TestErasureWaitsForOlderSnapshots: a transaction whose snapshot is older
// than the erasure can still see the erased rows, and VACUUM FULL copies
// them into the new files. The erasure waits for it to end and rewrites
// again; when it does not end within ScrubWait, the erasure reports it
// (the rows are deleted, the bytes may remain) instead of claiming a
// clean scrub.
func TestErasureWaitsForOlderSnapshots(t *testing.T) {
	db := storetest.Open(t, fresh)
	raw, err := postgres.OpenDB(pgtest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	ip := "203.0.113.78"
	var als []model.Alert
	for i := range 20 {
		als = append(als, storetest.Alert(i, "injection.sqli", "high", ip, storetest.T0))
	}
	if _, err := db.UpsertAlerts(ctx, als, storetest.T0); err != nil {
		t.Fatal(err)
	}
	old := func() *sql.Tx {
		tx, err := raw.BeginTx(ctx, &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true})
		if err != nil {
			t.Fatal(err)
		}
		// The snapshot is taken by the first statement; it reads no table
		// of the store (a reader of alerts would hold a lock that makes
		// VACUUM FULL wait for it instead).
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT 1`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return tx
	}
	// Held past the wait: an error that names the cause.
	defer func(w time.Duration) { postgres.ScrubWait = w }(postgres.ScrubWait)
	postgres.ScrubWait = time.Second
	tx := old()
	_, err = db.EraseClientIP(ctx, ip, "ip:a", storetest.T0)
	tx.Rollback()
	if err == nil || !strings.Contains(err.Error(), "older than the erasure") || !strings.Contains(err.Error(), "alerts") {
		t.Fatalf("erasure under an older snapshot: %v", err)
	}
	// Ending within the wait: the erasure finishes cleanly.
	if _, err := db.UpsertAlerts(ctx, als, storetest.T0); err != nil {
		t.Fatal(err)
	}
	postgres.ScrubWait = 30 * time.Second
	tx = old()
	go func() { time.Sleep(1500 * time.Millisecond); tx.Rollback() }()
	start := time.Now()
	if _, err := db.EraseClientIP(ctx, ip, "ip:b", storetest.T0); err != nil {
		t.Fatalf("erasure after the older snapshot ended: %v", err)
	}
	if d := time.Since(start); d < time.Second {
		t.Errorf("the erasure did not wait for the older snapshot (%s)", d)
	}
}
