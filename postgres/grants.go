package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/allot-dev/allot"
)

// AddGrant stores a budget top-up, shared by every replica.
func (db *DB) AddGrant(ctx context.Context, g allot.Grant) error {
	if _, err := db.pool.Exec(ctx, `INSERT INTO grants (budget, amount_nano, tokens, until, reason) VALUES ($1, $2, $3, $4, $5)`,
		g.Budget, int64(g.Amount), g.Tokens, nullTime(g.Until), g.Reason); err != nil {
		return fmt.Errorf("store grant for %s: %w", g.Budget, err)
	}
	return nil
}

// Grants lists the grants that have not expired at now (Until after now,
// or no Until), oldest first.
func (db *DB) Grants(ctx context.Context, now time.Time) ([]allot.Grant, error) {
	return db.grants(ctx, `WHERE until IS NULL OR until > $1`, now)
}

// AllGrants lists every stored grant, expired ones too, oldest first: for
// copying a database.
func (db *DB) AllGrants(ctx context.Context) ([]allot.Grant, error) {
	return db.grants(ctx, ``)
}

func (db *DB) grants(ctx context.Context, where string, args ...any) ([]allot.Grant, error) {
	var out []allot.Grant
	rows, _ := db.pool.Query(ctx, `SELECT budget, amount_nano, tokens, until, reason FROM grants `+where+` ORDER BY seq`, args...)
	var g allot.Grant
	var amount int64
	var until *time.Time
	if _, err := pgx.ForEachRow(rows, []any{&g.Budget, &amount, &g.Tokens, &until, &g.Reason}, func() error {
		gr := g
		gr.Amount = allot.Money(amount)
		if until != nil {
			gr.Until = until.UTC()
		}
		out = append(out, gr)
		until = nil
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read grants: %w", err)
	}
	return out, nil
}

// ImportGrants stores grants copied from another database, skipping any
// grant already stored with the same fields, so copying twice adds
// nothing. It returns how many were added.
func (db *DB) ImportGrants(ctx context.Context, grants []allot.Grant) (int, error) {
	added := 0
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		for _, g := range grants {
			tag, err := tx.Exec(ctx, `INSERT INTO grants (budget, amount_nano, tokens, until, reason) SELECT $1, $2, $3, $4, $5
				WHERE NOT EXISTS (SELECT 1 FROM grants WHERE budget = $1 AND amount_nano = $2 AND tokens = $3
					AND until IS NOT DISTINCT FROM $4 AND reason = $5)`,
				g.Budget, int64(g.Amount), g.Tokens, nullTime(g.Until), g.Reason)
			if err != nil {
				return err
			}
			added += int(tag.RowsAffected())
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("import grants: %w", err)
	}
	return added, nil
}

// nullTime is t, or NULL for the zero time.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

var _ allot.GrantStore = (*DB)(nil)
