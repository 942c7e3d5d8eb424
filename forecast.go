package allot

import (
	"fmt"
	"time"
)

// Forecast is the one projection of a scope's spend to the end of a
// period (for people, teams and the org: the calendar month, UTC). Every
// view that shows a projection — GET /api/v1/me, budgets' status,
// insights, the org and team pages, the CLI — computes it with
// ForecastPeriod, so the same scope and period give the same number
// everywhere.
type Forecast struct {
	PeriodStart time.Time  `json:"period_start"`
	PeriodEnd   time.Time  `json:"period_end"`
	Spent       Money      `json:"spent_usd"`      // in the period so far
	Projected   Money      `json:"projected_usd"`  // at the period's end
	DailyRate   Money      `json:"daily_rate_usd"` // the pace the projection continues
	RunsOutAt   *time.Time `json:"runs_out_at"`    // when the projection reaches the limit; null without a limit or if it lasts the period
	Basis       string     `json:"basis"`          // what the projection rests on, in a sentence
}

// MonthOf returns the calendar month (UTC) that holds now, [start, end).
func MonthOf(now time.Time) (start, end time.Time) {
	now = now.UTC()
	start = time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	return start, start.AddDate(0, 1, 0)
}

// ForecastMonth is ForecastPeriod over the calendar month (UTC) of now.
func ForecastMonth(spent Money, now time.Time, limit *Money) Forecast {
	start, end := MonthOf(now)
	return ForecastPeriod(spent, start, end, now, limit)
}

// ForecastPeriod projects spent, the spend of [start, now), to end at
// the period's own pace so far (ProjectSpend), and says when it reaches
// limit (RunsOut; limit nil: never asked).
func ForecastPeriod(spent Money, start, end, now time.Time, limit *Money) Forecast {
	f := Forecast{PeriodStart: start, PeriodEnd: end, Spent: spent,
		Projected: Money(ProjectSpend(int64(spent), start, end, now))}
	pace := paceWindow(start, end, now)
	if spent > 0 && pace > 0 {
		f.DailyRate = Money(MulDivSat(int64(spent), int64(24*time.Hour), int64(pace)))
	}
	if limit != nil {
		f.RunsOutAt = RunsOut(int64(spent), int64(*limit), start, end, now)
	}
	f.Basis = basis(f, now, pace)
	return f
}

// ProjectSpend is the forecast rule, for money and tokens alike: the
// spend so far continues at the period's own pace, spent ÷ time elapsed,
// until the period ends. Until a thirtieth of the period has passed (a
// day of a month, 48 minutes of a day) the pace is spread over that
// thirtieth, so the first calls of a period do not project as if they
// were repeated every few minutes all month. Exact integer arithmetic,
// rounded down, saturating; a period that has not begun or is over keeps
// spent.
func ProjectSpend(spent int64, start, end, now time.Time) int64 {
	pace := paceWindow(start, end, now)
	if spent <= 0 || pace <= 0 || !now.Before(end) {
		return spent
	}
	return SatAdd(spent, MulDivSat(spent, int64(end.Sub(now)), int64(pace)))
}

// RunsOut returns when spend reaching limit within [start, end): now if
// spent has reached it, else the moment the pace of ProjectSpend reaches
// it; nil if it lasts the period (or limit is not positive).
func RunsOut(spent, limit int64, start, end, now time.Time) *time.Time {
	if limit <= 0 {
		return nil
	}
	if spent >= limit {
		at := now
		return &at
	}
	pace := paceWindow(start, end, now)
	if spent <= 0 || pace <= 0 || !now.Before(end) {
		return nil
	}
	need := time.Duration(MulDivSat(limit-spent, int64(pace), spent))
	if need > end.Sub(now) {
		return nil
	}
	at := now.Add(need)
	return &at
}

// paceWindow is the time the spend so far is spread over: the time
// elapsed in the period, at least a thirtieth of the period, at most the
// period; 0 before the period begins.
func paceWindow(start, end, now time.Time) time.Duration {
	period := end.Sub(start)
	if period <= 0 || now.Before(start) {
		return 0
	}
	return min(max(now.Sub(start), period/30), period)
}

// basis says in a sentence what a month's forecast rests on.
func basis(f Forecast, now time.Time, pace time.Duration) string {
	period := "period"
	if f.PeriodStart.Day() == 1 && f.PeriodEnd.Equal(f.PeriodStart.AddDate(0, 1, 0)) {
		period = "month"
	}
	last := f.PeriodEnd.Add(-time.Nanosecond).Format("Jan 2")
	switch {
	case f.Spent <= 0:
		return fmt.Sprintf("Nothing spent this %s yet, so nothing is projected.", period)
	case !now.Before(f.PeriodEnd):
		return fmt.Sprintf("The %s is over: the projection is what was spent.", period)
	case pace <= 0:
		return fmt.Sprintf("The %s has not begun: the projection is what was spent.", period)
	case now.Sub(f.PeriodStart) < pace:
		return fmt.Sprintf("Too early this %s for a pace: the %s spent so far counts as %s of spend, %s a day, continued to %s.",
			period, f.Spent.Dollars(), roundDuration(pace), f.DailyRate.Dollars(), last)
	}
	return fmt.Sprintf("This %s's pace so far, %s in %s (%s a day), continued to %s.",
		period, f.Spent.Dollars(), roundDuration(now.Sub(f.PeriodStart)), f.DailyRate.Dollars(), last)
}

// roundDuration writes d for people: "4.5 days", "6 hours", "35 minutes".
func roundDuration(d time.Duration) string {
	switch {
	case d >= 48*time.Hour:
		return fmt.Sprintf("%.1f days", d.Hours()/24)
	case d >= 2*time.Hour:
		return fmt.Sprintf("%d hours", int(d.Hours()))
	case d >= 2*time.Minute:
		return fmt.Sprintf("%d minutes", int(d.Minutes()))
	}
	return "a minute"
}
