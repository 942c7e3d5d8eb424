package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// Setting returns the stored value of a setting, or nil if it was never set.
func (db *DB) Setting(ctx context.Context, name string) ([]byte, error) {
	var v []byte
	err := db.r.QueryRowContext(ctx, `SELECT value FROM settings WHERE name = ?`, name).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read setting %s: %w", name, err)
	}
	if v == nil {
		v = []byte{}
	}
	return v, nil
}

// SetSetting stores value under name, replacing any earlier value.
func (db *DB) SetSetting(ctx context.Context, name string, value []byte) error {
	if value == nil {
		value = []byte{}
	}
	db.wmu.Lock()
	defer db.wmu.Unlock()
	if _, err := db.w.ExecContext(ctx, `INSERT INTO settings (name, value) VALUES (?, ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, value); err != nil {
		return fmt.Errorf("write setting %s: %w", name, err)
	}
	return nil
}
