package sqlite

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/allot-dev/allot"
)

// DefaultOrg is the organization name used when org.yaml names none.
const DefaultOrg = allot.DefaultOrgName

// validateOrg checks org before anything is stored (allot.Org.Normalize).
func validateOrg(org allot.Org) (allot.Org, error) { return org.Normalize() }

// storedUser is a users row.
type storedUser struct {
	allot.User
	active bool
	source string
}

// ApplyOrg makes the stored organization equal to org in one transaction:
// it creates missing teams and users, updates changed users (and
// reactivates returning ones), deactivates the users it brought that org
// no longer lists (revoking their keys) and removes teams org no longer
// lists that have no active users and no SCIM group. People SCIM
// provisioned keep their team and active state (SCIM decides those);
// org.yaml sets only their role. Nothing is deleted that history refers to. The result counts only real changes, so
// applying the same org twice reports zeros the second time.
func (db *DB) ApplyOrg(ctx context.Context, org allot.Org) (allot.ApplyResult, error) {
	var res allot.ApplyResult
	org, err := validateOrg(org)
	if err != nil {
		return res, err
	}
	db.wmu.Lock()
	defer db.wmu.Unlock()
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return res, fmt.Errorf("apply org: %w", err)
	}
	defer tx.Rollback()

	if _, err := tx.ExecContext(ctx, `INSERT INTO org (id, name) VALUES (1, ?) ON CONFLICT (id) DO UPDATE SET name = excluded.name`, org.Name); err != nil {
		return res, fmt.Errorf("apply org: %w", err)
	}

	haveTeams := map[string]bool{}
	if err := eachRow(ctx, tx, `SELECT name FROM teams`, nil, func(rows *sql.Rows) error {
		var name string
		err := rows.Scan(&name)
		haveTeams[name] = true
		return err
	}); err != nil {
		return res, fmt.Errorf("apply org: %w", err)
	}
	wantTeams := map[string]bool{}
	for _, t := range org.Teams {
		wantTeams[t.Name] = true
		if !haveTeams[t.Name] {
			if _, err := tx.ExecContext(ctx, `INSERT INTO teams (name) VALUES (?)`, t.Name); err != nil {
				return res, fmt.Errorf("apply org: add team %s: %w", t.Name, err)
			}
			res.TeamsCreated++
		}
	}

	haveUsers := map[string]storedUser{}
	if err := eachRow(ctx, tx, `SELECT name, email, team, role, active, `+sourceOf+` FROM users`, nil, func(rows *sql.Rows) error {
		var u storedUser
		err := rows.Scan(&u.Name, &u.Email, &u.Team, &u.Role, &u.active, &u.source)
		haveUsers[u.Name] = u
		return err
	}); err != nil {
		return res, fmt.Errorf("apply org: %w", err)
	}
	wantUsers := map[string]bool{}
	for _, u := range org.Users {
		wantUsers[u.Name] = true
		old, ok := haveUsers[u.Name]
		switch {
		case !ok:
			if _, err := tx.ExecContext(ctx, `INSERT INTO users (name, email, team, role, active) VALUES (?, ?, ?, ?, 1)`,
				u.Name, u.Email, u.Team, string(u.Role)); err != nil {
				return res, fmt.Errorf("apply org: add user %s: %w", u.Name, err)
			}
			res.UsersCreated++
		case old.source == allot.SourceSCIM:
			if old.Role == u.Role {
				continue
			}
			if _, err := tx.ExecContext(ctx, `UPDATE users SET role = ? WHERE name = ?`, string(u.Role), u.Name); err != nil {
				return res, fmt.Errorf("apply org: update user %s: %w", u.Name, err)
			}
			res.UsersUpdated++
		case old.User != u || !old.active || old.source != allot.SourceOrg:
			if _, err := tx.ExecContext(ctx, `UPDATE users SET email = ?, team = ?, role = ?, active = 1 WHERE name = ?`,
				u.Email, u.Team, string(u.Role), u.Name); err != nil {
				return res, fmt.Errorf("apply org: update user %s: %w", u.Name, err)
			}
			if err := setSource(ctx, tx, u.Name, allot.SourceOrg); err != nil {
				return res, fmt.Errorf("apply org: %w", err)
			}
			res.UsersUpdated++
		}
	}
	for name, u := range haveUsers {
		if u.active && !wantUsers[name] && u.source == allot.SourceOrg {
			if err := setActive(ctx, tx, name, false); err != nil {
				return res, fmt.Errorf("apply org: %w", err)
			}
			res.UsersRemoved++
		}
	}
	for name := range haveTeams {
		if wantTeams[name] {
			continue
		}
		r, err := tx.ExecContext(ctx, `DELETE FROM teams WHERE name = ? AND NOT EXISTS (SELECT 1 FROM users WHERE team = ? AND active = 1)
			AND NOT EXISTS (SELECT 1 FROM scim_groups WHERE team = ?)`, name, name, name)
		if err != nil {
			return res, fmt.Errorf("apply org: remove team %s: %w", name, err)
		}
		if n, _ := r.RowsAffected(); n > 0 {
			res.TeamsRemoved++
		}
	}
	if err := tx.Commit(); err != nil {
		return res, fmt.Errorf("apply org: %w", err)
	}
	return res, nil
}

// Users lists the active users by name.
func (db *DB) Users(ctx context.Context) ([]allot.User, error) {
	out := []allot.User{}
	err := eachRow(ctx, db.r, `SELECT name, email, team, role FROM users WHERE active = 1 ORDER BY name`, nil, func(rows *sql.Rows) error {
		var u allot.User
		err := rows.Scan(&u.Name, &u.Email, &u.Team, &u.Role)
		out = append(out, u)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return out, nil
}

// Teams lists the teams by name.
func (db *DB) Teams(ctx context.Context) ([]allot.Team, error) {
	out := []allot.Team{}
	err := eachRow(ctx, db.r, `SELECT name FROM teams ORDER BY name`, nil, func(rows *sql.Rows) error {
		var t allot.Team
		err := rows.Scan(&t.Name)
		out = append(out, t)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list teams: %w", err)
	}
	return out, nil
}

// eachRow runs query and calls fn for every row.
func eachRow(ctx context.Context, q querier, query string, args []any, fn func(*sql.Rows) error) error {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}
