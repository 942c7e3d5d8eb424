package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/allot-dev/allot"
)

// DefaultKeyLabel labels a key created without a label.
const DefaultKeyLabel = "default"

// CreateKey makes a new virtual key for an active user and returns its
// secret, which is not stored (only its SHA-256 is) and cannot be shown again.
func (db *DB) CreateKey(ctx context.Context, user, label string) (string, allot.Key, error) {
	return db.CreateKeyExpiring(ctx, user, label, time.Time{})
}

// CreateKeyExpiring is CreateKey with an expiry (none when zero).
func (db *DB) CreateKeyExpiring(ctx context.Context, user, label string, expires time.Time) (string, allot.Key, error) {
	if label == "" {
		label = DefaultKeyLabel
	}
	secret, id, hash := allot.NewKeySecret()
	now := time.Now().UTC().Truncate(time.Microsecond)
	k := allot.Key{ID: id, User: user, Label: label, Hash: hash, CreatedAt: now}
	if !expires.IsZero() {
		t := expires.UTC().Truncate(time.Microsecond)
		k.ExpiresAt = &t
	}
	// One statement: the key is stored only if the user exists and is active.
	tag, err := db.pool.Exec(ctx, `INSERT INTO keys (id, usr, label, hash, created_at, expires_at)
		SELECT $1, name, $3, $4, $5, $6 FROM users WHERE name = $2 AND active`, id, user, label, hash, now, k.ExpiresAt)
	if err != nil {
		return "", allot.Key{}, fmt.Errorf("create key for %s: %w", user, err)
	}
	if tag.RowsAffected() == 0 {
		return "", allot.Key{}, allot.Errorf(allot.ENotFound, "no user %q; add them to org.yaml and run allot apply", user)
	}
	return secret, k, nil
}

// Keys lists keys, revoked ones included, oldest first: one user's, or
// everyone's when user is "". Each carries its hash (never shown to people).
func (db *DB) Keys(ctx context.Context, user string) ([]allot.Key, error) {
	query := `SELECT id, usr, label, hash, created_at, revoked_at, expires_at FROM keys`
	var args []any
	if user != "" {
		query += ` WHERE usr = $1`
		args = append(args, user)
	}
	query += ` ORDER BY created_at, id`
	out := []allot.Key{}
	rows, _ := db.pool.Query(ctx, query, args...)
	var k allot.Key
	var revoked, expires *time.Time
	if _, err := pgx.ForEachRow(rows, []any{&k.ID, &k.User, &k.Label, &k.Hash, &k.CreatedAt, &revoked, &expires}, func() error {
		key := k
		key.CreatedAt = k.CreatedAt.UTC()
		if revoked != nil {
			t := revoked.UTC()
			key.RevokedAt = &t
		}
		if expires != nil {
			t := expires.UTC()
			key.ExpiresAt = &t
		}
		out = append(out, key)
		k.Hash, revoked, expires = nil, nil, nil
		return nil
	}); err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	return out, nil
}

// RevokeKey revokes the key with public id; revoking it again changes
// nothing. An unknown id is ENotFound.
func (db *DB) RevokeKey(ctx context.Context, id string) error {
	tag, err := db.pool.Exec(ctx, `UPDATE keys SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2`,
		time.Now().UTC().Truncate(time.Microsecond), id)
	if err != nil {
		return fmt.Errorf("revoke key %s: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return allot.Errorf(allot.ENotFound, "no key %q; list keys with allot keys list", id)
	}
	return nil
}

// PrincipalByKeyHash resolves the hash of a presented key to whom calls
// are attributed. An unknown or revoked key, or one whose user was
// deactivated, is EUnauthorized; so is an expired one, with
// allot.ExpiredKeyMessage.
func (db *DB) PrincipalByKeyHash(ctx context.Context, hash []byte) (allot.Principal, error) {
	var p allot.Principal
	var expires *time.Time
	err := db.pool.QueryRow(ctx, `SELECT k.id, k.label, k.expires_at, u.name, u.team, u.role, coalesce((SELECT name FROM org WHERE id = 1), $1)
		FROM keys k JOIN users u ON u.name = k.usr WHERE k.hash = $2 AND k.revoked_at IS NULL AND u.active`, DefaultOrg, hash).
		Scan(&p.KeyID, &p.KeyLabel, &expires, &p.User, &p.Team, &p.Role, &p.Org)
	if err == nil && expires != nil && !time.Now().Before(*expires) {
		return allot.Principal{}, allot.Errorf(allot.EUnauthorized, "%s", allot.ExpiredKeyMessage)
	}
	if errNoRows(err) {
		return allot.Principal{}, allot.Errorf(allot.EUnauthorized, "invalid allot key: it is unknown, revoked, or its user was removed; ask your allot admin for a new key")
	}
	if err != nil {
		return allot.Principal{}, fmt.Errorf("look up key: %w", err)
	}
	return p, nil
}
