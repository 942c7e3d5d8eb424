package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"github.com/allot-dev/allot"
)

// What `allot migrate --from sqlite:FILE --to postgres://…` reads: the
// whole database, including what the Directory interface leaves out
// (inactive users, the org's name, every setting) and the ledger in
// insertion order, in pages. Keys come from Keys(ctx, ""), which carries
// their hashes.

// UserRecord is a stored user with whether they are active and where
// they came from (allot.SourceOrg, SourceSCIM, SourceSSO).
type UserRecord struct {
	allot.User
	Active bool
	Source string
}

// OrgName returns the organization's stored name, "" if none was applied.
func (db *DB) OrgName(ctx context.Context) (string, error) {
	var name string
	err := db.r.QueryRowContext(ctx, `SELECT name FROM org WHERE id = 1`).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read org name: %w", err)
	}
	return name, nil
}

// AllUsers lists every user, deactivated ones too, by name.
func (db *DB) AllUsers(ctx context.Context) ([]UserRecord, error) {
	var out []UserRecord
	err := eachRow(ctx, db.r, `SELECT name, email, team, role, active, `+sourceOf+` FROM users ORDER BY name`, nil, func(rows *sql.Rows) error {
		var u UserRecord
		err := rows.Scan(&u.Name, &u.Email, &u.Team, &u.Role, &u.Active, &u.Source)
		out = append(out, u)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list all users: %w", err)
	}
	return out, nil
}

// Settings returns every stored setting.
func (db *DB) Settings(ctx context.Context) (map[string][]byte, error) {
	out := map[string][]byte{}
	err := eachRow(ctx, db.r, `SELECT name, value FROM settings`, nil, func(rows *sql.Rows) error {
		var name string
		var v []byte
		err := rows.Scan(&name, &v)
		if v == nil {
			v = []byte{}
		}
		out[name] = v
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("read settings: %w", err)
	}
	return out, nil
}

// EventsAfter returns up to limit stored events in insertion order,
// starting after the event numbered after (0: from the first), and the
// number of the last one returned (after itself when none are left): a
// cursor for reading the whole ledger in pages.
func (db *DB) EventsAfter(ctx context.Context, after int64, limit int) ([]allot.Event, int64, error) {
	if limit <= 0 {
		limit = 1000
	}
	last := after
	var raw []eventRow
	err := eachRow(ctx, db.r, `SELECT e.seq, `+eventSelect+` FROM events e CROSS JOIN attrs a ON a.id = e.attr
		WHERE e.seq > ? ORDER BY e.seq LIMIT ?`, []any{after, limit}, func(rows *sql.Rows) error {
		var r eventRow
		if err := rows.Scan(append([]any{&last}, r.dest()...)...); err != nil {
			return err
		}
		raw = append(raw, r)
		return nil
	})
	if err != nil {
		return nil, after, fmt.Errorf("read events after %d: %w", after, err)
	}
	out, err := db.events(ctx, raw)
	if err != nil {
		return nil, after, fmt.Errorf("read events after %d: %w", after, err)
	}
	return out, last, nil
}
