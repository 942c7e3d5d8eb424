package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/allot-dev/allot"
)

// Directory is a whole directory as copied between databases by `allot
// migrate`: the org's name, teams, every user (inactive ones too) and
// every key with its hash, so keys keep working after the move.
type Directory struct {
	Org   string
	Teams []allot.Team
	Users []UserRecord
	Keys  []allot.Key
}

// ImportDirectory makes the stored directory hold everything in d, in one
// transaction: missing teams, users and keys are added; users and keys
// already stored take d's values (a key revoked in d is revoked here).
// Nothing is deleted, so importing the same directory twice changes
// nothing the second time.
func (db *DB) ImportDirectory(ctx context.Context, d Directory) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if d.Org != "" {
			if _, err := tx.Exec(ctx, `INSERT INTO org (id, name) VALUES (1, $1) ON CONFLICT (id) DO UPDATE SET name = excluded.name`, d.Org); err != nil {
				return err
			}
		}
		for _, t := range d.Teams {
			if _, err := tx.Exec(ctx, `INSERT INTO teams (name) VALUES ($1) ON CONFLICT DO NOTHING`, t.Name); err != nil {
				return fmt.Errorf("team %s: %w", t.Name, err)
			}
		}
		for _, u := range d.Users {
			source := u.Source
			if source == "" {
				source = allot.SourceOrg
			}
			if _, err := tx.Exec(ctx, `INSERT INTO users (name, email, team, role, active, source) VALUES ($1, $2, $3, $4, $5, $6)
				ON CONFLICT (name) DO UPDATE SET email = excluded.email, team = excluded.team, role = excluded.role, active = excluded.active, source = excluded.source`,
				u.Name, u.Email, u.Team, string(u.Role), u.Active, source); err != nil {
				return fmt.Errorf("user %s: %w", u.Name, err)
			}
		}
		for _, k := range d.Keys {
			if len(k.Hash) == 0 {
				return allot.Errorf(allot.EInvalid, "key %s of %s has no hash; it cannot be imported", k.ID, k.User)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO keys (id, usr, label, hash, created_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6)
				ON CONFLICT (id) DO UPDATE SET usr = excluded.usr, label = excluded.label, hash = excluded.hash,
					created_at = excluded.created_at, revoked_at = excluded.revoked_at`,
				k.ID, k.User, k.Label, k.Hash, k.CreatedAt, k.RevokedAt); err != nil {
				return fmt.Errorf("key %s: %w", k.ID, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("import directory: %w", err)
	}
	return nil
}

// ExportDirectory reads the whole directory, for copying or checking a copy.
func (db *DB) ExportDirectory(ctx context.Context) (Directory, error) {
	var d Directory
	err := db.pool.QueryRow(ctx, `SELECT coalesce((SELECT name FROM org WHERE id = 1), '')`).Scan(&d.Org)
	if err == nil {
		d.Teams, err = db.Teams(ctx)
	}
	if err == nil {
		rows, _ := db.pool.Query(ctx, `SELECT name, email, team, role, active, source FROM users ORDER BY name`)
		var u UserRecord
		_, err = pgx.ForEachRow(rows, []any{&u.Name, &u.Email, &u.Team, &u.Role, &u.Active, &u.Source}, func() error {
			d.Users = append(d.Users, u)
			return nil
		})
	}
	if err == nil {
		d.Keys, err = db.Keys(ctx, "")
	}
	if err != nil {
		return Directory{}, fmt.Errorf("export directory: %w", err)
	}
	return d, nil
}
