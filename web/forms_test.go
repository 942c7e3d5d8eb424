package web

import (
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/allot-dev/allot"
)

func TestSafeNext(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"":                       "/",
		"/":                      "/",
		"/org?from=2026-11-01":   "/org?from=2026-11-01",
		"//evil.test/":           "/",
		"/\\evil.test":           "/",
		"https://evil.test/":     "/",
		"javascript:alert(1)":    "/",
		"org":                    "/",
		"/x\r\nSet-Cookie: a=b":  "/",
		"/%2F%2Fevil.test":       "/%2F%2Fevil.test",
		"/requests?before=abc#x": "/requests?before=abc#x",
	}
	for in, want := range cases {
		if got := safeNext(in); got != want {
			t.Errorf("safeNext(%q) = %q, want %q", in, got, want)
		}
	}
}

// FuzzSafeNext: whatever comes in, sign-in redirects only to a path here.
func FuzzSafeNext(f *testing.F) {
	for _, s := range []string{"/", "//x", "/\\x", "https://x", "/a?b=c", "\t/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := safeNext(s)
		u, err := url.Parse(got)
		if !strings.HasPrefix(got, "/") || strings.HasPrefix(got, "//") || strings.HasPrefix(got, "/\\") || err != nil || u.Host != "" || u.Scheme != "" {
			t.Fatalf("safeNext(%q) = %q leaves the site", s, got)
		}
	})
}

func TestParseBudgetForm(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		form url.Values
		want allot.Budget
		bad  bool
	}{
		{"full", url.Values{"name": {" platform "}, "scope": {"team:platform"}, "limit_usd": {"500"}, "period": {"month"},
			"timezone": {"Europe/London"}, "on_exceed": {"downgrade"}, "models": {"gpt-4o*, claude-opus-*"},
			"downgrade": {"gpt-4o=gpt-4o-mini, claude-opus-* -> claude-haiku-4-5"}, "alert_at": {"50, 80%,100"}},
			allot.Budget{Name: "platform", Scope: "team:platform", LimitUSD: "500", Period: "month", Timezone: "Europe/London",
				OnExceed: "downgrade", Models: []string{"gpt-4o*", "claude-opus-*"}, AlertAt: []int{50, 80, 100},
				Downgrade: map[string]string{"gpt-4o": "gpt-4o-mini", "claude-opus-*": "claude-haiku-4-5"}}, false},
		{"tokens", url.Values{"name": {"t"}, "scope": {"org"}, "limit_tokens": {"2000000"}},
			allot.Budget{Name: "t", Scope: "org", LimitTokens: 2000000}, false},
		{"no name", url.Values{"scope": {"org"}}, allot.Budget{}, true},
		{"bad tokens", url.Values{"name": {"t"}, "limit_tokens": {"-3"}}, allot.Budget{}, true},
		{"bad alerts", url.Values{"name": {"t"}, "alert_at": {"lots"}}, allot.Budget{}, true},
		{"bad downgrade", url.Values{"name": {"t"}, "downgrade": {"gpt-4o"}}, allot.Budget{}, true},
	}
	for _, c := range cases {
		got, err := parseBudgetForm(c.form)
		if c.bad {
			if allot.CodeOf(err) != allot.EInvalid {
				t.Errorf("%s: got %v, want an invalid-input error", c.name, err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s: got %+v %v, want %+v", c.name, got, err, c.want)
		}
	}
}

// FuzzBudgetForm: any form either parses or says what is wrong, never panics.
func FuzzBudgetForm(f *testing.F) {
	f.Add("platform", "team:platform", "500", "", "50,80", "gpt-4o=gpt-4o-mini", "gpt-4o*")
	f.Add("", "", "", "x", "%", "=", ",,")
	f.Fuzz(func(t *testing.T, name, scope, usd, tokens, alerts, downgrade, models string) {
		b, err := parseBudgetForm(url.Values{"name": {name}, "scope": {scope}, "limit_usd": {usd}, "limit_tokens": {tokens},
			"alert_at": {alerts}, "downgrade": {downgrade}, "models": {models}})
		if err != nil && allot.CodeOf(err) != allot.EInvalid {
			t.Fatalf("error %v is not an invalid-input error", err)
		}
		if err == nil && b.Name == "" {
			t.Fatal("a budget without a name was accepted")
		}
	})
}

func TestParseGrantForm(t *testing.T) {
	t.Parallel()
	g, name, err := parseGrantForm(url.Values{"budget": {"data-monthly"}, "usd": {"20"}, "until": {"2026-12-31"}, "reason": {"launch week"}})
	if err != nil || name != "data-monthly" || g.USD != "20" || !g.Until.Equal(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)) {
		t.Fatalf("%+v %q %v", g, name, err)
	}
	for _, bad := range []url.Values{
		{"usd": {"1"}, "reason": {"x"}},
		{"budget": {"b"}, "reason": {"x"}},
		{"budget": {"b"}, "usd": {"1"}},
		{"budget": {"b"}, "usd": {"1"}, "reason": {"x"}, "until": {"soon"}},
		{"budget": {"b"}, "tokens": {"many"}, "reason": {"x"}},
	} {
		if _, _, err := parseGrantForm(bad); allot.CodeOf(err) != allot.EInvalid {
			t.Errorf("%v: got %v", bad, err)
		}
	}
}

// FuzzGrantForm: any top-up form parses or is refused as invalid.
func FuzzGrantForm(f *testing.F) {
	f.Add("b", "20", "", "2026-12-31", "r")
	f.Fuzz(func(t *testing.T, budget, usd, tokens, until, reason string) {
		_, _, err := parseGrantForm(url.Values{"budget": {budget}, "usd": {usd}, "tokens": {tokens}, "until": {until}, "reason": {reason}})
		if err != nil && allot.CodeOf(err) != allot.EInvalid {
			t.Fatalf("error %v", err)
		}
	})
}
