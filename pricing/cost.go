package pricing

import (
	"math"
	"math/bits"
	"time"

	"github.com/allot-dev/allot"
)

// Cost prices one call's usage t for model at provider at instant at; it
// implements allot.Pricer. known is false, and cost 0, when no override or
// feed model matches.
//
// Each token kind is priced at its own rate, a rate being nano-USD per
// million tokens (rate_k) chosen by the request's total input for tiered
// prices:
//
//	uncached input (t.Uncached())  input_mtok
//	t.CacheRead                    cache_read_mtok, else input_mtok
//	t.CacheWrite5m                 cache_write_5m_mtok, else cache_write_mtok, else input_mtok
//	t.CacheWrite1h                 cache_write_1h_mtok, else cache_write_mtok, else input_mtok
//	t.Reasoning                    output_reasoning_mtok when the model has it
//	the rest of t.Output           output_mtok
//	one request                    requests_kcount / 1000
//
// and the cost is
//
//	cost_nano = round_half_up( Σ tokens_k × rate_k / 1_000_000 )
//
// rounded once per call, not per kind, so splitting a prompt into kinds
// never adds rounding error. The sum is carried in 128 bits (math/bits), so
// no product of a token count and a rate can overflow; a result beyond
// int64 (about 9.2 billion USD) saturates. Negative token counts count as 0.
func (c *Catalog) Cost(provider, model string, at time.Time, t allot.Tokens) (cost allot.Money, known bool) {
	m := c.resolve(provider, model)
	if m == nil {
		return 0, false
	}
	return m.at(at).prices.cost(t), true
}

// cost applies the price set to t; see Catalog.Cost.
func (p *priceSet) cost(t allot.Tokens) allot.Money {
	in := nonNegative(t.Input)
	var s sum128
	s.add(nonNegative(t.Uncached()), p.input.at(in))
	s.add(nonNegative(t.CacheRead), p.cacheRead.at(in))
	s.add(nonNegative(t.CacheWrite5m), p.cacheWrite5m.at(in))
	s.add(nonNegative(t.CacheWrite1h), p.cacheWrite1h.at(in))
	out := nonNegative(t.Output)
	if p.hasReasoning {
		r := min(nonNegative(t.Reasoning), out)
		s.add(r, p.reasoning.at(in))
		out -= r
	}
	s.add(out, p.output.at(in))
	// requests_kcount is USD per 1000 requests: one request costs
	// rate/1000 = 1000 × rate / 1_000_000, so it joins the same sum.
	s.add(1000, p.requestsK)
	return s.nanoUSD()
}

// sum128 accumulates token × rate products exactly in 128 bits. Each
// product is below 2^126, but seven of them can pass 2^128 with absurd
// counts and rates, so a carry out of the top word is remembered and the
// result saturates instead of wrapping.
type sum128 struct {
	hi, lo   uint64
	overflow bool
}

func (s *sum128) add(tokens, rate int64) {
	hi, lo := bits.Mul64(uint64(tokens), uint64(rate))
	var carry uint64
	s.lo, carry = bits.Add64(s.lo, lo, 0)
	s.hi, carry = bits.Add64(s.hi, hi, carry)
	s.overflow = s.overflow || carry != 0
}

// nanoUSD divides the sum by one million, rounding half up, saturating at
// the largest Money.
func (s *sum128) nanoUSD() allot.Money {
	const perMillion = 1_000_000
	if s.overflow || s.hi >= perMillion { // quotient needs more than 64 bits
		return allot.Money(math.MaxInt64)
	}
	q, r := bits.Div64(s.hi, s.lo, perMillion)
	if q >= math.MaxInt64 {
		return allot.Money(math.MaxInt64)
	}
	if r >= perMillion/2 {
		q++
	}
	if q > math.MaxInt64 {
		return allot.Money(math.MaxInt64)
	}
	return allot.Money(q)
}

func nonNegative(n int64) int64 {
	if n < 0 {
		return 0
	}
	return n
}
