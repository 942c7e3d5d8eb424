package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/rollup"
)

// RelabelTasks gives past untagged calls the task an admin labelled their
// system prompt with (`allot tasks relabel`): every event in [from, to)
// with task allot.UntaggedTask whose system prompt fingerprint is in
// labels moves to that task. Events that declared a task keep it; task
// rules over prompt text cannot apply to the past, as no text is stored.
//
// The hourly rollups, daily totals and insight aggregates of the days
// touched are rebuilt from their events in the same transaction, so
// reports and budgets rebuilt later agree with the relabelled events. It
// returns how many events changed.
func (db *DB) RelabelTasks(ctx context.Context, labels allot.TaskLabels, from, to time.Time) (int64, error) {
	if len(labels) == 0 {
		return 0, nil
	}
	if err := db.flushInsights(ctx); err != nil {
		return 0, fmt.Errorf("relabel tasks: %w", err)
	}
	if err := db.attrs.refresh(ctx, db.r); err != nil {
		return 0, fmt.Errorf("relabel tasks: %w", err)
	}
	untagged, ok, err := db.dict.lookup(ctx, db.r, allot.UntaggedTask)
	if err != nil {
		return 0, fmt.Errorf("relabel tasks: %w", err)
	}
	if !ok {
		return 0, nil
	}
	db.wmu.Lock()
	defer db.wmu.Unlock()
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, fmt.Errorf("relabel tasks: %w", err)
	}
	defer tx.Rollback()

	// Fold what waits, so the aggregates to rebuild cover every event.
	var done, last int64
	if err := tx.QueryRowContext(ctx, `SELECT (SELECT seq FROM insight_state), (SELECT coalesce(max(seq), 0) FROM events)`).Scan(&done, &last); err != nil {
		return 0, fmt.Errorf("relabel tasks: %w", err)
	}
	foldFinish, committed := func(bool) {}, false
	if done < last {
		finish, err := db.foldInsights(ctx, tx, done, last, nil)
		if err != nil {
			return 0, fmt.Errorf("relabel tasks: %w", err)
		}
		foldFinish = finish
		defer func() {
			if !committed {
				foldFinish(false)
			}
		}()
	}

	// Where the labelled prompts were sent untagged: (day, attr, fp), from
	// the events themselves (an admin's occasional command, not a read
	// path; the aggregates leave out a prompt's first call).
	fps := labels.Sorted()
	args := []any{from.UnixMicro(), to.UnixMicro()}
	for _, fp := range fps {
		args = append(args, int64(fp))
	}
	type site struct{ day, attr, fp int64 }
	var sites []site
	seen := map[site]bool{}
	db.attrs.mu.RLock()
	attrs := db.attrs.attrs
	err = eachRow(ctx, tx, fmt.Sprintf(`SELECT DISTINCT t / %d, attr, system_fp FROM events WHERE t >= ? AND t < ? AND system_fp IN (`, usPerDay)+
		strings.TrimSuffix(strings.Repeat("?,", len(fps)), ",")+`)`, args, func(rows *sql.Rows) error {
		var s site
		if err := rows.Scan(&s.day, &s.attr, &s.fp); err != nil {
			return err
		}
		if a, ok := attrs[s.attr]; ok && a[10] == untagged && !seen[s] {
			seen[s] = true
			sites = append(sites, s)
		}
		return nil
	})
	db.attrs.mu.RUnlock()
	if err != nil {
		return 0, fmt.Errorf("relabel tasks: %w", err)
	}
	if len(sites) == 0 {
		if err := tx.Commit(); err != nil {
			return 0, fmt.Errorf("relabel tasks: %w", err)
		}
		committed = true
		foldFinish(true)
		return 0, nil
	}

	// The relabelled attributions: the same with the label's task.
	in := db.dict.interner()
	for _, fp := range fps {
		if _, ok := db.dict.id(labels[fp]); !ok {
			in.note(labels[fp])
		}
	}
	if err := in.resolve(ctx, tx); err != nil {
		return 0, fmt.Errorf("relabel tasks: %w", err)
	}
	ain := db.attrs.interner()
	target := func(s site) attr {
		db.attrs.mu.RLock()
		a := db.attrs.attrs[s.attr]
		db.attrs.mu.RUnlock()
		a[10] = in.id(labels[uint64(s.fp)])
		return a
	}
	for _, s := range sites {
		if _, ok := db.attrs.id(target(s)); !ok {
			ain.note(target(s))
		}
	}
	if err := ain.resolve(ctx, tx); err != nil {
		return 0, fmt.Errorf("relabel tasks: %w", err)
	}

	var changed int64
	touched := map[int64][]int64{} // day -> attrs whose rows change
	for _, s := range sites {
		newAttr := ain.id(target(s))
		// Only [from, to) moves, also on the range's first and last days.
		res, err := tx.ExecContext(ctx, `UPDATE events SET attr = ? WHERE t >= ? AND t < ? AND attr = ? AND system_fp = ?`,
			newAttr, max(s.day*usPerDay, from.UnixMicro()), min((s.day+1)*usPerDay, to.UnixMicro()), s.attr, s.fp)
		if err != nil {
			return 0, fmt.Errorf("relabel tasks: %w", err)
		}
		n, err := res.RowsAffected()
		if err != nil {
			return 0, fmt.Errorf("relabel tasks: %w", err)
		}
		changed += n
		for _, a := range []int64{s.attr, newAttr} {
			if !slices.Contains(touched[s.day], a) {
				touched[s.day] = append(touched[s.day], a)
			}
		}
	}
	for day, as := range touched {
		if err := db.rebuildDay(ctx, tx, day, as); err != nil {
			return 0, fmt.Errorf("relabel tasks: %w", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("relabel tasks: %w", err)
	}
	committed = true
	in.commit()
	ain.commit()
	foldFinish(true)
	st := db.insights()
	st.pending, st.from, st.to, st.valid = nil, last, last, true
	return changed, nil
}

// rebuildDay recomputes, in tx, the hourly rollups and the insight
// aggregates of the given attributions on one day from their events, and
// drops the day's cached totals.
func (db *DB) rebuildDay(ctx context.Context, tx *sql.Tx, day int64, attrs []int64) error {
	in := strings.TrimSuffix(strings.Repeat("?,", len(attrs)), ",")
	hours := []any{day * 24, day*24 + 24}
	times := []any{day * usPerDay, (day + 1) * usPerDay}
	// The day's events of these attributions are found through
	// events_hour_attr_t: each (hour, attr) pair is a seek.
	dayHours := make([]any, 24)
	for h := range dayHours {
		dayHours[h] = day*24 + int64(h)
	}
	hourIn := ` AND t / 3600000000 IN (` + placeholders(24) + `)`
	ids := make([]any, len(attrs))
	for i, a := range attrs {
		ids[i] = a
	}
	for _, table := range []string{"rollups_hourly", "insight_calls", "insight_extras"} {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE hour >= ? AND hour < ? AND attr IN (`+in+`)`, append(hours, ids...)...); err != nil {
			return fmt.Errorf("rebuild %s: %w", table, err)
		}
	}
	if _, err := tx.ExecContext(ctx, fmt.Sprintf(`INSERT INTO rollups_hourly (hour, attr, %s)
		SELECT t / %d, attr, %s
		FROM events WHERE t >= ? AND t < ? AND attr IN (%s)`+hourIn+` GROUP BY 1, 2`, sumColumns, usPerHour, sumEventColumns, in), append(append(times, ids...), dayHours...)...); err != nil {
		return fmt.Errorf("rebuild hourly rollups: %w", err)
	}
	for _, table := range []string{"daily_totals", "insight_days"} {
		if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE day = ?`, day); err != nil {
			return fmt.Errorf("rebuild %s: %w", table, err)
		}
	}
	evs, err := db.readInsightEvents(ctx, tx, `e.t >= ? AND e.t < ? AND e.attr IN (`+in+`) AND e.t / 3600000000 IN (`+placeholders(24)+`)`, append(append(times, ids...), dayHours...)...)
	if err != nil {
		return err
	}
	return db.writeInsights(ctx, tx, rollup.Fold(evs, rollup.NewCheck(nil))) // no windows: nothing to finish
}
