package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/store"

	"github.com/palisade-sec/palisade/internal/store/sqlstore"
	"github.com/palisade-sec/palisade/internal/store/storetest"
)

var ctx = context.Background()

// fresh makes a new database file in the test's directory.
func fresh(t testing.TB) (*sql.DB, func() (*sqlstore.DB, error)) {
	path := filepath.Join(t.TempDir(), "palisade.db")
	raw, err := sql.Open("sqlite", DSN(path))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	return raw, func() (*sqlstore.DB, error) { return Open(ctx, path) }
}

// TestConformance runs the store's conformance suite on SQLite.
func TestConformance(t *testing.T) { storetest.Run(t, fresh) }

// BenchmarkStore runs the store's benchmarks on SQLite.
func BenchmarkStore(b *testing.B) { storetest.Bench(b, fresh) }

func setUmask(m int) int { return syscall.Umask(m) }

func auditEntryForTest() store.AuditEntry {
	return store.AuditEntry{At: time.Now().UTC(), Actor: "test", Action: "test", Target: "t"}
}

// Finding 7: the database files are private (0600) even in a directory
// that is 0755 and under a permissive umask.
func TestDatabaseFilesPrivate(t *testing.T) {
	dir := t.TempDir()
	os.Chmod(dir, 0o755)
	old := setUmask(0o022)
	defer setUmask(old)
	p := filepath.Join(dir, "palisade.db")
	db, err := Open(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Audit(context.Background(), auditEntryForTest()); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	matches, _ := filepath.Glob(p + "*")
	if len(matches) < 2 {
		t.Fatalf("expected the database and its -wal/-shm files, got %v", matches)
	}
	for _, m := range matches {
		st, err := os.Stat(m)
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %o, want 600", m, st.Mode().Perm())
		}
	}
	// An existing world-readable database is narrowed at open.
	db.Close()
	os.Chmod(p, 0o644)
	db2, err := Open(context.Background(), p)
	if err != nil {
		t.Fatal(err)
	}
	db2.Close()
	if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
		t.Errorf("existing file left %o", st.Mode().Perm())
	}
}

// TestErasureLeavesNoBytes: after an erasure, neither the database file
// nor its -wal file holds the erased address in any byte (secure_delete
// zeroes freed space, the truncating checkpoint empties the log), while
// before it both the address and a kept one are in the files.
func TestErasureLeavesNoBytes(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "palisade.db")
	db, err := Open(ctx, p)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	erased, kept := "203.0.113.77", "198.51.100.66"
	var als []model.Alert
	for i := range 200 {
		ip := kept
		if i%2 == 0 {
			ip = erased
		}
		a := storetest.Alert(i, "injection.sqli", "high", ip, storetest.T0)
		a.Evidence.Samples = append(a.Evidence.Samples, model.Sample{URL: "https://h/y", Client: erased})
		als = append(als, a)
	}
	if _, err := db.UpsertAlerts(ctx, als, storetest.T0); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Triage(ctx, als[1].ID, "acknowledge", "tk", "saw "+erased+" too", storetest.T0); err != nil {
		t.Fatal(err)
	}
	storetest.StoreSubjectsNaming(t, db, erased, kept)
	files := func() []byte {
		var all []byte
		for _, f := range []string{p, p + "-wal"} {
			b, err := os.ReadFile(f)
			if err != nil && !os.IsNotExist(err) {
				t.Fatal(err)
			}
			all = append(all, b...)
		}
		return all
	}
	if b := files(); !bytes.Contains(b, []byte(erased)) || !bytes.Contains(b, []byte(kept)) {
		t.Fatal("control: the addresses are not in the files before erasure")
	}
	if _, err := db.EraseClientIP(ctx, erased, "ip:x", storetest.T0); err != nil {
		t.Fatal(err)
	}
	b := files()
	if i := bytes.Index(b, []byte(erased)); i >= 0 {
		t.Fatalf("erased address in the files at byte %d: %q", i, b[max(0, i-40):min(len(b), i+40)])
	}
	if !bytes.Contains(b, []byte(kept)) {
		t.Fatal("kept address gone")
	}
}
