package sqlite

import (
	"context"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/rollup"
)

// Reports are rollup.Report over this store's rollups: the store reads
// the rollups of a range as units, whole past days (from daily_totals)
// and single hours (from rollups_hourly). A unit, once read, stays in
// memory as a block (internal/rollupcache), tagged with its version from
// rollup_hour_versions or rollup_day_versions (migrations/0005), which
// every write to its rollups bumps in the same transaction. A report reads
// the versions of its units in its read transaction and takes each unit
// whose version matches from memory, so only what changed since (the open
// hour, a day that got late events) is read from the database again, and
// the report stays exactly the rollups of its snapshot, whatever other
// connections or processes write meanwhile.

// reportCacheBytes bounds the memory the blocks take; the least recently
// used go first. A day of a 1,000-person org (about 24,000 attributions)
// takes about 0.7 MB.
var reportCacheBytes int64 = 256 << 20

// reportDims is the position in attr of each of rollup.ReportDims.
var reportDims = [len(rollup.ReportDims)]int{1, 2, 6, 8, 10, 11}

// Report answers q from the rollups (rollup.Report).
func (db *DB) Report(ctx context.Context, q allot.ReportQuery) ([]allot.ReportRow, error) {
	return rollup.Report(ctx, reportSource{db}, q)
}

// reportSource is the store as rollup.Report reads it.
type reportSource struct{ db *DB }

func (s reportSource) ReportLookup(ctx context.Context, v string) (int64, bool, error) {
	return s.db.dict.lookup(ctx, s.db.r, v)
}

func (s reportSource) ReportScan(ctx context.Context, scan *rollup.ReportScan) error {
	return s.db.reportUnits(ctx, scan)
}

func (s reportSource) ReportAttrs(fn func(func(int32) (rollup.ReportAttr, bool), int64)) {
	c := s.db.attrs
	c.mu.RLock()
	defer c.mu.RUnlock()
	fn(func(id int32) (rollup.ReportAttr, bool) {
		a, ok := c.attrs[int64(id)] // append-only map; read under the lock
		var r rollup.ReportAttr
		for i, p := range reportDims {
			r[i] = a[p]
		}
		return r, ok
	}, c.max)
}

func (s reportSource) ReportRefresh(ctx context.Context, _ []int32) error {
	return s.db.attrs.refresh(ctx, s.db.r)
}

func (s reportSource) ReportNames(ctx context.Context, ids []int64) (map[int64]string, error) {
	if err := s.db.cacheAttrStrings(ctx); err != nil {
		return nil, err
	}
	names, err := s.db.dict.names(ctx, s.db.r, ids...)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]string, len(ids))
	for i, id := range ids {
		out[id] = names[i]
	}
	return out, nil
}
