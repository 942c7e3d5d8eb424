package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/allot-dev/allot"
)

// UpsertUser creates u as an active user (source sso, so org.yaml leaves
// them alone), or updates the email, team and
// role of the user named u.Name (a deactivated one stays deactivated),
// creating u's team when it is missing.
func (db *DB) UpsertUser(ctx context.Context, u allot.User) (bool, error) {
	u, err := u.Check()
	if err != nil {
		return false, err
	}
	var exists bool
	err = db.inTx(ctx, "upsert user "+u.Name, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `INSERT INTO teams (name) VALUES (?) ON CONFLICT (name) DO NOTHING`, u.Team); err != nil {
			return fmt.Errorf("add team %s: %w", u.Team, err)
		}
		if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE name = ?)`, u.Name).Scan(&exists); err != nil {
			return err
		}
		if exists {
			_, err := tx.ExecContext(ctx, `UPDATE users SET email = ?, team = ?, role = ? WHERE name = ?`, u.Email, u.Team, string(u.Role), u.Name)
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO users (name, email, team, role, active) VALUES (?, ?, ?, ?, 1)`, u.Name, u.Email, u.Team, string(u.Role)); err != nil {
			return err
		}
		return setSource(ctx, tx, u.Name, allot.SourceSSO) // org.yaml leaves people it did not bring alone
	})
	if err != nil {
		return false, err
	}
	return !exists, nil
}

// UserByEmail finds the user whose email is email, without case; a
// deactivated one comes with an EForbidden error (allot.UserWithEmail).
func (db *DB) UserByEmail(ctx context.Context, email string) (allot.User, error) {
	return allot.UserWithEmail(email, func(email string) (u allot.User, active, found bool, err error) {
		err = db.r.QueryRowContext(ctx, `SELECT name, email, team, role, active FROM users WHERE lower(email) = lower(?)
			ORDER BY active DESC, name LIMIT 1`, email).Scan(&u.Name, &u.Email, &u.Team, &u.Role, &active)
		if errors.Is(err, sql.ErrNoRows) {
			return u, false, false, nil
		}
		return u, active, err == nil, err
	})
}
