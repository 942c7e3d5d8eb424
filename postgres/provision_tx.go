package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/allot-dev/allot"
)

// InProvisionTx runs fn in one transaction holding provisionLock:
// allot.ProvisionStore, which the embedded allot.Provisioner makes its
// changes through.
func (db *DB) InProvisionTx(ctx context.Context, what string, fn func(allot.ProvisionTx) error) error {
	return db.lockedTx(ctx, what, func(tx pgx.Tx) error { return fn(provisionTx{tx}) })
}

// provisionTx runs the SQL of each provisioning step in tx
// (allot.ProvisionTx says what each does).
type provisionTx struct{ tx pgx.Tx }

// exec runs one statement.
func (t provisionTx) exec(ctx context.Context, query string, args ...any) error {
	_, err := t.tx.Exec(ctx, query, args...)
	return err
}

func (t provisionTx) FindUser(ctx context.Context, email string) (name string, provisioned, found bool, err error) {
	err = t.tx.QueryRow(ctx, `SELECT u.name, EXISTS (SELECT 1 FROM scim_accounts a WHERE a.usr = u.name)
		FROM users u WHERE lower(u.email) = lower($1) OR u.name = $1 ORDER BY u.active DESC, u.name LIMIT 1`, email).Scan(&name, &provisioned)
	if errNoRows(err) {
		return "", false, false, nil
	}
	return name, provisioned, err == nil, err
}

func (t provisionTx) AddUser(ctx context.Context, name, email, team string) error {
	return t.exec(ctx, `INSERT INTO users (name, email, team, role, active, source) VALUES ($1, $2, $3, $4, true, $5)`,
		name, email, team, string(allot.RoleMember), allot.SourceSCIM)
}

func (t provisionTx) AdoptUser(ctx context.Context, name, email string) error {
	return t.exec(ctx, `UPDATE users SET email = $1, active = true, source = $2 WHERE name = $3`, email, allot.SourceSCIM, name)
}

func (t provisionTx) SetActive(ctx context.Context, name string, active bool) error {
	return setActive(ctx, t.tx, name, active)
}

func (t provisionTx) InsertAccount(ctx context.Context, a allot.Account, now time.Time) error {
	return t.exec(ctx, `INSERT INTO scim_accounts (id, usr, external_id, display_name, given_name, family_name, created_at, modified_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $7)`, a.ID, a.User, a.ExternalID, a.DisplayName, a.GivenName, a.FamilyName, now)
}

func (t provisionTx) AccountUser(ctx context.Context, id string) (name string, active bool, err error) {
	err = t.tx.QueryRow(ctx, `SELECT a.usr, u.active FROM scim_accounts a JOIN users u ON u.name = a.usr WHERE a.id = $1`, id).Scan(&name, &active)
	if errNoRows(err) {
		return "", false, allot.NoAccount(id)
	}
	return name, active, err
}

func (t provisionTx) EmailTaken(ctx context.Context, email, name string) (bool, error) {
	var taken bool
	err := t.tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE lower(email) = lower($1) AND name <> $2)`, email, name).Scan(&taken)
	return taken, err
}

func (t provisionTx) SetEmail(ctx context.Context, name, email string) error {
	return t.exec(ctx, `UPDATE users SET email = $1 WHERE name = $2`, email, name)
}

func (t provisionTx) UpdateAccount(ctx context.Context, a allot.Account, now time.Time) error {
	return t.exec(ctx, `UPDATE scim_accounts SET external_id = $1, display_name = $2, given_name = $3, family_name = $4, modified_at = $5 WHERE id = $6`,
		a.ExternalID, a.DisplayName, a.GivenName, a.FamilyName, now, a.ID)
}

func (t provisionTx) DeleteAccount(ctx context.Context, id string) error {
	return t.exec(ctx, `DELETE FROM scim_accounts WHERE id = $1`, id)
}

func (t provisionTx) GroupTeam(ctx context.Context, id string) (string, error) {
	var team string
	err := t.tx.QueryRow(ctx, `SELECT team FROM scim_groups WHERE id = $1`, id).Scan(&team)
	if errNoRows(err) {
		return "", allot.NoGroup(id)
	}
	return team, err
}

func (t provisionTx) GroupNamed(ctx context.Context, name, id string) (bool, error) {
	var taken bool
	err := t.tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM scim_groups WHERE display_name = $1 AND id <> $2)`, name, id).Scan(&taken)
	return taken, err
}

func (t provisionTx) EnsureTeam(ctx context.Context, team string) error {
	return t.exec(ctx, `INSERT INTO teams (name) VALUES ($1) ON CONFLICT DO NOTHING`, team)
}

func (t provisionTx) InsertGroup(ctx context.Context, g allot.Group, now time.Time) error {
	return t.exec(ctx, `INSERT INTO scim_groups (id, display_name, external_id, team, created_at, modified_at) VALUES ($1, $2, $3, $4, $5, $5)`,
		g.ID, g.DisplayName, g.ExternalID, g.Team, now)
}

func (t provisionTx) RenameGroup(ctx context.Context, id, name, team string) error {
	return t.exec(ctx, `UPDATE scim_groups SET display_name = $1, team = $2 WHERE id = $3`, name, team, id)
}

func (t provisionTx) SetGroupExternalID(ctx context.Context, id, externalID string) error {
	return t.exec(ctx, `UPDATE scim_groups SET external_id = $1 WHERE id = $2`, externalID, id)
}

func (t provisionTx) TouchGroup(ctx context.Context, id string, now time.Time) error {
	return t.exec(ctx, `UPDATE scim_groups SET modified_at = $1 WHERE id = $2`, now, id)
}

func (t provisionTx) Members(ctx context.Context, id string) ([]string, error) {
	return members(ctx, t.tx, id)
}

func (t provisionTx) ClearMembers(ctx context.Context, id string) error {
	return t.exec(ctx, `DELETE FROM scim_members WHERE grp = $1`, id)
}

func (t provisionTx) RemoveMembers(ctx context.Context, id string, accounts []string) error {
	return t.exec(ctx, `DELETE FROM scim_members WHERE grp = $1 AND account = ANY($2)`, id, accounts)
}

func (t provisionTx) AddMember(ctx context.Context, id, account string) error {
	return t.exec(ctx, `INSERT INTO scim_members (grp, account) SELECT $1, id FROM scim_accounts WHERE id = $2 ON CONFLICT DO NOTHING`, id, account)
}

func (t provisionTx) PlaceAccounts(ctx context.Context, accounts []string, unassigned string) error {
	return t.exec(ctx, `UPDATE users u SET team = coalesce((SELECT g.team FROM scim_members m JOIN scim_groups g ON g.id = m.grp
			WHERE m.account = a.id ORDER BY m.seq DESC LIMIT 1), $2)
		FROM scim_accounts a WHERE a.usr = u.name AND a.id = ANY($1)`, accounts, unassigned)
}

func (t provisionTx) DeleteGroup(ctx context.Context, id string) error {
	return t.exec(ctx, `DELETE FROM scim_groups WHERE id = $1`, id)
}

func (t provisionTx) DropTeamIfUnused(ctx context.Context, team string) error {
	return t.exec(ctx, `DELETE FROM teams WHERE name = $1 AND NOT EXISTS (SELECT 1 FROM users WHERE team = $1 AND active)
		AND NOT EXISTS (SELECT 1 FROM scim_groups WHERE team = $1)`, team)
}
