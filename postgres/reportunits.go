package postgres

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/allot-dev/allot/internal/rollupcache"
	"github.com/allot-dev/allot/rollup"
)

// Reports read closed days and closed hours from memory. A closed day's
// rollups change only with its version (rollups_days.version,
// migrations/0004), a closed hour's of a day not closed yet with the
// hour's (rollups_hours.version, migrations/0005): late events and
// relabelling set a new one in the transaction that changes them. So a
// report reads, in one REPEATABLE READ snapshot, the closed days and hours
// of its range with their versions, takes each unit (a closed day's
// rollups per attribution from rollups_daily, or an hour's from
// rollups_hourly for closed hours, reports by hour and the partial days at
// the ends of the range) from the cache when held at that version, and
// reads only the others in the same snapshot. The hours not closed yet
// (the current one, and the one before for hourCloseAfter) are summed by
// SQL. Whatever other replicas write meanwhile, a report is exactly the
// rollups of its snapshot, and every replica's cache follows the others'
// writes. Versions of days and hours come from one sequence, so a value
// names one state of one unit whichever table gave it.

// reportCacheBytes bounds the memory the cached units take; the least
// recently used go first. A day of a 1,000-person org (about 24,000
// attributions) takes about 0.7 MB.
var reportCacheBytes int64 = 256 << 20

// reportPlan is how a report covers its range of hours: units of closed
// days and closed hours, in time order, and the spans of hours [lo, hi)
// not closed, for SQL. closable lists the days of those spans that may be
// closed now, closableHours their hours that may (of days that may not).
type reportPlan struct {
	units         []rollup.ReportUnit
	open          [][2]int64
	closable      []int64
	closableHours []int64
}

// planReport splits the hours [from, to) into units of closed days and
// hours and spans of open hours, as of tx's snapshot: whole closed days
// are day units unless the report groups by hour, other hours of closed
// days and closed hours hour units (hourKind), and hours outside the
// rollups' span are left out. A closed day more than half of which is in
// the range is its day unit less the hours outside the range (subtracted
// units right after it).
func planReport(ctx context.Context, tx pgx.Tx, from, to int64, hourDim bool, hourKind rollupcache.Kind) (reportPlan, error) {
	var p reportPlan
	var first, last *int64
	if err := tx.QueryRow(ctx, `SELECT (SELECT min(hour) FROM rollups_hourly)::int8, (SELECT max(hour) FROM rollups_hourly)::int8`).Scan(&first, &last); err != nil {
		return p, fmt.Errorf("rollup span: %w", err)
	}
	if first == nil || last == nil {
		return p, nil // no rollups at all
	}
	// Whole days, so that the first and last days with rollups stay day units.
	from, to = max(from, floorDiv(*first, 24)*24), min(to, floorDiv(*last, 24)*24+24)
	if from >= to {
		return p, nil
	}
	// The closed hours of days not closed (closing a day deletes its hours).
	hours := map[int64]int64{}
	rows, _ := tx.Query(ctx, `SELECT hour::int8, version FROM rollups_hours WHERE hour >= $1 AND hour < $2`, from, to)
	var hour, version int64
	if _, err := pgx.ForEachRow(rows, []any{&hour, &version}, func() error { hours[hour] = version; return nil }); err != nil {
		return p, fmt.Errorf("read closed hours: %w", err)
	}
	rows, _ = tx.Query(ctx, `SELECT day::int8, version FROM rollups_days WHERE day >= $1 AND day < $2 ORDER BY day`,
		floorDiv(from, 24), floorDiv(to+23, 24))
	var day int64
	at := from // the first hour not covered yet
	now := time.Now()
	limit, hourLimit := closableBefore(now), closableHourBefore(now)
	sqlSpan := func(lo, hi int64) {
		if lo >= hi {
			return
		}
		p.open = append(p.open, [2]int64{lo, hi})
		for h := lo; h < hi && h < hourLimit; h++ {
			if floorDiv(h, 24) >= limit {
				p.closableHours = append(p.closableHours, h)
			}
		}
	}
	// openSpan covers hours of days not closed: closed hours are units,
	// runs of the others go to SQL.
	openSpan := func(lo, hi int64) {
		if lo >= hi {
			return
		}
		for d := floorDiv(lo, 24); d*24 < hi && d < limit; d++ {
			p.closable = append(p.closable, d)
		}
		start := lo
		for h := lo; h < hi; h++ {
			v, ok := hours[h]
			if !ok {
				continue
			}
			sqlSpan(start, h)
			p.units = append(p.units, rollup.ReportUnit{Key: rollupcache.Key{Kind: hourKind, N: h}, Version: v})
			start = h + 1
		}
		sqlSpan(start, hi)
	}
	_, err := pgx.ForEachRow(rows, []any{&day, &version}, func() error {
		lo, hi := max(from, day*24), min(to, day*24+24)
		openSpan(at, lo)
		if !hourDim && hi-lo > 12 {
			p.units = append(p.units, rollup.ReportUnit{Key: rollupcache.Key{Kind: rollupcache.Day, N: day}, Version: version})
			for h := day * 24; h < day*24+24; h++ {
				if h < lo || h >= hi {
					p.units = append(p.units, rollup.ReportUnit{Key: rollupcache.Key{Kind: hourKind, N: h}, Version: version, Subtract: true})
				}
			}
		} else {
			for h := lo; h < hi; h++ {
				p.units = append(p.units, rollup.ReportUnit{Key: rollupcache.Key{Kind: hourKind, N: h}, Version: version})
			}
		}
		at = hi
		return nil
	})
	if err != nil {
		return p, fmt.Errorf("read closed days: %w", err)
	}
	openSpan(at, to)
	return p, nil
}

// fillUnits gives every unit its block (rollup.ReportFill), reading those
// the cache lacks in tx.
func (db *DB) fillUnits(ctx context.Context, tx pgx.Tx, units []rollup.ReportUnit, timeOnly bool) ([]rollup.ReportUnit, error) {
	return rollup.ReportFill(ctx, db.rcache, units, timeOnly, func(units []rollup.ReportUnit, skip map[rollupcache.Key]chan struct{}) ([]rollup.ReportUnit, error) {
		return units, db.loadUnits(ctx, tx, units, skip)
	})
}

// loadUnits reads the blocks of the units without one, but for those in
// skip, in tx (rollup.ReportLoadRuns): closed days from rollups_daily,
// hours from rollups_hourly, as they are or summed over every attribution
// (rollupcache.HourTotal). The rows come unordered: sorting them in Go is
// cheaper than in PostgreSQL, which would have to read the rollups in
// index order or sort them.
func (db *DB) loadUnits(ctx context.Context, tx pgx.Tx, units []rollup.ReportUnit, skip map[rollupcache.Key]chan struct{}) error {
	return rollup.ReportLoadRuns(db.rcache, units, skip, daysPerQuery, hoursPerQuery, func(run []*rollup.ReportUnit, add func(n, attr int64, s *rollupcache.Sums) error) error {
		lo, hi := run[0].Key.N, run[len(run)-1].Key.N+1
		q, args := `SELECT r.hour::int8, r.attr, `+blockSums+` FROM rollups_hourly r WHERE r.hour >= $1 AND r.hour < $2`, []any{lo, hi}
		switch run[0].Key.Kind {
		case rollupcache.Day:
			days := make([]int64, len(run))
			for i, u := range run {
				days[i] = u.Key.N
			}
			q, args = `SELECT r.day::int8, r.attr, `+blockSums+` FROM rollups_daily r WHERE r.day = ANY ($1::int4[])`, []any{days}
		case rollupcache.HourTotal:
			q = `SELECT r.hour::int8, 0::int4, ` + reportSums + ` FROM rollups_hourly r WHERE r.hour >= $1 AND r.hour < $2 GROUP BY r.hour`
		}
		rows, err := tx.Query(ctx, q, args...)
		if err != nil {
			return fmt.Errorf("rollups: %w", err)
		}
		defer rows.Close()
		var s rollupcache.Sums
		for checked := false; rows.Next(); checked = true {
			vals := rows.RawValues()
			if !checked {
				if err := checkBinaryInts(rows.FieldDescriptions(), vals, 2+nReportSums, 1); err != nil {
					return fmt.Errorf("rollups: %w", err)
				}
			}
			for i := range nReportSums {
				s[i] = int64(binary.BigEndian.Uint64(vals[2+i]))
			}
			if err := add(int64(binary.BigEndian.Uint64(vals[0])), int64(int32(binary.BigEndian.Uint32(vals[1]))), &s); err != nil {
				return err
			}
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("rollups: %w", err)
		}
		return nil
	})
}

// Units read by one query: at most a few hundred thousand rows, whose
// entries are held until the query ends.
const (
	daysPerQuery  = 8
	hoursPerQuery = 48
)

// blockSums are the rollup columns a block holds, in rollupcache.Sums
// order (unknown_cost_requests, which reports do not use, is left out).
const blockSums = `r.requests, r.input, r.cache_read, r.cache_write_5m, r.cache_write_1h, r.output, r.reasoning, r.estimated_requests, r.cost_nano`

// checkBinaryInts checks that a row has n columns, all binary integers:
// the first of 8 bytes, the next nInt4 of 4, the others of 8. Reading raw
// values is several times faster than Scan on the hundreds of thousands of
// rows a month of rollups has.
func checkBinaryInts(fds []pgconn.FieldDescription, vals [][]byte, n, nInt4 int) error {
	if len(vals) != n || len(fds) != n {
		return fmt.Errorf("%d columns, want %d", len(vals), n)
	}
	for i, v := range vals {
		want := 8
		if i >= 1 && i <= nInt4 {
			want = 4
		}
		if fds[i].Format != pgx.BinaryFormatCode || len(v) != want {
			return fmt.Errorf("column %d is not a binary %d-byte integer", i+1, want)
		}
	}
	return nil
}

// dims is an attribution's report dimensions as dict ids, in dimColumnList
// order.
type dims [len(dimColumnList)]int32

// attrDims maps attribution ids to their report dimensions, for summing
// cached units. The attrs table is append-only, so an entry never goes
// stale; ids this process has not seen are read when a report meets them.
type attrDims struct {
	mu  sync.RWMutex
	m   map[int32]dims
	max int32 // the largest id held
}

func newAttrDims() *attrDims { return &attrDims{m: map[int32]dims{}} }

// empty reports whether no attribution is held yet.
func (c *attrDims) empty() bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return len(c.m) == 0
}

// refresh reads the attributions past the largest id held, and those of
// missing below it (committed after larger ones).
func (c *attrDims) refresh(ctx context.Context, q querier, missing []int32) error {
	c.mu.RLock()
	after := c.max
	c.mu.RUnlock()
	below := []int32{}
	for _, id := range missing {
		if id <= after {
			below = append(below, id)
		}
	}
	missing = below
	rows, err := q.Query(ctx, `SELECT id, `+dimColumnsSQL+` FROM attrs WHERE id > $1 OR id = ANY ($2::int4[])`, after, missing)
	if err != nil {
		return fmt.Errorf("read attributions: %w", err)
	}
	found := map[int32]dims{}
	var id int32
	var d dims
	dest := []any{&id}
	for i := range d {
		dest = append(dest, &d[i])
	}
	if _, err := pgx.ForEachRow(rows, dest, func() error { found[id] = d; return nil }); err != nil {
		return fmt.Errorf("read attributions: %w", err)
	}
	c.mu.Lock()
	for id, d := range found {
		c.m[id] = d
		c.max = max(c.max, id)
	}
	c.mu.Unlock()
	return nil
}

// dimColumnsSQL lists dimColumnList for a select.
var dimColumnsSQL = func() string {
	s := ""
	for i, c := range dimColumnList {
		if i > 0 {
			s += ", "
		}
		s += c
	}
	return s
}()
