package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

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
	db.wmu.Lock()
	defer db.wmu.Unlock()
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return false, fmt.Errorf("upsert user %s: %w", u.Name, err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `INSERT INTO teams (name) VALUES (?) ON CONFLICT (name) DO NOTHING`, u.Team); err != nil {
		return false, fmt.Errorf("upsert user %s: add team %s: %w", u.Name, u.Team, err)
	}
	var exists bool
	if err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE name = ?)`, u.Name).Scan(&exists); err != nil {
		return false, fmt.Errorf("upsert user %s: %w", u.Name, err)
	}
	if exists {
		_, err = tx.ExecContext(ctx, `UPDATE users SET email = ?, team = ?, role = ? WHERE name = ?`, u.Email, u.Team, string(u.Role), u.Name)
	} else {
		_, err = tx.ExecContext(ctx, `INSERT INTO users (name, email, team, role, active) VALUES (?, ?, ?, ?, 1)`, u.Name, u.Email, u.Team, string(u.Role))
		if err == nil {
			err = setSource(ctx, tx, u.Name, allot.SourceSSO) // org.yaml leaves people it did not bring alone
		}
	}
	if err != nil {
		return false, fmt.Errorf("upsert user %s: %w", u.Name, err)
	}
	if err := tx.Commit(); err != nil {
		return false, fmt.Errorf("upsert user %s: %w", u.Name, err)
	}
	return !exists, nil
}

// UserByEmail finds the user whose email is email, without case; a
// deactivated one comes with an EForbidden error.
func (db *DB) UserByEmail(ctx context.Context, email string) (allot.User, error) {
	email = strings.TrimSpace(email)
	if email == "" {
		return allot.User{}, allot.Errorf(allot.ENotFound, "no user with an empty email")
	}
	var u allot.User
	var active bool
	// The active user first, when an old deactivated one shares the email.
	err := db.r.QueryRowContext(ctx, `SELECT name, email, team, role, active FROM users WHERE lower(email) = lower(?)
		ORDER BY active DESC, name LIMIT 1`, email).Scan(&u.Name, &u.Email, &u.Team, &u.Role, &active)
	if errors.Is(err, sql.ErrNoRows) {
		return allot.User{}, allot.Errorf(allot.ENotFound, "no user with email %q", allot.CapLabel(email))
	}
	if err != nil {
		return allot.User{}, fmt.Errorf("find user by email: %w", err)
	}
	if !active {
		return u, allot.Errorf(allot.EForbidden, "user %q (%s) is deactivated; an allot admin can restore them", u.Name, u.Email)
	}
	return u, nil
}
