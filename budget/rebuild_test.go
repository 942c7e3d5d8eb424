package budget

import (
	"strings"
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

// TestUnrebuiltCountsWhatTheLedgerReplayDidNot: events replayed into the
// Unrebuilt part of a policy reach exactly the budgets ClaimRebuild did
// not hand out, so each budget counts them once whichever process rebuilt
// it; users with an explicit budget stay off the default one.
func TestUnrebuiltCountsWhatTheLedgerReplayDidNot(t *testing.T) {
	t.Parallel()
	p := allot.Policy{
		Budgets: []allot.Budget{
			{Name: "team", Scope: "team:platform", LimitUSD: "100"},
			{Name: "alice", Scope: "user:alice", LimitUSD: "10"},
		},
		Defaults: allot.Defaults{UserBudget: &allot.Budget{LimitUSD: "50"}},
	}
	tests := []struct {
		name    string
		claimed allot.Policy // rebuilt from the ledger before the events were replayed
		want    []string     // budgets charged: name, or default|user
	}{
		{"all rebuilt: nothing more", p, nil},
		{"none rebuilt: everything", allot.Policy{}, []string{"team", "alice", "default|bob"}},
		{"team rebuilt", allot.Policy{Budgets: p.Budgets[:1]}, []string{"alice", "default|bob"}},
		{"alice and team rebuilt, not the default", allot.Policy{Budgets: p.Budgets}, []string{"default|bob"}},
		{"only the default rebuilt", allot.Policy{Defaults: p.Defaults, Budgets: []allot.Budget{{Name: shadowPrefix + "alice", Scope: "user:alice", LimitUSD: "10"}}},
			[]string{"team", "alice"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := NewMemoryCounters()
			r, err := New(Unrebuilt(p, tt.claimed), c, nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			at := newClock("2026-11-15T12:00:00Z").Now()
			alice := allot.Event{Time: at, Principal: allot.Principal{Team: "platform", User: "alice"}, ServedModel: "gpt-4o", Cost: allot.USD}
			bob := alice
			bob.Team, bob.User = "data", "bob"
			if err := r.Replay(ctx, []allot.Event{alice, bob}); err != nil {
				t.Fatal(err)
			}
			d := p.DefaultUserBudget()
			keys := map[string]string{
				"team":          counterKey(p.Budgets[0]),
				"alice":         counterKey(p.Budgets[1]),
				"default|alice": counterKey(*d) + "|alice",
				"default|bob":   counterKey(*d) + "|bob",
			}
			bucket, _ := newWindow(*d).cell(at)
			var got []string
			for _, name := range []string{"team", "alice", "default|alice", "default|bob"} {
				if spent, _, _ := c.Read(ctx, keys[name], bucket, 1); spent != 0 {
					got = append(got, name)
				}
			}
			if strings.Join(got, ",") != strings.Join(tt.want, ",") {
				t.Errorf("charged %v, want %v", got, tt.want)
			}
		})
	}
}
