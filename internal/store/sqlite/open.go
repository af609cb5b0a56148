// Package sqlite opens the embedded default store: the shared SQL store
// (store/sqlstore) on a SQLite file through modernc.org/sqlite (pure Go).
package sqlite

import (
	"context"

	"github.com/palisade-sec/palisade/internal/store/sqlstore"
)

// DB is a store on a SQLite file.
type DB = sqlstore.DB

// Open opens (creating if needed) the database at path and applies the
// migrations.
func Open(ctx context.Context, path string) (*DB, error) { return sqlstore.Open(ctx, path) }
