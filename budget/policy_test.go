package budget

import (
	"os"
	"strings"
	"testing"

	"github.com/allot-dev/allot"
	"gopkg.in/yaml.v3"
)

func TestPolicyFromYAML(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("testdata/org.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var p allot.Policy
	if err := yaml.Unmarshal(raw, &p); err != nil {
		t.Fatalf("decode org.yaml: %v", err)
	}
	if err := p.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	b := p.Budgets[0]
	if b.LimitUSD != "500" || b.Downgrade["claude-opus-*"] != "claude-haiku-4-5" || len(b.AlertAt) != 3 {
		t.Errorf("decoded budget %+v", b)
	}
	if d := p.DefaultUserBudget(); d == nil || d.Name != allot.DefaultUserBudgetName || d.LimitUSD != "50" {
		t.Errorf("default user budget %+v", d)
	}
	if p.RateLimits[0].MaxConcurrent != 4 || p.Access[0].AllowModels[1] != "claude-haiku-*" {
		t.Errorf("decoded rate limits %+v access %+v", p.RateLimits, p.Access)
	}
	if _, err := New(p, nil, nil, nil); err != nil {
		t.Errorf("New: %v", err)
	}
}

func TestPolicyValidate(t *testing.T) {
	t.Parallel()
	ok := allot.Budget{Name: "b", Scope: "org", LimitUSD: "10"}
	with := func(f func(*allot.Budget)) allot.Policy {
		b := ok
		f(&b)
		return allot.Policy{Budgets: []allot.Budget{b}}
	}
	tests := []struct {
		name   string
		policy allot.Policy
		want   string // part of the message; "" means valid
	}{
		{"valid", with(func(*allot.Budget) {}), ""},
		{"no name", with(func(b *allot.Budget) { b.Name = "" }), "has no name"},
		{"name with a colon", with(func(b *allot.Budget) { b.Name = "user-default:alice" }), "may not contain"},
		{"bad scope", with(func(b *allot.Budget) { b.Scope = "group:x" }), `budget "b": scope "group:x" is not one of`},
		{"scope without name", with(func(b *allot.Budget) { b.Scope = "team:" }), "names no team"},
		{"both limits", with(func(b *allot.Budget) { b.LimitTokens = 5 }), "not both"},
		{"no limit", with(func(b *allot.Budget) { b.LimitUSD = "" }), "no limit"},
		{"bad dollars", with(func(b *allot.Budget) { b.LimitUSD = "1e3" }), `limit_usd "1e3"`},
		{"zero dollars", with(func(b *allot.Budget) { b.LimitUSD = "0" }), "limit_usd must be positive"},
		{"bad period", with(func(b *allot.Budget) { b.Period = "year" }), `period "year"`},
		{"tiny window", with(func(b *allot.Budget) { b.Period = "rolling:5s" }), "between 1m and 366d"},
		{"bad timezone", with(func(b *allot.Budget) { b.Timezone = "Mars/Olympus" }), `timezone "Mars/Olympus"`},
		{"bad action", with(func(b *allot.Budget) { b.OnExceed = "explode" }), `on_exceed "explode"`},
		{"downgrade without map", with(func(b *allot.Budget) { b.OnExceed = "downgrade" }), "downgrade map is empty"},
		{"map without downgrade", with(func(b *allot.Budget) { b.Downgrade = map[string]string{"a": "b"} }), "on_exceed is \"block\""},
		{"bad alert", with(func(b *allot.Budget) { b.AlertAt = []int{0} }), "alert_at 0"},
		{"duplicate names", allot.Policy{Budgets: []allot.Budget{ok, ok}}, "declared twice"},
		{"default with scope", allot.Policy{Defaults: allot.Defaults{UserBudget: &allot.Budget{Scope: "org", LimitUSD: "5"}}}, "leave out scope"},
		{"default named like a budget", allot.Policy{Budgets: []allot.Budget{{Name: "user-default", Scope: "org", LimitUSD: "1"}}, Defaults: allot.Defaults{UserBudget: &allot.Budget{LimitUSD: "5"}}}, "already used"},
		{"rate limit on a task", allot.Policy{RateLimits: []allot.RateLimit{{Scope: "task:x", MaxConcurrent: 1}}}, "scope must be key"},
		{"empty rate limit", allot.Policy{RateLimits: []allot.RateLimit{{Scope: "user:a"}}}, "sets no limit"},
		{"access on org", allot.Policy{Access: []allot.ModelAccess{{Scope: "org", AllowModels: []string{"x"}}}}, "scope must be team"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.policy.Validate()
			if tt.want == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want valid", err)
				}
				return
			}
			if allot.CodeOf(err) != allot.EInvalid || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Validate = %v, want EInvalid mentioning %q", err, tt.want)
			}
		})
	}
}
