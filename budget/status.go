package budget

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/allot-dev/allot"
)

// BudgetStatus is where one budget stands in its current period.
type BudgetStatus struct {
	Name        string
	Scope       string
	OnExceed    string
	Period      string     // as declared: month, rolling:24h …
	USD         bool       // amounts are nano-USD (else tokens)
	Spent       int64      // settled spend in the period
	Reserved    int64      // held by calls in flight
	Limit       int64      // grants included
	Percent     float64    // spent as a percentage of limit, two decimals (display only)
	PeriodStart time.Time  // for rolling windows: now minus the window
	PeriodEnd   time.Time  // for rolling windows: now
	Projected   int64      // spend at period end by the one forecast rule, allot.ProjectSpend (rolling: spent)
	RunsOutAt   *time.Time // when that projection reaches the limit within the period (allot.RunsOut); nil if it does not
}

// MarshalJSON writes the status with amounts as spent_usd, reserved_usd,
// limit_usd and projected_usd (exact decimals), or their _tokens forms.
func (s BudgetStatus) MarshalJSON() ([]byte, error) {
	out := map[string]any{
		"name": s.Name, "scope": s.Scope, "on_exceed": s.OnExceed, "period": s.Period,
		"percent": s.Percent, "period_start": s.PeriodStart, "period_end": s.PeriodEnd, "runs_out_at": s.RunsOutAt,
	}
	putAmount(out, "spent", s.USD, s.Spent)
	putAmount(out, "reserved", s.USD, s.Reserved)
	putAmount(out, "limit", s.USD, s.Limit)
	putAmount(out, "projected", s.USD, s.Projected)
	return json.Marshal(out)
}

// Status reports every declared budget at now, and the default user budget
// of each user seen since start (by Admit or Replay), sorted by name.
func (r *Rationer) Status(ctx context.Context, now time.Time) ([]BudgetStatus, error) {
	ins := slices.Clone(r.ix.all)
	var defaults []*instance
	r.ix.defaults.Range(func(_, v any) bool {
		defaults = append(defaults, v.(*instance))
		return true
	})
	slices.SortFunc(defaults, func(a, b *instance) int { return cmp.Compare(a.name, b.name) })
	return r.status(ctx, append(ins, defaults...), now)
}

// StatusFor reports the budgets that apply to p's calls on any model and
// task-less calls, in declaration order: what "my remaining budget" shows.
func (r *Rationer) StatusFor(ctx context.Context, p allot.Principal, now time.Time) ([]BudgetStatus, error) {
	var ins []*instance
	for _, in := range r.ix.all {
		switch in.rule.kind {
		case allot.ScopeOrg:
		case allot.ScopeTeam:
			if in.rule.scopeName != p.Team {
				continue
			}
		case allot.ScopeUser:
			if in.rule.scopeName != p.User {
				continue
			}
		case allot.ScopeKey:
			if in.rule.scopeName != p.KeyLabel {
				continue
			}
		default:
			continue
		}
		ins = append(ins, in)
	}
	if d := r.ix.defaultFor(p.User); d != nil {
		ins = append(ins, d)
	}
	return r.status(ctx, ins, now)
}

// status reads the counters of ins at now.
func (r *Rationer) status(ctx context.Context, ins []*instance, now time.Time) ([]BudgetStatus, error) {
	grants := r.grants.Load()
	out := make([]BudgetStatus, 0, len(ins))
	for _, in := range ins {
		rl := in.rule
		bucket, span := rl.win.cell(now)
		spent, reserved, err := r.counters.Read(ctx, in.key, bucket, span)
		if err != nil {
			return nil, fmt.Errorf("read budget %s: %w", in.name, err)
		}
		start, end := rl.win.bounds(now)
		s := BudgetStatus{
			Name: in.name, Scope: in.scope, OnExceed: rl.action, Period: rl.budget.Period, USD: rl.usd,
			Spent: spent, Reserved: reserved, Limit: r.limitOf(grants, in, now),
			PeriodStart: start, PeriodEnd: end, Projected: spent,
		}
		if s.Period == "" {
			s.Period = allot.PeriodMonth
		}
		if s.Limit > 0 {
			s.Percent = float64(allot.MulDivSat(max(spent, 0), 10000, s.Limit)) / 100
		}
		if rl.win.unit != "" { // calendar periods: the one forecast rule (rolling windows keep their spend)
			s.Projected = allot.ProjectSpend(spent, start, end, now)
		}
		if rl.win.unit != "" || spent >= s.Limit {
			s.RunsOutAt = allot.RunsOut(spent, s.Limit, start, end, now)
		}
		out = append(out, s)
	}
	return out, nil
}
