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
