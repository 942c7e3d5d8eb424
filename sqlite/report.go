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

// report accumulates one query's groups. Each attribution is resolved
// once to a group number (its non-time dimensions, or filtered out). Units
// are added in time order, so a time bucket's units come one after the
// other: they are summed per group number in a dense slice, and the
// bucket's groups are written out when the next bucket starts.
type report struct {
	q        allot.ReportQuery
	filter   []filterTerm
	timeOnly bool // no filter and no non-time dimension: one group
	hourDim  bool
	dayDim   bool

	attrs    map[int64]attr  // the attrs cache, read under its lock
	groupOf  []int32         // by attrs id: 0 not resolved yet, -1 filtered out, else group number + 1
	groupBig map[int32]int32 // the same for ids too large for groupOf
	keys     []groupKey      // by group number
	keyIndex map[groupKey]int32
	unknown  []int64 // attrs ids the cache lacked

	bucket int64  // the time bucket being summed
	cur    []sums // its sums by group number
	hit    []bool // its groups that have entries
	gi     []int32
	out    []groupSums // the finished groups
}

// groupSums is one finished group: a group number and a time bucket (0,
// the unix day or the unix hour) with their sums.
type groupSums struct {
	group  int32
	bucket int64
	sums   sums
}

type filterTerm struct {
	pos int   // in attr
	id  int64 // dict id to match
}

// maxDenseAttr bounds groupOf: attrs ids are dense from 1, so it is never
// reached in practice.
const maxDenseAttr = 1 << 24

func newReport(q allot.ReportQuery) *report {
	r := &report{q: q, hourDim: slices.Contains(q.By, allot.DimHour), dayDim: slices.Contains(q.By, allot.DimDay)}
	r.timeOnly = true
	for _, d := range q.By {
		if _, ok := dimAttr[d]; ok {
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
	r.unknown = nil
	r.bucket = 0
	r.cur, r.hit, r.out = r.cur[:0], r.hit[:0], r.out[:0]
}

// resolve returns the group number of an attribution, -1 if it is
// filtered out or unknown (noted in r.unknown), and remembers it.
func (r *report) resolve(attrID int32) int32 {
	if r.groupBig != nil {
		if g, ok := r.groupBig[attrID]; ok {
			return max(g-1, -1)
		}
	}
	a, ok := r.attrs[int64(attrID)]
	if !ok {
		r.unknown = append(r.unknown, int64(attrID))
		return -1
	}
	g := int32(-1)
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
			g = int32(len(r.keys))
			r.keys = append(r.keys, k)
			r.keyIndex[k] = g
		}
	}
	mark := g + 1 // a group; -1 remembers "filtered out"
	if g < 0 {
		mark = -1
	}
	switch {
	case attrID >= 0 && attrID < maxDenseAttr:
		if int(attrID) >= len(r.groupOf) {
			n := min(max(int(attrID)+1, 2*len(r.groupOf), 1024), maxDenseAttr)
			r.groupOf = append(r.groupOf, make([]int32, n-len(r.groupOf))...)
		}
		r.groupOf[attrID] = mark
	default:
		if r.groupBig == nil {
			r.groupBig = map[int32]int32{}
		}
		r.groupBig[attrID] = mark
	}
	return g
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

// addBlock adds a unit's block to the time bucket given.
func (r *report) addBlock(b *rollupBlock, bucket int64) {
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
		if len(r.keys) == 0 {
			r.keys = append(r.keys, groupKey{})
		}
		clear(gi) // everything lands in group 0
	} else {
		groupOf := r.groupOf
		for i, a := range attrs {
			if int(a) < len(groupOf) && groupOf[a] != 0 {
				gi[i] = max(groupOf[a]-1, -1) // -1: filtered out
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
	hit := r.hit
	for _, g := range gi {
		if g >= 0 {
			hit[g] = true
		}
	}
	rollupcache.AddTo(b, r.cur, gi)
}

// flush writes out the current bucket's groups.
func (r *report) flush() {
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
			r.cur[g], r.hit[g] = sums{}, false
		}
	}
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
	if len(r.unknown) > 0 { // attributions another process added since the cache was read
		if err := db.attrs.refresh(ctx, db.r); err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		r.reset()
		db.sumUnits(r, units)
		if len(r.unknown) > 0 {
			return nil, fmt.Errorf("report: rollups refer to unknown attribution %d", r.unknown[0])
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
	if n := int(min(db.attrs.max+1, maxDenseAttr)); len(r.groupOf) < n {
		r.groupOf = append(r.groupOf, make([]int32, n-len(r.groupOf))...)
	}
	for i := range units {
		r.addBlock(units[i].block, r.bucketOf(&units[i]))
	}
	r.flush()
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
	out := make([]allot.ReportRow, 0, len(r.out))
	nd := len(r.q.By)
	dims := make([]string, len(r.out)*nd) // every row's, in one allocation
	for i := range r.out {
		g := &r.out[i]
		key, bucket, s := r.keys[g.group], g.bucket, &g.sums
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
