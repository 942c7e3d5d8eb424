package insights

import (
	"math"
	"slices"
	"time"

	"github.com/allot-dev/allot"
)

// Forecast is the month's forecast of a scope as insights show it: the
// one forecast (allot.Forecast, the same number /api/v1/me and budgets
// show for the same scope), the limit it was checked against, the
// weekday rates of the last four weeks (to read, not projected) and the
// days far above the usual.
type Forecast struct {
	allot.Forecast
	WeekdayRates map[string]allot.Money `json:"weekday_rates_usd"` // mean spend per weekday over the last four weeks
	Limit        *allot.Money           `json:"limit_usd,omitempty"`
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
// its people) at now: this month's spend projected by the one rule
// (allot.ForecastMonth), checked against limit when set; factor is the
// anomaly threshold (at least 1).
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
	monthStart, _ := allot.MonthOf(now)
	var spent allot.Money
	for d := day(monthStart); d <= today; d++ {
		spent = spent.Plus(spend[d])
	}
	f := Forecast{Forecast: allot.ForecastMonth(spent, now, limit), Limit: limit, WeekdayRates: map[string]allot.Money{}, Anomalies: []Anomaly{}}

	// Weekday rates over the complete days of the last four weeks that
	// have history; a weekday without any shows the daily mean.
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
	var mean allot.Money
	if n > 0 {
		mean = total / allot.Money(n)
	}
	for w := range 7 {
		rate := mean
		if counts[w] > 0 {
			rate = sums[w] / allot.Money(counts[w])
		}
		f.WeekdayRates[time.Weekday(w).String()[:3]] = rate
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
