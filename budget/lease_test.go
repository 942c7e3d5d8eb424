package budget

import (
	"strings"
	"testing"
	"time"

	"github.com/allot-dev/allot"
)

// TestAdmissionLeaseLapses admits the whole budget and never ends the
// admission (its replica died): once the lease TTL passes, the room is back.
func TestAdmissionLeaseLapses(t *testing.T) {
	t.Parallel()
	clk := newClock("2026-11-15T12:00:00Z")
	r, _ := newRationer(t, allot.Policy{
		Budgets:    []allot.Budget{{Name: "b", Scope: "org", LimitUSD: usd(1)}},
		RateLimits: []allot.RateLimit{{Scope: "user:alice", MaxConcurrent: 1}},
	}, clk)
	r.SetLeaseTTL(100 * time.Millisecond)
	began := time.Now()
	if _, err := r.Admit(ctx, call(alice, "gpt-4o")); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Admit(ctx, call(alice, "gpt-4o")); err == nil {
		t.Fatal("a second call fit a budget of one while the first holds its reservation")
	}
	for {
		a, err := r.Admit(ctx, call(alice, "gpt-4o"))
		if err == nil {
			if time.Since(began) < 100*time.Millisecond {
				t.Fatalf("the reservation lapsed after %v, before its TTL", time.Since(began))
			}
			a.Settle(a.WorstCase, worst1k)
			break
		}
		if time.Since(began) > 5*time.Second {
			t.Fatalf("the reservation of an admission never ended still holds after %v: %v", time.Since(began), err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if s := statusOf(t, r, "b", clk.Now()); s.Spent != s.Limit || s.Reserved != 0 {
		t.Errorf("spent %d reserved %d, want the one settled call and nothing reserved", s.Spent, s.Reserved)
	}
}

// TestAdmissionCharges checks what the rationer puts on each charge: one
// lease per admission, unique across rationers (replicas), the TTL, and
// when each cell stops mattering.
func TestAdmissionCharges(t *testing.T) {
	t.Parallel()
	clk := newClock("2026-11-15T12:00:00Z")
	p := allot.Policy{
		Budgets: []allot.Budget{
			{Name: "month", Scope: "org", LimitUSD: "100"},
			{Name: "day", Scope: "team:platform", LimitUSD: "100", Period: "day"},
			{Name: "rolling", Scope: "user:alice", LimitUSD: "100", Period: "rolling:24h"},
		},
		RateLimits: []allot.RateLimit{{Scope: "user:alice", RequestsPerMinute: 100, MaxConcurrent: 5}},
	}
	r1, _ := newRationer(t, p, clk)
	r2, _ := newRationer(t, p, clk)
	seen := map[string]bool{}
	for _, r := range []*Rationer{r1, r1, r2} {
		a, err := r.Admit(ctx, call(alice, "gpt-4o"))
		if err != nil {
			t.Fatal(err)
		}
		lease := a.charges[0].Lease
		if lease == "" || seen[lease] {
			t.Fatalf("lease %q is empty or reused", lease)
		}
		seen[lease] = true
		for _, ch := range a.charges {
			if ch.Lease != lease || ch.LeaseTTL != DefaultLeaseTTL {
				t.Errorf("charge %s has lease %q ttl %v, want the admission's %q and %v", ch.Key, ch.Lease, ch.LeaseTTL, lease, DefaultLeaseTTL)
			}
		}
		a.Release()
	}
	a, _ := r1.Admit(ctx, call(alice, "gpt-4o"))
	defer a.Release()
	now := clk.Now()
	want := map[string]time.Time{
		"rpm":     now.Add(time.Minute + 5*time.Second),
		"conc":    now.Add(DefaultLeaseTTL),
		"month":   mustTime("2026-11-01T00:00:00Z").Add(31*24*time.Hour + time.Hour),
		"day":     mustTime("2026-11-15T00:00:00Z").Add(25 * time.Hour),
		"rolling": now.Add(24*time.Hour + 24*time.Minute),
	}
	for _, ch := range a.charges {
		name := ""
		for n := range want {
			if strings.Contains(ch.Key, n) {
				name = n
			}
		}
		if name == "" {
			t.Errorf("unexpected charge %s", ch.Key)
			continue
		}
		if !ch.Keep.Equal(want[name]) {
			t.Errorf("charge %s keeps until %s, want %s", ch.Key, ch.Keep.UTC().Format(time.RFC3339), want[name].Format(time.RFC3339))
		}
	}
}
