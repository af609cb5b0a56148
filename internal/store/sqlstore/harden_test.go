package sqlstore

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/palisade-sec/palisade/internal/store"
)

func setUmask(m int) int { return syscall.Umask(m) }

func auditEntryForTest() store.AuditEntry {
	return store.AuditEntry{At: time.Now().UTC(), Actor: "test", Action: "test", Target: "t"}
}

// Finding 3: user queries run on their own pool. With every connection of
// the query pool held, token lookups (authentication) and writes still
// answer at once.
func TestQueryPoolCannotStarveAuth(t *testing.T) {
	db := openTest(t)
	ctx := context.Background()
	var held []*sql.Conn
	for range queryConns {
		c, err := db.q.Conn(ctx)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
	}
	defer func() {
		for _, c := range held {
			c.Close()
		}
	}()
	tctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if _, err := db.CountTokens(tctx); err != nil {
		t.Fatalf("authentication pool starved: %v", err)
	}
	if err := db.Audit(tctx, auditEntryForTest()); err != nil {
		t.Fatalf("write pool starved: %v", err)
	}
	// And the query pool is bounded: a fifth query waits for its deadline.
	qctx, qcancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer qcancel()
	if _, err := db.Overview(qctx); err == nil {
		t.Fatal("query pool larger than queryConns")
	}
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
