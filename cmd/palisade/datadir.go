package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/palisade-sec/palisade/internal/server"
	"github.com/palisade-sec/palisade/internal/store"
	"github.com/palisade-sec/palisade/internal/store/sqlite"
	"github.com/palisade-sec/palisade/internal/store/storeopen"
)

// dbFile is the database of a data directory: its presence is what makes a
// directory a Palisade data directory (with a PostgreSQL store: keyFile).
const (
	dbFile  = "palisade.db"
	keyFile = "secret.key"
)

// defaultDataDir is the --data default of serve, token and erase: the
// PALISADE_DATA environment variable, else ./palisade-data.
func defaultDataDir() string {
	if v := os.Getenv("PALISADE_DATA"); v != "" {
		return v
	}
	return "./palisade-data"
}

const dataFlagHelp = "data directory of palisade serve (default $PALISADE_DATA, else ./palisade-data)"

// defaultStore is the --store default: the PALISADE_STORE environment
// variable (empty: the SQLite database of the data directory).
func defaultStore() string { return os.Getenv("PALISADE_STORE") }

const storeFlagHelp = "store instead of the data directory's database: postgres://USER@HOST:PORT/DB?sslmode=verify-full or sqlite:///ABS/PATH " +
	"(give a PostgreSQL password in PGPASSWORD or a PGPASSFILE, not on the command line; default $PALISADE_STORE; docs/store.md)"

// storeSpec returns the store spec of a command: the --store flag (or
// $PALISADE_STORE), else server.store of the configuration file, else ""
// (the data directory's database).
func storeSpec(flag, configFile string) (string, error) {
	if flag != "" || configFile == "" {
		return flag, nil
	}
	b, err := os.ReadFile(configFile)
	if err != nil {
		return "", exitCode(2, fmt.Errorf("--config: %w", err))
	}
	fc, err := server.LoadConfig(server.NamedDoc{Name: configFile, Data: b})
	if err != nil {
		return "", exitCode(2, err)
	}
	return fc.Server.Store, nil
}

// checkDataDir refuses a data directory that palisade serve did not create:
// only serve creates one, so that a mistyped --data cannot silently start
// an empty store (a token the server never sees, an erasure that erased
// nothing). With --store the directory holds no database; its
// installation key marks it.
func checkDataDir(dir string, marker string) error {
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
	if _, err := os.Stat(filepath.Join(dir, marker)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("--data %s: not a Palisade data directory (no %s; give the directory palisade serve uses)", dir, marker)
		}
		return fmt.Errorf("--data %s: %w", dir, err)
	}
	return nil
}

// openCLIStore opens the store of palisade token and erase: the one spec
// names (it must exist), else the SQLite database of an existing data
// directory (exit 2 when it is missing or not Palisade's). where names
// the store in messages (never with a password).
func openCLIStore(ctx context.Context, dataDir, spec string) (st store.Store, where string, err error) {
	if spec != "" {
		st, err := storeopen.Open(ctx, spec, storeopen.Options{})
		if err != nil {
			return nil, "", exitCode(2, fmt.Errorf("--store: %w", err))
		}
		return st, storeopen.Redact(spec), nil
	}
	if err := checkDataDir(dataDir, dbFile); err != nil {
		return nil, "", exitCode(2, err)
	}
	lite, err := sqlite.Open(ctx, filepath.Join(dataDir, dbFile))
	if err != nil {
		return nil, "", exitCode(2, fmt.Errorf("--data %s: %w", dataDir, err))
	}
	return lite, dataDir, nil
}

// createServeStore opens the store of serve: the one spec names (the data
// directory still holds the write-ahead log and the installation key),
// else the data directory's SQLite database; the directory and the
// store are created on first start.
func createServeStore(ctx context.Context, dataDir, spec string) (store.Store, error) {
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	if spec != "" {
		st, err := storeopen.Open(ctx, spec, storeopen.Options{Create: true})
		if err != nil {
			return nil, fmt.Errorf("--store: %w", err)
		}
		return st, nil
	}
	return sqlite.Open(ctx, filepath.Join(dataDir, dbFile))
}

// keyIDSetting holds an identifier of the installation key the store was
// written with.
const keyIDSetting = "sys.key_id"

// checkKeyID makes sure a store named by --store (shared by several
// servers, or restored apart from the data directory) is used with one
// installation key:
// pseudonymous identity ids, address pseudonyms and erasure tombstones are
// keyed hashes, and a second server (or a restored data directory) with
// another key against the same store would write values that match
// nothing. The first use records the key's identifier (a keyed hash of a
// constant, not the key).
func checkKeyID(ctx context.Context, st store.Settings, key []byte, dataDir string) error {
	return checkKeyIDFix(ctx, st, key, true, "the key of "+filepath.Join(dataDir, keyFile),
		"every server of one store needs the same key — copy "+keyFile+" from the data directory of the first server")
}

// checkKeyIDFix is checkKeyID for a key named by what, with the remedy fix;
// unless write, a store without a key id is left as it is.
func checkKeyIDFix(ctx context.Context, st store.Settings, key []byte, write bool, what, fix string) error {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("palisade installation key id"))
	id := hex.EncodeToString(m.Sum(nil)[:8])
	v, err := st.Setting(ctx, keyIDSetting)
	switch {
	case errors.Is(err, store.ErrNotFound):
		if !write {
			return nil
		}
		return st.PutSetting(ctx, keyIDSetting, id, time.Now().UTC())
	case err != nil:
		return err
	case v != id:
		return fmt.Errorf("the store was written with another installation key than %s (key id %s, this one %s): "+
			"%s (to adopt this key on purpose, delete the setting: DELETE FROM settings WHERE key = '%s'; pseudonyms and tombstones made with the old key stop matching)",
			what, v, id, fix, keyIDSetting)
	}
	return nil
}
