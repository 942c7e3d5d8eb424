package postgres

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
)

// Daily rollups are made once per day, after it ended, instead of on every
// append: that halves what an event costs the database. Closing a day sums
// its hourly rollups into rollups_daily and rollups_user_daily and lists it
// in rollups_days, in one transaction, under an exclusive advisory lock on
// the day. Appends hold the same lock shared for the days of their batch,
// so a day is closed either before an append (which then sees it closed
// and adds its late events to the daily rows too) or after it (and sums
// them from the hourly rows). Reports read closed days from the daily
// rollups (and their hours from the hourly ones), kept in memory by the
// day's version, and every other day from the hourly rollups, all in one
// snapshot, so they are exact at every moment (reportunits.go). Closing a
// day gives it its first version (migrations/0004).

// closeAfter is how long after its end a day may be closed: appends of
// its last events, and replicas whose clocks run behind, are done by then.
const closeAfter = time.Hour

// dayOf is the unix day of t (UTC).
func dayOf(t time.Time) int64 { return floorDiv(t.Unix(), 86400) }

// floorDiv divides rounding towards minus infinity.
func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// dayLock is the advisory lock id of unix day d.
func (db *DB) dayLock(d int64) int64 { return db.lockID("day\x00" + strconv.FormatInt(d, 10)) }

// closableBefore is the first day that may not be closed yet at now.
func closableBefore(now time.Time) int64 { return dayOf(now.Add(-closeAfter)) }

// CloseDays closes every day before before that has hourly rollups and is
// not closed yet (never today, nor a day that ended less than an hour
// ago), oldest first, and returns how many it closed. Reports call it in
// the background for the days they read; call it after a bulk import to
// make the first reports fast.
func (db *DB) CloseDays(ctx context.Context, before time.Time) (int, error) {
	end := min(dayOf(before), closableBefore(time.Now()))
	var first *int64
	if err := db.pool.QueryRow(ctx, `SELECT min(hour)::int8 / 24 FROM rollups_hourly`).Scan(&first); err != nil {
		return 0, fmt.Errorf("close days: %w", err)
	}
	if first == nil || *first >= end {
		return 0, nil
	}
	closed, err := db.closedDays(ctx, *first, end)
	if err != nil {
		return 0, err
	}
	var days []int64
	for d := *first; d < end; d++ {
		if !closed[d] {
			days = append(days, d)
		}
	}
	return db.closeDays(ctx, days)
}

// closedDays lists the closed days in [from, to).
func (db *DB) closedDays(ctx context.Context, from, to int64) (map[int64]bool, error) {
	rows, _ := db.pool.Query(ctx, `SELECT day::int8 FROM rollups_days WHERE day >= $1 AND day < $2`, from, to)
	out := map[int64]bool{}
	var d int64
	if _, err := pgx.ForEachRow(rows, []any{&d}, func() error { out[d] = true; return nil }); err != nil {
		return nil, fmt.Errorf("read closed days: %w", err)
	}
	return out, nil
}

// closeDays closes each of days (which must have ended), one transaction
// each, and returns how many it closed (days another replica closed
// meanwhile are skipped).
func (db *DB) closeDays(ctx context.Context, days []int64) (int, error) {
	slices.Sort(days)
	n := 0
	for _, d := range days {
		done, err := db.closeDay(ctx, d)
		if err != nil {
			return n, fmt.Errorf("close day %s: %w", time.Unix(d*86400, 0).UTC().Format(time.DateOnly), err)
		}
		if done {
			n++
		}
	}
	return n, nil
}

// closeDaySQL sums day $1's hourly rollups into the daily ones.
const closeDaySQL = `WITH h AS (
	SELECT attr, sum8(requests) AS requests, sum8(input) AS input, sum8(cache_read) AS cache_read,
		sum8(cache_write_5m) AS cache_write_5m, sum8(cache_write_1h) AS cache_write_1h, sum8(output) AS output,
		sum8(reasoning) AS reasoning, sum8(estimated_requests) AS estimated_requests, sum8(cost_nano) AS cost_nano,
		sum8(unknown_cost_requests) AS unknown_cost_requests
	FROM rollups_hourly WHERE hour >= $1::int4 * 24 AND hour < $1::int4 * 24 + 24 GROUP BY attr
), daily AS (
	INSERT INTO rollups_daily (day, attr, ` + sumColumns + `)
	SELECT $1, attr, ` + sumColumns + ` FROM h
), users AS (
	INSERT INTO rollups_user_daily (day, team, usr, ` + sumColumns + `)
	SELECT $1, a.team, a.usr, sum8(h.requests), sum8(h.input), sum8(h.cache_read), sum8(h.cache_write_5m), sum8(h.cache_write_1h),
		sum8(h.output), sum8(h.reasoning), sum8(h.estimated_requests), sum8(h.cost_nano), sum8(h.unknown_cost_requests)
	FROM h JOIN attrs a ON a.id = h.attr GROUP BY a.team, a.usr
)
INSERT INTO rollups_days (day) VALUES ($1)`

// closeDay closes unix day d unless it is closed already.
func (db *DB) closeDay(ctx context.Context, d int64) (bool, error) {
	done := false
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		// Retention (DropBefore) holds this lock exclusively: a day is
		// closed wholly before a drop or after it, never across one,
		// which would leave daily rows of a dropped month behind.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock_shared($1)`, db.lockID("retention")); err != nil {
			return err
		}
		// Appends to the day hold this lock shared: wait for them, and
		// keep new ones out until the day is closed.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, db.dayLock(d)); err != nil {
			return err
		}
		var closed bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM rollups_days WHERE day = $1)`, d).Scan(&closed); err != nil || closed {
			return err
		}
		if _, err := tx.Exec(ctx, closeDaySQL, d); err != nil {
			return err
		}
		done = true
		return nil
	})
	return done && err == nil, err
}

// closeInBackground closes days that have ended, at most one run at a
// time per process, without making the caller wait.
func (db *DB) closeInBackground(days []int64) {
	if len(days) == 0 || !db.closing.CompareAndSwap(false, true) {
		return
	}
	db.bg.Add(1)
	go func() {
		defer db.bg.Done()
		defer db.closing.Store(false)
		ctx, cancel := context.WithTimeout(db.bgCtx, 30*time.Minute)
		defer cancel()
		n, err := db.closeDays(ctx, days)
		if err != nil && db.bgCtx.Err() == nil {
			db.logger.Warn("closing days of the ledger failed; reports read their hourly rollups meanwhile", "schema", db.schema, "err", err)
			return
		}
		if n > 0 {
			db.logger.Debug("closed days of the ledger", "schema", db.schema, "days", n)
		}
	}()
}
