package main

import (
	"math"
	"testing"

	"github.com/allot-dev/allot"
)

// TestReconcileSignedUSDAtTheExtremes: the most negative difference is
// written with one sign, not "-$-9223372036.854775808" (issue #14).
func TestReconcileSignedUSDAtTheExtremes(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		m    allot.Money
		want string
	}{
		{math.MinInt64, "-$9223372036.854775808"},
		{allot.MinMoney, "-$9223372036.854775807"},
		{allot.MaxMoney, "+$9223372036.854775807"},
		{-allot.USD, "-$1.000000000"},
		{0, "+$0.000000000"},
	} {
		if got := reconcileSignedUSD(c.m); got != c.want {
			t.Errorf("reconcileSignedUSD(%d) = %q, want %q", c.m, got, c.want)
		}
	}
}

// TestShortAmountAtTheExtremes: allot budgets writes the sign before the
// dollar, also for the most negative amount.
func TestShortAmountAtTheExtremes(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		v    int64
		want string
	}{
		{math.MinInt64, "-$9,223,372,036.85"},
		{math.MaxInt64, "$9,223,372,036.85"},
		{-int64(allot.USD) / 2, "-$0.50"},
		{int64(allot.MustUSD("43.760592910")), "$43.76"},
	} {
		if got := shortAmount(true, c.v); got != c.want {
			t.Errorf("shortAmount(%d) = %q, want %q", c.v, got, c.want)
		}
	}
}
