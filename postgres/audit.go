package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/allot-dev/allot"
)

// rangeSQL returns the condition col in [from, to) with its arguments
// numbered from n+1; a zero bound is open. limit > 0 adds a LIMIT.
func rangeSQL(col string, from, to time.Time, n int) (string, []any) {
	cond, args := "true", []any{}
	if !from.IsZero() {
		args = append(args, from)
		cond += fmt.Sprintf(" AND %s >= $%d", col, n+len(args))
	}
	if !to.IsZero() {
		args = append(args, to)
		cond += fmt.Sprintf(" AND %s < $%d", col, n+len(args))
	}
	return cond, args
}

// limitSQL is " LIMIT n" for limit > 0, else "".
func limitSQL(limit int) string {
	if limit > 0 {
		return fmt.Sprintf(" LIMIT %d", limit)
	}
	return ""
}

// Audit appends one entry to the audit log.
func (db *DB) Audit(ctx context.Context, e allot.AuditEntry) error {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	if _, err := db.pool.Exec(ctx, `INSERT INTO audit (time, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5)`,
		e.Time, e.Actor, e.Action, e.Target, e.Detail); err != nil {
		return fmt.Errorf("audit %s %s: %w", e.Action, e.Target, err)
	}
	return nil
}

// AuditEntries lists entries with from <= Time < to (a zero bound is
// open), newest first (ties: the later written first), at most limit (0:
// no limit).
func (db *DB) AuditEntries(ctx context.Context, from, to time.Time, limit int) ([]allot.AuditEntry, error) {
	cond, args := rangeSQL("time", from, to, 0)
	out := []allot.AuditEntry{}
	rows, _ := db.pool.Query(ctx, `SELECT time, actor, action, target, detail FROM audit WHERE `+cond+` ORDER BY time DESC, seq DESC`+limitSQL(limit), args...)
	var e allot.AuditEntry
	if _, err := pgx.ForEachRow(rows, []any{&e.Time, &e.Actor, &e.Action, &e.Target, &e.Detail}, func() error {
		e.Time = e.Time.UTC()
		out = append(out, e)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	return out, nil
}

// ImportAudit stores entries copied from another database, skipping any
// entry already stored with the same time, actor, action, target and
// detail, so copying twice adds nothing. It returns how many were added.
func (db *DB) ImportAudit(ctx context.Context, entries []allot.AuditEntry) (int, error) {
	added := 0
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		for _, e := range entries {
			tag, err := tx.Exec(ctx, `INSERT INTO audit (time, actor, action, target, detail) SELECT $1, $2, $3, $4, $5
				WHERE NOT EXISTS (SELECT 1 FROM audit WHERE time = $1 AND actor = $2 AND action = $3 AND target = $4 AND detail = $5)`,
				e.Time, e.Actor, e.Action, e.Target, e.Detail)
			if err != nil {
				return err
			}
			added += int(tag.RowsAffected())
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("import audit log: %w", err)
	}
	return added, nil
}

var _ allot.AuditLog = (*DB)(nil)
