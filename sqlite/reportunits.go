package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/allot-dev/allot/internal/rollupcache"
	"github.com/allot-dev/allot/rollup"
)

// reportUnits sets the units covering the scan's hours, in time order,
// each with its block, all as of one read transaction: whole days before
// today when the report does not group by hour, single hours for the rest.
// Blocks come from db.rcache when their version is current, else from the
// database, and go into the cache (rollup.ReportFill).
func (db *DB) reportUnits(ctx context.Context, s *rollup.ReportScan) error {
	from, to := s.From, s.To
	today := time.Now().UnixMicro() / usPerDay
	if !s.ByHour {
		// Sum the past days daily_totals lacks first: that writes, so it
		// cannot happen inside the read transaction. A day changed after
		// this is read from its hours below.
		first, last, ok, err := rollupSpan(ctx, db.r)
		if err != nil {
			return err
		}
		if ok {
			f, t := max(from, first), min(to, last+1)
			if fromDay, toDay := ceilDiv(f, 24), min(t/24, today); fromDay < toDay {
				if err := db.ensureDaily(ctx, fromDay, toDay); err != nil {
					return err
				}
			}
		}
	}

	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	first, last, ok, err := rollupSpan(ctx, tx)
	if err != nil || !ok {
		return err
	}
	from, to = max(from, first), min(to, last+1) // no units before the first rollup or after the last
	if from >= to {
		return nil
	}
	fromDay, toDay := ceilDiv(from, 24), min(to/24, today)
	if s.ByHour || fromDay >= toDay {
		fromDay, toDay = from/24, from/24 // no days
	}
	hourKind := s.HourKind()
	var units []rollup.ReportUnit
	addHours := func(lo, hi int64) error {
		vs, err := versions(ctx, tx, "rollup_hour_versions", "hour", lo, hi)
		if err != nil {
			return err
		}
		for h := lo; h < hi; h++ {
			units = append(units, rollup.ReportUnit{Key: rollupcache.Key{Kind: hourKind, N: h}, Version: vs[h-lo]})
		}
		return nil
	}
	if toDay > fromDay {
		if err := addHours(from, fromDay*24); err != nil {
			return err
		}
		vs, err := versions(ctx, tx, "rollup_day_versions", "day", fromDay, toDay)
		if err != nil {
			return err
		}
		for d := fromDay; d < toDay; d++ {
			units = append(units, rollup.ReportUnit{Key: rollupcache.Key{Kind: rollupcache.Day, N: d}, Version: vs[d-fromDay]})
		}
		if err := addHours(toDay*24, to); err != nil {
			return err
		}
	} else if err := addHours(from, to); err != nil {
		return err
	}
	s.Units, err = rollup.ReportFill(ctx, db.rcache, units, s.TimeOnly, func(units []rollup.ReportUnit, skip map[rollupcache.Key]chan struct{}) ([]rollup.ReportUnit, error) {
		units, err := db.loadDays(ctx, tx, units, hourKind, skip)
		if err != nil {
			return nil, err
		}
		rollup.ReportCached(db.rcache, units, s.TimeOnly)
		return units, db.loadHours(ctx, tx, units, skip)
	})
	return err
}

// loadDays reads the day units without a block from daily_totals, and
// replaces each day it lacks (changed since it was summed) by its hours.
func (db *DB) loadDays(ctx context.Context, tx *sql.Tx, units []rollup.ReportUnit, hourKind rollupcache.Kind, skip map[rollupcache.Key]chan struct{}) ([]rollup.ReportUnit, error) {
	var days []int64
	at := map[int64]int{}
	for i, u := range units {
		if _, ok := skip[u.Key]; u.Key.Kind == rollupcache.Day && u.Block == nil && !ok {
			days = append(days, u.Key.N)
			at[u.Key.N] = i
		}
	}
	if len(days) == 0 {
		return units, nil
	}
	var bb rollupcache.Builder
	for len(days) > 0 {
		chunk := days[:min(len(days), maxChunk)]
		days = days[len(chunk):]
		q := `SELECT day, data FROM daily_totals WHERE day IN (` + placeholders(len(chunk)) + `)`
		err := eachRow(ctx, tx, q, int64Args(chunk), func(rows *sql.Rows) error {
			var day int64
			var data sql.RawBytes
			if err := rows.Scan(&day, &data); err != nil {
				return err
			}
			i, ok := at[day]
			if !ok {
				return fmt.Errorf("daily totals: unexpected day %d", day)
			}
			if err := decodeDaily(data, func(attr int64, s *sums) { bb.Add(attr, s) }); err != nil {
				return fmt.Errorf("daily totals of day %d: %w", day, err)
			}
			b, err := bb.Build()
			if err != nil {
				return fmt.Errorf("daily totals of day %d: %w", day, err)
			}
			units[i].Block = b
			db.rcache.Put(units[i].Key, units[i].Version, b)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	missing := false
	for _, u := range units {
		_, ok := at[u.Key.N]
		missing = missing || u.Key.Kind == rollupcache.Day && u.Block == nil && ok
	}
	if !missing {
		return units, nil
	}
	out := make([]rollup.ReportUnit, 0, len(units)+24)
	for _, u := range units {
		if _, ok := at[u.Key.N]; u.Key.Kind != rollupcache.Day || u.Block != nil || !ok {
			out = append(out, u)
			continue
		}
		lo := u.Key.N * 24
		vs, err := versions(ctx, tx, "rollup_hour_versions", "hour", lo, lo+24)
		if err != nil {
			return nil, err
		}
		for h := lo; h < lo+24; h++ {
			out = append(out, rollup.ReportUnit{Key: rollupcache.Key{Kind: hourKind, N: h}, Version: vs[h-lo]})
		}
	}
	return out, nil
}

// loadHours reads the hour units without a block from rollups_hourly
// (rollup.ReportLoadRuns, runs of at most two days): an hour's rows as
// they are, or their sum for rollupcache.HourTotal.
func (db *DB) loadHours(ctx context.Context, tx *sql.Tx, units []rollup.ReportUnit, skip map[rollupcache.Key]chan struct{}) error {
	return rollup.ReportLoadRuns(db.rcache, units, skip, 0, 48, func(run []*rollup.ReportUnit, add func(n, attr int64, s *rollupcache.Sums) error) error {
		q := `SELECT hour, attr, ` + sumColumns + ` FROM rollups_hourly WHERE hour >= ? AND hour < ?`
		if run[0].Key.Kind == rollupcache.HourTotal {
			q = `SELECT hour, 0, ` + sumOfSumColumns + ` FROM rollups_hourly WHERE hour >= ? AND hour < ? GROUP BY hour`
		}
		err := eachRow(ctx, tx, q, []any{run[0].Key.N, run[len(run)-1].Key.N + 1}, func(rows *sql.Rows) error {
			var hour, attr int64
			var s rollupcache.Sums
			if err := rows.Scan(&hour, &attr, &s[0], &s[1], &s[2], &s[3], &s[4], &s[5], &s[6], &s[7], &s[8], &s[9]); err != nil {
				return err
			}
			return add(hour, attr, &s)
		})
		if err != nil {
			return fmt.Errorf("hourly rollups: %w", err)
		}
		return nil
	})
}

// rollupSpan returns the first and last hour with rollups; ok is false
// when there are none.
func rollupSpan(ctx context.Context, q querier) (first, last int64, ok bool, err error) {
	var f, l sql.NullInt64
	err = eachRow(ctx, q, `SELECT (SELECT min(hour) FROM rollups_hourly), (SELECT max(hour) FROM rollups_hourly)`, nil, func(rows *sql.Rows) error {
		return rows.Scan(&f, &l)
	})
	if err != nil {
		return 0, 0, false, fmt.Errorf("rollup span: %w", err)
	}
	return f.Int64, l.Int64, f.Valid && l.Valid, nil
}

// versions returns the versions of the keys [lo, hi) of a versions table
// (rollup_hour_versions or rollup_day_versions), 0 for those without a row.
func versions(ctx context.Context, q querier, table, col string, lo, hi int64) ([]int64, error) {
	out := make([]int64, max(hi-lo, 0))
	if hi <= lo {
		return out, nil
	}
	err := eachRow(ctx, q, `SELECT `+col+`, v FROM `+table+` WHERE `+col+` >= ? AND `+col+` < ?`, []any{lo, hi}, func(rows *sql.Rows) error {
		var k, v int64
		if err := rows.Scan(&k, &v); err != nil {
			return err
		}
		out[k-lo] = v
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", table, err)
	}
	return out, nil
}

// ceilDiv is a/b rounded up, for a >= 0 and b > 0.
func ceilDiv(a, b int64) int64 { return (a + b - 1) / b }
