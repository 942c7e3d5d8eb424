package budget

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/allot-dev/allot"
)

// Notice turns the alert into a notice to store and deliver. Its ID is
// "threshold|BUDGET|PERCENT|PERIOD START" (RFC 3339, UTC), so each
// threshold is noticed once per period; for rolling windows the "period"
// is the stretch of one window length the alert fired in (the rationer's
// alert epoch). User is left empty: the caller knows whose call it was.
func (a Alert) Notice() allot.Notice {
	start := a.PeriodStart
	if a.PeriodEnd.Equal(a.At) { // a rolling window: bounds are (At - window, At]
		if sec := int64(a.PeriodEnd.Sub(a.PeriodStart) / time.Second); sec > 0 {
			start = time.Unix(floorDiv(a.At.Unix(), sec)*sec, 0)
		}
	}
	detail := map[string]any{
		"threshold":    a.Threshold,
		"on_exceed":    a.OnExceed,
		"period_start": a.PeriodStart.UTC().Format(time.RFC3339),
		"period_end":   a.PeriodEnd.UTC().Format(time.RFC3339),
	}
	putDetailAmount(detail, "spent", a.USD, a.Spent)
	putDetailAmount(detail, "limit", a.USD, a.Limit)
	return allot.Notice{
		ID:      noticeID(allot.NoticeThreshold, a.Budget, strconv.Itoa(a.Threshold), start),
		Time:    a.At,
		Kind:    allot.NoticeThreshold,
		Budget:  a.Budget,
		Scope:   a.Scope,
		Message: a.Message,
		Detail:  detail,
	}
}

// RefusalNotice returns the notice for a call that a budget refused: e is
// the error Admit returned for c. The ID is "refusal|BUDGET|PERIOD START",
// so a budget that refuses many calls raises one notice per period (for
// rolling windows, per stretch of one window length). ok is false when e
// is not a budget refusal (rate limits and model access raise no notice)
// or names a budget r does not have (the policy changed in between).
func (r *Rationer) RefusalNotice(c Call, e *allot.Error) (n allot.Notice, ok bool) {
	if e == nil || e.Code != allot.EBudget {
		return n, false
	}
	name, ok := refusedBudget(e.Message)
	if !ok {
		return n, false
	}
	in := r.instanceNamed(name, c.Principal.User)
	if in == nil {
		return n, false
	}
	at := c.Time
	if at.IsZero() {
		at = r.clock()
	}
	rl := in.rule
	limit := r.limitOf(r.grants.Load(), in, at)
	start, _ := rl.win.bounds(at)
	var b strings.Builder
	fmt.Fprintf(&b, "budget %q (%s) started refusing calls: its limit is %s %s, grants included; %s.",
		in.name, in.scope, amount(rl.usd, limit), rl.win.phrase(), resetClause(rl.win, at))
	if who := c.Principal.User; who != "" {
		fmt.Fprintf(&b, " The first refused was %s's call to %s.", who, c.Model)
	}
	fmt.Fprintf(&b, " Top it up with allot budgets grant --budget %s if the work must go on.", in.name)
	detail := map[string]any{
		"model":        c.Model,
		"on_exceed":    rl.action,
		"period_start": start.UTC().Format(time.RFC3339),
		"resets_at":    rl.win.nextChange(at).UTC().Format(time.RFC3339),
		"refusal":      e.Message,
	}
	putDetailAmount(detail, "limit", rl.usd, limit)
	return allot.Notice{
		ID:      noticeID(allot.NoticeRefusal, in.name, "", noticePeriod(rl.win, at)),
		Time:    at,
		Kind:    allot.NoticeRefusal,
		Budget:  in.name,
		Scope:   in.scope,
		User:    c.Principal.User,
		Message: b.String(),
		Detail:  detail,
	}, true
}

// DowngradeNotice returns the notice for an admission that a downgrade
// budget rewrote to a cheaper model: c is the call given to Admit. The ID
// is "downgrade|BUDGET|PERIOD START", one notice per budget and period.
// ok is false when the admission was not downgraded. When several
// downgrade budgets map the requested model, the first declared names it.
func (a *Admission) DowngradeNotice(c Call) (n allot.Notice, ok bool) {
	if a == nil || a.Downgraded == "" || a.r == nil {
		return n, false
	}
	r, at := a.r, a.at
	var buf [8]*instance
	ins := r.ix.budgets(buf[:0], c.Principal, c.Task, a.RequestedModel)
	sortByOrder(ins)
	var in *instance
	for _, cand := range ins {
		if cand.rule.action != allot.OnExceedDowngrade {
			continue
		}
		if to, ok := cand.rule.downgradeOf(a.RequestedModel); ok && to != a.RequestedModel {
			in = cand
			break
		}
	}
	if in == nil {
		return n, false
	}
	rl := in.rule
	limit := r.limitOf(r.grants.Load(), in, at)
	start, _ := rl.win.bounds(at)
	var b strings.Builder
	fmt.Fprintf(&b, "budget %q (%s) is full and started downgrading calls (%s): its limit is %s %s, grants included; %s.",
		in.name, in.scope, a.Downgraded, amount(rl.usd, limit), rl.win.phrase(), resetClause(rl.win, at))
	if who := c.Principal.User; who != "" {
		fmt.Fprintf(&b, " The first downgraded was %s's call.", who)
	}
	detail := map[string]any{
		"requested_model": a.RequestedModel,
		"served_model":    a.ServedModel,
		"period_start":    start.UTC().Format(time.RFC3339),
		"resets_at":       rl.win.nextChange(at).UTC().Format(time.RFC3339),
	}
	putDetailAmount(detail, "limit", rl.usd, limit)
	return allot.Notice{
		ID:      noticeID(allot.NoticeDowngrade, in.name, "", noticePeriod(rl.win, at)),
		Time:    at,
		Kind:    allot.NoticeDowngrade,
		Budget:  in.name,
		Scope:   in.scope,
		User:    c.Principal.User,
		Message: b.String(),
		Detail:  detail,
	}, true
}

// noticeID joins kind, budget, an optional threshold and the period start.
func noticeID(kind allot.NoticeKind, budget, threshold string, start time.Time) string {
	id := string(kind) + "|" + budget + "|"
	if threshold != "" {
		id += threshold + "|"
	}
	return id + start.UTC().Format(time.RFC3339)
}

// noticePeriod is the start of the stretch of time a notice at t belongs
// to: the calendar period, or for a rolling window the stretch of one
// window length (as the alert epochs count them).
func noticePeriod(w window, t time.Time) time.Time {
	if w.unit == "" {
		sec := max(int64(w.rolling/time.Second), 1)
		return time.Unix(floorDiv(t.Unix(), sec)*sec, 0).UTC()
	}
	start, _ := w.bounds(t)
	return start.UTC()
}

// putDetailAmount stores v in a notice's detail as name_usd (the exact
// decimal as a string, so it survives JSON round trips) or name_tokens.
func putDetailAmount(detail map[string]any, name string, usd bool, v int64) {
	if usd {
		detail[name+"_usd"] = allot.Money(v).String()
	} else {
		detail[name+"_tokens"] = v
	}
}

// refusedBudget reads the budget name from a refusal message, which
// budgetError starts with `budget "NAME"`.
func refusedBudget(msg string) (string, bool) {
	rest, ok := strings.CutPrefix(msg, "budget ")
	if !ok {
		return "", false
	}
	q, err := strconv.QuotedPrefix(rest)
	if err != nil {
		return "", false
	}
	name, err := strconv.Unquote(q)
	return name, err == nil && name != ""
}

// instanceNamed finds the budget instance called name as it applies to
// user: an explicit budget, or user's instance of the default user budget.
func (r *Rationer) instanceNamed(name, user string) *instance {
	for _, in := range r.ix.all {
		if in.name == name {
			return in
		}
	}
	if d := r.ix.defaultFor(user); d != nil && d.name == name {
		return d
	}
	return nil
}
