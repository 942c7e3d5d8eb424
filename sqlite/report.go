package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"time"

	"github.com/allot-dev/allot"
)

// dimAttr is the position in attr of each non-time dimension.
var dimAttr = map[allot.Dimension]int{
	allot.DimTeam:     1,
	allot.DimUser:     2,
	allot.DimProvider: 6,
	allot.DimModel:    8, // the served model
	allot.DimTask:     10,
	allot.DimApp:      11,
}

// groupKey is the non-time part of a report group: per dimension of the
// query, a dict id (0 for time dimensions).
type groupKey [8]int64

// report accumulates one query's groups. Each attribution is resolved
// once to a group number (its non-time dimensions, or filtered out); a
// group is then the group number and the time bucket in one int64.
type report struct {
	q        allot.ReportQuery
	filter   []filterTerm
	attrs    map[int64]attr // the attrs cache, read under its lock
	byAttr   map[int64]int64
	keys     []groupKey // by group number
	keyIndex map[groupKey]int64
	bucket   func(hour int64) int64
	groups   map[int64]*sums
	unknown  []int64 // attrs ids the cache lacked
}

type filterTerm struct {
	pos int   // in attr
	id  int64 // dict id to match
}

const filteredOut = -1

func newReport(q allot.ReportQuery) *report {
	r := &report{q: q}
	r.bucket = func(int64) int64 { return 0 }
	switch {
	case slices.Contains(q.By, allot.DimHour):
		r.bucket = func(h int64) int64 { return h }
	case slices.Contains(q.By, allot.DimDay):
		r.bucket = func(h int64) int64 { return h / 24 }
	}
	r.reset()
	return r
}

func (r *report) reset() {
	r.byAttr = map[int64]int64{}
	r.keys = nil
	r.keyIndex = map[groupKey]int64{}
	r.groups = map[int64]*sums{}
	r.unknown = nil
}

// group returns the group number of an attribution, or filteredOut.
func (r *report) group(attrID int64) (int64, bool) {
	if g, ok := r.byAttr[attrID]; ok {
		return g, true
	}
	a, ok := r.attrs[attrID]
	if !ok {
		r.unknown = append(r.unknown, attrID)
		return 0, false
	}
	g := int64(filteredOut)
	match := true
	for _, f := range r.filter {
		match = match && a[f.pos] == f.id
	}
	if match {
		var k groupKey
		for i, d := range r.q.By {
			if pos, ok := dimAttr[d]; ok {
				k[i] = a[pos]
			}
		}
		var seen bool
		if g, seen = r.keyIndex[k]; !seen {
			g = int64(len(r.keys))
			r.keys = append(r.keys, k)
			r.keyIndex[k] = g
		}
	}
	r.byAttr[attrID] = g
	return g, true
}

// add counts s for attribution attrID in the given unix hour.
func (r *report) add(hour, attrID int64, s *sums) {
	g, ok := r.group(attrID)
	if !ok || g == filteredOut {
		return
	}
	k := g<<32 | r.bucket(hour)
	t := r.groups[k]
	if t == nil {
		t = &sums{}
		r.groups[k] = t
	}
	t.add(s)
}

// timeOnly reports whether r groups only by time, without filters.
func (r *report) timeOnly() bool {
	if len(r.filter) > 0 {
		return false
	}
	for _, d := range r.q.By {
		if _, ok := dimAttr[d]; ok {
			return false
		}
	}
	return true
}

// Report answers q from the rollups: totals grouped by q.By, in that order,
// sorted by cost (highest first) and then by the dimension values.
//
// Rollups are hourly, so the range is widened to whole hours: every hour
// that overlaps [From, To) counts in full (From rounds down to its hour, To
// up to the next). On whole-hour bounds this is exactly [From, To).
// Filters compare dimension values for equality; day and hour are filtered
// with From and To instead.
//
// Whole past days are read from daily_totals (built on first use) unless
// the report groups by hour; the hours at the ends of the range and today's
// come from rollups_hourly. Grouping happens in Go over the cached
// attributions, which is several times faster than SQL aggregation in the
// pure-Go SQLite.
func (db *DB) Report(ctx context.Context, q allot.ReportQuery) ([]allot.ReportRow, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	if len(q.By) > len(groupKey{}) {
		return nil, allot.Errorf(allot.EInvalid, "a report groups by at most %d dimensions, got %d", len(groupKey{}), len(q.By))
	}
	for _, d := range q.By {
		if _, ok := dimAttr[d]; !ok && d != allot.DimDay && d != allot.DimHour {
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
		pos, ok := dimAttr[d]
		if !ok {
			return nil, allot.Errorf(allot.EInvalid, "unknown report filter %q; filter on user,team,model,task,app or provider", d)
		}
		id, ok := db.dict.id(q.Filter[d])
		if !ok {
			if err := db.dict.refresh(ctx, db.r); err != nil {
				return nil, fmt.Errorf("report: %w", err)
			}
			if id, ok = db.dict.id(q.Filter[d]); !ok {
				return []allot.ReportRow{}, nil // a value never recorded matches nothing
			}
		}
		r.filter = append(r.filter, filterTerm{pos, id})
	}

	from := unixHour(q.From.UnixMicro())
	toHour := q.To.Truncate(time.Hour)
	if !toHour.Equal(q.To) {
		toHour = toHour.Add(time.Hour)
	}
	to := unixHour(toHour.UnixMicro())

	// Whole days before today come from daily_totals.
	needHours := slices.Contains(q.By, allot.DimHour)
	var first sql.NullInt64
	if err := db.r.QueryRowContext(ctx, `SELECT min(hour) FROM rollups_hourly`).Scan(&first); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	if !first.Valid {
		return []allot.ReportRow{}, nil
	}
	from = max(from, first.Int64)
	fromDay, toDay := (from+23)/24, min(to/24, time.Now().UnixMicro()/usPerDay)
	useDaily := !needHours && fromDay < toDay
	if useDaily {
		if err := db.ensureDaily(ctx, fromDay, toDay); err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
	}

	if err := db.collect(ctx, r, from, to, fromDay, toDay, useDaily); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	if len(r.unknown) > 0 { // attributions another process added since the cache was read
		if err := db.attrs.refresh(ctx, db.r); err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		r.reset()
		if err := db.collect(ctx, r, from, to, fromDay, toDay, useDaily); err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		if len(r.unknown) > 0 {
			return nil, fmt.Errorf("report: rollups refer to unknown attribution %d", r.unknown[0])
		}
	}
	return db.rows(ctx, r)
}

// collect reads the rollups covering the hours [from, to) into r, in one
// read transaction: daily_totals for the days [fromDay, toDay) when
// useDaily, rollups_hourly for everything else.
func (db *DB) collect(ctx context.Context, r *report, from, to, fromDay, toDay int64, useDaily bool) error {
	db.attrs.mu.RLock()
	r.attrs = db.attrs.attrs // append-only map; read under the lock below
	defer db.attrs.mu.RUnlock()

	tx, err := db.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()

	type span struct{ from, to int64 } // hours
	hourly := []span{{from, to}}
	if useDaily {
		hourly = []span{{from, fromDay * 24}, {toDay * 24, to}}
		have := map[int64]bool{}
		var decodeErr error
		err := eachRow(ctx, tx, `SELECT day, data FROM daily_totals WHERE day >= ? AND day < ?`, []any{fromDay, toDay}, func(rows *sql.Rows) error {
			var day int64
			var data sql.RawBytes
			if err := rows.Scan(&day, &data); err != nil {
				return err
			}
			have[day] = true
			decodeErr = decodeDaily(data, func(attr int64, s *sums) { r.add(day*24, attr, s) })
			return decodeErr
		})
		if err != nil {
			return err
		}
		for d := fromDay; d < toDay; d++ {
			if !have[d] { // changed since ensureDaily: read its hours
				hourly = append(hourly, span{d * 24, d*24 + 24})
			}
		}
	}

	bucket := "hour"
	switch {
	case slices.Contains(r.q.By, allot.DimHour):
	case slices.Contains(r.q.By, allot.DimDay):
		bucket = "hour / 24 * 24"
	default:
		bucket = "0"
	}
	attrCol := "attr"
	if r.timeOnly() {
		// Every attribution lands in the one group: let SQL sum across them
		// (min(attr) names one that exists, for the lookup in add).
		attrCol = "min(attr)"
	}
	for _, sp := range hourly {
		if sp.from >= sp.to {
			continue
		}
		group := "1, 2"
		if attrCol != "attr" {
			group = "1"
		}
		err := eachRow(ctx, tx, `SELECT `+bucket+`, `+attrCol+`, `+sumOfSumColumns+` FROM rollups_hourly
			WHERE hour >= ? AND hour < ? GROUP BY `+group, []any{sp.from, sp.to}, func(rows *sql.Rows) error {
			var hour, attr int64
			var s sums
			if err := rows.Scan(&hour, &attr, &s[0], &s[1], &s[2], &s[3], &s[4], &s[5], &s[6], &s[7], &s[8], &s[9]); err != nil {
				return err
			}
			r.add(hour, attr, &s)
			return nil
		})
		if err != nil {
			return err
		}
	}
	return nil
}

// rows turns r's groups into sorted report rows.
func (db *DB) rows(ctx context.Context, r *report) ([]allot.ReportRow, error) {
	names := map[int64]string{}
	name := func(id int64) (string, error) {
		if s, ok := names[id]; ok {
			return s, nil
		}
		s, err := db.dict.names(ctx, db.r, id)
		if err != nil {
			return "", err
		}
		names[id] = s[0]
		return s[0], nil
	}
	times := map[[2]int64]string{}
	format := func(bucket int64, day bool) string {
		k := [2]int64{bucket, 0}
		if day {
			k[1] = 1
		}
		if s, ok := times[k]; ok {
			return s
		}
		var s string
		if day {
			s = time.Unix(bucket*86400, 0).UTC().Format("2006-01-02")
		} else {
			s = time.Unix(bucket*3600, 0).UTC().Format("2006-01-02T15")
		}
		times[k] = s
		return s
	}
	out := make([]allot.ReportRow, 0, len(r.groups))
	for k, s := range r.groups {
		key, bucket := r.keys[k>>32], k&(1<<32-1)
		row := allot.ReportRow{
			Dims:     make([]string, len(r.q.By)),
			Requests: s[sRequests],
			Tokens: allot.Tokens{Input: s[sInput], CacheRead: s[sCacheRead], CacheWrite5m: s[sCacheWrite5m],
				CacheWrite1h: s[sCacheWrite1h], Output: s[sOutput], Reasoning: s[sReasoning]},
			EstimatedRequests: s[sEstimated],
			Cost:              allot.Money(s[sCost]),
		}
		for i, d := range r.q.By {
			switch d {
			case allot.DimDay:
				day := bucket
				if slices.Contains(r.q.By, allot.DimHour) {
					day = bucket / 24 // the bucket is the hour
				}
				row.Dims[i] = format(day, true)
			case allot.DimHour:
				row.Dims[i] = format(bucket, false)
			default:
				n, err := name(key[i])
				if err != nil {
					return nil, fmt.Errorf("report: %w", err)
				}
				row.Dims[i] = n
			}
		}
		out = append(out, row)
	}
	slices.SortFunc(out, func(a, b allot.ReportRow) int {
		if a.Cost != b.Cost {
			if a.Cost > b.Cost {
				return -1
			}
			return 1
		}
		return slices.Compare(a.Dims, b.Dims)
	})
	return out, nil
}
