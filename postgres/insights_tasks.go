package postgres

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/allot-dev/allot"
)

// RelabelTasks gives past untagged calls the task an admin labelled their
// system prompt with (`allot tasks relabel`), as the SQLite store does:
// every event in [from, to) with task allot.UntaggedTask and a system
// prompt fingerprint in labels moves to an attribution with the label's
// task. Events that declared a task keep it. The hourly rollups
// (and the daily ones of closed days) of the attributions and days
// touched are rebuilt from their events in the same transaction, which
// holds the days' locks so that no append or closing of those days runs
// meanwhile. It returns how many events changed.
func (db *DB) RelabelTasks(ctx context.Context, labels allot.TaskLabels, from, to time.Time) (int64, error) {
	if len(labels) == 0 {
		return 0, nil
	}
	untagged, ok, err := db.dict.lookup(ctx, db.pool, allot.UntaggedTask)
	if err != nil || !ok {
		return 0, wrapErr("relabel tasks", err)
	}
	fps := labels.Sorted()
	fpArg := make([]int64, len(fps))
	for i, fp := range fps {
		fpArg[i] = int64(fp)
	}
	// Where the labelled prompts were sent untagged (an admin's occasional
	// command: it reads the range's events).
	type site struct {
		day  int64
		attr int32
		fp   int64
	}
	var sites []site
	var st site
	rows, _ := db.pool.Query(ctx, `SELECT DISTINCT floor(extract(epoch FROM e.time) / 86400)::int8, e.attr, e.system_fp
		FROM events e JOIN attrs a ON a.id = e.attr
		WHERE e.time >= $1 AND e.time < $2 AND e.system_fp = ANY ($3::int8[]) AND a.task = $4
		ORDER BY 1, 2, 3`, from, to, fpArg, untagged)
	if _, err := pgx.ForEachRow(rows, []any{&st.day, &st.attr, &st.fp}, func() error {
		sites = append(sites, st)
		return nil
	}); err != nil {
		return 0, fmt.Errorf("relabel tasks: %w", err)
	}
	if len(sites) == 0 {
		return 0, nil
	}

	// The relabelled attributions: the same with the label's task. The
	// dict and attrs rows are added first, in their own transactions
	// (rows of both are never removed, so unused ones do no harm).
	tasks := map[string]int32{}
	for _, fp := range fps {
		tasks[labels[fp]] = 0
	}
	for name := range tasks {
		id, err := db.internString(ctx, name)
		if err != nil {
			return 0, fmt.Errorf("relabel tasks: %w", err)
		}
		tasks[name] = id
	}
	type move struct{ attr, task int32 }
	targets := map[move]int32{}
	for _, s := range sites {
		m := move{s.attr, tasks[labels[uint64(s.fp)]]}
		if _, ok := targets[m]; ok {
			continue
		}
		id, err := db.attrWithTask(ctx, m.attr, m.task)
		if err != nil {
			return 0, fmt.Errorf("relabel tasks: %w", err)
		}
		targets[m] = id
	}

	var changed int64
	err = pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		changed = 0
		// As closeDay: retention shared, then the days exclusively, in
		// lock order (appends take the same locks shared).
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock_shared($1)`, db.lockID("retention")); err != nil {
			return err
		}
		var locks []int64
		for _, s := range sites {
			if l := db.dayLock(s.day); !slices.Contains(locks, l) {
				locks = append(locks, l)
			}
		}
		slices.Sort(locks)
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(l) FROM unnest($1::int8[]) AS l ORDER BY l`, locks); err != nil {
			return err
		}
		touched := map[int64][]int32{} // day -> attributions whose rollups change
		for _, s := range sites {
			dst := targets[move{s.attr, tasks[labels[uint64(s.fp)]]}]
			// Only [from, to) moves, also on the range's first and last days.
			day := time.UnixMicro(s.day * usPerDay).UTC()
			lo, hi := day, day.Add(24*time.Hour)
			if lo.Before(from) {
				lo = from
			}
			if hi.After(to) {
				hi = to
			}
			tag, err := tx.Exec(ctx, `UPDATE events SET attr = $1 WHERE time >= $2 AND time < $3 AND attr = $4 AND system_fp = $5`,
				dst, lo, hi, s.attr, s.fp)
			if err != nil {
				return fmt.Errorf("move events: %w", err)
			}
			changed += tag.RowsAffected()
			for _, a := range []int32{s.attr, dst} {
				if !slices.Contains(touched[s.day], a) {
					touched[s.day] = append(touched[s.day], a)
				}
			}
		}
		for day, attrs := range touched {
			if err := rebuildRollups(ctx, tx, day, attrs); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("relabel tasks: %w", err)
	}
	return changed, nil
}

// internString returns the dict id of s, adding it if needed.
func (db *DB) internString(ctx context.Context, s string) (int32, error) {
	if id, ok := db.dict.id(s); ok {
		return id, nil
	}
	var id int32
	err := retryUnseen(func() error {
		return db.pool.QueryRow(ctx, `WITH ins AS (INSERT INTO dict (s) VALUES ($1) ON CONFLICT (s) DO NOTHING RETURNING id)
			SELECT id FROM ins UNION ALL SELECT id FROM dict WHERE s = $1`, []byte(s)).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("add %q to the dictionary: %w", s, err)
	}
	return id, nil
}

// retryUnseen runs an insert-or-select once more when it found no row: a
// row another transaction committed while the statement waited for it is
// not in the statement's snapshot, but is in the next one's.
func retryUnseen(run func() error) error {
	err := run()
	if errNoRows(err) {
		err = run()
	}
	return err
}

// attrWithTask returns the id of attribution attr with task instead of
// its own, adding it if needed.
func (db *DB) attrWithTask(ctx context.Context, attr, task int32) (int32, error) {
	list := "org, team, usr, key_id, key_label, role, provider, req_model, served_model, route, task, app, source"
	src := `SELECT org, team, usr, key_id, key_label, role, provider, req_model, served_model, route, $2::int4 AS task, app, source FROM attrs WHERE id = $1`
	var id int32
	err := retryUnseen(func() error {
		return db.pool.QueryRow(ctx, `WITH src AS (`+src+`),
			ins AS (INSERT INTO attrs (`+list+`) SELECT * FROM src ON CONFLICT DO NOTHING RETURNING id)
			SELECT id FROM ins UNION ALL SELECT a.id FROM attrs a JOIN src USING (`+list+`)`, attr, task).Scan(&id)
	})
	if err != nil {
		return 0, fmt.Errorf("add attribution: %w", err)
	}
	return id, nil
}

// rollupColumns are the summed columns of rollups_hourly and rollups_daily.
const rollupColumns = `requests, input, cache_read, cache_write_5m, cache_write_1h, output, reasoning, estimated_requests, cost_nano, unknown_cost_requests`

// rebuildRollups recomputes, in tx, the hourly rollups of attrs on unix
// day day from their events, and if the day is closed their daily rollups
// and the day's version, else the versions of its closed hours. A relabel moves events between attributions of
// the same team and user, so the per-person daily rollups do not change.
func rebuildRollups(ctx context.Context, tx pgx.Tx, day int64, attrs []int32) error {
	h0 := day * 24
	start := time.UnixMicro(day * usPerDay).UTC()
	if _, err := tx.Exec(ctx, `DELETE FROM rollups_hourly WHERE hour >= $1 AND hour < $2 AND attr = ANY ($3::int4[])`, h0, h0+24, attrs); err != nil {
		return fmt.Errorf("rebuild hourly rollups: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO rollups_hourly (hour, attr, `+rollupColumns+`)
		SELECT floor(extract(epoch FROM time) / 3600)::int4, attr, count(*), sat8(sum(input)), sat8(sum(cache_read)), sat8(sum(cache_write_5m)),
			sat8(sum(cache_write_1h)), sat8(sum(output)), sat8(sum(reasoning)), count(*) FILTER (WHERE flags & $4 <> 0), sat8(sum(cost_nano)),
			count(*) FILTER (WHERE flags & $5 = 0)
		FROM events WHERE time >= $1 AND time < $2 AND attr = ANY ($3::int4[]) GROUP BY 1, 2`,
		start, start.Add(24*time.Hour), attrs, flagEstimated, flagCostKnown); err != nil {
		return fmt.Errorf("rebuild hourly rollups: %w", err)
	}
	if _, err := tx.Exec(ctx, `DELETE FROM rollups_daily WHERE day = $1 AND attr = ANY ($2::int4[]) AND EXISTS (SELECT 1 FROM rollups_days WHERE day = $1)`, day, attrs); err != nil {
		return fmt.Errorf("rebuild daily rollups: %w", err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO rollups_daily (day, attr, `+rollupColumns+`)
		SELECT $1, attr, sat8(sum(requests)), sat8(sum(input)), sat8(sum(cache_read)), sat8(sum(cache_write_5m)), sat8(sum(cache_write_1h)), sat8(sum(output)),
			sat8(sum(reasoning)), sat8(sum(estimated_requests)), sat8(sum(cost_nano)), sat8(sum(unknown_cost_requests))
		FROM rollups_hourly WHERE hour >= $2 AND hour < $3 AND attr = ANY ($4::int4[]) AND EXISTS (SELECT 1 FROM rollups_days WHERE day = $1)
		GROUP BY attr`, day, h0, h0+24, attrs); err != nil {
		return fmt.Errorf("rebuild daily rollups: %w", err)
	}
	// A closed day's rollups changed: a new version, so that reports
	// holding the old ones in memory read the day again.
	if _, err := tx.Exec(ctx, `UPDATE rollups_days SET version = nextval('rollups_days_version') WHERE day = $1`, day); err != nil {
		return fmt.Errorf("new version of day %d: %w", day, err)
	}
	// The same for the day's closed hours (of a day not closed yet), in
	// hour order as appends lock them (the day's lock keeps those out).
	if _, err := tx.Exec(ctx, `UPDATE rollups_hours SET version = nextval('rollups_days_version') WHERE hour IN (
		SELECT hour FROM rollups_hours WHERE hour >= $1 AND hour < $2 ORDER BY hour FOR UPDATE)`, h0, h0+24); err != nil {
		return fmt.Errorf("new versions of the hours of day %d: %w", day, err)
	}
	return nil
}
