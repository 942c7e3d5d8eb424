package rollup

import (
	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/internal/rollupcache"
)

// ReportHour is the key of a report rollup row: a unix hour (UTC) and an
// attribution id.
type ReportHour struct{ Hour, Attr int64 }

// ReportHourOf is the rollup hour of an event: whole hours since the Unix
// epoch of its time in microseconds, by the integer division SQL uses.
func ReportHourOf(e *allot.Event) int64 { return e.Time.UnixMicro() / usPerHour }

// ReportAdd folds one event into the sums of its rollup row: one request,
// its tokens and cost (saturating at the int64 range, allot.MaxMoney for
// the cost), whether its usage was estimated and whether its model had a
// price. It is the one rule of what a report counts of an event.
func ReportAdd(s *rollupcache.Sums, e *allot.Event) {
	t := &e.Tokens
	s[rollupcache.Requests]++
	s[rollupcache.Input] = allot.SatAdd(s[rollupcache.Input], t.Input)
	s[rollupcache.CacheRead] = allot.SatAdd(s[rollupcache.CacheRead], t.CacheRead)
	s[rollupcache.CacheWrite5m] = allot.SatAdd(s[rollupcache.CacheWrite5m], t.CacheWrite5m)
	s[rollupcache.CacheWrite1h] = allot.SatAdd(s[rollupcache.CacheWrite1h], t.CacheWrite1h)
	s[rollupcache.Output] = allot.SatAdd(s[rollupcache.Output], t.Output)
	s[rollupcache.Reasoning] = allot.SatAdd(s[rollupcache.Reasoning], t.Reasoning)
	if e.Estimated {
		s[rollupcache.Estimated]++
	}
	s[rollupcache.Cost] = int64(allot.Money(s[rollupcache.Cost]).Plus(e.Cost))
	if !e.CostKnown {
		s[rollupcache.UnknownCost]++
	}
}

// ReportRows are events folded into rollup rows, in the order their keys
// were first met: what a batch adds to the hourly rollups, which a store
// upserts with saturating adds.
type ReportRows struct {
	Keys  []ReportHour
	Sums  []rollupcache.Sums
	index map[ReportHour]int
}

// ReportFold folds events into rollup rows: event i goes to the row of its
// hour and attribution attrs[i].
func ReportFold(events []allot.Event, attrs []int64) *ReportRows {
	r := &ReportRows{index: make(map[ReportHour]int, len(events))}
	for i := range events {
		e := &events[i]
		k := ReportHour{ReportHourOf(e), attrs[i]}
		j, ok := r.index[k]
		if !ok {
			j = len(r.Keys)
			r.index[k] = j
			r.Keys = append(r.Keys, k)
			r.Sums = append(r.Sums, rollupcache.Sums{})
		}
		ReportAdd(&r.Sums[j], e)
	}
	return r
}

// ReportMerge adds sums b to a, saturating: how rows of the same unit (or
// the hours of a day) merge.
func ReportMerge(a *rollupcache.Sums, b *rollupcache.Sums) {
	for c := range a {
		a[c] = allot.SatAdd(a[c], b[c])
	}
}
