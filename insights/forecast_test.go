package insights

import (
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

func TestForecastIsWeekdayAware(t *testing.T) {
	t.Parallel()
	f := ForecastSpend(weekdaySpend(), testNow, nil, 3)
	// Nov 1–17: $130, today $4; the rest of today $6, then 8 weekdays and
	// 4 weekend days: $88.
	if f.Spent != 134*allot.USD || f.Projected != 228*allot.USD {
		t.Errorf("spent %s projected %s, want 134 and 228", f.Spent, f.Projected)
	}
	if f.WeekdayRates["Mon"] != 10*allot.USD || f.WeekdayRates["Sun"] != 2*allot.USD || f.DailyRate != allot.Money(216*int64(allot.USD)/28) {
		t.Errorf("rates %v daily %s", f.WeekdayRates, f.DailyRate)
	}
	if len(f.Anomalies) != 0 {
		t.Errorf("anomalies %+v in a regular month", f.Anomalies)
	}
	if f.RunsOutAt != nil {
		t.Errorf("runs out without a limit")
	}
}

func TestForecastRunOut(t *testing.T) {
	t.Parallel()
	tests := []struct {
		limit string
		want  time.Time
	}{
		{"100", time.Date(2026, 11, 13, 9, 36, 0, 0, time.UTC)}, // $96 by Nov 12, $4 of Friday's $10
		{"137", time.Date(2026, 11, 18, 18, 0, 0, 0, time.UTC)}, // $3 of today's remaining $6 over the 12 hours left
		{"145", time.Date(2026, 11, 19, 12, 0, 0, 0, time.UTC)}, // $5 of Thursday's $10
		{"228", time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)},   // exactly at the end of the month
		{"229", time.Time{}}, // lasts the month
	}
	for _, tt := range tests {
		limit := allot.MustUSD(tt.limit)
		f := ForecastSpend(weekdaySpend(), testNow, &limit, 3)
		switch {
		case tt.want.IsZero() && f.RunsOutAt != nil:
			t.Errorf("limit $%s: runs out at %s, want never", tt.limit, f.RunsOutAt)
		case !tt.want.IsZero() && (f.RunsOutAt == nil || !f.RunsOutAt.Equal(tt.want)):
			t.Errorf("limit $%s: runs out at %v, want %s", tt.limit, f.RunsOutAt, tt.want)
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
