// Package sqlstore is the SQL implementation of store.Store, written once
// for database/sql and run on SQLite (store/sqlite, the embedded default)
// and PostgreSQL (store/postgres, pgx's database/sql adapter). Queries use
// $N placeholders and ON CONFLICT upserts only; what the two databases do
// differently lives in a Dialect (dialect.go). Times are int64 Unix
// nanoseconds and documents are JSON in TEXT columns on both.
package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/netip"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pressly/goose/v3"

	"github.com/palisade-sec/palisade/internal/alert"
	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/store"
)

//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrations embed.FS

// DB is a SQL store. It keeps two connection pools on the same database:
// q serves the API's list and detail queries (user-controlled filters, at
// most QueryConns at once, each under the caller's deadline); db serves
// everything the server itself needs — authentication, sessions, audit,
// checkpoints, retention, erasure — so that user queries cannot exhaust it.
type DB struct {
	db pool
	q  pool
	d  *Dialect
}

// Pool sizes.
const (
	SystemConns = 8
	QueryConns  = 4
)

var _ store.Store = (*DB)(nil)

// New returns the store on two pools of one database (system: the
// server's own work; query: user queries, at most QueryConns open) after
// applying the dialect's migrations on system. It takes ownership of both
// pools: they are closed on error and by Close.
func New(ctx context.Context, d *Dialect, system, query *sql.DB) (*DB, error) {
	system.SetMaxOpenConns(SystemConns)
	query.SetMaxOpenConns(QueryConns)
	if err := Migrate(ctx, d, system); err != nil {
		system.Close()
		query.Close()
		return nil, err
	}
	return &DB{db: pool{system, d}, q: pool{query, d}, d: d}, nil
}

// Migrate applies the dialect's migrations to db (goose; several processes
// may start at once: PostgreSQL serializes them with an advisory lock).
func Migrate(ctx context.Context, d *Dialect, db *sql.DB) error {
	prov, err := d.provider(db)
	if err != nil {
		return err
	}
	if _, err := prov.Up(ctx); err != nil {
		return fmt.Errorf("store: migrate: %w", err)
	}
	return nil
}

// MigrateTo applies the dialect's migrations up to version (tests of
// upgrades from an older schema).
func MigrateTo(ctx context.Context, d *Dialect, db *sql.DB, version int64) error {
	prov, err := d.provider(db)
	if err != nil {
		return err
	}
	_, err = prov.UpTo(ctx, version)
	return err
}

func (d *Dialect) provider(db *sql.DB) (*goose.Provider, error) {
	sub, err := fs.Sub(migrations, d.dir)
	if err != nil {
		return nil, err
	}
	var opts []goose.ProviderOption
	if d.locker != nil {
		l, err := d.locker()
		if err != nil {
			return nil, err
		}
		opts = append(opts, goose.WithSessionLocker(l))
	}
	prov, err := goose.NewProvider(d.goose, db, sub, opts...)
	if err != nil {
		return nil, fmt.Errorf("store: migrations: %w", err)
	}
	return prov, nil
}

// Dialect returns the store's dialect.
func (s *DB) Dialect() *Dialect { return s.d }

// Pools returns the system and query pools (diagnostics and tests).
func (s *DB) Pools() (system, query *sql.DB) { return s.db.DB, s.q.DB }

// Close implements store.Store.
func (s *DB) Close() error { return errors.Join(s.q.Close(), s.db.Close()) }

func ns(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromNS(n int64) time.Time { return time.Unix(0, n).UTC() }

func nullNS(n sql.NullInt64) *time.Time {
	if !n.Valid || n.Int64 == 0 {
		return nil
	}
	t := fromNS(n.Int64)
	return &t
}

// ---- tokens and sessions ----

// CreateToken implements store.Store.
func (s *DB) CreateToken(ctx context.Context, t store.Token) error {
	if !store.ValidRole(t.Role) {
		return fmt.Errorf("store: unknown role %q", t.Role)
	}
	_, err := s.db.ExecContext(ctx, `INSERT INTO tokens (id, name, role, hash, created_at) VALUES ($1, $2, $3, $4, $5)`,
		t.ID, t.Name, t.Role, t.Hash, ns(t.CreatedAt))
	return err
}

func scanToken(row interface{ Scan(...any) error }) (*store.Token, error) {
	var t store.Token
	var created int64
	var used, revoked sql.NullInt64
	if err := row.Scan(&t.ID, &t.Name, &t.Role, &t.Hash, &created, &used, &revoked); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, store.ErrNotFound
		}
		return nil, err
	}
	t.CreatedAt = fromNS(created)
	t.LastUsed = nullNS(used)
	t.RevokedAt = nullNS(revoked)
	return &t, nil
}

// TokenByHash implements store.Store. The lookup is by the SHA-256 of the
// presented secret (an index lookup on a hash reveals nothing useful about
// the secret); the caller re-compares hashes in constant time.
func (s *DB) TokenByHash(ctx context.Context, hash []byte) (*store.Token, error) {
	return scanToken(s.db.QueryRowContext(ctx, `SELECT id, name, role, hash, created_at, last_used, revoked_at FROM tokens WHERE hash = $1`, hash))
}

// ListTokens implements store.Store.
func (s *DB) ListTokens(ctx context.Context) ([]store.Token, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, name, role, hash, created_at, last_used, revoked_at FROM tokens ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, *t)
	}
	return out, rows.Err()
}

// RevokeToken implements store.Store.
func (s *DB) RevokeToken(ctx context.Context, id string, at time.Time) error {
	res, err := s.db.ExecContext(ctx, `UPDATE tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL`, ns(at), id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("token %q: %w (or already revoked)", id, store.ErrNotFound)
	}
	_, err = s.db.ExecContext(ctx, `DELETE FROM sessions WHERE token_id = $1`, id)
	return err
}

// TouchToken implements store.Store.
func (s *DB) TouchToken(ctx context.Context, id string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `UPDATE tokens SET last_used = $1 WHERE id = $2`, ns(at), id)
	return err
}

// CountTokens implements store.Store.
func (s *DB) CountTokens(ctx context.Context) (int64, error) {
	var n int64
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM tokens`).Scan(&n)
	return n, err
}

// CreateSession implements store.Store.
func (s *DB) CreateSession(ctx context.Context, se store.Session) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO sessions (hash, csrf_hash, token_id, role, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		se.Hash, se.CSRFHash, se.TokenID, se.Role, ns(se.CreatedAt), ns(se.ExpiresAt))
	return err
}

// SessionByHash implements store.Store; expired sessions and sessions of
// revoked tokens are not found.
func (s *DB) SessionByHash(ctx context.Context, hash []byte, now time.Time) (*store.Session, error) {
	var se store.Session
	var c, e int64
	err := s.db.QueryRowContext(ctx, `SELECT s.hash, s.csrf_hash, s.token_id, s.role, s.created_at, s.expires_at
		FROM sessions s JOIN tokens t ON t.id = s.token_id
		WHERE s.hash = $1 AND s.expires_at > $2 AND t.revoked_at IS NULL`, hash, ns(now)).
		Scan(&se.Hash, &se.CSRFHash, &se.TokenID, &se.Role, &c, &e)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	se.CreatedAt, se.ExpiresAt = fromNS(c), fromNS(e)
	return &se, nil
}

// DeleteSession implements store.Store.
func (s *DB) DeleteSession(ctx context.Context, hash []byte) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE hash = $1`, hash)
	return err
}

// ---- inventory ----

// EndpointID is the stable identifier of an endpoint in the API.
func EndpointID(ref model.EndpointRef) string {
	sum := sha256.Sum256([]byte(ref.Key()))
	return "ep_" + hex.EncodeToString(sum[:8])
}

func sensitiveCol(e *model.Endpoint) string {
	seen := map[string]bool{}
	var types []string
	for _, sd := range e.SensitiveData {
		if !seen[sd.Type] {
			seen[sd.Type] = true
			types = append(types, sd.Type)
		}
	}
	sort.Strings(types)
	return "," + strings.Join(types, ",") + ","
}

const hourNS = int64(time.Hour)

// totalTraffic is the endpoint_traffic key of the all-traffic series.
const totalTraffic = "*"

// snapshotSeqKey is the setting holding the Seq of the last snapshot.
const snapshotSeqKey = "sys.snapshot_seq"

// SaveSnapshot implements store.Store. Endpoints are upserted (never
// deleted by a snapshot); the growth of each endpoint's request count since
// the previous snapshot is added to the traffic bucket (hour of event time)
// of the snapshot's event clock. Findings are replaced by the snapshot's.
// A snapshot whose Seq is at or below the stored one changes nothing.
func (s *DB) SaveSnapshot(ctx context.Context, snap store.Snapshot, wallNow time.Time) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if snap.Seq > 0 {
		var v string
		err := tx.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = $1`, snapshotSeqKey).Scan(&v)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return err
		}
		if last, _ := strconv.ParseInt(v, 10, 64); err == nil && snap.Seq <= last {
			return nil // a replay: already written
		}
	}
	prev := map[string]int64{}
	rows, err := tx.QueryContext(ctx, `SELECT id, requests FROM endpoints`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var id string
		var n int64
		if err := rows.Scan(&id, &n); err != nil {
			rows.Close()
			return err
		}
		prev[id] = n
	}
	rows.Close()
	bucket := (ns(snap.EventClock) / hourNS) * 3600
	up, err := tx.PrepareContext(ctx, `INSERT INTO endpoints (id, host, method, path, state, exposure, authentication, sensitive, risk, requests, first_seen, last_seen, doc, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
		ON CONFLICT (id) DO UPDATE SET state = excluded.state, exposure = excluded.exposure, authentication = excluded.authentication,
			sensitive = excluded.sensitive, risk = excluded.risk, requests = excluded.requests, first_seen = excluded.first_seen,
			last_seen = excluded.last_seen, doc = excluded.doc, updated_at = excluded.updated_at
		WHERE endpoints.doc <> excluded.doc`)
	if err != nil {
		return err
	}
	defer up.Close()
	tr, err := tx.PrepareContext(ctx, `INSERT INTO endpoint_traffic (endpoint_id, bucket, requests) VALUES ($1, $2, $3)
		ON CONFLICT (endpoint_id, bucket) DO UPDATE SET requests = endpoint_traffic.requests + excluded.requests`)
	if err != nil {
		return err
	}
	defer tr.Close()
	// Traffic, sorted by hour: concurrent writers lock rows in one order.
	for _, b := range slices.Sorted(maps.Keys(snap.Traffic)) {
		if _, err := tr.ExecContext(ctx, totalTraffic, b, snap.Traffic[b]); err != nil {
			return err
		}
	}
	if snap.Report != nil {
		for i := range snap.Report.Endpoints {
			e := &snap.Report.Endpoints[i]
			id := EndpointID(e.Ref())
			doc, err := json.Marshal(e)
			if err != nil {
				return fmt.Errorf("store: endpoint %s: %w", e.Ref().Key(), err)
			}
			var first sql.NullInt64
			if e.FirstSeen != nil {
				first = sql.NullInt64{Int64: ns(*e.FirstSeen), Valid: true}
			}
			var last int64
			if e.LastSeen != nil {
				last = ns(*e.LastSeen)
			}
			if _, err := up.ExecContext(ctx, id, e.Host, e.Method, e.Path, e.State, e.Exposure, e.Authentication, sensitiveCol(e),
				int64(e.Risk.Score), e.Requests, first, last, string(doc), ns(wallNow)); err != nil {
				return fmt.Errorf("store: endpoint %s: %w", e.Ref().Key(), err)
			}
			if d := e.Requests - prev[id]; d > 0 && !snap.EventClock.IsZero() {
				if _, err := tr.ExecContext(ctx, id, bucket, d); err != nil {
					return err
				}
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM findings`); err != nil {
			return err
		}
		fi, err := tx.PrepareContext(ctx, `INSERT INTO findings (id, rule, severity, sev_rank, endpoint_key, doc, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, updated_at = excluded.updated_at`)
		if err != nil {
			return err
		}
		defer fi.Close()
		for _, f := range snap.Report.Findings {
			doc, err := json.Marshal(f)
			if err != nil {
				return err
			}
			ek := ""
			if f.Endpoint != nil {
				ek = f.Endpoint.Key()
			}
			if _, err := fi.ExecContext(ctx, f.ID, f.Rule, f.Severity, int64(model.SeverityRank(f.Severity)), ek, string(doc), ns(wallNow)); err != nil {
				return err
			}
		}
		if err := saveOutbound(ctx, tx, snap.Report, wallNow); err != nil {
			return err
		}
		if err := findingTriageAtSnapshot(ctx, tx, snap.EventClock, wallNow); err != nil {
			return err
		}
		if err := saveProbesAndChanges(ctx, tx, snap.Report); err != nil {
			return err
		}
	}
	if len(snap.Subjects) > 0 {
		sc := newStmtCache(tx)
		err := saveSubjects(ctx, sc, snap.Subjects, wallNow)
		sc.Close()
		if err != nil {
			return err
		}
	}
	sys := map[string]string{
		"event_clock":       strconv.FormatInt(ns(snap.EventClock), 10),
		"records_processed": strconv.FormatInt(snap.Records, 10),
		"last_snapshot":     strconv.FormatInt(ns(wallNow), 10),
	}
	if snap.Seq > 0 {
		sys["snapshot_seq"] = strconv.FormatInt(snap.Seq, 10)
	}
	for k, v := range sys {
		if _, err := tx.ExecContext(ctx, `INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3)
			ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, "sys."+k, v, ns(wallNow)); err != nil {
			return err
		}
	}
	return tx.Commit()
}

type sortSpec struct {
	col string
}

var endpointSorts = map[string]sortSpec{
	"risk":      {"risk"},
	"requests":  {"requests"},
	"last_seen": {"last_seen"},
}

// asciiLower lowers ASCII letters only, as SQL's LOWER does on both
// databases (strings.ToLower would also turn invalid UTF-8 into U+FFFD
// and lower letters SQL leaves alone).
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// args collects positional arguments and hands out $N placeholders.
type args struct{ v []any }

func (a *args) add(x any) string {
	a.v = append(a.v, x)
	return "$" + strconv.Itoa(len(a.v))
}

func (a *args) in(xs []string) string {
	ph := make([]string, len(xs))
	for i, x := range xs {
		ph[i] = a.add(x)
	}
	return "(" + strings.Join(ph, ", ") + ")"
}

// ListEndpoints implements store.Store: keyset pagination on (sort column
// DESC, id ASC), stable while rows are added.
func (s *DB) ListEndpoints(ctx context.Context, f store.EndpointFilter) (store.Page[store.EndpointRow], error) {
	if f.Sort == "" {
		f.Sort = "risk"
	}
	sp, ok := endpointSorts[f.Sort]
	if !ok {
		return store.Page[store.EndpointRow]{}, fmt.Errorf("sort: unknown order %q (risk, requests, last_seen)", f.Sort)
	}
	var a args
	var where []string
	eq := func(col, v string) {
		if v != "" {
			where = append(where, col+" = "+a.add(v))
		}
	}
	eq("host", f.Host)
	eq("state", f.State)
	eq("exposure", f.Exposure)
	eq("authentication", f.Authentication)
	if f.Sensitive != "" {
		where = append(where, s.d.contains("LOWER(sensitive)", a.add(","+asciiLower(f.Sensitive)+",")))
	}
	if f.Q != "" {
		// LOWER (ASCII only in both databases, path and host in byte
		// order collation) makes the search ignore ASCII case.
		p := a.add(asciiLower(f.Q))
		where = append(where, "("+s.d.contains("LOWER(path)", p)+" OR "+s.d.contains("LOWER(host)", p)+")")
	}
	return keysetPage(ctx, s.q, "endpoints", sp.col, f.Sort, f.Cursor, f.Limit, where, &a, func(id, doc string) (store.EndpointRow, error) {
		r := store.EndpointRow{ID: id}
		if err := json.Unmarshal([]byte(doc), &r.Endpoint); err != nil {
			return r, fmt.Errorf("store: endpoint %s: corrupt document: %w", id, err)
		}
		return r, nil
	})
}

// keysetPage reads one page of table's documents in (col DESC, id ASC)
// order: rows matching where (placeholders in a), after the cursor made
// for sort order sort, at most limit (store.ClampLimit) rows, each decoded
// from (id, doc); NextCursor is set when another page follows.
func keysetPage[T any](ctx context.Context, db pool, table, col, sort, cursor string, limit int, where []string, a *args,
	decode func(id, doc string) (T, error)) (store.Page[T], error) {
	page := store.Page[T]{Items: []T{}}
	cur, err := store.DecodeCursor(cursor, sort)
	if err != nil {
		return page, err
	}
	limit = store.ClampLimit(limit)
	if cur != nil {
		v, id := a.add(cur.Num), a.add(cur.ID)
		where = append(where, fmt.Sprintf("(%s < %s OR (%s = %s AND id > %s))", col, v, col, v, id))
	}
	q := `SELECT id, ` + col + `, doc FROM ` + table
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += fmt.Sprintf(" ORDER BY %s DESC, id ASC LIMIT %s", col, a.add(limit+1))
	rows, err := db.QueryContext(ctx, q, a.v...)
	if err != nil {
		return page, err
	}
	defer rows.Close()
	var lastNum int64
	var lastID string
	for rows.Next() {
		var id, doc string
		var num int64
		if err := rows.Scan(&id, &num, &doc); err != nil {
			return page, err
		}
		if len(page.Items) == limit {
			page.NextCursor = store.EncodeCursor(store.Cursor{Sort: sort, Num: lastNum, ID: lastID})
			break
		}
		item, err := decode(id, doc)
		if err != nil {
			return page, err
		}
		lastNum, lastID = num, id
		page.Items = append(page.Items, item)
	}
	return page, rows.Err()
}

// Endpoint implements store.Store; the traffic series holds the last 7 days
// of hourly buckets that saw traffic (event time).
func (s *DB) Endpoint(ctx context.Context, id string) (*store.EndpointDetail, error) {
	var doc string
	err := s.q.QueryRowContext(ctx, `SELECT doc FROM endpoints WHERE id = $1`, id).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	d := &store.EndpointDetail{ID: id}
	if err := json.Unmarshal([]byte(doc), &d.Endpoint); err != nil {
		return nil, fmt.Errorf("store: endpoint %s: corrupt document: %w", id, err)
	}
	rows, err := s.q.QueryContext(ctx, `SELECT bucket, requests FROM endpoint_traffic WHERE endpoint_id = $1 ORDER BY bucket DESC LIMIT 168`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	d.Traffic = []store.TrafficPoint{}
	for rows.Next() {
		var b, n int64
		if err := rows.Scan(&b, &n); err != nil {
			return nil, err
		}
		d.Traffic = append(d.Traffic, store.TrafficPoint{Time: time.Unix(b, 0).UTC(), Requests: n})
	}
	for i, j := 0, len(d.Traffic)-1; i < j; i, j = i+1, j-1 {
		d.Traffic[i], d.Traffic[j] = d.Traffic[j], d.Traffic[i]
	}
	return d, rows.Err()
}

// EndpointsForHost implements store.Store (all hosts when host is empty).
// Hosts implements store.Store.
func (s *DB) Hosts(ctx context.Context, limit int) ([]string, error) {
	rows, err := s.q.QueryContext(ctx, `SELECT DISTINCT host FROM endpoints ORDER BY host LIMIT $1`, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var h string
		if err := rows.Scan(&h); err != nil {
			return nil, err
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

// EndpointsForHost implements store.Store.
func (s *DB) EndpointsForHost(ctx context.Context, host string) ([]model.Endpoint, error) {
	q := `SELECT doc FROM endpoints`
	var a args
	if host != "" {
		q += ` WHERE host = ` + a.add(host)
	}
	q += ` ORDER BY host, path, method`
	rows, err := s.q.QueryContext(ctx, q, a.v...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []model.Endpoint
	for rows.Next() {
		var doc string
		if err := rows.Scan(&doc); err != nil {
			return nil, err
		}
		var e model.Endpoint
		if err := json.Unmarshal([]byte(doc), &e); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// ---- alerts ----

// FoldKey is the suppression identity of an alert (type, subject and,
// except for subject-wide types, endpoint): the identity the detection
// emitter folds repeats on (alert.Key). It is stored hashed so that no
// client IP lands in the suppression table.
func FoldKey(a *model.Alert) string {
	sum := sha256.Sum256([]byte(alert.Key(a)))
	return hex.EncodeToString(sum[:16])
}

func owaspCol(o []string) string { return "," + strings.Join(o, ",") + "," }

// UpsertAlerts implements store.Store. Triage state survives updates: an
// acknowledged alert stays acknowledged, a resolved alert with new activity
// is reopened (history entry by "system"), and an alert whose fold key was
// triaged as a false positive stays false_positive and is counted as
// suppressed instead of being reported as new or updated.
func (s *DB) UpsertAlerts(ctx context.Context, alerts []model.Alert, wallNow time.Time) (store.UpsertResult, error) {
	var res store.UpsertResult
	if len(alerts) == 0 {
		return res, nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return res, err
	}
	defer tx.Rollback()
	for i := range alerts {
		a := alerts[i]
		fk := FoldKey(&a)
		var status string
		var count, last int64
		err := tx.QueryRowContext(ctx, `SELECT status, count, last_seen FROM alerts WHERE id = $1`, a.ID).Scan(&status, &count, &last)
		exists := err == nil
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return res, err
		}
		if exists {
			// Never regress: after a restart the engine replays only the
			// retained log and may hold smaller counts than the store.
			if a.Count < count {
				a.Count = count
			}
			if ns(a.LastSeen) < last {
				a.LastSeen = fromNS(last)
			}
			if count == a.Count && last == ns(a.LastSeen) {
				continue // nothing new
			}
		}
		var supp int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM suppressions WHERE fold_key = $1`, fk).Scan(&supp); err != nil {
			return res, err
		}
		newStatus := store.StatusOpen
		if exists {
			newStatus = status
			if status == store.StatusResolved && ns(a.LastSeen) > last {
				newStatus = store.StatusOpen
				if _, err := tx.ExecContext(ctx, `INSERT INTO alert_history (alert_id, at, actor, action, from_status, to_status, reason) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
					a.ID, ns(wallNow), "system", "reopen", status, newStatus, "new activity after resolution"); err != nil {
					return res, err
				}
			}
		}
		if supp > 0 {
			newStatus = store.StatusFalsePositive
		}
		a.Status = newStatus
		doc, err := json.Marshal(&a)
		if err != nil {
			return res, err
		}
		ip, idn, ek := "", "", ""
		if a.Client != nil {
			ip = a.Client.IP
		}
		if a.Identity != nil {
			idn = a.Identity.ID
		}
		if a.Endpoint != nil {
			ek = a.Endpoint.Key()
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO alerts (id, type, severity, sev_rank, status, subject, client_ip, identity_id, endpoint_key, fold_key, owasp, first_seen, last_seen, count, doc, updated_at, ip_pseudonymized)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, 0)
			ON CONFLICT (id) DO UPDATE SET severity = excluded.severity, sev_rank = excluded.sev_rank, status = excluded.status,
				client_ip = excluded.client_ip, identity_id = excluded.identity_id, endpoint_key = excluded.endpoint_key, owasp = excluded.owasp,
				first_seen = excluded.first_seen, last_seen = excluded.last_seen, count = excluded.count, doc = excluded.doc,
				updated_at = excluded.updated_at, ip_pseudonymized = 0`,
			a.ID, a.Type, a.Severity, int64(model.SeverityRank(a.Severity)), newStatus, a.Subject, ip, idn, ek, fk, owaspCol(a.OWASP),
			ns(a.FirstSeen), ns(a.LastSeen), a.Count, string(doc), ns(wallNow))
		if err != nil {
			return res, fmt.Errorf("store: alert %s: %w", a.ID, err)
		}
		switch {
		case supp > 0:
			res.Suppressed++
			if _, err := tx.ExecContext(ctx, `UPDATE suppressions SET suppressed = suppressed + 1 WHERE fold_key = $1`, fk); err != nil {
				return res, err
			}
		case !exists:
			res.Created = append(res.Created, a)
		default:
			res.Updated = append(res.Updated, a)
		}
	}
	return res, tx.Commit()
}

var alertSorts = map[string]string{"last_seen": "last_seen", "severity": "sev_rank"}

// ListAlerts implements store.Store.
func (s *DB) ListAlerts(ctx context.Context, f store.AlertFilter) (store.Page[store.StoredAlert], error) {
	var page store.Page[store.StoredAlert]
	if f.Sort == "" {
		f.Sort = "last_seen"
	}
	col, ok := alertSorts[f.Sort]
	if !ok {
		return page, fmt.Errorf("sort: unknown order %q (last_seen, severity)", f.Sort)
	}
	cur, err := store.DecodeCursor(f.Cursor, f.Sort)
	if err != nil {
		return page, err
	}
	limit := store.ClampLimit(f.Limit)
	var a args
	var where []string
	if len(f.Types) > 0 {
		where = append(where, "type IN "+a.in(f.Types))
	}
	if len(f.Severities) > 0 {
		where = append(where, "severity IN "+a.in(f.Severities))
	}
	if len(f.Statuses) > 0 {
		where = append(where, "status IN "+a.in(f.Statuses))
	}
	if !f.From.IsZero() {
		where = append(where, "last_seen >= "+a.add(ns(f.From)))
	}
	if !f.To.IsZero() {
		where = append(where, "last_seen < "+a.add(ns(f.To)))
	}
	if f.Endpoint != "" {
		where = append(where, "endpoint_key = "+a.add(f.Endpoint))
	}
	if f.ClientIP != "" {
		where = append(where, "client_ip = "+a.add(f.ClientIP))
	}
	if f.Address != "" {
		where = append(where, "(client_ip = "+a.add(f.Address)+" OR "+s.d.contains("doc", a.add(jsonString("ip", f.Address)))+")")
	}
	if f.IdentityID != "" {
		where = append(where, "identity_id = "+a.add(f.IdentityID))
	}
	if cur != nil {
		v := a.add(cur.Num)
		id := a.add(cur.ID)
		where = append(where, fmt.Sprintf("(%s < %s OR (%s = %s AND id > %s))", col, v, col, v, id))
	}
	q := `SELECT id, ` + col + `, doc, updated_at FROM alerts`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += fmt.Sprintf(" ORDER BY %s DESC, id ASC LIMIT %s", col, a.add(limit+1))
	rows, err := s.q.QueryContext(ctx, q, a.v...)
	if err != nil {
		return page, err
	}
	defer rows.Close()
	page.Items = []store.StoredAlert{}
	var lastNum int64
	for rows.Next() {
		var id, doc string
		var num, upd int64
		if err := rows.Scan(&id, &num, &doc, &upd); err != nil {
			return page, err
		}
		if len(page.Items) == limit {
			page.NextCursor = store.EncodeCursor(store.Cursor{Sort: f.Sort, Num: lastNum, ID: page.Items[len(page.Items)-1].ID})
			break
		}
		var sa store.StoredAlert
		if err := json.Unmarshal([]byte(doc), &sa.Alert); err != nil {
			return page, fmt.Errorf("store: alert %s: corrupt document: %w", id, err)
		}
		sa.UpdatedAt = fromNS(upd)
		lastNum = num
		page.Items = append(page.Items, sa)
	}
	return page, rows.Err()
}

// Alert implements store.Store.
func (s *DB) Alert(ctx context.Context, id string) (*store.StoredAlert, []store.TriageEvent, error) {
	var doc string
	var upd int64
	err := s.q.QueryRowContext(ctx, `SELECT doc, updated_at FROM alerts WHERE id = $1`, id).Scan(&doc, &upd)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, store.ErrNotFound
	}
	if err != nil {
		return nil, nil, err
	}
	var sa store.StoredAlert
	if err := json.Unmarshal([]byte(doc), &sa.Alert); err != nil {
		return nil, nil, fmt.Errorf("store: alert %s: corrupt document: %w", id, err)
	}
	sa.UpdatedAt = fromNS(upd)
	hist, err := s.history(ctx, "alert_history", "alert_id", id)
	if err != nil {
		return nil, nil, err
	}
	return &sa, hist, nil
}

// history reads the triage events of one alert or finding, oldest first.
func (s *DB) history(ctx context.Context, table, col, id string) ([]store.TriageEvent, error) {
	rows, err := s.q.QueryContext(ctx, `SELECT at, actor, action, from_status, to_status, reason FROM `+table+` WHERE `+col+` = $1 ORDER BY id`, id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	hist := []store.TriageEvent{}
	for rows.Next() {
		var e store.TriageEvent
		var at int64
		if err := rows.Scan(&at, &e.Actor, &e.Action, &e.From, &e.To, &e.Reason); err != nil {
			return nil, err
		}
		e.At = fromNS(at)
		hist = append(hist, e)
	}
	return hist, rows.Err()
}

// Triage implements store.Store. false_positive requires a reason and adds
// a suppression on the alert's fold key; reopen removes it.
func (s *DB) Triage(ctx context.Context, id, action, actor, reason string, at time.Time) (*store.StoredAlert, error) {
	to, ok := store.TriageActions[action]
	if !ok {
		return nil, fmt.Errorf("action: unknown %q (acknowledge, resolve, false_positive, reopen)", action)
	}
	if action == "false_positive" && strings.TrimSpace(reason) == "" {
		return nil, fmt.Errorf("reason: required for false_positive")
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	var doc, from, fk string
	err = tx.QueryRowContext(ctx, `SELECT doc, status, fold_key FROM alerts WHERE id = $1`, id).Scan(&doc, &from, &fk)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	var sa store.StoredAlert
	if err := json.Unmarshal([]byte(doc), &sa.Alert); err != nil {
		return nil, err
	}
	sa.Status = to
	sa.UpdatedAt = at.UTC()
	nd, _ := json.Marshal(&sa.Alert)
	if _, err := tx.ExecContext(ctx, `UPDATE alerts SET status = $1, doc = $2 WHERE id = $3`, to, string(nd), id); err != nil {
		return nil, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO alert_history (alert_id, at, actor, action, from_status, to_status, reason) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		id, ns(at), actor, action, from, to, reason); err != nil {
		return nil, err
	}
	switch action {
	case "false_positive":
		if _, err := tx.ExecContext(ctx, `INSERT INTO suppressions (fold_key, alert_id, reason, actor, created_at) VALUES ($1, $2, $3, $4, $5)
			ON CONFLICT (fold_key) DO UPDATE SET reason = excluded.reason, actor = excluded.actor`, fk, id, reason, actor, ns(at)); err != nil {
			return nil, err
		}
	case "reopen":
		if _, err := tx.ExecContext(ctx, `DELETE FROM suppressions WHERE fold_key = $1`, fk); err != nil {
			return nil, err
		}
	}
	return &sa, tx.Commit()
}

// ListFindings implements store.Store (sorted by severity), with each
// finding's triage state. Status "verified" lists the findings verified
// fixed (no longer produced, kept with their triage).
func (s *DB) ListFindings(ctx context.Context, f store.FindingFilter) (store.Page[store.StoredFinding], error) {
	var page store.Page[store.StoredFinding]
	cur, err := store.DecodeCursor(f.Cursor, "severity")
	if err != nil {
		return page, err
	}
	limit := store.ClampLimit(f.Limit)
	var a args
	var where []string
	src := `SELECT f.id AS id, f.rule AS rule, f.sev_rank AS sev_rank, f.severity AS severity, f.endpoint_key AS endpoint_key, f.doc AS doc,
		COALESCE(t.status, 'open') AS status, t.reason AS reason, t.actor AS actor, t.expires_at AS expires_at, t.fixed_clock AS fixed_clock, t.updated_at AS t_updated
		FROM findings f LEFT JOIN finding_triage t ON t.finding_id = f.id`
	switch f.Status {
	case "", store.FindingOpen, store.FindingAccepted, store.FindingFixed:
		if f.Status != "" {
			where = append(where, "status = "+a.add(f.Status))
		}
	case store.FindingVerified:
		src = `SELECT t.finding_id AS id, t.rule AS rule, 0 AS sev_rank, '' AS severity, t.endpoint_key AS endpoint_key, t.doc AS doc,
			t.status AS status, t.reason AS reason, t.actor AS actor, t.expires_at AS expires_at, t.fixed_clock AS fixed_clock, t.updated_at AS t_updated
			FROM finding_triage t WHERE t.status = 'verified'`
	default:
		return page, fmt.Errorf("status: %q is not one of open, accepted, fixed, verified", f.Status)
	}
	if f.Rule != "" {
		where = append(where, "rule = "+a.add(f.Rule))
	}
	if len(f.Severities) > 0 && f.Status != store.FindingVerified {
		where = append(where, "severity IN "+a.in(f.Severities))
	}
	if f.Endpoint != "" {
		where = append(where, "endpoint_key = "+a.add(f.Endpoint))
	}
	if cur != nil {
		v := a.add(cur.Num)
		id := a.add(cur.ID)
		where = append(where, fmt.Sprintf("(sev_rank < %s OR (sev_rank = %s AND id > %s))", v, v, id))
	}
	q := `SELECT id, sev_rank, doc, status, reason, actor, expires_at, fixed_clock, t_updated FROM (` + src + `) AS x`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY sev_rank DESC, id ASC LIMIT " + a.add(limit+1)
	rows, err := s.q.QueryContext(ctx, q, a.v...)
	if err != nil {
		return page, err
	}
	defer rows.Close()
	page.Items = []store.StoredFinding{}
	var lastNum int64
	for rows.Next() {
		var id, doc, status string
		var num int64
		var reason, actor sql.NullString
		var exp, fixed, upd sql.NullInt64
		if err := rows.Scan(&id, &num, &doc, &status, &reason, &actor, &exp, &fixed, &upd); err != nil {
			return page, err
		}
		if len(page.Items) == limit {
			page.NextCursor = store.EncodeCursor(store.Cursor{Sort: "severity", Num: lastNum, ID: page.Items[len(page.Items)-1].ID})
			break
		}
		var sf store.StoredFinding
		if err := json.Unmarshal([]byte(doc), &sf.Finding); err != nil {
			return page, err
		}
		sf.Status = status
		if upd.Valid {
			sf.Triage = scanTriage(status, reason.String, actor.String, exp.Int64, fixed.Int64, upd.Int64)
		}
		lastNum = num
		page.Items = append(page.Items, sf)
	}
	return page, rows.Err()
}

// ---- specs ----

// SaveSpec implements store.Store.
func (s *DB) SaveSpec(ctx context.Context, sp store.Spec) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO specs (id, name, sha256, content, uploaded_at, uploaded_by, hosts) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, content = excluded.content, uploaded_at = excluded.uploaded_at, uploaded_by = excluded.uploaded_by, hosts = excluded.hosts`,
		sp.ID, sp.Name, sp.SHA256, sp.Content, ns(sp.UploadedAt), sp.UploadedBy, strings.Join(sp.Hosts, ","))
	return err
}

func (s *DB) specs(ctx context.Context, content bool) ([]store.Spec, error) {
	return s.querySpecs(ctx, s.q, content, ``)
}

func (s *DB) querySpecs(ctx context.Context, db interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, content bool, where string, args ...any) ([]store.Spec, error) {
	rows, err := db.QueryContext(ctx, `SELECT id, name, sha256, content, uploaded_at, uploaded_by, hosts FROM specs `+where+` ORDER BY uploaded_at, id`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []store.Spec{}
	for rows.Next() {
		var sp store.Spec
		var at int64
		var hosts string
		if err := rows.Scan(&sp.ID, &sp.Name, &sp.SHA256, &sp.Content, &at, &sp.UploadedBy, &hosts); err != nil {
			return nil, err
		}
		sp.UploadedAt = fromNS(at)
		sp.Size = len(sp.Content)
		if hosts != "" {
			sp.Hosts = strings.Split(hosts, ",")
		}
		if !content {
			sp.Content = nil
		}
		out = append(out, sp)
	}
	return out, rows.Err()
}

// DeleteSpecs implements store.Store.
func (s *DB) DeleteSpecs(ctx context.Context, nameOrID string) ([]store.Spec, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	del, err := s.querySpecs(ctx, tx, false, `WHERE name = $1 OR id = $1`, nameOrID)
	if err != nil {
		return nil, err
	}
	if len(del) == 0 {
		return nil, store.ErrNotFound
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM specs WHERE name = $1 OR id = $1`, nameOrID); err != nil {
		return nil, err
	}
	return del, tx.Commit()
}

// ListSpecs implements store.Store (without contents).
func (s *DB) ListSpecs(ctx context.Context) ([]store.Spec, error) { return s.specs(ctx, false) }

// SpecContents implements store.Store.
func (s *DB) SpecContents(ctx context.Context) ([]store.Spec, error) { return s.specs(ctx, true) }

// ---- gateway configurations ----

// SaveGatewayConfig implements store.Store.
func (s *DB) SaveGatewayConfig(ctx context.Context, g store.GatewayConfig) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO gateway_configs (id, name, kind, sha256, content, uploaded_at, uploaded_by) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, kind = excluded.kind, content = excluded.content, uploaded_at = excluded.uploaded_at, uploaded_by = excluded.uploaded_by`,
		g.ID, g.Name, g.Kind, g.SHA256, g.Content, ns(g.UploadedAt), g.UploadedBy)
	return err
}

func (s *DB) gatewayConfigs(ctx context.Context, content bool) ([]store.GatewayConfig, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, name, kind, sha256, content, uploaded_at, uploaded_by FROM gateway_configs ORDER BY uploaded_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []store.GatewayConfig{}
	for rows.Next() {
		var g store.GatewayConfig
		var at int64
		if err := rows.Scan(&g.ID, &g.Name, &g.Kind, &g.SHA256, &g.Content, &at, &g.UploadedBy); err != nil {
			return nil, err
		}
		g.UploadedAt = fromNS(at)
		g.Size = len(g.Content)
		if !content {
			g.Content = nil
		}
		out = append(out, g)
	}
	return out, rows.Err()
}

// ListGatewayConfigs implements store.Store (without contents).
func (s *DB) ListGatewayConfigs(ctx context.Context) ([]store.GatewayConfig, error) {
	return s.gatewayConfigs(ctx, false)
}

// GatewayConfigContents implements store.Store.
func (s *DB) GatewayConfigContents(ctx context.Context) ([]store.GatewayConfig, error) {
	return s.gatewayConfigs(ctx, true)
}

// DeleteGatewayConfig implements store.Store.
func (s *DB) DeleteGatewayConfig(ctx context.Context, id string) error {
	res, err := s.db.ExecContext(ctx, `DELETE FROM gateway_configs WHERE id = $1`, id)
	if err != nil {
		return err
	}
	if n, err := res.RowsAffected(); err == nil && n == 0 {
		return store.ErrNotFound
	}
	return err
}

// ---- audit, settings, overview ----

// Audit implements store.Store.
func (s *DB) Audit(ctx context.Context, e store.AuditEntry) error {
	d, err := json.Marshal(e.Detail)
	if err != nil {
		return err
	}
	_, err = s.db.ExecContext(ctx, `INSERT INTO audit_log (at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5)`,
		ns(e.At), e.Actor, e.Action, e.Target, string(d))
	return err
}

// ListAudit implements store.Store (newest first).
func (s *DB) ListAudit(ctx context.Context, limit int, cursor string) (store.Page[store.AuditEntry], error) {
	var page store.Page[store.AuditEntry]
	cur, err := store.DecodeCursor(cursor, "id")
	if err != nil {
		return page, err
	}
	limit = store.ClampLimit(limit)
	var a args
	q := `SELECT id, at, actor, action, target, detail FROM audit_log`
	if cur != nil {
		q += ` WHERE id < ` + a.add(cur.Num)
	}
	q += ` ORDER BY id DESC LIMIT ` + a.add(limit+1)
	rows, err := s.q.QueryContext(ctx, q, a.v...)
	if err != nil {
		return page, err
	}
	defer rows.Close()
	page.Items = []store.AuditEntry{}
	for rows.Next() {
		var e store.AuditEntry
		var at int64
		var d string
		if err := rows.Scan(&e.ID, &at, &e.Actor, &e.Action, &e.Target, &d); err != nil {
			return page, err
		}
		if len(page.Items) == limit {
			page.NextCursor = store.EncodeCursor(store.Cursor{Sort: "id", Num: page.Items[len(page.Items)-1].ID})
			break
		}
		e.At = fromNS(at)
		if d != "" && d != "null" {
			if err := json.Unmarshal([]byte(d), &e.Detail); err != nil {
				return page, err
			}
		}
		page.Items = append(page.Items, e)
	}
	return page, rows.Err()
}

// Setting implements store.Store (ErrNotFound when unset).
func (s *DB) Setting(ctx context.Context, key string) (string, error) {
	var v string
	err := s.db.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = $1`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", store.ErrNotFound
	}
	return v, err
}

// PutSetting implements store.Store.
func (s *DB) PutSetting(ctx context.Context, key, value string, at time.Time) error {
	_, err := s.db.ExecContext(ctx, `INSERT INTO settings (key, value, updated_at) VALUES ($1, $2, $3)
		ON CONFLICT (key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, key, value, ns(at))
	return err
}

// Overview implements store.Store.
func (s *DB) Overview(ctx context.Context) (*store.Overview, error) {
	o := &store.Overview{OpenBySeverity: map[string]int64{}, OpenByOWASP: map[string]int64{}, Traffic: []store.TrafficPoint{}}
	err := s.q.QueryRowContext(ctx, `SELECT COUNT(DISTINCT host), COUNT(*),
		COALESCE(SUM(CASE WHEN authentication = 'none' THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN exposure = 'external' THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN sensitive <> ',,' THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN state = 'shadow' THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN state = 'zombie' THEN 1 ELSE 0 END), 0),
		COALESCE(SUM(CASE WHEN state = 'undocumented' THEN 1 ELSE 0 END), 0)
		FROM endpoints`).Scan(&o.APIs, &o.Endpoints, &o.Unauthenticated, &o.External, &o.Sensitive, &o.Shadow, &o.Zombie, &o.Undocumented)
	if err != nil {
		return nil, err
	}
	if err := s.q.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(CASE WHEN api10 >= 0 THEN 1 ELSE 0 END), 0) FROM outbound_apis`).
		Scan(&o.OutboundAPIs, &o.OutboundRelevant); err != nil {
		return nil, err
	}
	rows, err := s.q.QueryContext(ctx, `SELECT severity, owasp, COUNT(*) FROM alerts WHERE status = 'open' GROUP BY severity, owasp`)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var sev, ow string
		var n int64
		if err := rows.Scan(&sev, &ow, &n); err != nil {
			rows.Close()
			return nil, err
		}
		o.OpenAlerts += n
		o.OpenBySeverity[sev] += n
		for _, c := range strings.Split(strings.Trim(ow, ","), ",") {
			if c != "" {
				o.OpenByOWASP[c] += n
			}
		}
	}
	rows.Close()
	if err := s.q.QueryRowContext(ctx, `SELECT COUNT(*) FROM findings`).Scan(&o.Findings); err != nil {
		return nil, err
	}
	rows, err = s.q.QueryContext(ctx, `SELECT bucket, requests FROM endpoint_traffic WHERE endpoint_id = $1 ORDER BY bucket DESC LIMIT 168`, totalTraffic)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var b, n int64
		if err := rows.Scan(&b, &n); err != nil {
			rows.Close()
			return nil, err
		}
		o.Traffic = append(o.Traffic, store.TrafficPoint{Time: time.Unix(b, 0).UTC(), Requests: n})
	}
	rows.Close()
	for i, j := 0, len(o.Traffic)-1; i < j; i, j = i+1, j-1 {
		o.Traffic[i], o.Traffic[j] = o.Traffic[j], o.Traffic[i]
	}
	if v, err := s.Setting(ctx, "sys.event_clock"); err == nil {
		if n, _ := strconv.ParseInt(v, 10, 64); n > 0 {
			t := fromNS(n)
			o.EventClock = &t
		}
	}
	if v, err := s.Setting(ctx, "sys.records_processed"); err == nil {
		o.RecordsProcessed, _ = strconv.ParseInt(v, 10, 64)
	}
	if v, err := s.Setting(ctx, "sys.last_snapshot"); err == nil {
		if n, _ := strconv.ParseInt(v, 10, 64); n > 0 {
			t := fromNS(n)
			o.LastSnapshotWallUTC = &t
		}
	}
	return o, nil
}

// ---- privacy ----

// ApplyRetention implements store.Store.
func (s *DB) ApplyRetention(ctx context.Context, p store.RetentionPolicy, eventNow, wallNow time.Time, pseudo func(string) string) (store.RetentionResult, error) {
	var r store.RetentionResult
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return r, err
	}
	defer tx.Rollback()
	// expired: older than d by the event clock or by the wall clock.
	cut := func(d time.Duration) (int64, int64) {
		ev := int64(-1 << 63)
		if !eventNow.IsZero() {
			ev = ns(eventNow.Add(-d))
		}
		return ev, ns(wallNow.Add(-d))
	}
	if p.Alerts > 0 {
		ev, wall := cut(p.Alerts)
		res, err := tx.ExecContext(ctx, `DELETE FROM alerts WHERE last_seen < $1 OR updated_at < $2`, ev, wall)
		if err != nil {
			return r, err
		}
		r.AlertsDeleted, _ = res.RowsAffected()
		if _, err := tx.ExecContext(ctx, `DELETE FROM alert_history WHERE alert_id NOT IN (SELECT id FROM alerts)`); err != nil {
			return r, err
		}
		// Traffic buckets are aggregate counts keyed by event time: they
		// expire by the event clock only.
		if !eventNow.IsZero() {
			if _, err := tx.ExecContext(ctx, `DELETE FROM endpoint_traffic WHERE bucket < $1`, eventNow.Add(-p.Alerts).Unix()); err != nil {
				return r, err
			}
		}
	}
	if p.ClientIPs > 0 {
		ev, wall := cut(p.ClientIPs)
		rows, err := tx.QueryContext(ctx, `SELECT id, client_ip, doc FROM alerts WHERE ip_pseudonymized = 0 AND (last_seen < $1 OR updated_at < $2)`, ev, wall)
		if err != nil {
			return r, err
		}
		type upd struct{ id, ip, doc string }
		var ups []upd
		for rows.Next() {
			var u upd
			if err := rows.Scan(&u.id, &u.ip, &u.doc); err != nil {
				rows.Close()
				return r, err
			}
			ups = append(ups, u)
		}
		rows.Close()
		expired := map[string]bool{} // addresses pseudonymized in this run
		for _, u := range ups {
			var a model.Alert
			if err := json.Unmarshal([]byte(u.doc), &a); err != nil {
				return r, fmt.Errorf("store: alert %s: corrupt document: %w", u.id, err)
			}
			newIP := u.ip
			if a.Client != nil && a.Client.IP != "" {
				expired[a.Client.IP] = true
				a.Client.IP = pseudo(a.Client.IP)
				newIP = a.Client.IP
			}
			for i := range a.Evidence.Samples {
				if c := a.Evidence.Samples[i].Client; c != "" {
					expired[c] = true
					a.Evidence.Samples[i].Client = pseudo(c)
				}
			}
			for i := range a.Clients {
				expired[a.Clients[i].IP] = true
				a.Clients[i].IP = pseudo(a.Clients[i].IP)
			}
			nd, _ := json.Marshal(&a)
			if _, err := tx.ExecContext(ctx, `UPDATE alerts SET client_ip = $1, doc = $2, ip_pseudonymized = 1 WHERE id = $3`, newIP, string(nd), u.id); err != nil {
				return r, err
			}
			r.AlertsPseudonymize++
		}
		delete(expired, "")
		if err := pseudonymizeText(ctx, tx, s.d, expired, pseudo); err != nil {
			return r, err
		}
		if r.SubjectsDeleted, err = subjectRetention(ctx, tx, ev, wall); err != nil {
			return r, err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM tombstones WHERE created_at < $1`, wall)
		if err != nil {
			return r, err
		}
		r.TombstonesDeleted, _ = res.RowsAffected()
	}
	if p.Audit > 0 {
		res, err := tx.ExecContext(ctx, `DELETE FROM audit_log WHERE at < $1`, ns(wallNow.Add(-p.Audit)))
		if err != nil {
			return r, err
		}
		r.AuditDeleted, _ = res.RowsAffected()
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at < $1`, ns(wallNow)); err != nil {
		return r, err
	}
	if err := tx.Commit(); err != nil {
		return r, err
	}
	if r != (store.RetentionResult{}) {
		return r, s.scrub(ctx, false, retentionTables)
	}
	return r, nil
}

func (s *DB) erase(ctx context.Context, col string, vals []string, tomb string, at time.Time, ips []string) (store.EraseResult, error) {
	var r store.EraseResult
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return r, err
	}
	defer tx.Rollback()
	for _, val := range vals {
		if _, err := tx.ExecContext(ctx, `DELETE FROM alert_history WHERE alert_id IN (SELECT id FROM alerts WHERE `+col+` = $1)`, val); err != nil {
			return r, err
		}
		// Suppressions of the subject's alerts: their fold key hashes the
		// subject, their reason is the analyst's words about it.
		if _, err := tx.ExecContext(ctx, `DELETE FROM suppressions WHERE alert_id IN (SELECT id FROM alerts WHERE `+col+` = $1)
			OR fold_key IN (SELECT fold_key FROM alerts WHERE `+col+` = $1)`, val); err != nil {
			return r, err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM alerts WHERE `+col+` = $1`, val)
		if err != nil {
			return r, err
		}
		n, _ := res.RowsAffected()
		r.AlertsDeleted += n
	}
	isIP := map[string]bool{}
	for _, ip := range ips {
		isIP[ip] = true
	}
	for _, ip := range ips {
		// Samples of other alerts (endpoint or identity subjects) that name the IP.
		rows, err := tx.QueryContext(ctx, `SELECT id, doc FROM alerts WHERE `+s.d.contains("doc", "$1"), `"`+ip+`"`)
		if err != nil {
			return r, err
		}
		type upd struct{ id, doc string }
		var ups []upd
		for rows.Next() {
			var u upd
			if err := rows.Scan(&u.id, &u.doc); err != nil {
				rows.Close()
				return r, err
			}
			ups = append(ups, u)
		}
		rows.Close()
		for _, u := range ups {
			var a model.Alert
			if err := json.Unmarshal([]byte(u.doc), &a); err != nil {
				return r, err
			}
			kept := a.Evidence.Samples[:0]
			for _, smp := range a.Evidence.Samples {
				if isIP[smp.Client] {
					r.SamplesRemoved++
					continue
				}
				kept = append(kept, smp)
			}
			a.Evidence.Samples = kept
			keptC := a.Clients[:0]
			for _, c := range a.Clients {
				if isIP[c.IP] {
					a.ClientsOther += c.Count // the events stay counted, the address goes
					if c.New {
						a.ClientsOtherNew += c.Count
					}
					continue
				}
				keptC = append(keptC, c)
			}
			a.Clients = keptC
			nd, _ := json.Marshal(&a)
			if _, err := tx.ExecContext(ctx, `UPDATE alerts SET doc = $1 WHERE id = $2`, string(nd), u.id); err != nil {
				return r, err
			}
		}
	}
	// The analysts' free text (triage reasons, audit details) may name
	// the subject too.
	if err := redactText(ctx, tx, s.d, vals); err != nil {
		return r, err
	}
	kind, sids := "identity", vals
	if len(ips) > 0 {
		kind, sids = "client", ips
	}
	for _, sid := range sids {
		n, err := eraseSubjects(ctx, tx, s.d, kind, sid, at)
		if err != nil {
			return r, err
		}
		r.SubjectsErased += n
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO tombstones (key, created_at) VALUES ($1, $2) ON CONFLICT (key) DO UPDATE SET created_at = excluded.created_at`, tomb, ns(at)); err != nil {
		return r, err
	}
	if err := tx.Commit(); err != nil {
		return r, err
	}
	return r, s.scrub(ctx, true, erasureTables)
}

// Tables whose rows an erasure deletes or rewrites, and those a retention
// run deletes from or rewrites.
var (
	erasureTables   = []string{"alerts", "alert_history", "suppressions", "audit_log", "subjects", "subject_endpoints", "finding_triage", "finding_history"}
	retentionTables = []string{"alerts", "alert_history", "suppressions", "audit_log", "endpoint_traffic", "tombstones", "sessions",
		"subjects", "subject_endpoints", "finding_triage", "finding_history"}
)

// scrub makes deleted content unrecoverable as far as the database allows
// (Dialect: SQLite zeroes freed pages and empties its -wal file;
// PostgreSQL rewrites the tables after an erasure).
func (s *DB) scrub(ctx context.Context, erase bool, tables []string) error {
	if s.d.scrub == nil {
		return fmt.Errorf("store: %s dialect without a scrub (open PostgreSQL with store/postgres)", s.d.Name)
	}
	return s.d.scrub(ctx, s.db.DB, erase, tables)
}

// ipSpellings returns ip (canonical) and every other spelling of the same
// address stored in alerts.client_ip (data stored before client addresses
// were canonicalized at ingest: IPv4-mapped IPv6, non-canonical IPv6).
func (s *DB) ipSpellings(ctx context.Context, ip string) ([]string, error) {
	out := []string{ip}
	want, err := netip.ParseAddr(ip)
	if err != nil {
		return out, nil
	}
	rows, err := s.db.QueryContext(ctx, `SELECT DISTINCT client_ip FROM alerts WHERE `+s.d.contains("client_ip", "':'"))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var v string
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		if a, err := netip.ParseAddr(v); err == nil && v != ip && a.Unmap().WithZone("") == want {
			out = append(out, v)
		}
	}
	return out, rows.Err()
}

// EraseClientIP implements store.Store: alerts about the IP (in any
// spelling) are deleted, samples naming it are removed from other alerts,
// a tombstone (a keyed hash, never the IP) keeps the engine's in-memory
// state from writing it back, and the deleted content is scrubbed from the
// files.
func (s *DB) EraseClientIP(ctx context.Context, ip, tomb string, at time.Time) (store.EraseResult, error) {
	ips, err := s.ipSpellings(ctx, ip)
	if err != nil {
		return store.EraseResult{}, err
	}
	return s.erase(ctx, "client_ip", ips, tomb, at, ips)
}

// EraseIdentity implements store.Store.
func (s *DB) EraseIdentity(ctx context.Context, id, tomb string, at time.Time) (store.EraseResult, error) {
	return s.erase(ctx, "identity_id", []string{id}, tomb, at, nil)
}

// Tombstoned implements store.Store.
func (s *DB) Tombstoned(ctx context.Context, keys []string) (map[string]bool, error) {
	out := map[string]bool{}
	if len(keys) == 0 {
		return out, nil
	}
	// In chunks: both databases bound the number of parameters of a
	// statement (SQLite 32766, PostgreSQL 65535).
	for len(keys) > 0 {
		n := min(len(keys), maxInList)
		var a args
		rows, err := s.db.QueryContext(ctx, `SELECT key FROM tombstones WHERE key IN `+a.in(keys[:n]), a.v...)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var k string
			if err := rows.Scan(&k); err != nil {
				rows.Close()
				return nil, err
			}
			out[k] = true
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, err
		}
		keys = keys[n:]
	}
	return out, nil
}

// maxInList is the most values bound in one IN list.
const maxInList = 1000
