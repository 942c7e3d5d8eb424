package allot

// Tokens is one call's usage, normalized once at the edge (design invariant
// 4): Input is the whole prompt, including cache reads and cache writes;
// Output is the whole completion, including reasoning. Each kind is priced
// at its own rate, so cached tokens are never counted twice.
type Tokens struct {
	Input        int64 `json:"input_tokens"`          // all input: uncached + cache read + cache write
	CacheRead    int64 `json:"cache_read_tokens"`     // part of Input read from the prompt cache
	CacheWrite5m int64 `json:"cache_write_5m_tokens"` // part of Input written to a 5-minute cache
	CacheWrite1h int64 `json:"cache_write_1h_tokens"` // part of Input written to a 1-hour cache
	Output       int64 `json:"output_tokens"`         // all output, reasoning included
	Reasoning    int64 `json:"reasoning_tokens"`      // part of Output spent on reasoning
}

// CacheWrite is all input written to a cache, whatever its lifetime.
func (t Tokens) CacheWrite() int64 { return SatAdd(t.CacheWrite5m, t.CacheWrite1h) }

// Uncached is the input billed at the plain input rate.
func (t Tokens) Uncached() int64 {
	u := t.Input - t.CacheRead - t.CacheWrite()
	if u < 0 {
		return 0
	}
	return u
}

// Total is input plus output, saturated at the int64 range (see SatAdd).
func (t Tokens) Total() int64 { return SatAdd(t.Input, t.Output) }

// Add returns the kind-by-kind sum of t and o, each saturated at the int64
// range, so that no sum of stored counts wraps negative.
func (t Tokens) Add(o Tokens) Tokens {
	return Tokens{
		Input:        SatAdd(t.Input, o.Input),
		CacheRead:    SatAdd(t.CacheRead, o.CacheRead),
		CacheWrite5m: SatAdd(t.CacheWrite5m, o.CacheWrite5m),
		CacheWrite1h: SatAdd(t.CacheWrite1h, o.CacheWrite1h),
		Output:       SatAdd(t.Output, o.Output),
		Reasoning:    SatAdd(t.Reasoning, o.Reasoning),
	}
}

// IsZero reports whether no token of any kind was counted.
func (t Tokens) IsZero() bool { return t == Tokens{} }
