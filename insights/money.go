package insights

import (
	"math"
	"math/bits"

	"github.com/allot-dev/allot"
)

// mulDiv returns a × b / c rounded half away from zero, exactly (the
// product is carried in 128 bits), saturating at the int64 range. b and c
// must be positive.
func mulDiv(a, b, c int64) int64 {
	neg := a < 0
	ua := uint64(a)
	if neg {
		ua = uint64(-a)
	}
	hi, lo := bits.Mul64(ua, uint64(b))
	if hi >= uint64(c) {
		if neg {
			return math.MinInt64
		}
		return math.MaxInt64
	}
	q, r := bits.Div64(hi, lo, uint64(c))
	if r >= uint64(c)-r { // r ≥ c/2
		q++
	}
	if q > math.MaxInt64 {
		q = math.MaxInt64
	}
	if neg {
		return -int64(q)
	}
	return int64(q)
}

// monthly scales an amount seen over days days to 30 days.
func monthly(m allot.Money, days int) allot.Money {
	if days <= 0 {
		return 0
	}
	return allot.Money(mulDiv(int64(m), 30, int64(days)))
}

// ratio is a / b as a float for display (shares, trends); 0 when b is 0.
func ratio(a, b int64) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// perRequest is total / requests, 0 without requests.
func perRequest(total, requests int64) int64 {
	if requests <= 0 {
		return 0
	}
	return total / requests
}
