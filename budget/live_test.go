package budget

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/allot-dev/allot"
)

// policyDB is a PolicyStore tests change by hand: a stored policy, grants
// and the ledger's hourly sums.
type policyDB struct {
	mu     sync.Mutex
	policy []byte
	grants []allot.Grant
	hours  []allot.Event
}

func (d *policyDB) Setting(_ context.Context, name string) ([]byte, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if name != allot.PolicySetting {
		return nil, nil
	}
	return d.policy, nil
}

func (d *policyDB) AddGrant(_ context.Context, g allot.Grant) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.grants = append(d.grants, g)
	return nil
}

func (d *policyDB) Grants(context.Context, time.Time) ([]allot.Grant, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]allot.Grant(nil), d.grants...), nil
}

func (d *policyDB) EachHour(_ context.Context, from, to time.Time, fn func(allot.Event) error) error {
	d.mu.Lock()
	hours := append([]allot.Event(nil), d.hours...)
	d.mu.Unlock()
	for _, e := range hours {
		if !e.Time.Before(from) && e.Time.Before(to) {
			if err := fn(e); err != nil {
				return err
			}
		}
	}
	return nil
}

func (d *policyDB) setPolicy(t *testing.T, p allot.Policy) {
	t.Helper()
	raw, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.policy = raw
}

// Live starts from the stored policy with the month's spend replayed from
// the ledger, swaps in a new rationer only when the stored policy or the
// grants change (a new budget then gets its spend replayed too), and
// refuses a stored policy it cannot read.
func TestLiveFollowsTheStoredPolicy(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	now := time.Date(2026, 11, 3, 12, 0, 0, 0, time.UTC)
	bob := allot.Principal{Org: "acme", Team: "data", User: "bob"}
	db := &policyDB{hours: []allot.Event{
		{ID: "h1", Time: now.Add(-26 * time.Hour), Principal: bob, Provider: "openai", ServedModel: "gpt-4o", Cost: 3 * allot.USD, CostKnown: true, Tokens: allot.Tokens{Input: 100}},
		{ID: "h2", Time: now.Add(-3 * time.Hour), Principal: bob, Provider: "openai", ServedModel: "gpt-4o", Cost: 2 * allot.USD, CostKnown: true, Tokens: allot.Tokens{Input: 100}},
		{ID: "old", Time: now.AddDate(0, -1, 0), Principal: bob, Provider: "openai", ServedModel: "gpt-4o", Cost: 50 * allot.USD, CostKnown: true},
	}}
	db.setPolicy(t, allot.Policy{Budgets: []allot.Budget{{Name: "bob", Scope: "user:bob", LimitUSD: "10"}}})
	live, err := NewLive(ctx, db, LiveOptions{Pricer: flatPricer{}, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Clock: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	spent := func(name string) (spent, limit int64) {
		t.Helper()
		all, err := live.Current().Status(ctx, now)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range all {
			if s.Name == name {
				return s.Spent, s.Limit
			}
		}
		t.Fatalf("no budget %s in %+v", name, all)
		return 0, 0
	}
	if s, l := spent("bob"); s != int64(5*allot.USD) || l != int64(10*allot.USD) {
		t.Errorf("at start: bob spent %d of %d, want this month's $5 of $10", s, l)
	}

	steps := []struct {
		name        string
		change      func()
		wantChanged bool
		budget      string
		spent       int64
		limit       int64
	}{
		{"nothing changed", func() {}, false, "bob", int64(5 * allot.USD), int64(10 * allot.USD)},
		{"a grant is stored", func() {
			_ = db.AddGrant(ctx, allot.Grant{Budget: "bob", Amount: 4 * allot.USD, Until: now.Add(time.Hour)})
		}, true, "bob", int64(5 * allot.USD), int64(14 * allot.USD)},
		{"a budget is added", func() {
			db.setPolicy(t, allot.Policy{Budgets: []allot.Budget{
				{Name: "bob", Scope: "user:bob", LimitUSD: "10"},
				{Name: "bob-day", Scope: "user:bob", LimitUSD: "1", Period: "rolling:24h"},
			}})
		}, true, "bob-day", int64(2 * allot.USD), int64(1 * allot.USD)},
	}
	for _, st := range steps {
		st.change()
		changed, err := live.Refresh(ctx)
		if err != nil || changed != st.wantChanged {
			t.Errorf("%s: Refresh = %t, %v; want %t", st.name, changed, err, st.wantChanged)
		}
		if s, l := spent(st.budget); s != st.spent || l != st.limit {
			t.Errorf("%s: %s spent %d of %d, want %d of %d", st.name, st.budget, s, l, st.spent, st.limit)
		}
	}
	if _, err := live.Admit(ctx, Call{Principal: bob, Provider: "openai", Model: "gpt-4o", Time: now, WorstCase: allot.Tokens{Input: 10, Output: 10}}); err == nil {
		t.Error("a call was admitted past the spent daily budget")
	}

	db.mu.Lock()
	db.policy = []byte(`{"budgets":`)
	db.mu.Unlock()
	if _, err := live.Refresh(ctx); err == nil || !strings.Contains(err.Error(), "decode stored policy") {
		t.Errorf("an undecodable stored policy: %v", err)
	}
	if s, _ := spent("bob-day"); s != int64(2*allot.USD) {
		t.Errorf("after a failed refresh the rationer in force changed: bob-day spent %d", s)
	}
}
