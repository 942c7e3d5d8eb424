package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Setting returns the stored value of a setting, or nil if it was never set.
func (db *DB) Setting(ctx context.Context, name string) ([]byte, error) {
	var v []byte
	err := db.pool.QueryRow(ctx, `SELECT value FROM settings WHERE name = $1`, name).Scan(&v)
	if errNoRows(err) {
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
	if _, err := db.pool.Exec(ctx, `INSERT INTO settings (name, value) VALUES ($1, $2)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value`, name, value); err != nil {
		return fmt.Errorf("write setting %s: %w", name, err)
	}
	return nil
}

// Settings returns every stored setting, for copying a database.
func (db *DB) Settings(ctx context.Context) (map[string][]byte, error) {
	out := map[string][]byte{}
	rows, _ := db.pool.Query(ctx, `SELECT name, value FROM settings`)
	var name string
	var v []byte
	if _, err := pgx.ForEachRow(rows, []any{&name, &v}, func() error {
		out[name] = append([]byte{}, v...)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read settings: %w", err)
	}
	return out, nil
}
