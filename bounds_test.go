package allot_test

import (
	"math"
	"testing"

	"github.com/allot-dev/allot"
)

func TestMoneyPlusSaturates(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ a, b, want allot.Money }{
		{1, 2, 3},
		{allot.MaxMoney, 1, allot.MaxMoney},
		{allot.MaxMoney, allot.MaxMoney, allot.MaxMoney},
		{allot.MaxMoney - 5, 5, allot.MaxMoney},
		{allot.MinMoney, -1, allot.MinMoney},
		{math.MinInt64, 0, allot.MinMoney},
		{allot.MaxMoney, allot.MinMoney, 0},
		{-3, 1, -2},
	} {
		if got := c.a.Plus(c.b); got != c.want {
			t.Errorf("%d.Plus(%d) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

func TestMoneyTimesSaturates(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		a    allot.Money
		n    int64
		want allot.Money
	}{
		{3, 4, 12},
		{allot.MaxMoney, 2, allot.MaxMoney},
		{allot.MaxMoney, -2, allot.MinMoney},
		{-allot.MaxMoney, 2, allot.MinMoney},
		{allot.USD, math.MaxInt64, allot.MaxMoney},
		{-1, math.MinInt64, allot.MaxMoney},
		{math.MinInt64, -1, allot.MaxMoney},
		{0, math.MaxInt64, 0},
	} {
		if got := c.a.Times(c.n); got != c.want {
			t.Errorf("%d.Times(%d) = %d, want %d", c.a, c.n, got, c.want)
		}
	}
}

func TestSatAdd(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ a, b, want int64 }{
		{1, 2, 3},
		{math.MaxInt64, 1, math.MaxInt64},
		{math.MinInt64, -1, math.MinInt64},
		{math.MaxInt64, math.MinInt64, -1},
	} {
		if got := allot.SatAdd(c.a, c.b); got != c.want {
			t.Errorf("SatAdd(%d, %d) = %d, want %d", c.a, c.b, got, c.want)
		}
	}
}

func TestMulDivSat(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ a, b, c, want int64 }{
		{6, 7, 3, 14},
		{7, 1, 2, 3}, // truncates
		{math.MaxInt64, 10_000, 20_000, math.MaxInt64 / 2}, // product past 64 bits, quotient in range
		{math.MaxInt64, math.MaxInt64, math.MaxInt64, math.MaxInt64},
		{math.MaxInt64, 3, 2, math.MaxInt64}, // quotient past int64: saturates
		{math.MaxInt64, math.MaxInt64, 1, math.MaxInt64},
		{0, math.MaxInt64, 1, 0},
	} {
		if got := allot.MulDivSat(c.a, c.b, c.c); got != c.want {
			t.Errorf("MulDivSat(%d, %d, %d) = %d, want %d", c.a, c.b, c.c, got, c.want)
		}
	}
}

func FuzzMoneyPlus(f *testing.F) {
	f.Add(int64(1), int64(2))
	f.Add(int64(math.MaxInt64), int64(1))
	f.Fuzz(func(t *testing.T, a, b int64) {
		got := allot.Money(a).Plus(allot.Money(b))
		// The exact sum, in a type that cannot overflow.
		exact := float64(a) + float64(b)
		if exact > float64(math.MaxInt64)/2 && got < 0 || exact < float64(math.MinInt64)/2 && got > 0 {
			t.Fatalf("%d+%d = %d: wrapped", a, b, got)
		}
		if got == math.MinInt64 {
			t.Fatalf("%d+%d reached MinInt64", a, b)
		}
	})
}
