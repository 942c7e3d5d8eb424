package budget

import (
	"strings"
	"testing"
	"time"

	"github.com/allot-dev/allot"
)

func TestAlertNoticeID(t *testing.T) {
	t.Parallel()
	london, err := time.LoadLocation("Europe/London")
	if err != nil {
		t.Skipf("no time zone data: %v", err)
	}
	tests := []struct {
		name   string
		alert  Alert
		wantID string
	}{
		{"calendar month in a time zone", Alert{Budget: "platform-monthly", Threshold: 80, USD: true,
			PeriodStart: time.Date(2026, 7, 1, 0, 0, 0, 0, london), PeriodEnd: time.Date(2026, 8, 1, 0, 0, 0, 0, london),
			At: mustTime("2026-07-20T10:00:00Z")}, "threshold|platform-monthly|80|2026-06-30T23:00:00Z"},
		{"rolling window: the stretch of one window length", Alert{Budget: "r", Threshold: 100,
			PeriodStart: mustTime("2026-07-19T10:30:00Z"), PeriodEnd: mustTime("2026-07-20T10:30:00Z"),
			At: mustTime("2026-07-20T10:30:00Z")}, "threshold|r|100|2026-07-20T00:00:00Z"},
	}
	for _, tc := range tests {
		n := tc.alert.Notice()
		if n.ID != tc.wantID || n.Kind != allot.NoticeThreshold || n.Budget != tc.alert.Budget || !n.Time.Equal(tc.alert.At) {
			t.Errorf("%s: notice %+v, want id %s", tc.name, n, tc.wantID)
		}
	}
	n := Alert{Budget: "b", USD: true, Spent: int64(allot.MustUSD("40.000000001")), Limit: int64(allot.MustUSD("50"))}.Notice()
	if n.Detail["spent_usd"] != "40.000000001" || n.Detail["limit_usd"] != "50.000000000" {
		t.Errorf("USD amounts in detail: %v", n.Detail)
	}
	if n := (Alert{Budget: "b", Spent: 7, Limit: 9}).Notice(); n.Detail["spent_tokens"] != int64(7) || n.Detail["limit_tokens"] != int64(9) {
		t.Errorf("token amounts in detail: %v", n.Detail)
	}
}

// TestAlertNoticesFromTheRationer: alerts the rationer raises become
// notices whose ids name the budget, threshold and period.
func TestAlertNoticesFromTheRationer(t *testing.T) {
	t.Parallel()
	clk := newClock("2026-11-15T12:00:00Z")
	r, _ := newRationer(t, allot.Policy{Budgets: []allot.Budget{
		{Name: "b", Scope: "org", LimitUSD: usd(4), Period: "week", AlertAt: []int{50, 100}},
	}}, clk)
	var ids []string
	for range 4 {
		a, err := r.Admit(ctx, call(alice, "gpt-4o"))
		if err != nil {
			t.Fatal(err)
		}
		alerts, _ := a.Settle(a.WorstCase, worst1k)
		for _, al := range alerts {
			ids = append(ids, al.Notice().ID)
		}
	}
	want := "threshold|b|50|2026-11-09T00:00:00Z threshold|b|100|2026-11-09T00:00:00Z" // Monday
	if got := strings.Join(ids, " "); got != want {
		t.Errorf("notice ids %s\nwant %s", got, want)
	}
}

func TestRefusalNotice(t *testing.T) {
	t.Parallel()
	clk := newClock("2026-11-15T12:00:00Z")
	r, _ := newRationer(t, allot.Policy{
		Budgets: []allot.Budget{
			{Name: "platform-daily", Scope: "team:platform", LimitUSD: usd(1), Period: "day"},
			{Name: "rolling", Scope: "user:bob", LimitUSD: usd(1), Period: "rolling:24h"},
		},
		Defaults:   allot.Defaults{UserBudget: &allot.Budget{LimitUSD: usd(1), Period: "month"}},
		RateLimits: []allot.RateLimit{{Scope: "user:alice", RequestsPerMinute: 100}},
	}, clk)
	refuse := func(p allot.Principal, model string) (Call, *allot.Error) {
		t.Helper()
		c := call(p, model)
		for range 3 {
			a, err := r.Admit(ctx, c)
			if err != nil {
				_, e := codeOf(err)
				return c, e
			}
			if _, err := a.Settle(a.WorstCase, worst1k); err != nil {
				t.Fatal(err)
			}
		}
		t.Fatalf("%s was never refused", p.User)
		return c, nil
	}

	c, e := refuse(alice, "gpt-4o")
	n, ok := r.RefusalNotice(c, e)
	if !ok || n.ID != "refusal|platform-daily|2026-11-15T00:00:00Z" || n.Kind != allot.NoticeRefusal || n.User != "alice" ||
		n.Scope != "team:platform" || n.Detail["resets_at"] != "2026-11-16T00:00:00Z" || n.Detail["refusal"] != e.Message {
		t.Errorf("refusal notice %+v, %v", n, ok)
	}
	for _, want := range []string{`budget "platform-daily" (team:platform) started refusing calls`, "$0.02 today", "alice's call to gpt-4o", "allot budgets grant --budget platform-daily"} {
		if !strings.Contains(n.Message, want) {
			t.Errorf("message %q lacks %q", n.Message, want)
		}
	}
	if again, _ := r.RefusalNotice(c, e); again.ID != n.ID {
		t.Errorf("a second refusal the same day has id %s, want %s", again.ID, n.ID)
	}

	c, e = refuse(bob, "gpt-4o")
	if n, ok := r.RefusalNotice(c, e); !ok || n.ID != "refusal|platform-daily|2026-11-15T00:00:00Z" || n.User != "bob" {
		t.Errorf("bob refused by the team budget: %+v, %v", n, ok)
	}

	other := allot.Principal{Org: "acme", Team: "data", User: "dan", KeyID: "k9"}
	c, e = refuse(other, "gpt-4o")
	if n, ok := r.RefusalNotice(c, e); !ok || n.ID != "refusal|user-default:dan|2026-11-01T00:00:00Z" || n.Scope != "user:dan" {
		t.Errorf("default user budget refusal: %+v, %v", n, ok)
	}

	rolling := allot.Principal{Org: "acme", Team: "ops", User: "bob"}
	c, e = refuse(rolling, "gpt-4o")
	if n, ok := r.RefusalNotice(c, e); !ok || n.ID != "refusal|rolling|2026-11-15T00:00:00Z" {
		t.Errorf("rolling budget refusal: %+v, %v", n, ok)
	}

	for _, tc := range []struct {
		name string
		e    *allot.Error
	}{
		{"nil", nil},
		{"rate limit", &allot.Error{Code: allot.ERateLimit, Message: "rate limit for user:alice reached"}},
		{"model access", &allot.Error{Code: allot.EForbidden, Message: `budget "x"`}},
		{"a budget no longer declared", &allot.Error{Code: allot.EBudget, Message: `budget "gone" (org) is exhausted`}},
		{"a message of another shape", &allot.Error{Code: allot.EBudget, Message: "allot cannot reach its counters"}},
	} {
		if n, ok := r.RefusalNotice(call(alice, "gpt-4o"), tc.e); ok {
			t.Errorf("%s: notice %+v, want none", tc.name, n)
		}
	}
}

func TestDowngradeNotice(t *testing.T) {
	t.Parallel()
	limit := (allot.MustUSD(usd(1)) + allot.MustUSD("0.003")).String() // one gpt-4o call and a little
	r, _ := newRationer(t, allot.Policy{Budgets: []allot.Budget{{
		Name: "platform", Scope: "team:platform", LimitUSD: limit, OnExceed: allot.OnExceedDowngrade, Period: "month",
		Downgrade: map[string]string{"gpt-4o": "gpt-4o-mini"},
	}}}, newClock("2026-11-15T12:00:00Z"))
	var got []allot.Notice
	for range 3 {
		c := call(bob, "gpt-4o")
		a, err := r.Admit(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		if n, ok := a.DowngradeNotice(c); ok {
			got = append(got, n)
		} else if a.Downgraded != "" {
			t.Errorf("downgraded admission (%s) gave no notice", a.Downgraded)
		}
		if _, err := a.Settle(a.WorstCase, worst1k); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 2 {
		t.Fatalf("%d downgrade notices, want 2 (the first call was not downgraded)", len(got))
	}
	n := got[0]
	if n.ID != "downgrade|platform|2026-11-01T00:00:00Z" || got[1].ID != n.ID || n.Kind != allot.NoticeDowngrade || n.User != "bob" ||
		n.Detail["served_model"] != "gpt-4o-mini" || !strings.Contains(n.Message, "gpt-4o -> gpt-4o-mini") {
		t.Errorf("downgrade notice %+v", n)
	}
	if n, ok := (*Admission)(nil).DowngradeNotice(Call{}); ok {
		t.Errorf("nil admission gave %+v", n)
	}
}
