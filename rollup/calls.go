package rollup

import (
	"time"

	"github.com/allot-dev/allot"
)

// Calls is the sums of a chain of calls (one row of insight calls): an
// attribution's calls with one session and counted system prompt in one
// hour, or several such chains joined. Its values are indexed by the
// constants below, in the column order the stores keep them.
type Calls [CallValues]int64

// Positions in Calls.
const (
	Requests = iota
	Input
	CacheRead
	CacheWrite5m
	CacheWrite1h
	Output
	Cost
	MinInput
	Misses
	FirstUS // unix microseconds of the first call
	LastUS  // of the last call
	FirstInput
	LastInput
	Growing
	CallValues
)

// CacheTTLUS is allot.PromptCacheTTL in microseconds, for stores that
// join a stored row in SQL as Follow does.
const CacheTTLUS = int64(allot.PromptCacheTTL / time.Microsecond)

// CacheMiss reports whether a call gapUS microseconds after the previous
// call of its chain missed the provider's prompt cache (the cache entry
// lived allot.PromptCacheTTL).
func CacheMiss(gapUS int64) bool { return gapUS > CacheTTLUS }

// GrowingTurn reports whether a call with input in follows one with
// prevInput as a growing turn: the conversation resent and grew.
func GrowingTurn(prevInput, in int64) bool { return in > prevInput }

// Add appends one call at t (unix microseconds) to c, which must not hold
// a later call: the chain's first call is a cache miss, a later one is a
// miss when it comes CacheMiss after the previous one.
func (c *Calls) Add(t int64, tokens *allot.Tokens, cost int64) {
	in := tokens.Input
	if c[Requests] == 0 {
		c[MinInput], c[Misses] = in, 1
		c[FirstUS], c[FirstInput] = t, in
	} else {
		if CacheMiss(t - c[LastUS]) {
			c[Misses]++
		}
		if GrowingTurn(c[LastInput], in) {
			c[Growing]++
		}
		c[MinInput] = min(c[MinInput], in)
	}
	c[Requests]++
	c[Input] = allot.SatAdd(c[Input], in)
	c[CacheRead] = allot.SatAdd(c[CacheRead], tokens.CacheRead)
	c[CacheWrite5m] = allot.SatAdd(c[CacheWrite5m], tokens.CacheWrite5m)
	c[CacheWrite1h] = allot.SatAdd(c[CacheWrite1h], tokens.CacheWrite1h)
	c[Output] = allot.SatAdd(c[Output], tokens.Output)
	c[Cost] = allot.SatAdd(c[Cost], cost)
	c[LastUS], c[LastInput] = t, in
}

// Follow adds b, whose calls all come after a's, to a: the link between
// a's last call and b's first decides one cache miss and one growing turn.
func Follow(a, b *Calls) {
	misses := a[Misses] + b[Misses]
	if !CacheMiss(b[FirstUS] - a[LastUS]) {
		misses--
	}
	growing := a[Growing] + b[Growing]
	if GrowingTurn(a[LastInput], b[FirstInput]) {
		growing++
	}
	Merge(a, b)
	a[Misses], a[Growing] = misses, growing
}

// Merge adds b to a when their calls interleave: sums add, the first and
// last calls are the earliest and latest of both.
func Merge(a, b *Calls) {
	a[Requests] = allot.SatAdd(a[Requests], b[Requests])
	a[Input] = allot.SatAdd(a[Input], b[Input])
	a[CacheRead] = allot.SatAdd(a[CacheRead], b[CacheRead])
	a[CacheWrite5m] = allot.SatAdd(a[CacheWrite5m], b[CacheWrite5m])
	a[CacheWrite1h] = allot.SatAdd(a[CacheWrite1h], b[CacheWrite1h])
	a[Output] = allot.SatAdd(a[Output], b[Output])
	a[Cost] = allot.SatAdd(a[Cost], b[Cost])
	a[Misses] = allot.SatAdd(a[Misses], b[Misses])
	a[Growing] = allot.SatAdd(a[Growing], b[Growing])
	a[MinInput] = min(a[MinInput], b[MinInput])
	if b[FirstUS] < a[FirstUS] {
		a[FirstUS], a[FirstInput] = b[FirstUS], b[FirstInput]
	}
	if b[LastUS] >= a[LastUS] {
		a[LastUS], a[LastInput] = b[LastUS], b[LastInput]
	}
}

// Tokens is the token sums of c.
func (c *Calls) Tokens() allot.Tokens {
	return allot.Tokens{Input: c[Input], CacheRead: c[CacheRead], CacheWrite5m: c[CacheWrite5m], CacheWrite1h: c[CacheWrite1h], Output: c[Output]}
}

// Prompt is c as the usage of system prompt fp under key.
func (c *Calls) Prompt(key allot.InsightKey, fp int64) allot.PromptUsage {
	return allot.PromptUsage{
		InsightKey: key, SystemFP: uint64(fp), Requests: c[Requests], Tokens: c.Tokens(),
		Cost: allot.Money(c[Cost]), MinInput: c[MinInput], CacheMisses: c[Misses],
	}
}

// SetSession sets s's figures (all but its key and name) from c.
func (c *Calls) SetSession(s *allot.SessionUsage) {
	s.Start, s.End = time.UnixMicro(c[FirstUS]).UTC(), time.UnixMicro(c[LastUS]).UTC()
	s.Requests, s.Tokens = c[Requests], c.Tokens()
	s.Cost, s.FirstInput, s.LastInput, s.Growing = allot.Money(c[Cost]), c[FirstInput], c[LastInput], c[Growing]
}
