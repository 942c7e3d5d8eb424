package budget

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/allot-dev/allot"
)

func TestStatusProjectsTheBurn(t *testing.T) {
	t.Parallel()
	clk := newClock("2026-11-11T00:00:00Z") // a third of November has passed
	r, _ := newRationer(t, allot.Policy{
		Budgets: []allot.Budget{
			{Name: "platform", Scope: "team:platform", LimitUSD: usd(20)},
			{Name: "tokens", Scope: "org", LimitTokens: 100_000, Period: "rolling:24h"},
		},
		Defaults: allot.Defaults{UserBudget: &allot.Budget{LimitUSD: "50"}},
	}, clk)
	for range 10 {
		a, err := r.Admit(ctx, call(alice, "gpt-4o"))
		if err != nil {
			t.Fatal(err)
		}
		a.Settle(a.WorstCase, worst1k)
	}
	inflight, _ := r.Admit(ctx, call(alice, "gpt-4o"))
	defer inflight.Release()

	s := statusOf(t, r, "platform", clk.Now())
	want := BudgetStatus{
		Name: "platform", Scope: "team:platform", OnExceed: "block", Period: "month", USD: true,
		Spent: int64(allot.MustUSD("0.20")), Reserved: int64(allot.MustUSD("0.02")), Limit: int64(allot.MustUSD("0.40")),
		Percent: 50, PeriodStart: mustTime("2026-11-01T00:00:00Z"), PeriodEnd: mustTime("2026-12-01T00:00:00Z"),
		Projected: int64(allot.MustUSD("0.60")),
	}
	runsOut := mustTime("2026-11-21T00:00:00Z")
	if s.RunsOutAt == nil || !s.RunsOutAt.Equal(runsOut) {
		t.Errorf("runs out at %v, want %s", s.RunsOutAt, runsOut)
	}
	s.RunsOutAt = nil
	if !s.PeriodStart.Equal(want.PeriodStart) || !s.PeriodEnd.Equal(want.PeriodEnd) {
		t.Errorf("period %s .. %s", s.PeriodStart, s.PeriodEnd)
	}
	s.PeriodStart, s.PeriodEnd = want.PeriodStart, want.PeriodEnd
	if s != want {
		t.Errorf("status\n got %+v\nwant %+v", s, want)
	}

	all, _ := r.Status(ctx, clk.Now())
	if len(all) != 3 || all[2].Name != "user-default:alice" || all[2].Scope != "user:alice" {
		t.Errorf("Status lists %+v, want the two budgets and alice's default", all)
	}
	mine, _ := r.StatusFor(ctx, bob, clk.Now())
	if len(mine) != 3 || mine[2].Name != "user-default:bob" {
		t.Errorf("StatusFor(bob) = %+v", mine)
	}
	raw, _ := json.Marshal(all[0])
	for _, field := range []string{`"spent_usd":0.200000000`, `"limit_usd":0.400000000`, `"projected_usd":0.600000000`, `"percent":50`, `"runs_out_at":"2026-11-21T00:00:00Z"`} {
		if !strings.Contains(string(raw), field) {
			t.Errorf("JSON %s lacks %s", raw, field)
		}
	}
	raw, _ = json.Marshal(all[1])
	if !strings.Contains(string(raw), `"spent_tokens":20000`) || !strings.Contains(string(raw), `"runs_out_at":null`) {
		t.Errorf("token budget JSON %s", raw)
	}
}
