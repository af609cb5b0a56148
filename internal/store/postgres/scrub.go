package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/stdlib"

	"github.com/palisade-sec/palisade/internal/store/sqlstore"
)

// PostgreSQL has no secure_delete: a deleted row stays in its pages until
// vacuumed and reused. After an erasure the store rewrites each table that
// held erased rows with VACUUM FULL (new files holding only the rows no
// transaction can see any more). A row deleted by the erasure is kept in
// the new file when a snapshot older than the erasure still exists (a
// long-running transaction, pg_dump, a replication slot with
// hot_standby_feedback): VACUUM VERBOSE reports those as "dead row
// versions cannot be removed yet". The scrub therefore reads the server's
// report (a notice), and repeats the rewrite while any remain, up to
// ScrubWait; then it returns an error naming the tables. Each rewrite
// holds the store's write lock, so the store's own writers add no dead
// rows while it runs.

// ScrubWait bounds how long an erasure waits for older snapshots to end.
var ScrubWait = 60 * time.Second

// notices routes the notices of the system pool's connections to the
// scrub that listens on one (by connection).
var notices sync.Map // *pgconn.PgConn → func(*pgconn.Notice)

func onNotice(c *pgconn.PgConn, n *pgconn.Notice) {
	if f, ok := notices.Load(c); ok {
		f.(func(*pgconn.Notice))(n)
	}
}

var (
	vacuumFound = regexp.MustCompile(`^"(?:[^"]*\.)?([^".]+)": found \d+ removable, \d+ nonremovable row versions`)
	deadKept    = regexp.MustCompile(`^(\d+) dead row versions cannot be removed yet`)
)

// scrub is the dialect's scrub on PostgreSQL.
func scrub(ctx context.Context, db *sql.DB, erase bool, tables []string) error {
	if len(tables) == 0 {
		return nil
	}
	list := strings.Join(tables, ", ")
	if !erase {
		_, err := db.ExecContext(ctx, `VACUUM `+list)
		return err
	}
	conn, err := db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	var pc *pgconn.PgConn
	if err := conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("store: scrub: not a pgx connection (%T)", dc)
		}
		pc = c.Conn().PgConn()
		return nil
	}); err != nil {
		return err
	}
	var mu sync.Mutex
	kept := map[string]int64{}
	notices.Store(pc, func(n *pgconn.Notice) {
		m := vacuumFound.FindStringSubmatch(n.Message)
		if m == nil {
			return
		}
		d := deadKept.FindStringSubmatch(n.Detail)
		if d == nil {
			return
		}
		k, _ := strconv.ParseInt(d[1], 10, 64)
		mu.Lock()
		kept[m[1]] += k
		mu.Unlock()
	})
	defer notices.Delete(pc)
	nodes := func() (map[string]int64, error) {
		out := map[string]int64{}
		for _, t := range tables {
			var n int64
			if err := conn.QueryRowContext(ctx, `SELECT pg_relation_filenode(to_regclass($1))`, t).Scan(&n); err != nil {
				return nil, fmt.Errorf("store: scrub %s: %w", t, err)
			}
			out[t] = n
		}
		return out, nil
	}
	// One rewrite under the store's write lock (released between
	// attempts, so that waiting writers finish and their snapshots move
	// past the erasure).
	rewrite := func() (before, after map[string]int64, err error) {
		if _, err := conn.ExecContext(ctx, fmt.Sprintf(`SELECT pg_advisory_lock(%d)`, int64(sqlstore.WriteLockKey))); err != nil {
			return nil, nil, err
		}
		defer conn.ExecContext(context.WithoutCancel(ctx), fmt.Sprintf(`SELECT pg_advisory_unlock(%d)`, int64(sqlstore.WriteLockKey)))
		if before, err = nodes(); err != nil {
			return nil, nil, err
		}
		mu.Lock()
		clear(kept)
		mu.Unlock()
		if _, err := conn.ExecContext(ctx, `VACUUM (FULL, VERBOSE) `+list); err != nil {
			return nil, nil, fmt.Errorf("store: VACUUM FULL %s: %w", list, err)
		}
		after, err = nodes()
		return before, after, err
	}
	deadline := time.Now().Add(ScrubWait)
	for {
		before, after, err := rewrite()
		if err != nil {
			return err
		}
		var same []string
		for _, t := range tables {
			if before[t] == after[t] {
				same = append(same, t)
			}
		}
		if len(same) > 0 {
			// PostgreSQL skips a table the role does not own, with a
			// warning only.
			return fmt.Errorf("store: erased rows deleted, but VACUUM FULL did not rewrite %s (the store's database role must own the tables): run VACUUM FULL %s as their owner",
				strings.Join(same, ", "), strings.Join(same, ", "))
		}
		mu.Lock()
		var left []string
		for t, k := range kept {
			if k > 0 {
				left = append(left, fmt.Sprintf("%s (%d)", t, k))
			}
		}
		mu.Unlock()
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("store: erased rows deleted, but dead row versions are still visible to transactions older than the erasure in %s "+
				"(a long-running transaction, pg_dump, a replication slot with hot_standby_feedback): run VACUUM FULL %s once they end (docs/store.md)",
				strings.Join(left, ", "), list)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}
