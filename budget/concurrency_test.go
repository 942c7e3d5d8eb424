package budget

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/allot-dev/allot"
)

// TestConcurrentAdmitNeverOvershoots is the proof of design invariant 2:
// 500 goroutines race for a budget that fits exactly 137 worst-case calls;
// exactly 137 get in and spent never passes the limit.
func TestConcurrentAdmitNeverOvershoots(t *testing.T) {
	t.Parallel()
	const n, k = 500, 137
	tests := []struct {
		name    string
		policy  allot.Policy
		callers []allot.Principal
		want    int64            // admitted calls in total
		perUser map[string]int64 // at most this many per user, when set
	}{
		{
			name:    "one team budget",
			policy:  allot.Policy{Budgets: []allot.Budget{{Name: "platform", Scope: "team:platform", LimitUSD: usd(k)}}},
			callers: []allot.Principal{alice},
			want:    k,
		},
		{
			name: "user and team budget, the team is stricter",
			policy: allot.Policy{Budgets: []allot.Budget{
				{Name: "alice", Scope: "user:alice", LimitUSD: usd(k)},
				{Name: "platform", Scope: "team:platform", LimitUSD: usd(100)},
			}},
			callers: []allot.Principal{alice},
			want:    100,
		},
		{
			name: "user and team budget, the user is stricter",
			policy: allot.Policy{Budgets: []allot.Budget{
				{Name: "alice", Scope: "user:alice", LimitUSD: usd(k)},
				{Name: "platform", Scope: "team:platform", LimitUSD: usd(400)},
			}},
			callers: []allot.Principal{alice},
			want:    k,
		},
		{
			name: "two users under default user budgets share a team budget",
			policy: allot.Policy{
				Budgets:  []allot.Budget{{Name: "platform", Scope: "team:platform", LimitUSD: usd(k)}},
				Defaults: allot.Defaults{UserBudget: &allot.Budget{LimitUSD: usd(100)}},
			},
			callers: []allot.Principal{alice, bob},
			want:    k,
			perUser: map[string]int64{"alice": 100, "bob": 100},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := newClock("2026-11-15T12:00:00Z")
			r, _ := newRationer(t, tt.policy, clk)
			var admitted atomic.Int64
			perUser := map[string]*atomic.Int64{}
			for _, p := range tt.callers {
				perUser[p.User] = new(atomic.Int64)
			}
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range n {
				p := tt.callers[i%len(tt.callers)]
				wg.Go(func() {
					<-start
					a, err := r.Admit(context.Background(), call(p, "gpt-4o"))
					if err != nil {
						if code, _ := codeOf(err); code != allot.EBudget {
							t.Errorf("Admit: %v, want an EBudget refusal", err)
						}
						return
					}
					admitted.Add(1)
					perUser[p.User].Add(1)
					if _, err := a.Settle(a.WorstCase, worst1k); err != nil {
						t.Errorf("Settle: %v", err)
					}
				})
			}
			close(start)
			wg.Wait()
			if got := admitted.Load(); got != tt.want {
				t.Errorf("admitted %d calls, want exactly %d", got, tt.want)
			}
			for user, most := range tt.perUser {
				if got := perUser[user].Load(); got > most {
					t.Errorf("user %s got %d calls, more than their budget's %d", user, got, most)
				}
			}
			all, err := r.Status(context.Background(), clk.Now())
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range all {
				if s.Spent > s.Limit || s.Reserved != 0 {
					t.Errorf("budget %s: spent %d reserved %d of limit %d; want spent <= limit and nothing reserved", s.Name, s.Spent, s.Reserved, s.Limit)
				}
			}
		})
	}
}
