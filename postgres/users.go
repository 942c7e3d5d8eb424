package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

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
	var created bool
	err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO teams (name) VALUES ($1) ON CONFLICT (name) DO NOTHING`, u.Team); err != nil {
			return fmt.Errorf("add team %s: %w", u.Team, err)
		}
		// xmax = 0 only on a row this statement inserted.
		return tx.QueryRow(ctx, `INSERT INTO users (name, email, team, role, active, source) VALUES ($1, $2, $3, $4, true, $5)
			ON CONFLICT (name) DO UPDATE SET email = excluded.email, team = excluded.team, role = excluded.role
			RETURNING xmax = 0`, u.Name, u.Email, u.Team, string(u.Role), allot.SourceSSO).Scan(&created)
	})
	if err != nil {
		return false, fmt.Errorf("upsert user %s: %w", u.Name, err)
	}
	return created, nil
}

// UserByEmail finds the user whose email is email, without case; a
// deactivated one comes with an EForbidden error (allot.UserWithEmail).
func (db *DB) UserByEmail(ctx context.Context, email string) (allot.User, error) {
	return allot.UserWithEmail(email, func(email string) (u allot.User, active, found bool, err error) {
		err = db.pool.QueryRow(ctx, `SELECT name, email, team, role, active FROM users WHERE lower(email) = lower($1)
			ORDER BY active DESC, name LIMIT 1`, email).Scan(&u.Name, &u.Email, &u.Team, &u.Role, &active)
		if errNoRows(err) {
			return u, false, false, nil
		}
		return u, active, err == nil, err
	})
}
