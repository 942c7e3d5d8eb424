package sqlite

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/internal/rollupcache"
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

// report accumulates one query's groups: the blocks of its units are
// summed by a rollupcache.Grouper, whose attributions resolve through the
// attrs cache.
type report struct {
	q        allot.ReportQuery
	filter   []filterTerm
	timeOnly bool // no filter and no non-time dimension: one group
	hourDim  bool
	dayDim   bool

	attrs map[int64]attr // the attrs cache, read under its lock
	g     rollupcache.Grouper[groupKey]
}

type filterTerm struct {
	pos int   // in attr
	id  int64 // dict id to match
}

func newReport(q allot.ReportQuery) *report {
	r := &report{q: q, hourDim: slices.Contains(q.By, allot.DimHour), dayDim: slices.Contains(q.By, allot.DimDay)}
	r.timeOnly = true
	for _, d := range q.By {
		if _, ok := dimAttr[d]; ok {
			r.timeOnly = false
		}
	}
	r.g.Resolve = r.resolve
	r.g.Reset()
	return r
}

// resolve is the Grouper's: the group key of an attribution, whether
// the filters keep it, and whether the attrs cache knows it.
func (r *report) resolve(attrID int32) (groupKey, bool, bool) {
	a, ok := r.attrs[int64(attrID)]
	if !ok {
		return groupKey{}, false, false
	}
	for _, f := range r.filter {
		if a[f.pos] != f.id {
			return groupKey{}, false, true
		}
	}
	var k groupKey
	for i, d := range r.q.By {
		if pos, ok := dimAttr[d]; ok {
			k[i] = a[pos]
		}
	}
	return k, true, true
}

// bucketOf is the time bucket of a unit.
func (r *report) bucketOf(u *unitRef) int64 {
	if u.key.Kind == unitDay {
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
// come from rollups_hourly. Both stay in memory while unchanged
// (rollupcache.go), so a report reads from the database only what changed
// since the last one, and groups in Go over the cached attributions.
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
		id, ok, err := db.dict.lookup(ctx, db.r, q.Filter[d])
		if err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		if !ok {
			return []allot.ReportRow{}, nil // a value never recorded matches nothing
		}
		r.filter = append(r.filter, filterTerm{pos, id})
		r.timeOnly = false
	}

	from := unixHour(q.From.UnixMicro())
	toHour := q.To.Truncate(time.Hour)
	if !toHour.Equal(q.To) {
		toHour = toHour.Add(time.Hour)
	}
	to := unixHour(toHour.UnixMicro())

	units, err := db.reportUnits(ctx, r, from, to)
	if err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	db.sumUnits(r, units)
	if len(r.g.Unknown()) > 0 { // attributions another process added since the cache was read
		if err := db.attrs.refresh(ctx, db.r); err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		r.g.Reset()
		db.sumUnits(r, units)
		if unknown := r.g.Unknown(); len(unknown) > 0 {
			return nil, fmt.Errorf("report: rollups refer to unknown attribution %d", unknown[0])
		}
	}
	return db.rows(ctx, r)
}

// sumUnits adds the units, in time order, to r.
func (db *DB) sumUnits(r *report, units []unitRef) {
	db.attrs.mu.RLock()
	defer db.attrs.mu.RUnlock()
	r.attrs = db.attrs.attrs // append-only map; read under the lock
	defer func() { r.attrs = nil }()
	r.g.TimeOnly = r.timeOnly // filters are known by now
	r.g.Reserve(db.attrs.max)
	for i := range units {
		r.g.Add(units[i].block, r.bucketOf(&units[i]), false)
	}
	r.g.Flush()
}

// rows turns r's groups into sorted report rows.
func (db *DB) rows(ctx context.Context, r *report) ([]allot.ReportRow, error) {
	if err := db.cacheAttrStrings(ctx); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
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
	groups, keys := r.g.Out(), r.g.Keys()
	out := make([]allot.ReportRow, 0, len(groups))
	nd := len(r.q.By)
	dims := make([]string, len(groups)*nd) // every row's, in one allocation
	for i := range groups {
		g := &groups[i]
		key, bucket, s := keys[g.Group], g.Bucket, &g.Sums
		row := allot.ReportRow{
			Dims:     dims[i*nd : (i+1)*nd : (i+1)*nd],
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
				if r.hourDim {
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
