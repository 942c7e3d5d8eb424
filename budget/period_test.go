package budget

import (
	"testing"
	"time"

	"github.com/allot-dev/allot"
)

func TestPeriodOf(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		period, tz string
		at         string
		start, end string
	}{
		{"month in UTC", "month", "", "2026-11-15T12:00:00Z", "2026-11-01T00:00:00Z", "2026-12-01T00:00:00Z"},
		{"empty period is a month", "", "", "2026-12-31T23:59:59Z", "2026-12-01T00:00:00Z", "2027-01-01T00:00:00Z"},
		{"London March has 743 hours", "month", "Europe/London", "2026-03-15T12:00:00Z", "2026-03-01T00:00:00Z", "2026-03-31T23:00:00Z"},
		{"London April starts at 23:00 UTC", "month", "Europe/London", "2026-03-31T23:30:00Z", "2026-03-31T23:00:00Z", "2026-04-30T23:00:00Z"},
		{"London October has 745 hours", "month", "Europe/London", "2026-10-31T23:30:00Z", "2026-09-30T23:00:00Z", "2026-11-01T00:00:00Z"},
		{"London spring-forward day is 23 hours", "day", "Europe/London", "2026-03-29T12:00:00Z", "2026-03-29T00:00:00Z", "2026-03-29T23:00:00Z"},
		{"London fall-back day is 25 hours", "day", "Europe/London", "2026-10-25T12:00:00Z", "2026-10-24T23:00:00Z", "2026-10-26T00:00:00Z"},
		{"week starts Monday", "week", "", "2026-11-15T12:00:00Z", "2026-11-09T00:00:00Z", "2026-11-16T00:00:00Z"},
		{"Monday is its own week's start", "week", "", "2026-11-16T00:00:00Z", "2026-11-16T00:00:00Z", "2026-11-23T00:00:00Z"},
		{"week in Tokyo", "week", "Asia/Tokyo", "2026-11-15T16:00:00Z", "2026-11-15T15:00:00Z", "2026-11-22T15:00:00Z"},
		{"rolling 24h", "rolling:24h", "", "2026-11-15T12:00:00Z", "2026-11-14T12:00:00Z", "2026-11-15T12:00:00Z"},
		{"rolling 7d", "rolling:7d", "", "2026-11-15T12:00:00Z", "2026-11-08T12:00:00Z", "2026-11-15T12:00:00Z"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			start, end := PeriodOf(allot.Budget{Period: tt.period, Timezone: tt.tz}, mustTime(tt.at))
			wantEnd := mustTime(tt.end)
			if !start.Equal(mustTime(tt.start)) || !end.Equal(wantEnd) {
				t.Errorf("PeriodOf = %s .. %s, want %s .. %s", start.UTC().Format(time.RFC3339), end.UTC().Format(time.RFC3339), tt.start, wantEnd.Format(time.RFC3339))
			}
			if start.After(mustTime(tt.at)) || end.Before(mustTime(tt.at)) {
				t.Errorf("period %s .. %s does not contain %s", start, end, tt.at)
			}
		})
	}
}

func FuzzParsePeriod(f *testing.F) {
	for _, s := range []string{"day", "week", "month", "", "rolling:24h", "rolling:7d", "rolling:90m", "rolling:", "rolling:-1d", "year"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := allot.ParsePeriod(s)
		if err != nil {
			return
		}
		if p.Unit == "" && (p.Rolling < time.Minute || p.Rolling > 366*24*time.Hour) {
			t.Fatalf("ParsePeriod(%q) = %+v, a window out of range", s, p)
		}
		again, err := allot.ParsePeriod(p.String())
		if err != nil || again != p {
			t.Fatalf("ParsePeriod(%q).String() = %q does not parse back: %+v %v", s, p.String(), again, err)
		}
		w := newWindow(allot.Budget{Period: s})
		now := time.Unix(1_790_000_000, 0)
		start, end := w.bounds(now)
		if start.After(now) || end.Before(now) || !start.Before(end) {
			t.Fatalf("period %q: %s .. %s does not contain %s", s, start, end, now)
		}
	})
}

func FuzzParseScope(f *testing.F) {
	for _, s := range []string{"org", "team:platform", "user:alice", "key:laptop", "task:research", "team:", "org:x", "nobody:x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		kind, name, err := allot.ParseScope(s)
		if err != nil {
			return
		}
		if (kind == allot.ScopeOrg) != (name == "") {
			t.Fatalf("ParseScope(%q) = %q %q: only org has no name", s, kind, name)
		}
	})
}
