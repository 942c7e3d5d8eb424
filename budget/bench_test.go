package budget

import (
	"context"
	"testing"

	"github.com/allot-dev/allot"
)

// BenchmarkAdmitSettle measures one call's rationing with three budgets
// that apply (org, team, the default user budget), alerts and a rate limit.
func BenchmarkAdmitSettle(b *testing.B) {
	clk := newClock("2026-11-15T12:00:00Z")
	r, _ := newRationer(b, allot.Policy{
		Budgets: []allot.Budget{
			{Name: "org", Scope: "org", LimitUSD: "1000000", AlertAt: []int{50, 80}},
			{Name: "platform", Scope: "team:platform", Models: []string{"gpt-4o*"}, LimitUSD: "1000000", Timezone: "Europe/London"},
		},
		Defaults:   allot.Defaults{UserBudget: &allot.Budget{LimitTokens: 1 << 60}},
		RateLimits: []allot.RateLimit{{Scope: "team:other", RequestsPerMinute: 10}},
	}, clk)
	c := call(alice, "gpt-4o")
	c.Time = clk.Now()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		a, err := r.Admit(ctx, c)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := a.Settle(a.WorstCase, worst1k); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkAdmitSettleParallel is BenchmarkAdmitSettle from every core at
// once, all on the same counters (the mutex of MemoryCounters is shared).
func BenchmarkAdmitSettleParallel(b *testing.B) {
	clk := newClock("2026-11-15T12:00:00Z")
	r, _ := newRationer(b, allot.Policy{
		Budgets: []allot.Budget{
			{Name: "org", Scope: "org", LimitUSD: "1000000", AlertAt: []int{50, 80}},
			{Name: "platform", Scope: "team:platform", Models: []string{"gpt-4o*"}, LimitUSD: "1000000", Timezone: "Europe/London"},
		},
		Defaults: allot.Defaults{UserBudget: &allot.Budget{LimitTokens: 1 << 60}},
	}, clk)
	c := call(alice, "gpt-4o")
	c.Time = clk.Now()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			a, err := r.Admit(context.Background(), c)
			if err != nil {
				b.Error(err)
				return
			}
			a.Settle(a.WorstCase, worst1k)
		}
	})
}
