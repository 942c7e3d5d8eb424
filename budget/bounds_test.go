package budget

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/pricing"
)

// TestWorstCaseBeyondAnyCallIsRefused is issue #14's second failure: a $1
// block budget on memory counters admitted a call with max_tokens 2^63-1
// (or 1844674407370955) because its worst case saturated and
// spent+reserved+amount wrapped around; spent ended at $3.56 of $1. A
// worst case past the bounds of one call cannot be reserved, so the call
// is refused as invalid, and the budget never passes its limit.
func TestWorstCaseBeyondAnyCallIsRefused(t *testing.T) {
	t.Parallel()
	for _, maxTokens := range []int64{1 << 31, 1 << 53, math.MaxInt64, 1844674407370955, allot.MaxCallTokens + 1} {
		clk := newClock("2026-11-10T12:00:00Z")
		c := NewMemoryCounters()
		r, err := New(allot.Policy{Budgets: []allot.Budget{{Name: "tiny", Scope: "org", LimitUSD: "1"}}}, c, pricing.Default(), clk.Now)
		if err != nil {
			t.Fatal(err)
		}
		inFlight, err := r.Admit(ctx, Call{Principal: alice, Provider: "openai", Model: "gpt-4o", WorstCase: allot.Tokens{Input: 1000, Output: 1000}})
		if err != nil {
			t.Fatalf("max_tokens %d: a small call first: %v", maxTokens, err)
		}
		adm, err := r.Admit(ctx, Call{Principal: alice, Provider: "openai", Model: "gpt-4o", WorstCase: allot.Tokens{Input: 1000, Output: maxTokens}})
		code, e := codeOf(err)
		if err == nil {
			_, _ = adm.Settle(allot.MustUSD("3.56"), allot.Tokens{Input: 1000, Output: 355_000})
			t.Errorf("max_tokens %d: admitted on a $1 budget", maxTokens)
		} else if code != allot.EInvalid || !strings.Contains(e.Message, "cannot be reserved") || strings.Contains(e.Message, "-") {
			t.Errorf("max_tokens %d: %v, want an invalid request saying the worst case cannot be reserved", maxTokens, err)
		}
		if _, err := inFlight.Settle(allot.MustUSD("0.01"), allot.Tokens{Input: 1000, Output: 500}); err != nil {
			t.Fatal(err)
		}
		st := statusOf(t, r, "tiny", clk.Now())
		if st.Spent < 0 || st.Spent > st.Limit || st.Reserved != 0 {
			t.Errorf("max_tokens %d: budget spent %d reserved %d of %d", maxTokens, st.Spent, st.Reserved, st.Limit)
		}
	}
}

// pricerFunc is a Pricer from a function.
type pricerFunc func(allot.Tokens) allot.Money

func (f pricerFunc) Cost(_, _ string, _ time.Time, t allot.Tokens) (allot.Money, bool) {
	return f(t), true
}

// TestWorstCasePricedPastAnyCallIsRefused: within the token bounds, a
// price (an admin's override) can still make the worst case saturate; it
// is refused rather than reserved as the largest int64.
func TestWorstCasePricedPastAnyCallIsRefused(t *testing.T) {
	t.Parallel()
	for _, cost := range []allot.Money{allot.MaxCallCost + 1, allot.MaxMoney, -1} {
		clk := newClock("2026-11-10T12:00:00Z")
		r, err := New(allot.Policy{Budgets: []allot.Budget{{Name: "big", Scope: "org", LimitUSD: "1000000000"}}},
			NewMemoryCounters(), pricerFunc(func(allot.Tokens) allot.Money { return cost }), clk.Now)
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.Admit(ctx, call(alice, "gpt-4o"))
		if code, _ := codeOf(err); code != allot.EInvalid {
			t.Errorf("worst case priced %d: %v, want invalid", cost, err)
		}
	}
}

// TestSettleOfExtremeUsageSaturates: a settled actual past anything (the
// gateway bounds it first, but counters must not depend on it) leaves the
// budget full, never wrapped to negative spend that admits refused calls.
func TestSettleOfExtremeUsageSaturates(t *testing.T) {
	t.Parallel()
	clk := newClock("2026-11-10T12:00:00Z")
	r, _ := newRationer(t, allot.Policy{Budgets: []allot.Budget{
		{Name: "usd", Scope: "org", LimitUSD: "1"},
		{Name: "tok", Scope: "org", LimitTokens: 10_000},
	}}, clk)
	for range 3 {
		adm, err := r.Admit(ctx, call(alice, "gpt-4o"))
		if err != nil {
			break
		}
		if _, err := adm.Settle(allot.MaxMoney, allot.Tokens{Input: math.MaxInt64, Output: math.MaxInt64}); err != nil {
			t.Fatal(err)
		}
	}
	for _, name := range []string{"usd", "tok"} {
		if st := statusOf(t, r, name, clk.Now()); st.Spent != math.MaxInt64 {
			t.Errorf("%s: spent %d, want saturated at MaxInt64", name, st.Spent)
		}
	}
	if _, err := r.Admit(ctx, call(alice, "gpt-4o")); err == nil {
		t.Error("a full budget admitted a call after extreme spend")
	}
}

func TestDollarsAtTheExtremes(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		m    allot.Money
		want string
	}{
		{math.MinInt64, "-$9,223,372,036.85"}, // was "$-9,223,372,036.-84"
		{allot.MinMoney, "-$9,223,372,036.85"},
		{allot.MaxMoney, "$9,223,372,036.85"},
		{-allot.USD / 2, "-$0.50"},
		{-2_500_000, "-$0.0025"},
		{allot.MustUSD("499.995"), "$500.00"},
		{0, "$0.00"},
	} {
		if got := dollars(c.m); got != c.want {
			t.Errorf("dollars(%d) = %q, want %q", c.m, got, c.want)
		}
	}
	if got := tokenCount(math.MinInt64); got != "-9,223,372,036,854,775,808" {
		t.Errorf("tokenCount(MinInt64) = %q", got)
	}
}
