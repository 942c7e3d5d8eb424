package allot

import (
	"math"
	"testing"
)

func TestMoneyDollars(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		m    Money
		want string
	}{
		{0, "$0.00"},
		{MustUSD("43.760592910"), "$43.76"},
		{MustUSD("0.005"), "$0.01"},
		{MustUSD("0.004999999"), "$0.00"},
		{MustUSD("-0.004"), "$0.00"},
		{MustUSD("-0.5"), "-$0.50"},
		{MustUSD("1097.385"), "$1,097.39"},
		{MustUSD("1234567.891"), "$1,234,567.89"},
		{math.MinInt64, "-$9,223,372,036.85"},
		{MaxMoney, "$9,223,372,036.85"},
	} {
		if got := c.m.Dollars(); got != c.want {
			t.Errorf("Money(%d).Dollars() = %q, want %q", int64(c.m), got, c.want)
		}
	}
}

func TestGroupDigits(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		n    int64
		want string
	}{
		{0, "0"}, {7, "7"}, {999, "999"}, {1000, "1,000"}, {4651087, "4,651,087"},
		{-1234, "-1,234"}, {math.MaxInt64, "9,223,372,036,854,775,807"}, {math.MinInt64, "-9,223,372,036,854,775,808"},
	} {
		if got := GroupDigits(c.n); got != c.want {
			t.Errorf("GroupDigits(%d) = %q, want %q", c.n, got, c.want)
		}
	}
}
