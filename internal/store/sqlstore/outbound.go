package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/palisade-sec/palisade/internal/model"
	"github.com/palisade-sec/palisade/internal/store"
)

// OutboundID is the stable identifier of a third-party API in the API.
func OutboundID(host string) string {
	sum := sha256.Sum256([]byte("outbound " + host))
	return "ob_" + hex.EncodeToString(sum[:8])
}

// api10Rank is the sort key of a third-party API: the severity rank of its
// API10 relevance, -1 when it is not relevant.
func api10Rank(o *model.OutboundAPI) int64 {
	if !o.API10.Relevant {
		return -1
	}
	return int64(max(model.SeverityRank(o.API10.Severity), 0))
}

// saveOutbound upserts the snapshot's third-party APIs and keeps the two
// lists apart: a host the snapshot lists as a third party loses its
// endpoint rows (and their traffic series), stored before outbound calls
// had their own section or while its only calls were ours; a host that
// is an API of ours in the snapshot loses its third-party row. Rows are
// otherwise never deleted by a snapshot (as endpoints).
func saveOutbound(ctx context.Context, tx *tx, r *model.Report, wallNow time.Time) error {
	up, err := tx.PrepareContext(ctx, `INSERT INTO outbound_apis (id, host, destination, api10, requests, last_seen, doc, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
		ON CONFLICT (id) DO UPDATE SET destination = excluded.destination, api10 = excluded.api10, requests = excluded.requests,
			last_seen = excluded.last_seen, doc = excluded.doc, updated_at = excluded.updated_at
		WHERE outbound_apis.doc <> excluded.doc`)
	if err != nil {
		return err
	}
	defer up.Close()
	for i := range r.Outbound {
		o := &r.Outbound[i]
		doc, err := json.Marshal(o)
		if err != nil {
			return fmt.Errorf("store: outbound %s: %w", o.Host, err)
		}
		var last int64
		if o.LastSeen != nil {
			last = ns(*o.LastSeen)
		}
		if _, err := up.ExecContext(ctx, OutboundID(o.Host), o.Host, o.Destination, api10Rank(o), o.Requests, last, string(doc), ns(wallNow)); err != nil {
			return fmt.Errorf("store: outbound %s: %w", o.Host, err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM endpoint_traffic WHERE endpoint_id IN (SELECT id FROM endpoints WHERE host = $1)`, o.Host); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM endpoints WHERE host = $1`, o.Host); err != nil {
			return err
		}
	}
	ours := map[string]bool{}
	for i := range r.Endpoints {
		h := r.Endpoints[i].Host
		if !ours[h] {
			ours[h] = true
			if _, err := tx.ExecContext(ctx, `DELETE FROM outbound_apis WHERE host = $1`, h); err != nil {
				return err
			}
		}
	}
	return nil
}

var outboundSorts = map[string]string{"api10": "api10", "requests": "requests", "last_seen": "last_seen"}

// ListOutbound implements store.Store: keyset pagination on (sort column
// DESC, id ASC) as ListEndpoints.
func (s *DB) ListOutbound(ctx context.Context, f store.OutboundFilter) (store.Page[store.OutboundRow], error) {
	if f.Sort == "" {
		f.Sort = "api10"
	}
	col, ok := outboundSorts[f.Sort]
	if !ok {
		return store.Page[store.OutboundRow]{}, fmt.Errorf("sort: unknown order %q (api10, requests, last_seen)", f.Sort)
	}
	var a args
	var where []string
	if f.Destination != "" {
		where = append(where, "destination = "+a.add(f.Destination))
	}
	if f.Relevant {
		where = append(where, "api10 >= 0")
	}
	if f.Q != "" {
		where = append(where, s.d.contains("LOWER(host)", a.add(asciiLower(f.Q))))
	}
	return keysetPage(ctx, s.q, "outbound_apis", col, f.Sort, f.Cursor, f.Limit, where, &a, decodeOutbound)
}

func decodeOutbound(id, doc string) (store.OutboundRow, error) {
	r := store.OutboundRow{ID: id}
	if err := json.Unmarshal([]byte(doc), &r.OutboundAPI); err != nil {
		return r, fmt.Errorf("store: outbound %s: corrupt document: %w", id, err)
	}
	return r, nil
}

// OutboundAPI implements store.Store.
func (s *DB) OutboundAPI(ctx context.Context, id string) (*store.OutboundRow, error) {
	var doc string
	err := s.q.QueryRowContext(ctx, `SELECT doc FROM outbound_apis WHERE id = $1`, id).Scan(&doc)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	r, err := decodeOutbound(id, doc)
	if err != nil {
		return nil, err
	}
	return &r, nil
}
