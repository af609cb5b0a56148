package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/palisade-sec/palisade/internal/activity"
	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/store"
)

// execer is what a transaction and the database have in common.
type execer interface {
	ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row
}

// ---- subjects ----

// jsonString returns the member "key":"v" as encoding/json writes it in
// the stored documents (v escaped the same way), for substring search.
func jsonString(key, v string) string {
	b, _ := json.Marshal(v)
	return `"` + key + `":` + string(b)
}

func peerOldest(a *model.SubjectActivity) int64 {
	var o int64
	for _, ps := range [][]model.SubjectPeer{a.Addresses, a.Identities} {
		for _, p := range ps {
			if n := ns(p.LastSeen); o == 0 || n < o {
				o = n
			}
		}
	}
	return o
}

func loadSubject(ctx context.Context, q execer, kind, id string) (*model.SubjectActivity, int64, error) {
	var doc string
	var upd int64
	err := q.QueryRowContext(ctx, `SELECT doc, updated_at FROM subjects WHERE kind = $1 AND id = $2`, kind, id).Scan(&doc, &upd)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, 0, store.ErrNotFound
	}
	if err != nil {
		return nil, 0, err
	}
	var a model.SubjectActivity
	if err := json.Unmarshal([]byte(doc), &a); err != nil {
		return nil, 0, fmt.Errorf("store: subject %s %s: corrupt document: %w", kind, id, err)
	}
	return &a, upd, nil
}

func putSubject(ctx context.Context, q execer, a *model.SubjectActivity, wallNow time.Time) error {
	doc, err := json.Marshal(a)
	if err != nil {
		return err
	}
	_, err = q.ExecContext(ctx, `INSERT INTO subjects (kind, id, name, first_seen, last_seen, requests, peer_oldest, doc, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
		ON CONFLICT (kind, id) DO UPDATE SET name = excluded.name, first_seen = excluded.first_seen, last_seen = excluded.last_seen,
			requests = excluded.requests, peer_oldest = excluded.peer_oldest, doc = excluded.doc, updated_at = excluded.updated_at`,
		a.Kind, a.ID, a.Name, ns(a.FirstSeen), ns(a.LastSeen), activity.Requests(a), peerOldest(a), string(doc), ns(wallNow))
	if err != nil {
		return err
	}
	if _, err := q.ExecContext(ctx, `DELETE FROM subject_endpoints WHERE kind = $1 AND id = $2`, a.Kind, a.ID); err != nil {
		return err
	}
	for _, e := range a.Endpoints {
		if _, err := q.ExecContext(ctx, `INSERT INTO subject_endpoints (endpoint_key, kind, id, requests, errors, last_seen) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (endpoint_key, kind, id) DO UPDATE SET requests = excluded.requests, errors = excluded.errors, last_seen = excluded.last_seen`,
			e.Key(), a.Kind, a.ID, e.Requests, e.Errors, ns(e.LastSeen)); err != nil {
			return err
		}
	}
	return nil
}

// EndpointSubjects implements store.Store: the stored subjects that called
// an endpoint, most requests to it first.
func (s *DB) EndpointSubjects(ctx context.Context, key string, limit int) ([]store.EndpointSubject, error) {
	limit = store.ClampLimit(limit)
	rows, err := s.q.QueryContext(ctx, `SELECT e.kind, e.id, s.name, e.requests, e.errors, e.last_seen FROM subject_endpoints e
		JOIN subjects s ON s.kind = e.kind AND s.id = e.id WHERE e.endpoint_key = $1 ORDER BY e.requests DESC, e.kind, e.id LIMIT $2`, key, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []store.EndpointSubject{}
	for rows.Next() {
		var x store.EndpointSubject
		var last int64
		if err := rows.Scan(&x.Kind, &x.ID, &x.Name, &x.Requests, &x.Errors, &last); err != nil {
			return nil, err
		}
		x.LastSeen = fromNS(last)
		out = append(out, x)
	}
	return out, rows.Err()
}

// saveSubjects merges the snapshot's subject summaries into the table.
func saveSubjects(ctx context.Context, tx execer, subs []model.SubjectActivity, wallNow time.Time) error {
	for i := range subs {
		cur := subs[i]
		if cur.Kind != "client" && cur.Kind != "identity" || cur.ID == "" {
			return fmt.Errorf("store: subject %q %q: kind must be client or identity, id not empty", cur.Kind, cur.ID)
		}
		old, _, err := loadSubject(ctx, tx, cur.Kind, cur.ID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
		m := cur
		if old != nil {
			m = activity.Merge(*old, cur, activity.Config{})
		}
		if err := putSubject(ctx, tx, &m, wallNow); err != nil {
			return err
		}
	}
	return nil
}

// ListSubjects implements store.Store: newest activity first (keyset on
// last_seen DESC, then kind and id).
func (s *DB) ListSubjects(ctx context.Context, f store.SubjectFilter) (store.Page[store.SubjectRow], error) {
	if f.Kind != "" && f.Kind != "client" && f.Kind != "identity" {
		return store.Page[store.SubjectRow]{}, fmt.Errorf("kind: %q is not one of client, identity", f.Kind)
	}
	var a args
	var where []string
	if f.Kind != "" {
		where = append(where, "kind = "+a.add(f.Kind))
	}
	if f.Q != "" {
		// ASCII case folding, as the endpoint search (asciiLower).
		p := a.add(asciiLower(f.Q))
		where = append(where, "("+s.d.contains("LOWER(sid)", p)+" OR "+s.d.contains("LOWER(name)", p)+")")
	}
	// The page key is "kind id"; the document the row.
	table := `(SELECT kind || ' ' || id AS id, id AS sid, kind, name, last_seen,
		` + s.d.jsonObject + `('kind', kind, 'id', id, 'name', name, 'first_seen', first_seen, 'last_seen', last_seen, 'requests', requests) AS doc FROM subjects) AS s`
	return keysetPage(ctx, s.q, table, "last_seen", "last_seen", f.Cursor, f.Limit, where, &a, func(_, doc string) (store.SubjectRow, error) {
		var r struct {
			Kind, ID, Name string
			F              int64 `json:"first_seen"`
			L              int64 `json:"last_seen"`
			Requests       int64 `json:"requests"`
		}
		if err := json.Unmarshal([]byte(doc), &r); err != nil {
			return store.SubjectRow{}, err
		}
		return store.SubjectRow{Kind: r.Kind, ID: r.ID, Name: r.Name, FirstSeen: fromNS(r.F), LastSeen: fromNS(r.L), Requests: r.Requests}, nil
	})
}

// Subject implements store.Store.
func (s *DB) Subject(ctx context.Context, kind, id string) (*store.SubjectDetail, error) {
	a, upd, err := loadSubject(ctx, s.q, kind, id)
	if err != nil {
		return nil, err
	}
	d := &store.SubjectDetail{SubjectActivity: *a, Requests: activity.Requests(a), UpdatedAt: fromNS(upd), EndpointData: []store.SubjectDataClass{}}
	byType := map[string][]string{}
	for _, e := range a.Endpoints {
		if e.Requests <= e.Errors {
			continue // never answered successfully: returned no data
		}
		var doc string
		err := s.q.QueryRowContext(ctx, `SELECT doc FROM endpoints WHERE id = $1`, EndpointID(e.EndpointRef)).Scan(&doc)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, err
		}
		var ep model.Endpoint
		if err := json.Unmarshal([]byte(doc), &ep); err != nil {
			return nil, err
		}
		seen := map[string]bool{}
		for _, sd := range ep.SensitiveData {
			if strings.HasPrefix(sd.Location, "response.") && !sd.Masked && !seen[sd.Type] {
				seen[sd.Type] = true
				byType[sd.Type] = append(byType[sd.Type], e.Key())
			}
		}
	}
	for t, eps := range byType {
		sort.Strings(eps)
		d.EndpointData = append(d.EndpointData, store.SubjectDataClass{Type: t, Endpoints: eps})
	}
	sort.Slice(d.EndpointData, func(i, j int) bool { return d.EndpointData[i].Type < d.EndpointData[j].Type })
	return d, nil
}

// eraseSubjects removes a subject and its mentions as a peer of others.
func eraseSubjects(ctx context.Context, tx execer, d *Dialect, kind, id string, at time.Time) (int64, error) {
	res, err := tx.ExecContext(ctx, `DELETE FROM subjects WHERE kind = $1 AND id = $2`, kind, id)
	if err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	if _, err := tx.ExecContext(ctx, `DELETE FROM subject_endpoints WHERE kind = $1 AND id = $2`, kind, id); err != nil {
		return n, err
	}
	other := "identity"
	if kind == "identity" {
		other = "client"
	}
	rows, err := tx.QueryContext(ctx, `SELECT id FROM subjects WHERE kind = $1 AND `+d.contains("doc", "$2"), other, jsonString("id", id))
	if err != nil {
		return n, err
	}
	var ids []string
	for rows.Next() {
		var x string
		if err := rows.Scan(&x); err != nil {
			rows.Close()
			return n, err
		}
		ids = append(ids, x)
	}
	rows.Close()
	for _, x := range ids {
		a, upd, err := loadSubject(ctx, tx, other, x)
		if err != nil {
			return n, err
		}
		if activity.DropPeer(a, id) {
			if err := putSubject(ctx, tx, a, fromNS(upd)); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

// subjectRetention deletes the summaries last active before the client
// address period (by event or wall clock), drops peers last seen before
// it from the others, and keeps at most store.MaxSubjectRows per kind.
func subjectRetention(ctx context.Context, tx execer, ev, wall int64) (int64, error) {
	res, err := tx.ExecContext(ctx, `DELETE FROM subjects WHERE last_seen < $1 OR updated_at < $2`, ev, wall)
	if err != nil {
		return 0, err
	}
	n, _ := res.RowsAffected()
	for _, kind := range []string{"client", "identity"} {
		res, err := tx.ExecContext(ctx, `DELETE FROM subjects WHERE kind = $1 AND id IN (SELECT id FROM subjects WHERE kind = $1
			ORDER BY last_seen DESC, id LIMIT 9223372036854775807 OFFSET $2)`, kind, store.MaxSubjectRows)
		if err != nil {
			return n, err
		}
		k, _ := res.RowsAffected()
		n += k
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM subject_endpoints WHERE NOT EXISTS
		(SELECT 1 FROM subjects s WHERE s.kind = subject_endpoints.kind AND s.id = subject_endpoints.id)`); err != nil {
		return n, err
	}
	cut := max(ev, 0)
	rows, err := tx.QueryContext(ctx, `SELECT kind, id FROM subjects WHERE peer_oldest > 0 AND peer_oldest < $1`, cut)
	if err != nil {
		return n, err
	}
	type kid struct{ kind, id string }
	var todo []kid
	for rows.Next() {
		var k kid
		if err := rows.Scan(&k.kind, &k.id); err != nil {
			rows.Close()
			return n, err
		}
		todo = append(todo, k)
	}
	rows.Close()
	for _, k := range todo {
		a, upd, err := loadSubject(ctx, tx, k.kind, k.id)
		if err != nil {
			return n, err
		}
		if activity.DropPeersBefore(a, fromNS(cut)) > 0 {
			if err := putSubject(ctx, tx, a, fromNS(upd)); err != nil {
				return n, err
			}
		}
	}
	return n, nil
}

// ---- probes and API changes ----

func saveProbesAndChanges(ctx context.Context, tx execer, rep *model.Report) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM probes`); err != nil {
		return err
	}
	for _, p := range rep.Probes {
		id := EndpointID(model.EndpointRef{Host: p.Host, Method: p.Method, Path: p.Path})
		if _, err := tx.ExecContext(ctx, `INSERT INTO probes (id, host, method, path, requests, reason) VALUES ($1, $2, $3, $4, $5, $6)
			ON CONFLICT (id) DO UPDATE SET requests = excluded.requests, reason = excluded.reason`, id, p.Host, p.Method, p.Path, p.Requests, p.Reason); err != nil {
			return err
		}
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM api_changes`); err != nil {
		return err
	}
	for _, c := range rep.APIChange {
		doc, err := json.Marshal(c)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(doc)
		if _, err := tx.ExecContext(ctx, `INSERT INTO api_changes (id, at, endpoint_key, doc) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING`,
			"ac_"+hex.EncodeToString(sum[:8]), ns(c.Time), c.Endpoint.Key(), string(doc)); err != nil {
			return err
		}
	}
	return nil
}

// ListProbes implements store.Store (most requests first).
func (s *DB) ListProbes(ctx context.Context, f store.ProbeFilter) (store.Page[model.Probe], error) {
	var page store.Page[model.Probe]
	cur, err := store.DecodeCursor(f.Cursor, "requests")
	if err != nil {
		return page, err
	}
	limit := store.ClampLimit(f.Limit)
	var a args
	var where []string
	if f.Reason != "" {
		where = append(where, "reason = "+a.add(f.Reason))
	}
	if f.Q != "" {
		p := a.add(asciiLower(f.Q))
		where = append(where, "("+s.d.contains("LOWER(host)", p)+" OR "+s.d.contains("LOWER(path)", p)+")")
	}
	if cur != nil {
		v := a.add(cur.Num)
		id := a.add(cur.ID)
		where = append(where, fmt.Sprintf("(requests < %s OR (requests = %s AND id > %s))", v, v, id))
	}
	q := `SELECT id, host, method, path, requests, reason FROM probes`
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY requests DESC, id ASC LIMIT " + a.add(limit+1)
	rows, err := s.q.QueryContext(ctx, q, a.v...)
	if err != nil {
		return page, err
	}
	defer rows.Close()
	page.Items = []model.Probe{}
	var lastID string
	for rows.Next() {
		var id string
		var p model.Probe
		if err := rows.Scan(&id, &p.Host, &p.Method, &p.Path, &p.Requests, &p.Reason); err != nil {
			return page, err
		}
		if len(page.Items) == limit {
			page.NextCursor = store.EncodeCursor(store.Cursor{Sort: "requests", Num: page.Items[len(page.Items)-1].Requests, ID: lastID})
			break
		}
		lastID = id
		page.Items = append(page.Items, p)
	}
	return page, rows.Err()
}

// ListAPIChanges implements store.Store (newest first).
func (s *DB) ListAPIChanges(ctx context.Context, limit int, cursor string) (store.Page[model.APIChange], error) {
	return keysetPage(ctx, s.q, "api_changes", "at", "time", cursor, limit, nil, &args{}, func(_, doc string) (model.APIChange, error) {
		var c model.APIChange
		err := json.Unmarshal([]byte(doc), &c)
		return c, err
	})
}

// ---- finding triage ----

func findingHistory(ctx context.Context, tx execer, id string, at time.Time, actor, action, from, to, reason string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO finding_history (finding_id, at, actor, action, from_status, to_status, reason) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		id, ns(at), actor, action, from, to, reason)
	return err
}

func scanTriage(status, reason, actor string, exp, fixed, upd int64) *store.FindingTriage {
	t := &store.FindingTriage{Status: status, Reason: reason, Actor: actor, UpdatedAt: fromNS(upd)}
	if exp > 0 {
		x := fromNS(exp)
		t.ExpiresAt = &x
	}
	if fixed > 0 {
		x := fromNS(fixed)
		t.FixedClock = &x
	}
	return t
}

// Finding implements store.Store: a current finding, or one whose triage
// row remains (verified fixed), with its history.
func (s *DB) Finding(ctx context.Context, id string) (*store.StoredFinding, []store.TriageEvent, error) {
	var doc sql.NullString
	var tdoc, status, reason, actor sql.NullString
	var exp, fixed, upd sql.NullInt64
	err := s.q.QueryRowContext(ctx, `SELECT f.doc, t.doc, t.status, t.reason, t.actor, t.expires_at, t.fixed_clock, t.updated_at
		FROM (SELECT CAST($1 AS TEXT) AS id) AS k LEFT JOIN findings f ON f.id = k.id LEFT JOIN finding_triage t ON t.finding_id = k.id`, id).
		Scan(&doc, &tdoc, &status, &reason, &actor, &exp, &fixed, &upd)
	if err != nil {
		return nil, nil, err
	}
	if !doc.Valid && !tdoc.Valid {
		return nil, nil, store.ErrNotFound
	}
	var sf store.StoredFinding
	src := doc.String
	if !doc.Valid {
		src = tdoc.String
	}
	if err := json.Unmarshal([]byte(src), &sf.Finding); err != nil {
		return nil, nil, fmt.Errorf("store: finding %s: corrupt document: %w", id, err)
	}
	sf.Status = store.FindingOpen
	if status.Valid {
		sf.Triage = scanTriage(status.String, reason.String, actor.String, exp.Int64, fixed.Int64, upd.Int64)
		sf.Status = status.String
	}
	hist, err := s.history(ctx, "finding_history", "finding_id", id)
	if err != nil {
		return nil, nil, err
	}
	return &sf, hist, nil
}

// TriageFinding implements store.Store. accept_risk needs a reason and an
// expiry in the future; mark_fixed records the event clock, so that the
// first later analysis of traffic verifies or reopens it (see
// findingTriageAtSnapshot); reopen returns it to open.
func (s *DB) TriageFinding(ctx context.Context, id, action, actor, reason string, expires, at time.Time) (*store.StoredFinding, error) {
	to, ok := store.FindingActions[action]
	if !ok {
		return nil, fmt.Errorf("action: unknown %q (accept_risk, mark_fixed, reopen)", action)
	}
	if action == "accept_risk" {
		if strings.TrimSpace(reason) == "" {
			return nil, fmt.Errorf("reason: required to accept a risk")
		}
		if !expires.After(at) {
			return nil, fmt.Errorf("expires_at: must be in the future to accept a risk")
		}
	} else {
		expires = time.Time{}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	var doc string
	err = tx.QueryRowContext(ctx, `SELECT doc FROM findings WHERE id = $1`, id).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		err = tx.QueryRowContext(ctx, `SELECT doc FROM finding_triage WHERE finding_id = $1`, id).Scan(&doc)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	var f model.Finding
	if err := json.Unmarshal([]byte(doc), &f); err != nil {
		return nil, err
	}
	from := store.FindingOpen
	var old string
	if err := tx.QueryRowContext(ctx, `SELECT status FROM finding_triage WHERE finding_id = $1`, id).Scan(&old); err == nil {
		from = old
	}
	var clock int64
	if action == "mark_fixed" {
		if v, err := settingTx(ctx, tx, "sys.event_clock"); err == nil {
			fmt.Sscan(v, &clock)
		}
	}
	ek := ""
	if f.Endpoint != nil {
		ek = f.Endpoint.Key()
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO finding_triage (finding_id, rule, endpoint_key, status, reason, actor, expires_at, fixed_clock, doc, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (finding_id) DO UPDATE SET status = excluded.status, reason = excluded.reason, actor = excluded.actor,
			expires_at = excluded.expires_at, fixed_clock = excluded.fixed_clock, doc = excluded.doc, updated_at = excluded.updated_at`,
		id, f.Rule, ek, to, reason, actor, ns(expires), clock, doc, ns(at)); err != nil {
		return nil, err
	}
	if err := findingHistory(ctx, tx, id, at, actor, action, from, to, reason); err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, err
	}
	sf, _, err := s.Finding(ctx, id)
	return sf, err
}

func settingTx(ctx context.Context, tx execer, key string) (string, error) {
	var v string
	err := tx.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = $1`, key).Scan(&v)
	return v, err
}

// findingTriageAtSnapshot applies the snapshot to the triage states (after
// the snapshot's findings are in the findings table):
//   - an accepted risk whose expiry passed (wall clock) reopens;
//   - a fixed finding is judged by the first snapshot whose event clock
//     is past the fix and, for a finding on an endpoint, that saw traffic
//     on the endpoint after the fix: still produced → reopened, no longer
//     produced → verified;
//   - a verified finding produced again reopens.
//
// Every change is written to the history with actor "system".
func findingTriageAtSnapshot(ctx context.Context, tx execer, eventClock, wallNow time.Time) error {
	type row struct {
		id, status, ek string
		exp, fixed     int64
		present        bool
	}
	rows, err := tx.QueryContext(ctx, `SELECT t.finding_id, t.status, t.endpoint_key, t.expires_at, t.fixed_clock, f.id IS NOT NULL
		FROM finding_triage t LEFT JOIN findings f ON f.id = t.finding_id WHERE t.status IN ('accepted', 'fixed', 'verified')`)
	if err != nil {
		return err
	}
	var todo []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.status, &r.ek, &r.exp, &r.fixed, &r.present); err != nil {
			rows.Close()
			return err
		}
		todo = append(todo, r)
	}
	rows.Close()
	set := func(r row, to, action, reason string) error {
		if _, err := tx.ExecContext(ctx, `UPDATE finding_triage SET status = $1, updated_at = $2 WHERE finding_id = $3`, to, ns(wallNow), r.id); err != nil {
			return err
		}
		if to == store.FindingOpen || to == store.FindingVerified {
			// Keep the document of the finding as last produced.
			if _, err := tx.ExecContext(ctx, `UPDATE finding_triage SET doc = (SELECT doc FROM findings WHERE id = $1) WHERE finding_id = $1 AND EXISTS (SELECT 1 FROM findings WHERE id = $1)`, r.id); err != nil {
				return err
			}
		}
		return findingHistory(ctx, tx, r.id, wallNow, "system", action, r.status, to, reason)
	}
	for _, r := range todo {
		switch r.status {
		case store.FindingAccepted:
			if r.exp > 0 && r.exp < ns(wallNow) {
				if err := set(r, store.FindingOpen, "expire", "risk acceptance expired"); err != nil {
					return err
				}
			}
		case store.FindingFixed:
			if eventClock.IsZero() || ns(eventClock) <= r.fixed {
				continue // no traffic analysed since the fix
			}
			if r.present {
				if r.ek != "" {
					var last int64
					err := tx.QueryRowContext(ctx, `SELECT last_seen FROM endpoints WHERE method || ' ' || host || path = $1`, r.ek).Scan(&last)
					if err != nil && !errors.Is(err, sql.ErrNoRows) {
						return err
					}
					if last <= r.fixed {
						continue // the endpoint has not been called since the fix
					}
				}
				if err := set(r, store.FindingOpen, "reopen", "still produced by the analysis of traffic after the fix"); err != nil {
					return err
				}
			} else if err := set(r, store.FindingVerified, "verify", "no longer produced by the analysis after the fix"); err != nil {
				return err
			}
		case store.FindingVerified:
			if r.present {
				if err := set(r, store.FindingOpen, "reopen", "produced again after it was verified fixed"); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// FindingGroups implements store.Store: current findings grouped by rule
// or by endpoint, with their triage statuses, highest severity first.
func (s *DB) FindingGroups(ctx context.Context, by string) ([]store.FindingGroup, error) {
	col := map[string]string{"rule": "f.rule", "endpoint": "f.endpoint_key"}[by]
	if col == "" {
		return nil, fmt.Errorf("by: %q is not one of rule, endpoint", by)
	}
	rows, err := s.q.QueryContext(ctx, `SELECT `+col+`, f.sev_rank, f.severity, COALESCE(t.status, 'open'), f.doc
		FROM findings f LEFT JOIN finding_triage t ON t.finding_id = f.id ORDER BY `+col+`, f.id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	idx := map[string]int{}
	var out []store.FindingGroup
	for rows.Next() {
		var key, sev, status, doc string
		var rank int64
		if err := rows.Scan(&key, &rank, &sev, &status, &doc); err != nil {
			return nil, err
		}
		i, ok := idx[key]
		if !ok {
			i = len(out)
			idx[key] = i
			title := key
			if by == "rule" {
				var f model.Finding
				if json.Unmarshal([]byte(doc), &f) == nil {
					title = f.Title
				}
			}
			out = append(out, store.FindingGroup{Key: key, Title: title, Severity: sev, Statuses: map[string]int{}})
		}
		g := &out[i]
		g.Count++
		g.Statuses[status]++
		if int64(model.SeverityRank(g.Severity)) < rank {
			g.Severity = sev
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := model.SeverityRank(out[i].Severity), model.SeverityRank(out[j].Severity)
		if a != b {
			return a > b
		}
		if out[i].Count != out[j].Count {
			return out[i].Count > out[j].Count
		}
		return out[i].Key < out[j].Key
	})
	if out == nil {
		out = []store.FindingGroup{}
	}
	return out, rows.Err()
}
