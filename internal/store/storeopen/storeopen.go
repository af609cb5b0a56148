// Package storeopen opens the store named by a store spec, the value of
// the --store flag of palisade serve, token and erase and of the
// server.store configuration key:
//
//	sqlite:///ABS/PATH             a SQLite database file (one machine)
//	postgres://USER@HOST:PORT/DB   PostgreSQL (also postgresql://), with
//	                               the parameters libpq and pgx read
//	                               (sslmode, search_path, …) and the PG*
//	                               environment variables as defaults
//
// A spec without a scheme is the path of a SQLite file. docs/store.md.
package storeopen

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/palisade-sec/palisade/internal/store/postgres"
	"github.com/palisade-sec/palisade/internal/store/sqlite"
	"github.com/palisade-sec/palisade/internal/store/sqlstore"
)

// Kinds of store.
const (
	SQLite   = "sqlite"
	Postgres = "postgres"
)

// Spec is a parsed store spec.
type Spec struct {
	Kind string // SQLite or Postgres
	Path string // SQLite: the database file
	DSN  string // Postgres: the connection URL as given
}

// Parse parses a store spec; the error names what is wrong (never with a
// password).
func Parse(spec string) (Spec, error) {
	s := strings.TrimSpace(spec)
	switch {
	case s == "":
		return Spec{}, errors.New("empty store spec (want sqlite:///PATH or postgres://…)")
	case postgres.IsDSN(s):
		return Spec{Kind: Postgres, DSN: s}, nil
	case strings.HasPrefix(s, "sqlite://"):
		p := strings.TrimPrefix(s, "sqlite://")
		if i := strings.IndexByte(p, '?'); i >= 0 {
			return Spec{}, fmt.Errorf("%s: a sqlite:// store takes no parameters (the store sets its own)", s)
		}
		if p == "" || p == "/" {
			return Spec{}, fmt.Errorf("%s: no database file (want sqlite:///ABSOLUTE/PATH)", s)
		}
		if !filepath.IsAbs(p) {
			return Spec{}, fmt.Errorf("%s: want an absolute path, sqlite:///ABSOLUTE/PATH (three slashes)", s)
		}
		return Spec{Kind: SQLite, Path: filepath.Clean(p)}, nil
	case strings.Contains(s, "://"):
		return Spec{}, fmt.Errorf("%s: unknown kind of store (want sqlite:///PATH or postgres://…)", redactURL(s))
	case strings.Contains(s, "="):
		return Spec{}, fmt.Errorf("%s: looks like a key=value connection string; give PostgreSQL as a postgres:// URL", postgres.Redact(s))
	}
	return Spec{Kind: SQLite, Path: filepath.Clean(s)}, nil
}

// redactURL replaces the password of any URL.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "(unparsable URL)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// String names the store for messages and logs: the password of a
// PostgreSQL URL is replaced by "xxxxx".
func (s Spec) String() string {
	if s.Kind == Postgres {
		return postgres.Redact(s.DSN)
	}
	return "sqlite://" + s.Path
}

// Redact returns a store spec safe to show (see Spec.String); an
// unparsable spec is redacted as a PostgreSQL connection string.
func Redact(spec string) string {
	if sp, err := Parse(spec); err == nil {
		return sp.String()
	}
	if strings.Contains(spec, "://") && !postgres.IsDSN(spec) {
		return redactURL(spec)
	}
	return postgres.Redact(spec)
}

// Options of Open.
type Options struct {
	// Create makes a new store when there is none (palisade serve).
	// Without it (palisade token, erase) a missing SQLite file, or a
	// PostgreSQL database or schema where no Palisade store was ever
	// migrated, is an error: a mistyped spec must not start an empty
	// store that the server never reads.
	Create bool
	// Postgres are the options of the PostgreSQL pools.
	Postgres postgres.Options
}

// ErrNoStore is returned (wrapped) by Open without Options.Create when the
// spec names no existing store.
var ErrNoStore = errors.New("no Palisade store there (only palisade serve creates one)")

// Open opens the store the spec names and applies its migrations.
func Open(ctx context.Context, spec string, opt Options) (*sqlstore.DB, error) {
	sp, err := Parse(spec)
	if err != nil {
		return nil, fmt.Errorf("store: %w", err)
	}
	return sp.Open(ctx, opt)
}

// Open opens the store and applies its migrations.
func (s Spec) Open(ctx context.Context, opt Options) (*sqlstore.DB, error) {
	switch s.Kind {
	case SQLite:
		if !opt.Create {
			if _, err := os.Stat(s.Path); errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("store %s: %w", s, ErrNoStore)
			}
		} else if err := os.MkdirAll(filepath.Dir(s.Path), 0o700); err != nil {
			return nil, fmt.Errorf("store %s: %w", s, err)
		}
		return sqlite.Open(ctx, s.Path)
	case Postgres:
		if !opt.Create {
			if err := migrated(ctx, s.DSN); err != nil {
				return nil, err
			}
		}
		return postgres.Open(ctx, s.DSN, opt.Postgres)
	}
	return nil, fmt.Errorf("store: unknown kind %q", s.Kind)
}

// migrated checks that the database (the first schema of its search_path)
// holds a migrated store.
func migrated(ctx context.Context, dsn string) error {
	db, err := postgres.OpenDB(dsn)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	defer db.Close()
	var found bool
	if err := db.QueryRowContext(ctx, `SELECT to_regclass('goose_db_version') IS NOT NULL AND to_regclass('tokens') IS NOT NULL`).Scan(&found); err != nil {
		return fmt.Errorf("store: postgres %s: %s", postgres.Redact(dsn), postgres.RedactErr(err, dsn))
	}
	if !found {
		return fmt.Errorf("store %s: %w (no migrated tables in the schema of its search_path)", postgres.Redact(dsn), ErrNoStore)
	}
	return nil
}
