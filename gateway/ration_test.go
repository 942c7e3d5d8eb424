package gateway_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	anthropicsdk "github.com/anthropics/anthropic-sdk-go/v2"
	anthropicopt "github.com/anthropics/anthropic-sdk-go/v2/option"
	openaisdk "github.com/openai/openai-go/v3"
	openaiopt "github.com/openai/openai-go/v3/option"

	"github.com/allot-dev/allot"
	"github.com/allot-dev/allot/budget"
	"github.com/allot-dev/allot/pricing"
)

// rationParams is the chat call every rationing test sends.
func rationParams(model string) openaisdk.ChatCompletionNewParams {
	return openaisdk.ChatCompletionNewParams{
		Model:     model,
		MaxTokens: openaisdk.Int(100),
		Messages:  []openaisdk.ChatCompletionMessageParamUnion{openaisdk.UserMessage("Summarize the release notes in one line.")},
	}
}

// worstCaseOf returns the cost the gateway reserves for rationParams(model):
// the body's bytes as input tokens plus max_tokens, found by sending the
// same SDK call to a recorder.
func worstCaseOf(t *testing.T, model string) allot.Money {
	t.Helper()
	var size atomic.Int64
	rec := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		size.Store(int64(len(b)))
		http.Error(w, `{"error":{"message":"recorded","type":"invalid_request_error"}}`, http.StatusBadRequest)
	}))
	defer rec.Close()
	c := openaisdk.NewClient(openaiopt.WithBaseURL(rec.URL+"/v1"), openaiopt.WithAPIKey("x"), openaiopt.WithMaxRetries(0))
	_, _ = c.Chat.Completions.New(context.Background(), rationParams(model))
	cost, ok := pricing.Default().Cost("openai", model, time.Now(), allot.Tokens{Input: size.Load(), Output: 100})
	if !ok || cost <= 0 || size.Load() == 0 {
		t.Fatalf("no worst case for %s (body %d bytes)", model, size.Load())
	}
	return cost
}

// gate holds every call at the provider until opened, counting arrivals,
// so a test can have all its calls reserved at once.
type gate struct {
	open    chan struct{}
	arrived atomic.Int64
}

func newGate() *gate { return &gate{open: make(chan struct{})} }

func (g *gate) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.arrived.Add(1)
		select {
		case <-g.open:
		case <-r.Context().Done():
			return
		}
		next.ServeHTTP(w, r)
	})
}

// TestBudgetNeverOvershootsUnderConcurrency is design invariant 2 through
// the whole gateway: 500 concurrent SDK calls against budgets that fit
// exactly k of them; exactly k reach the provider and spend stays within
// every limit. The user and team budgets both apply (hierarchy).
func TestBudgetNeverOvershootsUnderConcurrency(t *testing.T) {
	t.Parallel()
	const n = 500
	worst := worstCaseOf(t, "gpt-4o")
	const aliceK, teamK = 20, 30
	limit := func(k int) string { return (allot.Money(k)*worst + worst/2).String() }
	policy := &allot.Policy{Budgets: []allot.Budget{
		{Name: "alice-monthly", Scope: "user:alice", LimitUSD: limit(aliceK), Period: "month"},
		{Name: "platform-monthly", Scope: "team:platform", LimitUSD: limit(teamK), Period: "month"},
	}}
	g := newGate()
	h := newHarness(t, harnessOptions{policy: policy, wrapSim: g.wrap})
	ctx := context.Background()

	var ok, refused, aliceOK atomic.Int64
	var wg sync.WaitGroup
	for i := range n {
		key := h.key
		if i%2 == 1 {
			key = h.adminKey // root is in team platform too
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := h.openai(openaiopt.WithAPIKey(key)).Chat.Completions.New(ctx, rationParams("gpt-4o"))
			var apiErr *openaisdk.Error
			switch {
			case err == nil:
				ok.Add(1)
				if key == h.key {
					aliceOK.Add(1)
				}
			case errors.As(err, &apiErr) && apiErr.StatusCode == http.StatusTooManyRequests:
				refused.Add(1)
			default:
				t.Errorf("call failed: %v", err)
			}
		}()
	}
	deadline := time.Now().Add(60 * time.Second)
	for refused.Load() < n-teamK && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := g.arrived.Load(); got != teamK {
		t.Errorf("%d calls reached the provider while all were reserved, want exactly %d", got, teamK)
	}
	close(g.open)
	wg.Wait()
	if ok.Load() != teamK || refused.Load() != n-teamK {
		t.Fatalf("ok=%d refused=%d, want exactly %d ok", ok.Load(), refused.Load(), teamK)
	}
	if aliceOK.Load() > aliceK {
		t.Fatalf("alice got %d calls through, her budget fits %d", aliceOK.Load(), aliceK)
	}
	var spent, aliceSpent allot.Money
	for _, e := range h.waitEvents(teamK) {
		spent += e.Cost
		if e.User == "alice" {
			aliceSpent += e.Cost
		}
	}
	teamLimit, _ := allot.ParseUSD(limit(teamK))
	aliceLimit, _ := allot.ParseUSD(limit(aliceK))
	if spent > teamLimit || aliceSpent > aliceLimit {
		t.Fatalf("spent %s (alice %s), limits %s (alice %s)", spent, aliceSpent, teamLimit, aliceLimit)
	}
}

// recorder is a RationObserver that keeps what it hears.
type recorder struct {
	mu         sync.Mutex
	alerts     []budget.Alert
	refusals   []*allot.Error
	downgrades []string
}

func (r *recorder) Alerts(_ allot.Principal, a []budget.Alert) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.alerts = append(r.alerts, a...)
}

func (r *recorder) Refused(_ allot.Principal, _ budget.Call, err *allot.Error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.refusals = append(r.refusals, err)
}

func (r *recorder) Downgraded(_ allot.Principal, _ budget.Call, a *budget.Admission) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.downgrades = append(r.downgrades, a.Downgraded)
}

// TestRationingEndToEnd drives each rationing behaviour with an official SDK.
func TestRationingEndToEnd(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	tiny := "0.000001" // exhausted by any call

	t.Run("refusal is 429 in OpenAI shape with Retry-After", func(t *testing.T) {
		t.Parallel()
		obs := &recorder{}
		h := newHarness(t, harnessOptions{observer: obs, policy: &allot.Policy{Budgets: []allot.Budget{
			{Name: "alice-daily", Scope: "user:alice", LimitUSD: tiny, Period: "day"},
		}}})
		var resp *http.Response
		_, err := h.openai().Chat.Completions.New(ctx, rationParams("gpt-4o"), openaiopt.WithResponseInto(&resp))
		var apiErr *openaisdk.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 || apiErr.Type != "budget_exceeded" {
			t.Fatalf("want a 429 budget_exceeded, got %v", err)
		}
		for _, want := range []string{`budget "alice-daily"`, "user:alice", "it resets at"} {
			if !strings.Contains(apiErr.Message, want) {
				t.Errorf("message %q lacks %q", apiErr.Message, want)
			}
		}
		if resp.Header.Get("Retry-After") == "" {
			t.Errorf("no Retry-After on a budget refusal")
		}
		if len(obs.refusals) != 1 {
			t.Errorf("observer heard %d refusals, want 1", len(obs.refusals))
		}
		if n := len(h.sim.Calls()); n != 0 {
			t.Errorf("a refused call reached the provider (%d calls)", n)
		}
	})

	t.Run("refusal is 429 rate_limit_error in Anthropic shape", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOptions{policy: &allot.Policy{Budgets: []allot.Budget{
			{Name: "alice-daily", Scope: "user:alice", LimitUSD: tiny, Period: "day"},
		}}})
		_, err := h.anthropic().Messages.New(ctx, anthropicsdk.MessageNewParams{
			Model: "claude-haiku-4-5", MaxTokens: 100,
			Messages: []anthropicsdk.MessageParam{anthropicsdk.NewUserMessage(anthropicsdk.NewTextBlock("hi"))},
		})
		var apiErr *anthropicsdk.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 {
			t.Fatalf("want a 429, got %v", err)
		}
		raw := apiErr.RawJSON()
		if !strings.Contains(raw, `"rate_limit_error"`) || !strings.Contains(raw, "alice-daily") || !strings.Contains(err.Error(), "alice-daily") {
			t.Fatalf("error body %s does not name the budget in Anthropic's shape (SDK says %v)", raw, err)
		}
	})

	t.Run("downgrade rewrites the model and says so", func(t *testing.T) {
		t.Parallel()
		obs := &recorder{}
		h := newHarness(t, harnessOptions{observer: obs, policy: &allot.Policy{Budgets: []allot.Budget{
			{Name: "premium", Scope: "team:platform", Models: []string{"gpt-4o"}, LimitUSD: tiny, Period: "month",
				OnExceed: "downgrade", Downgrade: map[string]string{"gpt-4o": "gpt-4o-mini"}},
		}}})
		var resp *http.Response
		c, err := h.openai().Chat.Completions.New(ctx, rationParams("gpt-4o"), openaiopt.WithResponseInto(&resp))
		if err != nil {
			t.Fatalf("downgraded call failed: %v", err)
		}
		if got := resp.Header.Get("X-Allot-Downgraded"); got != "gpt-4o -> gpt-4o-mini" {
			t.Errorf("x-allot-downgraded = %q", got)
		}
		if !strings.HasPrefix(c.Model, "gpt-4o-mini") {
			t.Errorf("provider answered as %q, want gpt-4o-mini", c.Model)
		}
		ev := h.waitEvents(1)[0]
		if ev.RequestedModel != "gpt-4o" || !strings.HasPrefix(ev.ServedModel, "gpt-4o-mini") {
			t.Errorf("event models requested=%q served=%q", ev.RequestedModel, ev.ServedModel)
		}
		if len(obs.downgrades) != 1 {
			t.Errorf("observer heard %d downgrades", len(obs.downgrades))
		}
	})

	t.Run("notify budgets alert but never block", func(t *testing.T) {
		t.Parallel()
		obs := &recorder{}
		h := newHarness(t, harnessOptions{observer: obs, policy: &allot.Policy{Budgets: []allot.Budget{
			{Name: "watch", Scope: "org", LimitUSD: tiny, Period: "month", OnExceed: "notify", AlertAt: []int{50, 100}},
		}}})
		for range 3 {
			if _, err := h.openai().Chat.Completions.New(ctx, rationParams("gpt-4o")); err != nil {
				t.Fatalf("notify budget blocked a call: %v", err)
			}
		}
		h.waitEvents(3)
		obs.mu.Lock()
		defer obs.mu.Unlock()
		if len(obs.alerts) != 1 || obs.alerts[0].Threshold != 100 {
			t.Fatalf("alerts = %+v, want one at 100%%", obs.alerts)
		}
	})

	t.Run("denied model is 403 listing what is allowed", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOptions{policy: &allot.Policy{Access: []allot.ModelAccess{
			{Scope: "user:alice", AllowModels: []string{"gpt-4o-mini*", "claude-haiku-*"}},
		}}})
		_, err := h.openai().Chat.Completions.New(ctx, rationParams("gpt-4o"))
		var apiErr *openaisdk.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 403 || !strings.Contains(apiErr.Message, "gpt-4o-mini*") {
			t.Fatalf("want a 403 naming the allowed models, got %v", err)
		}
		if _, err := h.openai().Chat.Completions.New(ctx, rationParams("gpt-4o-mini")); err != nil {
			t.Fatalf("allowed model refused: %v", err)
		}
	})

	t.Run("rate limit is 429 with Retry-After", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOptions{policy: &allot.Policy{RateLimits: []allot.RateLimit{
			{Scope: "user:alice", RequestsPerMinute: 2},
		}}})
		for range 2 {
			if _, err := h.openai().Chat.Completions.New(ctx, rationParams("gpt-4o-mini")); err != nil {
				t.Fatalf("call within the rate limit failed: %v", err)
			}
		}
		var resp *http.Response
		_, err := h.openai().Chat.Completions.New(ctx, rationParams("gpt-4o-mini"), openaiopt.WithResponseInto(&resp))
		var apiErr *openaisdk.Error
		if !errors.As(err, &apiErr) || apiErr.StatusCode != 429 || !strings.Contains(apiErr.Message, "2 requests per minute") {
			t.Fatalf("want a 429 rate limit, got %v", err)
		}
		if resp.Header.Get("Retry-After") == "" {
			t.Errorf("no Retry-After on a rate limit")
		}
	})

	t.Run("top-up lets a blocked user continue", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOptions{policy: &allot.Policy{Budgets: []allot.Budget{
			{Name: "alice-monthly", Scope: "user:alice", LimitUSD: tiny, Period: "month"},
		}}})
		if _, err := h.openai().Chat.Completions.New(ctx, rationParams("gpt-4o")); err == nil {
			t.Fatalf("exhausted budget let a call through")
		}
		if err := h.rationer.Grant(allot.Grant{Budget: "alice-monthly", Amount: allot.USD, Reason: "release week"}); err != nil {
			t.Fatalf("grant: %v", err)
		}
		if _, err := h.openai().Chat.Completions.New(ctx, rationParams("gpt-4o")); err != nil {
			t.Fatalf("call after a $1 top-up failed: %v", err)
		}
	})

	t.Run("period rolls over at midnight in the budget's time zone", func(t *testing.T) {
		t.Parallel()
		loc, err := time.LoadLocation("Europe/London")
		if err != nil {
			t.Skipf("no tz database: %v", err)
		}
		var now atomic.Pointer[time.Time]
		set := func(tm time.Time) { now.Store(&tm) }
		set(time.Date(2026, 3, 29, 23, 59, 0, 0, loc)) // the day British Summer Time starts
		clock := func() time.Time { return *now.Load() }
		worst := worstCaseOf(t, "gpt-4o")
		h := newHarness(t, harnessOptions{now: clock, policy: &allot.Policy{Budgets: []allot.Budget{
			{Name: "alice-daily", Scope: "user:alice", LimitUSD: (worst + 1).String(), Period: "day", Timezone: "Europe/London"},
		}}})
		if _, err := h.openai().Chat.Completions.New(ctx, rationParams("gpt-4o")); err != nil {
			t.Fatalf("first call of the day: %v", err)
		}
		if _, err := h.openai().Chat.Completions.New(ctx, rationParams("gpt-4o")); err == nil {
			t.Fatalf("second call fit a budget sized for one")
		}
		set(time.Date(2026, 3, 30, 0, 0, 1, 0, loc))
		if _, err := h.openai().Chat.Completions.New(ctx, rationParams("gpt-4o")); err != nil {
			t.Fatalf("call after the London midnight: %v", err)
		}
	})

	t.Run("headers carry cost and remaining budget", func(t *testing.T) {
		t.Parallel()
		h := newHarness(t, harnessOptions{policy: &allot.Policy{Budgets: []allot.Budget{
			{Name: "alice-monthly", Scope: "user:alice", LimitUSD: "10", Period: "month"},
		}}})
		var resp *http.Response
		if _, err := h.openai().Chat.Completions.New(ctx, rationParams("gpt-4o"), openaiopt.WithResponseInto(&resp)); err != nil {
			t.Fatal(err)
		}
		cost, err := allot.ParseUSD(resp.Header.Get("X-Allot-Cost-Usd"))
		if err != nil || cost <= 0 {
			t.Fatalf("x-allot-cost-usd = %q", resp.Header.Get("X-Allot-Cost-Usd"))
		}
		left, err := allot.ParseUSD(resp.Header.Get("X-Allot-Budget-Remaining-Usd"))
		if err != nil || left != 10*allot.USD-cost {
			t.Fatalf("x-allot-budget-remaining-usd = %q, want %s", resp.Header.Get("X-Allot-Budget-Remaining-Usd"), 10*allot.USD-cost)
		}
		// A stream carries both in its trailer.
		stream := h.anthropic().Messages.NewStreaming(ctx, anthropicsdk.MessageNewParams{
			Model: "claude-haiku-4-5", MaxTokens: 100,
			Messages: []anthropicsdk.MessageParam{anthropicsdk.NewUserMessage(anthropicsdk.NewTextBlock("hi"))},
		}, anthropicopt.WithResponseInto(&resp))
		for stream.Next() {
		}
		if err := stream.Err(); err != nil {
			t.Fatal(err)
		}
		_ = stream.Close()
		if resp.Trailer.Get("X-Allot-Cost-Usd") == "" || resp.Trailer.Get("X-Allot-Budget-Remaining-Usd") == "" {
			t.Errorf("stream trailer = %v, want cost and remaining budget", resp.Trailer)
		}
	})
}
