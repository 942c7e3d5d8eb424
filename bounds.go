package allot

import (
	"math"
	"math/bits"
)

// Bounds on what one event may carry. No provider bills a call anywhere near
// them (the largest context windows hold about two million tokens and the
// dearest model costs well under a dollar a thousand tokens), so a value past
// them is a bug or an attack, never usage. Every edge where numbers enter
// from outside (the gateway's provider usage, OTLP, /api/v1/usage,
// importers, allot push) refuses or clamps by them, and the stores and
// counters still saturate rather than wrap if a value ever gets past them.
const (
	// MaxCallTokens bounds each token count of one call.
	MaxCallTokens int64 = 100_000_000
	// MaxCallCost bounds the cost of one call: $100,000.
	MaxCallCost Money = 100_000 * USD
	// MaxMoney is the largest amount Money holds (about 9.2 billion USD).
	// Sums saturate here instead of wrapping around to negative spend.
	MaxMoney Money = math.MaxInt64
	// MinMoney is the most negative amount sums saturate at.
	MinMoney Money = -math.MaxInt64
)

// Plus returns m+n, saturated at MaxMoney and MinMoney instead of wrapping,
// so no sum of stored amounts can turn a budget's spend negative.
func (m Money) Plus(n Money) Money {
	s := m + n
	switch {
	case n > 0 && s < m:
		return MaxMoney
	case n < 0 && s > m:
		return MinMoney
	case s < MinMoney: // math.MinInt64 has no positive twin; keep sums symmetric
		return MinMoney
	}
	return s
}

// Times returns m×n saturated at MaxMoney and MinMoney.
func (m Money) Times(n int64) Money {
	if m == 0 || n == 0 {
		return 0
	}
	p := m * Money(n)
	if p/Money(n) != m || (m == -1 && n == math.MinInt64) || (n == -1 && m == math.MinInt64) || p == math.MinInt64 {
		if (m < 0) != (n < 0) {
			return MinMoney
		}
		return MaxMoney
	}
	return p
}

// SatAdd returns a+b for counts, saturated at the int64 range instead of
// wrapping.
func SatAdd(a, b int64) int64 {
	s := a + b
	switch {
	case b > 0 && s < a:
		return math.MaxInt64
	case b < 0 && s > a:
		return math.MinInt64
	}
	return s
}

// MulDivSat returns a*b/c for non-negative a, b and positive c without
// overflowing in between (the product is held in 128 bits), saturating at
// the largest int64: projections and percentages of spend scale one amount
// by a ratio of two others.
func MulDivSat(a, b, c int64) int64 {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi >= uint64(c) {
		return math.MaxInt64
	}
	q, _ := bits.Div64(hi, lo, uint64(c))
	if q > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(q)
}
