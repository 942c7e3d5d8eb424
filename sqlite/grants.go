package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/allot-dev/allot"
)

// AddGrant stores a budget top-up, so it survives a restart. A zero Until
// is stored as none (callers normally resolve it first with
// budget.CheckGrant). Until is kept to the microsecond.
func (db *DB) AddGrant(ctx context.Context, g allot.Grant) error {
	var until sql.NullInt64
	if !g.Until.IsZero() {
		until = sql.NullInt64{Int64: g.Until.UnixMicro(), Valid: true}
	}
	db.wmu.Lock()
	defer db.wmu.Unlock()
	if _, err := db.w.ExecContext(ctx, `INSERT INTO grants (budget, amount_nano, tokens, until_us, reason) VALUES (?, ?, ?, ?, ?)`,
		g.Budget, int64(g.Amount), g.Tokens, until, g.Reason); err != nil {
		return fmt.Errorf("store grant for %s: %w", g.Budget, err)
	}
	return nil
}

// Grants lists the grants that have not expired at now (Until after now,
// or no Until), oldest first. At the zero time nothing has expired, so
// Grants(ctx, time.Time{}) lists every grant.
func (db *DB) Grants(ctx context.Context, now time.Time) ([]allot.Grant, error) {
	var out []allot.Grant
	err := eachRow(ctx, db.r, `SELECT budget, amount_nano, tokens, until_us, reason FROM grants
		WHERE until_us IS NULL OR until_us > ? ORDER BY seq`, []any{now.UnixMicro()}, func(rows *sql.Rows) error {
		var g allot.Grant
		var amount int64
		var until sql.NullInt64
		if err := rows.Scan(&g.Budget, &amount, &g.Tokens, &until, &g.Reason); err != nil {
			return err
		}
		g.Amount = allot.Money(amount)
		if until.Valid {
			g.Until = time.UnixMicro(until.Int64).UTC()
		}
		out = append(out, g)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read grants: %w", err)
	}
	return out, nil
}
