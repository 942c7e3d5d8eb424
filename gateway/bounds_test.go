package gateway_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/budget"
)

// tinyBudget is issue #14's $1 block budget.
var tinyBudget = &allot.Policy{Budgets: []allot.Budget{{Name: "one-dollar", Scope: "user:alice", LimitUSD: "1", Period: "month"}}}

// checkBudgetsHold fails unless budgets status works and no budget has
// spent past its limit or below zero.
func checkBudgetsHold(t *testing.T, r *budget.Rationer) {
	t.Helper()
	all, err := r.Status(context.Background(), time.Now())
	if err != nil {
		t.Fatalf("budgets status: %v", err)
	}
	for _, s := range all {
		if s.Spent < 0 || s.Reserved < 0 || s.Spent > s.Limit {
			t.Errorf("budget %s: spent %d reserved %d of %d", s.Name, s.Spent, s.Reserved, s.Limit)
		}
	}
}

// TestOutputLimitPastAnyModelIsRefused is issue #14's second failure: on
// a $1 block budget, max_tokens 2^63-1 (or 1844674407370955) was admitted
// and spent ended at $3.56. Output limits past what any model writes are
// a 400 in the route's own error shape, before anything is reserved.
func TestOutputLimitPastAnyModelIsRefused(t *testing.T) {
	t.Parallel()
	h := newHarness(t, harnessOptions{policy: tinyBudget})
	ctx := context.Background()
	for _, n := range []string{"2147483648", "9007199254740992", "9223372036854775807", "1844674407370955", "100000001"} {
		for _, c := range []struct{ path, field, body string }{
			{"/v1/chat/completions", "max_tokens", `{"model":"gpt-4o","max_tokens":N,"messages":[{"role":"user","content":"hi"}]}`},
			{"/v1/chat/completions", "max_completion_tokens", `{"model":"gpt-4o","max_completion_tokens":N,"messages":[{"role":"user","content":"hi"}]}`},
			{"/v1/responses", "max_output_tokens", `{"model":"gpt-4o","max_output_tokens":N,"input":"hi"}`},
			{"/v1/messages", "max_tokens", `{"model":"claude-haiku-4-5","max_tokens":N,"messages":[{"role":"user","content":"hi"}]}`},
		} {
			resp, err := h.post(ctx, c.path, strings.Replace(c.body, "N", n, 1), nil)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var shape struct {
				Type  string `json:"type"`
				Error struct {
					Type  string  `json:"type"`
					Param *string `json:"param"`
				} `json:"error"`
			}
			_ = json.Unmarshal(body, &shape)
			anthropicShape := c.path == "/v1/messages"
			if resp.StatusCode != http.StatusBadRequest || shape.Error.Type != "invalid_request_error" ||
				(anthropicShape && shape.Type != "error") || (!anthropicShape && (shape.Error.Param == nil || *shape.Error.Param != c.field)) {
				t.Errorf("%s %s=%s: %d %s, want 400 invalid_request_error in the route's shape", c.path, c.field, n, resp.StatusCode, body)
			}
			if !strings.Contains(string(body), "at most 100000000") {
				t.Errorf("%s %s=%s: %s does not say the bound", c.path, c.field, n, body)
			}
		}
	}
	if calls := h.sim.Calls(); len(calls) != 0 {
		t.Errorf("%d refused calls reached the provider", len(calls))
	}
	checkBudgetsHold(t, h.rationer)
	// The bound itself is a valid request, refused by the budget (its
	// worst case is far past $1), not admitted.
	resp, err := h.post(ctx, "/v1/chat/completions", `{"model":"gpt-4o","max_tokens":100000000,"messages":[{"role":"user","content":"hi"}]}`, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Errorf("max_tokens at the bound on a $1 budget: %d, want 429", resp.StatusCode)
	}
	checkBudgetsHold(t, h.rationer)
}

// absurdUsage answers every chat completion with usage no call can have.
func absurdUsage(prompt, completion string) func(http.Handler) http.Handler {
	return func(http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			_, _ = io.WriteString(w, `{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"gpt-4o-2024-08-06",`+
				`"choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],`+
				`"usage":{"prompt_tokens":`+prompt+`,"completion_tokens":`+completion+`,"total_tokens":1,`+
				`"prompt_tokens_details":{"cached_tokens":`+prompt+`},"completion_tokens_details":{"reasoning_tokens":`+completion+`}}}`)
		})
	}
}

// TestAbsurdProviderUsageIsClampedAndFlagged: a provider's own usage is
// recorded (the call happened) but bounded to one call's bounds and
// flagged as estimated, so its cost can neither saturate the ledger nor
// wrap a budget.
func TestAbsurdProviderUsageIsClampedAndFlagged(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		prompt, completion string
		flagged            bool
	}{
		{"1000000000000000", "1000000000000000", true},
		{"9223372036854775807", "9223372036854775807", true},
		{strconv.FormatInt(allot.MaxCallTokens+1, 10), "3", true},
		{"-5", "1e300", false}, // not counts: read as 0, then estimated from the text
	} {
		h := newHarness(t, harnessOptions{wrapSim: absurdUsage(c.prompt, c.completion), policy: &allot.Policy{Budgets: []allot.Budget{
			{Name: "big", Scope: "org", LimitUSD: "1000000", Period: "month"},
		}}})
		resp, err := h.post(context.Background(), "/v1/chat/completions", `{"model":"gpt-4o","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		ev := h.waitEvents(1)[0]
		if err := ev.Tokens.CheckCall(); err != nil {
			t.Errorf("usage %s/%s: stored %+v: %v", c.prompt, c.completion, ev.Tokens, err)
		}
		if ev.Cost < 0 || ev.Cost > allot.MaxCallCost {
			t.Errorf("usage %s/%s: stored cost %d", c.prompt, c.completion, ev.Cost)
		}
		if c.flagged && (!ev.Estimated || ev.Tokens.Input != allot.MaxCallTokens) {
			t.Errorf("usage %s/%s: stored %+v estimated %v, want input clamped to the bound and flagged estimated", c.prompt, c.completion, ev.Tokens, ev.Estimated)
		}
		checkBudgetsHold(t, h.rationer)
	}
}
