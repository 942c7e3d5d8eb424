package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/allot-dev/allot"
)

// Audit appends one entry to the audit log; a zero Time is now. Times are
// kept to the microsecond.
func (db *DB) Audit(ctx context.Context, e allot.AuditEntry) error {
	if e.Time.IsZero() {
		e.Time = time.Now()
	}
	db.wmu.Lock()
	defer db.wmu.Unlock()
	if _, err := db.w.ExecContext(ctx, `INSERT INTO audit (t, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)`,
		e.Time.UnixMicro(), e.Actor, e.Action, e.Target, e.Detail); err != nil {
		return fmt.Errorf("audit %s %s: %w", e.Action, e.Target, err)
	}
	return nil
}

// AuditEntries lists entries with from <= Time < to (a zero bound is
// open), newest first (ties: the later written first), at most limit (0:
// no limit).
func (db *DB) AuditEntries(ctx context.Context, from, to time.Time, limit int) ([]allot.AuditEntry, error) {
	cond, args := rangeSQL("t", from, to)
	out := []allot.AuditEntry{}
	err := eachRow(ctx, db.r, `SELECT t, actor, action, target, detail FROM audit WHERE `+cond+
		` ORDER BY t DESC, seq DESC`+limitSQL(limit), args, func(rows *sql.Rows) error {
		var e allot.AuditEntry
		var t int64
		if err := rows.Scan(&t, &e.Actor, &e.Action, &e.Target, &e.Detail); err != nil {
			return err
		}
		e.Time = time.UnixMicro(t).UTC()
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read audit log: %w", err)
	}
	return out, nil
}

// rangeSQL returns the condition col in [from, to) over a column of unix
// microseconds, with its arguments; a zero bound is open.
func rangeSQL(col string, from, to time.Time) (string, []any) {
	cond, args := "1", []any{}
	if !from.IsZero() {
		cond += " AND " + col + " >= ?"
		args = append(args, from.UnixMicro())
	}
	if !to.IsZero() {
		cond += " AND " + col + " < ?"
		args = append(args, to.UnixMicro())
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
