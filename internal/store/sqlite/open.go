// Package sqlite opens the embedded default store: the shared SQL store
// (store/sqlstore) on a SQLite file through modernc.org/sqlite (pure Go).
// The database runs in WAL mode with a busy timeout so that CLI commands
// (token create, erase) can write while the server runs.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"

	_ "modernc.org/sqlite" // database/sql driver "sqlite"

	"github.com/palisade-sec/palisade/internal/store/sqlstore"
)

// DB is a store on a SQLite file.
type DB = sqlstore.DB

// DSN is the database/sql data source name of the database file at path
// with the connection settings of the store: WAL journal, busy timeout,
// foreign keys, secure_delete (deleted content is overwritten, not left in
// free pages: erasure) and BEGIN IMMEDIATE for write transactions.
func DSN(path string) string {
	q := url.Values{}
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "synchronous(NORMAL)")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "secure_delete(1)")
	q.Set("_txlock", "immediate")
	return "file:" + path + "?" + q.Encode()
}

// Open opens (creating if needed, mode 0600) the database at path and
// applies the migrations.
func Open(ctx context.Context, path string) (*DB, error) {
	if err := createPrivate(path); err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	dsn := DSN(path)
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	if err := db.PingContext(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	qdb, err := sql.Open("sqlite", dsn)
	if err != nil {
		db.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	st, err := sqlstore.New(ctx, sqlstore.SQLite, db, qdb)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	return st, nil
}

// createPrivate creates the database file with mode 0600 (SQLite gives its
// -wal and -shm files the mode of the database file), whatever the umask
// and the directory's mode, and narrows an existing file that is readable
// by others.
func createPrivate(path string) error {
	if strings.HasPrefix(path, ":memory:") || strings.HasPrefix(path, "file:") {
		return nil
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if st.Mode().Perm()&0o077 != 0 {
		if err := f.Chmod(0o600); err != nil {
			return err
		}
		for _, sfx := range []string{"-wal", "-shm"} {
			if err := os.Chmod(path+sfx, 0o600); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
	}
	return nil
}
