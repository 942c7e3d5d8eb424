package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/allot-dev/allot"
)

// DefaultOrg is the organization name used when org.yaml names none.
const DefaultOrg = allot.DefaultOrgName

// validateOrg checks org before anything is stored (allot.Org.Normalize).
func validateOrg(org allot.Org) (allot.Org, error) { return org.Normalize() }

// UserRecord is a stored user with whether they are active and where
// they came from (allot.SourceOrg, SourceSCIM, SourceSSO): what the
// directory export and import carry (inactive users keep their keys and
// history).
type UserRecord struct {
	allot.User
	Active bool
	Source string
}

// ApplyOrg makes the stored organization equal to org in one transaction:
// it creates missing teams and users, updates changed users (and
// reactivates returning ones), deactivates the users it brought that org
// no longer lists (revoking their keys) and removes teams org no longer
// lists that have no active users and no SCIM group. People SCIM
// provisioned keep their team and active state (SCIM decides those);
// org.yaml sets only their role. Nothing is deleted that history refers to. The result counts only real changes, so
// applying the same org twice reports zeros the second time. Replicas
// applying at once run one after the other (the org row is locked first).
func (db *DB) ApplyOrg(ctx context.Context, org allot.Org) (allot.ApplyResult, error) {
	var res allot.ApplyResult
	org, err := validateOrg(org)
	if err != nil {
		return res, err
	}
	err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		res = allot.ApplyResult{}
		if _, err := tx.Exec(ctx, `INSERT INTO org (id, name) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET name = excluded.name`, org.Name); err != nil {
			return err
		}
		haveTeams := map[string]bool{}
		rows, _ := tx.Query(ctx, `SELECT name FROM teams`)
		var name string
		if _, err := pgx.ForEachRow(rows, []any{&name}, func() error { haveTeams[name] = true; return nil }); err != nil {
			return err
		}
		wantTeams := map[string]bool{}
		for _, t := range org.Teams {
			wantTeams[t.Name] = true
			if !haveTeams[t.Name] {
				if _, err := tx.Exec(ctx, `INSERT INTO teams (name) VALUES ($1)`, t.Name); err != nil {
					return fmt.Errorf("add team %s: %w", t.Name, err)
				}
				res.TeamsCreated++
			}
		}
		haveUsers := map[string]UserRecord{}
		rows, _ = tx.Query(ctx, `SELECT name, email, team, role, active, source FROM users`)
		var u UserRecord
		if _, err := pgx.ForEachRow(rows, []any{&u.Name, &u.Email, &u.Team, &u.Role, &u.Active, &u.Source}, func() error {
			haveUsers[u.Name] = u
			return nil
		}); err != nil {
			return err
		}
		wantUsers := map[string]bool{}
		for _, u := range org.Users {
			wantUsers[u.Name] = true
			old, ok := haveUsers[u.Name]
			switch {
			case !ok:
				if _, err := tx.Exec(ctx, `INSERT INTO users (name, email, team, role, active) VALUES ($1, $2, $3, $4, true)`,
					u.Name, u.Email, u.Team, string(u.Role)); err != nil {
					return fmt.Errorf("add user %s: %w", u.Name, err)
				}
				res.UsersCreated++
			case old.Source == allot.SourceSCIM:
				if old.Role == u.Role {
					continue
				}
				if _, err := tx.Exec(ctx, `UPDATE users SET role = $1 WHERE name = $2`, string(u.Role), u.Name); err != nil {
					return fmt.Errorf("update user %s: %w", u.Name, err)
				}
				res.UsersUpdated++
			case old.User != u || !old.Active || old.Source != allot.SourceOrg:
				if _, err := tx.Exec(ctx, `UPDATE users SET email = $1, team = $2, role = $3, active = true, source = 'org' WHERE name = $4`,
					u.Email, u.Team, string(u.Role), u.Name); err != nil {
					return fmt.Errorf("update user %s: %w", u.Name, err)
				}
				res.UsersUpdated++
			}
		}
		for name, u := range haveUsers {
			if u.Active && !wantUsers[name] && u.Source == allot.SourceOrg {
				if err := setActive(ctx, tx, name, false); err != nil {
					return fmt.Errorf("deactivate user %s: %w", name, err)
				}
				res.UsersRemoved++
			}
		}
		for name := range haveTeams {
			if wantTeams[name] {
				continue
			}
			tag, err := tx.Exec(ctx, `DELETE FROM teams WHERE name = $1 AND NOT EXISTS (SELECT 1 FROM users WHERE team = $1 AND active)
				AND NOT EXISTS (SELECT 1 FROM scim_groups WHERE team = $1)`, name)
			if err != nil {
				return fmt.Errorf("remove team %s: %w", name, err)
			}
			if tag.RowsAffected() > 0 {
				res.TeamsRemoved++
			}
		}
		return nil
	})
	if err != nil {
		return allot.ApplyResult{}, fmt.Errorf("apply org: %w", err)
	}
	return res, nil
}

// Users lists the active users by name.
func (db *DB) Users(ctx context.Context) ([]allot.User, error) {
	out := []allot.User{}
	rows, _ := db.pool.Query(ctx, `SELECT name, email, team, role FROM users WHERE active ORDER BY name`)
	var u allot.User
	if _, err := pgx.ForEachRow(rows, []any{&u.Name, &u.Email, &u.Team, &u.Role}, func() error {
		out = append(out, u)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list users: %w", err)
	}
	return out, nil
}

// Teams lists the teams by name.
func (db *DB) Teams(ctx context.Context) ([]allot.Team, error) {
	out := []allot.Team{}
	rows, _ := db.pool.Query(ctx, `SELECT name FROM teams ORDER BY name`)
	var t allot.Team
	if _, err := pgx.ForEachRow(rows, []any{&t.Name}, func() error {
		out = append(out, t)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list teams: %w", err)
	}
	return out, nil
}
