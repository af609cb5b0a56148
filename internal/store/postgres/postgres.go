// Package postgres opens the shared SQL store (store/sqlstore) on
// PostgreSQL through pgx's database/sql adapter: the store of a clustered
// deployment, or of a single node that keeps its state in an existing
// PostgreSQL (palisade serve --store postgres://…). docs/store.md.
package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/palisade-sec/palisade/internal/store/sqlstore"
)

// DB is a store on PostgreSQL.
type DB = sqlstore.DB

// Options of the connection pools.
type Options struct {
	// QueryTimeout is the server-side statement_timeout of the query
	// pool (user queries; the API's request deadline cancels them
	// earlier): a bound that holds even for a caller without a deadline.
	QueryTimeout time.Duration
	// IdleInTransaction ends a session of the system pool that stays
	// idle inside a transaction this long (a stuck writer would hold the
	// store's write lock).
	IdleInTransaction time.Duration
}

// DefaultOptions returns the defaults.
func DefaultOptions() Options {
	return Options{QueryTimeout: 60 * time.Second, IdleInTransaction: 5 * time.Minute}
}

// IsDSN reports whether s names a PostgreSQL database (postgres:// or
// postgresql:// URL).
func IsDSN(s string) bool {
	return strings.HasPrefix(s, "postgres://") || strings.HasPrefix(s, "postgresql://")
}

// Open connects to the database named by dsn (a postgres:// URL or a
// key=value connection string, as libpq and pgx read them, with the
// PG* environment variables as defaults), applies the migrations and
// returns the store. Errors never contain the password.
func Open(ctx context.Context, dsn string, opt Options) (*DB, error) {
	if opt == (Options{}) {
		opt = DefaultOptions()
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("store: postgres %s: %s", Redact(dsn), redactErr(err, dsn))
	}
	system := cfg.Copy()
	query := cfg.Copy()
	setDefault(system, "application_name", "palisade")
	setDefault(query, "application_name", "palisade-query")
	system.RuntimeParams["idle_in_transaction_session_timeout"] = ms(opt.IdleInTransaction)
	query.RuntimeParams["statement_timeout"] = ms(opt.QueryTimeout)
	query.RuntimeParams["idle_in_transaction_session_timeout"] = ms(opt.QueryTimeout)
	system.OnNotice = onNotice
	sdb := stdlib.OpenDB(*system)
	qdb := stdlib.OpenDB(*query)
	if err := sdb.PingContext(ctx); err != nil {
		sdb.Close()
		qdb.Close()
		return nil, fmt.Errorf("store: postgres %s: %s", Redact(dsn), redactErr(err, dsn))
	}
	st, err := sqlstore.New(ctx, sqlstore.Postgres.WithScrub(scrub), sdb, qdb)
	if err != nil {
		return nil, fmt.Errorf("store: postgres %s: %s", Redact(dsn), redactErr(err, dsn))
	}
	return st, nil
}

func setDefault(c *pgx.ConnConfig, k, v string) {
	if c.RuntimeParams == nil {
		c.RuntimeParams = map[string]string{}
	}
	if c.RuntimeParams[k] == "" {
		c.RuntimeParams[k] = v
	}
}

func ms(d time.Duration) string { return fmt.Sprint(d.Milliseconds()) }

// OpenDB opens a plain database/sql handle on dsn (no migrations, one
// connection at most): tools and tests.
func OpenDB(dsn string) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres %s: %s", Redact(dsn), redactErr(err, dsn))
	}
	db := stdlib.OpenDB(*cfg)
	db.SetMaxOpenConns(1)
	return db, nil
}

var kvPassword = regexp.MustCompile(`(?i)(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)`)

// Redact returns dsn with its password (URL user information, a password
// query parameter or a password=… key) replaced by "xxxxx", for logs and
// messages.
func Redact(dsn string) string {
	if IsDSN(dsn) {
		u, err := url.Parse(dsn)
		if err != nil {
			return "postgres://(unparsable URL)"
		}
		if _, ok := u.User.Password(); ok {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
		}
		q := u.Query()
		for k := range q {
			if strings.EqualFold(k, "password") {
				q.Set(k, "xxxxx")
			}
		}
		u.RawQuery = q.Encode()
		return u.String()
	}
	return kvPassword.ReplaceAllString(dsn, "${1}xxxxx")
}

// RedactErr renders err without the password of dsn (for callers that
// connect with OpenDB).
func RedactErr(err error, dsn string) string { return redactErr(err, dsn) }

// redactErr renders err without the password of dsn, whatever the driver
// put in it.
func redactErr(err error, dsn string) string {
	msg := err.Error()
	for _, pw := range passwords(dsn) {
		if pw != "" {
			msg = strings.ReplaceAll(msg, pw, "xxxxx")
		}
	}
	return msg
}

// passwords returns the spellings of the password in dsn.
func passwords(dsn string) []string {
	var out []string
	if IsDSN(dsn) {
		if u, err := url.Parse(dsn); err == nil {
			if pw, ok := u.User.Password(); ok {
				out = append(out, pw, url.QueryEscape(pw), url.PathEscape(pw))
			}
			for k, vs := range u.Query() {
				if strings.EqualFold(k, "password") {
					out = append(out, vs...)
				}
			}
		}
		return out
	}
	for _, m := range kvPassword.FindAllStringSubmatch(dsn, -1) {
		out = append(out, strings.Trim(m[2], "'"), m[2])
	}
	return out
}
