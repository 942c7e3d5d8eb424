package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/allot-dev/allot"
)

// SetUserActive deactivates the user named name, revoking every key of
// theirs, or reactivates them (no key comes back).
func (db *DB) SetUserActive(ctx context.Context, name string, active bool) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error { return setActive(ctx, tx, name, active) })
	if err != nil && allot.CodeOf(err) == allot.EInternal {
		return fmt.Errorf("set user %s active: %w", name, err)
	}
	return err
}

// setActive is SetUserActive inside tx: the one place a user is
// deactivated, so every way of leaving (org.yaml, SCIM, an admin)
// revokes the keys. Revocations carry the database's clock, which
// RevokedKeys reads too, so replicas' clocks do not matter.
func setActive(ctx context.Context, tx pgx.Tx, name string, active bool) error {
	tag, err := tx.Exec(ctx, `UPDATE users SET active = $1 WHERE name = $2`, active, name)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return allot.Errorf(allot.ENotFound, "no user %q", allot.CapLabel(name))
	}
	if !active {
		if _, err := tx.Exec(ctx, `UPDATE keys SET revoked_at = date_trunc('microseconds', now()) WHERE usr = $1 AND revoked_at IS NULL`, name); err != nil {
			return fmt.Errorf("revoke the keys of %s: %w", name, err)
		}
	}
	return nil
}

// RevokedKeys lists the hashes of keys revoked within the last within,
// by the database's clock.
func (db *DB) RevokedKeys(ctx context.Context, within time.Duration, limit int) ([][]byte, error) {
	out := [][]byte{}
	rows, _ := db.pool.Query(ctx, `SELECT hash FROM keys WHERE revoked_at >= now() - $1 * interval '1 microsecond' LIMIT $2`, within.Microseconds(), limit)
	var h []byte
	if _, err := pgx.ForEachRow(rows, []any{&h}, func() error {
		out = append(out, h)
		h = nil
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list revoked keys: %w", err)
	}
	return out, nil
}

// uniqueViolation reports whether err is a unique constraint refusing a
// row (two provisioning requests racing for one name).
func uniqueViolation(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "23505"
}
