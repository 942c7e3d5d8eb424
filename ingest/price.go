package ingest

import (
	"time"

	"github.com/allot-dev/allot"
)

// Price sets e's cost. The Pricer wins, so every source is priced the same
// way as the gateway's events; when it knows no price for the model, a cost
// the source reported (e.Cost with e.CostKnown set by the parser) is kept,
// and otherwise the event keeps its tokens with cost 0 and CostKnown false.
func Price(p allot.Pricer, e *allot.Event) {
	if p != nil {
		if cost, known := p.Cost(e.Provider, e.ServedModel, e.Time, e.Tokens); known {
			e.Cost, e.CostKnown = cost, true
			return
		}
	}
	if !e.CostKnown {
		e.Cost = 0
	}
}

// PriceAggregate prices the tokens of n calls reported as one total (a
// provider report's bucket) as n calls of the average size, so that prices
// tiered on a single call's input (e.g. a 200k-token cliff) apply as they
// would have to each call rather than to the sum. The remainder of the
// division is priced as one more call. known is false when the model has no
// price.
func PriceAggregate(p allot.Pricer, provider, model string, at time.Time, t allot.Tokens, n int64) (allot.Money, bool) {
	if p == nil {
		return 0, false
	}
	if n <= 1 {
		return p.Cost(provider, model, at, t)
	}
	div := func(v int64) (int64, int64) { return v / n, v % n }
	var avg, rest allot.Tokens
	avg.Input, rest.Input = div(t.Input)
	avg.CacheRead, rest.CacheRead = div(t.CacheRead)
	avg.CacheWrite5m, rest.CacheWrite5m = div(t.CacheWrite5m)
	avg.CacheWrite1h, rest.CacheWrite1h = div(t.CacheWrite1h)
	avg.Output, rest.Output = div(t.Output)
	avg.Reasoning, rest.Reasoning = div(t.Reasoning)
	one, known := p.Cost(provider, model, at, avg)
	if !known {
		return 0, false
	}
	total := saturatingMul(one, n)
	if !rest.IsZero() {
		r, _ := p.Cost(provider, model, at, rest)
		total = saturatingAdd(total, r)
	}
	return total, true
}

func saturatingMul(m allot.Money, n int64) allot.Money {
	if m == 0 || n == 0 {
		return 0
	}
	const maxMoney = allot.Money(1<<63 - 1)
	if m > maxMoney/allot.Money(n) {
		return maxMoney
	}
	return m * allot.Money(n)
}

func saturatingAdd(a, b allot.Money) allot.Money {
	const maxMoney = allot.Money(1<<63 - 1)
	if a > maxMoney-b {
		return maxMoney
	}
	return a + b
}
