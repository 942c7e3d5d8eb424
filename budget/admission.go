package budget

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/allot-dev/allot"
)

// Admission is an admitted call holding reservations on its counters until
// it ends with Settle (the call ran; its actual usage becomes spent) or
// Release (nothing was used). Both are idempotent and only the first call
// of either takes effect, so a deferred Release after Settle is harmless.
type Admission struct {
	RequestedModel string      // the model the client asked for
	ServedModel    string      // the model to call: RequestedModel, or its downgrade
	Downgraded     string      // "gpt-4o -> gpt-4o-mini" when a downgrade budget rewrote the model, else ""
	WorstCase      allot.Money // the worst-case cost reserved on USD budgets (0 when unpriced)
	CostKnown      bool        // whether the served model has a price
	// RemainingUSD is what the tightest enforced (block or downgrade) USD
	// budget had left for this call at admission: limit minus spent minus
	// other calls' reservations. HasUSDBudget says whether any applies.
	RemainingUSD allot.Money
	HasUSDBudget bool
	// Alerts are threshold crossings noticed at admission (spend settled
	// by other calls or replicas); Settle returns those its spend causes.
	Alerts []Alert

	r       *Rationer
	at      time.Time
	lease   string // names this admission's reservations in the counters
	charges []Charge
	meta    []chargeMeta
	done    atomic.Bool

	chargeBuf [6]Charge
	metaBuf   [6]chargeMeta
}

// Settle ends the admission with the call's actual cost and tokens: each
// reservation is replaced by the actual amount in the period of the call's
// start. actual may exceed the worst case (spend is truth; see
// Counters.Settle). It returns the alert thresholds this spend crossed,
// each at most once per budget, threshold and period. Only the first
// Settle or Release takes effect; later ones return nothing.
func (a *Admission) Settle(actual allot.Money, tokens allot.Tokens) ([]Alert, error) {
	if a == nil || !a.done.CompareAndSwap(false, true) || len(a.charges) == 0 {
		return nil, nil
	}
	used := allot.SatAdd(max(tokens.Input, 0), max(tokens.Output, 0))
	for i := range a.charges {
		ch := &a.charges[i]
		switch m := a.meta[i]; {
		case m.kind == kindRPM:
			ch.Actual = 1
		case m.kind == kindConcurrent:
			ch.Actual = 0
		case m.kind == kindBudget && m.in.rule.usd:
			ch.Actual = int64(max(actual, 0))
		default:
			ch.Actual = used
		}
	}
	ctx := context.Background()
	if err := a.r.counters.Settle(ctx, a.charges); err != nil {
		return nil, fmt.Errorf("settle %s at %s: %w", a.ServedModel, a.at.Format(time.RFC3339), err)
	}
	first := 0
	for first < len(a.meta) && a.meta[first].kind != kindBudget {
		first++
	}
	return a.r.alerts(ctx, nil, a.charges[first:], a.meta[first:], a.at), nil
}

// Release ends the admission without usage, returning every reservation:
// for calls that never reached the provider. Only the first Settle or
// Release takes effect.
func (a *Admission) Release() error {
	if a == nil || !a.done.CompareAndSwap(false, true) || len(a.charges) == 0 {
		return nil
	}
	if err := a.r.counters.Release(context.Background(), a.charges); err != nil {
		return fmt.Errorf("release reservations of %s: %w", a.ServedModel, err)
	}
	return nil
}

// Budgets lists the names of the budgets this call is counted against.
func (a *Admission) Budgets() []string {
	var names []string
	for _, m := range a.meta {
		if m.kind == kindBudget {
			names = append(names, m.in.name)
		}
	}
	return names
}

// limitOf returns an instance's limit at now, grants included.
func (r *Rationer) limitOf(grants *map[string][]grantEntry, in *instance, now time.Time) int64 {
	limit := in.rule.limit
	if grants == nil {
		return limit
	}
	g := *grants
	limit = allot.SatAdd(limit, activeGrants(g[in.name], now))
	if in.rule.isDefault {
		limit = allot.SatAdd(limit, activeGrants(g[in.rule.budget.Name], now))
	}
	return limit
}

// activeGrants sums the grants still running at now.
func activeGrants(gs []grantEntry, now time.Time) int64 {
	var sum int64
	for _, g := range gs {
		if now.Before(g.until) {
			sum = allot.SatAdd(sum, g.amount)
		}
	}
	return sum
}
