package postgres

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"sync/atomic"
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
//
// Hours of days not closed yet are closed too, a quarter of an hour after
// they ended (closeHours): that only lists them in rollups_hours with a
// version (migrations/0005), under the same locks, so that reports keep
// today's past hours in memory and sum only the current one in SQL.

// closeAfter is how long after its end a day may be closed: appends of
// its last events, and replicas whose clocks run behind, are done by then.
const closeAfter = time.Hour

// hourCloseAfter is how long after its end an hour may be closed. Closing
// earlier would stay exact (a late event gives a closed hour a new
// version), but each late event then costs its append a row lock and the
// next report a reread of the hour. An event's time is its call's start
// and the gateway's default upstream timeout is 10 minutes: 15 minutes
// cover the longest calls, the ledger writer's flushes and some clock
// skew between replicas, while only the current hour and, in its first
// quarter, the one before are left for SQL to sum.
const hourCloseAfter = 15 * time.Minute

// hourOf is the unix hour of t.
func hourOf(t time.Time) int64 { return floorDiv(t.Unix(), 3600) }

// closableHourBefore is the first hour that may not be closed yet at now.
func closableHourBefore(now time.Time) int64 { return hourOf(now.Add(-hourCloseAfter)) }

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
	SELECT attr, sat8(sum(requests)) AS requests, sat8(sum(input)) AS input, sat8(sum(cache_read)) AS cache_read,
		sat8(sum(cache_write_5m)) AS cache_write_5m, sat8(sum(cache_write_1h)) AS cache_write_1h, sat8(sum(output)) AS output,
		sat8(sum(reasoning)) AS reasoning, sat8(sum(estimated_requests)) AS estimated_requests, sat8(sum(cost_nano)) AS cost_nano,
		sat8(sum(unknown_cost_requests)) AS unknown_cost_requests
	FROM rollups_hourly WHERE hour >= $1::int4 * 24 AND hour < $1::int4 * 24 + 24 GROUP BY attr
), daily AS (
	INSERT INTO rollups_daily (day, attr, ` + sumColumns + `)
	SELECT $1, attr, ` + sumColumns + ` FROM h
), users AS (
	INSERT INTO rollups_user_daily (day, team, usr, ` + sumColumns + `)
	SELECT $1, a.team, a.usr, sat8(sum(h.requests)), sat8(sum(h.input)), sat8(sum(h.cache_read)), sat8(sum(h.cache_write_5m)), sat8(sum(h.cache_write_1h)),
		sat8(sum(h.output)), sat8(sum(h.reasoning)), sat8(sum(h.estimated_requests)), sat8(sum(h.cost_nano)), sat8(sum(h.unknown_cost_requests))
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
		// The day's version covers its hours from now on.
		if _, err := tx.Exec(ctx, `DELETE FROM rollups_hours WHERE hour >= $1 AND hour < $2`, d*24, d*24+24); err != nil {
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
	db.inBackground(days, &db.closing, 30*time.Minute, "days", db.closeDays)
}

// inBackground runs close(ctx, units) unless units is empty or a run is
// going on (running), without making the caller wait.
func (db *DB) inBackground(units []int64, running *atomic.Bool, timeout time.Duration, what string, close func(context.Context, []int64) (int, error)) {
	if len(units) == 0 || !running.CompareAndSwap(false, true) {
		return
	}
	db.bg.Add(1)
	go func() {
		defer db.bg.Done()
		defer running.Store(false)
		ctx, cancel := context.WithTimeout(db.bgCtx, timeout)
		defer cancel()
		n, err := close(ctx, units)
		if err != nil && db.bgCtx.Err() == nil {
			db.logger.Warn("closing "+what+" of the ledger failed; reports sum their hourly rollups meanwhile", "schema", db.schema, "err", err)
			return
		}
		if n > 0 {
			db.logger.Debug("closed "+what+" of the ledger", "schema", db.schema, what, n)
		}
	}()
}

// closeHours closes each of hours (unix hours of days not closed, which
// must have ended hourCloseAfter ago; others are skipped) that is not
// closed yet, in one transaction, and returns how many it closed. Like
// closeDay it holds the retention lock shared and the locks of the hours'
// days exclusively, in lock order: appends to those days, which hold them
// shared, either committed before (and a report whose snapshot sees the
// hour closed sees their rollups) or come after and see the hour closed
// (their trigger gives it a new version). The wait is for the appends in
// flight to those days, and the transaction only adds a few rows.
func (db *DB) closeHours(ctx context.Context, hours []int64) (int, error) {
	limit := closableHourBefore(time.Now())
	var todo []int64
	var locks []int64
	for _, h := range hours {
		if h >= limit || slices.Contains(todo, h) {
			continue
		}
		todo = append(todo, h)
		if l := db.dayLock(floorDiv(h, 24)); !slices.Contains(locks, l) {
			locks = append(locks, l)
		}
	}
	if len(todo) == 0 {
		return 0, nil
	}
	slices.Sort(todo)
	slices.Sort(locks)
	// Most runs find the hours closed by another report or replica: look
	// first, without locks.
	var open []int64
	rows, _ := db.pool.Query(ctx, `SELECT h::int8 FROM unnest($1::int4[]) AS h
		WHERE NOT EXISTS (SELECT 1 FROM rollups_hours x WHERE x.hour = h)
		AND NOT EXISTS (SELECT 1 FROM rollups_days d WHERE d.day = floor(h / 24.0)::int4)`, todo)
	var h int64
	if _, err := pgx.ForEachRow(rows, []any{&h}, func() error { open = append(open, h); return nil }); err != nil {
		return 0, fmt.Errorf("close hours: %w", err)
	}
	if len(open) == 0 {
		return 0, nil
	}
	n := 0
	err := pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock_shared($1)`, db.lockID("retention")); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(l) FROM unnest($1::int8[]) AS l ORDER BY l`, locks); err != nil {
			return err
		}
		// Hours of days closed meanwhile are covered by the day's version.
		tag, err := tx.Exec(ctx, `INSERT INTO rollups_hours (hour)
			SELECT h FROM unnest($1::int4[]) AS h
			WHERE NOT EXISTS (SELECT 1 FROM rollups_days d WHERE d.day = floor(h / 24.0)::int4)
			ORDER BY h ON CONFLICT (hour) DO NOTHING`, open)
		if err != nil {
			return err
		}
		n = int(tag.RowsAffected())
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("close hours: %w", err)
	}
	return n, nil
}

// closeHoursInBackground closes hours that ended hourCloseAfter ago, at
// most one run at a time per process, without making the caller wait.
func (db *DB) closeHoursInBackground(hours []int64) {
	db.inBackground(hours, &db.closingHours, time.Minute, "hours", db.closeHours)
}
