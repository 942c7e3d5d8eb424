package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/allot-dev/allot"
)

// accountColumns reads an account joined with its user (accountRow).
const accountColumns = `SELECT a.id, a.external_id, u.email, a.usr, a.display_name, a.given_name, a.family_name, u.team, u.active, a.created_us, a.modified_us
	FROM scim_accounts a JOIN users u ON u.name = a.usr`

// accountRow scans one row of accountColumns.
func accountRow(sc interface{ Scan(...any) error }) (allot.Account, error) {
	var a allot.Account
	var created, modified int64
	err := sc.Scan(&a.ID, &a.ExternalID, &a.UserName, &a.User, &a.DisplayName, &a.GivenName, &a.FamilyName, &a.Team, &a.Active, &created, &modified)
	a.Created, a.Modified = time.UnixMicro(created).UTC(), time.UnixMicro(modified).UTC()
	return a, err
}

// inTx runs fn in one write transaction.
func (db *DB) inTx(ctx context.Context, what string, fn func(tx *sql.Tx) error) error {
	db.wmu.Lock()
	defer db.wmu.Unlock()
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	defer tx.Rollback()
	if err := fn(tx); err != nil {
		var ae *allot.Error
		if errors.As(err, &ae) {
			return err
		}
		return fmt.Errorf("%s: %w", what, err)
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// CreateAccount provisions a (allot.Provisioning).
func (db *DB) CreateAccount(ctx context.Context, a allot.Account) (allot.Account, error) {
	if err := a.Check(); err != nil {
		return allot.Account{}, err
	}
	a.ID = allot.NewProvisionID()
	now := time.Now().UTC().Truncate(time.Microsecond)
	err := db.inTx(ctx, "create account", func(tx *sql.Tx) error {
		var name string
		var has bool
		err := tx.QueryRowContext(ctx, `SELECT u.name, EXISTS (SELECT 1 FROM scim_accounts a WHERE a.usr = u.name)
			FROM users u WHERE lower(u.email) = lower(?1) OR u.name = ?1 ORDER BY u.active DESC, u.name LIMIT 1`, a.UserName).Scan(&name, &has)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			name = a.UserName
			if err := ensureTeam(ctx, tx, a.Team); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO users (name, email, team, role, active) VALUES (?, ?, ?, ?, 1)`,
				name, a.UserName, a.Team, string(allot.RoleMember)); err != nil {
				return err
			}
		case err != nil:
			return err
		case has:
			return allot.Errorf(allot.EConflict, "%q is provisioned already", a.UserName)
		default: // adopted: SCIM decides from now on
			if _, err := tx.ExecContext(ctx, `UPDATE users SET email = ?, active = 1 WHERE name = ?`, a.UserName, name); err != nil {
				return err
			}
		}
		if err := setSource(ctx, tx, name, allot.SourceSCIM); err != nil {
			return err
		}
		if !a.Active {
			if err := setActive(ctx, tx, name, false); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `INSERT INTO scim_accounts (id, usr, external_id, display_name, given_name, family_name, created_us, modified_us)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, a.ID, name, a.ExternalID, a.DisplayName, a.GivenName, a.FamilyName, now.UnixMicro(), now.UnixMicro())
		return err
	})
	if err != nil {
		return allot.Account{}, err
	}
	return db.Account(ctx, a.ID)
}

// Account returns one account.
func (db *DB) Account(ctx context.Context, id string) (allot.Account, error) {
	a, err := accountRow(db.r.QueryRowContext(ctx, accountColumns+` WHERE a.id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
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
	where, args := "", []any{}
	if p.Name != "" {
		where, args = ` WHERE lower(u.email) = lower(?)`, append(args, p.Name)
	}
	var total int
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM scim_accounts a JOIN users u ON u.name = a.usr`+where, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count accounts: %w", err)
	}
	out := []allot.Account{}
	err := eachRow(ctx, db.r, accountColumns+where+` ORDER BY a.created_us, a.id LIMIT ? OFFSET ?`, append(args, p.Limit, p.Offset), func(rows *sql.Rows) error {
		a, err := accountRow(rows)
		out = append(out, a)
		return err
	})
	if err != nil {
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
	err := db.inTx(ctx, "update account", func(tx *sql.Tx) error {
		name, active, err := accountUser(ctx, tx, a.ID)
		if err != nil {
			return err
		}
		var other int
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM users WHERE lower(email) = lower(?) AND name <> ?`, a.UserName, name).Scan(&other); err != nil {
			return err
		}
		if other > 0 {
			return allot.Errorf(allot.EConflict, "%q is the email of another person", a.UserName)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE users SET email = ? WHERE name = ?`, a.UserName, name); err != nil {
			return err
		}
		if active != a.Active {
			if err := setActive(ctx, tx, name, a.Active); err != nil {
				return err
			}
		}
		_, err = tx.ExecContext(ctx, `UPDATE scim_accounts SET external_id = ?, display_name = ?, given_name = ?, family_name = ?, modified_us = ? WHERE id = ?`,
			a.ExternalID, a.DisplayName, a.GivenName, a.FamilyName, time.Now().UnixMicro(), a.ID)
		return err
	})
	if err != nil {
		return allot.Account{}, err
	}
	return db.Account(ctx, a.ID)
}

// DeleteAccount deactivates the person and forgets the account.
func (db *DB) DeleteAccount(ctx context.Context, id string) error {
	return db.inTx(ctx, "delete account", func(tx *sql.Tx) error {
		name, _, err := accountUser(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := setActive(ctx, tx, name, false); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM scim_accounts WHERE id = ?`, id)
		return err
	})
}

// CreateGroup stores g and moves its members to its team.
func (db *DB) CreateGroup(ctx context.Context, g allot.Group) (allot.Group, error) {
	if err := g.Check(); err != nil {
		return allot.Group{}, err
	}
	g.ID = allot.NewProvisionID()
	now := time.Now().UnixMicro()
	err := db.inTx(ctx, "create group", func(tx *sql.Tx) error {
		if err := checkGroupName(ctx, tx, g.DisplayName, g.ID); err != nil {
			return err
		}
		if err := ensureTeam(ctx, tx, g.Team); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO scim_groups (id, display_name, external_id, team, created_us, modified_us) VALUES (?, ?, ?, ?, ?, ?)`,
			g.ID, g.DisplayName, g.ExternalID, g.Team, now, now); err != nil {
			return err
		}
		return changeMembers(ctx, tx, g.ID, allot.GroupChange{Add: g.Members, Unassigned: g.Team})
	})
	if err != nil {
		return allot.Group{}, err
	}
	return db.Group(ctx, g.ID)
}

// changeMembers applies c's member changes to group id and moves every
// person whose groups changed to their team (allot.GroupChange).
func changeMembers(ctx context.Context, tx *sql.Tx, id string, c allot.GroupChange) error {
	var moved []string
	if c.SetMembers {
		old, err := members(ctx, tx, id)
		if err != nil {
			return err
		}
		moved = append(moved, old...)
		if _, err := tx.ExecContext(ctx, `DELETE FROM scim_members WHERE grp = ?`, id); err != nil {
			return err
		}
		c.Add = c.Members
	}
	for _, a := range c.Remove {
		if _, err := tx.ExecContext(ctx, `DELETE FROM scim_members WHERE grp = ? AND account = ?`, id, a); err != nil {
			return err
		}
		moved = append(moved, a)
	}
	for _, a := range c.Add {
		// Unknown accounts are skipped; one joining again keeps its place.
		if _, err := tx.ExecContext(ctx, `INSERT INTO scim_members (grp, account, seq)
			SELECT ?1, id, (SELECT coalesce(max(seq), 0) + 1 FROM scim_members) FROM scim_accounts WHERE id = ?2
			ON CONFLICT DO NOTHING`, id, a); err != nil {
			return err
		}
		moved = append(moved, a)
	}
	return placeAccounts(ctx, tx, moved, c.Unassigned)
}

// placeAccounts sets the team of each account's person: the team of the
// group they joined last, or unassigned in none.
func placeAccounts(ctx context.Context, tx *sql.Tx, accounts []string, unassigned string) error {
	slices.Sort(accounts)
	for _, a := range slices.Compact(accounts) {
		if _, err := tx.ExecContext(ctx, `UPDATE users SET team = coalesce((SELECT g.team FROM scim_members m JOIN scim_groups g ON g.id = m.grp
				WHERE m.account = ?1 ORDER BY m.seq DESC LIMIT 1), ?2)
			WHERE name = (SELECT usr FROM scim_accounts WHERE id = ?1)`, a, unassigned); err != nil {
			return err
		}
	}
	if len(accounts) > 0 {
		if err := ensureTeam(ctx, tx, unassigned); err != nil {
			return err
		}
	}
	return nil
}

// groupRow reads one group with its members.
func groupRow(ctx context.Context, q querier, sc interface{ Scan(...any) error }) (allot.Group, error) {
	var g allot.Group
	var created, modified int64
	if err := sc.Scan(&g.ID, &g.DisplayName, &g.ExternalID, &g.Team, &created, &modified); err != nil {
		return g, err
	}
	g.Created, g.Modified = time.UnixMicro(created).UTC(), time.UnixMicro(modified).UTC()
	var err error
	g.Members, err = members(ctx, q, g.ID)
	return g, err
}

// members lists the account ids in group id, sorted.
func members(ctx context.Context, q querier, id string) ([]string, error) {
	out := []string{}
	err := eachRow(ctx, q, `SELECT account FROM scim_members WHERE grp = ? ORDER BY account`, []any{id}, func(rows *sql.Rows) error {
		var a string
		err := rows.Scan(&a)
		out = append(out, a)
		return err
	})
	return out, err
}

const groupColumns = `SELECT id, display_name, external_id, team, created_us, modified_us FROM scim_groups`

// Group returns one group.
func (db *DB) Group(ctx context.Context, id string) (allot.Group, error) {
	g, err := groupRow(ctx, db.r, db.r.QueryRowContext(ctx, groupColumns+` WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return allot.Group{}, allot.NoGroup(id)
	}
	if err != nil {
		return allot.Group{}, fmt.Errorf("read group: %w", err)
	}
	return g, nil
}

// Groups lists groups, oldest first, and how many match.
func (db *DB) Groups(ctx context.Context, p allot.Page) ([]allot.Group, int, error) {
	p = p.Bounded()
	where, args := "", []any{}
	if p.Name != "" {
		where, args = ` WHERE display_name = ?`, append(args, p.Name)
	}
	var total int
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM scim_groups`+where, args...).Scan(&total); err != nil {
		return nil, 0, fmt.Errorf("count groups: %w", err)
	}
	var ids []string
	if err := eachRow(ctx, db.r, `SELECT id FROM scim_groups`+where+` ORDER BY created_us, id LIMIT ? OFFSET ?`, append(args, p.Limit, p.Offset), func(rows *sql.Rows) error {
		var id string
		err := rows.Scan(&id)
		ids = append(ids, id)
		return err
	}); err != nil {
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
	err := db.inTx(ctx, "update group", func(tx *sql.Tx) error {
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
			if _, err := tx.ExecContext(ctx, `UPDATE scim_groups SET display_name = ?, team = ? WHERE id = ?`, c.DisplayName, c.Team, id); err != nil {
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
			if _, err := tx.ExecContext(ctx, `UPDATE scim_groups SET external_id = ? WHERE id = ?`, *c.ExternalID, id); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE scim_groups SET modified_us = ? WHERE id = ?`, time.Now().UnixMicro(), id); err != nil {
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
	return db.inTx(ctx, "delete group", func(tx *sql.Tx) error {
		team, err := groupTeam(ctx, tx, id)
		if err != nil {
			return err
		}
		if err := changeMembers(ctx, tx, id, allot.GroupChange{SetMembers: true, Unassigned: unassigned}); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM scim_groups WHERE id = ?`, id); err != nil {
			return err
		}
		return dropTeamIfUnused(ctx, tx, team)
	})
}

// dropTeamIfUnused removes team when no active person is in it and no
// group maps to it.
func dropTeamIfUnused(ctx context.Context, tx *sql.Tx, team string) error {
	_, err := tx.ExecContext(ctx, `DELETE FROM teams WHERE name = ?1 AND NOT EXISTS (SELECT 1 FROM users WHERE team = ?1 AND active = 1)
		AND NOT EXISTS (SELECT 1 FROM scim_groups WHERE team = ?1)`, team)
	return err
}

// ensureTeam creates team unless it exists.
func ensureTeam(ctx context.Context, tx *sql.Tx, team string) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO teams (name) VALUES (?) ON CONFLICT DO NOTHING`, team)
	return err
}

// accountUser returns the user account id provisions and whether they
// are active; ENotFound when there is no such account.
func accountUser(ctx context.Context, tx *sql.Tx, id string) (name string, active bool, err error) {
	err = tx.QueryRowContext(ctx, `SELECT a.usr, u.active FROM scim_accounts a JOIN users u ON u.name = a.usr WHERE a.id = ?`, id).Scan(&name, &active)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, allot.NoAccount(id)
	}
	return name, active, err
}

// groupTeam returns group id's team; ENotFound when there is no such
// group.
func groupTeam(ctx context.Context, tx *sql.Tx, id string) (string, error) {
	var team string
	err := tx.QueryRowContext(ctx, `SELECT team FROM scim_groups WHERE id = ?`, id).Scan(&team)
	if errors.Is(err, sql.ErrNoRows) {
		return "", allot.NoGroup(id)
	}
	return team, err
}

// checkGroupName is EConflict when a group other than id is named name.
func checkGroupName(ctx context.Context, tx *sql.Tx, name, id string) error {
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM scim_groups WHERE display_name = ? AND id <> ?`, name, id).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return allot.GroupNameTaken(name)
	}
	return nil
}
