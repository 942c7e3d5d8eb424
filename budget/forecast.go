package budget

import (
	"time"

	"github.com/allot-dev/allot"
)

// MonthLimit returns the limit (grants included) that a month forecast
// of scope ("org", "team:NAME" or "user:NAME") runs out against: the
// smallest of the dollar budgets declared for exactly that scope (for a
// person, theirs or the default user budget) that count every model over
// the calendar month in UTC, so the limit and the forecast count the same
// spend. Notify-only budgets stop nothing and are left out, as in "my
// remaining budget". Nil when no budget fits.
func (r *Rationer) MonthLimit(scope string, now time.Time) *allot.Money {
	kind, name, err := allot.ParseScope(scope)
	if err != nil {
		return nil
	}
	var ins []*instance
	switch kind {
	case allot.ScopeOrg:
		ins = r.ix.org
	case allot.ScopeTeam, allot.ScopeUser:
		ins = r.ix.byScope[kind][name]
		if kind == allot.ScopeUser {
			if d := r.ix.defaultFor(name); d != nil {
				ins = append(ins[:len(ins):len(ins)], d)
			}
		}
	default:
		return nil
	}
	grants := r.grants.Load()
	var best *allot.Money
	for _, in := range ins {
		rl := in.rule
		if !rl.usd || len(rl.models) > 0 || rl.action == allot.OnExceedNotify || rl.win.unit != allot.PeriodMonth {
			continue
		}
		if start, end := rl.win.bounds(now); !start.Equal(monthStart(now)) || !end.Equal(monthStart(now).AddDate(0, 1, 0)) {
			continue // a month in another time zone counts other days
		}
		limit := allot.Money(r.limitOf(grants, in, now))
		if best == nil || limit < *best {
			best = &limit
		}
	}
	return best
}

func monthStart(now time.Time) time.Time {
	start, _ := allot.MonthOf(now)
	return start
}
