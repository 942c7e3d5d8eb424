package allot

import "strconv"

// CheckCall reports whether t is usage one call could have: every count
// between 0 and MaxCallTokens, cache reads and writes within Input and
// reasoning within Output. The error (EInvalid) names the field by its
// JSON name and says the bound, for edges that refuse what they read.
func (t Tokens) CheckCall() error { return t.CheckCalls(1) }

// CheckCalls is CheckCall for the usage of n calls reported as one total
// (a provider report's bucket): each count may be up to n×MaxCallTokens,
// saturated. n below 1 is taken as 1.
func (t Tokens) CheckCalls(n int64) error {
	limit := callsBound(MaxCallTokens, n)
	for _, f := range [...]struct {
		name string
		v    int64
	}{
		{"input_tokens", t.Input},
		{"cache_read_tokens", t.CacheRead},
		{"cache_write_5m_tokens", t.CacheWrite5m},
		{"cache_write_1h_tokens", t.CacheWrite1h},
		{"output_tokens", t.Output},
		{"reasoning_tokens", t.Reasoning},
	} {
		if err := checkCount(f.name, f.v, limit, n); err != nil {
			return err
		}
	}
	if c := t.CacheRead + t.CacheWrite(); c > t.Input {
		return Errorf(EInvalid, "cache tokens (%d) exceed input_tokens (%d); input_tokens must include cached input", c, t.Input)
	}
	if t.Reasoning > t.Output {
		return Errorf(EInvalid, "reasoning_tokens (%d) exceed output_tokens (%d); output_tokens must include reasoning", t.Reasoning, t.Output)
	}
	return nil
}

// CheckCount reports whether v is a token count one call could have:
// between 0 and MaxCallTokens. name is the field, for the message.
func CheckCount(name string, v int64) error { return checkCount(name, v, MaxCallTokens, 1) }

func checkCount(name string, v, limit, calls int64) error {
	switch {
	case v < 0:
		return Errorf(EInvalid, "%s %d is negative", name, v)
	case v > limit && calls > 1:
		return Errorf(EInvalid, "%s %d is over %s, the most %d calls can bill (%s tokens each)", name, v, groupThousands(limit), calls, groupThousands(MaxCallTokens))
	case v > limit:
		return Errorf(EInvalid, "%s %d is over %s, the most tokens of one kind one call can bill", name, v, groupThousands(limit))
	}
	return nil
}

// CheckCallCost reports whether c is a cost one call could have: between
// 0 and MaxCallCost. name is the field, for the message.
func CheckCallCost(name string, c Money) error { return CheckCallsCost(name, c, 1) }

// CheckCallsCost is CheckCallCost for the cost of n calls reported as one
// total: up to n×MaxCallCost, saturated.
func CheckCallsCost(name string, c Money, n int64) error {
	limit := Money(callsBound(int64(MaxCallCost), n))
	switch {
	case c < 0:
		return Errorf(EInvalid, "%s %s is negative", name, c)
	case c > limit:
		return Errorf(EInvalid, "%s %s USD is over %s USD, the most %d call(s) can cost", name, c, limit, max(n, 1))
	}
	return nil
}

// ClampCall bounds usage a provider reported for one call to what
// CheckCall accepts: negative counts become 0, counts past MaxCallTokens
// become MaxCallTokens, and cache and reasoning parts are cut to their
// wholes. changed reports whether any count moved, so the caller can flag
// the event: a provider's own report is recorded, not refused, since the
// call happened.
func (t Tokens) ClampCall() (c Tokens, changed bool) {
	bound := func(v int64) int64 { return min(max(v, 0), MaxCallTokens) }
	c = Tokens{Input: bound(t.Input), Output: bound(t.Output)}
	c.CacheRead = min(bound(t.CacheRead), c.Input)
	c.CacheWrite5m = min(bound(t.CacheWrite5m), c.Input-c.CacheRead)
	c.CacheWrite1h = min(bound(t.CacheWrite1h), c.Input-c.CacheRead-c.CacheWrite5m)
	c.Reasoning = min(bound(t.Reasoning), c.Output)
	return c, c != t
}

// ClampCallCost bounds one call's cost to 0..MaxCallCost; changed reports
// whether it moved.
func ClampCallCost(c Money) (Money, bool) {
	b := min(max(c, 0), MaxCallCost)
	return b, b != c
}

// callsBound is per×n saturated at the int64 range, n taken as at least 1.
func callsBound(per, n int64) int64 {
	return int64(Money(per).Times(max(n, 1)))
}

// groupThousands writes n >= 0 with commas every three digits: "100,000,000".
func groupThousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	out := make([]byte, 0, len(s)+len(s)/3)
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}
