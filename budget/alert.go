package budget

import (
	"context"
	"encoding/json"
	"fmt"
	"math/bits"
	"strconv"
	"time"

	"github.com/allot-dev/allot"
)

// Alert says a budget's spend crossed one of its alert_at percentages (a
// notify budget also alerts at 100%). Each fires at most once per budget,
// threshold and period, also across replicas sharing counters; when one
// settlement crosses several thresholds only the highest fires.
type Alert struct {
	Budget      string    // budget name
	Scope       string    // e.g. "team:platform"
	OnExceed    string    // block, downgrade or notify
	Threshold   int       // the percentage crossed
	USD         bool      // Spent and Limit are nano-USD (else tokens)
	Spent       int64     // spent in the period when the threshold was crossed
	Limit       int64     // the limit, grants included
	PeriodStart time.Time // the period the alert belongs to
	PeriodEnd   time.Time
	At          time.Time // the time of the call that crossed it
	Message     string    // a sentence for people
}

// MarshalJSON writes the alert with amounts in dollars (spent_usd,
// limit_usd) or tokens (spent_tokens, limit_tokens).
func (a Alert) MarshalJSON() ([]byte, error) {
	out := map[string]any{
		"budget": a.Budget, "scope": a.Scope, "on_exceed": a.OnExceed, "threshold": a.Threshold,
		"period_start": a.PeriodStart, "period_end": a.PeriodEnd, "at": a.At, "message": a.Message,
	}
	putAmount(out, "spent", a.USD, a.Spent)
	putAmount(out, "limit", a.USD, a.Limit)
	return json.Marshal(out)
}

// putAmount stores v as name_usd (exact decimal) or name_tokens.
func putAmount(out map[string]any, name string, usd bool, v int64) {
	if usd {
		out[name+"_usd"] = allot.Money(v)
	} else {
		out[name+"_tokens"] = v
	}
}

// reached reports whether spent is at least pct percent of limit, in exact
// 128-bit integer arithmetic.
func reached(spent, limit int64, pct int) bool {
	if limit <= 0 {
		return spent > 0
	}
	if spent <= 0 {
		return false
	}
	sh, sl := bits.Mul64(uint64(spent), 100)
	lh, ll := bits.Mul64(uint64(limit), uint64(pct))
	return sh > lh || (sh == lh && sl >= ll)
}

// alerts appends to dst the thresholds newly crossed by the budget charges
// (whose Spent the counters just filled in).
func (r *Rationer) alerts(ctx context.Context, dst []Alert, charges []Charge, meta []chargeMeta, at time.Time) []Alert {
	for i := range charges {
		m := meta[i]
		if m.kind != kindBudget || len(m.in.rule.alertAt) == 0 {
			continue
		}
		rl := m.in.rule
		h := -1
		for j, pct := range rl.alertAt {
			if !reached(charges[i].Spent, m.limit, pct) {
				break
			}
			h = j
		}
		if h < 0 {
			continue
		}
		epoch := rl.win.epoch(at)
		if !m.in.markFired(epoch, h) {
			continue
		}
		// Another replica may have fired it already: the counters decide.
		key := "a|" + m.in.key + "|" + strconv.Itoa(rl.alertAt[h])
		if failed, err := r.counters.Reserve(ctx, []Charge{{Key: key, Bucket: epoch, Span: 1, Amount: 1, Limit: 1}}); err == nil && failed >= 0 {
			continue
		}
		start, end := rl.win.bounds(at)
		a := Alert{
			Budget: m.in.name, Scope: m.in.scope, OnExceed: rl.action, Threshold: rl.alertAt[h],
			USD: rl.usd, Spent: charges[i].Spent, Limit: m.limit, PeriodStart: start, PeriodEnd: end, At: at,
		}
		verb := fmt.Sprintf("reached %d%% of its limit", a.Threshold)
		if a.Threshold >= 100 {
			verb = "is at or over its limit"
		}
		a.Message = fmt.Sprintf("budget %q (%s) %s: spent %s of %s %s; %s.",
			a.Budget, a.Scope, verb, amount(rl.usd, a.Spent), amount(rl.usd, a.Limit), rl.win.phrase(), resetClause(rl.win, at))
		dst = append(dst, a)
	}
	return dst
}

// markFired records that threshold index h (and every lower one) fired in
// epoch; it returns false when h had fired already.
func (in *instance) markFired(epoch int64, h int) bool {
	for {
		old := in.alert.Load()
		var fired uint64
		if old != nil && old.epoch == epoch {
			fired = old.fired
		}
		if fired&(1<<h) != 0 {
			return false
		}
		next := &alertState{epoch: epoch, fired: fired | (1<<(h+1) - 1)}
		if in.alert.CompareAndSwap(old, next) {
			return true
		}
	}
}
