package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/allot-dev/allot"
)

// InProvisionTx runs fn in one write transaction: allot.ProvisionStore,
// which the embedded allot.Provisioner makes its changes through.
func (db *DB) InProvisionTx(ctx context.Context, what string, fn func(allot.ProvisionTx) error) error {
	return db.inTx(ctx, what, func(tx *sql.Tx) error { return fn(provisionTx{tx}) })
}

// provisionTx runs the SQL of each provisioning step in tx
// (allot.ProvisionTx says what each does).
type provisionTx struct{ tx *sql.Tx }

// exec runs one statement.
func (t provisionTx) exec(ctx context.Context, query string, args ...any) error {
	_, err := t.tx.ExecContext(ctx, query, args...)
	return err
}

func (t provisionTx) FindUser(ctx context.Context, email string) (name string, provisioned, found bool, err error) {
	err = t.tx.QueryRowContext(ctx, `SELECT u.name, EXISTS (SELECT 1 FROM scim_accounts a WHERE a.usr = u.name)
		FROM users u WHERE lower(u.email) = lower(?1) OR u.name = ?1 ORDER BY u.active DESC, u.name LIMIT 1`, email).Scan(&name, &provisioned)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, false, nil
	}
	return name, provisioned, err == nil, err
}

func (t provisionTx) AddUser(ctx context.Context, name, email, team string) error {
	if err := t.exec(ctx, `INSERT INTO users (name, email, team, role, active) VALUES (?, ?, ?, ?, 1)`,
		name, email, team, string(allot.RoleMember)); err != nil {
		return err
	}
	return setSource(ctx, t.tx, name, allot.SourceSCIM)
}

func (t provisionTx) AdoptUser(ctx context.Context, name, email string) error {
	if err := t.exec(ctx, `UPDATE users SET email = ?, active = 1 WHERE name = ?`, email, name); err != nil {
		return err
	}
	return setSource(ctx, t.tx, name, allot.SourceSCIM)
}

func (t provisionTx) SetActive(ctx context.Context, name string, active bool) error {
	return setActive(ctx, t.tx, name, active)
}

func (t provisionTx) InsertAccount(ctx context.Context, a allot.Account, now time.Time) error {
	return t.exec(ctx, `INSERT INTO scim_accounts (id, usr, external_id, display_name, given_name, family_name, created_us, modified_us)
		VALUES (?, ?, ?, ?, ?, ?, ?7, ?7)`, a.ID, a.User, a.ExternalID, a.DisplayName, a.GivenName, a.FamilyName, now.UnixMicro())
}

func (t provisionTx) AccountUser(ctx context.Context, id string) (name string, active bool, err error) {
	err = t.tx.QueryRowContext(ctx, `SELECT a.usr, u.active FROM scim_accounts a JOIN users u ON u.name = a.usr WHERE a.id = ?`, id).Scan(&name, &active)
	if errors.Is(err, sql.ErrNoRows) {
		return "", false, allot.NoAccount(id)
	}
	return name, active, err
}

func (t provisionTx) EmailTaken(ctx context.Context, email, name string) (bool, error) {
	var taken bool
	err := t.tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE lower(email) = lower(?) AND name <> ?)`, email, name).Scan(&taken)
	return taken, err
}

func (t provisionTx) SetEmail(ctx context.Context, name, email string) error {
	return t.exec(ctx, `UPDATE users SET email = ? WHERE name = ?`, email, name)
}

func (t provisionTx) UpdateAccount(ctx context.Context, a allot.Account, now time.Time) error {
	return t.exec(ctx, `UPDATE scim_accounts SET external_id = ?, display_name = ?, given_name = ?, family_name = ?, modified_us = ? WHERE id = ?`,
		a.ExternalID, a.DisplayName, a.GivenName, a.FamilyName, now.UnixMicro(), a.ID)
}

func (t provisionTx) DeleteAccount(ctx context.Context, id string) error {
	return t.exec(ctx, `DELETE FROM scim_accounts WHERE id = ?`, id)
}

func (t provisionTx) GroupTeam(ctx context.Context, id string) (string, error) {
	var team string
	err := t.tx.QueryRowContext(ctx, `SELECT team FROM scim_groups WHERE id = ?`, id).Scan(&team)
	if errors.Is(err, sql.ErrNoRows) {
		return "", allot.NoGroup(id)
	}
	return team, err
}

func (t provisionTx) GroupNamed(ctx context.Context, name, id string) (bool, error) {
	var taken bool
	err := t.tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM scim_groups WHERE display_name = ? AND id <> ?)`, name, id).Scan(&taken)
	return taken, err
}

func (t provisionTx) EnsureTeam(ctx context.Context, team string) error {
	return t.exec(ctx, `INSERT INTO teams (name) VALUES (?) ON CONFLICT DO NOTHING`, team)
}

func (t provisionTx) InsertGroup(ctx context.Context, g allot.Group, now time.Time) error {
	return t.exec(ctx, `INSERT INTO scim_groups (id, display_name, external_id, team, created_us, modified_us) VALUES (?, ?, ?, ?, ?5, ?5)`,
		g.ID, g.DisplayName, g.ExternalID, g.Team, now.UnixMicro())
}

func (t provisionTx) RenameGroup(ctx context.Context, id, name, team string) error {
	return t.exec(ctx, `UPDATE scim_groups SET display_name = ?, team = ? WHERE id = ?`, name, team, id)
}

func (t provisionTx) SetGroupExternalID(ctx context.Context, id, externalID string) error {
	return t.exec(ctx, `UPDATE scim_groups SET external_id = ? WHERE id = ?`, externalID, id)
}

func (t provisionTx) TouchGroup(ctx context.Context, id string, now time.Time) error {
	return t.exec(ctx, `UPDATE scim_groups SET modified_us = ? WHERE id = ?`, now.UnixMicro(), id)
}

func (t provisionTx) Members(ctx context.Context, id string) ([]string, error) {
	return members(ctx, t.tx, id)
}

func (t provisionTx) ClearMembers(ctx context.Context, id string) error {
	return t.exec(ctx, `DELETE FROM scim_members WHERE grp = ?`, id)
}

func (t provisionTx) RemoveMembers(ctx context.Context, id string, accounts []string) error {
	for _, a := range accounts {
		if err := t.exec(ctx, `DELETE FROM scim_members WHERE grp = ? AND account = ?`, id, a); err != nil {
			return err
		}
	}
	return nil
}

func (t provisionTx) AddMember(ctx context.Context, id, account string) error {
	return t.exec(ctx, `INSERT INTO scim_members (grp, account, seq)
		SELECT ?1, id, (SELECT coalesce(max(seq), 0) + 1 FROM scim_members) FROM scim_accounts WHERE id = ?2
		ON CONFLICT DO NOTHING`, id, account)
}

func (t provisionTx) PlaceAccounts(ctx context.Context, accounts []string, unassigned string) error {
	for _, a := range accounts {
		if err := t.exec(ctx, `UPDATE users SET team = coalesce((SELECT g.team FROM scim_members m JOIN scim_groups g ON g.id = m.grp
				WHERE m.account = ?1 ORDER BY m.seq DESC LIMIT 1), ?2)
			WHERE name = (SELECT usr FROM scim_accounts WHERE id = ?1)`, a, unassigned); err != nil {
			return err
		}
	}
	return nil
}

func (t provisionTx) DeleteGroup(ctx context.Context, id string) error {
	return t.exec(ctx, `DELETE FROM scim_groups WHERE id = ?`, id)
}

func (t provisionTx) DropTeamIfUnused(ctx context.Context, team string) error {
	return t.exec(ctx, `DELETE FROM teams WHERE name = ?1 AND NOT EXISTS (SELECT 1 FROM users WHERE team = ?1 AND active = 1)
		AND NOT EXISTS (SELECT 1 FROM scim_groups WHERE team = ?1)`, team)
}
