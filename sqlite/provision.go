package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
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

// Account returns one account.
func (db *DB) Account(ctx context.Context, id string) (allot.Account, error) {
	a, err := accountRow(db.r.QueryRowContext(ctx, accountColumns+` WHERE a.id = ?`, id))
	return oneRow(a, err, allot.NoAccount(id), "read account")
}

// oneRow answers a read of one row: v, or notFound when there was no
// row, or err wrapped with what.
func oneRow[T any](v T, err, notFound error, what string) (T, error) {
	var zero T
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return zero, notFound
	case err != nil:
		return zero, fmt.Errorf("%s: %w", what, err)
	}
	return v, nil
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
	return oneRow(g, err, allot.NoGroup(id), "read group")
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
