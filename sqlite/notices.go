package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/allot-dev/allot"
)

// AddNotice stores n unless a notice with its ID exists; added says which,
// so a caller delivers each notice at most once. A zero Time is now; times
// are kept to the microsecond. An empty ID is EInvalid.
func (db *DB) AddNotice(ctx context.Context, n allot.Notice) (bool, error) {
	if n.ID == "" {
		return false, allot.Errorf(allot.EInvalid, "notice %q for budget %q has no id; notices are stored once per id", n.Kind, n.Budget)
	}
	var detail sql.NullString
	if len(n.Detail) > 0 {
		b, err := json.Marshal(n.Detail)
		if err != nil {
			return false, fmt.Errorf("store notice %s: detail: %w", n.ID, err)
		}
		detail = sql.NullString{String: string(b), Valid: true}
	}
	if n.Time.IsZero() {
		n.Time = time.Now()
	}
	db.wmu.Lock()
	defer db.wmu.Unlock()
	res, err := db.w.ExecContext(ctx, `INSERT INTO notices (id, t, kind, budget, scope, usr, message, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`,
		n.ID, n.Time.UnixMicro(), string(n.Kind), n.Budget, n.Scope, n.User, n.Message, detail)
	if err != nil {
		return false, fmt.Errorf("store notice %s: %w", n.ID, err)
	}
	added, err := res.RowsAffected()
	if err != nil {
		return false, fmt.Errorf("store notice %s: %w", n.ID, err)
	}
	return added > 0, nil
}

// Notices lists notices with from <= Time < to (a zero bound is open),
// newest first, at most limit (0: no limit).
func (db *DB) Notices(ctx context.Context, from, to time.Time, limit int) ([]allot.Notice, error) {
	cond, args := rangeSQL("t", from, to)
	out := []allot.Notice{}
	err := eachRow(ctx, db.r, `SELECT id, t, kind, budget, scope, usr, message, detail FROM notices WHERE `+cond+
		` ORDER BY t DESC, id DESC`+limitSQL(limit), args, func(rows *sql.Rows) error {
		var n allot.Notice
		var t int64
		var detail sql.NullString
		if err := rows.Scan(&n.ID, &t, &n.Kind, &n.Budget, &n.Scope, &n.User, &n.Message, &detail); err != nil {
			return err
		}
		n.Time = time.UnixMicro(t).UTC()
		if detail.Valid {
			if err := json.Unmarshal([]byte(detail.String), &n.Detail); err != nil {
				return fmt.Errorf("notice %s: detail: %w", n.ID, err)
			}
		}
		out = append(out, n)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read notices: %w", err)
	}
	return out, nil
}
