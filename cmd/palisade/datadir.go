package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/palisade-sec/palisade/internal/store/sqlite"
)

// dbFile is the database of a data directory: its presence is what makes a
// directory a Palisade data directory.
const dbFile = "palisade.db"

// defaultDataDir is the --data default of serve, token and erase: the
// PALISADE_DATA environment variable, else ./palisade-data.
func defaultDataDir() string {
	if v := os.Getenv("PALISADE_DATA"); v != "" {
		return v
	}
	return "./palisade-data"
}

const dataFlagHelp = "data directory of palisade serve (default $PALISADE_DATA, else ./palisade-data)"

// checkDataDir refuses a data directory that palisade serve did not create:
// only serve creates one, so that a mistyped --data cannot silently start
// an empty store (a token the server never sees, an erasure that erased
// nothing).
func checkDataDir(dir string) error {
	st, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("--data %s: no such directory (only palisade serve creates a data directory; give the one the server uses)", dir)
	}
	if err != nil {
		return fmt.Errorf("--data %s: %w", dir, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("--data %s: not a directory", dir)
	}
	if _, err := os.Stat(filepath.Join(dir, dbFile)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("--data %s: not a Palisade data directory (no %s; give the directory palisade serve uses)", dir, dbFile)
		}
		return fmt.Errorf("--data %s: %w", dir, err)
	}
	return nil
}

// openDataStore opens the store of an existing data directory (exit 2 when
// it is missing or not Palisade's).
func openDataStore(ctx context.Context, dir string) (*sqlite.DB, error) {
	if err := checkDataDir(dir); err != nil {
		return nil, exitCode(2, err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(dir, dbFile))
	if err != nil {
		return nil, exitCode(2, fmt.Errorf("--data %s: %w", dir, err))
	}
	return st, nil
}

// createDataStore opens the store of serve's data directory, creating the
// directory on first start.
func createDataStore(ctx context.Context, dir string) (*sqlite.DB, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	return sqlite.Open(ctx, filepath.Join(dir, dbFile))
}
