package budget

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/allot-dev/allot"
)

// budgetError explains why a budget refused a call and when it frees up.
func budgetError(m chargeMeta, ch Charge, now time.Time) *allot.Error {
	rl := m.in.rule
	usd := rl.usd
	var b strings.Builder
	fmt.Fprintf(&b, "budget %q (%s) is exhausted: spent %s of %s %s", m.in.name, m.in.scope, amount(usd, ch.Spent), amount(usd, m.limit), rl.win.phrase())
	if ch.Reserved > 0 {
		fmt.Fprintf(&b, ", %s more is reserved by calls in flight", amount(usd, ch.Reserved))
	}
	if left := room(m.limit, ch.Spent, ch.Reserved); left > 0 {
		fmt.Fprintf(&b, ", and the %s left is less than this call's worst case of %s (lower max_tokens to reserve less)", amount(usd, left), amount(usd, ch.Amount))
	}
	if rl.action == allot.OnExceedDowngrade {
		b.WriteString("; no cheaper model is configured for this one")
	}
	fmt.Fprintf(&b, "; %s. Ask an admin for a top-up (allot budgets grant) or use a cheaper model.", resetClause(rl.win, now))
	return &allot.Error{Code: allot.EBudget, Message: b.String(), RetryAfter: retryAfter(rl.win.nextChange(now).Sub(now))}
}

// resetClause says when the budget frees up: "it resets at 2026-12-01T00:00:00Z".
func resetClause(w window, now time.Time) string {
	at := w.nextChange(now).UTC().Format(time.RFC3339)
	if w.unit == "" {
		return "spend leaves the " + allot.Period{Rolling: w.rolling}.String() + " window gradually, the next at " + at
	}
	return "it resets at " + at
}

// rateError explains a rate-limit refusal.
func rateError(m chargeMeta, ch Charge, now time.Time) *allot.Error {
	scope := m.rate.limit.Scope
	next := time.Unix((floorDiv(now.Unix(), int64(rateBucket/time.Second))+1)*int64(rateBucket/time.Second), 0)
	wait := retryAfter(next.Sub(now))
	var msg string
	switch m.kind {
	case kindRPM:
		msg = fmt.Sprintf("rate limit for %s reached: %d requests per minute; retry in %ds", scope, m.limit, wait)
	case kindTPM:
		msg = fmt.Sprintf("rate limit for %s reached: %s of %s tokens per minute are used or reserved and this call may use up to %s; retry in %ds or lower max_tokens",
			scope, tokenCount(ch.Spent+ch.Reserved), tokenCount(m.limit), tokenCount(ch.Amount), wait)
	default:
		wait = 1
		msg = fmt.Sprintf("rate limit for %s reached: %d calls already in flight (max_concurrent: %d); retry when one finishes", scope, ch.Reserved, m.limit)
	}
	return &allot.Error{Code: allot.ERateLimit, Message: msg, RetryAfter: wait}
}

// retryAfter rounds d up to whole seconds, at least one.
func retryAfter(d time.Duration) int {
	s := int(math.Ceil(d.Seconds()))
	return max(s, 1)
}

// amount formats a budget amount: dollars or tokens.
func amount(usd bool, v int64) string {
	if usd {
		return dollars(allot.Money(v))
	}
	return tokenCount(v) + " tokens"
}

// dollars formats m to the cent, "$499.20", rounding half up; amounts
// under a cent keep their significant digits, "$0.0025".
func dollars(m allot.Money) string {
	sign := ""
	u := uint64(m) // the magnitude, also for math.MinInt64, which has no positive twin
	if m < 0 {
		sign, u = "-", -u
	}
	if u > 0 && u < uint64(allot.USD/100) {
		return sign + "$" + strings.TrimRight(allot.Money(u).String(), "0")
	}
	cents := u/10_000_000 + (u%10_000_000+5_000_000)/10_000_000
	return fmt.Sprintf("%s$%s.%02d", sign, groupUnsigned(cents/100), cents%100)
}

// tokenCount formats n with thousands separators, "2,000,000".
func tokenCount(n int64) string {
	if n < 0 {
		return "-" + groupUnsigned(-uint64(n))
	}
	return groupDigits(n)
}

// groupDigits writes n >= 0 with commas every three digits.
func groupDigits(n int64) string { return groupUnsigned(uint64(max(n, 0))) }

// groupUnsigned writes n with commas every three digits.
func groupUnsigned(n uint64) string {
	s := strconv.FormatUint(n, 10)
	if len(s) <= 3 {
		return s
	}
	var b strings.Builder
	pre := len(s) % 3
	if pre > 0 {
		b.WriteString(s[:pre])
	}
	for i := pre; i < len(s); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s[i : i+3])
	}
	return b.String()
}

// room is limit-spent-reserved, saturated: what a budget has left, never
// wrapped into a huge positive room by extreme counters.
func room(limit, spent, reserved int64) int64 {
	return allot.SatAdd(limit, -max(allot.SatAdd(spent, reserved), -math.MaxInt64))
}
