package budget

import (
	"math"
	"testing"
	"time"

	"github.com/allot-dev/allot"
)

// TestReplayRebuildsCounters checks that ledger events count against the
// budgets of their principal, model and period after a restart.
func TestReplayRebuildsCounters(t *testing.T) {
	t.Parallel()
	clk := newClock("2026-11-15T12:00:00Z")
	r, _ := newRationer(t, allot.Policy{
		Budgets: []allot.Budget{
			{Name: "platform-4o", Scope: "team:platform", Models: []string{"gpt-4o*"}, LimitUSD: "10"},
			{Name: "research", Scope: "task:research", LimitTokens: 1_000_000},
		},
		Defaults: allot.Defaults{UserBudget: &allot.Budget{LimitUSD: "50"}},
	}, clk)
	events := []allot.Event{
		{Time: mustTime("2026-11-02T09:00:00Z"), Principal: alice, ServedModel: "gpt-4o", Task: "research", Cost: allot.MustUSD("1.25"), Tokens: allot.Tokens{Input: 900, Output: 100}},
		{Time: mustTime("2026-11-03T09:00:00Z"), Principal: alice, ServedModel: "claude-opus-4", Cost: allot.MustUSD("2"), Tokens: allot.Tokens{Input: 10}},
		{Time: mustTime("2026-10-30T09:00:00Z"), Principal: alice, ServedModel: "gpt-4o", Cost: allot.MustUSD("7")}, // last month
	}
	if err := r.Replay(ctx, events); err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{
		"platform-4o":        int64(allot.MustUSD("1.25")),
		"research":           1000,
		"user-default:alice": int64(allot.MustUSD("3.25")),
	}
	for name, spent := range want {
		if s := statusOf(t, r, name, clk.Now()); s.Spent != spent {
			t.Errorf("%s spent %d after replay, want %d", name, s.Spent, spent)
		}
	}
}

// TestReplaySaturates replays a ledger whose hourly sums reached the
// bounds (stored before the ingest bounds, or past them): every budget it
// counts against is spent to the bound, never wrapped negative, and its
// status still reads.
func TestReplaySaturates(t *testing.T) {
	t.Parallel()
	clk := newClock("2026-11-15T12:00:00Z")
	r, _ := newRationer(t, allot.Policy{
		Budgets: []allot.Budget{
			{Name: "platform", Scope: "team:platform", LimitUSD: "1000"},
			{Name: "alice-tokens", Scope: "user:alice", LimitTokens: 1_000_000},
		},
	}, clk)
	var events []allot.Event
	for h := range 5 { // one synthetic event per hour, as EachHour hands them out
		events = append(events, allot.Event{Time: mustTime("2026-11-02T09:00:00Z").Add(time.Duration(h) * time.Hour), Principal: alice,
			ServedModel: "gpt-4o", Cost: allot.MaxMoney, Tokens: allot.Tokens{Input: math.MaxInt64, Output: 1e15}})
	}
	if err := r.Replay(ctx, events); err != nil {
		t.Fatal(err)
	}
	for name, spent := range map[string]int64{"platform": int64(allot.MaxMoney), "alice-tokens": math.MaxInt64} {
		if s := statusOf(t, r, name, clk.Now()); s.Spent != spent || s.Percent < 100 {
			t.Errorf("%s: spent %d (%.2f%%) after replay, want %d", name, s.Spent, s.Percent, spent)
		}
	}
}
