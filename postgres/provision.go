package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/allot-dev/allot"
)

// provisionLock is the advisory lock every provisioning transaction
// takes first, so concurrent SCIM requests (identity providers send them
// in parallel) and replicas change accounts and groups one at a time.
const provisionLock = 0x616c6c6f74736369 // "allotsci"

// accountColumns reads an account joined with its user (accountRow).
const accountColumns = `SELECT a.id, a.external_id, u.email, a.usr, a.display_name, a.given_name, a.family_name, u.team, u.active, a.created_at, a.modified_at
	FROM scim_accounts a JOIN users u ON u.name = a.usr`

// accountRow scans one row of accountColumns.
func accountRow(sc interface{ Scan(...any) error }) (allot.Account, error) {
	var a allot.Account
	err := sc.Scan(&a.ID, &a.ExternalID, &a.UserName, &a.User, &a.DisplayName, &a.GivenName, &a.FamilyName, &a.Team, &a.Active, &a.Created, &a.Modified)
	a.Created, a.Modified = a.Created.UTC(), a.Modified.UTC()
	return a, err
}

// provisionTx runs fn in one transaction holding provisionLock; a unique
// violation (a race the lock did not cover, e.g. with ApplyOrg) is
// EConflict.
func (db *DB) provisionTx(ctx context.Context, what string, fn func(tx pgx.Tx) error) error {
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(provisionLock)); err != nil {
			return err
		}
		return fn(tx)
	})
	var ae *allot.Error
	switch {
	case err == nil || errors.As(err, &ae):
		return err
	case uniqueViolation(err):
		return &allot.Error{Code: allot.EConflict, Message: what + ": the name is taken", Err: err}
	}
	return fmt.Errorf("%s: %w", what, err)
}

// CreateAccount provisions a (allot.Provisioning).
func (db *DB) CreateAccount(ctx context.Context, a allot.Account) (allot.Account, error) {
	if err := a.Check(); err != nil {
		return allot.Account{}, err
	}
	a.ID = allot.NewProvisionID()
	now := time.Now().UTC().Truncate(time.Microsecond)
	err := db.provisionTx(ctx, "create account", func(tx pgx.Tx) error {
		var name string
		var has bool
		err := tx.QueryRow(ctx, `SELECT u.name, EXISTS (SELECT 1 FROM scim_accounts a WHERE a.usr = u.name)
			FROM users u WHERE lower(u.email) = lower($1) OR u.name = $1 ORDER BY u.active DESC, u.name LIMIT 1`, a.UserName).Scan(&name, &has)
		switch {
		case errNoRows(err):
			name = a.UserName
			if err := ensureTeam(ctx, tx, a.Team); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `INSERT INTO users (name, email, team, role, active, source) VALUES ($1, $2, $3, $4, true, $5)`,
				name, a.UserName, a.Team, string(allot.RoleMember), allot.SourceSCIM); err != nil {
				return err
			}
		case err != nil:
			return err
		case has:
			return allot.Errorf(allot.EConflict, "%q is provisioned already", a.UserName)
		default: // adopted: SCIM decides from now on
			if _, err := tx.Exec(ctx, `UPDATE users SET email = $1, active = true, source = $2 WHERE name = $3`, a.UserName, allot.SourceSCIM, name); err != nil {
				return err
			}
		}
		if !a.Active {
			if err := setActive(ctx, tx, name, false); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, `INSERT INTO scim_accounts (id, usr, external_id, display_name, given_name, family_name, created_at, modified_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $7)`, a.ID, name, a.ExternalID, a.DisplayName, a.GivenName, a.FamilyName, now)
		return err
	})
	if err != nil {
		return allot.Account{}, err
	}
	return db.Account(ctx, a.ID)
}

// Account returns one account.
func (db *DB) Account(ctx context.Context, id string) (allot.Account, error) {
	a, err := accountRow(db.pool.QueryRow(ctx, accountColumns+` WHERE a.id = $1`, id))
	if errNoRows(err) {
		return allot.Account{}, allot.NoAccount(id)
	}
	if err != nil {
		return allot.Account{}, fmt.Errorf("read account: %w", err)
	}
	return a, nil
}

// Accounts lists accounts, oldest first, and how many match.
func (db *DB) Accounts(ctx context.Context, p allot.Page) ([]allot.Account, int, error) {
	p = p.Bounded()
	where, args := ` WHERE $1 = '' OR lower(u.email) = lower($1)`, []any{p.Name}
	var total int
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM scim_accounts a JOIN users u ON u.name = a.usr`+where, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count accounts: %w", err)
	}
	out := []allot.Account{}
	rows, err := db.pool.Query(ctx, accountColumns+where+` ORDER BY a.created_at, a.id LIMIT $2 OFFSET $3`, p.Name, p.Limit, p.Offset)
	if err != nil {
		return nil, 0, fmt.Errorf("list accounts: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		a, err := accountRow(rows)
		if err != nil {
			return nil, 0, fmt.Errorf("list accounts: %w", err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, fmt.Errorf("list accounts: %w", err)
	}
	return out, total, nil
}

// UpdateAccount replaces an account's email, external id, names and
// active state.
func (db *DB) UpdateAccount(ctx context.Context, a allot.Account) (allot.Account, error) {
	if err := a.Check(); err != nil {
		return allot.Account{}, err
	}
	err := db.provisionTx(ctx, "update account", func(tx pgx.Tx) error {
		name, active, err := accountUser(ctx, tx, a.ID)
		if err != nil {
			return err
		}
		var other int
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM users WHERE lower(email) = lower($1) AND name <> $2`, a.UserName, name).Scan(&other); err != nil {
			return err
		}
		if other > 0 {
			return allot.Errorf(allot.EConflict, "%q is the email of another person", a.UserName)
		}
		if _, err := tx.Exec(ctx, `UPDATE users SET email = $1 WHERE name = $2`, a.UserName, name); err != nil {
			return err
		}
		if active != a.Active {
			if err := setActive(ctx, tx, name, a.Active); err != nil {
				return err
			}
		}
		_, err = tx.Exec(ctx, `UPDATE scim_accounts SET external_id = $1, display_name = $2, given_name = $3, family_name = $4, modified_at = $5 WHERE id = $6`,
			a.ExternalID, a.DisplayName, a.GivenName, a.FamilyName, time.Now().UTC().Truncate(time.Microsecond), a.ID)
		return err
	})
	if err != nil {
		return allot.Account{}, err
	}
	return db.Account(ctx, a.ID)
}

// DeleteAccount deactivates the person and forgets the account.
func (db *DB) DeleteAccount(ctx context.Context, id string) error {
	return db.provisionTx(ctx, "delete account", func(tx pgx.Tx) error {
		name, _, err := accountUser(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := setActive(ctx, tx, name, false); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM scim_accounts WHERE id = $1`, id)
		return err
	})
}

// CreateGroup stores g and moves its members to its team.
func (db *DB) CreateGroup(ctx context.Context, g allot.Group) (allot.Group, error) {
	if err := g.Check(); err != nil {
		return allot.Group{}, err
	}
	g.ID = allot.NewProvisionID()
	now := time.Now().UTC().Truncate(time.Microsecond)
	err := db.provisionTx(ctx, "create group", func(tx pgx.Tx) error {
		if err := checkGroupName(ctx, tx, g.DisplayName, g.ID); err != nil {
			return err
		}
		if err := ensureTeam(ctx, tx, g.Team); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO scim_groups (id, display_name, external_id, team, created_at, modified_at) VALUES ($1, $2, $3, $4, $5, $5)`,
			g.ID, g.DisplayName, g.ExternalID, g.Team, now); err != nil {
			return err
		}
		return changeMembers(ctx, tx, g.ID, allot.GroupChange{Add: g.Members, Unassigned: g.Team})
	})
	if err != nil {
		return allot.Group{}, err
	}
	return db.Group(ctx, g.ID)
}

// members lists the account ids in group id.
func members(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}, id string) ([]string, error) {
	rows, _ := q.Query(ctx, `SELECT account FROM scim_members WHERE grp = $1 ORDER BY account`, id)
	out := []string{}
	var a string
	_, err := pgx.ForEachRow(rows, []any{&a}, func() error { out = append(out, a); return nil })
	return out, err
}

// changeMembers applies c's member changes to group id and moves every
// person whose groups changed to their team (allot.GroupChange).
func changeMembers(ctx context.Context, tx pgx.Tx, id string, c allot.GroupChange) error {
	var moved []string
	if c.SetMembers {
		old, err := members(ctx, tx, id)
		if err != nil {
			return err
		}
		moved = append(moved, old...)
		if _, err := tx.Exec(ctx, `DELETE FROM scim_members WHERE grp = $1`, id); err != nil {
			return err
		}
		c.Add = c.Members
	}
	if len(c.Remove) > 0 {
		if _, err := tx.Exec(ctx, `DELETE FROM scim_members WHERE grp = $1 AND account = ANY($2)`, id, c.Remove); err != nil {
			return err
		}
		moved = append(moved, c.Remove...)
	}
	// Unknown accounts are skipped; one joining again keeps its place;
	// ones joining together join in the order given.
	for _, a := range c.Add {
		if _, err := tx.Exec(ctx, `INSERT INTO scim_members (grp, account) SELECT $1, id FROM scim_accounts WHERE id = $2 ON CONFLICT DO NOTHING`, id, a); err != nil {
			return err
		}
		moved = append(moved, a)
	}
	return placeAccounts(ctx, tx, moved, c.Unassigned)
}

// placeAccounts sets the team of each account's person: the team of the
// group they joined last, or unassigned in none.
func placeAccounts(ctx context.Context, tx pgx.Tx, accounts []string, unassigned string) error {
	if len(accounts) == 0 {
		return nil
	}
	slices.Sort(accounts)
	accounts = slices.Compact(accounts)
	if _, err := tx.Exec(ctx, `UPDATE users u SET team = coalesce((SELECT g.team FROM scim_members m JOIN scim_groups g ON g.id = m.grp
			WHERE m.account = a.id ORDER BY m.seq DESC LIMIT 1), $2)
		FROM scim_accounts a WHERE a.usr = u.name AND a.id = ANY($1)`, accounts, unassigned); err != nil {
		return err
	}
	return ensureTeam(ctx, tx, unassigned)
}

const groupColumns = `SELECT id, display_name, external_id, team, created_at, modified_at FROM scim_groups`

// Group returns one group.
func (db *DB) Group(ctx context.Context, id string) (allot.Group, error) {
	var g allot.Group
	err := db.pool.QueryRow(ctx, groupColumns+` WHERE id = $1`, id).Scan(&g.ID, &g.DisplayName, &g.ExternalID, &g.Team, &g.Created, &g.Modified)
	if errNoRows(err) {
		return allot.Group{}, allot.NoGroup(id)
	}
	if err == nil {
		g.Members, err = members(ctx, db.pool, id)
	}
	if err != nil {
		return allot.Group{}, fmt.Errorf("read group: %w", err)
	}
	g.Created, g.Modified = g.Created.UTC(), g.Modified.UTC()
	return g, nil
}

// Groups lists groups, oldest first, and how many match.
func (db *DB) Groups(ctx context.Context, p allot.Page) ([]allot.Group, int, error) {
	p = p.Bounded()
	where := ` WHERE $1 = '' OR display_name = $1`
	var total int
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM scim_groups`+where, p.Name).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count groups: %w", err)
	}
	rows, _ := db.pool.Query(ctx, `SELECT id FROM scim_groups`+where+` ORDER BY created_at, id LIMIT $2 OFFSET $3`, p.Name, p.Limit, p.Offset)
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, 0, fmt.Errorf("list groups: %w", err)
	}
	out, err := allot.GroupsByID(ctx, ids, db.Group)
	return out, total, err
}

// UpdateGroup changes group id as c says.
func (db *DB) UpdateGroup(ctx context.Context, id string, c allot.GroupChange) (allot.Group, error) {
	if err := c.Check(); err != nil {
		return allot.Group{}, err
	}
	err := db.provisionTx(ctx, "update group", func(tx pgx.Tx) error {
		team, err := groupTeam(ctx, tx, id)
		if err != nil {
			return err
		}
		if c.DisplayName != "" {
			if err := checkGroupName(ctx, tx, c.DisplayName, id); err != nil {
				return err
			}
			if err := ensureTeam(ctx, tx, c.Team); err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, `UPDATE scim_groups SET display_name = $1, team = $2 WHERE id = $3`, c.DisplayName, c.Team, id); err != nil {
				return err
			}
			if c.Team != team { // every member may move
				old, err := members(ctx, tx, id)
				if err != nil {
					return err
				}
				c.Add = append(c.Add, old...)
			}
		}
		if c.ExternalID != nil {
			if _, err := tx.Exec(ctx, `UPDATE scim_groups SET external_id = $1 WHERE id = $2`, *c.ExternalID, id); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE scim_groups SET modified_at = $1 WHERE id = $2`, time.Now().UTC().Truncate(time.Microsecond), id); err != nil {
			return err
		}
		if err := changeMembers(ctx, tx, id, c); err != nil {
			return err
		}
		if c.DisplayName != "" && c.Team != team {
			return dropTeamIfUnused(ctx, tx, team)
		}
		return nil
	})
	if err != nil {
		return allot.Group{}, err
	}
	return db.Group(ctx, id)
}

// DeleteGroup forgets group id; its members move to their other groups'
// team, or unassigned, and its team goes when nobody uses it.
func (db *DB) DeleteGroup(ctx context.Context, id, unassigned string) error {
	if err := (allot.GroupChange{Unassigned: unassigned}).Check(); err != nil {
		return err
	}
	return db.provisionTx(ctx, "delete group", func(tx pgx.Tx) error {
		team, err := groupTeam(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := changeMembers(ctx, tx, id, allot.GroupChange{SetMembers: true, Unassigned: unassigned}); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM scim_groups WHERE id = $1`, id); err != nil {
			return err
		}
		return dropTeamIfUnused(ctx, tx, team)
	})
}

// dropTeamIfUnused removes team when no active person is in it and no
// group maps to it.
func dropTeamIfUnused(ctx context.Context, tx pgx.Tx, team string) error {
	_, err := tx.Exec(ctx, `DELETE FROM teams WHERE name = $1 AND NOT EXISTS (SELECT 1 FROM users WHERE team = $1 AND active)
		AND NOT EXISTS (SELECT 1 FROM scim_groups WHERE team = $1)`, team)
	return err
}

// ensureTeam creates team unless it exists.
func ensureTeam(ctx context.Context, tx pgx.Tx, team string) error {
	_, err := tx.Exec(ctx, `INSERT INTO teams (name) VALUES ($1) ON CONFLICT DO NOTHING`, team)
	return err
}

// accountUser returns the user account id provisions and whether they
// are active; ENotFound when there is no such account.
func accountUser(ctx context.Context, tx pgx.Tx, id string) (name string, active bool, err error) {
	err = tx.QueryRow(ctx, `SELECT a.usr, u.active FROM scim_accounts a JOIN users u ON u.name = a.usr WHERE a.id = $1`, id).Scan(&name, &active)
	if errNoRows(err) {
		return "", false, allot.NoAccount(id)
	}
	return name, active, err
}

// groupTeam returns group id's team; ENotFound when there is no such
// group.
func groupTeam(ctx context.Context, tx pgx.Tx, id string) (string, error) {
	var team string
	err := tx.QueryRow(ctx, `SELECT team FROM scim_groups WHERE id = $1`, id).Scan(&team)
	if errNoRows(err) {
		return "", allot.NoGroup(id)
	}
	return team, err
}

// checkGroupName is EConflict when a group other than id is named name.
func checkGroupName(ctx context.Context, tx pgx.Tx, name, id string) error {
	var n int
	if err := tx.QueryRow(ctx, `SELECT count(*) FROM scim_groups WHERE display_name = $1 AND id <> $2`, name, id).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return allot.GroupNameTaken(name)
	}
	return nil
}
