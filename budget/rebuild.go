package budget

import (
	"context"
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"

	"github.com/allot-dev/allot"
)

// counterKey names the counters of budget b. It carries a hash of what
// decides which spend b counts (scope, models, period, time zone, unit),
// so editing those starts fresh counters, rebuilt from the ledger, while
// editing the limit, alerts or action keeps the spend counted so far.
func counterKey(b allot.Budget) string {
	h := fnv.New64a()
	_, usd, _ := b.Limit()
	for _, s := range []string{b.Scope, strings.Join(b.Models, ","), b.Period, b.Timezone, strconv.FormatBool(usd)} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	return "b|" + b.Name + "#" + strconv.FormatUint(h.Sum64()&0xffffffff, 16)
}

// ClaimRebuild returns the part of policy p whose budget counters in c
// nobody has rebuilt from the ledger yet, and marks them rebuilt, so that
// of several replicas sharing counters exactly one replays each budget
// (and a process with fresh in-memory counters replays all of them). The
// caller replays the ledger into a Rationer for the returned policy over
// the same counters; rate limits are never rebuilt (they look back a
// minute).
func ClaimRebuild(ctx context.Context, p allot.Policy, c Counters) (allot.Policy, error) {
	var out allot.Policy
	claim := func(b allot.Budget) (bool, error) {
		ch := []Charge{{Key: "rebuilt|" + counterKey(b), Span: 1, Amount: 1, Limit: 1}}
		failed, err := c.Reserve(ctx, ch)
		if err != nil {
			return false, fmt.Errorf("claim rebuild of budget %q: %w", b.Name, err)
		}
		if failed >= 0 {
			return false, nil
		}
		ch[0].Actual = 1 // spent, not reserved: the mark never expires
		if err := c.Settle(ctx, ch); err != nil {
			return false, fmt.Errorf("mark budget %q rebuilt: %w", b.Name, err)
		}
		return true, nil
	}
	for _, b := range p.Budgets {
		ok, err := claim(b)
		if err != nil {
			return out, err
		}
		if ok {
			out.Budgets = append(out.Budgets, b)
		}
	}
	if d := p.DefaultUserBudget(); d != nil {
		ok, err := claim(*d)
		if err != nil {
			return out, err
		}
		if ok {
			out.Defaults.UserBudget = p.Defaults.UserBudget
			// Users with an explicit budget are not on the default one.
			for _, b := range p.Budgets {
				if kind, _, _ := allot.ParseScope(b.Scope); kind == allot.ScopeUser {
					out.Budgets = appendIfMissing(out.Budgets, b, true)
				}
			}
		}
	}
	return out, nil
}

// Unrebuilt returns the part of policy p that rebuilt (what ClaimRebuild
// returned) does not hold: the budgets whose counters were not rebuilt
// from the ledger. Replaying events into a Rationer for it counts them
// where the ledger replay did not, e.g. the calls a crashed replica had in
// flight, recovered into the ledger after other replicas had rebuilt the
// shared counters. Users with an explicit budget stay off the default one
// as in ClaimRebuild.
func Unrebuilt(p, rebuilt allot.Policy) allot.Policy {
	done := make(map[string]bool, len(rebuilt.Budgets))
	for _, b := range rebuilt.Budgets {
		done[b.Name] = true
	}
	var out allot.Policy
	for _, b := range p.Budgets {
		if !done[b.Name] {
			out.Budgets = append(out.Budgets, b)
		}
	}
	if p.DefaultUserBudget() != nil && rebuilt.Defaults.UserBudget == nil {
		out.Defaults.UserBudget = p.Defaults.UserBudget
		for _, b := range p.Budgets {
			if kind, _, _ := allot.ParseScope(b.Scope); kind == allot.ScopeUser {
				out.Budgets = appendIfMissing(out.Budgets, b, true)
			}
		}
	}
	return out
}

// appendIfMissing appends b unless a budget of its name is there; shadow
// renames it, as it is present only to keep its users off the default
// budget (its own counters were claimed elsewhere), so replaying charges
// a counter nobody reads instead of its real one.
func appendIfMissing(list []allot.Budget, b allot.Budget, shadow bool) []allot.Budget {
	for _, x := range list {
		if x.Name == b.Name {
			return list
		}
	}
	if shadow {
		b.Name = shadowPrefix + b.Name
	}
	return append(list, b)
}

// shadowPrefix renames budgets that ClaimRebuild includes only so that
// users with an explicit budget stay off the default one.
const shadowPrefix = "shadow~"
