package sqlite

import (
	"context"
	"time"

	"github.com/allot-dev/allot/rollup"
)

// Every insights call, a person's included, sums the whole org's extras
// (failed, duplicate and unlimited calls) over the period: peers are
// compared by them; the org's view also reads everyone's daily spend.
// Past days' sums are kept in memory per run of days (periodcache), keyed
// by those days' rollup_day_versions: every change to a day's events (a
// late event, a relabel, retention) bumps its version in the same
// transaction, so a stored sum stands for as long as the versions do. The
// versions are read before the sums, so a sum is never older than its key.

// periodExtrasMax is the most attributions a kept sum of extras holds
// (about 150 bytes each): an org with more is summed on every call instead.
const periodExtrasMax = 500_000

// periodDailyMax is the most rows a kept daily spend holds (about 100
// bytes each, one per person and day).
const periodDailyMax = 1_000_000

// orgExtras returns the whole org's extras by attribution over the past
// days of [d0, d1) (before today), from the cache or read and stored.
// The map must not be changed.
func (db *DB) orgExtras(ctx context.Context, d0, d1 int64) (map[int64]*rollup.Extras, error) {
	vs, err := versions(ctx, db.r, "rollup_day_versions", "day", d0, d1)
	if err != nil {
		return nil, err
	}
	if sums, ok := db.pextras.Get(d0, d1, vs); ok {
		return sums, nil
	}
	sums := map[int64]*rollup.Extras{}
	err = db.eachInsightDay(ctx, time.UnixMicro(d0*usPerDay), time.UnixMicro(d1*usPerDay), insightFilter{}, false, true, func(d *rollup.Day) error {
		addExtras(sums, d.Extras)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(sums) <= periodExtrasMax {
		db.pextras.Put(d0, d1, vs, sums)
	}
	return sums, nil
}

// addExtras adds extras entries to sums by attribution.
func addExtras(sums map[int64]*rollup.Extras, extras []rollup.DayExtra) {
	for i := range extras {
		x := &extras[i]
		s := sums[x.Attr]
		if s == nil {
			s = &rollup.Extras{}
			sums[x.Attr] = s
		}
		rollup.AddExtras(s, &x.V)
	}
}
