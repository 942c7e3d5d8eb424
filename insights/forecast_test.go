package insights

import (
	"reflect"
	"testing"
	"time"

	"github.com/allot-dev/allot"
)

// weekdaySpend is $10 on weekdays and $2 at weekends from Oct 21 to Nov
// 17, and $4 so far on Wednesday Nov 18 (testNow).
func weekdaySpend() []allot.DailySpend {
	var out []allot.DailySpend
	for d := time.Date(2026, 10, 21, 0, 0, 0, 0, time.UTC); d.Before(time.Date(2026, 11, 18, 0, 0, 0, 0, time.UTC)); d = d.AddDate(0, 0, 1) {
		cost := 10 * allot.USD
		if d.Weekday() == time.Saturday || d.Weekday() == time.Sunday {
			cost = 2 * allot.USD
		}
		out = append(out, allot.DailySpend{Day: d, User: "alice", Cost: cost / 2}, allot.DailySpend{Day: d, User: "bob", Cost: cost / 2})
	}
	return append(out, allot.DailySpend{Day: time.Date(2026, 11, 18, 0, 0, 0, 0, time.UTC), User: "alice", Cost: 4 * allot.USD})
}

// TestForecastIsTheOneForecast: insights project the month with the one
// rule (allot.ForecastMonth) over this month's spend, and show the
// weekday rates of the last four weeks beside it.
func TestForecastIsTheOneForecast(t *testing.T) {
	t.Parallel()
	limit := allot.MustUSD("200")
	tests := []struct {
		name  string
		limit *allot.Money
	}{{"no limit", nil}, {"a limit", &limit}}
	for _, tt := range tests {
		f := ForecastSpend(weekdaySpend(), testNow, tt.limit, 3)
		// Nov 1–17: $130, today $4: $134 in 17.5 days.
		if want := allot.ForecastMonth(134*allot.USD, testNow, tt.limit); !reflect.DeepEqual(f.Forecast, want) {
			t.Errorf("%s: forecast %+v, want the one forecast %+v", tt.name, f.Forecast, want)
		}
		if f.Projected != allot.MustUSD("229.714285714") || f.DailyRate != allot.MustUSD("7.657142857") {
			t.Errorf("%s: projected %s at %s a day, want 229.714285714 at 7.657142857", tt.name, f.Projected, f.DailyRate)
		}
		if f.WeekdayRates["Mon"] != 10*allot.USD || f.WeekdayRates["Sun"] != 2*allot.USD {
			t.Errorf("%s: weekday rates %v", tt.name, f.WeekdayRates)
		}
		if len(f.Anomalies) != 0 {
			t.Errorf("%s: anomalies %+v in a regular month", tt.name, f.Anomalies)
		}
		if (f.RunsOutAt != nil) != (tt.limit != nil) {
			t.Errorf("%s: runs out at %v", tt.name, f.RunsOutAt)
		}
	}
}

func TestForecastFlagsAnomalies(t *testing.T) {
	t.Parallel()
	var daily []allot.DailySpend
	for d := testNow.Truncate(24*time.Hour).AddDate(0, 0, -30); d.Before(testNow); d = d.AddDate(0, 0, 1) {
		cost := 10 * allot.USD
		switch d.Day() {
		case 17:
			cost = 35 * allot.USD // 3.5× the usual
		case 10:
			cost = 30 * allot.USD // exactly 3×: not above
		}
		daily = append(daily, allot.DailySpend{Day: d, User: "alice", Cost: cost})
	}
	f := ForecastSpend(daily, testNow, nil, 3)
	if len(f.Anomalies) != 1 || f.Anomalies[0].Day.Day() != 17 || f.Anomalies[0].Median != 10*allot.USD || f.Anomalies[0].Factor != 3.5 {
		t.Errorf("anomalies %+v, want Nov 17 at 3.5× $10", f.Anomalies)
	}
	if f := ForecastSpend(daily, testNow, nil, 4); len(f.Anomalies) != 0 {
		t.Errorf("factor 4 flags %+v", f.Anomalies)
	}
}

func TestForecastWithoutHistory(t *testing.T) {
	t.Parallel()
	f := ForecastSpend(nil, testNow, nil, 3)
	if f.Spent != 0 || f.Projected != 0 || len(f.Anomalies) != 0 || f.PeriodEnd != time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC) {
		t.Errorf("empty forecast %+v", f)
	}
}
