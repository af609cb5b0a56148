package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
)

// Dialect is what differs between the databases the store runs on. Every
// query of the store is written once, in the SQL both accept ($N
// placeholders, ON CONFLICT upserts, LIMIT, BIGINT Unix nanoseconds, TEXT
// JSON documents); a dialect holds only the rest:
//
//   - substring search: instr (SQLite) or strpos (PostgreSQL) rather than
//     LIKE, so that no value needs escaping (SQLite's LIKE also stops at a
//     NUL byte in the pattern, which then matches everything);
//   - its migrations (one directory per dialect, the same versions and
//     names: TestMigrationLists; column types differ — BLOB/BYTEA,
//     INTEGER PRIMARY KEY/identity columns, byte-order collation);
//   - how string arguments are bound (PostgreSQL's TEXT refuses NUL bytes
//     and invalid UTF-8, which traffic may carry);
//   - how write transactions serialize (SQLite has one writer; PostgreSQL
//     takes a transaction-level advisory lock, so read-modify-write
//     transactions such as alert upserts and triage never interleave);
//   - how the migrations of several processes starting at once are
//     serialized (PostgreSQL: a session advisory lock);
//   - how deleted content is scrubbed after erasure and retention.
type Dialect struct {
	// Name is "sqlite" or "postgres".
	Name string

	goose goose.Dialect
	dir   string // directory of the migrations in the embedded FS

	// text maps a string argument before it is bound (nil: unchanged).
	text func(string) string
	// position is the function returning the 1-based position of a
	// substring (0 when absent): position(haystack, needle).
	position string
	// jsonObject is the function building a JSON object from key/value
	// arguments.
	jsonObject string
	// writeLock is run first in every write transaction ("" = none).
	writeLock string
	// locker serializes migrations across processes (nil = none needed).
	locker func() (lock.SessionLocker, error)
	// scrub makes deleted rows of tables unrecoverable as far as the
	// database allows after an erasure (erase) or a retention run.
	scrub ScrubFunc
}

// SQLite is the embedded default. The connection sets secure_delete (freed
// pages are zeroed) and takes write transactions with BEGIN IMMEDIATE
// (store/sqlite builds the DSN); a truncating WAL checkpoint after an
// erasure or retention run moves the zeroed pages into the database file
// and empties the -wal file, which would otherwise keep the old page images.
var SQLite = &Dialect{
	Name:       "sqlite",
	goose:      goose.DialectSQLite3,
	dir:        "migrations/sqlite",
	position:   "instr",
	jsonObject: "json_object",
	scrub: func(ctx context.Context, db *sql.DB, _ bool, _ []string) error {
		_, err := db.ExecContext(ctx, `PRAGMA wal_checkpoint(TRUNCATE)`)
		return err
	},
}

// writeLockKey is the advisory lock key of write transactions on
// PostgreSQL (an arbitrary constant: "palisade" in ASCII).
const writeLockKey = 0x70616c6973616465

// Postgres is PostgreSQL (pgx through database/sql). PostgreSQL has no
// secure_delete: a deleted row stays in its table and index pages until
// vacuum reclaims the space, and even then the bytes are not overwritten
// until reused; the write-ahead log, replicas and backups hold copies too.
// After an erasure the store rewrites the tables that held the erased rows
// with VACUUM FULL (new files with only the live rows; indexes and TOAST
// rebuilt; store/postgres checks the rewrite and retries while older
// snapshots keep deleted rows alive); after a retention run it runs a
// plain VACUUM (no exclusive lock). docs/store.md says what this guarantees and what an operator must
// do about WAL archives, replicas and backups.
var Postgres = &Dialect{
	Name:       "postgres",
	goose:      goose.DialectPostgres,
	dir:        "migrations/postgres",
	text:       pgText,
	position:   "strpos",
	jsonObject: "json_build_object",
	writeLock:  fmt.Sprintf(`SELECT pg_advisory_xact_lock(%d)`, int64(writeLockKey)),
	locker: func() (lock.SessionLocker, error) {
		// Retry every second for up to 5 minutes (goose's default
		// retries every 5 s).
		return lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 300))
	},
	// scrub: set by store/postgres (WithScrub), which reads the server's
	// VACUUM VERBOSE notices through pgx.
}

// ScrubFunc makes deleted rows of tables unrecoverable as far as the
// database allows: after an erasure (erase) or a retention run.
type ScrubFunc func(ctx context.Context, db *sql.DB, erase bool, tables []string) error

// WithScrub returns a copy of d that scrubs with fn.
func (d *Dialect) WithScrub(fn ScrubFunc) *Dialect {
	c := *d
	c.scrub = fn
	return &c
}

// WriteLockKey is the advisory lock key of write transactions on
// PostgreSQL: a session holding it (pg_advisory_lock) keeps the store's
// writers out.
const WriteLockKey = writeLockKey

// pgText makes a string storable in a PostgreSQL TEXT column: NUL bytes
// and invalid UTF-8 sequences become U+FFFD. The mapping is applied to
// every bound string, stored values and filter values alike, so an
// equality filter still finds what was stored; SQLite stores the bytes
// as given.
func pgText(s string) string {
	if strings.IndexByte(s, 0) < 0 && utf8.ValidString(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// contains renders the condition "haystack contains needle" (both SQL
// expressions; needle usually a placeholder).
func (d *Dialect) contains(haystack, needle string) string {
	return d.position + "(" + haystack + ", " + needle + ") > 0"
}

// Text returns s as the database stores it: unchanged on SQLite, with NUL
// bytes and invalid UTF-8 replaced by U+FFFD on PostgreSQL.
func (d *Dialect) Text(s string) string {
	if d.text == nil {
		return s
	}
	return d.text(s)
}

// args maps the string arguments of a query through the dialect.
func (d *Dialect) args(args []any) []any {
	if d.text == nil {
		return args
	}
	var out []any
	for i, a := range args {
		s, ok := a.(string)
		if !ok {
			continue
		}
		if m := d.text(s); m != s {
			if out == nil {
				out = append([]any(nil), args...)
			}
			out[i] = m
		}
	}
	if out == nil {
		return args
	}
	return out
}

// pool is one connection pool of the database; its queries bind their
// arguments through the dialect.
type pool struct {
	*sql.DB
	d *Dialect
}

// ExecContext runs a statement.
func (p pool) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return p.DB.ExecContext(ctx, q, p.d.args(args)...)
}

// QueryContext runs a query.
func (p pool) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return p.DB.QueryContext(ctx, q, p.d.args(args)...)
}

// QueryRowContext runs a query returning at most one row.
func (p pool) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return p.DB.QueryRowContext(ctx, q, p.d.args(args)...)
}

// BeginTx starts a write transaction: on PostgreSQL it first takes the
// store's write lock, as SQLite's BEGIN IMMEDIATE does.
func (p pool) BeginTx(ctx context.Context, opts *sql.TxOptions) (*tx, error) {
	t, err := p.DB.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	if p.d.writeLock != "" {
		if _, err := t.ExecContext(ctx, p.d.writeLock); err != nil {
			t.Rollback()
			return nil, err
		}
	}
	return &tx{Tx: t, d: p.d}, nil
}

// tx is a transaction whose statements bind through the dialect.
type tx struct {
	*sql.Tx
	d *Dialect
}

// ExecContext runs a statement.
func (t *tx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return t.Tx.ExecContext(ctx, q, t.d.args(args)...)
}

// QueryContext runs a query.
func (t *tx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return t.Tx.QueryContext(ctx, q, t.d.args(args)...)
}

// QueryRowContext runs a query returning at most one row.
func (t *tx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return t.Tx.QueryRowContext(ctx, q, t.d.args(args)...)
}

// PrepareContext prepares a statement in the transaction.
func (t *tx) PrepareContext(ctx context.Context, q string) (*stmt, error) {
	s, err := t.Tx.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	return &stmt{Stmt: s, d: t.d}, nil
}

// stmt is a prepared statement binding through the dialect.
type stmt struct {
	*sql.Stmt
	d *Dialect
}

// ExecContext runs the statement.
func (s *stmt) ExecContext(ctx context.Context, args ...any) (sql.Result, error) {
	return s.Stmt.ExecContext(ctx, s.d.args(args)...)
}

// stmtCache runs a transaction's repeated statements prepared once each
// (a loop of upserts otherwise parses the same SQL for every row); Close
// releases them before the transaction ends.
type stmtCache struct {
	t     *tx
	stmts map[string]*sql.Stmt
}

func newStmtCache(t *tx) *stmtCache { return &stmtCache{t: t, stmts: map[string]*sql.Stmt{}} }

func (c *stmtCache) prepare(ctx context.Context, q string) (*sql.Stmt, error) {
	if s, ok := c.stmts[q]; ok {
		return s, nil
	}
	s, err := c.t.Tx.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	c.stmts[q] = s
	return s, nil
}

// ExecContext runs a statement.
func (c *stmtCache) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	s, err := c.prepare(ctx, q)
	if err != nil {
		return nil, err
	}
	return s.ExecContext(ctx, c.t.d.args(args)...)
}

// QueryContext runs a query.
func (c *stmtCache) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	s, err := c.prepare(ctx, q)
	if err != nil {
		return nil, err
	}
	return s.QueryContext(ctx, c.t.d.args(args)...)
}

// QueryRowContext runs a query returning at most one row (a failed
// preparation surfaces as the row's error, as with database/sql).
func (c *stmtCache) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	s, err := c.prepare(ctx, q)
	if err != nil {
		return c.t.Tx.QueryRowContext(ctx, q, c.t.d.args(args)...) // reports the same error
	}
	return s.QueryRowContext(ctx, c.t.d.args(args)...)
}

// Close releases the prepared statements.
func (c *stmtCache) Close() {
	for _, s := range c.stmts {
		s.Close()
	}
	clear(c.stmts)
}
