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

// UpsertUser creates u as an active user (source sso) or updates the
// email, team and role of the user named u.Name and reactivates them,
// creating the team when it is missing.
func (db *DB) UpsertUser(ctx context.Context, u allot.User) (bool, error) {
	u, err := allot.CheckUser(u)
	if err != nil {
		return false, err
	}
	var created bool
	err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO teams (name) VALUES ($1) ON CONFLICT DO NOTHING`, u.Team); err != nil {
			return err
		}
		// xmax = 0 only on a row this statement inserted.
		return tx.QueryRow(ctx, `INSERT INTO users (name, email, team, role, active, source) VALUES ($1, $2, $3, $4, true, $5)
			ON CONFLICT (name) DO UPDATE SET email = excluded.email, team = excluded.team, role = excluded.role, active = true
			RETURNING xmax = 0`, u.Name, u.Email, u.Team, string(u.Role), allot.SourceSSO).Scan(&created)
	})
	if err != nil {
		return false, fmt.Errorf("upsert user %s: %w", u.Name, err)
	}
	return created, nil
}

// UserByEmail finds the user, active or not, whose email is email
// (case-insensitively); ENotFound when there is none.
func (db *DB) UserByEmail(ctx context.Context, email string) (allot.User, error) {
	var u allot.User
	err := db.pool.QueryRow(ctx, `SELECT name, email, team, role FROM users WHERE lower(email) = lower($1) ORDER BY active DESC, name LIMIT 1`, email).
		Scan(&u.Name, &u.Email, &u.Team, &u.Role)
	if errNoRows(err) || email == "" {
		return allot.User{}, allot.Errorf(allot.ENotFound, "no user with email %q", allot.CapLabel(email))
	}
	if err != nil {
		return allot.User{}, fmt.Errorf("find user by email: %w", err)
	}
	return u, nil
}

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
