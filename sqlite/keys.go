package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

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
	db.wmu.Lock()
	defer db.wmu.Unlock()
	var active bool
	err := db.w.QueryRowContext(ctx, `SELECT active FROM users WHERE name = ?`, user).Scan(&active)
	if errors.Is(err, sql.ErrNoRows) || err == nil && !active {
		return "", allot.Key{}, allot.Errorf(allot.ENotFound, "no user %q; add them to org.yaml and run allot apply", user)
	}
	if err != nil {
		return "", allot.Key{}, fmt.Errorf("create key for %s: %w", user, err)
	}
	secret, id, hash := allot.NewKeySecret()
	now := time.Now().UTC().Truncate(time.Microsecond)
	k := allot.Key{ID: id, User: user, Label: label, Hash: hash, CreatedAt: now}
	var exp sql.NullInt64
	if !expires.IsZero() {
		t := expires.UTC().Truncate(time.Microsecond)
		k.ExpiresAt, exp = &t, sql.NullInt64{Int64: t.UnixMicro(), Valid: true}
	}
	if _, err := db.w.ExecContext(ctx, `INSERT INTO keys (id, usr, label, hash, created_us, expires_us) VALUES (?, ?, ?, ?, ?, ?)`,
		id, user, label, hash, now.UnixMicro(), exp); err != nil {
		return "", allot.Key{}, fmt.Errorf("create key for %s: %w", user, err)
	}
	return secret, k, nil
}

// Keys lists keys, revoked ones included, oldest first: one user's, or
// everyone's when user is "".
func (db *DB) Keys(ctx context.Context, user string) ([]allot.Key, error) {
	query := `SELECT id, usr, label, hash, created_us, revoked_us, expires_us FROM keys`
	var args []any
	if user != "" {
		query += ` WHERE usr = ?`
		args = append(args, user)
	}
	query += ` ORDER BY created_us, id`
	out := []allot.Key{}
	err := eachRow(ctx, db.r, query, args, func(rows *sql.Rows) error {
		var k allot.Key
		var created int64
		var revoked, expires sql.NullInt64
		if err := rows.Scan(&k.ID, &k.User, &k.Label, &k.Hash, &created, &revoked, &expires); err != nil {
			return err
		}
		k.CreatedAt = time.UnixMicro(created).UTC()
		if revoked.Valid {
			t := time.UnixMicro(revoked.Int64).UTC()
			k.RevokedAt = &t
		}
		if expires.Valid {
			t := time.UnixMicro(expires.Int64).UTC()
			k.ExpiresAt = &t
		}
		out = append(out, k)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list keys: %w", err)
	}
	return out, nil
}

// RevokeKey revokes the key with public id; revoking it again changes
// nothing. An unknown id is ENotFound.
func (db *DB) RevokeKey(ctx context.Context, id string) error {
	db.wmu.Lock()
	defer db.wmu.Unlock()
	res, err := db.w.ExecContext(ctx, `UPDATE keys SET revoked_us = coalesce(revoked_us, ?) WHERE id = ?`, time.Now().UnixMicro(), id)
	if err != nil {
		return fmt.Errorf("revoke key %s: %w", id, err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return fmt.Errorf("revoke key %s: %w", id, err)
	} else if n == 0 {
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
	var revoked, expires sql.NullInt64
	var active bool
	err := db.r.QueryRowContext(ctx, `SELECT k.id, k.label, k.revoked_us, k.expires_us, u.name, u.team, u.role, u.active,
			coalesce((SELECT name FROM org WHERE id = 1), ?)
		FROM keys k JOIN users u ON u.name = k.usr WHERE k.hash = ?`, DefaultOrg, hash).
		Scan(&p.KeyID, &p.KeyLabel, &revoked, &expires, &p.User, &p.Team, &p.Role, &active, &p.Org)
	if err == nil && !revoked.Valid && active && expires.Valid && time.Now().UnixMicro() >= expires.Int64 {
		return allot.Principal{}, allot.Errorf(allot.EUnauthorized, "%s", allot.ExpiredKeyMessage)
	}
	if errors.Is(err, sql.ErrNoRows) || err == nil && (revoked.Valid || !active) {
		return allot.Principal{}, allot.Errorf(allot.EUnauthorized, "invalid allot key: it is unknown, revoked, or its user was removed; ask your allot admin for a new key")
	}
	if err != nil {
		return allot.Principal{}, fmt.Errorf("look up key: %w", err)
	}
	return p, nil
}
