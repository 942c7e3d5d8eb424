package insights

import (
	"math"
	"slices"
	"time"

	"github.com/allot-dev/allot"
)

// Forecast projects a scope's spend to the end of the calendar month
// (UTC) from its burn rate, weekday by weekday, says when a limit would
// run out, and flags days far above the usual.
type Forecast struct {
	PeriodStart  time.Time              `json:"period_start"`
	PeriodEnd    time.Time              `json:"period_end"`
	Spent        allot.Money            `json:"spent_usd"`     // this month so far
	Projected    allot.Money            `json:"projected_usd"` // at the end of the month
	DailyRate    allot.Money            `json:"daily_rate_usd"`
	WeekdayRates map[string]allot.Money `json:"weekday_rates_usd"` // mean spend per weekday over the last four weeks
	Limit        *allot.Money           `json:"limit_usd,omitempty"`
	RunsOutAt    *time.Time             `json:"runs_out_at"` // when the limit would be reached this month; null if not
	Anomalies    []Anomaly              `json:"anomalies"`
}

// Anomaly is a day whose spend exceeded the anomaly factor times the median
// of the 14 days before it.
type Anomaly struct {
	Day    time.Time   `json:"day"`
	Spend  allot.Money `json:"spend_usd"`
	Median allot.Money `json:"median_usd"`
	Factor float64     `json:"factor"` // spend ÷ median
}

const (
	rateDays    = 28 // weekday rates look back four weeks
	anomalyDays = 14 // days checked, and days each is compared with
)

// ForecastSpend computes the forecast of the spend in daily (summed over
// its people) at now. limit, when set, is checked for the month; factor is
// the anomaly threshold (at least 1).
func ForecastSpend(daily []allot.DailySpend, now time.Time, limit *allot.Money, factor float64) Forecast {
	now = now.UTC()
	day := func(t time.Time) int64 { return int64(math.Floor(float64(t.Unix()) / 86400)) }
	at := func(d int64) time.Time { return time.Unix(d*86400, 0).UTC() }
	spend := map[int64]allot.Money{}
	first := int64(math.MaxInt64)
	for _, d := range daily {
		k := day(d.Day)
		spend[k] = spend[k].Plus(d.Cost)
		first = min(first, k)
	}
	today := day(now)
	monthStart := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	monthEnd := monthStart.AddDate(0, 1, 0)
	f := Forecast{PeriodStart: monthStart, PeriodEnd: monthEnd, Limit: limit, WeekdayRates: map[string]allot.Money{}, Anomalies: []Anomaly{}}
	for d := day(monthStart); d <= today; d++ {
		f.Spent = f.Spent.Plus(spend[d])
	}

	// Weekday rates over the complete days of the last four weeks that
	// have history; a weekday without any falls back to the daily mean.
	var sums [7]allot.Money
	var counts [7]int64
	var total allot.Money
	var n int64
	for d := max(today-rateDays, first); d < today; d++ {
		w := at(d).Weekday()
		sums[w] = sums[w].Plus(spend[d])
		counts[w]++
		total = total.Plus(spend[d])
		n++
	}
	if n > 0 {
		f.DailyRate = total / allot.Money(n)
	}
	var rates [7]allot.Money
	for w := range rates {
		rates[w] = f.DailyRate
		if counts[w] > 0 {
			rates[w] = sums[w] / allot.Money(counts[w])
		}
		f.WeekdayRates[time.Weekday(w).String()[:3]] = rates[w]
	}

	// Project: the rest of today at its weekday's rate, then every day left.
	left := max(rates[now.Weekday()]-spend[today], 0)
	f.Projected = f.Spent + left
	for d := today + 1; d < day(monthEnd); d++ {
		f.Projected = f.Projected.Plus(rates[at(d).Weekday()])
	}

	if limit != nil {
		f.RunsOutAt = runOut(*limit, spend, day(monthStart), today, now, left, rates, day(monthEnd), at)
	}

	for d := max(today-anomalyDays+1, first); d <= today; d++ {
		var before []int64
		for b := max(d-anomalyDays, first); b < d; b++ {
			before = append(before, int64(spend[b]))
		}
		if len(before) < 7 {
			continue
		}
		med := quantile(slices.Sorted(slices.Values(before)), 50)
		k := int64(math.Round(max(factor, 1) * 100))
		if med > 0 && int64(spend[d]) > mulDiv(med, k, 100) {
			f.Anomalies = append(f.Anomalies, Anomaly{Day: at(d), Spend: spend[d], Median: allot.Money(med), Factor: float64(mulDiv(int64(spend[d]), 100, med)) / 100})
		}
	}
	return f
}

// runOut finds when the month's spend reaches limit: in a past day (spread
// evenly over it), in the rest of today, or on a coming day at its
// weekday's rate; nil if not this month.
func runOut(limit allot.Money, spend map[int64]allot.Money, monthStart, today int64, now time.Time, left allot.Money, rates [7]allot.Money, monthEnd int64, at func(int64) time.Time) *time.Time {
	within := func(start time.Time, span time.Duration, need, amount allot.Money) *time.Time {
		t := start.Add(time.Duration(mulDiv(int64(span), int64(need), int64(amount))))
		return &t
	}
	var cum allot.Money
	for d := monthStart; d <= today; d++ {
		if amount := spend[d]; amount > 0 && cum+amount >= limit {
			span := 24 * time.Hour
			if d == today {
				span = now.Sub(at(d))
			}
			return within(at(d), span, limit-cum, amount)
		}
		cum = cum.Plus(spend[d])
	}
	if left > 0 && cum+left >= limit {
		return within(now, at(today+1).Sub(now), limit-cum, left)
	}
	cum = cum.Plus(left)
	for d := today + 1; d < monthEnd; d++ {
		r := rates[at(d).Weekday()]
		if r > 0 && cum+r >= limit {
			return within(at(d), 24*time.Hour, limit-cum, r)
		}
		cum = cum.Plus(r)
	}
	return nil
}
