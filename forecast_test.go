package allot

import (
	"strings"
	"testing"
	"time"
)

// TestProjectSpendRule: the spend so far continues at the period's pace,
// spread over at least a thirtieth of the period; exact, saturating.
func TestProjectSpendRule(t *testing.T) {
	t.Parallel()
	nov := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC) // 30 days
	dec := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	tests := []struct {
		name  string
		spent Money
		now   time.Time
		want  Money
	}{
		{"a third of the month: ×3", MustUSD("10"), nov.Add(10 * day), MustUSD("30")},
		{"pace per second", MustUSD("1"), nov.Add(3 * day), MustUSD("10")},
		{"half a day in: spread over a day", MustUSD("2"), nov.Add(12 * time.Hour), MustUSD("61")}, // $2 + $2 a day × 29.5 days
		{"exactly one day in", MustUSD("2"), nov.Add(day), MustUSD("60")},
		{"nothing spent", 0, nov.Add(day), 0},
		{"at the start", MustUSD("5"), nov, MustUSD("155")}, // $5 a day for 30 more days
		{"before the period", MustUSD("5"), nov.Add(-time.Hour), MustUSD("5")},
		{"at the end", MustUSD("5"), dec, MustUSD("5")},
		{"after the end", MustUSD("5"), dec.Add(day), MustUSD("5")},
		{"saturates", MaxMoney / 2, nov.Add(day), MaxMoney},
	}
	for _, tt := range tests {
		if got := Money(ProjectSpend(int64(tt.spent), nov, dec, tt.now)); got != tt.want {
			t.Errorf("%s: ProjectSpend(%s at %s) = %s, want %s", tt.name, tt.spent, tt.now, got, tt.want)
		}
	}
}

func TestRunsOut(t *testing.T) {
	t.Parallel()
	nov := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	dec := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	now := nov.Add(10 * 24 * time.Hour) // $10 spent: $1 a day
	at := func(d int) *time.Time { t := nov.Add(time.Duration(d) * 24 * time.Hour); return &t }
	tests := []struct {
		limit string
		want  *time.Time
	}{
		{"5", &now},  // already reached: now
		{"10", &now}, // reached exactly
		{"15", at(15)},
		{"30", at(30)}, // at the very end
		{"30.000000001", nil},
		{"0", nil},
	}
	for _, tt := range tests {
		got := RunsOut(int64(MustUSD("10")), int64(MustUSD(tt.limit)), nov, dec, now)
		if (got == nil) != (tt.want == nil) || got != nil && !got.Equal(*tt.want) {
			t.Errorf("limit $%s: runs out at %v, want %v", tt.limit, got, tt.want)
		}
	}
}

func TestForecastMonth(t *testing.T) {
	t.Parallel()
	limit := MustUSD("20")
	tests := []struct {
		name      string
		spent     Money
		now       time.Time
		projected Money
		rate      Money
		runsOut   bool
		basis     string
	}{
		{"mid month", MustUSD("15"), time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC), MustUSD("30"), MustUSD("1"), true, "This month's pace so far, $15.00 in 15.0 days ($1.00 a day), continued to Nov 30."},
		{"first hours", MustUSD("1"), time.Date(2026, 11, 1, 6, 0, 0, 0, time.UTC), MustUSD("30.75"), MustUSD("1"), true, "Too early this month for a pace: the $1.00 spent so far counts as 24 hours of spend, $1.00 a day, continued to Nov 30."},
		{"nothing yet", 0, time.Date(2026, 11, 16, 0, 0, 0, 0, time.UTC), 0, 0, false, "Nothing spent this month yet"},
	}
	for _, tt := range tests {
		f := ForecastMonth(tt.spent, tt.now, &limit)
		if f.Projected != tt.projected || f.DailyRate != tt.rate || (f.RunsOutAt != nil) != tt.runsOut || !strings.HasPrefix(f.Basis, tt.basis) {
			t.Errorf("%s: %+v, want projected %s at %s a day, runs out %v, basis %q", tt.name, f, tt.projected, tt.rate, tt.runsOut, tt.basis)
		}
		if !f.PeriodStart.Equal(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)) || !f.PeriodEnd.Equal(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) {
			t.Errorf("%s: period %s .. %s", tt.name, f.PeriodStart, f.PeriodEnd)
		}
	}
}
