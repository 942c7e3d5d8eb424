package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/allot-dev/allot"
)

// AddNotice stores n unless a notice with its ID exists; added says which.
// Replicas raising the same notice at once store it once.
func (db *DB) AddNotice(ctx context.Context, n allot.Notice) (bool, error) {
	if n.ID == "" {
		return false, allot.Errorf(allot.EInvalid, "notice %q for budget %q has no id; notices are stored once per id", n.Kind, n.Budget)
	}
	var detail *string
	if len(n.Detail) > 0 {
		b, err := json.Marshal(n.Detail)
		if err != nil {
			return false, fmt.Errorf("store notice %s: detail: %w", n.ID, err)
		}
		s := string(b)
		detail = &s
	}
	if n.Time.IsZero() {
		n.Time = time.Now()
	}
	tag, err := db.pool.Exec(ctx, `INSERT INTO notices (id, time, kind, budget, scope, usr, message, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING`,
		n.ID, n.Time, string(n.Kind), n.Budget, n.Scope, n.User, n.Message, detail)
	if err != nil {
		return false, fmt.Errorf("store notice %s: %w", n.ID, err)
	}
	return tag.RowsAffected() > 0, nil
}

// Notices lists notices with from <= Time < to (a zero bound is open),
// newest first, at most limit (0: no limit).
func (db *DB) Notices(ctx context.Context, from, to time.Time, limit int) ([]allot.Notice, error) {
	cond, args := rangeSQL("time", from, to, 0)
	out := []allot.Notice{}
	rows, _ := db.pool.Query(ctx, `SELECT id, time, kind, budget, scope, usr, message, detail FROM notices WHERE `+cond+
		` ORDER BY time DESC, id DESC`+limitSQL(limit), args...)
	var n allot.Notice
	var detail *string
	if _, err := pgx.ForEachRow(rows, []any{&n.ID, &n.Time, &n.Kind, &n.Budget, &n.Scope, &n.User, &n.Message, &detail}, func() error {
		no := n
		no.Time = n.Time.UTC()
		no.Detail = nil
		if detail != nil {
			if err := json.Unmarshal([]byte(*detail), &no.Detail); err != nil {
				return fmt.Errorf("notice %s: detail: %w", n.ID, err)
			}
		}
		out = append(out, no)
		detail = nil
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read notices: %w", err)
	}
	return out, nil
}

var _ allot.NoticeStore = (*DB)(nil)
