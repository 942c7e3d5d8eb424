package budget

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/allot-dev/allot"
)

var ctx = context.Background()

// TestRefusalExplainsItself checks the words and Retry-After of a budget refusal.
func TestRefusalExplainsItself(t *testing.T) {
	t.Parallel()
	clk := newClock("2026-11-30T23:00:00Z")
	r, c := newRationer(t, allot.Policy{Budgets: []allot.Budget{
		{Name: "platform-monthly", Scope: "team:platform", LimitUSD: "500"},
	}}, clk)
	bucket, _ := newWindow(allot.Budget{}).cell(clk.Now())
	if err := c.AddSpent(ctx, []Charge{{Key: counterKey(allot.Budget{Name: "platform-monthly", Scope: "team:platform", LimitUSD: "500"}), Bucket: bucket, Actual: int64(allot.MustUSD("499.995"))}}); err != nil {
		t.Fatal(err)
	}
	_, err := r.Admit(ctx, call(alice, "gpt-4o"))
	code, e := codeOf(err)
	if code != allot.EBudget {
		t.Fatalf("Admit = %v, want EBudget", err)
	}
	want := `budget "platform-monthly" (team:platform) is exhausted: spent $500.00 of $500.00 this month, and the $0.005 left is less than this call's worst case of $0.02 (lower max_tokens to reserve less); it resets at 2026-12-01T00:00:00Z. Ask an admin for a top-up (allot budgets grant) or use a cheaper model.`
	if e.Message != want {
		t.Errorf("message\n got %s\nwant %s", e.Message, want)
	}
	if e.RetryAfter != 3600 {
		t.Errorf("RetryAfter = %d, want 3600 (seconds to the new month)", e.RetryAfter)
	}
}

// TestBudgetsThatApply checks which budgets count a call: scope, model filter, defaults.
func TestBudgetsThatApply(t *testing.T) {
	t.Parallel()
	policy := allot.Policy{
		Budgets: []allot.Budget{
			{Name: "org", Scope: "org", LimitUSD: "1000"},
			{Name: "platform-4o", Scope: "team:platform", Models: []string{"gpt-4o*"}, LimitUSD: "500"},
			{Name: "bob", Scope: "user:bob", LimitUSD: "20"},
			{Name: "laptops", Scope: "key:laptop", LimitTokens: 1_000_000},
			{Name: "research", Scope: "task:research", LimitUSD: "10"},
		},
		Defaults: allot.Defaults{UserBudget: &allot.Budget{LimitUSD: "50"}},
	}
	tests := []struct {
		name  string
		p     allot.Principal
		task  string
		model string
		want  string
	}{
		{"alice on gpt-4o", alice, "", "gpt-4o", "org platform-4o laptops user-default:alice"},
		{"alice on claude: the model filter leaves the team budget out", alice, "", "claude-opus-4", "org laptops user-default:alice"},
		{"bob has his own budget instead of the default", bob, "", "gpt-4o-mini", "org platform-4o bob"},
		{"a task budget", bob, "research", "gpt-4o", "org platform-4o bob research"},
		{"an intern with a laptop key", intern, "", "gpt-4o", "org laptops user-default:ivy"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, _ := newRationer(t, policy, newClock("2026-11-15T12:00:00Z"))
			c := call(tt.p, tt.model)
			c.Task = tt.task
			a, err := r.Admit(ctx, c)
			if err != nil {
				t.Fatal(err)
			}
			defer a.Release()
			if got := strings.Join(a.Budgets(), " "); got != tt.want {
				t.Errorf("budgets = %q, want %q", got, tt.want)
			}
		})
	}
}

// TestDowngrade checks that an exhausted downgrade budget serves the cheaper model.
func TestDowngrade(t *testing.T) {
	t.Parallel()
	limit := (allot.MustUSD(usd(2)) + allot.MustUSD("0.003")).String() // two gpt-4o calls and a little
	policy := allot.Policy{Budgets: []allot.Budget{{
		Name: "platform", Scope: "team:platform", LimitUSD: limit, OnExceed: allot.OnExceedDowngrade,
		Downgrade: map[string]string{"gpt-4o": "gpt-4o-mini", "gpt-4o-mini": "gpt-4o", "claude-opus-*": "claude-haiku-4-5"},
	}}}
	r, _ := newRationer(t, policy, newClock("2026-11-15T12:00:00Z"))
	steps := []struct {
		model, served, downgraded string
		code                      allot.ErrorCode
	}{
		{"gpt-4o", "gpt-4o", "", ""},
		{"gpt-4o", "gpt-4o", "", ""},
		{"gpt-4o", "gpt-4o-mini", "gpt-4o -> gpt-4o-mini", ""}, // $0.003 left: gpt-4o no longer fits, mini ($0.0012) does
		{"claude-opus-4", "", "", allot.EBudget},               // haiku's $0.01 does not fit either
		{"gpt-4o", "gpt-4o-mini", "gpt-4o -> gpt-4o-mini", ""},
		{"gpt-4o", "", "", allot.EBudget},      // mini no longer fits; its mapping back to gpt-4o is a cycle
		{"gpt-4o-mini", "", "", allot.EBudget}, // the same from the other side
	}
	for i, s := range steps {
		a, err := r.Admit(ctx, call(alice, s.model))
		if code, _ := codeOf(err); code != s.code {
			t.Fatalf("step %d: Admit(%s) = %v, want code %q", i, s.model, err, s.code)
		}
		if err != nil {
			continue
		}
		if a.ServedModel != s.served || a.Downgraded != s.downgraded {
			t.Errorf("step %d: served %q downgraded %q, want %q %q", i, a.ServedModel, a.Downgraded, s.served, s.downgraded)
		}
		if _, err := a.Settle(a.WorstCase, worst1k); err != nil {
			t.Fatal(err)
		}
	}
}

// TestNotifyNeverRefuses checks that a notify budget lets calls over its limit through and alerts once.
func TestNotifyNeverRefuses(t *testing.T) {
	t.Parallel()
	r, _ := newRationer(t, allot.Policy{Budgets: []allot.Budget{
		{Name: "watch", Scope: "org", LimitUSD: usd(3), OnExceed: allot.OnExceedNotify},
	}}, newClock("2026-11-15T12:00:00Z"))
	var alerts []Alert
	for i := range 6 {
		a, err := r.Admit(ctx, call(alice, "gpt-4o"))
		if err != nil {
			t.Fatalf("call %d refused by a notify budget: %v", i, err)
		}
		got, err := a.Settle(a.WorstCase, worst1k)
		if err != nil {
			t.Fatal(err)
		}
		alerts = append(alerts, got...)
	}
	if len(alerts) != 1 || alerts[0].Threshold != 100 || alerts[0].Spent != int64(allot.MustUSD(usd(3))) {
		t.Fatalf("alerts = %+v, want one 100%% alert when spend reached $0.06", alerts)
	}
	if s := statusOf(t, r, "watch", mustTime("2026-11-15T12:00:00Z")); s.Spent != int64(allot.MustUSD(usd(6))) {
		t.Errorf("spent %d, want all six calls counted", s.Spent)
	}
}

// TestModelAccess checks allow and deny lists and the most specific allow list winning.
func TestModelAccess(t *testing.T) {
	t.Parallel()
	policy := allot.Policy{Access: []allot.ModelAccess{
		{Scope: "team:interns", AllowModels: []string{"gpt-4o-mini", "claude-haiku-*"}},
		{Scope: "user:ivy", AllowModels: []string{"gpt-4o"}},
		{Scope: "team:platform", DenyModels: []string{"claude-opus-*"}},
		{Scope: "key:ci", AllowModels: []string{"gpt-4o-mini"}},
	}}
	kim := allot.Principal{Team: "interns", User: "kim"}
	tests := []struct {
		p     allot.Principal
		model string
		want  allot.ErrorCode
	}{
		{kim, "gpt-4o-mini", ""},
		{kim, "claude-haiku-4-5", ""},
		{kim, "gpt-4o", allot.EForbidden},
		{intern, "gpt-4o", ""},                    // ivy's own rule is more specific than her team's
		{intern, "gpt-4o-mini", allot.EForbidden}, // ... and replaces it
		{alice, "claude-opus-4", allot.EForbidden},
		{alice, "gpt-4o", ""},
		{bob, "gpt-4o", allot.EForbidden}, // bob's ci key may only use mini
		{bob, "claude-opus-4", allot.EForbidden},
	}
	r, _ := newRationer(t, policy, newClock("2026-11-15T12:00:00Z"))
	for _, tt := range tests {
		a, err := r.Admit(ctx, call(tt.p, tt.model))
		code, e := codeOf(err)
		if code != tt.want {
			t.Errorf("%s on %s: %v, want %q", tt.p.User, tt.model, err, tt.want)
			continue
		}
		if err == nil {
			a.Release()
		}
		if e != nil && tt.p == kim && !strings.Contains(e.Message, "allows only: gpt-4o-mini, claude-haiku-*") {
			t.Errorf("message %q does not list the allowed models", e.Message)
		}
	}
}

// TestRateLimits checks requests per minute, tokens per minute and calls in flight.
func TestRateLimits(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		limit  allot.RateLimit
		settle bool // settle each call before the next
		admits int  // calls admitted in a burst
		after  time.Duration
		again  int // calls admitted after waiting
	}{
		{"requests per minute", allot.RateLimit{Scope: "user:alice", RequestsPerMinute: 3}, true, 3, time.Minute, 3},
		{"tokens per minute, reserved like budgets", allot.RateLimit{Scope: "team:platform", TokensPerMinute: 5000}, false, 2, 0, 0},
		{"tokens per minute free up", allot.RateLimit{Scope: "team:platform", TokensPerMinute: 5000}, true, 2, time.Minute, 2},
		{"calls in flight", allot.RateLimit{Scope: "key:laptop", MaxConcurrent: 2}, false, 2, time.Hour, 0},
		{"calls in flight end", allot.RateLimit{Scope: "key:laptop", MaxConcurrent: 2}, true, 10, 0, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			clk := newClock("2026-11-15T12:00:01Z")
			r, _ := newRationer(t, allot.Policy{RateLimits: []allot.RateLimit{tt.limit}}, clk)
			burst := func() int {
				n := 0
				for range 10 {
					a, err := r.Admit(ctx, call(alice, "gpt-4o"))
					if err != nil {
						code, e := codeOf(err)
						if code != allot.ERateLimit || e.RetryAfter < 1 {
							t.Fatalf("Admit = %v, want ERateLimit with Retry-After", err)
						}
						break
					}
					n++
					if tt.settle {
						a.Settle(0, worst1k)
					}
				}
				return n
			}
			if got := burst(); got != tt.admits {
				t.Errorf("burst admitted %d, want %d", got, tt.admits)
			}
			clk.Advance(tt.after)
			if got := burst(); got != tt.again {
				t.Errorf("after %s admitted %d, want %d", tt.after, got, tt.again)
			}
		})
	}
}

// TestGrant checks that a grant raises the limit until its date.
func TestGrant(t *testing.T) {
	t.Parallel()
	clk := newClock("2026-11-15T12:00:00Z")
	r, _ := newRationer(t, allot.Policy{
		Budgets:  []allot.Budget{{Name: "platform", Scope: "team:platform", LimitUSD: usd(1), Period: "day"}},
		Defaults: allot.Defaults{UserBudget: &allot.Budget{LimitTokens: 2000, Period: "day"}},
	}, clk)
	admit := func() error {
		a, err := r.Admit(ctx, call(alice, "gpt-4o"))
		if err == nil {
			a.Settle(a.WorstCase, worst1k)
		}
		return err
	}
	if err := admit(); err != nil {
		t.Fatal(err)
	}
	if err := admit(); allot.CodeOf(err) != allot.EBudget {
		t.Fatalf("second call = %v, want EBudget", err)
	}
	bad := []allot.Grant{
		{Budget: "nope", Amount: allot.USD},
		{Budget: "platform", Tokens: 100},
		{Budget: "user-default:alice", Amount: allot.USD},
		{Budget: "platform", Amount: allot.USD, Until: mustTime("2026-11-01T00:00:00Z")},
	}
	for _, g := range bad {
		if err := r.Grant(g); err == nil {
			t.Errorf("Grant(%+v) accepted", g)
		}
	}
	if err := r.Grant(allot.Grant{Budget: "platform", Amount: allot.MustUSD("0.02"), Reason: "launch"}); err != nil {
		t.Fatal(err)
	}
	if err := r.Grant(allot.Grant{Budget: "user-default:alice", Tokens: 2000, Until: mustTime("2026-11-15T13:00:00Z")}); err != nil {
		t.Fatal(err)
	}
	if err := admit(); err != nil {
		t.Fatalf("after the grants: %v", err)
	}
	if got := r.Grants(clk.Now()); len(got) != 2 || !got[0].Until.Equal(mustTime("2026-11-16T00:00:00Z")) {
		t.Errorf("Grants = %+v, want both, the first until the end of the day", got)
	}
	if err := admit(); allot.CodeOf(err) != allot.EBudget {
		t.Fatalf("after the grant is used = %v, want EBudget", err)
	}
	if s := statusOf(t, r, "platform", clk.Now()); s.Limit != int64(allot.MustUSD(usd(2))) {
		t.Errorf("limit with the grant = %d, want $0.04", s.Limit)
	}
	if s := statusOf(t, r, "platform", mustTime("2026-11-16T12:00:00Z")); s.Limit != int64(allot.MustUSD(usd(1))) {
		t.Errorf("limit the next day = %d, want the grant gone", s.Limit)
	}
}

// TestReleaseReturnsTheMoney checks that Release frees the reservation and
// that Settle and Release take effect once.
func TestReleaseReturnsTheMoney(t *testing.T) {
	t.Parallel()
	clk := newClock("2026-11-15T12:00:00Z")
	r, _ := newRationer(t, allot.Policy{Budgets: []allot.Budget{{Name: "b", Scope: "org", LimitUSD: usd(1)}}}, clk)
	for range 3 {
		a, err := r.Admit(ctx, call(alice, "gpt-4o"))
		if err != nil {
			t.Fatal(err)
		}
		if s := statusOf(t, r, "b", clk.Now()); s.Reserved != int64(a.WorstCase) {
			t.Fatalf("reserved %d, want the worst case %d", s.Reserved, a.WorstCase)
		}
		if err := a.Release(); err != nil {
			t.Fatal(err)
		}
		a.Release()
		a.Settle(allot.USD, worst1k) // too late: ignored
	}
	s := statusOf(t, r, "b", clk.Now())
	if s.Spent != 0 || s.Reserved != 0 {
		t.Errorf("after releases spent %d reserved %d, want 0 0", s.Spent, s.Reserved)
	}
	a, err := r.Admit(ctx, call(alice, "gpt-4o"))
	if err != nil {
		t.Fatal(err)
	}
	a.Settle(allot.MustUSD("0.005"), allot.Tokens{Input: 10})
	a.Settle(allot.MustUSD("1"), allot.Tokens{Input: 10})
	if s := statusOf(t, r, "b", clk.Now()); s.Spent != int64(allot.MustUSD("0.005")) || s.Reserved != 0 {
		t.Errorf("after settle spent %d reserved %d, want the actual $0.005 once", s.Spent, s.Reserved)
	}
}

// TestSettleMoreThanWorstCase checks that spend is truth: an overrun is
// recorded and the budget then refuses.
func TestSettleMoreThanWorstCase(t *testing.T) {
	t.Parallel()
	clk := newClock("2026-11-15T12:00:00Z")
	r, _ := newRationer(t, allot.Policy{Budgets: []allot.Budget{{Name: "b", Scope: "org", LimitUSD: usd(3)}}}, clk)
	a, _ := r.Admit(ctx, call(alice, "gpt-4o"))
	a.Settle(allot.MustUSD("0.07"), worst1k)
	if s := statusOf(t, r, "b", clk.Now()); s.Spent != int64(allot.MustUSD("0.07")) || s.RunsOutAt == nil {
		t.Errorf("spent %d runs out %v, want $0.07 recorded and the budget out", s.Spent, s.RunsOutAt)
	}
	if _, err := r.Admit(ctx, Call{Principal: alice, Model: "gpt-4o"}); allot.CodeOf(err) != allot.EBudget {
		t.Errorf("Admit over an overrun budget = %v, want EBudget even for a zero worst case", err)
	}
}

// TestUnpricedModel checks that an unpriced model passes USD budgets while
// they have room and still counts against token budgets.
func TestUnpricedModel(t *testing.T) {
	t.Parallel()
	clk := newClock("2026-11-15T12:00:00Z")
	r, c := newRationer(t, allot.Policy{Budgets: []allot.Budget{
		{Name: "usd", Scope: "org", LimitUSD: "1"},
		{Name: "tokens", Scope: "org", LimitTokens: 5000},
	}}, clk)
	for i, want := range []allot.ErrorCode{"", "", allot.EBudget} {
		a, err := r.Admit(ctx, call(alice, "mystery-model"))
		if allot.CodeOf(err) != want {
			t.Fatalf("call %d = %v, want %q", i, err, want)
		}
		if err == nil {
			if a.CostKnown || a.WorstCase != 0 {
				t.Errorf("unpriced admission says cost known %v worst %d", a.CostKnown, a.WorstCase)
			}
			a.Settle(0, worst1k)
		}
	}
	bucket, _ := newWindow(allot.Budget{}).cell(clk.Now())
	c.AddSpent(ctx, []Charge{{Key: counterKey(allot.Budget{Name: "usd", Scope: "org", LimitUSD: "1"}), Bucket: bucket, Actual: int64(allot.USD)}})
	r2, _ := New(allot.Policy{Budgets: []allot.Budget{{Name: "usd", Scope: "org", LimitUSD: "1"}}}, c, flatPricer{}, clk.Now)
	if _, err := r2.Admit(ctx, call(alice, "mystery-model")); allot.CodeOf(err) != allot.EBudget {
		t.Errorf("unpriced call on a full USD budget = %v, want EBudget", err)
	}
}

// TestMonthRolloverInLondon checks calendar months in Europe/London across
// the spring DST change: 23:30 UTC on 31 March is already April in London.
func TestMonthRolloverInLondon(t *testing.T) {
	t.Parallel()
	clk := newClock("2026-03-31T22:30:00Z") // 23:30 BST, still March
	policy := allot.Policy{Budgets: []allot.Budget{
		{Name: "london", Scope: "org", LimitUSD: usd(2), Timezone: "Europe/London"},
		{Name: "utc", Scope: "org", LimitUSD: usd(4), OnExceed: allot.OnExceedNotify},
	}}
	r, _ := newRationer(t, policy, clk)
	spend := func() error {
		a, err := r.Admit(ctx, call(alice, "gpt-4o"))
		if err == nil {
			a.Settle(a.WorstCase, worst1k)
		}
		return err
	}
	spend()
	spend()
	if err := spend(); allot.CodeOf(err) != allot.EBudget {
		t.Fatalf("third March call = %v, want EBudget", err)
	} else if e := allot.ErrorOf(err); e.RetryAfter != 30*60 {
		t.Errorf("RetryAfter = %d, want 1800 (London midnight is 23:00 UTC)", e.RetryAfter)
	}
	clk.Set("2026-03-31T23:30:00Z") // 00:30 BST on 1 April
	if err := spend(); err != nil {
		t.Fatalf("first April call in London = %v", err)
	}
	london := statusOf(t, r, "london", clk.Now())
	if want := mustTime("2026-03-31T23:00:00Z"); !london.PeriodStart.Equal(want) || london.Spent != int64(allot.MustUSD(usd(1))) {
		t.Errorf("london period starts %s with spent %d, want %s with one call", london.PeriodStart, london.Spent, want)
	}
	if utc := statusOf(t, r, "utc", clk.Now()); utc.Spent != int64(allot.MustUSD(usd(3))) {
		t.Errorf("utc budget spent %d, want all three calls still in March", utc.Spent)
	}
}

// TestRollingWindow checks that spend leaves a rolling window after the
// window (and at most one bucket more), never before.
func TestRollingWindow(t *testing.T) {
	t.Parallel()
	clk := newClock("2026-11-15T12:00:00Z")
	r, _ := newRationer(t, allot.Policy{Budgets: []allot.Budget{
		{Name: "day", Scope: "org", LimitUSD: usd(2), Period: "rolling:24h"},
	}}, clk)
	spend := func() error {
		a, err := r.Admit(ctx, call(alice, "gpt-4o"))
		if err == nil {
			a.Settle(a.WorstCase, worst1k)
		}
		return err
	}
	spend()
	clk.Advance(6 * time.Hour)
	spend()
	steps := []struct {
		at   string
		want allot.ErrorCode
	}{
		{"2026-11-16T11:59:59Z", allot.EBudget}, // both calls within 24h
		{"2026-11-16T12:00:00Z", allot.EBudget}, // the first is exactly 24h old: its bucket still counts
		{"2026-11-16T12:24:00Z", ""},            // one 24-minute bucket later it has left
		{"2026-11-16T12:30:00Z", allot.EBudget},
	}
	for _, s := range steps {
		clk.Set(s.at)
		err := spend()
		if allot.CodeOf(err) != s.want {
			t.Fatalf("at %s: %v, want %q", s.at, err, s.want)
		}
		if err != nil && !strings.Contains(err.Error(), "window gradually") {
			t.Errorf("rolling refusal %q does not say how the window frees up", err)
		}
	}
}

// TestAlertsOncePerThresholdPerPeriod checks alert_at crossings.
func TestAlertsOncePerThresholdPerPeriod(t *testing.T) {
	t.Parallel()
	clk := newClock("2026-11-15T12:00:00Z")
	r, c := newRationer(t, allot.Policy{Budgets: []allot.Budget{
		{Name: "b", Scope: "org", LimitUSD: usd(10), Period: "day", AlertAt: []int{50, 80, 100}},
	}}, clk)
	thresholds := func() []int {
		var got []int
		for range 10 {
			a, err := r.Admit(ctx, call(alice, "gpt-4o"))
			if err != nil {
				break
			}
			for _, al := range a.Alerts {
				got = append(got, -al.Threshold) // noticed at admission
			}
			alerts, _ := a.Settle(a.WorstCase, worst1k)
			for _, al := range alerts {
				got = append(got, al.Threshold)
			}
		}
		return got
	}
	if got := thresholds(); !slices.Equal(got, []int{50, 80, 100}) {
		t.Errorf("day one alerts %v, want 50, 80, 100 once each", got)
	}
	clk.Advance(24 * time.Hour)
	bucket, _ := r.ix.all[0].rule.win.cell(clk.Now())
	c.AddSpent(ctx, []Charge{{Key: counterKey(allot.Budget{Name: "b", Scope: "org", LimitUSD: usd(10), Period: "day", AlertAt: []int{50, 80, 100}}), Bucket: bucket, Actual: int64(allot.MustUSD(usd(6)))}}) // another replica's spend
	if got := thresholds(); !slices.Equal(got, []int{-50, 80, 100}) {
		t.Errorf("day two alerts %v, want 50 noticed at admission, then 80 and 100", got)
	}
}
