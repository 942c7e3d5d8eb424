package gateway_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	anthropicsdk "github.com/anthropics/anthropic-sdk-go/v2"
	anthropicopt "github.com/anthropics/anthropic-sdk-go/v2/option"
	openaisdk "github.com/openai/openai-go/v3"
	openaiopt "github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/responses"

	"github.com/allot-dev/allot"
)

func (h *harness) openai(opts ...openaiopt.RequestOption) *openaisdk.Client {
	c := openaisdk.NewClient(append([]openaiopt.RequestOption{
		openaiopt.WithBaseURL(h.url + "/v1"), openaiopt.WithAPIKey(h.key), openaiopt.WithMaxRetries(0),
	}, opts...)...)
	return &c
}

func (h *harness) anthropic(opts ...anthropicopt.RequestOption) *anthropicsdk.Client {
	c := anthropicsdk.NewClient(append([]anthropicopt.RequestOption{
		anthropicopt.WithBaseURL(h.url), anthropicopt.WithAPIKey(h.key), anthropicopt.WithMaxRetries(0),
	}, opts...)...)
	return &c
}

// TestOfficialSDKsThroughGateway is the gateway's main promise: the official
// SDKs work unchanged through allot, and the ledger then holds one event per
// call whose tokens equal, kind by kind, what the provider reported.
func TestOfficialSDKsThroughGateway(t *testing.T) {
	t.Parallel()
	type result struct {
		usageSeen bool // the client itself received a usage block
	}
	tests := []struct {
		name   string
		route  allot.Route
		model  string
		stream bool
		task   string // expected task
		app    string
		call   func(ctx context.Context, h *harness) (result, error)
	}{
		{
			name: "chat", route: allot.RouteChat, model: "gpt-4o", task: "code-review", app: "openai-go",
			call: func(ctx context.Context, h *harness) (result, error) {
				c, err := h.openai().Chat.Completions.New(ctx, openaisdk.ChatCompletionNewParams{
					Model:    "gpt-4o",
					Messages: []openaisdk.ChatCompletionMessageParamUnion{openaisdk.SystemMessage(strings.Repeat("You review Go code carefully. ", 400)), openaisdk.UserMessage("Review: x := 1")},
				}, openaiopt.WithHeader("X-Allot-Task", "code-review"), openaiopt.WithHeader("x-sim-cached-tokens", "1024"), openaiopt.WithHeader("x-sim-input-tokens", "3000"))
				if err != nil {
					return result{}, err
				}
				return result{usageSeen: c.Usage.PromptTokens > 0}, nil
			},
		},
		{
			name: "chat stream, client asks for usage", route: allot.RouteChat, model: "gpt-4o-mini", stream: true, task: "untagged", app: "openai-go",
			call: func(ctx context.Context, h *harness) (result, error) {
				s := h.openai().Chat.Completions.NewStreaming(ctx, openaisdk.ChatCompletionNewParams{
					Model:         "gpt-4o-mini",
					Messages:      []openaisdk.ChatCompletionMessageParamUnion{openaisdk.UserMessage("Say hi")},
					StreamOptions: openaisdk.ChatCompletionStreamOptionsParam{IncludeUsage: openaisdk.Bool(true)},
				})
				var r result
				for s.Next() {
					if s.Current().Usage.TotalTokens > 0 {
						r.usageSeen = true
					}
				}
				return r, s.Err()
			},
		},
		{
			name: "chat stream, client did not ask for usage", route: allot.RouteChat, model: "o4-mini", stream: true, task: "untagged", app: "openai-go",
			call: func(ctx context.Context, h *harness) (result, error) {
				s := h.openai().Chat.Completions.NewStreaming(ctx, openaisdk.ChatCompletionNewParams{
					Model:    "o4-mini",
					Messages: []openaisdk.ChatCompletionMessageParamUnion{openaisdk.UserMessage("Think, then say hi")},
				})
				var r result
				for s.Next() {
					if s.Current().Usage.TotalTokens > 0 || len(s.Current().Choices) == 0 {
						r.usageSeen = true
					}
				}
				return r, s.Err()
			},
		},
		{
			name: "responses", route: allot.RouteResponses, model: "gpt-5", task: "refactoring", app: "openai-go",
			call: func(ctx context.Context, h *harness) (result, error) {
				resp, err := h.openai().Responses.New(ctx, responses.ResponseNewParams{
					Model:    "gpt-5",
					Input:    responses.ResponseNewParamsInputUnion{OfString: openaisdk.String("Rename x to count")},
					Metadata: map[string]string{"task": "refactoring"},
				})
				if err != nil {
					return result{}, err
				}
				return result{usageSeen: resp.Usage.TotalTokens > 0}, nil
			},
		},
		{
			name: "responses stream", route: allot.RouteResponses, model: "gpt-4o", stream: true, task: "untagged", app: "openai-go",
			call: func(ctx context.Context, h *harness) (result, error) {
				s := h.openai().Responses.NewStreaming(ctx, responses.ResponseNewParams{
					Model: "gpt-4o",
					Input: responses.ResponseNewParamsInputUnion{OfString: openaisdk.String("Write a haiku")},
				})
				var r result
				for s.Next() {
					if ev := s.Current(); ev.Type == "response.completed" && ev.Response.Usage.TotalTokens > 0 {
						r.usageSeen = true
					}
				}
				return r, s.Err()
			},
		},
		{
			name: "embeddings", route: allot.RouteEmbeddings, model: "text-embedding-3-small", task: "untagged", app: "openai-go",
			call: func(ctx context.Context, h *harness) (result, error) {
				e, err := h.openai().Embeddings.New(ctx, openaisdk.EmbeddingNewParams{
					Model: "text-embedding-3-small",
					Input: openaisdk.EmbeddingNewParamsInputUnion{OfArrayOfStrings: []string{"allot", "meters tokens"}},
				})
				if err != nil {
					return result{}, err
				}
				return result{usageSeen: e.Usage.PromptTokens > 0}, nil
			},
		},
		{
			name: "messages with cache reads and 5m and 1h writes", route: allot.RouteMessages, model: "claude-sonnet-4-5", task: "summarize", app: "anthropic-go",
			call: func(ctx context.Context, h *harness) (result, error) {
				m, err := h.anthropic().Messages.New(ctx, anthropicsdk.MessageNewParams{
					Model:     "claude-sonnet-4-5",
					MaxTokens: 256,
					Messages:  []anthropicsdk.MessageParam{anthropicsdk.NewUserMessage(anthropicsdk.NewTextBlock("Summarize allot"))},
				}, anthropicopt.WithHeader("X-Allot-Task", "summarize"), anthropicopt.WithHeader("x-sim-input-tokens", "9000"),
					anthropicopt.WithHeader("x-sim-cached-tokens", "4000"), anthropicopt.WithHeader("x-sim-cache-write-5m", "1500"),
					anthropicopt.WithHeader("x-sim-cache-write-1h", "2500"))
				if err != nil {
					return result{}, err
				}
				return result{usageSeen: m.Usage.CacheReadInputTokens == 4000}, nil
			},
		},
		{
			name: "messages stream", route: allot.RouteMessages, model: "claude-haiku-4-5", stream: true, task: "untagged", app: "anthropic-go",
			call: func(ctx context.Context, h *harness) (result, error) {
				s := h.anthropic().Messages.NewStreaming(ctx, anthropicsdk.MessageNewParams{
					Model:     "claude-haiku-4-5",
					MaxTokens: 256,
					Messages:  []anthropicsdk.MessageParam{anthropicsdk.NewUserMessage(anthropicsdk.NewTextBlock("Write a limerick"))},
				}, anthropicopt.WithHeader("x-sim-usage-every", "3"))
				var msg anthropicsdk.Message
				for s.Next() {
					if err := msg.Accumulate(s.Current()); err != nil {
						return result{}, err
					}
				}
				return result{usageSeen: msg.Usage.OutputTokens > 0}, s.Err()
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, harnessOptions{})
			got, err := tt.call(context.Background(), h)
			if err != nil {
				t.Fatalf("SDK call through the gateway: %v", err)
			}
			wantUsageSeen := !strings.Contains(tt.name, "did not ask")
			if got.usageSeen != wantUsageSeen {
				t.Errorf("client saw usage = %v, want %v", got.usageSeen, wantUsageSeen)
			}
			calls := h.waitSimDone()
			if len(calls) != 1 {
				t.Fatalf("simulator got %d calls, want 1", len(calls))
			}
			sim := calls[0]
			evs := h.waitEvents(1)
			ev := evs[0]
			if ev.Tokens != sim.Usage {
				t.Errorf("ledger tokens = %+v\nsimulator reported %+v", ev.Tokens, sim.Usage)
			}
			if sim.Usage.Input == 0 {
				t.Errorf("simulator reported no input; the test proves nothing")
			}
			if ev.Estimated {
				t.Errorf("event flagged estimated although the provider reported usage")
			}
			wantCost, known := h.pricer.Cost(ev.Provider, ev.ServedModel, ev.Time, sim.Usage)
			if !known || ev.Cost != wantCost || !ev.CostKnown || ev.Cost <= 0 {
				t.Errorf("cost = %s (known %v), want %s (known %v)", ev.Cost, ev.CostKnown, wantCost, known)
			}
			checks := []struct{ field, got, want string }{
				{"route", string(ev.Route), string(tt.route)},
				{"requested model", ev.RequestedModel, tt.model},
				{"user", ev.User, "alice"},
				{"team", ev.Team, "platform"},
				{"org", ev.Org, "acme"},
				{"key label", ev.KeyLabel, "laptop"},
				{"task", ev.Task, tt.task},
				{"app", ev.App, tt.app},
				{"source", string(ev.Source), string(allot.SourceGateway)},
			}
			for _, c := range checks {
				if c.got != c.want {
					t.Errorf("event %s = %q, want %q", c.field, c.got, c.want)
				}
			}
			if !strings.HasPrefix(ev.ServedModel, tt.model) {
				t.Errorf("served model %q does not extend requested %q", ev.ServedModel, tt.model)
			}
			if ev.Status != http.StatusOK || ev.Stream != tt.stream || ev.RequestFP == 0 || ev.RequestBytes == 0 || ev.Latency <= 0 || ev.TTFT <= 0 {
				t.Errorf("event status=%d stream=%v fp=%x bytes=%d latency=%v ttft=%v", ev.Status, ev.Stream, ev.RequestFP, ev.RequestBytes, ev.Latency, ev.TTFT)
			}
			// The provider saw allot's provider key, never the client's allot key.
			for _, v := range []string{sim.Header.Get("Authorization"), sim.Header.Get("X-Api-Key")} {
				if strings.Contains(v, allot.KeyPrefix) {
					t.Errorf("the client's allot key reached the provider: %q", v)
				}
			}
			if tt.stream && tt.route == allot.RouteChat && !strings.Contains(string(sim.Body), `"include_usage":true`) {
				t.Errorf("allot did not ask the provider for stream usage: %s", sim.Body)
			}
		})
	}
}
