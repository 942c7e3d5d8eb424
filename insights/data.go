package insights

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/allot-dev/allot"
)

// Period is the range insights look at: the last Days UTC days up to and
// including today, [From, To).
type Period struct {
	From time.Time `json:"from"`
	To   time.Time `json:"to"`
	Days int       `json:"days"`
}

// LastDays returns the period of the last days UTC days ending with the
// day of now.
func LastDays(now time.Time, days int) Period {
	end := now.UTC().Truncate(24 * time.Hour).Add(24 * time.Hour)
	return Period{From: end.AddDate(0, 0, -days), To: end, Days: days}
}

// Previous is the period of the same length just before p.
func (p Period) Previous() Period {
	return Period{From: p.From.AddDate(0, 0, -p.Days), To: p.From, Days: p.Days}
}

// ParseDays reads a period length such as "30d", "2w" or "30" (days);
// between 1 and 366 days.
func ParseDays(s string) (int, error) {
	t := strings.TrimSpace(strings.ToLower(s))
	mult := 1
	switch {
	case strings.HasSuffix(t, "d"):
		t = t[:len(t)-1]
	case strings.HasSuffix(t, "w"):
		t, mult = t[:len(t)-1], 7
	}
	n, err := strconv.Atoi(t)
	if err != nil || n < 1 || n*mult > 366 {
		return 0, allot.Errorf(allot.EInvalid, "period %q is not a number of days between 1 and 366, such as 30d or 2w", s)
	}
	return n * mult, nil
}

// Scope is whose insights are asked for: one user, one team, or the
// whole org when both are empty.
type Scope struct {
	User string
	Team string
}

// String names the scope as "user:NAME", "team:NAME" or "org".
func (s Scope) String() string {
	switch {
	case s.User != "":
		return "user:" + s.User
	case s.Team != "":
		return "team:" + s.Team
	}
	return "org"
}

// Data is what insights of one scope are computed from.
type Data struct {
	Now      time.Time
	Period   Period
	Scope    Scope
	Users    []allot.User         // the directory's active users
	Usage    []allot.InsightUsage // the period, the whole org (peers need everyone)
	Previous []allot.InsightUsage // the period before, the whole org (totals only)
	Prompts  []allot.PromptUsage  // the period, the scope
	Sessions []allot.SessionUsage // the period, the scope, when not in sessions (tests build Data by hand)
	sessions *sessionSet          // the period, the scope, as Load reads them
	Daily    []allot.DailySpend   // ForecastDays before today to today, the scope
}

// ForecastDays is how far back forecasts look: four weeks of weekdays,
// which also hold the two weeks before each of the last two weeks that
// anomalies are judged against.
const ForecastDays = 28

// Load reads the aggregates for scope over period from src.
func Load(ctx context.Context, src allot.InsightSource, users []allot.User, scope Scope, period Period, now time.Time) (*Data, error) {
	d := &Data{Now: now.UTC(), Period: period, Scope: scope, Users: users}
	all := allot.InsightQuery{From: period.From, To: period.To}
	own := allot.InsightQuery{From: period.From, To: period.To, User: scope.User, Team: scope.Team}
	var err error
	if d.Usage, err = src.InsightUsage(ctx, all); err != nil {
		return nil, fmt.Errorf("insights: %w", err)
	}
	prev := period.Previous()
	if d.Previous, err = src.InsightUsage(ctx, allot.InsightQuery{From: prev.From, To: prev.To, Totals: true}); err != nil {
		return nil, fmt.Errorf("insights: %w", err)
	}
	d.sessions = newSessionSet()
	callsQuery := own
	callsQuery.EachSession = func(keyID int, s *allot.SessionUsage) error { d.sessions.add(keyID, s); return nil }
	calls, err := src.InsightCalls(ctx, callsQuery)
	if err != nil {
		return nil, fmt.Errorf("insights: %w", err)
	}
	for i := range calls.Sessions { // a source that hands them over at once
		d.sessions.add(-1, &calls.Sessions[i])
	}
	d.Prompts = calls.Prompts
	today := d.Now.Truncate(24 * time.Hour)
	daily := own
	daily.From, daily.To = today.AddDate(0, 0, -ForecastDays), today.AddDate(0, 0, 1)
	if monthStart := time.Date(today.Year(), today.Month(), 1, 0, 0, 0, 0, time.UTC); monthStart.Before(daily.From) {
		daily.From = monthStart
	}
	if d.Daily, err = src.DailySpend(ctx, daily); err != nil {
		return nil, fmt.Errorf("insights: %w", err)
	}
	return d, nil
}

// inScope reports whether usage of key belongs to the scope.
func (s Scope) has(k allot.InsightKey) bool {
	return (s.User == "" || k.User == s.User) && (s.Team == "" || k.Team == s.Team)
}

// scoped returns the usage rows of the scope.
func scoped(usage []allot.InsightUsage, s Scope) []allot.InsightUsage {
	if s.User == "" && s.Team == "" {
		return usage
	}
	var out []allot.InsightUsage
	for _, u := range usage {
		if s.has(u.InsightKey) {
			out = append(out, u)
		}
	}
	return out
}
