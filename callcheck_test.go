package allot_test

import (
	"math"
	"strings"
	"testing"

	"github.com/allot-dev/allot"
)

func TestCheckCallRefusesWhatNoProviderBills(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		t    allot.Tokens
		want string // "" when accepted
	}{
		{"zero", allot.Tokens{}, ""},
		{"at the bound", allot.Tokens{Input: allot.MaxCallTokens, CacheRead: allot.MaxCallTokens, Output: allot.MaxCallTokens, Reasoning: allot.MaxCallTokens}, ""},
		{"issue #14: 1e15 output", allot.Tokens{Input: 1e15, Output: 1e15}, "input_tokens 1000000000000000 is over 100,000,000"},
		{"one past the bound", allot.Tokens{Output: allot.MaxCallTokens + 1}, "output_tokens 100000001 is over 100,000,000"},
		{"negative", allot.Tokens{Input: -1}, "input_tokens -1 is negative"},
		{"min int64", allot.Tokens{CacheWrite1h: math.MinInt64}, "cache_write_1h_tokens"},
		{"max int64", allot.Tokens{Reasoning: math.MaxInt64, Output: math.MaxInt64}, "output_tokens"},
		{"cache over input", allot.Tokens{Input: 5, CacheRead: 3, CacheWrite5m: 3}, "exceed input_tokens"},
		{"reasoning over output", allot.Tokens{Output: 2, Reasoning: 3}, "exceed output_tokens"},
	} {
		err := c.t.CheckCall()
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: %v, want accepted", c.name, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: %v, want an error containing %q", c.name, err, c.want)
		case err != nil && allot.CodeOf(err) != allot.EInvalid:
			t.Errorf("%s: code %s, want invalid (a 400)", c.name, allot.CodeOf(err))
		}
	}
}

func TestCheckCallsScalesWithTheCallsOfABucket(t *testing.T) {
	t.Parallel()
	three := allot.Tokens{Input: 3 * allot.MaxCallTokens}
	if err := three.CheckCalls(3); err != nil {
		t.Errorf("3 calls at the bound each: %v", err)
	}
	if err := three.CheckCalls(2); err == nil {
		t.Error("3 calls' worth of tokens in a bucket of 2 was accepted")
	}
	if err := (allot.Tokens{Input: math.MaxInt64}).CheckCalls(math.MaxInt64); err != nil {
		t.Errorf("the bound of MaxInt64 calls saturates instead of wrapping: %v", err)
	}
	if err := three.CheckCalls(0); err == nil {
		t.Error("n=0 is taken as one call")
	}
}

func TestCheckCallCost(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		cost allot.Money
		n    int64
		ok   bool
	}{
		{0, 1, true},
		{allot.MaxCallCost, 1, true},
		{allot.MaxCallCost + 1, 1, false},
		{-1, 1, false},
		{allot.MaxMoney, 1, false},
		{math.MinInt64, 1, false},
		{2 * allot.MaxCallCost, 2, true},
		{allot.MaxMoney, math.MaxInt64, true},
	} {
		if err := allot.CheckCallsCost("cost_usd", c.cost, c.n); (err == nil) != c.ok {
			t.Errorf("CheckCallsCost(%d, %d) = %v, want ok %v", c.cost, c.n, err, c.ok)
		}
	}
}

func TestClampCallBoundsAProvidersReport(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in, want allot.Tokens
		changed  bool
	}{
		{allot.Tokens{Input: 10, CacheRead: 4, Output: 7, Reasoning: 2}, allot.Tokens{Input: 10, CacheRead: 4, Output: 7, Reasoning: 2}, false},
		{allot.Tokens{Input: 1e15, CacheRead: 1e15, Output: -5, Reasoning: 3},
			allot.Tokens{Input: allot.MaxCallTokens, CacheRead: allot.MaxCallTokens}, true},
		{allot.Tokens{Input: 10, CacheRead: 6, CacheWrite5m: 6, CacheWrite1h: 6, Output: math.MaxInt64, Reasoning: math.MaxInt64},
			allot.Tokens{Input: 10, CacheRead: 6, CacheWrite5m: 4, Output: allot.MaxCallTokens, Reasoning: allot.MaxCallTokens}, true},
	} {
		got, changed := c.in.ClampCall()
		if got != c.want || changed != c.changed {
			t.Errorf("ClampCall(%+v) = %+v, %v; want %+v, %v", c.in, got, changed, c.want, c.changed)
		}
		if err := got.CheckCall(); err != nil {
			t.Errorf("ClampCall(%+v) = %+v, which CheckCall refuses: %v", c.in, got, err)
		}
	}
	if got, changed := allot.ClampCallCost(allot.MaxMoney); got != allot.MaxCallCost || !changed {
		t.Errorf("ClampCallCost(MaxMoney) = %v, %v", got, changed)
	}
	if got, changed := allot.ClampCallCost(-3); got != 0 || !changed {
		t.Errorf("ClampCallCost(-3) = %v, %v", got, changed)
	}
}
