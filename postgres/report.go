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
const reportSums = `sum8(requests), sum8(input), sum8(cache_read), sum8(cache_write_5m), sum8(cache_write_1h),
	sum8(output), sum8(reasoning), sum8(estimated_requests), sum8(cost_nano)`

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

// report accumulates one query's groups. Each attribution is resolved
// once to a group number (its non-time dimensions, or filtered out). Units
// are added in time order, so a time bucket's units come one after the
// other: they are summed per group number in a dense slice, and the
// bucket's groups are written out when the next bucket starts. The rows
// SQL summed for days not closed are added at the end.
type report struct {
	q        allot.ReportQuery
	pos      []int // per dimension of q.By, its position in dims, -1 for day and hour
	filter   []filterTerm
	timeOnly bool // no filter and no non-time dimension: one group
	hourDim  bool
	dayDim   bool

	dims     map[int32]dims  // the attrDims cache, read under its lock
	groupOf  []int32         // by attrs id: 0 not resolved yet, -1 filtered out, else group number + 1
	groupBig map[int32]int32 // the same for ids too large for groupOf
	keys     []groupKey      // by group number
	keyIndex map[groupKey]int32
	unknown  []int32 // attrs ids the cache lacked, each once
	missed   map[int32]bool

	bucket     int64              // the time bucket being summed
	cur        []rollupcache.Sums // its sums by group number
	hit        []bool             // its groups that have entries
	subtracted bool               // units were subtracted from it
	gi, idx    []int32            // a block's entries' groups, and the entries kept
	out        []groupSums        // the finished groups
}

// groupSums is one finished group: a group number and a time bucket (0,
// the unix day or the unix hour) with their sums.
type groupSums struct {
	group  int32
	bucket int64
	sums   rollupcache.Sums
}

// openRow is a group summed by SQL from the hourly rollups of days not
// closed: its key, time bucket and sums.
type openRow struct {
	key    groupKey
	bucket int64
	sums   rollupcache.Sums
}

// maxDenseAttr bounds groupOf: attrs ids are dense from 1, so it is never
// reached in practice.
const maxDenseAttr = 1 << 24

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
	r.reset()
	return r
}

// reset forgets every group, to add the units again.
func (r *report) reset() {
	clear(r.groupOf)
	r.groupBig = nil
	r.keys = r.keys[:0]
	r.keyIndex = map[groupKey]int32{}
	r.unknown, r.missed = nil, nil
	r.bucket, r.subtracted = 0, false
	r.cur, r.hit, r.out = r.cur[:0], r.hit[:0], r.out[:0]
}

// group returns the group number of k, adding the group if new.
func (r *report) group(k groupKey) int32 {
	g, ok := r.keyIndex[k]
	if !ok {
		g = int32(len(r.keys))
		r.keys = append(r.keys, k)
		r.keyIndex[k] = g
	}
	return g
}

// resolve returns the group number of an attribution, -1 if it is
// filtered out or unknown (noted in r.unknown), and remembers it.
func (r *report) resolve(attrID int32) int32 {
	if r.groupBig != nil {
		if v, ok := r.groupBig[attrID]; ok {
			return max(v-1, -1)
		}
	}
	d, ok := r.dims[attrID]
	if !ok {
		if r.missed == nil {
			r.missed = map[int32]bool{}
		}
		if !r.missed[attrID] {
			r.missed[attrID] = true
			r.unknown = append(r.unknown, attrID)
		}
		return -1
	}
	g := int32(-1)
	match := true
	for _, f := range r.filter {
		match = match && d[f.pos] == f.id
	}
	if match {
		var k groupKey
		for i, p := range r.pos {
			if p >= 0 {
				k[i] = d[p]
			}
		}
		g = r.group(k)
	}
	v := g + 1
	if g < 0 {
		v = -1 // filtered out
	}
	switch {
	case attrID >= 0 && attrID < maxDenseAttr:
		if int(attrID) >= len(r.groupOf) {
			n := min(max(int(attrID)+1, 2*len(r.groupOf), 1024), maxDenseAttr)
			r.groupOf = append(r.groupOf, make([]int32, n-len(r.groupOf))...)
		}
		r.groupOf[attrID] = v
	default:
		if r.groupBig == nil {
			r.groupBig = map[int32]int32{}
		}
		r.groupBig[attrID] = v
	}
	return g
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

// addBlock adds a unit's block to the time bucket given, or subtracts it
// (an hour of a day added before, in the same bucket).
func (r *report) addBlock(b *rollupcache.Block, bucket int64, subtract bool) {
	if bucket != r.bucket {
		r.flush()
		r.bucket = bucket
	}
	attrs := b.Attrs()
	n := len(attrs)
	if n == 0 {
		return
	}
	if cap(r.gi) < n {
		r.gi = make([]int32, n)
	}
	gi := r.gi[:n]
	if r.timeOnly {
		r.group(groupKey{})
		clear(gi) // everything lands in group 0
	} else {
		groupOf := r.groupOf
		for i, a := range attrs {
			if int(a) < len(groupOf) && groupOf[a] != 0 {
				gi[i] = max(groupOf[a]-1, -1)
			} else {
				gi[i] = r.resolve(a)
				groupOf = r.groupOf
			}
		}
	}
	if n := len(r.keys); len(r.cur) < n {
		r.cur = slices.Grow(r.cur, n-len(r.cur))[:n]
		r.hit = slices.Grow(r.hit, n-len(r.hit))[:n]
	}
	if subtract {
		r.subtracted = true
		rollupcache.SubtractFrom(b, r.cur, gi)
		return
	}
	if r.timeOnly {
		r.hit[0] = true
		rollupcache.AddAll(b, &r.cur[0])
		return
	}
	// A filtered report keeps few entries: add those alone.
	hit, idx := r.hit, r.idx[:0]
	for i, g := range gi {
		if g >= 0 {
			hit[g] = true
			idx = append(idx, int32(i))
		}
	}
	r.idx = idx
	if len(idx) < n/8 {
		rollupcache.AddEntries(b, r.cur, gi, idx)
	} else {
		rollupcache.AddTo(b, r.cur, gi)
	}
}

// flush writes out the current bucket's groups. Every rollup entry counts
// at least one request, so a group left with none after subtractions had
// entries only in the hours subtracted: it is not in the range.
func (r *report) flush() {
	if r.subtracted {
		for g, ok := range r.hit {
			if ok && r.cur[g][rollupcache.Requests] == 0 {
				r.cur[g], r.hit[g] = rollupcache.Sums{}, false
			}
		}
		r.subtracted = false
	}
	n := 0
	for _, ok := range r.hit {
		if ok {
			n++
		}
	}
	r.out = slices.Grow(r.out, n)
	for g, ok := range r.hit {
		if ok {
			r.out = append(r.out, groupSums{int32(g), r.bucket, r.cur[g]})
			r.cur[g], r.hit[g] = rollupcache.Sums{}, false
		}
	}
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
	index := make(map[at]int, len(r.out)+len(rows))
	for i, g := range r.out {
		index[at{g.group, g.bucket}] = i
	}
	for i := range rows {
		o := &rows[i]
		k := at{r.group(o.key), o.bucket}
		j, ok := index[k]
		if !ok {
			index[k] = len(r.out)
			r.out = append(r.out, groupSums{group: k.group, bucket: k.bucket})
			j = len(r.out) - 1
		}
		s := &r.out[j].sums
		for c := range s {
			s[c] += o.sums[c]
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
		open, err = r.openRows(ctx, tx, plan.open)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	db.closeInBackground(plan.closable)
	db.closeHoursInBackground(plan.closableHours)

	db.sumUnits(r, plan.units)
	if len(r.unknown) > 0 { // attributions this process has not read yet
		if err := db.dims.refresh(ctx, db.pool, r.unknown); err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		r.reset()
		db.sumUnits(r, plan.units)
		if len(r.unknown) > 0 {
			return nil, fmt.Errorf("report: rollups refer to unknown attribution %d", r.unknown[0])
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
	if n := int(min(int64(db.dims.max)+1, maxDenseAttr)); len(r.groupOf) < n {
		r.groupOf = append(r.groupOf, make([]int32, n-len(r.groupOf))...)
	}
	for i := range units {
		r.addBlock(units[i].block, r.bucketOf(&units[i]), units[i].subtract)
	}
	r.flush()
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
	used := make([]bool, len(r.keys))
	for _, g := range r.out {
		used[g.group] = true
	}
	for g, k := range r.keys {
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
	out := make([]allot.ReportRow, len(r.out))
	dims := make([]string, len(r.out)*nd) // one allocation for every row's dimensions
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
	for j := range r.out {
		g := &r.out[j]
		s := &g.sums
		row := allot.ReportRow{
			Dims:     dims[j*nd : (j+1)*nd : (j+1)*nd],
			Requests: s[rollupcache.Requests],
			Tokens: allot.Tokens{Input: s[rollupcache.Input], CacheRead: s[rollupcache.CacheRead], CacheWrite5m: s[rollupcache.CacheWrite5m],
				CacheWrite1h: s[rollupcache.CacheWrite1h], Output: s[rollupcache.Output], Reasoning: s[rollupcache.Reasoning]},
			EstimatedRequests: s[rollupcache.Estimated],
			Cost:              allot.Money(s[rollupcache.Cost]),
		}
		key := &r.keys[g.group]
		for i, d := range r.q.By {
			switch d {
			case allot.DimDay:
				day := g.bucket
				if r.hourDim {
					day = g.bucket / 24 // the bucket is the hour
				}
				row.Dims[i] = format(day, "2006-01-02", 86400)
			case allot.DimHour:
				row.Dims[i] = format(g.bucket, "2006-01-02T15", 3600)
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
