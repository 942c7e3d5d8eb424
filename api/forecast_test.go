package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/api"
	"github.com/allot-dev/allot/budget"
	"github.com/allot-dev/allot/insights"
	"github.com/allot-dev/allot/pricing"
)

// forecastView is the forecast part of /me, /insights and /overview.
type forecastView struct {
	Forecast *struct {
		PeriodStart time.Time   `json:"period_start"`
		PeriodEnd   time.Time   `json:"period_end"`
		Spent       allot.Money `json:"spent_usd"`
		Projected   allot.Money `json:"projected_usd"`
		DailyRate   allot.Money `json:"daily_rate_usd"`
		RunsOutAt   *time.Time  `json:"runs_out_at"`
		Basis       string      `json:"basis"`
	} `json:"forecast"`
}

// budgetView is one budget of GET /api/v1/budgets.
type budgetView struct {
	Name      string      `json:"name"`
	Spent     allot.Money `json:"spent_usd"`
	Projected allot.Money `json:"projected_usd"`
	RunsOutAt *time.Time  `json:"runs_out_at"`
}

// TestOneForecastEverywhere: for the same person, team and org, GET
// /api/v1/me, /api/v1/insights, /api/v1/overview and the status of the
// scope's own monthly budget (GET /api/v1/budgets) give the same month
// forecast: spent, projected, pace and run-out.
func TestOneForecastEverywhere(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openSQLite(t)
	if _, err := db.ApplyOrg(ctx, usageOrg); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 20, 15, 30, 0, 0, time.UTC)
	spenders := []string{"ada", "linus", "grace", "ken", "dennis", "barbara", "edsger"}
	team := map[string]allot.User{}
	for _, u := range usageOrg.Users {
		team[u.Name] = u
	}
	var evs []allot.Event
	for i := range 900 { // 37 minutes apart: back into October
		u := team[spenders[i%len(spenders)]]
		e := allot.Event{
			ID: fmt.Sprintf("f%04d", i), Time: now.Add(-time.Duration(i) * 37 * time.Minute),
			Principal: allot.Principal{Org: "acme", Team: u.Team, User: u.Name, KeyLabel: "laptop", Role: u.Role},
			Provider:  "openai", RequestedModel: "gpt-4o", ServedModel: "gpt-4o", Route: allot.RouteChat,
			Task: "chat", App: "openai-go", Source: allot.SourceGateway, Status: 200, MaxTokens: 500,
			Tokens: allot.Tokens{Input: 1000, Output: 200},
			Cost:   allot.Money(7_000_000*int64(1+i%5)*int64(1+i%len(spenders)) + int64(i)), CostKnown: true,
		}
		evs = append(evs, e)
	}
	if _, err := db.Append(ctx, evs); err != nil {
		t.Fatal(err)
	}
	pol := allot.Policy{
		Budgets: []allot.Budget{
			{Name: "org-monthly", Scope: "org", LimitUSD: "150", Period: "month"},
			{Name: "platform-monthly", Scope: "team:platform", LimitUSD: "400", Period: "month"},
			{Name: "platform-notify", Scope: "team:platform", LimitUSD: "1", Period: "month", OnExceed: allot.OnExceedNotify}, // notifies: not a limit
			{Name: "platform-gpt", Scope: "team:platform", Models: []string{"gpt-*"}, LimitUSD: "2", Period: "month"},         // some models: not a limit of the whole spend
			{Name: "data-weekly", Scope: "team:data", LimitUSD: "3", Period: "week"},                                          // not a month
			{Name: "grace-monthly", Scope: "user:grace", LimitUSD: "12", Period: "month"},
		},
		Defaults: allot.Defaults{UserBudget: &allot.Budget{LimitUSD: "60", Period: "month"}},
	}
	r, err := budget.New(pol, budget.NewMemoryCounters(), pricing.Default(), func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Replay(ctx, evs); err != nil {
		t.Fatal(err)
	}
	h := &api.Server{
		Authenticate: func(req *http.Request) (allot.Principal, error) {
			u, ok := team[strings.TrimPrefix(req.Header.Get("Authorization"), "Bearer ")]
			if !ok {
				return allot.Principal{}, allot.Errorf(allot.EUnauthorized, "unknown key")
			}
			return allot.Principal{Org: "acme", User: u.Name, Team: u.Team, Role: u.Role, KeyLabel: "laptop"}, nil
		},
		Reports: db, People: db, Source: db, Policy: db,
		Rationer: func() *budget.Rationer { return r },
		Pricer:   func() allot.Pricer { return pricing.Default() },
		Options:  func() insights.Options { o := insights.DefaultOptions(); o.Floor = 0; return o },
		Now:      func() time.Time { return now },
	}
	mux := http.NewServeMux()
	h.Routes(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	w := &usageWorld{srv: srv, db: db, events: evs, now: now}

	var budgets []budgetView
	if code := w.call(t, "ada", "/api/v1/budgets", &budgets); code != 200 {
		t.Fatalf("budgets: %d", code)
	}
	status := map[string]budgetView{}
	for _, b := range budgets {
		status[b.Name] = b
	}
	monthStart := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

	tests := []struct {
		name   string
		caller string
		paths  []string // each carries the same forecast
		budget string   // the scope's own monthly budget
		limit  string   // its limit: what runs_out_at is measured against
		filter func(allot.Event) bool
	}{
		{"member on the default budget", "ken", []string{"/api/v1/me", "/api/v1/insights", "/api/v1/overview"}, "user-default:ken", "60", func(e allot.Event) bool { return e.User == "ken" }},
		{"member with their own budget", "grace", []string{"/api/v1/me", "/api/v1/insights", "/api/v1/overview?scope=user"}, "grace-monthly", "12", func(e allot.Event) bool { return e.User == "grace" }},
		{"lead", "barbara", []string{"/api/v1/me", "/api/v1/insights?user=barbara", "/api/v1/overview"}, "user-default:barbara", "60", func(e allot.Event) bool { return e.User == "barbara" }},
		{"admin as a person", "ada", []string{"/api/v1/me", "/api/v1/insights?user=ada", "/api/v1/overview?scope=user"}, "user-default:ada", "60", func(e allot.Event) bool { return e.User == "ada" }},
		{"team", "linus", []string{"/api/v1/insights?team=platform", "/api/v1/overview?scope=team"}, "platform-monthly", "400", func(e allot.Event) bool { return e.Team == "platform" }},
		{"org", "ada", []string{"/api/v1/insights", "/api/v1/overview?scope=org"}, "org-monthly", "150", func(allot.Event) bool { return true }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spent, _ := w.sum(tt.filter, monthStart, now.Add(time.Second))
			want := allot.ForecastMonth(spent, now, ptr(allot.MustUSD(tt.limit)))
			b, ok := status[tt.budget]
			if !ok {
				t.Fatalf("no budget %s in %+v", tt.budget, budgets)
			}
			if b.Spent != spent || b.Projected != want.Projected || !sameTime(b.RunsOutAt, want.RunsOutAt) {
				t.Errorf("budget %s: spent %s projected %s runs out %v, want %s, %s, %v", tt.budget, b.Spent, b.Projected, b.RunsOutAt, spent, want.Projected, want.RunsOutAt)
			}
			for _, path := range tt.paths {
				var v forecastView
				if code := w.call(t, tt.caller, path, &v); code != 200 || v.Forecast == nil {
					t.Fatalf("%s: %d, forecast %v", path, code, v.Forecast)
				}
				f := v.Forecast
				if f.Spent != spent || f.Projected != want.Projected || f.DailyRate != want.DailyRate || !sameTime(f.RunsOutAt, want.RunsOutAt) ||
					f.Basis != want.Basis || !f.PeriodStart.Equal(monthStart) || !f.PeriodEnd.Equal(monthStart.AddDate(0, 1, 0)) {
					t.Errorf("%s: forecast %+v, want %+v", path, *f, want)
				}
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }

func sameTime(a, b *time.Time) bool {
	return a == nil && b == nil || a != nil && b != nil && a.Equal(*b)
}
