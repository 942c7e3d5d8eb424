package postgres

import (
	"context"
	"encoding/binary"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/rollup"
)

// Rollup bucket widths in microseconds.
const (
	usPerHour = 3_600_000_000
	usPerDay  = 24 * usPerHour
)

// reportSums are the sums a report reads, in rollupcache.Sums order
// (unknown_cost_requests, which reports do not use, is left out).
const reportSums = `sat8(sum(requests)), sat8(sum(input)), sat8(sum(cache_read)), sat8(sum(cache_write_5m)), sat8(sum(cache_write_1h)),
	sat8(sum(output)), sat8(sum(reasoning)), sat8(sum(estimated_requests)), sat8(sum(cost_nano))`

// nReportSums is how many sums reportSums reads.
const nReportSums = 9

// Report answers q from the rollups (rollup.Report). Everything is read in
// one REPEATABLE READ snapshot. Closed days and closed hours are units
// kept in memory while the day's or hour's version stays the same
// (reportunits.go): days from rollups_daily unless the report groups by
// hour (a day mostly in the range less its hours outside it), other hours
// from rollups_hourly. Hours not closed yet are summed by PostgreSQL from
// rollups_hourly, grouped by the dimensions' dict ids. Reading a day or an
// hour that could be closed starts closing it in the background.
func (db *DB) Report(ctx context.Context, q allot.ReportQuery) ([]allot.ReportRow, error) {
	return rollup.Report(ctx, reportSource{db}, q)
}

// reportSource is the store as rollup.Report reads it.
type reportSource struct{ db *DB }

func (s reportSource) ReportLookup(ctx context.Context, v string) (int64, bool, error) {
	id, ok, err := s.db.dict.lookup(ctx, s.db.pool, v)
	return int64(id), ok, err
}

func (s reportSource) ReportAttrs(fn func(func(int32) (rollup.ReportAttr, bool), int64)) {
	c := s.db.dims
	c.mu.RLock()
	defer c.mu.RUnlock()
	fn(func(id int32) (rollup.ReportAttr, bool) {
		d, ok := c.m[id] // only ever added to; read under the lock
		var r rollup.ReportAttr
		for i, v := range d {
			r[i] = int64(v)
		}
		return r, ok
	}, int64(c.max))
}

func (s reportSource) ReportRefresh(ctx context.Context, unknown []int32) error {
	return s.db.dims.refresh(ctx, s.db.pool, unknown)
}

func (s reportSource) ReportNames(ctx context.Context, ids []int64) (map[int64]string, error) {
	in := make([]int32, len(ids))
	for i, id := range ids {
		in[i] = int32(id)
	}
	names, err := s.db.dict.names(ctx, s.db.pool, in)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]string, len(names))
	for id, n := range names {
		out[int64(id)] = n
	}
	return out, nil
}

func (s reportSource) ReportScan(ctx context.Context, scan *rollup.ReportScan) error {
	db := s.db
	if db.dims.empty() {
		// The first report: read every attribution at once, rather than
		// find each missing while summing.
		if err := db.dims.refresh(ctx, db.pool, nil); err != nil {
			return err
		}
	}
	var plan reportPlan
	err := pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		if plan, err = planReport(ctx, tx, scan.From, scan.To, scan.ByHour, scan.HourKind()); err != nil {
			return err
		}
		if plan.units, err = db.fillUnits(ctx, tx, plan.units, scan.TimeOnly); err != nil {
			return err
		}
		scan.Open, err = openRows(ctx, tx, scan, plan.open)
		return err
	})
	if err != nil {
		return err
	}
	scan.Units = plan.units
	db.closeInBackground(plan.closable)
	db.closeHoursInBackground(plan.closableHours)
	return nil
}

// openRows sums the hourly rollups of the spans of hours given (not
// closed) in tx, grouped by time bucket and the dimensions' dict ids.
func openRows(ctx context.Context, tx pgx.Tx, s *rollup.ReportScan, spans [][2]int64) ([]rollup.ReportOpen, error) {
	if len(spans) == 0 {
		return nil, nil
	}
	// The distinct attrs columns the groups need, and where each dimension finds its value.
	var cols []int
	at := make([]int, len(s.Dims))
	for i, p := range s.Dims {
		at[i] = -1
		if p < 0 {
			continue
		}
		at[i] = len(cols)
		for j, c := range cols {
			if c == p {
				at[i] = j
			}
		}
		if at[i] == len(cols) {
			cols = append(cols, p)
		}
	}
	var args []any
	param := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	bucket := "0" // as ReportScan.Bucket
	switch {
	case s.ByHour:
		bucket = "r.hour"
	case s.ByDay:
		bucket = "r.hour / 24"
	}
	sel, groupBy := "("+bucket+")::int8", "1"
	for i, c := range cols {
		sel += ", a." + dimColumnList[c]
		groupBy += fmt.Sprintf(", %d", i+2)
	}
	var where []string
	for _, sp := range spans {
		where = append(where, `(r.hour >= `+param(sp[0])+`::int4 AND r.hour < `+param(sp[1])+`::int4)`)
	}
	cond := `(` + strings.Join(where, " OR ") + `)`
	for _, f := range s.Filter {
		cond += ` AND a.` + dimColumnList[f.Pos] + ` = ` + param(int32(f.ID)) + `::int4`
	}
	from := "rollups_hourly r"
	if len(cols) > 0 || len(s.Filter) > 0 {
		from += " JOIN attrs a ON a.id = r.attr"
	}
	rows, err := tx.Query(ctx, `SELECT `+sel+`, `+reportSums+` FROM `+from+` WHERE `+cond+` GROUP BY `+groupBy, args...)
	if err != nil {
		return nil, fmt.Errorf("hourly rollups: %w", err)
	}
	defer rows.Close()
	// Every column is an int8 but the ids (int4), all NOT NULL: read the
	// binary values directly.
	var out []rollup.ReportOpen
	for rows.Next() {
		vals := rows.RawValues()
		if err := checkBinaryInts(rows.FieldDescriptions(), vals, 1+len(cols)+nReportSums, len(cols)); err != nil {
			return nil, fmt.Errorf("hourly rollups: %w", err)
		}
		o := rollup.ReportOpen{Bucket: int64(binary.BigEndian.Uint64(vals[0]))}
		for i, j := range at {
			if j >= 0 {
				o.Key[i] = int64(int32(binary.BigEndian.Uint32(vals[1+j])))
			}
		}
		for i := range nReportSums {
			o.Sums[i] = int64(binary.BigEndian.Uint64(vals[1+len(cols)+i]))
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("hourly rollups: %w", err)
	}
	return out, nil
}
