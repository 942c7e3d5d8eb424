package postgres

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
)

// The org's insights read every insight row of the period: a month of a
// thousand people is hundreds of thousands of rows. The org's sums over
// the period's closed days are kept in memory instead, as the SQLite
// store keeps them: its
// failed, duplicate and unlimited calls per attribution, and its calls
// folded up to the end of the last closed day. They are keyed by the
// versions of those days and of the day before them (whose last calls
// decide the first duplicates and prompt sightings of the period), read
// in the snapshot that reads them: a late call, a relabel or retention
// gives a day a new version, and the sums are not used again. A read
// uses what is kept and folds only the calls after it; WarmInsights
// (serve's warming, every few minutes) keeps them, as keeping costs more
// than one read.

// keptPeriodsMax is how many periods are kept: a server warms one.
const keptPeriodsMax = 2

// keptSessionsMax is the most sessions a kept fold holds (about 200 bytes
// each with its index): a larger org's calls are read on every call.
const keptSessionsMax = 2_000_000

// closedRun returns, read in tx, the end of the run of closed days from
// d0 (at most d1), and the versions of the day before d0 (0 if it is not
// closed) and of the run's days.
func closedRun(ctx context.Context, tx pgx.Tx, d0, d1 int64) (end int64, versions []int64, err error) {
	byDay := map[int64]int64{}
	rows, _ := tx.Query(ctx, `SELECT day::int8, version FROM rollups_days WHERE day >= $1 AND day < $2`, d0-1, d1)
	var day, v int64
	if _, err := pgx.ForEachRow(rows, []any{&day, &v}, func() error { byDay[day] = v; return nil }); err != nil {
		return 0, nil, fmt.Errorf("read closed days: %w", err)
	}
	versions = append(versions, byDay[d0-1])
	end = d0
	for end < d1 {
		v, ok := byDay[end]
		if !ok {
			break
		}
		versions = append(versions, v)
		end++
	}
	return end, versions, nil
}

// WarmInsights keeps the org's sums over the closed days of the default
// 30-day period, so that the next org insights read only the calls after
// them. (days, how far back a store reads ahead, is for stores that pack
// days; reports keep their own blocks.)
func (db *DB) WarmInsights(ctx context.Context, days int) error {
	today := floorDiv(time.Now().UnixMicro(), usPerDay)
	return db.warmOrg(ctx, today-29, today)
}

// warmOrg keeps the org's extras and calls over the closed days from d0
// (before d1).
func (db *DB) warmOrg(ctx context.Context, d0, d1 int64) error {
	if err := db.foldInsights(ctx); err != nil {
		return fmt.Errorf("warm insights: %w", err)
	}
	err := db.readOnly(ctx, func(tx pgx.Tx) error {
		end, vs, err := closedRun(ctx, tx, d0, d1)
		if err != nil || end == d0 {
			return err
		}
		// Sums are kept only from rows folded from every event this
		// snapshot sees up to the run's end: else they would be kept under
		// versions that already count events not folded yet.
		var dirty bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM insight_dirty WHERE hour < $1)`, end*24).Scan(&dirty); err != nil || dirty {
			return err
		}
		from, to := time.UnixMicro(d0*usPerDay).UTC(), time.UnixMicro(end*usPerDay).UTC()
		if _, ok := db.kextras.Get(d0, end, vs); !ok {
			extras, err := readExtras(ctx, tx, from, to, nil)
			if err != nil {
				return err
			}
			db.kextras.Put(d0, end, vs, extras)
		}
		if _, ok := db.kcalls.Get(d0, end, vs); !ok {
			keys, err := db.readAttrKeys(ctx, tx, nil)
			if err != nil {
				return err
			}
			f := newCallFolder(keys)
			if err := readCalls(ctx, tx, f, from, to, nil); err != nil {
				return err
			}
			if err := f.endDay(); err != nil {
				return err
			}
			if len(f.sessions.vals) <= keptSessionsMax {
				db.kcalls.Put(d0, end, vs, f)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("warm insights: %w", err)
	}
	return nil
}

// clone returns a folder that goes on from f (which has ended its last
// day) without changing it, naming attributions by keys.
func (f *callFolder) clone(keys attrKeys) *callFolder {
	c := newCallFolder(keys)
	c.canon, c.keyIndex, c.keyList = maps.Clone(f.canon), maps.Clone(f.keyIndex), slices.Clone(f.keyList)
	c.day = f.day
	c.prompts, c.sessions = f.prompts.clone(), f.sessions.clone()
	return c
}

func (s *chainSums[K]) clone() *chainSums[K] {
	return &chainSums[K]{index: maps.Clone(s.index), keys: slices.Clone(s.keys), vals: slices.Clone(s.vals)}
}
