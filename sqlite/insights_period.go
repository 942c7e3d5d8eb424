package sqlite

import (
	"context"
	"slices"
	"sync"
	"time"
)

// Every insights call, a person's included, sums the whole org's extras
// (failed, duplicate and unlimited calls) over the period: peers are
// compared by them; the org's view also reads everyone's daily spend.
// Past days' sums are kept in memory per run of days, keyed by those
// days' rollup_day_versions: every change to a day's
// events (a late event, a relabel, retention) bumps its version in the
// same transaction, so a stored sum stands for as long as the versions
// do. The versions are read before the sums, so a sum is never older than
// its key.

// periodsKept is how many runs of days a periodCache keeps: the periods
// in use (30 days, 7 days, the previous period...) are few.
const periodsKept = 4

// periodExtrasMax is the most attributions a kept sum of extras holds
// (about 150 bytes each): an org with more is summed on every call instead.
const periodExtrasMax = 500_000

// periodDailyMax is the most rows a kept daily spend holds (about 100
// bytes each, one per person and day).
const periodDailyMax = 1_000_000

// period is a value computed over the whole org's days [from, to), read
// when those days had versions.
type period[V any] struct {
	from, to int64
	versions []int64
	value    V
}

// periodCache keeps values computed over runs of past days, most recently
// used first, each standing for as long as its days' versions do.
type periodCache[V any] struct {
	mu      sync.Mutex
	keep    int // how many periods to keep; 0 for periodsKept
	periods []*period[V]
}

// get returns the value of [from, to) at versions, if kept. It must not be
// changed.
func (c *periodCache[V]) get(from, to int64, versions []int64) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, p := range c.periods {
		if p.from == from && p.to == to && slices.Equal(p.versions, versions) {
			copy(c.periods[1:i+1], c.periods[:i])
			c.periods[0] = p
			return p.value, true
		}
	}
	var zero V
	return zero, false
}

// put keeps the value of [from, to) computed after reading versions.
func (c *periodCache[V]) put(from, to int64, versions []int64, v V) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.periods = slices.DeleteFunc(c.periods, func(p *period[V]) bool { return p.from == from && p.to == to })
	c.periods = slices.Insert(c.periods, 0, &period[V]{from: from, to: to, versions: versions, value: v})
	keep := c.keep
	if keep == 0 {
		keep = periodsKept
	}
	if len(c.periods) > keep {
		c.periods = c.periods[:keep]
	}
}

// orgExtras returns the whole org's extras by attribution over the past
// days of [d0, d1) (before today), from the cache or read and stored.
// The map must not be changed.
func (db *DB) orgExtras(ctx context.Context, d0, d1 int64) (map[int64]*extrasAgg, error) {
	vs, err := versions(ctx, db.r, "rollup_day_versions", "day", d0, d1)
	if err != nil {
		return nil, err
	}
	if sums, ok := db.pextras.get(d0, d1, vs); ok {
		return sums, nil
	}
	sums := map[int64]*extrasAgg{}
	err = db.eachInsightDay(ctx, time.UnixMicro(d0*usPerDay), time.UnixMicro(d1*usPerDay), insightFilter{}, false, true, func(d *insightDay) error {
		addExtras(sums, d.extras)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(sums) <= periodExtrasMax {
		db.pextras.put(d0, d1, vs, sums)
	}
	return sums, nil
}

// addExtras adds extras entries to sums by attribution.
func addExtras(sums map[int64]*extrasAgg, extras []dayExtra) {
	for i := range extras {
		x := &extras[i]
		s := sums[x.attr]
		if s == nil {
			s = &extrasAgg{}
			sums[x.attr] = s
		}
		for j := range x.v {
			s[j] += x.v[j]
		}
	}
}
