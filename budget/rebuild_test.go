package budget

import (
	"testing"

	"github.com/allot-dev/allot"
)

// TestClaimRebuild: of several processes sharing counters, exactly one
// rebuilds each budget, and a budget whose counting changed is rebuilt
// again while one whose limit changed is not.
func TestClaimRebuild(t *testing.T) {
	t.Parallel()
	c := NewMemoryCounters()
	p := allot.Policy{
		Budgets: []allot.Budget{
			{Name: "team", Scope: "team:platform", LimitUSD: "100"},
			{Name: "alice", Scope: "user:alice", LimitUSD: "10"},
		},
		Defaults: allot.Defaults{UserBudget: &allot.Budget{LimitUSD: "50"}},
	}
	names := func(p allot.Policy) []string {
		var out []string
		for _, b := range p.Budgets {
			out = append(out, b.Name)
		}
		if p.Defaults.UserBudget != nil {
			out = append(out, "default")
		}
		return out
	}
	first, err := ClaimRebuild(ctx, p, c)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(first); len(got) != 3 || got[0] != "team" || got[1] != "alice" || got[2] != "default" {
		t.Fatalf("first claim = %v, want team, alice, default", got)
	}
	second, _ := ClaimRebuild(ctx, p, c)
	if got := names(second); len(got) != 0 {
		t.Fatalf("second claim = %v, want nothing", got)
	}
	p.Budgets[0].LimitUSD = "200"   // same counting: keep the spend
	p.Budgets[1].Scope = "user:bob" // counts other calls now: rebuild
	third, _ := ClaimRebuild(ctx, p, c)
	if got := names(third); len(got) != 1 || got[0] != "alice" {
		t.Fatalf("after edits claim = %v, want alice only", got)
	}
}

// TestDefaultRebuildKeepsExplicitUsersOff: replaying the default user
// budget must not charge it for users who have an explicit budget.
func TestDefaultRebuildKeepsExplicitUsersOff(t *testing.T) {
	t.Parallel()
	c := NewMemoryCounters()
	p := allot.Policy{
		Budgets:  []allot.Budget{{Name: "alice", Scope: "user:alice", LimitUSD: "10"}},
		Defaults: allot.Defaults{UserBudget: &allot.Budget{LimitUSD: "50"}},
	}
	if _, err := ClaimRebuild(ctx, allot.Policy{Budgets: p.Budgets}, c); err != nil {
		t.Fatal(err)
	}
	sub, err := ClaimRebuild(ctx, p, c)
	if err != nil {
		t.Fatal(err)
	}
	r, err := New(sub, c, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	at := newClock("2026-11-15T12:00:00Z").Now()
	ev := allot.Event{Time: at, Principal: allot.Principal{User: "alice"}, ServedModel: "gpt-4o", Cost: allot.USD}
	bob := ev
	bob.User = "bob"
	if err := r.Replay(ctx, []allot.Event{ev, bob}); err != nil {
		t.Fatal(err)
	}
	d := p.DefaultUserBudget()
	bucket, _ := newWindow(*d).cell(at)
	spent, _, _ := c.Read(ctx, counterKey(*d)+"|alice", bucket, 1)
	own, _, _ := c.Read(ctx, counterKey(p.Budgets[0]), bucket, 1)
	bobs, _, _ := c.Read(ctx, counterKey(*d)+"|bob", bucket, 1)
	if spent != 0 || own != 0 || bobs != int64(allot.USD) {
		t.Fatalf("replay charged alice's default %d and her own budget %d (want 0, 0) and bob's default %d (want $1)", spent, own, bobs)
	}
}
