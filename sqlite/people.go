package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/allot-dev/allot"
)

// SetUserActive deactivates the user named name, revoking every key of
// theirs, or reactivates them (no key comes back).
func (db *DB) SetUserActive(ctx context.Context, name string, active bool) error {
	return db.inTx(ctx, "change whether a user is active", func(tx *sql.Tx) error { return setActive(ctx, tx, name, active) })
}

// setActive is SetUserActive inside tx: the one place a user is
// deactivated, so every way of leaving (org.yaml, SCIM, an admin)
// revokes the keys.
func setActive(ctx context.Context, tx *sql.Tx, name string, active bool) error {
	res, err := tx.ExecContext(ctx, `UPDATE users SET active = ? WHERE name = ?`, active, name)
	if err != nil {
		return fmt.Errorf("set user %s active: %w", name, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("set user %s active: %w", name, err)
	} else if n == 0 {
		return allot.Errorf(allot.ENotFound, "no user %q", allot.CapLabel(name))
	}
	if !active {
		if _, err := tx.ExecContext(ctx, `UPDATE keys SET revoked_us = ? WHERE usr = ? AND revoked_us IS NULL`, time.Now().UnixMicro(), name); err != nil {
			return fmt.Errorf("revoke the keys of %s: %w", name, err)
		}
	}
	return nil
}

// sourceOf is a users row's source (allot.SourceOrg when user_sources has
// no row for it), as a column expression.
const sourceOf = `coalesce((SELECT source FROM user_sources WHERE usr = users.name), 'org')`

// setSource records who brought the user named name.
func setSource(ctx context.Context, tx *sql.Tx, name, source string) error {
	if source == allot.SourceOrg {
		_, err := tx.ExecContext(ctx, `DELETE FROM user_sources WHERE usr = ?`, name)
		return err
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO user_sources (usr, source) VALUES (?, ?) ON CONFLICT (usr) DO UPDATE SET source = excluded.source`, name, source)
	return err
}

// RevokedKeys lists the hashes of keys revoked within the last within.
func (db *DB) RevokedKeys(ctx context.Context, within time.Duration, limit int) ([][]byte, error) {
	out := [][]byte{}
	err := eachRow(ctx, db.r, `SELECT hash FROM keys WHERE revoked_us >= ? LIMIT ?`, []any{time.Now().Add(-within).UnixMicro(), limit}, func(rows *sql.Rows) error {
		var h []byte
		err := rows.Scan(&h)
		out = append(out, h)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list revoked keys: %w", err)
	}
	return out, nil
}
