package postgres

import (
	"context"
	"errors"
	"fmt"

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

// lockedTx runs fn in one transaction holding provisionLock; a unique
// violation (a race the lock did not cover, e.g. with ApplyOrg) is
// EConflict.
func (db *DB) lockedTx(ctx context.Context, what string, fn func(tx pgx.Tx) error) error {
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
