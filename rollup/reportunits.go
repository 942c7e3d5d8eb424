package rollup

import (
	"context"
	"fmt"

	"github.com/allot-dev/allot/internal/rollupcache"
)

// ReportUnit is one unit of a report's range (a day, or an hour) with its
// version and, once found, its block. A Subtract unit is an hour of the
// day unit before it that lies outside the range: a store may sum most of
// a day as the day less its other hours (unless the day's block is
// Saturated: a saturated sum less a part is not the sum of the rest).
type ReportUnit struct {
	Key      rollupcache.Key
	Version  int64
	Block    *rollupcache.Block
	Subtract bool
}

// ReportLoad reads, from a store's snapshot, the blocks of the units
// without one, but for those in skip (another report is reading them), and
// puts them in the cache. It may replace units (a day the store lacks by
// its hours) and returns the units.
type ReportLoad func(units []ReportUnit, skip map[rollupcache.Key]chan struct{}) ([]ReportUnit, error)

// ReportFill gives every unit its block: from the cache when held at the
// unit's version, else from load. Units another report is loading are
// waited for rather than read twice, so reports started together (an
// overview runs several) read each unit once.
//
// A day unit whose block is Saturated is then replaced, with the hours
// subtracted from it, by the day's other hours (and those filled): a
// saturated sum less a part is not the sum of the rest.
func ReportFill(ctx context.Context, c *rollupcache.Cache, units []ReportUnit, timeOnly bool, load ReportLoad) ([]ReportUnit, error) {
	units, err := fill(ctx, c, units, timeOnly, load)
	if err != nil {
		return nil, err
	}
	if whole, ok := unsubtract(units); ok {
		return fill(ctx, c, whole, timeOnly, load)
	}
	return units, nil
}

// unsubtract replaces each day unit whose block is saturated, and the
// hours subtracted from it, by the day's other hours, at the day's
// version. It reports whether it replaced any, leaving their blocks to fill.
func unsubtract(units []ReportUnit) ([]ReportUnit, bool) {
	changed := false
	out := units[:0:0]
	for i := 0; i < len(units); i++ {
		u := units[i]
		j := i + 1
		for j < len(units) && units[j].Subtract {
			j++
		}
		if u.Key.Kind != rollupcache.Day || j == i+1 || u.Block == nil || !u.Block.Saturated() {
			out = append(out, u)
			continue
		}
		changed = true
		outside := map[int64]bool{}
		for _, h := range units[i+1 : j] {
			outside[h.Key.N] = true
		}
		for h := u.Key.N * 24; h < u.Key.N*24+24; h++ {
			if !outside[h] {
				out = append(out, ReportUnit{Key: rollupcache.Key{Kind: units[i+1].Key.Kind, N: h}, Version: u.Version})
			}
		}
		i = j - 1
	}
	return out, changed
}

// fill is ReportFill without unsubtract.
func fill(ctx context.Context, c *rollupcache.Cache, units []ReportUnit, timeOnly bool, load ReportLoad) ([]ReportUnit, error) {
	if ReportCached(c, units, timeOnly) {
		return units, nil
	}
	var keys []rollupcache.Key
	for _, u := range units {
		if u.Block == nil {
			keys = append(keys, u.Key)
		}
	}
	mine, others := c.Claim(keys)
	units, err := load(units, others)
	c.Release(mine)
	if err != nil || len(others) == 0 {
		return units, err
	}
	for _, ch := range others {
		select {
		case <-ch:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if ReportCached(c, units, timeOnly) {
		return units, nil
	}
	return load(units, nil) // the other report read another version
}

// ReportCached fills in the blocks the cache holds at the units' versions
// and reports whether every unit has its block (rollupcache.Cache.Find).
func ReportCached(c *rollupcache.Cache, units []ReportUnit, timeOnly bool) bool {
	all := true
	for i := range units {
		u := &units[i]
		if u.Block == nil {
			u.Block = c.Find(u.Key, u.Version, timeOnly)
			all = all && u.Block != nil
		}
	}
	return all
}

// ReportRead reads from a store the rows of the units of run: per row its
// unit's number (day or hour), attribution and sums, given to add in any
// order.
type ReportRead func(run []*ReportUnit, add func(n, attr int64, s *rollupcache.Sums) error) error

// ReportLoadRuns reads the blocks of the units without one, but for those
// in skip, and caches them: day units at most maxDays at a time (none if
// maxDays is 0: the store reads its days itself), then runs of consecutive
// hour units of one kind at most maxHours long, so that a query's rows
// take bounded memory. A unit without rows gets an empty block.
func ReportLoadRuns(c *rollupcache.Cache, units []ReportUnit, skip map[rollupcache.Key]chan struct{}, maxDays, maxHours int, read ReportRead) error {
	need := func(u *ReportUnit) bool {
		_, ok := skip[u.Key]
		return u.Block == nil && !ok
	}
	var days []*ReportUnit
	for i := range units {
		if u := &units[i]; maxDays > 0 && u.Key.Kind == rollupcache.Day && need(u) {
			days = append(days, u)
		}
	}
	for len(days) > 0 {
		chunk := days[:min(len(days), maxDays)]
		days = days[len(chunk):]
		if err := loadRun(c, chunk, read); err != nil {
			return err
		}
	}
	for i := 0; i < len(units); {
		u := &units[i]
		if u.Key.Kind == rollupcache.Day || !need(u) {
			i++
			continue
		}
		run := []*ReportUnit{u}
		for i++; i < len(units) && len(run) < maxHours && need(&units[i]) && units[i].Key.Kind == u.Key.Kind &&
			units[i].Key.N == units[i-1].Key.N+1; i++ {
			run = append(run, &units[i])
		}
		if err := loadRun(c, run, read); err != nil {
			return err
		}
	}
	return nil
}

// loadRun reads the rows of run, builds each unit's block and caches it.
func loadRun(c *rollupcache.Cache, run []*ReportUnit, read ReportRead) error {
	builders := make([]rollupcache.Builder, len(run))
	at := make(map[int64]int, len(run))
	for i, u := range run {
		at[u.Key.N] = i
	}
	last, li := int64(-1), -1 // the unit of the previous row, and its index
	err := read(run, func(n, attr int64, s *rollupcache.Sums) error {
		if n != last || li < 0 {
			i, ok := at[n]
			if !ok {
				return fmt.Errorf("a row of unit %d, not asked for", n)
			}
			last, li = n, i
		}
		builders[li].Add(attr, s)
		return nil
	})
	if err != nil {
		return err
	}
	for i, u := range run {
		b, err := builders[i].Build()
		if err != nil {
			return fmt.Errorf("unit %d: %w", u.Key.N, err)
		}
		u.Block = b
		c.Put(u.Key, u.Version, b)
	}
	return nil
}
