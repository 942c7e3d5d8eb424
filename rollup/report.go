package rollup

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/internal/rollupcache"
)

// ReportDims are the non-time dimensions a report groups and filters by,
// in the order a ReportAttr holds their dict ids.
var ReportDims = [...]allot.Dimension{allot.DimTeam, allot.DimUser, allot.DimProvider, allot.DimModel, allot.DimTask, allot.DimApp}

// ReportAttr is an attribution's report dimensions as a store's dict ids,
// in ReportDims order (the model is the served model).
type ReportAttr [len(ReportDims)]int64

// maxReportDims is the most dimensions a report groups by.
const maxReportDims = len(groupKey{})

// groupKey is the non-time part of a report group: per dimension of the
// query, a dict id (0 for day and hour).
type groupKey [8]int64

// ReportFilter is one equality filter of a report: the attribution's
// dimension at Pos (in ReportAttr) must be the dict id ID.
type ReportFilter struct {
	Pos int
	ID  int64
}

// ReportScan is what a report asks of a store (ReportSource.ReportScan):
// the rollups of the unix hours [From, To) as units in time order, each
// with its block (ReportFill), all of one snapshot, plus, for hours the
// store sums itself, Open groups. Reports that group by hour take hours
// only; reports with no filter and no non-time dimension take hours as
// rollupcache.HourTotal units (HourKind).
type ReportScan struct {
	From, To      int64
	ByHour, ByDay bool
	TimeOnly      bool
	Dims          []int // per dimension of the query, its position in ReportAttr, -1 for day and hour
	Filter        []ReportFilter
	Units         []ReportUnit // set by the store
	Open          []ReportOpen // set by the store
}

// ReportOpen is a group a store summed itself (PostgreSQL's hours not
// closed): per dimension of the query its dict id (0 for day and hour),
// its time bucket (ReportScan.Bucket of its hours) and its sums.
type ReportOpen struct {
	Key    [maxReportDims]int64
	Bucket int64
	Sums   rollupcache.Sums
}

// HourKind is the kind of the hour units the scan takes.
func (s *ReportScan) HourKind() rollupcache.Kind {
	if s.TimeOnly {
		return rollupcache.HourTotal
	}
	return rollupcache.Hour
}

// Bucket is the time bucket of a unit: its hour when the report groups by
// hour, its day when by day, else 0 (one bucket).
func (s *ReportScan) Bucket(k rollupcache.Key) int64 {
	switch {
	case k.Kind == rollupcache.Day && s.ByDay:
		return k.N
	case k.Kind == rollupcache.Day:
		return 0
	case s.ByHour:
		return k.N
	case s.ByDay:
		return k.N / 24
	}
	return 0
}

// ReportSource is what a store gives reports: it persists and returns
// rollups; how they are grouped, filtered, summed, named and sorted is
// Report's.
type ReportSource interface {
	// ReportLookup returns the dict id of a dimension's value; ok is
	// false for a value never recorded.
	ReportLookup(ctx context.Context, value string) (id int64, ok bool, err error)
	// ReportScan sets s.Units, with their blocks, and s.Open.
	ReportScan(ctx context.Context, s *ReportScan) error
	// ReportAttrs calls fn, under the lock of the store's attribution
	// cache, with a lookup of the attributions it holds and their largest id.
	ReportAttrs(fn func(attr func(id int32) (ReportAttr, bool), maxID int64))
	// ReportRefresh reads the attributions the cache lacks, unknown among them.
	ReportRefresh(ctx context.Context, unknown []int32) error
	// ReportNames returns the strings of dict ids.
	ReportNames(ctx context.Context, ids []int64) (map[int64]string, error)
}

// Report answers q from a store's rollups: totals grouped by q.By, in that
// order, sorted by cost (highest first) and then by the dimension values
// in byte order, whatever the database's collation. Both stores answer
// through it, so they return exactly the same rows for the same events.
//
// Rollups are hourly, so the range is widened to whole hours: every hour
// that overlaps [From, To) counts in full (From rounds down to its hour,
// To up to the next). Filters compare dimension values for equality; day
// and hour are filtered with From and To instead.
func Report(ctx context.Context, src ReportSource, q allot.ReportQuery) ([]allot.ReportRow, error) {
	if err := q.Validate(); err != nil {
		return nil, err
	}
	if len(q.By) > maxReportDims {
		return nil, allot.Errorf(allot.EInvalid, "a report groups by at most %d dimensions, got %d", maxReportDims, len(q.By))
	}
	s := &ReportScan{TimeOnly: true, Dims: make([]int, len(q.By))}
	for i, d := range q.By {
		s.Dims[i] = slices.Index(ReportDims[:], d)
		switch {
		case d == allot.DimDay:
			s.ByDay = true
		case d == allot.DimHour:
			s.ByHour = true
		case s.Dims[i] < 0:
			return nil, allot.Errorf(allot.EInvalid, "unknown report dimension %q; use user,team,model,task,app,provider,day,hour", d)
		default:
			s.TimeOnly = false
		}
	}
	filters := make([]allot.Dimension, 0, len(q.Filter))
	for d := range q.Filter {
		filters = append(filters, d)
	}
	slices.Sort(filters)
	for _, d := range filters {
		pos := slices.Index(ReportDims[:], d)
		if pos < 0 {
			return nil, allot.Errorf(allot.EInvalid, "unknown report filter %q; filter on user,team,model,task,app or provider", d)
		}
		id, ok, err := src.ReportLookup(ctx, q.Filter[d])
		if err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		if !ok {
			return []allot.ReportRow{}, nil // a value never recorded matches nothing
		}
		s.Filter = append(s.Filter, ReportFilter{pos, id})
		s.TimeOnly = false
	}
	s.From = q.From.UnixMicro() / usPerHour
	toHour := q.To.Truncate(time.Hour)
	if !toHour.Equal(q.To) {
		toHour = toHour.Add(time.Hour)
	}
	s.To = toHour.UnixMicro() / usPerHour

	if err := src.ReportScan(ctx, s); err != nil {
		return nil, fmt.Errorf("report: %w", err)
	}
	g := &grouper{timeOnly: s.TimeOnly}
	g.reset()
	sumUnits(src, s, g)
	if len(g.unknown) > 0 { // attributions the store's cache has not read yet
		if err := src.ReportRefresh(ctx, g.unknown); err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		g.reset()
		sumUnits(src, s, g)
		if len(g.unknown) > 0 {
			return nil, fmt.Errorf("report: rollups refer to unknown attribution %d", g.unknown[0])
		}
	}
	g.addOpen(s.Open)
	return reportRows(ctx, src, q, s, g)
}

// sumUnits adds the scan's units, in time order, to g.
func sumUnits(src ReportSource, s *ReportScan, g *grouper) {
	src.ReportAttrs(func(attr func(int32) (ReportAttr, bool), maxID int64) {
		g.resolveKey = func(id int32) (groupKey, bool, bool) {
			a, ok := attr(id)
			if !ok {
				return groupKey{}, false, false
			}
			for _, f := range s.Filter {
				if a[f.Pos] != f.ID {
					return groupKey{}, false, true
				}
			}
			var k groupKey
			for i, p := range s.Dims {
				if p >= 0 {
					k[i] = a[p]
				}
			}
			return k, true, true
		}
		g.reserve(maxID)
		for i := range s.Units {
			u := &s.Units[i]
			base := i+1 < len(s.Units) && s.Units[i+1].Subtract
			g.add(u.Block, s.Bucket(u.Key), base, u.Subtract)
		}
		g.flush()
		g.resolveKey = nil
	})
}

// reportRows turns g's groups into report rows, named and sorted.
func reportRows(ctx context.Context, src ReportSource, q allot.ReportQuery, s *ReportScan, g *grouper) ([]allot.ReportRow, error) {
	keys, groups := g.keys, g.out
	used := make([]bool, len(keys))
	for _, o := range groups {
		used[o.group] = true
	}
	var need []int64
	seen := map[int64]bool{}
	for n, k := range keys {
		for i, p := range s.Dims {
			if id := k[i]; used[n] && p >= 0 && !seen[id] {
				seen[id] = true
				need = append(need, id)
			}
		}
	}
	names := map[int64]string{}
	if len(need) > 0 {
		var err error
		if names, err = src.ReportNames(ctx, need); err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
	}
	times := map[int64]string{}
	format := func(v int64, layout string, unit int64) string {
		key := v*2 + unit/86400 // days and hours apart
		t, ok := times[key]
		if !ok {
			t = time.Unix(v*unit, 0).UTC().Format(layout)
			times[key] = t
		}
		return t
	}
	nd := len(q.By)
	out := make([]allot.ReportRow, len(groups))
	dims := make([]string, len(groups)*nd) // one allocation for every row's dimensions
	for j := range groups {
		o := &groups[j]
		row := reportRow(&o.sums)
		row.Dims = dims[j*nd : (j+1)*nd : (j+1)*nd]
		key := &keys[o.group]
		for i, d := range q.By {
			switch d {
			case allot.DimDay:
				day := o.bucket
				if s.ByHour {
					day = o.bucket / 24 // the bucket is the hour
				}
				row.Dims[i] = format(day, "2006-01-02", 86400)
			case allot.DimHour:
				row.Dims[i] = format(o.bucket, "2006-01-02T15", 3600)
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

// reportRow is the report row of rollup sums, without its dimensions.
func reportRow(s *rollupcache.Sums) allot.ReportRow {
	return allot.ReportRow{
		Requests: s[rollupcache.Requests],
		Tokens: allot.Tokens{Input: s[rollupcache.Input], CacheRead: s[rollupcache.CacheRead], CacheWrite5m: s[rollupcache.CacheWrite5m],
			CacheWrite1h: s[rollupcache.CacheWrite1h], Output: s[rollupcache.Output], Reasoning: s[rollupcache.Reasoning]},
		EstimatedRequests: s[rollupcache.Estimated],
		Cost:              allot.Money(s[rollupcache.Cost]),
	}
}
