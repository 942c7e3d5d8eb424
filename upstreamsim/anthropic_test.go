//go:build !nosdk

package upstreamsim

import (
	"context"
	"strings"
	"testing"

	allot "github.com/allot-dev/allot"
	"github.com/anthropics/anthropic-sdk-go/v2"
)

func msgParams(model string, system []anthropic.TextBlockParam, user ...anthropic.ContentBlockParamUnion) anthropic.MessageNewParams {
	return anthropic.MessageNewParams{
		Model: anthropic.Model(model), MaxTokens: 1024, System: system,
		Messages: []anthropic.MessageParam{anthropic.NewUserMessage(user...)},
	}
}

// cachedText is a text block with a cache_control breakpoint ("" ttl: 5m).
func cachedText(text string, ttl anthropic.CacheControlEphemeralTTL) anthropic.TextBlockParam {
	cc := anthropic.NewCacheControlEphemeralParam()
	cc.TTL = ttl
	return anthropic.TextBlockParam{Text: text, CacheControl: cc}
}

// sendMessage calls the Messages API, streamed or not; the streamed answer
// is put together with the SDK's own accumulator, and each event's shape is
// checked on the way.
func sendMessage(t *testing.T, client *anthropic.Client, streamed bool, p anthropic.MessageNewParams, headers ...string) (*anthropic.Message, []string) {
	t.Helper()
	if !streamed {
		m, err := client.Messages.New(context.Background(), p, ahdr(headers...)...)
		if err != nil {
			t.Fatal(err)
		}
		requireFields(t, "message", m.RawJSON(), anthropic.Message{})
		requireFields(t, "usage", m.Usage.RawJSON(), anthropic.Usage{})
		return m, nil
	}
	stream := client.Messages.NewStreaming(context.Background(), p, ahdr(headers...)...)
	var m anthropic.Message
	var types []string
	for stream.Next() {
		ev := stream.Current()
		types = append(types, ev.Type)
		if err := m.Accumulate(ev); err != nil {
			t.Fatalf("accumulate %s: %v", ev.Type, err)
		}
		switch ev.Type {
		case "message_start":
			requireFields(t, ev.Type, ev.Message.RawJSON(), anthropic.Message{})
			requireFields(t, ev.Type+" usage", ev.Message.Usage.RawJSON(), anthropic.Usage{})
		case "message_delta":
			d := ev.AsMessageDelta()
			requireFields(t, ev.Type, d.RawJSON(), anthropic.MessageDeltaEvent{})
			requireFields(t, ev.Type+" delta", d.Delta.RawJSON(), anthropic.MessageDeltaEventDelta{})
			requireFields(t, ev.Type+" usage", d.Usage.RawJSON(), anthropic.MessageDeltaUsage{})
		case "content_block_start":
			requireFields(t, ev.Type, ev.RawJSON(), anthropic.ContentBlockStartEvent{})
		case "content_block_delta":
			requireFields(t, ev.Type, ev.RawJSON(), anthropic.ContentBlockDeltaEvent{})
		}
	}
	if err := stream.Err(); err != nil {
		t.Fatal(err)
	}
	if len(types) < 4 || types[0] != "message_start" || types[len(types)-1] != "message_stop" || types[len(types)-2] != "message_delta" {
		t.Errorf("event sequence %v", types)
	}
	return &m, types
}

func TestMessagesUsageMatchesWhatTheSDKParses(t *testing.T) {
	t.Parallel()
	hi := anthropic.NewTextBlock("Summarize our spend this week.")
	thinking := msgParams("claude-sonnet-4-5", nil, hi)
	thinking.Thinking = anthropic.ThinkingConfigParamOfEnabled(100)
	short := msgParams("claude-haiku-4-5", nil, hi)
	short.MaxTokens = 8
	tests := []struct {
		name    string
		params  anthropic.MessageNewParams
		headers []string
		want    func(t *testing.T, u allot.Tokens, m *anthropic.Message)
	}{
		{
			name:   "plain answer: one text block, end_turn",
			params: msgParams("claude-sonnet-4-5", nil, hi),
			want: func(t *testing.T, u allot.Tokens, m *anthropic.Message) {
				if u.Output < 12 || u.Output > 63 || u.CacheRead+u.CacheWrite() != 0 || m.StopReason != "end_turn" || len(m.Content) != 1 {
					t.Errorf("usage %+v stop %q blocks %d", u, m.StopReason, len(m.Content))
				}
			},
		},
		{
			name:   "thinking: a thinking block within budget, counted in the output",
			params: thinking,
			want: func(t *testing.T, u allot.Tokens, m *anthropic.Message) {
				if len(m.Content) != 2 || m.Content[0].Type != "thinking" || m.Content[0].Signature == "" {
					t.Fatalf("content %+v", m.Content)
				}
				if u.Reasoning < 96 || u.Reasoning > 100 {
					t.Errorf("thinking tokens %d, want 96 to the budget of 100", u.Reasoning)
				}
				if got := int64(len(strings.Fields(m.Content[0].Thinking))); got != u.Reasoning {
					t.Errorf("thinking text has %d words, want %d", got, u.Reasoning)
				}
				if got := int64(len(strings.Fields(m.Content[1].Text))); got != u.Output-u.Reasoning {
					t.Errorf("text has %d words, want %d", got, u.Output-u.Reasoning)
				}
			},
		},
		{
			name:   "max_tokens reached",
			params: short,
			want: func(t *testing.T, u allot.Tokens, m *anthropic.Message) {
				if u.Output != 8 || m.StopReason != "max_tokens" {
					t.Errorf("output %d stop %q, want 8 and max_tokens", u.Output, m.StopReason)
				}
			},
		},
		{
			name:   "headers set every kind exactly",
			params: msgParams("claude-opus-4-1", nil, hi),
			headers: []string{"x-sim-input-tokens", "5000", "x-sim-cached-tokens", "3000", "x-sim-cache-write-5m", "500",
				"x-sim-cache-write-1h", "700", "x-sim-output-tokens", "9", "x-sim-reasoning-tokens", "4"},
			want: func(t *testing.T, u allot.Tokens, m *anthropic.Message) {
				want := allot.Tokens{Input: 5000, CacheRead: 3000, CacheWrite5m: 500, CacheWrite1h: 700, Output: 9, Reasoning: 4}
				if u != want || m.Usage.InputTokens != 800 {
					t.Errorf("usage %+v (wire input_tokens %d), want %+v (800 uncached)", u, m.Usage.InputTokens, want)
				}
			},
		},
		{
			name:    "intermediate cumulative message_deltas",
			params:  msgParams("claude-sonnet-4-5", nil, hi),
			headers: []string{"x-sim-usage-every", "3", "x-sim-output-tokens", "10"},
			want: func(t *testing.T, u allot.Tokens, m *anthropic.Message) {
				if u.Output != 10 || m.StopReason != "end_turn" {
					t.Errorf("output %d stop %q", u.Output, m.StopReason)
				}
			},
		},
	}
	for _, tt := range tests {
		for _, streamed := range []bool{false, true} {
			t.Run(tt.name+map[bool]string{true: " (stream)", false: ""}[streamed], func(t *testing.T) {
				t.Parallel()
				sim, srv := newSim(t, Options{})
				m, types := sendMessage(t, anthropicClient(srv), streamed, tt.params, tt.headers...)
				call := sim.Last()
				got := anthropicTokens(m.Usage)
				if got != call.Usage || call.Usage != call.Planned {
					t.Errorf("SDK parsed %+v, simulator reported %+v (planned %+v)", got, call.Usage, call.Planned)
				}
				if streamed && tt.headers != nil && tt.headers[0] == "x-sim-usage-every" && strings.Count(strings.Join(types, " "), "message_delta") != 4 {
					t.Errorf("events %v: want 3 intermediate message_deltas and the final one", types)
				}
				tt.want(t, got, m)
			})
		}
	}
}

func TestAnthropicCacheWritesThenReadsEachBreakpoint(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t, Options{})
	client := anthropicClient(srv)
	system := strings.Repeat("Company handbook: budgets are monthly. ", 60) // 585 tokens
	sysTokens := estimate(system)
	turn := func(q string) anthropic.ContentBlockParamUnion {
		b := cachedText(q, "")
		return anthropic.ContentBlockParamUnion{OfText: &b}
	}
	steps := []struct {
		question string
		want     allot.Tokens // cache kinds only
	}{
		{"first question", allot.Tokens{CacheWrite1h: sysTokens, CacheWrite5m: estimate("first question")}},
		{"first question", allot.Tokens{CacheRead: sysTokens + estimate("first question")}},
		{"another question", allot.Tokens{CacheRead: sysTokens, CacheWrite5m: estimate("another question")}},
	}
	for i, st := range steps {
		p := msgParams("claude-sonnet-4-5", []anthropic.TextBlockParam{cachedText(system, anthropic.CacheControlEphemeralTTLTTL1h)}, turn(st.question))
		m, _ := sendMessage(t, client, i%2 == 1, p)
		got := anthropicTokens(m.Usage)
		if got != sim.Last().Usage {
			t.Errorf("step %d: SDK parsed %+v, simulator reported %+v", i, got, sim.Last().Usage)
		}
		if got.CacheRead != st.want.CacheRead || got.CacheWrite5m != st.want.CacheWrite5m || got.CacheWrite1h != st.want.CacheWrite1h {
			t.Errorf("step %d: cache read %d, writes 5m %d 1h %d; want %+v", i, got.CacheRead, got.CacheWrite5m, got.CacheWrite1h, st.want)
		}
		if m.Usage.CacheCreationInputTokens != got.CacheWrite() || got.Uncached() <= 0 {
			t.Errorf("step %d: wire usage %+v", i, m.Usage)
		}
	}
}

func TestCountTokensAgreesWithTheInputAMessageBills(t *testing.T) {
	t.Parallel()
	sim, srv := newSim(t, Options{})
	client := anthropicClient(srv)
	system := []anthropic.TextBlockParam{{Text: "You help with budgets."}}
	user := anthropic.NewUserMessage(anthropic.NewTextBlock("How much did we spend?"))
	count, err := client.Messages.CountTokens(context.Background(), anthropic.MessageCountTokensParams{
		Model: "claude-sonnet-4-5", System: anthropic.MessageCountTokensParamsSystemUnion{OfTextBlockArray: system},
		Messages: []anthropic.MessageParam{user},
	})
	if err != nil {
		t.Fatal(err)
	}
	requireFields(t, "count", count.RawJSON(), anthropic.MessageTokensCount{})
	if c := sim.Last(); !c.Usage.IsZero() || c.Path != "/v1/messages/count_tokens" {
		t.Errorf("count_tokens call %s reported usage %+v, want none", c.Path, c.Usage)
	}
	m, err := client.Messages.New(context.Background(), anthropic.MessageNewParams{
		Model: "claude-sonnet-4-5", MaxTokens: 100, System: system, Messages: []anthropic.MessageParam{user},
	})
	if err != nil {
		t.Fatal(err)
	}
	if count.InputTokens != m.Usage.InputTokens || count.InputTokens < 10 {
		t.Errorf("count_tokens %d, the message billed %d input tokens", count.InputTokens, m.Usage.InputTokens)
	}
}

func TestAnthropicModelList(t *testing.T) {
	t.Parallel()
	_, srv := newSim(t, Options{})
	client := anthropicClient(srv)
	pager := client.Models.ListAutoPaging(context.Background(), anthropic.ModelListParams{})
	var ids []string
	for pager.Next() {
		m := pager.Current()
		if m.DisplayName == "" || m.CreatedAt.IsZero() {
			t.Errorf("model %+v", m)
		}
		ids = append(ids, m.ID)
	}
	if err := pager.Err(); err != nil {
		t.Fatal(err)
	}
	if len(ids) != len(catalog) {
		t.Errorf("anthropic list %v", ids)
	}
}
