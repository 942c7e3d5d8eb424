package postgres

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/allot-dev/allot"
)

// maxReportDims is the most dimensions a report groups by (as in the SQLite store).
const maxReportDims = 8

// Rollup bucket widths in microseconds.
const (
	usPerHour = 3_600_000_000
	usPerDay  = 24 * usPerHour
)

// reportSums are the sums a report reads, in ReportRow order.
const reportSums = `sum8(requests), sum8(input), sum8(cache_read), sum8(cache_write_5m), sum8(cache_write_1h),
	sum8(output), sum8(reasoning), sum8(estimated_requests), sum8(cost_nano)`

// rollupSums are the rollup columns a report's parts pass on.
const rollupSums = `r.requests, r.input, r.cache_read, r.cache_write_5m, r.cache_write_1h, r.output, r.reasoning, r.estimated_requests, r.cost_nano`

// Report answers q from the rollups: totals grouped by q.By, in that order,
// sorted by cost (highest first) and then by the dimension values (byte
// order). It returns exactly what the SQLite store returns for the same
// events.
//
// Rollups are hourly, so the range is widened to whole hours: every hour
// that overlaps [From, To) counts in full. Whole closed days inside the
// range are read from rollups_daily unless the report groups by hour (from
// rollups_user_daily when it needs no more than user, team and day); the
// partial days at the ends, and days not closed yet, from rollups_hourly.
// Reading a day that could be closed starts closing it in the background. PostgreSQL groups by the dict ids
// of the dimensions; names and sorting are done here so that the order is
// byte order, whatever the database's collation.
func (db *DB) Report(ctx context.Context, q allot.ReportQuery) ([]allot.ReportRow, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	if len(q.By) > maxReportDims {
		return nil, allot.Errorf(allot.EInvalid, "a report groups by at most %d dimensions, got %d", maxReportDims, len(q.By))
	}
	for _, d := range q.By {
		if _, ok := dimColumn[d]; !ok && d != allot.DimDay && d != allot.DimHour {
			return nil, allot.Errorf(allot.EInvalid, "unknown report dimension %q; use user,team,model,task,app,provider,day,hour", d)
		}
	}
	filters := make([]allot.Dimension, 0, len(q.Filter))
	for d := range q.Filter {
		filters = append(filters, d)
	}
	slices.Sort(filters)
	var filterCols []string
	var args []any
	for _, d := range filters {
		col, ok := dimColumn[d]
		if !ok {
			return nil, allot.Errorf(allot.EInvalid, "unknown report filter %q; filter on user,team,model,task,app or provider", d)
		}
		id, ok, err := db.dict.lookup(ctx, db.pool, q.Filter[d])
		if err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		if !ok {
			return []allot.ReportRow{}, nil // a value never recorded matches nothing
		}
		args = append(args, id)
		filterCols = append(filterCols, col)
	}

	from := q.From.UnixMicro() / usPerHour
	toHour := q.To.Truncate(time.Hour)
	if !toHour.Equal(q.To) {
		toHour = toHour.Add(time.Hour)
	}
	to := toHour.UnixMicro() / usPerHour
	needHours := slices.Contains(q.By, allot.DimHour)
	byDay := slices.Contains(q.By, allot.DimDay)
	fromDay, toDay := (from+23)/24, to/24
	useDaily := !needHours && fromDay < toDay

	// The distinct attrs columns the groups need, and where each dimension finds its value.
	var cols []string
	pos := make([]int, len(q.By))
	for i, d := range q.By {
		col, ok := dimColumn[d]
		if !ok {
			pos[i] = -1
			continue
		}
		if j := slices.Index(cols, col); j >= 0 {
			pos[i] = j
		} else {
			pos[i] = len(cols)
			cols = append(cols, col)
		}
	}
	// Reports by person, team and day read whole days from the per-person rollup.
	perPerson := true
	for _, c := range append(slices.Clone(cols), filterCols...) {
		perPerson = perPerson && (c == "usr" || c == "team")
	}

	param := func(v int64) string {
		args = append(args, v)
		return fmt.Sprintf("$%d::int8", len(args))
	}
	// part reads one rollup table. Grouping in SQL pays when many rows
	// fold into few groups; a per-person daily read grouped by person
	// hardly folds at all, so its rows come as they are and are summed
	// here, which is several times cheaper than PostgreSQL's hash
	// aggregation of as many groups.
	part := func(table, bucket, when string, direct, group bool) string {
		src, from := "a.", table+" r"
		if direct {
			src = "r."
		} else if len(cols) > 0 || len(filterCols) > 0 {
			from += " JOIN attrs a ON a.id = r.attr"
		}
		sel, groupBy := "("+bucket+")::int8", "1"
		for i, c := range cols {
			sel += ", " + src + c
			groupBy += fmt.Sprintf(", %d", i+2)
		}
		for i, c := range filterCols {
			when += fmt.Sprintf(" AND %s%s = $%d", src, c, i+1)
		}
		if !group {
			return `SELECT ` + sel + `, ` + rollupSums + ` FROM ` + from + ` WHERE ` + when
		}
		return `SELECT ` + sel + `, ` + reportSums + ` FROM ` + from + ` WHERE ` + when + ` GROUP BY ` + groupBy
	}
	hourBucket, dayBucket := "0", "0"
	switch {
	case needHours:
		hourBucket = "r.hour"
	case byDay:
		hourBucket, dayBucket = "r.hour / 24", "r.day"
	}
	// Hours outside whole days, and whole days not closed yet, come from
	// the hourly rollups; closed days from the daily ones.
	var parts []string
	hours := [][2]int64{{from, to}}
	if useDaily {
		closed, err := db.closedDays(ctx, fromDay, toDay)
		if err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		hours = [][2]int64{{from, fromDay * 24}, {toDay * 24, to}}
		var closedList, closable []int64
		limit := closableBefore(time.Now())
		for d := fromDay; d < toDay; d++ {
			if closed[d] {
				closedList = append(closedList, d)
				continue
			}
			if d < limit {
				closable = append(closable, d)
			}
			if n := len(hours); n > 2 && hours[n-1][1] == d*24 {
				hours[n-1][1] += 24 // the run of open days goes on
			} else {
				hours = append(hours, [2]int64{d * 24, d*24 + 24})
			}
		}
		db.closeInBackground(closable)
		if len(closedList) > 0 {
			daily := "rollups_daily"
			if perPerson {
				daily = "rollups_user_daily"
			}
			args = append(args, closedList)
			parts = append(parts, part(daily, dayBucket, fmt.Sprintf("r.day = ANY ($%d::int4[])", len(args)), perPerson,
				!perPerson || !slices.Contains(cols, "usr")))
		}
	}
	var spans []string
	for _, h := range hours {
		if h[0] < h[1] {
			spans = append(spans, `(r.hour >= `+param(h[0])+` AND r.hour < `+param(h[1])+`)`)
		}
	}
	if len(spans) > 0 || len(parts) == 0 {
		if len(spans) == 0 {
			spans = []string{"false"}
		}
		parts = append(parts, part("rollups_hourly", hourBucket, `(`+strings.Join(spans, " OR ")+`)`, false, true))
	}
	rows, err := db.pool.Query(ctx, strings.Join(parts, " UNION ALL "), args...)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}

	// Sum the parts' rows by group: the time bucket and the dimensions'
	// dict ids, two to a word.
	type groupKey [1 + (len(dimColumnList)+1)/2]int64
	index := make(map[groupKey]int, 1024)
	out := make([]allot.ReportRow, 0, 1024)
	keys := make([]groupKey, 0, 1024)
	var k groupKey
	var r allot.ReportRow
	ids := make([]int32, len(cols))
	sums := make([]int64, 9)
	add := func() {
		for i := 1; i < len(k); i++ {
			k[i] = 0
		}
		for i, id := range ids {
			k[1+i/2] |= int64(uint32(id)) << (32 * (i % 2))
		}
		r = allot.ReportRow{Requests: sums[0], Tokens: allot.Tokens{Input: sums[1], CacheRead: sums[2], CacheWrite5m: sums[3],
			CacheWrite1h: sums[4], Output: sums[5], Reasoning: sums[6]}, EstimatedRequests: sums[7], Cost: allot.Money(sums[8])}
		if i, ok := index[k]; ok {
			o := &out[i]
			o.Requests += r.Requests
			o.Tokens = o.Tokens.Add(r.Tokens)
			o.EstimatedRequests += r.EstimatedRequests
			o.Cost += r.Cost
			return
		}
		index[k] = len(out)
		out = append(out, r)
		keys = append(keys, k)
	}
	// Every column is an int8 but the ids (int4), all NOT NULL: read the
	// binary values directly, which is several times faster than Scan on
	// tens of thousands of rows.
	for rows.Next() {
		vals := rows.RawValues()
		if len(vals) != 1+len(cols)+len(sums) {
			rows.Close()
			return nil, fmt.Errorf("report: %d columns, want %d", len(vals), 1+len(cols)+len(sums))
		}
		fds := rows.FieldDescriptions()
		for i, v := range vals {
			want := 8
			if i >= 1 && i <= len(cols) {
				want = 4
			}
			if fds[i].Format != pgx.BinaryFormatCode || len(v) != want {
				rows.Close()
				return nil, fmt.Errorf("report: column %d is not a binary %d-byte integer", i+1, want)
			}
		}
		k[0] = int64(binary.BigEndian.Uint64(vals[0]))
		for i := range ids {
			ids[i] = int32(binary.BigEndian.Uint32(vals[1+i]))
		}
		for i := range sums {
			sums[i] = int64(binary.BigEndian.Uint64(vals[1+len(cols)+i]))
		}
		add()
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	idOf := func(k groupKey, i int) int32 { return int32(uint32(uint64(k[1+i/2]) >> (32 * (i % 2)))) }
	need := make([]int32, 0, len(index))
	seen := map[int32]bool{}
	for _, k := range keys {
		for i := range cols {
			if id := idOf(k, i); !seen[id] {
				seen[id] = true
				need = append(need, id)
			}
		}
	}
	names, err := db.dict.names(ctx, db.pool, need)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}

	dims := make([]string, len(out)*len(q.By)) // one allocation for every row's dimensions
	times := map[int64]string{}
	format := func(v int64, layout string, unit int64) string {
		key := v*2 + unit/86400 // days and hours apart
		s, ok := times[key]
		if !ok {
			s = time.Unix(v*unit, 0).UTC().Format(layout)
			times[key] = s
		}
		return s
	}
	for j := range out {
		row := dims[j*len(q.By) : (j+1)*len(q.By) : (j+1)*len(q.By)]
		bucket := keys[j][0]
		for i, d := range q.By {
			switch d {
			case allot.DimDay:
				day := bucket
				if needHours {
					day = bucket / 24 // the bucket is the hour
				}
				row[i] = format(day, "2006-01-02", 86400)
			case allot.DimHour:
				row[i] = format(bucket, "2006-01-02T15", 3600)
			default:
				row[i] = names[idOf(keys[j], pos[i])]
			}
		}
		out[j].Dims = row
	}
	// Sort an index, not the rows: far fewer bytes move.
	order := make([]int32, len(out))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(i, j int32) int {
		a, b := &out[i], &out[j]
		if a.Cost != b.Cost {
			if a.Cost > b.Cost {
				return -1
			}
			return 1
		}
		return slices.Compare(a.Dims, b.Dims)
	})
	sorted := make([]allot.ReportRow, len(out))
	for i, j := range order {
		sorted[i] = out[j]
	}
	return sorted, nil
}
