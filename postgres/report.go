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
	"github.com/allot-dev/allot/internal/rollupcache"
)

// maxReportDims is the most dimensions a report groups by (as in the SQLite store).
const maxReportDims = 8

// Rollup bucket widths in microseconds.
const (
	usPerHour = 3_600_000_000
	usPerDay  = 24 * usPerHour
)

// reportSums are the sums a report reads, in ReportRow order (and
// rollupcache.Sums order).
const reportSums = `sat8(sum(requests)), sat8(sum(input)), sat8(sum(cache_read)), sat8(sum(cache_write_5m)), sat8(sum(cache_write_1h)),
	sat8(sum(output)), sat8(sum(reasoning)), sat8(sum(estimated_requests)), sat8(sum(cost_nano))`

// nReportSums is how many sums reportSums reads.
const nReportSums = 9

// groupKey is the non-time part of a report group: per dimension of the
// query, a dict id (0 for time dimensions).
type groupKey [maxReportDims]int32

// filterTerm is one filter of a report: the attribution's dimension at pos
// (in dims) must be the dict id id.
type filterTerm struct {
	pos int
	id  int32
}

// report accumulates one query's groups: the blocks of its units are
// summed by a rollupcache.Grouper, whose attributions resolve through the
// attrDims cache; the rows SQL summed for hours not closed are added at
// the end.
type report struct {
	q        allot.ReportQuery
	pos      []int // per dimension of q.By, its position in dims, -1 for day and hour
	filter   []filterTerm
	timeOnly bool // no filter and no non-time dimension: one group
	hourDim  bool
	dayDim   bool

	dims map[int32]dims // the attrDims cache, read under its lock
	g    rollupcache.Grouper[groupKey]
}

// openRow is a group summed by SQL from the hourly rollups of days not
// closed: its key, time bucket and sums.
type openRow struct {
	key    groupKey
	bucket int64
	sums   rollupcache.Sums
}

func newReport(q allot.ReportQuery) *report {
	r := &report{q: q, hourDim: slices.Contains(q.By, allot.DimHour), dayDim: slices.Contains(q.By, allot.DimDay)}
	r.timeOnly = true
	r.pos = make([]int, len(q.By))
	for i, d := range q.By {
		r.pos[i] = -1
		if col, ok := dimColumn[d]; ok {
			r.pos[i] = slices.Index(dimColumnList[:], col)
			r.timeOnly = false
		}
	}
	r.g.Resolve = r.resolve
	r.g.Reset()
	return r
}

// resolve is the Grouper's: the group key of an attribution, whether
// the filters keep it, and whether the attrDims cache knows it.
func (r *report) resolve(attrID int32) (groupKey, bool, bool) {
	d, ok := r.dims[attrID]
	if !ok {
		return groupKey{}, false, false
	}
	for _, f := range r.filter {
		if d[f.pos] != f.id {
			return groupKey{}, false, true
		}
	}
	var k groupKey
	for i, p := range r.pos {
		if p >= 0 {
			k[i] = d[p]
		}
	}
	return k, true, true
}

// bucketOf is the time bucket of a unit.
func (r *report) bucketOf(u *unitRef) int64 {
	if u.key.Kind == rollupcache.Day {
		if r.dayDim {
			return u.key.N
		}
		return 0
	}
	switch {
	case r.hourDim:
		return u.key.N
	case r.dayDim:
		return u.key.N / 24
	}
	return 0
}

// addOpen adds the groups SQL summed to those of the units.
func (r *report) addOpen(rows []openRow) {
	if len(rows) == 0 {
		return
	}
	type at struct {
		group  int32
		bucket int64
	}
	out := r.g.Out()
	index := make(map[at]int, len(out)+len(rows))
	for i, g := range out {
		index[at{g.Group, g.Bucket}] = i
	}
	for i := range rows {
		o := &rows[i]
		k := at{r.g.Group(o.key), o.bucket}
		j, ok := index[k]
		if !ok {
			j = r.g.AppendOut(rollupcache.GroupSums{Group: k.group, Bucket: k.bucket})
			index[k] = j
		}
		s := &r.g.Out()[j].Sums
		for c := range s {
			s[c] = allot.SatAdd(s[c], o.sums[c])
		}
	}
}

// Report answers q from the rollups: totals grouped by q.By, in that order,
// sorted by cost (highest first) and then by the dimension values (byte
// order). It returns exactly what the SQLite store returns for the same
// events.
//
// Rollups are hourly, so the range is widened to whole hours: every hour
// that overlaps [From, To) counts in full. Everything is read in one
// REPEATABLE READ snapshot. Closed days and closed hours are summed here
// from blocks of their rollups per attribution, kept in memory while the
// day's or hour's version stays the same (reportunits.go): days from
// rollups_daily unless the report groups by hour (a day mostly in the
// range less its hours outside it), other hours from rollups_hourly.
// Hours not closed yet are summed by PostgreSQL from rollups_hourly,
// grouped by the dimensions' dict ids. Reading a day or an hour that could
// be closed starts closing it in the background. Names and sorting are
// done here so that the order is byte order, whatever the database's
// collation.
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
	r := newReport(q)
	filters := make([]allot.Dimension, 0, len(q.Filter))
	for d := range q.Filter {
		filters = append(filters, d)
	}
	slices.Sort(filters)
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
		r.filter = append(r.filter, filterTerm{slices.Index(dimColumnList[:], col), id})
		r.timeOnly = false
	}

	from := q.From.UnixMicro() / usPerHour
	toHour := q.To.Truncate(time.Hour)
	if !toHour.Equal(q.To) {
		toHour = toHour.Add(time.Hour)
	}
	to := toHour.UnixMicro() / usPerHour
	hourKind := rollupcache.Hour
	if r.timeOnly {
		hourKind = rollupcache.HourTotal
	}

	if db.dims.empty() {
		// The first report: read every attribution at once, rather than
		// find each missing while summing.
		if err := db.dims.refresh(ctx, db.pool, nil); err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
	}
	var plan reportPlan
	var open []openRow
	err := pgx.BeginTxFunc(ctx, db.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		if plan, err = planReport(ctx, tx, from, to, r.hourDim, hourKind); err != nil {
			return err
		}
		if err := db.fillUnits(ctx, tx, plan.units, r.timeOnly); err != nil {
			return err
		}
		if plan.unsubtract() {
			if err := db.fillUnits(ctx, tx, plan.units, r.timeOnly); err != nil {
				return err
			}
		}
		open, err = r.openRows(ctx, tx, plan.open)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	db.closeInBackground(plan.closable)
	db.closeHoursInBackground(plan.closableHours)

	db.sumUnits(r, plan.units)
	if unknown := r.g.Unknown(); len(unknown) > 0 { // attributions this process has not read yet
		if err := db.dims.refresh(ctx, db.pool, unknown); err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		r.g.Reset()
		db.sumUnits(r, plan.units)
		if unknown := r.g.Unknown(); len(unknown) > 0 {
			return nil, fmt.Errorf("report: rollups refer to unknown attribution %d", unknown[0])
		}
	}
	r.addOpen(open)
	return db.rows(ctx, r)
}

// sumUnits adds the units, in time order, to r.
func (db *DB) sumUnits(r *report, units []unitRef) {
	db.dims.mu.RLock()
	defer db.dims.mu.RUnlock()
	r.dims = db.dims.m // only ever added to; read under the lock
	defer func() { r.dims = nil }()
	r.g.TimeOnly = r.timeOnly // filters are known by now
	r.g.Reserve(int64(db.dims.max))
	for i := range units {
		r.g.Add(units[i].block, r.bucketOf(&units[i]), units[i].subtract)
	}
	r.g.Flush()
}

// openRows sums the hourly rollups of the spans of hours given (days not
// closed) in tx, grouped by time bucket and the dimensions' dict ids.
func (r *report) openRows(ctx context.Context, tx pgx.Tx, spans [][2]int64) ([]openRow, error) {
	if len(spans) == 0 {
		return nil, nil
	}
	// The distinct attrs columns the groups need, and where each dimension finds its value.
	var cols []string
	at := make([]int, len(r.q.By))
	for i, p := range r.pos {
		at[i] = -1
		if p < 0 {
			continue
		}
		col := dimColumnList[p]
		if j := slices.Index(cols, col); j >= 0 {
			at[i] = j
		} else {
			at[i] = len(cols)
			cols = append(cols, col)
		}
	}
	var args []any
	param := func(v any) string {
		args = append(args, v)
		return fmt.Sprintf("$%d", len(args))
	}
	bucket := "0"
	switch {
	case r.hourDim:
		bucket = "r.hour"
	case r.dayDim:
		bucket = "r.hour / 24"
	}
	sel, groupBy := "("+bucket+")::int8", "1"
	for i, c := range cols {
		sel += ", a." + c
		groupBy += fmt.Sprintf(", %d", i+2)
	}
	var where []string
	for _, s := range spans {
		where = append(where, `(r.hour >= `+param(s[0])+`::int4 AND r.hour < `+param(s[1])+`::int4)`)
	}
	cond := `(` + strings.Join(where, " OR ") + `)`
	for _, f := range r.filter {
		cond += ` AND a.` + dimColumnList[f.pos] + ` = ` + param(f.id) + `::int4`
	}
	from := "rollups_hourly r"
	if len(cols) > 0 || len(r.filter) > 0 {
		from += " JOIN attrs a ON a.id = r.attr"
	}
	rows, err := tx.Query(ctx, `SELECT `+sel+`, `+reportSums+` FROM `+from+` WHERE `+cond+` GROUP BY `+groupBy, args...)
	if err != nil {
		return nil, fmt.Errorf("hourly rollups: %w", err)
	}
	defer rows.Close()
	// Every column is an int8 but the ids (int4), all NOT NULL: read the
	// binary values directly.
	var out []openRow
	for rows.Next() {
		vals := rows.RawValues()
		if len(vals) != 1+len(cols)+nReportSums {
			return nil, fmt.Errorf("hourly rollups: %d columns, want %d", len(vals), 1+len(cols)+nReportSums)
		}
		fds := rows.FieldDescriptions()
		for i, v := range vals {
			want := 8
			if i >= 1 && i <= len(cols) {
				want = 4
			}
			if fds[i].Format != pgx.BinaryFormatCode || len(v) != want {
				return nil, fmt.Errorf("hourly rollups: column %d is not a binary %d-byte integer", i+1, want)
			}
		}
		o := openRow{bucket: int64(binary.BigEndian.Uint64(vals[0]))}
		for i, j := range at {
			if j >= 0 {
				o.key[i] = int32(binary.BigEndian.Uint32(vals[1+j]))
			}
		}
		for i := range nReportSums {
			o.sums[i] = int64(binary.BigEndian.Uint64(vals[1+len(cols)+i]))
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("hourly rollups: %w", err)
	}
	return out, nil
}

// rows turns r's groups into report rows, named and sorted.
func (db *DB) rows(ctx context.Context, r *report) ([]allot.ReportRow, error) {
	var need []int32
	seen := map[int32]bool{}
	keys, groups := r.g.Keys(), r.g.Out()
	used := make([]bool, len(keys))
	for _, g := range groups {
		used[g.Group] = true
	}
	for g, k := range keys {
		if !used[g] {
			continue
		}
		for i, p := range r.pos {
			if id := k[i]; p >= 0 && !seen[id] {
				seen[id] = true
				need = append(need, id)
			}
		}
	}
	names, err := db.dict.names(ctx, db.pool, need)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}

	nd := len(r.q.By)
	out := make([]allot.ReportRow, len(groups))
	dims := make([]string, len(groups)*nd) // one allocation for every row's dimensions
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
	for j := range groups {
		g := &groups[j]
		s := &g.Sums
		row := allot.ReportRow{
			Dims:     dims[j*nd : (j+1)*nd : (j+1)*nd],
			Requests: s[rollupcache.Requests],
			Tokens: allot.Tokens{Input: s[rollupcache.Input], CacheRead: s[rollupcache.CacheRead], CacheWrite5m: s[rollupcache.CacheWrite5m],
				CacheWrite1h: s[rollupcache.CacheWrite1h], Output: s[rollupcache.Output], Reasoning: s[rollupcache.Reasoning]},
			EstimatedRequests: s[rollupcache.Estimated],
			Cost:              allot.Money(s[rollupcache.Cost]),
		}
		key := &keys[g.Group]
		for i, d := range r.q.By {
			switch d {
			case allot.DimDay:
				day := g.Bucket
				if r.hourDim {
					day = g.Bucket / 24 // the bucket is the hour
				}
				row.Dims[i] = format(day, "2006-01-02", 86400)
			case allot.DimHour:
				row.Dims[i] = format(g.Bucket, "2006-01-02T15", 3600)
			default:
				row.Dims[i] = names[key[i]]
			}
		}
		out[j] = row
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
